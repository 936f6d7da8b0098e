"""Chapter 6's figures and explorer: Monte Carlo convergence, the count of ones, majority votes,
and the joint table of two dependent bits.

Each function draws what :mod:`companion.probability` computes and returns a matplotlib
``Figure``; the notebook calls them as ``figures.<name>(...)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from companion.plotting import COLORS, styled
from companion.probability import (
    Z_95,
    Table,
    VoteResult,
    binomial_pmf,
    correlation_range,
    joint_distribution,
    pair_table,
    running_frequencies,
)
from companion.validation import require_tensor

__all__ = ["convergence_figure", "count_figure", "draw_pair", "majority_figure"]

_EXACT, _ESTIMATE, _CORRELATED = COLORS["standard"], COLORS["fgsm"], COLORS["distilled"]


@styled
def convergence_figure(p: Sequence[float], samples: torch.Tensor) -> Figure:
    """Running Monte Carlo estimates of each outcome against the number of draws, with the exact
    value and its 95% band ``P +- Z_95 sqrt(P (1 - P) / N)``."""
    exact = joint_distribution(p)
    estimates = running_frequencies(samples).numpy()  # (N, 2^n)
    if estimates.shape[1] != len(exact):
        raise ValueError(f"samples must have {len(p)} bits (one per entry of p), got {samples.shape[1]}")
    N = np.arange(1, len(estimates) + 1)
    show = np.unique(np.geomspace(1, len(N), 400).astype(int)) - 1  # log-spaced rows
    fig, axes = plt.subplots(1, len(exact), figsize=(2.6 * len(exact), 2.8), sharex=True, squeeze=False)
    for ax, (c, (x, P)) in zip(axes.flat, enumerate(exact.items()), strict=True):
        half = Z_95 * np.sqrt(P * (1 - P) / N[show])
        ax.fill_between(N[show], P - half, P + half, color=_EXACT, alpha=0.15, label="95% band")
        ax.axhline(P, color=_EXACT, lw=1.2, label="exact")
        ax.plot(N[show], estimates[show, c], color=_ESTIMATE, lw=1.2, label="estimate")
        ax.set(
            xscale="log",
            xlabel="draws N",
            title=f"P({x}) = {P:.4g}",
            ylim=(max(0, P - 0.25), min(1, P + 0.25)),
        )
    axes[0, 0].set_ylabel("estimated probability")
    axes[0, 0].legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


@styled
def count_figure(p: float, samples: torch.Tensor) -> Figure:
    """The binomial ``P(K = k)`` for ``n`` bits each 1 with probability ``p`` (bars) beside the
    frequencies of ``K`` in ``samples`` (``(N, n)`` int in {0, 1}, dots)."""
    require_tensor("samples", samples, ndim=2, floating=False)
    N, n = samples.shape
    pmf = binomial_pmf(n, p)
    frequencies = torch.bincount(samples.sum(dim=1), minlength=n + 1).double() / N  # (n + 1,)
    fig, ax = plt.subplots(figsize=(5.6, 3.2))
    ax.bar(range(n + 1), pmf, color=_EXACT, alpha=0.6, label="binomial (exact)")
    ax.plot(range(n + 1), frequencies.tolist(), "o", color=_ESTIMATE, label=f"simulated, N = {N:,}")
    ax.set(xlabel="number of ones K", ylabel="P(K = k)", xticks=range(n + 1), title=f"n = {n}, p = {p}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


@styled
def majority_figure(result: VoteResult) -> Figure:
    """Majority-vote accuracy against the number of queries ``m``: exact curves, simulated points,
    and the correlated model's plateau."""
    cfg = result.config
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for label, exact, simulated, color in (
        ("independent", result.exact_independent, result.simulated_independent, _EXACT),
        (f"correlated, rho = {cfg.rho}", result.exact_correlated, result.simulated_correlated, _CORRELATED),
    ):
        ax.plot(cfg.ms, exact, color=color, label=f"{label} (exact)")
        ax.plot(cfg.ms, simulated, "o", color=color, markersize=4, label=f"{label} (simulated)")
    ax.axhline(
        result.plateau,
        color=_CORRELATED,
        ls="--",
        lw=1,
        label=f"plateau rho q + 1 - rho = {result.plateau:.2f}",
    )
    ax.axhline(cfg.q, color="#7f7f7f", ls=":", lw=1, label=f"one query, q = {cfg.q}")
    ax.set(xlabel="queries m (majority vote)", ylabel="accuracy of the vote", ylim=(cfg.q - 0.05, 1.005))
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def draw_pair(p1: float, p2: float, rho: float = 0.0) -> Figure:
    """The explorer's picture: the joint table of two bits with marginals ``p1``, ``p2`` and
    correlation ``rho`` as a heatmap with its margins, beside the independent table.

    ``rho`` outside :func:`companion.probability.correlation_range` is clipped to it, and the title says so.
    """
    low, high = correlation_range(p1, p2)
    used = min(max(rho, low), high)
    table, independent = pair_table(p1, p2, used), joint_distribution([p1, p2])
    return _pair_figure(table, independent, p1, p2, used, clipped=used != rho)


@styled
def _pair_figure(table: Table, independent: Table, p1: float, p2: float, rho: float, clipped: bool) -> Figure:
    fig, (ax_map, ax_bar) = plt.subplots(1, 2, figsize=(8.4, 3.3), width_ratios=(1, 1.3))
    grid = np.array([[table["00"], table["01"]], [table["10"], table["11"]]])  # rows x_1, columns x_2
    ax_map.imshow(grid, cmap="Blues", vmin=0, vmax=1)
    for (r, c), P in np.ndenumerate(grid):
        ax_map.text(c, r, f"{P:.3f}", ha="center", va="center", color="white" if P > 0.5 else "black")
    ax_map.set(xticks=[0, 1], yticks=[0, 1], xlabel="$x_2$ (its marginal)", ylabel="$x_1$ (its marginal)")
    ax_map.set_xticklabels([f"0 ({1 - p2:.2f})", f"1 ({p2:.2f})"])
    ax_map.set_yticklabels([f"0 ({1 - p1:.2f})", f"1 ({p1:.2f})"])
    ax_map.grid(False)
    ax_map.set_title("joint table $P(x_1 x_2)$")
    keys = list(table)
    ax_bar.bar(np.arange(4) - 0.2, [table[x] for x in keys], 0.4, color=_CORRELATED, label=f"rho = {rho:.3g}")
    ax_bar.bar(np.arange(4) + 0.2, [independent[x] for x in keys], 0.4, color=_EXACT, label="independent")
    ax_bar.set(xticks=range(4), xticklabels=keys, ylim=(0, 1), xlabel="outcome $x_1 x_2$", ylabel="P")
    ax_bar.legend(fontsize=8)
    note = " (clipped to the feasible range)" if clipped else ""
    ax_bar.set_title(f"sum = {math.fsum(table.values()):.3f}, rho = {rho:.3g}{note}", fontsize=9)
    fig.tight_layout()
    return fig
