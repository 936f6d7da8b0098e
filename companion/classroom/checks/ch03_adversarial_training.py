"""The exercise checks of chapter 3, adversarial training (``book/03_adversarial_training.ipynb``).

- :func:`check_step_size` (``ex-adv-step-size``): the smallest PGD step size that crosses the
  L-inf ball, a number;
- :func:`check_pgd_step` (``ex-adv-pgd-step``): a student's PGD step (ascent, projection, clip);
- :func:`check_catastrophic` (``ex-adv-catastrophic``): the catastrophic-overfitting experiment,
  recomputed from the student's model with the lesson's :mod:`companion.adversarial`.

Each returns a :class:`companion.classroom.exercises.Feedback`; a hint says what is off, never
the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from numbers import Real

import torch
from torch import nn

from companion.adversarial import default_step_size, fgsm_accuracy, robust_accuracy
from companion.classroom import exercises
from companion.data import Digits
from companion.runtime import Seed, generator
from companion.training import predict_logits
from companion.validation import require_positive, require_positive_int

__all__ = [
    "CATASTROPHIC_EPS",
    "FGSM_TOLERANCE",
    "MIN_CLEAN_ACCURACY",
    "MIN_FGSM_RESISTANCE",
    "PGD_TOLERANCE",
    "STEP_SIZE_RTOL",
    "check_catastrophic",
    "check_pgd_step",
    "check_step_size",
]

#: Relative tolerance of the step-size answer (typed with about three digits).
STEP_SIZE_RTOL = 1e-3


def _close(a: float, b: float) -> bool:
    """``a`` equals ``b`` up to a relative :data:`STEP_SIZE_RTOL` (an answer typed with 3 digits)."""
    return abs(a - b) <= STEP_SIZE_RTOL * max(1.0, abs(b))


@exercises.check("ex-adv-step-size")
def check_step_size(min_step_size: float | None, eps: float = 0.3, steps: int = 10) -> str:
    """Check part (a) of the step-size exercise: the smallest PGD step size ``a``, a number.

    With ``steps`` steps of size ``a`` at budget ``eps``, PGD must be able to
    carry a pixel from one corner of the L-inf ball to the opposite one. Common
    mistakes (the distance from the centre, the rule of thumb of (b), the total
    path) get their own hint.
    """
    eps = require_positive("eps", eps)
    require_positive_int("steps", steps)
    value = exercises.number(min_step_size, "min_step_size")
    smallest = 2 * eps / steps
    if _close(value, smallest):
        return f"{value:g} is the smallest step that crosses the ball from corner to corner in {steps} steps."
    if value <= 0:
        raise exercises.NotYet("a step size is a positive number.")
    if _close(value, eps / steps):
        raise exercises.NotYet(
            "that step carries a pixel from the centre of the ball to its edge; the walk in (a) "
            "starts at a corner and must reach the opposite one."
        )
    if _close(value, default_step_size(eps, steps)):
        raise exercises.NotYet(
            "that is the usual choice of (b), which keeps a margin; (a) asks for the smallest step "
            "that can just reach the opposite corner."
        )
    if _close(value, 2 * eps):
        raise exercises.NotYet(
            "that is how far a pixel must travel in total, not the size of one of the steps."
        )
    if value < smallest:
        raise exercises.NotYet(
            "too small: that many steps of this size cannot carry a pixel from one corner of the ball "
            "to the opposite one."
        )
    raise exercises.NotYet(
        "larger than needed: a smaller step still reaches the opposite corner in that many steps, "
        "and (a) asks for the smallest."
    )


@exercises.check("ex-adv-pgd-step")
def check_pgd_step(pgd_step: Callable[..., torch.Tensor] | None, *, seed: Seed = 0) -> str:
    """Check a student's PGD step ``pgd_step(x_adv, x, gradient, eps, step_size) -> x_new``.

    Expected: one L-inf ascent step ``x_adv + step_size * sign(gradient)``,
    projected onto the ball ``||x_new - x||_inf <= eps`` around the *original*
    ``x``, then clipped to [0, 1]. Three cases of 32 random points ``(32, 64)``, drawn from
    ``seed`` (:func:`companion.runtime.generator`); the first failed test gives the hint.
    """
    g = generator(seed)
    cases = 0
    for eps, step_size in ((0.1, 0.03), (0.2, 0.15), (0.3, 0.5)):
        x = torch.rand(32, 64, generator=g)  # (32, 64) in [0, 1]
        x[:, :8] = 0.0  # blank pixels, as in the digits: the box matters there
        start = (torch.rand(32, 64, generator=g) * 2 - 1) * eps
        x_adv = (x + start).clamp(0, 1)  # a point of the ball, inside the box
        gradient = torch.randn(32, 64, generator=g)
        out = exercises.call(pgd_step, "pgd_step", x_adv.clone(), x.clone(), gradient.clone(), eps, step_size)
        _diagnose(out, x_adv, x, gradient, eps, step_size)
        cases += 1
    return (
        f"pgd_step passes all {cases} checks: ascent on the sign, projection onto the ball, clip to the box."
    )


def _diagnose(out, x_adv, x, gradient, eps: float, step_size: float) -> None:
    """Raise :class:`~companion.classroom.exercises.NotYet` with the first thing wrong about ``out``."""
    if not isinstance(out, torch.Tensor):
        raise exercises.NotYet(f"pgd_step must return a torch.Tensor, got {type(out).__name__}.")
    if out.shape != x.shape:
        raise exercises.NotYet(
            f"pgd_step must return the shape of x, {tuple(x.shape)}, got {tuple(out.shape)}."
        )
    if not out.is_floating_point() or not out.isfinite().all():
        raise exercises.NotYet("pgd_step must return finite floating-point pixels.")
    out = out.detach().to(x.dtype)  # a float64 answer is compared as float32
    if out.min() < 0 or out.max() > 1:
        raise exercises.NotYet(
            "some pixels leave [0, 1]: a valid image must be clipped to the box at the end."
        )
    if (out - x).abs().max() > eps + 1e-6:
        raise exercises.NotYet(
            "some pixels move more than eps from the ORIGINAL x: project onto the ball around x, "
            "not around the current point."
        )
    # Where neither the ball nor the box is active, the step itself is visible.
    lower, upper = torch.maximum(x - eps, torch.zeros_like(x)), torch.minimum(x + eps, torch.ones_like(x))
    free = (x_adv - step_size > lower + 1e-6) & (x_adv + step_size < upper - 1e-6)
    if free.any():  # with step_size > eps no pixel is free: only the full comparison below applies
        moved = (out - x_adv)[free]
        if torch.allclose(moved, -step_size * gradient[free].sign(), atol=1e-6):
            raise exercises.NotYet(
                "the step goes down the gradient: an attack *increases* the loss (ascent)."
            )
        if not torch.allclose(moved, step_size * gradient[free].sign(), atol=1e-6):
            raise exercises.NotYet(
                "away from the ball's edge and the box, each pixel should move by exactly step_size: "
                "an L-inf step uses the sign of the gradient, not the gradient itself."
            )
    expected = torch.minimum(torch.maximum(x_adv + step_size * gradient.sign(), lower), upper)
    if not torch.allclose(out, expected, atol=1e-6):
        wrong = int((~torch.isclose(out, expected, atol=1e-6)).sum())
        raise exercises.NotYet(
            f"{wrong} of {out.numel()} pixels near the ball's edge or the box differ: "
            "take the step first, then project, then clip."
        )


CATASTROPHIC_EPS = (0.1, 0.2, 0.3)
"""The budgets at which the catastrophic-overfitting exercise measures FGSM and PGD accuracy."""

#: Clean test accuracy below which ``fgsm_model`` cannot be a trained digits classifier.
MIN_CLEAN_ACCURACY = 0.9
#: FGSM accuracy at eps 0.3 below which ``fgsm_model`` cannot be the model trained against FGSM at
#: 0.3: it lies between what that model keeps and what the chapter's other models keep (the tests
#: in ``tests/classroom/test_ch03_adversarial_training.py`` hold both sides).
MIN_FGSM_RESISTANCE = 0.45
#: How far a student's accuracy may lie from the recomputation: FGSM is deterministic (rounding
#: only), PGD draws its random starts afresh.
FGSM_TOLERANCE, PGD_TOLERANCE = 0.005, 0.03


@exercises.check("ex-adv-catastrophic")
def check_catastrophic(fgsm_model: nn.Module | None, accuracies: Mapping | None, data: Digits) -> str:
    """Check the catastrophic-overfitting experiment from its result objects.

    ``fgsm_model`` must be the digits MLP trained with FGSM adversarial training at ``eps = 0.3``:
    a trained classifier (clean test accuracy at least :data:`MIN_CLEAN_ACCURACY`) that resists
    FGSM at 0.3 on at least :data:`MIN_FGSM_RESISTANCE` of the test digits. ``accuracies`` maps
    each eps of :data:`CATASTROPHIC_EPS` to the pair ``(FGSM accuracy, PGD accuracy)`` measured on
    ``data``'s test digits; both are recomputed on ``fgsm_model`` with
    :func:`companion.adversarial.fgsm_accuracy` and :func:`companion.adversarial.robust_accuracy`
    (20 steps, 5 restarts, seed 0) and must agree within :data:`FGSM_TOLERANCE` and
    :data:`PGD_TOLERANCE`.
    """
    if not isinstance(data, Digits):
        raise TypeError(f"data must be a companion.data.Digits, got {type(data).__name__}")
    x, y = data.x_test, data.y_test
    model = exercises.answered(
        fgsm_model, "fgsm_model", "your FGSM-trained model (the first item of its pair)"
    )
    if not isinstance(model, nn.Module):
        raise exercises.NotYet(
            f"`fgsm_model` must be a torch.nn.Module, got {type(model).__name__}: "
            "train_models returns {name: (model, history)}."
        )
    logits = exercises.call(predict_logits, "fgsm_model", model, x)
    if not isinstance(logits, torch.Tensor) or logits.shape != (len(x), 10):
        raise exercises.NotYet("`fgsm_model` must map the test digits (N, 64) to logits (N, 10).")
    if (logits.argmax(dim=1) == y).float().mean().item() < MIN_CLEAN_ACCURACY:
        raise exercises.NotYet(
            f"`fgsm_model` gets fewer than {MIN_CLEAN_ACCURACY:.0%} of the clean test digits right: "
            "is it trained?"
        )
    measured = {  # the student's model may still fail inside an attack: report it, do not crash
        eps: (
            exercises.call(fgsm_accuracy, "fgsm_model", model, x, y, eps),
            exercises.call(robust_accuracy, "fgsm_model", model, x, y, eps),
        )
        for eps in CATASTROPHIC_EPS
    }
    if measured[CATASTROPHIC_EPS[-1]][0] < MIN_FGSM_RESISTANCE:
        raise exercises.NotYet(
            "`fgsm_model` is not a model trained against FGSM at eps 0.3: such a model resists that very "
            "attack on far more test digits. Train it with Setup(eps=0.3) and names=['fgsm']."
        )
    table = _accuracy_table(accuracies)
    for eps, (fgsm_ref, pgd_ref) in measured.items():
        _compare_accuracies(eps, table, fgsm_ref, pgd_ref)
    return (
        "your FGSM-trained model and your accuracies match a recomputation at eps "
        + ", ".join(f"{eps:g}" for eps in CATASTROPHIC_EPS)
        + ". Now read them: how does each accuracy change with eps?"
    )


def _accuracy_table(accuracies: object) -> dict[float, tuple[float, float]]:
    """``{eps: (fgsm, pgd)}`` for every eps of :data:`CATASTROPHIC_EPS`, or NotYet naming what is off."""
    accuracies = exercises.mapping(accuracies, "accuracies", "a dict {eps: (FGSM accuracy, PGD accuracy)}")
    table = {}
    for eps in CATASTROPHIC_EPS:
        keys = [k for k in accuracies if isinstance(k, Real) and abs(k - eps) < 1e-9]
        if not keys:
            raise exercises.NotYet(f"`accuracies` has no entry for eps {eps:g}.")
        pair = "a pair (FGSM accuracy, PGD accuracy)"
        fgsm_acc, pgd_acc = exercises.numbers(accuracies[keys[0]], f"accuracies[{eps:g}]", pair, count=2)
        if not (0 <= fgsm_acc <= 1 and 0 <= pgd_acc <= 1):
            raise exercises.NotYet(f"`accuracies[{eps:g}]` must hold accuracies in [0, 1].")
        table[eps] = (fgsm_acc, pgd_acc)
    return table


def _compare_accuracies(eps: float, table: dict, fgsm_ref: float, pgd_ref: float) -> None:
    fgsm_acc, pgd_acc = table[eps]
    if abs(fgsm_acc - fgsm_ref) <= FGSM_TOLERANCE and abs(pgd_acc - pgd_ref) <= PGD_TOLERANCE:
        return
    if abs(fgsm_acc - pgd_ref) <= PGD_TOLERANCE and abs(pgd_acc - fgsm_ref) <= FGSM_TOLERANCE:
        raise exercises.NotYet(f"accuracies[{eps:g}] looks swapped: put FGSM's accuracy first, then PGD's.")
    if abs(fgsm_acc - (1 - fgsm_ref)) <= FGSM_TOLERANCE or abs(pgd_acc - (1 - pgd_ref)) <= PGD_TOLERANCE:
        raise exercises.NotYet(
            f"at eps {eps:g} you report a success rate: the exercise asks for accuracy, the share of "
            "test digits still classified correctly."
        )
    if abs(fgsm_acc - fgsm_ref) > FGSM_TOLERANCE:
        raise exercises.NotYet(
            f"your FGSM accuracy at eps {eps:g} does not match FGSM on `fgsm_model` over the test digits "
            "(adversarial.fgsm_accuracy)."
        )
    if pgd_acc > pgd_ref:
        raise exercises.NotYet(
            f"your PGD accuracy at eps {eps:g} is higher than PGD with 20 steps and 5 restarts leaves "
            "(adversarial.robust_accuracy): a weak attack overestimates robustness."
        )
    raise exercises.NotYet(
        f"your PGD accuracy at eps {eps:g} is lower than a recomputation on `fgsm_model` over the test "
        "digits (adversarial.robust_accuracy) gives: is it measured on the same model and digits?"
    )
