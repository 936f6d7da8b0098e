"""Chapter 5's exercise checks: each accepts the solution and hints at each mistake, never the answer."""

import pytest
import torch
from feedback_asserts import stub

from companion import objectives
from companion.attacks import AttackResult, carlini_wagner_l2, f6
from companion.classroom.checks import ch05_capped_objectives as checks
from companion.objectives import LinearToy
from companion.training import TrainConfig


@pytest.mark.parametrize(("c", "kappa"), [(4.0, 0.5), (1.0, 0.5), (10.0, 0.0), (2.0, 3.0)])
def test_check_capped_optimum_accepts_the_optimum(c, kappa):
    toy = LinearToy(x0=(0.0,), u=(1.0,), b=-1.0)
    grid = torch.linspace(-2, 10, 120001)[:, None]
    brute_force = grid[toy.objective(grid, c, kappa).argmin()].item()
    feedback = checks.check_capped_optimum(brute_force, c, kappa)  # a number ...
    assert feedback.correct is True and feedback.exercise == "ex-capped-toy"
    solution = checks.check_capped_optimum(lambda c, kappa: min(c / 2, 1 + kappa), c=c, kappa=kappa)
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
        (
            4.0,
            0.5,
            lambda c, k: LinearToy((0.0,), (1.0,), -1.0).optimum(c, k),
            "LinearToy.optimum is unavailable",
        ),
    ],
)
def test_check_capped_optimum_hints_without_the_answer(c, kappa, answer, hint):
    feedback = checks.check_capped_optimum(answer, c=c, kappa=kappa)
    assert feedback.correct is False and hint in feedback.message, feedback
    expected = min(c / 2, 1 + kappa)
    assert f"{expected:g}" not in _without_case(feedback.message, c, kappa)
    with pytest.raises(ValueError, match="c must be > 0"):
        checks.check_capped_optimum(answer, c=0.0, kappa=kappa)


def _broken(*args):
    return args[99]  # an IndexError inside the student's code


@pytest.mark.parametrize(
    "check",
    [lambda answer: checks.check_capped_optimum(answer, 4.0, 0.5), checks.check_capped_f6],
)
@pytest.mark.parametrize(
    ("answer", "hint"),
    [(None, "is still None"), (stub, "still raises NotImplementedError"), (_broken, "raised IndexError")],
)
def test_checks_say_not_yet_to_an_unanswered_stub(check, answer, hint):
    feedback = check(answer)  # never raises
    assert feedback.correct is False and hint in feedback.message, feedback


def _margin_term(logits, y):
    """``Z_y - max_{i != y} Z_i``, written out: f6 and logit_margin are unavailable in the check."""
    is_true = torch.nn.functional.one_hot(y, logits.shape[1]).bool()
    return logits.gather(1, y[:, None]).squeeze(1) - logits.masked_fill(is_true, -torch.inf).max(dim=1).values


def test_check_capped_f6_accepts_the_reference_and_catches_common_mistakes():
    feedback = checks.check_capped_f6(lambda logits, y, kappa: _margin_term(logits, y).clamp(min=-kappa))
    assert feedback.correct is True and feedback.exercise == "ex-capped-f6"

    def multiplied_mask(logits, y, kappa):
        mask = torch.nn.functional.one_hot(y, logits.shape[1])
        best_other = (logits * (1 - mask)).max(dim=1).values
        return torch.clamp(logits.gather(1, y[:, None]).squeeze(1) - best_other, min=-kappa)

    def uncapped(logits, y, kappa):
        return _margin_term(logits, y)

    def wrong_sign(logits, y, kappa):
        return (-_margin_term(logits, y)).clamp(min=-kappa)

    def floored_at_zero(logits, y, kappa):
        return _margin_term(logits, y).clamp(min=0.0)

    mistakes = [
        (multiplied_mask, "multiplying with a 0/1 mask"),
        (uncapped, "Where is the cap?"),
        (wrong_sign, "check the sign"),
        (floored_at_zero, "floored at -kappa"),
        (lambda logits, y, kappa: logits, "shape (N,)"),
        (lambda logits, y, kappa: logits.tolist(), "got list"),
        (3, "must be a function"),
        (f6, "companion.attacks.f6 is unavailable in exercise ex-capped-f6"),  # the one-call answer
        (lambda logits, y, kappa: f6(logits, y, kappa), "asks for your own code"),  # wrapped
    ]
    for candidate, hint in mistakes:
        feedback = checks.check_capped_f6(candidate)
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
    feedback = checks.check_capped_search(searched, reported, networks, x, y)
    assert feedback.correct is True and feedback.exercise == "ex-capped-search", feedback
    summaries = {key: objectives.summarise_attack(networks[key[0]], x, y, r) for key, r in searched.items()}
    assert checks.check_capped_search(searched, summaries, networks, x, y).correct  # the summary dicts


def test_check_capped_search_hints_at_each_mistake_without_the_numbers(search):
    searched, reported, networks, x, y = search
    key = ("distilled", False)
    swapped_networks = {**searched, key: searched["standard", False]}
    fixed_c = carlini_wagner_l2(networks["distilled"], x, y, 0.1, steps=20, capped=False, keep_best=True)
    subset = carlini_wagner_l2(
        networks["distilled"], x[:6], y[:6], 0.1, steps=20, capped=False, search_steps=5
    )
    final_iterate = carlini_wagner_l2(  # no keep_best
        networks["distilled"], x, y, 0.1, steps=20, capped=False, search_steps=5
    )
    success, l2 = reported[key]
    mean_l2 = (searched[key].adversarial - x).norm(dim=1).mean().item()
    cases = [
        (None, reported, "`searched` is still None"),
        ([searched[key]], reported, "`searched` must be a dict {(network, capped): result}, got list"),
        ({k: v for k, v in searched.items() if k != key}, reported, "no entry for ('distilled', False)"),
        ({**searched, key: searched[key].adversarial}, reported, "must be the AttackResult"),
        ({**searched, key: AttackResult(x, success, 1)}, reported, "not a result of carlini_wagner_l2"),
        ({**searched, key: fixed_c}, reported, "tried 1 value(s) of c"),
        ({**searched, key: subset}, reported, "attack the chapter's x and y"),
        ({**searched, key: final_iterate}, reported, "keep_best=True"),
        (swapped_networks, reported, "did you attack that network?"),
        (searched, None, "`reported` is still None"),
        (searched, {**reported, key: success}, "must be a pair"),
        (searched, {**reported, key: (1 - success, l2)}, "success rate"),
        (searched, {**reported, key: (success, mean_l2)}, "not the median"),
        (searched, {**reported, key: ("high", l2)}, "must be a number, got str"),
    ]
    for answer, numbers, hint in cases:
        feedback = checks.check_capped_search(answer, numbers, networks, x, y)
        assert feedback.correct is False and hint in feedback.message, (hint, feedback)
        assert f"{l2:.2f}" not in feedback.message and f"{l2:.3f}" not in feedback.message
    with pytest.raises(TypeError, match="networks must map 'distilled' and 'standard'"):
        checks.check_capped_search(searched, reported, {"standard": networks["standard"]}, x, y)
