import math
import re

import pytest
import torch
import torch.nn.functional as F
from feedback_asserts import not_yet

from companion.models import MLP
from companion.training import (
    History,
    TrainConfig,
    accuracy,
    check_cnn_comparison,
    predict_logits,
    seeded_model,
    train,
    train_classifier,
)


def test_default_classifier_reaches_the_accuracy_the_chapters_quote(trained_mlp):
    model, history = trained_mlp
    assert isinstance(history, History)
    assert len(history.loss) == TrainConfig().epochs
    assert history.loss[-1] < history.loss[0] / 10
    assert history.train_accuracy[-1] > 0.99
    assert 0.95 < history.test_accuracy[-1] <= 1.0
    assert not model.training


def test_train_classifier_is_reproducible_and_leaves_global_rng_alone(digits):
    config = TrainConfig(epochs=2)
    torch.manual_seed(5)
    before = torch.rand(1)
    torch.manual_seed(5)
    a, ha = train_classifier(digits, "mlp", config)
    after = torch.rand(1)
    b, hb = train_classifier(digits, "mlp", config)
    assert ha.loss == hb.loss
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert torch.equal(before, after)  # weights were drawn from config.seed, not the global RNG
    c, hc = train_classifier(digits, "mlp", TrainConfig(epochs=2, seed=1))
    assert hc.loss != ha.loss


def test_hook_receives_batches_and_soft_labels_work(digits):
    seen = []

    def soft_loss(model, x_b, q_b):
        seen.append((x_b.shape, q_b.shape))
        return -(q_b * F.log_softmax(model(x_b), dim=1)).sum(dim=1).mean()

    config = TrainConfig(epochs=3, batch_size=100)
    soft = F.one_hot(digits.y_train, 10).float()
    torch.manual_seed(0)
    model = MLP()
    torch.manual_seed(0)
    reference = MLP()
    history = train(model, digits.x_train, soft, config, loss_fn=soft_loss)
    train(reference, digits.x_train, digits.y_train, config)
    assert seen[0] == ((100, 64), (100, 10)) and seen[-1] == ((47, 64), (47, 10))
    assert len(seen) == 3 * 14
    assert history.train_accuracy == []  # soft labels: no accuracy to compute
    # One-hot soft labels with the soft cross-entropy follow the hard-label run step for step.
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-5)


def test_train_restores_the_models_mode_and_records_test_accuracy(digits):
    model = MLP().eval()
    history = train(
        model,
        digits.x_train,
        digits.y_train,
        TrainConfig(epochs=1),
        x_test=digits.x_test,
        y_test=digits.y_test,
    )
    assert not model.training and len(history.test_accuracy) == 1 and history.seconds > 0


def test_predict_logits_and_accuracy(trained_mlp, digits):
    model, history = trained_mlp
    logits = predict_logits(model, digits.x_test, batch_size=7)
    assert logits.shape == (450, 10)
    assert torch.allclose(logits, model(digits.x_test), atol=1e-5)
    assert accuracy(model, digits.x_test, digits.y_test) == pytest.approx(history.test_accuracy[-1])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, "epochs must be >= 1, got 0"),
        ({"lr": -1.0}, "lr must be > 0, got -1.0"),
        ({"optimizer": "rmsprop"}, "optimizer must be 'adam' or 'sgd', got 'rmsprop'"),
        ({"batch_size": 2.5}, "batch_size must be an int, got float"),
        ({"seed": -1}, "seed must be a non-negative int"),
    ],
)
def test_train_config_rejects_bad_values(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        TrainConfig(**kwargs)


def test_train_and_accuracy_reject_bad_arguments(digits):
    x, y = digits.x_train, digits.y_train
    with pytest.raises(TypeError, match="model must be a torch.nn.Module, got function"):
        train(lambda v: v, x, y)
    with pytest.raises(ValueError, match="same number of samples, got 1347 and 10"):
        train(MLP(), x, y[:10])
    with pytest.raises(ValueError, match=r"class indices in 0, 1, 2, ..., got values in \[-2, 1\]"):
        accuracy(MLP(), x[:3], torch.tensor([0, 1, -2]))
    with pytest.raises(TypeError, match="y must have an integer dtype"):
        accuracy(MLP(), x[:3], torch.zeros(3))
    with pytest.raises(ValueError, match="x_test and y_test must be given together"):
        train(MLP(), x, y, x_test=x)
    with pytest.raises(TypeError, match="config must be a TrainConfig, got dict"):
        train(MLP(), x, y, {"epochs": 1})
    with pytest.raises(TypeError, match="data must be companion.data.Digits, got tuple"):
        train_classifier((x, y))


# --- the check of exercise ex-getting-started-cnn ---


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
        ("38, 46", "must hold test-set indices"),
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


def test_standard_error_of_an_accuracy_is_binomial_and_checks_its_arguments():
    from companion.probability import standard_error as probability_standard_error
    from companion.training import standard_error

    assert standard_error(0.85, 450) == pytest.approx(math.sqrt(0.85 * 0.15 / 450))
    assert standard_error(0.5, 100) == probability_standard_error(0.5, 100) == 0.05
    with pytest.raises(ValueError, match="accuracy must lie in"):
        standard_error(1.2, 450)
    with pytest.raises(ValueError, match="n must be >= 1"):
        standard_error(0.5, 0)
