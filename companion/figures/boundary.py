"""The figures and the explorer's view of chapter 4, the boundary attack.

Each function draws from what :func:`companion.boundary.boundary_attack` (or
:func:`~companion.boundary.hop_skip_jump`) returned, a :class:`~companion.boundary.BoundaryResult`:

- :func:`toy_walk_figure`: the walk on a 2-d classifier's decision regions;
- :func:`checkpoint_figure`: digits and their perturbations at a few steps;
- :func:`distance_figure`, :func:`median_figure`: the L2 distance against the queries spent;
- :func:`progress_figure`: the explorer's view of one digit after one step.

Shapes: ``x`` is ``(N, 64)`` in [0, 1] (a 2-d toy input ``(1, 2)``); a result's ``l2_history``
and ``history["queries"]`` are ``(steps + 1, N)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from companion.boundary import BoundaryResult, Predict
from companion.data import to_images
from companion.plotting import COLORS, style_context
from companion.validation import require_positive_int

__all__ = ["checkpoint_figure", "distance_figure", "median_figure", "progress_figure", "toy_walk_figure"]


def distance_figure(results: dict[str, BoundaryResult], curves: int = 8) -> Figure:
    """L2 distance against queries (log-log) for ``curves`` images of each result, and the median."""
    require_positive_int("curves", curves)
    with style_context():
        fig, axes = plt.subplots(
            1, len(results), figsize=(4.6 * len(results), 3.4), squeeze=False, sharey=True
        )
        for ax, (name, result) in zip(axes.flat, results.items(), strict=True):
            q, l2 = result.history["queries"].float(), result.l2_history  # (steps + 1, N)
            color = COLORS.get(name, COLORS["boundary"])
            for i in range(min(curves, l2.shape[1])):
                ax.plot(q[:, i], l2[:, i], color=color, alpha=0.35, linewidth=1)
            ax.plot(q.median(dim=1).values, l2.median(dim=1).values, color="black", label="median")
            ax.set(xscale="log", yscale="log", xlabel="queries to predict", title=name)
            ax.legend()
        axes[0, 0].set_ylabel(r"$\|\tilde x - x\|_2$")
        fig.tight_layout()
    return fig


def median_figure(results: dict[str, BoundaryResult]) -> Figure:
    """Median L2 distance against median queries per sample (log-log), one line per attack."""
    if not results:
        raise ValueError("results must hold at least one attack result, got none")
    with style_context():
        fig, ax = plt.subplots(figsize=(5.6, 3.4))
        for name, result in results.items():
            q = result.history["queries"].float().median(dim=1).values  # (steps + 1,)
            l2 = result.l2_history.median(dim=1).values  # the distance holds until a step ends
            ax.plot(q, l2, drawstyle="steps-post", marker="o" if len(q) < 50 else None, label=name)
        ax.set(xscale="log", yscale="log", xlabel="queries to predict (median)", ylabel="median L2")
        ax.legend()
        fig.tight_layout()
    return fig


def _image(ax, image: torch.Tensor, signed: bool, bound: float = 1.0) -> None:
    picture = to_images(image[None])[0, 0].cpu().numpy()  # (8, 8)
    if signed:
        ax.imshow(picture, cmap="RdBu_r", vmin=-bound, vmax=bound)
    else:
        ax.imshow(picture, cmap="gray_r", vmin=0, vmax=1)
    ax.axis("off")


def checkpoint_figure(x: torch.Tensor, result: BoundaryResult, steps: Sequence[int], rows: int = 3) -> Figure:
    """Digits (rows) at checkpoints: the original, then adversarial and perturbation at each step.

    ``x``: ``(N, 64)`` originals; ``steps``: keys of ``result.snapshots``.
    Perturbations share one diverging colour scale per row; titles give the L2 distance.
    """
    missing = [s for s in steps if s not in result.snapshots]
    if missing:
        raise ValueError(f"steps must be in result.snapshots {sorted(result.snapshots)}, got {missing}")
    rows = min(require_positive_int("rows", rows), len(x))
    with style_context():
        fig, axes = plt.subplots(rows, 1 + 2 * len(steps), figsize=(1.25 * (1 + 2 * len(steps)), 1.75 * rows))
        axes = np.atleast_2d(axes)
        for i in range(rows):
            _image(axes[i, 0], x[i], signed=False)
            axes[i, 0].set_title("original", fontsize=8)
            bound = max(float((result.snapshots[s][i] - x[i]).abs().max()) for s in steps) or 1.0
            for j, s in enumerate(steps):
                delta = result.snapshots[s][i] - x[i]
                _image(axes[i, 1 + 2 * j], result.snapshots[s][i], signed=False)
                axes[i, 1 + 2 * j].set_title(f"step {s}\nL2 {delta.norm():.2f}", fontsize=8)
                _image(axes[i, 2 + 2 * j], delta, signed=True, bound=bound)
                axes[i, 2 + 2 * j].set_title("perturbation", fontsize=8)
        fig.tight_layout()
    return fig


def progress_figure(x: torch.Tensor, result: BoundaryResult, index: int, step: int) -> Figure:
    """The explorer's view of sample ``index`` after ``step``: adversarial, perturbation, L2 curve.

    ``step`` must be a key of ``result.snapshots``.
    """
    if step not in result.snapshots:
        raise ValueError(f"step must be one of the snapshot steps {sorted(result.snapshots)}, got {step}")
    adversarial = result.snapshots[step][index]
    delta = adversarial - x[index]
    with style_context():
        fig, axes = plt.subplots(1, 4, figsize=(10, 2.6), width_ratios=(1, 1, 1, 2.6))
        _image(axes[0], x[index], signed=False)
        axes[0].set_title("original")
        _image(axes[1], adversarial, signed=False)
        axes[1].set_title(f"adversarial, step {step}")
        _image(axes[2], delta, signed=True, bound=float(delta.abs().max()) or 1.0)
        axes[2].set_title("perturbation")
        l2 = result.l2_history[:, index]
        axes[3].plot(l2, color=COLORS["boundary"])
        axes[3].plot([step], [float(l2[step])], "o", color="black")
        axes[3].set(yscale="log", xlabel="step", ylabel="L2", title=f"L2 = {float(l2[step]):.3f}")
        fig.tight_layout()
    return fig


def toy_walk_figure(
    predict: Predict, x: torch.Tensor, result: BoundaryResult, steps: Sequence[int], resolution: int = 200
) -> Figure:
    """The walk of a 2-d attack on ``predict``'s decision regions, one panel per step in ``steps``.

    ``x``: ``(1, 2)`` the original; ``result`` must hold a snapshot at every
    step up to ``max(steps)``. Each panel draws the path so far and the
    circle of the current distance around ``x``.
    """
    needed = range(max(steps) + 1)
    if any(s not in result.snapshots for s in needed):
        raise ValueError(
            f"result must hold snapshots at every step 0..{max(steps)} (snapshot_steps=range(...))"
        )
    grid = torch.linspace(0, 1, resolution)
    p1, p2 = torch.meshgrid(grid, grid, indexing="xy")
    regions = predict(torch.stack([p1.flatten(), p2.flatten()], dim=1)).reshape(resolution, resolution)
    path = torch.stack([result.snapshots[s][0] for s in needed]).numpy()  # (steps + 1, 2)
    origin = x[0].numpy()
    with style_context():
        fig, axes = plt.subplots(1, len(steps), figsize=(3.3 * len(steps), 3.4), squeeze=False)
        for ax, s in zip(axes.flat, steps, strict=True):
            ax.contourf(p1, p2, regions, levels=[-0.5, 0.5, 1.5], colors=["#dbe9f6", "#f6dcdc"])
            ax.plot(*np.c_[origin, path[0]], "--", color="grey", linewidth=1)  # the binary-search line
            ax.plot(path[: s + 1, 0], path[: s + 1, 1], ".-", color=COLORS["boundary"], markersize=3)
            radius = float(np.linalg.norm(path[s] - origin))
            ax.add_patch(plt.Circle(origin, radius, fill=False, color="black", linewidth=0.8, alpha=0.6))
            ax.plot(*origin, "*", color=COLORS["standard"], markersize=12)
            ax.set(xlim=(0, 1), ylim=(0, 1), aspect="equal", title=f"step {s}: d = {radius:.3f}")
            ax.grid(False)
        fig.tight_layout()
    return fig
