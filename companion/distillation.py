"""Defensive distillation, and the losses that show its robustness is gradient masking.

Softmax at temperature ``T`` divides the logits ``z`` by ``T`` before the softmax::

    F_i(x) = exp(z_i(x) / T) / sum_j exp(z_j(x) / T)

Defensive distillation (Papernot et al. 2016) trains a *teacher* at temperature
``T`` on the hard labels, labels the training set with the teacher's soft labels
``softmax(z_teacher / T)``, trains a *student* of the same architecture at the
same ``T`` on those soft labels, and deploys the student at ``T = 1``. Training at
``T`` makes the logits grow by about a factor ``T``, so at ``T = 1`` the float32
softmax saturates to exactly 0 and 1 and the gradient of the cross-entropy
computed from the probabilities is exactly zero (:func:`softmax_cross_entropy`).
Attacks that differentiate the logits instead (:func:`logit_margin`, re-exported
from :mod:`companion.attacks`, or the
cross-entropy of ``z / T``, :func:`cross_entropy_at`) succeed as on an
undistilled model (Carlini & Wagner 2016). Hinton et al.'s (2015) distillation
loss, whose purpose is compression, is :func:`hinton_loss`.

The exercises' checks (:mod:`companion.classroom.exercises`) are :func:`check_float32_thresholds`
(``ex-distillation-float32``), :func:`check_softmax` (``ex-distillation-stable``) and
:func:`check_fgsm_budgets` (``ex-distillation-eps``).

Shapes: logits ``z`` are ``(N, K)`` float, labels ``y`` are ``(N,)`` int64,
inputs ``x`` are flat digits ``(N, 64)`` in [0, 1].

References
----------
1. Papernot, McDaniel, Wu, Jha, Swami. Distillation as a Defense to Adversarial
   Perturbations against Deep Neural Networks. IEEE S&P 2016.
2. Hinton, Vinyals, Dean. Distilling the Knowledge in a Neural Network.
   arXiv:1503.02531, 2015.
3. Carlini, Wagner. Defensive Distillation is Not Robust to Adversarial
   Examples. arXiv:1607.04311, 2016.
4. Carlini, Wagner. Towards Evaluating the Robustness of Neural Networks. IEEE S&P 2017.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import nn

from companion.attacks import Loss, fgsm, input_gradient, logit_margin
from companion.classroom import exercises
from companion.data import Digits
from companion.plotting import COLORS, style_context
from companion.training import (
    History,
    TrainConfig,
    accuracy,
    predict_logits,
    seeded_model,
    train,
    train_classifier,
)
from companion.validation import (
    require_labels,
    require_positive,
    require_probability,
    require_same_length,
    require_tensor,
)

__all__ = [
    "DISTILLATION_CONFIG",
    "DefenceReport",
    "DistilledModels",
    "EPSILONS",
    "FGSM_LOSSES",
    "GAP_TOLERANCE",
    "MODEL_NAMES",
    "RATE_TOLERANCE",
    "check_fgsm_budgets",
    "check_float32_thresholds",
    "check_softmax",
    "cross_entropy_at",
    "defensive_distillation",
    "evaluate_defence",
    "hinton_loss",
    "logit_margin",
    "soft_labels",
    "softmax_cross_entropy",
    "softmax_jacobian",
    "softmax_with_temperature",
    "sweep_figure",
    "temperature_figure",
    "temperature_sweep",
    "zero_gradient_fraction",
]

DISTILLATION_CONFIG = TrainConfig(lr=1e-2)
"""Training settings of teacher and student: the standard ones, but Adam's ``lr`` is 1e-2.

At temperature ``T`` the logits must grow about ``T`` times larger to fit the
labels; Adam moves each weight by about ``lr`` per step whatever the gradient's
scale, so the default 1e-3 leaves the models at ``T = 50`` under-trained in 30
epochs: we measured a student test accuracy of about 0.88 with lr 1e-3 against
about 0.96 with 1e-2 (asserted in ``tests/test_distillation.py``).
"""


# --- Softmax at temperature T -------------------------------------------------------------------


def _check_logits(name: str, logits: torch.Tensor) -> torch.Tensor:
    require_tensor(name, logits, ndim=2, floating=True)
    if logits.shape[1] < 1:
        raise ValueError(f"{name} must have shape (N, K) with K >= 1 classes, got {tuple(logits.shape)}")
    return logits


def softmax_with_temperature(logits: torch.Tensor, T: float) -> torch.Tensor:
    """Softmax at temperature ``T``: ``F_i = exp(z_i / T) / sum_j exp(z_j / T)``.

    Hinton et al. (2015), eq. (1); Papernot et al. (2016). Computed stably
    (``torch.softmax`` subtracts the row maximum first), so logits up to 1e4 in
    magnitude give finite rows summing to 1.

    Parameters
    ----------
    logits : torch.Tensor
        ``z``, ``(N, K)`` float.
    T : float
        Temperature, ``> 0``. ``T = 1`` is the ordinary softmax; ``T -> inf``
        tends to the uniform ``1 / K``; ``T -> 0`` to the one-hot arg-max.

    Returns
    -------
    torch.Tensor
        ``(N, K)`` probabilities, rows summing to 1.
    """
    _check_logits("logits", logits)
    T = require_positive("T", T)
    return torch.softmax(logits / T, dim=1)


def softmax_jacobian(z: torch.Tensor, T: float) -> torch.Tensor:
    """``dF_i / dz_j = F_i (delta_ij - F_j) / T`` for one logit vector, ``(K, K)``.

    ``z`` is ``(K,)`` float. Every entry carries a factor ``F_i``, and the
    diagonal a factor ``1 - F_i``: when the output saturates to one-hot the
    whole Jacobian tends to zero, and in float32 it becomes exactly zero.
    """
    require_tensor("z", z, ndim=1, floating=True)
    p = softmax_with_temperature(z[None], T)[0]  # (K,)
    return (torch.diag(p) - p[:, None] * p[None, :]) / T  # (K, K)


# --- Attack losses ------------------------------------------------------------------------------


def softmax_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample ``-log F_y(x)`` computed naively from the float32 probabilities at ``T = 1``.

    The loss of an attacker who differentiates the softmax output ``F`` at
    ``T = 1``. This mirrors Papernot et al.'s evaluation, whose attack (JSMA)
    also differentiates the softmax output ``F`` (through its Jacobian) at
    ``T = 1``; it is not their loss. When the softmax saturates, ``F_y`` rounds to
    exactly 1 and every other ``F_i`` to exactly 0, the loss is 0 and its
    gradient is exactly zero: the gradient masking defensive distillation relies
    on. (:func:`companion.attacks.cross_entropy` works from ``log_softmax`` and
    never returns ``inf``, but its gradient ``F - e_y`` vanishes in the same way.)

    Where ``F_y`` itself underflows to 0 (the model is confidently wrong), the
    loss is ``inf`` and its gradient is NaN, not 0: the backward pass of ``log``
    gives ``-inf``, which the softmax's backward pass multiplies by ``F_y = 0``. For the
    distilled MLP at ``T = 50`` this happens on 10 of the 450 test digits, all
    already misclassified. :func:`companion.attacks.fgsm` turns NaN gradient
    entries into 0 and so leaves those inputs unchanged;
    :func:`zero_gradient_fraction` counts them as having no usable gradient.

    Parameters
    ----------
    logits : torch.Tensor
        ``(N, K)`` float logits.
    y : torch.Tensor
        ``(N,)`` int64 labels.

    Returns
    -------
    torch.Tensor
        ``(N,)`` losses; ``inf`` (with a NaN gradient) where ``F_y`` underflows to 0.
    """
    _check_logits("logits", logits)
    require_labels("y", y, num_classes=logits.shape[1])
    require_same_length("logits", logits, "y", y)
    probabilities = torch.softmax(logits, dim=1)  # (N, K), rounded to float32
    return -torch.log(probabilities.gather(1, y[:, None]).squeeze(1))  # (N,)


def cross_entropy_at(T: float) -> Loss:
    """The attack loss ``-log softmax(z / T)_y``, computed stably with ``log_softmax``.

    Carlini & Wagner (2016) attack a distilled network this way, with ``T`` its
    distillation temperature: dividing by ``T`` undoes the growth of the logits,
    so the softmax is no longer saturated and the gradient is not zero.
    Returns ``loss(logits (N, K), y (N,)) -> (N,)``.
    """
    T = require_positive("T", T)

    def loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits / T, y, reduction="none")  # (N,)

    return loss


# --- Defensive distillation (Papernot et al. 2016) ----------------------------------------------


def soft_labels(teacher: nn.Module, x: torch.Tensor, T: float) -> torch.Tensor:
    """The teacher's soft labels ``softmax(z_teacher(x) / T)``, ``(N, K)``, without gradient."""
    return softmax_with_temperature(predict_logits(teacher, x), T)


def _temperature_loss(T: float):
    """Training hook: cross-entropy of ``model(x) / T`` against hard ``(B,)`` or soft ``(B, K)`` targets."""

    def loss_fn(model: nn.Module, x_b: torch.Tensor, y_b: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model(x_b) / T, y_b)

    return loss_fn


@dataclass
class DistilledModels:
    """What :func:`defensive_distillation` returns.

    Attributes
    ----------
    teacher : nn.Module
        Trained at temperature ``T`` on the hard labels; returns logits.
    student : nn.Module
        Trained at ``T`` on the teacher's soft labels ``softmax(z_teacher / T)``;
        deployed at ``T = 1``: it returns its logits ``z`` and predicts ``softmax(z)``.
    T : float
        The distillation temperature.
    teacher_history, student_history : History
        What :func:`companion.training.train` measured for each model.
    """

    teacher: nn.Module
    student: nn.Module
    T: float
    teacher_history: History
    student_history: History


def defensive_distillation(
    data: Digits, T: float, config: TrainConfig = DISTILLATION_CONFIG, model_name: str = "mlp"
) -> DistilledModels:
    """Papernot et al.'s (2016) defensive distillation on the digits.

    1. Train a teacher ``F`` at temperature ``T`` on the hard labels.
    2. Soft labels ``F(X) = softmax(z_teacher(X) / T)`` for the training set.
    3. Train a student ``F^d`` of the same architecture at the same ``T`` on ``F(X)``.
    4. Deploy ``F^d`` at ``T = 1``.

    "Training at ``T``" means the loss is the cross-entropy of ``softmax(z / T)``:
    the training hook divides the logits by ``T``; the models return raw logits.

    Parameters
    ----------
    data : Digits
        The digits split (``companion.data.load_digits()``).
    T : float
        Distillation temperature, ``> 0`` (Papernot et al. try 1 to 100;
        Carlini & Wagner's reimplementation uses 100).
    config : TrainConfig
        Used for both models; ``config.seed`` seeds both initial weights and the
        shuffle order. Default :data:`DISTILLATION_CONFIG` (Adam, lr 1e-2, 30 epochs).
    model_name : str
        ``"mlp"`` or ``"cnn"`` (:func:`companion.models.build_model`).

    Returns
    -------
    DistilledModels
        Both models in eval mode, ``T`` and both training histories.

    Notes
    -----
    Departures from the paper: the digits (8x8) instead of MNIST (28x28), the
    course's small MLP instead of their CNN, Adam instead of SGD, 30 epochs.
    The student starts from the same seeded initial weights as the teacher. No
    ``T**2`` factor (Hinton et al. 2015): with soft labels only, it would just
    rescale the loss, which Adam ignores.
    """
    if not isinstance(data, Digits):
        raise TypeError(f"data must be companion.data.Digits, got {type(data).__name__}")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    T = require_positive("T", T)
    loss_fn = _temperature_loss(T)
    teacher, teacher_history = train_classifier(data, model_name, config, loss_fn=loss_fn)
    targets = soft_labels(teacher, data.x_train, T)  # (N, K), F(X)
    student = seeded_model(model_name, config.seed)  # the teacher's initial weights
    student_history = train(
        student, data.x_train, targets, config, loss_fn=loss_fn, x_test=data.x_test, y_test=data.y_test
    )
    return DistilledModels(teacher, student.eval(), T, teacher_history, student_history)


# --- Measuring the defence ----------------------------------------------------------------------


def zero_gradient_fraction(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: Loss) -> float:
    """Share of samples with no usable input gradient ``grad_x loss(model(x), y)``, in [0, 1].

    A sample has no usable gradient when every entry of its gradient is exactly
    zero or NaN. NaN rows come from losses computed from saturated probabilities
    where ``F_y`` underflows to 0 (see :func:`softmax_cross_entropy`); they are
    counted here on purpose, because :func:`companion.attacks.fgsm` replaces NaN
    by 0: on every counted sample FGSM's step ``eps * sign(0)`` is zero and the
    attack returns the input unchanged. Infinite entries are not NaN and keep a
    sign, so they count as usable. To count the NaN rows alone, use
    ``torch.isnan(input_gradient(...)).all(dim=1)``.
    """
    gradient = input_gradient(model, x, y, loss).flatten(1)  # (N, D)
    unusable = (gradient == 0) | torch.isnan(gradient)  # (N, D)
    return unusable.all(dim=1).float().mean().item()


@dataclass(frozen=True)
class DefenceReport:
    """One model's accuracy and FGSM results on a test set (see :func:`evaluate_defence`)."""

    T: float  # distillation temperature (1.0 for the standard model)
    accuracy: float  # clean test accuracy
    fgsm_probabilities: float  # FGSM success, gradient of softmax_cross_entropy
    fgsm_logits: float  # FGSM success, gradient of logit_margin
    fgsm_scaled: float  # FGSM success, gradient of cross_entropy_at(T)
    zero_gradients: float  # share of inputs whose softmax_cross_entropy gradient is all zero or NaN
    logit_scale: float  # median over inputs of max_i |z_i|


def evaluate_defence(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, T: float = 1.0
) -> DefenceReport:
    """Accuracy, FGSM success with three losses, zero gradients and logit size of ``model``.

    Parameters
    ----------
    model : nn.Module
        Maps ``x`` to logits ``(N, K)``; a distilled student is evaluated as deployed, at ``T = 1``.
    x, y : torch.Tensor
        ``(N, 64)`` test inputs in [0, 1] and ``(N,)`` int64 labels.
    eps : float
        FGSM's L-infinity budget.
    T : float
        Only sets the scaling of the :func:`cross_entropy_at` attack (1 for a standard model).

    Returns
    -------
    DefenceReport
        FGSM success rates are over all of ``x`` (an input the model already gets
        wrong counts as a success), as :class:`companion.attacks.AttackResult` defines them.
    """
    require_positive("eps", eps, allow_zero=True)
    z = predict_logits(model, x)  # (N, K)
    return DefenceReport(
        T=require_positive("T", T),
        accuracy=accuracy(model, x, y),
        fgsm_probabilities=fgsm(model, x, y, eps, loss=softmax_cross_entropy).success_rate,
        fgsm_logits=fgsm(model, x, y, eps, loss=logit_margin).success_rate,
        fgsm_scaled=fgsm(model, x, y, eps, loss=cross_entropy_at(T)).success_rate,
        zero_gradients=zero_gradient_fraction(model, x, y, softmax_cross_entropy),
        logit_scale=z.abs().max(dim=1).values.median().item(),
    )


def temperature_sweep(
    data: Digits,
    temperatures: Sequence[float] = (1, 10, 50, 100),
    eps: float = 0.2,
    config: TrainConfig = DISTILLATION_CONFIG,
) -> list[DefenceReport]:
    """Distil at each temperature and evaluate the student on the test set.

    Parameters
    ----------
    data : Digits
        The digits split.
    temperatures : sequence of float
        Distillation temperatures, each ``> 0``.
    eps : float
        FGSM's L-infinity budget.
    config : TrainConfig
        Passed to :func:`defensive_distillation`.

    Returns
    -------
    list of DefenceReport
        One per temperature, in order, from :func:`evaluate_defence` with ``T`` set.
    """
    if isinstance(temperatures, (str, bytes)) or not isinstance(temperatures, Sequence) or not temperatures:
        raise ValueError(f"temperatures must be a non-empty sequence of numbers, got {temperatures!r}")
    for T in temperatures:
        require_positive("temperatures[i]", T)
    require_positive("eps", eps, allow_zero=True)
    reports = []
    for T in temperatures:
        student = defensive_distillation(data, T, config).student
        reports.append(evaluate_defence(student, data.x_test, data.y_test, eps, T))
    return reports


# --- Hinton et al. (2015): distillation for compression -----------------------------------------


def hinton_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, y: torch.Tensor, T: float, alpha: float = 0.5
) -> torch.Tensor:
    """Hinton et al.'s (2015) distillation loss, a scalar.

    ``alpha * T**2 * CE(p, q) + (1 - alpha) * CE(y, softmax(z))``, with soft
    targets ``p = softmax(v / T)`` from the teacher's logits ``v``, the
    student's ``q = softmax(z / T)``, and ``CE(p, q) = -sum_i p_i log q_i``
    averaged over the batch. The soft term's gradient is ``(q_i - p_i) / T``,
    about ``(z_i - v_i) / (K T**2)`` at high ``T`` for zero-mean logits
    (Hinton et al., sec. 2.1); the ``T**2`` keeps its weight against the hard
    term when ``T`` changes.

    Parameters
    ----------
    student_logits, teacher_logits : torch.Tensor
        ``z`` and ``v``, ``(N, K)`` float.
    y : torch.Tensor
        ``(N,)`` int64 hard labels.
    T : float
        Temperature, ``> 0``.
    alpha : float
        Weight of the soft term, in [0, 1].

    Returns
    -------
    torch.Tensor
        The loss, a 0-dimensional tensor, differentiable with respect to
        ``student_logits`` only (the teacher's logits are detached).
    """
    _check_logits("student_logits", student_logits)
    _check_logits("teacher_logits", teacher_logits)
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student_logits and teacher_logits must have the same shape, got "
            f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}"
        )
    require_labels("y", y, num_classes=student_logits.shape[1])
    require_same_length("student_logits", student_logits, "y", y)
    T = require_positive("T", T)
    alpha = require_probability("alpha", alpha)
    p = softmax_with_temperature(teacher_logits.detach(), T)  # (N, K) soft targets
    soft = F.cross_entropy(student_logits / T, p)
    hard = F.cross_entropy(student_logits, y)
    return alpha * T**2 * soft + (1 - alpha) * hard


# --- Exercise checks (companion.classroom.exercises) ------------------------------------------------------


@exercises.check("ex-distillation-stable")
def check_softmax(candidate: Callable[[torch.Tensor, float], torch.Tensor] | None) -> str:
    """Is ``candidate(logits, T)`` (the student's ``my_softmax``) a stable softmax at temperature ``T``?

    Tries float32 logits ``(6, 10)`` of magnitude up to 1e4 and temperatures from 0.01 to
    1000 against a float64 reference (to ``1e-4``), and ``T <= 0``, which must raise
    ``ValueError``. The first failure comes back as a hint.
    """
    generator = torch.Generator().manual_seed(0)
    base = torch.randn(6, 10, generator=generator)  # (6, 10)
    for scale in (1.0, 100.0, 1e4, -1e4):
        for T in (0.01, 1.0, 50.0, 1000.0):
            z = (scale * base).float()
            expected = torch.softmax(z.double() / T, dim=1)
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
            if not torch.allclose(got, expected, atol=1e-4):
                raise exercises.NotYet(
                    f"wrong probabilities for logits of size about {abs(scale):g} at T = {T:g} "
                    f"(largest error {(got - expected).abs().max().item():.2g}); "
                    "check where T enters and which dimension you normalise over."
                )
    for T in (0.0, -1.0):
        try:
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


def _gap(value: object, name: str) -> float:
    """The student's gap ``g`` as a finite float (a number or a one-element tensor/array)."""
    exercises.answered(value, name, "a number, the gap g")
    if isinstance(value, torch.Tensor | np.ndarray | np.generic):
        size = value.numel() if isinstance(value, torch.Tensor) else value.size
        if size != 1:
            raise exercises.NotYet(f"`{name}` must be one number, got {size} values.")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise exercises.NotYet(f"`{name}` must be a number (the gap g), got {type(value).__name__}.")
    if not math.isfinite(value):
        raise exercises.NotYet(f"`{name}` must be a finite number, got {value}.")
    return float(value)


def _near(value: float, target: float, tolerance: float = GAP_TOLERANCE) -> bool:
    return abs(value - target) <= tolerance


def _gap_hint(name: str, value: float, truth: float, slips: dict[float, str], general: str) -> str | None:
    """``None`` when ``value`` is within the tolerance of ``truth``, else the hint for ``name``."""
    if _near(value, truth):
        return None
    for slip, hint in slips.items():
        if _near(value, slip):
            return f"`{name}`: {hint}"
    if _near(value, truth, 0.5):
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
    g_one, g_zero = _gap(g_one, "g_one"), _gap(g_zero, "g_zero")
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


def _rates_of(values: object, where: str, n: int) -> list[float]:
    """``values`` (list, tuple, 1-d tensor or array of numbers) as ``n`` floats in [0, 1]."""
    if isinstance(values, (torch.Tensor, np.ndarray)):
        values = values.tolist()
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise exercises.NotYet(f"{where} must be a list of {n} success rates, got {type(values).__name__}.")
    values = [v.item() if isinstance(v, (torch.Tensor, np.generic)) else v for v in values]
    if len(values) != n or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values):
        raise exercises.NotYet(
            f"{where} must be a list of {n} numbers, one success rate per eps, got {values!r:.80}."
        )
    if not all(0.0 <= v <= 1.0 for v in values):
        raise exercises.NotYet(f"{where}: success rates are fractions in [0, 1], not percentages.")
    return [float(v) for v in values]


def _rate_table(rates: object, n: int) -> dict[tuple[str, str], list[float]]:
    """The student's ``rates[loss][model]`` as ``{(loss, model): [n rates]}`` (loss keys may be functions)."""
    exercises.answered(rates, "rates", "a dict rates[loss][model] of FGSM success rates")
    if not isinstance(rates, Mapping):
        raise exercises.NotYet(f"rates must be a dict rates[loss][model], got {type(rates).__name__}.")
    by_loss = {getattr(key, "__name__", key): value for key, value in rates.items()}
    if set(by_loss) != set(FGSM_LOSSES):
        raise exercises.NotYet(
            f"rates must have one key per loss, {sorted(FGSM_LOSSES)}, got {sorted(map(str, by_loss))}."
        )
    table = {}
    for loss, by_model in by_loss.items():
        if not isinstance(by_model, Mapping) or set(by_model) != set(MODEL_NAMES):
            got = sorted(map(str, by_model)) if isinstance(by_model, Mapping) else type(by_model).__name__
            raise exercises.NotYet(
                f"rates[{loss!r}] must be a dict with the keys {list(MODEL_NAMES)}, got {got}."
            )
        for model in MODEL_NAMES:
            table[loss, model] = _rates_of(by_model[model], f"rates[{loss!r}][{model!r}]", n)
    return table


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
    all of them with :func:`companion.attacks.fgsm` on ``x (N, 64)``, ``y (N,)`` (16 attacks on
    the test digits: about 0.05 s) and accepts each within :data:`RATE_TOLERANCE`.
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
            f"your {len(table) * len(eps)} rates match. On F the distilled network's FGSM success stays "
            f"between {min(on_f):.2f} and {max(on_f):.2f} whatever eps; on the logit margin it reaches "
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


# --- Figures ------------------------------------------------------------------------------------


def temperature_figure(z: torch.Tensor, T: float) -> Figure:
    """Draw ``softmax(z / T)`` for one logit vector ``z`` ``(K,)``, and how it and its Jacobian vary with T.

    Left: the probabilities at ``T``. Middle: each ``F_i`` against the
    temperature, from 0.01 to 100. Right: the Frobenius norm of
    :func:`softmax_jacobian` in float64 and float32; crosses mark temperatures
    where the float32 Jacobian is exactly zero.
    """
    require_tensor("z", z, ndim=1, floating=True)
    T = require_positive("T", T)
    grid = np.logspace(-2, 2, 200)  # temperatures
    probabilities = torch.stack([softmax_with_temperature(z[None].double(), t)[0] for t in grid])  # (G, K)
    norm64 = np.array([softmax_jacobian(z.double(), t).norm().item() for t in grid])  # (G,)
    norm32 = np.array([softmax_jacobian(z.float(), t).norm().item() for t in grid])  # (G,)
    with style_context():
        fig, (ax_bar, ax_p, ax_j) = plt.subplots(1, 3, figsize=(11, 3.2))
        ax_bar.bar(range(len(z)), softmax_with_temperature(z[None], T)[0].numpy(), color=COLORS["standard"])
        ax_bar.set(xlabel="class $i$", ylabel="$F_i$", ylim=(0, 1.02), title=f"softmax(z / T), T = {T:.3g}")
        ax_p.plot(grid, probabilities.numpy(), color="#999999", linewidth=1)
        ax_p.plot(
            grid, probabilities[:, int(z.argmax())].numpy(), color=COLORS["distilled"], label="arg-max class"
        )
        ax_p.set(xscale="log", xlabel="temperature T", ylabel="$F_i$", title="each class against T")
        ax_p.axvline(T, color="black", linestyle=":")
        ax_p.legend()
        ax_j.plot(grid, norm64, color=COLORS["standard"], label="float64")
        ax_j.plot(grid, np.where(norm32 > 0, norm32, np.nan), "--", color=COLORS["fgsm"], label="float32")
        bottom = ax_j.get_xaxis_transform()  # x in data units, y in axes units
        ax_j.plot(
            grid[norm32 == 0],
            np.full((norm32 == 0).sum(), 0.03),
            "x",
            transform=bottom,
            color=COLORS["fgsm"],
            label="float32 exactly 0",
        )
        ax_j.axvline(T, color="black", linestyle=":")
        ax_j.set(xscale="log", yscale="log", ylim=(1e-40, 10), xlabel="temperature T")
        ax_j.set_ylabel(r"$\|\partial F / \partial z\|$")
        ax_j.set_title("size of the Jacobian")
        ax_j.legend()
        fig.tight_layout()
    return fig


def sweep_figure(reports: Sequence[DefenceReport], standard: DefenceReport) -> Figure:
    """FGSM success, accuracy, share with no usable gradient and logit size against T, with the standard."""
    if not reports or not all(isinstance(r, DefenceReport) for r in (*reports, standard)):
        raise TypeError("reports must be a non-empty list of DefenceReport, and standard a DefenceReport")
    T = [r.T for r in reports]
    with style_context():
        fig, (ax_s, ax_a, ax_z) = plt.subplots(1, 3, figsize=(11, 3.2))
        ax_s.plot(T, [r.fgsm_probabilities for r in reports], "o-", color=COLORS["distilled"], label="on F")
        ax_s.plot(T, [r.fgsm_logits for r in reports], "s-", color=COLORS["fgsm"], label="on logits (margin)")
        ax_s.plot(T, [r.fgsm_scaled for r in reports], "d--", color=COLORS["pgd"], label="on z / T")
        ax_s.axhline(
            standard.fgsm_probabilities, color=COLORS["standard"], linestyle=":", label="standard, on F"
        )
        ax_s.set(xscale="log", xlabel="temperature T", ylabel="FGSM success", ylim=(0, 1.05))
        ax_s.set_title("FGSM on the distilled student")
        ax_s.legend()
        ax_a.plot(T, [r.accuracy for r in reports], "o-", color=COLORS["distilled"], label="test accuracy")
        ax_a.plot(
            T,
            [r.zero_gradients for r in reports],
            "^-",
            color="#555555",
            label="share with no usable gradient",
        )
        ax_a.axhline(standard.accuracy, color=COLORS["standard"], linestyle=":", label="standard accuracy")
        ax_a.set(xscale="log", xlabel="temperature T", ylim=(0, 1.05), title="accuracy and masked gradients")
        ax_a.legend(loc="center left")
        ax_z.plot(T, [r.logit_scale for r in reports], "o-", color=COLORS["distilled"], label="distilled")
        ax_z.axhline(standard.logit_scale, color=COLORS["standard"], linestyle=":", label="standard")
        ax_z.set(xscale="log", yscale="log", xlabel="temperature T", ylabel=r"median $\max_i |z_i|$")
        ax_z.set_title("size of the logits")
        ax_z.legend()
        fig.tight_layout()
    return fig
