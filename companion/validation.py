"""Argument validation shared by the companion's public functions: the one home for it.

Each ``require_*`` function returns its (possibly converted) value when it is valid and raises
a ``TypeError`` or ``ValueError`` that names the argument, says what was expected and what was
given, in the spirit of scikit-learn's ``sklearn.utils.validation``. Internal invariants use
``assert`` instead. (The word *check* is kept for exercise checks, in
:mod:`companion.classroom`.)
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Mapping, Sequence

import numpy as np
import torch

__all__ = [
    "require_attack_inputs",
    "require_generator_seed",
    "require_in_unit_box",
    "require_labels",
    "require_models",
    "require_positive",
    "require_outcome_table",
    "require_positive_int",
    "require_probabilities",
    "require_probability",
    "require_same_length",
    "require_seed",
    "require_tensor",
]


def require_tensor(
    name: str,
    value: object,
    *,
    ndim: int | Sequence[int] | None = None,
    floating: bool | None = None,
) -> torch.Tensor:
    """Check that ``value`` is a tensor with ``ndim`` dimensions (one of, if a sequence).

    ``floating=True`` asks for a floating dtype, ``False`` for an integer one.
    Returns the tensor unchanged.
    """
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if value.ndim not in allowed:
            wanted = " or ".join(str(d) for d in allowed)
            raise ValueError(f"{name} must have {wanted} dimensions, got shape {tuple(value.shape)}")
    if floating is True and not value.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {value.dtype}")
    integer = not (value.is_floating_point() or value.is_complex() or value.dtype == torch.bool)
    if floating is False and not integer:
        raise TypeError(f"{name} must have an integer dtype (torch.int64), got {value.dtype}")
    return value


def require_in_unit_box(name: str, x: torch.Tensor) -> torch.Tensor:
    """Check that every entry of the floating tensor ``x`` lies in [0, 1]."""
    require_tensor(name, x, floating=True)
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError(
            f"{name} must lie in [0, 1], got values in [{x.min().item():.4g}, {x.max().item():.4g}]"
        )
    return x


def require_labels(name: str, y: torch.Tensor, num_classes: int | None = None) -> torch.Tensor:
    """Check that ``y`` is a 1-d integer tensor of class indices in [0, num_classes)."""
    require_tensor(name, y, ndim=1, floating=False)
    if not y.numel():
        return y
    if y.min() < 0 or (num_classes is not None and y.max() >= num_classes):
        wanted = f"[0, {num_classes - 1}]" if num_classes is not None else "0, 1, 2, ..."
        raise ValueError(
            f"{name} must hold class indices in {wanted}, got values in [{y.min().item()}, {y.max().item()}]"
        )
    return y


def require_same_length(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    """Check that ``a`` and ``b`` have the same first dimension."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"{name_a} and {name_b} must have the same number of samples, got {a.shape[0]} and {b.shape[0]}"
        )


def require_attack_inputs(
    model: object,
    x: object,
    y: object,
    *,
    name: str = "model",
    returns: str = "logits",
    module: bool = False,
    nonempty: bool = False,
) -> None:
    """Check what every attack receives: a model, inputs ``x`` and their labels ``y``.

    ``model`` (called ``name`` in the errors, e.g. ``"predict"``) must be callable on a batch in
    [0, 1] and return ``returns`` (a description for the error); with ``module=True`` it must be a
    ``torch.nn.Module`` (for code that hooks into it or trains it). ``x`` must be ``(N, ...)`` float
    in [0, 1] and ``y`` ``(N,)`` integer class indices, with the same ``N``; ``nonempty=True``
    also asks for ``N >= 1``.
    """
    if module and not isinstance(model, torch.nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(model):
        got = type(model).__name__
        raise TypeError(f"{name} must be callable (a batch in [0, 1] -> {returns}), got {got}")
    require_in_unit_box("x", x)
    require_labels("y", y)
    require_same_length("x", x, "y", y)
    if nonempty and len(x) == 0:
        raise ValueError("x must hold at least one sample, got 0")


def require_models(name: str, value: object) -> Mapping:
    """Check that ``value`` is a non-empty dict of name -> ``torch.nn.Module``; returns it."""
    if not isinstance(value, Mapping) or not value:
        got = "an empty dict" if isinstance(value, Mapping) else type(value).__name__
        raise TypeError(f"{name} must be a non-empty dict of name -> torch.nn.Module, got {got}")
    for key, model in value.items():
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"{name}[{key!r}] must be a torch.nn.Module, got {type(model).__name__}")
    return value


def require_positive_int(name: str, value: object) -> int:
    """Check that ``value`` is an int >= 1 (bool is refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


def require_positive(name: str, value: object, *, allow_zero: bool = False) -> float:
    """Check that ``value`` is a real number > 0 (>= 0 with ``allow_zero``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero) or value != value:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return float(value)


def require_probability(name: str, value: object) -> float:
    """Check that ``value`` is a real number in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value}")
    return float(value)


def require_probabilities(name: str, value: object) -> list[float]:
    """Check that ``value`` holds probabilities ``p_i = P(x_i = 1)``, one per bit; return them.

    Accepted: a non-empty sequence of numbers, a 1-d NumPy array or a 1-d floating tensor, each
    entry in [0, 1] (checked with :func:`require_probability`, so ``name[i]`` names a bad one).
    Returns a list of floats.
    """
    if isinstance(value, torch.Tensor):
        require_tensor(name, value, ndim=1, floating=True)
        value = value.tolist()
    elif isinstance(value, np.ndarray):
        if value.ndim != 1:
            raise ValueError(
                f"{name} must be 1-dimensional (one probability per bit), got shape {value.shape}"
            )
        value = value.tolist()
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(
            f"{name} must be a list of per-bit probabilities P(x_i = 1), e.g. [0.2, 0.2], "
            f"got {type(value).__name__}"
        )
    if len(value) == 0:
        raise ValueError(
            f"{name} must hold at least one probability (one per bit), got an empty {type(value).__name__}"
        )
    return [require_probability(f"{name}[{i}]", p_i) for i, p_i in enumerate(value)]


def _bit_strings(n: int) -> list[str]:
    """The ``2^n`` strings of ``n`` bits in lexicographic order (``companion.probability.outcomes``)."""
    return ["".join(bits) for bits in itertools.product("01", repeat=n)]


def require_outcome_table(name: str, table: object) -> tuple[int, list[str]]:
    """Check the form of a joint table of ``n`` bits; return ``n`` and its outcomes in order.

    A joint table (:mod:`companion.probability`) is a dict from every one of the ``2^n`` outcome
    strings of ``n`` bits (``"01"``) to a real number. Checked here: a non-empty dict, keys that
    are strings of 0s and 1s of one length, none missing, and number values that are not NaN.
    Whether the values are probabilities that sum to 1 is for
    :func:`companion.probability.check_joint` to say.
    """
    if not isinstance(table, Mapping):
        raise TypeError(
            f"{name} must be a dict from outcome strings such as '01' to probabilities, "
            f"got {type(table).__name__}"
        )
    if len(table) == 0:
        raise ValueError(f"{name} must list at least one outcome, got an empty {type(table).__name__}")
    for x in table:
        if not isinstance(x, str) or not x or set(x) - {"0", "1"}:
            raise ValueError(f"{name}'s keys must be strings of 0s and 1s such as '01', got {x!r}")
    lengths = sorted({len(x) for x in table})
    if len(lengths) > 1:
        raise ValueError(f"all outcomes in {name} must have the same number of bits, got lengths {lengths}")
    n = lengths[0]
    missing = [x for x in _bit_strings(n) if x not in table]
    if missing:
        shown = ", ".join(repr(x) for x in missing[:8]) + (", ..." if len(missing) > 8 else "")
        raise ValueError(
            f"a table over {n} bits must list all 2**{n} = {2**n} outcomes; {name} is missing {shown} "
            "(an outcome that cannot happen is listed with probability 0)"
        )
    for x, value in table.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name}[{x!r}] must be a number, got {type(value).__name__}")
        if math.isnan(value):
            raise ValueError(f"{name}[{x!r}] is nan; every entry must be a probability in [0, 1]")
    return n, _bit_strings(n)


def require_seed(name: str, value: object) -> int:
    """Check that ``value`` is a seed: an int >= 0 (a NumPy integer too; bool is refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int >= 0, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value}")
    return int(value)


def require_generator_seed(name: str, value: object) -> int | torch.Generator | None:
    """Check that ``value`` is what a stochastic function accepts as its ``seed``: an int >= 0,
    a ``torch.Generator`` or ``None`` (see :func:`companion.runtime.generator`)."""
    if value is None or isinstance(value, torch.Generator):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int >= 0, a torch.Generator or None, got {type(value).__name__}")
    return require_seed(name, value)
