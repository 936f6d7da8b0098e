"""The handwritten digits every image chapter uses, and a batching helper.

scikit-learn ships the test portion of the UCI optical-recognition digits inside
the package (1,797 images of 8x8 pixels with grey levels 0..16, by 13 of the UCI
set's 43 writers), so nothing is downloaded. We scale the pixels to [0, 1] and
split once, with a fixed seed, into train and test sets (a random split, so the
same writers appear in both). Where a paper uses MNIST (28x28, 70,000 images) we
use these: the chapters say so.

Shapes: ``N`` images, flat form ``(N, 64)`` or image form ``(N, 1, 8, 8)``,
float32 in [0, 1]; labels ``(N,)`` int64 in 0..9.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from companion.runtime import Seed, generator
from companion.validation import (
    require_positive_int,
    require_probability,
    require_same_length,
    require_seed,
    require_tensor,
)

__all__ = ["NUM_CLASSES", "PIXELS", "Digits", "batches", "load_digits", "to_images"]

NUM_CLASSES = 10
PIXELS = 64  # 8 x 8


@dataclass(frozen=True)
class Digits:
    """The digits split into train and test sets.

    Attributes
    ----------
    x_train, x_test : torch.Tensor
        ``(N, 64)`` float32 in [0, 1], one flattened 8x8 image per row.
    y_train, y_test : torch.Tensor
        ``(N,)`` int64 class labels 0..9.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def images_train(self) -> torch.Tensor:
        """Training images in image form, ``(N, 1, 8, 8)``."""
        return to_images(self.x_train)

    @property
    def images_test(self) -> torch.Tensor:
        """Test images in image form, ``(N, 1, 8, 8)``."""
        return to_images(self.x_test)

    def __repr__(self) -> str:
        return (
            f"Digits(train={tuple(self.x_train.shape)}, test={tuple(self.x_test.shape)}, "
            f"pixels in [0, 1], {NUM_CLASSES} classes)"
        )


@lru_cache(maxsize=8)
def _split(test_fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    # Imported here, not at the top: scikit-learn (and the SciPy it loads) is slow to import,
    # and only the first call of load_digits needs it, not every chapter that imports companion.
    from sklearn.datasets import load_digits as _sklearn_load_digits
    from sklearn.model_selection import train_test_split

    bunch = _sklearn_load_digits()
    x = (bunch.data / 16.0).astype(np.float32)  # (1797, 64), grey levels 0..16 -> [0, 1]
    y = bunch.target.astype(np.int64)  # (1797,)
    return tuple(train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=y))


def load_digits(test_fraction: float = 0.25, seed: int = 0) -> Digits:
    """Load scikit-learn's bundled digits, scaled to [0, 1], split with a fixed seed.

    Parameters
    ----------
    test_fraction : float
        Share of the 1,797 images held out for testing, in (0, 1). The default
        0.25 gives 1,347 training and 450 test images.
    seed : int
        Seed of the stratified split; the same seed always gives the same split.

    Returns
    -------
    Digits
        Flat ``(N, 64)`` float32 tensors and ``(N,)`` int64 labels.

    Examples
    --------
    >>> data = load_digits()
    >>> data.x_train.shape, data.x_test.shape
    (torch.Size([1347, 64]), torch.Size([450, 64]))
    >>> float(data.x_train.min()), float(data.x_train.max())
    (0.0, 1.0)
    """
    require_probability("test_fraction", test_fraction)
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    seed = require_seed("seed", seed)
    x_train, x_test, y_train, y_test = _split(float(test_fraction), seed)
    return Digits(
        x_train=torch.from_numpy(x_train.copy()),
        y_train=torch.from_numpy(y_train.copy()),
        x_test=torch.from_numpy(x_test.copy()),
        y_test=torch.from_numpy(y_test.copy()),
    )


def to_images(x: torch.Tensor) -> torch.Tensor:
    """Reshape flat digits ``(N, 64)`` to image form ``(N, 1, 8, 8)``.

    Image-form input is returned as it is.
    """
    require_tensor("x", x, ndim=(2, 4))
    if x.ndim == 4:
        if tuple(x.shape[1:]) != (1, 8, 8):
            raise ValueError(f"x must have shape (N, 1, 8, 8) or (N, 64), got {tuple(x.shape)}")
        return x
    if x.shape[1] != PIXELS:
        raise ValueError(f"x must have shape (N, 64) or (N, 1, 8, 8), got {tuple(x.shape)}")
    return x.reshape(-1, 1, 8, 8)


def batches(
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    *,
    shuffle: bool = False,
    seed: Seed = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(x_batch, y_batch)`` pairs of at most ``batch_size`` samples.

    Parameters
    ----------
    x : torch.Tensor
        ``(N, ...)`` inputs.
    y : torch.Tensor
        ``(N, ...)`` targets: labels ``(N,)`` or soft labels ``(N, K)``.
    batch_size : int
        Samples per batch; the last batch may be smaller.
    shuffle : bool
        Visit the samples in a random order drawn from ``seed``.
    seed : int, torch.Generator or None
        Source of the shuffle order (:func:`companion.runtime.generator`): an int or a
        seeded generator makes the order reproducible; None draws from torch's global
        generator. Ignored when ``shuffle`` is false.
    """
    require_tensor("x", x)
    require_tensor("y", y)
    require_same_length("x", x, "y", y)
    require_positive_int("batch_size", batch_size)
    g = generator(seed)
    n = x.shape[0]
    order = torch.randperm(n, generator=g) if shuffle else torch.arange(n)
    for start in range(0, n, batch_size):
        index = order[start : start + batch_size]
        yield x[index], y[index]
