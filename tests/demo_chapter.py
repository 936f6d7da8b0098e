"""A tiny chapter in the book's exercise layout, for fast tests of assignments and grading.

Two coding exercises with checks defined in the notebook itself (so a grading kernel needs no
test code), a pen-and-paper exercise with a ``{solution}`` block, and a seed cell. Every
solution contains the word ``SECRET`` so that leak tests can look for it.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

CHECKS = '''\
from companion.classroom import exercises


@exercises.check("ex-demo-square")
def check_square(square):
    got = exercises.call(square, "square", 3)
    if got != 9:
        raise exercises.NotYet("square(3) should be 3 times 3.")
    return "square works."


@exercises.check("ex-demo-double")
def check_double(doubled, params):
    exercises.answered(doubled, "doubled", "a number")
    if doubled != 2 * params["seed"]:
        raise exercises.NotYet("doubled should be twice YOUR seed.")
    return "twice your seed."'''


def _cell(kind: str, source: str, role: str | None = None, exercise: str | None = None, tags=()):
    cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
    if role:
        cell.metadata["companion"] = {"role": role, **({"exercise": exercise} if exercise else {})}
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def demo_notebook() -> nbformat.NotebookNode:
    """The instructor's edition of the demo chapter."""
    cells = [
        _cell("markdown", "# A demo chapter\n\nSome text.\n\n## Exercises"),
        _cell("code", CHECKS),
        _cell("code", "params = dict(seed=2026)  # use the seed your instructor gave you", role="seed"),
        _cell("markdown", "```{exercise}\n:label: ex-demo-square\n\nWrite `square(x)`.\n```"),
        _cell(
            "code",
            "def square(x):\n    raise NotImplementedError  # your code",
            "stub",
            "ex-demo-square",
            tags=["remove-cell"],
        ),
        _cell("markdown", "```{solution-start} ex-demo-square\n:class: dropdown\n```\n\nSECRET: multiply."),
        _cell("code", "def square(x):\n    return x * x  # SECRET"),
        _cell("markdown", "SECRET: that is all.\n\n```{solution-end}\n```"),
        _cell("code", "check_square(square)", "check", "ex-demo-square"),
        _cell(
            "markdown",
            "```{exercise}\n:label: ex-demo-pen\n\nWhy?\n```\n\n"
            "```{solution} ex-demo-pen\n:class: dropdown\n\nSECRET: because.\n```",
        ),
        _cell(
            "markdown",
            "```{exercise-start}\n:label: ex-demo-double\n```\n\nDouble your seed.\n\n```{exercise-end}\n```",
        ),
        _cell("code", "doubled = None  # your number", "stub", "ex-demo-double", tags=["remove-cell"]),
        _cell("markdown", "```{solution-start} ex-demo-double\n:class: dropdown\n```"),
        _cell("code", "doubled = 2 * params['seed']  # SECRET"),
        _cell("markdown", "```{solution-end}\n```"),
        _cell("code", "check_double(doubled, params)", "check", "ex-demo-double"),
        _cell("markdown", "## References\n\nNone."),
    ]
    return nbformat.v4.new_notebook(
        cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}}
    )


def write_demo_root(root: Path) -> Path:
    """A course root holding only ``book/99_demo.ipynb``; returns ``root``."""
    (root / "book").mkdir(parents=True, exist_ok=True)
    nbformat.write(demo_notebook(), root / "book" / "99_demo.ipynb")
    return root
