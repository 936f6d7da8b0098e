"""Chapter 6's exercise checks and each student's parameters: right answers pass for every seed,
wrong ones get a hint that never reveals the answer, and one student's answer fails another's check."""

import hashlib
import math

import numpy as np
import pytest
import torch

from companion import probability as pr
from companion.classroom import exercises
from companion.classroom.checks import ch06_probability_exercise as checks

NOTES_TABLE = {"00": 0.64, "01": 0.64, "10": 0.64, "11": 0.64}  # every entry 0.8 * 0.8
DEPENDENT = {"00": 0.70, "01": 0.10, "10": 0.10, "11": 0.10}  # the notebook's dependent pair


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
    "table": checks.check_answer_table,
    "at_least_one": checks.check_answer_at_least_one,
    "count": checks.check_answer_count,
    "majority": checks.check_answer_majority,
    "independence": lambda answer, params: checks.check_answer_independence(*answer, params),
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
    params = checks.exercise_parameters(seed)
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
        params = checks.exercise_parameters(seed)
        answer = _rounded(_right_answers(params)[exercise])
        feedback = CHECKERS[exercise](answer, params)
        assert feedback.correct, (seed, answer, feedback.message)


def test_answers_as_tensors_and_arrays_pass():
    params = checks.exercise_parameters(5)
    right = _right_answers(params)
    assert checks.check_answer_at_least_one(torch.tensor(right["at_least_one"]), params).correct
    assert checks.check_answer_majority(np.float64(right["majority"]), params).correct
    assert checks.check_answer_count(torch.tensor(right["count"]), params).correct
    assert checks.check_answer_count(np.array(right["count"]), params).correct
    marginals, cov, independent = right["independence"]
    assert checks.check_answer_independence(
        torch.tensor(marginals), torch.tensor(cov), independent, params
    ).correct
    assert checks.check_answer_independence(list(marginals), cov, np.bool_(independent), params).correct


def test_checker_hints_name_the_mistake():
    params = checks.exercise_parameters(0)
    p1, p2 = params.p
    assert "sums to 2.56" in checks.check_answer_table(NOTES_TABLE, params).message
    assert "P(x_i = 0)" in checks.check_answer_table(pr.joint_distribution([1 - p1, 1 - p2]), params).message
    assert "check the order" in checks.check_answer_table(pr.joint_distribution([p2, p1]), params).message
    assert "11 twice" in checks.check_answer_at_least_one(p1 + p2, params).message
    assert "That is P(00)" in checks.check_answer_at_least_one((1 - p1) * (1 - p2), params).message
    assert "reversed" in checks.check_answer_count(pr.binomial_pmf(5, params.p_count)[::-1], params).message
    p = params.p_count
    assert (
        "C(5, k) strings"
        in checks.check_answer_count([p**k * (1 - p) ** (5 - k) for k in range(6)], params).message
    )
    assert "two right out of three" in checks.check_answer_majority(params.q**3, params).message
    assert "`answer` is still None" in checks.check_answer_majority(None, params).message
    (m1, m2), cov, independent = _right_answers(params)["independence"]
    check = checks.check_answer_independence
    assert "wrong order" in check((m2, m1), cov, independent, params).message
    assert "Those are P(x_i = 0)" in check((1 - m1, 1 - m2), cov, independent, params).message
    assert "marginals are off" in check((m1 + 0.1, m2), cov, independent, params).message
    assert "covariance is off" in check((m1, m2), cov + 0.05, independent, params).message
    assert "covariance is right" in check((m1, m2), cov, not independent, params).message


def test_the_unanswered_stubs_say_not_yet_and_name_the_variable():
    params = checks.exercise_parameters(2026)
    feedback = {
        "answer": [check(None, params) for check in list(CHECKERS.values())[:4]],
        "marginals": [checks.check_answer_independence(None, None, None, params)],
        "cov": [checks.check_answer_independence((0.5, 0.5), None, None, params)],
        "independent": [checks.check_answer_independence((0.5, 0.5), 0.0, None, params)],
        "xor": [checks.check_answer_xor(None, None, None)],
        "pair_covariances": [checks.check_answer_xor(XOR, None, None)],
        "mutually_independent": [checks.check_answer_xor(XOR, [0.0, 0.0, 0.0], None)],
        "N_needed": [checks.check_answer_coverage(None, None, None)],
        "P_hat": [checks.check_answer_coverage(COVERAGE_N, None, None)],
    }
    for name, results in feedback.items():
        for result in results:
            assert not result.correct and f"`{name}` is still None" in result.message, result
            assert str(result).startswith(f"Not yet ({result.exercise}): ")


def test_every_check_is_registered_under_its_exercise_label():
    by_label = {
        **{label: CHECKERS[name] for name, label in LABELS.items() if name != "independence"},
        "ex-probability-independence": checks.check_answer_independence,
        "ex-probability-xor": checks.check_answer_xor,
        "ex-probability-coverage": checks.check_answer_coverage,
    }
    for label, check in by_label.items():
        assert exercises.CHECKS[label] is check and check.exercise == label


def test_checks_refuse_a_params_that_is_not_exercise_parameters():
    """``params`` belongs to the exercise, not the answer: a wrong one is the notebook's mistake."""
    for name, check in CHECKERS.items():
        with pytest.raises(TypeError, match="params must be ExerciseParameters"):
            check(_right_answers(checks.exercise_parameters(0))[name], {"p": (0.2, 0.2)})


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
    params = [checks.exercise_parameters(seed) for seed in CLASS]
    answers = [_right_answers(p)[exercise] for p in params]
    pairs = [(a, b) for a in range(len(CLASS)) for b in range(len(CLASS)) if a != b]
    passed = {(a, b) for a, b in pairs if CHECKERS[exercise](answers[a], params[b]).correct}
    equal = {(a, b) for a, b in pairs if _within(answers[a], answers[b], checks.TOLERANCE - 1e-9)}
    near = {(a, b) for a, b in pairs if _within(answers[a], answers[b], checks.TOLERANCE + 1e-9)}
    assert equal <= passed <= near
    assert len(passed) <= SHARED[exercise] * len(pairs), len(passed)


def test_how_often_two_random_students_share_an_answer():
    """Over the 1,124,250 pairs of 1,500 seeds, the right answer of one student passes another's
    check at most once in 10,000 pairs for the table and the independence exercise, once in 400
    for the count and once in 150 for the single numbers (at least one failure, majority of three,
    checked to TOLERANCE)."""
    params = [checks.exercise_parameters(seed) for seed in range(1500)]
    limits = {"table": 1 / 10_000, "independence": 1 / 10_000, "count": 1 / 400}
    for exercise in CHECKERS:
        A = np.array([_flat(_right_answers(p)[exercise]) for p in params])  # (1500, numbers)
        shared = sum(
            int((np.abs(A[i + 1 :] - A[i]).max(axis=1) <= checks.TOLERANCE).sum()) for i in range(len(A))
        )
        rate = shared / (len(A) * (len(A) - 1) / 2)
        assert rate <= limits.get(exercise, 1 / 150), (exercise, rate)


@pytest.mark.parametrize("seed", range(40))
def test_exercise_parameters_are_valid_and_on_their_grids(seed):
    params = checks.exercise_parameters(seed)
    p1, p2 = params.p
    assert all(0.05 <= v <= 0.45 for v in params.p) and abs(p1 - p2) >= 0.05 - 1e-12
    assert abs(1 - 2 * (1 - p1) * (1 - p2)) > 4 * checks.TOLERANCE  # P(00) cannot pass for 1 - P(00)
    assert 0.10 <= params.p_count <= 0.90 and 0.55 <= params.q <= 0.95
    for v in (*params.p, params.p_count, params.q):
        assert v == round(v, 3)
    pr.check_joint(params.table)
    assert all(m == pytest.approx(round(m, 2), abs=1e-12) for m in pr.marginals(params.table))
    cov = pr.covariance(params.table)
    assert cov == pytest.approx(round(cov, 2), abs=1e-12)
    assert params == checks.exercise_parameters(seed)


def test_tables_of_forty_students_include_both_kinds():
    kinds = [pr.is_independent(checks.exercise_parameters(seed).table) for seed in range(40)]
    assert 10 <= sum(kinds) <= 30


def test_instructors_can_give_their_own_parameters():
    params = checks.ExerciseParameters(p=(0.2, 0.2), p_count=0.5, q=0.8, table=DEPENDENT)
    assert checks.check_answer_table({"00": 0.64, "01": 0.16, "10": 0.16, "11": 0.04}, params).correct
    assert checks.check_answer_majority(0.896, params).correct
    assert checks.check_answer_independence((0.2, 0.2), 0.06, False, params).correct
    with pytest.raises(ValueError, match="two probabilities"):
        checks.ExerciseParameters(p=(0.2,), p_count=0.5, q=0.8, table=DEPENDENT)
    with pytest.raises(ValueError, match="sums to 2.56"):
        checks.ExerciseParameters(p=(0.2, 0.2), p_count=0.5, q=0.8, table=NOTES_TABLE)
    with pytest.raises(ValueError, match="q must lie in"):
        checks.ExerciseParameters(p=(0.2, 0.2), p_count=0.5, q=1.8, table=DEPENDENT)
    with pytest.raises(TypeError, match="params must be ExerciseParameters"):
        checks.check_answer_table({}, {"p": (0.2, 0.2)})
    with pytest.raises(TypeError, match="seed must be an int"):
        checks.exercise_parameters("7")
    with pytest.raises(ValueError, match="seed must be an int >= 0, got -1"):
        checks.exercise_parameters(-1)


# --- the XOR exercise ----------------------------------------------------------------------------

XOR = {x: (0.25 if int(x[2]) == int(x[0]) ^ int(x[1]) else 0.0) for x in pr.outcomes(3)}


def test_the_xor_solution_passes():
    covariances = [pr.covariance(XOR, i, j) for i, j in checks.XOR_PAIRS]
    feedback = checks.check_answer_xor(XOR, covariances, pr.is_independent(XOR))
    assert feedback.correct and feedback.exercise == "ex-probability-xor", feedback
    rounded = {x: round(P, 3) for x, P in XOR.items()}
    assert checks.check_answer_xor(rounded, np.zeros(3), np.bool_(False)).correct


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
        (XOR, "000", False, "must be the three covariances"),
        (XOR, [0.0, 0.0, 0.0], True, "mutual independence asks more"),
        (XOR, [0.0, 0.0, 0.0], "no", "True or False"),
    ],
)
def test_xor_mistakes_get_their_hint(xor, covariances, independent, hint):
    feedback = checks.check_answer_xor(xor, covariances, independent)
    assert not feedback.correct and hint in feedback.message, feedback
    assert "0.25" not in feedback.message and "1/4" not in feedback.message


# --- the coverage experiment ---------------------------------------------------------------------

COVERAGE_N = math.ceil(pr.Z_95**2 * 0.04 * 0.96 / 0.005**2)  # the exercise's N, by its formula


def _coverage_run(seed, N=COVERAGE_N, p=(0.2, 0.2), repeats=500):
    """The solution's simulation: ``repeats`` estimates of P(11) from ``N`` draws each, and their
    share within +-0.005 of 0.04."""
    draws = pr.sample_bits(list(p), N * repeats, seed=seed).reshape(repeats, N, 2)
    P_hat = (draws[..., 0] & draws[..., 1]).double().mean(dim=1)  # (repeats,)
    return P_hat, ((P_hat - 0.04).abs() <= 0.005).double().mean().item()


@pytest.fixture(scope="module")
def coverage_run():
    return _coverage_run(0)


@pytest.mark.parametrize("seed", range(4))
def test_the_coverage_solution_passes_for_any_generator(seed):
    P_hat, coverage = _coverage_run(seed)
    feedback = checks.check_answer_coverage(COVERAGE_N, P_hat, coverage)
    assert feedback.correct and feedback.exercise == "ex-probability-coverage", feedback
    assert "0.95" in feedback.message or "0.94" in feedback.message


def test_coverage_answers_in_other_forms_pass(coverage_run):
    P_hat, coverage = coverage_run
    assert checks.check_answer_coverage(float(COVERAGE_N), P_hat.numpy(), torch.tensor(coverage)).correct
    assert checks.check_answer_coverage(COVERAGE_N, P_hat.tolist(), coverage).correct
    assert checks.check_answer_coverage(COVERAGE_N, P_hat.float()[:, None], coverage).correct
    P_hat, share = _coverage_run(1, COVERAGE_N + 20)  # a prediction within 1%, and its own simulation
    assert checks.check_answer_coverage(COVERAGE_N + 20, P_hat, share).correct


@pytest.mark.parametrize(
    ("N_needed", "hint"),
    [
        (math.ceil(4 * 0.04 * 0.96 / 0.005**2), "2 standard errors"),
        (math.ceil(0.04 * 0.96 / 0.005**2), "one standard error"),
        (math.ceil(pr.Z_95**2 * 0.04 * 0.96 / 0.01**2), "half-width"),  # the whole width 0.01
        (100, "solve"),
        (COVERAGE_N - 0.5, "whole number"),
        (0, "whole number"),
        ("5000", "must be a whole number of draws"),
    ],
)
def test_coverage_predictions_that_are_off_get_their_hint(N_needed, hint, coverage_run):
    feedback = checks.check_answer_coverage(N_needed, *coverage_run)
    assert not feedback.correct and hint in feedback.message, feedback
    assert str(COVERAGE_N) not in feedback.message


def test_coverage_simulations_that_are_off_get_their_hint(coverage_run):
    P_hat, coverage = coverage_run
    check = checks.check_answer_coverage
    cases = {
        "multiple of 1 / N_needed": (_coverage_run(0, N=COVERAGE_N // 2)[0], coverage),
        "scatter less": (torch.full((500,), round(0.04 * COVERAGE_N) / COVERAGE_N), coverage),
        "scatter more": (((0.04 + 2 * (P_hat - 0.04)) * COVERAGE_N).round() / COVERAGE_N, coverage),
        "average": (_coverage_run(0, p=(0.3, 0.2))[0], coverage),
        "one estimate per repeat": (P_hat[:100], coverage),
        "must be the 500 estimates": ("abc", coverage),
        "probability in [0, 1]": (P_hat * 30, coverage),
        "share outside the band": (P_hat, 1 - coverage),
        "That is a count": (P_hat, coverage * 500),
        "does not match": (P_hat, coverage - 0.1),
        "must be the share": (P_hat, "0.95"),
    }
    for hint, (estimates, share) in cases.items():
        feedback = check(COVERAGE_N, estimates, share)
        assert not feedback.correct and hint in feedback.message, (hint, feedback)
        assert f"{coverage:.3f}" not in feedback.message or hint == "does not match"


def test_the_coverage_check_refuses_a_wrong_setting():
    with pytest.raises(ValueError, match="P must lie"):
        checks.check_answer_coverage(1, [0.5], 0.5, P=1.5, repeats=1)
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        checks.check_answer_coverage(1, [0.5], 0.5, repeats=0)
