"""Grades for a learning-management system: the grader's CSV in the import formats of Canvas's
and Moodle's gradebooks.

:func:`export_grades` reads a grades CSV (written by :func:`companion.classroom.grading.grade`,
or by :func:`~companion.classroom.grading.merge_marks` once the hand marks are in) and writes one
column of total points per student, named after the assignment:

* **Canvas** (Grades, Import): the columns ``Student, ID, SIS User ID, SIS Login ID, Section``
  that Canvas's own export has, then the assignment, and a ``Points Possible`` row under the
  header. Canvas recognises a student by ``ID`` (its user id), else by ``SIS User ID`` or
  ``SIS Login ID``, else by name; an assignment column it does not know becomes a new
  assignment worth the points possible.
* **Moodle** (Grades, Import, CSV file): ``Username``, ``Email address`` and ``ID number``, then
  the assignment. On import, map one of them to the matching user field ("Identify user by")
  and the assignment's column to its grade item, whose maximum grade must be at least the
  points possible.

Where the roster's ids are not what the LMS knows students by, give the roster more columns:
``name``, ``canvas_id``, ``sis_id``, ``login``, ``section`` (Canvas) and ``username``, ``email``,
``id_number`` (Moodle). Without them, the roster id fills ``SIS Login ID`` and ``Username``.
"""

from __future__ import annotations

import csv
from pathlib import Path

__all__ = ["LMS", "export_grades"]

#: The gradebooks :func:`export_grades` writes for.
LMS = ("canvas", "moodle")
_CANVAS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
_MOODLE = ("Username", "Email address", "ID number")


def _read(path: Path, name: str, needed: tuple[str, ...]) -> list[dict[str, str]]:
    """The rows of CSV ``path`` (the argument ``name``), which must have the columns ``needed``."""
    if not path.is_file():
        raise ValueError(f"{name} must be a CSV file, got {path}")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows, header = list(reader), reader.fieldnames or []
    missing = [column for column in needed if column not in header]
    if missing:
        raise ValueError(f"{name} ({path}) must have the columns {list(needed)}; {missing} are missing")
    return rows


def _number(text: str, where: str) -> str:
    """A score as the LMS reads it (``6``, ``4.5``); an empty one stays empty (no grade)."""
    text = (text or "").strip()
    if not text:
        return ""
    try:
        return f"{float(text):g}"
    except ValueError:
        raise ValueError(f"{where}: score must be a number, got {text!r}") from None


def export_grades(
    grades: Path | str,
    out: Path | str,
    *,
    lms: str,
    assignment_name: str,
    roster: Path | str | None = None,
) -> Path:
    """Write ``out``, the grades CSV ``grades`` as ``lms`` (``"canvas"`` or ``"moodle"``) imports
    it: one column ``assignment_name`` with every student's ``score`` (see the module's
    docstring for the columns). ``roster`` (a CSV with ``student`` and optional identity columns)
    says who each student is in the LMS. Returns ``out``.
    """
    if lms not in LMS:
        raise ValueError(f"lms must be one of {LMS}, got {lms!r}")
    if not isinstance(assignment_name, str) or not assignment_name.strip():
        raise ValueError(f"assignment_name must be a non-empty string, got {assignment_name!r}")
    grades, out = Path(grades), Path(out)
    rows = _read(grades, "grades", ("student", "score", "out_of"))
    people = {}
    if roster is not None:
        people = {row["student"].strip(): row for row in _read(Path(roster), "roster", ("student",))}
    possible = {_number(row["out_of"], f"{grades}, out_of") for row in rows} - {""}
    if len(possible) > 1:
        raise ValueError(f"grades must give every student the same out_of, got {sorted(possible)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        name = assignment_name.strip()
        if lms == "canvas":
            writer.writerow([*_CANVAS, name])
            writer.writerow(["Points Possible", "", "", "", "", possible.pop() if possible else ""])
        else:
            writer.writerow([*_MOODLE, name])
        for line, row in enumerate(rows, 2):
            student = row["student"].strip()
            who = {k: (v or "").strip() for k, v in people.get(student, {}).items()}
            score = _number(row["score"], f"{grades}, line {line}")
            if lms == "canvas":
                identity = [who.get("name") or student, who.get("canvas_id", ""), who.get("sis_id", ""),
                            who.get("login") or student, who.get("section", "")]  # fmt: skip
            else:
                identity = [who.get("username") or student, who.get("email", ""), who.get("id_number", "")]
            writer.writerow([*identity, score])
    return out
