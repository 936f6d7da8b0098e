"""Chapter 1's figures and its GRU explorer, drawn from what :mod:`companion.rnn` returns.

- :func:`adding_curves` and :func:`gradient_figure`: the adding problem's test MSE against
  steps and time, and ``||dL/dh_t||`` through time (from :func:`companion.rnn.train_adding` and
  :func:`companion.rnn.hidden_state_gradients`).
- :func:`pixel_curves`: test accuracy per epoch of :func:`companion.rnn.train_pixel_digits`.
- :func:`draw_gru_update`: one 2-d GRU update with the gates set by hand (the explorer, with
  ``companion.widgets.explorer``), and :func:`gru_update_grid`, its static figure.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from companion.plotting import COLORS, style_context
from companion.rnn import AddingHistory
from companion.training import History
from companion.validation import require_probability

__all__ = ["adding_curves", "draw_gru_update", "gradient_figure", "gru_update_grid", "pixel_curves"]


def _color(label: str) -> str:
    """``COLORS`` entry of the kind a label starts with ("gru (d_h=37)" -> the GRU's green)."""
    return COLORS.get(label.split()[0].lower(), "#000000")


def adding_curves(
    histories: dict[str, AddingHistory], title: str | None = None, dashed: tuple[str, ...] = ()
) -> Figure:
    """Test MSE against training steps (left) and training time (right), log scale.

    ``histories`` maps a label starting with the kind ("gru", "rnn (d_h=66)") to its
    :class:`~companion.rnn.AddingHistory`; labels in ``dashed`` are drawn dashed. The dotted line is the
    MSE 1/6 of always predicting 1.
    """
    if not histories or not all(isinstance(h, AddingHistory) for h in histories.values()):
        raise ValueError("histories must map at least one label to an AddingHistory")
    with style_context():
        fig, (ax_steps, ax_time) = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
        for label, history in histories.items():
            style = {"color": _color(label), "ls": "--" if label in dashed else "-", "label": label}
            ax_steps.plot(history.iterations, history.test_mse, **style)
            ax_time.plot(history.seconds, history.test_mse, **style)
        for ax in (ax_steps, ax_time):
            ax.axhline(1 / 6, color="black", ls=":", lw=1, label="always predict 1 (MSE 1/6)")
            ax.set(yscale="log", ylabel="test MSE")
        ax_steps.set(xlabel="training step")
        ax_time.set(xlabel="training time (s, one thread)")
        ax_time.legend(fontsize=8)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig


def gradient_figure(init: dict[str, torch.Tensor], trained: dict[str, torch.Tensor]) -> Figure:
    """``||dL/dh_t||`` against ``t`` at initialisation (left) and after training (right).

    Each argument maps a kind to the ``(T,)`` output of :func:`companion.rnn.hidden_state_gradients`.
    """
    if set(init) != set(trained) or not init:
        raise ValueError(
            f"init and trained must have the same kinds, got {sorted(init)} and {sorted(trained)}"
        )
    with style_context():
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
        for ax, norms, when in zip(
            axes, (init, trained), ("at initialisation", "after training"), strict=True
        ):
            for kind, g in norms.items():
                t = torch.arange(1, len(g) + 1)
                ax.plot(t, g.detach().cpu(), color=_color(kind), label=kind)
            ax.set(yscale="log", xlabel="time step t", title=when)
        axes[0].set(ylabel=r"$\|\partial L / \partial h_t\|$")
        axes[1].legend()
        fig.tight_layout()
    return fig


def pixel_curves(histories: dict[str, History]) -> Figure:
    """Test accuracy per epoch of :func:`companion.rnn.train_pixel_digits`, one line per kind."""
    if not histories or not all(isinstance(h, History) and h.test_accuracy for h in histories.values()):
        raise ValueError("histories must map at least one kind to a History with test accuracies")
    with style_context():
        fig, ax = plt.subplots(figsize=(6.4, 3.4))
        for label, history in histories.items():
            epochs = range(1, len(history.test_accuracy) + 1)
            ax.plot(epochs, history.test_accuracy, color=_color(label), label=label)
        ax.set(xlabel="epoch", ylabel="test accuracy", ylim=(0, 1), title="8x8 digits, one pixel per step")
        ax.legend()
        fig.tight_layout()
    return fig


# --- The GRU explorer and its static figure -----------------------------------------------------

_TOY = {  # a 2-d GRU (d_x = d_h = 2) for the explorer: fixed x, h_{t-1}, W_in, W_hn
    "x": torch.tensor([1.0, -0.5]),
    "h": torch.tensor([0.6, 0.5]),
    "W_in": torch.tensor([[-0.6, 0.0], [0.0, 1.6]]),
    "W_hn": torch.tensor([[1.0, -0.8], [1.0, 2.0]]),
}


def draw_gru_update(z: float, r: float, ax: Axes | None = None) -> Figure:
    """Draw one 2-d GRU update with the gates set by hand (all units share ``z`` and ``r``).

    ``n = tanh(W_in x + r * (W_hn h_{t-1}))`` (no biases) and ``h_t = (1 - z) n + z h_{t-1}``:
    ``h_t`` lies on the segment from ``n`` (z = 0) to ``h_{t-1}`` (z = 1); ``r`` moves ``n``
    between ``tanh(W_in x)`` (r = 0, the past ignored) and the full candidate (r = 1).
    """
    z, r = require_probability("z", z), require_probability("r", r)
    x, h, W_in, W_hn = _TOY["x"], _TOY["h"], _TOY["W_in"], _TOY["W_hn"]
    rs = torch.linspace(0, 1, 21)
    path = torch.tanh(W_in @ x + rs[:, None] * (W_hn @ h))  # (21, 2): n as r goes 0 -> 1
    n = torch.tanh(W_in @ x + r * (W_hn @ h))
    h_t = (1 - z) * n + z * h
    with style_context():
        fig, ax = plt.subplots(figsize=(6.4, 4.0)) if ax is None else (ax.figure, ax)
        ax.plot(*path.T, ":", color="#999999", label="candidate n as r goes 0 to 1")
        ax.plot(*torch.stack([n, h]).T, "-", color="#cccccc", lw=4, zorder=0)
        ax.scatter(*h, s=60, color=COLORS["rnn"], label="old state $h_{t-1}$", zorder=3)
        ax.scatter(*n, s=60, marker="s", color="#000000", label="candidate $n_t$", zorder=3)
        ax.scatter(*h_t, s=90, marker="*", color=COLORS["gru"], label="new state $h_t$", zorder=4)
        ax.set(xlim=(-1.05, 1.05), ylim=(-1.05, 1.05), aspect="equal", title=f"z = {z:.2f}, r = {r:.2f}")
        ax.set(xlabel="unit 1", ylabel="unit 2")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig


def gru_update_grid(zs: tuple[float, ...] = (0.0, 0.5, 1.0), rs: tuple[float, ...] = (0.0, 1.0)) -> Figure:
    """:func:`draw_gru_update` for every pair of ``rs`` (rows) and ``zs`` (columns)."""
    if not zs or not rs:
        raise ValueError(f"zs and rs must each hold at least one value, got {len(zs)} and {len(rs)}")
    with style_context():
        fig, axes = plt.subplots(len(rs), len(zs), figsize=(3.1 * len(zs), 3.1 * len(rs)), squeeze=False)
        for row, r in zip(axes, rs, strict=True):
            for ax, z in zip(row, zs, strict=True):
                draw_gru_update(z, r, ax=ax)
                ax.get_legend().remove()
        fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="lower center", ncol=4, fontsize=8)
        fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig
