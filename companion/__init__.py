"""Companion package of the course *Gates, Gradients and Adversaries*.

Modules
-------
runtime
    :func:`seed_everything`, the device and progress bars.
data
    The bundled 8x8 digits, scaled to [0, 1], with a fixed seeded split.
models
    The small digits classifiers the chapters share (an MLP and a CNN).
training
    One seeded training loop with a per-batch loss hook; ``accuracy``.
plotting
    One figure style and the shared plots (digit grids, learning curves).
widgets
    ipywidgets explorers built from a drawing function.
validation
    The argument checks every public function uses.

Chapters add one module each (``rnn``, ``distillation``, ``attacks``, ...).
"""

from companion.runtime import default_device, progress, seed_everything

__version__ = "0.1.0"

__all__ = ["__version__", "default_device", "progress", "seed_everything"]
