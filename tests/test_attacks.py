import math

import foolbox
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.attacks import AttackResult, cross_entropy, fgsm, input_gradient, minimal_perturbation, pgd
from companion.models import MLP


@pytest.fixture(scope="module")
def batch(digits):
    return digits.x_test[:200], digits.y_test[:200]


def test_fgsm_is_one_pgd_step_of_size_eps_without_random_start(trained_mlp, batch):
    model, _ = trained_mlp
    x, y = batch
    a = fgsm(model, x, y, eps=0.1)
    b = pgd(model, x, y, eps=0.1, alpha=0.1, steps=1, random_start=False)
    assert torch.equal(a.adversarial, b.adversarial) and torch.equal(a.success, b.success)


def test_fgsm_follows_the_formula(trained_mlp, batch):
    model, _ = trained_mlp
    x, y = batch
    expected = (x + 0.05 * input_gradient(model, x, y).sign()).clamp(0, 1)
    assert torch.equal(fgsm(model, x, y, eps=0.05).adversarial, expected)


@pytest.mark.parametrize("eps", [0.05, 0.2])
def test_fgsm_and_pgd_match_foolbox(trained_mlp, batch, eps):
    """Cross-check against Foolbox 3's FGSM and LinfPGD (no random start, so deterministic)."""
    model, _ = trained_mlp
    x, y = batch
    fmodel = foolbox.PyTorchModel(model, bounds=(0, 1))
    _, theirs, their_success = foolbox.attacks.FGSM(random_start=False)(fmodel, x, y, epsilons=eps)
    ours = fgsm(model, x, y, eps=eps)
    assert torch.allclose(ours.adversarial, theirs, atol=1e-6)
    assert torch.equal(ours.success, their_success)
    attack = foolbox.attacks.LinfPGD(abs_stepsize=eps / 4, steps=10, random_start=False)
    _, theirs, their_success = attack(fmodel, x, y, epsilons=eps)
    ours = pgd(model, x, y, eps=eps, alpha=eps / 4, steps=10, random_start=False)
    assert torch.allclose(ours.adversarial, theirs, atol=1e-5)
    assert (ours.success == their_success).float().mean() > 0.99


@settings(max_examples=25, deadline=None)
@given(
    eps=st.floats(0.0, 0.5),
    steps=st.integers(1, 4),
    random_start=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_results_stay_in_the_box_and_the_ball(eps, steps, random_start, seed):
    torch.manual_seed(seed)
    model = MLP(hidden=(16,))
    x = torch.rand(8, 64)
    x[:, :10] = 0.0  # pixels on the edges of the box
    x[:, 10:20] = 1.0
    y = torch.randint(0, 10, (8,))
    result = pgd(model, x, y, eps, alpha=0.05, steps=steps, random_start=random_start, seed=seed)
    assert result.adversarial.min() >= 0 and result.adversarial.max() <= 1
    assert (result.adversarial - x).abs().max() <= eps + 1e-6
    assert torch.equal(result.success, model(result.adversarial).argmax(1) != y)


def test_pgd_is_stronger_than_fgsm_and_breaks_the_standard_model(trained_mlp, batch):
    model, _ = trained_mlp
    x, y = batch
    f = fgsm(model, x, y, eps=0.2)
    p = pgd(model, x, y, eps=0.2, alpha=0.2 / 8, steps=20, seed=0)
    assert isinstance(p, AttackResult)
    assert p.success_rate >= f.success_rate > 0.5
    assert p.success_rate > 0.95  # the course brief: standard model, PGD accuracy about 0 at eps 0.2
    # one start: its steps and the check of the returned points (no start to compare it with)
    assert p.queries.tolist() == [21] * len(x) and f.queries.tolist() == [2] * len(x)


def test_restarts_never_lose_a_success_and_are_seeded(trained_mlp, batch):
    model, _ = trained_mlp
    x, y = batch

    def run(restarts, seed=0):
        return pgd(
            model,
            x,
            y,
            eps=0.05,
            alpha=0.01,
            steps=5,
            restarts=restarts,
            seed=seed,
        )

    one, five = run(1), run(5)
    assert five.success_rate >= one.success_rate
    assert torch.equal(run(3).adversarial, run(3).adversarial)
    # The first start is the single start's; later starts attack only what no start fooled yet.
    assert torch.equal(five.adversarial[one.success], one.adversarial[one.success])
    assert (five.queries[one.success] == 1 * (5 + 1) + 1).all()
    assert (five.queries[~five.success] == 5 * (5 + 1) + 1).all()
    assert set(five.queries.tolist()) <= {r * (5 + 1) + 1 for r in range(1, 6)}


def _pgd_every_start_on_every_sample(model, x, y, eps, alpha, steps, restarts, seed):
    """The restarts the plain way, for reference: every start attacks all samples."""
    g = torch.Generator().manual_seed(seed)
    best, best_loss = x.clone(), torch.full((len(x),), -torch.inf)
    best_success = torch.zeros(len(x), dtype=torch.bool)
    for _ in range(restarts):
        x_adv = (x + eps * (torch.rand(x.shape, generator=g) * 2 - 1)).clamp(0, 1)
        for _ in range(steps):
            x_adv = x_adv + alpha * input_gradient(model, x_adv, y).sign()
            x_adv = (x + (x_adv - x).clamp(-eps, eps)).clamp(0, 1)
        with torch.no_grad():
            logits = model(x_adv)
        fooled, value = logits.argmax(dim=1) != y, F.cross_entropy(logits, y, reduction="none")
        better = ~best_success & (fooled | (value > best_loss))
        best[better], best_loss[better] = x_adv[better], value[better]
        best_success |= fooled
    return best


def test_later_starts_skip_only_what_an_earlier_start_fooled(trained_mlp, batch):
    """Attacking only the samples no earlier start fooled returns what attacking all of them would."""
    model, _ = trained_mlp
    x, y = batch
    fast = pgd(model, x, y, eps=0.1, alpha=0.02, steps=5, restarts=4, seed=3)
    plain = _pgd_every_start_on_every_sample(model, x, y, 0.1, 0.02, 5, 4, seed=3)
    assert torch.allclose(fast.adversarial, plain, atol=1e-6)
    assert 0 < fast.success.float().mean() < 1  # some samples fooled early, some never


def test_the_seed_of_the_random_start_follows_the_randomness_convention(trained_mlp, batch):
    """An int or a generator seeded with it give the same start; None draws from torch's global one."""
    model, _ = trained_mlp
    x, y = batch[0][:20], batch[1][:20]

    def run(seed):
        return pgd(model, x, y, eps=0.1, alpha=0.02, steps=2, seed=seed).adversarial

    assert torch.equal(run(7), run(torch.Generator().manual_seed(7)))
    torch.manual_seed(7)
    from_global = run(None)
    assert torch.equal(from_global, run(7)) and not torch.equal(run(None), from_global)
    with pytest.raises(TypeError, match="seed must be an int >= 0, a torch.Generator or None"):
        run("7")


def test_attacks_leave_model_mode_and_parameter_gradients_alone(batch):
    x, y = batch
    model = MLP().train()
    pgd(model, x, y, eps=0.1, alpha=0.05, steps=2)
    assert model.training
    assert all(p.grad is None for p in model.parameters())


def test_zero_eps_returns_the_input(trained_mlp, batch):
    model, _ = trained_mlp
    x, y = batch
    result = fgsm(model, x, y, eps=0.0)
    assert torch.equal(result.adversarial, x)
    assert torch.equal(result.success, model(x).argmax(1) != y)


def test_custom_loss_is_used(trained_mlp, batch):
    model, _ = trained_mlp
    x, y = batch
    calls = []

    def margin(logits, y):
        calls.append(logits.shape)
        return -logits.gather(1, y[:, None]).squeeze(1)

    fgsm(model, x, y, eps=0.1, loss=margin)
    assert calls and calls[0] == (200, 10)
    assert cross_entropy(torch.zeros(2, 10), torch.tensor([0, 1])).shape == (2,)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"eps": -0.1}, ValueError, "eps must be >= 0, got -0.1"),
        ({"alpha": 0.0}, ValueError, "alpha must be > 0, got 0.0"),
        ({"steps": 0}, ValueError, "steps must be >= 1, got 0"),
        ({"restarts": 3, "random_start": False}, ValueError, "restarts > 1 needs random_start=True"),
        ({"x": torch.full((2, 64), 2.0)}, ValueError, r"x must lie in \[0, 1\], got values in \[2, 2\]"),
        ({"y": torch.tensor([0.0, 1.0])}, TypeError, "y must have an integer dtype"),
        ({"y": torch.tensor([0, 1, 2])}, ValueError, "same number of samples, got 2 and 3"),
        ({"model": "mlp"}, TypeError, "model must be callable"),
    ],
)
def test_pgd_rejects_bad_arguments(kwargs, error, match):
    arguments = {
        "model": MLP(),
        "x": torch.rand(2, 64),
        "y": torch.tensor([0, 1]),
        "eps": 0.1,
        "alpha": 0.01,
        "steps": 1,
        **kwargs,
    }
    with pytest.raises(error, match=match):
        pgd(**arguments)


def test_a_nan_gradient_means_no_step():
    """-log(softmax(z)_y) in float32 has a NaN gradient where softmax(z)_y underflows to 0."""
    model = torch.nn.Linear(64, 10)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.copy_(torch.tensor([0.0] + [200.0] * 9))  # class 0 far behind: p_0 underflows

    def naive(logits, y):
        return -torch.log(torch.softmax(logits, dim=1).gather(1, y[:, None])).squeeze(1)

    x, y = torch.rand(3, 64), torch.zeros(3, dtype=torch.long)
    assert torch.isnan(input_gradient(model, x, y, naive)).any()
    assert torch.equal(fgsm(model, x, y, eps=0.1, loss=naive).adversarial, x)


def test_minimal_perturbation_keeps_the_smallest_successful_budget():
    x = torch.zeros(3, 2)

    def attack(eps):  # sample i is fooled from budget 0.1 * (i + 1) on; sample 2 never
        success = torch.tensor([eps >= 0.1, eps >= 0.2, False])
        return AttackResult(x + eps, success, torch.ones(3, dtype=torch.int64))

    adversarial, eps = minimal_perturbation(attack, x, [0.3, 0.1, 0.2])
    assert eps[:2].tolist() == pytest.approx([0.1, 0.2]) and math.isinf(eps[2])
    assert torch.allclose(adversarial[:, 0], torch.tensor([0.1, 0.2, 0.0]))
    with pytest.raises(ValueError, match="eps_grid must hold at least one budget"):
        minimal_perturbation(attack, x, [])
    with pytest.raises(TypeError, match="attack must be callable"):
        minimal_perturbation("fgsm", x, [0.1])
