"""Chapter 6's exercise checks, and the per-student parameters they verify answers against.

The first five checks verify a student's answer against the student's own
:class:`ExerciseParameters` (drawn from a seed by :func:`exercise_parameters`), so an answer
copied from another student fails; :func:`check_answer_xor` and :func:`check_answer_coverage`
check a construction and a simulation that are the same for everyone. Each returns a
:class:`~companion.classroom.exercises.Feedback`: ``Correct``, or ``Not yet`` with a hint that
never reveals the answer. The notebook calls them as ``checks.check_answer_<name>(...)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from companion.classroom import exercises
from companion.probability import (
    Z_95,
    Table,
    binomial_pmf,
    check_joint,
    covariance,
    is_independent,
    joint_distribution,
    majority_accuracy,
    marginals,
    outcomes,
)
from companion.runtime import generator
from companion.validation import require_positive_int, require_probability, require_seed

__all__ = [
    "DRAWS_TOLERANCE",
    "MEAN_STANDARD_ERRORS",
    "SPREAD_TOLERANCE",
    "TOLERANCE",
    "XOR_PAIRS",
    "ExerciseParameters",
    "check_answer_at_least_one",
    "check_answer_count",
    "check_answer_coverage",
    "check_answer_independence",
    "check_answer_majority",
    "check_answer_table",
    "check_answer_xor",
    "exercise_parameters",
]

TOLERANCE = 1e-3
"""How far each checked number may be from the exact value (answers rounded to 3 decimals pass).
A sum of ``n`` such numbers is allowed ``n * TOLERANCE``."""

DRAWS_TOLERANCE = 0.01
"""How far (relative) ``N_needed`` of ``ex-probability-coverage`` may be from the exact count, so
that a rounded ``Z_95`` passes; a known slip is recognised within twice that."""

MEAN_STANDARD_ERRORS = 4
"""How many standard errors of their mean a student's estimates may average away from ``P``."""

SPREAD_TOLERANCE = 0.2
"""How far (relative) the spread of a student's estimates may be from ``sqrt(P (1 - P) / N)``."""


@dataclass(frozen=True)
class ExerciseParameters:
    """One student's numbers for the chapter's exercises.

    Build them from a seed with :func:`exercise_parameters`, or give your own values.

    Attributes
    ----------
    p : tuple of two floats
        ``(P(x_1 = 1), P(x_2 = 1))`` for the table and "at least one 1" exercises.
    p_count : float
        ``P(x_i = 1)`` of each of the 5 bits in the counting exercise.
    q : float
        Accuracy of one query in the majority-of-3 exercise.
    table : dict of str to float
        A two-bit joint table for the independence exercise.
    seed : int or None
        The seed the values came from, if any.
    """

    p: tuple[float, float]
    p_count: float
    q: float
    table: dict[str, float]
    seed: int | None = None

    def __post_init__(self) -> None:
        p = self.p.tolist() if isinstance(self.p, torch.Tensor | np.ndarray) else self.p
        if isinstance(p, (str, bytes)) or not isinstance(p, Sequence) or len(p) != 2:
            raise ValueError(f"p must hold two probabilities (P(x_1 = 1), P(x_2 = 1)), got {p!r}")
        object.__setattr__(self, "p", tuple(require_probability(f"p[{i}]", p_i) for i, p_i in enumerate(p)))
        object.__setattr__(self, "p_count", require_probability("p_count", self.p_count))
        object.__setattr__(self, "q", require_probability("q", self.q))
        table = check_joint(self.table, name="table")
        if len(next(iter(table))) != 2:
            raise ValueError(
                f"table must be over two bits ('00' ... '11'), got {len(next(iter(table)))} bits"
            )
        object.__setattr__(self, "table", table)


def exercise_parameters(seed: int) -> ExerciseParameters:
    """Draw a student's :class:`ExerciseParameters` from ``seed`` (for example a student number).

    ``p`` holds two values in [0.050, 0.450] at least 0.05 apart (so that swapping them changes
    the table), with ``P(00) = (1 - p_1)(1 - p_2)`` away from 1/2 (so that ``P(00)`` cannot pass
    for ``1 - P(00)``). ``p_count`` lies in [0.100, 0.900] and ``q`` in [0.550, 0.950]. These
    have three decimals. ``table`` has marginals in [0.10, 0.90] with two decimals and is
    independent for about half of the seeds; otherwise its covariance is a non-zero multiple of
    0.01. Its entries have at most four decimals.

    The grids are fine so that one student's answers rarely pass another's checks. The two
    answers that are a single number (at least one failure, majority of three) coincide most
    often: a number in [0, 1] checked to within :data:`TOLERANCE` can take only a few hundred
    distinguishable values. ``tests/classroom/test_ch06_probability_exercise.py`` measures how
    often two students' answers pass each other's checks.
    """
    g = generator(require_seed("seed", seed))  # a private generator: the same numbers every time

    def draw(low: int, high: int) -> int:  # uniform integer in [low, high]
        return int(torch.randint(low, high + 1, (1,), generator=g))

    p1 = draw(50, 450)  # thousandths
    while True:  # p2 apart from p1, and P(00) away from 1/2
        p2 = draw(50, 450)
        P00 = (1000 - p1) * (1000 - p2) / 1e6
        if abs(p2 - p1) >= 50 and abs(1 - 2 * P00) > 4 * TOLERANCE:
            break
    a, b = draw(10, 90) / 100, draw(10, 90) / 100  # marginals of the table
    c = 0
    if draw(0, 1):  # dependent: P(11) = a b + c / 100, c != 0 within the Frechet bounds
        low = math.ceil(100 * (max(0.0, a + b - 1) - a * b) - 1e-9)
        high = math.floor(100 * (min(a, b) - a * b) + 1e-9)
        c = [m for m in range(low, high + 1) if m != 0][draw(0, high - low - 1)]
    P11 = a * b + c / 100
    table = {"00": 1 - a - b + P11, "01": b - P11, "10": a - P11, "11": P11}
    table = {x: round(P, 4) + 0.0 for x, P in table.items()}  # + 0.0 turns -0.0 into 0.0
    return ExerciseParameters(
        (p1 / 1000, p2 / 1000), draw(100, 900) / 1000, draw(550, 950) / 1000, table, seed
    )


def _require_params(params: object) -> ExerciseParameters:
    if not isinstance(params, ExerciseParameters):
        raise TypeError(
            f"params must be ExerciseParameters (from exercise_parameters(seed)), got {type(params).__name__}"
        )
    return params


def _close(a: float, b: float, tolerance: float = TOLERANCE) -> bool:
    return abs(a - b) <= tolerance


def _sentence(error: Exception) -> str:
    """An error message as a hint: first letter capitalised."""
    message = str(error)
    return message[0].upper() + message[1:]


@exercises.check(
    "ex-probability-table",
    unavailable=("companion.probability.joint_distribution", "companion.probability.pair_table"),
)
def check_answer_table(answer: object, params: ExerciseParameters) -> str:
    """Exercise ``ex-probability-table``: the joint table of two independent bits with
    ``P(x_i = 1) = params.p[i]``, as a dict ``{"00": ..., "01": ..., "10": ..., "11": ...}``."""
    params = _require_params(params)
    answer = exercises.answered(answer, "answer", "a dict {'00': ..., '01': ..., '10': ..., '11': ...}")
    try:  # four entries each rounded to 3 decimals may sum to 1 +- 0.002, so allow 4 TOLERANCE
        answer = check_joint(answer, atol=4 * TOLERANCE, name="your table")
    except (TypeError, ValueError) as error:
        raise exercises.NotYet(_sentence(error)) from None
    if len(next(iter(answer))) != 2:
        raise exercises.NotYet("Two bits have four outcomes: '00', '01', '10', '11'.")

    def off(table: Table) -> list[str]:
        return [x for x in answer if not _close(answer[x], table[x])]

    wrong = off(joint_distribution(params.p))
    if not wrong:
        return "Every entry follows the product rule and the table sums to 1."
    p1, p2 = params.p
    if not off(joint_distribution([1 - p1, 1 - p2])):
        hint = "You seem to have used P(x_i = 0) where P(x_i = 1) belongs: p_i is the probability of a 1."
    elif not off(joint_distribution([p2, p1])):
        hint = f"The first character of an outcome is x_1, whose P(x_1 = 1) is p_1 = {p1}; check the order."
    else:
        hint = (
            f"These entries are off: {', '.join(repr(x) for x in wrong)}. Each is P(x_1 = a) P(x_2 = b) with "
            "P(x_i = 1) = p_i and P(x_i = 0) = 1 - p_i."
        )
    raise exercises.NotYet(hint)


@exercises.check(
    "ex-probability-at-least-one",
    unavailable=(
        "companion.probability.joint_distribution",
        "companion.probability.pair_table",
        "companion.probability.count_distribution",
    ),
)
def check_answer_at_least_one(answer: object, params: ExerciseParameters) -> str:
    """Exercise ``ex-probability-at-least-one``: ``P(at least one of x_1, x_2 is 1)`` with
    ``P(x_i = 1) = params.p[i]``, a number."""
    params = _require_params(params)
    answer = exercises.probability(answer, "answer", "a number (a probability)")
    p1, p2 = params.p
    if _close(answer, 1 - (1 - p1) * (1 - p2)):
        return "That is 1 - P(00): the complement of 'no 1 at all'."
    if _close(answer, p1 + p2):
        hint = "You added P(x_1 = 1) and P(x_2 = 1): that counts the outcome 11 twice."
    elif _close(answer, p1 * p2):
        hint = "That is P(11), both bits 1. 'At least one' also includes 01 and 10."
    elif _close(answer, (1 - p1) * (1 - p2)):
        hint = "That is P(00), the complement of the event you want."
    else:
        hint = "Hint: exactly one outcome has no 1 in it; the event you want is everything else."
    raise exercises.NotYet(hint)


@exercises.check(
    "ex-probability-count",
    unavailable=("companion.probability.binomial_pmf", "companion.probability.count_distribution"),
)
def check_answer_count(answer: object, params: ExerciseParameters) -> str:
    """Exercise ``ex-probability-count``: ``[P(K = 0), ..., P(K = 5)]`` for the number of ones ``K``
    among 5 independent bits, each 1 with probability ``params.p_count``."""
    params = _require_params(params)
    answer = exercises.numbers(answer, "answer", "a list [P(K = 0), ..., P(K = 5)]")
    if len(answer) != 6:
        raise exercises.NotYet(
            f"K = number of ones among 5 bits takes the values 0..5: give 6 numbers, got {len(answer)}."
        )
    pmf = binomial_pmf(5, params.p_count)
    off = [k for k in range(6) if not _close(answer[k], pmf[k])]
    if not off:
        return "Entry k is C(5, k) p^k (1 - p)^(5 - k), and the six add up to 1."
    p = params.p_count
    total = math.fsum(answer)
    if all(_close(a, b) for a, b in zip(answer, pmf[::-1], strict=True)):
        hint = "Your list is reversed: entry k must be P(K = k), the probability of exactly k ones."
    elif all(_close(answer[k], p**k * (1 - p) ** (5 - k)) for k in range(6)):
        hint = "Each entry is the probability of one string with k ones, but C(5, k) strings have k ones."
    elif abs(total - 1.0) > 6 * TOLERANCE:  # six rounded entries may sum to 1 +- 0.003
        hint = f"Your entries sum to {total:.4g}; K takes exactly one of the values 0..5, so they sum to 1."
    else:
        hint = f"These entries are off: k = {off}."
    raise exercises.NotYet(hint)


@exercises.check("ex-probability-majority", unavailable=("companion.probability.majority_accuracy",))
def check_answer_majority(answer: object, params: ExerciseParameters) -> str:
    """Exercise ``ex-probability-majority``: accuracy of a majority vote over 3 independent queries,
    each right with probability ``params.q``, a number."""
    params = _require_params(params)
    answer = exercises.probability(answer, "answer", "a number (a probability)")
    q = params.q
    if _close(answer, majority_accuracy(q, 3)):
        return "Two or three right out of three: a majority."
    if _close(answer, q**3):
        hint = "That is P(all three right); two right out of three is already a majority."
    elif _close(answer, q**3 + q**2 * (1 - q)):
        hint = "Exactly two right can happen in more than one way: which query is the wrong one?"
    elif _close(answer, 3 * q**2 * (1 - q)):
        hint = "Exactly two right is a majority, but so is three right."
    elif _close(answer, q):
        hint = "That is one query's accuracy; a vote of three changes it unless q is 0, 1/2 or 1."
    else:
        hint = (
            "Hint: count the outcomes of three queries with at least two right, and add their probabilities."
        )
    raise exercises.NotYet(hint)


def _check_marginals(got: list[float], table: Table) -> None:
    """:class:`~companion.classroom.exercises.NotYet` unless ``got`` is
    ``(P(x_1 = 1), P(x_2 = 1))`` of ``table``."""
    m1, m2 = table["10"] + table["11"], table["01"] + table["11"]
    if _close(got[0], m1) and _close(got[1], m2):
        return
    if _close(got[0], m2) and _close(got[1], m1):
        raise exercises.NotYet(
            "Your marginals are in the wrong order: first P(x_1 = 1), from the first character."
        )
    if _close(got[0], 1 - m1) and _close(got[1], 1 - m2):
        raise exercises.NotYet("Those are P(x_i = 0); the marginals asked for are P(x_i = 1).")
    raise exercises.NotYet(
        "Your marginals are off: P(x_1 = 1) is the sum of the entries whose first bit is 1, "
        "P(x_2 = 1) of those whose second bit is 1."
    )


@exercises.check(
    "ex-probability-independence",
    unavailable=(
        "companion.probability.marginals",
        "companion.probability.covariance",
        "companion.probability.independence_gap",
        "companion.probability.is_independent",
    ),
)
def check_answer_independence(
    marginals: object, cov: object, independent: object, params: ExerciseParameters
) -> str:
    """Exercise ``ex-probability-independence``: for the two bits of ``params.table``, the
    ``marginals`` ``(P(x_1 = 1), P(x_2 = 1))``, the covariance
    ``cov = P(11) - P(x_1 = 1) P(x_2 = 1)``, and whether they are ``independent`` (a bool)."""
    params = _require_params(params)
    got = exercises.numbers(marginals, "marginals", "two numbers (P(x_1 = 1), P(x_2 = 1))", count=2)
    cov = exercises.number(cov, "cov", "a number, the covariance")
    independent = exercises.boolean(independent, "independent")
    _check_marginals(got, params.table)
    exact = covariance(params.table)
    if not _close(cov, exact):
        raise exercises.NotYet(
            "Your covariance is off. P(x_1 = 1) is the sum of the entries whose first bit is 1; "
            "then Cov = P(11) - P(x_1 = 1) P(x_2 = 1)."
        )
    if independent != (abs(exact) < 1e-9):
        raise exercises.NotYet(
            "Your covariance is right. For two binary variables, independent means Cov = 0."
        )
    return "For two binary variables, zero covariance and independence are the same thing."


def _xor_table() -> Table:
    """``x_3 = x_1 XOR x_2`` for independent fair ``x_1``, ``x_2``: ``P(x) = 1/4`` where the third
    bit is the exclusive or of the first two, 0 elsewhere."""
    return {x: 0.25 if int(x[2]) == int(x[0]) ^ int(x[1]) else 0.0 for x in outcomes(3)}


XOR_PAIRS = ((0, 1), (0, 2), (1, 2))
"""The bit positions of ``pair_covariances`` in ``ex-probability-xor``: (x_1, x_2), (x_1, x_3), (x_2, x_3)."""


def _check_xor_table(xor: object) -> None:
    """:class:`~companion.classroom.exercises.NotYet` unless ``xor`` is the table of :func:`_xor_table`
    (each entry within :data:`TOLERANCE`), with a hint for the usual slips."""
    xor = exercises.answered(xor, "xor", "a dict from the 8 outcomes '000' ... '111' to probabilities")
    try:  # eight entries rounded to 3 decimals
        xor = check_joint(xor, atol=8 * TOLERANCE, name="your table")
    except (TypeError, ValueError) as error:
        raise exercises.NotYet(_sentence(error)) from None
    n = len(next(iter(xor)))
    if n != 3:
        raise exercises.NotYet(f"Three bits have 8 outcomes, '000' to '111'; your table has {n} bits.")
    right = _xor_table()
    wrong = [x for x in right if not _close(xor[x], right[x])]
    if not wrong:
        return
    if all(_close(P, 1 / 8) for P in xor.values()):
        raise exercises.NotYet(
            "That is the table of three independent fair bits. x_3 is not drawn on its own: x_1 and x_2 "
            "fix it, so some outcomes cannot happen."
        )
    if not all(_close(m, 0.5) for m in marginals(xor)[:2]):
        raise exercises.NotYet(
            "x_1 and x_2 are fair bits: in your table P(x_1 = 1) or P(x_2 = 1) is not 1/2."
        )
    raise exercises.NotYet(
        f"These entries are off: {', '.join(repr(x) for x in wrong)}. x_3 is the exclusive or: "
        "1 when exactly one of x_1, x_2 is 1."
    )


@exercises.check("ex-probability-xor")
def check_answer_xor(xor: object, pair_covariances: object, mutually_independent: object) -> str:
    """Exercise ``ex-probability-xor``: the joint table ``xor`` of ``(x_1, x_2, x_3)`` with
    ``x_3 = x_1 XOR x_2`` and ``x_1``, ``x_2`` independent fair bits; the covariances of the pairs
    in :data:`XOR_PAIRS`, in that order; and whether the three bits are mutually independent."""
    _check_xor_table(xor)
    what = "the three covariances Cov(x_1, x_2), Cov(x_1, x_3), Cov(x_2, x_3)"
    got = exercises.numbers(pair_covariances, "pair_covariances", what, count=3)
    right = _xor_table()
    if not all(_close(a, covariance(right, i, j)) for a, (i, j) in zip(got, XOR_PAIRS, strict=True)):
        raise exercises.NotYet(
            "Your table is right, your covariances are not: Cov(x_i, x_j) = P(x_i = 1, x_j = 1) - "
            "P(x_i = 1) P(x_j = 1), for the pairs (x_1, x_2), (x_1, x_3), (x_2, x_3) in that order."
        )
    if exercises.boolean(mutually_independent, "mutually_independent") != is_independent(right):
        raise exercises.NotYet(
            "Every pair is independent, but mutual independence asks more: every entry must equal the "
            "product of its three marginals. Compare your table with that product."
        )
    return "Each pair takes its four value pairs equally often, but two bits fix the third."


def _coverage_probability(P: float, N: int, half_width: float) -> float:
    """Exact ``P(|K / N - P| <= half_width)`` for ``K ~ Binomial(N, P)`` (log-space terms)."""
    ks = range(math.ceil(N * (P - half_width) - 1e-9), math.floor(N * (P + half_width) + 1e-9) + 1)
    log_pmf = [
        math.lgamma(N + 1)
        - math.lgamma(k + 1)
        - math.lgamma(N - k + 1)
        + k * math.log(P)
        + (N - k) * math.log1p(-P)
        for k in ks
        if 0 <= k <= N
    ]
    return math.fsum(math.exp(v) for v in log_pmf)


def _require_coverage_setting(P: object, half_width: object, repeats: object) -> tuple[float, float, int]:
    P, half_width = require_probability("P", P), require_probability("half_width", half_width)
    if not 0 < P < 1 or not 0 < half_width:
        raise ValueError(
            f"P must lie strictly between 0 and 1 and half_width be > 0, got {P} and {half_width}"
        )
    return P, half_width, require_positive_int("repeats", repeats)


_DRAWS_SLIPS = (  # (N as a multiple of the right one, the hint for that slip)
    (4 / Z_95**2, "You used 2 standard errors; the 95% band reaches Z_95 (about 1.96) standard errors."),
    (1 / Z_95**2, "That makes one standard error as wide as the band; a 95% band spans Z_95 of them."),
    (1 / 4, "The band is +-half_width around P: use the half-width, not the whole width."),
)


def _predicted_draws(N_needed: object, P: float, half_width: float) -> int:
    """The student's ``N_needed`` if it is within :data:`DRAWS_TOLERANCE` of
    ``ceil(Z_95^2 P (1 - P) / half_width^2)``."""
    N = exercises.number(N_needed, "N_needed", "a whole number of draws")
    if N != round(N) or N < 1:
        raise exercises.NotYet(f"`N_needed` is a number of draws, a whole number >= 1; got {N:g}.")
    exact = math.ceil(Z_95**2 * P * (1 - P) / half_width**2)
    if _close(N, exact, DRAWS_TOLERANCE * exact):
        return int(N)
    for factor, hint in _DRAWS_SLIPS:
        if _close(N, exact * factor, 2 * DRAWS_TOLERANCE * exact * factor):
            raise exercises.NotYet(hint)
    raise exercises.NotYet(
        "Your N_needed is off: solve Z_95 sqrt(P (1 - P) / N) = half_width for N and round up."
    )


def _estimates(P_hat: object, repeats: int) -> torch.Tensor:
    """The student's ``P_hat`` as a ``(repeats,)`` float64 tensor of probabilities."""
    estimates = exercises.tensor(P_hat, "P_hat", f"the {repeats} estimates of P(11), one per repeat")
    if estimates.numel() != repeats:
        shape = tuple(estimates.shape)
        raise exercises.NotYet(
            f"`P_hat` should hold one estimate per repeat, {repeats} numbers; got shape {shape}."
        )
    estimates = estimates.reshape(repeats)
    if not torch.isfinite(estimates).all() or estimates.min() < 0 or estimates.max() > 1:
        raise exercises.NotYet("Every entry of `P_hat` should be a probability in [0, 1].")
    return estimates


def _check_simulation(estimates: torch.Tensor, N: int, P: float) -> None:
    """:class:`~companion.classroom.exercises.NotYet` unless ``estimates`` look like independent frequencies
    out of ``N`` draws of an event of probability ``P``: multiples of ``1 / N``, mean within
    :data:`MEAN_STANDARD_ERRORS` standard errors of ``P``, standard deviation within
    :data:`SPREAD_TOLERANCE` of ``sqrt(P (1 - P) / N)``."""
    counts = estimates * N
    if (counts - counts.round()).abs().max() > 1e-3:
        raise exercises.NotYet(
            "Each estimate is a share of N_needed draws, so a multiple of 1 / N_needed; yours are not. "
            "Did every repeat use N_needed draws?"
        )
    se, repeats = math.sqrt(P * (1 - P) / N), len(estimates)
    mean, spread = estimates.mean().item(), estimates.std().item()
    if abs(mean - P) > MEAN_STANDARD_ERRORS * se / math.sqrt(repeats):
        raise exercises.NotYet(
            f"Your estimates average {mean:.4f}, too far from P(11) = {P} for {repeats} repeats: "
            "do they estimate P(11), both bits 1, with the exercise's p_i?"
        )
    if not 1 - SPREAD_TOLERANCE <= spread / se <= 1 + SPREAD_TOLERANCE:
        raise exercises.NotYet(
            f"Your estimates scatter {'more' if spread > se else 'less'} than independent estimates from "
            "N_needed draws each should: use fresh draws for every repeat, N_needed per repeat."
        )


def _check_share(coverage: object, estimates: torch.Tensor, P: float, half_width: float) -> float:
    """The student's ``coverage`` if it is the share of ``estimates`` within ``+-half_width`` of
    ``P`` (to one estimate either way)."""
    repeats = len(estimates)
    inside = ((estimates - P).abs() <= half_width).double().mean().item()
    share = exercises.number(coverage, "coverage", "the share of your estimates inside the band (in [0, 1])")
    if _close(share, inside, 1 / repeats + 1e-12):
        return share
    if _close(share, inside * repeats, 1.0):
        raise exercises.NotYet("That is a count of estimates; the share divides it by the number of repeats.")
    if _close(share, 1 - inside, 1 / repeats + 1e-12):
        raise exercises.NotYet("That is the share outside the band; the band is P +- half_width.")
    raise exercises.NotYet(
        "Your coverage does not match your estimates: the share of P_hat within +-half_width of P."
    )


@exercises.check("ex-probability-coverage")
def check_answer_coverage(
    N_needed: object,
    P_hat: object,
    coverage: object,
    *,
    P: float = 0.04,
    half_width: float = 0.005,
    repeats: int = 500,
) -> str:
    """Exercise ``ex-probability-coverage``: the predicted number of draws ``N_needed``, the
    ``repeats`` Monte Carlo estimates ``P_hat`` of ``P`` (each from ``N_needed`` draws), and
    ``coverage``, the share of them within ``+-half_width`` of ``P``.

    The defaults are the exercise's: ``P = P(11) = 0.04`` of the chapter's table, a band of
    ``+-0.005``, 500 repeats. ``N_needed`` must be within :data:`DRAWS_TOLERANCE` of
    ``ceil(Z_95^2 P (1 - P) / half_width^2)``; ``P_hat`` must hold frequencies out of
    ``N_needed`` draws whose mean lies within :data:`MEAN_STANDARD_ERRORS` standard errors of
    ``P`` and whose spread is within :data:`SPREAD_TOLERANCE` of ``sqrt(P (1 - P) / N_needed)``;
    ``coverage`` must be the share of ``P_hat`` inside the band (to one estimate). Nothing is
    simulated here.
    """
    P, half_width, repeats = _require_coverage_setting(P, half_width, repeats)
    N = _predicted_draws(N_needed, P, half_width)
    estimates = _estimates(P_hat, repeats)
    _check_simulation(estimates, N, P)
    share = _check_share(coverage, estimates, P, half_width)
    exact = _coverage_probability(P, N, half_width)
    return (
        f"{share:.3f} of your estimates land in the band; the exact probability for N = {N} is {exact:.3f}."
    )
