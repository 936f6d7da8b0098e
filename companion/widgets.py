"""ipywidgets explorers: sliders that redraw a figure.

Every chapter has one. :func:`explorer` turns any function that returns a
matplotlib ``Figure`` into an interactive panel; the chapter only writes the
drawing function. Without a kernel (the online book) a widget cannot redraw,
so each chapter also shows a static figure beside its explorer.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets
import matplotlib.pyplot as plt
from IPython.display import display
from matplotlib.figure import Figure

__all__ = ["explorer"]


def explorer(draw: Callable[..., Figure], **controls) -> ipywidgets.Widget:
    """Return a panel of ``controls`` that redraws ``draw(**values)`` on each change.

    Parameters
    ----------
    draw : callable
        Takes one keyword argument per control and returns a ``Figure``.
    **controls
        ipywidgets controls or abbreviations, as for ``ipywidgets.interactive``
        (``(0, 10)`` for an integer slider, ``(0.0, 1.0, 0.05)`` for a float one).
    """
    if not callable(draw):
        raise TypeError(f"draw must be a function returning a Figure, got {type(draw).__name__}")
    if not controls:
        raise ValueError("explorer needs at least one control, e.g. index=(0, 9)")

    def show(**values) -> None:
        fig = draw(**values)
        if not isinstance(fig, Figure):
            raise TypeError(f"draw must return a matplotlib Figure, got {type(fig).__name__}")
        display(fig)
        plt.close(fig)

    return ipywidgets.interactive(show, **controls)
