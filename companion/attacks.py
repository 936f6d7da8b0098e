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
- :func:`minimal_perturbation`: per sample, the smallest budget of a grid at which
  an attack succeeds, the baseline Brendel et al. (2018) compare with (chapter 4).
- :func:`carlini_wagner_l2`: the L2 attack of Carlini & Wagner (2017), minimising
  ``||delta||_2^2 + c * f6(x + delta)`` with the margin on the logits capped at
  ``-kappa`` (chapter 5), with :func:`f6` and :func:`logit_margin`.

Shapes: ``x`` is ``(N, ...)`` float in [0, 1] (flat digits ``(N, 64)`` or
images ``(N, 1, 8, 8)``), ``y`` is ``(N,)`` int64, ``model(x)`` is ``(N, K)``.

References
----------
Goodfellow, Shlens, Szegedy. Explaining and Harnessing Adversarial Examples. ICLR 2015.
Madry, Makelov, Schmidt, Tsipras, Vladu. Towards Deep Learning Models Resistant to
Adversarial Attacks. ICLR 2018.
Carlini, Wagner. Towards Evaluating the Robustness of Neural Networks. IEEE S&P 2017.
Brendel, Rauber, Bethge. Decision-Based Adversarial Attacks. ICLR 2018.
Rauber, Zimmermann, Bethge, Brendel. Foolbox Native. JOSS 2020.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from companion.models import eval_mode
from companion.runtime import Seed, generator, progress
from companion.validation import (
    require_attack_inputs,
    require_labels,
    require_positive,
    require_positive_int,
    require_same_length,
    require_tensor,
)

__all__ = [
    "AttackResult",
    "Loss",
    "carlini_wagner_l2",
    "cross_entropy",
    "f6",
    "fgsm",
    "input_gradient",
    "logit_margin",
    "minimal_perturbation",
    "pgd",
]

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
    seed: Seed = None,
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
        fools the model, else the one with the highest loss. A later start
        runs only on the samples no earlier one fooled (what it finds on the
        others would be discarded); every start still draws noise for all
        ``N`` samples, so the starts do not depend on which samples are left.
    loss : callable
        ``loss(logits, y) -> (N,)``, increased by the attack. Defaults to the
        stable cross-entropy on logits.
    seed : int, torch.Generator or None
        Source of the random starts (:func:`companion.runtime.generator`): an int or a
        generator for reproducible attacks; None, torch's global generator.

    Returns
    -------
    AttackResult
        ``adversarial`` in [0, 1] with ``||adversarial - x||_inf <= eps``;
        ``queries``, the model calls per sample: ``steps`` for each start it was
        attacked from (``restarts``, or fewer when an earlier start fooled the
        model), a check of where each start ended when there are several to
        compare, and one last check of the returned points: ``steps + 1`` with
        one start, ``r * (steps + 1) + 1`` after ``r`` of several.
    """
    g = generator(seed)
    require_attack_inputs(model, x, y)
    eps = require_positive("eps", eps, allow_zero=True)
    alpha = require_positive("alpha", alpha)
    require_positive_int("steps", steps)
    require_positive_int("restarts", restarts)
    if restarts > 1 and not random_start:
        raise ValueError("restarts > 1 needs random_start=True (without it every restart is the same)")

    x = x.detach()
    best = x.clone()
    best_loss = torch.full((len(x),), -torch.inf, device=x.device)
    best_success = torch.zeros(len(x), dtype=torch.bool, device=x.device)
    starts = torch.zeros(len(x), dtype=torch.int64, device=x.device)  # (N,) starts per sample
    with eval_mode(model):
        for _ in range(restarts):
            if random_start:  # U(-1, 1), drawn for all N samples
                noise = torch.rand(x.shape, generator=g).to(x.device) * 2 - 1
            left = (~best_success).nonzero().flatten()  # (M,) samples no earlier start fooled
            if not len(left):
                break
            x_r, y_r = (x, y) if len(left) == len(x) else (x[left], y[left])
            x_adv = (x_r + eps * noise[left]).clamp(0, 1) if random_start else x_r.clone()
            for _ in range(steps):
                gradient = input_gradient(model, x_adv, y_r, loss)
                # A loss computed from saturated probabilities can give NaN (0 * inf): no direction.
                gradient = torch.nan_to_num(gradient, nan=0.0)
                x_adv = x_adv + alpha * gradient.sign()  # ascent step
                x_adv = x_r + (x_adv - x_r).clamp(-eps, eps)  # project onto the eps-ball
                x_adv = x_adv.clamp(0, 1)  # clip to the box
            starts[left] += 1
            if restarts == 1:  # a single start has nothing to be compared with: it is the result
                best = x_adv
                break
            with torch.no_grad():
                logits = model(x_adv)
                fooled = logits.argmax(dim=1) != y_r
                value = loss(logits, y_r)
            # Keep this start where it fools, else where its loss is higher.
            better = fooled | (value > best_loss[left])
            best[left[better]], best_loss[left[better]] = x_adv[better], value[better]
            best_success[left[fooled]] = True
        success = _predict(model, best) != y
    checks = starts if restarts > 1 else torch.zeros_like(starts)  # where each start ended
    queries = (starts * steps + checks + 1).cpu()
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


def minimal_perturbation(
    attack: Callable[[float], AttackResult], x: torch.Tensor, eps_grid: Sequence[float]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per sample, the adversarial of the smallest budget in ``eps_grid`` at which ``attack`` succeeds.

    ``attack(eps)`` runs an attack (e.g. :func:`fgsm` or :func:`pgd`) at budget ``eps`` on ``x``
    ``(N, ...)``. Returns the adversarials ``(N, ...)`` (``x`` where no budget works) and their
    budgets ``(N,)`` (``inf`` where none works): the line search over ``eps`` that Brendel et al.
    (2018) use for their FGSM baseline (chapter 4).
    """
    if not callable(attack):
        raise TypeError(
            f"attack must be callable as attack(eps) -> AttackResult, got {type(attack).__name__}"
        )
    grid = sorted(require_positive("eps_grid[i]", e) for e in eps_grid)
    if not grid:
        raise ValueError("eps_grid must hold at least one budget, got none")
    best, budget = x.clone(), torch.full((len(x),), torch.inf)
    for eps in grid:
        result = attack(eps)
        new = result.success & budget.isinf()  # first (smallest) budget that fools the model
        best[new], budget[new] = result.adversarial[new], eps
    return best, budget


# ----------------------------------------------------------------------------------------------------
# Carlini & Wagner's L2 attack (chapter 5): a margin on the logits, capped at -kappa.


def logit_margin(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``max_{i != y} Z_i - Z_y``: how far the best wrong class leads the true one, shape ``(N,)``.

    Positive exactly when the arg-max is wrong (ties aside). The true class is
    removed with ``masked_fill(-inf)``; multiplying by a 0/1 mask instead would
    put a 0 in its place, which beats every wrong class when all logits are negative.
    Its gradient is a difference of two rows of the network's Jacobian, so it does
    not vanish when the softmax saturates (chapter 2, defensive distillation).

    Parameters
    ----------
    logits : torch.Tensor
        ``Z``, ``(N, K)`` float logits, ``K >= 2``.
    y : torch.Tensor
        ``(N,)`` int64 labels.

    Returns
    -------
    torch.Tensor
        ``(N,)`` margins; negative where the model predicts ``y``.
    """
    require_tensor("logits", logits, ndim=2, floating=True)
    if logits.shape[1] < 2:
        raise ValueError(f"logits must have at least 2 classes for a margin, got shape {tuple(logits.shape)}")
    require_labels("y", y, num_classes=logits.shape[1])
    require_same_length("logits", logits, "y", y)
    return _margin(logits, y, F.one_hot(y, logits.shape[1]).bool())


def _margin(logits: torch.Tensor, y: torch.Tensor, is_true: torch.Tensor) -> torch.Tensor:
    """:func:`logit_margin` without the checks, given the ``(N, K)`` bool mask of the true classes."""
    Z_y = logits.gather(1, y[:, None]).squeeze(1)  # (N,)
    others = logits.masked_fill(is_true, -torch.inf)  # (N, K)
    return others.max(dim=1).values - Z_y


def f6(logits: torch.Tensor, y: torch.Tensor, kappa: float = 0.0, capped: bool = True) -> torch.Tensor:
    """Carlini & Wagner's objective ``f6``, untargeted, on logits ``Z``: shape ``(N,)``.

    .. math:: f_6(x') = \\max\\big(Z(x')_y - \\max_{i \\ne y} Z(x')_i,\\; -\\kappa\\big)

    i.e. ``max(-logit_margin, -kappa)``. Once the wrong class leads by
    ``kappa`` the value is flat at ``-kappa`` and its gradient is zero.
    ``capped=False`` drops the ``max``: the value then falls without bound as
    the margin grows.

    Examples
    --------
    >>> Z = torch.tensor([[-1.0, -3.0, -2.0], [-1.0, 4.0, -2.0]])
    >>> f6(Z, torch.tensor([0, 0]), kappa=1.0)
    tensor([ 1., -1.])
    >>> f6(Z, torch.tensor([0, 0]), capped=False)
    tensor([ 1., -5.])
    """
    kappa = require_positive("kappa", kappa, allow_zero=True)
    value = -logit_margin(logits, y)  # Z_y - max_{i != y} Z_i
    return value.clamp(min=-kappa) if capped else value


def _to_w(x: torch.Tensor) -> torch.Tensor:
    """``w = arctanh(2x - 1)``, shrunk by ``1 - 1e-6`` so that pixels at 0 and 1 stay finite."""
    return torch.atanh((2 * x - 1) * (1 - 1e-6))


def _to_x(w: torch.Tensor) -> torch.Tensor:
    """``x' = (tanh(w) + 1) / 2``: every ``w`` maps into the box (0, 1)."""
    return (torch.tanh(w) + 1) / 2


def _require_logits(logits: object, n: int) -> None:
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"model(x) must return a torch.Tensor of logits, got {type(logits).__name__}")
    if logits.ndim != 2 or logits.shape[0] != n or logits.shape[1] < 2:
        shape = tuple(logits.shape)
        raise ValueError(f"model(x) must return logits of shape (N, K) = ({n}, K >= 2), got {shape}")
    rows_sum_to_one = torch.allclose(logits.sum(dim=1), torch.ones(n, device=logits.device), atol=1e-4)
    if logits.min() >= 0 and logits.max() <= 1 and rows_sum_to_one:
        raise ValueError(
            "model(x) must return logits, but its outputs look like probabilities (rows in [0, 1] "
            "summing to 1); pass the network without its final softmax"
        )


def _cw_minimise(model, x, y, c, kappa, steps, capped, lr, keep_best, desc="C&W"):
    """One Adam run of C&W's objective at fixed per-sample ``c`` ``(N,)``, starting from ``x' = x``.

    Returns the point (final iterate, or with ``keep_best`` the smallest-L2 one
    with margin > kappa, if any), whether its margin exceeds ``kappa``, its L2
    distance, and the L2 and margin before each update, each ``(steps, N)``.
    """
    w = _to_w(x).requires_grad_(True)  # (N, ...) unconstrained variables
    optimizer = torch.optim.Adam([w], lr=lr)
    best, best_l2 = x.clone(), torch.full((len(x),), torch.inf)
    l2_history, margin_history = [], []
    for step in progress(range(steps + 1), desc=desc, unit="step"):  # the last only evaluates
        x_adv = _to_x(w)  # (N, ...) in (0, 1)
        logits = model(x_adv)  # (N, K)
        if step == 0:
            _require_logits(logits, len(x))
            is_true = F.one_hot(y, logits.shape[1]).bool()  # (N, K), for the margin
        distance = (x_adv - x).flatten(1).pow(2).sum(dim=1)  # ||delta||_2^2, (N,)
        margin_graph = _margin(logits, y, is_true)  # logit_margin, (N,), with its graph
        l2, margin = distance.detach().sqrt(), margin_graph.detach()
        if keep_best:
            better = (margin > kappa) & (l2 < best_l2)
            best[better], best_l2[better] = x_adv.detach()[better], l2[better]
        if step == steps:
            break
        l2_history.append(l2)
        margin_history.append(margin)
        goal = (-margin_graph).clamp(min=-kappa) if capped else -margin_graph  # f6(x'), (N,)
        loss = distance + c * goal  # (N,): the samples are independent
        (w.grad,) = torch.autograd.grad(loss.sum(), w)  # only w: the model's .grad stays untouched
        optimizer.step()
    if keep_best:
        found = best_l2.isfinite()
        point = torch.where(found.view(-1, *[1] * (x.ndim - 1)), best, x_adv.detach())
    else:
        found, point = margin > kappa, x_adv.detach()
    l2 = (point - x).flatten(1).norm(dim=1)
    return point, found, l2, torch.stack(l2_history), torch.stack(margin_history)


def carlini_wagner_l2(
    model,
    x: torch.Tensor,
    y: torch.Tensor,
    c: float,
    kappa: float = 0.0,
    steps: int = 300,
    capped: bool = True,
    *,
    lr: float = 0.05,
    search_steps: int = 1,
    keep_best: bool = False,
) -> AttackResult:
    """Carlini & Wagner's L2 attack (2017, sec. V.A and VI), untargeted.

    In the tanh variables ``x' = (tanh(w) + 1) / 2``, which keep ``x'`` in the
    box without clipping, Adam minimises, for each sample independently::

        ||x' - x||_2^2 + c * f6(x')                    # distance + c * capped margin
        f6(x') = max(Z(x')_y - max_{i != y} Z(x')_i, -kappa)

    With ``capped=True`` the second term is flat once the wrong class leads by
    ``kappa``, so only the distance is minimised from there on; with
    ``capped=False`` it keeps rewarding margin and the optimiser trades distance
    for it. ``search_steps > 1`` adds C&W's binary search over ``c`` per sample:
    after a run that reaches margin > kappa, ``c`` moves halfway down towards
    the largest failing value; after a failure it is multiplied by 10 until a
    success brackets it, then bisected.

    Parameters
    ----------
    model : callable
        Maps ``(N, ...)`` in [0, 1] to logits ``(N, K)`` (not probabilities: a
        model whose rows look like probabilities is refused). An
        ``nn.Module`` is put in eval mode and its mode restored afterwards.
    x : torch.Tensor
        ``(N, ...)`` float inputs in [0, 1].
    y : torch.Tensor
        ``(N,)`` int64 true labels.
    c : float
        Weight of ``f6``, ``> 0``; the starting value when ``search_steps > 1``.
    kappa : float
        Required margin (C&W's confidence), ``>= 0``.
    steps : int
        Adam steps per value of ``c``.
    capped : bool
        Keep the ``max(., -kappa)`` in ``f6`` (C&W) or drop it.
    lr : float
        Adam's learning rate (C&W's released code: 0.01 with up to 10,000 steps).
    search_steps : int
        Values of ``c`` tried; 1 means the fixed ``c``.
    keep_best : bool
        Return, per value of ``c``, the smallest-L2 point seen whose margin
        exceeds ``kappa`` (as C&W do) instead of the final iterate.

    Returns
    -------
    AttackResult
        ``adversarial``: per sample, among the values of ``c`` whose returned
        point has margin > kappa, the one with the smallest L2; if none has,
        the point of the last ``c``. With the defaults that is the final Adam
        iterate. ``success`` is recomputed on it (prediction != ``y``).
        ``queries`` = ``search_steps * (steps + 1) + 1``. ``history["l2"]`` and
        ``history["margin"]`` (``logit_margin``, positive when misclassified)
        hold every step before its update: ``(search_steps * steps, N)``.

    Notes
    -----
    Departures from C&W (their paper and the defaults of their released code,
    ``l2_attack.py`` in carlini/nn_robust_attacks: 9 search steps from
    ``c = 1e-3``): untargeted (their ``f6`` takes a target ``t``;
    here the true class ``y`` must lose its lead, as in Foolbox's
    ``L2CarliniWagnerAttack``); no early abort; by default a fixed ``c``, 300
    steps at learning rate 0.05 and the final iterate, so that the effect of the
    cap is not hidden by the search and the best-point book-keeping. As in
    their code, ``w`` starts at ``arctanh(2x - 1)`` shrunk by ``1 - 1e-6``.
    """
    require_attack_inputs(model, x, y)
    c = require_positive("c", c)
    kappa = require_positive("kappa", kappa, allow_zero=True)
    require_positive_int("steps", steps)
    lr = require_positive("lr", lr)
    require_positive_int("search_steps", search_steps)
    for name, flag in (("capped", capped), ("keep_best", keep_best)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")

    x = x.detach()
    n = len(x)
    c_n = torch.full((n,), c)  # per-sample weight of f6
    lower, upper = torch.zeros(n), torch.full((n,), torch.inf)  # bracket of the binary search
    best, best_l2, best_found = x.clone(), torch.full((n,), torch.inf), torch.zeros(n, dtype=torch.bool)
    l2_history, margin_history = [], []
    with eval_mode(model):
        for i in range(search_steps):
            desc = "C&W" if search_steps == 1 else f"C&W, search step {i + 1}/{search_steps}"
            point, found, l2, l2s, margins = _cw_minimise(
                model, x, y, c_n, kappa, steps, capped, lr, keep_best, desc=desc
            )
            l2_history.append(l2s)
            margin_history.append(margins)
            better = (found & (~best_found | (l2 < best_l2))) | (~found & ~best_found)
            best[better], best_l2[better] = point[better], l2[better]
            best_found |= found
            upper = torch.where(found, torch.minimum(upper, c_n), upper)
            lower = torch.where(found, lower, torch.maximum(lower, c_n))
            c_n = torch.where(upper.isinf(), c_n * 10, (lower + upper) / 2)
        success = _predict(model, best) != y
    queries = torch.full((n,), search_steps * (steps + 1) + 1, dtype=torch.int64)
    history = {"l2": torch.cat(l2_history), "margin": torch.cat(margin_history)}
    return AttackResult(adversarial=best, success=success, queries=queries, history=history)
