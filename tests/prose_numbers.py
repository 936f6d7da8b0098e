"""No number the outputs don't show: the numbers typed into the book, checked against its outputs.

Every number in a chapter's Markdown cells, in its quiz (``companion/classroom/quizzes/NN_*.yaml``)
and in an entry of ``book/check_your_notes.md`` must be one of:

1. shown by an output of the executed chapter, at the precision it is typed with: ``0.85`` is
   shown by a printed ``0.847`` or ``0.85``, not by ``0.86``; ``0.50`` needs 0.495 to 0.505;
2. a value set in a code cell of the chapter (a Python number literal, not a comment or string);
3. in the same sentence as a citation (a ``{cite}`` role, or "Surname et al.", "Surname and
   Other", "Surname & Other" with the first author of an entry of ``book/references.bib``): a
   figure quoted from that paper;
4. on the allow-list :data:`ALLOWED`, with its reason (a fact of the data set, a constant, ...).

**Where a number must be shown.** A decimal, a percentage or a number in scientific notation
(a measurement) must be shown by an output of its own section: the cells under the innermost
level-1 or level-2 heading above it (a section with no output at all, such as the common
misconceptions, sums up the chapter and is checked against all of it). A quiz question is
checked against the section its ``section`` field names, a notes-page entry against the
sections its links point to. An integer (a count, a size, a setting) may be shown anywhere in
its chapter. Code cells' literals count everywhere in their chapter. The quiz cell's output is
never a source: it repeats the quiz file.

**Which tokens are numbers.** Decimals (``0.86``), percentages (``88%``, ``88\\%``), numbers
with thousands separators (``1,347``, ``1{,}347``), scientific notation (``2.7e-33``,
``3.6 \\cdot 10^{-3}``, ``10^{-2}``) and integers of two or more digits, in prose and in
inline math. Not numbers, by rule:

- single-digit integers (``3 gates``, ``5 restarts``, ``1/2``): counts and small constants of
  formulas; a measured value is typed as a decimal, a percentage or a larger number;
- digits inside words and identifiers (``L2``, ``x_1``, ``f_6``, bibliography keys), in inline
  code and code blocks (code, not claims), in link targets, labels and roles' keys;
- display math (``$$ ... $$``): the equations, whose constants are part of the formula;
- in inline math, sub- and superscripts (``2^{-149}``: an exponent, not a quantity) and every
  number of a *worked computation*, a span with a relation (``=``, ``\\approx``, ...), two or
  more numbers and an operation (``$3 \\cdot 416 = 1{,}248$``): arithmetic the reader checks;
- references: a number right after chapter, section, eq., equation, figure, table, appendix;
- version numbers (``3.3.4``) and array sizes in prose (``8x8``, ``28x28``);
- in a quiz and in a chapter's Exercises section, the givens of a problem: a math assignment
  such as ``$d_x = 5$`` or ``$z = (4, 0, 0)$`` (the problem's data, not a result); and a
  quiz's wrong choices (wrong on purpose).

The precision of a typed integer is exact, unless an approximation word precedes it ("about
2,000" has trailing zeros that are rounding: 1,500 to 2,500). Signs are ignored (a margin of
``-1`` is shown by ``1``).

``python tests/prose_numbers.py /tmp/baseline/*.ipynb`` checks a folder of executed chapters
(all of them, for the notes page) and prints what fails; ``tests/test_prose_numbers.py`` runs
:func:`check_book` on the notebooks the book build executes.
"""

from __future__ import annotations

import io
import itertools
import math
import re
import sys
import tokenize
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from html import unescape
from pathlib import Path

import nbformat
import yaml

from companion.classroom import quiz

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
QUIZZES = ROOT / "companion" / "classroom" / "quizzes"
NOTES = BOOK / "check_your_notes.md"

__all__ = [
    "ALLOWED",
    "Finding",
    "Number",
    "allow",
    "check_book",
    "check_notebook",
    "check_notes",
    "check_quiz",
    "numbers_in",
    "shown_values",
]


@dataclass(frozen=True)
class Number:
    """A number as typed: ``value`` (unsigned; a percentage divided by 100) is claimed to within
    ``tolerance`` (half a unit of the last digit typed)."""

    text: str
    value: float
    tolerance: float
    integer: bool = False  # a count or a size, checked against the whole chapter


@dataclass(frozen=True)
class Finding:
    """A number that nothing in its chapter shows."""

    source: str  # the notebook, quiz file or notes page
    where: str  # the cell, question or entry
    number: str
    sentence: str

    def __str__(self) -> str:
        return (
            f"{self.source}, {self.where}: {self.number!r} is not shown by an output, a code cell "
            f"or a citation in the same sentence: {self.sentence!r}"
        )


# --- Markdown to sentences ------------------------------------------------------------------

CITE = "\u27e8cite\u27e9"  # what a citation role becomes
_FENCE = re.compile(r"^(`{3,}|~{3,})\s*(\{[^}]*\})?.*$")
_DISPLAY_MATH = re.compile(r"\$\$.*?\$\$(\s*\([\w-]+\))?", re.S)
_ROLE = re.compile(r"\{([\w:-]+)\}`([^`]*)`")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.S)
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"https?://\S+")
_TARGET = re.compile(r"^\([\w-]+\)=\s*$", re.M)
_OPTION = re.compile(r"^:\w[\w-]*:.*$", re.M)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\$)(.+?)(?<!\\)\$", re.S)
_ABBREVIATIONS = ("et al.", "e.g.", "i.e.", "eq.", "Eq.", "eqs.", "sec.", "Sec.", "Fig.", "vs.", "cf.")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z*_(\[\u27e6\"'])")


def _markdown_text(source: str) -> str:
    """``source`` without code blocks, display math, code spans, link targets, labels and
    directive options; citation roles become a marker, other roles their visible text."""
    lines, fence = [], None
    for line in source.splitlines():
        match = _FENCE.match(line.strip())
        if fence is None and match:
            # a directive's body ({exercise}, {solution}) is prose; any other fence is code
            fence = (match.group(1), bool(match.group(2)))
            continue
        if fence is not None and line.strip().startswith(fence[0][:3]) and not line.strip()[3:].strip():
            fence = None
            continue
        if fence is None or fence[1]:
            lines.append(line)
    text = "\n".join(lines)
    text = _COMMENT.sub(" ", text)
    text = _DISPLAY_MATH.sub("\n\n", text)
    text = _TARGET.sub("", text)
    text = _OPTION.sub("", text)

    def role(match: re.Match) -> str:
        name, content = match.groups()
        if name.startswith("cite"):
            return CITE
        if name.startswith("bdg"):
            return " "
        visible = re.match(r"(.*?)\s*<[^>]*>$", content)  # {doc}`Title <target>`
        return visible.group(1) if visible else "\u27e8ref\u27e9"

    text = _ROLE.sub(role, text)
    text = _INLINE_CODE.sub(" \u27e8code\u27e9 ", text)
    text = _LINK.sub(lambda m: m.group(1), text)
    return _URL.sub(" ", text)


def sentences(source: str) -> list[str]:
    """The sentences of a Markdown ``source``: paragraphs, list items, table rows and headings
    are split at sentence ends; inline math stays whole."""
    text = _markdown_text(source)
    maths: list[str] = []

    def protect(match: re.Match) -> str:
        maths.append(match.group(0))
        return f"\u27e6{len(maths) - 1}\u27e7"

    text = _INLINE_MATH.sub(protect, text)
    blocks = re.split(r"\n\s*\n|\n(?=\s*(?:[-*+] |\d+\. |\||#))", text)
    result = []
    for block in blocks:
        block = " ".join(block.split())
        for abbreviation in _ABBREVIATIONS:
            block = block.replace(abbreviation, abbreviation.replace(".", "\u2024"))
        for sentence in _SENTENCE_END.split(block):
            sentence = sentence.replace("\u2024", ".")
            sentence = re.sub(r"\u27e6(\d+)\u27e7", lambda m: maths[int(m.group(1))], sentence)
            if sentence.strip():
                result.append(sentence.strip())
    return result


# --- Tokens --------------------------------------------------------------------------------

_REFERENCE = re.compile(
    r"(?:chapters?|sections?|sec\.|eqs?\.|equations?|figures?|fig\.|tables?|appendix)\s*$", re.I
)
_APPROXIMATE = re.compile(
    r"(?:about|around|roughly|nearly|almost|approximately|some|over|under|~|\\approx|\u2248)\W*$", re.I
)
_NUMBER = re.compile(
    r"""(?<![\w.,])(?:
        (?P<version>\d+\.\d+\.\d+(?:\.\d+)*)
      | (?P<size>\d+\s*(?:x|\u00d7)\s*\d+)(?![\w])
      | (?P<latex_sci>(?P<mantissa>\d+(?:\.\d+)?)\s*\\(?:cdot|times)\s*10\^\{?(?P<exp>[-\u2212]?\d+)\}?)
      | (?P<power>10\^\{?(?P<power_exp>[-\u2212]?\d+)\}?)
      | (?P<sci>\d+(?:\.\d+)?[eE][-+]?\d+)(?![\w])
      | (?P<plain>\d{1,3}(?:(?:,|\{,\})\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?P<percent>\s?\\?%)?
    )(?![\w])""",
    re.X,
)
_SCRIPT = re.compile(r"[_^](?:\{[^{}]*\}|\\?\w)")
_RELATION = re.compile(r"=|\\approx|\\le|\\ge|\\ne|<|>|\\to|\\sim")
_OPERATION = re.compile(
    r"\\cdot|\\times|/|\+|(?<!\{)-|\\frac|\\sqrt|\\ln|\\log|\\exp|\\binom|\\sigma|\\tanh|\\lceil|\\lfloor|\^|!"
)
_ASSIGNMENT = re.compile(r"^\s*\\?[A-Za-z]+(?:_\{?[\w,]+\}?)?\s*=\s*[-\d.{},\\ ()]+$")


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def _number(match: re.Match, before: str) -> Number | None:
    """The :class:`Number` a token stands for, or ``None`` when the rules say it is not one."""
    if match["version"] or match["size"] or _REFERENCE.search(before):
        return None
    text = match.group(0).strip()
    if match["latex_sci"]:
        exponent = int(match["exp"].replace("\u2212", "-"))
        value = float(match["mantissa"]) * 10.0**exponent
        return Number(text, value, 0.5 * 10.0 ** (exponent - _decimals(match["mantissa"])))
    if match["power"]:
        value = 10.0 ** int(match["power_exp"].replace("\u2212", "-"))
        return Number(text, value, 1e-9 * value)
    if match["sci"]:
        mantissa, exponent = match["sci"].lower().split("e")
        value = float(match["sci"])
        return Number(text, value, 0.5 * 10.0 ** (int(exponent) - _decimals(mantissa)))
    plain = match["plain"].replace("{,}", "").replace(",", "")
    decimals = _decimals(plain)
    if match["percent"]:
        return Number(text, float(plain) / 100, 0.5 * 10.0 ** -(decimals + 2))
    if decimals == 0 and int(plain) < 10 and "," not in match["plain"]:
        return None  # a single-digit integer
    tolerance = 0.5 * 10.0**-decimals
    if decimals == 0 and _APPROXIMATE.search(before):
        zeros = len(plain) - len(plain.rstrip("0"))
        tolerance = 0.5 * 10.0**zeros
    return Number(text, float(plain), tolerance, integer=decimals == 0)


def _tokens(text: str) -> list[Number]:
    found = []
    for match in _NUMBER.finditer(text):
        number = _number(match, text[max(0, match.start() - 30) : match.start()])
        if number is not None:
            found.append(number)
    return found


def _math_tokens(math_source: str, givens: bool) -> list[Number]:
    if givens and _ASSIGNMENT.match(math_source):
        return []
    kept: list[Number] = []
    rest = math_source
    for match in list(_NUMBER.finditer(math_source)):
        if match["latex_sci"] or match["power"]:
            number = _number(match, "")
            if number is not None:
                kept.append(number)
            rest = rest.replace(match.group(0), " ", 1)
    rest = _SCRIPT.sub(" ", rest)
    numbers = kept + _tokens(rest)
    worked = _RELATION.search(math_source) and _OPERATION.search(math_source)
    if worked and len(numbers) + len(re.findall(r"(?<![\w.])\d(?![\w.])", rest)) >= 2:
        return []  # a worked computation: arithmetic the reader checks
    return numbers


def numbers_in(sentence: str, *, givens: bool = False) -> list[Number]:
    """The numbers of one sentence (prose and inline math), by the rules of the module docstring.

    ``givens`` drops math assignments such as ``$d_x = 5$`` (a quiz question's data).

    >>> [n.text for n in numbers_in("About 0.86 of 1,347 digits (88%), $T = 50$, in 3 s.")]
    ['0.86', '1,347', '88%', '50']
    >>> [n.text for n in numbers_in("See chapter 12, eq. 2.1 and $3 \\\\cdot 416 = 1{,}248$.")]
    []
    """
    found: list[Number] = []
    last = 0
    for match in _INLINE_MATH.finditer(sentence):
        found += _tokens(sentence[last : match.start()])
        found += _math_tokens(match.group(1), givens)
        last = match.end()
    return found + _tokens(sentence[last:])


@cache
def _citation_names() -> tuple[str, ...]:
    """First authors' surnames of book/references.bib."""
    bib = (BOOK / "references.bib").read_text()
    names = re.findall(r"author\s*=\s*\{\s*(?:\{)?([^,{}]+?)(?:\})?,", bib)
    return tuple(sorted({name.strip().split()[-1] for name in names}))


def cites(sentence: str) -> bool:
    """Whether ``sentence`` cites a paper: a citation role, or a bibliography entry's first
    author as "Surname et al.", "Surname and Other" or "Surname & Other"."""
    if CITE in sentence or "{cite" in sentence:
        return True
    names = "|".join(map(re.escape, _citation_names()))
    return bool(re.search(rf"\b(?:{names})(?: et al\.|(?: and| &) [A-Z])", sentence))


# --- What a chapter shows ------------------------------------------------------------------

_VALUE = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(\s?%)?(?![\w])")


def _values_in_output(text: str) -> list[float]:
    values = []
    for digits, percent in _VALUE.findall(text):
        value = float(digits.replace(",", ""))
        values.append(value / 100 if percent else value)
    return values


def _output_text(output: Mapping) -> str:
    if output.get("output_type") == "stream":
        return output.get("text", "")
    data = output.get("data", {})
    plain = data.get("text/plain", "")
    if plain.startswith("<Figure size"):
        return ""
    html = re.sub(r"<[^>]+>", " ", unescape(data.get("text/html", "")))
    return "\n".join((plain, data.get("text/markdown", ""), html))


def _code_values(source: str) -> list[float]:
    """The number literals of a code cell (not its comments or strings)."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    values = []
    try:
        for token in tokenize.generate_tokens(io.StringIO("\n".join(lines) + "\n").readline):
            if token.type == tokenize.NUMBER:
                values.append(float(complex(token.string.replace("_", "")).real))
    except (tokenize.TokenError, IndentationError, SyntaxError, ValueError):
        pass
    return values


def is_quiz_cell(cell: Mapping) -> bool:
    """The cell that renders the chapter's quiz: its output repeats the quiz file, not a result."""
    return cell.get("cell_type") == "code" and "quiz.show(" in cell.get("source", "")


@dataclass(frozen=True)
class Section:
    """A heading of a notebook and the cells it spans: from its cell up to the cell of the next
    heading of the same or a higher level (``stop`` excluded; that cell still opens with text
    of this section when the heading is not its first line)."""

    level: int
    title: str
    start: int
    stop: int

    @property
    def anchor(self) -> str:
        """The heading's anchor, as MyST makes it (the quiz's own rule)."""
        return quiz.anchor(self.title)


_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*$", re.M)


def _headings(cell: Mapping) -> list[tuple[int, str, int]]:
    """(level, title, position) of the headings of a Markdown cell, outside code blocks."""
    if cell["cell_type"] != "markdown":
        return []
    found, code = [], False
    position = 0
    for line in cell["source"].splitlines(keepends=True):
        if line.lstrip().startswith(("```", "~~~")):
            code = not code if not line.strip()[3:].startswith("{") or code else code
        match = _HEADING.match(line)
        if match and not code:
            found.append((len(match.group(1)), match.group(2), position))
        position += len(line)
    return found


def sections(notebook: Mapping) -> list[Section]:
    """Every heading of ``notebook`` with the cells it spans."""
    heads = [(level, title, index) for index, cell in enumerate(notebook["cells"])
             for level, title, _ in _headings(cell)]  # fmt: skip
    result = []
    for k, (level, title, index) in enumerate(heads):
        stop = next((i for lv, _, i in heads[k + 1 :] if lv <= level), len(notebook["cells"]))
        result.append(Section(level, title, index, max(stop, index + 1)))
    return result


def find_section(notebook: Mapping, title: str = "", anchor: str = "") -> Section:
    """The section of ``notebook`` with this heading ``title`` (or ``anchor``)."""
    for section in sections(notebook):
        if (title and section.title == title) or (anchor and section.anchor == anchor):
            return section
    raise KeyError(f"no section {title or anchor!r}")


def shown_values(notebook: Mapping, cells: Iterable[int] | None = None) -> list[float]:
    """Every number the code cells of an executed ``notebook`` set (anywhere in it) and every
    number the outputs of its ``cells`` (all by default; never the quiz's) show, unsigned."""
    values: list[float] = []
    chosen = set(range(len(notebook["cells"])) if cells is None else cells)
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code" or is_quiz_cell(cell):
            continue
        values += _code_values(cell["source"])
        if index in chosen:
            for output in cell.get("outputs", []):
                values += _values_in_output(_output_text(output))
    return sorted({abs(v) for v in values if math.isfinite(v)})


def is_shown(number: Number, values: Iterable[float]) -> bool:
    """Whether some value rounds to ``number`` at the precision it is typed with."""
    slack = number.tolerance * (1 + 1e-9) + 1e-12 * abs(number.value)
    return any(abs(value - number.value) <= slack for value in values)


# --- Checks --------------------------------------------------------------------------------


def _check_text(text, values, everywhere, source, where, *, givens=False) -> list[Finding]:
    """The findings of ``text``: a decimal, percentage or scientific number must be among
    ``values`` (its section's), an integer among ``everywhere`` (its chapter's)."""
    findings = []
    for sentence in sentences(text):
        if cites(sentence):
            continue
        for number in numbers_in(sentence, givens=givens):
            if not is_shown(number, everywhere if number.integer else values):
                findings.append(Finding(source, where, number.text, sentence))
    return findings


def _section_values(notebook: Mapping, section: Section) -> list[float]:
    """What ``section`` shows; a section whose cells have no output at all (misconceptions,
    references) sums up the chapter, so it gets what the whole chapter shows."""
    cells = range(section.start, section.stop)
    if not any(notebook["cells"][i].get("outputs") for i in cells if not is_quiz_cell(notebook["cells"][i])):
        cells = None
    return shown_values(notebook, cells)


def _chunks(notebook: Mapping) -> list[tuple[int, str, Section]]:
    """(cell index, text, section) for each part of a Markdown cell that starts at a heading
    (or at the cell's start): its section is the innermost heading of level 1 or 2 above it."""
    top = {(s.start, s.title): s for s in sections(notebook) if s.level <= 2}
    current = Section(1, "", 0, len(notebook["cells"]))
    chunks = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        heads = {position: (level, title) for level, title, position in _headings(cell)}
        cuts = sorted({0, *heads}) + [len(cell["source"])]
        for begin, end in itertools.pairwise(cuts):
            level, title = heads.get(begin, (9, ""))
            if level <= 2:
                current = top[index, title]
            chunks.append((index, cell["source"][begin:end], current))
    return chunks


def check_notebook(notebook: Mapping, name: str) -> list[Finding]:
    """Every number of the Markdown cells of an executed ``notebook`` (named ``name``) that the
    outputs of its section (the innermost heading of level 1 or 2 above it) and the chapter's
    code cells do not show; cells are numbered from 0 as in the ``.ipynb``."""
    findings, everywhere = [], shown_values(notebook)
    for index, text, section in _chunks(notebook):
        values = _section_values(notebook, section)
        where = f"cell {index} (id {notebook['cells'][index].get('id', '?')})"
        givens = section.title == "Exercises"
        findings += _check_text(text, values, everywhere, name, where, givens=givens)
    return findings


def quiz_texts(path: Path) -> list[tuple[str, str, str]]:
    """(question id, section, text) for the prompt, the right choice and the explanation of each
    question of a quiz file (a wrong choice is wrong on purpose); ``section`` is the heading of
    the chapter section that shows the answer. A question that varies is read as the book shows
    it, with the first values of its ``vary`` in the prompt's placeholders."""
    data = yaml.safe_load(path.read_text())
    texts = []
    for question in data["questions"]:
        right = [c["text"] for c in question.get("choices", []) if c.get("correct")]
        prompt = question["prompt"]
        if question.get("vary"):
            prompt = quiz._render(prompt, {name: values[0] for name, values in question["vary"].items()})
        parts = [prompt, *right, question["explanation"]]
        texts += [(question["id"], question["section"], part) for part in parts]
    return texts


def check_quiz(path: Path, notebook: Mapping) -> list[Finding]:
    """Every number of a quiz file that the section each question names (its outputs, and the
    chapter's code cells) does not show; a math assignment such as ``$d_x = 5$`` is a given."""
    findings, everywhere = [], shown_values(notebook)
    for question, title, text in quiz_texts(path):
        values = _section_values(notebook, find_section(notebook, title=title))
        where = f"question {question}"
        findings += _check_text(text, values, everywhere, f"quizzes/{path.name}", where, givens=True)
    return findings


_CHAPTER_LINK = re.compile(r"\((\d\d_\w+)\.ipynb(?:#([\w-]+))?\)")


def notes_entries(path: Path = NOTES) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(heading, text, links) for each entry (a level-2 or level-3 heading) of the notes page;
    ``links`` are the (chapter, anchor) pairs the entry points to (``anchor`` empty for a whole
    chapter), or its section's when the entry has none."""
    entries, section_links = [], []
    for block in re.split(r"^(?=#{2,3} )", path.read_text(), flags=re.M):
        heading = block.splitlines()[0].lstrip("# ").strip() if block.startswith("#") else "introduction"
        links = sorted(set(_CHAPTER_LINK.findall(block)))
        if block.startswith("## "):
            section_links = links
        entries.append((heading, block, links or section_links))
    return entries


def check_notes(
    notebooks: Mapping[str, Mapping], path: Path = NOTES, *, partial: bool = False
) -> list[Finding]:
    """Every number of an entry of the notes page that the sections it links to do not show.
    ``notebooks`` maps a chapter's name (``02_defensive_distillation``) to its executed notebook;
    with ``partial``, an entry that links to a chapter not among them is skipped."""
    findings = []
    for heading, text, links in notes_entries(path):
        if partial and any(chapter not in notebooks for chapter, _ in links):
            continue
        values: list[float] = []
        everywhere: list[float] = []
        for chapter, anchor in links:
            notebook = notebooks[chapter]
            chapter_values = shown_values(notebook)
            everywhere += chapter_values
            section = find_section(notebook, anchor=anchor) if anchor else None
            values += _section_values(notebook, section) if section else chapter_values
        findings += _check_text(text, values, everywhere, path.name, f"entry {heading!r}")
    return findings


def check_book(notebooks: Mapping[str, Path | Mapping], *, partial: bool = False) -> list[Finding]:
    """The check of the whole book: every chapter's Markdown cells and quiz, and the notes page.
    ``notebooks`` maps each chapter's name (``02_defensive_distillation``) to its executed
    notebook (a path, or the notebook itself); with ``partial`` (some chapters only), the notes
    page's entries that link to a missing chapter are skipped."""
    read = {
        name: nbformat.read(nb, as_version=4) if isinstance(nb, (str, Path)) else nb
        for name, nb in notebooks.items()
    }
    findings = []
    for name, notebook in read.items():
        findings += check_notebook(notebook, f"{name}.ipynb")
        quiz = QUIZZES / f"{name}.yaml"
        if quiz.exists():
            findings += check_quiz(quiz, notebook)
    return findings + check_notes(read, partial=partial)


# --- The allow-list ------------------------------------------------------------------------

#: Numbers typed on purpose that no output of their chapter shows, each with its reason, keyed
#: by (the number as typed, a part of its sentence; "" for any sentence). ``"*"`` applies to
#: every chapter, quiz and the notes page. An entry that no longer matches a finding is stale:
#: the test fails on it too, so the list only shrinks when outputs start to show a number.
ALLOWED: dict[str, dict[tuple[str, str], str]] = {
    "*": {
        ("1,347", ""): "the training split's size: a fact of load_digits, printed by Getting started",
        ("1347", ""): "the training split's size (as a shape): printed by Getting started",
        ("128", ""): "the shared MLP's hidden width: printed by Getting started",
    },
    "06_probability_exercise.ipynb": {
        ("0.8", ""): "the exercise's given: each query right with probability 0.8 (the code writes "
        "its complement, p = 0.2)",
        ("95%", ""): "the normal distribution's two-sided 95% band: a constant (pr.Z_95)",
        ("1.96", ""): "the normal distribution's 97.5% quantile: a constant (pr.Z_95)",
    },
    "quizzes/06_probability_exercise.yaml": {
        ("95%", ""): "the normal distribution's two-sided 95% band: a constant (pr.Z_95)",
        ("1.96", ""): "the normal distribution's 97.5% quantile: a constant (pr.Z_95)",
    },
}


def allow(
    findings: Iterable[Finding], allowed: Mapping[str, Mapping[tuple[str, str], str]] = ALLOWED
) -> tuple[list[Finding], list[tuple[str, str, str]]]:
    """Split ``findings`` by the allow-list: those it does not excuse, and its stale entries
    ((source, number, context) that excused nothing)."""
    used, remaining = set(), []
    for finding in findings:
        keys = [
            (source, text, context)
            for source in (finding.source, "*")
            for text, context in allowed.get(source, {})
            if text == finding.number and context in finding.sentence
        ]
        if keys:
            used.add(keys[0])
        else:
            remaining.append(finding)
    every = [(source, text, context) for source, entries in allowed.items() for text, context in entries]
    return remaining, [key for key in every if key not in used]


def main(paths: list[str]) -> int:
    """Check the executed notebooks ``paths`` and print every number not shown and every stale
    allow-list entry. Given only some chapters, it checks those chapters and quizzes, the notes
    page's entries that link to them alone, and the allow-list entries of those sources (and
    ``"*"`` only when every chapter is given)."""
    chapters = {p.stem[:2]: p.stem for p in BOOK.glob("*.ipynb")}
    # an executed notebook may be named after its chapter's number alone (``/tmp/x/02.ipynb``)
    notebooks = {chapters.get(Path(p).stem[:2], Path(p).stem): Path(p) for p in paths}
    missing = sorted(p.stem for p in BOOK.glob("*.ipynb") if p.stem not in notebooks)
    findings, stale = allow(check_book(notebooks, partial=bool(missing)))
    if missing:
        checked = {f"{name}.ipynb" for name in notebooks} | {f"quizzes/{name}.yaml" for name in notebooks}
        stale = [key for key in stale if key[0] in checked]
        print(
            f"partial check: no executed notebook for {', '.join(missing)}; notes-page entries "
            "linking to them and their allow-list entries are skipped"
        )
    for finding in findings:
        print(finding)
    for source, text, context in stale:
        print(f"stale allow-list entry: {source}: {text!r} ({context!r})")
    print(f"{len(findings)} numbers not shown, {len(stale)} stale allow-list entries")
    return 1 if findings or stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
