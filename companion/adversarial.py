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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from companion.attacks import AttackResult, fgsm, pgd
from companion.boundary import boundary_attack, labels_of
from companion.data import Digits
from companion.runtime import Seed, generator
from companion.training import (
    History,
    LossFn,
    TrainConfig,
    cross_entropy_loss,
    predict_logits,
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
    "LABELS",
    "MODEL_NAMES",
    "Evaluation",
    "RoundedInput",
    "SanityReport",
    "Setup",
    "count_passes",
    "default_step_size",
    "evaluate",
    "fgsm_accuracy",
    "fgsm_training_loss",
    "gradient_free_accuracy",
    "pgd_evaluation",
    "pgd_training_loss",
    "robust_accuracy",
    "sanity_checks",
    "train_models",
    "training_hooks",
]

MODEL_NAMES = ("standard", "fgsm", "pgd")  # keys of companion.plotting.COLORS too
LABELS = {"standard": "standard", "fgsm": "FGSM-AT", "pgd": "PGD-AT"}


@dataclass(frozen=True)
class Setup:
    """The chapter's settings, with the papers' values in the comments."""

    eps: float = 0.2  # L-inf training budget (Madry et al.: 0.3 on 28x28 MNIST)
    fgsm_alpha: float = 0.5  # weight of the clean loss in FGSM training (Goodfellow et al.: 0.5)
    train_steps: int = 7  # PGD steps per batch in PGD training (Madry et al.: 40 of 0.01)
    eval_steps: int = 20  # PGD steps in evaluation (Madry et al.: up to 100)
    eval_restarts: int = 5  # random restarts in evaluation (Madry et al.: up to 20)
    epochs: int = 100  # Adam 1e-3, batch 64, as in companion.training.TrainConfig
    eps_grid: tuple[float, ...] = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4)  # the curve's eps
    seed: int = 0  # initial weights, batch order and PGD's random starts

    def __post_init__(self) -> None:
        require_positive("eps", self.eps)
        require_probability("fgsm_alpha", self.fgsm_alpha)
        require_positive_int("train_steps", self.train_steps)
        require_positive_int("eval_steps", self.eval_steps)
        require_positive_int("eval_restarts", self.eval_restarts)
        require_positive_int("epochs", self.epochs)
        if not self.eps_grid:
            raise ValueError("eps_grid must hold at least one eps, got an empty tuple")
        for eps in self.eps_grid:
            require_positive("eps_grid[i]", eps, allow_zero=True)
        require_seed("seed", self.seed)

    @property
    def train_config(self) -> TrainConfig:
        """The ``TrainConfig`` of every model: Adam 1e-3, batch 64, ``epochs``, ``seed``."""
        return TrainConfig(epochs=self.epochs, seed=self.seed)


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
    time (with the per-epoch accuracy bookkeeping of the loop, the same for every model).
    """
    hooks = training_hooks(setup)
    unknown = [name for name in names if name not in hooks]
    if unknown or not names:
        raise ValueError(f"names must be a non-empty selection of {list(MODEL_NAMES)}, got {list(names)}")
    return {name: train_classifier(data, "mlp", setup.train_config, loss_fn=hooks[name]) for name in names}


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


def pgd_evaluation(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    *,
    steps: int = 20,
    restarts: int = 5,
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
    steps: int = 20,
    restarts: int = 5,
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
    robust = {
        name: [
            robust_accuracy(
                model, x, y, eps, steps=setup.eval_steps, restarts=setup.eval_restarts, seed=setup.seed
            )
            for eps in setup.eps_grid
        ]
        for name, model in models.items()
    }
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
        the accuracy must not rise with ``eps'`` and must be 0 at the last one, large enough to
        erase any digit.
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

    @property
    def large_eps(self) -> float:
        """The largest budget tried: any digit can be erased there."""
        return self.budgets[-1][0]

    @property
    def large_eps_accuracy(self) -> float:
        """PGD accuracy at :attr:`large_eps` (must be 0)."""
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
        if self.large_eps_accuracy > 0:
            found.append(f"accuracy at eps {self.large_eps:g} is {self.large_eps_accuracy:.3f}, not 0")
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
       ``eps / 2``, ``eps`` and ``large_eps``), and at ``large_eps`` (0.5 turns any pixel into
       grey) it must be 0;
    4. a gradient-free attack (:func:`gradient_free_accuracy`) must not beat PGD.

    ``seed`` goes to every attack. Returns a :class:`SanityReport`; ``report.problems()`` lists
    failures, ``print(report)`` shows everything.
    """
    require_attack_inputs(model, x, y, module=True, nonempty=True)
    eps = require_positive("eps", eps)
    large_eps = require_positive("large_eps", large_eps)
    if large_eps <= eps:
        raise ValueError(f"large_eps must be > eps = {eps:g}, got {large_eps:g}")
    require_probability("tolerance", tolerance)
    if not strengths:
        raise ValueError("strengths must hold at least one (steps, restarts) pair, got none")
    strength = [
        (steps, restarts, robust_accuracy(model, x, y, eps, steps=steps, restarts=restarts, seed=seed))
        for steps, restarts in strengths
    ]
    return SanityReport(
        eps=eps,
        strength=strength,
        fgsm_accuracy=fgsm_accuracy(model, x, y, eps),
        budgets=[(e, robust_accuracy(model, x, y, e, seed=seed)) for e in (eps / 2, eps, large_eps)],
        gradient_free_accuracy=gradient_free_accuracy(model, x, y, eps, steps=boundary_steps, seed=seed),
        tolerance=tolerance,
    )


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
