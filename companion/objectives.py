"""Capped objectives: when an optimiser games an unbounded term (chapter 5).

Minimising a sum ``D + c * g`` (a cost ``D``, here a distance, plus a goal
term ``g``) in which ``g`` can keep falling makes the optimiser keep buying
``g`` at ``D``'s expense, long after ``g``'s goal is met. Capping ``g`` at
``-kappa``, ``max(g, -kappa)``, makes the term flat (zero gradient) once its
goal is reached, and from there on only ``D`` is optimised.

- A linear toy (:class:`LinearToy`): distance ``D(p) = ||p - x0||^2`` plus
  ``c`` times a capped or uncapped margin term, with its closed-form optimum
  and gradient-descent trajectories drawn over the contours.
- Carlini & Wagner's L2 attack (the attack itself is
  :func:`companion.attacks.carlini_wagner_l2`, run with the chapter's
  :data:`CW_SETTINGS`): distortion and margin per iteration, a sweep over
  ``kappa``, and the explorer's drawing function.
- The same pattern elsewhere: hinge vs linear loss, PPO's clipped surrogate,
  and learned task weights that need a regulariser.
- Exercise checks (:func:`check_capped_optimum`, :func:`check_capped_f6`,
  :func:`check_capped_search`): each returns a ``companion.classroom.exercises.Feedback`` that
  says what is wrong without giving the answer.

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

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from companion.attacks import AttackResult, carlini_wagner_l2, f6, logit_margin
from companion.classroom import exercises
from companion.plotting import COLORS, styled
from companion.training import predict_logits
from companion.validation import require_positive, require_positive_int, require_tensor

__all__ = [
    "CW_SETTINGS",
    "LinearToy",
    "SEARCH_KEYS",
    "cap",
    "capped_shapes_figure",
    "check_capped_f6",
    "check_capped_optimum",
    "check_capped_search",
    "cw_explorer_figure",
    "cw_history_figure",
    "descend",
    "hinge_vs_linear",
    "kappa_sweep",
    "kappa_sweep_figure",
    "summarise_attack",
    "kendall_weights",
    "ppo_policy_demo",
    "ppo_surrogate",
    "toy_figure",
    "uncertainty_weighted_loss",
]


CW_SETTINGS: Mapping[str, int | float] = MappingProxyType({"steps": 300, "lr": 0.05})
"""The chapter's C&W settings, used as ``carlini_wagner_l2(..., **CW_SETTINGS)``.

300 Adam steps at learning rate 0.05 per value of ``c`` (C&W: up to 10,000 at 0.01, with early
abort). Read-only, so that the notebook and the tests that check its claims share one copy.
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


@styled
def toy_figure(
    toy: LinearToy = LinearToy(), c: float = 4.0, kappa: float = 0.5, lr: float = 0.05, steps: int = 60
) -> Figure:
    """Contours of the uncapped and capped 2-d toy with their descent paths, and the optimum vs ``c``."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
    grid = np.linspace(-1, 4, 121)
    P1, P2 = np.meshgrid(grid, grid)
    points = torch.tensor(np.stack([P1.ravel(), P2.ravel()], axis=1), dtype=torch.float32)  # (M, 2)
    for ax, capped in zip(axes[:2], (False, True), strict=True):
        name = "capped" if capped else "uncapped"
        values = toy.objective(points, c, kappa, capped).reshape(P1.shape)
        ax.contour(P1, P2, values.numpy(), levels=25, cmap="Greys", linewidths=0.7)
        for level, style in ((0.0, "-"), (kappa, "--")):  # m = 0 and m = kappa
            ax.contour(
                P1, P2, toy.margin(points).reshape(P1.shape).numpy(), [level], colors="k", linestyles=style
            )
        path = descend(
            lambda p, capped=capped: toy.objective(p, c, kappa, capped), torch.tensor(toy.x0), lr, steps
        )
        ax.plot(
            path[:, 0].numpy(),
            path[:, 1].numpy(),
            ".-",
            color=COLORS[name],
            markersize=3,
            label="gradient descent",
        )
        ax.plot(
            *toy.optimum(c, kappa, capped).tolist(), "*", color=COLORS[name], markersize=14, label="optimum"
        )
        ax.plot(*toy.x0, "ko", label="$x_0$")
        ax.plot([], [], "k-", label="$m = 0$")
        ax.plot([], [], "k--", label="$m = \\kappa$")
        ax.set(
            title=f"{name}, c = {c:g}, $\\kappa$ = {kappa:g}", xlabel="$p_1$", ylabel="$p_2$", aspect="equal"
        )
        ax.legend(loc="upper right", fontsize=8)
    cs = np.linspace(0.1, 8, 80)
    x0 = torch.tensor(toy.x0)
    for capped in (False, True):
        distance = [(toy.optimum(float(ci), kappa, capped) - x0).norm().item() for ci in cs]
        axes[2].plot(cs, distance, color=COLORS["capped" if capped else "uncapped"], label=f"capped={capped}")
    axes[2].set(xlabel="c", ylabel="$||p^* - x_0||_2$", title="distance of the optimum")
    axes[2].legend()
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------------
# Carlini & Wagner on the digits: what the cap changes.


def _quartile_band(ax, values: torch.Tensor, color: str, label: str) -> None:
    q1, median, q3 = torch.quantile(values, torch.tensor([0.25, 0.5, 0.75]), dim=1)  # each (steps,)
    steps = np.arange(1, len(median) + 1)
    ax.plot(steps, median.numpy(), color=color, label=label)
    ax.fill_between(steps, q1.numpy(), q3.numpy(), color=color, alpha=0.2)


@styled
def cw_history_figure(results: dict[str, AttackResult], kappa: float = 0.0) -> Figure:
    """Median (and quartiles of) L2 distortion and logit margin per iteration.

    ``results`` maps ``"capped"`` / ``"uncapped"`` (or any label) to a
    :func:`carlini_wagner_l2` result with ``history["l2"]`` and
    ``history["margin"]``, each ``(steps, N)``.
    """
    if not results:
        raise ValueError("results must hold at least one AttackResult, got an empty dict")
    fig, (ax_l2, ax_margin) = plt.subplots(1, 2, figsize=(10, 3.4))
    for label, result in results.items():
        color = COLORS.get(label, None) or "C0"
        _quartile_band(ax_l2, result.history["l2"], color, label)
        _quartile_band(ax_margin, result.history["margin"], color, label)
    ax_margin.axhline(kappa, color="k", linestyle="--", linewidth=1, label=f"$\\kappa$ = {kappa:g}")
    ax_l2.set(xlabel="Adam step", ylabel="$||x' - x||_2$", title="distortion")
    ax_margin.set(
        xlabel="Adam step", ylabel="$\\max_{i \\neq y} Z_i - Z_y$", title="logit margin", yscale="symlog"
    )
    ax_l2.legend()
    ax_margin.legend()
    fig.tight_layout()
    return fig


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
    (median final margin). ``attack_kwargs`` go to :func:`carlini_wagner_l2`.
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


@styled
def kappa_sweep_figure(sweep: dict[str, np.ndarray]) -> Figure:
    """Median distortion and final margin against ``kappa`` from :func:`kappa_sweep`."""
    fig, (ax_l2, ax_margin) = plt.subplots(1, 2, figsize=(9, 3.2))
    ax_l2.plot(sweep["kappa"], sweep["l2"], "o-", color=COLORS["capped"])
    ax_l2.set(xlabel="$\\kappa$", ylabel="median $||x' - x||_2$", title="distortion grows with $\\kappa$")
    ax_margin.plot(sweep["kappa"], sweep["margin"], "o-", color=COLORS["capped"], label="median final margin")
    ax_margin.plot(sweep["kappa"], sweep["kappa"], "k--", linewidth=1, label="margin = $\\kappa$")
    ax_margin.set(xlabel="$\\kappa$", ylabel="margin", title="the margin follows $\\kappa$")
    ax_margin.legend()
    fig.tight_layout()
    return fig


@styled
def cw_explorer_figure(
    model, x: torch.Tensor, y: torch.Tensor, c: float, kappa: float, steps: int = CW_SETTINGS["steps"]
) -> Figure:
    """The explorer's drawing: each digit with its capped and uncapped C&W perturbation.

    Columns are the samples of ``x`` ``(n, 64)``; rows: the input, then for the
    capped and the uncapped attack the perturbation ``x' - x`` (titled with
    its L2 norm and the final logit margin).
    """
    results = {
        name: carlini_wagner_l2(model, x, y, c, kappa, steps, capped=name == "capped")
        for name in ("capped", "uncapped")
    }
    n = len(x)
    fig, axes = plt.subplots(3, n, figsize=(1.7 * n, 5.6), squeeze=False)
    for k in range(n):
        axes[0, k].imshow(x[k].reshape(8, 8).numpy(), cmap="gray_r", vmin=0, vmax=1)
        axes[0, k].set_title(f"y = {int(y[k])}", fontsize=9)
        for row, (name, result) in enumerate(results.items(), start=1):
            delta = (result.adversarial[k] - x[k]).reshape(8, 8)
            with torch.no_grad():
                logits = model(result.adversarial[k : k + 1])
            margin = -f6(logits, y[k : k + 1], capped=False).item()
            axes[row, k].imshow(delta.numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
            color = COLORS[name] if result.success[k] else "k"
            axes[row, k].set_title(f"{name}\nL2 {delta.norm():.2f}, m {margin:.1f}", fontsize=8, color=color)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle(f"C&W, c = {c:g}, $\\kappa$ = {kappa:g}: perturbations $x' - x$ (m = final logit margin)")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------------
# The same pattern elsewhere.


def hinge_vs_linear(lam: float = 0.01, lr: float = 0.1, steps: int = 500, seed: int = 0) -> dict[str, object]:
    """A linear classifier ``sign(theta . x)`` fitted with the hinge or the linear loss.

    Losses on the margin ``m_i = y_i theta . x_i``: linear ``-m_i`` (unbounded
    below: it keeps rewarding points already classified right) and hinge
    ``max(1 - m_i, 0) = cap(1 - m_i, 0)`` (flat once ``m_i >= 1``). Both are
    minimised by gradient descent on ``mean loss + lam ||theta||^2``. The data
    (2-d, seeded): a far, easy cluster of class +1, a near one of class +1
    and a near one of class -1, separable by a line through 0.

    Returns ``x`` ``(N, 2)``, ``y`` ``(N,)`` in {-1, +1}, and per loss
    (``"linear"``, ``"hinge"``) the weights ``theta`` ``(2,)`` and the accuracy.
    """
    lam = require_positive("lam", lam)
    generator = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[5.0, 0.0], [0.3, 1.0], [0.5, -1.0]])  # far +1, near +1, near -1
    counts, labels = (45, 5, 50), (1.0, 1.0, -1.0)
    x = torch.cat(
        [ctr + 0.15 * torch.randn(k, 2, generator=generator) for ctr, k in zip(centres, counts, strict=True)]
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


@styled
def capped_shapes_figure(kappa: float = 1.0, eps: float = 0.2) -> Figure:
    """The four objectives of the chapter as functions of their argument, capped and not.

    C&W's ``f6`` against the margin ``m``; hinge and linear loss against the
    margin; PPO's surrogate against the ratio ``r`` (``A = +1`` and ``A = -1``);
    Kendall et al.'s weighted loss against ``s = log sigma^2`` for ``L = 1``.
    """
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.0))
    capped_color, uncapped_color = COLORS["capped"], COLORS["uncapped"]
    m = torch.linspace(-3, 4, 141)
    axes[0].plot(m.numpy(), (-m).numpy(), color=uncapped_color, label="$-m$")
    axes[0].plot(
        m.numpy(),
        cap(-m, kappa).numpy(),
        color=capped_color,
        label=f"max($-m$, $-\\kappa$), $\\kappa$={kappa:g}",
    )
    axes[0].set(xlabel="logit margin m", title="C&W $f_6$")
    axes[1].plot(m.numpy(), (-m).numpy(), color=uncapped_color, label="linear $-m$")
    axes[1].plot(m.numpy(), cap(1 - m, 0.0).numpy(), color=capped_color, label="hinge max(0, 1 - m)")
    axes[1].set(xlabel="margin $m = y\\, \\theta \\cdot x$", title="classification loss")
    r = torch.linspace(0, 3, 121)
    for advantage, style in ((1.0, "-"), (-1.0, "--")):
        A = torch.full_like(r, advantage)
        axes[2].plot(
            r.numpy(),
            ppo_surrogate(r, A, eps, False).numpy(),
            style,
            color=uncapped_color,
            label=f"rA, A={advantage:+g}",
        )
        axes[2].plot(
            r.numpy(),
            ppo_surrogate(r, A, eps).numpy(),
            style,
            color=capped_color,
            label=f"clipped, A={advantage:+g}",
        )
    axes[2].set(xlabel="ratio r", title="PPO surrogate (maximised)")
    s = torch.linspace(-3, 6, 121)[:, None]
    L = torch.ones_like(s)
    axes[3].plot(
        s.numpy(),
        uncertainty_weighted_loss(L, s, False).numpy(),
        color=uncapped_color,
        label="no regulariser",
    )
    axes[3].plot(s.numpy(), uncertainty_weighted_loss(L, s).numpy(), color=capped_color, label="+ s / 2")
    axes[3].set(xlabel="$s = \\log \\sigma^2$", title="learned weight, L = 1")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------------
# Exercise checks: a Feedback for each answer; hints say what is wrong, never the answer.


@exercises.check("ex-capped-toy")
def check_capped_optimum(
    answer: Callable[[float, float], float] | float | None, c: float, kappa: float
) -> str:
    """Check the minimiser of the 1-d toy ``x^2 + c * max(1 - x, -kappa)`` at one ``(c, kappa)``.

    (``LinearToy(x0=(0.0,), u=(1.0,), b=-1.0)``.) ``answer`` is a function
    ``capped_optimum(c, kappa)`` (called with ``c`` and ``kappa``) or a number.
    Call the check once per ``(c, kappa)`` the exercise asks about.
    """
    c = require_positive("c", c)
    kappa = require_positive("kappa", kappa, allow_zero=True)
    name = "capped_optimum"
    if callable(answer):
        answer = exercises.call(answer, name, c, kappa)
        if answer is None:
            raise exercises.NotYet("`capped_optimum` returned None: return the minimiser, a number.")
        name = "capped_optimum(c, kappa)"
    value = exercises.number(exercises.answered(answer, name, "a function of c and kappa"), name)
    toy = LinearToy(x0=(0.0,), u=(1.0,), b=-1.0)
    expected = toy.optimum(c, kappa).item()

    def near(target: float) -> bool:
        return abs(value - target) <= 1e-3 * max(1.0, abs(target))

    if near(expected):
        return f"the capped objective is smallest at x = {value:g} for c = {c:g}, kappa = {kappa:g}."
    if near(c / 2):
        raise exercises.NotYet(
            f"at c = {c:g}, kappa = {kappa:g} that minimises the uncapped objective x^2 + c (1 - x). "
            "Past the point where the margin x - 1 reaches kappa, the capped term no longer changes: "
            "what is left to minimise there?"
        )
    if near(1.0 + kappa):
        raise exercises.NotYet(
            f"at c = {c:g}, kappa = {kappa:g} the margin reaches kappa there, but at this c is reaching "
            "it worth the distance it costs? Consider the case of small c."
        )
    if near(1.0):
        raise exercises.NotYet(
            "at x = 1 the margin is 0, but the cap sits at -kappa. Where does the term go flat?"
        )
    mine = toy.objective(torch.tensor([[value]]), c, kappa)[0].item()
    raise exercises.NotYet(
        f"at c = {c:g}, kappa = {kappa:g} the objective at your x = {value:g} is {mine:.4g}, and there "
        "are points with a lower value. Write the objective piecewise (margin below and above kappa) "
        "and minimise each piece."
    )


@exercises.check("ex-capped-f6")
def check_capped_f6(candidate: Callable[..., torch.Tensor] | None) -> str:
    """Check a student's ``candidate(logits, y, kappa)`` against the reference :func:`companion.attacks.f6`.

    Three cases of 8 samples and 10 classes (``kappa`` 0, 2 and 10, the last with
    all-negative logits); a wrong answer is compared with common mistakes to
    give a hint.
    """
    generator = torch.Generator().manual_seed(0)
    y = torch.randint(0, 10, (8,), generator=generator)
    cases = [  # (logits (8, 10), kappa)
        (torch.randn(8, 10, generator=generator) * 3, 0.0),
        (torch.randn(8, 10, generator=generator) * 3, 2.0),
        (-torch.rand(8, 10, generator=generator) * 5 - 1, 10.0),  # all negative
    ]
    for logits, kappa in cases:
        got = exercises.call(candidate, "my_f6", logits.clone(), y.clone(), kappa)
        if not isinstance(got, torch.Tensor) or got.shape != (8,):
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            raise exercises.NotYet(f"expected a tensor of shape (N,) = (8,), got {shape}.")
        got = got.detach().float()
        if torch.allclose(got, f6(logits, y, kappa), atol=1e-5):
            continue
        if torch.allclose(got, f6(logits, y, capped=False), atol=1e-5):
            raise exercises.NotYet("your values keep falling below -kappa. Where is the cap?")
        if torch.allclose(got, (-f6(logits, y, capped=False)).clamp(min=-kappa), atol=1e-5):
            raise exercises.NotYet("check the sign: f6 is positive while the true class still leads.")
        if (logits < 0).all():
            raise exercises.NotYet(
                "wrong on all-negative logits. Are you removing the true class by multiplying "
                "with a 0/1 mask? A 0 then beats every (negative) wrong logit."
            )
        raise exercises.NotYet(
            f"wrong values for kappa = {kappa:g}: is the value floored at -kappa (not 0 or -1)?"
        )
    return "your f6 matches the reference on all test cases, including all-negative logits."


SEARCH_KEYS = tuple((network, capped) for network in ("distilled", "standard") for capped in (True, False))
"""The keys of the search exercise's results: ``(network, capped)``."""


@exercises.check("ex-capped-search")
def check_capped_search(
    searched: Mapping | None,
    reported: Mapping | None,
    networks: Mapping[str, torch.nn.Module],
    x: torch.Tensor,
    y: torch.Tensor,
    search_steps: int = 5,
) -> str:
    """Check the search-over-c experiment from its result objects.

    ``searched`` maps each key of :data:`SEARCH_KEYS` to the
    :func:`~companion.attacks.carlini_wagner_l2` result of that network
    (``networks[network]``) attacked on ``x``, ``y`` with or without the cap;
    ``reported`` maps the same keys to ``(success rate, median L2)`` read off
    each result. Checked: every result holds one point per input, in [0, 1];
    it ran ``search_steps`` values of ``c`` (``queries - 1 - len(history["l2"])``);
    its ``success`` matches the named network's predictions on its points; and
    the reported numbers match :func:`summarise_attack` (forward passes only).
    Whether a run was capped cannot be read off its result and is not checked.
    """
    if not isinstance(networks, Mapping) or {name for name, _ in SEARCH_KEYS} - set(networks):
        raise TypeError(f"networks must map 'distilled' and 'standard' to models, got {networks!r}")
    require_tensor("x", x, floating=True)
    require_positive_int("search_steps", search_steps)
    results = _search_table(exercises.answered(searched, "searched", "a dict {(network, capped): result}"))
    for key, result in results.items():
        _check_search_result(key, result, networks[key[0]], x, y, search_steps)
    numbers = _search_table(
        exercises.answered(reported, "reported", "a dict {(network, capped): (success, L2)}")
    )
    for key, pair in numbers.items():
        summary = summarise_attack(networks[key[0]], x, y, results[key])
        _compare_summary(key, pair, summary)
    return (
        "your four searched attacks and the numbers you report check out. Compare them with the "
        "fixed-c runs: what does the search change, and what does the cap still change?"
    )


def _search_table(table: object) -> dict:
    """``table`` restricted to :data:`SEARCH_KEYS`, or NotYet naming the first missing key."""
    if not isinstance(table, Mapping):
        raise exercises.NotYet(f"expected a dict keyed by (network, capped), got {type(table).__name__}.")
    for key in SEARCH_KEYS:
        if key not in table:
            raise exercises.NotYet(f"no entry for {key!r}: the keys are (network name, capped).")
    return {key: table[key] for key in SEARCH_KEYS}


def _check_search_result(key, result, network, x: torch.Tensor, y: torch.Tensor, search_steps: int) -> None:
    if not isinstance(result, AttackResult):
        raise exercises.NotYet(
            f"searched[{key!r}] must be the AttackResult of carlini_wagner_l2, got {type(result).__name__}."
        )
    fields = (result.adversarial, result.success, result.queries, result.history.get("l2"))
    if not all(isinstance(field, torch.Tensor) for field in fields) or result.queries.ndim != 1:
        raise exercises.NotYet(f"searched[{key!r}] is not a result of carlini_wagner_l2: run the attack.")
    if result.adversarial.shape != x.shape:
        raise exercises.NotYet(
            f"searched[{key!r}] holds {tuple(result.adversarial.shape)} points, not one per input of x "
            f"{tuple(x.shape)}: attack the chapter's x and y."
        )
    if result.adversarial.min() < 0 or result.adversarial.max() > 1:
        raise exercises.NotYet(f"searched[{key!r}] has points outside [0, 1].")
    tried = int(result.queries[0]) - 1 - len(result.history["l2"])  # search_steps * (steps + 1) + 1 queries
    if tried != search_steps:
        raise exercises.NotYet(
            f"searched[{key!r}] tried {tried} value(s) of c; the exercise asks for {search_steps} "
            "(search_steps)."
        )
    fooled = predict_logits(network, result.adversarial).argmax(dim=1) != y
    if not torch.equal(fooled, result.success):
        raise exercises.NotYet(
            f"the successes in searched[{key!r}] do not match the {key[0]} network's predictions on its "
            "points: did you attack that network?"
        )


def _compare_summary(key, pair: object, summary: dict[str, float]) -> None:
    if isinstance(pair, Mapping):
        pair = (pair.get("success"), pair.get("l2"))
    if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
        raise exercises.NotYet(f"reported[{key!r}] must be a pair (success rate, median L2), got {pair!r}.")
    success, l2 = (exercises.number(v, f"reported[{key!r}]") for v in pair)
    if abs(success - summary["success"]) > 1e-3:
        raise exercises.NotYet(
            f"the success rate in reported[{key!r}] is not that of searched[{key!r}] (its success_rate)."
        )
    if abs(l2 - summary["l2"]) > 1e-3 * max(1.0, summary["l2"]):
        raise exercises.NotYet(
            f"the L2 in reported[{key!r}] is not the median ||x' - x||_2 of searched[{key!r}]'s points "
            "(objectives.summarise_attack)."
        )
