"""Exercise checks: immediate feedback for students, the same verdicts for grading.

Every coding exercise in the book ends with a *check cell* that calls one check, for example
``checks.check_gru_step(gru_step)`` (the chapter's module of :mod:`companion.classroom.checks`,
imported as ``checks``). A check runs the student's answer on cases of its own and
returns a :class:`Feedback`: ``Correct`` with a confirmation, or ``Not yet`` with a hint that
says what kind of answer was expected and what is off, never the answer itself. A check never
raises because of the answer: an unanswered exercise (``None``, or a stub that still raises
``NotImplementedError``), a wrong type, or an exception inside the student's function all come
back as ``Not yet`` with a message.

Writing a check::

    @exercises.check("ex-rnn-step")
    def check_gru_step(gru_step):
        got = exercises.call(gru_step, "gru_step", x, h, ...)  # the student's code, guarded
        if not torch.allclose(got, expected):
            raise exercises.NotYet("h_t is off; hint ...")
        return "your step matches torch.nn.GRUCell."

The decorator turns the returned message into ``Feedback(exercise, True, message)`` and a
:class:`NotYet` into ``Feedback(exercise, False, hint)``. Arguments that belong to the exercise
rather than to the answer (a layer kind, a student's parameters) are still validated with
``ValueError``/``TypeError``: those are the notebook author's mistakes, not the student's.

A check reads the student's answer with this module's helpers, the one place where answers
are coerced: :func:`number` (a float from a number or a one-element tensor or array),
:func:`integer` (an int), :func:`probability` (a number in [0, 1]), :func:`numbers` (a list of
them), :func:`tensor` (a float64 tensor), :func:`boolean`, :func:`indices` (a set of positions,
from a list, a 1-d tensor or a bool mask) and :func:`mapping` (a dict). Each raises
:class:`NotYet` naming the variable, so every chapter accepts the same forms of an answer and
words the same mistakes alike.

The grader (:mod:`companion.classroom.grading`) reads each check cell's :class:`Feedback` from its output's
metadata, under :data:`FEEDBACK_KEY`, so a notebook needs no other grading code. (Metadata, not
a MIME type of its own, because the book's renderer warns about every MIME type it does not know.)
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import math
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, TypeVar

import numpy as np
import torch

__all__ = [
    "FEEDBACK_KEY",
    "CHECKS",
    "UNAVAILABLE",
    "Feedback",
    "NotYet",
    "answered",
    "boolean",
    "call",
    "check",
    "indices",
    "integer",
    "mapping",
    "number",
    "numbers",
    "probability",
    "tensor",
    "unavailable",
]

FEEDBACK_KEY = "companion_feedback"

#: Every check in the companion, by the label of the exercise it checks (``ex-rnn-step``, ...).
CHECKS: dict[str, Callable[..., Feedback]] = {}

#: The companion functions that would answer an exercise in one call, by label
#: (``{"ex-boundary-accept": ("companion.boundary.accept",)}``): unavailable while the student's
#: code for that exercise runs (see :func:`check` and :func:`unavailable`).
UNAVAILABLE: dict[str, tuple[str, ...]] = {}
_CURRENT: list[str] = []  # the exercises whose checks are running, innermost last

F = TypeVar("F", bound=Callable[..., str])


class NotYet(Exception):
    """Raised inside a check when the answer is not right yet; its message is the hint."""


@dataclass(frozen=True)
class Feedback:
    """A check's verdict on one answer.

    ``exercise`` is the exercise's label in the book (``ex-rnn-step``), ``correct`` whether the
    answer passed, ``message`` a confirmation or a hint (never the answer).
    """

    exercise: str
    correct: bool
    message: str

    def __str__(self) -> str:
        return f"{'Correct' if self.correct else 'Not yet'} ({self.exercise}): {self.message}"

    __repr__ = __str__

    def __bool__(self) -> bool:
        return self.correct

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict, dict]:
        """Text for people; the verdict in the output's metadata for the grader."""
        record = {"exercise": self.exercise, "correct": self.correct, "message": self.message}
        return {"text/plain": str(self)}, {FEEDBACK_KEY: record}


def check(exercise: str, *, unavailable: Sequence[str] = ()) -> Callable[[F], Callable[..., Feedback]]:
    """Decorator: make ``fn`` the check of ``exercise`` (a label such as ``"ex-rnn-step"``).

    ``fn`` returns a confirmation (``str``) when the answer is right and raises :class:`NotYet`
    with a hint when it is not; the decorated function returns a :class:`Feedback` either way
    and is registered in :data:`CHECKS`.

    ``unavailable`` names the public companion functions (dotted paths, such as
    ``"companion.boundary.accept"``) that would answer the exercise in one call: while the check
    runs the student's function (:func:`call`) they raise ``RuntimeError``, so the check judges
    the student's own code. They are recorded in :data:`UNAVAILABLE`, from which the grader
    also keeps them from the student's cells until the check has run (for answers that are
    values, computed before the check).
    """
    if not isinstance(exercise, str) or not exercise.startswith("ex-"):
        raise ValueError(f"exercise must be a label starting with 'ex-', got {exercise!r}")
    if exercise in CHECKS:
        raise ValueError(f"exercise {exercise!r} already has a check: {CHECKS[exercise].__qualname__}")
    if isinstance(unavailable, str) or not all(
        isinstance(name, str) and name.startswith("companion.") for name in unavailable
    ):
        raise TypeError(
            f"unavailable must be a sequence of dotted names starting with 'companion.', got {unavailable!r}"
        )

    def decorate(fn: F) -> Callable[..., Feedback]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Feedback:
            _CURRENT.append(exercise)
            try:
                message = fn(*args, **kwargs)
            except NotYet as hint:
                return Feedback(exercise, False, str(hint))
            finally:
                _CURRENT.pop()
            return Feedback(exercise, True, message)

        wrapper.exercise = exercise  # type: ignore[attr-defined]
        CHECKS[exercise] = wrapper
        if unavailable:
            UNAVAILABLE[exercise] = tuple(unavailable)
        return wrapper

    return decorate


def _resolve(name: str) -> types.FunctionType:
    """The function a dotted name such as ``companion.objectives.LinearToy.optimum`` names."""
    parts = name.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            target: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for attribute in parts[split:]:
                target = getattr(target, attribute)
        except AttributeError:
            break
        if isinstance(target, types.FunctionType) and not target.__code__.co_freevars:
            return target
        raise TypeError(f"{name} must name a plain Python function (no closure), got {type(target).__name__}")
    raise ValueError(f"{name} names no function of the companion")


#: The original code of each function :func:`unavailable` has swapped out.
_SWAPPED: dict[types.FunctionType, types.CodeType] = {}


def _refusal(message: str) -> types.CodeType:
    """Code that raises ``RuntimeError(message)`` whatever it is called with."""
    namespace: dict[str, Any] = {}
    exec(f"def refuse(*args, **kwargs):\n    raise RuntimeError({message!r})\n", namespace)
    return namespace["refuse"].__code__


@contextlib.contextmanager
def unavailable(blocked: Mapping[str, str]) -> Iterator[None]:
    """Within the block, every function named in ``blocked`` (a dotted name -> the label of the
    exercise it would answer) raises ``RuntimeError`` saying that the exercise asks for the
    student's own code; afterwards each works again.

    The function's code is swapped, not its module's attribute, so a reference the student took
    earlier (``accept = boundary.accept``) or a wrapper around it is refused as well. A function
    already made unavailable by an enclosing block is left to that block.

    >>> from companion import boundary
    >>> with unavailable({"companion.boundary.accept": "ex-boundary-accept"}):
    ...     try:
    ...         boundary.accept(None, None, None, None)
    ...     except RuntimeError as error:
    ...         print(str(error).split(":")[0])
    companion.boundary.accept is unavailable in exercise ex-boundary-accept
    """
    if not isinstance(blocked, Mapping):
        raise TypeError(
            f"blocked must be a mapping from a function's dotted name to an exercise, got {blocked!r}"
        )
    mine = []
    try:
        for name, exercise in blocked.items():
            fn = _resolve(name)
            if fn in _SWAPPED:
                continue
            _SWAPPED[fn] = fn.__code__
            mine.append(fn)
            fn.__code__ = _refusal(
                f"{name} is unavailable in exercise {exercise}: it answers the exercise in one call, "
                "and the exercise asks for your own code."
            )
        yield
    finally:
        for fn in reversed(mine):
            fn.__code__ = _SWAPPED.pop(fn)


def answered(value: Any, name: str, expected: str) -> Any:
    """Return ``value``; raise :class:`NotYet` if it is still ``None`` (the unanswered stub).

    ``name`` is the variable the student sets and ``expected`` what it should hold, for
    example ``answered(answer, "answer", "an int")``.
    """
    if value is None:
        raise NotYet(f"`{name}` is still None: set it to {expected}.")
    return value


def call(candidate: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """Call the student's function ``candidate(*args, **kwargs)`` and return its result.

    Raises :class:`NotYet` when ``candidate`` is not a function, still raises
    ``NotImplementedError`` (the stub), or raises anything else, naming ``name`` and the error.
    Inside a check, the companion functions the check lists as ``unavailable`` raise while
    ``candidate`` runs (see :func:`check`).
    """
    if candidate is None:
        raise NotYet(f"`{name}` is still None: define it as a function.")
    if not callable(candidate):
        raise NotYet(f"`{name}` must be a function, got {type(candidate).__name__}.")
    exercise = _CURRENT[-1] if _CURRENT else None
    blocked = dict.fromkeys(UNAVAILABLE.get(exercise, ()), exercise)
    try:
        with unavailable(blocked):
            return candidate(*args, **kwargs)
    except NotImplementedError:
        raise NotYet(f"`{name}` still raises NotImplementedError: replace the stub with your code.") from None
    except Exception as error:  # the student's code failed: report it, do not crash the check
        raise NotYet(f"`{name}` raised {type(error).__name__}: {error}") from None


# ---------------------------------------------------------------------------------------------
# Reading a student's answer: the one home of answer coercion. Each helper returns the answer in
# the form the check computes with, or raises NotYet naming the variable and what it should hold.


def _item(value: Any) -> Any:
    """A one-element tensor or array as its Python number; anything else unchanged."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if isinstance(value, np.ndarray | np.generic) and value.size == 1:
        return value.item()
    return value


def _scalar(value: Any, name: str, what: str) -> Any:
    """The answer ``value`` as one Python value (a one-element tensor or array as its number).

    Raises :class:`NotYet` for ``None`` (via :func:`answered`) and for a tensor or array that
    does not hold exactly one value; anything else comes back unchanged.
    """
    value = _item(answered(value, name, what))
    if isinstance(value, torch.Tensor | np.ndarray):
        size = value.numel() if isinstance(value, torch.Tensor) else value.size
        raise NotYet(f"`{name}` must be {what}, got {type(value).__name__} with {size} values.")
    return value


def number(value: Any, name: str, what: str = "a number") -> float:
    """``value`` as a float: a Python or NumPy real number, or a one-element tensor or array.

    Raises :class:`NotYet` naming ``name`` for ``None`` (the unanswered stub: "set it to
    ``what``"), a bool, anything that is not a number ("must be ``what``") and NaN or infinity.

    >>> number(torch.tensor([0.5]), "answer")
    0.5
    """
    value = _scalar(value, name, what)
    if isinstance(value, bool) or not isinstance(value, Real):
        raise NotYet(f"`{name}` must be {what}, got {type(value).__name__}.")
    if not math.isfinite(value):
        raise NotYet(f"`{name}` must be {what}, got {value}.")
    return float(value)


def integer(value: Any, name: str, what: str = "an int") -> int:
    """``value`` as an int: a Python or NumPy integer, or a one-element integer tensor or array.

    Raises :class:`NotYet` naming ``name`` for ``None``, a bool and anything that is not an
    integer (a float such as ``1920.0`` too: a count is typed as a whole number).

    >>> integer(np.int32(640), "count")
    640
    """
    value = _scalar(value, name, what)
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise NotYet(f"`{name}` must be {what}, got {type(value).__name__}.")
    return int(value)


def probability(value: Any, name: str, what: str = "a probability") -> float:
    """``value`` as a :func:`number` in [0, 1]; :class:`NotYet` outside it."""
    value = number(value, name, what)
    if not 0 <= value <= 1:
        raise NotYet(f"`{name}` is {value:.4g}, but a probability lies in [0, 1].")
    return value


def numbers(value: Any, name: str, what: str, count: int | None = None) -> list[float]:
    """``value`` as a list of floats: a list, tuple, 1-d tensor or array of numbers.

    ``count`` (if given) is how many there must be. Each entry is read with :func:`number`, so a
    wrong one is named by its position, ``name[i]``.
    """
    answered(value, name, what)
    if isinstance(value, torch.Tensor | np.ndarray):
        value = value.tolist()
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise NotYet(f"`{name}` must be {what}, got {type(value).__name__}.")
    if count is not None and len(value) != count:
        raise NotYet(f"`{name}` must be {what}: {count} numbers, got {len(value)}.")
    return [number(v, f"{name}[{i}]") for i, v in enumerate(value)]


def tensor(value: Any, name: str, what: str) -> torch.Tensor:
    """``value`` (a tensor, array or nested list of numbers) as a float64 tensor of its shape."""
    answered(value, name, what)
    try:
        return torch.as_tensor(
            value.detach() if isinstance(value, torch.Tensor) else value, dtype=torch.float64
        )
    except (TypeError, ValueError, RuntimeError):
        raise NotYet(f"`{name}` must be {what}, got {type(value).__name__}.") from None


def boolean(value: Any, name: str) -> bool:
    """``value`` as a bool: Python's ``True``/``False`` or NumPy's; :class:`NotYet` otherwise."""
    answered(value, name, "True or False")
    if not isinstance(value, bool | np.bool_):
        raise NotYet(f"`{name}` must be True or False, got {type(value).__name__}.")
    return bool(value)


def indices(value: Any, name: str, n: int, what: str = "indices") -> set[int]:
    """``value`` as a set of positions in a collection of ``n`` items.

    Accepted: a list, tuple, set or range of ints, a 1-d integer tensor or array, or an ``(n,)``
    bool mask (its True positions). Raises :class:`NotYet` naming ``name`` for ``None`` (set it to
    ``what``), any other form, a non-integer entry and a position outside ``0 .. n - 1``.

    >>> sorted(indices(torch.tensor([False, True, True]), "wrong", 3))
    [1, 2]
    """
    answered(value, name, what)
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        if value.dtype == bool and value.shape == (n,):
            value = np.flatnonzero(value)
        if value.ndim > 1 or not (np.issubdtype(value.dtype, np.integer) or value.size == 0):
            raise NotYet(
                f"`{name}` must hold integer indices, got an array of {value.dtype} with shape {value.shape}."
            )
        value = value.tolist()
    if not isinstance(value, list | tuple | set | frozenset | range):
        form = "a list, set or 1-d tensor of ints"
        raise NotYet(f"`{name}` must be {what} ({form}), got {type(value).__name__}.")
    items = [_item(v) for v in value]
    if not all(isinstance(v, Integral) and not isinstance(v, bool) for v in items):
        raise NotYet(f"`{name}` must hold integer indices.")
    if not all(0 <= v < n for v in items):
        raise NotYet(f"`{name}` must hold indices from 0 to {n - 1}.")
    return {int(v) for v in items}


def mapping(value: Any, name: str, what: str) -> Mapping:
    """``value`` if it is a dict (any ``Mapping``); :class:`NotYet` naming ``name`` otherwise.

    Only the form is read: the check looks up its keys itself (they differ from one exercise to
    the next) and reads each entry with the helpers above.
    """
    answered(value, name, what)
    if not isinstance(value, Mapping):
        raise NotYet(f"`{name}` must be {what}, got {type(value).__name__}.")
    return value
