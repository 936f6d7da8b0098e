"""Chapter 2's figures and its temperature explorer, drawn from :mod:`companion.distillation`.

- :func:`temperature_figure`: ``softmax(z / T)`` for one logit vector and how it and its
  Jacobian vary with ``T`` (the explorer's drawing, and its static figures).
- :func:`sweep_figure`: what :func:`companion.distillation.temperature_sweep` measured, against
  ``T``, beside the standard model.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from companion.distillation import DefenceReport, softmax_jacobian, softmax_with_temperature
from companion.plotting import COLORS, style_context
from companion.validation import require_positive, require_tensor

__all__ = ["float32_jacobian_sizes", "sweep_figure", "temperature_figure"]


def float32_jacobian_sizes(z: torch.Tensor, temperatures: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """The Frobenius norm of the float32 Jacobian at each temperature, and where it is exactly 0.

    The entries are computed in float32 (:func:`companion.distillation.softmax_jacobian` of
    ``z.float()``); their norm is taken in float64, because squaring entries below about 1e-23
    underflows in float32 and would print a norm of 0 for a Jacobian that is not 0. "Exactly
    zero" means every entry is 0 (``count_nonzero``), not a norm that underflowed.
    Returns ``(norm, exactly_zero)``, both of shape ``(len(temperatures),)``.
    """
    jacobians = [softmax_jacobian(z.float(), t) for t in temperatures]
    norm = np.array([J.double().norm().item() for J in jacobians])
    exactly_zero = np.array([int(torch.count_nonzero(J)) == 0 for J in jacobians])
    return norm, exactly_zero


def temperature_figure(z: torch.Tensor, T: float) -> Figure:
    """Draw ``softmax(z / T)`` for one logit vector ``z`` ``(K,)``, and how it and its Jacobian vary with T.

    Left: the probabilities at ``T``. Middle: each ``F_i`` against the
    temperature, from 0.01 to 100. Right: the Frobenius norm of
    :func:`companion.distillation.softmax_jacobian` in float64 and float32 (entries in float32,
    the norm of them taken without underflow, :func:`float32_jacobian_sizes`); crosses mark
    temperatures where every entry of the float32 Jacobian is exactly zero.
    """
    require_tensor("z", z, ndim=1, floating=True)
    T = require_positive("T", T)
    grid = np.logspace(-2, 2, 200)  # temperatures
    probabilities = torch.stack([softmax_with_temperature(z[None].double(), t)[0] for t in grid])  # (G, K)
    norm64 = np.array([softmax_jacobian(z.double(), t).norm().item() for t in grid])  # (G,)
    norm32, zero32 = float32_jacobian_sizes(z, grid)  # (G,), (G,)
    with style_context():
        fig, (ax_bar, ax_p, ax_j) = plt.subplots(1, 3, figsize=(11, 3.2))
        ax_bar.bar(range(len(z)), softmax_with_temperature(z[None], T)[0].numpy(), color=COLORS["standard"])
        ax_bar.set(xlabel="class $i$", ylabel="$F_i$", ylim=(0, 1.02), title=f"softmax(z / T), T = {T:.3g}")
        ax_p.plot(grid, probabilities.numpy(), color="#999999", linewidth=1)
        ax_p.plot(
            grid, probabilities[:, int(z.argmax())].numpy(), color=COLORS["distilled"], label="arg-max class"
        )
        ax_p.set(xscale="log", xlabel="temperature T", ylabel="$F_i$", title="each class against T")
        ax_p.axvline(T, color="black", linestyle=":")
        ax_p.legend()
        ax_j.plot(grid, norm64, color=COLORS["standard"], label="float64")
        ax_j.plot(grid, np.where(zero32, np.nan, norm32), "--", color=COLORS["fgsm"], label="float32")
        bottom = ax_j.get_xaxis_transform()  # x in data units, y in axes units
        ax_j.plot(
            grid[zero32],
            np.full(zero32.sum(), 0.03),
            "x",
            transform=bottom,
            color=COLORS["fgsm"],
            label="float32 exactly 0",
        )
        ax_j.axvline(T, color="black", linestyle=":")
        ax_j.set(xscale="log", yscale="log", ylim=(1e-40, 10), xlabel="temperature T")
        ax_j.set_ylabel(r"$\|\partial F / \partial z\|$")
        ax_j.set_title("size of the Jacobian")
        ax_j.legend()
        fig.tight_layout()
    return fig


def sweep_figure(reports: Sequence[DefenceReport], standard: DefenceReport) -> Figure:
    """FGSM success, accuracy, share with no usable gradient and logit size against T, with the standard."""
    if not reports or not all(isinstance(r, DefenceReport) for r in (*reports, standard)):
        raise TypeError("reports must be a non-empty list of DefenceReport, and standard a DefenceReport")
    T = [r.T for r in reports]
    with style_context():
        fig, (ax_s, ax_a, ax_z) = plt.subplots(1, 3, figsize=(11, 3.2))
        ax_s.plot(T, [r.fgsm_probabilities for r in reports], "o-", color=COLORS["distilled"], label="on F")
        ax_s.plot(T, [r.fgsm_logits for r in reports], "s-", color=COLORS["fgsm"], label="on logits (margin)")
        ax_s.plot(T, [r.fgsm_scaled for r in reports], "d--", color=COLORS["pgd"], label="on z / T")
        ax_s.axhline(
            standard.fgsm_probabilities, color=COLORS["standard"], linestyle=":", label="standard, on F"
        )
        ax_s.set(xscale="log", xlabel="temperature T", ylabel="FGSM success", ylim=(0, 1.05))
        ax_s.set_title("FGSM on the distilled student")
        ax_s.legend()
        ax_a.plot(T, [r.accuracy for r in reports], "o-", color=COLORS["distilled"], label="test accuracy")
        ax_a.plot(
            T,
            [r.zero_gradients for r in reports],
            "^-",
            color="#555555",
            label="share with no usable gradient",
        )
        ax_a.axhline(standard.accuracy, color=COLORS["standard"], linestyle=":", label="standard accuracy")
        ax_a.set(xscale="log", xlabel="temperature T", ylim=(0, 1.05), title="accuracy and masked gradients")
        ax_a.legend(loc="center left")
        ax_z.plot(T, [r.logit_scale for r in reports], "o-", color=COLORS["distilled"], label="distilled")
        ax_z.axhline(standard.logit_scale, color=COLORS["standard"], linestyle=":", label="standard")
        ax_z.set(xscale="log", yscale="log", xlabel="temperature T", ylabel=r"median $\max_i |z_i|$")
        ax_z.set_title("size of the logits")
        ax_z.legend()
        fig.tight_layout()
    return fig
