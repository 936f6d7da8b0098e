"""Chapter 5's exercise checks: the capped toy's optimum, C&W's f6, the search over c.

Each check returns a :class:`~companion.classroom.exercises.Feedback` that says what is wrong
without giving the answer; the notebook calls them as ``checks.check_<name>(...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from companion.attacks import AttackResult, f6
from companion.classroom import exercises
from companion.objectives import LinearToy, summarise_attack
from companion.runtime import generator
from companion.training import predict_logits
from companion.validation import require_positive, require_positive_int, require_tensor

__all__ = [
    "F6_TOLERANCE",
    "KEEP_BEST_TOLERANCE",
    "SEARCH_KEYS",
    "TOLERANCE",
    "check_capped_f6",
    "check_capped_optimum",
    "check_capped_search",
]

TOLERANCE = 1e-3
"""How far a checked number may be from the exact one: relative for numbers above 1, absolute
below (a minimiser or a median L2 given to three decimals passes)."""

F6_TOLERANCE = 1e-5
"""How far each value of a student's f6 may be from the reference (float32 rounding)."""


def _near(value: float, target: float) -> bool:
    return abs(value - target) <= TOLERANCE * max(1.0, abs(target))


@exercises.check("ex-capped-toy", unavailable=("companion.objectives.LinearToy.optimum",))
def check_capped_optimum(
    answer: Callable[[float, float], float] | float | None, c: float, kappa: float
) -> str:
    """Check the minimiser of the 1-d toy ``x^2 + c * max(1 - x, -kappa)`` at one ``(c, kappa)``.

    (``LinearToy(x0=(0.0,), u=(1.0,), b=-1.0)``.) ``answer`` is a function
    ``capped_optimum(c, kappa)`` (called with ``c`` and ``kappa``) or a number.
    Call the check once per ``(c, kappa)`` the exercise asks about.
    """
    c = require_positive("c", c)
    kappa = require_positive("kappa", kappa, allow_zero=True)
    name = "capped_optimum"
    if callable(answer):
        answer = exercises.call(answer, name, c, kappa)
        if answer is None:
            raise exercises.NotYet("`capped_optimum` returned None: return the minimiser, a number.")
        name = "capped_optimum(c, kappa)"
    value = exercises.number(exercises.answered(answer, name, "a function of c and kappa"), name)
    toy = LinearToy(x0=(0.0,), u=(1.0,), b=-1.0)
    expected = toy.optimum(c, kappa).item()
    if _near(value, expected):
        return f"the capped objective is smallest at x = {value:g} for c = {c:g}, kappa = {kappa:g}."
    if _near(value, c / 2):
        raise exercises.NotYet(
            f"at c = {c:g}, kappa = {kappa:g} that minimises the uncapped objective x^2 + c (1 - x). "
            "Past the point where the margin x - 1 reaches kappa, the capped term no longer changes: "
            "what is left to minimise there?"
        )
    if _near(value, 1.0 + kappa):
        raise exercises.NotYet(
            f"at c = {c:g}, kappa = {kappa:g} the margin reaches kappa there, but at this c is reaching "
            "it worth the distance it costs? Consider the case of small c."
        )
    if _near(value, 1.0):
        raise exercises.NotYet(
            "at x = 1 the margin is 0, but the cap sits at -kappa. Where does the term go flat?"
        )
    mine = toy.objective(torch.tensor([[value]]), c, kappa)[0].item()
    raise exercises.NotYet(
        f"at c = {c:g}, kappa = {kappa:g} the objective at your x = {value:g} is {mine:.4g}, and there "
        "are points with a lower value. Write the objective piecewise (margin below and above kappa) "
        "and minimise each piece."
    )


@exercises.check("ex-capped-f6", unavailable=("companion.attacks.f6", "companion.attacks.logit_margin"))
def check_capped_f6(candidate: Callable[..., torch.Tensor] | None) -> str:
    """Check a student's ``candidate(logits, y, kappa)`` against the reference :func:`companion.attacks.f6`.

    Three cases of 8 samples and 10 classes (``kappa`` 0, 2 and 10, the last with
    all-negative logits); a wrong answer is compared with common mistakes to
    give a hint.
    """
    g = generator(0)  # the same cases for everyone
    y = torch.randint(0, 10, (8,), generator=g)
    cases = [  # (logits (8, 10), kappa)
        (torch.randn(8, 10, generator=g) * 3, 0.0),
        (torch.randn(8, 10, generator=g) * 3, 2.0),
        (-torch.rand(8, 10, generator=g) * 5 - 1, 10.0),  # all negative
    ]
    for logits, kappa in cases:
        got = exercises.call(candidate, "my_f6", logits.clone(), y.clone(), kappa)
        if not isinstance(got, torch.Tensor) or got.shape != (8,):
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            raise exercises.NotYet(f"expected a tensor of shape (N,) = (8,), got {shape}.")
        got = got.detach().float()
        if torch.allclose(got, f6(logits, y, kappa), atol=F6_TOLERANCE):
            continue
        if torch.allclose(got, f6(logits, y, capped=False), atol=F6_TOLERANCE):
            raise exercises.NotYet("your values keep falling below -kappa. Where is the cap?")
        if torch.allclose(got, (-f6(logits, y, capped=False)).clamp(min=-kappa), atol=F6_TOLERANCE):
            raise exercises.NotYet("check the sign: f6 is positive while the true class still leads.")
        if (logits < 0).all():
            raise exercises.NotYet(
                "wrong on all-negative logits. Are you removing the true class by multiplying "
                "with a 0/1 mask? A 0 then beats every (negative) wrong logit."
            )
        raise exercises.NotYet(
            f"wrong values for kappa = {kappa:g}: is the value floored at -kappa (not 0 or -1)?"
        )
    return "your f6 matches the reference on all test cases, including all-negative logits."


SEARCH_KEYS = tuple((network, capped) for network in ("distilled", "standard") for capped in (True, False))
"""The keys of the search exercise's results: ``(network, capped)``."""
KEEP_BEST_TOLERANCE = 1e-5
"""How much farther (L2) than the best misclassified point seen a searched result may be."""


@exercises.check("ex-capped-search")
def check_capped_search(
    searched: Mapping | None,
    reported: Mapping | None,
    networks: Mapping[str, torch.nn.Module],
    x: torch.Tensor,
    y: torch.Tensor,
    search_steps: int = 5,
) -> str:
    """Check the search-over-c experiment from its result objects.

    ``searched`` maps each key of :data:`SEARCH_KEYS` to the
    :func:`~companion.attacks.carlini_wagner_l2` result of that network
    (``networks[network]``) attacked on ``x``, ``y`` with or without the cap;
    ``reported`` maps the same keys to ``(success rate, median L2)`` read off
    each result. Checked: every result holds one point per input, in [0, 1];
    it ran ``search_steps`` values of ``c`` (``queries - 1 - len(history["l2"])``);
    it kept the best point (no fooled digit's point is farther, beyond
    :data:`KEEP_BEST_TOLERANCE`, than a misclassified point in its history); its ``success``
    matches the named network's predictions on its points; and
    the reported numbers match :func:`companion.objectives.summarise_attack`
    (forward passes only). Whether a run was capped cannot be read off its
    result and is not checked.
    """
    if not isinstance(networks, Mapping) or {name for name, _ in SEARCH_KEYS} - set(networks):
        raise TypeError(f"networks must map 'distilled' and 'standard' to models, got {networks!r}")
    require_tensor("x", x, floating=True)
    require_positive_int("search_steps", search_steps)
    results = _search_table(searched, "searched", "a dict {(network, capped): result}")
    for key, result in results.items():
        _check_search_result(key, result, networks[key[0]], x, y, search_steps)
    numbers = _search_table(reported, "reported", "a dict {(network, capped): (success, L2)}")
    for key, pair in numbers.items():
        summary = summarise_attack(networks[key[0]], x, y, results[key])
        _compare_summary(key, pair, summary)
    return (
        "your four searched attacks and the numbers you report check out. Compare them with the "
        "fixed-c runs: what does the search change, and what does the cap still change?"
    )


def _search_table(table: object, name: str, what: str) -> dict:
    """The student's ``table`` (called ``name``, ``what`` it should be) restricted to
    :data:`SEARCH_KEYS`, or NotYet naming the first missing key."""
    table = exercises.mapping(table, name, what)
    for key in SEARCH_KEYS:
        if key not in table:
            raise exercises.NotYet(f"`{name}` has no entry for {key!r}: the keys are (network name, capped).")
    return {key: table[key] for key in SEARCH_KEYS}


def _check_search_result(key, result, network, x: torch.Tensor, y: torch.Tensor, search_steps: int) -> None:
    if not isinstance(result, AttackResult):
        raise exercises.NotYet(
            f"searched[{key!r}] must be the AttackResult of carlini_wagner_l2, got {type(result).__name__}."
        )
    fields = (result.adversarial, result.success, result.queries, result.history.get("l2"))
    if not all(isinstance(field, torch.Tensor) for field in fields) or result.queries.ndim != 1:
        raise exercises.NotYet(f"searched[{key!r}] is not a result of carlini_wagner_l2: run the attack.")
    if result.adversarial.shape != x.shape:
        raise exercises.NotYet(
            f"searched[{key!r}] holds {tuple(result.adversarial.shape)} points, not one per input of x "
            f"{tuple(x.shape)}: attack the chapter's x and y."
        )
    if result.adversarial.min() < 0 or result.adversarial.max() > 1:
        raise exercises.NotYet(f"searched[{key!r}] has points outside [0, 1].")
    tried = int(result.queries[0]) - 1 - len(result.history["l2"])  # search_steps * (steps + 1) + 1 queries
    if tried != search_steps:
        raise exercises.NotYet(
            f"searched[{key!r}] tried {tried} value(s) of c; the exercise asks for {search_steps} "
            "(search_steps)."
        )
    # keep_best returns, per digit, a point no farther than any misclassified point the run saw;
    # the final iterate of a run that hovers around the boundary is often farther.
    l2 = (result.adversarial - x).flatten(1).norm(dim=1)  # (N,)
    seen = torch.where(result.history["margin"] > 0, result.history["l2"], torch.inf).amin(dim=0)  # (N,)
    if (result.success & (l2 > seen + KEEP_BEST_TOLERANCE)).any():
        raise exercises.NotYet(
            f"searched[{key!r}] returns, for some digits, a point farther from x than a misclassified "
            "point the run had already seen: C&W keep the best point (keep_best=True)."
        )
    fooled = predict_logits(network, result.adversarial).argmax(dim=1) != y
    if not torch.equal(fooled, result.success):
        raise exercises.NotYet(
            f"the successes in searched[{key!r}] do not match the {key[0]} network's predictions on its "
            "points: did you attack that network?"
        )


def _compare_summary(key, pair: object, summary: dict[str, float]) -> None:
    if isinstance(pair, Mapping):
        pair = (pair.get("success"), pair.get("l2"))
    what = "a pair (success rate, median L2)"
    success, l2 = exercises.numbers(pair, f"reported[{key!r}]", what, count=2)
    if not _near(success, summary["success"]):
        raise exercises.NotYet(
            f"the success rate in reported[{key!r}] is not that of searched[{key!r}] (its success_rate)."
        )
    if not _near(l2, summary["l2"]):
        raise exercises.NotYet(
            f"the L2 in reported[{key!r}] is not the median ||x' - x||_2 of searched[{key!r}]'s points "
            "(objectives.summarise_attack)."
        )
