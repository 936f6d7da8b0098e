"""Time the grader on a class: synthetic submissions of one chapter, graded through the command line.

Usage::

    python benchmarks/grading.py                        # 30 students on chapter 01, --jobs 2
    python benchmarks/grading.py --students 1 --jobs 1  # one student alone

It makes an assignment of chapter 01 for ``--students`` students (``assign``, graded quiz), writes their
submissions from the instructor's solutions (:func:`companion.classroom.assignments.fill_with_solutions`)
and breaks some of them the ways students do, in a bulk-download layout with renamed files, then
runs ``python -m companion.classroom grade ... --jobs N --feedback`` and prints its wall time,
the load average before and after (the machine may be shared), and the grades' distribution.

The kinds of submission, from the third student on (the first two are right): a wrong count in
a coding exercise, the handout returned untouched, a cell that raises, a cell that hangs (it costs
that exercise only, after ``--cell-timeout`` seconds), the one-call companion function instead of
the student's own code, an edited check cell, and no submission at all; every other student is
right, with the graded quiz answered from the key.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from companion.classroom.assignments import QUIZ_KEY, chapter_path, fill_with_solutions, role

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "01"
BROKEN = ("wrong", "stub", "raises", "hangs", "shortcut", "tampered", "missing")


def _stub(nb: nbformat.NotebookNode, index: int) -> nbformat.NotebookNode:
    return [cell for cell in nb.cells if role(cell) == "stub"][index]


def _submission(kind: str, nb: nbformat.NotebookNode, instructor: nbformat.NotebookNode, key: dict) -> None:
    """Turn the handout ``nb`` into a submission of ``kind`` (see the module's docstring)."""
    if kind == "stub":
        return
    fill_with_solutions(nb, instructor)
    answers = next((c for c in nb.cells if c.source.startswith("quiz_answers = {")), None)
    if answers is not None:
        answers.source = "quiz_answers = " + repr({qid: entry["answer"] for qid, entry in key.items()})
    first = _stub(nb, 0)  # ex-rnn-count
    if kind == "wrong":
        first.source += "\n" + "\n".join(f"{name} = {name} + 16" for name in ("gru_params", "lstm_params"))
    elif kind == "raises":
        first.source = "raise RuntimeError('my mistake')\n" + first.source
    elif kind == "hangs":
        _stub(nb, 1).source = "import time\nwhile True:\n    time.sleep(1)"  # ex-rnn-step
    elif kind == "shortcut":
        first.source = (
            "gru_params = rnn.parameter_count('gru', 8, 16)\nlstm_params = rnn.parameter_count('lstm', 8, 16)"
        )
    elif kind == "tampered":
        check = next(c for c in nb.cells if role(c) == "check")
        check.source = "print('Correct')"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--cell-timeout", type=float, default=60)
    parser.add_argument("--out", type=Path, default=Path("/tmp/grading-benchmark"))
    args = parser.parse_args(argv)
    if args.students < 1 or args.jobs < 1:
        parser.error("--students and --jobs must be >= 1")
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    roster = args.out / "roster.csv"
    roster.write_text("student,seed\n" + "".join(f"student{n:02d},{n}\n" for n in range(args.students)))
    command = [sys.executable, "-m", "companion.classroom"]
    folder = args.out / "assignment"
    subprocess.run([*command, "assign", CHAPTER, "--roster", str(roster), "--out", str(folder)], check=True)
    spec = json.loads((folder / "assignment.json").read_text())
    keys = json.loads((folder / QUIZ_KEY).read_text()) if (folder / QUIZ_KEY).exists() else {}
    (name,) = spec["chapters"]
    instructor = nbformat.read(chapter_path(CHAPTER), as_version=4)
    bulk = args.out / "submissions"
    kinds = {}
    for n, entry in enumerate(spec["students"]):
        student = entry["student"]
        kind = BROKEN[(n - 2) % len(BROKEN)] if 2 <= n < 2 + len(BROKEN) else "right"
        kinds[student] = kind
        if kind == "missing":
            continue
        nb = nbformat.read(folder / student / name, as_version=4)
        _submission(kind, nb, instructor, keys.get(student, {}).get(Path(name).stem, {}))
        target = bulk / f"{student}_{1000 + n}_assignsubmission_file_" / f"{Path(name).stem} ({n % 3}).ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
    grades = args.out / "grades.csv"
    load_before = os.getloadavg()
    start = time.monotonic()
    subprocess.run(
        [*command, "grade", str(folder), str(bulk), "--out", str(grades), "--jobs", str(args.jobs),
         "--cell-timeout", str(args.cell_timeout), "--feedback", str(args.out / "feedback"),
         "--executed", str(args.out / "executed")],
        check=True,
    )  # fmt: skip
    seconds = time.monotonic() - start
    load_after = os.getloadavg()
    with grades.open(newline="") as f:
        rows = list(csv.DictReader(f))
    print(f"\n{args.students} students, chapter {CHAPTER}, --jobs {args.jobs}: {seconds:.0f} s wall "
          f"({seconds / args.students:.1f} s per student); load average before {load_before[0]:.2f}, "
          f"after {load_after[0]:.2f} (1 min), {os.cpu_count()} cores")  # fmt: skip
    for row in rows:
        if kinds[row["student"]] != "right" or row["notes"]:
            print(
                f"  {row['student']} ({kinds[row['student']]}): {row['score']} of {row['out_of']}; "
                f"{row['notes'][:160]}"
            )
    right = [row["score"] for row in rows if kinds[row["student"]] == "right"]
    print(f"  the {len(right)} right submissions scored {sorted(set(right))} of {rows[0]['out_of']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
