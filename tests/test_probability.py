import math

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from companion import probability as pr
from companion.figures import probability as figures

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
    for value in (0.5, True, "1", float("nan")):
        with pytest.raises(ValueError, match="value must be 0 or 1"):
            pr.conditional(DEPENDENT, 1, 0, value)


def test_conditional_accepts_a_float_bit_value():
    """value=1.0 is the bit 1 (it used to be compared with the outcome strings as "1.0" and so
    raised a false "impossible event" error)."""
    assert pr.conditional(DEPENDENT, 1, 0, 1.0) == pr.conditional(DEPENDENT, 1, 0, 1) == pytest.approx(0.5)
    assert pr.conditional(DEPENDENT, 1, 0, 0.0) == pytest.approx(0.125)
    assert pr.conditional(DEPENDENT, 1, 0, np.int64(1)) == pytest.approx(0.5)


def test_standard_error_is_the_training_modules():
    from companion import training

    for P, N in [(0.04, 20_000), (0.5, 100), (1.0, 7)]:
        assert pr.standard_error(P, N) == training.standard_error(P, N) == math.sqrt(P * (1 - P) / N)
    with pytest.raises(ValueError, match="P must lie in"):
        pr.standard_error(1.5, 10)
    with pytest.raises(ValueError, match="num_samples must be"):
        pr.standard_error(0.5, 0)


# --- Monte Carlo -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_monte_carlo_estimates_lie_within_four_standard_errors(seed):
    p, N = [0.2, 0.2], 50_000
    samples = pr.sample_bits(p, N, seed=torch.Generator().manual_seed(seed))
    assert samples.shape == (N, 2) and samples.dtype == torch.int64
    estimate = pr.empirical_joint(samples)
    for x, P in pr.joint_distribution(p).items():
        assert abs(estimate[x] - P) <= 4 * pr.standard_error(P, N)


def test_the_notebooks_convergence_run_ends_inside_the_95_percent_band():
    """The chapter's seed and N: every final estimate lies in P +- 1.96 SE."""
    p, N = [0.2, 0.2], 20_000
    samples = pr.sample_bits(p, N, seed=0)  # the notebook passes its generator, seeded 0 too
    final = pr.running_frequencies(samples)[-1]
    assert torch.allclose(
        final, torch.tensor(list(pr.empirical_joint(samples).values()), dtype=torch.float64)
    )
    for P_hat, P in zip(final.tolist(), pr.joint_distribution(p).values(), strict=True):
        assert abs(P_hat - P) <= pr.Z_95 * pr.standard_error(P, N)
    assert isinstance(figures.convergence_figure(p, samples), Figure)


def test_sampling_is_reproducible_and_uses_only_the_generator():
    a = pr.sample_bits([0.3, 0.6], 100, seed=torch.Generator().manual_seed(5))
    torch.manual_seed(123)
    b = pr.sample_bits([0.3, 0.6], 100, seed=torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and torch.equal(pr.sample_bits([0.3, 0.6], 100, seed=5), a)
    torch.manual_seed(7)
    from_global = pr.sample_bits([0.3, 0.6], 100)  # seed=None: torch's global generator
    torch.manual_seed(7)
    assert torch.equal(from_global, pr.sample_bits([0.3, 0.6], 100, seed=None))
    g = torch.Generator().manual_seed(5)
    first, second = pr.sample_votes(0.8, 3, 50, seed=g), pr.sample_votes(0.8, 3, 50, seed=g)
    assert not torch.equal(first, second), "a generator is advanced, not restarted"


def test_monte_carlo_errors():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(TypeError, match="seed must be an int >= 0, a torch.Generator or None, got str"):
        pr.sample_bits([0.5], 10, seed="0")
    with pytest.raises(ValueError, match="seed must be an int >= 0, got -1"):
        pr.sample_votes(0.8, 3, 10, seed=-1)
    with pytest.raises(ValueError, match="num_samples must be >= 1"):
        pr.sample_bits([0.5], 0, seed=g)
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
    votes = pr.sample_votes(0.8, 2, 100_000, rho=0.3, seed=0).double()
    assert votes.mean(dim=0).tolist() == pytest.approx([0.8, 0.8], abs=4 * pr.standard_error(0.8, 100_000))
    assert torch.corrcoef(votes.T)[0, 1].item() == pytest.approx(0.3, abs=0.02)


def test_the_headline_majority_vote_experiment():
    """Independent votes approach 1; correlated ones level off at rho q + 1 - rho; the notebook's run
    (its defaults and its own seed, 0) agrees with the formulas to about 2 standard errors."""
    config = pr.VoteExperiment()  # the notebook's defaults
    result = pr.run_vote_experiment(config, seed=0)  # the notebook's seed
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
    assert isinstance(figures.majority_figure(result), Figure)


def test_an_int_seed_is_the_stream_of_a_generator_seeded_with_it():
    """seed=0 draws what the chapter drew from torch.Generator().manual_seed(0) before seeds."""
    config = pr.VoteExperiment(ms=(1, 3), num_samples=500)
    by_int = pr.run_vote_experiment(config, seed=0)
    assert by_int == pr.run_vote_experiment(config, seed=torch.Generator().manual_seed(0))
    assert by_int != pr.run_vote_experiment(config, seed=1)


def test_simulated_votes_deviate_from_the_formulas_as_chance_does():
    """Over 20 seeds of the notebook's experiment, the simulated accuracies' deviations from
    the exact ones, in standard errors, behave like standard normal draws: their mean square is
    near 1 (not near 0, which a simulation that copies the formula would give, nor large, which a
    wrong formula would) and none is extreme. Points whose A (1 - A) N < 10 (A near 1) are left
    out: there the normal approximation does not hold."""
    config = pr.VoteExperiment()
    z = []
    for seed in range(20):
        result = pr.run_vote_experiment(config, seed=seed)
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
    result = pr.run_vote_experiment(config, seed=0)
    assert result.largest_deviation == 0.0  # A = 1 has no standard error, and the simulation hits it
    off = pr.VoteResult(config, [1.0, 1.0], [1.0, 1.0], [1.0, 0.9], [1.0, 1.0])
    assert off.largest_deviation == math.inf


# --- the beta model: the same q and pairwise correlation, another plateau ------------------------


def test_beta_parameters_give_the_asked_mean_and_correlation():
    for q, rho in [(0.8, 0.3), (0.6, 0.05), (0.3, 0.9)]:
        a, b = pr.beta_parameters(q, rho)
        assert a / (a + b) == pytest.approx(q) and 1 / (a + b + 1) == pytest.approx(rho)
    assert pr.beta_parameters(2 / 3, 0.25) == pytest.approx((2.0, 1.0))


def test_beta_model_known_values():
    """Q ~ Beta(2, 1) (density 2x): q = 2/3, rho = 1/4. One query is right with probability
    2/3; three vote right with E[3 Q^2 - 2 Q^3] = 3/2 - 4/5 = 0.7; the plateau is
    P(Q > 1/2) = 3/4. With Q uniform (q = 1/2, rho = 1/3) the count is uniform on 0..m, so every
    vote is right half the time."""
    assert pr.beta_majority_accuracy(2 / 3, 1, 0.25) == pytest.approx(2 / 3)
    assert pr.beta_majority_accuracy(2 / 3, 3, 0.25) == pytest.approx(0.7)
    assert pr.beta_plateau(2 / 3, 0.25) == pytest.approx(0.75)
    for m in (1, 5, 21):
        assert pr.beta_majority_accuracy(0.5, m, 1 / 3) == pytest.approx(0.5)
    a, b = pr.beta_parameters(0.8, 0.3)  # m = 3 from the beta moments: E[3 Q^2 - 2 Q^3]
    s = a + b
    moment_2, moment_3 = a * (a + 1) / (s * (s + 1)), a * (a + 1) * (a + 2) / (s * (s + 1) * (s + 2))
    assert pr.beta_majority_accuracy(0.8, 3, 0.3) == pytest.approx(3 * moment_2 - 2 * moment_3)


def test_the_beta_model_levels_off_below_the_copy_mixture_with_the_same_correlation():
    """The chapter's claim: q = 0.8, rho = 0.3 give a plateau near 0.88 (0.879) in the beta
    model against rho q + 1 - rho = 0.94 in the copy mixture; pairwise rho does not fix it."""
    q, rho = 0.8, 0.3
    plateau = pr.beta_plateau(q, rho)
    assert 0.875 < plateau < 0.885
    accuracies = [pr.beta_majority_accuracy(q, m, rho) for m in (1, 3, 11, 51, 501, 5001)]
    assert all(np.diff(accuracies) > 0) and accuracies[0] == pytest.approx(q)
    assert plateau - 1e-3 < accuracies[-1] < plateau
    assert pr.majority_accuracy(q, 501, rho) == pytest.approx(rho * q + 1 - rho)
    assert pr.majority_accuracy(q, 501, rho) - accuracies[-2] > 0.05


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_simulated_beta_votes_match_the_formula(seed):
    q, rho, N = 0.8, 0.3, 40_000
    for m in (1, 3, 5, 9, 51):  # 5: the chapter's simulation lies 3 standard errors off there
        votes = pr.sample_beta_votes(q, m, N, rho, seed=seed)
        assert votes.shape == (N, m) and votes.dtype == torch.bool
        A = pr.beta_majority_accuracy(q, m, rho)
        A_hat = (votes.sum(dim=1) > m // 2).double().mean().item()
        assert abs(A_hat - A) < 4.5 * pr.standard_error(A, N), (m, A_hat, A)
    pair = pr.sample_beta_votes(q, 2, 100_000, rho, seed=seed).double()
    assert pair.mean(dim=0).tolist() == pytest.approx([q, q], abs=4 * pr.standard_error(q, 100_000))
    assert torch.corrcoef(pair.T)[0, 1].item() == pytest.approx(rho, abs=0.02)


def test_beta_votes_are_reproducible_from_the_seed():
    first = pr.sample_beta_votes(0.8, 5, 1000, 0.3, seed=7)
    assert torch.equal(first, pr.sample_beta_votes(0.8, 5, 1000, 0.3, seed=torch.Generator().manual_seed(7)))
    assert not torch.equal(first, pr.sample_beta_votes(0.8, 5, 1000, 0.3, seed=8))


def test_beta_model_errors():
    with pytest.raises(
        ValueError, match="rho must lie strictly between 0 and 1 for a beta distribution, got 0.0"
    ):
        pr.beta_parameters(0.8, 0.0)
    with pytest.raises(
        ValueError, match="q must lie strictly between 0 and 1 for a beta distribution, got 1.0"
    ):
        pr.beta_plateau(1.0, 0.3)
    with pytest.raises(ValueError, match=r"rho must lie in \[0, 1\]"):
        pr.beta_majority_accuracy(0.8, 3, 1.5)
    with pytest.raises(ValueError, match="m must be odd"):
        pr.beta_majority_accuracy(0.8, 4, 0.3)
    with pytest.raises(TypeError, match="q must be a number"):
        pr.beta_parameters("0.8", 0.3)
    with pytest.raises(ValueError, match="num_samples must be"):
        pr.sample_beta_votes(0.8, 3, 0, 0.3, seed=0)


def test_majority_errors():
    with pytest.raises(ValueError, match="m must be odd .* got 4; try 3 or 5"):
        pr.majority_accuracy(0.8, 4)
    with pytest.raises(ValueError, match="rho must lie in"):
        pr.majority_accuracy(0.8, 3, rho=1.5)
    with pytest.raises(TypeError, match="config must be a VoteExperiment"):
        pr.run_vote_experiment({"q": 0.8}, seed=torch.Generator())


# --- figures -----------------------------------------------------------------------------------


def test_draw_pair_clips_an_infeasible_correlation():
    fig = figures.draw_pair(0.2, 0.2, -0.9)
    assert isinstance(fig, Figure)
    assert "clipped" in fig.axes[1].get_title()
    assert "clipped" not in figures.draw_pair(0.2, 0.7, 0.1).axes[1].get_title()


def test_format_table():
    text = pr.format_table(pr.joint_distribution([0.2, 0.2]))
    assert text.splitlines()[0] == "P(00) = 0.6400" and text.splitlines()[-1].endswith("sum = 1.0000")


def test_vote_experiment_with_rho_zero_gives_two_equal_curves():
    config = pr.VoteExperiment(ms=(1, 3), rho=0.0, num_samples=100)
    result = pr.run_vote_experiment(config, seed=0)
    assert len(result.exact_correlated) == 2 and result.exact_correlated == result.exact_independent


def test_marginals_of_a_certain_bit_stay_a_probability():
    """Found by CI: p = [1.0, ...] gave a marginal of 1.0000000000000002 and is_independent raised."""
    table = pr.joint_distribution([1.0, 0.3611798566411491, 0.35960298108128735])
    assert all(0.0 <= m <= 1.0 for m in pr.marginals(table))
    assert pr.is_independent(table)
