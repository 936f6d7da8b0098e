"""Gradient attacks on a classifier that maps inputs in [0, 1] to logits.

One contract for every attack, after Foolbox 3 (Rauber et al. 2020): model,
inputs ``x`` and labels ``y`` in; an :class:`AttackResult` out, whose
``success`` is recomputed on the returned (clipped) points, never trusted from
inside the loop, and whose ``queries`` counts the model calls per sample.

- :func:`pgd`: projected gradient descent with a random start, Madry et al.
  (2018), the inner maximisation of ``min_theta E max_{||delta||_inf <= eps} L``.
- :func:`fgsm`: the fast gradient sign method of Goodfellow et al. (2015),
  ``x' = clip(x + eps * sign(grad_x J(x, y)))``: exactly one PGD step of size
  ``eps`` from ``x`` itself (a test checks this).

Shapes: ``x`` is ``(N, ...)`` float in [0, 1] (flat digits ``(N, 64)`` or
images ``(N, 1, 8, 8)``), ``y`` is ``(N,)`` int64, ``model(x)`` is ``(N, K)``.

References
----------
Goodfellow, Shlens, Szegedy. Explaining and Harnessing Adversarial Examples. ICLR 2015.
Madry, Makelov, Schmidt, Tsipras, Vladu. Towards Deep Learning Models Resistant to
Adversarial Attacks. ICLR 2018.
Rauber, Zimmermann, Bethge, Brendel. Foolbox Native. JOSS 2020.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from companion.validation import (
    check_in_unit_box,
    check_labels,
    check_positive,
    check_positive_int,
    check_same_length,
)

__all__ = ["AttackResult", "Loss", "cross_entropy", "fgsm", "input_gradient", "pgd"]

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``loss(logits (N, K), y (N,)) -> (N,)`` per-sample losses the attack increases."""


@dataclass
class AttackResult:
    """What every attack returns.

    Attributes
    ----------
    adversarial : torch.Tensor
        ``(N, ...)`` like ``x``, in [0, 1].
    success : torch.Tensor
        ``(N,)`` bool: the model's prediction on ``adversarial`` differs from ``y``
        (recomputed on the returned points).
    queries : torch.Tensor
        ``(N,)`` int64: model evaluations spent on each sample (a forward and
        backward pass counts once).
    history : dict of str to torch.Tensor
        Per-iteration diagnostics an attack chooses to record, each ``(steps, N)``.
    """

    adversarial: torch.Tensor
    success: torch.Tensor
    queries: torch.Tensor
    history: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def success_rate(self) -> float:
        """Share of samples the attack fooled, in [0, 1]."""
        return self.success.float().mean().item()


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample cross-entropy ``-log softmax(logits)_y``, computed stably from logits."""
    return F.cross_entropy(logits, y, reduction="none")


def _check_attack_inputs(model, x: torch.Tensor, y: torch.Tensor) -> None:
    if not callable(model):
        raise TypeError(f"model must be callable (a batch in [0, 1] -> logits), got {type(model).__name__}")
    check_in_unit_box("x", x)
    check_labels("y", y)
    check_same_length("x", x, "y", y)


def _predict(model, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x).argmax(dim=1)


def input_gradient(model, x: torch.Tensor, y: torch.Tensor, loss: Loss = cross_entropy) -> torch.Tensor:
    """``grad_x loss(model(x), y)`` for each sample, shape of ``x``.

    Only the input receives a gradient: the model's ``.grad`` fields are untouched.
    """
    x = x.detach().requires_grad_(True)
    per_sample = loss(model(x), y)  # (N,)
    (gradient,) = torch.autograd.grad(per_sample.sum(), x)
    return gradient


class _EvalMode:
    """Put an ``nn.Module`` in eval mode for the attack; restore its mode afterwards."""

    def __init__(self, model) -> None:
        self.model = model if isinstance(model, nn.Module) else None

    def __enter__(self) -> None:
        if self.model is not None:
            self.was_training = self.model.training
            self.model.eval()

    def __exit__(self, *exc) -> None:
        if self.model is not None:
            self.model.train(self.was_training)


def pgd(
    model,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    alpha: float,
    steps: int,
    random_start: bool = True,
    *,
    restarts: int = 1,
    loss: Loss = cross_entropy,
    generator: torch.Generator | None = None,
) -> AttackResult:
    """L-infinity projected gradient descent (Madry et al. 2018, eq. 2 and sec. 2.1).

    Each step, in the paper's order::

        x' <- x' + alpha * sign(grad_x' L(x', y))   # ascent step
        x' <- x + clip(x' - x, -eps, eps)          # project onto the eps-ball around x
        x' <- clip(x', 0, 1)                        # back into the image box

    Parameters
    ----------
    model : callable
        Maps ``(N, ...)`` in [0, 1] to logits ``(N, K)``. An ``nn.Module`` is
        put in eval mode during the attack and its mode restored afterwards.
    x : torch.Tensor
        ``(N, ...)`` float inputs in [0, 1].
    y : torch.Tensor
        ``(N,)`` int64 true labels.
    eps : float
        L-infinity budget, ``>= 0``.
    alpha : float
        Step size, ``> 0`` (Madry et al. use 0.01 for eps 0.3 on MNIST).
    steps : int
        Gradient steps per restart.
    random_start : bool
        Start from ``x + U(-eps, eps)`` (clipped to [0, 1]) instead of ``x``.
    restarts : int
        Independent random starts; per sample we keep the first start that
        fools the model, else the one with the highest loss.
    loss : callable
        ``loss(logits, y) -> (N,)``, increased by the attack. Defaults to the
        stable cross-entropy on logits.
    generator : torch.Generator, optional
        Source of the random starts, for reproducible attacks.

    Returns
    -------
    AttackResult
        ``adversarial`` in [0, 1] with ``||adversarial - x||_inf <= eps``;
        ``queries`` = ``steps * restarts + 1`` (the last one checks success).
    """
    _check_attack_inputs(model, x, y)
    eps = check_positive("eps", eps, allow_zero=True)
    alpha = check_positive("alpha", alpha)
    check_positive_int("steps", steps)
    check_positive_int("restarts", restarts)
    if restarts > 1 and not random_start:
        raise ValueError("restarts > 1 needs random_start=True (without it every restart is the same)")

    x = x.detach()
    best = x.clone()
    best_loss = torch.full((len(x),), -torch.inf, device=x.device)
    best_success = torch.zeros(len(x), dtype=torch.bool, device=x.device)
    with _EvalMode(model):
        for _ in range(restarts):
            x_adv = x.clone()
            if random_start:
                noise = torch.rand(x.shape, generator=generator).to(x.device) * 2 - 1  # U(-1, 1)
                x_adv = (x + eps * noise).clamp(0, 1)
            for _ in range(steps):
                gradient = input_gradient(model, x_adv, y, loss)
                x_adv = x_adv + alpha * gradient.sign()  # ascent step
                x_adv = x + (x_adv - x).clamp(-eps, eps)  # project onto the eps-ball
                x_adv = x_adv.clamp(0, 1)  # clip to the box
            with torch.no_grad():
                logits = model(x_adv)
                fooled = logits.argmax(dim=1) != y
                value = loss(logits, y)
            # Keep this restart where it fools and no earlier one did, or where nothing
            # fools yet and its loss is higher.
            better = (fooled & ~best_success) | (~fooled & ~best_success & (value > best_loss))
            best[better], best_loss[better] = x_adv[better], value[better]
            best_success |= fooled
        success = _predict(model, best) != y
    queries = torch.full((len(x),), steps * restarts + 1, dtype=torch.int64)
    return AttackResult(adversarial=best, success=success, queries=queries)


def fgsm(model, x: torch.Tensor, y: torch.Tensor, eps: float, *, loss: Loss = cross_entropy) -> AttackResult:
    """Fast gradient sign method (Goodfellow et al. 2015, eq. 3), clipped to [0, 1].

    ``x' = clip(x + eps * sign(grad_x J(x, y)), 0, 1)``: one PGD step of size
    ``eps`` with no random start. Shapes and ``loss`` as in :func:`pgd`.

    Notes
    -----
    The paper's ``J`` is the training loss. Which loss an attacker
    differentiates matters against a defended model: defensive distillation
    (chapter 2) makes the cross-entropy computed from saturated float32
    probabilities have an exactly zero gradient, while its logits do not.
    """
    return pgd(model, x, y, eps=eps, alpha=max(eps, 1e-12), steps=1, random_start=False, loss=loss)
