"""Student notebooks from the chapters: solutions out, stubs in, a seed per student.

The chapters are the instructor's edition: every exercise is followed by its solution. A
chapter's exercises follow one cell layout (see ``CONTRIBUTING.md``), which this module relies on:

* an exercise starts a Markdown cell with an ``{exercise}`` or ``{exercise-start}`` directive;
* a coding exercise has a *stub* cell (metadata ``companion.role == "stub"``, hidden in the
  book), its solution between ``{solution-start}`` and ``{solution-end}``, then a *check* cell
  (``companion.role == "check"``) whose output is a :class:`~companion.classroom.exercises.Feedback`;
* chapter 6's parameters come from a *seed* cell (``companion.role == "seed"``);
* a chapter's quiz is a *quiz* cell (``companion.role == "quiz"``) calling
  :func:`companion.classroom.quiz.show`.

:func:`student_notebook` removes every solution (gated regions, whole cells inside them, and
``{solution}`` blocks), shows the stubs and clears outputs; it can keep only some exercises, set
a student's seed, and turn the quiz into a graded one. :func:`make_assignments` writes one
notebook per student and chapter from a roster; :func:`student_edition` builds the student
website from stripped sources. The command line is :mod:`companion.classroom.instructor`.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml

from companion.classroom import handouts
from companion.classroom import quiz as quizzes
from companion.validation import require_seed

__all__ = [
    "QUIZ_KEY",
    "ROOT",
    "Student",
    "chapter_path",
    "exercise_labels",
    "fill_with_solutions",
    "make_assignments",
    "read_roster",
    "role",
    "solution_text",
    "strip_solution_text",
    "student_edition",
    "student_notebook",
]

#: The course's root folder (where ``_config.yml`` is), when the companion is installed from it.
ROOT = Path(__file__).resolve().parents[2]
QUIZ_MODES = ("self-test", "graded", "none")
#: The file in an assignment's folder that holds every student's graded-quiz answers.
QUIZ_KEY = "quiz_key.json"
#: Default points. A coding exercise (its check runs the student's code on cases of its own) is
#: worth three quiz questions; a pen-and-paper or open exercise, graded by hand, two.
POINTS = {"check": 3, "hand": 2, "quiz": 1}

_FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[a-z-]+)\}\s*(?P<arg>\S*)")
_SEED = re.compile(r"seed=\d+")
_DROPDOWN = re.compile(r"[;,]\s*in the online book,? decide first, then open the dropdown\.")
_NO_DROPDOWN = "; in this edition of the book the questions come without their answers."
_STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def role(cell: nbformat.NotebookNode) -> str | None:
    """A cell's role in an exercise: ``stub``, ``check``, ``seed``, ``quiz`` or ``None``."""
    return cell.get("metadata", {}).get("companion", {}).get("role")


def _label(cell: nbformat.NotebookNode) -> str | None:
    return cell.get("metadata", {}).get("companion", {}).get("exercise")


def chapter_path(chapter: str, root: Path = ROOT) -> Path:
    """``book/<chapter>.ipynb`` for a stem (``06_probability_exercise``) or its number (``06``
    or ``6``)."""
    if isinstance(chapter, str) and chapter.isdigit():
        chapter = f"{int(chapter):02d}_"
    matches = sorted((root / "book").glob(f"{chapter}*.ipynb")) if isinstance(chapter, str) else []
    if len(matches) != 1:
        names = sorted(p.stem for p in (root / "book").glob("[0-9][0-9]_*.ipynb"))
        raise ValueError(f"chapter must name one of {names} (or its number), got {chapter!r}")
    return matches[0]


# --- Finding and removing solutions --------------------------------------------------------------


def _blocks(lines: list[str], state: dict) -> list[tuple[bool, str]]:
    """Tag each line of a Markdown cell as solution (True) or not, carrying ``state`` across cells.

    ``state["gated"]`` is True between a ``{solution-start}`` and its ``{solution-end}``;
    ``state["close"]`` is the fence that closes the directive being read, if any.
    """
    tagged = []
    for line in lines:
        stripped = line.strip()
        if state.get("close"):  # inside a directive's fence: a solution's lines are solution
            tagged.append((state["in_solution"] or bool(state.get("gated")), line))
            if stripped == state["close"]:
                state["close"] = None
                if state.pop("end", False):
                    state["gated"] = False
            continue
        match = _FENCE.match(stripped)
        name = match["name"] if match else None
        if name in ("solution", "solution-start", "solution-end"):
            state.update(close=match["fence"], in_solution=True)
            state["gated"] = state.get("gated") or name == "solution-start"
            state["end"] = name == "solution-end"
            tagged.append((True, line))
            continue
        if match and not state.get("gated"):
            state.update(close=match["fence"], in_solution=False)
        tagged.append((bool(state.get("gated")), line))
    return tagged


def strip_solution_text(cells: Iterable[nbformat.NotebookNode]) -> list[nbformat.NotebookNode]:
    """The cells without solutions: gated regions (whole cells and partial Markdown) and
    ``{solution}`` blocks removed; cells left empty are dropped. Inputs are not modified."""
    state: dict = {}
    kept = []
    for cell in cells:
        if cell.cell_type != "markdown":
            if not state.get("gated"):
                kept.append(copy.deepcopy(cell))
            continue
        text = "\n".join(line for solution, line in _blocks(cell.source.split("\n"), state) if not solution)
        text = re.sub(r"\n{3,}", "\n\n", text).strip()
        if text:
            new = copy.deepcopy(cell)
            new.source = text
            kept.append(new)
    if state.get("gated") or state.get("close"):
        raise ValueError("the notebook has a solution-start without its solution-end (or an unclosed fence)")
    return kept


def solution_text(cells: Iterable[nbformat.NotebookNode]) -> list[str]:
    """Every solution's text, one string per Markdown or code fragment (for leak tests)."""
    state: dict = {}
    pieces = []
    for cell in cells:
        if cell.cell_type != "markdown":
            if state.get("gated"):
                pieces.append(cell.source)
            continue
        tagged = _blocks(cell.source.split("\n"), state)
        pieces.append("\n".join(line for solution, line in tagged if solution))
    return [p for p in pieces if p.strip()]


def fill_with_solutions(student: nbformat.NotebookNode, instructor: nbformat.NotebookNode) -> None:
    """Replace each stub in ``student`` by the solution code of its exercise in ``instructor``
    (the code cells of its gated solution, joined): a submission that should pass every check."""
    code: dict[str, list[str]] = {}
    label, state = None, {}
    for cell in instructor.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"\{solution-start\}\s*(\S+)", cell.source)
            label = match[1] if match else label
            _blocks(cell.source.split("\n"), state)
        elif state.get("gated") and label:
            code.setdefault(label, []).append(cell.source)
    for cell in student.cells:
        if role(cell) == "stub" and _label(cell) in code:
            cell.source = "\n\n".join(code[_label(cell)])


# --- Exercises and their regions -----------------------------------------------------------------


def _exercise_start(cell: nbformat.NotebookNode) -> str | None:
    """The label of the exercise this Markdown cell starts, if it starts one (a plain-Markdown
    handout's exercise cell says so in its metadata: see :mod:`companion.classroom.handouts`)."""
    if cell.cell_type != "markdown":
        return None
    meta = cell.get("metadata", {}).get("companion", {})
    if meta.get("role") == "exercise":
        return meta.get("exercise")
    first = cell.source.lstrip().split("\n", 1)
    match = _FENCE.match(first[0]) if first else None
    if not match or match["name"] not in ("exercise", "exercise-start"):
        return None
    label = re.search(r"^:label:\s*(\S+)", cell.source, flags=re.M)
    return label[1] if label else None


def exercise_labels(nb: nbformat.NotebookNode) -> list[str]:
    """The labels of a notebook's exercises, in order."""
    return [label for cell in nb.cells if (label := _exercise_start(cell))]


def _select(cells: list[nbformat.NotebookNode], keep: set[str]) -> list[nbformat.NotebookNode]:
    """Drop the exercises not in ``keep``: from an exercise's first cell to the next exercise,
    heading or quiz cell."""
    kept, dropping = [], False
    for cell in cells:
        label = _exercise_start(cell)
        if label:
            dropping = label not in keep
        elif role(cell) == "quiz" or (cell.cell_type == "markdown" and cell.source.lstrip().startswith("#")):
            dropping = False
        if not dropping:
            kept.append(cell)
    return kept


def _answer_cells(cells: list[nbformat.NotebookNode], hand: set[str]) -> list[nbformat.NotebookNode]:
    """Give each exercise of ``hand`` (graded by hand) an answer cell at the end of its region
    (before the next exercise, heading or quiz cell), for the student to write in."""
    out: list[nbformat.NotebookNode] = []
    current = None

    def close() -> None:
        if current in hand:
            cell = nbformat.v4.new_markdown_cell(f"**Your answer to `{current}`** (graded by hand):\n\n")
            cell.metadata["companion"] = {"role": "answer", "exercise": current}
            cell.id = f"answer-{current}"[:64]
            out.append(cell)

    for cell in cells:
        label = _exercise_start(cell)
        if (
            label
            or role(cell) == "quiz"
            or (cell.cell_type == "markdown" and cell.source.lstrip().startswith("#"))
        ):
            close()
            current = label
        out.append(cell)
    close()
    return out


def _quiz_stem(cell: nbformat.NotebookNode) -> str:
    """The chapter a quiz cell shows: the stem in its ``quiz.show("...")``."""
    return re.search(r"show\(\s*['\"]([^'\"]+)['\"]", cell.source)[1]


def _quiz_cells(cell: nbformat.NotebookNode, mode: str, seed: int | None) -> list[nbformat.NotebookNode]:
    """The quiz cell as handed out: kept (``self-test``), dropped, or made a graded exercise:
    the student's :func:`~companion.classroom.quiz.variant` (by ``seed``; the book's quiz without
    one) without answers, a dict to fill in and a check cell that records the answers."""
    if mode == "self-test":
        return [cell]
    if mode == "none":
        return []
    chapter = _quiz_stem(cell)
    quiz = quizzes.load(chapter) if seed is None else quizzes.variant(quizzes.load(chapter), seed)
    kinds = {"true-false": "True or False", "choice": "0 for (a), 1 for (b), ...", "numeric": "a number"}
    stub = "\n".join(f"    {q.id!r}: None,  # {n}: {kinds[q.kind]}" for n, q in enumerate(quiz.questions, 1))
    text = nbformat.v4.new_markdown_cell(
        "## Check your understanding\n\nThis quiz is graded. Answer every question in the dict below "
        "the questions: True or False, the index of your choice (0 for (a), 1 for (b), ...), or a "
        "number. Your numbers and the order of the options are your own. The check cell records "
        "your answers; the grader marks them.\n\n" + quizzes.markdown(quiz, answers=False, intro=False)
    )
    answers = nbformat.v4.new_code_cell(f"quiz_answers = {{\n{stub}\n}}")
    check = nbformat.v4.new_code_cell(
        f"from companion.classroom import quiz\n\nquiz.record({chapter!r}, quiz_answers)",
        metadata={"companion": {"role": "check", "exercise": f"quiz-{chapter}"}},
    )
    for new, suffix in ((text, "text"), (answers, "answers"), (check, "check")):
        new.id = f"{cell.id}-{suffix}"[:64]
    return [text, answers, check]


def student_notebook(
    nb: nbformat.NotebookNode,
    *,
    exercises: Sequence[str] | None = None,
    seed: int | None = None,
    quiz: str = "self-test",
    header: str | None = None,
    plain: bool = False,
    root: Path = ROOT,
) -> nbformat.NotebookNode:
    """The student's version of an instructor notebook ``nb`` (which is left unchanged).

    Solutions are removed, stubs shown (their ``remove-cell`` tag dropped) and outputs cleared.
    ``exercises`` keeps only those labels (default: all); ``seed`` rewrites the seed cell's
    ``seed=<int>``; ``quiz`` is ``"self-test"`` (the widget), ``"graded"`` (the student's variant
    of the questions, drawn from ``seed``, without answers, a dict to fill in and a check cell
    that records the answers for the grader) or ``"none"``; ``header`` becomes a first
    Markdown cell (for example the student's name and instructions). ``plain`` rewrites the
    MyST Markdown as plain Markdown for JupyterLab and Colab
    (:func:`companion.classroom.handouts.plain_markdown`, citations from
    ``root/book/references.bib``).
    """
    if quiz not in QUIZ_MODES:
        raise ValueError(f"quiz must be one of {QUIZ_MODES}, got {quiz!r}")
    labels = exercise_labels(nb)
    if exercises is not None:
        unknown = sorted(set(exercises) - set(labels))
        if unknown:
            raise ValueError(f"exercises {unknown} are not in this notebook; it has {labels}")
    if seed is not None:
        seed = require_seed("seed", seed)
    cells = strip_solution_text(nb.cells)
    if exercises is not None:
        cells = _select(cells, set(exercises))
    out = []
    for cell in cells:
        if role(cell) == "quiz":
            heading = out[-1] if out and out[-1].cell_type == "markdown" else None
            if quiz != "self-test" and heading and heading.source.startswith("## Check your understanding"):
                out.pop()  # its text describes the interactive quiz; a graded one brings its own
            elif heading is not None:  # the student edition has no answers to open
                heading.source = _DROPDOWN.sub(_NO_DROPDOWN, heading.source)
            out += _quiz_cells(cell, quiz, seed)
            continue
        if role(cell) == "stub":
            tags = [t for t in cell.metadata.get("tags", []) if t != "remove-cell"]
            cell.metadata["tags"] = tags
            if not tags:
                del cell.metadata["tags"]
        if role(cell) == "seed" and seed is not None:
            if not _SEED.search(cell.source):
                raise ValueError(f"the seed cell must contain 'seed=<int>', got {cell.source!r}")
            cell.source = _SEED.sub(f"seed={seed}", cell.source, count=1)
        out.append(cell)
    if header:
        out.insert(0, nbformat.v4.new_markdown_cell(header))
        out[0].id = "student-header"
    if plain:
        bib = root / "book" / "references.bib"
        out = handouts.plain_markdown(out, handouts.read_bibliography(bib) if bib.is_file() else {})
    student = copy.deepcopy(nb)
    student.cells = out
    student.metadata.pop("widgets", None)
    for cell in student.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return student


# --- Assignments for a class ----------------------------------------------------------------------


@dataclass(frozen=True)
class Student:
    """A roster row: ``id`` names the student's folder; ``seed`` draws their parameters."""

    id: str
    seed: int


def _derived_seed(student_id: str) -> int:
    return int(hashlib.sha256(student_id.encode()).hexdigest()[:8], 16)


def read_roster(path: Path | str) -> list[Student]:
    """Read a roster CSV with a ``student`` column (letters, digits, ``.``, ``_``, ``-``) and
    an optional ``seed`` column (an int >= 0; a seed is derived from the id where it is empty)."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or "student" not in rows[0]:
        raise ValueError(f"{path}: the roster needs a header with a 'student' column (and optionally 'seed')")
    students, seen = [], set()
    for n, row in enumerate(rows, 2):
        sid, seed = (row.get("student") or "").strip(), (row.get("seed") or "").strip()
        if not _STUDENT_ID.match(sid):
            raise ValueError(
                f"{path}, line {n}: student must be letters, digits, '.', '_' or '-', got {sid!r}"
            )
        if sid in seen:
            raise ValueError(f"{path}, line {n}: student {sid!r} appears twice")
        if seed and not seed.isdigit():
            raise ValueError(f"{path}, line {n}: seed must be an int >= 0, got {seed!r}")
        seen.add(sid)
        students.append(Student(sid, int(seed) if seed else _derived_seed(sid)))
    return students


def make_assignments(
    chapters: Sequence[str],
    roster: Path | str,
    out: Path | str,
    *,
    exercises: Sequence[str] | None = None,
    quiz: str = "graded",
    points: Mapping[str, int] | None = None,
    root: Path = ROOT,
) -> Path:
    """Write ``out/<student>/<chapter>.ipynb`` for every student of ``roster`` and chapter.

    Each notebook's metadata says what it is (``companion``: ``assignment``, the folder's name;
    ``chapter``; ``student``), so the grader recognises a submission however it is renamed.

    ``exercises`` (labels) restricts every chapter to those it has (a label no chapter has is
    an error). ``points`` sets an exercise's points (by label) or every quiz question's
    (``"quiz"``); the others get :data:`POINTS`. A pen-and-paper or open exercise gets an answer
    cell (graded by hand: a ``hand:<label>`` column in the grades). Writes
    ``out/assignment.json`` (chapters, exercises, points, roster with seeds, the companion
    functions each exercise must do without), which :func:`companion.classroom.grading.grade`
    reads; the handed-out notebooks are the grader's reference for the check cells. A graded
    quiz is each student's own variant, and its answers go to ``out/quiz_key.json``
    (:data:`QUIZ_KEY`): hand out the students' folders, never that file. Returns ``out``.
    """
    out = Path(out)
    students = read_roster(roster)
    sources = {c: chapter_path(c, root) for c in chapters}
    notebooks = {c: nbformat.read(p, as_version=4) for c, p in sources.items()}
    chosen: dict[str, list[str] | None] = {}
    for c, nb in notebooks.items():
        chosen[c] = None if exercises is None else [e for e in exercise_labels(nb) if e in exercises]
    if exercises is not None:
        missing = set(exercises) - {e for labels in chosen.values() for e in labels or []}
        if missing:
            raise ValueError(f"exercises {sorted(missing)} are in none of the chapters {list(chapters)}")
    points = dict(points or {})
    for key, value in points.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"points[{key!r}] must be an int >= 0, got {value!r}")
    scheme: dict[str, int] = {}
    hand: dict[str, int] = {}
    for c, nb in notebooks.items():
        checked = {_label(cell) for cell in nb.cells if role(cell) == "check"}
        for label in exercise_labels(nb):
            if chosen[c] is not None and label not in chosen[c]:
                continue
            if label in checked:
                scheme[label] = points.get(label, POINTS["check"])
            else:
                hand[label] = points.get(label, POINTS["hand"])
        quiz_cell = next((cell for cell in nb.cells if role(cell) == "quiz"), None)
        if quiz == "graded" and quiz_cell is not None:
            stem = _quiz_stem(quiz_cell)
            for q in quizzes.load(stem).questions:
                scheme[f"quiz-{stem}-{q.id}"] = points.get("quiz", POINTS["quiz"])
    unknown = sorted(set(points) - set(scheme) - set(hand) - {"quiz"})
    if unknown:
        raise ValueError(f"points names {unknown}, which are not exercises of this assignment")
    own_code = _own_code(scheme)
    keys: dict[str, dict[str, dict]] = {}
    for student in students:
        for c, nb in notebooks.items():
            quiz_cell = next((cell for cell in nb.cells if role(cell) == "quiz"), None)
            if quiz == "graded" and quiz_cell is not None:
                stem = _quiz_stem(quiz_cell)
                mine = quizzes.variant(quizzes.load(stem), student.seed)
                keys.setdefault(student.id, {})[stem] = quizzes.key(mine)
            header = (
                f"**Assignment for `{student.id}`.** Write your answers in the code cells marked "
                "*your code*, and run each check cell below them for feedback. Do not edit the check "
                "cells or the `seed=` line: the grader restores them."
            )
            kept = exercise_labels(nb) if chosen[c] is None else chosen[c]
            mine = [label for label in own_code if label in kept]
            if mine:
                header += (
                    " Write your own code for "
                    + "; ".join(
                        f"`{label}` (without {', '.join(f'`{n}`' for n in own_code[label])})"
                        for label in mine
                    )
                    + ": those functions answer it in one call, and the grader makes them unavailable."
                )
            handout = student_notebook(
                nb, exercises=chosen[c], seed=student.seed, quiz=quiz, header=header, plain=True, root=root
            )
            handout.cells = _answer_cells(handout.cells, set(hand))
            # what the grader finds a submission by, whatever its file is called
            handout.metadata["companion"] = {
                "assignment": out.name,
                "chapter": sources[c].stem,
                "student": student.id,
            }
            target = out / student.id / sources[c].name
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(handout, target)
    spec = {
        "assignment": out.name,
        "chapters": [p.name for p in sources.values()],
        "exercises": list(exercises) if exercises is not None else None,
        "quiz": quiz,
        "points": scheme,
        "hand": hand,
        "unavailable": own_code,
        "students": [{"student": s.id, "seed": s.seed} for s in students],
    }
    (out / "assignment.json").write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    if keys:  # the graded quizzes' answers: for the grader, never for the students
        (out / QUIZ_KEY).write_text(json.dumps(keys, indent=1) + "\n", encoding="utf-8")
    return out


def _own_code(labels: Iterable[str]) -> dict[str, list[str]]:
    """The companion functions that would answer each of ``labels`` in one call (the checks'
    ``unavailable``, see :func:`companion.classroom.exercises.check`), for ``assignment.json``."""
    import companion.classroom.checks  # noqa: F401  (registers every check)
    from companion.classroom.exercises import UNAVAILABLE

    return {label: list(UNAVAILABLE[label]) for label in labels if label in UNAVAILABLE}


# --- The student edition of the website ----------------------------------------------------------

INSTRUCTOR_PAGES: tuple[str, ...] = ("book/instructors",)
"""The pages of the book the student edition leaves out (the grading workflow is not the
students' business)."""


def _drop_page(source: Path, page: str) -> None:
    """Remove ``page`` (``book/instructors``) from the sources at ``source`` and their ``_toc.yml``."""
    for suffix in (".md", ".ipynb"):
        (source / f"{page}{suffix}").unlink(missing_ok=True)
    toc_path = source / "_toc.yml"
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    for part in toc.get("parts", []):
        part["chapters"] = [c for c in part.get("chapters", []) if c.get("file") != page]
    toc["parts"] = [part for part in toc.get("parts", []) if part["chapters"]]
    toc_path.write_text(yaml.safe_dump(toc, sort_keys=False), encoding="utf-8")


_COPIED = (
    "_config.yml",
    "_toc.yml",
    "book",
    "companion",
    "binder",
    "requirements.txt",
    "pyproject.toml",
    "LICENSE",
)


def student_edition(
    out: Path | str, *, repository_url: str | None = None, build: bool = True, root: Path = ROOT
) -> Path:
    """Write the student edition's sources to ``out/source`` and (``build``) its website.

    Every chapter goes through :func:`student_notebook`; Markdown pages keep their text minus any
    ``{solution}`` block. Launch buttons point at ``repository_url`` (where you publish
    ``out/source``) or are removed when it is ``None``, since the course's own repository holds
    the solutions. The build runs ``jupyter-book build -W --keep-going`` with
    ``COMPANION_EDITION=student`` (quizzes without answers). Returns the HTML folder.
    """
    out = Path(out)
    source = out / "source"
    if source.exists():
        shutil.rmtree(source)
    source.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".ipynb_checkpoints", "_build")
    for name in _COPIED:
        src = root / name
        if src.is_dir():
            shutil.copytree(src, source / name, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, source / name)
    for path in sorted((source / "book").glob("*.ipynb")):
        nbformat.write(student_notebook(nbformat.read(path, as_version=4)), path)
    for page in INSTRUCTOR_PAGES:
        _drop_page(source, page)
    for path in sorted((source / "book").glob("*.md")):
        page = nbformat.v4.new_markdown_cell(path.read_text(encoding="utf-8"))
        path.write_text("".join(c.source for c in strip_solution_text([page])) + "\n", encoding="utf-8")
    config_path = source / "_config.yml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    config["title"] = f"{config['title']} (student edition)"
    if repository_url:
        config["repository"]["url"] = repository_url
    else:
        config["launch_buttons"].update(binderhub_url="", colab_url="", jupyterhub_url="")
        config["html"].update(use_repository_button=False, use_issues_button=False)
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    html = source / "_build" / "html"
    if build:
        env = {**os.environ, quizzes.EDITION_ENV: "student"}
        jupyter_book = Path(sys.executable).with_name("jupyter-book")
        subprocess.run([str(jupyter_book), "build", "-W", "--keep-going", str(source)], check=True, env=env)
    return html
