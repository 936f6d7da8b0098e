"""Defensive distillation, and the losses that show its robustness is gradient masking.

Softmax at temperature ``T`` divides the logits ``z`` by ``T`` before the softmax::

    F_i(x) = exp(z_i(x) / T) / sum_j exp(z_j(x) / T)

Defensive distillation (Papernot et al. 2016) trains a *teacher* at temperature
``T`` on the hard labels, labels the training set with the teacher's soft labels
``softmax(z_teacher / T)``, trains a *student* of the same architecture at the
same ``T`` on those soft labels, and deploys the student at ``T = 1``. Training at
``T`` makes the logits grow by about a factor ``T``, so at ``T = 1`` the float32
softmax saturates: on most inputs (those where every gap to the top logit exceeds
about ``150 ln 2 = 104``) it is exactly one-hot, and the gradient of the
cross-entropy computed from the probabilities is exactly zero
(:func:`softmax_cross_entropy`); on the others it is tiny but not zero.
Attacks that differentiate the logits instead (:func:`logit_margin`, re-exported
from :mod:`companion.attacks`, or the
cross-entropy of ``z / T``, :func:`cross_entropy_at`) succeed as on an
undistilled model (Carlini & Wagner 2016). Hinton et al.'s (2015) distillation
loss, whose purpose is compression, is :func:`hinton_loss`.

The chapter's figures and explorer are in :mod:`companion.figures.distillation`, the checks of
its exercises in :mod:`companion.classroom.checks.ch02_defensive_distillation`.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from companion.attacks import Loss, fgsm, input_gradient, logit_margin
from companion.data import Digits
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
    "cross_entropy_at",
    "defensive_distillation",
    "evaluate_defence",
    "hinton_loss",
    "logit_margin",
    "margin_distance",
    "soft_labels",
    "softmax_cross_entropy",
    "softmax_jacobian",
    "softmax_with_temperature",
    "temperature_sweep",
    "zero_gradient_fraction",
]

DISTILLATION_CONFIG = TrainConfig(lr=1e-2)
"""Training settings of teacher and student: the standard ones, but Adam's ``lr`` is 1e-2.

At temperature ``T`` the logits must grow about ``T`` times larger to fit the
labels; Adam's step per weight is at most about ``lr``, whatever the gradient's
scale, so the default 1e-3 leaves the models at ``T = 50`` under-trained in 30
epochs (``tests/test_distillation.py`` asserts that the student then falls at least
3 points of test accuracy short).
"""


# --- Softmax at temperature T -------------------------------------------------------------------


def _require_logits(name: str, logits: torch.Tensor) -> torch.Tensor:
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
    _require_logits("logits", logits)
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
    gives ``-inf``, which the softmax's backward pass multiplies by ``F_y = 0`` (the
    chapter counts these inputs for its distilled MLP). :func:`companion.attacks.fgsm`
    turns NaN gradient entries into 0 and so leaves those inputs unchanged;
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
    _require_logits("logits", logits)
    require_labels("y", y, num_classes=logits.shape[1])
    require_same_length("logits", logits, "y", y)
    probabilities = torch.softmax(logits, dim=1)  # (N, K), rounded to float32
    return -torch.log(probabilities.gather(1, y[:, None]).squeeze(1))  # (N,)


def cross_entropy_at(T: float) -> Loss:
    """The attack loss ``-log softmax(z / T)_y``, computed stably with ``log_softmax``.

    Carlini & Wagner (2016) use the same rescaling ``z / T`` (inside their attack
    on the distilled network), with ``T`` its distillation temperature: dividing by
    ``T`` undoes the growth of the logits,
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


def margin_distance(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """First-order L2 distance to the decision boundary, ``-m(x) / ||grad_x m(x)||``, ``(N,)``.

    ``m = max_{i != y} z_i - z_y`` is the logit margin (:func:`logit_margin`), negative where
    the model is right. Linearising ``m`` around ``x``, the margin reaches 0 after an L2 step of
    ``-m / ||grad_x m||`` along its gradient: DeepFool's first linearised step towards the
    runner-up class (Moosavi-Dezfooli et al. 2016 take the nearest over all classes, so this is
    an upper bound on their first step). Unlike the gradient's norm, the ratio does not change
    when the logits are multiplied by a constant: it compares how steep two networks are
    relative to the size of their logits. Positive on correctly classified inputs, ``<= 0`` on
    the others (already across the boundary); ``inf`` where the gradient is exactly zero and the
    margin negative.
    """
    gradient = input_gradient(model, x, y, logit_margin).flatten(1)  # (N, D)
    margin = logit_margin(predict_logits(model, x), y)  # (N,), negative where right
    return -margin / gradient.norm(dim=1)


@dataclass(frozen=True)
class DefenceReport:
    """One model's accuracy and FGSM results on a test set (see :func:`evaluate_defence`)."""

    T: float  # distillation temperature (1.0 for the standard model)
    accuracy: float  # clean test accuracy
    fgsm_probabilities: float  # FGSM success, gradient of softmax_cross_entropy
    fgsm_on_correct: float  # the same attack's success among the correctly classified inputs
    fgsm_logits: float  # FGSM success, gradient of logit_margin
    fgsm_scaled: float  # FGSM success, gradient of cross_entropy_at(T)
    zero_gradients: float  # share of inputs whose softmax_cross_entropy gradient is all zero or NaN
    logit_scale: float  # median over inputs of max_i |z_i|
    boundary_distance: float  # median margin_distance over the correctly classified inputs


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
        wrong counts as a success), as :class:`companion.attacks.AttackResult` defines them;
        ``fgsm_on_correct`` is the success of FGSM on ``F`` over the inputs the model
        classifies correctly (0 when there are none); ``boundary_distance`` is the median of
        :func:`margin_distance` over those same inputs (``nan`` when there are none).
    """
    require_positive("eps", eps, allow_zero=True)
    z = predict_logits(model, x)  # (N, K)
    on_f = fgsm(model, x, y, eps, loss=softmax_cross_entropy).success  # (N,) bool
    right = z.argmax(dim=1) == y  # (N,)
    distance = margin_distance(model, x[right], y[right]).median().item() if right.any() else math.nan
    return DefenceReport(
        T=require_positive("T", T),
        accuracy=accuracy(model, x, y),
        fgsm_probabilities=on_f.float().mean().item(),
        fgsm_on_correct=on_f[right].float().mean().item() if right.any() else 0.0,
        fgsm_logits=fgsm(model, x, y, eps, loss=logit_margin).success_rate,
        fgsm_scaled=fgsm(model, x, y, eps, loss=cross_entropy_at(T)).success_rate,
        zero_gradients=zero_gradient_fraction(model, x, y, softmax_cross_entropy),
        logit_scale=z.abs().max(dim=1).values.median().item(),
        boundary_distance=distance,
    )


def temperature_sweep(
    data: Digits,
    temperatures: Sequence[float] = (1, 10, 50, 100),
    eps: float = 0.2,
    config: TrainConfig = DISTILLATION_CONFIG,
    students: Mapping[float, nn.Module] | None = None,
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
    students : mapping of float to nn.Module, optional
        Students already distilled, by temperature (each a key of ``temperatures``): these are
        evaluated as they are instead of being trained again. The caller vouches that each was
        distilled from ``data`` with ``config`` (the chapter passes the ``T = 50`` student it
        trained with the defaults, which saves one teacher and one student).

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
    students = {} if students is None else students
    if not isinstance(students, Mapping):
        raise TypeError(f"students must be a mapping of temperature to model, got {type(students).__name__}")
    for T, model in students.items():
        if not any(T == t for t in temperatures):
            raise ValueError(
                f"students has a model for T = {T!r}, which is not in temperatures {tuple(temperatures)!r}"
            )
        if not isinstance(model, nn.Module):
            raise TypeError(f"students[{T!r}] must be a torch.nn.Module, got {type(model).__name__}")
    reports = []
    for T in temperatures:
        given = [model for t, model in students.items() if t == T]
        student = given[0] if given else defensive_distillation(data, T, config).student
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
    _require_logits("student_logits", student_logits)
    _require_logits("teacher_logits", teacher_logits)
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
