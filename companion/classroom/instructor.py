"""The instructors' command line: ``python -m companion.classroom <command> ...``.

Commands (``--help`` on each gives every option; ``book/instructors.md`` shows the workflow):

``list``
    Every chapter's exercises, and which of them a check grades automatically.
``student-edition OUT``
    Build the student website (solutions removed) into ``OUT/source/_build/html``.
``assign CHAPTER ... --roster ROSTER.csv --out FOLDER``
    Write one notebook per student and chapter, solutions replaced by stubs, a seed per student.
``grade FOLDER SUBMISSIONS --out GRADES.csv``
    Execute the submissions, run their checks and write points per exercise per student.
``marks FOLDER GRADES.csv MARKS.csv --out FINAL.csv``
    Add the hand marks (pen-and-paper and open exercises) to the grades.
``export GRADES.csv --lms canvas|moodle --name NAME --out FILE.csv``
    The grades in the import format of a Canvas or Moodle gradebook.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat

from companion.classroom import assignments, gradebook, grading, sandbox


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m companion.classroom", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("list", help="list every chapter's exercises and their checks")

    edition = commands.add_parser("student-edition", help="build the student website without solutions")
    edition.add_argument("out", type=Path, help="folder for the sources (OUT/source) and the website")
    edition.add_argument("--repository-url", help="where you publish OUT/source (for launch buttons)")
    edition.add_argument("--no-build", action="store_true", help="write the sources only")

    assign = commands.add_parser("assign", help="make assignment notebooks for a class")
    assign.add_argument("chapters", nargs="+", help="chapter numbers or stems, e.g. 01 06")
    assign.add_argument(
        "--roster", type=Path, required=True, help="CSV with a 'student' and optional 'seed' column"
    )
    assign.add_argument("--out", type=Path, required=True, help="folder for <student>/<chapter>.ipynb")
    assign.add_argument("--exercises", nargs="+", help="exercise labels to keep (default: all)")
    assign.add_argument(
        "--quiz", choices=assignments.QUIZ_MODES, default="graded", help="the chapter quiz (default: graded)"
    )
    assign.add_argument(
        "--points",
        nargs="+",
        default=[],
        metavar="LABEL=N",
        help="points of an exercise, or of every quiz question (quiz=N); default: "
        + ", ".join(f"{k} {v}" for k, v in assignments.POINTS.items()),
    )

    grade = commands.add_parser("grade", help="grade submitted notebooks into a CSV")
    grade.add_argument("assignment", type=Path, help="the folder 'assign' wrote")
    grade.add_argument(
        "submissions", type=Path, help="folder of the submitted notebooks (any layout, an LMS bulk download)"
    )
    grade.add_argument("--out", type=Path, required=True, help="the CSV to write")
    grade.add_argument("--timeout", type=float, default=600, help="seconds per notebook (default 600)")
    grade.add_argument(
        "--cell-timeout", type=float, default=120, help="seconds a cell may run before it is interrupted"
    )
    grade.add_argument(
        "--jobs", type=int, default=None, help="submissions graded at once (default: the number of cores)"
    )
    grade.add_argument(
        "--memory", type=float, default=4, help="GiB of address space per submission's kernel (default 4)"
    )
    grade.add_argument(
        "--sandbox",
        choices=("auto", "bubblewrap", "none"),
        default="auto",
        help="contain each kernel with bubblewrap: if it works (auto), always, or never (limits only)",
    )
    grade.add_argument("--executed", type=Path, help="folder for the executed submissions")
    grade.add_argument(
        "--feedback", type=Path, help="folder for a feedback file per student (Markdown) and summary.md"
    )
    marks = commands.add_parser("marks", help="add hand marks to a grades CSV")
    marks.add_argument("assignment", type=Path, help="the folder 'assign' wrote")
    marks.add_argument("grades", type=Path, help="the CSV 'grade' wrote")
    marks.add_argument("marks", type=Path, help="CSV with 'student' and a 'hand:<label>' column per exercise")
    marks.add_argument("--out", type=Path, required=True, help="the CSV to write")

    export = commands.add_parser("export", help="the grades in a Canvas or Moodle gradebook's import format")
    export.add_argument("grades", type=Path, help="the CSV 'grade' or 'marks' wrote")
    export.add_argument("--lms", choices=gradebook.LMS, required=True, help="the gradebook to import into")
    export.add_argument("--name", required=True, help="the assignment's name in the gradebook")
    export.add_argument(
        "--roster", type=Path, help="the roster, with the students' LMS identities (name, login, email, ...)"
    )
    export.add_argument("--out", type=Path, required=True, help="the CSV to write")
    return parser


def _points(pairs: list[str]) -> dict[str, int]:
    """``["ex-rnn-step=5", "quiz=2"]`` as a dict; a malformed pair is a ValueError."""
    found = {}
    for pair in pairs:
        label, _, value = pair.partition("=")
        if not label or not value.isdigit():
            raise ValueError(f"--points takes LABEL=N with N an int >= 0, got {pair!r}")
        found[label] = int(value)
    return found


def exercise_table() -> str:
    """One line per exercise: chapter, label, whether a check grades it automatically, and the
    companion functions it must do without (see :func:`companion.classroom.exercises.check`)."""
    import companion.classroom.checks  # noqa: F401  (registers every check)
    from companion.classroom.exercises import UNAVAILABLE

    lines = []
    for path in sorted((assignments.ROOT / "book").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        checked = {c.metadata["companion"]["exercise"] for c in nb.cells if assignments.role(c) == "check"}
        for label in assignments.exercise_labels(nb):
            how = "checked automatically" if label in checked else "graded by hand (pen and paper / open)"
            if label in UNAVAILABLE:
                how += f", on the student's own code (without {', '.join(UNAVAILABLE[label])})"
            lines.append(f"{path.stem:28} {label:34} {how}")
        if any(assignments.role(c) == "quiz" for c in nb.cells):
            lines.append(
                f"{path.stem:28} {'quiz-' + path.stem:34} checked automatically (one mark per question)"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            print(exercise_table())
        elif args.command == "student-edition":
            html = assignments.student_edition(
                args.out, repository_url=args.repository_url, build=not args.no_build
            )
            print(
                f"Student edition: sources in {args.out / 'source'}"
                + ("" if args.no_build else f", website in {html}")
            )
        elif args.command == "assign":
            out = assignments.make_assignments(
                args.chapters,
                args.roster,
                args.out,
                exercises=args.exercises,
                quiz=args.quiz,
                points=_points(args.points),
            )
            print(f"Assignments written to {out}/<student>/; the grader reads {out / 'assignment.json'}")
        elif args.command == "export":
            out = gradebook.export_grades(
                args.grades, args.out, lms=args.lms, assignment_name=args.name, roster=args.roster
            )
            print(f"Grades for {args.lms.capitalize()}'s gradebook import written to {out}")
        elif args.command == "marks":
            totals = grading.merge_marks(args.assignment, args.grades, args.marks, args.out)
            print(f"Hand marks merged for {len(totals)} students into {args.out}")
        else:
            unmatched: list[str] = []
            limits = sandbox.Limits(memory=int(args.memory * sandbox.GiB), sandbox=args.sandbox)
            results = grading.grade(
                args.assignment,
                args.submissions,
                args.out,
                timeout=args.timeout,
                cell_timeout=args.cell_timeout,
                jobs=args.jobs,
                limits=limits,
                executed=args.executed,
                feedback=args.feedback,
                progress=lambda text: print(f"grading {text}", flush=True),
                report=lambda text: (unmatched.append(text), print(text, file=sys.stderr)),
            )
            submitted = [r for r in results if r.file is not None]
            problems = sum(bool(r.notes) for r in submitted)
            print(
                f"Graded {len(submitted)} of {len(results)} notebooks ({problems} with notes; "
                f"{len(results) - len(submitted)} not submitted; {len(unmatched)} files not matched) "
                f"into {args.out}"
            )
    except (ValueError, TypeError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
