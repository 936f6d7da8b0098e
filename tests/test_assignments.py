import json
import re
from functools import cache
from pathlib import Path

import nbformat
import pytest
from demo_chapter import demo_notebook, write_demo_root

from companion.classroom import assignments
from companion.classroom.assignments import (
    exercise_labels,
    fill_with_solutions,
    make_assignments,
    read_roster,
    role,
    solution_text,
    strip_solution_text,
    student_notebook,
)

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))


@cache
def instructor_notebooks() -> dict[str, nbformat.NotebookNode]:
    return {p.stem: nbformat.read(p, as_version=4) for p in CHAPTERS}


def _text(nb) -> str:
    return "\n".join(cell.source for cell in nb.cells)


def test_the_demo_student_notebook_has_stubs_checks_and_no_solutions():
    student = student_notebook(demo_notebook())
    assert "SECRET" not in _text(student)
    assert "{solution" not in _text(student)
    roles = [role(c) for c in student.cells if role(c)]
    assert roles == ["seed", "stub", "check", "stub", "check"]
    stubs = [c for c in student.cells if role(c) == "stub"]
    assert all("remove-cell" not in c.metadata.get("tags", []) for c in stubs), "stubs are shown"
    assert "Write `square(x)`." in _text(student) and "Why?" in _text(student), "exercises stay"
    assert "## References" in _text(student)


@pytest.mark.parametrize("chapter", [p.stem for p in CHAPTERS])
def test_no_solution_leaks_into_a_student_notebook(chapter):
    instructor = instructor_notebooks()[chapter]
    student = _text(student_notebook(instructor))
    outside = {
        line.strip()
        for line in _text(nbformat.v4.new_notebook(cells=strip_solution_text(instructor.cells))).split("\n")
    }
    for piece in solution_text(instructor.cells):
        for line in piece.split("\n"):
            line = line.strip()
            if len(line) >= 25 and line not in outside:  # a stub's signature is in both, on purpose
                assert line not in student, f"solution line leaked: {line!r}"
    assert "{solution" not in student


@pytest.mark.parametrize("chapter", [p.stem for p in CHAPTERS])
def test_every_chapter_follows_the_exercise_layout(chapter):
    nb = instructor_notebooks()[chapter]
    labels = exercise_labels(nb)
    assert len(labels) >= (2 if chapter == "00_getting_started" else 4) and len(set(labels)) == len(labels)
    gated = set(re.findall(r"\{solution-start\}\s*(\S+)", _text(nb)))
    stubs = {c.metadata["companion"]["exercise"] for c in nb.cells if role(c) == "stub"}
    checks = {c.metadata["companion"]["exercise"] for c in nb.cells if role(c) == "check"}
    assert stubs == checks, "every stub has a check cell and every check cell a stub"
    assert gated <= set(labels) and stubs <= set(labels)
    for cell in nb.cells:
        if role(cell) == "check":
            assert cell.cell_type == "code" and "{solution" not in cell.source


def test_selecting_exercises_keeps_only_those():
    student = student_notebook(demo_notebook(), exercises=["ex-demo-double"])
    assert exercise_labels(student) == ["ex-demo-double"]
    assert "Write `square(x)`" not in _text(student) and "def square" not in _text(student)
    assert "## References" in _text(student)
    with pytest.raises(ValueError, match=r"exercises \['ex-nope'\] are not in this notebook"):
        student_notebook(demo_notebook(), exercises=["ex-nope"])


def test_a_seed_rewrites_the_seed_cell_only():
    student = student_notebook(demo_notebook(), seed=17)
    seed_cells = [c.source for c in student.cells if role(c) == "seed"]
    assert seed_cells == ["params = dict(seed=17)  # use the seed your instructor gave you"]
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        student_notebook(demo_notebook(), seed=-1)


def test_stripping_refuses_an_unclosed_solution():
    cells = [nbformat.v4.new_markdown_cell("```{solution-start} ex-a\n```\n\ntext")]
    with pytest.raises(ValueError, match="solution-start without its solution-end"):
        strip_solution_text(cells)


def test_fill_with_solutions_puts_each_solution_in_its_stub():
    instructor = demo_notebook()
    student = student_notebook(instructor)
    fill_with_solutions(student, instructor)
    stubs = {c.metadata["companion"]["exercise"]: c.source for c in student.cells if role(c) == "stub"}
    assert "return x * x" in stubs["ex-demo-square"] and "2 * params" in stubs["ex-demo-double"]


def test_roster_gives_each_student_a_seed(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("student,seed\nada,11\nalan,\n", encoding="utf-8")
    ada, alan = read_roster(roster)
    assert (ada.id, ada.seed) == ("ada", 11)
    assert alan.id == "alan" and alan.seed == read_roster(roster)[1].seed != ada.seed
    roster.write_text("student,seed\nada,11\nada,12\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 3: student 'ada' appears twice"):
        read_roster(roster)
    roster.write_text("name\nada\n", encoding="utf-8")
    with pytest.raises(ValueError, match="needs a header with a 'student' column"):
        read_roster(roster)
    roster.write_text("student,seed\n../etc,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="student must be letters, digits"):
        read_roster(roster)


def test_make_assignments_writes_a_notebook_per_student(tmp_path):
    root = write_demo_root(tmp_path / "course")
    roster = tmp_path / "roster.csv"
    roster.write_text("student,seed\nada,11\nalan,12\n", encoding="utf-8")
    out = make_assignments(["99"], roster, tmp_path / "out", root=root, quiz="none")
    spec = json.loads((out / "assignment.json").read_text())
    assert spec["chapters"] == ["99_demo.ipynb"] and [s["seed"] for s in spec["students"]] == [11, 12]
    ada = nbformat.read(out / "ada" / "99_demo.ipynb", as_version=4)
    alan = nbformat.read(out / "alan" / "99_demo.ipynb", as_version=4)
    assert "seed=11" in _text(ada) and "seed=12" in _text(alan) and "SECRET" not in _text(ada)
    assert "Assignment for `ada`" in ada.cells[0].source
    with pytest.raises(ValueError, match=r"exercises \['ex-nope'\] are in none of the chapters"):
        make_assignments(["99"], roster, tmp_path / "bad", root=root, exercises=["ex-nope"])
    with pytest.raises(ValueError, match="chapter must name one of"):
        assignments.chapter_path("42", root)


def test_graded_quiz_becomes_an_exercise_without_answers():
    chapter = "01_gru_vs_lstm"
    nb = instructor_notebooks()[chapter]
    quiz_cells = [c for c in nb.cells if role(c) == "quiz"]
    assert len(quiz_cells) == 1, "every chapter has one quiz cell"
    student = student_notebook(nb, quiz="graded")
    checks = [c for c in student.cells if role(c) == "check" and "quiz" in c.source]
    assert len(checks) == 1 and f"quiz.record({chapter!r}, quiz_answers)" in checks[0].source
    from companion.classroom import quiz

    text = _text(student)
    for q in quiz.load(chapter).questions:
        assert q.explanation not in text
    assert not [c for c in student_notebook(nb, quiz="none").cells if "quiz" in c.source.lower()]
    assert sum("## Check your understanding" in c.source for c in student.cells) == 1


def test_the_student_edition_has_no_instructors_page_and_no_dropdown_to_open(tmp_path):
    assignments.student_edition(tmp_path / "student", build=False)
    source = tmp_path / "student" / "source"
    assert not (source / "book" / "instructors.md").exists()
    assert "book/instructors" not in (source / "_toc.yml").read_text()
    assert (source / "book" / "check_your_notes.md").exists(), "the other pages stay"
    for path in sorted((source / "book").glob("[0-9][0-9]_*.ipynb")):
        assert "open the dropdown" not in _text(nbformat.read(path, as_version=4)), path.name


def test_a_graded_quiz_is_each_students_own_and_its_key_stays_with_the_instructor(tmp_path):
    from companion.classroom import quiz

    roster = tmp_path / "roster.csv"
    roster.write_text("student,seed\nada,101\nalan,202\n", encoding="utf-8")
    out = make_assignments(["06"], roster, tmp_path / "week1", exercises=["ex-probability-table"])
    keys = json.loads((out / assignments.QUIZ_KEY).read_text())
    book = quiz.load("06_probability_exercise")
    for student, seed in (("ada", 101), ("alan", 202)):
        assert keys[student]["06_probability_exercise"] == quiz.key(quiz.variant(book, seed))
        text = _text(nbformat.read(out / student / "06_probability_exercise.ipynb", as_version=4))
        mine = quiz.variant(book, seed)
        for q in mine.questions:
            assert q.prompt in text and q.explanation not in text
        varied = next(q for q in mine.questions if q.vary)
        assert book.questions[[b.id for b in book.questions].index(varied.id)].prompt not in text
        assert "the grader marks them" in text and "quiz.record(" in text
    assert keys["ada"] != keys["alan"], "shuffled options and other numbers"
    assert not list(out.glob("*/quiz_key.json")), "no key in a student's folder"
    spec = json.loads((out / "assignment.json").read_text())
    assert spec["unavailable"] == {
        "ex-probability-table": [
            "companion.probability.joint_distribution",
            "companion.probability.pair_table",
        ]
    }
    header = nbformat.read(out / "ada" / "06_probability_exercise.ipynb", as_version=4).cells[0].source
    assert (
        "Write your own code for `ex-probability-table` (without `companion.probability.joint_distribution`"
        in header
    )


BIB = """@article{cho2014gru, author = {Cho, Kyunghyun and van Merri{\\"e}nboer, Bart and Bengio, Yoshua},
  title = {Learning Phrase Representations}, journal = {EMNLP}, year = {2014}, doi = {10.1/x}}
@misc{le2015simple, author = {Le, Quoc and Hinton, Geoffrey}, title = {A Simple Way}, year = {2015},
  eprint = {1504.00941}}
"""


def test_plain_markdown_turns_exercises_citations_and_equations_into_text(tmp_path):
    from companion.classroom import handouts

    (tmp_path / "refs.bib").write_text(BIB)
    bib = handouts.read_bibliography(tmp_path / "refs.bib")
    assert (bib["cho2014gru"].names, bib["le2015simple"].names) == ("Cho et al.", "Le and Hinton")
    md = nbformat.v4.new_markdown_cell
    cells = [
        md("$$\nx = 1\n$$ (eq-one)\n\nBy {eq}`eq-one` and {cite:t}`cho2014gru`; "
           "see {cite:p}`cho2014gru,le2015simple`."),
        md("```{exercise}\n:label: ex-a\n:class: dropdown\n\nUse {eq}`eq-one`.\n\nTwo lines.\n```"),
        md("```{exercise-start}\n:label: ex-b\n```\n\nDo it, as in {ref}`ex-a`.\n\n"
           "```{exercise-end}\n```\n\nAfter."),
        md("(sec-x)=\n## A section\n\nSee [notation](notation), [the book](https://example.org), "
           "{doc}`Intro <00_x>`, {ref}`sec-x` and {cite:p}`nope`."),
        md("## References\n\nAll: {cite:t}`le2015simple`. Full entries are on the\n"
           "[bibliography](course-bibliography) page."),
    ]  # fmt: skip
    out = handouts.plain_markdown(cells, bib)
    assert cells[1].source.startswith("```{exercise}"), "the input is left alone"
    assert out[0].source == (
        "$$\nx = 1\n\\tag{1}\n$$\n\nBy (1) and Cho et al. (2014); "
        "see (Cho et al., 2014; Le and Hinton, 2015)."
    )
    assert out[1].source == "### Exercise 1 (`ex-a`)\n\n> Use (1).\n>\n> Two lines."
    assert out[1].metadata["companion"] == {"role": "exercise", "exercise": "ex-a"}
    assert out[2].source == "### Exercise 2 (`ex-b`)\n\n> Do it, as in Exercise 1.\n\nAfter."
    assert out[3].source == (
        "## A section\n\nSee notation, [the book](https://example.org), Intro, A section and ([nope])."
    )
    references = out[4].source
    assert "Full entries are under *Works cited* below." in references and "bibliography" not in references
    assert references.endswith(
        "**Works cited**\n\n- Cho, K., van Merriënboer, B., Bengio, Y. (2014). "
        "Learning Phrase Representations. *EMNLP*. https://doi.org/10.1/x\n"
        "- Le, Q., Hinton, G. (2015). A Simple Way. arXiv:1504.00941\n- [nope]"
    )
    assert exercise_labels(nbformat.v4.new_notebook(cells=out)) == ["ex-a", "ex-b"], "the grader finds them"
    with pytest.raises(ValueError, match="bibliography .*nope.bib cannot be read"):
        handouts.read_bibliography(tmp_path / "nope.bib")


@pytest.mark.parametrize("chapter", [p.stem for p in CHAPTERS])
def test_a_handout_has_no_myst_left_and_keeps_its_exercises(chapter):
    instructor = instructor_notebooks()[chapter]
    plain = student_notebook(instructor, seed=3, quiz="graded", plain=True)
    text = "\n".join(c.source for c in plain.cells if c.cell_type == "markdown")
    myst = r"\{(cite|eq|ref|doc|numref)(:[tp])?\}`|```\{|:::\{|^:label:|\$\$ \(|\]\((?!https?:)[^)#]*\)"
    assert not re.search(myst, text, re.M), re.findall(r".{30}(?:\{[a-z:]+\}`|```\{).{30}", text)
    assert exercise_labels(plain) == exercise_labels(instructor)
    assert "**Works cited**" in text and "Full entries are under *Works cited* below." in text
    assert [c.id for c in plain.cells] == [
        c.id for c in student_notebook(instructor, seed=3, quiz="graded").cells
    ]
