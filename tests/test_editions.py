"""The two editions of the website: the instructors' (this book) and the students' (no solutions)."""

import re
from pathlib import Path

import nbformat
import pytest
from test_assignments import CHAPTERS, instructor_notebooks

from companion.classroom import quiz
from companion.classroom.assignments import role, solution_text
from companion.classroom.exercises import FEEDBACK_KEY


def _verdicts(path: Path) -> dict[str, list[bool]]:
    """Every check cell's verdicts in an executed notebook, by exercise."""
    nb = nbformat.read(path, as_version=4)
    verdicts: dict[str, list[bool]] = {}
    for cell in nb.cells:
        if role(cell) == "check":
            label = cell.metadata["companion"]["exercise"]
            for output in cell.outputs:
                records = output.get("metadata", {}).get(FEEDBACK_KEY, [])
                for record in records if isinstance(records, list) else [records]:
                    assert record["exercise"] == label, f"{path.name}: cell of {label} checked {record}"
                    verdicts.setdefault(label, []).append(record["correct"])
    return verdicts


def _page_text(html: Path) -> str:
    text = re.sub(r"<[^>]+>", " ", html.read_text(encoding="utf-8"))
    return " ".join(text.replace("&quot;", '"').replace("&#39;", "'").split())


@pytest.mark.parametrize("chapter", [p.stem for p in CHAPTERS])
def test_the_instructors_edition_passes_every_check(built_book, chapter):
    executed = built_book.root / "_build" / "jupyter_execute" / "book" / f"{chapter}.ipynb"
    verdicts = _verdicts(executed)
    labels = {
        c.metadata["companion"]["exercise"]
        for c in instructor_notebooks()[chapter].cells
        if role(c) == "check"
    }
    assert set(verdicts) == labels, "every check cell displayed its verdict"
    assert all(all(v) for v in verdicts.values()), f"a solution fails its check: {verdicts}"


def test_the_student_edition_builds_with_zero_warnings(student_book):
    lines = student_book.log.splitlines()
    warnings = [line for line in lines if "WARNING" in line and "running over TCP" not in line]
    assert student_book.returncode == 0 and not warnings, "\n".join(warnings) or student_book.log[-3000:]
    assert "(student edition)" in (student_book.html / "book" / "intro.html").read_text()


@pytest.mark.parametrize("chapter", [p.stem for p in CHAPTERS])
def test_the_student_edition_has_no_solutions_and_every_check_says_not_yet(student_book, chapter):
    page = _page_text(student_book.html / "book" / f"{chapter}.html")
    instructor = instructor_notebooks()[chapter]
    for piece in solution_text(instructor.cells):
        for line in piece.split("\n"):
            line = line.strip()
            if len(line) >= 25 and re.fullmatch(r"[A-Za-z ,.;:'()-]+", line):  # plain prose lines
                assert line not in page, f"solution text on the student page: {line!r}"
    for q in quiz.load(chapter).questions:
        assert q.explanation[:60] not in page, "quiz explanations are hidden in the student edition"
    assert "solution-start" not in page
    raw = (student_book.html / "book" / f"{chapter}.html").read_text(encoding="utf-8")
    assert "mybinder.org" not in raw, "no launch buttons into the course repository, which has the solutions"
    verdicts = _verdicts(student_book.executed / f"{chapter}.ipynb")
    assert verdicts and not any(any(v) for v in verdicts.values()), f"an untouched stub passed: {verdicts}"


@pytest.mark.parametrize("chapter", [p.stem for p in CHAPTERS])
def test_the_book_shows_each_quiz_with_answers_in_dropdowns(built_book, chapter):
    html = (built_book.html / "book" / f"{chapter}.html").read_text(encoding="utf-8")
    questions = quiz.load(chapter).questions
    assert html.count("Answer to ") >= len(questions)
    ids = set(re.findall(r'id="([^"]+)"', html))
    local = set(re.findall(r'href="#([^"]+)"', html))
    assert local and local <= ids, f"links without a target: {sorted(local - ids)}"
    # each explanation's section link was resolved by the -W build (myst.xref_missing otherwise)
    assert html.count('See <a class="reference internal" href="#') >= len(questions)
