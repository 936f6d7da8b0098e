"""Chapter 3's exercise checks (companion.classroom.checks.ch03_adversarial_training)."""

import pytest
import torch
from feedback_asserts import stub

from companion import adversarial as adv
from companion.classroom.checks import ch03_adversarial_training as checks
from companion.training import seeded_model


@pytest.fixture(scope="module")
def models(adversarial_trained):
    return {name: model for name, (model, _) in adversarial_trained.items()}


def _step_correct(x_adv, x, gradient, eps, step_size):
    x_adv = x_adv + step_size * gradient.sign()
    x_adv = x + (x_adv - x).clamp(-eps, eps)
    return x_adv.clamp(0, 1)


def _step_back_to_x_outside_the_ball(x_adv, x, gradient, eps, step_size):
    x_new = x_adv + step_size * gradient.sign()
    return torch.where((x_new - x).abs() > eps, x, x_new).clamp(0, 1)


def test_check_pgd_step_accepts_a_correct_step():
    feedback = checks.check_pgd_step(_step_correct)
    assert feedback.correct is True and feedback.exercise == "ex-adv-pgd-step"
    assert "passes all 3 checks" in feedback.message
    in_float64 = checks.check_pgd_step(lambda a, x, g, e, s: _step_correct(a.double(), x.double(), g, e, s))
    assert in_float64.correct is True


@pytest.mark.parametrize(
    ("step", "hint"),
    [
        (lambda a, x, g, e, s: x + (a + s * g.sign() - x).clamp(-e, e), "clipped to the box"),
        (lambda a, x, g, e, s: (a + (s * g.sign()).clamp(-e, e)).clamp(0, 1), "ORIGINAL x"),
        (lambda a, x, g, e, s: _step_correct(a, x, -g, e, s), "increases"),
        (lambda a, x, g, e, s: (x + (a + s * g - x).clamp(-e, e)).clamp(0, 1), "sign of the gradient"),
        (lambda a, x, g, e, s: _step_correct(a, x, g, e, s)[:, :10], "shape of x"),
        (lambda a, x, g, e, s: _step_correct(a, x, g, e, s).tolist(), "torch.Tensor"),
        (lambda a, x, g, e, s: _step_correct(a, x, g, e, s).long(), "floating-point"),
        (lambda a, x, g, e, s: _step_back_to_x_outside_the_ball(a, x, g, e, s), "differ"),
        # Right while step_size <= eps; with step_size > eps no pixel is free, so only the full
        # comparison can catch it.
        (lambda a, x, g, e, s: _step_correct(a, x, g, e, min(s, e)), "differ"),
    ],
)
def test_check_pgd_step_gives_a_hint_for_each_mistake(step, hint):
    feedback = checks.check_pgd_step(step)
    assert feedback.correct is False and hint in feedback.message
    assert str(feedback).startswith("Not yet (ex-adv-pgd-step): ")


def _broken(*args):
    return args[99]  # an IndexError inside the student's code


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (None, "is still None"),
        (stub, "still raises NotImplementedError"),
        (_broken, "raised IndexError"),
        ("pgd_step", "must be a function"),
    ],
)
def test_check_pgd_step_says_not_yet_to_an_unanswered_stub(answer, hint):
    feedback = checks.check_pgd_step(answer)  # never raises
    assert feedback.correct is False and hint in feedback.message


@pytest.mark.parametrize(("eps", "steps"), [(0.3, 10), (0.2, 7), (0.1, 40)])
def test_check_step_size_accepts_the_smallest_step_that_crosses_the_ball(eps, steps):
    feedback = checks.check_step_size(2 * eps / steps, eps=eps, steps=steps)
    assert feedback.correct is True and feedback.exercise == "ex-adv-step-size"
    assert checks.check_step_size(torch.tensor(2 * eps / steps), eps=eps, steps=steps).correct


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (0.03, "from the centre of the ball"),  # eps / k
        (0.075, "usual choice of (b)"),  # 2.5 eps / k
        (0.6, "in total"),  # 2 eps
        (0.01, "too small"),
        (0.1, "larger than needed"),
        (-0.06, "positive"),
        (None, "`min_step_size` is still None"),
        ("0.06", "must be a number, got str"),
        (True, "must be a number, got bool"),
    ],
)
def test_check_step_size_hints_without_the_answer(answer, hint):
    feedback = checks.check_step_size(answer)  # the exercise's eps 0.3 and 10 steps
    assert feedback.correct is False and hint in feedback.message
    assert "0.06" not in feedback.message
    with pytest.raises(ValueError, match="eps must be > 0"):
        checks.check_step_size(0.06, eps=0.0)


def _accuracies(model, digits, **pgd):
    """The solution's table: {eps: (FGSM accuracy, PGD accuracy)} on the test digits."""
    x, y = digits.x_test, digits.y_test
    return {
        eps: (adv.fgsm_accuracy(model, x, y, eps), adv.robust_accuracy(model, x, y, eps, **pgd))
        for eps in (0.1, 0.2, 0.3)
    }


def test_check_catastrophic_accepts_the_experiment_and_gives_no_numbers(fgsm_at_03, digits):
    accuracies = _accuracies(fgsm_at_03, digits)
    feedback = checks.check_catastrophic(fgsm_at_03, accuracies, digits)
    assert feedback.correct is True and feedback.exercise == "ex-adv-catastrophic", feedback
    as_lists = {eps: list(pair) for eps, pair in accuracies.items()}  # lists and tensors are fine too
    assert checks.check_catastrophic(fgsm_at_03, as_lists, digits).correct


def test_check_catastrophic_hints_at_each_mistake_without_the_numbers(fgsm_at_03, models, digits):
    right = _accuracies(fgsm_at_03, digits)
    swapped = {eps: (p, f) for eps, (f, p) in right.items()}
    success_rates = {eps: (1 - f, 1 - p) for eps, (f, p) in right.items()}
    weak_pgd = _accuracies(fgsm_at_03, digits, steps=1, restarts=1)
    untrained = seeded_model("mlp")
    cases = [
        (None, right, "`fgsm_model` is still None"),
        ((fgsm_at_03, None), right, "must be a torch.nn.Module"),
        (untrained, right, "fewer than 90%"),
        (models["standard"], right, "not a model trained against FGSM at eps 0.3"),
        (models["fgsm"], right, "not a model trained against FGSM at eps 0.3"),  # trained at 0.2
        (fgsm_at_03, None, "`accuracies` is still None"),
        (fgsm_at_03, [right[0.1]], "must be a dict"),
        (fgsm_at_03, {0.1: right[0.1], 0.3: right[0.3]}, "no entry for eps 0.2"),
        (fgsm_at_03, {**right, 0.2: 0.5}, "must be a pair"),
        (fgsm_at_03, {**right, 0.2: (0.5, 2.0)}, "in [0, 1]"),
        (fgsm_at_03, swapped, "swapped"),
        (fgsm_at_03, success_rates, "success rate"),
        (fgsm_at_03, weak_pgd, "a weak attack overestimates"),
        (fgsm_at_03, {**right, 0.2: (right[0.2][0] + 0.05, right[0.2][1])}, "FGSM accuracy at eps 0.2"),
        (fgsm_at_03, {**right, 0.1: (right[0.1][0], right[0.1][1] - 0.1)}, "lower than a recomputation"),
    ]
    numbers = {f"{v:.2f}" for pair in right.values() for v in pair if v not in (0.0, 1.0)}
    for model, accuracies, hint in cases:
        feedback = checks.check_catastrophic(model, accuracies, digits)
        assert feedback.correct is False and hint in feedback.message, (hint, feedback)
        assert not any(number in feedback.message for number in numbers), feedback
    with pytest.raises(TypeError, match="data must be a companion.data.Digits"):
        checks.check_catastrophic(fgsm_at_03, right, (digits.x_test, digits.y_test))


def test_check_catastrophic_survives_a_model_that_fails(digits):
    class Broken(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    feedback = checks.check_catastrophic(Broken(), None, digits)
    assert feedback.correct is False and "raised RuntimeError" in feedback.message
    wrong_width = torch.nn.Linear(64, 3)
    assert "logits (N, 10)" in checks.check_catastrophic(wrong_width, None, digits).message
