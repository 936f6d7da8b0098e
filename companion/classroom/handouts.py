"""Handouts that read well anywhere: a chapter's MyST Markdown as plain Markdown.

The book's chapters are written in MyST, which Jupyter Book renders: exercises are
sphinx-exercise directives, citations and equation references are MyST roles (``cite:t``,
``cite:p``, ``eq``). JupyterLab and Colab show those as code blocks and backticked roles.
:func:`plain_markdown` rewrites a student notebook's Markdown cells so that they read as text
there:

* an exercise directive (a single one, or a start and an end) becomes a heading,
  ``### Exercise 2 (`ex-rnn-step`)``, with its text as a blockquote (the cell keeps the label in
  its metadata, ``companion: {role: exercise, exercise: <label>}``, for the grader);
* a ``cite:t`` role becomes "Cho et al. (2014)" and a ``cite:p`` role "(Cho et al., 2014)", and a
  reference list of the works cited ends the References section;
* a labelled display equation is numbered with a TeX tag, and an ``eq`` role to it becomes
  "(n)"; a ``ref`` role to an exercise becomes "Exercise n", other ``ref`` and ``doc`` roles
  their text, and links to the book's other pages (``[notation](notation)``) their text alone.

(The roles are named here without their braces and backticks, so that this text, shown on the
book's API page and in its PDF, is not itself read as markup.)
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import nbformat

__all__ = ["BIBLIOGRAPHY", "Reference", "plain_markdown", "read_bibliography"]

_FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>exercise(?:-start|-end)?)\}[^\n]*$")
_OPTION = re.compile(r"^:[a-z-]+:.*$")
_START = re.compile(r"^(?:`{3,}|:{3,})\{exercise(?:-start)?\}[^\n]*\n(?::[a-z-]+:.*\n)*", re.M)
_EQUATION = re.compile(r"\$\$(?P<body>.+?)\$\$[ \t]*\((?P<label>[\w:.-]+)\)", re.S)
_ROLE = re.compile(r"\{(?P<role>cite:t|cite:p|cite|eq|ref|doc|numref)\}`(?P<text>[^`]*)`")
_TARGET = re.compile(r"^\([\w:.-]+\)=[ \t]*\n?", re.M)
#: The label of the book's bibliography page; a link to it points at the handout's list instead.
BIBLIOGRAPHY = "course-bibliography"
_TO_BIBLIOGRAPHY = re.compile(rf"\s*[^.!?]*\[[^\]]*\]\({BIBLIOGRAPHY}\)[^.!?]*[.!?]")
_LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]+)\]\((?P<target>[^)\s]+)\)")


@dataclass(frozen=True)
class Reference:
    """One bibliography entry: ``names`` as a citation gives them ("Cho et al."), ``year``, and
    ``text``, the entry as a reference list shows it."""

    names: str
    year: str
    text: str


def _latex(text: str) -> str:
    from pybtex.richtext import Text

    return Text.from_latex(text).render_as("text")


@cache
def read_bibliography(path: Path) -> dict[str, Reference]:
    """Every entry of the BibTeX file ``path`` as a :class:`Reference`, by key.

    Needs pybtex (installed with the book's tools, ``requirements.txt``); raises ``ValueError``
    naming the file when it cannot be read.
    """
    from pybtex.database import parse_file
    from pybtex.scanner import PybtexError

    try:
        entries = parse_file(str(path)).entries
    except (OSError, PybtexError) as error:
        raise ValueError(f"bibliography {path} cannot be read: {error}") from None
    references = {}
    for key, entry in entries.items():
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        surnames = [_latex(" ".join(p.prelast_names + p.last_names)) for p in people]
        if len(surnames) > 2:
            names = f"{surnames[0]} et al."
        else:
            names = " and ".join(surnames) or _latex(entry.fields.get("howpublished", key))
        authors = ", ".join(
            _latex(" ".join(p.prelast_names + p.last_names))
            + (
                ", " + " ".join(f"{n[0]}." for n in p.first_names + p.middle_names if n)
                if p.first_names
                else ""
            )
            for p in people
        )
        fields = {name: _latex(value) for name, value in entry.fields.items()}
        year = fields.get("year", "n.d.")
        where = fields.get("journal") or fields.get("booktitle") or fields.get("publisher", "")
        where = where or fields.get("howpublished", "")
        volume = fields.get("volume", "") + (f"({fields['number']})" if fields.get("number") else "")
        parts = [f"{authors} ({year})." if authors else f"({year}).", f"{fields.get('title', key)}."]
        venue = ", ".join(p for p in (f"*{where}*" if where else "", volume, fields.get("pages", "")) if p)
        if venue:
            parts.append(f"{venue}.")
        if fields.get("doi"):
            parts.append(f"https://doi.org/{fields['doi']}")
        elif fields.get("eprint"):
            parts.append(f"arXiv:{fields['eprint']}")
        references[key] = Reference(names, year, " ".join(parts))
    same: dict[tuple[str, str], list[str]] = {}
    for key, ref in references.items():  # two works of one author and year: 2018a, 2018b
        same.setdefault((ref.names, ref.year), []).append(key)
    for keys in same.values():
        for letter, key in zip("abcdefghij", sorted(keys, key=lambda k: references[k].text), strict=False):
            if len(keys) > 1:
                ref = references[key]
                text = ref.text.replace(f"({ref.year}).", f"({ref.year}{letter}).", 1)
                references[key] = Reference(ref.names, ref.year + letter, text)
    return references


def _quote(lines: list[str]) -> list[str]:
    """Markdown lines as a blockquote (blank lines stay inside it)."""
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return [f"> {line}" if line.strip() else ">" for line in lines]


def _exercise(source: str, number_of: Callable[[str | None], int]) -> tuple[str, str | None]:
    """A Markdown cell with each exercise directive as a heading (``number_of(label)`` numbers
    it) and the exercise's text quoted; also the label of the cell's last exercise."""
    lines = source.split("\n")
    out: list[str] = []
    label = None
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i].strip())
        if not match or match["name"] == "exercise-end":
            if match:  # an {exercise-end} whose start was in an earlier cell: only its fence goes
                i += 2 if i + 1 < len(lines) and lines[i + 1].strip() == match["fence"] else 1
                continue
            out.append(lines[i])
            i += 1
            continue
        fence, i = match["fence"], i + 1
        options = []
        while i < len(lines) and _OPTION.match(lines[i].strip()):
            options.append(lines[i].strip())
            i += 1
        body: list[str] = []
        if match["name"] == "exercise":  # the text is inside the directive, up to its fence
            while i < len(lines) and lines[i].strip() != fence:
                body.append(lines[i])
                i += 1
            i += 1
        else:  # the text follows the directive's (empty) fence, up to {exercise-end}
            while i < len(lines) and lines[i].strip() != fence:
                i += 1
            i += 1
            while i < len(lines):
                end = _FENCE.match(lines[i].strip())
                if end and end["name"] == "exercise-end":
                    i += 2 if i + 1 < len(lines) and lines[i + 1].strip() == end["fence"] else 1
                    break
                body.append(lines[i])
                i += 1
        mine = next((o.split(":", 2)[2].strip() for o in options if o.startswith(":label:")), None)
        name = f" (`{mine}`)" if mine else ""
        out += [f"### Exercise {number_of(mine)}{name}", "", *_quote(body)]
        label = mine or label
    return "\n".join(out), label


def plain_markdown(
    cells: Iterable[nbformat.NotebookNode], bibliography: dict[str, Reference] | None = None
) -> list[nbformat.NotebookNode]:
    """The cells with their Markdown in plain Markdown (see the module's docstring); inputs are
    not modified. ``bibliography`` (:func:`read_bibliography`) names the cited works; a key it
    does not hold is shown as ``[key]``."""
    cells = [copy.deepcopy(cell) for cell in cells]
    text = [cell for cell in cells if cell.cell_type == "markdown"]
    equations: dict[str, int] = {}
    for cell in text:
        for match in _EQUATION.finditer(cell.source):
            equations.setdefault(match["label"], len(equations) + 1)
    exercises: dict[str, int] = {}  # label -> number, in order; unlabelled ones get numbers too
    for cell in text:
        for match in _START.finditer(cell.source):
            label = re.search(r"^:label:\s*(\S+)", match.group(0), re.M)
            exercises[label[1] if label else f"#{len(exercises)}"] = len(exercises) + 1
    unlabelled = iter(n for key, n in exercises.items() if key.startswith("#"))
    headings = {}
    for cell in text:
        for match in re.finditer(r"^\((?P<label>[\w:.-]+)\)=[ \t]*\n#+\s+(?P<title>.+)$", cell.source, re.M):
            headings[match["label"]] = match["title"].strip()
    cited: list[str] = []
    bibliography = bibliography or {}

    def role(match: re.Match) -> str:
        kind, body = match["role"], match["text"]
        shown, _, target = body.partition("<")
        target = target.rstrip(">").strip() if target else body.strip()
        shown = shown.strip() if match["text"].endswith(">") else ""
        if kind.startswith("cite"):
            keys = [k.strip() for k in body.split(",") if k.strip()]
            cited.extend(k for k in keys if k not in cited)
            refs = [bibliography.get(k) for k in keys]
            if kind == "cite:t":
                return "; ".join(
                    f"{r.names} ({r.year})" if r else f"[{k}]" for k, r in zip(keys, refs, strict=True)
                )
            inner = "; ".join(
                f"{r.names}, {r.year}" if r else f"[{k}]" for k, r in zip(keys, refs, strict=True)
            )
            return f"({inner})"
        if kind == "eq":
            return f"({equations[target]})" if target in equations else f"({target})"
        if target in exercises and not shown:
            return f"Exercise {exercises[target]}"
        return shown or headings.get(target) or target

    def equation(match: re.Match) -> str:
        body = match["body"].rstrip()
        return f"$${body}\n\\tag{{{equations[match['label']]}}}\n$$"

    def link(match: re.Match) -> str:
        target = match["target"]
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            return match.group(0)  # a web address or an anchor on this page
        return match["text"]  # another page of the book, which the handout does not have

    for cell in text:
        source = cell.source
        if _START.search(source) or re.search(r"^(?:`{3,}|:{3,})\{exercise-end\}", source, re.M):
            source, label = _exercise(source, lambda label: exercises[label] if label else next(unlabelled))
            if label:
                cell.metadata.setdefault("companion", {}).update(role="exercise", exercise=label)
        source = _EQUATION.sub(equation, source)
        source = _ROLE.sub(role, source)
        source = _TARGET.sub("", source)
        if cited:  # the sentence that sends the reader to the bibliography page: to the list below
            source = _TO_BIBLIOGRAPHY.sub(" Full entries are under *Works cited* below.", source)
        cell.source = _LINK.sub(link, source)
    if cited:
        listing = "\n".join(f"- {bibliography[k].text}" if k in bibliography else f"- [{k}]" for k in cited)
        where = next((c for c in reversed(text) if c.source.lstrip().startswith("## References")), None)
        if where is None:
            where = nbformat.v4.new_markdown_cell("## References")
            where.id = "plain-references"
            cells.append(where)
        where.source = f"{where.source.rstrip()}\n\n**Works cited**\n\n{listing}"
    return cells
