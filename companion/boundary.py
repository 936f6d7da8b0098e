"""The boundary attack: a decision-based attack that needs only the model's top-1 label.

Threat models, from most to least the attacker knows (Brendel et al. 2018):

- *gradient-based* (white box): the attacker differentiates the model
  (``companion.attacks.fgsm``, ``pgd``);
- *score-based*: the attacker sees scores or probabilities, not gradients;
- *transfer-based*: the attacker crafts examples on a substitute model trained
  on similar data and sends them to the target;
- *decision-based*: the attacker sees only the predicted label. That is all
  :func:`boundary_attack` uses: a ``predict`` function mapping a batch to labels.

The attack (Brendel et al. 2018, sec. 3) starts from a point ``x~_0`` that is
already adversarial and walks along the decision boundary towards the original
input ``x``. Each step draws a proposal in two parts, with ``d = ||x - x~||_2``::

    eta ~ N(0, I), made orthogonal to x - x~ and scaled to ||eta|| = delta * d
    x_sph = x + (x~ + eta - x) / sqrt(1 + delta^2)             # orthogonal step, back on the sphere
    x_new = x + (1 - epsilon) * d * (x_sph - x) / ||x_sph - x||  # step towards the original

and accepts ``x_new`` only if ``predict`` still labels it differently from
``y``: the walk never leaves the adversarial side and its distance to ``x``
never grows. The orthogonal step size ``delta`` and the source step size
``epsilon`` adapt to how often each step succeeds.

:func:`hop_skip_jump` is its successor (Chen et al. 2020): same decision-only
set-up, but it estimates the normal of the boundary from a batch of decisions,
steps along it and binary-searches back onto the boundary. The rest of the
module runs the chapter's experiment (standard vs defensively distilled MLP),
checks the exercises (:func:`check_accept`, :func:`check_queries_to_halve`, each
returning a ``companion.classroom.exercises.Feedback``) and draws the figures.

Shapes: ``x`` is ``(N, ...)`` float in [0, 1] (flat digits ``(N, 64)``), ``y``
is ``(N,)`` int64, ``predict(batch)`` is ``(B,)`` int64; ``D`` is the number
of values per input (64 for the digits).

References
----------
1. Brendel, Rauber, Bethge. Decision-Based Adversarial Attacks: Reliable Attacks
   Against Black-Box Machine Learning Models. ICLR 2018 (arXiv:1712.04248).
2. Rauber, Zimmermann, Bethge, Brendel. Foolbox Native. JOSS 2020 (its
   ``BoundaryAttack`` is the reference our tests compare with).
3. Chen, Jordan, Wainwright. HopSkipJumpAttack: A Query-Efficient Decision-Based
   Attack. IEEE S&P 2020.
4. Papernot, McDaniel, Wu, Jha, Swami. Distillation as a Defense to Adversarial
   Perturbations against Deep Neural Networks. IEEE S&P 2016 (the defence of the experiment).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from companion.attacks import AttackResult
from companion.classroom import exercises
from companion.data import Digits, to_images
from companion.distillation import defensive_distillation
from companion.models import eval_mode
from companion.plotting import COLORS, style_context
from companion.training import predict_logits, train_classifier
from companion.validation import (
    require_in_unit_box,
    require_labels,
    require_positive,
    require_positive_int,
    require_same_length,
    require_tensor,
)

__all__ = [
    "BoundaryResult",
    "ExperimentConfig",
    "Predict",
    "accept",
    "attack_set",
    "boundary_attack",
    "check_accept",
    "check_queries_to_halve",
    "checkpoint_figure",
    "distance_figure",
    "experiment_models",
    "hop_skip_jump",
    "labels_of",
    "median_figure",
    "minimal_perturbation",
    "progress_figure",
    "toy_predict",
    "toy_walk_figure",
]

Predict = Callable[[torch.Tensor], torch.Tensor]
"""``predict(batch (B, ...) in [0, 1]) -> labels (B,) int64``: the only thing the attack sees."""


@dataclass
class BoundaryResult(AttackResult):
    """:class:`companion.attacks.AttackResult` plus the record of the walk.

    Attributes
    ----------
    history : dict of str to torch.Tensor
        ``"l2"``: ``(steps + 1, N)`` distance ``||x~_k - x||_2`` after step
        ``k`` (row 0: the starting point; ``inf`` where none was found);
        ``"queries"``: ``(steps + 1, N)`` calls to ``predict`` so far, per sample.
    snapshots : dict of int to torch.Tensor
        The adversarials ``(N, ...)`` after each step asked for in
        ``snapshot_steps`` (step 0 is the starting point).
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

    The wrapper runs without gradients, puts an ``nn.Module`` in training mode
    into eval mode for the call (and back afterwards), and returns ``(B,)`` int64.
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

    def adapt(self, size: torch.Tensor, factor: float, low: float, high: float) -> torch.Tensor:
        """After a full block: ``size * factor`` if its rate is above ``high``, ``/ factor`` below ``low``."""
        done = self.trials >= self.window  # (N,) blocks that are complete
        rate = self.successes / self.trials.clamp(min=1)
        grow, shrink = done & (rate > high), done & (rate < low)
        self.trials[done], self.successes[done] = 0.0, 0.0  # start a new block
        return size * torch.where(grow, factor, torch.where(shrink, 1 / factor, 1.0))


def accept(labels_new: torch.Tensor, y: torch.Tensor, d_new: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """The acceptance test: ``(B,)`` bool, True where a proposal replaces the current point.

    A proposal is kept only if it is still adversarial (``labels_new != y``)
    and strictly closer to the original (``d_new < d``; by construction it
    is, unless rounding says otherwise, as Foolbox also checks).
    """
    return (labels_new != y) & (d_new < d)


def _generator(seed: int | None) -> torch.Generator:
    """A CPU generator seeded with ``seed`` (a fresh random seed for ``None``)."""
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    elif isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
    else:
        generator.manual_seed(seed)
    return generator


def _check_inputs(predict, x, y, steps) -> None:
    if not callable(predict):
        raise TypeError(
            "predict must be callable (a batch -> int64 labels; wrap a model with labels_of), "
            f"got {type(predict).__name__}"
        )
    require_in_unit_box("x", x)
    require_labels("y", y)
    require_same_length("x", x, "y", y)
    require_positive_int("steps", steps)
    if len(x) == 0:
        raise ValueError("x must hold at least one sample, got 0")


def _starting_points(
    oracle: _Oracle, x: torch.Tensor, y: torch.Tensor, init_draws: int, search_steps: int, generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Adversarial starting points ``(N, D)`` and a mask ``(N,)`` of the samples that have one.

    Uniform noise ``u ~ U[0, 1]^D`` is drawn until ``predict`` labels it
    differently from ``y`` (at most ``init_draws`` times per sample); then a
    binary search over the blend ``(1 - a) x + a u`` finds a small adversarial
    ``a``. Inputs that ``predict`` already gets wrong start (and stay) at ``x``.
    """
    n, D = x.shape
    start = x.clone()
    found = oracle.labels(x, torch.arange(n)) != y  # misclassified inputs are their own adversarial
    noise, has_noise = torch.zeros_like(x), torch.zeros(n, dtype=torch.bool)
    for _ in range(init_draws):
        todo = (~found & ~has_noise).nonzero().flatten()  # (B,) samples without adversarial noise
        if len(todo) == 0:
            break
        u = torch.rand(len(todo), D, generator=generator).to(x)  # (B, D) ~ U[0, 1]
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
    x: torch.Tensor, x_adv: torch.Tensor, delta: torch.Tensor, epsilon: torch.Tensor, generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """One proposal per sample (Brendel et al. 2018, sec. 3.2): ``(x_sph, x_new)``, both ``(B, D)``.

    ``x, x_adv``: ``(B, D)`` originals and current adversarials; ``delta,
    epsilon``: ``(B,)`` orthogonal and source step sizes (relative to the distance).
    """
    source = x - x_adv  # (B, D), from the adversarial towards the original
    d = source.norm(dim=1, keepdim=True)  # (B, 1) current distance
    u = source / d  # (B, D) unit source direction
    eta = torch.randn(x_adv.shape, generator=generator).to(x)  # (B, D) ~ N(0, I)
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
    seed: int | None = None,
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

    Each step, for every sample still walking, in the paper's order::

        x_sph = orthogonal step of relative size delta on the sphere of radius d around x
        query predict(x_sph)             # its success rate tunes delta
        x_new = x_sph moved towards x until the distance is (1 - epsilon) d
        query predict(x_new)             # only where x_sph was adversarial; tunes epsilon
        x~ <- x_new  if accept(...)      # still adversarial and closer

    After every ``window`` trials of a step, its size adapts to their success
    rate: ``delta`` grows by ``step_adaptation`` when more than 50 % of the
    orthogonal steps stayed adversarial and shrinks when fewer than 20 % did;
    ``epsilon`` does the same from the success rate of ``x_new`` among
    adversarial ``x_sph``. With the default blocks of 5 that means: grow after
    3 or more successes out of 5, shrink after none, keep otherwise. On the
    digits the orthogonal success rate then settles near 30 % and about 8 %
    of all steps are accepted (measured over the chapter's experiment).

    Parameters
    ----------
    predict : callable
        ``predict(batch (B, ...) in [0, 1]) -> (B,) int64`` labels. The only
        thing the attack calls; wrap a logits model with :func:`labels_of`.
    x : torch.Tensor
        ``(N, ...)`` float inputs in [0, 1].
    y : torch.Tensor
        ``(N,)`` int64 labels; a point is adversarial when ``predict`` differs from ``y``.
    steps : int
        Proposals per sample after the starting point, ``>= 1``.
    seed : int, optional
        Seeds the ``torch.Generator`` behind every random draw (noise and
        proposals); the same seed repeats a run exactly. ``None``: a fresh seed.
    spherical_step, source_step : float
        Initial ``delta > 0`` and ``epsilon`` in (0, 1), relative to the current
        distance (Foolbox's defaults, 0.01 each).
    step_adaptation : float
        Factor ``> 1`` by which the step sizes grow or shrink (1.5 as in Foolbox).
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
        ``adversarial`` ``(N, ...)`` in [0, 1] (``x`` itself where no starting
        point was found), ``success`` recomputed by ``predict`` on it (one more
        query per sample), ``queries`` ``(N,)`` all calls of ``predict`` per
        sample, ``history["l2"]`` and ``history["queries"]`` ``(steps + 1, N)``.

    Notes
    -----
    Departures from the paper and from Foolbox 3.3.4's ``BoundaryAttack``:

    - Start: the paper rejection-samples uniform noise and uses it as is;
      Foolbox blends it with ``x`` by a linear search in 50 steps; we
      binary-search the blend (``search_steps`` halvings, fewer queries).
    - Queries: as in the paper's code, ``x_sph`` is queried every step and
      ``x_new`` only where ``x_sph`` is adversarial (one or two queries per
      step). Foolbox queries ``x_new`` every step and ``x_sph`` every tenth.
    - Adaptation: ``delta`` from the orthogonal success rate only and
      ``epsilon`` from the source success rate only, as the paper's text
      describes; Foolbox also scales ``epsilon`` with ``delta``. Rates over
      consecutive blocks of 5 trials (Foolbox: sliding windows of the last
      100 and 30 trials, sampled every tenth step); on the digits this
      reaches smaller distances for the same number of queries. ``epsilon``
      is capped at 0.5.
    - Success-rate target: Brendel et al. tune ``delta`` so that about 50 %
      of the orthogonal steps stay adversarial. Our rule (grow at 3 or more
      of 5, shrink at 0 of 5) has no single target and settles lower, near
      30 % on the digits (about 8 % of all steps accepted): smaller
      orthogonal steps than the paper's. At equal queries it still beats
      Foolbox (``benchmarks/boundary_vs_foolbox.py`` and the tests).
    - Stalling: near the end both step sizes keep shrinking (on 20 digits
      the median ``epsilon`` is about 4e-7 after 4,000 steps; by step 8,000
      ``epsilon`` and ``delta`` are about 5e-8), so the distance stalls and
      later steps spend queries without progress (the last improvement
      came between steps 2,700 and 8,000, median about 4,400). The attack
      never stops early (Foolbox stops a sample once its ``epsilon < 1e-7``):
      choose ``steps`` accordingly (about 3,000 suffice on the digits).
    - Each sample draws its own Gaussian ``eta`` (Foolbox shares one across
      the batch), in the dtype of ``x`` (the paper's code uses float64).
    - Untargeted only: no starting image of a target class.
    """
    _check_inputs(predict, x, y, steps)
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

    generator = _generator(seed)
    n = len(x)
    x_flat = x.detach().reshape(n, -1)  # (N, D)
    oracle = _Oracle(predict, x.shape[1:], n)
    x_adv, found = _starting_points(oracle, x_flat, y, init_draws, search_steps, generator)  # (N, D)
    delta, epsilon = torch.full((n,), delta0), torch.full((n,), epsilon0)  # (N,) step sizes
    spherical_rate, source_rate = _SuccessRate(window, n), _SuccessRate(window, n)

    d = torch.where(found, (x_adv - x_flat).norm(dim=1), torch.inf)  # (N,), inf: no adversarial
    l2, queries = [d.clone()], [oracle.queries.clone()]
    snapshots = {0: x_adv.reshape(x.shape).clone()} if 0 in snapshot_steps else {}
    for step in range(1, steps + 1):
        walking = (found & (d > 0)).nonzero().flatten()  # (B,) samples with a distance to shrink
        if len(walking):
            x_sph, x_new = _proposals(
                x_flat[walking], x_adv[walking], delta[walking], epsilon[walking], generator
            )
            on_side = oracle.labels(x_sph, walking) != y[walking]  # (B,) orthogonal step still adversarial
            spherical_rate.record(walking, on_side)
            tried, x_new = walking[on_side], x_new[on_side]  # (B',), (B', D)
            labels_new = oracle.labels(x_new, tried)
            source_rate.record(tried, labels_new != y[tried])
            d_new = (x_new - x_flat[tried]).norm(dim=1)  # (B',)
            kept = accept(labels_new, y[tried], d_new, d[tried])
            x_adv[tried[kept]], d[tried[kept]] = x_new[kept], d_new[kept]
            delta = spherical_rate.adapt(delta, factor, low=0.2, high=0.5)
            epsilon = source_rate.adapt(epsilon, factor, low=0.2, high=0.5).clamp(max=0.5)
        l2.append(d.clone())
        queries.append(oracle.queries.clone())
        if step in snapshot_steps:
            snapshots[step] = x_adv.reshape(x.shape).clone()

    success = oracle.labels(x_adv, torch.arange(n)) != y  # recomputed on the returned points
    history = {"l2": torch.stack(l2), "queries": torch.stack(queries)}
    return BoundaryResult(x_adv.reshape(x.shape), success, oracle.queries.clone(), history, snapshots)


# --- HopSkipJump: the query-efficient successor ------------------------------------------------


def _boundary_normal(
    oracle: _Oracle,
    x_b: torch.Tensor,
    y: torch.Tensor,
    index: torch.Tensor,
    delta: torch.Tensor,
    probes: int,
    generator,
) -> torch.Tensor:
    """Unit estimate ``(B, D)`` of the boundary's normal at ``x_b`` from ``probes`` decisions each.

    As in Chen et al. (2020): ``u_b`` uniform on the unit sphere,
    ``phi_b = +1`` if ``x_b + delta u_b`` is adversarial else ``-1``, and
    ``v = mean_b (phi_b - mean phi) u_b`` (without the baseline when every
    ``phi_b`` agrees).
    """
    B, D = x_b.shape
    u = torch.randn(B, probes, D, generator=generator).to(x_b)  # (B, probes, D)
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
    seed: int | None = None,
    *,
    initial_probes: int = 100,
    max_probes: int = 10_000,
    gamma: float = 1.0,
    init_draws: int = 100,
) -> BoundaryResult:
    """Untargeted L2 HopSkipJumpAttack (Chen, Jordan, Wainwright 2020), batched over samples.

    From the same adversarial start as :func:`boundary_attack`, each iteration
    ``t`` of the walk, for a point ``x~`` on the boundary at distance ``d``:

    1. *Hop*: estimate the boundary's normal ``v`` from ``B_t = initial_probes
       * sqrt(t)`` decisions at distance ``delta = sqrt(D) * theta * d``
       around ``x~`` (:func:`_boundary_normal`).
    2. *Skip*: step ``x~ + xi v`` with ``xi = d / sqrt(t)``, halving ``xi``
       until the point is adversarial (geometric step-size search).
    3. *Jump*: binary-search back towards ``x`` onto the boundary, to a
       relative precision ``theta = gamma / D^(3/2)``.

    Parameters and result as in :func:`boundary_attack` (``steps`` counts
    iterations, each costing about ``B_t + 10`` queries per sample);
    ``max_probes`` caps ``B_t``.

    Notes
    -----
    Departures from the paper: the start is our binary-searched blend with
    uniform noise (the paper's, too, but with a finer search); we keep the
    closest adversarial seen (the paper returns the last iterate), so the
    distance history never increases; the step-size search gives up after 20
    halvings and keeps the current point. Foolbox's ``HopSkipJumpAttack`` uses
    ``delta = 0.1`` in the first iteration; we use the paper's formula throughout.
    """
    _check_inputs(predict, x, y, steps)
    for name, value in (("initial_probes", initial_probes), ("max_probes", max_probes)):
        require_positive_int(name, value)
    gamma = require_positive("gamma", gamma)
    generator = _generator(seed)
    n = len(x)
    x_flat = x.detach().reshape(n, -1)  # (N, D)
    D = x_flat.shape[1]
    theta = gamma / D**1.5  # binary-search precision, relative to the distance
    search_steps = max(1, math.ceil(math.log2(1 / theta)))
    oracle = _Oracle(predict, x.shape[1:], n)
    x_adv, found = _starting_points(oracle, x_flat, y, init_draws, search_steps, generator)  # (N, D)
    d = torch.where(found, (x_adv - x_flat).norm(dim=1), torch.inf)  # (N,)
    l2, queries = [d.clone()], [oracle.queries.clone()]
    for t in range(1, steps + 1):
        walking = (found & (d > 0)).nonzero().flatten()  # (B,)
        if len(walking):
            x_b, x_star, y_b, d_b = x_adv[walking], x_flat[walking], y[walking], d[walking]  # x*: originals
            probes = min(int(initial_probes * math.sqrt(t)), max_probes)
            v = _boundary_normal(oracle, x_b, y_b, walking, math.sqrt(D) * theta * d_b, probes, generator)
            xi = (d_b / math.sqrt(t))[:, None]  # (B, 1) geometric step-size search
            jumped = x_b.clone()
            todo = torch.ones(len(walking), dtype=torch.bool)
            for _ in range(20):
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

    Attacking only correctly classified inputs keeps zero distances (already
    wrong) out of the medians.
    """
    require_positive_int("n", n)
    correct = torch.ones(len(y), dtype=torch.bool)
    for model in models.values():
        correct &= predict_logits(model, x).argmax(dim=1) == y
    index = correct.nonzero().flatten()[:n]
    if len(index) < n:
        raise ValueError(f"n must be at most the {len(index)} inputs every model gets right, got {n}")
    return x[index], y[index]


def minimal_perturbation(
    attack: Callable[[float], AttackResult], x: torch.Tensor, eps_grid: Sequence[float]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per sample, the adversarial of the smallest budget in ``eps_grid`` that succeeds.

    ``attack(eps)`` runs a gradient attack (e.g. FGSM or PGD) at budget ``eps``
    on ``x`` ``(N, ...)``. Returns the adversarials ``(N, ...)`` (``x`` where
    no budget works) and their budgets ``(N,)`` (``inf`` where none works):
    the line search over ``eps`` that Brendel et al. use for their FGSM baseline.
    """
    if not callable(attack):
        raise TypeError(
            f"attack must be callable as attack(eps) -> AttackResult, got {type(attack).__name__}"
        )
    grid = sorted(require_positive("eps_grid[i]", e) for e in eps_grid)
    if not grid:
        raise ValueError("eps_grid must hold at least one budget, got none")
    best, budget = x.clone(), torch.full((len(x),), torch.inf)
    for eps in grid:
        result = attack(eps)
        new = result.success & budget.isinf()  # first (smallest) budget that fools the model
        best[new], budget[new] = result.adversarial[new], eps
    return best, budget


# --- The exercise checks ----------------------------------------------------------------------


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"


@exercises.check("ex-boundary-accept")
def check_accept(candidate: Callable[..., torch.Tensor] | None) -> str:
    """Check a student's ``accept(labels_new, y, d_new, d) -> (B,) bool`` against :func:`accept`.

    Five hand-made batches, each testing one part of the rule; the first one
    the candidate gets wrong gives the hint (never the answer).
    """
    y = torch.tensor([3, 3, 3, 3, 3])
    cases = [  # (labels_new, d_new, d, hint)
        ([5, 1, 0, 9, 2], [0.5] * 5, [1.0] * 5, "adversarial proposals that are closer must be accepted"),
        ([3, 3, 3, 3, 3], [0.5] * 5, [1.0] * 5, "a proposal that predict labels y is not adversarial"),
        ([5, 5, 5, 5, 5], [1.2] * 5, [1.0] * 5, "the distance to x must never increase"),
        ([5, 3, 5, 3, 5], [0.9, 0.9, 1.1, 1.1, 0.8], [1.0] * 5, "check both conditions for every sample"),
        (
            [5, 5, 5, 5, 5],
            [1.0, 0.5, 1.0, 0.5, 1.0],
            [1.0] * 5,
            "a proposal at the same distance is no progress: it must be strictly closer",
        ),
    ]
    for labels_new, d_new, d, hint in cases:
        labels_new, d_new, d = torch.tensor(labels_new), torch.tensor(d_new), torch.tensor(d)
        got = exercises.call(candidate, "accept", labels_new.clone(), y.clone(), d_new.clone(), d.clone())
        if not isinstance(got, torch.Tensor) or got.dtype != torch.bool or got.shape != y.shape:
            raise exercises.NotYet(
                f"accept must return a bool tensor of shape {tuple(y.shape)}, got {_describe(got)}."
            )
        if not torch.equal(got, accept(labels_new, y, d_new, d)):
            raise exercises.NotYet(f"{hint} (labels_new={labels_new.tolist()}, d_new={d_new.tolist()}).")
    return "only proposals that stay adversarial and come closer are kept."


def _queries_to_halve(result: BoundaryResult) -> torch.Tensor:
    """The reference: queries spent until ``d_k <= d_0 / 2`` first holds, per digit that gets there."""
    l2 = result.l2_history  # (steps + 1, N)
    halved = l2 <= l2[:1] / 2
    first = halved.int().argmax(dim=0)  # (N,) first step that halves (0 if none)
    spent = result.history["queries"].gather(0, first[None])[0]  # (N,)
    return spent[halved.any(dim=0)]


def _halving_example() -> BoundaryResult:
    """A hand-made result, 5 digits and 6 steps, whose answer is known (see the comments)."""
    l2 = torch.tensor(
        [
            [1.0, 0.9, 0.5, 0.5, 0.4, 0.3, 0.2],  # exactly half at step 2
            [2.0, 1.9, 1.8, 1.5, 1.2, 1.1, 1.05],  # never halves: left out
            [0.8, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3],  # step 1
            [3.0, 2.9, 2.0, 1.4, 1.4, 1.0, 0.9],  # step 3: its own d_0, not another digit's
            [1.0, 1.0, 0.9, 0.8, 0.7, 0.6, 0.45],  # only at the last step
        ]
    ).T  # (steps + 1, N)
    steps = torch.tensor([[0], [1], [2], [1], [2], [1], [2]])  # queries per step vary
    queries = torch.tensor([12, 9, 15, 11, 10]) + steps.cumsum(dim=0) * torch.tensor([1, 2, 1, 3, 2])
    n = l2.shape[1]
    return BoundaryResult(
        torch.zeros(n, 2),
        torch.ones(n, dtype=torch.bool),
        queries[-1].clone(),
        {"l2": l2, "queries": queries},
    )


def _as_vector(value: object) -> torch.Tensor | None:
    """``value`` as a 1-d float64 tensor, or ``None`` if it is not a sequence of numbers."""
    try:
        vector = torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return None
    return vector if vector.ndim == 1 else None


def _halving_hint(got: torch.Tensor, result: BoundaryResult) -> str:
    """What is off about ``got`` compared with :func:`_queries_to_halve` on ``result``."""
    l2, queries = result.l2_history, result.history["queries"].double()
    expected = _queries_to_halve(result).double()
    halves = (l2 <= l2[:1] / 2).any(dim=0)
    if len(got) == l2.shape[1] and len(got) != len(expected):
        return "one value per digit whose distance halves: leave out the digits that never get there."
    if len(got) != len(expected):
        return f"expected one value per digit whose distance halves, got {len(got)} values."
    strict = l2 < l2[:1] / 2
    first_strict = queries.gather(0, strict.int().argmax(dim=0)[None])[0]
    if torch.equal(got, first_strict[halves]):
        return "a digit whose distance reaches exactly half of d_0 counts as halved (d_k <= d_0 / 2)."
    first_step = (l2 <= l2[:1] / 2).int().argmax(dim=0).double()
    if torch.equal(got, first_step[halves]):
        return 'those look like step numbers: count the queries spent, result.history["queries"].'
    return (
        "some values differ: take, for each digit, the queries spent until the FIRST step "
        "with d_k <= d_0 / 2."
    )


@exercises.check("ex-boundary-halve")
def check_queries_to_halve(
    queries_to_halve: Callable[[BoundaryResult], torch.Tensor] | None,
    results: dict[str, BoundaryResult] | None = None,
) -> str:
    """Check ``queries_to_halve(result) -> (M,)``: per digit that halves its distance, the queries spent.

    For each digit ``i`` with ``d_k <= d_0 / 2`` at some step, the value is
    ``result.history["queries"][k_i, i]`` at the first such step ``k_i``, in
    digit order; digits that never halve are left out. Tested on a hand-made
    result with known answer (an exact half, a digit that never halves, the
    last step, queries that differ from step numbers), then on each attack
    result in ``results`` (the chapter's, e.g. ``{"standard": ..., "distilled": ...}``)
    against the reference.
    """
    cases = {"a hand-made result": _halving_example()}
    for name, result in (results or {}).items():
        if not isinstance(result, BoundaryResult):
            raise TypeError(f"results[{name!r}] must be a BoundaryResult, got {type(result).__name__}")
        cases[f"results[{name!r}]"] = result
    for label, result in cases.items():
        copy = BoundaryResult(
            result.adversarial.clone(),
            result.success.clone(),
            result.queries.clone(),
            {key: value.clone() for key, value in result.history.items()},
        )
        got = _as_vector(exercises.call(queries_to_halve, "queries_to_halve", copy))
        if got is None:
            raise exercises.NotYet("queries_to_halve must return a 1-d tensor of query counts.")
        if len(got) != len(_queries_to_halve(result)) or not torch.equal(
            got, _queries_to_halve(result).double()
        ):
            raise exercises.NotYet(f"on {label}: {_halving_hint(got, result)}")
    mine = f" and on your {len(cases) - 1} attack result(s)" if len(cases) > 1 else ""
    return f"queries_to_halve agrees with the reference on a hand-made result{mine}."


# --- The 2-d toy classifier -------------------------------------------------------------------


def toy_predict(points: torch.Tensor) -> torch.Tensor:
    """A 2-d decision-only classifier on [0, 1]^2: class 1 above a wavy boundary, else 0.

    ``points``: ``(B, 2)``; returns ``(B,)`` int64. The boundary is
    ``p_2 = 0.55 + 0.12 sin(2 pi p_1)``: curved, so the walk has to follow it.
    """
    require_tensor("points", points, ndim=2, floating=True)
    if points.shape[1] != 2:
        raise ValueError(f"points must have shape (B, 2), got {tuple(points.shape)}")
    boundary = 0.55 + 0.12 * torch.sin(2 * math.pi * points[:, 0])
    return (points[:, 1] > boundary).long()


# --- Figures ----------------------------------------------------------------------------------


def distance_figure(results: dict[str, BoundaryResult], curves: int = 8) -> Figure:
    """L2 distance against queries (log-log) for ``curves`` images of each result, and the median."""
    require_positive_int("curves", curves)
    with style_context():
        fig, axes = plt.subplots(
            1, len(results), figsize=(4.6 * len(results), 3.4), squeeze=False, sharey=True
        )
        for ax, (name, result) in zip(axes.flat, results.items(), strict=True):
            q, l2 = result.history["queries"].float(), result.l2_history  # (steps + 1, N)
            color = COLORS.get(name, COLORS["boundary"])
            for i in range(min(curves, l2.shape[1])):
                ax.plot(q[:, i], l2[:, i], color=color, alpha=0.35, linewidth=1)
            ax.plot(q.median(dim=1).values, l2.median(dim=1).values, color="black", label="median")
            ax.set(xscale="log", yscale="log", xlabel="queries to predict", title=name)
            ax.legend()
        axes[0, 0].set_ylabel(r"$\|\tilde x - x\|_2$")
        fig.tight_layout()
    return fig


def median_figure(results: dict[str, BoundaryResult]) -> Figure:
    """Median L2 distance against median queries per sample (log-log), one line per attack."""
    if not results:
        raise ValueError("results must hold at least one attack result, got none")
    with style_context():
        fig, ax = plt.subplots(figsize=(5.6, 3.4))
        for name, result in results.items():
            q = result.history["queries"].float().median(dim=1).values  # (steps + 1,)
            l2 = result.l2_history.median(dim=1).values  # the distance holds until a step ends
            ax.plot(q, l2, drawstyle="steps-post", marker="o" if len(q) < 50 else None, label=name)
        ax.set(xscale="log", yscale="log", xlabel="queries to predict (median)", ylabel="median L2")
        ax.legend()
        fig.tight_layout()
    return fig


def _image(ax, image: torch.Tensor, signed: bool, bound: float = 1.0) -> None:
    picture = to_images(image[None])[0, 0].cpu().numpy()  # (8, 8)
    if signed:
        ax.imshow(picture, cmap="RdBu_r", vmin=-bound, vmax=bound)
    else:
        ax.imshow(picture, cmap="gray_r", vmin=0, vmax=1)
    ax.axis("off")


def checkpoint_figure(x: torch.Tensor, result: BoundaryResult, steps: Sequence[int], rows: int = 3) -> Figure:
    """Digits (rows) at checkpoints: the original, then adversarial and perturbation at each step.

    ``x``: ``(N, 64)`` originals; ``steps``: keys of ``result.snapshots``.
    Perturbations share one diverging colour scale per row; titles give the L2 distance.
    """
    missing = [s for s in steps if s not in result.snapshots]
    if missing:
        raise ValueError(f"steps must be in result.snapshots {sorted(result.snapshots)}, got {missing}")
    rows = min(require_positive_int("rows", rows), len(x))
    with style_context():
        fig, axes = plt.subplots(rows, 1 + 2 * len(steps), figsize=(1.25 * (1 + 2 * len(steps)), 1.75 * rows))
        axes = np.atleast_2d(axes)
        for i in range(rows):
            _image(axes[i, 0], x[i], signed=False)
            axes[i, 0].set_title("original", fontsize=8)
            bound = max(float((result.snapshots[s][i] - x[i]).abs().max()) for s in steps) or 1.0
            for j, s in enumerate(steps):
                delta = result.snapshots[s][i] - x[i]
                _image(axes[i, 1 + 2 * j], result.snapshots[s][i], signed=False)
                axes[i, 1 + 2 * j].set_title(f"step {s}\nL2 {delta.norm():.2f}", fontsize=8)
                _image(axes[i, 2 + 2 * j], delta, signed=True, bound=bound)
                axes[i, 2 + 2 * j].set_title("perturbation", fontsize=8)
        fig.tight_layout()
    return fig


def progress_figure(x: torch.Tensor, result: BoundaryResult, index: int, step: int) -> Figure:
    """The explorer's view of sample ``index`` after ``step``: adversarial, perturbation, L2 curve.

    ``step`` must be a key of ``result.snapshots``.
    """
    if step not in result.snapshots:
        raise ValueError(f"step must be one of the snapshot steps {sorted(result.snapshots)}, got {step}")
    adversarial = result.snapshots[step][index]
    delta = adversarial - x[index]
    with style_context():
        fig, axes = plt.subplots(1, 4, figsize=(10, 2.6), width_ratios=(1, 1, 1, 2.6))
        _image(axes[0], x[index], signed=False)
        axes[0].set_title("original")
        _image(axes[1], adversarial, signed=False)
        axes[1].set_title(f"adversarial, step {step}")
        _image(axes[2], delta, signed=True, bound=float(delta.abs().max()) or 1.0)
        axes[2].set_title("perturbation")
        l2 = result.l2_history[:, index]
        axes[3].plot(l2, color=COLORS["boundary"])
        axes[3].plot([step], [float(l2[step])], "o", color="black")
        axes[3].set(yscale="log", xlabel="step", ylabel="L2", title=f"L2 = {float(l2[step]):.3f}")
        fig.tight_layout()
    return fig


def toy_walk_figure(
    predict: Predict, x: torch.Tensor, result: BoundaryResult, steps: Sequence[int], resolution: int = 200
) -> Figure:
    """The walk of a 2-d attack on ``predict``'s decision regions, one panel per step in ``steps``.

    ``x``: ``(1, 2)`` the original; ``result`` must hold a snapshot at every
    step up to ``max(steps)``. Each panel draws the path so far and the
    circle of the current distance around ``x``.
    """
    needed = range(max(steps) + 1)
    if any(s not in result.snapshots for s in needed):
        raise ValueError(
            f"result must hold snapshots at every step 0..{max(steps)} (snapshot_steps=range(...))"
        )
    grid = torch.linspace(0, 1, resolution)
    p1, p2 = torch.meshgrid(grid, grid, indexing="xy")
    regions = predict(torch.stack([p1.flatten(), p2.flatten()], dim=1)).reshape(resolution, resolution)
    path = torch.stack([result.snapshots[s][0] for s in needed]).numpy()  # (steps + 1, 2)
    origin = x[0].numpy()
    with style_context():
        fig, axes = plt.subplots(1, len(steps), figsize=(3.3 * len(steps), 3.4), squeeze=False)
        for ax, s in zip(axes.flat, steps, strict=True):
            ax.contourf(p1, p2, regions, levels=[-0.5, 0.5, 1.5], colors=["#dbe9f6", "#f6dcdc"])
            ax.plot(*np.c_[origin, path[0]], "--", color="grey", linewidth=1)  # the binary-search line
            ax.plot(path[: s + 1, 0], path[: s + 1, 1], ".-", color=COLORS["boundary"], markersize=3)
            radius = float(np.linalg.norm(path[s] - origin))
            ax.add_patch(plt.Circle(origin, radius, fill=False, color="black", linewidth=0.8, alpha=0.6))
            ax.plot(*origin, "*", color=COLORS["standard"], markersize=12)
            ax.set(xlim=(0, 1), ylim=(0, 1), aspect="equal", title=f"step {s}: d = {radius:.3f}")
            ax.grid(False)
        fig.tight_layout()
    return fig
