"""Sphinx extension: the book as a PDF (``make pdf``, Jupyter Book's LaTeX builder) and the links
to it on the website.

1. Explorers in the PDF. An explorer cell's output is a widget, which a PDF cannot show; myst-nb
   would print its text form instead (``interactive(children=(IntSlider(...``). We drop those
   outputs from the LaTeX build: every explorer is followed by its static figure. Outputs that
   also carry Markdown (the quizzes) are kept.
2. The ``{course-pdfs}`` directive (on the intro page) links the PDFs the website hosts in
   ``pdf/``: the whole book with solutions and the student edition without, or, in the student
   edition (built with ``COMPANION_EDITION=student``), only the latter. It writes nothing into
   the PDF itself.
"""

import os
import posixpath

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.docutils import SphinxDirective

from companion.classroom.quiz import EDITION_ENV

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
#: The PDFs as the website hosts them, in its ``pdf/`` folder (the Makefile puts them there).
BOOK_PDF = "gates-gradients-adversaries.pdf"
STUDENT_PDF = "gates-gradients-adversaries-student.pdf"


class DropWidgetOutputs(SphinxPostTransform):
    """Remove widget outputs whose only other form is plain text, in the LaTeX build."""

    default_priority = 3  # before myst-nb's SelectMimeType (4), which picks the text form
    formats = ("latex",)

    def run(self, **kwargs) -> None:
        bundles = self.document.findall(
            lambda n: isinstance(n, nodes.container) and n.get("nb_element") == "mime_bundle"
        )
        for bundle in list(bundles):
            mime_types = {child.get("mime_type") for child in bundle.children}
            if WIDGET_VIEW in mime_types and mime_types <= {WIDGET_VIEW, "text/plain"}:
                bundle.parent.remove(bundle)


class CoursePdfs(SphinxDirective):
    """Links to the book's PDFs (HTML only)."""

    def run(self) -> list[nodes.Node]:
        here = posixpath.dirname(self.env.docname)
        href = {name: posixpath.relpath(f"pdf/{name}", here or ".") for name in (BOOK_PDF, STUDENT_PDF)}
        if os.environ.get(EDITION_ENV) == "student":
            links = f'as <a href="{href[STUDENT_PDF]}">one PDF</a> (the student edition, without solutions)'
        else:
            links = (
                f'as a PDF, <a href="{href[BOOK_PDF]}">with the solutions</a> or as the '
                f'<a href="{href[STUDENT_PDF]}">student edition without them</a>'
            )
        text = f"<p><strong>Read offline or print.</strong> The whole book is also {links}.</p>"
        return [nodes.raw("", text, format="html")]


def setup(app: Sphinx) -> dict:
    app.add_post_transform(DropWidgetOutputs)
    app.add_directive("course-pdfs", CoursePdfs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
