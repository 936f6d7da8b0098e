"""One look for every figure in the course, and the plots chapters share.

Helpers build their figures inside :func:`style_context` and return the
``Figure``; in a notebook, assign it (``fig = digit_grid(...)``) and Jupyter
shows it once. :data:`COLORS` gives each model or method one colour across
all chapters (a GRU is always the same green).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import wraps

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from companion.data import to_images
from companion.validation import require_labels, require_positive_int, require_tensor

__all__ = [
    "COLORS",
    "STYLE",
    "digit_grid",
    "learning_curves",
    "prediction_figure",
    "style_context",
    "styled",
    "use_style",
]

STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.figsize": (6.4, 4.0),
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "lines.linewidth": 1.8,
    "image.cmap": "gray_r",
}

# Every colour has a contrast of at least 3:1 against the white background (WCAG 2.1's 1.4.11
# for lines, bars and markers); green and orange at least 4.5:1, since titles also use them.
COLORS = {
    # recurrent cells (chapter 1)
    "rnn": "#7f7f7f",
    "gru": "#238823",
    "lstm": "#1f77b4",
    # models and methods (chapters 2 to 5)
    "standard": "#1f77b4",
    "distilled": "#d62728",
    "fgsm": "#c05600",
    "pgd": "#9467bd",
    "boundary": "#8c564b",
    "capped": "#238823",
    "uncapped": "#d62728",
    # splits
    "train": "#1f77b4",
    "test": "#c05600",
}


def use_style() -> None:
    """Apply :data:`STYLE` globally, for a notebook's own plots."""
    plt.rcParams.update(STYLE)


@contextmanager
def style_context() -> Iterator[None]:
    """Apply :data:`STYLE` inside a ``with`` block, then restore those keys only.

    Not ``plt.rc_context``: that restores *every* rcParam, including the
    ``interactive`` flag that Jupyter's inline backend switches on when the
    first figure is made, so figures after the first would silently not show.
    """
    saved = {key: plt.rcParams[key] for key in STYLE}
    plt.rcParams.update(STYLE)
    try:
        yield
    finally:
        plt.rcParams.update(saved)


def styled(function):
    """Decorator: run a figure-making function inside :func:`style_context`."""

    @wraps(function)
    def wrapper(*args, **kwargs):
        with style_context():
            return function(*args, **kwargs)

    return wrapper


@styled
def digit_grid(
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    predictions: torch.Tensor | None = None,
    *,
    ncols: int = 10,
    title: str | None = None,
    signed: bool = False,
) -> Figure:
    """Draw digits in a grid, each titled with its label and/or prediction.

    Parameters
    ----------
    images : torch.Tensor
        ``(N, 64)`` or ``(N, 1, 8, 8)``; pixels in [0, 1] (or any range with
        ``signed=True``, for perturbations).
    labels, predictions : torch.Tensor, optional
        ``(N,)`` int64. A wrong prediction is titled in red.
    ncols : int
        Images per row.
    signed : bool
        Draw with a diverging colour map centred on 0 (for perturbations).
    """
    images = to_images(require_tensor("images", images, floating=True)).detach().cpu().numpy()
    n = images.shape[0]
    if n == 0:
        raise ValueError("images must hold at least one image, got 0")
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values is not None:
            require_labels(name, values)
            if len(values) != n:
                raise ValueError(f"{name} must have {n} entries (one per image), got {len(values)}")
    require_positive_int("ncols", ncols)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.0 * ncols, 1.15 * nrows + 0.3), squeeze=False)
    bound = float(abs(images).max()) or 1.0
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        if signed:
            ax.imshow(images[k, 0], cmap="RdBu_r", vmin=-bound, vmax=bound)
        else:
            ax.imshow(images[k, 0], cmap="gray_r", vmin=0.0, vmax=1.0)
        parts, color = [], "black"
        if labels is not None:
            parts.append(f"y={int(labels[k])}")
        if predictions is not None:
            parts.append(f"pred={int(predictions[k])}")
            if labels is not None and int(predictions[k]) != int(labels[k]):
                color = "#d62728"
        if parts:
            ax.set_title(" ".join(parts), fontsize=8, color=color)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


@styled
def learning_curves(history, title: str | None = None) -> Figure:
    """Training loss and accuracies per epoch from a ``companion.training.History``."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.2))
    epochs = np.arange(1, len(history.loss) + 1)
    if len(epochs) == 0:
        raise ValueError("history must hold at least one epoch, got an empty history")
    ax_loss.plot(epochs, history.loss, color=COLORS["train"])
    ax_loss.set(xlabel="epoch", ylabel="training loss", yscale="log")
    if history.train_accuracy:
        ax_acc.plot(epochs, history.train_accuracy, label="train", color=COLORS["train"])
    if history.test_accuracy:
        ax_acc.plot(epochs, history.test_accuracy, label="test", color=COLORS["test"])
    ax_acc.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02))
    ax_acc.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


@styled
def prediction_figure(
    probabilities: torch.Tensor,
    image: torch.Tensor,
    label: int | None = None,
    *,
    class_names: Sequence[str] | None = None,
) -> Figure:
    """One digit beside a bar chart of the model's class probabilities.

    ``probabilities``: ``(K,)`` summing to 1; ``image``: ``(64,)`` or
    ``(1, 8, 8)`` in [0, 1]; the true ``label`` is drawn in green when given.
    """
    require_tensor("probabilities", probabilities, ndim=1, floating=True)
    require_tensor("image", image, floating=True)
    if image.numel() != 64:
        raise ValueError(f"image must hold 64 pixels (8x8), got shape {tuple(image.shape)}")
    p = probabilities.detach().cpu().numpy()
    names = list(class_names) if class_names is not None else [str(k) for k in range(len(p))]
    if len(names) != len(p):
        raise ValueError(f"class_names must have {len(p)} entries, got {len(names)}")
    fig, (ax_img, ax_bar) = plt.subplots(1, 2, figsize=(7, 2.6), width_ratios=(1, 2.4))
    ax_img.imshow(image.detach().cpu().reshape(8, 8).numpy(), cmap="gray_r", vmin=0, vmax=1)
    ax_img.axis("off")
    ax_img.set_title("input" if label is None else f"input (label {label})")
    colors = ["#8c8c8c"] * len(p)  # 3.4:1 on white
    colors[int(p.argmax())] = COLORS["standard"]
    if label is not None:
        colors[int(label)] = COLORS["gru"] if int(label) == int(p.argmax()) else "#d62728"
    ax_bar.bar(names, p, color=colors)
    ax_bar.set(ylim=(0, 1.02), xlabel="class", ylabel="probability")
    ax_bar.set_title(f"prediction {names[int(p.argmax())]} ({p.max():.2f})")
    fig.tight_layout()
    return fig
