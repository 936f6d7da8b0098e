"""Joint distributions of binary outcomes: exact tables, checks, simulation, majority votes.

Chapter 6 works with ``n`` binary outcomes ``x = x_1 x_2 ... x_n`` (for example, ``x_i = 1``
when the i-th query to a randomised defence is answered wrongly). A *joint table* is a dict
mapping every outcome string to its probability, in lexicographic order::

    {"00": 0.64, "01": 0.16, "10": 0.16, "11": 0.04}

Character ``i`` of a key (counting from 0 in Python) is the bit ``x_{i+1}`` of the text.

- :func:`joint_distribution`: the product rule for independent bits,
  ``P(x) = prod_i p_i^{x_i} (1 - p_i)^{1 - x_i}`` with ``p_i = P(x_i = 1)``.
- :func:`check_joint`: is a dict a joint table (all ``2^n`` outcomes, no negative entry,
  entries summing to 1)? Errors say what is wrong and why it matters.
- :func:`count_distribution` and :func:`binomial_pmf`: the number of ones
  ``K = x_1 + ... + x_n``; binomial when every ``p_i`` is the same.
- :func:`majority_accuracy` and :func:`sample_votes`: a majority vote over ``m`` queries, each
  right with probability ``q``, when the queries are independent or share a latent component
  (pairwise correlation ``rho``).
- :func:`marginals`, :func:`conditional`, :func:`covariance`, :func:`is_independent`: a
  dependent table and how to tell it from a product of its marginals.
- :func:`sample_bits` and :func:`empirical_joint`: Monte Carlo estimates with a
  ``torch.Generator``, and their standard errors.
- Exercise checks (``check_answer_*``, see :mod:`companion.classroom.exercises`): each returns a
  ``Feedback`` for one exercise of the chapter, ``Correct`` or ``Not yet`` with a hint that never
  reveals the answer. The first five verify a student's answer against the student's own
  :class:`ExerciseParameters` (drawn from a seed by :func:`exercise_parameters`);
  :func:`check_answer_xor` and :func:`check_answer_coverage` check a construction and a
  simulation that are the same for everyone.

References
----------
Blitzstein, Hwang. Introduction to Probability, 2nd ed. CRC Press, 2019 (chapters 2, 3 and 7:
conditional probability, the binomial distribution, joint distributions).
Cohen, Rosenfeld, Kolter. Certified Adversarial Robustness via Randomized Smoothing. ICML 2019
(a randomised classifier queried many times and decided by majority vote).
Athalye, Carlini, Wagner. Obfuscated Gradients Give a False Sense of Security. ICML 2018
(attacks on randomised defences average over the randomness).
Hansen, Salamon. Neural Network Ensembles. IEEE TPAMI 1990 (the binomial argument for a
majority vote of networks whose errors are independent).
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from companion.classroom import exercises
from companion.plotting import COLORS, styled
from companion.validation import require_positive_int, require_probability, require_tensor

__all__ = [
    "TOLERANCE",
    "XOR_PAIRS",
    "Z_95",
    "ExerciseParameters",
    "VoteExperiment",
    "VoteResult",
    "binomial_pmf",
    "check_answer_at_least_one",
    "check_answer_count",
    "check_answer_coverage",
    "check_answer_independence",
    "check_answer_majority",
    "check_answer_table",
    "check_answer_xor",
    "check_joint",
    "conditional",
    "convergence_figure",
    "correlation_range",
    "count_figure",
    "count_distribution",
    "covariance",
    "draw_pair",
    "empirical_joint",
    "exercise_parameters",
    "format_table",
    "independence_gap",
    "is_independent",
    "joint_distribution",
    "majority_accuracy",
    "majority_figure",
    "marginals",
    "outcomes",
    "pair_table",
    "run_vote_experiment",
    "running_frequencies",
    "sample_bits",
    "sample_votes",
    "standard_error",
]

Table = dict[str, float]
"""A joint table: outcome string (``"01"``) -> probability."""

Z_95 = 1.959963984540054
"""The standard normal quantile with 95% of the mass within ``+-Z_95``."""

MAX_BITS = 16
""":func:`joint_distribution` lists ``2^n`` outcomes; beyond 16 bits use :func:`count_distribution`."""

_EXACT, _ESTIMATE, _CORRELATED = COLORS["standard"], COLORS["fgsm"], COLORS["distilled"]


# ---------------------------------------------------------------------------------------------
# Exact tables
# ---------------------------------------------------------------------------------------------


def _is_number(value: object) -> bool:
    """A real number that is not NaN (``bool`` is refused)."""
    return not isinstance(value, bool) and isinstance(value, numbers.Real) and not math.isnan(value)


def _check_p(p: object, name: str = "p") -> list[float]:
    """``p`` as a list of floats in [0, 1]: a non-empty sequence of numbers or a 1-d float tensor."""
    if isinstance(p, torch.Tensor):
        require_tensor(name, p, ndim=1, floating=True)
        p = p.tolist()
    elif isinstance(p, np.ndarray):
        if p.ndim != 1:
            raise ValueError(f"{name} must be 1-dimensional (one probability per bit), got shape {p.shape}")
        p = p.tolist()
    if isinstance(p, (str, bytes)) or not isinstance(p, Sequence):
        raise TypeError(
            f"{name} must be a list of per-bit probabilities P(x_i = 1), e.g. [0.2, 0.2], "
            f"got {type(p).__name__}"
        )
    if len(p) == 0:
        raise ValueError(
            f"{name} must hold at least one probability (one per bit), got an empty {type(p).__name__}"
        )
    return [require_probability(f"{name}[{i}]", value) for i, value in enumerate(p)]


def outcomes(n: int) -> list[str]:
    """All ``2^n`` outcome strings of ``n`` bits in lexicographic order: ``outcomes(2)`` is
    ``['00', '01', '10', '11']``."""
    require_positive_int("n", n)
    return ["".join(bits) for bits in itertools.product("01", repeat=n)]


def joint_distribution(p: Sequence[float] | torch.Tensor) -> Table:
    """Exact probability of every outcome of ``n`` independent bits.

    .. math:: P(x_1 \\dots x_n) = \\prod_{i=1}^n p_i^{x_i} (1 - p_i)^{1 - x_i},
              \\qquad p_i = P(x_i = 1)

    Parameters
    ----------
    p : sequence of float or torch.Tensor
        ``(n,)`` probabilities in [0, 1], ``1 <= n <= 16``.

    Returns
    -------
    dict of str to float
        The ``2^n`` outcome strings, in lexicographic order, to their probabilities (Python
        floats, float64). The entries sum to 1 up to rounding (about ``1e-16`` per entry).

    Examples
    --------
    >>> {x: round(P, 4) for x, P in joint_distribution([0.2, 0.2]).items()}
    {'00': 0.64, '01': 0.16, '10': 0.16, '11': 0.04}
    """
    p = _check_p(p)
    if len(p) > MAX_BITS:
        raise ValueError(
            f"p has {len(p)} bits, so the table would list 2**{len(p)} outcomes; at most {MAX_BITS} "
            "are allowed. For the number of ones use count_distribution(p)."
        )
    return {
        x: math.prod(p_i if x_i == "1" else 1.0 - p_i for p_i, x_i in zip(p, x, strict=True))
        for x in outcomes(len(p))
    }


def _check_table_shape(table: object, name: str) -> tuple[int, list[str]]:
    """Check keys and value types of a table; return ``n`` and the outcomes (no probability checks)."""
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
    missing = [x for x in outcomes(n) if x not in table]
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
    return n, outcomes(n)


def _format_entries(table: Mapping[str, float], keys: Sequence[str]) -> str:
    return ", ".join(f"P({x}) = {table[x]:.4g}" for x in keys)


def check_joint(table: Mapping[str, float], *, atol: float = 1e-9, name: str = "table") -> Table:
    """Check that ``table`` is a joint distribution of ``n`` bits and return it as a plain dict.

    A joint table lists all ``2^n`` outcomes, each with a probability ``P(x) >= 0``, and

    .. math:: \\sum_x P(x) = 1

    because the outcomes are mutually exclusive and one of them always happens.

    Parameters
    ----------
    table : dict of str to float
        Outcome strings of equal length (``"01"``) to probabilities.
    atol : float
        Allowed ``|sum - 1|``; the default ``1e-9`` forgives float rounding only.
    name : str
        How errors refer to the table.

    Returns
    -------
    dict of str to float
        The entries in lexicographic order of the outcomes, as floats.

    Raises
    ------
    TypeError
        ``table`` is not a dict, or an entry is not a number.
    ValueError
        A key is not a bit string, outcomes are missing or of different lengths, an entry is NaN
        or negative, or the entries do not sum to 1. The message names the entries at fault.
    """
    n, keys = _check_table_shape(table, name)
    negative = [x for x in keys if table[x] < 0]
    if negative:
        raise ValueError(
            f"probabilities cannot be negative, got {_format_entries(table, negative[:8])} in {name}. "
            "If an entry came from a subtraction such as P(x_1 = 1) - P(11), the numbers it used do not "
            "fit together: no table has those marginals and that joint probability."
        )
    total = math.fsum(float(table[x]) for x in keys)
    if abs(total - 1.0) > atol:
        if len(keys) <= 8:
            shown = _format_entries(table, keys)
        else:
            largest = sorted(keys, key=lambda x: -table[x])[:4]
            shown = "largest " + _format_entries(table, largest)
        above_one = [x for x in keys if table[x] > 1]
        extra = f" {_format_entries(table, above_one[:4])} alone exceed 1." if above_one else ""
        raise ValueError(
            f"the entries of a joint table must sum to 1 (the {2**n} outcomes are mutually exclusive and "
            f"one of them always happens), but {name} sums to {total:.6g} ({shown}).{extra} For independent "
            "bits each entry is a product with one factor per bit, p_i = P(x_i = 1) for a 1 and 1 - p_i for "
            "a 0, so the factors change from one outcome to the next."
        )
    return {x: float(table[x]) for x in keys}


def format_table(table: Mapping[str, float], digits: int = 4) -> str:
    """One line per outcome, ``P(01) = 0.1600``, and the total: for printing in a notebook."""
    n, keys = _check_table_shape(table, "table")
    require_positive_int("digits", digits)
    lines = [f"P({x}) = {table[x]:.{digits}f}" for x in keys]
    lines.append(f"{'sum':>{n + 3}} = {math.fsum(table[x] for x in keys):.{digits}f}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Counting ones and majority votes
# ---------------------------------------------------------------------------------------------


def binomial_pmf(n: int, p: float) -> list[float]:
    """``P(K = k) = C(n, k) p^k (1 - p)^(n - k)`` for ``k = 0, ..., n``: the number of ones among
    ``n`` independent bits that are each 1 with probability ``p``.

    Examples
    --------
    >>> [round(P, 4) for P in binomial_pmf(2, 0.2)]
    [0.64, 0.32, 0.04]
    """
    require_positive_int("n", n)
    p = require_probability("p", p)
    return [math.comb(n, k) * p**k * (1.0 - p) ** (n - k) for k in range(n + 1)]


def count_distribution(p: Sequence[float] | torch.Tensor) -> list[float]:
    """``P(K = k)`` for ``K = x_1 + ... + x_n``, independent bits with their own ``p_i``.

    Adds one bit at a time, ``P_i(K = k) = P_{i-1}(K = k) (1 - p_i) + P_{i-1}(K = k - 1) p_i``,
    which is the sum of :func:`joint_distribution` over the outcomes with ``k`` ones, in
    ``O(n^2)`` steps instead of ``2^n``. With every ``p_i = p`` it is :func:`binomial_pmf`
    (the Poisson-binomial distribution in general).
    """
    p = _check_p(p)
    P = [1.0]  # zero bits: K = 0 surely
    for p_i in p:
        P = [
            (P[k] if k < len(P) else 0.0) * (1 - p_i) + (P[k - 1] * p_i if k else 0.0)
            for k in range(len(P) + 1)
        ]
    return P


def _check_generator(generator: object) -> None:
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")


def _check_votes(q: object, m: object, rho: object) -> tuple[float, int, float]:
    q, rho = require_probability("q", q), require_probability("rho", rho)
    require_positive_int("m", m)
    if m % 2 == 0:
        raise ValueError(
            f"m must be odd so that a majority vote has no ties, got {m}; try {m - 1} or {m + 1}"
        )
    return q, m, rho


def majority_accuracy(q: float, m: int, rho: float = 0.0) -> float:
    """Probability that a majority of ``m`` queries is right, each right with probability ``q``.

    Independent queries (``rho = 0``): at least ``(m + 1) / 2`` of the ``m`` are right,

    .. math:: A_m(q) = \\sum_{j = (m + 1)/2}^{m} \\binom{m}{j} q^j (1 - q)^{m - j}.

    With a shared latent component (see :func:`sample_votes`) all ``m`` answers are one draw with
    probability ``rho`` and independent draws otherwise, so
    ``rho * q + (1 - rho) * A_m(q)``: the vote cannot fix the shared part, and for ``q > 1/2`` the
    accuracy levels off at ``rho * q + 1 - rho`` instead of tending to 1.

    This is the right/wrong (binary) model: a wrong query counts against the right answer whatever
    it says. With more than two classes the vote is a plurality and wrong answers can split between
    classes, so the vote can be right with fewer than half the queries right, and ``q > 1/2`` is
    no longer the dividing line (randomised smoothing votes over classes, Cohen et al. 2019).

    Parameters
    ----------
    q : float
        Accuracy of one query, in [0, 1].
    m : int
        Number of queries, odd.
    rho : float
        Correlation between any two queries' correctness, in [0, 1].
    """
    q, m, rho = _check_votes(q, m, rho)
    independent = math.fsum(binomial_pmf(m, q)[(m + 1) // 2 :])
    return rho * q + (1.0 - rho) * independent


def sample_votes(
    q: float, m: int, num_samples: int, generator: torch.Generator, rho: float = 0.0
) -> torch.Tensor:
    """Simulate ``num_samples`` inputs, each queried ``m`` times; ``True`` where a query is right.

    The latent model: for each input a shared switch ``S ~ Bernoulli(rho)``. If ``S = 1`` the input
    decides the answer ("hard" or "easy" whatever the defence's noise): one draw
    ``C ~ Bernoulli(q)`` is copied to all ``m`` queries. Otherwise each query draws its own
    ``Bernoulli(q)``. Every query is right with probability ``q`` and two queries' correctness has
    correlation ``rho``.

    Returns
    -------
    torch.Tensor
        ``(num_samples, m)`` bool.
    """
    q, m, rho = require_probability("q", q), require_positive_int("m", m), require_probability("rho", rho)
    require_positive_int("num_samples", num_samples)
    _check_generator(generator)
    N = num_samples
    S = torch.rand(N, 1, generator=generator, dtype=torch.float64) < rho  # (N, 1) shared switch
    C = torch.rand(N, 1, generator=generator, dtype=torch.float64) < q  # (N, 1) the shared answer
    own = torch.rand(N, m, generator=generator, dtype=torch.float64) < q  # (N, m) independent answers
    return torch.where(S, C.expand(N, m), own)


@dataclass(frozen=True)
class VoteExperiment:
    """The chapter's experiment: majority votes of a randomised defence."""

    q: float = 0.8  # accuracy of one query (the exercise's 0.8)
    ms: tuple[int, ...] = (1, 3, 5, 7, 9, 15, 21, 31, 41, 51)  # numbers of queries, odd
    rho: float = 0.3  # correlation of the correlated model
    num_samples: int = 20_000  # simulated inputs per m and model


@dataclass(frozen=True)
class VoteResult:
    """Exact and simulated majority-vote accuracies, one entry per ``m`` in ``config.ms``."""

    config: VoteExperiment
    exact_independent: list[float]
    exact_correlated: list[float]
    simulated_independent: list[float]
    simulated_correlated: list[float]

    @property
    def plateau(self) -> float:
        """``rho * q + 1 - rho``: the correlated model's accuracy as ``m`` grows (for q > 1/2)."""
        return self.config.rho * self.config.q + 1.0 - self.config.rho

    @property
    def largest_deviation(self) -> float:
        """``max |A_hat - A| / sqrt(A (1 - A) / N)`` over every ``m`` and both models: how many
        standard errors the worst simulated point lies from its exact value."""
        N = self.config.num_samples
        z = [
            abs(A_hat - A) / standard_error(A, N) if 0 < A < 1 else (0.0 if A_hat == A else math.inf)
            for exact, simulated in (
                (self.exact_independent, self.simulated_independent),
                (self.exact_correlated, self.simulated_correlated),
            )
            for A, A_hat in zip(exact, simulated, strict=True)
        ]
        return max(z)


def run_vote_experiment(config: VoteExperiment, generator: torch.Generator) -> VoteResult:
    """Majority-vote accuracy for each ``m``: exact (:func:`majority_accuracy`) and simulated
    (:func:`sample_votes`), for independent queries and for correlation ``config.rho``."""
    if not isinstance(config, VoteExperiment):
        raise TypeError(f"config must be a VoteExperiment, got {type(config).__name__}")
    curves = []  # (exact, simulated) for rho = 0, then for config.rho
    for rho in (0.0, config.rho):
        exact = [majority_accuracy(config.q, m, rho) for m in config.ms]
        simulated = []
        for m in config.ms:
            votes = sample_votes(config.q, m, config.num_samples, generator, rho)  # (N, m)
            majority_right = votes.sum(dim=1) > m // 2  # (N,)
            simulated.append(majority_right.double().mean().item())
        curves.append((exact, simulated))
    (exact_independent, simulated_independent), (exact_correlated, simulated_correlated) = curves
    return VoteResult(
        config, exact_independent, exact_correlated, simulated_independent, simulated_correlated
    )


# ---------------------------------------------------------------------------------------------
# Dependent bits
# ---------------------------------------------------------------------------------------------


def _check_index(name: str, i: object, n: int) -> int:
    if isinstance(i, bool) or not isinstance(i, int):
        raise TypeError(f"{name} must be an int (a position in the outcome string), got {type(i).__name__}")
    if not 0 <= i < n:
        raise ValueError(f"{name} must be a bit position in [0, {n - 1}] for {n}-bit outcomes, got {i}")
    return i


def marginals(table: Mapping[str, float]) -> list[float]:
    """``P(x_i = 1) = sum of P(x) over the outcomes x with a 1 at position i``, for each ``i``."""
    table = check_joint(table)
    n = len(next(iter(table)))
    sums = [math.fsum(P for x, P in table.items() if x[i] == "1") for i in range(n)]
    return [min(max(p_i, 0.0), 1.0) for p_i in sums]  # round-off can give 1.0000000000000002


def conditional(table: Mapping[str, float], i: int, j: int, value: int) -> float:
    """``P(x_i = 1 | x_j = value) = P(x_i = 1, x_j = value) / P(x_j = value)`` (positions from 0)."""
    table = check_joint(table)
    n = len(next(iter(table)))
    i, j = _check_index("i", i, n), _check_index("j", j, n)
    if value not in (0, 1) or isinstance(value, bool):
        raise ValueError(f"value must be 0 or 1, got {value!r}")
    given = math.fsum(P for x, P in table.items() if x[j] == str(value))
    if given == 0:
        raise ValueError(
            f"P(x_j = {value}) is 0 for j = {j}: conditioning on an impossible event is undefined"
        )
    both = math.fsum(P for x, P in table.items() if x[j] == str(value) and x[i] == "1")
    return both / given


def covariance(table: Mapping[str, float], i: int = 0, j: int = 1) -> float:
    """``Cov(x_i, x_j) = P(x_i = 1, x_j = 1) - P(x_i = 1) P(x_j = 1)``.

    For two *binary* variables it is 0 exactly when they are independent (not true in general).
    """
    table = check_joint(table)
    n = len(next(iter(table)))
    i, j = _check_index("i", i, n), _check_index("j", j, n)
    m = marginals(table)
    return math.fsum(P for x, P in table.items() if x[i] == "1" and x[j] == "1") - m[i] * m[j]


def independence_gap(table: Mapping[str, float]) -> float:
    """``max_x |P(x) - prod_i P(x_i)|``: how far ``table`` is from the product of its marginals."""
    table = check_joint(table)
    product = joint_distribution(marginals(table))
    return max(abs(table[x] - product[x]) for x in table)


def is_independent(table: Mapping[str, float], atol: float = 1e-9) -> bool:
    """Mutual independence: every ``P(x)`` equals the product of its marginals (within ``atol``).

    Pairwise independence of every two bits is weaker: for three or more bits it does not imply
    this.
    """
    return independence_gap(table) <= atol


def correlation_range(p1: float, p2: float) -> tuple[float, float]:
    """The correlations two bits with ``P(x_1 = 1) = p1``, ``P(x_2 = 1) = p2`` can have.

    ``P(11)`` must lie in ``[max(0, p1 + p2 - 1), min(p1, p2)]`` (the Frechet bounds) for every
    entry of the table to be non-negative; dividing ``P(11) - p1 p2`` by
    ``sqrt(p1 (1 - p1) p2 (1 - p2))`` gives the range. Needs ``0 < p1, p2 < 1``.
    """
    p1, p2 = require_probability("p1", p1), require_probability("p2", p2)
    for name, value in (("p1", p1), ("p2", p2)):
        if value in (0.0, 1.0):
            raise ValueError(
                f"{name} must lie strictly between 0 and 1 for a correlation to exist, got {value}"
            )
    s = math.sqrt(p1 * (1 - p1) * p2 * (1 - p2))
    return (max(0.0, p1 + p2 - 1) - p1 * p2) / s, (min(p1, p2) - p1 * p2) / s


def pair_table(p1: float, p2: float, rho: float = 0.0) -> Table:
    """The joint table of two bits with marginals ``p1``, ``p2`` and correlation ``rho``.

    ``P(11) = p1 p2 + rho sqrt(p1 (1 - p1) p2 (1 - p2))``, then ``P(10) = p1 - P(11)``,
    ``P(01) = p2 - P(11)``, ``P(00) = 1 - p1 - p2 + P(11)``. ``rho`` must lie in
    :func:`correlation_range`; ``rho = 0`` gives :func:`joint_distribution` ``([p1, p2])``.
    At the ends of that range an entry is 0 up to float rounding (``-1e-16``, say); entries are
    clipped into [0, 1], so the table sums to 1 within float rounding and never shows ``-0.000``.
    """
    low, high = correlation_range(p1, p2)
    if not _is_number(rho):
        raise TypeError(f"rho must be a number (not NaN), got {rho!r}")
    if not low - 1e-12 <= rho <= high + 1e-12:
        raise ValueError(
            f"rho must lie in [{low:.3f}, {high:.3f}] for p1 = {p1} and p2 = {p2} (otherwise an entry of the "
            f"table would be negative), got {rho}"
        )
    P11 = p1 * p2 + rho * math.sqrt(p1 * (1 - p1) * p2 * (1 - p2))
    P11 = min(max(P11, max(0.0, p1 + p2 - 1)), min(p1, p2))  # rho up to 1e-12 outside its range
    table = {"00": 1 - p1 - p2 + P11, "01": p2 - P11, "10": p1 - P11, "11": P11}
    return {x: min(max(P, 0.0), 1.0) for x, P in table.items()}  # rounding at the bounds: -1e-16 -> 0


# ---------------------------------------------------------------------------------------------
# Monte Carlo
# ---------------------------------------------------------------------------------------------


def sample_bits(
    p: Sequence[float] | torch.Tensor, num_samples: int, generator: torch.Generator
) -> torch.Tensor:
    """``num_samples`` draws of ``n`` independent bits, ``x_i ~ Bernoulli(p_i)``.

    Returns
    -------
    torch.Tensor
        ``(num_samples, n)`` int64 in {0, 1}.
    """
    p = _check_p(p)
    require_positive_int("num_samples", num_samples)
    _check_generator(generator)
    probabilities = torch.tensor(p, dtype=torch.float64).expand(num_samples, len(p))  # (N, n)
    return torch.bernoulli(probabilities, generator=generator).long()


def _outcome_index(samples: torch.Tensor) -> torch.Tensor:
    """``(N, n)`` bits -> ``(N,)`` position of each outcome string in :func:`outcomes` ``(n)``."""
    require_tensor("samples", samples, ndim=2, floating=False)
    if samples.shape[0] == 0 or samples.shape[1] == 0:
        raise ValueError(f"samples must have at least one row and one bit, got shape {tuple(samples.shape)}")
    if samples.min() < 0 or samples.max() > 1:
        raise ValueError("samples must hold only 0s and 1s")
    n = samples.shape[1]
    weights = 2 ** torch.arange(n - 1, -1, -1)  # (n,) the first bit is the most significant
    return samples.long() @ weights


def empirical_joint(samples: torch.Tensor) -> Table:
    """Relative frequency of each outcome among ``samples``, ``(N, n)`` int in {0, 1}: the Monte
    Carlo estimate ``P_hat(x) = #{draws equal to x} / N``."""
    index = _outcome_index(samples)
    n = samples.shape[1]
    counts = torch.bincount(index, minlength=2**n).double()  # (2^n,)
    return dict(zip(outcomes(n), (counts / len(index)).tolist(), strict=True))


def running_frequencies(samples: torch.Tensor) -> torch.Tensor:
    """``(N, 2^n)`` float64: row ``m`` holds the estimates from the first ``m + 1`` draws."""
    index = _outcome_index(samples)
    n = samples.shape[1]
    hits = torch.nn.functional.one_hot(index, 2**n).double()  # (N, 2^n)
    return hits.cumsum(dim=0) / torch.arange(1, len(index) + 1, dtype=torch.float64)[:, None]


def standard_error(P: float, num_samples: int) -> float:
    """``sqrt(P (1 - P) / N)``: the standard deviation of a frequency estimate of ``P`` from ``N``
    independent draws. About 95% of estimates lie within ``Z_95`` standard errors of ``P``."""
    P = require_probability("P", P)
    require_positive_int("num_samples", num_samples)
    return math.sqrt(P * (1 - P) / num_samples)


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


@styled
def convergence_figure(p: Sequence[float], samples: torch.Tensor) -> Figure:
    """Running Monte Carlo estimates of each outcome against the number of draws, with the exact
    value and its 95% band ``P +- Z_95 sqrt(P (1 - P) / N)``."""
    exact = joint_distribution(p)
    estimates = running_frequencies(samples).numpy()  # (N, 2^n)
    if estimates.shape[1] != len(exact):
        raise ValueError(f"samples must have {len(p)} bits (one per entry of p), got {samples.shape[1]}")
    N = np.arange(1, len(estimates) + 1)
    show = np.unique(np.geomspace(1, len(N), 400).astype(int)) - 1  # log-spaced rows
    fig, axes = plt.subplots(1, len(exact), figsize=(2.6 * len(exact), 2.8), sharex=True, squeeze=False)
    for ax, (c, (x, P)) in zip(axes.flat, enumerate(exact.items()), strict=True):
        half = Z_95 * np.sqrt(P * (1 - P) / N[show])
        ax.fill_between(N[show], P - half, P + half, color=_EXACT, alpha=0.15, label="95% band")
        ax.axhline(P, color=_EXACT, lw=1.2, label="exact")
        ax.plot(N[show], estimates[show, c], color=_ESTIMATE, lw=1.2, label="estimate")
        ax.set(
            xscale="log",
            xlabel="draws N",
            title=f"P({x}) = {P:.4g}",
            ylim=(max(0, P - 0.25), min(1, P + 0.25)),
        )
    axes[0, 0].set_ylabel("estimated probability")
    axes[0, 0].legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


@styled
def count_figure(p: float, samples: torch.Tensor) -> Figure:
    """The binomial ``P(K = k)`` for ``n`` bits each 1 with probability ``p`` (bars) beside the
    frequencies of ``K`` in ``samples`` (``(N, n)`` int in {0, 1}, dots)."""
    require_tensor("samples", samples, ndim=2, floating=False)
    N, n = samples.shape
    pmf = binomial_pmf(n, p)
    frequencies = torch.bincount(samples.sum(dim=1), minlength=n + 1).double() / N  # (n + 1,)
    fig, ax = plt.subplots(figsize=(5.6, 3.2))
    ax.bar(range(n + 1), pmf, color=_EXACT, alpha=0.6, label="binomial (exact)")
    ax.plot(range(n + 1), frequencies.tolist(), "o", color=_ESTIMATE, label=f"simulated, N = {N:,}")
    ax.set(xlabel="number of ones K", ylabel="P(K = k)", xticks=range(n + 1), title=f"n = {n}, p = {p}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


@styled
def majority_figure(result: VoteResult) -> Figure:
    """Majority-vote accuracy against the number of queries ``m``: exact curves, simulated points,
    and the correlated model's plateau."""
    cfg = result.config
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for label, exact, simulated, color in (
        ("independent", result.exact_independent, result.simulated_independent, _EXACT),
        (f"correlated, rho = {cfg.rho}", result.exact_correlated, result.simulated_correlated, _CORRELATED),
    ):
        ax.plot(cfg.ms, exact, color=color, label=f"{label} (exact)")
        ax.plot(cfg.ms, simulated, "o", color=color, markersize=4, label=f"{label} (simulated)")
    ax.axhline(
        result.plateau,
        color=_CORRELATED,
        ls="--",
        lw=1,
        label=f"plateau rho q + 1 - rho = {result.plateau:.2f}",
    )
    ax.axhline(cfg.q, color="#7f7f7f", ls=":", lw=1, label=f"one query, q = {cfg.q}")
    ax.set(xlabel="queries m (majority vote)", ylabel="accuracy of the vote", ylim=(cfg.q - 0.05, 1.005))
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def draw_pair(p1: float, p2: float, rho: float = 0.0) -> Figure:
    """The explorer's picture: the joint table of two bits with marginals ``p1``, ``p2`` and
    correlation ``rho`` as a heatmap with its margins, beside the independent table.

    ``rho`` outside :func:`correlation_range` is clipped to it, and the title says so.
    """
    low, high = correlation_range(p1, p2)
    used = min(max(rho, low), high)
    table, independent = pair_table(p1, p2, used), joint_distribution([p1, p2])
    return _pair_figure(table, independent, p1, p2, used, clipped=used != rho)


@styled
def _pair_figure(table: Table, independent: Table, p1: float, p2: float, rho: float, clipped: bool) -> Figure:
    fig, (ax_map, ax_bar) = plt.subplots(1, 2, figsize=(8.4, 3.3), width_ratios=(1, 1.3))
    grid = np.array([[table["00"], table["01"]], [table["10"], table["11"]]])  # rows x_1, columns x_2
    ax_map.imshow(grid, cmap="Blues", vmin=0, vmax=1)
    for (r, c), P in np.ndenumerate(grid):
        ax_map.text(c, r, f"{P:.3f}", ha="center", va="center", color="white" if P > 0.5 else "black")
    ax_map.set(xticks=[0, 1], yticks=[0, 1], xlabel="$x_2$ (its marginal)", ylabel="$x_1$ (its marginal)")
    ax_map.set_xticklabels([f"0 ({1 - p2:.2f})", f"1 ({p2:.2f})"])
    ax_map.set_yticklabels([f"0 ({1 - p1:.2f})", f"1 ({p1:.2f})"])
    ax_map.grid(False)
    ax_map.set_title("joint table $P(x_1 x_2)$")
    keys = list(table)
    ax_bar.bar(np.arange(4) - 0.2, [table[x] for x in keys], 0.4, color=_CORRELATED, label=f"rho = {rho:.3g}")
    ax_bar.bar(np.arange(4) + 0.2, [independent[x] for x in keys], 0.4, color=_EXACT, label="independent")
    ax_bar.set(xticks=range(4), xticklabels=keys, ylim=(0, 1), xlabel="outcome $x_1 x_2$", ylabel="P")
    ax_bar.legend(fontsize=8)
    note = " (clipped to the feasible range)" if clipped else ""
    ax_bar.set_title(f"sum = {math.fsum(table.values()):.3f}, rho = {rho:.3g}{note}", fontsize=9)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Exercises: per-student parameters and checks that never reveal the answer
# ---------------------------------------------------------------------------------------------

TOLERANCE = 1e-3
"""How far each checked number may be from the exact value (answers rounded to 3 decimals pass).
A sum of ``n`` such numbers is allowed ``n * TOLERANCE``."""


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
        p = _check_p(self.p, "p")
        if len(p) != 2:
            raise ValueError(f"p must hold two probabilities (P(x_1 = 1), P(x_2 = 1)), got {len(p)}")
        object.__setattr__(self, "p", tuple(p))
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

    The grids are fine so that one student's answers rarely pass another's checks. For two seeds
    drawn at random, the right answer for one passes the other's check (within
    :data:`TOLERANCE`) about once in 20,000 pairs for the table and the independence exercise,
    once in 700 for the count, and once in 200 for the two answers that are a single number (at
    least one failure, majority of three): a number in [0, 1] checked to within 0.001 can take
    only a few hundred distinguishable values.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    g = torch.Generator().manual_seed(seed)

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


def _check_params(params: object) -> ExerciseParameters:
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


def _scalar(value: object) -> object:
    """A one-element tensor or array as its Python number; anything else unchanged."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if isinstance(value, np.ndarray) and value.size == 1:
        return value.item()
    return value


def _number(value: object, name: str, what: str) -> float:
    """The student's ``value`` as a float: a real number or a one-element tensor or array.

    Raises :class:`~companion.classroom.exercises.NotYet` for ``None`` (the stub) and anything else,
    saying that ``name`` should be ``what``.
    """
    value = _scalar(exercises.answered(value, name, what))
    if not _is_number(value):
        raise exercises.NotYet(f"`{name}` should be {what}, got {type(value).__name__}.")
    return float(value)


def _probability(answer: object) -> float:
    """``answer`` as a probability; :class:`~companion.classroom.exercises.NotYet` unless it is a
    number in [0, 1]."""
    answer = _scalar(exercises.answered(answer, "answer", "a number (a probability)"))
    if not _is_number(answer):
        raise exercises.NotYet(
            f"Your answer should be one number (a probability), got {type(answer).__name__}."
        )
    if not 0 <= answer <= 1:
        raise exercises.NotYet(f"Your answer is {answer:.4g}, but a probability lies in [0, 1].")
    return float(answer)


def _numbers(value: object, name: str, count: int, what: str) -> list[float]:
    """The student's ``value`` as ``count`` floats (a list, tuple, tensor or array of numbers)."""
    exercises.answered(value, name, what)
    if isinstance(value, torch.Tensor | np.ndarray):
        value = value.tolist()
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise exercises.NotYet(f"`{name}` should be {what}, got {type(value).__name__}.")
    if len(value) != count:
        raise exercises.NotYet(f"`{name}` should be {what}: {count} numbers, got {len(value)}.")
    if not all(_is_number(v) for v in value):
        raise exercises.NotYet(f"Every entry of `{name}` should be a number.")
    return [float(v) for v in value]


@exercises.check("ex-probability-table")
def check_answer_table(answer: object, params: ExerciseParameters) -> str:
    """Exercise ``ex-probability-table``: the joint table of two independent bits with
    ``P(x_i = 1) = params.p[i]``, as a dict ``{"00": ..., "01": ..., "10": ..., "11": ...}``."""
    params = _check_params(params)
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


@exercises.check("ex-probability-at-least-one")
def check_answer_at_least_one(answer: object, params: ExerciseParameters) -> str:
    """Exercise ``ex-probability-at-least-one``: ``P(at least one of x_1, x_2 is 1)`` with
    ``P(x_i = 1) = params.p[i]``, a number."""
    params = _check_params(params)
    answer = _probability(answer)
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


@exercises.check("ex-probability-count")
def check_answer_count(answer: object, params: ExerciseParameters) -> str:
    """Exercise ``ex-probability-count``: ``[P(K = 0), ..., P(K = 5)]`` for the number of ones ``K``
    among 5 independent bits, each 1 with probability ``params.p_count``."""
    params = _check_params(params)
    answer = exercises.answered(answer, "answer", "a list [P(K = 0), ..., P(K = 5)]")
    if isinstance(answer, torch.Tensor | np.ndarray):
        answer = answer.tolist()
    if isinstance(answer, (str, bytes)) or not isinstance(answer, Sequence):
        raise exercises.NotYet(f"Your answer should be a list of six numbers, got {type(answer).__name__}.")
    if len(answer) != 6:
        raise exercises.NotYet(
            f"K = number of ones among 5 bits takes the values 0..5: give 6 numbers, got {len(answer)}."
        )
    if not all(_is_number(a) for a in answer):
        raise exercises.NotYet("Every entry of your list should be a number.")
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


@exercises.check("ex-probability-majority")
def check_answer_majority(answer: object, params: ExerciseParameters) -> str:
    """Exercise ``ex-probability-majority``: accuracy of a majority vote over 3 independent queries,
    each right with probability ``params.q``, a number."""
    params = _check_params(params)
    answer = _probability(answer)
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


def _boolean(value: object, name: str) -> bool:
    """The student's ``value`` as a bool; :class:`~companion.classroom.exercises.NotYet` unless it is one."""
    exercises.answered(value, name, "True or False")
    if not isinstance(value, bool | np.bool_):
        raise exercises.NotYet(f"`{name}` should be True or False, got {type(value).__name__}.")
    return bool(value)


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


@exercises.check("ex-probability-independence")
def check_answer_independence(
    marginals: object, cov: object, independent: object, params: ExerciseParameters
) -> str:
    """Exercise ``ex-probability-independence``: for the two bits of ``params.table``, the
    ``marginals`` ``(P(x_1 = 1), P(x_2 = 1))``, the covariance
    ``cov = P(11) - P(x_1 = 1) P(x_2 = 1)``, and whether they are ``independent`` (a bool)."""
    params = _check_params(params)
    got = _numbers(marginals, "marginals", 2, "two numbers (P(x_1 = 1), P(x_2 = 1))")
    cov = _number(cov, "cov", "a number, the covariance")
    independent = _boolean(independent, "independent")
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
    got = _numbers(pair_covariances, "pair_covariances", 3, what)
    right = _xor_table()
    if not all(_close(a, covariance(right, i, j)) for a, (i, j) in zip(got, XOR_PAIRS, strict=True)):
        raise exercises.NotYet(
            "Your table is right, your covariances are not: Cov(x_i, x_j) = P(x_i = 1, x_j = 1) - "
            "P(x_i = 1) P(x_j = 1), for the pairs (x_1, x_2), (x_1, x_3), (x_2, x_3) in that order."
        )
    if _boolean(mutually_independent, "mutually_independent") != is_independent(right):
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


def _check_coverage_setting(P: object, half_width: object, repeats: object) -> tuple[float, float, int]:
    P, half_width = require_probability("P", P), require_probability("half_width", half_width)
    if not 0 < P < 1 or not 0 < half_width:
        raise ValueError(
            f"P must lie strictly between 0 and 1 and half_width be > 0, got {P} and {half_width}"
        )
    return P, half_width, require_positive_int("repeats", repeats)


_DRAWS_SLIPS = (  # (N as a multiple of the right one, the hint for that slip)
    (4 / Z_95**2, "You used 2 standard errors; the 95% band reaches Z_95 (about 1.96) standard errors."),
    (1 / Z_95**2, "That makes one standard error as wide as the band; a 95% band spans Z_95 of them."),
    (4.0, "The band is +-half_width around P: use the half-width, not the whole width."),
)


def _predicted_draws(N_needed: object, P: float, half_width: float) -> int:
    """The student's ``N_needed`` if it is within 1% of ``ceil(Z_95^2 P (1 - P) / half_width^2)``."""
    N = _number(N_needed, "N_needed", "a whole number of draws")
    if N != round(N) or N < 1:
        raise exercises.NotYet(f"`N_needed` is a number of draws, a whole number >= 1; got {N:g}.")
    exact = math.ceil(Z_95**2 * P * (1 - P) / half_width**2)
    if _close(N, exact, 0.01 * exact):
        return int(N)
    for factor, hint in _DRAWS_SLIPS:
        if _close(N, exact * factor, 0.02 * exact * factor):
            raise exercises.NotYet(hint)
    raise exercises.NotYet(
        "Your N_needed is off: solve Z_95 sqrt(P (1 - P) / N) = half_width for N and round up."
    )


def _estimates(P_hat: object, repeats: int) -> torch.Tensor:
    """The student's ``P_hat`` as a ``(repeats,)`` float64 tensor of probabilities."""
    exercises.answered(P_hat, "P_hat", f"the {repeats} estimates of P(11), one per repeat")
    try:
        estimates = torch.as_tensor(
            P_hat.detach() if isinstance(P_hat, torch.Tensor) else P_hat, dtype=torch.float64
        )
    except (TypeError, ValueError, RuntimeError):
        raise exercises.NotYet(
            f"`P_hat` should hold {repeats} numbers (a tensor, array or list), got {type(P_hat).__name__}."
        ) from None
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
    out of ``N`` draws of an event of probability ``P``: multiples of ``1 / N``, mean within 4
    standard errors of ``P``, standard deviation within 20% of ``sqrt(P (1 - P) / N)``."""
    counts = estimates * N
    if (counts - counts.round()).abs().max() > 1e-3:
        raise exercises.NotYet(
            "Each estimate is a share of N_needed draws, so a multiple of 1 / N_needed; yours are not. "
            "Did every repeat use N_needed draws?"
        )
    se, repeats = math.sqrt(P * (1 - P) / N), len(estimates)
    mean, spread = estimates.mean().item(), estimates.std().item()
    if abs(mean - P) > 4 * se / math.sqrt(repeats):
        raise exercises.NotYet(
            f"Your estimates average {mean:.4f}, too far from P(11) = {P} for {repeats} repeats: "
            "do they estimate P(11), both bits 1, with the exercise's p_i?"
        )
    if not 0.8 <= spread / se <= 1.2:
        raise exercises.NotYet(
            f"Your estimates scatter {'more' if spread > se else 'less'} than independent estimates from "
            "N_needed draws each should: use fresh draws for every repeat, N_needed per repeat."
        )


def _check_share(coverage: object, estimates: torch.Tensor, P: float, half_width: float) -> float:
    """The student's ``coverage`` if it is the share of ``estimates`` within ``+-half_width`` of
    ``P`` (to one estimate either way)."""
    repeats = len(estimates)
    inside = ((estimates - P).abs() <= half_width).double().mean().item()
    share = _number(coverage, "coverage", "the share of your estimates inside the band (in [0, 1])")
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
    ``+-0.005``, 500 repeats. ``N_needed`` must be within 1% of
    ``ceil(Z_95^2 P (1 - P) / half_width^2)``; ``P_hat`` must hold frequencies out of
    ``N_needed`` draws whose mean lies within 4 standard errors of ``P`` and whose spread is
    within 20% of ``sqrt(P (1 - P) / N_needed)``; ``coverage`` must be the share of ``P_hat``
    inside the band (to one estimate). Nothing is simulated here.
    """
    P, half_width, repeats = _check_coverage_setting(P, half_width, repeats)
    N = _predicted_draws(N_needed, P, half_width)
    estimates = _estimates(P_hat, repeats)
    _check_simulation(estimates, N, P)
    share = _check_share(coverage, estimates, P, half_width)
    exact = _coverage_probability(P, N, half_width)
    return (
        f"{share:.3f} of your estimates land in the band; the exact probability for N = {N} is {exact:.3f}."
    )
