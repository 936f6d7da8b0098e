"""Grade submitted notebooks: run them, read their check cells, write a CSV of scores.

For each student and chapter of an assignment (made by
:func:`companion.classroom.assignments.make_assignments`), :func:`grade`

1. restores the protected cells of the handed-out notebook (the check cells and the seed cell)
   in the submission, by cell id, and notes every one that was edited or deleted;
2. executes the submission with nbclient in a fresh kernel contained by
   :mod:`companion.classroom.sandbox` (limits, its own user, bubblewrap where it runs), cell by
   cell, errors allowed: a cell past its time is interrupted and the next one runs, a kernel that
   dies, runs out of memory or ignores the interrupt is restarted and the cells before it re-run
   without it, all within one time limit for the notebook; submissions run ``jobs`` at a time;
3. reads the :class:`~companion.classroom.exercises.Feedback` each check cell displayed (its
   :data:`~companion.classroom.exercises.FEEDBACK_KEY` in its output's metadata) and scores each
   exercise 1 if every verdict for it is correct and 0 otherwise (also when its check never ran).

A submission that is missing, fails to parse, raises, hangs, kills its kernel or deletes its
checks is scored and reported in the ``notes`` column, naming the exercise; none stops the run.
Grading trusts what a check cell displays, as any notebook grader does: a student who sets out to
forge a check's output can. The checks stop copying (answers depend on each student's seed).
"""

from __future__ import annotations

import contextlib
import copy
import csv
import json
import logging
import multiprocessing
import os
import queue
import re
import socket
import tempfile
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from companion import runtime
from companion.classroom import exercises, sandbox
from companion.classroom import quiz as quizzes
from companion.classroom.assignments import QUIZ_KEY, ROOT, _exercise_start, role
from companion.classroom.exercises import FEEDBACK_KEY
from companion.validation import require_positive, require_positive_int

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "Found",
    "Submission",
    "UnmatchedWarning",
    "block_network",
    "default_jobs",
    "expected_exercises",
    "find_submissions",
    "grade",
    "grade_notebook",
    "grade_with_messages",
    "guard",
    "merge_marks",
    "own_code_guards",
    "points",
    "restore_protected",
    "summary_figure",
    "unguard",
    "write_feedback",
    "where",
]

PROTECTED = ("check", "seed")


class _QuietTimeouts(logging.Filter):
    """Drop asyncio's "Task exception was never retrieved ... queue.Empty": nbclient leaves the
    task that read a timed-out cell's output behind, and its traceback alarms for nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, queue.Empty)


logging.getLogger("asyncio").addFilter(_QuietTimeouts())
#: nbclient's log, which reports each timeout the grader handles and notes itself
_QUIET = logging.getLogger("companion.classroom.grading.nbclient")
_QUIET.setLevel(logging.CRITICAL)
_GUARD = "companion.classroom.grading"
_PREAMBLE = f"import {_GUARD}\n{_GUARD}.block_network()"


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


_GUARDED = contextlib.ExitStack()  # in the grading kernel: what guard() made unavailable


def guard(blocked: dict[str, str]) -> None:
    """Make the companion functions in ``blocked`` (dotted name -> the exercise each would answer)
    unavailable until :func:`unguard` (run inside the kernel, around one of the student's cells)."""
    _GUARDED.enter_context(exercises.unavailable(blocked))


def unguard() -> None:
    """Make every function :func:`guard` blocked available again (run inside the kernel)."""
    _GUARDED.close()


def own_code_guards(
    nb: nbformat.NotebookNode, handout: nbformat.NotebookNode, unavailable: dict[str, list[str]]
) -> dict[int, dict[str, str]]:
    """For each of the student's code cells in ``nb`` (a stub, or a cell that is not one of the
    ``handout``'s), the companion functions that must be unavailable while it runs: those that
    would answer, in one call, an exercise whose check cell comes after it (``unavailable``:
    label -> dotted names, as :data:`~companion.classroom.exercises.UNAVAILABLE` holds them and
    ``assignment.json`` records them). Once an exercise's check has run, they are free again.
    """
    if not unavailable:
        return {}
    given = {_source(cell) for cell in handout.cells if cell.cell_type == "code" and role(cell) != "stub"}
    guards = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or (role(cell) != "stub" and _source(cell) in given):
            continue
        blocked: dict[str, str] = {}
        for later in nb.cells[index + 1 :]:
            label = _key(later)[1] if role(later) == "check" else None
            for name in unavailable.get(label, []) if label else []:
                blocked.setdefault(name, label)
        if blocked:
            guards[index] = blocked
    return guards


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


#: How often a notebook's kernel is restarted after it died or stopped answering.
MAX_RESTARTS = 4
#: Seconds an interrupted cell gets to stop before its kernel counts as stuck and is restarted.
INTERRUPT_GRACE = 10
_TIMEOUT = "GradingTimeout"


def where(nb: nbformat.NotebookNode, index: int) -> str:
    """A cell named as the student knows it: by its exercise (``the check of ex-rnn-step``,
    ``your code for ex-rnn-step``, ``a cell of ex-rnn-step``), with its number."""
    label = None
    for cell in nb.cells[: index + 1]:
        label = _exercise_start(cell) or label
        if role(cell) in ("stub", "check"):
            label = cell.metadata["companion"].get("exercise", label)
    cell = nb.cells[index]
    kind = role(cell)
    number = f"(cell {index})"
    if kind == "check":
        name = cell.metadata["companion"].get("exercise", "")
        name = f"the quiz {name.removeprefix('quiz-')}" if name.startswith("quiz-") else name
        return f"the check of {name} {number}"
    if kind == "stub":
        return f"your code for {cell.metadata['companion'].get('exercise')} {number}"
    if kind == "seed":
        return f"the seed cell {number}"
    return f"a cell of {label} {number}" if label else f"a cell before the exercises {number}"


class _Interrupted(Exception):
    """The kernel must be restarted: it died or ignored an interrupt in cell ``index``."""

    def __init__(self, index: int) -> None:
        self.index = index


def _execute(
    nb: nbformat.NotebookNode,
    *,
    timeout: float,
    cell_timeout: float,
    scratch: Path,
    limits: sandbox.Limits,
    contained: bool,
    hide: tuple[Path, ...] = (),
    guards: dict[int, dict[str, str]] | None = None,
) -> list[str]:
    """Run every code cell of ``nb`` in place in a sandboxed kernel; return notes on what went
    wrong. Never raises for the notebook's own failures.

    A cell past ``cell_timeout`` seconds is interrupted and the next cell runs; a kernel that
    dies (or ignores the interrupt) is restarted, the cells before re-run without the one that
    killed it, and grading goes on after it. ``timeout`` bounds the whole notebook. ``guards``
    maps a cell's index to the companion functions unavailable while it runs (see
    :func:`own_code_guards`).
    """
    uid = sandbox.kernel_uid(contained)
    code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    deadline = time.monotonic() + timeout
    notes: list[str] = []
    skip: set[int] = set()
    start = 0
    for life in range(MAX_RESTARTS + 1):
        replay = [i for i in code[:start] if i not in skip]
        try:
            _life(nb, replay, code[start:], life, notes, deadline, timeout, cell_timeout, scratch,
                  limits, contained, uid, hide, guards or {})  # fmt: skip
            return notes
        except _Interrupted as stop:
            skip.add(stop.index)
            start = code.index(stop.index) + 1 if stop.index in code else start
        if start >= len(code):
            return notes
    last = where(nb, code[start - 1])
    notes.append(f"the kernel was restarted {MAX_RESTARTS} times; the cells after {last} did not run")
    return notes


def _life(
    nb: nbformat.NotebookNode,
    replay: list[int],
    cells: list[int],
    life: int,
    notes: list[str],
    deadline: float,
    timeout: float,
    cell_timeout: float,
    scratch: Path,
    limits: sandbox.Limits,
    contained: bool,
    uid: int | None,
    hide: tuple[Path, ...],
    guards: dict[int, dict[str, str]],
) -> None:
    """One kernel's life: re-run ``replay`` quietly, then run ``cells``; raise
    :class:`_Interrupted` when the kernel has to be restarted."""
    km = sandbox.SandboxedKernelManager.for_scratch(
        scratch, limits, contained, uid, hide, name=f"kernel{life}"
    )
    replies: list[dict] = []
    runtime.poll_kernels_in_slices()  # else a lost wake-up costs a cell its whole timeout
    client = NotebookClient(
        nb,
        km=km,
        timeout=int(cell_timeout),
        allow_errors=True,
        log=_QUIET,
        # nbclient interrupts a cell past its time and stops reading its output (left to itself
        # after a CellTimeoutError, that reader goes on taking the next cells' output)
        interrupt_on_timeout=True,
        error_on_timeout={"ename": _TIMEOUT, "evalue": "stopped by the grader", "traceback": []},
        on_cell_executed=lambda execute_reply, **_: replies.append((execute_reply or {}).get("content", {})),
    )
    log_path = scratch / f"kernel{life}.log"
    with contextlib.ExitStack() as stack:
        log = stack.enter_context(log_path.open("wb"))
        stack.callback(sandbox.end_processes, uid)  # runs last: whatever its user left
        try:
            stack.enter_context(
                client.setup_kernel(
                    env=sandbox.kernel_env(scratch), cwd=str(scratch), stdout=log, stderr=log, cleanup_kc=True
                )
            )
        except Exception as error:  # a kernel that cannot start is the grader's problem, said plainly
            raise RuntimeError(f"the grading kernel did not start ({error}); see {log_path}") from error
        pid = km.provisioner.pid  # the launcher, which became the kernel (or bubblewrap)
        # before the kernel is shut down (the stack unwinds backwards), its children are ended
        stack.callback(sandbox.end_processes, uid, root_pid=pid if uid is None else None)
        if uid is None:  # and, last, everything in its process group
            stack.callback(sandbox.end_group, pid)
        watch = stack.enter_context(sandbox.ProcessWatch(pid, limits.processes)) if uid is None else None
        client.execute_cell(nbformat.v4.new_code_cell(_PREAMBLE), -1)
        for index in replay + cells:
            quiet = index in replay
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                limit = f"the notebook's time limit of {timeout:g} s"
                notes.append(f"{limit} was reached before {where(nb, index)}")
                return
            client.timeout = max(1, int(min(cell_timeout, remaining)))
            guard = guards.get(index)
            try:
                if guard:  # the functions that would answer an exercise still to be checked
                    client.execute_cell(nbformat.v4.new_code_cell(f"{_GUARD}.guard({guard!r})"), -1)
                replies.clear()
                client.execute_cell(nb.cells[index], index)
                if _timed_out(replies):
                    seconds = client.timeout
                    _time_out(nb.cells[index], seconds)
                    if not _answers(client, replies):
                        notes.append(f"{where(nb, index)} was still running after {seconds:g} s and "
                                     "ignored the interrupt: kernel restarted")  # fmt: skip
                        raise _Interrupted(index)
                    notes.append(f"{where(nb, index)} was still running after {seconds:g} s: interrupted")
                    if guard:
                        client.execute_cell(nbformat.v4.new_code_cell(f"{_GUARD}.unguard()"), -1)
                    continue
                if guard:
                    client.execute_cell(nbformat.v4.new_code_cell(f"{_GUARD}.unguard()"), -1)
            except DeadKernelError:
                reason = _death(watch, limits, log_path)
                notes.append(f"the kernel died in {where(nb, index)}{reason}: restarted, the cells "
                             "before it re-run")  # fmt: skip
                raise _Interrupted(index) from None
            finally:
                left = sandbox.end_processes(uid, keep=True, root_pid=pid if uid is None else None)
                if left and not quiet and not (watch and watch.tripped):
                    notes.append(f"{where(nb, index)} left {left} processes running (ended)")
            errors = [o for o in nb.cells[index].get("outputs", []) if o.output_type == "error"]
            if any(o.ename == "MemoryError" for o in errors):  # what it holds starves every cell after
                memory = f"{limits.memory / sandbox.GiB:g} GiB"
                notes.append(f"{where(nb, index)} ran out of memory (the limit is {memory}): kernel "
                             "restarted, the cells before it re-run")  # fmt: skip
                raise _Interrupted(index)
            if not quiet:
                for output in errors:
                    notes.append(f"{where(nb, index)} raised {output.ename}: {output.evalue}"[:200])


def _time_out(cell: nbformat.NotebookNode, seconds: float) -> None:
    """Show in the executed notebook that the cell was stopped."""
    cell.setdefault("outputs", []).append(
        nbformat.v4.new_output(
            "error", ename="TimeoutError", evalue=f"stopped by the grader after {seconds:g} s", traceback=[]
        )
    )


def _timed_out(replies: list[dict]) -> bool:
    return any(reply.get("ename") == _TIMEOUT for reply in replies)


def _answers(client: NotebookClient, replies: list[dict]) -> bool:
    """Whether the interrupted kernel runs a cell again within :data:`INTERRUPT_GRACE` seconds."""
    client.timeout = INTERRUPT_GRACE
    replies.clear()
    try:
        client.execute_cell(nbformat.v4.new_code_cell("pass"), -1)
    except (CellTimeoutError, DeadKernelError):
        return False
    return not _timed_out(replies)


def _death(watch: sandbox.ProcessWatch | None, limits: sandbox.Limits, log_path: Path) -> str:
    """Why the kernel died, as far as the grader can tell."""
    if watch is not None and watch.tripped:
        return f" (it started more than {limits.processes} processes)"
    try:
        lines = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        lines = []
    last = lines[-1].strip() if lines else ""
    if "MemoryError" in last or "Cannot allocate memory" in last:
        return f" (out of memory: the limit is {limits.memory / sandbox.GiB:g} GiB)"
    return f" ({last[:120]})" if last else ""


def _verdicts(nb: nbformat.NotebookNode) -> dict[str, list[bool]]:
    """Every verdict the check cells displayed, by exercise."""
    return {label: [correct for correct, _ in records] for label, records in _records(nb).items()}


def _records(
    nb: nbformat.NotebookNode, quiz_key: dict[str, dict[str, dict]] | None = None
) -> dict[str, list[tuple[bool, str]]]:
    """Every (verdict, message) the check cells displayed, by exercise. A graded quiz's answers,
    recorded without a verdict (:func:`companion.classroom.quiz.record`), are marked here with
    ``quiz_key`` (chapter -> question id -> key entry, from the assignment's ``quiz_key.json``)."""
    records: dict[str, list[tuple[bool, str]]] = {}
    for cell in nb.cells:
        if role(cell) != "check":
            continue
        for output in cell.get("outputs", []):
            payload = output.get("metadata", {}).get(FEEDBACK_KEY)
            found = payload if isinstance(payload, list) else [payload] if payload else []
            for record in found:
                if not isinstance(record, dict) or not isinstance(record.get("exercise"), str):
                    continue
                if record.get("correct") is None and "response" in record:
                    entry = _mark(record["exercise"], record["response"], quiz_key or {})
                else:
                    entry = (record.get("correct") is True, str(record.get("message", "")))
                records.setdefault(record["exercise"], []).append(entry)
    return records


def _mark(label: str, response: Any, quiz_key: dict[str, dict[str, dict]]) -> tuple[bool, str]:
    """A recorded quiz answer's verdict and message, from the instructor's key."""
    chapter, _, question = label.removeprefix("quiz-").partition("-")
    entry = quiz_key.get(chapter, {}).get(question)
    if entry is None:
        return False, f"not marked: {QUIZ_KEY} has no answer for this question"
    if response is None:
        return False, "not answered"
    try:
        return (True, "right") if quizzes.mark(entry, response) else (False, "not right yet")
    except ValueError:
        return False, f"not marked: the entry in {QUIZ_KEY} is malformed"


@dataclass
class Submission:
    """One student's graded notebook: a score per exercise, and notes on what went wrong."""

    student: str
    notebook: str
    scores: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    file: str | None = None  # the file graded, relative to the submissions folder
    found_by: str | None = None  # "metadata" or "names"
    messages: dict[str, str] = field(default_factory=dict)  # what each exercise's check said


@dataclass
class Found:
    """What :func:`find_submissions` made of a folder of submissions.

    ``files`` maps (student, notebook) to the file graded and how it was recognised
    (``"metadata"`` or ``"names"``); ``duplicates`` the other files for the same notebook;
    ``unmatched`` every file that matched no (student, notebook), with the reason.
    """

    files: dict[tuple[str, str], tuple[Path, str]] = field(default_factory=dict)
    duplicates: dict[tuple[str, str], list[Path]] = field(default_factory=dict)
    unmatched: list[tuple[Path, str]] = field(default_factory=list)


def _plain(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _by_names(relative: str, candidates: dict[str, list[str]]) -> list[str]:
    """The candidates (key: its spellings) whose spelling occurs in ``relative``, a path."""
    plain = _plain(relative)
    found = []
    for key, spellings in candidates.items():
        for spelling in spellings:
            if len(spelling) >= 4 and spelling in plain:
                found.append(key)
                break
            if re.search(rf"(?<![a-z0-9]){re.escape(spelling)}(?![a-z0-9])", relative.lower()):
                found.append(key)
                break
    return found


def _spellings(student: str) -> list[str]:
    """A roster id as an LMS may write it: ``ada.lovelace``, ``Ada Lovelace``, ``lovelaceada``."""
    parts = [p for p in re.split(r"[._-]", student.lower()) if p]
    return list(dict.fromkeys([student.lower(), "".join(parts), "".join(reversed(parts))]))


def find_submissions(spec: dict[str, Any], folder: Path) -> Found:
    """Match every notebook under ``folder`` (any layout: ``<student>/<notebook>``, nested, an
    LMS bulk download) to a student and notebook of the assignment ``spec``.

    A notebook is recognised by the metadata :func:`~companion.classroom.assignments.make_assignments`
    wrote into it (``companion``: ``assignment``, ``chapter``, ``student``), else by names: a
    roster id (or ``First Last``, ``lastfirst``) in its path and a chapter's file name in its file
    name (``06_probability_exercise (1).ipynb`` is chapter 06). Of several files for one notebook,
    the one recognised by metadata, then the newest, is graded; the others are ``duplicates``.
    """
    students = [entry["student"] for entry in spec["students"]]
    chapters = {Path(name).stem: name for name in spec["chapters"]}
    spellings = {s: _spellings(s) for s in students}
    chapter_names = {stem: [_plain(stem)] for stem in chapters}
    found = Found()
    candidates: dict[tuple[str, str], list[tuple[int, float, Path, str]]] = {}
    for path in sorted(folder.rglob("*.ipynb")):
        relative = path.relative_to(folder)
        if any(part.startswith((".", "__MACOSX")) for part in relative.parts) or not path.is_file():
            continue
        try:
            meta = nbformat.read(path, as_version=4).metadata.get("companion", {})
        except Exception:  # an unreadable file may still be someone's submission: graded as such
            meta = {}
        meta = meta if isinstance(meta, dict) else {}
        if meta.get("assignment") not in (None, spec.get("assignment")):
            found.unmatched.append((relative, f"it is from assignment {meta['assignment']!r}"))
            continue
        student = meta.get("student") if meta.get("student") in students else None
        chapter = meta.get("chapter") if meta.get("chapter") in chapters else None
        how = "metadata" if student and chapter else "names"
        if student is None:
            named = _by_names(str(relative), spellings)
            if len(named) > 1:
                found.unmatched.append((relative, f"its path names several students: {', '.join(named)}"))
                continue
            student = named[0] if named else None
        if chapter is None:
            named = _by_names(path.name, chapter_names)
            chapter = named[0] if len(named) == 1 else None
        if student is None or chapter is None:
            missing = "a student of the roster" if student is None else "a notebook of the assignment"
            found.unmatched.append((relative, f"neither its metadata nor its name says {missing}"))
            continue
        rank = 0 if how == "metadata" else 1
        key = (student, chapters[chapter])
        candidates.setdefault(key, []).append((rank, -path.stat().st_mtime, relative, how))
    for key, options in candidates.items():
        options.sort()
        found.files[key] = (folder / options[0][2], options[0][3])
        if len(options) > 1:
            found.duplicates[key] = [folder / option[2] for option in options[1:]]
    return found


def grade_notebook(
    path: Path | None,
    handout: nbformat.NotebookNode,
    **options: Any,
) -> tuple[dict[str, int], list[str]]:
    """Grade one submission (``path``; ``None`` if missing) against its ``handout``.

    Returns the score of every expected exercise (1 or 0) and notes. The options are those of
    :func:`grade_with_messages`.
    """
    scores, notes, _ = grade_with_messages(path, handout, **options)
    return scores, notes


def grade_with_messages(
    path: Path | None,
    handout: nbformat.NotebookNode,
    *,
    timeout: float = 600,
    cell_timeout: float = 120,
    limits: sandbox.Limits | None = None,
    contained: bool | None = None,
    hide: tuple[Path, ...] = (),
    executed: Path | None = None,
    unavailable: dict[str, list[str]] | None = None,
    quiz_key: dict[str, dict[str, dict]] | None = None,
) -> tuple[dict[str, int], list[str], dict[str, str]]:
    """Grade one submission (``path``; ``None`` if missing) against its ``handout``.

    Returns the score of every expected exercise (1 or 0), notes, and what each exercise's check
    said (``Correct: ...`` or ``Not yet: <hint>``). The submission runs in a
    sandboxed kernel (:mod:`companion.classroom.sandbox`) with ``limits`` (default
    :class:`~companion.classroom.sandbox.Limits`), each cell within ``cell_timeout`` seconds and the
    notebook within ``timeout``; ``contained`` is whether bubblewrap is used (default: find out,
    and warn if not); ``hide`` are folders the kernel must not see. ``executed``, if given, is
    where the executed notebook is written for the instructor to read. ``unavailable`` (label ->
    dotted names of companion functions) lists what the student's cells may not call before
    that exercise's check (:func:`own_code_guards`); ``quiz_key`` (chapter -> question id ->
    answer) marks a graded quiz's recorded answers.
    """
    limits = sandbox.Limits() if limits is None else limits
    if contained is None:
        contained = sandbox.warn_if_uncontained(limits)
    expected = expected_exercises(handout)
    zero = dict.fromkeys(expected, 0)
    if path is None:
        return zero, ["no submission"], {}
    try:
        submission = nbformat.read(path, as_version=4)
    except Exception as error:  # an unreadable file is a result to report, not a crash
        return zero, [f"could not read the notebook: {type(error).__name__}: {error}"[:200]], {}
    nb, notes = restore_protected(submission, handout)
    with tempfile.TemporaryDirectory(prefix="grading-") as workdir:
        notes += _execute(
            nb,
            timeout=timeout,
            cell_timeout=cell_timeout,
            scratch=Path(workdir),
            limits=limits,
            contained=contained,
            hide=hide,
            guards=own_code_guards(nb, handout, unavailable or {}),
        )
    if executed is not None:
        executed.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, executed)
    records = _records(nb, quiz_key)
    passed = {label: bool(records.get(label)) and all(ok for ok, _ in records[label]) for label in expected}
    scores = {label: int(ok) for label, ok in passed.items()}
    never = [label for label in expected if label not in records and not label.startswith("quiz-")]
    if never:
        notes.append(f"checks that never ran: {', '.join(never)}")
    messages = {}
    for label in expected:
        said = records.get(label, [])
        wrong = [message for ok, message in said if not ok]
        if not said:
            messages[label] = "Not yet: the check did not run (see the notes)"
        else:
            messages[label] = f"Not yet: {wrong[0]}" if wrong else f"Correct: {said[0][1]}"
    return scores, notes, messages


def _grade_task(task: dict[str, Any]) -> Submission:
    """Grade one (student, notebook): what a worker of the parallel grader runs."""
    handout = nbformat.read(task["handout"], as_version=4)
    scores, notes, messages = grade_with_messages(
        Path(task["path"]) if task["path"] else None,
        handout,
        timeout=task["timeout"],
        cell_timeout=task["cell_timeout"],
        limits=task["limits"],
        contained=task["contained"],
        hide=task["hide"],
        executed=Path(task["executed"]) if task["executed"] else None,
        unavailable=task["unavailable"],
        quiz_key=task["quiz_key"],
    )
    relative = str(Path(task["path"]).relative_to(task["folder"])) if task["path"] else None
    if task["duplicates"]:
        count, others = len(task["duplicates"]) + 1, ", ".join(task["duplicates"])
        notes.insert(0, f"{count} files for this notebook: graded {relative}, not {others}")
    return Submission(task["student"], task["notebook"], scores, notes, relative, task["how"], messages)


def default_jobs() -> int:
    """The number of cores this process may use: ``grade``'s default for ``jobs``."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def grade(
    assignment: Path | str,
    submissions: Path | str,
    out: Path | str,
    *,
    timeout: float = 600,
    cell_timeout: float = 120,
    jobs: int | None = None,
    limits: sandbox.Limits | None = None,
    executed: Path | str | None = None,
    progress: Callable[[str], None] | None = None,
    report: Callable[[str], None] | None = None,
    feedback: Path | str | None = None,
) -> list[Submission]:
    """Grade the notebooks in folder ``submissions`` (any layout: see :func:`find_submissions`)
    for the assignment in folder ``assignment`` (with its ``assignment.json`` and handed-out
    notebooks); write ``out``. Every file that matches no student and notebook is passed to
    ``report`` (default: a warning); a student without a submission scores 0 with the note
    ``no submission``; duplicates are noted.

    ``out`` is a CSV with one row per student: ``student``, one column per exercise (labels in
    book order; a chapter's quiz questions as ``quiz-<chapter>-<id>``), ``score``, ``out_of``
    and ``notes``. ``cell_timeout`` is the limit per cell and ``timeout`` per notebook, in
    seconds; ``jobs`` how many submissions run at once (default :func:`default_jobs`);
    ``limits`` what each kernel may use (:class:`~companion.classroom.sandbox.Limits`);
    ``executed`` a folder for the executed submissions; ``feedback`` a folder for a feedback
    file per student and a class summary (:func:`write_feedback`). Returns the per-notebook
    results.
    """
    assignment, submissions = Path(assignment), Path(submissions)
    spec_path = assignment / "assignment.json"
    if not spec_path.is_file():
        raise ValueError(
            f"assignment must be a folder made by make_assignments, with assignment.json: {assignment}"
        )
    if not submissions.is_dir():
        raise ValueError(f"submissions must be a folder of notebooks, got {submissions}")
    timeout = require_positive("timeout", timeout)
    cell_timeout = require_positive("cell_timeout", cell_timeout)
    jobs = default_jobs() if jobs is None else require_positive_int("jobs", jobs)
    limits = sandbox.Limits() if limits is None else limits
    if not isinstance(limits, sandbox.Limits):
        raise TypeError(f"limits must be a companion.classroom.sandbox.Limits, got {type(limits).__name__}")
    contained = sandbox.warn_if_uncontained(limits)
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    hide = tuple(
        p.resolve()
        for p in (ROOT / "book", assignment, submissions, Path(out).parent, Path(executed or assignment))
    )
    key_path = assignment / QUIZ_KEY
    quiz_key = json.loads(key_path.read_text(encoding="utf-8")) if key_path.is_file() else {}
    found = find_submissions(spec, submissions)
    for relative, why in found.unmatched:
        (report or _warn)(f"not graded: {relative} ({why})")
    tasks = []
    for entry in spec["students"]:
        student = entry["student"]
        for name in spec["chapters"]:
            path, how = found.files.get((student, name), (None, None))
            duplicates = found.duplicates.get((student, name), [])
            tasks.append(
                {
                    "student": student,
                    "notebook": name,
                    "path": str(path) if path else None,
                    "how": how,
                    "duplicates": [str(p.relative_to(submissions)) for p in duplicates],
                    "folder": str(submissions),
                    "handout": str(assignment / student / name),
                    "executed": str(Path(executed) / student / name) if executed else None,
                    "timeout": timeout,
                    "cell_timeout": cell_timeout,
                    "limits": limits,
                    "contained": contained,
                    "hide": hide,
                    "unavailable": spec.get("unavailable", {}),
                    "quiz_key": quiz_key.get(student, {}),
                }
            )
    results = list(_run_tasks(tasks, jobs, progress))
    order = {(t["student"], t["notebook"]): n for n, t in enumerate(tasks)}
    results.sort(key=lambda r: order[r.student, r.notebook])
    columns: list[str] = []
    for result in results:
        columns += [c for c in result.scores if c not in columns]
    _write_csv(Path(out), spec, results, columns)
    if feedback is not None:
        write_feedback(feedback, spec, results)
    return results


class UnmatchedWarning(UserWarning):
    """A file in the submissions folder that the grader could not match."""


def _warn(message: str) -> None:
    warnings.warn(message, UnmatchedWarning, stacklevel=3)


def _run_tasks(tasks: list[dict], jobs: int, progress: Callable[[str], None] | None):
    """Each task's :class:`Submission`, in the order they finish; ``jobs`` at a time."""
    if jobs == 1 or len(tasks) <= 1:
        for task in tasks:
            if progress:
                progress(f"{task['student']}: {task['notebook']}")
            yield _grade_task(task)
        return
    context = multiprocessing.get_context("spawn")  # no fork of a process that has threads
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=context) as pool:
        futures = {pool.submit(_grade_task, task): task for task in tasks}
        for future in as_completed(futures):
            task = futures[future]
            if progress:
                progress(f"{task['student']}: {task['notebook']} (done)")
            yield future.result()


def write_feedback(folder: Path | str, spec: dict[str, Any], results: list[Submission]) -> Path:
    """Write ``folder/<student>.md`` for every student (each notebook's exercises, their marks
    and what the check said; for a quiz, which questions were right) and ``folder/summary.md``
    (per exercise: the mean mark, the distribution of marks, how many got full marks, the most
    common hints) with its figure ``folder/summary.png`` (:func:`summary_figure`). Returns
    ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    title = spec.get("assignment") or "the assignment"
    for entry in spec["students"]:
        student = entry["student"]
        mine = [r for r in results if r.student == student]
        total = sum(v * points(spec, k) for r in mine for k, v in r.scores.items())
        out_of = sum(points(spec, k) for r in mine for k in r.scores)
        hand = spec.get("hand", {})
        later = f" Exercises graded by hand, to come: {', '.join(hand)}." if hand else ""
        lines = [f"# Feedback for {student}: {title}", "", f"**{total} of {out_of} points.**{later}", ""]
        for r in mine:
            earned = sum(v * points(spec, k) for k, v in r.scores.items())
            lines += [f"## {r.notebook}: {earned} of {sum(points(spec, k) for k in r.scores)}", ""]
            exercises = [label for label in r.scores if not label.startswith("quiz-")]
            if exercises:
                lines += ["| Exercise | Mark | What the check said |", "| --- | --- | --- |"]
                for label in exercises:
                    said = r.messages.get(label, "").replace("|", "\\|").replace("\n", " ")
                    mark = f"{r.scores[label] * points(spec, label)} of {points(spec, label)}"
                    lines.append(f"| `{label}` | {mark} | {said} |")
                lines.append("")
            quiz = [label for label in r.scores if label.startswith("quiz-")]
            if quiz:
                by = {"right": [], "not right yet": [], "not answered": []}
                for label in quiz:
                    said = r.messages.get(label, "").split(": ", 1)[-1]
                    by.setdefault(said, []).append(_question(label))
                parts = [f"{kind}: {', '.join(ids)}" for kind, ids in by.items() if ids]
                lines += [f"Quiz ({sum(r.scores[q] for q in quiz)} of {len(quiz)}): " + "; ".join(parts), ""]
            if r.notes:
                lines += ["Notes:", "", *[f"- {note}" for note in r.notes], ""]
        (folder / f"{student}.md").write_text("\n".join(lines), encoding="utf-8")
    summary_figure(spec, results).savefig(folder / "summary.png")
    (folder / "summary.md").write_text(_summary(spec, results, "summary.png"), encoding="utf-8")
    return folder


def _question(label: str) -> str:
    """``quiz-06_probability_exercise-q3`` -> ``q3``: the question's id within its quiz."""
    chapter = next((c for c in _CHAPTER.findall(label)), "")
    return label.removeprefix(f"quiz-{chapter}-") if chapter else label


_CHAPTER = re.compile(r"^quiz-(\d\d_[a-z0-9_]+)-")


def _totals(spec: dict[str, Any], results: list[Submission]) -> dict[str, int]:
    """Every student's points (hand marks aside)."""
    per_student: dict[str, int] = {e["student"]: 0 for e in spec["students"]}
    for r in results:
        per_student[r.student] += sum(v * points(spec, k) for k, v in r.scores.items())
    return per_student


def _marks(spec: dict[str, Any], results: list[Submission]) -> dict[str, list[int]]:
    """Every exercise's marks, one per student, in book order."""
    labels = list(dict.fromkeys(label for r in results for label in r.scores))
    return {
        label: [r.scores[label] * points(spec, label) for r in results if label in r.scores]
        for label in labels
    }


def _summary(spec: dict[str, Any], results: list[Submission], figure: str | None = None) -> str:
    """The class summary: per exercise the mean mark, the distribution of marks, how many got
    full marks and the most common hints; ``figure`` is the file name of :func:`summary_figure`."""
    students = len(spec["students"])
    lines = [f"# Class summary: {spec.get('assignment') or 'the assignment'}", ""]
    totals = sorted(_totals(spec, results).values())
    out_of = sum(points(spec, k) for r in results for k in r.scores) // max(1, students)
    submitted = len({r.student for r in results if r.file is not None})
    lines += [f"{submitted} of {students} students submitted. Points out of {out_of}: "
              f"median {totals[len(totals) // 2] if totals else 0}, lowest {totals[0] if totals else 0}, "
              f"highest {totals[-1] if totals else 0}.", ""]  # fmt: skip
    if figure:
        lines += [f"![Left, how many students scored each total out of {out_of} points; right, the share "
                  f"of students with full marks on each exercise.]({figure})", ""]  # fmt: skip
    lines += [
        "| Exercise | Points | Mean | Marks (points: students) | Full marks | Most common hints |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for label, marks in _marks(spec, results).items():
        hints: dict[str, int] = {}
        for r in results:
            said = r.messages.get(label, "")
            if said.startswith("Not yet: ") and r.file is not None:
                hints[said.removeprefix("Not yet: ")] = hints.get(said.removeprefix("Not yet: "), 0) + 1
        common = sorted(hints.items(), key=lambda item: -item[1])[:2]
        text = "; ".join(f"{hint} ({count})" for hint, count in common).replace("|", "\\|").replace("\n", " ")
        mean = sum(marks) / len(marks) if marks else 0
        full = sum(m == points(spec, label) for m in marks)
        spread = ", ".join(f"{m}: {marks.count(m)}" for m in sorted(set(marks)))
        lines.append(
            f"| `{label}` | {points(spec, label)} | {mean:.2f} | {spread} | {full} of {len(marks)} | {text} |"
        )
    return "\n".join(lines) + "\n"


def summary_figure(spec: dict[str, Any], results: list[Submission]) -> Figure:
    """The class summary's figure: a histogram of the students' points (left) and each
    exercise's share of students with full marks (right; quiz questions as one bar per chapter)."""
    from matplotlib.figure import Figure as MplFigure  # not pyplot: no backend, no display needed

    from companion.plotting import COLORS, style_context

    totals = list(_totals(spec, results).values())
    out_of = sum(points(spec, k) for r in results for k in r.scores) // max(1, len(spec["students"]))
    shares: dict[str, list[float]] = {}
    for label, marks in _marks(spec, results).items():
        name = f"quiz {label.split('-')[1][:2]}" if label.startswith("quiz-") else label
        shares.setdefault(name, []).extend(m == points(spec, label) for m in marks)
    with style_context():
        fig = MplFigure(figsize=(9.6, max(3.2, 0.28 * len(shares) + 1.2)), layout="constrained")
        left, right = fig.subplots(1, 2, width_ratios=(1, 1.3))
        left.hist(
            totals, bins=range(0, max(out_of, 1) + 2), color=COLORS["standard"], align="left", rwidth=0.9
        )
        left.set(xlabel=f"points (out of {out_of})", ylabel="students", title="Points per student")
        names = list(shares)[::-1]
        right.barh(names, [sum(shares[n]) / len(shares[n]) for n in names], color=COLORS["gru"])
        right.set(xlim=(0, 1), xlabel="share with full marks", title="Full marks per exercise")
        right.tick_params(axis="y", labelsize=8)
    return fig


def points(spec: dict[str, Any], label: str) -> int:
    """What ``label`` is worth in the assignment ``spec`` (1 in one made before points existed)."""
    return int(spec.get("points", {}).get(label, 1))


HAND = "hand:"  # the prefix of a hand-graded exercise's column


def _write_csv(out: Path, spec: dict, results: list[Submission], columns: list[str]) -> None:
    """One row per student: points per exercise, an empty ``hand:<label>`` column per exercise
    graded by hand (see :func:`merge_marks`), ``score``, ``out_of`` and ``notes``."""
    hand = spec.get("hand", {})
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *columns, *(HAND + label for label in hand), "score", "out_of", "notes"])
        for entry in spec["students"]:
            mine = [r for r in results if r.student == entry["student"]]
            scores = {k: v * points(spec, k) for r in mine for k, v in r.scores.items()}
            possible = sum(points(spec, k) for r in mine for k in r.scores) + sum(hand.values())
            notes = [f"{r.notebook}: {n}" for r in mine for n in r.notes]
            row = [scores.get(c, "") for c in columns]
            writer.writerow(
                [entry["student"], *row, *[""] * len(hand), sum(scores.values()), possible, " | ".join(notes)]
            )


def merge_marks(
    assignment: Path | str, grades: Path | str, marks: Path | str, out: Path | str
) -> dict[str, float]:
    """Add hand marks to a grades CSV written by :func:`grade`; write ``out``.

    ``marks`` is a CSV with a ``student`` column and a column per hand-graded exercise, named
    ``hand:<label>`` or ``<label>`` (the grades CSV itself, filled in, will do). A mark must lie
    between 0 and the exercise's points; an empty one stays missing, and the student's notes
    say which are still missing. Returns every student's new score.
    """
    spec_path = Path(assignment) / "assignment.json"
    if not spec_path.is_file():
        raise ValueError(f"assignment must be a folder made by make_assignments: {assignment}")
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    hand = spec.get("hand", {})
    with Path(grades).open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header, rows = list(reader.fieldnames or []), list(reader)
    if "student" not in header or "score" not in header:
        raise ValueError(f"grades must be a CSV written by grade, with 'student' and 'score': {grades}")
    by_student = {row["student"]: row for row in rows}
    with Path(marks).open(newline="", encoding="utf-8") as f:
        marked = list(csv.DictReader(f))
    for line, row in enumerate(marked, 2):
        student = (row.get("student") or "").strip()
        if student not in by_student:
            raise ValueError(f"{marks}, line {line}: student {student!r} is not in {grades}")
        for label, most in hand.items():
            text = (row.get(HAND + label) or row.get(label) or "").strip()
            if not text:
                continue
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"{marks}, line {line}: {label} must be a number, got {text!r}") from None
            if not 0 <= value <= most:
                raise ValueError(f"{marks}, line {line}: {label} must lie in [0, {most}], got {value:g}")
            by_student[student][HAND + label] = f"{value:g}"
    exercise_columns = [c for c in header if c not in ("student", "score", "out_of", "notes")]
    totals = {}
    for row in rows:
        total = sum(float(row[c]) for c in exercise_columns if (row.get(c) or "").strip())
        row["score"] = f"{total:g}"
        totals[row["student"]] = total
        notes = [n for n in (row.get("notes") or "").split(" | ") if n and not n.startswith("hand marks")]
        missing = [label for label in hand if not (row.get(HAND + label) or "").strip()]
        if missing:
            notes.append(f"hand marks to add: {', '.join(missing)}")
        row["notes"] = " | ".join(notes)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with Path(out).open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return totals
