import hashlib
import re
from pathlib import Path

import nbformat
import pytest
import yaml

from companion.classroom import quiz
from companion.classroom.exercises import FEEDBACK_KEY

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted(p.stem for p in (ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
NOTES = ROOT / "book" / "check_your_notes.md"


def role(cell) -> str | None:
    return cell.metadata.get("companion", {}).get("role")


def _headings(chapter: str) -> set[str]:
    nb = nbformat.read(ROOT / "book" / f"{chapter}.ipynb", as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return {h.strip() for h in re.findall(r"^#{2,3} (.+)$", text, flags=re.M)}


def test_every_chapter_has_a_quiz():
    assert quiz.chapters() == CHAPTERS


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_question_parses_and_points_to_a_section(chapter):
    q = quiz.load(chapter)
    assert len(q.questions) >= 6
    assert {x.kind for x in q.questions} == set(quiz.KINDS), "true/false, choice and numeric questions"
    headings = _headings(chapter)
    for x in q.questions:
        assert x.section in headings, f"{chapter}/{x.id}: no heading {x.section!r}"
        assert len(x.explanation) > 40 and x.prompt
        if x.kind == "choice":
            assert 0 <= x.answer < len(x.choices) and len(set(x.choices)) == len(x.choices)
        if x.kind == "numeric":
            assert 0 < x.tolerance <= max(abs(x.answer), 1) * 0.1, "a tolerance, not a range"
        assert x.is_correct(_right(x)) and not x.is_correct(_wrong(x))


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_chapter_has_one_quiz_cell_before_its_references(chapter):
    nb = nbformat.read(ROOT / "book" / f"{chapter}.ipynb", as_version=4)
    cells = [i for i, c in enumerate(nb.cells) if role(c) == "quiz"]
    assert len(cells) == 1 and nb.cells[cells[0]].source.strip().endswith(f'quiz.show("{chapter}")')
    assert "remove-input" in nb.cells[cells[0]].metadata.get("tags", [])
    references = [i for i, c in enumerate(nb.cells) if c.source.startswith("## References")]
    assert references and cells[0] < references[0]
    heading = nb.cells[cells[0] - 1].source
    assert heading.strip().startswith("## Check your understanding")


def test_every_misconception_is_in_its_chapter_quiz_and_on_the_notes_page():
    notes = NOTES.read_text(encoding="utf-8")
    registry = quiz.misconceptions()
    assert len(registry) >= 14
    for mid, entry in registry.items():
        questions = [q for q in quiz.load(entry["chapter"]).questions if q.misconception == mid]
        assert questions, f"misconception {mid} has no question in {entry['chapter']}'s quiz"
        assert f"(note-{mid})=" in notes, f"misconception {mid} has no entry on the notes page"
    raw = yaml.safe_load((quiz.QUIZ_DIR / "misconceptions.yaml").read_text())
    assert len({e["id"] for e in raw}) == len(raw)


def test_the_notes_page_never_copies_the_source_notes():
    """No 50-character run of the source notes appears on the page (compared through hashes,
    so the notes' sentences are not stored in this repository either)."""
    lines = (ROOT / "tests" / "data" / "seed_note_shingles.txt").read_text().splitlines()
    shingles = {line for line in lines if line and not line.startswith("#")}
    assert len(shingles) > 1000
    text = " ".join(NOTES.read_text(encoding="utf-8").split()).lower()
    copied = [
        text[i : i + 50]
        for i in range(len(text) - 49)
        if hashlib.blake2b(text[i : i + 50].encode(), digest_size=8).hexdigest() in shingles
    ]
    assert not copied, f"copied from the source notes: {copied[:3]}"


def _right(q: quiz.Question):
    return q.answer if q.kind != "numeric" else q.answer + q.tolerance / 2


def _wrong(q: quiz.Question):
    if q.kind == "true-false":
        return not q.answer
    if q.kind == "choice":
        return (q.answer + 1) % len(q.choices)
    return q.answer + 3 * q.tolerance


def test_the_widget_marks_right_and_wrong_answers_and_keeps_score():
    q = quiz.load("06_probability_exercise")
    w = quiz.widget(q)
    assert "0 of" in w.score.value
    first, *rest = q.questions
    _answer(w, 0, _wrong(first))
    assert w.verdicts[0].value.startswith("❌") and first.explanation in w.verdicts[0].value
    _answer(w, 0, _right(first))
    assert w.verdicts[0].value.startswith("✅")
    for i, x in enumerate(rest, 1):
        _answer(w, i, _right(x))
        assert w.verdicts[i].value.startswith("✅"), x.id
    n = len(q.questions)
    assert f"Score: {n - 1} of {n}</b> right at the first try ({n} answered)" in w.score.value


def _answer(w, i, value):
    w.controls[i].value = value
    if w.buttons[i] is not None:
        w.buttons[i].click()


def test_markdown_shows_answers_in_dropdowns_or_hides_them():
    q = quiz.load("01_gru_vs_lstm")
    with_answers = quiz.markdown(q)
    assert with_answers.count(":::{dropdown} Answer to") == len(q.questions)
    for x in q.questions:
        assert x.explanation in with_answers
    without = quiz.markdown(q, answers=False)
    assert "dropdown" not in without and not any(x.explanation in without for x in q.questions)


def test_show_offers_the_widget_and_the_markdown(monkeypatch):
    bundle = quiz.show("01_gru_vs_lstm")._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and ":::{dropdown}" in bundle["text/markdown"]
    monkeypatch.setenv(quiz.EDITION_ENV, "student")
    assert ":::{dropdown}" not in quiz.show("01_gru_vs_lstm")._repr_mimebundle_()["text/markdown"]


def test_a_graded_quiz_reports_one_verdict_per_question():
    q = quiz.load("02_defensive_distillation")
    responses = {x.id: _right(x) for x in q.questions}
    responses[q.questions[0].id] = _wrong(q.questions[0])
    del responses[q.questions[1].id]
    records = quiz.check("02_defensive_distillation", responses)._repr_mimebundle_()[1][FEEDBACK_KEY]
    assert [r["correct"] for r in records] == [False, False] + [True] * (len(q.questions) - 2)
    assert records[1]["message"] == "not answered"
    with pytest.raises(ValueError, match="responses has ids that are not questions"):
        quiz.grade("02_defensive_distillation", {"nope": True})


def test_load_names_the_problem(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="chapter must be one of"):
        quiz.load("99_nope")
    bad = {
        "chapter": "98_bad",
        "questions": [{"id": "a", "kind": "choice", "prompt": "p", "explanation": "e", "section": "s",
                       "choices": [{"text": "x", "correct": True}, {"text": "y", "correct": True}]}],
    }  # fmt: skip
    (tmp_path / "98_bad.yaml").write_text(yaml.safe_dump(bad))
    (tmp_path / "misconceptions.yaml").write_text("[]")
    monkeypatch.setattr(quiz, "QUIZ_DIR", tmp_path)
    quiz.load.cache_clear()
    quiz.misconceptions.cache_clear()
    try:
        with pytest.raises(ValueError, match=r"98_bad.yaml, question 1 \(a\): exactly one choice"):
            quiz.load("98_bad")
    finally:
        quiz.load.cache_clear()
        quiz.misconceptions.cache_clear()


def test_anchor_matches_myst_heading_anchors():
    from myst_parser.mdit_to_docutils.base import default_slugify

    for chapter in CHAPTERS:
        for heading in _headings(chapter):
            plain = re.sub(r"`([^`]*)`", r"\1", re.sub(r"\$[^$]*\$", "", heading))
            assert quiz.anchor(heading) == default_slugify(plain)


@pytest.mark.parametrize(
    "chapter", [p.stem for p in sorted(Path(__file__).parent.parent.glob("book/[0-9][0-9]_*.ipynb"))]
)
def test_markdown_asks_for_a_number_only_in_numeric_questions(chapter):
    q = quiz.load(chapter)
    text = quiz.markdown(q, answers=False, intro=False)
    blocks = text.split("\n\n")
    for n, question in enumerate(q.questions, 1):
        at = blocks.index(next(b for b in blocks if b.startswith(f"**{n}.**")))
        asks = blocks[at + 1].strip() if at + 1 < len(blocks) else ""
        assert (asks == "*Give a number.*") == (question.kind == "numeric"), (question.id, asks)


def test_a_variant_shuffles_the_options_and_draws_the_numbers_of_each_student():
    book = quiz.load("06_probability_exercise")
    ada, alan = quiz.variant(book, 101), quiz.variant(book, 202)
    assert ada == quiz.variant(book, 101), "the same seed, the same variant"
    assert [q.id for q in ada.questions] == [q.id for q in book.questions]
    for mine, theirs, original in zip(ada.questions, alan.questions, book.questions, strict=True):
        if original.kind == "choice":
            assert sorted(mine.choices) == sorted(original.choices)
            assert mine.choices[mine.answer] == original.choices[original.answer], "the same right option"
        elif original.vary:
            for variant in (mine, theirs):
                values = dict(re.findall(r"(\w+) = ([\d.]+)", variant.prompt)) or variant.prompt
                assert variant.prompt != original.prompt, values
                assert abs(variant.answer - original.answer) > original.tolerance, "never the book's answer"
        else:
            assert mine == original
    shuffled = [quiz.variant(book, seed) for seed in range(20)]
    choice = next(n for n, q in enumerate(book.questions) if q.kind == "choice")
    assert len({v.questions[choice].choices for v in shuffled}) > 5, "orders differ between students"
    with pytest.raises(TypeError, match="quiz must be a companion.classroom.quiz.Quiz"):
        quiz.variant("06_probability_exercise", 1)
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        quiz.variant(book, -1)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_variant_of_a_numeric_question_has_its_own_answer(chapter):
    for q in quiz.load(chapter).questions:
        if not q.vary:
            continue
        count = len(q.vary[0][1])
        answers = [quiz.evaluate(q.formula, {k: v[i] for k, v in q.vary}) for i in range(count)]
        assert abs(answers[0] - q.answer) <= q.tolerance, "the book's variant is the book's answer"
        assert all(abs(a - answers[0]) > q.tolerance for a in answers[1:]), q.id
        assert "{{" not in q.prompt


def test_a_recorded_quiz_holds_the_answers_and_no_verdict_and_the_key_marks_them():
    book = quiz.load("02_defensive_distillation")
    mine = quiz.variant(book, 7)
    import numpy as np

    responses = {q.id: _right(q) for q in mine.questions}
    first, second, *_ = mine.questions
    responses[first.id] = np.float64(responses[first.id]) if first.kind == "numeric" else responses[first.id]
    del responses[second.id]
    shown = quiz.record("02_defensive_distillation", responses)
    data, metadata = shown._repr_mimebundle_()
    n = len(mine.questions)
    assert (
        data["text/plain"]
        == f"Quiz: {n - 1} of {n} questions answered. Your answers are recorded; the grader marks them."
    )
    records = metadata[FEEDBACK_KEY]
    assert all(r["correct"] is None and r["message"] == "recorded" for r in records)
    assert records[1]["response"] is None and "answer" not in records[0], "no key in the notebook"
    key = quiz.key(mine)
    marks = [
        r["response"] is not None and quiz.mark(key[q.id], r["response"])
        for q, r in zip(mine.questions, records, strict=True)
    ]
    assert marks == [True, False] + [True] * (n - 2)
    if any(
        q.kind == "choice" and q.answer != b.answer
        for q, b in zip(mine.questions, book.questions, strict=True)
    ):
        book_key = quiz.key(book)
        answered = [(q, r) for q, r in zip(mine.questions, records, strict=True) if r["response"] is not None]
        assert not all(quiz.mark(book_key[q.id], r["response"]) for q, r in answered), "the book's key fails"
    assert quiz.record("02_defensive_distillation", {first.id: "twelve"}).records[0]["response"] == "<str>"
    with pytest.raises(ValueError, match="entry must be a quiz key entry"):
        quiz.mark({"answer": 1}, 1)
    with pytest.raises(TypeError, match="responses must be a dict"):
        quiz.record("02_defensive_distillation", [1])
    with pytest.raises(ValueError, match="responses has ids that are not questions"):
        quiz.record("02_defensive_distillation", {"nope": 1})


def test_evaluate_computes_arithmetic_only():
    assert quiz.evaluate("ceil(log(0.5) / log(1 - eps))", {"eps": 0.01}) == 69
    for bad in ("__import__('os')", "p.real", "open('x')", "[p]", "p if p else 1", "min(p, key=abs)"):
        with pytest.raises(ValueError, match="may not contain"):
            quiz.evaluate(bad, {"p": 1.0})
    with pytest.raises(ValueError, match="is not an expression"):
        quiz.evaluate("p +", {"p": 1.0})
    with pytest.raises(TypeError, match="formula must be a string"):
        quiz.evaluate(3, {})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"vary": {"p": [0.2, 0.3], "q": [1]}}, "same number"),
        ({"vary": {"p": [0.2]}}, "same number"),
        ({"vary": {"p": [0.2, "x"]}}, r"vary\['p'\] must be a list of numbers"),
        ({"formula": "2 * p"}, "gives 0.4 on the first values, not the answer 0.04"),
        ({"formula": "p ** 2 + r"}, "formula: formula 'p \\*\\* 2 \\+ r' may not contain 'r'"),
        ({"prompt": "P is {{r}}"}, "placeholders \\['r'\\] must name parameters"),
        ({"formula": None}, "needs 'vary'"),
    ],
)
def test_load_refuses_a_bad_variation(tmp_path, monkeypatch, change, message):
    question = {"id": "a", "kind": "numeric", "prompt": "P is {{p}}, squared?", "explanation": "e",
                "section": "s", "answer": 0.04, "tolerance": 0.001, "vary": {"p": [0.2, 0.3]},
                "formula": "p ** 2"}  # fmt: skip
    question.update(change)
    question = {k: v for k, v in question.items() if v is not None}
    (tmp_path / "98_bad.yaml").write_text(yaml.safe_dump({"chapter": "98_bad", "questions": [question]}))
    (tmp_path / "misconceptions.yaml").write_text("[]")
    monkeypatch.setattr(quiz, "QUIZ_DIR", tmp_path)
    quiz.load.cache_clear()
    quiz.misconceptions.cache_clear()
    try:
        with pytest.raises(ValueError, match=r"98_bad.yaml, question 1 \(a\): .*" + message):
            quiz.load("98_bad")
    finally:
        quiz.load.cache_clear()
        quiz.misconceptions.cache_clear()
