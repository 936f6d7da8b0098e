import csv

import nbformat
import pytest
from demo_chapter import demo_notebook, write_demo_root

from companion import probability
from companion.classroom import grading
from companion.classroom.assignments import fill_with_solutions, make_assignments, role
from companion.classroom.checks import ch06_probability_exercise
from companion.classroom.grading import expected_exercises, grade, restore_protected


def _rows(path):
    with path.open(newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def _submit(handout_dir, submissions, student, edit):
    nb = nbformat.read(handout_dir / student / "99_demo.ipynb", as_version=4)
    edit(nb)
    (submissions / student).mkdir(parents=True)
    nbformat.write(nb, submissions / student / "99_demo.ipynb")


def _stub(nb, label):
    return next(c for c in nb.cells if role(c) == "stub" and c.metadata["companion"]["exercise"] == label)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade five demo submissions: correct, partly correct, erroring, hanging, tampered; one missing."""
    tmp = tmp_path_factory.mktemp("grading")
    root = write_demo_root(tmp / "course")
    roster = tmp / "roster.csv"
    roster.write_text("student,seed\nright,1\npartly,2\nerrors,3\nhangs,4\ntampers,5\nabsent,6\n")
    handouts = make_assignments(["99"], roster, tmp / "handouts", root=root, quiz="none")
    submissions = tmp / "submissions"

    def solve(nb):
        fill_with_solutions(nb, demo_notebook())

    def solve_square_only(nb):
        _stub(nb, "ex-demo-square").source = "def square(x):\n    return x * x"

    def error_first(nb):
        solve(nb)
        nb.cells.insert(2, nbformat.v4.new_code_cell("raise RuntimeError('oops')"))

    def hang(nb):
        solve(nb)
        _stub(nb, "ex-demo-double").source = "while True:\n    pass"

    def tamper(nb):  # copies another student's number and deletes/edits the checks
        _stub(nb, "ex-demo-square").source = "def square(x):\n    return 0"
        _stub(nb, "ex-demo-double").source = "doubled = 2"  # twice student 'right's seed
        nb.cells = [c for c in nb.cells if not (role(c) == "check" and "square" in c.source)]
        for c in nb.cells:
            if role(c) == "check":
                c.source = "print('Correct')"
            if role(c) == "seed":
                c.source = "params = dict(seed=1)"

    for student, edit in [("right", solve), ("partly", solve_square_only), ("errors", error_first),
                          ("hangs", hang), ("tampers", tamper)]:  # fmt: skip
        _submit(handouts, submissions, student, edit)
    out = tmp / "grades.csv"
    results = grade(handouts, submissions, out, timeout=15, executed=tmp / "executed")
    return _rows(out), results, tmp


def test_grading_scores_every_kind_of_submission(graded):
    rows, results, _ = graded
    scores = {s: (r["ex-demo-square"], r["ex-demo-double"], r["score"], r["out_of"]) for s, r in rows.items()}
    assert scores == {
        "right": ("1", "1", "2", "2"),
        "partly": ("1", "0", "1", "2"),
        "errors": ("1", "1", "2", "2"),  # an error in one cell costs only what depends on it
        "hangs": ("1", "0", "1", "2"),
        "tampers": ("0", "0", "0", "2"),
        "absent": ("0", "0", "0", "2"),
    }
    assert rows["right"]["notes"] == ""
    assert "cell 2 raised RuntimeError: oops" in rows["errors"]["notes"]
    assert "still running at the time limit of 15 s" in rows["hangs"]["notes"]
    assert "checks that never ran: ex-demo-double" in rows["hangs"]["notes"]
    assert "ex-demo-square: the check cell was deleted (restored)" in rows["tampers"]["notes"]
    assert "ex-demo-double: the check cell was edited (restored)" in rows["tampers"]["notes"]
    assert "seed: the seed cell was edited (restored)" in rows["tampers"]["notes"]
    assert rows["absent"]["notes"] == "99_demo.ipynb: no submission"
    assert len(results) == 6


def test_partly_correct_submission_gets_a_hint_not_the_answer(graded):
    _, _, tmp = graded
    executed = nbformat.read(tmp / "executed" / "partly" / "99_demo.ipynb", as_version=4)
    check = [c for c in executed.cells if role(c) == "check" and "double" in c.source][0]
    text = check.outputs[0]["data"]["text/plain"]
    assert text.startswith("Not yet (ex-demo-double): `doubled` is still None")


def test_restore_protected_puts_a_deleted_check_back_in_place():
    handout = demo_notebook()
    submission = nbformat.reads(nbformat.writes(handout), as_version=4)
    submission.cells = [c for c in submission.cells if not (role(c) == "check" and "square" in c.source)]
    restored, notes = restore_protected(submission, handout)
    assert [c.id for c in restored.cells] == [c.id for c in handout.cells]
    assert notes == ["ex-demo-square: the check cell was deleted (restored)"]


def test_expected_exercises_lists_quiz_questions_one_by_one():
    from companion.classroom import quiz

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("quiz.check('06_probability_exercise', quiz_answers)")
    cell.metadata["companion"] = {"role": "check", "exercise": "quiz-06_probability_exercise"}
    nb.cells = [cell]
    ids = [q.id for q in quiz.load("06_probability_exercise").questions]
    assert expected_exercises(nb) == [f"quiz-06_probability_exercise-{i}" for i in ids]


def test_grade_refuses_bad_folders(tmp_path):
    with pytest.raises(ValueError, match="assignment must be a folder made by make_assignments"):
        grade(tmp_path, tmp_path, tmp_path / "g.csv")
    (tmp_path / "assignment.json").write_text("{}")
    with pytest.raises(ValueError, match="submissions must be a folder"):
        grade(tmp_path, tmp_path / "nope", tmp_path / "g.csv")
    with pytest.raises(ValueError, match="timeout must be > 0"):
        grade(tmp_path, tmp_path, tmp_path / "g.csv", timeout=0)


def test_block_network_refuses_outside_connections(monkeypatch):
    import socket

    monkeypatch.setattr(socket.socket, "connect", socket.socket.connect)
    monkeypatch.setattr(socket, "getaddrinfo", socket.getaddrinfo)
    grading.block_network()
    with pytest.raises(OSError, match="network access is disabled while grading"):
        socket.getaddrinfo("example.org", 80)
    with socket.socket() as s, pytest.raises(OSError, match="network access is disabled"):
        s.connect(("93.184.216.34", 80))


def test_chapter_6_copied_answers_fail_for_another_student(tmp_path):
    """Real chapter 6: each student's checks accept their own answers and refuse a copy."""
    roster = tmp_path / "roster.csv"
    roster.write_text("student,seed\nada,101\nalan,202\n")
    handouts = make_assignments(["06"], roster, tmp_path / "handouts", quiz="none")
    name = "06_probability_exercise.ipynb"
    ada_params = ch06_probability_exercise.exercise_parameters(101)
    ada_table = probability.joint_distribution(ada_params.p)
    instructor = nbformat.read(handouts.parent / "handouts" / "ada" / name, as_version=4)
    from companion.classroom.assignments import chapter_path

    for student in ("ada", "alan"):
        nb = nbformat.read(handouts / student / name, as_version=4)
        fill_with_solutions(nb, nbformat.read(chapter_path("06"), as_version=4))
        _stub_table = _stub(nb, "ex-probability-table")
        _stub_table.source = f"answer = {dict(ada_table)!r}"  # ada's numbers, for both
        (tmp_path / "subs" / student).mkdir(parents=True)
        nbformat.write(nb, tmp_path / "subs" / student / name)
    assert instructor.cells
    grade(handouts, tmp_path / "subs", tmp_path / "grades.csv", timeout=120)
    rows = _rows(tmp_path / "grades.csv")
    assert rows["ada"]["ex-probability-table"] == "1" and rows["alan"]["ex-probability-table"] == "0"
    others = [c for c in rows["ada"] if c.startswith("ex-") and c != "ex-probability-table"]
    assert others and all(rows[s][c] == "1" for s in ("ada", "alan") for c in others), rows


def test_restore_protected_matches_by_metadata_when_an_editor_dropped_the_ids():
    """Colab saves notebooks without cell ids: the checks are still found, in place."""
    handout = demo_notebook()
    submission = nbformat.reads(nbformat.writes(handout), as_version=4)
    for n, cell in enumerate(submission.cells):
        cell.id = f"new-{n}"
    check = next(c for c in submission.cells if role(c) == "check" and "double" in c.source)
    check.source = "print('Correct')"
    restored, notes = restore_protected(submission, handout)
    assert [c.source for c in restored.cells] == [c.source for c in handout.cells]
    assert notes == ["ex-demo-double: the check cell was edited (restored)"]
