"""One seeded training loop for every chapter, with a per-batch hook.

The loop is minibatch training with a gradient-based optimiser (Adam by default)::

    for each epoch:
        for each shuffled batch (x_b, y_b):
            loss = loss_fn(model, x_b, y_b)     # the hook
            optimiser step on loss

Chapters change *what a batch's loss is*, never the loop: the default hook is
the cross-entropy on hard labels; defensive distillation passes soft labels and
a temperature loss (chapter 2); adversarial training builds adversarial
examples inside the hook against the current model (chapter 3).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from companion.data import Digits, batches
from companion.models import build_model, eval_mode, preserve_modes
from companion.runtime import generator, progress
from companion.validation import (
    require_labels,
    require_positive,
    require_positive_int,
    require_probability,
    require_same_length,
    require_seed,
    require_tensor,
)

__all__ = [
    "History",
    "LossFn",
    "PairedComparison",
    "TrainConfig",
    "accuracy",
    "correct_predictions",
    "mcnemar_p_value",
    "cross_entropy_loss",
    "paired_comparison",
    "predict_logits",
    "seeded_model",
    "standard_error",
    "train",
    "train_classifier",
]

LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
"""A per-batch hook: ``loss_fn(model, x_b, y_b) -> scalar loss tensor``."""


@dataclass(frozen=True)
class TrainConfig:
    """Settings of :func:`train`; the defaults are the ones chapter 0 trains the digits MLP with."""

    epochs: int = 30  # passes over the training set
    batch_size: int = 64  # samples per gradient step
    lr: float = 1e-3  # learning rate
    optimizer: str = "adam"  # "adam" or "sgd" (with momentum 0.9)
    weight_decay: float = 0.0  # L2 penalty added by the optimiser
    seed: int = 0  # seeds the shuffle order (and the initial weights in train_classifier)

    def __post_init__(self) -> None:
        require_positive_int("epochs", self.epochs)
        require_positive_int("batch_size", self.batch_size)
        require_positive("lr", self.lr)
        require_positive("weight_decay", self.weight_decay, allow_zero=True)
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        require_seed("seed", self.seed)


@dataclass
class History:
    """What :func:`train` measured, one entry per epoch."""

    loss: list[float] = field(default_factory=list)  # mean training loss of the epoch
    train_accuracy: list[float] = field(default_factory=list)  # empty for soft labels or when off
    test_accuracy: list[float] = field(default_factory=list)  # empty without a test set
    seconds: float = 0.0  # wall time of the whole run


def cross_entropy_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The default hook: mean cross-entropy of ``model(x)`` against labels ``y``."""
    return F.cross_entropy(model(x), y)


def _device_of(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Logits ``(N, K)`` of ``model`` on ``x`` in eval mode, batched, on the CPU.

    The model's train/eval mode is restored afterwards.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    require_tensor("x", x, floating=True)
    require_positive_int("batch_size", batch_size)
    device = _device_of(model)
    with eval_mode(model):
        outputs = [model(x[i : i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(outputs) if outputs else torch.empty(0)


def correct_predictions(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Whether the arg-max logit of each sample equals its label: ``(N,)`` bool.

    ``x``: ``(N, ...)`` inputs; ``y``: ``(N,)`` int64 labels. Its mean is :func:`accuracy`;
    two models' vectors on the same samples are what :func:`paired_comparison` compares.
    """
    require_tensor("x", x, floating=True)
    require_labels("y", y)
    require_same_length("x", x, "y", y)
    if len(y) == 0:
        raise ValueError("x and y must hold at least one sample, got 0")
    logits = predict_logits(model, x)  # (N, K)
    require_labels("y", y, num_classes=logits.shape[1])
    return logits.argmax(dim=1) == y


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Share of samples whose arg-max logit equals the label, in [0, 1].

    ``x``: ``(N, ...)`` inputs; ``y``: ``(N,)`` int64 labels.
    """
    return correct_predictions(model, x, y).float().mean().item()


def standard_error(accuracy: float, n: int) -> float:
    """Binomial standard error ``sqrt(a (1 - a) / n)`` of an accuracy ``a`` in [0, 1] measured on
    ``n`` test samples: how much it would move on another draw of ``n`` samples. Two accuracies on
    the same test set differ beyond noise only when the gap is several times
    ``sqrt(se_1^2 + se_2^2)`` (an upper bound for paired measurements).

    >>> round(standard_error(0.85, 450), 3)  # an accuracy of 0.85 on the 450 test digits
    0.017
    >>> standard_error(1.0, 450)
    0.0
    """
    accuracy = require_probability("accuracy", accuracy)
    require_positive_int("n", n)
    return math.sqrt(accuracy * (1 - accuracy) / n)


class PairedComparison(NamedTuple):
    """What :func:`paired_comparison` counts on one test set."""

    only_a: int  # samples model a gets right and model b gets wrong
    only_b: int  # samples model b gets right and model a gets wrong
    p_value: float  # exact two-sided McNemar test of "a and b are equally accurate"


def paired_comparison(correct_a: torch.Tensor, correct_b: torch.Tensor) -> PairedComparison:
    """McNemar's paired comparison of two classifiers on the same ``N`` test samples.

    ``correct_a`` and ``correct_b`` are ``(N,)`` bool (:func:`correct_predictions` of each
    model). Samples both models get right, or both wrong, say nothing about which is better;
    only the discordant ones count: ``only_a`` that a gets right and b wrong, ``only_b`` the
    reverse. If the two are equally accurate, each of the ``n = only_a + only_b`` discordant
    samples goes either way with probability 1/2, so the exact two-sided p-value is
    ``min(1, 2 P(X <= min(only_a, only_b)))`` with ``X ~ Binomial(n, 1/2)`` (1 when ``n = 0``).
    Pairing makes it sharper than comparing two accuracies through their
    :func:`standard_error`: the digits both get right or wrong cancel out.

    McNemar. Note on the sampling error of the difference between correlated proportions or
    percentages. Psychometrika 12(2), 1947; for classifiers, Dietterich, Neural Computation
    10(7), 1998.

    >>> a = torch.tensor([True, True, True, False, True])
    >>> b = torch.tensor([True, False, False, False, True])
    >>> paired_comparison(a, b)
    PairedComparison(only_a=2, only_b=0, p_value=0.5)
    """
    for name, value in (("correct_a", correct_a), ("correct_b", correct_b)):
        require_tensor(name, value, ndim=1)
        if value.dtype != torch.bool:
            raise TypeError(f"{name} must have dtype torch.bool, got {value.dtype}")
    require_same_length("correct_a", correct_a, "correct_b", correct_b)
    if len(correct_a) == 0:
        raise ValueError("correct_a and correct_b must hold at least one sample, got 0")
    only_a = int((correct_a & ~correct_b).sum())
    only_b = int((correct_b & ~correct_a).sum())
    return PairedComparison(only_a, only_b, mcnemar_p_value(only_a, only_b))


def mcnemar_p_value(only_a: int, only_b: int) -> float:
    """The exact two-sided McNemar p-value from the two discordant counts, in [0, 1].

    ``min(1, 2 P(X <= min(only_a, only_b)))`` with ``X ~ Binomial(only_a + only_b, 1/2)``, 1 when
    both are 0: what :func:`paired_comparison` returns, for counts kept without the samples
    (chapter 3's results file stores how many digits only one attack broke).

    >>> mcnemar_p_value(2, 0)
    0.5
    """
    for name, value in (("only_a", only_a), ("only_b", only_b)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    n, k = only_a + only_b, min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n  # P(X <= k), X ~ Bin(n, 1/2)
    return min(1.0, 2 * tail)


def _make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)


def train(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    config: TrainConfig = TrainConfig(),
    *,
    loss_fn: LossFn = cross_entropy_loss,
    x_test: torch.Tensor | None = None,
    y_test: torch.Tensor | None = None,
    device: torch.device | None = None,
    train_accuracy: bool = True,
) -> History:
    """Train ``model`` in place with minibatches; return the per-epoch history.

    Parameters
    ----------
    model : nn.Module
        Maps a batch ``(B, ...)`` to logits ``(B, K)``. Trained on ``device`` and returned
        on the device it came from, so the attacks that follow see inputs and weights together.
    x : torch.Tensor
        ``(N, ...)`` float training inputs.
    y : torch.Tensor
        ``(N,)`` int64 labels, or ``(N, K)`` float soft labels (for a hook
        that expects them, as in defensive distillation).
    config : TrainConfig
        Epochs, batch size, optimiser, learning rate and the shuffle seed.
    loss_fn : callable
        The per-batch hook ``loss_fn(model, x_b, y_b) -> scalar``; by default
        :func:`cross_entropy_loss`.
    x_test, y_test : torch.Tensor, optional
        A labelled test set whose accuracy is recorded after every epoch.
    device : torch.device, optional
        Where to train; defaults to the model's own device (the CPU for every model of the
        course, so the numbers match the book on any machine). Pass
        :func:`~companion.runtime.default_device` to train on a GPU when one is present.
    train_accuracy : bool
        Record the accuracy on the whole training set after every epoch (hard labels only).
        It costs one more pass over ``x`` per epoch; a chapter that never reads
        ``History.train_accuracy`` passes False and gets it empty.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable as loss_fn(model, x, y), got {loss_fn!r}")
    require_tensor("x", x, floating=True)
    require_tensor("y", y, ndim=(1, 2))
    require_same_length("x", x, "y", y)
    hard_labels = y.ndim == 1
    if hard_labels:
        require_labels("y", y)
    if (x_test is None) != (y_test is None):
        raise ValueError("x_test and y_test must be given together")
    if not isinstance(train_accuracy, bool):
        raise TypeError(f"train_accuracy must be a bool, got {type(train_accuracy).__name__}")

    home = _device_of(model)
    device = device or home
    model.to(device)
    try:
        optimizer = _make_optimizer(model, config)
        g = generator(config.seed)  # draws the shuffle order of every epoch
        history = History()
        start = time.perf_counter()
        with preserve_modes(model):
            bar = progress(range(config.epochs), desc="training", unit="epoch")
            for _ in bar:
                model.train()
                total, count = 0.0, 0
                for x_b, y_b in batches(x, y, config.batch_size, shuffle=True, seed=g):
                    x_b, y_b = x_b.to(device), y_b.to(device)
                    loss = loss_fn(model, x_b, y_b)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    total += loss.item() * len(x_b)
                    count += len(x_b)
                history.loss.append(total / count)
                if hard_labels and train_accuracy:
                    history.train_accuracy.append(accuracy(model, x, y))
                if x_test is not None:
                    history.test_accuracy.append(accuracy(model, x_test, y_test))
                if hasattr(bar, "set_postfix"):
                    bar.set_postfix(loss=f"{history.loss[-1]:.3f}")
        history.seconds = time.perf_counter() - start
    finally:
        model.to(home)  # also when training raises
    return history


def seeded_model(model_name: str = "mlp", seed: int = 0, **model_kwargs) -> nn.Module:
    """A shared digits classifier whose initial weights are drawn from ``seed``.

    The global random state is left as it was, so the same seed always gives
    the same weights wherever it is called.
    """
    seed = require_seed("seed", seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(model_name, **model_kwargs)


def train_classifier(
    data: Digits,
    model_name: str = "mlp",
    config: TrainConfig = TrainConfig(),
    *,
    loss_fn: LossFn = cross_entropy_loss,
    record_accuracy: bool = True,
    **model_kwargs,
) -> tuple[nn.Module, History]:
    """Build a shared digits classifier with seeded weights and train it.

    The initial weights are drawn from ``config.seed`` without touching the
    global random state, so the same config always gives the same model.
    Returns the trained model (in eval mode) and its history. ``record_accuracy=False`` records
    only the loss: :func:`train` gets ``train_accuracy=False`` and no test set, so no epoch ends
    with an evaluation pass (the weights are the same).
    """
    if not isinstance(data, Digits):
        raise TypeError(f"data must be companion.data.Digits, got {type(data).__name__}")
    if not isinstance(record_accuracy, bool):
        raise TypeError(f"record_accuracy must be a bool, got {type(record_accuracy).__name__}")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    model = seeded_model(model_name, config.seed, **model_kwargs)
    history = train(
        model,
        data.x_train,
        data.y_train,
        config,
        loss_fn=loss_fn,
        x_test=data.x_test if record_accuracy else None,
        y_test=data.y_test if record_accuracy else None,
        train_accuracy=record_accuracy,
    )
    return model.eval(), history
