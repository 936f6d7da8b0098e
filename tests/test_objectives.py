"""Capped objectives: the toy, the C&W summaries and sweep, the other capped losses, the figures."""

import pytest
import torch
from matplotlib.figure import Figure

from companion import objectives
from companion.attacks import AttackResult, carlini_wagner_l2
from companion.figures import objectives as figures
from companion.objectives import CW_SETTINGS, LinearToy, cap, descend


def test_cap_is_flat_below_minus_kappa():
    g = torch.tensor([-3.0, -0.5, 2.0], requires_grad=True)
    value = cap(g, kappa=1.0)
    assert value.tolist() == [-1.0, -0.5, 2.0]
    (gradient,) = torch.autograd.grad(value.sum(), g)
    assert gradient.tolist() == [0.0, 1.0, 1.0]
    assert torch.equal(cap(g, 1.0, capped=False), g)


@pytest.mark.parametrize("capped", [True, False])
@pytest.mark.parametrize(("c", "kappa"), [(0.5, 0.0), (4.0, 0.5), (8.0, 2.0)])
def test_toy_optimum_is_where_gradient_descent_ends(c, kappa, capped):
    toy = LinearToy()
    path = descend(lambda p: toy.objective(p, c, kappa, capped), torch.tensor(toy.x0), lr=0.01, steps=1500)
    assert torch.allclose(path[-1], toy.optimum(c, kappa, capped), atol=0.03 * c)


def test_toy_uncapped_optimum_runs_away_with_c_and_the_capped_one_stops_at_kappa():
    toy = LinearToy()
    for c in (4.0, 40.0, 400.0):
        uncapped, capped = toy.optimum(c, 0.5, capped=False), toy.optimum(c, 0.5)
        assert toy.margin(uncapped[None]).item() == pytest.approx(c - 1)  # margin u . p + b = c |u|^2 / 2 - 1
        assert toy.margin(capped[None]).item() == pytest.approx(0.5)
    already = LinearToy(x0=(2.0, 2.0))  # margin 3 > kappa at the start: stay put
    assert torch.equal(already.optimum(4.0, 0.5), torch.tensor([2.0, 2.0]))


def test_descend_follows_the_gradient_and_checks_arguments():
    path = descend(lambda p: p.pow(2).sum(1), torch.tensor([1.0, -2.0]), lr=0.25, steps=2)
    assert torch.allclose(path, torch.tensor([[1.0, -2.0], [0.5, -1.0], [0.25, -0.5]]))
    with pytest.raises(ValueError, match=r"p0 must have 1 dimensions, got shape \(1, 2\)"):
        descend(lambda p: p.sum(1), torch.zeros(1, 2), lr=0.1, steps=1)
    with pytest.raises(ValueError, match="lr must be > 0, got -0.1"):
        descend(lambda p: p.sum(1), torch.zeros(2), lr=-0.1, steps=1)
    with pytest.raises(ValueError, match="kappa must be >= 0, got -1"):
        cap(torch.zeros(2), -1.0)
    with pytest.raises(ValueError, match="x0 and u must have the same length >= 1, got 2 and 1"):
        LinearToy(u=(1.0,))
    with pytest.raises(ValueError, match="u must not be all zeros"):
        LinearToy(u=(0.0, 0.0))
    with pytest.raises(ValueError, match="c must be > 0, got 0"):
        LinearToy().optimum(c=0.0)


def test_cw_settings_are_shared_read_only():
    # The notebook's text quotes "300 steps at learning rate 0.05"; tests import the same mapping.
    assert dict(CW_SETTINGS) == {"steps": 300, "lr": 0.05}
    with pytest.raises(TypeError):
        CW_SETTINGS["steps"] = 10


def test_hinge_loss_ignores_the_easy_points_the_linear_loss_chases():
    out = objectives.hinge_vs_linear()
    assert out["hinge"]["accuracy"] == 1.0
    assert out["linear"]["accuracy"] < 0.7
    with pytest.raises(ValueError, match="lam must be > 0, got 0.0"):
        objectives.hinge_vs_linear(lam=0.0)


def test_hinge_vs_linear_draws_its_data_from_seed():
    """The default seed 0 is a private generator seeded 0: the chapter's data, whatever the global RNG."""
    torch.manual_seed(123)
    default, explicit = (
        objectives.hinge_vs_linear(steps=1),
        objectives.hinge_vs_linear(steps=1, seed=torch.Generator().manual_seed(0)),
    )
    assert torch.equal(default["x"], explicit["x"])
    assert not torch.equal(default["x"], objectives.hinge_vs_linear(steps=1, seed=1)["x"])
    with pytest.raises(TypeError, match="seed must be an int >= 0, a torch.Generator or None"):
        objectives.hinge_vs_linear(seed="0")


def test_ppo_surrogate_values_and_flat_regions():
    ratio = torch.tensor([0.5, 1.0, 1.5, 0.5, 1.0, 1.5], requires_grad=True)
    advantage = torch.tensor([1.0, 1.0, 1.0, -1.0, -1.0, -1.0])
    value = objectives.ppo_surrogate(ratio, advantage, eps=0.2)
    assert torch.allclose(value, torch.tensor([0.5, 1.0, 1.2, -0.8, -1.0, -1.5]))
    (gradient,) = torch.autograd.grad(value.sum(), ratio)
    assert gradient.tolist() == [1.0, 1.0, 0.0, 0.0, -1.0, -1.0]  # no gain from moving r past 1 +- eps
    plain = objectives.ppo_surrogate(ratio, advantage, clipped=False)
    assert torch.equal(plain, ratio * advantage)


def test_ppo_clipping_keeps_the_new_policy_near_the_old_one():
    out = objectives.ppo_policy_demo()
    assert (
        out["clipped"]["kl"] < 0.05 and out["unclipped"]["kl"] > 1.0
    )  # the notebook: "about 0.02", "above 1"
    assert out["clipped"]["ratio"][-1, 0] < 1.3 < 2.0 < out["unclipped"]["ratio"][-1, 0]


def test_learned_task_weights_collapse_without_the_regulariser():
    out = objectives.kendall_weights()
    regularised, unregularised = out["regularised"], out["unregularised"]
    assert torch.allclose(regularised["losses"][-1], torch.tensor([0.5, 2.0]), atol=0.01)  # the noise floors
    assert torch.allclose(regularised["weights"][-1], torch.tensor([2.0, 0.5]), rtol=0.02)  # 1 / noise
    assert unregularised["weights"][-1].max() < 0.01
    assert unregularised["total"][-1] < regularised["total"][-1]  # a lower total ...
    assert (unregularised["losses"][-1] > 5 * regularised["losses"][-1]).all()  # ... by not learning
    weighted = objectives.uncertainty_weighted_loss(torch.tensor([2.0]), torch.tensor([0.0]))
    assert weighted.item() == pytest.approx(1.0)


def test_kappa_sweep_distortion_grows_and_the_margin_follows_kappa(trained_mlp, digits):
    model, _ = trained_mlp
    x, y = digits.x_test[:100], digits.y_test[:100]
    sweep = objectives.kappa_sweep(model, x, y, [0.0, 2.0, 8.0], c=1.0, **CW_SETTINGS)  # as the notebook
    assert (sweep["success"] >= 0.9).all()
    assert sweep["l2"][0] < sweep["l2"][1] < sweep["l2"][2]
    assert (sweep["margin"] >= sweep["kappa"]).all() and (sweep["margin"] < sweep["kappa"] + 1.5).all()
    assert isinstance(figures.kappa_sweep_figure(sweep), Figure)
    with pytest.raises(ValueError, match="kappas must hold at least one value"):
        objectives.kappa_sweep(model, x, y, [], c=1.0, **CW_SETTINGS)


def test_figures_draw(trained_mlp, digits):
    model, _ = trained_mlp
    x, y = digits.x_test[:3], digits.y_test[:3]
    results = {
        name: carlini_wagner_l2(model, x, y, 1.0, steps=20, capped=name == "capped")
        for name in ("capped", "x")
    }
    assert isinstance(figures.cw_history_figure(results), Figure)
    assert isinstance(figures.cw_explorer_figure(model, x, y, 1.0, 0.5, steps=20), Figure)
    assert isinstance(figures.toy_figure(steps=5), Figure)
    with pytest.raises(ValueError, match="results must hold at least one AttackResult"):
        figures.cw_history_figure({})


def test_summarise_attack_reports_success_median_distance_and_margin():
    """Hand-made result: three points at known distances and logits with known margins."""
    model = torch.nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(2))  # logits = the point itself
    x = torch.zeros(3, 2)
    adversarial = torch.tensor([[0.0, 0.3], [0.0, 0.4], [0.5, 0.0]])  # L2 0.3, 0.4, 0.5
    y = torch.zeros(3, dtype=torch.long)  # margins Z_1 - Z_0: 0.3, 0.4, -0.5
    result = AttackResult(adversarial, torch.tensor([True, True, False]), torch.ones(3, dtype=torch.long))
    summary = objectives.summarise_attack(model, x, y, result)
    assert summary == pytest.approx({"success": 2 / 3, "l2": 0.4, "margin": 0.3})
    with pytest.raises(ValueError, match="must have the shape of x"):
        objectives.summarise_attack(model, x[:2], y[:2], result)
    with pytest.raises(TypeError, match="result must be an AttackResult"):
        objectives.summarise_attack(model, x, y, adversarial)
