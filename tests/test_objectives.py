"""Capped objectives: the toy, the figures, the other capped losses and the exercise checkers."""

import pytest
import torch
from matplotlib.figure import Figure

from companion import objectives
from companion.attacks import AttackResult, carlini_wagner_l2, f6
from companion.objectives import CW_SETTINGS, LinearToy, cap, descend
from companion.training import TrainConfig


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


@pytest.mark.parametrize(("c", "kappa"), [(4.0, 0.5), (1.0, 0.5), (10.0, 0.0), (2.0, 3.0)])
def test_check_capped_optimum_accepts_the_optimum(c, kappa):
    toy = LinearToy(x0=(0.0,), u=(1.0,), b=-1.0)
    grid = torch.linspace(-2, 10, 120001)[:, None]
    brute_force = grid[toy.objective(grid, c, kappa).argmin()].item()
    feedback = objectives.check_capped_optimum(brute_force, c, kappa)  # a number ...
    assert feedback.correct is True and feedback.exercise == "ex-capped-toy"
    solution = objectives.check_capped_optimum(lambda c, kappa: min(c / 2, 1 + kappa), c=c, kappa=kappa)
    assert solution.correct is True  # ... or the notebook's function of (c, kappa)


def _without_case(message: str, c: float, kappa: float) -> str:
    """The hint without the case it names ("at c = 1, kappa = 0.5"): kappa may equal the answer."""
    return message.replace(f"at c = {c:g}, kappa = {kappa:g}", "")


@pytest.mark.parametrize(
    ("c", "kappa", "answer", "hint"),
    [
        (4.0, 0.5, 2.0, "uncapped objective"),
        (4.0, 0.5, lambda c, kappa: c / 2, "uncapped objective"),
        (1.0, 0.5, lambda c, kappa: 1 + kappa, "Consider the case of small c"),
        (4.0, 0.5, 1.0, "the cap sits at -kappa"),
        (4.0, 0.5, 0.3, "piecewise"),
        (4.0, 0.5, torch.tensor([0.3, 0.4]), "must be a number, got Tensor"),
        (4.0, 0.5, "1.5", "must be a number, got str"),
        (4.0, 0.5, lambda c, kappa: "1.5", "`capped_optimum(c, kappa)` must be a number"),
        (4.0, 0.5, lambda c, kappa: None, "returned None"),
        (1.0, 0.5, None, "`capped_optimum` is still None"),
    ],
)
def test_check_capped_optimum_hints_without_the_answer(c, kappa, answer, hint):
    feedback = objectives.check_capped_optimum(answer, c=c, kappa=kappa)
    assert feedback.correct is False and hint in feedback.message, feedback
    expected = min(c / 2, 1 + kappa)
    assert f"{expected:g}" not in _without_case(feedback.message, c, kappa)
    with pytest.raises(ValueError, match="c must be > 0"):
        objectives.check_capped_optimum(answer, c=0.0, kappa=kappa)


def _stub(*args):
    raise NotImplementedError  # your code


def _broken(*args):
    return args[99]  # an IndexError inside the student's code


@pytest.mark.parametrize(
    "check",
    [lambda answer: objectives.check_capped_optimum(answer, 4.0, 0.5), objectives.check_capped_f6],
)
@pytest.mark.parametrize(
    ("answer", "hint"),
    [(None, "is still None"), (_stub, "still raises NotImplementedError"), (_broken, "raised IndexError")],
)
def test_checks_say_not_yet_to_an_unanswered_stub(check, answer, hint):
    feedback = check(answer)  # never raises
    assert feedback.correct is False and hint in feedback.message, feedback


def test_check_capped_f6_accepts_the_reference_and_catches_common_mistakes():
    feedback = objectives.check_capped_f6(f6)
    assert feedback.correct is True and feedback.exercise == "ex-capped-f6"

    def multiplied_mask(logits, y, kappa):
        mask = torch.nn.functional.one_hot(y, logits.shape[1])
        best_other = (logits * (1 - mask)).max(dim=1).values
        return torch.clamp(logits.gather(1, y[:, None]).squeeze(1) - best_other, min=-kappa)

    def uncapped(logits, y, kappa):
        return f6(logits, y, capped=False)

    def wrong_sign(logits, y, kappa):
        return (-f6(logits, y, capped=False)).clamp(min=-kappa)

    def floored_at_zero(logits, y, kappa):
        return f6(logits, y, capped=False).clamp(min=0.0)

    mistakes = [
        (multiplied_mask, "multiplying with a 0/1 mask"),
        (uncapped, "Where is the cap?"),
        (wrong_sign, "check the sign"),
        (floored_at_zero, "floored at -kappa"),
        (lambda logits, y, kappa: logits, "shape (N,)"),
        (lambda logits, y, kappa: logits.tolist(), "got list"),
        (3, "must be a function"),
    ]
    for candidate, hint in mistakes:
        feedback = objectives.check_capped_f6(candidate)
        assert feedback.correct is False and hint in feedback.message, feedback
        assert "masked_fill" not in feedback.message and "inf" not in feedback.message  # no code


@pytest.fixture(scope="module")
def search(trained_mlp, digits):
    """The search exercise at small scale: two networks, 12 digits, 5 values of c of 20 steps each."""
    from companion.training import train_classifier

    networks = {"distilled": train_classifier(digits, "mlp", TrainConfig(epochs=3, seed=1))[0]}
    networks["standard"] = trained_mlp[0]
    x, y = digits.x_test[:12], digits.y_test[:12]
    searched, reported = {}, {}
    for name, net in networks.items():
        for capped in (True, False):
            result = carlini_wagner_l2(
                net, x, y, 0.1, steps=20, capped=capped, search_steps=5, keep_best=True
            )
            summary = objectives.summarise_attack(net, x, y, result)
            searched[name, capped], reported[name, capped] = result, (summary["success"], summary["l2"])
    return searched, reported, networks, x, y


def test_check_capped_search_accepts_the_experiment(search):
    searched, reported, networks, x, y = search
    feedback = objectives.check_capped_search(searched, reported, networks, x, y)
    assert feedback.correct is True and feedback.exercise == "ex-capped-search", feedback
    summaries = {key: objectives.summarise_attack(networks[key[0]], x, y, r) for key, r in searched.items()}
    assert objectives.check_capped_search(searched, summaries, networks, x, y).correct  # the summary dicts


def test_check_capped_search_hints_at_each_mistake_without_the_numbers(search):
    searched, reported, networks, x, y = search
    key = ("distilled", False)
    swapped_networks = {**searched, key: searched["standard", False]}
    fixed_c = carlini_wagner_l2(networks["distilled"], x, y, 0.1, steps=20, capped=False, keep_best=True)
    subset = carlini_wagner_l2(
        networks["distilled"], x[:6], y[:6], 0.1, steps=20, capped=False, search_steps=5
    )
    success, l2 = reported[key]
    mean_l2 = (searched[key].adversarial - x).norm(dim=1).mean().item()
    cases = [
        (None, reported, "`searched` is still None"),
        ([searched[key]], reported, "expected a dict keyed by (network, capped)"),
        ({k: v for k, v in searched.items() if k != key}, reported, "no entry for ('distilled', False)"),
        ({**searched, key: searched[key].adversarial}, reported, "must be the AttackResult"),
        ({**searched, key: AttackResult(x, success, 1)}, reported, "not a result of carlini_wagner_l2"),
        ({**searched, key: fixed_c}, reported, "tried 1 value(s) of c"),
        ({**searched, key: subset}, reported, "attack the chapter's x and y"),
        (swapped_networks, reported, "did you attack that network?"),
        (searched, None, "`reported` is still None"),
        (searched, {**reported, key: success}, "must be a pair"),
        (searched, {**reported, key: (1 - success, l2)}, "success rate"),
        (searched, {**reported, key: (success, mean_l2)}, "not the median"),
        (searched, {**reported, key: ("high", l2)}, "must be a number, got str"),
    ]
    for answer, numbers, hint in cases:
        feedback = objectives.check_capped_search(answer, numbers, networks, x, y)
        assert feedback.correct is False and hint in feedback.message, (hint, feedback)
        assert f"{l2:.2f}" not in feedback.message and f"{l2:.3f}" not in feedback.message
    with pytest.raises(TypeError, match="networks must map 'distilled' and 'standard'"):
        objectives.check_capped_search(searched, reported, {"standard": networks["standard"]}, x, y)


def test_kappa_sweep_distortion_grows_and_the_margin_follows_kappa(trained_mlp, digits):
    model, _ = trained_mlp
    x, y = digits.x_test[:100], digits.y_test[:100]
    sweep = objectives.kappa_sweep(model, x, y, [0.0, 2.0, 8.0], c=1.0, **CW_SETTINGS)  # as the notebook
    assert (sweep["success"] >= 0.9).all()
    assert sweep["l2"][0] < sweep["l2"][1] < sweep["l2"][2]
    assert (sweep["margin"] >= sweep["kappa"]).all() and (sweep["margin"] < sweep["kappa"] + 1.5).all()
    assert isinstance(objectives.kappa_sweep_figure(sweep), Figure)
    with pytest.raises(ValueError, match="kappas must hold at least one value"):
        objectives.kappa_sweep(model, x, y, [], c=1.0, **CW_SETTINGS)


def test_figures_draw(trained_mlp, digits):
    model, _ = trained_mlp
    x, y = digits.x_test[:3], digits.y_test[:3]
    results = {
        name: carlini_wagner_l2(model, x, y, 1.0, steps=20, capped=name == "capped")
        for name in ("capped", "x")
    }
    assert isinstance(objectives.cw_history_figure(results), Figure)
    assert isinstance(objectives.cw_explorer_figure(model, x, y, 1.0, 0.5, steps=20), Figure)
    assert isinstance(objectives.toy_figure(steps=5), Figure)
    with pytest.raises(ValueError, match="results must hold at least one AttackResult"):
        objectives.cw_history_figure({})


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
