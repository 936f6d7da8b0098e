"""Sphinx extension: the book's side of WCAG 2.1 AA (axe checks every page in tests/test_browser.py).

1. Link colour. sphinx-book-theme's link blue (#176de8) has a contrast of 4.29:1 on the tinted
   background of exercises and admonitions, below the 4.5:1 of WCAG 1.4.3; ``accessibility.css``
   darkens links (and the orange hover colour, 2.4:1 on white) in the light theme.
2. Widget sliders. The widget manager (@jupyter-widgets/html-manager) draws a slider's handle
   (``role="slider"``) with no accessible name: its label beside it is not tied to it
   (WCAG 4.1.2). ``accessibility.js`` names each handle after its label.
3. Widget figures. An explorer's figure, drawn by the widget manager from the saved widget state,
   is an ``<img>`` without alternative text (WCAG 1.1.1). A widget cell carries its figure's text
   in the same cell metadata as any figure cell, ``mystnb: image: alt:``; we hand it to the page
   as ``data-alt`` on the widget's script tag, and ``accessibility.js`` sets it on the images
   the widget draws.
4. Bibliography roles. docutils marks each citation ``role="doc-biblioentry"`` (deprecated in
   ARIA 1.2) inside a ``role="list"`` container, which then has no list items (WCAG 1.3.1):
   we write ``role="listitem"``.
5. Scrollable code in solutions. pydata-sphinx-theme makes every scrollable code block a tab
   stop, so that a keyboard can scroll it (WCAG 2.1.1), when the page loads; the code of a
   collapsed solution has no size then. ``accessibility.js`` does the same when a solution or
   dropdown opens.
6. Keyboard focus. sphinx-togglebutton's solution toggles, the theme's header and sidebar
   buttons and the widget sliders show no outline when focused from the keyboard (WCAG 2.4.7);
   ``accessibility.css`` gives them one.
7. The module index. Sphinx's toggle that folds a package's modules is an image with the alt
   text "-" that only a mouse can click (WCAG 1.1.1, 2.1.1); we describe it and make it a
   button that Enter and Space press.
8. Outlined info badges. sphinx-design's ``{bdg-info-line}`` text (#276be9) has 4.37:1 on a
   striped table row; ``accessibility.css`` darkens it.
"""

import html
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config

STATIC = Path(__file__).parent / "static"
WIDGET_VIEW = '<script type="application/vnd.jupyter.widget-view+json">'


def _add_static_path(app: Sphinx, config: Config) -> None:
    config.html_static_path.append(str(STATIC))


def cell_alt(cell: nodes.Element) -> str | None:
    """The ``mystnb.image.alt`` text of a myst-nb code cell node, if it has one."""
    metadata = cell.get("cell_metadata") or {}
    alt = metadata.get("mystnb", {}).get("image", {}).get("alt")
    return alt if isinstance(alt, str) and alt.strip() else None


def _widget_alt(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    if app.builder.format != "html":
        return
    for cell in doctree.findall(nodes.container):
        alt = cell.get("nb_element") == "cell_code" and cell_alt(cell)
        if not alt:
            continue
        for raw in list(cell.findall(nodes.raw)):
            if WIDGET_VIEW in raw.astext():
                tagged = f'{WIDGET_VIEW[:-1]} data-alt="{html.escape(alt, quote=True)}">'
                raw.replace_self(nodes.raw("", raw.astext().replace(WIDGET_VIEW, tagged), format="html"))


def _citation_roles(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    if "body" in context and 'role="doc-biblioentry"' in context["body"]:
        context["body"] = context["body"].replace('role="doc-biblioentry"', 'role="listitem"')


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", _add_static_path)
    app.add_css_file("accessibility.css", priority=900)  # after the theme's
    app.add_js_file("accessibility.js", priority=900)
    app.connect("doctree-resolved", _widget_alt)
    app.connect("html-page-context", _citation_roles)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
