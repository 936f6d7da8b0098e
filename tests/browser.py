"""What a reader sees: open built book pages in headless Chromium and list what is wrong.

Used by ``test_browser.py``, on the course (both editions) and on a deliberately broken tiny
book: the page checks, axe-core's WCAG 2.1 A and AA rules, the alternative text of every image
and a walk through a page with the keyboard alone. No browser
is downloaded: Playwright (from PyPI) drives Debian's ``/usr/bin/chromium``. The pages load
MathJax, require.js and the Jupyter widget manager from CDNs, which this machine cannot reach,
so requests to them are answered from local copies installed from npm (``make browser-assets``)
into a folder outside the book root.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlparse

CHROMIUM = "/usr/bin/chromium"
ASSETS = Path(os.environ.get("COMPANION_BROWSER_ASSETS", Path.home() / ".cache" / "gga-browser"))
MODULES = ASSETS / "node_modules"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
# CDN URL prefix -> local folder (or file) that answers it.
REQUIRE_JS = "https://cdnjs.cloudflare.com/ajax/libs/require.js/2.3.4/require.min.js"
WIDGETS = "https://cdn.jsdelivr.net/npm/@jupyter-widgets/html-manager@1.0.6/"
CDN = {
    "https://cdn.jsdelivr.net/npm/mathjax@3/": MODULES / "mathjax",
    REQUIRE_JS: MODULES / "requirejs" / "require.js",
    WIDGETS: MODULES / "@jupyter-widgets" / "html-manager",
}
# A missing favicon.ico gives a 404 console error on every page; the book ships none.
IGNORED_CONSOLE = ("favicon.ico",)
# axe-core's rule tags for WCAG 2.1 levels A and AA (every rule of both levels, none beyond).
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
WIDGET_VIEWS = 'script[type="application/vnd.jupyter.widget-view+json"]'
# Alternative text that names a file or a kind of thing says nothing about what an image shows.
GENERIC_ALT = {"image", "figure", "plot", "png", "picture", "graph", "chart", "output", "-"}


def unavailable() -> str | None:
    """Why the browser test cannot run here, or None when it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright)"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    missing = [str(path) for path in CDN.values() if not path.exists()]
    if missing:
        return f"local copies of the CDN scripts are missing ({missing[0]}): run `make browser-assets`"
    return None


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on 127.0.0.1 (a free port); yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no request log on stderr
        pass


def _local_file(url: str, base: str) -> Path | None:
    for prefix, target in CDN.items():
        if url.startswith(prefix):
            return target if target.is_file() else target / url[len(prefix) :].split("?")[0]
    # The widget manager asks the page's own host for its fonts, relative to the page:
    # .../@jupyter-widgets/html-manager/dist/<font>
    path = urlparse(url).path
    if url.startswith(base) and "/@jupyter-widgets/" in path:
        return MODULES / path[path.index("@jupyter-widgets/") :]
    return None


def _route(route, base: str) -> None:
    url = route.request.url
    local = _local_file(url, base)
    if local is not None and local.is_file():
        route.fulfill(path=str(local))
    elif url.startswith(base):
        route.continue_()
    else:
        route.abort()  # nothing else outside the machine may be fetched


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    """Headless Debian Chromium driven by Playwright; yields the Browser."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser, base: str):
    """A page for the site at ``base`` whose CDN requests are served from local copies."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.route("**/*", lambda route: _route(route, base))
    return page


def check_page(page, url: str, *, screenshot: Path | None = None, notebook: str | None = None) -> list[str]:
    """Open ``url`` and return every problem a reader would meet (empty when all is well).

    Checks: a title; every image loaded with a non-zero size; math rendered by MathJax;
    solutions collapsed until clicked; no traceback or error output; no console errors;
    every internal link resolves; for a notebook page, a Binder button for that notebook.
    """
    errors: list[str] = []
    on_console = lambda msg: msg.type == "error" and errors.append(f"console: {msg.text}")  # noqa: E731
    on_error = lambda exc: errors.append(f"page error: {exc}")  # noqa: E731
    on_response = lambda r: r.status >= 400 and errors.append(f"HTTP {r.status}: {r.url}")  # noqa: E731
    in_flight: set = set()  # the page's requests not yet answered, to name them if it never settles
    on_request = lambda r: in_flight.add(r)  # noqa: E731
    on_settled = lambda r: in_flight.discard(r)  # noqa: E731
    listeners = {
        "console": on_console, "pageerror": on_error, "response": on_response,
        "request": on_request, "requestfinished": on_settled, "requestfailed": on_settled,
    }  # fmt: skip
    for event, listener in listeners.items():
        page.on(event, listener)
    try:
        # Under load a chapter with explorers can take over Playwright's default 30 s to load.
        page.goto(url, wait_until="load", timeout=120_000)
        problems = _settle(page, in_flight)
        problems += _inspect(page, url, notebook)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            # A full-page screenshot of the long API page takes over 30 s (Playwright's default)
            # on a loaded 2-core machine: allow more, the test is about the page, not the speed.
            page.screenshot(path=str(screenshot), full_page=True, timeout=120_000)
    finally:
        for event, listener in listeners.items():
            page.remove_listener(event, listener)
    errors = [e for e in errors if not any(ignored in e for ignored in IGNORED_CONSOLE)]
    return problems + errors


def _settle(page, in_flight: set, seconds: float = 60.0) -> list[str]:
    """Wait until the page's network is idle; a request still unanswered after ``seconds`` is a problem.

    Playwright's "networkidle" (no request for 500 ms) has, in full test runs on a loaded 2-core
    machine, timed out on a different page each time with nothing left to load. So on a
    timeout the page's own requests decide: none unanswered, the page has settled; any left,
    each is named as a problem.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    try:
        page.wait_for_load_state("networkidle", timeout=seconds * 1000)
    except PlaywrightTimeoutError:
        return [f"request unanswered after {seconds:g} s: {r.url}" for r in list(in_flight)]
    return []


def _inspect(page, url: str, notebook: str | None) -> list[str]:
    problems = []
    if not page.title().strip():
        problems.append("the page has no title")
    for src in page.eval_on_selector_all(
        "article img", "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
    ):
        problems.append(f"image did not load: {src}")
    if page.locator("article .math").count():
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("() => MathJax.startup.promise")
        if page.locator("mjx-container").count() == 0:
            problems.append("math is not rendered (no MathJax output)")
    text = page.inner_text("article")
    if "Traceback (most recent call last)" in text or page.locator("article .output.error").count():
        problems.append("the page shows a Python traceback or error output")
    if page.locator("article .output.stderr").count():
        problems.append("the page shows stderr output")
    problems += _check_solutions(page)
    problems += _check_links(page, url)
    if notebook is not None:
        hrefs = page.eval_on_selector_all("a[href*='mybinder.org']", "as => as.map(a => a.href)")
        if not any(f"urlpath=lab/tree/book/{notebook}" in h for h in hrefs):
            problems.append(f"no Binder button for book/{notebook}: {hrefs}")
    return problems


def _check_solutions(page) -> list[str]:
    problems = []
    solutions = page.locator("article .solution.dropdown")
    for k in range(solutions.count()):
        solution = solutions.nth(k)
        body = solution.locator("section").first
        if body.count() and body.is_visible():
            problems.append(f"solution {k + 1} is shown before it is opened")
        solution.locator("button.toggle-button").first.click()
        page.wait_for_timeout(250)
        if body.count() and not body.is_visible():
            problems.append(f"solution {k + 1} does not open when clicked")
    return problems


def _check_links(page, url: str) -> list[str]:
    hrefs = page.eval_on_selector_all("a[href]", "as => as.map(a => a.getAttribute('href'))")
    problems = []
    for href in set(hrefs):
        if href.startswith(("http://", "https://", "mailto:", "#", "javascript:")):
            continue
        target = urljoin(url, href).split("#")[0]
        response = page.request.get(target)
        if response.status >= 400:
            problems.append(f"broken link {href!r} ({response.status})")
    return problems


def wait_for_widgets(page) -> None:
    """Wait until the widget manager has drawn every widget of the page, and the images in them
    (every widget in the course is an explorer, which draws a figure)."""
    page.wait_for_function(
        f"""() => [...document.querySelectorAll('{WIDGET_VIEWS}')].every(script => {{
            const view = script.previousElementSibling;
            return view && view.classList.contains("widget-subarea") && view.querySelector("img")
                && [...view.querySelectorAll("img")].every(img => img.complete);
        }})"""
    )


def accessibility_violations(page) -> list[str]:
    """axe-core's WCAG 2.1 A and AA violations on the open page, one line per element:
    ``rule (impact) at selector: what to fix``. Run once widgets and math are drawn."""
    from axe_playwright_python.sync_playwright import Axe

    wait_for_widgets(page)
    options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
    response = Axe().run(page, options=options).response
    lines = []
    for rule in response["violations"]:
        for node in rule["nodes"]:
            target = " ".join(str(t) for t in node["target"])
            fix = " ".join(node["failureSummary"].split("\n")[:2])
            lines.append(f"{rule['id']} ({rule['impact']}) at {target}: {fix}")
    return lines


def alt_problem(alt: str | None) -> str | None:
    """Why ``alt`` does not say what an image shows (None when it does)."""
    if alt is None:
        return "no alt attribute"
    text = alt.strip()
    if not text:
        return "empty alt text"
    path = re.fullmatch(r"\S+", text) is not None and "/" in text  # one "word" with a slash
    if path or re.search(r"\.(png|jpe?g|svg|gif|webp)\b|[0-9a-f]{16}", text, re.I):
        return f"alt text is a file name, not a description: {text[:60]!r}"
    if text.lower() in GENERIC_ALT or len(text.split()) < 2:
        return f"alt text says nothing about what the image shows: {text!r}"
    return None


def image_alt_problems(page) -> list[str]:
    """Every ``<img>`` of the open page (the theme's, the figures', the widgets') whose
    alternative text is missing or meaningless."""
    wait_for_widgets(page)
    images = page.eval_on_selector_all(
        "img", "is => is.map(i => [i.getAttribute('src'), i.getAttribute('alt')])"
    )
    return [f"image {(src or '')[:70]}: {problem}" for src, alt in images if (problem := alt_problem(alt))]


# Moves the keyboard's starting point to the top of the page (as on a freshly loaded page).
_FROM_THE_TOP = """() => {
    const root = document.documentElement;
    root.setAttribute("tabindex", "-1");
    root.focus();
    root.blur();
    root.removeAttribute("tabindex");
    window.scrollTo(0, 0);
}"""
# Describes the focused element; numbers each element the first time it is focused.
_FOCUSED = """() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    if (!el.dataset.tabStop) el.dataset.tabStop = String(document.querySelectorAll("[data-tab-stop]").length);
    const style = getComputedStyle(el);
    const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
    return {stop: Number(el.dataset.tabStop), tag: el.tagName.toLowerCase(), classes: el.className.toString(),
            name: (el.getAttribute("aria-label") || el.innerText || el.value || "").trim().slice(0, 60),
            indicator: outline || style.boxShadow !== "none"};
}"""


def tab_stops(page, limit: int = 1500) -> list[dict]:
    """Press Tab from the top of the open page until the focus comes round to the first element
    again (at most ``limit`` presses). Returns the focused elements in order, each a dict with
    ``stop`` (its number), ``tag``, ``classes``, ``name`` and ``indicator`` (a visible focus
    outline or shadow)."""
    page.evaluate(_FROM_THE_TOP)
    stops: list[dict] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(_FOCUSED)
        if focused is None or (stops and focused["stop"] == stops[0]["stop"]):
            break
        stops.append(focused)
    return stops


def tab_to(page, selector: str, limit: int = 1500) -> int:
    """Press Tab from the top of the open page until an element matching ``selector`` has the
    focus; returns the number of presses (raises AssertionError when Tab never reaches one)."""
    page.evaluate(_FROM_THE_TOP)
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return presses
    raise AssertionError(f"Tab never reached {selector!r} in {limit} presses")
