"""The small digits classifiers the chapters share.

Both map a batch of digits in [0, 1], flat ``(N, 64)`` or image form
``(N, 1, 8, 8)``, to logits ``(N, 10)`` (no softmax: chapters that need
probabilities apply ``softmax`` themselves, at the temperature they study).

- :class:`MLP`: 64-128-128-10 with ReLU, the architecture of chapters 2 to 5
  (each chapter trains its own).
- :class:`SmallCNN`: two 3x3 convolutions and a linear layer, for contrast.

They are far smaller than the networks in the papers (which train on MNIST or
CIFAR-10); each trains on the CPU in a few seconds.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

from companion.data import NUM_CLASSES, PIXELS
from companion.validation import require_positive_int, require_tensor

__all__ = ["MLP", "SmallCNN", "build_model", "eval_mode", "preserve_modes"]


def _flat_digits(x: torch.Tensor) -> torch.Tensor:
    """Accept ``(N, 64)`` or ``(N, 1, 8, 8)``; return ``(N, 64)``."""
    require_tensor("x", x, ndim=(2, 4), floating=True)
    if x.shape[0] and x[0].numel() != PIXELS:
        raise ValueError(f"x must have shape (N, 64) or (N, 1, 8, 8), got {tuple(x.shape)}")
    return x.reshape(x.shape[0], PIXELS)


class MLP(nn.Module):
    """A multilayer perceptron ``64 -> hidden[0] -> ... -> 10`` with ReLU.

    Parameters
    ----------
    hidden : sequence of int
        Widths of the hidden layers. The default ``(128, 128)`` is the
        course's standard digits classifier.

    Shapes
    ------
    input ``(N, 64)`` or ``(N, 1, 8, 8)`` float in [0, 1]; output ``(N, 10)`` logits.
    """

    def __init__(self, hidden: Sequence[int] = (128, 128)) -> None:
        super().__init__()
        if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
            raise TypeError(f"hidden must be a sequence of ints, got {type(hidden).__name__}")
        widths = [PIXELS] + [require_positive_int("hidden[i]", h) for h in hidden]
        layers: list[nn.Module] = []
        for d_in, d_out in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Linear(d_in, d_out), nn.ReLU()]
        layers.append(nn.Linear(widths[-1], NUM_CLASSES))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(_flat_digits(x))  # (N, 10)


class SmallCNN(nn.Module):
    """Two 3x3 convolutions (``channels`` each, ReLU, padding 1), a 2x2 max-pool
    after the second, then a linear layer to 10 logits.

    Shapes
    ------
    input ``(N, 64)`` or ``(N, 1, 8, 8)`` float in [0, 1]; output ``(N, 10)`` logits.
    """

    def __init__(self, channels: int = 16) -> None:
        super().__init__()
        require_positive_int("channels", channels)
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1),
            nn.ReLU(),  # (N, C, 8, 8)
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(),  # (N, C, 8, 8)
            nn.MaxPool2d(2),  # (N, C, 4, 4)
        )
        self.classifier = nn.Linear(channels * 16, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _flat_digits(x).reshape(-1, 1, 8, 8)  # (N, 1, 8, 8)
        return self.classifier(self.features(x).flatten(1))  # (N, 10)


def build_model(name: str = "mlp", **kwargs) -> nn.Module:
    """Build a shared classifier by name: ``"mlp"`` or ``"cnn"``."""
    models = {"mlp": MLP, "cnn": SmallCNN}
    if name not in models:
        raise ValueError(f"name must be one of {sorted(models)}, got {name!r}")
    return models[name](**kwargs)


@contextmanager
def preserve_modes(model) -> Iterator[None]:
    """Restore the train/eval mode of ``model`` and of every submodule on exit.

    ``model.train(was_training)`` is not enough: it sets *all* submodules to
    the outer module's mode, so a wrapper in training mode around a model in
    eval mode would leave the inner model in training mode. Non-modules pass.
    """
    modes = [(m, m.training) for m in model.modules()] if isinstance(model, nn.Module) else []
    try:
        yield
    finally:
        for module, training in modes:
            if module.training != training:  # setting it costs a module's __setattr__
                module.training = training


@contextmanager
def eval_mode(model) -> Iterator[None]:
    """Evaluate ``model`` in eval mode inside the block; every module's mode is restored after."""
    with preserve_modes(model):
        if isinstance(model, nn.Module) and any(m.training for m in model.modules()):
            model.eval()  # a model already in eval mode (every query of an attack) is left alone
        yield
