"""The grades in the import formats of Canvas's and Moodle's gradebooks."""

import csv

import pytest

from companion.classroom import instructor
from companion.classroom.gradebook import export_grades

GRADES = (
    "student,ex-a,hand:ex-b,score,out_of,notes\n"
    "ada.lovelace,3,2,5,5,\n"
    "alan.turing,0,1.5,1.5,5,99_demo.ipynb: no submission\n"
)


def _read(path):
    with path.open(newline="") as f:
        return list(csv.reader(f))


def test_canvas_gets_its_identity_columns_a_points_possible_row_and_one_score_per_student(tmp_path):
    grades, roster = tmp_path / "grades.csv", tmp_path / "roster.csv"
    grades.write_text(GRADES)
    roster.write_text(
        "student,seed,name,canvas_id,sis_id,login,section\n"
        'ada.lovelace,1,"Lovelace, Ada",1234,S-1,ada.lovelace@uni.edu,Section A\nalan.turing,2,,,,,\n'
    )
    out = export_grades(
        grades, tmp_path / "canvas.csv", lms="canvas", assignment_name="Week 3", roster=roster
    )
    assert _read(out) == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Week 3"],
        ["Points Possible", "", "", "", "", "5"],
        ["Lovelace, Ada", "1234", "S-1", "ada.lovelace@uni.edu", "Section A", "5"],
        ["alan.turing", "", "", "alan.turing", "", "1.5"],  # the roster id where the roster says nothing
    ]


def test_moodle_gets_the_user_fields_it_can_map_and_one_grade_column(tmp_path):
    grades = tmp_path / "grades.csv"
    grades.write_text(GRADES)
    out = export_grades(grades, tmp_path / "moodle.csv", lms="moodle", assignment_name="Week 3")
    assert _read(out) == [
        ["Username", "Email address", "ID number", "Week 3"],
        ["ada.lovelace", "", "", "5"],
        ["alan.turing", "", "", "1.5"],
    ]


def test_export_refuses_bad_input_naming_the_argument(tmp_path):
    grades = tmp_path / "grades.csv"
    grades.write_text(GRADES)
    with pytest.raises(ValueError, match=r"lms must be one of \('canvas', 'moodle'\), got 'blackboard'"):
        export_grades(grades, tmp_path / "o.csv", lms="blackboard", assignment_name="W")
    with pytest.raises(ValueError, match="assignment_name must be a non-empty string"):
        export_grades(grades, tmp_path / "o.csv", lms="canvas", assignment_name=" ")
    with pytest.raises(ValueError, match="grades must be a CSV file"):
        export_grades(tmp_path / "nope.csv", tmp_path / "o.csv", lms="canvas", assignment_name="W")
    (tmp_path / "bad.csv").write_text("name,score\nada,1\n")
    with pytest.raises(ValueError, match=r"grades .* must have the columns \['student', 'score', 'out_of'\]"):
        export_grades(tmp_path / "bad.csv", tmp_path / "o.csv", lms="canvas", assignment_name="W")
    (tmp_path / "roster.csv").write_text("name\nada\n")
    with pytest.raises(ValueError, match=r"roster .* \['student'\] are missing"):
        export_grades(
            grades, tmp_path / "o.csv", lms="canvas", assignment_name="W", roster=tmp_path / "roster.csv"
        )
    grades.write_text("student,score,out_of\nada,lots,5\n")
    with pytest.raises(ValueError, match="line 2: score must be a number, got 'lots'"):
        export_grades(grades, tmp_path / "o.csv", lms="moodle", assignment_name="W")
    grades.write_text("student,score,out_of\nada,1,5\nalan,1,6\n")
    with pytest.raises(ValueError, match="the same out_of"):
        export_grades(grades, tmp_path / "o.csv", lms="moodle", assignment_name="W")


def test_the_command_line_exports(tmp_path, capsys):
    grades = tmp_path / "grades.csv"
    grades.write_text(GRADES)
    out = tmp_path / "canvas.csv"
    assert (
        instructor.main(["export", str(grades), "--lms", "canvas", "--name", "Week 3", "--out", str(out)])
        == 0
    )
    assert "Canvas's gradebook import" in capsys.readouterr().out and _read(out)[2][-1] == "5"
    bad = ["export", str(tmp_path / "nope.csv"), "--lms", "moodle", "--name", "W", "--out", str(out)]
    assert instructor.main(bad) == 2
    assert "error: grades must be a CSV file" in capsys.readouterr().err
