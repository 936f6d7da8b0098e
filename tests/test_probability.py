import hashlib
import math

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from companion import probability as pr
from companion.classroom import exercises

NOTES_TABLE = {"00": 0.64, "01": 0.64, "10": 0.64, "11": 0.64}  # every entry 0.8 * 0.8
probabilities = st.floats(0.0, 1.0, allow_nan=False)


# --- exact tables ------------------------------------------------------------------------------


def test_the_exercise_table():
    table = pr.joint_distribution([0.2, 0.2])  # P(x_i = 0) = 0.8
    assert list(table) == ["00", "01", "10", "11"]
    assert table == pytest.approx({"00": 0.64, "01": 0.16, "10": 0.16, "11": 0.04}, abs=1e-15)
    assert pr.check_joint(table) == table


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(probabilities, min_size=1, max_size=8))
def test_tables_follow_the_product_rule_and_sum_to_one(p):
    table = pr.joint_distribution(p)
    assert len(table) == 2 ** len(p)
    for x, P in table.items():
        expected = 1.0
        for p_i, x_i in zip(p, x, strict=True):
            expected *= p_i if x_i == "1" else 1 - p_i
        assert P == pytest.approx(expected, rel=1e-12, abs=1e-300)
    assert abs(math.fsum(table.values()) - 1.0) <= 1e-12
    pr.check_joint(table)
    assert pr.marginals(table) == pytest.approx(p, abs=1e-12)
    assert pr.is_independent(table)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.integers(1, 10), probabilities)
def test_the_count_of_ones_is_binomial(n, p):
    pmf = pr.binomial_pmf(n, p)
    assert pmf == pytest.approx(
        [math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)], abs=1e-15
    )
    assert pr.count_distribution([p] * n) == pytest.approx(pmf, abs=1e-12)
    assert abs(math.fsum(pmf) - 1.0) <= 1e-12


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.lists(probabilities, min_size=1, max_size=8))
def test_count_distribution_sums_the_joint_table_by_number_of_ones(p):
    table = pr.joint_distribution(p)
    by_count = [math.fsum(P for x, P in table.items() if x.count("1") == k) for k in range(len(p) + 1)]
    assert pr.count_distribution(p) == pytest.approx(by_count, abs=1e-12)


def test_tensor_and_numpy_inputs_give_the_same_table():
    expected = pr.joint_distribution([0.1, 0.7, 0.4])
    assert pr.joint_distribution(torch.tensor([0.1, 0.7, 0.4], dtype=torch.float64)) == pytest.approx(
        expected
    )
    assert pr.joint_distribution(np.array([0.1, 0.7, 0.4])) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("p", "error", "match"),
    [
        ([0.2, 1.2], ValueError, r"p\[1\] must lie in \[0, 1\], got 1.2"),
        ([-0.1], ValueError, r"p\[0\] must lie in \[0, 1\]"),
        ([0.5, float("nan")], ValueError, r"p\[1\] must lie in \[0, 1\], got nan"),
        ([], ValueError, "at least one probability"),
        (torch.rand(2, 2), ValueError, "must have 1 dimensions, got shape"),
        (np.zeros((2, 2)), ValueError, "1-dimensional"),
        (torch.tensor([0, 1]), TypeError, "floating dtype"),
        (0.2, TypeError, "list of per-bit probabilities"),
        ("0.2", TypeError, "list of per-bit probabilities"),
        ([0.2, "a"], TypeError, r"p\[1\] must be a number"),
        ([True], TypeError, r"p\[0\] must be a number"),
        ([0.5] * 17, ValueError, "at most 16"),
    ],
)
def test_bad_p_is_refused(p, error, match):
    with pytest.raises(error, match=match):
        pr.joint_distribution(p)


# --- check_joint -------------------------------------------------------------------------------


def test_check_joint_rejects_the_notes_table_naming_the_sum():
    with pytest.raises(ValueError, match=r"sums to 2\.56 \(P\(00\) = 0\.64, P\(01\) = 0\.64"):
        pr.check_joint(NOTES_TABLE)


@pytest.mark.parametrize(
    ("table", "error", "match"),
    [
        ([0.64, 0.16], TypeError, "must be a dict"),
        ({}, ValueError, "at least one outcome"),
        ({"0a": 1.0}, ValueError, "strings of 0s and 1s"),
        ({0: 1.0}, ValueError, "strings of 0s and 1s"),
        ({"0": 0.5, "10": 0.5}, ValueError, r"same number of bits, got lengths \[1, 2\]"),
        ({"00": 0.5, "01": 0.5}, ValueError, r"missing '10', '11'"),
        ({"0": 0.5, "1": "0.5"}, TypeError, r"table\['1'\] must be a number, got str"),
        ({"0": 0.5, "1": float("nan")}, ValueError, r"table\['1'\] is nan"),
        ({"0": 1.5, "1": -0.5}, ValueError, r"cannot be negative, got P\(1\) = -0.5"),
        ({"0": 1.5, "1": 0.0}, ValueError, r"sums to 1.5 .*P\(0\) = 1.5 alone exceed 1"),
        ({"0": 0.3, "1": 0.3}, ValueError, r"sums to 0.6"),
    ],
)
def test_check_joint_errors_say_what_is_wrong(table, error, match):
    with pytest.raises(error, match=match):
        pr.check_joint(table)


def test_check_joint_shows_only_the_largest_entries_of_a_big_table():
    table = dict.fromkeys(pr.outcomes(4), 0.1)
    with pytest.raises(ValueError, match=r"sums to 1.6 \(largest P\(0000\) = 0.1"):
        pr.check_joint(table)


# --- dependent bits ----------------------------------------------------------------------------

DEPENDENT = {"00": 0.70, "01": 0.10, "10": 0.10, "11": 0.10}  # the notebook's dependent pair


def test_marginals_conditionals_and_independence_of_a_dependent_pair():
    assert pr.marginals(DEPENDENT) == pytest.approx([0.2, 0.2])
    assert pr.conditional(DEPENDENT, 1, 0, 1) == pytest.approx(0.5)
    assert pr.conditional(DEPENDENT, 1, 0, 0) == pytest.approx(0.125)
    assert pr.covariance(DEPENDENT) == pytest.approx(0.06)
    assert pr.independence_gap(DEPENDENT) == pytest.approx(0.06)
    assert not pr.is_independent(DEPENDENT)


def test_pairwise_independent_bits_need_not_be_independent():
    """x_3 = x_1 XOR x_2 for fair x_1, x_2: every pair is independent, the three are not."""
    table = {x: (0.25 if (x[0] != x[1]) == (x[2] == "1") else 0.0) for x in pr.outcomes(3)}
    for i, j in [(0, 1), (0, 2), (1, 2)]:
        assert pr.covariance(table, i, j) == pytest.approx(0.0, abs=1e-15)
    assert not pr.is_independent(table)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.floats(0.01, 0.99), st.floats(0.01, 0.99), st.floats(0.0, 1.0))
@example(p1=0.5, p2=0.9899999999999999, t=0.0)  # P(00) = 1 - p1 - p2 + P(11) rounds to -1e-16
def test_pair_table_has_the_asked_marginals_and_correlation(p1, p2, t):
    low, high = pr.correlation_range(p1, p2)
    rho = low + t * (high - low)
    table = pr.pair_table(p1, p2, rho)
    pr.check_joint(table)
    assert pr.marginals(table) == pytest.approx([p1, p2], abs=1e-12)
    s = math.sqrt(p1 * (1 - p1) * p2 * (1 - p2))
    assert pr.covariance(table) / s == pytest.approx(rho, abs=1e-9)
    assert pr.pair_table(p1, p2, 0.0) == pytest.approx(pr.joint_distribution([p1, p2]))


def test_dependent_pair_errors():
    with pytest.raises(ValueError, match=r"rho must lie in \[-0.250, 1.000\] for p1 = 0.2"):
        pr.pair_table(0.2, 0.2, -0.5)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        pr.correlation_range(0.0, 0.5)
    with pytest.raises(ValueError, match="impossible event"):
        pr.conditional({"00": 0.5, "01": 0.5, "10": 0.0, "11": 0.0}, 1, 0, 1)
    with pytest.raises(ValueError, match=r"bit position in \[0, 1\]"):
        pr.covariance(DEPENDENT, 0, 2)
    with pytest.raises(TypeError, match="i must be an int"):
        pr.conditional(DEPENDENT, "0", 1, 1)
    with pytest.raises(ValueError, match="value must be 0 or 1"):
        pr.conditional(DEPENDENT, 0, 1, 2)


# --- Monte Carlo -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_monte_carlo_estimates_lie_within_four_standard_errors(seed):
    p, N = [0.2, 0.2], 50_000
    samples = pr.sample_bits(p, N, torch.Generator().manual_seed(seed))
    assert samples.shape == (N, 2) and samples.dtype == torch.int64
    estimate = pr.empirical_joint(samples)
    for x, P in pr.joint_distribution(p).items():
        assert abs(estimate[x] - P) <= 4 * pr.standard_error(P, N)


def test_the_notebooks_convergence_run_ends_inside_the_95_percent_band():
    """The chapter's seed and N: every final estimate lies in P +- 1.96 SE."""
    p, N = [0.2, 0.2], 20_000
    samples = pr.sample_bits(p, N, torch.Generator().manual_seed(0))
    final = pr.running_frequencies(samples)[-1]
    assert torch.allclose(
        final, torch.tensor(list(pr.empirical_joint(samples).values()), dtype=torch.float64)
    )
    for P_hat, P in zip(final.tolist(), pr.joint_distribution(p).values(), strict=True):
        assert abs(P_hat - P) <= pr.Z_95 * pr.standard_error(P, N)
    assert isinstance(pr.convergence_figure(p, samples), Figure)


def test_sampling_is_reproducible_and_uses_only_the_generator():
    a = pr.sample_bits([0.3, 0.6], 100, torch.Generator().manual_seed(5))
    torch.manual_seed(123)
    b = pr.sample_bits([0.3, 0.6], 100, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_monte_carlo_errors():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(TypeError, match="generator must be a torch.Generator, got int"):
        pr.sample_bits([0.5], 10, 0)
    with pytest.raises(ValueError, match="num_samples must be >= 1"):
        pr.sample_bits([0.5], 0, g)
    with pytest.raises(ValueError, match="only 0s and 1s"):
        pr.empirical_joint(torch.tensor([[0, 2]]))
    with pytest.raises(TypeError, match="integer dtype"):
        pr.empirical_joint(torch.tensor([[0.0, 1.0]]))
    with pytest.raises(ValueError, match="at least one row"):
        pr.empirical_joint(torch.zeros(0, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="P must lie in"):
        pr.standard_error(1.5, 10)


# --- majority votes: the chapter's headline ----------------------------------------------------


@pytest.mark.parametrize("q", [0.3, 0.5, 0.8, 0.95])
@pytest.mark.parametrize("m", [1, 3, 7])
def test_majority_formula(q, m):
    brute = math.fsum(
        math.prod(q if c == "1" else 1 - q for c in x) for x in pr.outcomes(m) if x.count("1") > m // 2
    )
    assert pr.majority_accuracy(q, m) == pytest.approx(brute, abs=1e-12)
    assert pr.majority_accuracy(q, m, rho=1.0) == pytest.approx(q)


def test_correlated_votes_have_the_asked_marginal_and_correlation():
    votes = pr.sample_votes(0.8, 2, 100_000, torch.Generator().manual_seed(0), rho=0.3).double()
    assert votes.mean(dim=0).tolist() == pytest.approx([0.8, 0.8], abs=4 * pr.standard_error(0.8, 100_000))
    assert torch.corrcoef(votes.T)[0, 1].item() == pytest.approx(0.3, abs=0.02)


def test_the_headline_majority_vote_experiment():
    """Independent votes approach 1; correlated ones level off at rho q + 1 - rho; the notebook's run
    (its defaults and its own generator, seeded 0) agrees with the formulas to about 2 standard errors."""
    config = pr.VoteExperiment()  # the notebook's defaults
    result = pr.run_vote_experiment(config, torch.Generator().manual_seed(0))  # the notebook's generator
    assert result.exact_independent[0] == pytest.approx(config.q)
    assert all(np.diff(result.exact_independent) > 0) and result.exact_independent[-1] > 0.9999
    assert all(np.diff(result.exact_correlated) > 0)
    assert all(c < i for c, i in zip(result.exact_correlated[1:], result.exact_independent[1:], strict=True))
    assert result.plateau == pytest.approx(0.94)
    assert result.plateau - 1e-3 < result.exact_correlated[-1] < result.plateau
    z = [
        abs(A_hat - A) / pr.standard_error(A, config.num_samples)
        for exact, simulated in [
            (result.exact_independent, result.simulated_independent),
            (result.exact_correlated, result.simulated_correlated),
        ]
        for A, A_hat in zip(exact, simulated, strict=True)
    ]
    assert len(z) == 2 * len(config.ms) and result.largest_deviation == pytest.approx(max(z))
    assert result.largest_deviation < 4  # the chapter: "one of 4 or more would point to a bug"
    assert isinstance(pr.majority_figure(result), Figure)


def test_simulated_votes_deviate_from_the_formulas_as_chance_does():
    """Over 20 seeds of the notebook's experiment, the simulated accuracies' deviations from
    the exact ones, in standard errors, behave like standard normal draws: their mean square is
    near 1 (not near 0, which a simulation that copies the formula would give, nor large, which a
    wrong formula would) and none is extreme. Points whose A (1 - A) N < 10 (A near 1) are left
    out: there the normal approximation does not hold."""
    config = pr.VoteExperiment()
    z = []
    for seed in range(20):
        result = pr.run_vote_experiment(config, torch.Generator().manual_seed(seed))
        for exact, simulated in [
            (result.exact_independent, result.simulated_independent),
            (result.exact_correlated, result.simulated_correlated),
        ]:
            for A, A_hat in zip(exact, simulated, strict=True):
                if config.num_samples * A * (1 - A) >= 10:
                    z.append((A_hat - A) / pr.standard_error(A, config.num_samples))
    z = np.array(z)
    assert len(z) >= 300
    assert 0.7 < np.mean(z**2) < 1.4 and np.abs(z).max() < 4.5, (np.mean(z**2), np.abs(z).max())
    assert 0.01 < np.mean(np.abs(z) > pr.Z_95) < 0.1  # about one point in twenty outside the band


def test_largest_deviation_of_exact_points():
    config = pr.VoteExperiment(q=1.0, ms=(1, 3), num_samples=10)
    result = pr.run_vote_experiment(config, torch.Generator().manual_seed(0))
    assert result.largest_deviation == 0.0  # A = 1 has no standard error, and the simulation hits it
    off = pr.VoteResult(config, [1.0, 1.0], [1.0, 1.0], [1.0, 0.9], [1.0, 1.0])
    assert off.largest_deviation == math.inf


def test_majority_errors():
    with pytest.raises(ValueError, match="m must be odd .* got 4; try 3 or 5"):
        pr.majority_accuracy(0.8, 4)
    with pytest.raises(ValueError, match="rho must lie in"):
        pr.majority_accuracy(0.8, 3, rho=1.5)
    with pytest.raises(TypeError, match="config must be a VoteExperiment"):
        pr.run_vote_experiment({"q": 0.8}, torch.Generator())


# --- figures -----------------------------------------------------------------------------------


def test_draw_pair_clips_an_infeasible_correlation():
    fig = pr.draw_pair(0.2, 0.2, -0.9)
    assert isinstance(fig, Figure)
    assert "clipped" in fig.axes[1].get_title()
    assert "clipped" not in pr.draw_pair(0.2, 0.7, 0.1).axes[1].get_title()


def test_format_table():
    text = pr.format_table(pr.joint_distribution([0.2, 0.2]))
    assert text.splitlines()[0] == "P(00) = 0.6400" and text.splitlines()[-1].endswith("sum = 1.0000")


def test_vote_experiment_with_rho_zero_gives_two_equal_curves():
    config = pr.VoteExperiment(ms=(1, 3), rho=0.0, num_samples=100)
    result = pr.run_vote_experiment(config, torch.Generator().manual_seed(0))
    assert len(result.exact_correlated) == 2 and result.exact_correlated == result.exact_independent


def test_marginals_of_a_certain_bit_stay_a_probability():
    """Found by CI: p = [1.0, ...] gave a marginal of 1.0000000000000002 and is_independent raised."""
    table = pr.joint_distribution([1.0, 0.3611798566411491, 0.35960298108128735])
    assert all(0.0 <= m <= 1.0 for m in pr.marginals(table))
    assert pr.is_independent(table)


# --- exercises: per-student parameters and their checks -----------------------------------------

SEEDS = [0, 1, 2, 3, 7, 42, 2026]
LABELS = {
    "table": "ex-probability-table",
    "at_least_one": "ex-probability-at-least-one",
    "count": "ex-probability-count",
    "majority": "ex-probability-majority",
    "independence": "ex-probability-independence",
}


def _right_answers(params):
    p1, p2 = params.p
    t = params.table
    cov = pr.covariance(t)
    return {
        "table": pr.joint_distribution(params.p),
        "at_least_one": 1 - (1 - p1) * (1 - p2),
        "count": pr.binomial_pmf(5, params.p_count),
        "majority": params.q**3 + 3 * params.q**2 * (1 - params.q),
        "independence": ((t["10"] + t["11"], t["01"] + t["11"]), cov, abs(cov) < 1e-9),
    }


def _wrong_answers(params):
    p1, p2 = params.p
    q, p = params.q, params.p_count
    (m1, m2), cov, independent = _right_answers(params)["independence"]
    independence = [
        ((m1, m2), cov, not independent),
        ((m1, m2), cov + 0.05, True),
        ((m1, m2), cov, "yes"),
        ((m1, m2), "0", False),
        ((m1, m2, 0.5), cov, independent),
        ((m1 + 0.1, m2), cov, independent),
        ((1 - m1, 1 - m2), cov, independent) if abs(m1 - 0.5) > 0.01 else ((0.0, 0.0), cov, independent),
        ((m2, m1), cov, independent) if abs(m1 - m2) > 0.01 else ((m1, 1.0), cov, independent),
    ]
    return {
        "table": [
            NOTES_TABLE,
            pr.joint_distribution([1 - p1, 1 - p2]),
            pr.joint_distribution([p2, p1]),
            {"00": 0.25, "01": 0.25, "10": 0.25, "11": 0.25},
            [0.1, 0.2],
            {"0": 0.5, "1": 0.5},
        ],
        "at_least_one": [p1 + p2, p1 * p2, (1 - p1) * (1 - p2), 1.5, "x", 0.999, torch.tensor([0.1, 0.2])],
        "count": [
            pr.binomial_pmf(5, p)[::-1] if abs(p - 0.5) > 0.01 else [0.5] * 6,
            [p**k * (1 - p) ** (5 - k) for k in range(6)],
            [1 / 6] * 6,
            [0.1] * 5,
            "abc",
            [0.1, 0.2, "x", 0.3, 0.2, 0.2],
        ],
        "majority": [q**3, q**3 + q**2 * (1 - q), 3 * q**2 * (1 - q), q, 0.001],
        "independence": independence,
    }


CHECKERS = {
    "table": pr.check_answer_table,
    "at_least_one": pr.check_answer_at_least_one,
    "count": pr.check_answer_count,
    "majority": pr.check_answer_majority,
    "independence": lambda answer, params: pr.check_answer_independence(*answer, params),
}


def _flat(answer):
    """A right answer as a list of floats (a bool counts as 0 or 10, far apart)."""
    if isinstance(answer, dict):
        return list(answer.values())
    if isinstance(answer, tuple):  # (marginals, cov, independent)
        return [*answer[0], answer[1], 10.0 * answer[2]]
    return list(answer) if isinstance(answer, list) else [answer]


def _revealing_strings(value):
    """Decimal renderings of a right answer's numbers that a message must not contain."""
    return {f"{v:.{d}f}" for v in _flat(value) for d in (3, 4)} - {"0.000", "0.0000", "10.000", "10.0000"}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("exercise", list(CHECKERS))
def test_checkers_accept_the_right_answer_and_reject_wrong_ones_without_revealing_it(seed, exercise):
    params = pr.exercise_parameters(seed)
    check = CHECKERS[exercise]
    right = _right_answers(params)[exercise]
    feedback = check(right, params)
    assert feedback.correct and feedback.exercise == LABELS[exercise], feedback
    assert str(feedback).startswith(f"Correct ({LABELS[exercise]}): ")
    secret = _revealing_strings(right)
    for wrong in _wrong_answers(params)[exercise]:
        feedback = check(wrong, params)
        assert isinstance(feedback, exercises.Feedback) and not feedback.correct, wrong
        assert str(feedback).startswith(f"Not yet ({LABELS[exercise]}): ")
        shown = str(params) + str(wrong)
        assert not [s for s in secret if s in feedback.message and s not in shown], feedback.message


def _rounded(answer, digits=3):
    """A right answer as a student would write it: every number rounded to ``digits`` decimals."""
    if isinstance(answer, dict):
        return {x: round(P, digits) for x, P in answer.items()}
    if isinstance(answer, list):
        return [round(P, digits) for P in answer]
    if isinstance(answer, tuple):  # (marginals, cov, independent)
        return tuple(round(m, digits) for m in answer[0]), round(answer[1], digits), answer[2]
    return round(answer, digits)


@pytest.mark.parametrize("exercise", list(CHECKERS))
def test_answers_rounded_to_three_decimals_pass_for_every_seed(exercise):
    """Rounding each number moves it by up to 0.0005 and a table's sum by up to 0.002 (seed 11's
    table once summed to 1.001 and was refused)."""
    for seed in range(200):
        params = pr.exercise_parameters(seed)
        answer = _rounded(_right_answers(params)[exercise])
        feedback = CHECKERS[exercise](answer, params)
        assert feedback.correct, (seed, answer, feedback.message)


def test_answers_as_tensors_and_arrays_pass():
    params = pr.exercise_parameters(5)
    right = _right_answers(params)
    assert pr.check_answer_at_least_one(torch.tensor(right["at_least_one"]), params).correct
    assert pr.check_answer_majority(np.float64(right["majority"]), params).correct
    assert pr.check_answer_count(torch.tensor(right["count"]), params).correct
    assert pr.check_answer_count(np.array(right["count"]), params).correct
    marginals, cov, independent = right["independence"]
    assert pr.check_answer_independence(
        torch.tensor(marginals), torch.tensor(cov), independent, params
    ).correct
    assert pr.check_answer_independence(list(marginals), cov, np.bool_(independent), params).correct


def test_checker_hints_name_the_mistake():
    params = pr.exercise_parameters(0)
    p1, p2 = params.p
    assert "sums to 2.56" in pr.check_answer_table(NOTES_TABLE, params).message
    assert "P(x_i = 0)" in pr.check_answer_table(pr.joint_distribution([1 - p1, 1 - p2]), params).message
    assert "check the order" in pr.check_answer_table(pr.joint_distribution([p2, p1]), params).message
    assert "11 twice" in pr.check_answer_at_least_one(p1 + p2, params).message
    assert "That is P(00)" in pr.check_answer_at_least_one((1 - p1) * (1 - p2), params).message
    assert "reversed" in pr.check_answer_count(pr.binomial_pmf(5, params.p_count)[::-1], params).message
    p = params.p_count
    assert (
        "C(5, k) strings"
        in pr.check_answer_count([p**k * (1 - p) ** (5 - k) for k in range(6)], params).message
    )
    assert "two right out of three" in pr.check_answer_majority(params.q**3, params).message
    assert "`answer` is still None" in pr.check_answer_majority(None, params).message
    (m1, m2), cov, independent = _right_answers(params)["independence"]
    check = pr.check_answer_independence
    assert "wrong order" in check((m2, m1), cov, independent, params).message
    assert "Those are P(x_i = 0)" in check((1 - m1, 1 - m2), cov, independent, params).message
    assert "marginals are off" in check((m1 + 0.1, m2), cov, independent, params).message
    assert "covariance is off" in check((m1, m2), cov + 0.05, independent, params).message
    assert "covariance is right" in check((m1, m2), cov, not independent, params).message


def test_the_unanswered_stubs_say_not_yet_and_name_the_variable():
    params = pr.exercise_parameters(2026)
    feedback = {
        "answer": [check(None, params) for check in list(CHECKERS.values())[:4]],
        "marginals": [pr.check_answer_independence(None, None, None, params)],
        "cov": [pr.check_answer_independence((0.5, 0.5), None, None, params)],
        "independent": [pr.check_answer_independence((0.5, 0.5), 0.0, None, params)],
        "xor": [pr.check_answer_xor(None, None, None)],
        "pair_covariances": [pr.check_answer_xor(XOR, None, None)],
        "mutually_independent": [pr.check_answer_xor(XOR, [0.0, 0.0, 0.0], None)],
        "N_needed": [pr.check_answer_coverage(None, None, None)],
        "P_hat": [pr.check_answer_coverage(COVERAGE_N, None, None)],
    }
    for name, results in feedback.items():
        for result in results:
            assert not result.correct and f"`{name}` is still None" in result.message, result
            assert str(result).startswith(f"Not yet ({result.exercise}): ")


def test_every_check_is_registered_under_its_exercise_label():
    checks = {
        **{label: CHECKERS[name] for name, label in LABELS.items() if name != "independence"},
        "ex-probability-independence": pr.check_answer_independence,
        "ex-probability-xor": pr.check_answer_xor,
        "ex-probability-coverage": pr.check_answer_coverage,
    }
    for label, check in checks.items():
        assert exercises.CHECKS[label] is check and check.exercise == label


def test_checks_refuse_a_params_that_is_not_exercise_parameters():
    """``params`` belongs to the exercise, not the answer: a wrong one is the notebook's mistake."""
    for name, check in CHECKERS.items():
        with pytest.raises(TypeError, match="params must be ExerciseParameters"):
            check(_right_answers(pr.exercise_parameters(0))[name], {"p": (0.2, 0.2)})


# --- one student's answer fails another student's check --------------------------------------

CLASS = list(range(30)) + [
    int(hashlib.sha256(f"student-{i}".encode()).hexdigest()[:8], 16) for i in range(30)
]
"""Sixty seeds: small ones, and large ones like those a roster derives from student ids."""

SHARED = {"table": 1e-3, "at_least_one": 0.012, "count": 0.005, "majority": 0.012, "independence": 1e-3}
"""Largest share of ordered pairs of seeds whose right answers may pass each other's check."""


def _within(a, b, tolerance):
    return all(abs(x - y) <= tolerance for x, y in zip(_flat(a), _flat(b), strict=True))


@pytest.mark.parametrize("exercise", list(CHECKERS))
def test_an_answer_computed_for_one_seed_fails_the_check_of_another(exercise):
    """For all 3,540 ordered pairs of CLASS, the right answer for seed A passes B's check only if the
    two exact answers agree to TOLERANCE, which happens for no pair in 1,000 for the table and the
    independence exercise and about one in 200 for the single-number answers."""
    params = [pr.exercise_parameters(seed) for seed in CLASS]
    answers = [_right_answers(p)[exercise] for p in params]
    pairs = [(a, b) for a in range(len(CLASS)) for b in range(len(CLASS)) if a != b]
    passed = {(a, b) for a, b in pairs if CHECKERS[exercise](answers[a], params[b]).correct}
    equal = {(a, b) for a, b in pairs if _within(answers[a], answers[b], pr.TOLERANCE - 1e-9)}
    near = {(a, b) for a, b in pairs if _within(answers[a], answers[b], pr.TOLERANCE + 1e-9)}
    assert equal <= passed <= near
    assert len(passed) <= SHARED[exercise] * len(pairs), len(passed)


def test_how_often_two_random_students_share_an_answer():
    """The rates exercise_parameters' docstring gives, over the 1,124,250 pairs of 1,500 seeds:
    about 1 in 20,000 for the table and the independence exercise, 1 in 700 for the count, 1 in 200
    for at least one failure and the majority of three (single numbers checked to 0.001)."""
    params = [pr.exercise_parameters(seed) for seed in range(1500)]
    limits = {"table": 1 / 10_000, "independence": 1 / 10_000, "count": 1 / 400}
    for exercise in CHECKERS:
        A = np.array([_flat(_right_answers(p)[exercise]) for p in params])  # (1500, numbers)
        shared = sum(
            int((np.abs(A[i + 1 :] - A[i]).max(axis=1) <= pr.TOLERANCE).sum()) for i in range(len(A))
        )
        rate = shared / (len(A) * (len(A) - 1) / 2)
        assert rate <= limits.get(exercise, 1 / 150), (exercise, rate)


@pytest.mark.parametrize("seed", range(40))
def test_exercise_parameters_are_valid_and_on_their_grids(seed):
    params = pr.exercise_parameters(seed)
    p1, p2 = params.p
    assert all(0.05 <= v <= 0.45 for v in params.p) and abs(p1 - p2) >= 0.05 - 1e-12
    assert abs(1 - 2 * (1 - p1) * (1 - p2)) > 4 * pr.TOLERANCE  # P(00) cannot pass for 1 - P(00)
    assert 0.10 <= params.p_count <= 0.90 and 0.55 <= params.q <= 0.95
    for v in (*params.p, params.p_count, params.q):
        assert v == round(v, 3)
    pr.check_joint(params.table)
    assert all(m == pytest.approx(round(m, 2), abs=1e-12) for m in pr.marginals(params.table))
    cov = pr.covariance(params.table)
    assert cov == pytest.approx(round(cov, 2), abs=1e-12)
    assert params == pr.exercise_parameters(seed)


def test_tables_of_forty_students_include_both_kinds():
    kinds = [pr.is_independent(pr.exercise_parameters(seed).table) for seed in range(40)]
    assert 10 <= sum(kinds) <= 30


def test_instructors_can_give_their_own_parameters():
    params = pr.ExerciseParameters(p=(0.2, 0.2), p_count=0.5, q=0.8, table=DEPENDENT)
    assert pr.check_answer_table({"00": 0.64, "01": 0.16, "10": 0.16, "11": 0.04}, params).correct
    assert pr.check_answer_majority(0.896, params).correct
    assert pr.check_answer_independence((0.2, 0.2), 0.06, False, params).correct
    with pytest.raises(ValueError, match="two probabilities"):
        pr.ExerciseParameters(p=(0.2,), p_count=0.5, q=0.8, table=DEPENDENT)
    with pytest.raises(ValueError, match="sums to 2.56"):
        pr.ExerciseParameters(p=(0.2, 0.2), p_count=0.5, q=0.8, table=NOTES_TABLE)
    with pytest.raises(ValueError, match="q must lie in"):
        pr.ExerciseParameters(p=(0.2, 0.2), p_count=0.5, q=1.8, table=DEPENDENT)
    with pytest.raises(TypeError, match="params must be ExerciseParameters"):
        pr.check_answer_table({}, {"p": (0.2, 0.2)})
    with pytest.raises(TypeError, match="seed must be an int"):
        pr.exercise_parameters("7")
    with pytest.raises(ValueError, match="seed must be >= 0"):
        pr.exercise_parameters(-1)


# --- the XOR exercise ----------------------------------------------------------------------------

XOR = {x: (0.25 if int(x[2]) == int(x[0]) ^ int(x[1]) else 0.0) for x in pr.outcomes(3)}


def test_the_xor_solution_passes():
    covariances = [pr.covariance(XOR, i, j) for i, j in pr.XOR_PAIRS]
    feedback = pr.check_answer_xor(XOR, covariances, pr.is_independent(XOR))
    assert feedback.correct and feedback.exercise == "ex-probability-xor", feedback
    rounded = {x: round(P, 3) for x, P in XOR.items()}
    assert pr.check_answer_xor(rounded, np.zeros(3), np.bool_(False)).correct


@pytest.mark.parametrize(
    ("xor", "covariances", "independent", "hint"),
    [
        (dict.fromkeys(pr.outcomes(3), 0.125), [0, 0, 0], False, "three independent fair bits"),
        (
            {x: 0.25 if int(x[2]) == int(x[0]) & int(x[1]) else 0.0 for x in pr.outcomes(3)},
            [0] * 3,
            False,
            "off",
        ),
        (
            {x: 0.25 if int(x[2]) != int(x[0]) ^ int(x[1]) else 0.0 for x in pr.outcomes(3)},
            [0] * 3,
            False,
            "off",
        ),
        (pr.joint_distribution([0.6, 0.5, 0.5]), [0, 0, 0], False, "fair bits"),
        (pr.joint_distribution([0.5, 0.5]), [0, 0, 0], False, "Three bits"),
        (dict.fromkeys(pr.outcomes(3), 0.2), [0, 0, 0], False, "must sum to 1"),
        ([0.25, 0, 0, 0.25], [0, 0, 0], False, "must be a dict"),
        (XOR, [0.25, 0.0, 0.0], False, "covariances are not"),
        (XOR, [0.0, 0.0], False, "3 numbers"),
        (XOR, "000", False, "should be the three covariances"),
        (XOR, [0.0, 0.0, 0.0], True, "mutual independence asks more"),
        (XOR, [0.0, 0.0, 0.0], "no", "True or False"),
    ],
)
def test_xor_mistakes_get_their_hint(xor, covariances, independent, hint):
    feedback = pr.check_answer_xor(xor, covariances, independent)
    assert not feedback.correct and hint in feedback.message, feedback
    assert "0.25" not in feedback.message and "1/4" not in feedback.message


# --- the coverage experiment ---------------------------------------------------------------------

COVERAGE_N = math.ceil(pr.Z_95**2 * 0.04 * 0.96 / 0.005**2)  # the exercise's N, by its formula


def _coverage_run(seed, N=COVERAGE_N, p=(0.2, 0.2), repeats=500):
    """The solution's simulation: ``repeats`` estimates of P(11) from ``N`` draws each, and their
    share within +-0.005 of 0.04."""
    draws = pr.sample_bits(list(p), N * repeats, torch.Generator().manual_seed(seed)).reshape(repeats, N, 2)
    P_hat = (draws[..., 0] & draws[..., 1]).double().mean(dim=1)  # (repeats,)
    return P_hat, ((P_hat - 0.04).abs() <= 0.005).double().mean().item()


@pytest.fixture(scope="module")
def coverage_run():
    return _coverage_run(0)


@pytest.mark.parametrize("seed", range(4))
def test_the_coverage_solution_passes_for_any_generator(seed):
    P_hat, coverage = _coverage_run(seed)
    feedback = pr.check_answer_coverage(COVERAGE_N, P_hat, coverage)
    assert feedback.correct and feedback.exercise == "ex-probability-coverage", feedback
    assert "0.95" in feedback.message or "0.94" in feedback.message


def test_coverage_answers_in_other_forms_pass(coverage_run):
    P_hat, coverage = coverage_run
    assert pr.check_answer_coverage(float(COVERAGE_N), P_hat.numpy(), torch.tensor(coverage)).correct
    assert pr.check_answer_coverage(COVERAGE_N, P_hat.tolist(), coverage).correct
    assert pr.check_answer_coverage(COVERAGE_N, P_hat.float()[:, None], coverage).correct
    P_hat, share = _coverage_run(1, COVERAGE_N + 20)  # a prediction within 1%, and its own simulation
    assert pr.check_answer_coverage(COVERAGE_N + 20, P_hat, share).correct


@pytest.mark.parametrize(
    ("N_needed", "hint"),
    [
        (math.ceil(4 * 0.04 * 0.96 / 0.005**2), "2 standard errors"),
        (math.ceil(0.04 * 0.96 / 0.005**2), "one standard error"),
        (math.ceil(pr.Z_95**2 * 0.04 * 0.96 / 0.0025**2), "half-width"),
        (100, "solve"),
        (COVERAGE_N - 0.5, "whole number"),
        (0, "whole number"),
        ("5000", "should be a whole number of draws"),
    ],
)
def test_coverage_predictions_that_are_off_get_their_hint(N_needed, hint, coverage_run):
    feedback = pr.check_answer_coverage(N_needed, *coverage_run)
    assert not feedback.correct and hint in feedback.message, feedback
    assert str(COVERAGE_N) not in feedback.message


def test_coverage_simulations_that_are_off_get_their_hint(coverage_run):
    P_hat, coverage = coverage_run
    check = pr.check_answer_coverage
    cases = {
        "multiple of 1 / N_needed": (_coverage_run(0, N=COVERAGE_N // 2)[0], coverage),
        "scatter less": (torch.full((500,), round(0.04 * COVERAGE_N) / COVERAGE_N), coverage),
        "scatter more": (((0.04 + 2 * (P_hat - 0.04)) * COVERAGE_N).round() / COVERAGE_N, coverage),
        "average": (_coverage_run(0, p=(0.3, 0.2))[0], coverage),
        "one estimate per repeat": (P_hat[:100], coverage),
        "should hold 500 numbers": ("abc", coverage),
        "probability in [0, 1]": (P_hat * 30, coverage),
        "share outside the band": (P_hat, 1 - coverage),
        "That is a count": (P_hat, coverage * 500),
        "does not match": (P_hat, coverage - 0.1),
        "should be the share": (P_hat, "0.95"),
    }
    for hint, (estimates, share) in cases.items():
        feedback = check(COVERAGE_N, estimates, share)
        assert not feedback.correct and hint in feedback.message, (hint, feedback)
        assert f"{coverage:.3f}" not in feedback.message or hint == "does not match"


def test_the_coverage_check_refuses_a_wrong_setting():
    with pytest.raises(ValueError, match="P must lie"):
        pr.check_answer_coverage(1, [0.5], 0.5, P=1.5, repeats=1)
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        pr.check_answer_coverage(1, [0.5], 0.5, repeats=0)
