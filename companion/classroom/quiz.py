"""Self-test quizzes: "Check your understanding" at the end of every chapter.

Each chapter's questions live in one file, ``companion/classroom/quizzes/<chapter>.yaml`` (the schema is
in :func:`load`), and are shown two ways from that one source:

* in Jupyter, an ipywidgets quiz (:func:`widget`) that marks an answer as soon as it is given,
  then shows the explanation, and keeps a score;
* in the online book, the questions as MyST Markdown with each answer and explanation in a
  dropdown (:func:`markdown`), since a static page cannot mark answers.

:func:`show` returns an object carrying both, and each front end picks its own: JupyterLab the
widget, the book (``nb_mime_priority_overrides`` in ``_config.yml``) the Markdown.

The registry ``misconceptions.yaml`` beside the quizzes lists the misconceptions of the course
brief; a question that tests one names it in its ``misconception`` field.

A graded quiz in an assignment is each student's own :func:`variant`: the options of every
choice question shuffled and the numbers of every numeric question with ``vary`` drawn, by the
student's seed. The student's check cell only :func:`record` s the answers; the key
(:func:`key`) stays in the instructor's assignment folder, and the grader marks the answers
with it (:func:`mark`), so nothing in the public package answers a student's quiz.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import numbers
import operator
import os
import random
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import ipywidgets
import yaml

from companion.classroom.exercises import FEEDBACK_KEY
from companion.validation import require_seed

__all__ = [
    "QUIZ_DIR",
    "Question",
    "Quiz",
    "anchor",
    "chapters",
    "evaluate",
    "grade",
    "key",
    "load",
    "mark",
    "markdown",
    "misconceptions",
    "record",
    "show",
    "variant",
    "widget",
]

QUIZ_DIR = Path(__file__).with_name("quizzes")
KINDS = ("true-false", "choice", "numeric")
#: Set to ``student`` by the student edition's build: the book's quizzes then show no answers.
EDITION_ENV = "COMPANION_EDITION"


@dataclass(frozen=True)
class Question:
    """One question. ``answer`` is a bool (true-false), an index into ``choices`` (choice) or a
    number (numeric, accepted within ``tolerance``). ``section`` is the heading of the chapter
    section that shows the answer; ``misconception`` an id from ``misconceptions.yaml`` or ``None``.

    A numeric question with ``vary`` has variants: ``vary`` holds each parameter's values (the
    first are the book's), ``template`` the prompt with ``{{name}}`` (or ``{{name:.1f}}``)
    placeholders and ``formula`` the answer as an expression of the parameters; ``prompt`` and
    ``answer`` are the book's variant."""

    id: str
    kind: str
    prompt: str
    answer: bool | int | float
    explanation: str
    section: str
    choices: tuple[str, ...] = ()
    tolerance: float = 0.0
    misconception: str | None = None
    vary: tuple[tuple[str, tuple[float, ...]], ...] = ()
    template: str = ""
    formula: str = ""

    def is_correct(self, response: Any) -> bool:
        """Whether ``response`` (bool, choice index, or number) answers this question."""
        if self.kind == "true-false":
            return isinstance(response, bool) and response == self.answer
        if self.kind == "choice":
            return (
                isinstance(response, numbers.Integral)
                and not isinstance(response, bool)
                and (int(response) == self.answer)
            )
        return (
            isinstance(response, numbers.Real)
            and not isinstance(response, bool)
            and math.isfinite(response)  # a hair of slack: 0.44 for 0.435 "to two decimals" passes
            and abs(float(response) - float(self.answer)) <= self.tolerance * (1 + 1e-9) + 1e-12
        )

    def answer_text(self) -> str:
        """The correct answer in words: "True", the correct choice, or the number."""
        if self.kind == "true-false":
            return "True" if self.answer else "False"
        if self.kind == "choice":
            return self.choices[int(self.answer)]
        return f"{self.answer:g} (accepted within ±{self.tolerance:g})"


@dataclass(frozen=True)
class Quiz:
    """A chapter's questions; ``chapter`` is the notebook's stem, e.g. ``01_gru_vs_lstm``."""

    chapter: str
    questions: tuple[Question, ...]


def chapters() -> list[str]:
    """The chapters that have a quiz, in book order."""
    return sorted(p.stem for p in QUIZ_DIR.glob("[0-9][0-9]_*.yaml"))


def _fail(where: str, message: str) -> ValueError:
    return ValueError(f"{where}: {message}")


def _question(raw: object, where: str) -> Question:
    if not isinstance(raw, dict):
        raise _fail(where, f"a question must be a mapping, got {type(raw).__name__}")
    for key in ("id", "kind", "prompt", "explanation", "section"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise _fail(where, f"{key!r} must be a non-empty string, got {raw.get(key)!r}")
    where = f"{where} ({raw['id']})"
    kind = raw["kind"]
    if kind not in KINDS:
        raise _fail(where, f"kind must be one of {KINDS}, got {kind!r}")
    choices: tuple[str, ...] = ()
    tolerance = 0.0
    if kind == "true-false":
        answer = raw.get("answer")
        if not isinstance(answer, bool):
            raise _fail(where, f"a true-false answer must be true or false, got {answer!r}")
    elif kind == "choice":
        options = raw.get("choices")
        if not isinstance(options, list) or not 2 <= len(options) <= 6:
            raise _fail(where, "choices must be a list of 2 to 6 options")
        if not all(isinstance(o, dict) and isinstance(o.get("text"), str) and o["text"] for o in options):
            raise _fail(where, "every choice needs a non-empty 'text'")
        correct = [i for i, o in enumerate(options) if o.get("correct") is True]
        if len(correct) != 1:
            raise _fail(where, f"exactly one choice must have 'correct: true', found {len(correct)}")
        choices, answer = tuple(o["text"] for o in options), correct[0]
    else:
        answer, tolerance = raw.get("answer"), raw.get("tolerance")
        for name, value in (("answer", answer), ("tolerance", tolerance)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise _fail(where, f"a numeric question's {name} must be a number, got {value!r}")
        if tolerance <= 0:
            raise _fail(where, f"tolerance must be > 0, got {tolerance}")
    vary, template, formula = _variation(raw, where, answer, tolerance)
    misconception = raw.get("misconception")
    if misconception is not None and misconception not in misconceptions():
        raise _fail(where, f"unknown misconception {misconception!r}; see misconceptions.yaml")
    prompt = _render(template, {name: values[0] for name, values in vary}) if vary else raw["prompt"].strip()
    return Question(
        raw["id"],
        kind,
        prompt,
        answer,
        raw["explanation"].strip(),
        raw["section"].strip(),
        choices,
        float(tolerance),
        misconception,
        vary,
        template,
        formula,
    )


_PLACEHOLDER = re.compile(r"\{\{(\w+)(?::([^{}]*))?\}\}")
_FUNCTIONS = {
    "comb": math.comb, "sqrt": math.sqrt, "exp": math.exp, "log": math.log, "ceil": math.ceil,
    "floor": math.floor, "min": min, "max": max, "round": round, "abs": abs,
}  # fmt: skip
_OPERATORS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Pow: operator.pow, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.USub: operator.neg, ast.UAdd: operator.pos,
}  # fmt: skip


def evaluate(formula: str, values: dict[str, float]) -> float:
    """The value of ``formula``, an arithmetic expression of ``values``' names (numbers,
    ``+ - * / // % **``, and the functions ``comb sqrt exp log ceil floor min max round abs``).

    >>> evaluate("comb(4, 2) * p**2 * (1 - p)**2", {"p": 0.5})
    0.375
    """
    if not isinstance(formula, str):
        raise TypeError(f"formula must be a string, got {type(formula).__name__}")

    def value(node: ast.AST) -> Any:
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, int | float)
            and not isinstance(node.value, bool)
        ):
            return node.value
        if isinstance(node, ast.Name) and node.id in values:
            return values[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](value(node.operand))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _FUNCTIONS
            and not node.keywords
        ):
            return _FUNCTIONS[node.func.id](*(value(a) for a in node.args))
        raise ValueError(f"formula {formula!r} may not contain {ast.unparse(node)!r}")

    try:
        tree = ast.parse(formula, mode="eval")
    except SyntaxError as error:
        raise ValueError(f"formula {formula!r} is not an expression: {error.msg}") from None
    return float(value(tree.body))


def _render(template: str, values: dict[str, float]) -> str:
    """``template`` with each ``{{name}}`` (``format(value, "g")``) or ``{{name:spec}}`` filled in."""
    return _PLACEHOLDER.sub(lambda m: format(values[m[1]], m[2] or "g"), template)


def _variation(raw: dict, where: str, answer: float, tolerance: float) -> tuple[tuple, str, str]:
    """A numeric question's ``vary``, prompt template and ``formula``, validated (empty without
    ``vary``): every list as long as the others and of numbers, every placeholder a parameter,
    and the formula giving the book's ``answer`` on the first values."""
    if "vary" not in raw and "formula" not in raw:
        return (), "", ""
    vary, formula, template = raw.get("vary"), raw.get("formula"), raw["prompt"].strip()
    if raw["kind"] != "numeric":
        raise _fail(where, "only a numeric question may have 'vary' and 'formula'")
    if not isinstance(vary, dict) or not vary or not isinstance(formula, str):
        raise _fail(where, "a question that varies needs 'vary' (name -> list of values) and 'formula'")
    lengths = {len(v) if isinstance(v, list) else 0 for v in vary.values()}
    if len(lengths) != 1 or min(lengths) < 2:
        raise _fail(where, "every list in 'vary' must hold the same number (>= 2) of values")
    for name, values in vary.items():
        if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values):
            raise _fail(where, f"vary[{name!r}] must be a list of numbers, got {values!r}")
    placeholders = {m[1] for m in _PLACEHOLDER.finditer(template)}
    if not placeholders <= set(vary) or not placeholders:
        raise _fail(where, f"the prompt's placeholders {sorted(placeholders)} must name parameters of 'vary'")
    variants = [{name: values[i] for name, values in vary.items()} for i in range(lengths.pop())]
    try:
        answers = [evaluate(formula, values) for values in variants]
    except (ValueError, TypeError, ArithmeticError) as error:
        raise _fail(where, f"formula: {error}") from None
    if not all(math.isfinite(a) for a in answers) or abs(answers[0] - answer) > tolerance:
        raise _fail(
            where, f"formula {formula!r} gives {answers[0]:g} on the first values, not the answer {answer:g}"
        )
    return tuple((name, tuple(values)) for name, values in vary.items()), template, formula


@cache
def load(chapter: str) -> Quiz:
    """Read and validate ``quizzes/<chapter>.yaml``.

    The file holds ``chapter`` (its own stem) and ``questions``, a list of mappings with ``id``
    (unique), ``kind`` (``true-false``, ``choice`` or ``numeric``), ``prompt``, ``explanation``,
    ``section`` (a heading of the chapter), and by kind ``answer`` (a bool or a number),
    ``tolerance`` (numeric, > 0) or ``choices`` (a list of ``{text, correct}``, exactly one
    ``correct: true``); optionally ``misconception``. Raises ``ValueError`` naming the file and
    question on any violation.
    """
    if not isinstance(chapter, str):
        raise TypeError(f"chapter must be a notebook stem such as '01_gru_vs_lstm', got {chapter!r}")
    path = QUIZ_DIR / f"{chapter}.yaml"
    if not path.is_file():
        raise ValueError(f"chapter must be one of {chapters()}, got {chapter!r}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or raw.get("chapter") != chapter:
        raise _fail(path.name, f"must be a mapping whose 'chapter' is {chapter!r}")
    items = raw.get("questions")
    if not isinstance(items, list) or not items:
        raise _fail(path.name, "'questions' must be a non-empty list")
    questions = tuple(_question(q, f"{path.name}, question {i + 1}") for i, q in enumerate(items))
    ids = [q.id for q in questions]
    if len(set(ids)) != len(ids):
        raise _fail(path.name, f"question ids must be unique, got {ids}")
    return Quiz(chapter, questions)


@cache
def misconceptions() -> dict[str, dict[str, str]]:
    """The misconceptions registry: id -> ``{chapter, claim, truth}``."""
    entries = yaml.safe_load((QUIZ_DIR / "misconceptions.yaml").read_text(encoding="utf-8"))
    return {e["id"]: {k: e[k] for k in ("chapter", "claim", "truth")} for e in entries}


# --- The online book: MyST Markdown with the answers in dropdowns --------------------------------


def anchor(section: str) -> str:
    """The anchor MyST gives a heading (``myst_heading_anchors``): math and backticks dropped,
    then slugified as ``myst_parser``'s ``default_slugify`` does (GitHub's rule), so
    "The $T^2$ factor" becomes ``the--factor``. Written out here so that the quiz needs no
    Sphinx in Jupyter or Colab."""
    plain = re.sub(r"`([^`]*)`", r"\1", re.sub(r"\$[^$]*\$", "", section))
    return re.sub(r"[^\w\u4e00-\u9fff\- ]", "", plain.lower().replace(" ", "-"))


def _indent(text: str) -> str:
    return "\n".join(f"   {line}" if line else "" for line in text.splitlines())


def markdown(quiz: Quiz, answers: bool = True, intro: bool = True) -> str:
    """The quiz as MyST Markdown: numbered questions, their options, and (if ``answers``) a
    collapsed dropdown per question with the answer, the explanation and a link to the section.
    ``intro`` adds a first line on how to use the quiz."""
    lines = []
    if intro:
        first = "Decide on your answer before you open its dropdown; " if answers else ""
        lines.append(
            f"{len(quiz.questions)} questions. {first}In Jupyter the same quiz is interactive: it "
            "marks each answer and keeps your score."
        )
    for n, q in enumerate(quiz.questions, 1):
        lines.append(f"**{n}.** {q.prompt}")
        if q.kind == "true-false" and "true or false" not in q.prompt.lower():
            lines.append("*True or false?*")
        elif q.kind == "choice":
            lines.append("\n".join(f"- ({chr(97 + i)}) {c}" for i, c in enumerate(q.choices)))
        elif q.kind == "numeric":
            lines.append("*Give a number.*")
        if answers:
            answer = q.answer_text()
            if q.kind == "choice":
                answer = f"({chr(97 + int(q.answer))}) {answer}"
            body = f"**{answer}.** {q.explanation} See [{q.section}](#{anchor(q.section)})."
            lines.append(f":::{{dropdown}} Answer to {n}\n{body}\n:::")
    if not answers and intro:
        lines.append("*Answers are hidden in this edition: use the quiz in Jupyter to check yours.*")
    return "\n\n".join(lines) + "\n"


# --- Jupyter: an ipywidgets quiz that marks each answer at once ----------------------------------


def _control(q: Question) -> ipywidgets.DOMWidget:
    layout = ipywidgets.Layout(width="auto")
    if q.kind == "true-false":
        return ipywidgets.ToggleButtons(options=[("True", True), ("False", False)], value=None)
    if q.kind == "choice":
        options = [(f"({chr(97 + i)}) {c}", i) for i, c in enumerate(q.choices)]
        return ipywidgets.RadioButtons(options=options, value=None, layout=layout)
    return ipywidgets.FloatText(value=None, description="Answer:")


class QuizWidget(ipywidgets.VBox):
    """The interactive quiz. ``controls[i]`` takes question ``i``'s answer (a ToggleButtons,
    RadioButtons, or FloatText plus ``buttons[i]`` to submit a number); ``verdicts[i]`` shows
    the mark and explanation; ``score`` counts questions answered right at the first try."""

    def __init__(self, quiz: Quiz):
        self.quiz = quiz
        self.controls: list[ipywidgets.DOMWidget] = []
        self.buttons: list[ipywidgets.Button | None] = []
        self.verdicts: list[ipywidgets.HTMLMath] = []
        self.first_try: dict[int, bool] = {}
        self.score = ipywidgets.HTML()
        rows: list[ipywidgets.Widget] = []
        for i, q in enumerate(quiz.questions):
            control, verdict = _control(q), ipywidgets.HTMLMath()
            button = ipywidgets.Button(description="Check") if q.kind == "numeric" else None
            if button is None:
                control.observe(lambda change, i=i: self._mark(i, change["new"]), names="value")
                row = control
            else:
                button.on_click(lambda _, i=i, c=control: self._mark(i, c.value))
                row = ipywidgets.HBox([control, button])
            self.controls.append(control)
            self.buttons.append(button)
            self.verdicts.append(verdict)
            rows += [ipywidgets.HTMLMath(f"<b>{i + 1}.</b> {q.prompt}"), row, verdict]
        self._update_score()
        super().__init__([*rows, self.score])

    def _mark(self, i: int, response: Any) -> None:
        if response is None:
            return
        q = self.quiz.questions[i]
        correct = q.is_correct(response)
        self.first_try.setdefault(i, correct)
        mark = "✅ Right." if correct else "❌ Not quite."
        self.verdicts[i].value = f"{mark} {q.explanation} <i>(See the section “{q.section}”.)</i>"
        self._update_score()

    def _update_score(self) -> None:
        right, n = sum(self.first_try.values()), len(self.quiz.questions)
        self.score.value = (
            f"<b>Score: {right} of {n}</b> right at the first try ({len(self.first_try)} answered)."
        )


def widget(quiz: Quiz) -> QuizWidget:
    """The interactive quiz for ``quiz`` (see :class:`QuizWidget`)."""
    return QuizWidget(quiz)


class _Shown:
    """What :func:`show` returns: a widget for Jupyter and Markdown for the book, in one output."""

    def __init__(self, quiz: Quiz, answers: bool):
        self.widget, self.text = widget(quiz), markdown(quiz, answers)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle = self.widget._repr_mimebundle_() or {}
        return {**bundle, "text/markdown": self.text, "text/plain": f"Quiz: {self.text[:60]}..."}


def show(chapter: str) -> _Shown:
    """Display ``chapter``'s quiz: interactive in Jupyter, with dropdown answers in the book.

    In the student edition (``COMPANION_EDITION=student`` while building) the book's version
    shows no answers.
    """
    return _Shown(load(chapter), answers=os.environ.get(EDITION_ENV) != "student")


# --- Assignments: the quiz graded like any other check --------------------------------------------


def _quiz_for_responses(chapter: str, responses: dict[str, Any]) -> Quiz:
    """The quiz of ``chapter``, once ``responses`` is checked to be a dict of its question ids."""
    quiz = load(chapter)
    if not isinstance(responses, dict):
        raise TypeError(
            f"responses must be a dict from question id to answer, got {type(responses).__name__}"
        )
    unknown = set(responses) - {q.id for q in quiz.questions}
    if unknown:
        raise ValueError(f"responses has ids that are not questions of {chapter}: {sorted(unknown)}")
    return quiz


def grade(chapter: str, responses: dict[str, Any]) -> list[dict[str, Any]]:
    """Mark ``responses`` (question id -> bool / choice index / number) and display nothing.

    Returns one record per question, ``{"exercise": "quiz-<chapter>-<id>", "correct": bool,
    "message": str}``, the same fields a check's :class:`~companion.classroom.exercises.Feedback` has.
    A missing or ``None`` response counts as not answered.
    """
    quiz = _quiz_for_responses(chapter, responses)
    records = []
    for q in quiz.questions:
        response = responses.get(q.id)
        correct = response is not None and q.is_correct(response)
        message = "right" if correct else ("not answered" if response is None else "not right yet")
        records.append({"exercise": f"quiz-{chapter}-{q.id}", "correct": correct, "message": message})
    return records


class QuizFeedback:
    """The graded quiz in a check cell: a table for the student, the records for the grader."""

    def __init__(self, records: list[dict[str, Any]]):
        self.records = records

    def __repr__(self) -> str:
        right = sum(r["correct"] for r in self.records)
        return f"Quiz: {right} of {len(self.records)} right."

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict, dict]:
        return {"text/plain": repr(self)}, {FEEDBACK_KEY: self.records}


def check(chapter: str, responses: dict[str, Any]) -> QuizFeedback:
    """The check cell of a quiz in an assignment: marks ``responses`` (see :func:`grade`)."""
    return QuizFeedback(grade(chapter, responses))


# --- Graded quizzes: a variant per student, recorded in the notebook, marked by the grader ------


def variant(quiz: Quiz, seed: int) -> Quiz:
    """The student's own version of ``quiz``, drawn from ``seed`` (an int >= 0; the same seed
    gives the same variant): each choice question's options in a shuffled order (``answer`` is
    the correct option's new index), and each numeric question with ``vary`` at one of its
    variants other than the book's (the first), its prompt and answer computed from them.
    True-false questions stay as they are. Question ids do not change."""
    if not isinstance(quiz, Quiz):
        raise TypeError(f"quiz must be a companion.classroom.quiz.Quiz, got {type(quiz).__name__}")
    seed = require_seed("seed", seed)
    questions = []
    for q in quiz.questions:
        rng = random.Random(f"{seed}/{quiz.chapter}/{q.id}")  # a str seed: the same on every machine
        if q.kind == "choice":
            order = rng.sample(range(len(q.choices)), len(q.choices))
            q = dataclasses.replace(
                q, choices=tuple(q.choices[i] for i in order), answer=order.index(q.answer)
            )
        elif q.vary:
            n = len(q.vary[0][1])
            index = rng.randrange(1, n)
            values = {name: options[index] for name, options in q.vary}
            q = dataclasses.replace(q, prompt=_render(q.template, values), answer=evaluate(q.formula, values))
        questions.append(q)
    return Quiz(quiz.chapter, tuple(questions))


def key(quiz: Quiz) -> dict[str, dict[str, Any]]:
    """The answers of ``quiz`` (a student's :func:`variant`) by question id, as the instructor's
    ``quiz_key.json`` holds them: ``{id: {"kind", "answer", "tolerance"}}``."""
    if not isinstance(quiz, Quiz):
        raise TypeError(f"quiz must be a companion.classroom.quiz.Quiz, got {type(quiz).__name__}")
    return {q.id: {"kind": q.kind, "answer": q.answer, "tolerance": q.tolerance} for q in quiz.questions}


def mark(entry: dict[str, Any], response: Any) -> bool:
    """Whether ``response`` answers the question whose :func:`key` entry is ``entry``."""
    if not isinstance(entry, dict) or entry.get("kind") not in KINDS or "answer" not in entry:
        raise ValueError(f"entry must be a quiz key entry with 'kind' and 'answer', got {entry!r}")
    question = Question(
        "", entry["kind"], "", entry["answer"], "", "", tolerance=float(entry.get("tolerance", 0))
    )
    return question.is_correct(response)


def _plain(response: Any) -> Any:
    """A response as JSON can hold it: a bool, an int, a float, ``None``, or what it was, in words.
    A NumPy scalar or a one-element tensor counts as its Python value."""
    if not isinstance(response, numbers.Number | bool | None) and callable(getattr(response, "item", None)):
        try:
            response = response.item()
        except (ValueError, RuntimeError, TypeError):
            pass
    if response is None or isinstance(response, bool):
        return response
    if isinstance(response, numbers.Integral):
        return int(response)
    if isinstance(response, numbers.Real):
        return float(response) if math.isfinite(response) else repr(float(response))
    return f"<{type(response).__name__}>"


class QuizRecord:
    """The check cell of a graded quiz: how many answers it recorded, for the student; the
    answers, for the grader (who marks them with the key)."""

    def __init__(self, records: list[dict[str, Any]]):
        self.records = records

    def __repr__(self) -> str:
        given = sum(r["response"] is not None for r in self.records)
        return (
            f"Quiz: {given} of {len(self.records)} questions answered. Your answers are recorded; "
            "the grader marks them."
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict, dict]:
        return {"text/plain": repr(self)}, {FEEDBACK_KEY: self.records}


def record(chapter: str, responses: dict[str, Any]) -> QuizRecord:
    """The check cell of a graded quiz in an assignment: records ``responses`` (question id ->
    bool / choice index / number) without marking them, since the key is not in the package.

    Each record is ``{"exercise": "quiz-<chapter>-<id>", "correct": None, "response": ...,
    "message": "recorded"}``; the grader fills in ``correct`` from the instructor's key.
    """
    quiz = _quiz_for_responses(chapter, responses)
    return QuizRecord(
        [
            {
                "exercise": f"quiz-{chapter}-{q.id}",
                "correct": None,
                "response": _plain(responses.get(q.id)),
                "message": "recorded",
            }
            for q in quiz.questions
        ]
    )
