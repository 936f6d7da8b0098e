import csv
import json
import os
from pathlib import Path

import nbformat
import pytest
from demo_chapter import demo_notebook, write_demo_root

from companion import probability
from companion.classroom import grading
from companion.classroom.assignments import fill_with_solutions, make_assignments, role
from companion.classroom.checks import ch06_probability_exercise
from companion.classroom.grading import expected_exercises, grade, restore_protected

SHORTCUT = "companion.validation.require_seed"


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
    roster.write_text(
        "student,seed\nright,1\npartly,2\nerrors,3\nhangs,4\ntampers,5\nabsent,6\ncrashes,7\nshortcut,8\n"
    )
    handouts = make_assignments(["99"], roster, tmp / "handouts", root=root, quiz="none")
    spec = json.loads((handouts / "assignment.json").read_text())
    assert spec["unavailable"] == {}, "the demo's checks name no companion function"
    spec["unavailable"] = {"ex-demo-double": [SHORTCUT]}  # as a real chapter's check would
    (handouts / "assignment.json").write_text(json.dumps(spec))
    submissions = tmp / "submissions"

    def solve(nb):
        fill_with_solutions(nb, demo_notebook())

    def solve_square_only(nb):
        _stub(nb, "ex-demo-square").source = "def square(x):\n    return x * x"

    def error_first(nb):
        solve(nb)
        nb.cells.insert(2, nbformat.v4.new_code_cell("raise RuntimeError('oops')"))

    def hang(nb):  # the first exercise hangs: it alone is lost, the next one still counts
        solve(nb)
        _stub(nb, "ex-demo-square").source = "while True:\n    pass"

    def crash(nb):  # the kernel dies between the answers and their checks
        solve(nb)
        at = next(n for n, c in enumerate(nb.cells) if role(c) == "check")
        nb.cells.insert(at, nbformat.v4.new_code_cell("import os\nos._exit(1)"))

    def tamper(nb):  # copies another student's number and deletes/edits the checks
        _stub(nb, "ex-demo-square").source = "def square(x):\n    return 0"
        _stub(nb, "ex-demo-double").source = "doubled = 2"  # twice student 'right's seed
        nb.cells = [c for c in nb.cells if not (role(c) == "check" and "square" in c.source)]
        for c in nb.cells:
            if role(c) == "check":
                c.source = "print('Correct')"
            if role(c) == "seed":
                c.source = "params = dict(seed=1)"

    def shortcut(nb):  # a companion function answers ex-demo-double: refused until its check ran
        solve(nb)
        _stub(nb, "ex-demo-double").source = (
            f"from {SHORTCUT.rsplit('.', 1)[0]} import require_seed\n"
            "doubled = 2 * require_seed('seed', params['seed'])"
        )
        nb.cells.append(nbformat.v4.new_code_cell("print(require_seed('seed', 3))"))  # after: allowed

    for student, edit in [("right", solve), ("partly", solve_square_only), ("errors", error_first),
                          ("hangs", hang), ("tampers", tamper), ("crashes", crash),
                          ("shortcut", shortcut)]:  # fmt: skip
        _submit(handouts, submissions, student, edit)
    out = tmp / "grades.csv"
    results = grade(
        handouts,
        submissions,
        out,
        cell_timeout=10,
        jobs=1,
        executed=tmp / "executed",
        feedback=tmp / "feedback",
    )
    return _rows(out), results, tmp


def test_grading_scores_every_kind_of_submission(graded):
    rows, results, _ = graded
    scores = {s: (r["ex-demo-square"], r["ex-demo-double"], r["score"], r["out_of"]) for s, r in rows.items()}
    assert scores == {
        "right": ("3", "3", "6", "8"),  # 3 points a coding exercise, 2 for the one graded by hand
        "partly": ("3", "0", "3", "8"),
        "errors": ("3", "3", "6", "8"),  # an error in one cell costs only what depends on it
        "hangs": ("0", "3", "3", "8"),
        "tampers": ("0", "0", "0", "8"),
        "absent": ("0", "0", "0", "8"),
        "crashes": ("3", "3", "6", "8"),  # restarted, the answers re-run, the checks then ran
        "shortcut": ("3", "0", "3", "8"),
    }
    assert all(r["hand:ex-demo-pen"] == "" for r in rows.values()), "left for the instructor"
    assert rows["right"]["notes"] == ""
    assert "a cell before the exercises (cell 2) raised RuntimeError: oops" in rows["errors"]["notes"]
    assert (
        "your code for ex-demo-square (cell 5) was still running after 10 s: interrupted"
        in (rows["hangs"]["notes"])
    )
    assert "checks that never ran: ex-demo-square" in rows["hangs"]["notes"]
    assert "cell 10" not in rows["hangs"]["notes"], "the check of ex-demo-double ran and passed"
    assert "ex-demo-square: the check cell was deleted (restored)" in rows["tampers"]["notes"]
    assert "ex-demo-double: the check cell was edited (restored)" in rows["tampers"]["notes"]
    assert "seed: the seed cell was edited (restored)" in rows["tampers"]["notes"]
    assert rows["absent"]["notes"] == "99_demo.ipynb: no submission"
    assert rows["crashes"]["notes"].startswith(
        "99_demo.ipynb: the kernel died in a cell of ex-demo-square (cell 6)"
    ), rows["crashes"]["notes"]
    assert "restarted, the cells before it re-run" in rows["crashes"]["notes"]
    shortcut = rows["shortcut"]["notes"]
    assert shortcut.startswith(
        "99_demo.ipynb: your code for ex-demo-double (cell 10) raised RuntimeError: "
        f"{SHORTCUT} is unavailable in exercise ex-demo-double: it answers the exercise in one call"
    ), shortcut
    assert shortcut.count(" raised ") == 2, "the stub and its check; the cell after the check used it freely"
    assert len(results) == 8


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
    """Real chapter 6: each student's checks accept their own answers and refuse a copy, and the
    graded quiz (each student's own variant, marked with the instructor's key) does too."""
    roster = tmp_path / "roster.csv"
    roster.write_text("student,seed\nada,101\nalan,202\n")
    handouts = make_assignments(["06"], roster, tmp_path / "handouts")
    name = "06_probability_exercise.ipynb"
    ada_params = ch06_probability_exercise.exercise_parameters(101)
    ada_table = probability.joint_distribution(ada_params.p)
    key = json.loads((handouts / "quiz_key.json").read_text())["ada"]["06_probability_exercise"]
    ada_quiz = {qid: entry["answer"] for qid, entry in key.items()}  # ada's right answers, for both
    from companion.classroom.assignments import chapter_path

    for student in ("ada", "alan"):
        nb = nbformat.read(handouts / student / name, as_version=4)
        fill_with_solutions(nb, nbformat.read(chapter_path("06"), as_version=4))
        _stub_table = _stub(nb, "ex-probability-table")
        _stub_table.source = f"answer = {dict(ada_table)!r}"  # ada's numbers, for both
        answers = next(c for c in nb.cells if c.source.startswith("quiz_answers = {"))
        answers.source = f"quiz_answers = {ada_quiz!r}"
        (tmp_path / "subs" / student).mkdir(parents=True)
        nbformat.write(nb, tmp_path / "subs" / student / name)
    grade(handouts, tmp_path / "subs", tmp_path / "grades.csv", timeout=120, feedback=tmp_path / "feedback")
    rows = _rows(tmp_path / "grades.csv")
    assert rows["ada"]["ex-probability-table"] == "3" and rows["alan"]["ex-probability-table"] == "0"
    others = [c for c in rows["ada"] if c.startswith("ex-") and c != "ex-probability-table"]
    assert others and all(rows[s][c] == "3" for s in ("ada", "alan") for c in others), rows
    quiz = [c for c in rows["ada"] if c.startswith("quiz-")]
    assert len(quiz) == len(key) and all(rows["ada"][c] == "1" for c in quiz), rows["ada"]
    wrong = [c for c in quiz if rows["alan"][c] == "0"]
    assert wrong, "ada's quiz answers do not answer alan's variant"
    assert rows["ada"]["notes"] == "" and rows["alan"]["notes"] == "", rows
    assert "not right yet: " in (tmp_path / "feedback" / "alan.md").read_text()


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


def test_a_bulk_download_with_renamed_files_grades_right_and_reports_what_it_cannot_match(tmp_path):
    """LMS layouts: Canvas (flat, 'lastfirst_id_id_file-1'), Moodle ('First Last_id_assignsubmission_file_/'),
    Gradescope ('submission_N/'), a nested folder, a duplicate, a stranger's file, a missing student."""
    root = write_demo_root(tmp_path / "course")
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "student,seed\nada.lovelace,1\nalan.turing,2\ngrace.hopper,3\nkatherine.j,4\nabsent.one,5\n"
    )
    handouts = make_assignments(["99"], roster, tmp_path / "week1", root=root, quiz="none")
    assert nbformat.read(handouts / "ada.lovelace" / "99_demo.ipynb", as_version=4).metadata["companion"] == {
        "assignment": "week1",
        "chapter": "99_demo",
        "student": "ada.lovelace",
    }
    bulk = tmp_path / "bulk"

    def submit(student, relative, *, keep_metadata=True, solved=True):
        nb = nbformat.read(handouts / student / "99_demo.ipynb", as_version=4)
        if solved:
            fill_with_solutions(nb, demo_notebook())
        if not keep_metadata:
            del nb.metadata["companion"]
        (bulk / relative).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, bulk / relative)

    submit("ada.lovelace", "lovelaceada_1234_5678_submission-1.ipynb")  # Canvas: only the metadata says
    submit("alan.turing", "Alan Turing_23456_assignsubmission_file_/99_demo (1).ipynb", keep_metadata=False)
    submit("grace.hopper", "submission_777/work/anything.ipynb")  # Gradescope, nested, renamed
    submit("katherine.j", "katherine.j/99_demo.ipynb", solved=False)  # an older, unsolved try ...
    os.utime(bulk / "katherine.j" / "99_demo.ipynb", (1, 1))
    submit("katherine.j", "katherine.j/99_demo (2).ipynb")  # ... and the newest
    (bulk / "stranger").mkdir()
    nbformat.write(nbformat.v4.new_notebook(), bulk / "stranger" / "notes.ipynb")
    out = tmp_path / "grades.csv"
    reported = []
    results = grade(handouts, bulk, out, cell_timeout=30, jobs=2, report=reported.append)
    rows = _rows(out)
    assert {s: r["score"] for s, r in rows.items()} == {
        "ada.lovelace": "6", "alan.turing": "6", "grace.hopper": "6", "katherine.j": "6", "absent.one": "0",
    }  # fmt: skip
    assert reported == [
        "not graded: stranger/notes.ipynb (neither its metadata nor its name says a student of the roster)"
    ]
    assert rows["absent.one"]["notes"] == "99_demo.ipynb: no submission"
    assert rows["katherine.j"]["notes"] == (
        "99_demo.ipynb: 2 files for this notebook: graded katherine.j/99_demo (2).ipynb, "
        "not katherine.j/99_demo.ipynb"
    )
    how = {r.student: (r.file, r.found_by) for r in results}
    assert how["alan.turing"] == ("Alan Turing_23456_assignsubmission_file_/99_demo (1).ipynb", "names")
    assert how["ada.lovelace"] == ("lovelaceada_1234_5678_submission-1.ipynb", "metadata")


def test_a_notebook_of_another_assignment_is_reported_not_graded(tmp_path):
    from companion.classroom.grading import find_submissions

    nb = nbformat.v4.new_notebook(
        metadata={"companion": {"assignment": "week2", "chapter": "99_demo", "student": "ada"}}
    )
    nbformat.write(nb, tmp_path / "ada_99_demo.ipynb")
    spec = {"assignment": "week1", "chapters": ["99_demo.ipynb"], "students": [{"student": "ada", "seed": 1}]}
    found = find_submissions(spec, tmp_path)
    assert found.files == {} and found.unmatched == [
        (Path("ada_99_demo.ipynb"), "it is from assignment 'week2'")
    ]


def test_feedback_files_say_what_each_check_said_and_the_summary_counts(graded):
    _, _, tmp = graded
    partly = (tmp / "feedback" / "partly.md").read_text()
    assert partly.startswith(
        "# Feedback for partly: handouts\n\n**3 of 6 points.** "
        "Exercises graded by hand, to come: ex-demo-pen."
    )
    assert "| `ex-demo-square` | 3 of 3 | Correct: square works. |" in partly
    assert "| `ex-demo-double` | 0 of 3 | Not yet: `doubled` is still None" in partly
    hangs = (tmp / "feedback" / "hangs.md").read_text()
    assert "- your code for ex-demo-square (cell 5) was still running" in hangs
    summary = (tmp / "feedback" / "summary.md").read_text()
    assert "7 of 8 students submitted. Points out of 6: median 3, lowest 0, highest 6." in summary
    assert "| `ex-demo-square` | 3 | 1.88 | 0: 3, 3: 5 | 5 of 8 |" in summary
    assert "](summary.png)" in summary and (tmp / "feedback" / "summary.png").stat().st_size > 1000


def test_hand_marks_merge_into_the_grades_and_points_come_from_the_assignment(graded, tmp_path):
    from companion.classroom.grading import merge_marks

    _, _, tmp = graded
    handouts = tmp / "handouts"
    spec = json.loads((handouts / "assignment.json").read_text())
    assert spec["points"] == {"ex-demo-square": 3, "ex-demo-double": 3} and spec["hand"] == {"ex-demo-pen": 2}
    handout = nbformat.read(handouts / "right" / "99_demo.ipynb", as_version=4)
    answers = [c for c in handout.cells if role(c) == "answer"]
    assert [c.metadata["companion"]["exercise"] for c in answers] == ["ex-demo-pen"]
    marks = tmp_path / "marks.csv"
    marks.write_text("student,hand:ex-demo-pen\nright,2\npartly,1.5\n")
    totals = merge_marks(handouts, tmp / "grades.csv", marks, tmp_path / "final.csv")
    rows = _rows(tmp_path / "final.csv")
    assert (totals["right"], totals["partly"], totals["absent"]) == (8, 4.5, 0)
    assert rows["partly"]["hand:ex-demo-pen"] == "1.5" and rows["partly"]["score"] == "4.5"
    assert rows["errors"]["notes"].endswith("hand marks to add: ex-demo-pen")
    assert "hand marks" not in rows["right"]["notes"]
    marks.write_text("student,hand:ex-demo-pen\nright,3\n")
    with pytest.raises(ValueError, match=r"line 2: ex-demo-pen must lie in \[0, 2\], got 3"):
        merge_marks(handouts, tmp / "grades.csv", marks, tmp_path / "final.csv")
    marks.write_text("student,hand:ex-demo-pen\nnobody,1\n")
    with pytest.raises(ValueError, match="student 'nobody' is not in"):
        merge_marks(handouts, tmp / "grades.csv", marks, tmp_path / "final.csv")


def test_the_class_summary_gives_each_exercise_its_mean_distribution_hints_and_a_figure(tmp_path):
    from companion.classroom.grading import Submission, write_feedback

    quiz = "quiz-06_probability_exercise-q1"
    students = [{"student": s, "seed": n} for n, s in enumerate(["ada", "alan", "bob"])]
    spec = {
        "assignment": "week1",
        "points": {"ex-a": 3, "ex-b": 3, quiz: 1},
        "hand": {},
        "students": students,
    }
    said = {"ex-a": "Not yet: square(3) should be 9.", "ex-b": "Correct: fine."}
    right = {"ex-a": "Correct: ok", "ex-b": "Correct: fine."}
    results = [
        Submission("ada", "99.ipynb", {"ex-a": 1, "ex-b": 1, quiz: 1}, [], "a.ipynb", messages=right),
        Submission("alan", "99.ipynb", {"ex-a": 0, "ex-b": 1, quiz: 0}, [], "b.ipynb", messages=said),
        Submission("bob", "99.ipynb", {"ex-a": 0, "ex-b": 0, quiz: 0}, ["no submission"]),
    ]
    folder = write_feedback(tmp_path / "feedback", spec, results)
    summary = (folder / "summary.md").read_text()
    assert "2 of 3 students submitted. Points out of 7: median 3, lowest 0, highest 7." in summary
    assert "| `ex-a` | 3 | 1.00 | 0: 2, 3: 1 | 1 of 3 | square(3) should be 9. (1) |" in summary
    assert "| `quiz-06_probability_exercise-q1` | 1 | 0.33 | 0: 2, 1: 1 | 1 of 3 |" in summary
    assert (folder / "summary.png").read_bytes()[:4] == b"\x89PNG"
    fig = grading.summary_figure(spec, results)
    left, right = fig.axes
    assert [t.get_text() for t in right.get_yticklabels()] == ["quiz 06", "ex-b", "ex-a"]
    assert [round(b.get_width(), 3) for b in right.patches] == [0.333, 0.667, 0.333]
    assert sum(b.get_height() for b in left.patches) == 3, "one count per student"
    assert "| `ex-a` | 0 of 3 | Not yet: square(3) should be 9. |" in (folder / "alan.md").read_text()
