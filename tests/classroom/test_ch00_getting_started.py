"""The check of chapter 0's exercise (companion.classroom.checks.ch00_getting_started)."""

import re

import pytest
import torch
from feedback_asserts import not_yet

from companion.classroom.checks.ch00_getting_started import check_cnn_comparison
from companion.training import predict_logits, seeded_model, train_classifier


@pytest.fixture(scope="module")
def cnn_exercise(digits, trained_mlp):
    """The exercise's reference solution: the CNN with the default config (about 2 s) and both_wrong."""
    cnn, _ = train_classifier(digits, "cnn")
    mlp = trained_mlp[0]
    wrong = [predict_logits(m, digits.x_test).argmax(dim=1) != digits.y_test for m in (cnn, mlp)]
    both_wrong = (wrong[0] & wrong[1]).nonzero().flatten()
    return cnn, both_wrong, wrong


def test_check_cnn_comparison_accepts_the_reference_solution(cnn_exercise, trained_mlp, digits):
    cnn, both_wrong, (cnn_wrong, mlp_wrong) = cnn_exercise
    assert len(both_wrong) > 0  # the exercise has something to find
    feedback = check_cnn_comparison(cnn, both_wrong, trained_mlp[0], digits)
    assert feedback.correct is True and feedback.exercise == "ex-getting-started-cnn", feedback
    for same in (both_wrong.tolist(), set(both_wrong.tolist()), both_wrong.numpy(), cnn_wrong & mlp_wrong):
        assert check_cnn_comparison(cnn, same, trained_mlp[0], digits).correct, type(same)


def test_check_cnn_comparison_names_the_slip(cnn_exercise, trained_mlp, digits):
    cnn, both_wrong, (cnn_wrong, mlp_wrong) = cnn_exercise
    mlp, truth = trained_mlp[0], set(both_wrong.tolist())
    right = sorted(set(range(len(digits.y_test))) - set((cnn_wrong | mlp_wrong).nonzero().flatten().tolist()))
    positions = [mlp_wrong.nonzero().flatten().tolist().index(i) for i in sorted(truth)]
    slips = (
        (cnn_wrong.nonzero().flatten(), "every test digit the CNN gets wrong"),
        (mlp_wrong, "every test digit the MLP gets wrong"),  # a bool mask
        ((cnn_wrong | mlp_wrong).nonzero().flatten(), "either model gets wrong"),
        (positions, "positions in the list of the MLP's mistakes"),
        (sorted(truth)[1:], "misses some"),
        (sorted(truth) + right[:1], "at least one model classifies correctly"),
        ([right[0]], "is not the set of test digits both models misclassify"),
    )
    for answer, hint in slips:
        message = not_yet(check_cnn_comparison(cnn, answer, mlp, digits), hint)
        assert not any(re.search(rf"\b{i}\b", message) for i in truth), message  # no index of the answer


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (None, "`both_wrong` is still None"),
        ("38, 46", "(a list, set or 1-d tensor of ints), got str"),
        ([1.5, 2.0], "integer indices"),
        (torch.zeros(3, 2, dtype=torch.long), "integer indices"),
        ([450], "from 0 to 449"),
        ([-1], "from 0 to 449"),
    ],
)
def test_check_cnn_comparison_unanswered_or_malformed_both_wrong_is_not_yet(
    cnn_exercise, trained_mlp, digits, answer, hint
):
    not_yet(check_cnn_comparison(cnn_exercise[0], answer, trained_mlp[0], digits), hint)


def test_check_cnn_comparison_checks_the_model(cnn_exercise, trained_mlp, digits):
    mlp, both_wrong = trained_mlp[0], cnn_exercise[1]
    not_yet(check_cnn_comparison(None, None, mlp, digits), "`cnn` is still None")
    not_yet(check_cnn_comparison(mlp, both_wrong, mlp, digits), "must be the SmallCNN", "got MLP")
    untrained = seeded_model("cnn")
    not_yet(check_cnn_comparison(untrained, both_wrong, mlp, digits), "is it trained?")
    with pytest.raises(TypeError, match="mlp must be a torch.nn.Module, got NoneType"):
        check_cnn_comparison(cnn_exercise[0], both_wrong, None, digits)
    with pytest.raises(TypeError, match="data must be companion.data.Digits, got Tensor"):
        check_cnn_comparison(cnn_exercise[0], both_wrong, mlp, digits.x_test)
