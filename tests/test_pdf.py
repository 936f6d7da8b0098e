"""The whole book as a PDF (`make pdf`, Jupyter Book's LaTeX builder), read back with pdftotext:
both editions have every chapter, no unresolved reference, no raw TeX and their figures; the
book has the exercises' solutions and the student edition none of them."""

import json
import re
import subprocess
from pathlib import Path

import nbformat
import pytest
from test_assignments import instructor_notebooks
from test_book import ROOT, toc_files

from companion.classroom import quiz
from companion.classroom.assignments import INSTRUCTOR_PAGES, solution_text, student_notebook

CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
# What LaTeX prints for a citation it could not resolve; an unresolved reference prints "??",
# which the course also writes itself (IPython's `name??`), so those are counted instead.
UNRESOLVED = re.compile(r"\[\?\]")
UNDEFINED_IN_LOG = re.compile(r"(Reference|Citation) `[^']*' on page \d+ undefined|There were undefined")
RAW_TEX = re.compile(r"\\(begin|end|frac|mathrm|label|ref|cite)\b|\$\$|\\\(|\\\[|\{(eq|cite|ref)[:}]")


def page_source(name: str, root: Path = ROOT, markdown_only: bool = False) -> str:
    """The text of a page of the table of contents: a Markdown page, or a notebook's cells."""
    path = next(root.glob(f"{name}.*"))
    if path.suffix != ".ipynb":
        return path.read_text(encoding="utf-8")
    cells = nbformat.read(path, as_version=4).cells
    return "\n".join(c.source for c in cells if c.cell_type == "markdown" or not markdown_only)


def page_title(name: str) -> str:
    """The first heading of a page of the table of contents, as plain text."""
    text = page_source(name, markdown_only=True)
    return re.search(r"^# (.+)$", text, flags=re.M)[1].replace("`", "").strip()


def question_marks_in_sources(root: Path) -> int:
    """How often a book's pages write "??" themselves (``training.train??``)."""
    return sum(page_source(name, root).count("??") for name in toc_files(root))


def pdf_text(pdf: Path) -> str:
    """The PDF's text, whitespace collapsed and words hyphenated across lines joined."""
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(re.sub(r"(\w)-\n(\w)", r"\1\2", text).split())


def pdf_pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, flags=re.M)[1])


def pdf_images(pdf: Path) -> int:
    listing = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True)
    return len(listing.stdout.splitlines()) - 2  # two header lines


def figure_outputs(executed: Path) -> set[str]:
    """The distinct PNG figures the executed chapters show (myst-nb writes each once)."""
    figures = set()
    for path in sorted(executed.glob("[0-9][0-9]_*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            figures |= {
                o["data"]["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})
            }
    return figures


def test_the_pdf_checks_catch_what_they_look_for():
    assert UNRESOLVED.search("as shown by [?]") and not UNRESOLVED.search("[Cho et al., 2014]")
    assert UNDEFINED_IN_LOG.search(
        "LaTeX Warning: Reference `book/intro:notation' on page 7 undefined on input"
    )
    assert question_marks_in_sources(ROOT) >= 2  # Getting started shows `training.train??`
    assert RAW_TEX.search(r"where \frac{a}{b}") and RAW_TEX.search("see {eq}`eq-bptt`")
    assert not RAW_TEX.search("x / T and softmax(z)")
    assert page_title("book/api") == "The companion package"


@pytest.fixture(scope="module")
def book(book_pdf):
    assert book_pdf.returncode == 0, book_pdf.log[-4000:]
    return pdf_text(book_pdf.pdf)


@pytest.fixture(scope="module")
def student(student_pdf):
    assert student_pdf.returncode == 0, student_pdf.log[-4000:]
    return pdf_text(student_pdf.pdf)


@pytest.mark.build  # its builds come through request.getfixturevalue
@pytest.mark.parametrize("edition", ["book", "student"])
def test_each_edition_has_every_chapter_and_no_unresolved_reference_or_raw_tex(edition, request):
    built = request.getfixturevalue(f"{edition}_pdf" if edition == "student" else "book_pdf")
    source = request.getfixturevalue("student_book").source if edition == "student" else ROOT
    text = request.getfixturevalue(edition).casefold()
    expected = [n for n in toc_files()[1:] if edition == "book" or n not in INSTRUCTOR_PAGES]
    missing = [name for name in expected if page_title(name).casefold() not in text]
    assert missing == [], f"chapters missing from the {edition} PDF"
    assert UNRESOLVED.findall(text) == [], "an unresolved citation"
    assert text.count("??") == question_marks_in_sources(source), "an unresolved reference (??)"
    assert UNDEFINED_IN_LOG.findall(built.pdf.with_suffix(".log").read_text(errors="replace")) == []
    assert [m.group(0) for m in RAW_TEX.finditer(text)] == [], "raw TeX or MyST in the PDF"
    assert "interactive(children=" not in text, "a widget printed as text instead of its static figure"


def test_the_book_pdf_has_the_figures_solutions_citations_and_bibliography(book, book_pdf, built_book):
    figures = figure_outputs(built_book.root / "_build" / "jupyter_execute" / "book")
    assert pdf_images(book_pdf.pdf) >= len(figures) > 30
    markdown = [
        c.source for nb in instructor_notebooks().values() for c in nb.cells if c.cell_type == "markdown"
    ]
    solutions = sum(text.count("{solution") - text.count("{solution-end}") for text in markdown)
    assert book.count("Solution to Exercise") == solutions > 20
    assert "[Cho et al., 2014]" in book or "Cho et al. [2014]" in book, "author-year citations"
    assert book.count("doi:") >= 10, "the bibliography's entries"
    print(f"book PDF: {pdf_pages(book_pdf.pdf)} pages, LaTeX build {book_pdf.seconds:.0f} s")


def test_the_student_pdf_has_no_solutions(student, student_pdf):
    assert "(student edition)" in student
    assert "Solution to" not in student
    notebooks = instructor_notebooks()
    lines = {
        name: [" ".join(s.split()) for c in student_notebook(nb).cells for s in c.source.split("\n")]
        for name, nb in notebooks.items()
    }
    solutions = {
        name: [" ".join(s.split()) for p in solution_text(nb.cells) for s in p.split("\n")]
        for name, nb in notebooks.items()
    }
    # What the student edition's own sources show (solutions removed): text found there is no leak.
    outside = "\n".join(line for chapter in lines.values() for line in chapter)
    for chapter in notebooks:
        for line in solutions[chapter]:
            if line in outside:
                continue  # the same text also stands outside the solutions (a shared line of code)
            if len(line) >= 25 and re.fullmatch(r"[A-Za-z ,.;:'()-]+", line):  # plain prose lines
                assert line not in student, f"{chapter}: solution text in the student PDF: {line!r}"
        for q in quiz.load(chapter).questions:
            assert " ".join(q.explanation.split())[:60] not in student, "quiz explanations stay hidden"
    print(f"student PDF: {pdf_pages(student_pdf.pdf)} pages, LaTeX build {student_pdf.seconds:.0f} s")
