"""Grade submitted notebooks: run them, read their check cells, write a CSV of scores.

For each student and chapter of an assignment (made by
:func:`companion.classroom.assignments.make_assignments`), :func:`grade`

1. restores the protected cells of the handed-out notebook (the check cells and the seed cell)
   in the submission, by cell id, and notes every one that was edited or deleted;
2. executes the submission with nbclient in a fresh kernel, cell by cell, errors allowed, within
   one time limit for the whole notebook, with Python-level network access blocked;
3. reads the :class:`~companion.classroom.exercises.Feedback` each check cell displayed (its
   :data:`~companion.classroom.exercises.FEEDBACK_KEY` in its output's metadata) and scores each
   exercise 1 if every verdict for it is correct and 0 otherwise (also when its check never ran).

A submission that is missing, fails to parse, raises, hangs or deletes its checks is scored and
reported in the ``notes`` column; none stops the run. Grading trusts the student's kernel, as any
notebook grader does: a student who sets out to forge a check's output can. The checks stop
copying (answers depend on each student's seed), not sabotage.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from companion.classroom import quiz as quizzes
from companion.classroom.assignments import role
from companion.classroom.exercises import FEEDBACK_KEY

__all__ = [
    "Submission",
    "block_network",
    "expected_exercises",
    "grade",
    "grade_notebook",
    "restore_protected",
]

PROTECTED = ("check", "seed")
_PREAMBLE = "import companion.classroom.grading\ncompanion.classroom.grading.block_network()"


def block_network() -> None:
    """Refuse Python-level connections to anything but this machine (run inside the kernel).

    Best effort: it patches :mod:`socket`, so a student's code cannot fetch an answer, but code
    that loads C libraries with their own sockets is not stopped. For hard isolation run the
    grader in a container without a network (``docker run --network none``).
    """
    original_connect = socket.socket.connect
    original_getaddrinfo = socket.getaddrinfo

    def local(address: Any) -> bool:
        if not isinstance(address, tuple):  # a Unix socket's path
            return True
        host = address[0]
        return isinstance(host, str) and (host in ("localhost", "::1") or host.startswith("127."))

    def connect(self: socket.socket, address: Any) -> None:
        if not local(address):
            raise OSError(f"network access is disabled while grading (tried {address!r})")
        return original_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in (None, "localhost", "::1") and not str(host).startswith("127."):
            raise OSError(f"network access is disabled while grading (tried to resolve {host!r})")
        return original_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]


def expected_exercises(handout: nbformat.NotebookNode) -> list[str]:
    """The exercises a handed-out notebook's check cells grade (quiz questions one by one)."""
    labels = []
    for cell in handout.cells:
        if role(cell) != "check":
            continue
        label = cell.metadata["companion"]["exercise"]
        if label.startswith("quiz-"):
            chapter = label.removeprefix("quiz-")
            labels += [f"quiz-{chapter}-{q.id}" for q in quizzes.load(chapter).questions]
        else:
            labels.append(label)
    return list(dict.fromkeys(labels))


def _source(cell: nbformat.NotebookNode) -> str:
    return "".join(cell.source) if isinstance(cell.source, list) else cell.source


def _key(cell: nbformat.NotebookNode) -> tuple[str | None, str | None]:
    meta = cell.get("metadata", {}).get("companion", {})
    return meta.get("role"), meta.get("exercise")


def restore_protected(
    submission: nbformat.NotebookNode, handout: nbformat.NotebookNode
) -> tuple[nbformat.NotebookNode, list[str]]:
    """The submission with the handout's check and seed cells put back, and notes on each one
    that was edited or deleted.

    Cells are matched by id, or, where an editor dropped the ids (Colab does), by their role
    and exercise in the cell metadata. A deleted cell is re-inserted after the submission's
    cell that matches the handout cell before it.
    """
    restored = copy.deepcopy(submission)
    notes = []
    by_id = {cell.get("id"): cell for cell in restored.cells}
    by_key: dict[tuple, list] = {}
    for cell in restored.cells:
        if role(cell) in PROTECTED:
            by_key.setdefault(_key(cell), []).append(cell)
    used: set[int] = set()
    anchor = None  # the submission's cell matching the handout's previous cell
    for cell in handout.cells:
        mine = by_id.get(cell.id)
        if role(cell) not in PROTECTED:
            anchor = mine if mine is not None else anchor
            continue
        if mine is None or id(mine) in used or role(mine) != role(cell):
            mine = next((c for c in by_key.get(_key(cell), []) if id(c) not in used), None)
        name = cell.metadata["companion"].get("exercise", cell.metadata["companion"]["role"])
        if mine is None:
            notes.append(f"{name}: the {role(cell)} cell was deleted (restored)")
            at = next((i + 1 for i, c in enumerate(restored.cells) if c is anchor), 0)
            mine = copy.deepcopy(cell)
            restored.cells.insert(at, mine)
        elif _source(mine) != _source(cell) or mine.cell_type != cell.cell_type:
            notes.append(f"{name}: the {role(cell)} cell was edited (restored)")
            mine.source, mine.cell_type = cell.source, cell.cell_type
        mine.metadata = copy.deepcopy(cell.metadata)  # the roles the grader reads
        used.add(id(mine))
        anchor = mine
    return restored, notes


def _execute(nb: nbformat.NotebookNode, timeout: float, workdir: Path) -> list[str]:
    """Run every cell of ``nb`` in place within ``timeout`` seconds in all; return notes on
    errors, a timeout or a dead kernel. Never raises for the notebook's own failures."""
    notes: list[str] = []
    env = {**os.environ, "COMPANION_PROGRESS": "0", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    env.pop("COMPANION_EDITION", None)
    client = NotebookClient(
        nb,
        timeout=int(timeout),
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
    )
    preamble = nbformat.v4.new_code_cell(_PREAMBLE)
    deadline = time.monotonic() + timeout
    with client.setup_kernel(env=env, cwd=str(workdir)):
        client.execute_cell(preamble, -1)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                notes.append(f"time limit of {timeout:g} s reached before cell {index}")
                break
            client.timeout = max(1, int(remaining))
            try:
                client.execute_cell(cell, index)
            except CellTimeoutError:
                notes.append(f"cell {index} was still running at the time limit of {timeout:g} s")
                break
            except DeadKernelError:
                notes.append(f"the kernel died in cell {index}")
                break
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    notes.append(f"cell {index} raised {output.ename}: {output.evalue}"[:200])
    return notes


def _verdicts(nb: nbformat.NotebookNode) -> dict[str, list[bool]]:
    """Every verdict the check cells displayed, by exercise."""
    verdicts: dict[str, list[bool]] = {}
    for cell in nb.cells:
        if role(cell) != "check":
            continue
        for output in cell.get("outputs", []):
            payload = output.get("metadata", {}).get(FEEDBACK_KEY)
            records = payload if isinstance(payload, list) else [payload] if payload else []
            for record in records:
                verdicts.setdefault(record["exercise"], []).append(record["correct"] is True)
    return verdicts


@dataclass
class Submission:
    """One student's graded notebook: a score per exercise, and notes on what went wrong."""

    student: str
    notebook: str
    scores: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def grade_notebook(
    path: Path | None, handout: nbformat.NotebookNode, *, timeout: float = 300, executed: Path | None = None
) -> tuple[dict[str, int], list[str]]:
    """Grade one submission (``path``; ``None`` if missing) against its ``handout``.

    Returns the score of every expected exercise (1 or 0) and notes. ``executed``, if given, is
    where the executed notebook is written for the instructor to read.
    """
    expected = expected_exercises(handout)
    zero = dict.fromkeys(expected, 0)
    if path is None:
        return zero, ["no submission"]
    try:
        submission = nbformat.read(path, as_version=4)
    except Exception as error:  # an unreadable file is a result to report, not a crash
        return zero, [f"could not read the notebook: {type(error).__name__}: {error}"[:200]]
    nb, notes = restore_protected(submission, handout)
    with tempfile.TemporaryDirectory(prefix="grading-") as workdir:
        notes += _execute(nb, timeout, Path(workdir))
    if executed is not None:
        executed.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, executed)
    verdicts = _verdicts(nb)
    scores = {label: int(bool(verdicts.get(label)) and all(verdicts[label])) for label in expected}
    never = [label for label in expected if label not in verdicts and not label.startswith("quiz-")]
    if never:
        notes.append(f"checks that never ran: {', '.join(never)}")
    return scores, notes


def grade(
    assignment: Path | str,
    submissions: Path | str,
    out: Path | str,
    *,
    timeout: float = 300,
    executed: Path | str | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Submission]:
    """Grade ``submissions/<student>/<notebook>.ipynb`` for the assignment in folder
    ``assignment`` (with its ``assignment.json`` and handed-out notebooks); write ``out``.

    ``out`` is a CSV with one row per student: ``student``, one column per exercise (labels in
    book order; a chapter's quiz questions as ``quiz-<chapter>-<id>``), ``score``, ``out_of``
    and ``notes``. ``timeout`` is the limit per notebook in seconds; ``executed`` a folder for
    the executed submissions. Returns the per-notebook results.
    """
    assignment, submissions = Path(assignment), Path(submissions)
    spec_path = assignment / "assignment.json"
    if not spec_path.is_file():
        raise ValueError(
            f"assignment must be a folder made by make_assignments, with assignment.json: {assignment}"
        )
    if not submissions.is_dir():
        raise ValueError(f"submissions must be a folder of <student>/<notebook>.ipynb, got {submissions}")
    if not timeout > 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    results = []
    columns: list[str] = []
    for entry in spec["students"]:
        student = entry["student"]
        for name in spec["chapters"]:
            handout = nbformat.read(assignment / student / name, as_version=4)
            path = submissions / student / name
            if progress:
                progress(f"{student}: {name}")
            scores, notes = grade_notebook(
                path if path.is_file() else None,
                handout,
                timeout=timeout,
                executed=Path(executed) / student / name if executed else None,
            )
            columns += [c for c in scores if c not in columns]
            results.append(Submission(student, name, scores, notes))
    _write_csv(Path(out), spec, results, columns)
    return results


def _write_csv(out: Path, spec: dict, results: list[Submission], columns: list[str]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *columns, "score", "out_of", "notes"])
        for entry in spec["students"]:
            mine = [r for r in results if r.student == entry["student"]]
            scores = {k: v for r in mine for k, v in r.scores.items()}
            notes = [f"{r.notebook}: {n}" for r in mine for n in r.notes]
            row = [scores.get(c, "") for c in columns]
            writer.writerow([entry["student"], *row, sum(scores.values()), len(scores), " | ".join(notes)])
