"""Chapter 3: adversarial training hooks, robust evaluation, sanity checks, figures.

The chapter's headline is asserted through the notebook's own code path and
defaults: ``train_models(digits, Setup())`` then ``evaluate(...)``.
"""

import inspect
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from companion import adversarial as adv
from companion.attacks import fgsm, pgd
from companion.figures import adversarial as figures
from companion.models import MLP
from companion.training import TrainConfig, train

SETUP = adv.Setup()


@pytest.fixture(scope="module")
def models(adversarial_trained):
    return {name: model for name, (model, _) in adversarial_trained.items()}


@pytest.fixture(scope="module")
def evaluation(models, digits):
    return adv.evaluate(models, digits.x_test, digits.y_test, SETUP)


@pytest.fixture(scope="module")
def sanity_subset(digits):
    """The test digits the notebook runs its sanity checks on."""
    return digits.x_test[:200], digits.y_test[:200]


# ---- the headline -------------------------------------------------------------------------


def test_pgd_training_is_robust_at_its_eps_for_a_small_clean_cost(evaluation):
    standard, robust = evaluation.at("standard", SETUP.eps), evaluation.at("pgd", SETUP.eps)
    assert standard <= 0.02, standard  # the standard model collapses
    assert robust >= 0.45, robust  # PGD-AT keeps about half of the digits ...
    assert robust < evaluation.at("pgd", 0.0) - 0.2  # ... and is far from unbreakable
    clean_cost = evaluation.at("standard", 0.0) - evaluation.at("pgd", 0.0)
    assert evaluation.at("pgd", 0.0) >= 0.94 and clean_cost <= 0.03, clean_cost


def test_pgd_accuracy_is_never_above_fgsm_accuracy_or_clean_accuracy(evaluation):
    """What any sound evaluation satisfies, whatever the seed: PGD with restarts is at least as
    strong as one FGSM step, and an attack never raises accuracy (one digit of slack)."""
    for name in evaluation.robust:
        pgd_acc, clean = evaluation.at(name, SETUP.eps), evaluation.at(name, 0.0)
        assert pgd_acc <= evaluation.fgsm[name] + 1 / 450 and evaluation.fgsm[name] <= clean, name


def test_fgsm_training_overfits_to_its_own_attack(evaluation):
    """FGSM-AT looks robust to FGSM and is far less robust to PGD; PGD-AT shows no such gap."""
    fgsm_gap = evaluation.fgsm["fgsm"] - evaluation.at("fgsm", SETUP.eps)
    pgd_gap = evaluation.fgsm["pgd"] - evaluation.at("pgd", SETUP.eps)
    assert fgsm_gap >= 0.3 and pgd_gap <= 0.2, (fgsm_gap, pgd_gap)
    assert 0.15 <= evaluation.at("fgsm", SETUP.eps) <= evaluation.at("pgd", SETUP.eps) - 0.15
    assert evaluation.at("fgsm", 0.0) >= 0.95  # no catastrophic loss of clean accuracy either


def test_at_a_smaller_eps_both_adversarial_trainings_help(evaluation):
    assert evaluation.at("standard", 0.1) <= 0.4
    assert min(evaluation.at("fgsm", 0.1), evaluation.at("pgd", 0.1)) >= 0.75


def test_fgsm_training_at_a_larger_eps_overfits_catastrophically(fgsm_at_03, digits):
    """The experiment exercise: at eps 0.3 FGSM-AT resists FGSM and nothing else (Wong et al. 2020)."""
    model, x, y = fgsm_at_03, digits.x_test, digits.y_test
    fgsm_acc = {eps: adv.fgsm_accuracy(model, x, y, eps) for eps in (0.1, 0.3)}
    pgd_acc = {eps: adv.robust_accuracy(model, x, y, eps) for eps in (0.1, 0.3)}
    # FGSM's success does not grow with its budget: accuracy stays high and does not fall by
    # more than about two standard errors (0.023 each on 450 digits) as eps triples
    assert fgsm_acc[0.3] >= 0.5 and fgsm_acc[0.3] >= fgsm_acc[0.1] - 0.05, fgsm_acc
    assert pgd_acc[0.3] <= 0.02 and pgd_acc[0.1] <= 0.45, pgd_acc  # no better than the standard model


def test_robust_accuracy_falls_with_eps_and_reaches_zero(evaluation):
    for name, values in evaluation.robust.items():
        assert all(b <= a + 0.005 for a, b in zip(values, values[1:], strict=False)), (name, values)
        assert values[-1] == 0.0, (name, values)


def test_pgd_training_costs_k_plus_one_standard_steps(adversarial_trained, digits):
    """Counted passes, not the clock: PGD's k gradients plus the weights' one; FGSM's one plus two."""
    x, y = digits.x_train[:64], digits.y_train[:64]
    passes = {name: adv.count_passes(hook, MLP(), x, y) for name, hook in adv.training_hooks(SETUP).items()}
    assert passes["standard"] == (1, 1), passes
    assert passes["fgsm"][1] == 3 and passes["fgsm"][0] >= 3, passes
    assert passes["pgd"][1] == SETUP.train_steps + 1 and passes["pgd"][0] >= SETUP.train_steps + 1, passes
    seconds = {name: history.seconds for name, (_, history) in adversarial_trained.items()}
    assert seconds["pgd"] > seconds["standard"], seconds  # loose: the clock depends on the load


def test_count_passes_leaves_no_hook_and_no_gradient(digits):
    model = MLP()
    passes = adv.count_passes(
        adv.pgd_training_loss(0.1, steps=3), model, digits.x_test[:8], digits.y_test[:8]
    )
    assert passes[1] == 4, passes
    assert not model._forward_hooks and all(p.grad is None for p in model.parameters())
    assert model.training  # pgd's eval mode is undone


def test_sanity_checks_pass_on_the_pgd_trained_model(models, sanity_subset):
    report = adv.sanity_checks(models["pgd"], *sanity_subset, SETUP.eps)
    assert report.problems() == [], str(report)
    assert report.strength[-1][2] <= report.strength[0][2] - 0.03, str(report)  # restarts find more
    assert report.large_eps_accuracy == 0.0 < report.grey_bound < 0.3  # a tenth or so: one class
    assert [e for e, _ in report.budgets] == [SETUP.eps / 2, SETUP.eps, 0.5]
    accuracies = [a for _, a in report.budgets]
    assert accuracies[0] >= accuracies[1] + 0.1, str(report)  # a larger budget breaks more digits
    assert report.gradient_free_accuracy >= report.pgd_accuracy
    assert "all checks passed" in str(report)


def test_sanity_checks_run_each_attack_once(models, sanity_subset, monkeypatch):
    """The budget check's PGD at eps is the strength (20, 5): it is run once and used twice."""
    calls, run = [], adv.robust_accuracy
    monkeypatch.setattr(adv, "robust_accuracy", lambda *a, **k: calls.append((a[3], k)) or run(*a, **k))
    x, y = sanity_subset[0][:20], sanity_subset[1][:20]
    report = adv.sanity_checks(models["pgd"], x, y, 0.2, strengths=((7, 1), (20, 5)), boundary_steps=10)
    assert len(calls) == 2 + 2  # two strengths, then the budgets eps / 2 and 0.5
    assert report.budgets[1][1] == report.strength[1][2]


def test_sanity_checks_catch_a_gradient_masking_defence(models, sanity_subset):
    """Rounding the input hides the gradient: PGD fails, the checks say so, BPDA breaks it again."""
    masked = adv.RoundedInput(models["standard"])
    x, y = sanity_subset
    assert adv.robust_accuracy(masked, x, y, 0.0) == adv.robust_accuracy(models["standard"], x, y, 0.0)
    report = adv.sanity_checks(masked, x, y, 0.1, strengths=((20, 1), (20, 5)))  # as in the notebook
    assert report.pgd_accuracy > 0.9  # looks robust ...
    problems = report.problems()
    assert any("eps 0.5" in p for p in problems) and any("gradient-free" in p for p in problems), problems
    assert 0.4 <= report.large_eps_accuracy <= 0.6  # "about half"
    bpda = adv.RoundedInput(models["standard"], straight_through=True)
    x_adv = adv.pgd_evaluation(bpda, x, y, 0.1).adversarial
    bpda_accuracy = (masked(x_adv).argmax(dim=1) == y).float().mean().item()
    standard = adv.robust_accuracy(models["standard"], x, y, 0.1)
    assert bpda_accuracy <= min(0.2, standard), (bpda_accuracy, standard)  # ... but is not


def test_sanity_report_lists_each_failed_check():
    report = adv.SanityReport(
        eps=0.2,
        strength=[(7, 1, 0.5), (20, 1, 0.6)],
        fgsm_accuracy=0.3,
        budgets=[(0.1, 0.4), (0.2, 0.5), (0.5, 0.1)],
        gradient_free_accuracy=0.2,
        tolerance=0.01,
        grey_bound=0.08,
    )
    problems = report.problems()
    assert len(problems) == 5, problems
    assert "higher accuracy" in problems[0] and "FGSM" in problems[1]
    assert "rises from 0.400 at eps 0.1 to 0.500 at eps 0.2" in problems[2]
    assert "0.100, above 0.080" in problems[3] and "gradient-free" in problems[4]
    assert str(report).count("FAILED") == 5
    assert (report.large_eps, report.large_eps_accuracy) == (0.5, 0.1)
    within = adv.SanityReport(**{**vars(report), "budgets": [(0.1, 0.6), (0.2, 0.5), (0.5, 0.09)]})
    assert not any("eps 0.5" in p for p in within.problems())  # within the bound plus tolerance


def test_grey_image_bound_is_the_share_of_the_grey_images_class(digits):
    class Constant(torch.nn.Module):  # says 3 for every input, grey or not
        def forward(self, x):
            return F.one_hot(torch.full((len(x),), 3), 10).float() + 0 * x.sum(dim=1, keepdim=True)

    x, y = digits.x_test[:100], digits.y_test[:100]
    assert adv.grey_image_bound(Constant(), x, y) == pytest.approx((y == 3).float().mean().item())
    # no attack can do better than the grey image: PGD at eps 0.5 on the constant model keeps its class
    assert adv.robust_accuracy(Constant(), x, y, 0.5) == pytest.approx(adv.grey_image_bound(Constant(), x, y))


def test_gradient_free_accuracy_counts_only_adversarials_within_eps(models, sanity_subset):
    x, y = sanity_subset
    model = models["standard"]
    clean = adv.robust_accuracy(model, x, y, 0.0)
    assert adv.gradient_free_accuracy(model, x, y, 0.0, steps=50) == pytest.approx(clean)
    assert adv.gradient_free_accuracy(model, x, y, 1.0, steps=50) == 0.0


# ---- the hooks: the inner maximisation inside companion.training.train ----------------------


def test_fgsm_hook_is_goodfellows_objective_against_the_model_it_is_given(models, digits):
    x, y = digits.x_test[:64], digits.y_test[:64]
    trained_model, fresh = models["standard"], MLP()
    for alpha in (0.0, 0.5, 1.0):
        hook = adv.fgsm_training_loss(0.2, alpha)
        for model in (trained_model, fresh):
            x_adv = fgsm(model, x, y, 0.2).adversarial
            expected = alpha * F.cross_entropy(model(x), y) + (1 - alpha) * F.cross_entropy(model(x_adv), y)
            assert torch.allclose(hook(model, x, y), expected, atol=1e-6)
    # The adversarial point of another model (a pre-generated example) gives a different loss.
    stale = fgsm(trained_model, x, y, 0.2).adversarial
    assert not torch.allclose(adv.fgsm_training_loss(0.2, 0.0)(fresh, x, y), F.cross_entropy(fresh(stale), y))


def test_pgd_hook_is_seeded_raises_the_loss_and_only_trains_the_parameters(models, digits):
    x, y = digits.x_test[:64], digits.y_test[:64]
    model = models["standard"]
    model.train()
    try:
        first = adv.pgd_training_loss(0.2, seed=3)(model, x, y)
        again = adv.pgd_training_loss(0.2, seed=3)(model, x, y)
        assert torch.equal(first, again)
        assert first > 5 * F.cross_entropy(model(x), y)
        assert model.training  # PGD's eval mode is undone
        first.backward()
        assert all(p.grad is not None for p in model.parameters())
    finally:
        model.zero_grad(set_to_none=True)
        model.eval()
    expected = pgd(model, x, y, 0.2, 2.5 * 0.2 / 7, 7, seed=3).adversarial
    assert torch.allclose(
        adv.pgd_training_loss(0.2, seed=3)(model, x, y), F.cross_entropy(model(expected), y)
    )


def test_the_chapters_copy_of_the_pgd_hook_is_the_modules_code():
    """Chapter 3 shows the core of pgd_training_loss in Markdown: the copy must stay in step."""
    notebook = nbformat.read(Path(__file__).parents[1] / "book" / "03_adversarial_training.ipynb", 4)
    markdown = next(cell.source for cell in notebook.cells if cell.id == "6f079e23")
    shown = markdown.split("```python\n")[1].split("```")[0].splitlines()
    source = inspect.getsource(adv.pgd_training_loss)
    assert len(shown) == 2 and all(line.strip() in source for line in shown), shown


def test_hooks_run_in_the_one_training_loop(digits):
    x, y = digits.x_train[:256], digits.y_train[:256]
    config = TrainConfig(epochs=2, seed=1)
    history = train(MLP(), x, y, config, loss_fn=adv.pgd_training_loss(0.1, steps=3))
    assert len(history.loss) == 2 and history.loss[1] < history.loss[0]


def test_default_step_size_crosses_the_ball():
    assert adv.default_step_size(0.2, 7) * 7 == pytest.approx(2.5 * 0.2)


def test_training_hooks_and_train_models_use_the_setup():
    hooks = adv.training_hooks(SETUP)
    assert list(hooks) == list(adv.MODEL_NAMES)
    assert SETUP.train_config == TrainConfig(
        epochs=SETUP.epochs, batch_size=SETUP.batch_size, seed=SETUP.seed
    )
    assert SETUP.batch_size == 128  # the chapter's setting (its prose states it)
    with pytest.raises(TypeError, match="batch_size must be an int"):
        adv.Setup(batch_size=64.0)


# ---- figures and explorer (companion.figures.adversarial) -----------------------------------


def test_figures_and_explorer(evaluation, models, digits):
    pair = {name: models[name] for name in ("standard", "pgd")}
    assert isinstance(figures.plot_robust_accuracy(evaluation, title="t"), Figure)
    images, perturbations = figures.example_figures(pair, digits.x_test[:5], digits.y_test[:5], 0.2)
    assert len(images.axes) == 10 and len(perturbations.axes) == 10
    draw = figures.eps_explorer(pair, digits.x_test, digits.y_test)
    fig = draw(eps=0.2, index=3)
    assert len(fig.axes) == 8
    assert fig.axes[3].get_title().startswith("standard: predicts")
    table = figures.format_table(evaluation, seconds={"standard": 1.0, "fgsm": 2.0, "pgd": 4.0})
    assert table.splitlines()[0].split()[:3] == ["model", "clean", "FGSM"]
    assert table.splitlines()[3].split()[-1] == "4.0"


# ---- argument checks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"eps": 0.0}, ValueError, "eps must be > 0"),
        ({"eps": "0.2"}, TypeError, "eps must be a number"),
        ({"fgsm_alpha": 1.5}, ValueError, r"fgsm_alpha must lie in \[0, 1\]"),
        ({"train_steps": 0}, ValueError, "train_steps must be >= 1"),
        ({"eval_restarts": 1.0}, TypeError, "eval_restarts must be an int"),
        ({"eps_grid": ()}, ValueError, "eps_grid must hold at least one"),
        ({"eps_grid": (0.1, -0.1)}, ValueError, r"eps_grid\[i\] must be >= 0"),
        ({"seed": -1}, ValueError, "seed must be an int >= 0, got -1"),
        ({"seed": True}, TypeError, "seed must be an int >= 0, got bool"),
    ],
)
def test_setup_rejects_bad_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        adv.Setup(**kwargs)


def test_functions_reject_bad_arguments(models, digits, evaluation):
    model, x, y = models["standard"], digits.x_test[:8], digits.y_test[:8]
    cases = [
        (lambda: adv.fgsm_training_loss(0.0), ValueError, "eps must be > 0"),
        (lambda: adv.fgsm_training_loss(0.1, alpha=2.0), ValueError, r"alpha must lie in \[0, 1\]"),
        (lambda: adv.pgd_training_loss(0.1, steps=0), ValueError, "steps must be >= 1"),
        (lambda: adv.pgd_training_loss(0.1, step_size=-1.0), ValueError, "step_size must be > 0"),
        (lambda: adv.default_step_size(0.0, 7), ValueError, "eps must be > 0"),
        (lambda: adv.training_hooks({"eps": 0.2}), TypeError, "setup must be"),
        (lambda: adv.train_models(digits, SETUP, names=["robust"]), ValueError, "names must be"),
        (lambda: adv.robust_accuracy(lambda z: z, x, y, 0.1), TypeError, "model must be a torch.nn.Module"),
        (lambda: adv.robust_accuracy(model, x * 2, y, 0.1), ValueError, r"x must lie in \[0, 1\]"),
        (lambda: adv.robust_accuracy(model, x, y[:4], 0.1), ValueError, "same number of samples"),
        (lambda: adv.robust_accuracy(model, x[:0], y[:0], 0.1), ValueError, "at least one sample"),
        (lambda: adv.robust_accuracy(model, x, y, -0.1), ValueError, "eps must be >= 0"),
        (lambda: adv.robust_accuracy(model, x, y, 0.1, restarts=0), ValueError, "restarts must be >= 1"),
        (lambda: adv.fgsm_accuracy(model, x, y.float(), 0.1), TypeError, "y must have an integer dtype"),
        (lambda: adv.gradient_free_accuracy(model, x, y, 0.1, steps=0), ValueError, "steps must be >= 1"),
        (lambda: adv.evaluate([model], x, y), TypeError, "models must be a non-empty dict"),
        (lambda: figures.format_table({"standard": [1.0]}), TypeError, "evaluation must be an Evaluation"),
        (lambda: figures.plot_robust_accuracy(None), TypeError, "evaluation must be an Evaluation"),
        (lambda: evaluation.at("robust", 0.2), ValueError, "name must be one of"),
        (lambda: evaluation.at("pgd", 0.123), ValueError, "eps must be one of the grid"),
        (lambda: adv.sanity_checks(model, x, y, 0.1, strengths=()), ValueError, "strengths must hold"),
        (lambda: adv.sanity_checks(model, x, y, 0.1, tolerance=2.0), ValueError, "tolerance must lie"),
        (lambda: adv.sanity_checks(model, x, y, 0.0), ValueError, "eps must be > 0"),
        (lambda: adv.sanity_checks(model, x, y, 0.2, large_eps=0.2), ValueError, "large_eps must be > eps"),
        (lambda: adv.sanity_checks(model, x, y, 0.2, large_eps=0.3), ValueError, "large_eps must be >= 0.5"),
        (lambda: adv.count_passes(None, model, x, y), TypeError, "loss_fn must be a function"),
        (
            lambda: adv.count_passes(adv.training_hooks()["standard"], model, x, y[:4]),
            ValueError,
            "same number",
        ),
        (lambda: figures.example_figures(model, x, y, 0.1), TypeError, "models must be a non-empty dict"),
        (lambda: figures.eps_explorer({}, x, y), TypeError, "models must be a non-empty dict"),
        (lambda: figures.eps_explorer({"m": model}, x, y)(0.1, 8), ValueError, r"index must lie in \[0, 7\]"),
        (lambda: figures.eps_explorer({"m": model}, x * 2, y), ValueError, r"x must lie in \[0, 1\]"),
        (lambda: adv.evaluate({"m": "mlp"}, x, y), TypeError, r"models\['m'\] must be a torch.nn.Module"),
        (lambda: adv.RoundedInput(lambda z: z), TypeError, "model must be a torch.nn.Module"),
        (lambda: adv.RoundedInput(model, levels=0), ValueError, "levels must be >= 1"),
    ]
    for call, error, match in cases:
        with pytest.raises(error, match=match):
            call()


# ---- AutoAttack and the per-example worst case ------------------------------------------------

REDUCED = adv.AutoAttackSetup(targets=3, square_queries=1000)  # the notebook's reduced AutoAttack
# PGD alone may overstate robust accuracy on the PGD-trained model by at most two standard
# errors of an accuracy near one half on 450 digits (2 * 0.024): the attacks agree there.
AGREEMENT = 0.05


@pytest.fixture(scope="module")
def pgd_vs_autoattack(models, digits):
    x, y = digits.x_test, digits.y_test
    pgd_only = adv.pgd_robustness(models["pgd"], x, y, SETUP.eps)
    auto = adv.autoattack(models["pgd"], x, y, SETUP.eps, REDUCED)
    return pgd_only, auto


def test_adding_an_attack_never_raises_the_worst_case_accuracy():
    g = torch.Generator().manual_seed(0)
    masks = {name: torch.rand(200, generator=g) < 0.7 for name in ("clean", "a", "b", "c")}
    result = adv.Robustness({"clean": masks["clean"]})
    accuracies = [result.accuracy]
    for name in ("a", "b", "c"):
        result = result.added(name, masks[name])
        accuracies.append(result.accuracy)
    assert accuracies == sorted(accuracies, reverse=True) and accuracies[-1] < accuracies[0]
    expected = (masks["clean"] & masks["a"] & masks["b"] & masks["c"]).float().mean().item()
    assert result.accuracy == pytest.approx(expected)
    assert result.accuracy <= min(result.accuracy_of(n) for n in result.robust)
    merged = adv.worst_case(adv.Robustness({"clean": masks["clean"], "a": masks["a"]}), result)
    assert list(merged.robust) == ["clean", "a", "b", "c"] and merged.accuracy == pytest.approx(expected)
    assert adv.worst_case(result, adv.Robustness({"clean": masks["clean"], "a": ~masks["a"]})).accuracy == 0.0
    assert result.standard_error == pytest.approx((expected * (1 - expected) / 200) ** 0.5)


def test_pgd_and_autoattack_agree_on_the_pgd_trained_model(pgd_vs_autoattack):
    pgd_only, auto = pgd_vs_autoattack
    both = adv.worst_case(pgd_only, auto)
    assert list(auto.robust) == ["clean", "apgd-ce", "apgd-t", "square"]
    assert pgd_only.accuracy_of("clean") == auto.accuracy_of("clean") >= 0.94
    assert 0.4 <= both.accuracy <= pgd_only.accuracy
    assert pgd_only.accuracy - both.accuracy <= AGREEMENT, (pgd_only.accuracy, auto.accuracy)
    assert abs(pgd_only.accuracy - auto.accuracy) <= AGREEMENT
    agree = (pgd_only.worst_case == auto.worst_case).float().mean().item()
    assert agree >= 0.9, agree  # per example too


def test_autoattack_sees_through_the_rounded_input_model(models, sanity_subset):
    """Masking detected: PGD finds the rounded model robust, AutoAttack (its Square) does not."""
    x, y = sanity_subset
    masked = adv.RoundedInput(models["standard"])
    pgd_only = adv.pgd_robustness(masked, x, y, 0.1)
    auto = adv.autoattack(masked, x, y, 0.1, adv.AutoAttackSetup(targets=3, square_queries=300))
    assert pgd_only.accuracy > 0.9
    assert auto.accuracy_of("apgd-t") > 0.9  # the gradient attacks are fooled as PGD is ...
    assert auto.accuracy < pgd_only.accuracy - AGREEMENT - 0.5  # ... the gradient-free Square is not
    assert auto.accuracy <= adv.robust_accuracy(models["standard"], x, y, 0.1) + AGREEMENT


def test_no_evaluation_leaves_the_eps_ball_or_the_box(models, sanity_subset, monkeypatch):
    x, y = sanity_subset
    distances = []
    checked = adv.robust_mask

    def recording(model, x_adv, x0, y0, eps):
        distances.append(((x_adv - x0).abs().amax().item(), x_adv.min().item(), x_adv.max().item(), eps))
        return checked(model, x_adv, x0, y0, eps)

    monkeypatch.setattr(adv, "robust_mask", recording)
    adv.autoattack(models["pgd"], x[:50], y[:50], 0.1, adv.AutoAttackSetup(targets=2, square_queries=50))
    adv.pgd_robustness(models["pgd"], x[:50], y[:50], 0.1)
    assert len(distances) >= 4  # APGD-CE, two APGD-T targets (unless all broken), Square, PGD
    assert all(d <= eps + adv.BALL_TOLERANCE and lo >= 0 and hi <= 1 for d, lo, hi, eps in distances)
    monkeypatch.undo()
    with pytest.raises(RuntimeError, match="left the threat model"):
        adv.robust_mask(models["pgd"], (x[:5] + 0.11).clamp(0, 1), x[:5], y[:5], 0.1)
    with pytest.raises(RuntimeError, match="left the threat model"):
        adv.robust_mask(models["pgd"], x[:5] * 0 - 0.01, x[:5] * 0, y[:5], 0.1)


def test_autoattack_is_seeded_and_leaves_the_global_generators_alone(models, sanity_subset):
    import random

    import numpy as np

    x, y = sanity_subset[0][:40], sanity_subset[1][:40]
    small = adv.AutoAttackSetup(attacks=("square",), square_queries=30)
    numpy_before, python_before = np.random.get_state()[1].copy(), random.getstate()  # noqa: NPY002
    first = adv.autoattack(models["pgd"], x, y, 0.2, small, seed=3)
    assert np.array_equal(np.random.get_state()[1], numpy_before)  # noqa: NPY002
    assert random.getstate() == python_before
    second = adv.autoattack(models["pgd"], x, y, 0.2, small, seed=3)
    assert torch.equal(first.worst_case, second.worst_case)


def test_the_chapters_results_file_is_the_benchmarks_and_consistent():
    import json

    results = json.loads((Path(adv.__file__).parent / "results" / "autoattack.json").read_text())
    assert results["n"] == 450 and results["pgd"] == {
        "steps": SETUP.eval_steps,
        "restarts": SETUP.eval_restarts,
    }
    defaults = adv.AutoAttackSetup()
    assert results["autoattack"]["attacks"] == list(defaults.attacks)
    assert results["autoattack"]["square_queries"] == defaults.square_queries
    assert results["autoattack"]["targets"] == defaults.targets
    assert "0" in results["seeds"]
    for rows in results["seeds"].values():
        for name in adv.MODEL_NAMES:
            for row in rows[name].values():
                assert row["worst_case"] <= min(row["pgd"], row["autoattack"], row["clean"]) + 1e-9
                steps = list(row["cumulative"].values())
                assert steps == sorted(steps, reverse=True)  # a cascade never raises accuracy


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"attacks": ()}, "attacks must be a non-empty selection"),
        ({"attacks": ("fab-t",)}, "attacks must be a non-empty selection"),
        ({"apgd_steps": 0}, "apgd_steps"),
        ({"targets": 0}, "targets"),
        ({"square_queries": -1}, "square_queries"),
        ({"square_p_init": 1.5}, "square_p_init"),
    ],
)
def test_autoattack_setup_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        adv.AutoAttackSetup(**kwargs)


def test_autoattack_and_robustness_reject_bad_arguments(models, digits):
    x, y = digits.x_test[:4], digits.y_test[:4]
    with pytest.raises(TypeError, match="setup must be a companion.adversarial.AutoAttackSetup"):
        adv.autoattack(models["pgd"], x, y, 0.1, adv.Setup())
    with pytest.raises(ValueError, match="eps"):
        adv.autoattack(models["pgd"], x, y, 0.0)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        adv.autoattack(lambda t: t, x, y, 0.1)
    with pytest.raises(ValueError, match="x_adv must have the shape of x"):
        adv.robust_mask(models["pgd"], x[:2], x, y, 0.1)
    with pytest.raises(ValueError, match="at least one attack"):
        adv.Robustness({})
    with pytest.raises(ValueError, match="same N"):
        adv.Robustness({"a": torch.ones(3, dtype=torch.bool), "b": torch.ones(4, dtype=torch.bool)})
    result = adv.Robustness({"clean": torch.ones(4, dtype=torch.bool)})
    with pytest.raises(ValueError, match="name must be one of"):
        result.accuracy_of("pgd")
    with pytest.raises(ValueError, match="name must be a new attack"):
        result.added("clean", torch.ones(4, dtype=torch.bool))
    with pytest.raises(TypeError, match="evaluations must be one or more"):
        adv.worst_case()
    with pytest.raises(ValueError, match="same inputs"):
        adv.worst_case(result, adv.Robustness({"clean": torch.ones(3, dtype=torch.bool)}))


def test_a_transfer_attack_from_the_standard_model_is_weaker_than_white_box_pgd(models, sanity_subset):
    x, y = sanity_subset
    transfer = adv.transfer_robustness(models["standard"], models["pgd"], x, y, SETUP.eps)
    white_box = adv.pgd_robustness(models["pgd"], x, y, SETUP.eps)
    assert list(transfer.robust) == ["clean", "transfer"]
    assert transfer.accuracy_of("clean") == white_box.accuracy_of("clean")
    assert white_box.accuracy < transfer.accuracy < transfer.accuracy_of("clean")
    with pytest.raises(TypeError, match="source must be a torch.nn.Module"):
        adv.transfer_robustness(lambda t: t, models["pgd"], x, y, 0.1)


def test_the_autoattack_table_shows_standard_errors_and_seeds(tmp_path):
    rows = {
        name: {
            "0.2": {
                "clean": 0.96, "fgsm": 0.6, "pgd": 0.5, "autoattack": 0.48, "worst_case": 0.48,
                "broken_by_autoattack_only": 9, "broken_by_pgd_only": 3,
            }
        }
        for name in adv.MODEL_NAMES
    }  # fmt: skip
    results = {"n": 450, "eps": [0.2], "seeds": {"0": rows, "1": rows}}
    table = figures.format_autoattack_table(results, 0.2)
    assert "0.480 +- 0.024" in table and "PGD-AT" in table and "mean 0.480" in table
    assert table.splitlines()[0].split()[-4:] == ["AA", "only", "PGD", "only"]
    pgd_row = next(line for line in table.splitlines() if line.split()[0] == "PGD-AT")
    assert pgd_row.split()[-2:] == ["9", "3"]  # AA only, PGD only
    assert table.splitlines()[-4:] == [  # each seed's clean accuracy, per model
        "clean accuracy over training seeds 0, 1:",
        *(f"  {adv.LABELS[name]:>8}: 0.960, 0.960" for name in adv.MODEL_NAMES),
    ]
    with pytest.raises(ValueError, match="seed must be one of"):
        figures.format_autoattack_table(results, 0.2, seed="7")
    with pytest.raises(ValueError, match="eps must be one of"):
        figures.format_autoattack_table(results, 0.1)
    with pytest.raises(TypeError, match="results must be"):
        figures.format_autoattack_table([], 0.2)
    with pytest.raises(ValueError, match="path must be a results file"):
        adv.autoattack_results(tmp_path / "missing.json")


def test_the_results_file_backs_chapter_3s_paired_claim():
    """Chapter 3: on the 450 digits AutoAttack is the stronger attack on the PGD-trained model at
    its training eps, by McNemar's exact test on the digits only one attack broke (every seed)."""
    from companion.training import mcnemar_p_value

    results = adv.autoattack_results()
    for seed, models in results["seeds"].items():
        row = models["pgd"]["0.2"]
        only_aa, only_pgd = row["broken_by_autoattack_only"], row["broken_by_pgd_only"]
        assert only_aa > only_pgd, seed
        assert mcnemar_p_value(only_aa, only_pgd) < 0.01, seed
        assert row["worst_case"] <= min(row["pgd"], row["autoattack"]), seed
