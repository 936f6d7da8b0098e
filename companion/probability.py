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
- :func:`sample_bits` and :func:`empirical_joint`: Monte Carlo estimates, and their standard
  errors. Every draw comes from the ``seed`` argument (:data:`companion.runtime.Seed`).
- :func:`count_distribution` and :func:`binomial_pmf`: the number of ones
  ``K = x_1 + ... + x_n``; binomial when every ``p_i`` is the same.
- :func:`majority_accuracy` and :func:`sample_votes`: a majority vote over ``m`` queries, each
  right with probability ``q``, when the queries are independent or share a latent component
  (the copy mixture: with probability ``rho`` one answer is copied to every query, which gives a
  pairwise correlation of ``rho``); :func:`run_vote_experiment` is the chapter's experiment.
- :func:`beta_parameters`, :func:`beta_majority_accuracy`, :func:`beta_plateau` and
  :func:`sample_beta_votes`: another model with the same ``q`` and pairwise correlation
  ``rho``, in which every input has its own accuracy drawn from a beta distribution (the number
  of right answers is beta-binomial); its vote levels off elsewhere.
- :func:`marginals`, :func:`conditional`, :func:`covariance`, :func:`is_independent`: a
  dependent table and how to tell it from a product of its marginals.

The chapter's figures and explorer are in :mod:`companion.figures.probability`; its exercise
checks and each student's parameters in :mod:`companion.classroom.checks.ch06_probability_exercise`.

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

import torch

from companion import training
from companion.runtime import Seed, generator
from companion.validation import (
    require_outcome_table,
    require_positive_int,
    require_probabilities,
    require_probability,
    require_tensor,
)

__all__ = [
    "Z_95",
    "VoteExperiment",
    "VoteResult",
    "beta_majority_accuracy",
    "beta_parameters",
    "beta_plateau",
    "binomial_pmf",
    "check_joint",
    "conditional",
    "correlation_range",
    "count_distribution",
    "covariance",
    "empirical_joint",
    "format_table",
    "independence_gap",
    "is_independent",
    "joint_distribution",
    "majority_accuracy",
    "marginals",
    "outcomes",
    "pair_table",
    "run_vote_experiment",
    "running_frequencies",
    "sample_beta_votes",
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


# ---------------------------------------------------------------------------------------------
# Exact tables


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
    p = require_probabilities("p", p)
    if len(p) > MAX_BITS:
        raise ValueError(
            f"p has {len(p)} bits, so the table would list 2**{len(p)} outcomes; at most {MAX_BITS} "
            "are allowed. For the number of ones use count_distribution(p)."
        )
    return {
        x: math.prod(p_i if x_i == "1" else 1.0 - p_i for p_i, x_i in zip(p, x, strict=True))
        for x in outcomes(len(p))
    }


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
    n, keys = require_outcome_table(name, table)
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
    n, keys = require_outcome_table("table", table)
    require_positive_int("digits", digits)
    lines = [f"P({x}) = {table[x]:.{digits}f}" for x in keys]
    lines.append(f"{'sum':>{n + 3}} = {math.fsum(table[x] for x in keys):.{digits}f}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Monte Carlo


def sample_bits(p: Sequence[float] | torch.Tensor, num_samples: int, *, seed: Seed = None) -> torch.Tensor:
    """``num_samples`` draws of ``n`` independent bits, ``x_i ~ Bernoulli(p_i)``, from ``seed``:
    ``(num_samples, n)`` int64 in {0, 1}."""
    p = require_probabilities("p", p)
    require_positive_int("num_samples", num_samples)
    g = generator(seed)
    probabilities = torch.tensor(p, dtype=torch.float64).expand(num_samples, len(p))  # (N, n)
    return torch.bernoulli(probabilities, generator=g).long()


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
    independent draws. About 95% of estimates lie within ``Z_95`` standard errors of ``P``.

    The same binomial standard error as :func:`companion.training.standard_error` (which this
    calls), with this chapter's names for the arguments."""
    P = require_probability("P", P)
    require_positive_int("num_samples", num_samples)
    return training.standard_error(P, num_samples)


# ---------------------------------------------------------------------------------------------
# Counting ones and majority votes


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
    p = require_probabilities("p", p)
    P = [1.0]  # zero bits: K = 0 surely
    for p_i in p:
        P = [
            (P[k] if k < len(P) else 0.0) * (1 - p_i) + (P[k - 1] * p_i if k else 0.0)
            for k in range(len(P) + 1)
        ]
    return P


def _require_votes(q: object, m: object, rho: object) -> tuple[float, int, float]:
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

    The plateau belongs to this copy-mixture model, not to the correlation ``rho``: other models
    with the same ``q`` and pairwise correlation level off elsewhere (:func:`beta_plateau`).

    Parameters
    ----------
    q : float
        Accuracy of one query, in [0, 1].
    m : int
        Number of queries, odd.
    rho : float
        Probability that an input's ``m`` answers are copies of one draw, in [0, 1]; it is also
        the correlation between any two queries' correctness.
    """
    q, m, rho = _require_votes(q, m, rho)
    independent = math.fsum(binomial_pmf(m, q)[(m + 1) // 2 :])
    return rho * q + (1.0 - rho) * independent


def sample_votes(q: float, m: int, num_samples: int, rho: float = 0.0, *, seed: Seed = None) -> torch.Tensor:
    """Simulate ``num_samples`` inputs, each queried ``m`` times; ``True`` where a query is right.

    The latent model: for each input a shared switch ``S ~ Bernoulli(rho)``. If ``S = 1`` the input
    decides the answer ("hard" or "easy" whatever the defence's noise): one draw
    ``C ~ Bernoulli(q)`` is copied to all ``m`` queries. Otherwise each query draws its own
    ``Bernoulli(q)``. Every query is right with probability ``q`` and two queries' correctness has
    correlation ``rho``. Every draw comes from ``seed``. Returns ``(num_samples, m)`` bool.
    """
    q, m, rho = require_probability("q", q), require_positive_int("m", m), require_probability("rho", rho)
    require_positive_int("num_samples", num_samples)
    g, N = generator(seed), num_samples
    S = torch.rand(N, 1, generator=g, dtype=torch.float64) < rho  # (N, 1) shared switch
    C = torch.rand(N, 1, generator=g, dtype=torch.float64) < q  # (N, 1) the shared answer
    own = torch.rand(N, m, generator=g, dtype=torch.float64) < q  # (N, m) independent answers
    return torch.where(S, C.expand(N, m), own)


# ---------------------------------------------------------------------------------------------
# Another model with the same pairwise correlation: every input has its own accuracy


def beta_parameters(q: float, rho: float) -> tuple[float, float]:
    """``(a, b)`` of the beta distribution with mean ``q`` whose draws, used as the accuracy of
    every query of one input, give two queries a correlation of ``rho``.

    An input's accuracy ``Q ~ Beta(a, b)`` has mean ``a / (a + b) = q``, and given ``Q`` its
    queries are independent; two of them are both right with probability ``E[Q^2]``, so their
    correctness has correlation ``Var(Q) / (q (1 - q)) = 1 / (a + b + 1) = rho``. Hence
    ``a + b = 1 / rho - 1``, ``a = q (1 / rho - 1)``, ``b = (1 - q) (1 / rho - 1)``. Needs
    ``0 < q < 1`` and ``0 < rho < 1`` (``rho = 0`` would be independent queries, ``rho = 1``
    every query a copy of the first).
    """
    q, rho = require_probability("q", q), require_probability("rho", rho)
    for name, value in (("q", q), ("rho", rho)):
        if not 0.0 < value < 1.0:
            raise ValueError(f"{name} must lie strictly between 0 and 1 for a beta distribution, got {value}")
    total = 1.0 / rho - 1.0  # a + b
    return q * total, (1.0 - q) * total


def _stats():
    """``scipy.stats``, imported on first use: it is slow to import, and every chapter imports
    this module (through the exercise checks) while only chapter 6's beta model needs it."""
    from scipy import stats

    return stats


def beta_majority_accuracy(q: float, m: int, rho: float) -> float:
    """Accuracy of a majority vote of ``m`` queries when every input has its own accuracy
    ``Q ~ Beta(a, b)`` (:func:`beta_parameters` ``(q, rho)``) and its queries are independent
    given ``Q``.

    The number of right answers ``J`` is then beta-binomial, and the vote is right when
    ``J >= (m + 1) / 2``: ``P(J > (m - 1) / 2)`` from ``scipy.stats.betabinom``. The arguments
    are in the order of :func:`majority_accuracy`; one query (``m = 1``) is right with
    probability ``q``, as in the copy mixture, and two queries have the same correlation ``rho``,
    but a long vote levels off at :func:`beta_plateau`, not at ``rho * q + 1 - rho``.
    """
    q, m, rho = _require_votes(q, m, rho)
    a, b = beta_parameters(q, rho)
    return float(_stats().betabinom.sf((m - 1) // 2, m, a, b))


def beta_plateau(q: float, rho: float) -> float:
    """``P(Q > 1/2)`` for ``Q ~ Beta(a, b)`` (:func:`beta_parameters` ``(q, rho)``): the limit of
    :func:`beta_majority_accuracy` as ``m`` grows.

    Given ``Q``, a long vote is right when ``Q > 1/2`` and wrong when ``Q < 1/2`` (the law of
    large numbers), so its accuracy tends to the share of inputs whose own accuracy exceeds 1/2.
    """
    a, b = beta_parameters(q, rho)
    return float(_stats().beta.sf(0.5, a, b))


def sample_beta_votes(q: float, m: int, num_samples: int, rho: float, *, seed: Seed = None) -> torch.Tensor:
    """Simulate the beta model of :func:`beta_majority_accuracy`: ``num_samples`` inputs, each
    with its own accuracy ``Q ~ Beta(a, b)``, queried ``m`` times independently given ``Q``.

    ``Q`` is drawn by inversion, ``Q = F^{-1}(U)`` with ``U`` uniform from ``seed`` and ``F`` the
    beta distribution's CDF (``scipy.stats.beta.ppf``), so every draw comes from ``seed``.
    Returns ``(num_samples, m)`` bool, ``True`` where a query is right.
    """
    q, m, rho = require_probability("q", q), require_positive_int("m", m), require_probability("rho", rho)
    require_positive_int("num_samples", num_samples)
    a, b = beta_parameters(q, rho)
    g = generator(seed)
    U = torch.rand(num_samples, dtype=torch.float64, generator=g)  # (N,)
    Q = torch.from_numpy(_stats().beta.ppf(U.numpy(), a, b))[:, None]  # (N, 1) each input's accuracy
    return torch.rand(num_samples, m, dtype=torch.float64, generator=g) < Q  # (N, m)


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


def run_vote_experiment(config: VoteExperiment, *, seed: Seed = None) -> VoteResult:
    """Majority-vote accuracy for each ``m``: exact (:func:`majority_accuracy`) and simulated
    (:func:`sample_votes`, every simulation drawing from the one generator of ``seed``), for
    independent queries and for correlation ``config.rho``."""
    if not isinstance(config, VoteExperiment):
        raise TypeError(f"config must be a VoteExperiment, got {type(config).__name__}")
    g = generator(seed)
    curves = []  # (exact, simulated) for rho = 0, then for config.rho
    for rho in (0.0, config.rho):
        exact = [majority_accuracy(config.q, m, rho) for m in config.ms]
        simulated = []
        for m in config.ms:
            votes = sample_votes(config.q, m, config.num_samples, rho, seed=g)  # (N, m)
            majority_right = votes.sum(dim=1) > m // 2  # (N,)
            simulated.append(majority_right.double().mean().item())
        curves.append((exact, simulated))
    (exact_independent, simulated_independent), (exact_correlated, simulated_correlated) = curves
    return VoteResult(
        config, exact_independent, exact_correlated, simulated_independent, simulated_correlated
    )


# ---------------------------------------------------------------------------------------------
# Dependent bits


def _require_index(name: str, i: object, n: int) -> int:
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
    i, j = _require_index("i", i, n), _require_index("j", j, n)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value not in (0, 1):
        raise ValueError(f"value must be 0 or 1, got {value!r}")
    value = int(value)  # 1.0 means the bit 1: the outcome strings hold "0" and "1"
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
    i, j = _require_index("i", i, n), _require_index("j", j, n)
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
    if isinstance(rho, bool) or not isinstance(rho, numbers.Real) or math.isnan(rho):
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
