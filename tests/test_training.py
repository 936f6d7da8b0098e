import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from companion.models import MLP
from companion.training import (
    History,
    TrainConfig,
    accuracy,
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
    assert len(history.train_accuracy) == 1


def test_train_without_training_accuracy_takes_the_same_steps(digits):
    """``train_accuracy=False`` only skips the evaluation pass: the same weights, an empty list."""
    config = TrainConfig(epochs=2)
    with_it, without = seeded_model("mlp", 0), seeded_model("mlp", 0)
    full = train(with_it, digits.x_train, digits.y_train, config)
    lean = train(without, digits.x_train, digits.y_train, config, train_accuracy=False)
    assert lean.train_accuracy == [] and len(full.train_accuracy) == 2 and lean.loss == full.loss
    for p, q in zip(with_it.parameters(), without.parameters(), strict=True):
        assert torch.equal(p, q)


def test_train_classifier_without_recording_accuracy_trains_the_same_weights(digits):
    """record_accuracy=False only skips the per-epoch accuracy passes: same weights, loss kept."""
    runs = {
        record: train_classifier(digits, "mlp", TrainConfig(epochs=2), record_accuracy=record)
        for record in (True, False)
    }
    (with_acc, h_with), (without, h_without) = runs[True], runs[False]
    assert all(torch.equal(a, b) for a, b in zip(with_acc.parameters(), without.parameters(), strict=True))
    assert h_without.loss == h_with.loss and len(h_with.test_accuracy) == 2
    assert h_without.train_accuracy == [] and h_without.test_accuracy == []
    with pytest.raises(TypeError, match="record_accuracy must be a bool, got int"):
        train_classifier(digits, "mlp", TrainConfig(epochs=1), record_accuracy=1)


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
        ({"seed": -1}, "seed must be an int >= 0, got -1"),
        ({"seed": "0"}, "seed must be an int >= 0, got str"),
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
    with pytest.raises(TypeError, match="train_accuracy must be a bool, got int"):
        train(MLP(), x, y, train_accuracy=1)
    with pytest.raises(TypeError, match="config must be a TrainConfig, got dict"):
        train(MLP(), x, y, {"epochs": 1})
    with pytest.raises(TypeError, match="data must be companion.data.Digits, got tuple"):
        train_classifier((x, y))
    with pytest.raises(ValueError, match="seed must be an int >= 0, got -2"):
        seeded_model("mlp", -2)


def test_standard_error_of_an_accuracy_is_binomial_and_checks_its_arguments():
    from companion.probability import standard_error as probability_standard_error
    from companion.training import standard_error

    assert standard_error(0.85, 450) == pytest.approx(math.sqrt(0.85 * 0.15 / 450))
    assert standard_error(0.5, 100) == probability_standard_error(0.5, 100) == 0.05
    with pytest.raises(ValueError, match="accuracy must lie in"):
        standard_error(1.2, 450)
    with pytest.raises(ValueError, match="n must be >= 1"):
        standard_error(0.5, 0)


@pytest.mark.parametrize(
    ("only_a", "only_b", "both"), [(3, 9, 400), (0, 0, 5), (12, 12, 0), (40, 17, 300), (1, 0, 0)]
)
def test_paired_comparison_counts_discordant_samples_and_matches_scipys_exact_test(only_a, only_b, both):
    from scipy.stats import binomtest

    from companion.training import paired_comparison

    right = torch.tensor([True] * both + [True] * only_a + [False] * only_b + [False] * 7)
    other = torch.tensor([True] * both + [False] * only_a + [True] * only_b + [False] * 7)
    order = torch.randperm(len(right), generator=torch.Generator().manual_seed(0))
    result = paired_comparison(right[order], other[order])
    assert (result.only_a, result.only_b) == (only_a, only_b)
    n = only_a + only_b
    want = binomtest(min(only_a, only_b), n, 0.5).pvalue if n else 1.0
    assert result.p_value == pytest.approx(want, rel=1e-12)
    assert paired_comparison(other[order], right[order]) == (only_b, only_a, result.p_value)  # symmetric


def test_paired_comparison_of_two_models_and_its_errors(digits):
    from companion.training import correct_predictions, paired_comparison

    a, b = seeded_model("mlp", 0), seeded_model("mlp", 1)
    right_a = correct_predictions(a, digits.x_test, digits.y_test)
    assert right_a.dtype == torch.bool and right_a.shape == (450,)
    assert right_a.float().mean().item() == accuracy(a, digits.x_test, digits.y_test)
    result = paired_comparison(right_a, correct_predictions(b, digits.x_test, digits.y_test))
    gap = accuracy(a, digits.x_test, digits.y_test) - accuracy(b, digits.x_test, digits.y_test)
    assert (result.only_a - result.only_b) / 450 == pytest.approx(gap)  # the gap is the discordant counts'
    with pytest.raises(TypeError, match="correct_a must have dtype torch.bool, got torch.int64"):
        paired_comparison(right_a.long(), right_a)
    with pytest.raises(ValueError, match="correct_b must have 1 dimensions"):
        paired_comparison(right_a, right_a[None])
    with pytest.raises(ValueError, match="same number of samples, got 450 and 3"):
        paired_comparison(right_a, right_a[:3])
    with pytest.raises(ValueError, match="at least one sample"):
        paired_comparison(right_a[:0], right_a[:0])


def test_train_returns_the_model_on_the_device_it_came_from(monkeypatch):
    """Training on another device (a GPU) must hand the model back where it was, so the chapters'
    attacks on CPU tensors never meet weights on another device."""
    model = seeded_model("mlp", seed=0)
    moves = []
    original = nn.Module.to

    def spy(self, *args, **kwargs):
        if self is model:
            moves.append(torch.device(args[0]) if args else kwargs.get("device"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(nn.Module, "to", spy)
    x, y = torch.rand(8, 64), torch.arange(8) % 10
    train(model, x, y, TrainConfig(epochs=1, batch_size=4), device=torch.device("cpu"))
    assert moves == [torch.device("cpu"), torch.device("cpu")]  # to the training device, then home
    assert next(model.parameters()).device.type == "cpu"


def test_mcnemar_p_value_from_counts_matches_scipy_and_refuses_bad_counts():
    from scipy.stats import binomtest

    from companion.training import mcnemar_p_value

    for a, b in ((18, 2), (2, 18), (5, 5), (0, 7), (40, 47)):
        assert math.isclose(mcnemar_p_value(a, b), binomtest(min(a, b), a + b, 0.5).pvalue, rel_tol=1e-9)
    assert mcnemar_p_value(0, 0) == 1.0
    with pytest.raises(ValueError, match="only_b must be >= 0, got -1"):
        mcnemar_p_value(3, -1)
    with pytest.raises(TypeError, match="only_a must be an int, got float"):
        mcnemar_p_value(3.0, 1)
