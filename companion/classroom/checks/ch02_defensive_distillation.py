"""The checks of chapter 2's exercises: ``ex-distillation-stable``, ``ex-distillation-float32``
and ``ex-distillation-eps``.

The check cells run ``checks.check_float32_thresholds(g_one, g_zero)``,
``checks.check_softmax(my_softmax)`` and ``checks.check_fgsm_budgets(rates, ...)`` after
``from companion.classroom.checks import ch02_defensive_distillation as checks``. Each returns a
:class:`~companion.classroom.exercises.Feedback`, never an exception for a wrong answer; the
method they check is :mod:`companion.distillation`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from companion.attacks import Loss, fgsm, logit_margin
from companion.classroom import exercises
from companion.distillation import softmax_cross_entropy
from companion.runtime import generator
from companion.validation import require_positive

__all__ = [
    "EPSILONS",
    "FGSM_LOSSES",
    "GAP_TOLERANCE",
    "MODEL_NAMES",
    "RATE_TOLERANCE",
    "SOFTMAX_TOLERANCE",
    "check_fgsm_budgets",
    "check_float32_thresholds",
    "check_softmax",
]

SOFTMAX_TOLERANCE = 1e-4
"""How close (absolute) the student's softmax must come to the float64 reference."""


LIBRARY_SOFTMAX = ("softmax", "log_softmax")
"""The names of torch's own softmax functions, refused while the student's ``my_softmax`` runs."""


@contextmanager
def _without_library_softmax() -> Iterator[None]:
    """``torch.softmax``, ``F.softmax``, ``torch.special.softmax``, ``Tensor.softmax`` and their
    ``log_softmax`` raise inside the block: the exercise asks for a softmax written from
    ``torch.exp``. (A name imported before the check, ``from torch.nn.functional import
    softmax``, is not caught.)"""

    def refuse(*args, **kwargs):
        raise RuntimeError("it called torch's own softmax; the exercise asks you to write it from torch.exp")

    owners = (torch, torch.nn.functional, torch.special, torch.Tensor)
    saved = [
        (owner, name, owner.__dict__.get(name))
        for owner in owners
        for name in LIBRARY_SOFTMAX
        if hasattr(owner, name)
    ]
    for owner, name, _ in saved:
        setattr(owner, name, refuse)
    try:
        yield
    finally:
        for owner, name, original in saved:
            if original is None:  # inherited (Tensor from TensorBase): remove the shadow
                delattr(owner, name)
            else:
                setattr(owner, name, original)


@exercises.check("ex-distillation-stable", unavailable=("companion.distillation.softmax_with_temperature",))
def check_softmax(candidate: Callable[[torch.Tensor, float], torch.Tensor] | None) -> str:
    """Is ``candidate(logits, T)`` (the student's ``my_softmax``) a stable softmax at temperature ``T``?

    Tries float32 logits ``(6, 10)`` of magnitude up to 1e4 and temperatures from 0.01 to
    1000 against a float64 reference (to :data:`SOFTMAX_TOLERANCE`), and ``T <= 0``, which
    must raise ``ValueError``, with torch's own softmax unavailable
    (:func:`_without_library_softmax`). The first failure comes back as a hint.
    """
    base = torch.randn(6, 10, generator=generator(0))  # (6, 10)
    for scale in (1.0, 100.0, 1e4, -1e4):
        for T in (0.01, 1.0, 50.0, 1000.0):
            z = (scale * base).float()
            expected = torch.softmax(z.double() / T, dim=1)
            with _without_library_softmax():
                got = exercises.call(candidate, "my_softmax", z.clone(), T)
            if not isinstance(got, torch.Tensor) or got.shape != z.shape or not got.is_floating_point():
                shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
                raise exercises.NotYet(
                    f"my_softmax must return a float tensor of shape (N, K) = {tuple(z.shape)}, got {shape}."
                )
            got = got.detach().double()
            if not torch.isfinite(got).all():
                raise exercises.NotYet(
                    f"non-finite output for logits of size about {abs(scale):g} at T = {T:g}: exp overflows "
                    "float32 above about 88. Which shift of all logits leaves the softmax unchanged?"
                )
            if not torch.allclose(got, expected, atol=SOFTMAX_TOLERANCE):
                raise exercises.NotYet(
                    f"wrong probabilities for logits of size about {abs(scale):g} at T = {T:g} "
                    f"(largest error {(got - expected).abs().max().item():.2g}); "
                    "check where T enters and which dimension you normalise over."
                )
    for T in (0.0, -1.0):
        try:
            with _without_library_softmax():
                candidate(base.clone(), T)
        except ValueError:
            continue
        except Exception as error:  # the student's code failed otherwise: a hint, not a crash
            raise exercises.NotYet(
                f"T = {T:g} should raise ValueError (a temperature must be > 0); my_softmax raised "
                f"{type(error).__name__}."
            ) from None
        raise exercises.NotYet(f"T = {T:g} should raise ValueError: a temperature must be > 0.")
    return "finite and correct for |z| up to 1e4 and T from 0.01 to 1000, and T <= 0 is refused."


_LN2 = math.log(2.0)
GAP_TOLERANCE = 0.1
"""How far (in logits) an answer to ``ex-distillation-float32`` may be from the exact threshold."""
CLOSE_GAP = 0.5
"""An answer this close (but not within :data:`GAP_TOLERANCE`) is told to be more precise."""


def _near(value: float, target: float, tolerance: float = GAP_TOLERANCE) -> bool:
    return abs(value - target) <= tolerance


def _gap_hint(name: str, value: float, truth: float, slips: dict[float, str], general: str) -> str | None:
    """``None`` when ``value`` is within the tolerance of ``truth``, else the hint for ``name``."""
    if _near(value, truth):
        return None
    for slip, hint in slips.items():
        if _near(value, slip):
            return f"`{name}`: {hint}"
    if _near(value, truth, CLOSE_GAP):
        return f"`{name}` is close but not within {GAP_TOLERANCE} of the threshold: give g more precisely."
    return f"`{name}`: {general}"


@exercises.check("ex-distillation-float32")
def check_float32_thresholds(g_one: float | None, g_zero: float | None) -> str:
    """The two gaps of the two-class exercise: ``g_one``, from which the float32 ``F_1`` rounds to
    exactly 1, and ``g_zero``, beyond which ``F_2`` is exactly 0.

    Numbers (or one-element tensors) within :data:`GAP_TOLERANCE` of the exact thresholds are
    accepted, so a value read off a grid of step 0.01 or 0.1 passes. Common slips (a full
    instead of half a spacing, the smallest subnormal itself, the smallest normal number, an
    exponent of 2 left unconverted, the two swapped) get their own hint.
    """
    g_one = exercises.number(g_one, "g_one", "a number, the gap g")
    g_zero = exercises.number(g_zero, "g_zero", "a number, the gap g")
    # e^-g at half the spacing of float32 above 1, 2^-24, and at half the smallest subnormal, 2^-150
    one, zero = 24 * _LN2, 150 * _LN2
    if _near(g_one, zero) and _near(g_zero, one):
        raise exercises.NotYet("your two gaps look swapped: F_1 reaches 1 long before F_2 reaches 0.")
    in_bits = "that is an exponent of 2, not a gap in logits: convert the power of 2 into a power of e."
    hints = [
        _gap_hint(
            "g_one",
            g_one,
            one,
            {
                23 * _LN2: "at the full spacing 2^-23 of float32 numbers above 1; rounding to nearest needs "
                "less.",
                24.0: in_bits,
                23.0: in_bits,
            },
            "F_1 = 1 / (1 + e^-g) is 1 once 1 + e^-g rounds to 1: compare e^-g with the spacing of "
            "float32 numbers just above 1 (a 24-bit significand), and round to nearest.",
        ),
        _gap_hint(
            "g_zero",
            g_zero,
            zero,
            {
                149 * _LN2: "2^-149 itself is still a float32 (the smallest subnormal); what rounds to 0?",
                126 * _LN2: "below the smallest normal number 2^-126 float32 still has subnormal numbers.",
                128 * _LN2: "torch subtracts the largest logit first, so e^g never overflows; look at e^-g.",
                150.0: in_bits,
                149.0: in_bits,
                126.0: in_bits,
            },
            "F_2 = e^-g / (1 + e^-g) is 0 once e^-g underflows: compare it with the smallest positive "
            "float32, 2^-149, and round to nearest.",
        ),
    ]
    wrong = [hint for hint in hints if hint is not None]
    if wrong:
        raise exercises.NotYet(" ".join(wrong))
    return (
        f"F_1 rounds to exactly 1 from g = {g_one:.2f} and F_2 to exactly 0 beyond g = {g_zero:.2f}; "
        "in between the gradient of -log F_1 is tiny but not zero."
    )


FGSM_LOSSES: dict[str, Loss] = {"softmax_cross_entropy": softmax_cross_entropy, "logit_margin": logit_margin}
"""The two FGSM losses of exercise ``ex-distillation-eps``, by the names ``rates`` uses."""
MODEL_NAMES = ("standard", "distilled")
EPSILONS = (0.05, 0.1, 0.2, 0.3)
"""The FGSM budgets of exercise ``ex-distillation-eps``."""
RATE_TOLERANCE = 0.006  # success rates rounded to two decimals still pass


def _rate_table(rates: object, n: int) -> dict[tuple[str, str], list[float]]:
    """The student's ``rates[loss][model]`` as ``{(loss, model): [n rates]}`` (loss keys may be functions)."""
    rates = exercises.mapping(rates, "rates", "a dict rates[loss][model] of FGSM success rates")
    by_loss = {getattr(key, "__name__", key): value for key, value in rates.items()}
    if set(by_loss) != set(FGSM_LOSSES):
        raise exercises.NotYet(
            f"`rates` must have one key per loss, {sorted(FGSM_LOSSES)}, got {sorted(map(str, by_loss))}."
        )
    table = {}
    for loss, by_model in by_loss.items():
        by_model = exercises.mapping(
            by_model, f"rates[{loss!r}]", f"a dict with the keys {list(MODEL_NAMES)}"
        )
        if set(by_model) != set(MODEL_NAMES):
            raise exercises.NotYet(
                f"`rates[{loss!r}]` must be a dict with the keys {list(MODEL_NAMES)}, "
                f"got {sorted(map(str, by_model))}."
            )
        for model in MODEL_NAMES:
            name = f"rates[{loss!r}][{model!r}]"
            values = exercises.numbers(
                by_model[model], name, f"a list of {n} success rates, one per eps", count=n
            )
            if not all(0.0 <= v <= 1.0 for v in values):
                raise exercises.NotYet(f"`{name}`: success rates are fractions in [0, 1], not percentages.")
            table[loss, model] = values
    return table


def _range_phrase(values: Sequence[float]) -> str:
    """``"stays at 0.08"`` when the values agree to two decimals, else ``"stays between 0.05 and 0.09"``."""
    low, high = f"{min(values):.2f}", f"{max(values):.2f}"
    return f"stays at {low}" if low == high else f"stays between {low} and {high}"


def _same(a: dict, b: dict) -> bool:
    return all(np.allclose(a[key], b[key], rtol=0, atol=RATE_TOLERANCE) for key in a)


@exercises.check("ex-distillation-eps")
def check_fgsm_budgets(
    rates: Mapping | None,
    standard: nn.Module,
    distilled: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: Sequence[float] = EPSILONS,
) -> str:
    """Are ``rates[loss][model]`` the FGSM success rates of both models at every ``eps``?

    ``rates`` is the student's table: ``rates[loss][model]`` a list of success rates in the
    order of ``eps``, ``loss`` in ``"softmax_cross_entropy"``, ``"logit_margin"`` (or the
    functions themselves), ``model`` in ``"standard"``, ``"distilled"``. The check recomputes
    all of them with :func:`companion.attacks.fgsm` on ``x (N, 64)``, ``y (N,)`` (16 attacks
    with the default budgets) and accepts each within :data:`RATE_TOLERANCE`.
    """
    models = {"standard": standard, "distilled": distilled}
    for name, model in models.items():
        if not isinstance(model, nn.Module):
            raise TypeError(f"{name} must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(eps, (str, bytes)) or not isinstance(eps, Sequence) or not eps:
        raise ValueError(f"eps must be a non-empty sequence of budgets, got {eps!r}")
    eps = [require_positive("eps[i]", e, allow_zero=True) for e in eps]
    expected = {
        (loss, name): [fgsm(model, x, y, e, loss=FGSM_LOSSES[loss]).success_rate for e in eps]
        for loss in FGSM_LOSSES
        for name, model in models.items()
    }
    table = _rate_table(rates, len(eps))
    off = [
        (loss, model, e)
        for (loss, model), values in table.items()
        for e, got, want in zip(eps, values, expected[loss, model], strict=True)
        if abs(got - want) > RATE_TOLERANCE
    ]
    if not off:
        on_f, margin = expected["softmax_cross_entropy", "distilled"], expected["logit_margin", "distilled"]
        return (
            f"your {len(table) * len(eps)} rates match. On F the distilled network's FGSM success "
            f"{_range_phrase(on_f)} whatever eps; on the logit margin it reaches "
            f"{margin[-1]:.2f} at eps = {eps[-1]:g}."
        )
    other_model = {"standard": "distilled", "distilled": "standard"}
    other_loss = {"softmax_cross_entropy": "logit_margin", "logit_margin": "softmax_cross_entropy"}
    slips = {
        "the standard and distilled entries look swapped.": {
            (loss, model): expected[loss, other_model[model]] for loss, model in expected
        },
        "the two losses look swapped.": {
            (loss, model): expected[other_loss[loss], model] for loss, model in expected
        },
        "each list is in reverse order: give the rates in the order of increasing eps.": {
            key: values[::-1] for key, values in expected.items()
        },
        "these look like accuracies under attack; the success rate is the share of inputs misclassified "
        "after the attack.": {key: [1 - v for v in values] for key, values in expected.items()},
    }
    for hint, values in slips.items():
        if _same(table, values):
            raise exercises.NotYet(hint)
    loss, model, e = off[0]
    raise exercises.NotYet(
        f"rates[{loss!r}][{model!r}] at eps = {e:g} is not what FGSM with this loss gives on this model "
        f"for the {len(y)} inputs x, y: count successes over all of them (an input already misclassified "
        "counts as a success)."
    )
