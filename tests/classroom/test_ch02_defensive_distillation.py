"""The checks of chapter 2's exercises (companion.classroom.checks.ch02_defensive_distillation)."""

import math
import re
import time

import numpy as np
import pytest
import torch
from feedback_asserts import not_yet, stub

from companion.attacks import fgsm, logit_margin
from companion.classroom.checks.ch02_defensive_distillation import (
    EPSILONS,
    _range_phrase,
    check_fgsm_budgets,
    check_float32_thresholds,
    check_softmax,
)
from companion.distillation import defensive_distillation, softmax_cross_entropy, softmax_with_temperature


@pytest.fixture(scope="module")
def distilled(digits):
    """The chapter's distilled student at T = 50 with the default config."""
    return defensive_distillation(digits, 50)


def _refuses_t(softmax):
    def candidate(z, T):
        if T <= 0:
            raise ValueError("T must be > 0")
        return softmax(z, T)

    return candidate


def _softmax(z, dim=1):
    """A stable softmax over ``dim`` written from torch.exp (torch's own is refused in the check)."""
    e = torch.exp(z - z.max(dim=dim, keepdim=True).values)
    return e / e.sum(dim=dim, keepdim=True)


def _stable(z, T):
    """The exercise's answer, written out (softmax_with_temperature is unavailable in the check)."""
    if not T > 0:
        raise ValueError(f"T must be > 0, got {T}")
    return _softmax(z / T)


def test_check_softmax_accepts_a_stable_softmax_and_explains_failures():
    feedback = check_softmax(_stable)
    assert feedback.correct is True and feedback.exercise == "ex-distillation-stable"
    assert "T <= 0 is refused" in feedback.message
    naive = _refuses_t(lambda z, T: torch.exp(z / T) / torch.exp(z / T).sum(dim=1, keepdim=True))
    not_yet(check_softmax(naive), "non-finite", "Which shift")
    not_yet(check_softmax(_refuses_t(lambda z, T: _softmax(z))), "wrong probabilities")
    not_yet(check_softmax(_refuses_t(lambda z, T: _softmax(z / T, dim=0))), "which dimension")
    not_yet(check_softmax(lambda z, T: _softmax(z / abs(T or 1.0))), "should raise ValueError")
    not_yet(check_softmax(_refuses_t(lambda z, T: (z / T).tolist())), "float tensor of shape (N, K)")
    not_yet(check_softmax(_refuses_t(lambda z, T: _softmax(z / T)[:, :5])), "got (6, 5)")

    def assert_on_t(z, T):
        assert T > 0
        return _softmax(z / T)

    not_yet(check_softmax(assert_on_t), "should raise ValueError", "raised AssertionError")
    unavailable = "companion.distillation.softmax_with_temperature is unavailable in exercise"
    not_yet(check_softmax(softmax_with_temperature), unavailable)  # the one-call answer
    not_yet(check_softmax(lambda z, T: softmax_with_temperature(z, T)), unavailable, "your own code")
    assert softmax_with_temperature(torch.zeros(1, 2), 1.0).tolist() == [[0.5, 0.5]], "restored after"


@pytest.mark.parametrize(
    "library",
    [
        lambda z, T: torch.softmax(z / T, dim=1),
        lambda z, T: torch.nn.functional.softmax(z / T, dim=1),
        lambda z, T: (z / T).softmax(dim=1),
        lambda z, T: torch.special.softmax(z / T, dim=1),
        lambda z, T: torch.log_softmax(z / T, dim=1).exp(),
        lambda z, T: (z / T).log_softmax(dim=1).exp(),
    ],
)
def test_check_softmax_refuses_torchs_own_softmax(library):
    not_yet(check_softmax(_refuses_t(library)), "called torch's own softmax", "torch.exp")
    z = torch.tensor([[0.0, 0.0]])  # and every one of them is restored afterwards
    assert torch.softmax(z, dim=1).tolist() == [[0.5, 0.5]] == z.softmax(dim=1).tolist()
    assert torch.nn.functional.log_softmax(z, dim=1).exp().tolist() == [[0.5, 0.5]]
    assert "softmax" not in torch.Tensor.__dict__ and "log_softmax" not in torch.Tensor.__dict__


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (None, "`my_softmax` is still None"),
        (stub, "still raises NotImplementedError"),
        (lambda z: z, "`my_softmax` raised TypeError"),  # the wrong signature
        (lambda z, T: torch.log(z, T), "raised TypeError"),
        ("softmax", "must be a function, got str"),
    ],
)
def test_check_softmax_unanswered_or_failing_is_not_yet(answer, hint):
    message = not_yet(check_softmax(answer), hint)
    assert "maximum" not in message and ".max(" not in message and "subtract" not in message  # no trick


LN2 = math.log(2)


@pytest.mark.parametrize(
    ("g_one", "g_zero"),
    [
        (24 * LN2, 150 * LN2),
        (16.64, 103.98),  # read off the notebook's grid of step 0.01
        (16.6, 104.0),
        (torch.tensor(16.64), np.float32(103.98)),
    ],
)
def test_check_float32_thresholds_accepts_the_thresholds(g_one, g_zero):
    feedback = check_float32_thresholds(g_one, g_zero)
    assert feedback.correct is True and feedback.exercise == "ex-distillation-float32", feedback


def test_float32_thresholds_are_what_torch_does():
    """The two exact thresholds the check accepts, measured on torch's float32 softmax."""
    for g, one, zero in ((24 * LN2 - 0.01, False, False), (24 * LN2 + 0.01, True, False),
                         (150 * LN2 - 0.01, True, False), (150 * LN2 + 0.01, True, True)):  # fmt: skip
        F = torch.softmax(torch.tensor([[g, 0.0]]), dim=1)[0]
        assert (F[0].item() == 1.0, F[1].item() == 0.0) == (one, zero), g


@pytest.mark.parametrize(
    ("g_one", "g_zero", "hint"),
    [
        (23 * LN2, 150 * LN2, "full spacing"),
        (24, 150 * LN2, "exponent of 2"),
        (24 * LN2, 150, "exponent of 2"),
        (24 * LN2, 149 * LN2, "smallest subnormal"),
        (24 * LN2, 126 * LN2, "subnormal numbers"),
        (24 * LN2, 128 * LN2, "never overflows"),
        (150 * LN2, 24 * LN2, "swapped"),
        (17.0, 150 * LN2, "close but not within"),
        (50.0, 150 * LN2, "spacing of float32 numbers just above 1"),
        (24 * LN2, 60.0, "smallest positive float32"),
        (None, 150 * LN2, "`g_one` is still None"),
        (24 * LN2, None, "`g_zero` is still None"),
        ("16.6", 150 * LN2, "must be a number"),
        (torch.tensor([16.6, 16.7]), 150 * LN2, "got Tensor with 2 values"),
        (float("nan"), 150 * LN2, "must be a number, the gap g, got nan"),
    ],
)
def test_check_float32_thresholds_hints_without_revealing(g_one, g_zero, hint):
    message = not_yet(check_float32_thresholds(g_one, g_zero), hint)
    for answer in ("16.6", "103.9", "104", "24 ln", "150 ln", "ln 2", "ln(2)"):
        assert answer not in message.replace("'16.6'", ""), (answer, message)


def test_both_wrong_thresholds_get_both_hints():
    not_yet(check_float32_thresholds(23 * LN2, 149 * LN2), "`g_one`: at the full", "`g_zero`: 2^-149")


def _rates(standard, student, x, y, eps=EPSILONS):
    """The exercise's reference solution: rates[loss][model] over the four budgets."""
    losses = {"softmax_cross_entropy": softmax_cross_entropy, "logit_margin": logit_margin}
    models = {"standard": standard, "distilled": student}
    return {
        loss_name: {
            name: [fgsm(m, x, y, e, loss=loss).success_rate for e in eps] for name, m in models.items()
        }
        for loss_name, loss in losses.items()
    }


@pytest.fixture(scope="module")
def eps_exercise(digits, trained_mlp, distilled):
    args = (trained_mlp[0], distilled.student, digits.x_test, digits.y_test)
    return _rates(*args), args


def test_check_fgsm_budgets_accepts_the_measured_rates(eps_exercise):
    rates, args = eps_exercise
    start = time.perf_counter()
    feedback = check_fgsm_budgets(rates, *args)
    assert time.perf_counter() - start < 2.0  # recomputing the 16 attacks is cheap
    assert feedback.correct is True and feedback.exercise == "ex-distillation-eps", feedback
    rounded = {
        loss: {m: torch.tensor([round(r, 2) for r in v]) for m, v in d.items()} for loss, d in rates.items()
    }
    keyed_by_function = {
        softmax_cross_entropy: rounded["softmax_cross_entropy"],
        logit_margin: rates["logit_margin"],
    }
    assert check_fgsm_budgets(keyed_by_function, *args).correct
    on_f = [f"{r:.2f}" for r in rates["softmax_cross_entropy"]["distilled"]]
    if len(set(on_f)) == 1:  # the chapter's student: the same rate at every eps
        assert f"stays at {on_f[0]} whatever eps" in feedback.message, feedback.message
    assert not re.search(r"between (\d\.\d\d) and \1\b", feedback.message), feedback.message


def test_success_message_names_a_range_only_when_the_rates_differ():
    assert _range_phrase([0.0822, 0.0844, 0.0811]) == "stays at 0.08"
    assert _range_phrase([0.05, 0.0867]) == "stays between 0.05 and 0.09"


def test_check_fgsm_budgets_names_the_slip(eps_exercise):
    rates, args = eps_exercise
    swap_models = {
        loss: {"standard": d["distilled"], "distilled": d["standard"]} for loss, d in rates.items()
    }
    not_yet(check_fgsm_budgets(swap_models, *args), "standard and distilled entries look swapped")
    swap_losses = {
        "softmax_cross_entropy": rates["logit_margin"],
        "logit_margin": rates["softmax_cross_entropy"],
    }
    not_yet(check_fgsm_budgets(swap_losses, *args), "two losses look swapped")
    reverse = {loss: {m: v[::-1] for m, v in d.items()} for loss, d in rates.items()}
    not_yet(check_fgsm_budgets(reverse, *args), "reverse order")
    accuracies = {loss: {m: [1 - r for r in v] for m, v in d.items()} for loss, d in rates.items()}
    not_yet(check_fgsm_budgets(accuracies, *args), "accuracies under attack")
    one_off = {loss: {m: list(v) for m, v in d.items()} for loss, d in rates.items()}
    one_off["logit_margin"]["distilled"][1] -= 0.1
    message = not_yet(check_fgsm_budgets(one_off, *args), "rates['logit_margin']['distilled'] at eps = 0.1")
    for values in (v for d in rates.values() for v in d.values()):
        for rate in values:
            assert f"{rate:.2f}" not in message and f"{rate:.3f}" not in message


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (None, "`rates` is still None"),
        ([0.1, 0.2], "must be a dict rates[loss][model] of FGSM success rates, got list"),
        ({"softmax_cross_entropy": {}}, "one key per loss"),
        ({"softmax_cross_entropy": {"standard": []}, "logit_margin": {}}, "keys ['standard', 'distilled']"),
        ({"softmax_cross_entropy": [1], "logit_margin": {}}, "got list"),
    ],
)
def test_check_fgsm_budgets_unanswered_or_malformed_is_not_yet(eps_exercise, answer, hint):
    not_yet(check_fgsm_budgets(answer, *eps_exercise[1]), hint)


def test_check_fgsm_budgets_checks_each_list(eps_exercise):
    rates, args = eps_exercise
    for bad, hint in (
        ([0.1, 0.2], "list of 4 success rates, one per eps: 4 numbers, got 2"),
        ("0.1 0.2 0.3 0.4", "got str"),
        ([10.0, 50.0, 90.0, 100.0], "not percentages"),
        ([0.1, None, 0.3, 0.4], "['standard'][1]` is still None"),
    ):
        answer = {**rates, "logit_margin": {**rates["logit_margin"], "standard": bad}}
        not_yet(check_fgsm_budgets(answer, *args), "rates['logit_margin']['standard']", hint)


def test_check_fgsm_budgets_validates_the_exercise(eps_exercise):
    rates, (standard, student, x, y) = eps_exercise
    with pytest.raises(TypeError, match="standard must be a torch.nn.Module, got dict"):
        check_fgsm_budgets(rates, {}, student, x, y)
    with pytest.raises(ValueError, match="eps must be a non-empty sequence"):
        check_fgsm_budgets(rates, standard, student, x, y, eps=())
    with pytest.raises(ValueError, match=r"eps\[i\] must be >= 0"):
        check_fgsm_budgets(rates, standard, student, x, y, eps=(0.1, -0.1))
