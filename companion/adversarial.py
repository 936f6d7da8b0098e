"""Adversarial training as robust optimisation, and how to evaluate it (chapter 3).

Madry et al. (2018, eq. 2.1) write adversarial training as a saddle-point problem::

    min_theta rho(theta),   rho(theta) = E_{(x, y) ~ D} [ max_{||delta||_inf <= eps} L(theta, x + delta, y) ]

The *inner maximisation* is an attack on the current model, re-run inside every batch; the *outer
minimisation* is ordinary training. So this module writes no training loop and no attack: it
hands ``companion.training.train`` a per-batch loss hook that calls ``companion.attacks.fgsm`` or
``companion.attacks.pgd``.

- :func:`fgsm_training_loss`: Goodfellow et al. (2015, sec. 6),
  ``alpha J(theta, x, y) + (1 - alpha) J(theta, x + eps sign(grad_x J(theta, x, y)), y)``.
- :func:`pgd_training_loss`: Madry et al. (2018), the loss at PGD's adversarial point (random
  start, ``steps`` steps of ``step_size``).
- :func:`train_models`: the chapter's three models (standard, FGSM-AT, PGD-AT) from the same
  initial weights and batch order; :func:`count_passes` counts a hook's forward and backward
  passes per batch, its cost.
- Evaluation as Carlini et al. (2019) and Athalye et al. (2018) advise: :func:`robust_accuracy`
  (PGD with restarts), :func:`evaluate` over a grid of ``eps``, and :func:`sanity_checks`
  (stronger attacks must not raise the accuracy, a large ``eps`` must bring it to 0, a
  gradient-free attack must not beat PGD: the boundary attack of ``companion.boundary``).
- AutoAttack (Croce and Hein 2020) with the Adversarial Robustness Toolbox's APGD and Square
  attacks: :func:`autoattack`; per-example robustness (:class:`Robustness`,
  :func:`pgd_robustness`, :func:`transfer_robustness`) and the worst case over every attack
  (:func:`worst_case`), each adversarial checked against the threat model (:func:`robust_mask`);
  the full evaluation of ``benchmarks/autoattack.py`` (:func:`autoattack_results`).

The chapter's figures and explorer are in :mod:`companion.figures.adversarial`, its exercise
checks in :mod:`companion.classroom.checks.ch03_adversarial_training`.

Shapes: ``x`` is ``(N, 64)`` (or ``(N, 1, 8, 8)``) float in [0, 1], ``y`` is ``(N,)`` int64, a
model maps ``x`` to logits ``(N, 10)``.

Notation clash: Goodfellow et al.'s ``alpha`` weights the clean loss; Madry et al.'s PGD step size
is also often called ``alpha`` (``companion.attacks.pgd``'s argument). Here the step size is
always ``step_size``.

References
----------
1. Goodfellow, Shlens, Szegedy. Explaining and Harnessing Adversarial Examples. ICLR 2015.
2. Madry, Makelov, Schmidt, Tsipras, Vladu. Towards Deep Learning Models Resistant to
   Adversarial Attacks. ICLR 2018.
3. Wong, Rice, Kolter. Fast is Better than Free: Revisiting Adversarial Training. ICLR 2020.
4. Athalye, Carlini, Wagner. Obfuscated Gradients Give a False Sense of Security. ICML 2018.
5. Carlini, Athalye, Papernot, Brendel, Rauber, Tsipras, Goodfellow, Madry, Kurakin.
   On Evaluating Adversarial Robustness. arXiv:1902.06705, 2019.
6. Brendel, Rauber, Bethge. Decision-Based Adversarial Attacks. ICLR 2018.
7. Croce, Hein. Reliable Evaluation of Adversarial Robustness with an Ensemble of Diverse
   Parameter-free Attacks. ICML 2020.
8. Andriushchenko, Croce, Flammarion, Hein. Square Attack. ECCV 2020.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from companion.attacks import AttackResult, fgsm, pgd
from companion.boundary import boundary_attack, labels_of
from companion.data import Digits
from companion.runtime import Seed, generator, progress
from companion.training import (
    History,
    LossFn,
    TrainConfig,
    cross_entropy_loss,
    predict_logits,
    standard_error,
    train_classifier,
)
from companion.validation import (
    require_attack_inputs,
    require_models,
    require_positive,
    require_positive_int,
    require_probability,
    require_seed,
)

__all__ = [
    "AUTOATTACK_ATTACKS",
    "LABELS",
    "MODEL_NAMES",
    "AutoAttackSetup",
    "Evaluation",
    "Robustness",
    "RoundedInput",
    "SanityReport",
    "Setup",
    "count_passes",
    "autoattack",
    "autoattack_results",
    "default_step_size",
    "evaluate",
    "fgsm_accuracy",
    "fgsm_training_loss",
    "gradient_free_accuracy",
    "grey_image_bound",
    "pgd_evaluation",
    "pgd_robustness",
    "robust_mask",
    "pgd_training_loss",
    "robust_accuracy",
    "sanity_checks",
    "train_models",
    "training_hooks",
    "transfer_robustness",
    "worst_case",
]

MODEL_NAMES = ("standard", "fgsm", "pgd")  # keys of companion.plotting.COLORS too
EVAL_STEPS, EVAL_RESTARTS = 20, 5  # the evaluation's PGD (Madry et al.: up to 100 steps, 20 restarts)
LABELS = {"standard": "standard", "fgsm": "FGSM-AT", "pgd": "PGD-AT"}


@dataclass(frozen=True)
class Setup:
    """The chapter's settings, with the papers' values in the comments."""

    eps: float = 0.2  # L-inf training budget (Madry et al.: 0.3 on 28x28 MNIST)
    fgsm_alpha: float = 0.5  # weight of the clean loss in FGSM training (Goodfellow et al.: 0.5)
    train_steps: int = 7  # PGD steps per batch in PGD training (Madry et al.: 40 of 0.01)
    eval_steps: int = EVAL_STEPS  # PGD steps in evaluation (Madry et al.: up to 100)
    eval_restarts: int = EVAL_RESTARTS  # random restarts in evaluation (Madry et al.: up to 20)
    epochs: int = 100  # Adam 1e-3, as in companion.training.TrainConfig
    batch_size: int = 128  # TrainConfig's 64 would double the steps, and the chapter's time
    eps_grid: tuple[float, ...] = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4)  # the curve's eps
    seed: int = 0  # initial weights, batch order and PGD's random starts

    def __post_init__(self) -> None:
        require_positive("eps", self.eps)
        require_probability("fgsm_alpha", self.fgsm_alpha)
        require_positive_int("train_steps", self.train_steps)
        require_positive_int("eval_steps", self.eval_steps)
        require_positive_int("eval_restarts", self.eval_restarts)
        require_positive_int("epochs", self.epochs)
        require_positive_int("batch_size", self.batch_size)
        if not self.eps_grid:
            raise ValueError("eps_grid must hold at least one eps, got an empty tuple")
        for eps in self.eps_grid:
            require_positive("eps_grid[i]", eps, allow_zero=True)
        require_seed("seed", self.seed)

    @property
    def train_config(self) -> TrainConfig:
        """The ``TrainConfig`` of every model: Adam 1e-3, ``epochs``, ``batch_size``, ``seed``."""
        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size, seed=self.seed)


# --------------------------------------------------------------------------------------------
# Training: the inner maximisation as a loss hook of companion.training.train
# --------------------------------------------------------------------------------------------


def default_step_size(eps: float, steps: int) -> float:
    """PGD step size ``2.5 eps / steps``: enough to cross the ball (width ``2 eps``) from a random start.

    The rule of thumb of Madry et al.'s ``robustness`` library; Madry et al. (2018) use 40 steps of
    0.01 for ``eps = 0.3`` on MNIST, a total path of ``1.33 eps``.
    """
    eps = require_positive("eps", eps)
    require_positive_int("steps", steps)
    return 2.5 * eps / steps


def fgsm_training_loss(eps: float, alpha: float = 0.5) -> LossFn:
    """The hook of FGSM adversarial training (Goodfellow et al. 2015, sec. 6)::

        J~(theta, x, y) = alpha J(theta, x, y) + (1 - alpha) J(theta, x', y),
        x' = clip(x + eps sign(grad_x J(theta, x, y)), 0, 1)

    with ``J`` the mean cross-entropy of the batch. ``x'`` comes from ``companion.attacks.fgsm``
    against the *current* model at every call.

    Parameters
    ----------
    eps : float
        L-inf budget ``> 0``.
    alpha : float
        Weight of the clean loss, in [0, 1]; 0.5 as in the paper.

    Returns
    -------
    callable
        ``loss_fn(model, x_b, y_b) -> scalar`` for ``companion.training.train``.

    Notes
    -----
    ``x'`` is a constant for the outer gradient (the sign has zero derivative), and it is clipped to
    the image box [0, 1], which the paper does not mention.
    """
    eps = require_positive("eps", eps)
    alpha = require_probability("alpha", alpha)

    def loss_fn(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x_adv = fgsm(model, x, y, eps).adversarial  # (B, 64), regenerated against the current model
        return alpha * F.cross_entropy(model(x), y) + (1 - alpha) * F.cross_entropy(model(x_adv), y)

    return loss_fn


def pgd_training_loss(
    eps: float, steps: int = 7, step_size: float | None = None, *, seed: Seed = 0
) -> LossFn:
    """The hook of PGD adversarial training (Madry et al. 2018, sec. 2 and 4)::

        L(theta, x + delta*, y),  delta* ~ argmax_{||delta||_inf <= eps} L(theta, x + delta, y)

    where ``x + delta*`` is ``companion.attacks.pgd`` with a random start, ``steps`` steps of
    ``step_size``, run against the *current* model at every call.

    Parameters
    ----------
    eps : float
        L-inf budget ``> 0``.
    steps : int
        PGD steps per batch (Madry et al.: 40 on MNIST, 7 on CIFAR-10).
    step_size : float, optional
        Defaults to :func:`default_step_size` ``= 2.5 eps / steps``.
    seed : int, torch.Generator or None
        The random starts' source (:func:`companion.runtime.generator`); the hook owns one
        generator for its whole run, so each batch draws fresh starts.

    Returns
    -------
    callable
        ``loss_fn(model, x_b, y_b) -> scalar`` for ``companion.training.train``.

    Notes
    -----
    Like Madry et al. we train on adversarial points only (no clean term). PGD puts the model in
    eval mode while it attacks (the MLP has no dropout or batch norm, so nothing changes) and
    restores train mode afterwards.
    """
    eps = require_positive("eps", eps)
    require_positive_int("steps", steps)
    step_size = (
        default_step_size(eps, steps) if step_size is None else require_positive("step_size", step_size)
    )
    g = generator(seed)  # one generator for the hook's whole run

    def loss_fn(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x_adv = pgd(model, x, y, eps, step_size, steps, random_start=True, seed=g).adversarial
        return F.cross_entropy(model(x_adv), y)  # the outer minimisation's loss at x + delta*

    return loss_fn


def count_passes(loss_fn: LossFn, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[int, int]:
    """Forward and backward passes of ``model`` in one training step: ``loss_fn(model, x, y).backward()``.

    Counts calls of ``model`` (a forward hook) and the backward passes through their outputs (a
    gradient hook on each output that needs one): the attack's passes plus the outer
    minimisation's. A machine-independent measure of a hook's cost; the wall-clock time also
    depends on the load and on overheads. The model's gradients are cleared afterwards.
    """
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be a function, got {type(loss_fn).__name__}")
    require_attack_inputs(model, x, y, module=True, nonempty=True)
    counts = {"forward": 0, "backward": 0}

    def count_backward(gradient: torch.Tensor) -> None:
        counts["backward"] += 1

    def count_forward(module: nn.Module, inputs, output: torch.Tensor) -> None:
        counts["forward"] += 1
        if output.requires_grad:
            output.register_hook(count_backward)

    handle = model.register_forward_hook(count_forward)
    try:
        loss_fn(model, x, y).backward()
    finally:
        handle.remove()
        model.zero_grad(set_to_none=True)
    return counts["forward"], counts["backward"]


def training_hooks(setup: Setup = Setup()) -> dict[str, LossFn]:
    """The loss hook of each of the chapter's models, keyed by :data:`MODEL_NAMES`."""
    if not isinstance(setup, Setup):
        raise TypeError(f"setup must be a companion.adversarial.Setup, got {type(setup).__name__}")
    return {
        "standard": cross_entropy_loss,
        "fgsm": fgsm_training_loss(setup.eps, setup.fgsm_alpha),
        "pgd": pgd_training_loss(setup.eps, setup.train_steps, seed=setup.seed),
    }


def train_models(
    data: Digits, setup: Setup = Setup(), names: Sequence[str] = MODEL_NAMES
) -> dict[str, tuple[nn.Module, History]]:
    """Train the digits MLP once per hook in ``names`` with ``companion.training.train_classifier``.

    Every model starts from the same seeded weights and sees the same batch order, so they differ
    only in the loss. Returns ``{name: (model, history)}``; ``history.seconds`` is the training
    time. The loop records only the loss per epoch (``record_accuracy=False``: the chapter shows
    no learning curve), so the time is the training's own.
    """
    hooks = training_hooks(setup)
    unknown = [name for name in names if name not in hooks]
    if unknown or not names:
        raise ValueError(f"names must be a non-empty selection of {list(MODEL_NAMES)}, got {list(names)}")
    config = setup.train_config
    return {
        name: train_classifier(data, "mlp", config, loss_fn=hooks[name], record_accuracy=False)
        for name in names
    }


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


def pgd_evaluation(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    *,
    steps: int = EVAL_STEPS,
    restarts: int = EVAL_RESTARTS,
    seed: Seed = 0,
) -> AttackResult:
    """The evaluation attack: ``companion.attacks.pgd`` with ``restarts`` random starts and
    ``steps`` steps of :func:`default_step_size`, its randomness from ``seed`` (an int gives the
    same starts on every call; see :func:`companion.runtime.generator`).

    ``eps = 0`` returns ``x`` itself (the clean points) as an ``AttackResult``.
    """
    require_attack_inputs(model, x, y, module=True, nonempty=True)
    eps = require_positive("eps", eps, allow_zero=True)
    require_positive_int("steps", steps)
    require_positive_int("restarts", restarts)
    if eps == 0:
        success = predict_logits(model, x).argmax(dim=1) != y
        return AttackResult(x.clone(), success, torch.ones(len(x), dtype=torch.int64))
    step_size = default_step_size(eps, steps)
    return pgd(model, x, y, eps, step_size, steps, restarts=restarts, seed=seed)


def robust_accuracy(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    *,
    steps: int = EVAL_STEPS,
    restarts: int = EVAL_RESTARTS,
    seed: Seed = 0,
) -> float:
    """Share of samples still classified correctly after :func:`pgd_evaluation`, in [0, 1].

    An estimate from above of the true robust accuracy
    ``P[argmax model(x + delta) = y for every ||delta||_inf <= eps]``: a stronger attack can only
    lower it. At ``eps = 0`` it is the clean accuracy.
    """
    result = pgd_evaluation(model, x, y, eps, steps=steps, restarts=restarts, seed=seed)
    return 1.0 - result.success_rate


def fgsm_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> float:
    """Share of samples still classified correctly after one FGSM step of size ``eps``."""
    require_attack_inputs(model, x, y, module=True, nonempty=True)
    eps = require_positive("eps", eps, allow_zero=True)
    return 1.0 - fgsm(model, x, y, eps).success_rate


def gradient_free_accuracy(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *, steps: int = 1000, seed: Seed = 0
) -> float:
    """Accuracy under the decision-based boundary attack (``companion.boundary``), in [0, 1].

    The boundary attack needs only labels, so it cannot be fooled by masked gradients. It
    minimises the L2 distance; a sample counts as broken when the attack's adversarial lies within
    ``eps`` of ``x`` in L-inf. ``steps`` and ``seed`` go to ``companion.boundary.boundary_attack``.

    Notes
    -----
    An L2 attack is a weak L-inf attack: this accuracy bounds the true one from above only
    loosely. It is a *sanity check* (Athalye et al. 2018): if it were far below PGD's, PGD's
    gradients would be misleading.
    """
    require_attack_inputs(model, x, y, module=True, nonempty=True)
    eps = require_positive("eps", eps, allow_zero=True)
    require_positive_int("steps", steps)
    result = boundary_attack(labels_of(model), x, y, steps, seed=seed)
    distance = (result.adversarial - x).flatten(1).abs().amax(dim=1)  # (N,) L-inf
    broken = result.success & (distance <= eps + 1e-6)
    return 1.0 - broken.float().mean().item()


@dataclass
class Evaluation:
    """Clean, FGSM and PGD accuracy of several models over a grid of ``eps``.

    Attributes
    ----------
    eps : tuple of float
        The grid; ``robust[name][i]`` is the PGD accuracy at ``eps[i]``.
    robust : dict of str to list of float
        PGD accuracy (``Setup.eval_steps`` steps, ``eval_restarts`` restarts).
    fgsm : dict of str to float
        FGSM accuracy at ``train_eps``.
    train_eps : float
        The training budget ``Setup.eps``.
    """

    eps: tuple[float, ...]
    robust: dict[str, list[float]]
    fgsm: dict[str, float]
    train_eps: float

    def at(self, name: str, eps: float) -> float:
        """PGD accuracy of model ``name`` at grid value ``eps``."""
        if name not in self.robust:
            raise ValueError(f"name must be one of {list(self.robust)}, got {name!r}")
        if eps not in self.eps:
            raise ValueError(f"eps must be one of the grid {list(self.eps)}, got {eps}")
        return self.robust[name][self.eps.index(eps)]


def evaluate(
    models: Mapping[str, nn.Module], x: torch.Tensor, y: torch.Tensor, setup: Setup = Setup()
) -> Evaluation:
    """PGD accuracy of every model at every ``setup.eps_grid`` value; FGSM accuracy at ``setup.eps``."""
    require_models("models", models)
    steps, restarts = setup.eval_steps, setup.eval_restarts
    robust = {name: [] for name in models}
    runs = [(name, eps) for name in models for eps in setup.eps_grid]
    for name, eps in progress(runs, desc="PGD evaluation", unit="attack"):
        robust[name].append(
            robust_accuracy(models[name], x, y, eps, steps=steps, restarts=restarts, seed=setup.seed)
        )
    fgsm_acc = {name: fgsm_accuracy(model, x, y, setup.eps) for name, model in models.items()}
    return Evaluation(tuple(setup.eps_grid), robust, fgsm_acc, setup.eps)


@dataclass
class SanityReport:
    """The checks of Carlini et al. (2019, sec. 4-5) and Athalye et al. (2018, sec. 2) on one model.

    Attributes
    ----------
    eps : float
        The budget the checks are run at.
    strength : list of (int, int, float)
        ``(steps, restarts, robust accuracy)`` for PGD of growing strength.
    fgsm_accuracy : float
        Accuracy under one FGSM step (a weaker attack: must not do better than PGD).
    budgets : list of (float, float)
        ``(eps', PGD accuracy)`` for growing budgets ``eps'`` (``eps / 2``, ``eps``, ``large_eps``):
        the accuracy must not rise with ``eps'``, and at the last one it must not exceed
        :attr:`grey_bound`.
    grey_bound : float
        The share of samples whose label is the model's class for the uniform grey image (every
        pixel 0.5). That image lies within ``large_eps >= 0.5`` of every input in ``[0, 1]``, so it
        is an adversarial example for every other sample: the true robust accuracy at
        ``large_eps`` is at most this share, and an attack that leaves more is failing.
    gradient_free_accuracy : float
        Accuracy under the boundary attack within ``eps`` (must not be far below PGD's).
    tolerance : float
        Slack allowed for sampling noise in each comparison.
    """

    eps: float
    strength: list[tuple[int, int, float]]
    fgsm_accuracy: float
    budgets: list[tuple[float, float]]
    gradient_free_accuracy: float
    tolerance: float
    grey_bound: float

    @property
    def large_eps(self) -> float:
        """The largest budget tried: any digit can be erased there."""
        return self.budgets[-1][0]

    @property
    def large_eps_accuracy(self) -> float:
        """PGD accuracy at :attr:`large_eps` (at most :attr:`grey_bound`)."""
        return self.budgets[-1][1]

    @property
    def pgd_accuracy(self) -> float:
        """The lowest PGD accuracy found: the robust accuracy we report."""
        return min(acc for _, _, acc in self.strength)

    def problems(self) -> list[str]:
        """The failed checks, each as a sentence; empty when all pass."""
        found = []
        for (s0, r0, a0), (s1, r1, a1) in zip(self.strength[:-1], self.strength[1:], strict=True):
            if a1 > a0 + self.tolerance:
                found.append(
                    f"PGD-{s1} x {r1} restarts gives a higher accuracy ({a1:.3f}) "
                    f"than PGD-{s0} x {r0} ({a0:.3f})"
                )
        if self.fgsm_accuracy < self.pgd_accuracy - self.tolerance:
            found.append(
                f"single-step FGSM ({self.fgsm_accuracy:.3f}) beats iterative PGD ({self.pgd_accuracy:.3f})"
            )
        for (e0, a0), (e1, a1) in zip(self.budgets[:-1], self.budgets[1:], strict=True):
            if a1 > a0 + self.tolerance:
                found.append(
                    f"accuracy rises from {a0:.3f} at eps {e0:g} to {a1:.3f} at eps {e1:g}: "
                    "a larger budget must not help the model"
                )
        if self.large_eps_accuracy > self.grey_bound + self.tolerance:
            found.append(
                f"accuracy at eps {self.large_eps:g} is {self.large_eps_accuracy:.3f}, above "
                f"{self.grey_bound:.3f}, the share of samples in the grey image's class: "
                "the grey image alone breaks the others"
            )
        if self.gradient_free_accuracy < self.pgd_accuracy - self.tolerance:
            found.append(
                f"the gradient-free attack ({self.gradient_free_accuracy:.3f}) "
                f"beats PGD ({self.pgd_accuracy:.3f})"
            )
        return found

    def __str__(self) -> str:
        lines = [f"sanity checks at eps {self.eps:g}"]
        lines += [f"  PGD-{s:<3d} x {r:2d} restarts  accuracy {a:.3f}" for s, r, a in self.strength]
        lines.append(f"  FGSM                     accuracy {self.fgsm_accuracy:.3f}")
        lines.append(f"  boundary attack          accuracy {self.gradient_free_accuracy:.3f}")
        lines += [f"  PGD at eps {e:<4g}          accuracy {a:.3f}" for e, a in self.budgets]
        lines.append(f"  (at eps {self.large_eps:g} at most {self.grey_bound:.3f}: the grey image's class)")
        problems = self.problems()
        lines += [f"  FAILED: {p}" for p in problems] or ["  all checks passed"]
        return "\n".join(lines)


def sanity_checks(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    *,
    strengths: Sequence[tuple[int, int]] = ((7, 1), (20, 1), (20, 5), (100, 10)),
    large_eps: float = 0.5,
    boundary_steps: int = 1000,
    tolerance: float = 0.01,
    seed: Seed = 0,
) -> SanityReport:
    """Run the evaluation checklist on one model (Carlini et al. 2019; Athalye et al. 2018).

    1. PGD of growing strength (``strengths``: ``(steps, restarts)`` pairs) must not *raise* the
       accuracy;
    2. single-step FGSM must not beat PGD;
    3. the accuracy must not rise with the budget (Carlini et al. 2019: an attack's success must
       grow with the distortion it may use; PGD of :func:`robust_accuracy`'s defaults at
       ``eps / 2``, ``eps`` and ``large_eps``), and at ``large_eps >= 0.5``, where the uniform grey
       image is within reach of every input, it must not exceed the share of samples in the
       class the model gives that image (:attr:`SanityReport.grey_bound`);
    4. a gradient-free attack (:func:`gradient_free_accuracy`) must not beat PGD.

    ``seed`` goes to every attack; an attack two checks share (PGD of the defaults at ``eps``,
    when it is one of the ``strengths``) runs once. Returns a :class:`SanityReport`;
    ``report.problems()`` lists failures, ``print(report)`` shows everything.
    """
    require_attack_inputs(model, x, y, module=True, nonempty=True)
    eps = require_positive("eps", eps)
    large_eps = require_positive("large_eps", large_eps)
    if large_eps <= eps:
        raise ValueError(f"large_eps must be > eps = {eps:g}, got {large_eps:g}")
    if large_eps < 0.5:
        raise ValueError(
            f"large_eps must be >= 0.5 (the grey image is 0.5 from any input), got {large_eps:g}"
        )
    require_probability("tolerance", tolerance)
    if not strengths:
        raise ValueError("strengths must hold at least one (steps, restarts) pair, got none")
    budgets = (eps / 2, eps, large_eps)
    # Every attack once: a dict keyed by (eps, steps, restarts) runs the budget check's PGD at
    # eps only once when it is also one of the strengths.
    jobs: dict = {
        run: partial(robust_accuracy, model, x, y, run[0], steps=run[1], restarts=run[2], seed=seed)
        for run in [(eps, *pair) for pair in strengths] + [(e, EVAL_STEPS, EVAL_RESTARTS) for e in budgets]
    }
    jobs["fgsm"] = partial(fgsm_accuracy, model, x, y, eps)
    jobs["boundary"] = partial(gradient_free_accuracy, model, x, y, eps, steps=boundary_steps, seed=seed)
    done = {key: job() for key, job in progress(jobs.items(), desc="sanity checks", unit="attack")}
    return SanityReport(
        eps=eps,
        strength=[(steps, restarts, done[eps, steps, restarts]) for steps, restarts in strengths],
        fgsm_accuracy=done["fgsm"],
        budgets=[(e, done[e, EVAL_STEPS, EVAL_RESTARTS]) for e in budgets],
        gradient_free_accuracy=done["boundary"],
        tolerance=tolerance,
        grey_bound=grey_image_bound(model, x, y),
    )


def grey_image_bound(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """The share of ``y`` in the class ``model`` gives the uniform grey image, in [0, 1].

    The image with every pixel 0.5 (shaped like one row of ``x``) is within ``L_inf`` distance
    0.5 of every input in ``[0, 1]``, so at a budget of 0.5 or more it is an adversarial example
    for every sample of another class: no model's robust accuracy there can exceed this share.
    """
    require_attack_inputs(model, x, y, module=True, nonempty=True)
    grey_class = predict_logits(model, torch.full_like(x[:1], 0.5)).argmax(dim=1)  # (1,)
    return (y == grey_class).float().mean().item()


class RoundedInput(nn.Module):
    """A gradient-masking "defence" to test the sanity checks on: round pixels to ``levels`` + 1 grey levels.

    ``forward(x) = model(round(levels * x) / levels)``. The digits have 17 grey levels (0..16), so
    with ``levels = 16`` clean accuracy is unchanged, but the rounding has a zero derivative almost
    everywhere: PGD's gradient vanishes (a *shattered gradient*, Athalye et al. 2018, sec. 3).

    With ``straight_through=True`` the forward pass is the same and the backward pass treats the
    rounding as the identity: BPDA, the attack Athalye et al. (2018, sec. 4.1) use to break such
    defences.
    """

    def __init__(self, model: nn.Module, levels: int = 16, straight_through: bool = False) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self.levels = require_positive_int("levels", levels)
        self.straight_through = bool(straight_through)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rounded = torch.round(x * self.levels) / self.levels  # (N, 64), zero gradient
        if self.straight_through:
            rounded = x + (rounded - x).detach()  # same value, gradient of the identity
        return self.model(rounded)


# --------------------------------------------------------------------------------------------
# AutoAttack (Croce and Hein 2020) through the Adversarial Robustness Toolbox, and the
# per-example worst case over every attack run
# --------------------------------------------------------------------------------------------

AUTOATTACK_ATTACKS = ("apgd-ce", "apgd-t", "square")  # Croce and Hein's standard set, minus FAB-T
BALL_TOLERANCE = 1e-6  # float32 slack allowed before an adversarial counts as outside the ball


@dataclass(frozen=True)
class AutoAttackSetup:
    """Settings of :func:`autoattack`, with the standard version's values (Croce and Hein 2020).

    ``attacks`` run in this order, each on the inputs the earlier ones did not break:
    ``"apgd-ce"`` (APGD on cross-entropy), ``"apgd-t"`` (APGD on the targeted DLR loss, once per
    target class: the ``targets`` classes with the highest clean logits after the true one) and
    ``"square"`` (the gradient-free Square attack, ``square_queries`` queries). FAB-T, the
    standard version's fourth attack, is not in the Adversarial Robustness Toolbox and is left out.
    """

    attacks: tuple[str, ...] = AUTOATTACK_ATTACKS
    apgd_steps: int = 100  # iterations of each APGD run (standard: 100)
    targets: int = 9  # APGD-T's target classes (standard: 9, all but the true class)
    square_queries: int = 5000  # Square's iterations, one query each (standard: 5000)
    square_p_init: float = 0.8  # Square's initial share of pixels per square (standard: 0.8)

    def __post_init__(self) -> None:
        if not self.attacks or any(a not in AUTOATTACK_ATTACKS for a in self.attacks):
            raise ValueError(
                f"attacks must be a non-empty selection of {list(AUTOATTACK_ATTACKS)}, "
                f"got {list(self.attacks)}"
            )
        require_positive_int("apgd_steps", self.apgd_steps)
        require_positive_int("targets", self.targets)
        require_positive_int("square_queries", self.square_queries)
        require_probability("square_p_init", self.square_p_init)


@dataclass
class Robustness:
    """Per-example robustness under several attacks, and their worst case.

    Attributes
    ----------
    robust : dict of str to torch.Tensor
        ``(N,)`` bool per attack, in the order run: True where the model still classifies the
        input correctly after that attack (``"clean"``, always first, is no attack).

    An input counts as robust only when every attack failed on it (:attr:`worst_case`), so
    adding an attack can never raise :attr:`accuracy`.
    """

    robust: dict[str, torch.Tensor]

    def __post_init__(self) -> None:
        if not self.robust:
            raise ValueError("robust must hold at least one attack's (N,) bool tensor, got none")
        lengths = {len(mask) for mask in self.robust.values()}
        if len(lengths) != 1 or any(mask.dtype != torch.bool for mask in self.robust.values()):
            raise ValueError("robust must map each attack to an (N,) bool tensor of the same N")

    @property
    def worst_case(self) -> torch.Tensor:
        """``(N,)`` bool: robust to every attack run."""
        return torch.stack(list(self.robust.values())).all(dim=0)

    @property
    def n(self) -> int:
        """Number of inputs."""
        return len(next(iter(self.robust.values())))

    @property
    def accuracy(self) -> float:
        """Worst-case robust accuracy over every attack, in [0, 1]."""
        return self.worst_case.float().mean().item()

    @property
    def standard_error(self) -> float:
        """Binomial standard error of :attr:`accuracy` (``companion.training.standard_error``)."""
        return standard_error(self.accuracy, self.n)

    def accuracy_of(self, name: str) -> float:
        """Accuracy under attack ``name`` alone."""
        if name not in self.robust:
            raise ValueError(f"name must be one of {list(self.robust)}, got {name!r}")
        return self.robust[name].float().mean().item()

    def added(self, name: str, robust: torch.Tensor) -> Robustness:
        """A new ``Robustness`` with one more attack's ``(N,)`` bool mask."""
        if name in self.robust:
            raise ValueError(f"name must be a new attack, got {name!r} already in {list(self.robust)}")
        return Robustness({**self.robust, name: robust})


def robust_mask(
    model: nn.Module, x_adv: torch.Tensor, x: torch.Tensor, y: torch.Tensor, eps: float
) -> torch.Tensor:
    """``(N,)`` bool: the model classifies ``x_adv`` correctly; checks first it is in the ball and box.

    Raises ``RuntimeError`` if any ``x_adv`` lies farther than ``eps`` (plus
    :data:`BALL_TOLERANCE`) from ``x`` in L-inf or outside [0, 1]; an attack that left the
    threat model would make robust accuracy look *lower* than it is.
    """
    require_attack_inputs(model, x, y, module=True, nonempty=True)
    eps = require_positive("eps", eps, allow_zero=True)
    if x_adv.shape != x.shape:
        raise ValueError(f"x_adv must have the shape of x {tuple(x.shape)}, got {tuple(x_adv.shape)}")
    distance = (x_adv - x).flatten(1).abs().amax(dim=1).max().item()
    if distance > eps + BALL_TOLERANCE or x_adv.min() < -BALL_TOLERANCE or x_adv.max() > 1 + BALL_TOLERANCE:
        raise RuntimeError(
            f"an adversarial left the threat model: L-inf distance {distance:.6g} (eps {eps:g}), "
            f"values in [{x_adv.min().item():.6g}, {x_adv.max().item():.6g}]"
        )
    x_adv = torch.minimum(torch.maximum(x_adv, x - eps), x + eps).clamp(0, 1)  # remove float slack
    return predict_logits(model, x_adv).argmax(dim=1) == y


class _Images(nn.Module):
    """``model`` on ``(N, 1, 8, 8)`` images (Square draws squares on an image grid)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.reshape(len(x), -1))


@contextmanager
def _numpy_seeded(seed: int):
    """Seed numpy's and Python's global generators (ART draws from them), then restore them."""
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002 (ART's generator)
    np.random.seed(seed)  # noqa: NPY002
    random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)


def _art_attack(name: str, classifier, eps: float, setup: AutoAttackSetup, targeted: bool = False):
    from art.attacks.evasion import AutoProjectedGradientDescent, SquareAttack

    if name == "square":
        return SquareAttack(
            classifier, eps=eps, max_iter=setup.square_queries, p_init=setup.square_p_init,
            nb_restarts=1, batch_size=1024, verbose=False,
        )  # fmt: skip
    return AutoProjectedGradientDescent(
        classifier, eps=eps, eps_step=2 * eps, max_iter=setup.apgd_steps, targeted=targeted,
        nb_random_init=1, batch_size=1024, verbose=False,
        loss_type="difference_logits_ratio" if targeted else "cross_entropy",
    )  # fmt: skip


def autoattack(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    setup: AutoAttackSetup = AutoAttackSetup(),
    *,
    seed: Seed = 0,
) -> Robustness:
    """AutoAttack in L-inf (Croce and Hein 2020) with the Adversarial Robustness Toolbox's attacks.

    As in AutoAttack, each attack of ``setup.attacks`` runs on the inputs still robust after the
    earlier ones, and an input counts as robust only when all of them fail (the returned
    :class:`Robustness`, starting with ``"clean"``). Every adversarial is checked to lie in the
    eps ball and the box (:func:`robust_mask`).

    - APGD (Croce and Hein 2020, alg. 1): PGD whose step starts at ``2 eps`` and is halved at
      checkpoints when the loss stopped rising, with momentum 0.75; ART's
      ``AutoProjectedGradientDescent``, one run of ``setup.apgd_steps`` iterations.
    - APGD-T: the same on the targeted DLR loss ``-(z_t - max_{i != t} z_i) / (z_pi1 - z_pi3)``
      (ART's form), once per target ``t`` among the ``setup.targets`` most likely wrong classes.
    - Square (Andriushchenko et al. 2020): random search over square patches of +-2 eps.

    ART draws its randomness from numpy's and Python's global generators: they are seeded from
    ``seed`` (see :func:`companion.runtime.generator`) for the call and restored afterwards.
    Departures from the standard version: no FAB-T; ART's APGD judges success at its last
    iterate.
    """
    from art.estimators.classification import PyTorchClassifier

    require_attack_inputs(model, x, y, module=True, nonempty=True)
    eps = require_positive("eps", eps)
    if not isinstance(setup, AutoAttackSetup):
        raise TypeError(f"setup must be a companion.adversarial.AutoAttackSetup, got {type(setup).__name__}")
    g = generator(seed)
    x, y = x.detach().reshape(len(x), -1), y.detach()
    logits = predict_logits(model, x)  # (N, K)
    result = Robustness({"clean": logits.argmax(dim=1) == y})
    classes = logits.shape[1]
    wrong_by_logit = logits.scatter(1, y[:, None], -torch.inf).argsort(dim=1, descending=True)  # (N, K)
    classifier = PyTorchClassifier(
        _Images(model).eval(),
        nn.CrossEntropyLoss(),
        (1, 8, 8),
        classes,
        clip_values=(0.0, 1.0),
        device_type="cpu",
    )
    for name in progress(setup.attacks, desc="AutoAttack", unit="attack"):
        robust = result.worst_case.clone()
        index = robust.nonzero().flatten()
        if len(index):
            x_i = x[index].reshape(len(index), 1, 8, 8).numpy()
            targets = range(min(setup.targets, classes - 1)) if name == "apgd-t" else [None]
            for k in targets:
                still = robust[index]
                if not still.any():
                    break
                attack = _art_attack(name, classifier, eps, setup, targeted=k is not None)
                label = y[index] if k is None else wrong_by_logit[index, k]
                with _numpy_seeded(int(torch.randint(2**31 - 1, (1,), generator=g))):
                    x_adv = attack.generate(x_i, label.numpy())
                x_adv = torch.from_numpy(x_adv).reshape(len(index), -1).to(x.dtype)
                robust[index] &= robust_mask(model, x_adv, x[index], y[index], eps)
        result = result.added(name, robust)
    return result


def pgd_robustness(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    *,
    steps: int = EVAL_STEPS,
    restarts: int = EVAL_RESTARTS,
    seed: Seed = 0,
) -> Robustness:
    """Per-example robustness under :func:`pgd_evaluation` (``"clean"`` and ``"pgd"``)."""
    clean = predict_logits(model, x).argmax(dim=1) == y if len(x) else torch.zeros(0, dtype=torch.bool)
    result = pgd_evaluation(model, x, y, eps, steps=steps, restarts=restarts, seed=seed)
    return Robustness({"clean": clean, "pgd": robust_mask(model, result.adversarial, x, y, eps)})


def worst_case(*evaluations: Robustness) -> Robustness:
    """One :class:`Robustness` over every attack of ``evaluations`` (on the same inputs).

    A name met twice with a different mask gets the evaluation's position as a suffix.
    """
    if not evaluations or not all(isinstance(e, Robustness) for e in evaluations):
        raise TypeError("evaluations must be one or more companion.adversarial.Robustness")
    if len({e.n for e in evaluations}) != 1:
        raise ValueError(f"evaluations must be on the same inputs, got sizes {[e.n for e in evaluations]}")
    merged: dict[str, torch.Tensor] = {}
    for i, evaluation in enumerate(evaluations):
        for name, mask in evaluation.robust.items():
            if name in merged and torch.equal(merged[name], mask):
                continue  # the same attack on the same inputs (e.g. "clean" twice)
            merged[name if name not in merged else f"{name}#{i}"] = mask
    return Robustness(merged)


RESULTS = Path(__file__).resolve().parent / "results" / "autoattack.json"  # benchmarks/autoattack.py


def autoattack_results(path: str | Path = RESULTS) -> dict:
    """The full evaluation ``benchmarks/autoattack.py`` wrote: AutoAttack on all 450 test digits.

    ``results["seeds"][seed][model][str(eps)]`` holds the accuracies ``"clean"``, ``"fgsm"``,
    ``"pgd"``, ``"autoattack"``, ``"worst_case"`` (robust to PGD and every AutoAttack attack),
    ``"cumulative"`` (after each AutoAttack attack in turn) and the per-example disagreement
    counts ``"broken_by_autoattack_only"`` and ``"broken_by_pgd_only"``; ``results["n"]`` is the
    number of test digits, the other keys the settings.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path must be a results file of benchmarks/autoattack.py, got {str(path)!r}")
    return json.loads(path.read_text())


def transfer_robustness(
    source: nn.Module, target: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *, seed: Seed = 0
) -> Robustness:
    """Per-example robustness of ``target`` to PGD adversarials made on ``source``.

    A transfer attack (Carlini et al. 2019) never uses
    ``target``'s gradient: if it beat the white-box attacks on ``target``, their gradients would
    be misleading. ``"clean"`` and ``"transfer"``.
    """
    require_attack_inputs(source, x, y, name="source", module=True, nonempty=True)
    require_attack_inputs(target, x, y, name="target", module=True, nonempty=True)
    x_adv = pgd_evaluation(source, x, y, eps, seed=seed).adversarial
    clean = predict_logits(target, x).argmax(dim=1) == y
    return Robustness({"clean": clean, "transfer": robust_mask(target, x_adv, x, y, eps)})
