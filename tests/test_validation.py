"""The shared argument validators of companion.validation: what they accept, what they refuse."""

import numpy as np
import pytest
import torch

from companion.validation import require_outcome_table, require_probabilities


def test_require_probabilities_accepts_lists_arrays_and_float_tensors():
    assert require_probabilities("p", [0.2, 1]) == [0.2, 1.0]
    assert require_probabilities("p", np.array([0.5])) == [0.5]
    assert require_probabilities("p", torch.tensor([0.25, 0.0], dtype=torch.float64)) == [0.25, 0.0]


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (
            0.2,
            TypeError,
            r"q must be a list of per-bit probabilities P\(x_i = 1\), e.g. \[0.2, 0.2\], got float",
        ),
        ("0.2", TypeError, "q must be a list of per-bit probabilities .* got str"),
        ({0.2}, TypeError, "got set"),
        ([], ValueError, "q must hold at least one probability .* got an empty list"),
        (
            np.zeros((2, 2)),
            ValueError,
            r"q must be 1-dimensional \(one probability per bit\), got shape \(2, 2\)",
        ),
        (torch.rand(2, 2), ValueError, r"q must have 1 dimensions, got shape \(2, 2\)"),
        (torch.tensor([0, 1]), TypeError, "q must have a floating dtype, got torch.int64"),
        ([0.2, 1.2], ValueError, r"q\[1\] must lie in \[0, 1\], got 1.2"),
        ([0.5, float("nan")], ValueError, r"q\[1\] must lie in \[0, 1\], got nan"),
        ([0.2, "a"], TypeError, r"q\[1\] must be a number, got str"),
        ([True], TypeError, r"q\[0\] must be a number, got bool"),
    ],
)
def test_require_probabilities_names_what_is_wrong(value, error, match):
    with pytest.raises(error, match=match):
        require_probabilities("q", value)


def test_require_outcome_table_returns_the_bits_and_the_outcomes_in_order():
    assert require_outcome_table("t", {"1": 0.5, "0": 0.5}) == (1, ["0", "1"])
    n, keys = require_outcome_table("t", dict.fromkeys(["11", "10", "01", "00"], 2.0))  # sums are not its job
    assert (n, keys) == (2, ["00", "01", "10", "11"])


@pytest.mark.parametrize(
    ("table", "error", "match"),
    [
        (
            [0.64, 0.16],
            TypeError,
            "t must be a dict from outcome strings such as '01' to probabilities, got list",
        ),
        ({}, ValueError, "t must list at least one outcome, got an empty dict"),
        ({"0a": 1.0}, ValueError, "t's keys must be strings of 0s and 1s such as '01', got '0a'"),
        ({0: 1.0}, ValueError, "strings of 0s and 1s such as '01', got 0"),
        ({"": 1.0}, ValueError, "strings of 0s and 1s such as '01', got ''"),
        (
            {"0": 0.5, "10": 0.5},
            ValueError,
            r"all outcomes in t must have the same number of bits, got lengths \[1, 2\]",
        ),
        ({"00": 0.5, "01": 0.5}, ValueError, r"2\*\*2 = 4 outcomes; t is missing '10', '11' \(an outcome"),
        ({"0000": 1.0}, ValueError, r"missing '0001', .*, '1000', \.\.\."),
        ({"0": 0.5, "1": "0.5"}, TypeError, r"t\['1'\] must be a number, got str"),
        ({"0": 0.5, "1": True}, TypeError, r"t\['1'\] must be a number, got bool"),
        ({"0": 0.5, "1": float("nan")}, ValueError, r"t\['1'\] is nan; every entry must be a probability"),
    ],
)
def test_require_outcome_table_names_what_is_wrong(table, error, match):
    with pytest.raises(error, match=match):
        require_outcome_table("t", table)
