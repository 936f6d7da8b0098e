"""Capped objectives: when an optimiser games an unbounded term (chapter 5).

Minimising a sum ``D + c * g`` (a cost ``D``, here a distance, plus a goal
term ``g``) in which ``g`` can keep falling makes the optimiser keep buying
``g`` at ``D``'s expense, long after ``g``'s goal is met. Capping ``g`` at
``-kappa``, ``max(g, -kappa)``, makes the term flat (zero gradient) once its
goal is reached, and from there on only ``D`` is optimised.

- A linear toy (:class:`LinearToy`): distance ``D(p) = ||p - x0||^2`` plus
  ``c`` times a capped or uncapped margin term, with its closed-form optimum
  and gradient descent (:func:`descend`) towards it.
- Carlini & Wagner's L2 attack (the attack itself is
  :func:`companion.attacks.carlini_wagner_l2`, run with the chapter's
  :data:`CW_SETTINGS`): what it returns (:func:`summarise_attack`) and a sweep
  over ``kappa`` (:func:`kappa_sweep`).
- The same pattern elsewhere: hinge vs linear loss, PPO's clipped surrogate,
  and learned task weights that need a regulariser.

The chapter's figures and explorer are in :mod:`companion.figures.objectives`, its exercise
checks in :mod:`companion.classroom.checks.ch05_capped_objectives`.

References
----------
Carlini, Wagner. Towards Evaluating the Robustness of Neural Networks. IEEE S&P 2017.
Cortes, Vapnik. Support-Vector Networks. Machine Learning 20, 1995 (the hinge loss).
Schulman, Wolski, Dhariwal, Radford, Klimov. Proximal Policy Optimization Algorithms.
arXiv:1707.06347, 2017.
Kendall, Gal, Cipolla. Multi-Task Learning Using Uncertainty to Weigh Losses for Scene
Geometry and Semantics. CVPR 2018.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import torch

from companion.attacks import AttackResult, carlini_wagner_l2, logit_margin
from companion.runtime import Seed, generator
from companion.training import predict_logits
from companion.validation import require_positive, require_positive_int, require_tensor

__all__ = [
    "CW_SETTINGS",
    "LinearToy",
    "cap",
    "descend",
    "hinge_vs_linear",
    "kappa_sweep",
    "kendall_weights",
    "ppo_policy_demo",
    "ppo_surrogate",
    "summarise_attack",
    "uncertainty_weighted_loss",
]


CW_SETTINGS: Mapping[str, int | float] = MappingProxyType({"steps": 300, "lr": 0.05})
"""The chapter's C&W settings, used as ``carlini_wagner_l2(..., **CW_SETTINGS)``.

300 Adam steps at learning rate 0.05 per value of ``c`` (C&W's released code: up to 10,000 at
0.01, with early abort). Read-only, so that the notebook and the tests that check its claims
share one copy.
"""


def cap(g: torch.Tensor, kappa: float = 0.0, capped: bool = True) -> torch.Tensor:
    """``max(g, -kappa)`` elementwise, or ``g`` itself with ``capped=False``.

    Below ``-kappa`` the capped value is constant, so its gradient is zero.
    """
    kappa = require_positive("kappa", kappa, allow_zero=True)
    return g.clamp(min=-kappa) if capped else g


# ----------------------------------------------------------------------------------------------------
# The toy: a point p, its start x0, and a linear margin m(p) = u . p + b.


@dataclass(frozen=True)
class LinearToy:
    """``D(p) + c * g(p)`` with ``D(p) = ||p - x0||^2`` and ``g(p) = cap(-m(p), kappa)``.

    The margin is linear, ``m(p) = u . p + b``; ``m > 0`` plays "misclassified",
    so ``g`` is C&W's ``f6`` for a linear model. Defaults: 2-d, start at the
    origin, boundary ``p_1 + p_2 = 1``.
    """

    x0: tuple[float, ...] = (0.0, 0.0)  # the original point
    u: tuple[float, ...] = (1.0, 1.0)  # margin gradient (normal of the boundary)
    b: float = -1.0  # margin at x0 is u . x0 + b

    def __post_init__(self) -> None:
        if len(self.x0) != len(self.u) or not self.u:
            raise ValueError(f"x0 and u must have the same length >= 1, got {len(self.x0)} and {len(self.u)}")
        if not any(self.u):
            raise ValueError("u must not be all zeros (the margin would be constant)")

    def margin(self, p: torch.Tensor) -> torch.Tensor:
        """``m(p) = u . p + b`` for points ``(M, d)``: shape ``(M,)``."""
        return p @ torch.tensor(self.u) + self.b

    def objective(self, p: torch.Tensor, c: float, kappa: float = 0.0, capped: bool = True) -> torch.Tensor:
        """``D(p) + c * g(p) = ||p - x0||^2 + c * cap(-m(p), kappa)`` for points ``(M, d)``: ``(M,)``."""
        D = (p - torch.tensor(self.x0)).pow(2).sum(dim=1)  # (M,)
        return D + c * cap(-self.margin(p), kappa, capped)

    def optimum(self, c: float, kappa: float = 0.0, capped: bool = True) -> torch.Tensor:
        """The minimiser, ``(d,)``, in closed form.

        It lies on the ray ``x0 + t u / |u|``. Uncapped: ``t = c |u| / 2``
        (grows with ``c`` without limit). Capped: ``t = min(c |u| / 2, t_kappa)``
        with ``t_kappa = (kappa - m(x0)) / |u|`` the distance to ``m = kappa``
        (0 if ``x0`` already has that margin).
        """
        c = require_positive("c", c)
        kappa = require_positive("kappa", kappa, allow_zero=True)
        x0, u = torch.tensor(self.x0), torch.tensor(self.u)
        norm = u.norm()
        t = c * norm / 2
        if capped:
            t_kappa = ((kappa - self.margin(x0[None])[0]) / norm).clamp(min=0)
            t = torch.minimum(t, t_kappa)
        return x0 + t * u / norm


def descend(
    objective: Callable[[torch.Tensor], torch.Tensor], p0: torch.Tensor, lr: float, steps: int
) -> torch.Tensor:
    """Plain gradient descent ``p <- p - lr * grad objective(p)`` from ``p0`` ``(d,)``.

    ``objective`` maps points ``(M, d)`` to values ``(M,)``. Returns the
    trajectory ``(steps + 1, d)``, starting with ``p0``.
    """
    require_tensor("p0", p0, ndim=1, floating=True)
    lr = require_positive("lr", lr)
    require_positive_int("steps", steps)
    p = p0.detach().clone().requires_grad_(True)
    path = [p.detach().clone()]
    for _ in range(steps):
        (gradient,) = torch.autograd.grad(objective(p[None]).sum(), p)
        p = (p - lr * gradient).detach().requires_grad_(True)
        path.append(p.detach().clone())
    return torch.stack(path)  # (steps + 1, d)


# ----------------------------------------------------------------------------------------------------
# Carlini & Wagner on the digits: what the cap changes.


def summarise_attack(model, x: torch.Tensor, y: torch.Tensor, result: AttackResult) -> dict[str, float]:
    """Success rate, median L2 distortion ``||x' - x||_2`` and median logit margin of ``result``.

    The margin is :func:`companion.attacks.logit_margin` on the returned points
    ``max_{i != y} Z_i - Z_y`` (positive when misclassified), with the model in eval mode.
    ``x``: ``(N, ...)`` the attacked inputs; ``y``: ``(N,)`` their labels.
    """
    if not isinstance(result, AttackResult):
        raise TypeError(f"result must be an AttackResult, got {type(result).__name__}")
    require_tensor("x", x, floating=True)
    if result.adversarial.shape != x.shape:
        raise ValueError(
            f"result.adversarial must have the shape of x, {tuple(x.shape)}, "
            f"got {tuple(result.adversarial.shape)}"
        )
    l2 = (result.adversarial - x).flatten(1).norm(dim=1)  # (N,)
    margin = logit_margin(predict_logits(model, result.adversarial), y)  # (N,)
    return {"success": result.success_rate, "l2": l2.median().item(), "margin": margin.median().item()}


def kappa_sweep(
    model, x: torch.Tensor, y: torch.Tensor, kappas: Sequence[float], c: float, **attack_kwargs
) -> dict[str, np.ndarray]:
    """Run the capped attack at each ``kappa``; medians over the samples.

    Returns arrays ``(len(kappas),)``: ``"kappa"``, ``"success"`` (rate),
    ``"l2"`` (median distortion of the returned points) and ``"margin"``
    (median final margin). ``attack_kwargs`` go to :func:`companion.attacks.carlini_wagner_l2`.
    """
    if len(kappas) == 0:
        raise ValueError("kappas must hold at least one value, got none")
    rows = []
    for kappa in kappas:
        result = carlini_wagner_l2(model, x, y, c, kappa, **attack_kwargs)
        summary = summarise_attack(model, x, y, result)
        rows.append((kappa, summary["success"], summary["l2"], summary["margin"]))
    columns = np.array(rows).T
    return dict(zip(("kappa", "success", "l2", "margin"), columns, strict=True))


# ----------------------------------------------------------------------------------------------------
# The same pattern elsewhere.


def hinge_vs_linear(
    lam: float = 0.01, lr: float = 0.1, steps: int = 500, *, seed: Seed = 0
) -> dict[str, object]:
    """A linear classifier ``sign(theta . x)`` fitted with the hinge or the linear loss.

    Losses on the margin ``m_i = y_i theta . x_i``: linear ``-m_i`` (unbounded
    below: it keeps rewarding points already classified right) and hinge
    ``max(1 - m_i, 0) = cap(1 - m_i, 0)`` (flat once ``m_i >= 1``). Both are
    minimised by gradient descent on ``mean loss + lam ||theta||^2``. The data
    (2-d, seeded): a far, easy cluster of class +1, a near one of class +1
    and a near one of class -1, separable by a line through 0, drawn from ``seed``
    (see :data:`companion.runtime.Seed`; the default 0 is the chapter's data).

    Returns ``x`` ``(N, 2)``, ``y`` ``(N,)`` in {-1, +1}, and per loss
    (``"linear"``, ``"hinge"``) the weights ``theta`` ``(2,)`` and the accuracy.
    """
    lam = require_positive("lam", lam)
    g = generator(seed)
    centres = torch.tensor([[5.0, 0.0], [0.3, 1.0], [0.5, -1.0]])  # far +1, near +1, near -1
    counts, labels = (45, 5, 50), (1.0, 1.0, -1.0)
    x = torch.cat(
        [ctr + 0.15 * torch.randn(k, 2, generator=g) for ctr, k in zip(centres, counts, strict=True)]
    )
    y = torch.cat([torch.full((k,), lab) for k, lab in zip(counts, labels, strict=True)])
    losses = {"linear": lambda m: -m, "hinge": lambda m: cap(1 - m, 0.0)}
    out: dict[str, object] = {"x": x, "y": y}
    for name, loss in losses.items():

        def objective(theta, loss=loss):  # theta: (1, 2) -> (1,)
            return loss(y * (x @ theta[0])).mean()[None] + lam * theta.pow(2).sum(dim=1)

        theta = descend(objective, torch.zeros(2), lr, steps)[-1]
        out[name] = {"theta": theta, "accuracy": ((x @ theta).sign() == y).float().mean().item()}
    return out


def ppo_surrogate(
    ratio: torch.Tensor, advantage: torch.Tensor, eps: float = 0.2, clipped: bool = True
) -> torch.Tensor:
    """PPO's surrogate, maximised (Schulman et al. 2017, eq. 7), per sample.

    ``L^CLIP = min(r A, clip(r, 1 - eps, 1 + eps) A)``; ``clipped=False`` gives
    the plain ``r A`` (eq. 6), whose gain keeps growing as the new policy moves
    away from the old one (``r = pi_theta / pi_old``).
    """
    eps = require_positive("eps", eps)
    if not clipped:
        return ratio * advantage
    return torch.minimum(ratio * advantage, ratio.clamp(1 - eps, 1 + eps) * advantage)


def ppo_policy_demo(eps: float = 0.2, lr: float = 0.05, steps: int = 200) -> dict[str, dict[str, object]]:
    """Maximise the surrogate over a 3-action softmax policy, from the uniform old policy.

    One sample per action with advantages ``(+1, -1, 0)``. Returns, for
    ``"clipped"`` and ``"unclipped"``, the ratios ``r`` per step
    ``(steps + 1, 3)`` and the final ``KL(pi_old || pi_theta)``.
    """
    advantage = torch.tensor([1.0, -1.0, 0.0])
    pi_old = torch.full((3,), 1 / 3)
    out = {}
    for clipped in (True, False):

        def objective(theta, clipped=clipped):  # theta: (1, 3) logits -> (1,) loss to minimise
            ratio = torch.softmax(theta[0], dim=0) / pi_old
            return -ppo_surrogate(ratio, advantage, eps, clipped).mean()[None]

        path = descend(objective, torch.zeros(3), lr, steps)  # (steps + 1, 3) logits
        ratios = torch.softmax(path, dim=1) / pi_old
        pi = torch.softmax(path[-1], dim=0)
        kl = (pi_old * (pi_old / pi).log()).sum().item()
        out["clipped" if clipped else "unclipped"] = {"ratio": ratios, "kl": kl}
    return out


def uncertainty_weighted_loss(
    losses: torch.Tensor, s: torch.Tensor, regularised: bool = True
) -> torch.Tensor:
    """Kendall et al.'s (2018, eq. 7) learned weighting, with ``s_i = log sigma_i^2``.

    ``sum_i 0.5 exp(-s_i) L_i + 0.5 s_i``. Without the regulariser
    ``0.5 s_i`` the sum is driven to 0 by ``s_i -> infinity``, i.e. by
    weighting every task by 0, whatever the tasks' losses ``L_i``.
    ``losses`` and ``s``: ``(..., tasks)``; returns ``(...)``.
    """
    weighted = 0.5 * torch.exp(-s) * losses
    return (weighted + 0.5 * s).sum(dim=-1) if regularised else weighted.sum(dim=-1)


def kendall_weights(lr: float = 0.05, steps: int = 1000) -> dict[str, dict[str, torch.Tensor]]:
    """Two tasks weighted by learned ``s``, trained with and without the regulariser.

    Each task has its own parameters (two heads): ``L_1 = ||theta_1 - a||^2 + 0.5``
    and ``L_2 = 4 ||theta_2 - b||^2 + 2``; the constants are irreducible noise.
    Plain gradient descent on :func:`uncertainty_weighted_loss` from
    ``theta = (-3, -3)``, ``s = 0`` (Adam would rescale the vanishing gradients
    and hide the effect). Returns per ``"regularised"`` / ``"unregularised"``
    the task losses ``(steps + 1, 2)``, the weights ``exp(-s)``
    ``(steps + 1, 2)`` and the total ``(steps + 1,)``.
    """
    a, b = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 2.0])

    def task_losses(v):  # v = (theta_1, theta_2, s): (M, 6) -> (M, 2)
        L_1 = (v[:, 0:2] - a).pow(2).sum(1) + 0.5
        L_2 = 4 * (v[:, 2:4] - b).pow(2).sum(1) + 2.0
        return torch.stack([L_1, L_2], dim=1)

    start = torch.tensor([-3.0, -3.0, -3.0, -3.0, 0.0, 0.0])
    out = {}
    for regularised in (True, False):

        def objective(v, regularised=regularised):  # (M, 6) -> (M,)
            return uncertainty_weighted_loss(task_losses(v), v[:, 4:], regularised)

        path = descend(objective, start, lr, steps)  # (steps + 1, 6)
        out["regularised" if regularised else "unregularised"] = {
            "losses": task_losses(path),
            "weights": torch.exp(-path[:, 4:]),
            "total": objective(path),
        }
    return out
