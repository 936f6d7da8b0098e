"""Chapter 4's exercise checks (companion.classroom.checks.ch04_boundary_attack)."""

import pytest
import torch
from feedback_asserts import stub

from companion.boundary import accept
from companion.classroom.checks.ch04_boundary_attack import check_accept, check_queries_to_halve


def test_check_accept_passes_the_rule_and_gives_hints_otherwise():
    feedback = check_accept(lambda labels, y, d_new, d: (labels != y) & (d_new < d))
    assert feedback.correct is True and feedback.exercise == "ex-boundary-accept"
    refused = check_accept(accept)  # boundary.accept would answer it in one call: the check refuses it
    assert refused.correct is False and "companion.boundary.accept is unavailable" in refused.message
    mistakes = [
        (lambda labels, y, d_new, d: labels != y, "never increase"),
        (lambda labels, y, d_new, d: d_new < d, "not adversarial"),
        (
            lambda labels, y, d_new, d: (labels != y).all() & (d_new < d),
            "check both conditions",
        ),  # not per sample
        (lambda labels, y, d_new, d: (labels != y) & (d_new <= d), "strictly closer"),
        (lambda labels, y, d_new, d: ((labels != y) & (d_new < d)).float(), "bool tensor"),
    ]
    for candidate, hint in mistakes:
        feedback = check_accept(candidate)
        assert feedback.correct is False and hint in feedback.message, feedback
        assert "&" not in feedback.message and "<" not in feedback.message  # no code, no answer


def _broken(*args):
    return args[0].history["steps"]  # fails inside the student's code (no such key)


@pytest.mark.parametrize("check", [check_accept, check_queries_to_halve])
@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (None, "is still None"),
        (stub, "still raises NotImplementedError"),
        (_broken, "raised"),
        (3, "function"),
    ],
)
def test_checks_say_not_yet_to_an_unanswered_stub(check, answer, hint):
    feedback = check(answer)  # never raises
    assert feedback.correct is False and hint in feedback.message, feedback


def _queries_to_halve(result):
    """The notebook's solution."""
    halved = result.l2_history <= result.l2_history[:1] / 2  # (steps + 1, N)
    first = halved.float().argmax(dim=0)  # first step with d_k <= d_0 / 2 (0 if never)
    spent = result.history["queries"].gather(0, first[None])[0]
    return spent[halved.any(dim=0)].float()


def test_check_queries_to_halve_accepts_the_solution_on_a_known_case_and_the_chapters_results(
    boundary_experiment,
):
    *_, results = boundary_experiment
    feedback = check_queries_to_halve(_queries_to_halve, results)
    assert feedback.correct is True and feedback.exercise == "ex-boundary-halve"
    assert "your 2 attack result(s)" in feedback.message
    as_list = check_queries_to_halve(lambda result: _queries_to_halve(result).long().tolist())
    assert as_list.correct is True
    with pytest.raises(TypeError, match=r"results\['standard'\] must be a BoundaryResult"):
        check_queries_to_halve(_queries_to_halve, {"standard": results["standard"].adversarial})


def _first_step(result, strict=False, last=False, keep_all=False, steps=False):
    """Typical mistakes: ``<`` for ``<=``, the last halving step, every digit, step numbers."""
    l2 = result.l2_history
    halved = l2 < l2[:1] / 2 if strict else l2 <= l2[:1] / 2
    index = halved.int().argmax(dim=0)
    if last:
        index = len(l2) - 1 - halved.flip(0).int().argmax(dim=0)
    spent = index if steps else result.history["queries"].gather(0, index[None])[0]
    return spent if keep_all else spent[halved.any(dim=0)]


@pytest.mark.parametrize(
    ("candidate", "hint"),
    [
        (lambda r: _first_step(r, strict=True), "exactly half"),
        (lambda r: _first_step(r, last=True), "the FIRST step"),
        (lambda r: _first_step(r, keep_all=True), "leave out the digits that never get there"),
        (lambda r: _first_step(r, steps=True), "step numbers"),
        (lambda r: _first_step(r)[:2], "got 2 values"),
        (lambda r: _first_step(r)[None], "1-d tensor"),
        (lambda r: "many", "1-d tensor"),
    ],
)
def test_check_queries_to_halve_names_each_mistake_without_the_answer(candidate, hint):
    feedback = check_queries_to_halve(candidate)
    assert feedback.correct is False and hint in feedback.message, feedback
    for answer in ("15", "16", "23", "28"):  # the hand-made result's answer
        assert answer not in feedback.message


def test_check_queries_to_halve_tests_the_chapters_results_too(boundary_experiment):
    *_, results = boundary_experiment

    def memorised(result):  # knows only the hand-made result's answer
        return torch.tensor([15, 16, 23, 28])

    assert check_queries_to_halve(memorised).correct is True
    feedback = check_queries_to_halve(memorised, results)
    assert feedback.correct is False and "on results['standard']" in feedback.message
