"""Carlini & Wagner's L2 attack: the math, Foolbox 3, and the chapter's headline on the digits."""

import foolbox
import pytest
import torch
from torch import nn

from companion.attacks import AttackResult, _to_w, _to_x, carlini_wagner_l2, f6, fgsm, logit_margin
from companion.distillation import defensive_distillation
from companion.models import MLP, SmallCNN
from companion.objectives import CW_SETTINGS


@pytest.fixture(scope="module")
def batch(digits):
    """The 100 test digits the notebook attacks."""
    return digits.x_test[:100], digits.y_test[:100]


@pytest.fixture(scope="module")
def fixed_c(trained_mlp, batch):
    """The notebook's runs: c = 1, kappa = 0, its settings (300 Adam steps, lr 0.05), final iterate."""
    model, _ = trained_mlp
    x, y = batch
    return {
        name: carlini_wagner_l2(model, x, y, 1.0, capped=name == "capped", **CW_SETTINGS)
        for name in ("capped", "uncapped")
    }


@pytest.fixture(scope="module")
def kept_best(trained_mlp, batch):
    """The notebook's keep-best runs at c = 1, with its settings."""
    model, _ = trained_mlp
    x, y = batch
    return {
        name: carlini_wagner_l2(model, x, y, 1.0, capped=name == "capped", keep_best=True, **CW_SETTINGS)
        for name in ("capped", "uncapped")
    }


@pytest.fixture(scope="module")
def student(digits):
    """The notebook's defensively distilled MLP (T = 50)."""
    return defensive_distillation(digits, 50.0).student


@pytest.fixture(scope="module")
def searched(trained_mlp, student, batch):
    """The fourth exercise's runs: search over c from 0.1 (5 values), best point kept, notebook settings.

    Keys ``(network, capped)`` with network ``"distilled"`` or ``"standard"``.
    """
    x, y = batch
    networks = {"distilled": student, "standard": trained_mlp[0]}
    return {
        (name, capped): carlini_wagner_l2(
            net, x, y, 0.1, capped=capped, search_steps=5, keep_best=True, **CW_SETTINGS
        )
        for name, net in networks.items()
        for capped in (True, False)
    }


def median_l2(result, x):
    return (result.adversarial - x).flatten(1).norm(dim=1).median().item()


# --- the math ----------------------------------------------------------------------------------------


def test_logit_margin_matches_a_loop_and_masks_without_multiplying():
    logits = torch.tensor([[-1.0, -3.0, -2.0], [2.0, 5.0, -1.0], [-4.0, -1.0, -2.0]])
    y = torch.tensor([0, 1, 1])
    expected = [
        max(row[i] for i in range(3) if i != label) - row[label] for row, label in zip(logits, y, strict=True)
    ]
    assert torch.allclose(logit_margin(logits, y), torch.tensor(expected))
    # All-negative logits: a zero mask in place of the true class would give max(...) = 0.
    assert logit_margin(logits, y)[0].item() == pytest.approx(-1.0)


def test_f6_is_capped_at_minus_kappa_with_zero_gradient_beyond():
    logits = torch.tensor([[0.0, 3.0, 1.0], [2.0, 1.0, 0.0]], requires_grad=True)
    y = torch.tensor([0, 0])
    value = f6(logits, y, kappa=1.0)
    assert value.tolist() == [-1.0, 1.0]  # sample 0: margin 3 >= kappa, capped; sample 1: Z_y leads by 1
    (gradient,) = torch.autograd.grad(value.sum(), logits)
    assert torch.equal(gradient[0], torch.zeros(3))  # goal met: the term no longer pushes
    assert gradient[1].tolist() == [1.0, -1.0, 0.0]  # d(Z_y - Z_best_other)
    uncapped = f6(logits, y, kappa=1.0, capped=False)
    assert uncapped.tolist() == [-3.0, 1.0]
    (gradient,) = torch.autograd.grad(uncapped.sum(), logits)
    assert gradient[0].tolist() == [1.0, -1.0, 0.0]  # uncapped: still rewards more margin


def test_tanh_change_of_variables_stays_in_the_box():
    w = torch.tensor([-1e4, -20.0, -1.0, 0.0, 1.0, 20.0, 1e4])
    x = _to_x(w)
    assert x.min() >= 0 and x.max() <= 1
    pixels = torch.tensor([0.0, 0.25, 0.5, 1.0])
    assert torch.isfinite(_to_w(pixels)).all()
    assert torch.allclose(_to_x(_to_w(pixels)), pixels, atol=1e-6)


def test_loss_gradient_matches_the_hand_derivation_on_a_linear_model():
    """d/dw [||x' - x||^2 + c f6] = (2 (x' - x) + c (W_y - W_j)) (1 - tanh(w)^2) / 2, j: best other class."""
    generator = torch.Generator().manual_seed(0)
    W = torch.randn(3, 5, dtype=torch.float64, generator=generator)
    b = torch.randn(3, dtype=torch.float64, generator=generator)
    x = torch.rand(1, 5, dtype=torch.float64, generator=generator)
    y, c = torch.tensor([int((x @ W.T + b).argmax())]), 0.7
    w = (_to_w(x) + 0.3 * torch.randn(1, 5, dtype=torch.float64, generator=generator)).requires_grad_(True)
    x_adv = _to_x(w)
    logits = x_adv @ W.T + b
    loss = (x_adv - x).pow(2).sum() + c * f6(logits, y, kappa=100.0).sum()  # kappa large: not capped
    (autograd,) = torch.autograd.grad(loss, w)
    j = int(logits.detach().masked_fill(nn.functional.one_hot(y, 3).bool(), -torch.inf).argmax())
    by_hand = (2 * (x_adv - x) + c * (W[y[0]] - W[j])) * (1 - torch.tanh(w) ** 2) / 2
    assert torch.allclose(autograd, by_hand.detach())


def test_one_step_is_a_sign_step_of_adam_in_w():
    """Adam's first step is lr * sign(gradient); from x' = x the gradient is c * grad f6 (distance ~ 0)."""
    generator = torch.Generator().manual_seed(1)
    model = nn.Linear(64, 10)
    with torch.no_grad():  # parameters from the test's own generator, not the global one
        model.weight.copy_(torch.randn(10, 64, generator=generator) / 8)
        model.bias.copy_(torch.randn(10, generator=generator) / 8)
    x = torch.rand(4, 64, generator=generator) * 0.8 + 0.1
    y = model(x).argmax(1)
    result = carlini_wagner_l2(model, x, y, c=2.0, steps=1, lr=0.05)
    W = model.weight.detach()
    j = model(x).detach().masked_fill(nn.functional.one_hot(y, 10).bool(), -torch.inf).argmax(1)
    expected = _to_x(_to_w(x) - 0.05 * (W[y] - W[j]).sign())
    assert torch.allclose(result.adversarial, expected, atol=1e-5)


# --- the contract ------------------------------------------------------------------------------------


def test_result_contract_history_queries_and_box(trained_mlp, batch, fixed_c):
    model, _ = trained_mlp
    x, y = batch
    result = fixed_c["capped"]
    assert isinstance(result, AttackResult)
    assert result.adversarial.shape == x.shape
    assert result.adversarial.min() >= 0 and result.adversarial.max() <= 1
    assert torch.equal(result.success, model(result.adversarial).argmax(1) != y)
    assert result.history["l2"].shape == result.history["margin"].shape == (300, 100)
    assert result.queries.tolist() == [302] * 100
    searched = carlini_wagner_l2(model, x[:5], y[:5], 1.0, steps=10, search_steps=3)
    assert searched.history["l2"].shape == (30, 5) and searched.queries[0] == 3 * 11 + 1


def test_keep_best_and_the_search_never_do_worse(trained_mlp, batch, fixed_c, kept_best):
    model, _ = trained_mlp
    x, y = batch
    final, best = fixed_c["capped"], kept_best["capped"]
    both = final.success & best.success
    l2_final = (final.adversarial - x).flatten(1).norm(dim=1)
    l2_best = (best.adversarial - x).flatten(1).norm(dim=1)
    assert best.success_rate >= final.success_rate
    assert (l2_best[both] <= l2_final[both] + 1e-6).all()
    searched = carlini_wagner_l2(model, x[:30], y[:30], 1.0, steps=100, search_steps=3, keep_best=True)
    first = carlini_wagner_l2(model, x[:30], y[:30], 1.0, steps=100, keep_best=True)
    assert searched.success_rate >= first.success_rate
    assert median_l2(searched, x[:30]) <= median_l2(first, x[:30]) + 1e-6


def test_attack_leaves_model_mode_and_parameter_gradients_alone(batch):
    x, y = batch
    model = MLP().train()
    carlini_wagner_l2(model, x[:4], y[:4], 1.0, steps=3)
    assert model.training
    assert all(p.grad is None for p in model.parameters())


def test_image_shaped_inputs_and_a_cnn(digits):
    x, y = digits.images_test[:6], digits.y_test[:6]
    result = carlini_wagner_l2(SmallCNN(), x, y, 1.0, steps=5)
    assert result.adversarial.shape == (6, 1, 8, 8)


@pytest.mark.parametrize(("search_steps", "c", "steps"), [(1, 1.0, 100), (3, 0.1, 50)])
def test_matches_foolbox_l2_carlini_wagner(trained_mlp, batch, search_steps, c, steps):
    """Same model, c, steps, learning rate, search; Foolbox keeps the best adversarial, so keep_best=True."""
    model, _ = trained_mlp
    x, y = batch
    attack = foolbox.attacks.L2CarliniWagnerAttack(
        binary_search_steps=search_steps, steps=steps, stepsize=0.05, initial_const=c, abort_early=False
    )
    _, theirs, their_success = attack(foolbox.PyTorchModel(model, bounds=(0, 1)), x, y, epsilons=None)
    ours = carlini_wagner_l2(model, x, y, c, steps=steps, search_steps=search_steps, keep_best=True)
    their_l2 = (theirs - x).flatten(1).norm(dim=1)[their_success].median().item()
    our_l2 = (ours.adversarial - x).flatten(1).norm(dim=1)[ours.success].median().item()
    assert abs(ours.success_rate - their_success.float().mean().item()) <= 0.02
    assert our_l2 == pytest.approx(their_l2, rel=0.10)


def test_binary_search_over_c_brackets_each_samples_threshold(monkeypatch):
    """C&W's search, with the inner Adam run replaced by a stub that succeeds exactly when
    c >= a per-sample threshold: a success halves c towards the largest failing value, a
    failure multiplies c by 10 until a success brackets it, then the bracket is bisected; the
    attack returns the point of the smallest successful c (here the closest one), or the last
    point when no c succeeds."""
    from companion import attacks

    thresholds = torch.tensor([0.35, 50.0, float("inf")])
    tried = []

    def stub(model, x, y, c, kappa, steps, capped, lr, keep_best, desc):
        tried.append(c.clone())
        found = c >= thresholds
        point = (x + 1e-3 * c[:, None]).clamp(0, 1)  # the larger c, the farther
        l2 = (point - x).norm(dim=1)
        return point, found, l2, l2[None].repeat(steps, 1), torch.zeros(steps, len(x))

    monkeypatch.setattr(attacks, "_cw_minimise", stub)
    model = nn.Linear(4, 3)
    x, y = torch.full((3, 4), 0.25), torch.tensor([0, 1, 2])
    result = carlini_wagner_l2(model, x, y, 1.0, steps=2, search_steps=6)
    expected = [
        [1.0, 0.5, 0.25, 0.375, 0.3125, 0.34375],  # success, success, failure, ...
        [1.0, 10.0, 100.0, 55.0, 32.5, 43.75],  # failures until 100 brackets 50
        [1.0, 10.0, 100.0, 1e3, 1e4, 1e5],  # never bracketed
    ]
    torch.testing.assert_close(torch.stack(tried).T, torch.tensor(expected))
    best_c = torch.tensor([0.375, 55.0, 1e5])  # smallest successful c; the last one for sample 2
    torch.testing.assert_close(result.adversarial, (x + 1e-3 * best_c[:, None]).clamp(0, 1))
    assert result.queries.tolist() == [6 * 3 + 1] * 3 and result.history["l2"].shape == (12, 3)


# --- the chapter's headline ---------------------------------------------------------------------------


def test_headline_without_the_cap_the_margin_and_the_distortion_run_away(batch, fixed_c):
    x, _ = batch
    capped, uncapped = fixed_c["capped"], fixed_c["uncapped"]
    assert capped.success_rate >= 0.9 and uncapped.success_rate >= 0.95
    assert 4 < median_l2(uncapped, x) / median_l2(capped, x) < 8  # the notebook: "about six times"
    assert capped.history["margin"][-1].median() < 1.0  # near kappa = 0
    assert uncapped.history["margin"][-1].median() > 10.0  # "tens of logits"
    # The uncapped margin keeps growing after the input is misclassified; the capped one settles.
    assert uncapped.history["margin"][-1].median() > 2 * uncapped.history["margin"][50].median()
    crossing = int((capped.history["margin"].median(dim=1).values > 0).nonzero()[0])
    assert 5 <= crossing <= 15  # "after about ten steps"


def test_headline_at_c_10_and_with_the_best_point_kept(trained_mlp, batch, kept_best):
    model, _ = trained_mlp
    x, y = batch
    capped = carlini_wagner_l2(model, x, y, 10.0, **CW_SETTINGS)
    uncapped = carlini_wagner_l2(model, x, y, 10.0, capped=False, **CW_SETTINGS)
    assert median_l2(uncapped, x) > 4 * median_l2(capped, x)
    assert median_l2(kept_best["uncapped"], x) > 1.3 * median_l2(
        kept_best["capped"], x
    )  # narrower, not closed


def test_at_a_small_c_the_goal_is_barely_worth_its_distance(trained_mlp, batch):
    """The notebook at c = 0.1: keeping the best point, both fool about three digits in four; the capped
    final iterate, no longer pushed past margin 0, falls back more often (about a third vs about 0.7)."""
    model, _ = trained_mlp
    x, y = batch
    runs = {
        (capped, keep_best): carlini_wagner_l2(
            model, x, y, 0.1, capped=capped, keep_best=keep_best, **CW_SETTINGS
        ).success_rate
        for capped in (True, False)
        for keep_best in (False, True)
    }
    assert 0.6 <= runs[True, True] <= 0.85 and 0.6 <= runs[False, True] <= 0.85
    assert abs(runs[True, True] - runs[False, True]) <= 0.05
    assert 0.2 <= runs[True, False] <= 0.45 and 0.6 <= runs[False, False] <= 0.8


def test_cw_breaks_the_distilled_model_where_fgsm_fails(student, batch, fixed_c, searched):
    x, y = batch
    result = carlini_wagner_l2(student, x, y, 1.0, **CW_SETTINGS)
    assert result.success_rate >= max(0.95, fixed_c["capped"].success_rate)
    assert median_l2(result, x) < 2.5 * median_l2(fixed_c["capped"], x)  # "within a factor of about two"
    assert fgsm(student, x, y, eps=0.2).success_rate < 0.5  # FGSM "fails on most distilled digits"
    # The fourth exercise (ex-capped-search): with the search over c the cap still wins on the distilled
    # model, and the distilled model needs smaller perturbations than the standard one.
    capped, uncapped = searched["distilled", True], searched["distilled", False]
    assert capped.success_rate == 1.0
    assert median_l2(capped, x) < median_l2(result, x)
    assert median_l2(uncapped, x) > 1.5 * median_l2(capped, x)
    assert median_l2(capped, x) < 0.9 * median_l2(searched["standard", True], x)


def test_on_the_standard_model_the_search_nearly_closes_the_gap(batch, searched):
    """The fourth exercise on the standard network, with the notebook's settings (300 steps, lr 0.05)."""
    x, _ = batch
    capped, uncapped = searched["standard", True], searched["standard", False]
    assert capped.success_rate == uncapped.success_rate == 1.0
    assert median_l2(capped, x) <= median_l2(uncapped, x) < 1.05 * median_l2(capped, x)


# --- errors --------------------------------------------------------------------------------------------


class Probabilities(nn.Module):
    def forward(self, x):
        return torch.softmax(MLP()(x), dim=1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"c": 0.0}, ValueError, "c must be > 0, got 0.0"),
        ({"c": -1.0}, ValueError, "c must be > 0, got -1.0"),
        ({"kappa": -0.5}, ValueError, "kappa must be >= 0, got -0.5"),
        ({"steps": 0}, ValueError, "steps must be >= 1, got 0"),
        ({"search_steps": 0}, ValueError, "search_steps must be >= 1, got 0"),
        ({"lr": 0.0}, ValueError, "lr must be > 0, got 0.0"),
        ({"capped": "yes"}, TypeError, "capped must be a bool, got str"),
        ({"keep_best": 1}, TypeError, "keep_best must be a bool, got int"),
        ({"x": torch.full((2, 64), 1.5)}, ValueError, r"x must lie in \[0, 1\], got values in \[1.5, 1.5\]"),
        ({"x": -torch.rand(2, 64)}, ValueError, r"x must lie in \[0, 1\]"),
        ({"y": torch.tensor([0, 1, 2])}, ValueError, "same number of samples, got 2 and 3"),
        ({"y": torch.tensor([[0], [1]])}, ValueError, r"y must have 1 dimensions, got shape \(2, 1\)"),
        ({"model": "mlp"}, TypeError, "model must be callable"),
        ({"model": Probabilities()}, ValueError, "outputs look like probabilities"),
        ({"model": lambda x: x.sum(1)}, ValueError, r"logits of shape \(N, K\) = \(2, K >= 2\), got \(2,\)"),
    ],
)
def test_carlini_wagner_rejects_bad_arguments(kwargs, error, match):
    arguments = {
        "model": MLP(),
        "x": torch.rand(2, 64),
        "y": torch.tensor([0, 1]),
        "c": 1.0,
        "steps": 2,
        **kwargs,
    }
    with pytest.raises(error, match=match):
        carlini_wagner_l2(**arguments)


def test_f6_and_margin_reject_bad_arguments():
    with pytest.raises(ValueError, match="kappa must be >= 0, got -1"):
        f6(torch.zeros(2, 3), torch.tensor([0, 1]), kappa=-1.0)
    with pytest.raises(ValueError, match=r"y must hold class indices in \[0, 2\], got values in \[0, 5\]"):
        logit_margin(torch.zeros(2, 3), torch.tensor([0, 5]))
    with pytest.raises(ValueError, match=r"logits must have 2 dimensions, got shape \(3,\)"):
        logit_margin(torch.zeros(3), torch.tensor([0]))
