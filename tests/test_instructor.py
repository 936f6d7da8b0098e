import csv

from companion.classroom import instructor


def test_the_command_line_lists_assigns_and_grades(tmp_path, capsys):
    assert instructor.main(["list"]) == 0
    listing = capsys.readouterr().out
    assert "ex-rnn-step" in listing and "checked automatically" in listing and "graded by hand" in listing
    assert "on the student's own code (without companion.boundary.accept)" in listing
    roster = tmp_path / "roster.csv"
    roster.write_text("student\nada\n")
    out = tmp_path / "week1"
    assert instructor.main(["assign", "6", "--roster", str(roster), "--out", str(out)]) == 0, "6 is 06"
    assert (out / "ada" / "06_probability_exercise.ipynb").is_file()
    assert (out / "quiz_key.json").is_file(), "the graded quiz's key, beside the students' folders"
    (tmp_path / "subs").mkdir()
    grades = tmp_path / "grades.csv"
    capsys.readouterr()
    assert instructor.main(["grade", str(out), str(tmp_path / "subs"), "--out", str(grades)]) == 0
    printed = capsys.readouterr().out
    assert "Graded 0 of 1 notebooks (0 with notes; 1 not submitted; 0 files not matched)" in printed
    (row,) = csv.DictReader(grades.open())
    assert row["student"] == "ada" and row["score"] == "0" and "no submission" in row["notes"]
    assert int(row["out_of"]) > 10, "the exercises and the graded quiz's questions"


def test_the_command_line_reports_bad_input_without_a_traceback(tmp_path, capsys):
    roster = tmp_path / "roster.csv"
    roster.write_text("student\nada\n")
    assert instructor.main(["assign", "42", "--roster", str(roster), "--out", str(tmp_path / "o")]) == 2
    assert "error: chapter must name one of" in capsys.readouterr().err
