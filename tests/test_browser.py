"""The online book as a reader sees it, in headless Chromium (see browser.py for the checks):
every page of both editions reads well, meets WCAG 2.1 AA (axe-core) and describes every image;
a chapter works from the keyboard alone."""

import json
import os
import subprocess
import sys
from pathlib import Path

import browser
import pytest
from test_book import ROOT, toc_files

from companion.classroom.assignments import INSTRUCTOR_PAGES

# CI sets this: there a missing browser is a failure, not a skip.
REQUIRED = os.environ.get("COMPANION_REQUIRE_BROWSER") == "1"


def _need_browser() -> None:
    reason = browser.unavailable()
    if reason and REQUIRED:
        pytest.fail(f"COMPANION_REQUIRE_BROWSER=1 but {reason}")
    if reason:
        pytest.skip(f"browser test skipped: {reason}")


@pytest.fixture(scope="module")
def chromium():
    _need_browser()
    with browser.chromium() as instance:
        yield instance


@pytest.fixture(scope="module")
def site(built_book, chromium):
    assert built_book.returncode == 0, built_book.log[-3000:]
    with browser.serve(built_book.html) as base:
        page = browser.new_page(chromium, base)
        yield base, page
        page.close()


@pytest.fixture(scope="module")
def student_site(student_book, chromium):
    assert student_book.returncode == 0, student_book.log[-3000:]
    with browser.serve(student_book.html) as base:
        page = browser.new_page(chromium, base)
        yield base, page
        page.close()


def _reader_problems(page, url: str, screenshot: Path, notebook: str | None) -> dict[str, list[str]]:
    """The page checks, then axe's WCAG 2.1 A/AA violations and the images without a description,
    on the same loaded page (solutions opened by the page checks are checked too)."""
    return {
        "page": browser.check_page(page, url, screenshot=screenshot, notebook=notebook),
        "wcag": browser.accessibility_violations(page),
        "alt": browser.image_alt_problems(page),
    }


@pytest.mark.parametrize("name", toc_files())
def test_page_reads_well_in_a_browser(site, built_book, name, request):
    if name == toc_files()[0]:
        request.getfixturevalue("hosted_pdfs")  # the intro page links the PDFs
    base, page = site
    notebook = f"{Path(name).name}.ipynb" if (ROOT / f"{name}.ipynb").exists() else None
    screenshot = built_book.root / "screenshots" / f"{Path(name).name}.png"
    problems = _reader_problems(page, f"{base}{name}.html", screenshot, notebook)
    assert problems == {"page": [], "wcag": [], "alt": []}
    assert screenshot.stat().st_size > 0


@pytest.mark.parametrize("name", [n for n in toc_files() if n not in INSTRUCTOR_PAGES])
def test_student_page_reads_well_in_a_browser(student_site, student_book, name, request):
    if name == toc_files()[0]:
        request.getfixturevalue("hosted_pdfs")  # the intro page links the student PDF
    base, page = student_site
    screenshot = student_book.html.parent / "screenshots" / f"{Path(name).name}.png"
    problems = _reader_problems(page, f"{base}{name}.html", screenshot, notebook=None)
    assert problems == {"page": [], "wcag": [], "alt": []}


@pytest.mark.parametrize("name", ["genindex", "py-modindex", "search"])
def test_generated_page_meets_wcag(site, name):
    """The pages Sphinx writes besides the table of contents: the indexes and the search page."""
    base, page = site
    page.goto(f"{base}{name}.html?q=gradient", wait_until="load")
    page.wait_for_load_state("networkidle")
    assert browser.accessibility_violations(page) == []
    assert browser.image_alt_problems(page) == []


KEYBOARD_CHAPTER = "book/01_gru_vs_lstm"  # quiz dropdowns, solutions, two explorer sliders
# What a reader operates in a chapter, by the selector of the element that takes the focus.
KEYBOARD_CONTROLS = {
    "quiz answer": "details.sd-dropdown > summary",
    "solution toggle": ".solution.dropdown button.toggle-button",
    "explorer slider": ".noUi-handle[role=slider][aria-label]",
    "launch menu": ".dropdown-launch-buttons > button",
    "search": "button.search-button__button",
}


def test_a_chapter_works_from_the_keyboard_alone(site):
    """Tab through a chapter: every quiz dropdown, solution toggle, explorer slider, the launch
    menu and the search button are reached, each with a visible focus, and each works with Enter
    or the arrow keys (WCAG 2.1.1 and 2.4.7)."""
    base, page = site
    page.goto(f"{base}{KEYBOARD_CHAPTER}.html", wait_until="load")
    page.wait_for_load_state("networkidle")
    browser.wait_for_widgets(page)
    stops = browser.tab_stops(page)
    assert stops[0]["name"] == "Skip to main content"
    assert [s for s in stops if not s["indicator"]] == [], "focused without a visible outline"
    # (reached by Tab, shown on the page) per kind: tab_stops marks each element it focuses
    reached = {kind: (page.locator(f"{sel}[data-tab-stop]").count(), page.locator(f"{sel}:visible").count())
               for kind, sel in KEYBOARD_CONTROLS.items()}  # fmt: skip
    assert all(got == wanted > 0 for got, wanted in reached.values()), reached

    browser.tab_to(page, ".dropdown-launch-buttons > button")
    page.keyboard.press("Enter")
    assert page.locator(".dropdown-launch-buttons .dropdown-menu.show").count() == 1
    page.keyboard.press("ArrowDown")
    assert "mybinder.org" in page.evaluate("() => document.activeElement.href")
    page.keyboard.press("Escape")
    assert page.locator(".dropdown-launch-buttons .dropdown-menu.show").count() == 0

    browser.tab_to(page, KEYBOARD_CONTROLS["quiz answer"])
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.parentElement.open"), "Enter opens a quiz answer"

    browser.tab_to(page, KEYBOARD_CONTROLS["solution toggle"])
    page.evaluate("() => document.activeElement.setAttribute('data-probe', '')")
    solution = page.locator(".solution.dropdown:has([data-probe]) section").first
    assert not solution.is_visible()
    page.keyboard.press("Enter")
    solution.wait_for(state="visible", timeout=5000)

    browser.tab_to(page, KEYBOARD_CONTROLS["explorer slider"])
    before = page.evaluate("() => document.activeElement.getAttribute('aria-valuenow')")
    page.keyboard.press("ArrowRight")
    after = page.evaluate("() => document.activeElement.getAttribute('aria-valuenow')")
    assert float(after) > float(before), "the arrow keys move an explorer's slider"

    browser.tab_to(page, KEYBOARD_CONTROLS["search"])
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.type") == "search", "Enter opens the search box"
    page.keyboard.type("gradient")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search.html?q=gradient*")
    page.wait_for_selector("#search-results li")
    assert page.locator("#search-results li").count() > 0


def _tiny_book(folder: Path) -> Path:
    """A two-page book with a missing figure and a cell that raises, built without -W."""
    folder.mkdir()
    (folder / "_config.yml").write_text(
        "title: Tiny\nonly_build_toc_files: true\n"
        "execute:\n  execute_notebooks: force\n  allow_errors: true\n"
        "sphinx:\n  config:\n    html_context:\n      default_mode: light\n"
    )
    (folder / "_toc.yml").write_text("format: jb-book\nroot: index\nchapters:\n  - file: broken\n")
    (folder / "index.md").write_text(
        '# Tiny\n\nA figure:\n\n<img src="missing.png" alt="a lost figure">\n\n'
        '<img src="missing.png">\n\n<span style="color: #bbbbbb">Faint text.</span>\n'
    )
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "# Broken"},
             {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
              "source": "raise ValueError('boom')"}]  # fmt: skip
    notebook = {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                            "language": "python"}}}  # fmt: skip
    (folder / "broken.ipynb").write_text(json.dumps(notebook))
    jupyter_book = str(Path(sys.executable).parent / "jupyter-book")
    subprocess.run([jupyter_book, "build", str(folder)], check=True, capture_output=True, timeout=600)
    return folder / "_build" / "html"


def test_the_checks_catch_a_missing_figure_a_traceback_and_wcag_failures(tmp_path, chromium):
    html = _tiny_book(tmp_path / "tiny")
    with browser.serve(html) as base:
        page = browser.new_page(chromium, base)
        index = browser.check_page(page, f"{base}index.html")
        violations = browser.accessibility_violations(page)
        alt = browser.image_alt_problems(page)
        broken = browser.check_page(page, f"{base}broken.html")
    assert any(p.startswith("image did not load") and "missing.png" in p for p in index), index
    assert any("HTTP 404" in p and "missing.png" in p for p in index), index
    assert "the page shows a Python traceback or error output" in broken, broken
    assert any(v.startswith("image-alt (critical) at img") for v in violations), violations
    assert any(v.startswith("color-contrast (serious) at") and "span" in v for v in violations), violations
    assert alt == ["image missing.png: no alt attribute"], alt


def test_alt_text_must_say_what_an_image_shows():
    assert browser.alt_problem(None) == "no alt attribute"
    assert "file name" in browser.alt_problem("../_images/ba723597d558cc252c64e254fbc5e69bbd3a153f.png")
    assert "says nothing" in browser.alt_problem("Figure")
    assert browser.alt_problem("") == "empty alt text"
    assert browser.alt_problem("Binder logo") is None
    assert browser.alt_problem("Twenty 8x8 training digits, each titled with its label") is None
