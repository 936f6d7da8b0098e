"""The boundary attack: a decision-based attack that needs only the model's top-1 label.

Threat models, from most to least the attacker knows (Brendel et al. 2018): *gradient-based*
(the attacker differentiates the model, ``companion.attacks``), *score-based* (scores or
probabilities, no gradients), *transfer-based* (examples crafted on a substitute model trained on
similar data) and *decision-based* (only the predicted label). The last is all
:func:`boundary_attack` uses: a ``predict`` function mapping a batch to labels.

The attack (Brendel et al. 2018, sec. 3) starts from a point ``x~_0`` that is already adversarial
and walks along the decision boundary towards the original input ``x``. Each step proposes an
orthogonal step on the sphere around ``x`` (size ``delta``) followed by a step towards ``x`` (size
``epsilon``), and keeps the proposal only if ``predict`` still labels it differently from ``y``:
the walk never leaves the adversarial side and its distance to ``x`` never grows. Both step sizes
adapt to how often their steps succeed (:func:`boundary_attack` gives the equations).

:func:`hop_skip_jump` is its successor (Chen et al. 2020): same decision-only set-up, but it
estimates the normal of the boundary from a batch of decisions, steps along it and binary-searches
back onto the boundary. Between the two comes the chapter's experiment: a standard and a
defensively distilled MLP under attack (:class:`ExperimentConfig`). The chapter's figures are in
:mod:`companion.figures.boundary`, its exercise checks in
:mod:`companion.classroom.checks.ch04_boundary_attack`.

Shapes: ``x`` is ``(N, ...)`` float in [0, 1] (flat digits ``(N, 64)``), ``y`` is ``(N,)``
int64, ``predict(batch)`` is ``(B,)`` int64; ``D`` is the number of values per input (64).

References
----------
1. Brendel, Rauber, Bethge. Decision-Based Adversarial Attacks: Reliable Attacks Against
   Black-Box Machine Learning Models. ICLR 2018 (arXiv:1712.04248).
2. Rauber, Zimmermann, Bethge, Brendel. Foolbox Native. JOSS 2020 (its ``BoundaryAttack`` is the
   reference our tests compare with).
3. Chen, Jordan, Wainwright. HopSkipJumpAttack: A Query-Efficient Decision-Based Attack.
   IEEE S&P 2020.
4. Papernot, McDaniel, Wu, Jha, Swami. Distillation as a Defense to Adversarial Perturbations
   against Deep Neural Networks. IEEE S&P 2016 (the defence of the experiment).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

from companion.attacks import AttackResult
from companion.data import Digits
from companion.distillation import defensive_distillation
from companion.models import eval_mode
from companion.runtime import Seed, generator
from companion.training import predict_logits, train_classifier
from companion.validation import (
    require_attack_inputs,
    require_models,
    require_positive,
    require_positive_int,
    require_tensor,
)

__all__ = [
    "GROW_IF_RATE_ABOVE",
    "MAX_SOURCE_STEP",
    "MAX_STEP_HALVINGS",
    "SHRINK_IF_RATE_BELOW",
    "BoundaryResult",
    "ExperimentConfig",
    "Predict",
    "accept",
    "attack_set",
    "boundary_attack",
    "experiment_models",
    "hop_skip_jump",
    "labels_of",
    "toy_predict",
]

Predict = Callable[[torch.Tensor], torch.Tensor]
"""``predict(batch (B, ...) in [0, 1]) -> labels (B,) int64``: the only thing the attack sees."""

#: A step size grows (times ``step_adaptation``) after a block of trials of which more than this
#: share succeeded. Brendel et al. (2018, sec. 3.3) tune the orthogonal step towards about half;
#: this and :data:`SHRINK_IF_RATE_BELOW` are Foolbox 3.3.4's ``BoundaryAttack`` thresholds for it.
GROW_IF_RATE_ABOVE = 0.5
#: A step size shrinks (divided by ``step_adaptation``) after a block with fewer successes than
#: this share. We use both thresholds for both steps (Foolbox: 0.25 and 0.1 for its source step).
SHRINK_IF_RATE_BELOW = 0.2
#: Our bound on the source step ``epsilon`` (relative to the distance): one step at most halves it.
MAX_SOURCE_STEP = 0.5
#: Halvings after which HopSkipJump's step-size search keeps the current point (our choice).
MAX_STEP_HALVINGS = 20

_PREDICT = "int64 labels; wrap a model with labels_of"  # what predict returns, for its error


@dataclass
class BoundaryResult(AttackResult):
    """:class:`companion.attacks.AttackResult` plus the record of the walk.

    Attributes
    ----------
    history : dict of str to torch.Tensor
        ``"l2"``: ``(steps + 1, N)`` distance ``||x~_k - x||_2`` after step ``k`` (row 0: the
        starting point; ``inf`` where none was found); ``"queries"``: ``(steps + 1, N)`` calls
        to ``predict`` so far, per sample.
    snapshots : dict of int to torch.Tensor
        The adversarials ``(N, ...)`` after each step asked for in ``snapshot_steps`` (step 0 is
        the starting point).
    """

    snapshots: dict[int, torch.Tensor] = field(default_factory=dict)

    @property
    def l2_history(self) -> torch.Tensor:
        """``(steps + 1, N)`` L2 distance to ``x`` after each step."""
        return self.history["l2"]

    @property
    def l2(self) -> torch.Tensor:
        """``(N,)`` final L2 distance to ``x``."""
        return self.history["l2"][-1]


def labels_of(model: Callable[[torch.Tensor], torch.Tensor]) -> Predict:
    """Wrap a logits model as a decision-only ``predict``: ``argmax_k model(x)_k``.

    The wrapper runs without gradients, puts an ``nn.Module`` in training mode into eval mode for
    the call (and back afterwards), and returns ``(B,)`` int64.
    """
    if not callable(model):
        raise TypeError(f"model must be callable (a batch -> logits), got {type(model).__name__}")

    def predict(batch: torch.Tensor) -> torch.Tensor:
        with eval_mode(model), torch.no_grad():
            return model(batch).argmax(dim=1)

    return predict


class _Oracle:
    """``predict`` with its answers checked and its calls counted per sample."""

    def __init__(self, predict: Predict, shape: torch.Size, n: int) -> None:
        self.predict, self.shape = predict, shape  # shape of one input, e.g. (64,)
        self.queries = torch.zeros(n, dtype=torch.int64)  # (N,) calls per sample

    def labels(self, points: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Labels ``(B,)`` of ``points`` ``(B, D)``, the candidates of samples ``index`` ``(B,)``."""
        labels = self.predict(points.reshape(len(points), *self.shape))
        self.queries.index_add_(0, index, torch.ones_like(index))  # a sample may appear many times
        if not isinstance(labels, torch.Tensor) or labels.dtype != torch.int64:
            got = labels.dtype if isinstance(labels, torch.Tensor) else type(labels).__name__
            raise TypeError(f"predict must return a torch.int64 tensor of labels, got {got}")
        if labels.shape != (len(points),):
            raise ValueError(
                f"predict must return labels of shape ({len(points)},) for a batch of {len(points)}, "
                f"got {tuple(labels.shape)}"
            )
        return labels


class _SuccessRate:
    """Per-sample success rate over blocks of ``window`` trials, used to adapt a step size."""

    def __init__(self, window: int, n: int) -> None:
        self.window = window
        self.trials = torch.zeros(n)  # (N,) trials in the current block
        self.successes = torch.zeros(n)  # (N,) successes among them

    def record(self, index: torch.Tensor, success: torch.Tensor) -> None:
        self.trials[index] += 1
        self.successes[index] += success.float()

    def adapt(self, size: torch.Tensor, factor: float) -> torch.Tensor:
        """After a full block: ``size * factor`` if its rate is above :data:`GROW_IF_RATE_ABOVE`,
        ``size / factor`` if below :data:`SHRINK_IF_RATE_BELOW`."""
        done = self.trials >= self.window  # (N,) blocks that are complete
        rate = self.successes / self.trials.clamp(min=1)
        grow, shrink = done & (rate > GROW_IF_RATE_ABOVE), done & (rate < SHRINK_IF_RATE_BELOW)
        self.trials[done], self.successes[done] = 0.0, 0.0  # start a new block
        return size * torch.where(grow, factor, torch.where(shrink, 1 / factor, 1.0))


def accept(labels_new: torch.Tensor, y: torch.Tensor, d_new: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """The acceptance test: ``(B,)`` bool, True where a proposal replaces the current point.

    A proposal is kept only if it is still adversarial (``labels_new != y``) and strictly closer
    to the original (``d_new < d``; by construction it is, unless rounding says otherwise, as
    Foolbox also checks).
    """
    return (labels_new != y) & (d_new < d)


def _starting_points(
    oracle: _Oracle, x: torch.Tensor, y: torch.Tensor, init_draws: int, search_steps: int, g: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Adversarial starting points ``(N, D)`` and a mask ``(N,)`` of the samples that have one.

    Uniform noise ``u ~ U[0, 1]^D`` is drawn until ``predict`` labels it differently from ``y``
    (at most ``init_draws`` times per sample); then a binary search over the blend
    ``(1 - a) x + a u`` finds a small adversarial ``a``. Inputs that ``predict`` already gets
    wrong start (and stay) at ``x``.
    """
    n, D = x.shape
    start = x.clone()
    found = oracle.labels(x, torch.arange(n)) != y  # misclassified inputs are their own adversarial
    noise, has_noise = torch.zeros_like(x), torch.zeros(n, dtype=torch.bool)
    for _ in range(init_draws):
        todo = (~found & ~has_noise).nonzero().flatten()  # (B,) samples without adversarial noise
        if len(todo) == 0:
            break
        u = torch.rand(len(todo), D, generator=g).to(x)  # (B, D) ~ U[0, 1]
        fooled = oracle.labels(u, todo) != y[todo]
        noise[todo[fooled]], has_noise[todo[fooled]] = u[fooled], True
    todo = has_noise.nonzero().flatten()
    start[todo] = _binary_search(oracle, x[todo], noise[todo], y[todo], todo, search_steps)
    return start, found | has_noise


def _binary_search(
    oracle: _Oracle, x: torch.Tensor, far: torch.Tensor, y: torch.Tensor, index: torch.Tensor, steps: int
) -> torch.Tensor:
    """Points ``(1 - a) x + a far`` ``(B, D)`` just on the adversarial side (``steps`` halvings of ``a``).

    ``far`` ``(B, D)`` must be adversarial (``a = 1``); ``x`` is not (``a = 0``).
    """
    low, high = torch.zeros(len(x), 1).to(x), torch.ones(len(x), 1).to(x)  # (B, 1)
    for _ in range(steps):
        a = (low + high) / 2
        fooled = oracle.labels((1 - a) * x + a * far, index)[:, None] != y[:, None]
        high, low = torch.where(fooled, a, high), torch.where(fooled, low, a)
    return (1 - high) * x + high * far  # the adversarial end of the interval


def _proposals(
    x: torch.Tensor, x_adv: torch.Tensor, delta: torch.Tensor, epsilon: torch.Tensor, g: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """One proposal per sample (Brendel et al. 2018, sec. 3.2): ``(x_sph, x_new)``, both ``(B, D)``.

    ``x, x_adv``: ``(B, D)`` originals and current adversarials; ``delta, epsilon``: ``(B,)``
    orthogonal and source step sizes (relative to the distance).
    """
    source = x - x_adv  # (B, D), from the adversarial towards the original
    d = source.norm(dim=1, keepdim=True)  # (B, 1) current distance
    u = source / d  # (B, D) unit source direction
    eta = torch.randn(x_adv.shape, generator=g).to(x)  # (B, D) ~ N(0, I)
    eta = eta - (eta * u).sum(dim=1, keepdim=True) * u  # orthogonal to the source direction
    eta = eta * delta[:, None] * d / eta.norm(dim=1, keepdim=True)  # ||eta|| = delta * d
    # x_adv + eta is at distance d * sqrt(1 + delta^2) from x (Pythagoras): scale it back onto the sphere.
    x_sph = (x + (x_adv + eta - x) / (1 + delta[:, None] ** 2).sqrt()).clamp(0, 1)
    # Towards the original: shrink the distance to (1 - epsilon) d (clipping may already have shrunk it).
    shrink = ((1 - epsilon[:, None]) * d / (x_sph - x).norm(dim=1, keepdim=True)).clamp(max=1)
    x_new = x + shrink * (x_sph - x)  # on the segment from x to x_sph, so inside [0, 1]
    return x_sph, x_new


def boundary_attack(
    predict: Predict,
    x: torch.Tensor,
    y: torch.Tensor,
    steps: int,
    seed: Seed = None,
    *,
    spherical_step: float = 1e-2,
    source_step: float = 1e-2,
    step_adaptation: float = 1.5,
    window: int = 5,
    init_draws: int = 100,
    search_steps: int = 10,
    snapshot_steps: Iterable[int] = (),
) -> BoundaryResult:
    """Untargeted L2 boundary attack of Brendel et al. (2018), batched over samples.

    Each step, for every sample still walking, in the paper's order (sec. 3.2), with the current
    adversarial ``x~`` at distance ``d = ||x - x~||_2``::

        eta ~ N(0, I), made orthogonal to x - x~ and scaled to ||eta|| = delta * d
        x_sph = x + (x~ + eta - x) / sqrt(1 + delta^2)             # orthogonal step, on the sphere
        query predict(x_sph)                                         # its success rate tunes delta
        x_new = x + (1 - epsilon) * d * (x_sph - x) / ||x_sph - x||  # step towards the original
        query predict(x_new)              # only where x_sph was adversarial; tunes epsilon
        x~ <- x_new  if accept(...)       # still adversarial and strictly closer

    After every ``window`` trials of a step, its size adapts to their success rate: ``delta`` is
    multiplied by ``step_adaptation`` when more than :data:`GROW_IF_RATE_ABOVE` (half) of the
    orthogonal steps stayed adversarial and divided by it when fewer than
    :data:`SHRINK_IF_RATE_BELOW` (a fifth) did; ``epsilon`` does the same from the success rate of
    ``x_new`` among adversarial ``x_sph``, up to :data:`MAX_SOURCE_STEP`. With the default blocks
    of 5 that means: grow after 3 or more successes out of 5, shrink after none, keep otherwise.

    Parameters
    ----------
    predict : callable
        ``predict(batch (B, ...) in [0, 1]) -> (B,) int64`` labels. The only thing the attack
        calls; wrap a logits model with :func:`labels_of`.
    x : torch.Tensor
        ``(N, ...)`` float inputs in [0, 1].
    y : torch.Tensor
        ``(N,)`` int64 labels; a point is adversarial when ``predict`` differs from ``y``.
    steps : int
        Proposals per sample after the starting point, ``>= 1``.
    seed : int, torch.Generator or None
        The randomness of every draw (noise and proposals), through
        :func:`companion.runtime.generator`: the same int repeats a run exactly; ``None`` draws
        from torch's global generator.
    spherical_step, source_step : float
        Initial ``delta > 0`` and ``epsilon`` in (0, 1), relative to the current distance
        (Foolbox's defaults, 0.01 each).
    step_adaptation : float
        Factor ``> 1`` by which a step size grows or shrinks (1.5 as in Foolbox); *when* it does
        is set by the two thresholds above, not by this factor.
    window : int
        Trials per block over which each success rate is measured and acted on.
    init_draws : int
        Uniform noise draws per sample to find an adversarial starting point.
    search_steps : int
        Halvings of the binary search from the noise towards ``x``.
    snapshot_steps : iterable of int
        Steps in ``[0, steps]`` after which to keep a copy of the adversarials.

    Returns
    -------
    BoundaryResult
        ``adversarial`` ``(N, ...)`` in [0, 1] (``x`` itself where no starting point was found),
        ``success`` recomputed by ``predict`` on it (one more query per sample), ``queries``
        ``(N,)`` all calls of ``predict`` per sample, ``history["l2"]`` and
        ``history["queries"]`` ``(steps + 1, N)``.

    Notes
    -----
    Departures from the paper's text, from the authors' reference code (Foolbox 1's
    ``BoundaryAttack``) and from Foolbox 3.3.4's:

    - Start: the paper's text rejection-samples uniform noise and uses it as is; the reference
      code and Foolbox 3 blend it with ``x`` (Foolbox 3 by a linear search in 50 steps); we
      binary-search the blend (``search_steps`` halvings, fewer queries).
    - Queries: as the paper's text describes the step, ``x_sph`` is queried every step and
      ``x_new`` only where ``x_sph`` is adversarial (one or two queries per step). The
      reference code queries ``x_sph`` only every tenth step and tries up to 25 candidates per
      step; Foolbox 3 queries ``x_new`` every step and ``x_sph`` every tenth.
    - Adaptation: ``delta`` from the orthogonal success rate only and ``epsilon`` from the source
      success rate only, as the paper's text describes; the reference code and Foolbox 3 also
      scale ``epsilon`` with ``delta``, and Foolbox 3 adapts ``epsilon`` from the share of all
      proposals, at thresholds of its own. Rates over consecutive blocks of
      ``window`` trials (Foolbox: sliding windows of the last 100 and 30 trials, sampled every
      tenth step). ``epsilon`` is capped at :data:`MAX_SOURCE_STEP`.
    - Success-rate target: Brendel et al. tune ``delta`` so that about half of the orthogonal
      steps stay adversarial. With blocks of 5 our rule keeps the step size at any rate from 1
      to 2 of 5; growing (3 or more) and shrinking (none) balance near three successes in ten,
      below half, so it keeps the orthogonal step larger than a rule aiming at half.
      ``benchmarks/boundary_vs_foolbox.py`` and ``tests/test_boundary.py`` compare the distances
      with Foolbox's at equal queries.
    - Stalling: near the end both step sizes keep shrinking, so the distance stalls and later
      steps spend queries without progress. The attack never stops early (Foolbox stops a
      sample once its ``epsilon < 1e-7``): choose ``steps`` from where ``l2_history`` levels
      off (the benchmark shows it on the digits).
    - Each sample draws its own Gaussian ``eta`` (Foolbox shares one across the batch), in the
      dtype of ``x`` (the paper's code uses float64).
    - Untargeted only: no starting image of a target class.
    """
    g = generator(seed)
    require_attack_inputs(predict, x, y, name="predict", returns=_PREDICT, nonempty=True)
    require_positive_int("steps", steps)
    delta0 = require_positive("spherical_step", spherical_step)
    epsilon0 = require_positive("source_step", source_step)
    if epsilon0 >= 1:
        raise ValueError(f"source_step must lie in (0, 1), got {source_step}")
    factor = require_positive("step_adaptation", step_adaptation)
    if factor <= 1:
        raise ValueError(f"step_adaptation must be > 1, got {step_adaptation}")
    for name, value in (("window", window), ("init_draws", init_draws), ("search_steps", search_steps)):
        require_positive_int(name, value)
    snapshot_steps = set(snapshot_steps)
    if any(not 0 <= s <= steps for s in snapshot_steps):
        raise ValueError(f"snapshot_steps must lie in [0, steps={steps}], got {sorted(snapshot_steps)}")

    n = len(x)
    x_flat = x.detach().reshape(n, -1)  # (N, D)
    oracle = _Oracle(predict, x.shape[1:], n)
    x_adv, found = _starting_points(oracle, x_flat, y, init_draws, search_steps, g)  # (N, D)
    delta, epsilon = torch.full((n,), delta0), torch.full((n,), epsilon0)  # (N,) step sizes
    spherical_rate, source_rate = _SuccessRate(window, n), _SuccessRate(window, n)

    d = torch.where(found, (x_adv - x_flat).norm(dim=1), torch.inf)  # (N,), inf: no adversarial
    l2, queries = [d.clone()], [oracle.queries.clone()]
    snapshots = {0: x_adv.reshape(x.shape).clone()} if 0 in snapshot_steps else {}
    for step in range(1, steps + 1):
        walking = (found & (d > 0)).nonzero().flatten()  # (B,) samples with a distance to shrink
        if len(walking):
            x_sph, x_new = _proposals(x_flat[walking], x_adv[walking], delta[walking], epsilon[walking], g)
            on_side = oracle.labels(x_sph, walking) != y[walking]  # (B,) orthogonal step still adversarial
            spherical_rate.record(walking, on_side)
            tried, x_new = walking[on_side], x_new[on_side]  # (B',), (B', D)
            labels_new = oracle.labels(x_new, tried)
            source_rate.record(tried, labels_new != y[tried])
            d_new = (x_new - x_flat[tried]).norm(dim=1)  # (B',)
            kept = accept(labels_new, y[tried], d_new, d[tried])
            x_adv[tried[kept]], d[tried[kept]] = x_new[kept], d_new[kept]
            delta = spherical_rate.adapt(delta, factor)
            epsilon = source_rate.adapt(epsilon, factor).clamp(max=MAX_SOURCE_STEP)
        l2.append(d.clone())
        queries.append(oracle.queries.clone())
        if step in snapshot_steps:
            snapshots[step] = x_adv.reshape(x.shape).clone()

    success = oracle.labels(x_adv, torch.arange(n)) != y  # recomputed on the returned points
    history = {"l2": torch.stack(l2), "queries": torch.stack(queries)}
    return BoundaryResult(x_adv.reshape(x.shape), success, oracle.queries.clone(), history, snapshots)


# --- The 2-d toy classifier -------------------------------------------------------------------


def toy_predict(points: torch.Tensor) -> torch.Tensor:
    """A 2-d decision-only classifier on [0, 1]^2: class 1 above a wavy boundary, else 0.

    ``points``: ``(B, 2)``; returns ``(B,)`` int64. The boundary is ``p_2 = 0.55 + 0.12 sin(2 pi
    p_1)``: curved, so the walk has to follow it.
    """
    require_tensor("points", points, ndim=2, floating=True)
    if points.shape[1] != 2:
        raise ValueError(f"points must have shape (B, 2), got {tuple(points.shape)}")
    boundary = 0.55 + 0.12 * torch.sin(2 * math.pi * points[:, 0])
    return (points[:, 1] > boundary).long()


# --- The experiment: standard vs defensively distilled digits MLP --------------------------------


@dataclass(frozen=True)
class ExperimentConfig:
    """Settings of the chapter's experiment (Brendel et al. 2018, sec. 4, at laptop scale)."""

    images: int = 100  # test digits attacked: the first ones both models classify correctly
    steps: int = 1500  # boundary-attack steps per image (the paper: many thousands of queries)
    T: float = 50.0  # distillation temperature (chapter 2; Papernot et al. try 1 to 100)
    fgsm_eps: float = 0.2  # L-infinity budget of the FGSM baseline (chapter 2)
    seed: int = 0  # seeds the attacks and, through TrainConfig, the models

    def __post_init__(self) -> None:
        require_positive_int("images", self.images)
        require_positive_int("steps", self.steps)
        require_positive("T", self.T)
        require_positive("fgsm_eps", self.fgsm_eps)


def experiment_models(data: Digits, T: float = ExperimentConfig.T) -> dict[str, nn.Module]:
    """The standard digits MLP and the defensively distilled one (chapter 2), both in eval mode.

    ``"standard"``: ``train_classifier(data, "mlp")`` with the default config;
    ``"distilled"``: the student of ``defensive_distillation(data, T)``, deployed at T = 1.
    """
    standard, _ = train_classifier(data, "mlp")
    return {"standard": standard, "distilled": defensive_distillation(data, T).student.eval()}


def attack_set(
    models: dict[str, nn.Module], x: torch.Tensor, y: torch.Tensor, n: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` of ``x`` ``(N, D)``, ``y`` ``(N,)`` that every model classifies correctly.

    Attacking only correctly classified inputs keeps zero distances (already wrong) out of the
    medians.
    """
    require_models("models", models)
    require_positive_int("n", n)
    correct = torch.ones(len(y), dtype=torch.bool)
    for model in models.values():
        correct &= predict_logits(model, x).argmax(dim=1) == y
    index = correct.nonzero().flatten()[:n]
    if len(index) < n:
        raise ValueError(f"n must be at most the {len(index)} inputs every model gets right, got {n}")
    return x[index], y[index]


# --- HopSkipJump: the query-efficient successor ------------------------------------------------


def _boundary_normal(
    oracle: _Oracle,
    x_b: torch.Tensor,
    y: torch.Tensor,
    index: torch.Tensor,
    delta: torch.Tensor,
    probes: int,
    g: torch.Generator,
) -> torch.Tensor:
    """Unit estimate ``(B, D)`` of the boundary's normal at ``x_b`` from ``probes`` decisions each.

    As in Chen et al. (2020): ``u_b`` uniform on the unit sphere, ``phi_b = +1`` if
    ``x_b + delta u_b`` is adversarial else ``-1``, and ``v = mean_b (phi_b - mean phi) u_b``
    (without the baseline when every ``phi_b`` agrees).
    """
    B, D = x_b.shape
    u = torch.randn(B, probes, D, generator=g).to(x_b)  # (B, probes, D)
    u = u / u.norm(dim=2, keepdim=True)
    points = (x_b[:, None] + delta[:, None, None] * u).clamp(0, 1)  # (B, probes, D)
    u = (points - x_b[:, None]) / delta[:, None, None]  # the directions actually probed after clipping
    labels = oracle.labels(points.reshape(B * probes, D), index.repeat_interleave(probes))
    phi = (labels.reshape(B, probes) != y[:, None]).float() * 2 - 1  # (B, probes), +1 = adversarial
    baseline = phi.mean(dim=1, keepdim=True)
    phi = torch.where(baseline.abs() == 1, phi, phi - baseline)
    v = (phi[:, :, None] * u).mean(dim=1)  # (B, D)
    return v / v.norm(dim=1, keepdim=True).clamp(min=1e-12)


def hop_skip_jump(
    predict: Predict,
    x: torch.Tensor,
    y: torch.Tensor,
    steps: int,
    seed: Seed = None,
    *,
    initial_probes: int = 100,
    max_probes: int = 10_000,
    gamma: float = 1.0,
    init_draws: int = 100,
) -> BoundaryResult:
    """Untargeted L2 HopSkipJumpAttack (Chen, Jordan, Wainwright 2020), batched over samples.

    From the same adversarial start as :func:`boundary_attack`, each iteration ``t`` of the walk,
    for a point ``x~`` on the boundary at distance ``d``:

    1. *Hop*: estimate the boundary's normal ``v`` from ``B_t = initial_probes * sqrt(t)``
       decisions at distance ``delta = sqrt(D) * theta * d`` around ``x~``
       (:func:`_boundary_normal`).
    2. *Skip*: step ``x~ + xi v`` with ``xi = d / sqrt(t)``, halving ``xi`` until the point is
       adversarial (geometric step-size search).
    3. *Jump*: binary-search back towards ``x`` onto the boundary, to a relative precision
       ``theta = gamma / D^(3/2)``.

    Parameters and result as in :func:`boundary_attack` (``steps`` counts iterations, each
    costing about ``B_t + 10`` queries per sample); ``max_probes`` caps ``B_t``.

    Notes
    -----
    Departures from the paper: the start is our binary-searched blend with uniform noise (the
    paper's, too, but with a finer search); we keep the closest adversarial seen (the paper
    returns the last iterate), so the distance history never increases; the step-size search
    gives up after :data:`MAX_STEP_HALVINGS` halvings and keeps the current point. Foolbox's
    ``HopSkipJumpAttack`` uses ``delta = 0.1`` in the first iteration; we use the paper's
    formula throughout.
    """
    g = generator(seed)
    require_attack_inputs(predict, x, y, name="predict", returns=_PREDICT, nonempty=True)
    require_positive_int("steps", steps)
    for name, value in (("initial_probes", initial_probes), ("max_probes", max_probes)):
        require_positive_int(name, value)
    gamma = require_positive("gamma", gamma)
    n = len(x)
    x_flat = x.detach().reshape(n, -1)  # (N, D)
    D = x_flat.shape[1]
    theta = gamma / D**1.5  # binary-search precision, relative to the distance
    search_steps = max(1, math.ceil(math.log2(1 / theta)))
    oracle = _Oracle(predict, x.shape[1:], n)
    x_adv, found = _starting_points(oracle, x_flat, y, init_draws, search_steps, g)  # (N, D)
    d = torch.where(found, (x_adv - x_flat).norm(dim=1), torch.inf)  # (N,)
    l2, queries = [d.clone()], [oracle.queries.clone()]
    for t in range(1, steps + 1):
        walking = (found & (d > 0)).nonzero().flatten()  # (B,)
        if len(walking):
            x_b, x_star, y_b, d_b = x_adv[walking], x_flat[walking], y[walking], d[walking]  # x*: originals
            probes = min(int(initial_probes * math.sqrt(t)), max_probes)
            v = _boundary_normal(oracle, x_b, y_b, walking, math.sqrt(D) * theta * d_b, probes, g)
            xi = (d_b / math.sqrt(t))[:, None]  # (B, 1) geometric step-size search
            jumped = x_b.clone()
            todo = torch.ones(len(walking), dtype=torch.bool)
            for _ in range(MAX_STEP_HALVINGS):
                if not todo.any():
                    break
                candidate = (x_b[todo] + xi[todo] * v[todo]).clamp(0, 1)
                fooled = oracle.labels(candidate, walking[todo]) != y_b[todo]
                done = todo.nonzero().flatten()[fooled]
                jumped[done], todo[done] = candidate[fooled], False
                xi[todo] /= 2
            x_new = _binary_search(oracle, x_star, jumped, y_b, walking, search_steps)
            d_new = (x_new - x_star).norm(dim=1)
            closer = d_new < d_b  # keep the closest adversarial seen
            x_adv[walking[closer]], d[walking[closer]] = x_new[closer], d_new[closer]
        l2.append(d.clone())
        queries.append(oracle.queries.clone())

    success = oracle.labels(x_adv, torch.arange(n)) != y
    history = {"l2": torch.stack(l2), "queries": torch.stack(queries)}
    return BoundaryResult(x_adv.reshape(x.shape), success, oracle.queries.clone(), history)
