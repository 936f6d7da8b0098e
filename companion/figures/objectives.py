"""Chapter 5's figures and explorer: the capped toy, C&W's history and sweep, four capped shapes.

Each function draws what :mod:`companion.objectives` computes and returns a matplotlib
``Figure``; the notebook calls them as ``figures.<name>(...)``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from companion.attacks import AttackResult, carlini_wagner_l2, f6
from companion.objectives import (
    CW_SETTINGS,
    LinearToy,
    cap,
    descend,
    ppo_surrogate,
    uncertainty_weighted_loss,
)
from companion.plotting import COLORS, styled

__all__ = [
    "capped_shapes_figure",
    "cw_explorer_figure",
    "cw_history_figure",
    "kappa_sweep_figure",
    "toy_figure",
]


_TOY = LinearToy()  # the chapter's toy (frozen, so one instance can be the default)


@styled
def toy_figure(
    toy: LinearToy = _TOY, c: float = 4.0, kappa: float = 0.5, lr: float = 0.05, steps: int = 60
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


def _quartile_band(ax, values: torch.Tensor, color: str, label: str) -> None:
    q1, median, q3 = torch.quantile(values, torch.tensor([0.25, 0.5, 0.75]), dim=1)  # each (steps,)
    steps = np.arange(1, len(median) + 1)
    ax.plot(steps, median.numpy(), color=color, label=label)
    ax.fill_between(steps, q1.numpy(), q3.numpy(), color=color, alpha=0.2)


@styled
def cw_history_figure(results: dict[str, AttackResult], kappa: float = 0.0) -> Figure:
    """Median (and quartiles of) L2 distortion and logit margin per iteration.

    ``results`` maps ``"capped"`` / ``"uncapped"`` (or any label) to a
    :func:`companion.attacks.carlini_wagner_l2` result with ``history["l2"]`` and
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


@styled
def kappa_sweep_figure(sweep: dict[str, np.ndarray]) -> Figure:
    """Median distortion and final margin against ``kappa`` from :func:`companion.objectives.kappa_sweep`."""
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
