"""The exercise checks of chapter 4, the boundary attack (``book/04_boundary_attack.ipynb``).

- :func:`check_accept` (``ex-boundary-accept``): the attack's acceptance test,
  :func:`companion.boundary.accept`.
- :func:`check_queries_to_halve` (``ex-boundary-halve``): the queries each digit spends until its
  distance halves, from a :class:`companion.boundary.BoundaryResult`.

Each returns a :class:`companion.classroom.exercises.Feedback`; a hint says what is off, never
the answer.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from companion.boundary import BoundaryResult, accept
from companion.classroom import exercises

__all__ = ["check_accept", "check_queries_to_halve"]


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"


@exercises.check("ex-boundary-accept", unavailable=("companion.boundary.accept",))
def check_accept(candidate: Callable[..., torch.Tensor] | None) -> str:
    """Check a student's ``accept(labels_new, y, d_new, d) -> (B,) bool`` against :func:`accept`.

    Five hand-made batches, each testing one part of the rule; the first one
    the candidate gets wrong gives the hint (never the answer).
    """
    y = torch.tensor([3, 3, 3, 3, 3])
    cases = [  # (labels_new, d_new, d, hint)
        ([5, 1, 0, 9, 2], [0.5] * 5, [1.0] * 5, "adversarial proposals that are closer must be accepted"),
        ([3, 3, 3, 3, 3], [0.5] * 5, [1.0] * 5, "a proposal that predict labels y is not adversarial"),
        ([5, 5, 5, 5, 5], [1.2] * 5, [1.0] * 5, "the distance to x must never increase"),
        ([5, 3, 5, 3, 5], [0.9, 0.9, 1.1, 1.1, 0.8], [1.0] * 5, "check both conditions for every sample"),
        (
            [5, 5, 5, 5, 5],
            [1.0, 0.5, 1.0, 0.5, 1.0],
            [1.0] * 5,
            "a proposal at the same distance is no progress: it must be strictly closer",
        ),
    ]
    for labels_new, d_new, d, hint in cases:
        labels_new, d_new, d = torch.tensor(labels_new), torch.tensor(d_new), torch.tensor(d)
        got = exercises.call(candidate, "accept", labels_new.clone(), y.clone(), d_new.clone(), d.clone())
        if not isinstance(got, torch.Tensor) or got.dtype != torch.bool or got.shape != y.shape:
            raise exercises.NotYet(
                f"accept must return a bool tensor of shape {tuple(y.shape)}, got {_describe(got)}."
            )
        if not torch.equal(got, accept(labels_new, y, d_new, d)):
            raise exercises.NotYet(f"{hint} (labels_new={labels_new.tolist()}, d_new={d_new.tolist()}).")
    return "only proposals that stay adversarial and come closer are kept."


def _queries_to_halve(result: BoundaryResult) -> torch.Tensor:
    """The reference: queries spent until ``d_k <= d_0 / 2`` first holds, per digit that gets there."""
    l2 = result.l2_history  # (steps + 1, N)
    halved = l2 <= l2[:1] / 2
    first = halved.int().argmax(dim=0)  # (N,) first step that halves (0 if none)
    spent = result.history["queries"].gather(0, first[None])[0]  # (N,)
    return spent[halved.any(dim=0)]


def _halving_example() -> BoundaryResult:
    """A hand-made result, 5 digits and 6 steps, whose answer is known (see the comments)."""
    l2 = torch.tensor(
        [
            [1.0, 0.9, 0.5, 0.5, 0.4, 0.3, 0.2],  # exactly half at step 2
            [2.0, 1.9, 1.8, 1.5, 1.2, 1.1, 1.05],  # never halves: left out
            [0.8, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3],  # step 1
            [3.0, 2.9, 2.0, 1.4, 1.4, 1.0, 0.9],  # step 3: its own d_0, not another digit's
            [1.0, 1.0, 0.9, 0.8, 0.7, 0.6, 0.45],  # only at the last step
        ]
    ).T  # (steps + 1, N)
    steps = torch.tensor([[0], [1], [2], [1], [2], [1], [2]])  # queries per step vary
    queries = torch.tensor([12, 9, 15, 11, 10]) + steps.cumsum(dim=0) * torch.tensor([1, 2, 1, 3, 2])
    n = l2.shape[1]
    return BoundaryResult(
        torch.zeros(n, 2),
        torch.ones(n, dtype=torch.bool),
        queries[-1].clone(),
        {"l2": l2, "queries": queries},
    )


def _halving_hint(got: torch.Tensor, result: BoundaryResult) -> str:
    """What is off about ``got`` compared with :func:`_queries_to_halve` on ``result``."""
    l2, queries = result.l2_history, result.history["queries"].double()
    expected = _queries_to_halve(result).double()
    halves = (l2 <= l2[:1] / 2).any(dim=0)
    if len(got) == l2.shape[1] and len(got) != len(expected):
        return "one value per digit whose distance halves: leave out the digits that never get there."
    if len(got) != len(expected):
        return f"expected one value per digit whose distance halves, got {len(got)} values."
    strict = l2 < l2[:1] / 2
    first_strict = queries.gather(0, strict.int().argmax(dim=0)[None])[0]
    if torch.equal(got, first_strict[halves]):
        return "a digit whose distance reaches exactly half of d_0 counts as halved (d_k <= d_0 / 2)."
    first_step = (l2 <= l2[:1] / 2).int().argmax(dim=0).double()
    if torch.equal(got, first_step[halves]):
        return 'those look like step numbers: count the queries spent, result.history["queries"].'
    return (
        "some values differ: take, for each digit, the queries spent until the FIRST step "
        "with d_k <= d_0 / 2."
    )


@exercises.check("ex-boundary-halve")
def check_queries_to_halve(
    queries_to_halve: Callable[[BoundaryResult], torch.Tensor] | None,
    results: dict[str, BoundaryResult] | None = None,
) -> str:
    """Check ``queries_to_halve(result) -> (M,)``: per digit that halves its distance, the queries spent.

    For each digit ``i`` with ``d_k <= d_0 / 2`` at some step, the value is
    ``result.history["queries"][k_i, i]`` at the first such step ``k_i``, in
    digit order; digits that never halve are left out. Tested on a hand-made
    result with known answer (an exact half, a digit that never halves, the
    last step, queries that differ from step numbers), then on each attack
    result in ``results`` (the chapter's, e.g. ``{"standard": ..., "distilled": ...}``)
    against the reference.
    """
    cases = {"a hand-made result": _halving_example()}
    for name, result in (results or {}).items():
        if not isinstance(result, BoundaryResult):
            raise TypeError(f"results[{name!r}] must be a BoundaryResult, got {type(result).__name__}")
        cases[f"results[{name!r}]"] = result
    for label, result in cases.items():
        copy = BoundaryResult(
            result.adversarial.clone(),
            result.success.clone(),
            result.queries.clone(),
            {key: value.clone() for key, value in result.history.items()},
        )
        what = "a 1-d tensor of query counts"
        got = exercises.tensor(
            exercises.call(queries_to_halve, "queries_to_halve", copy), "queries_to_halve(result)", what
        )
        if got.ndim != 1:
            raise exercises.NotYet(
                f"`queries_to_halve(result)` must be {what}, got shape {tuple(got.shape)}."
            )
        if len(got) != len(_queries_to_halve(result)) or not torch.equal(
            got, _queries_to_halve(result).double()
        ):
            raise exercises.NotYet(f"on {label}: {_halving_hint(got, result)}")
    mine = f" and on your {len(cases) - 1} attack result(s)" if len(cases) > 1 else ""
    return f"queries_to_halve agrees with the reference on a hand-made result{mine}."
