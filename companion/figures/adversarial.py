"""The figures, the results table and the explorer of chapter 3, adversarial training.

- :func:`plot_robust_accuracy`: PGD accuracy against ``eps`` for each model of a
  :class:`companion.adversarial.Evaluation`; :func:`format_table` the same evaluation as text;
- :func:`format_autoattack_table`: the full AutoAttack evaluation (``benchmarks/autoattack.py``)
  with standard errors, and the spread over training seeds;
- :func:`example_figures`: PGD adversarial digits against each model, and their perturbations;
- :func:`eps_explorer`: the explorer's drawing function ``draw(eps, index)``.

The attacks are the lesson's (:func:`companion.adversarial.pgd_evaluation`), so a figure shows what
the chapter measures. Shapes: ``x`` is ``(N, 64)`` float in [0, 1], ``y`` ``(N,)`` int64.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torch import nn

from companion.adversarial import LABELS, Evaluation, pgd_evaluation
from companion.plotting import COLORS, digit_grid, style_context
from companion.runtime import Seed
from companion.training import predict_logits, standard_error
from companion.validation import require_attack_inputs, require_models

__all__ = [
    "eps_explorer",
    "example_figures",
    "format_autoattack_table",
    "format_table",
    "plot_robust_accuracy",
]


def plot_robust_accuracy(evaluation: Evaluation, title: str | None = None) -> Figure:
    """Robust accuracy (PGD) against ``eps``, one line per model, the training ``eps`` dashed."""
    if not isinstance(evaluation, Evaluation):
        raise TypeError(f"evaluation must be an Evaluation, got {type(evaluation).__name__}")
    with style_context():
        fig, ax = plt.subplots(figsize=(6.0, 3.6))
        for name, values in evaluation.robust.items():
            ax.plot(evaluation.eps, values, marker="o", label=LABELS.get(name, name), color=COLORS.get(name))
        ax.axvline(evaluation.train_eps, color="gray", linestyle="--", linewidth=1)
        ax.annotate("training eps", (evaluation.train_eps, 1.0), xytext=(4, -10), textcoords="offset points")
        ax.set(xlabel=r"$\epsilon$ ($L_\infty$)", ylabel="robust accuracy (PGD)", ylim=(-0.02, 1.02))
        ax.legend()
        if title:
            ax.set_title(title)
        fig.tight_layout()
    return fig


def example_figures(
    models: Mapping[str, nn.Module], x: torch.Tensor, y: torch.Tensor, eps: float, *, seed: Seed = 0
) -> tuple[Figure, Figure]:
    """PGD adversarial examples against each model (one row per model) and their perturbations.

    Returns two ``companion.plotting.digit_grid`` figures: the adversarial
    digits titled with the model's prediction (red when fooled), and
    ``delta = x' - x`` on a diverging colour map (``signed=True``).
    """
    require_models("models", models)
    results = {name: pgd_evaluation(model, x, y, eps, seed=seed) for name, model in models.items()}
    adversarial = torch.cat([r.adversarial for r in results.values()])  # (M * N, 64)
    predictions = torch.cat(
        [predict_logits(models[n], r.adversarial).argmax(dim=1) for n, r in results.items()]
    )
    rows = ", ".join(LABELS.get(name, name) for name in models)
    labels = torch.cat([y] * len(models))
    images = digit_grid(
        adversarial, labels, predictions, ncols=len(x), title=f"PGD at eps {eps:g}, rows: {rows}"
    )
    perturbations = digit_grid(
        adversarial - torch.cat([x] * len(models)),
        ncols=len(x),
        signed=True,
        title=f"perturbations, rows: {rows}",
    )
    return images, perturbations


def eps_explorer(
    models: Mapping[str, nn.Module], x: torch.Tensor, y: torch.Tensor, *, seed: Seed = 0
) -> Callable[[float, int], Figure]:
    """The explorer's drawing function ``draw(eps, index) -> Figure``.

    For test digit ``x[index]`` it attacks each model with
    :func:`companion.adversarial.pgd_evaluation`
    at ``eps`` and draws, one row per model: the digit, the perturbation
    ``delta`` (colour scale fixed to ``[-eps, eps]``), the adversarial digit
    ``x + delta`` and the model's class probabilities on it.
    """
    for model in require_models("models", models).values():
        require_attack_inputs(model, x, y, module=True)

    def draw(eps: float = 0.1, index: int = 0) -> Figure:
        if not 0 <= index < len(x):
            raise ValueError(f"index must lie in [0, {len(x) - 1}], got {index}")
        x_i, y_i = x[index : index + 1], y[index : index + 1]  # (1, 64), (1,)
        with style_context():
            fig, axes = plt.subplots(len(models), 4, figsize=(8.4, 2.1 * len(models)), squeeze=False)
            fig.subplots_adjust(hspace=0.55, wspace=0.35)
            for row, (name, model) in zip(axes, models.items(), strict=True):
                x_adv = pgd_evaluation(model, x_i, y_i, eps, seed=seed).adversarial
                p = torch.softmax(predict_logits(model, x_adv), dim=1)[0]  # (10,)
                _draw_row(row, LABELS.get(name, name), x_i, x_adv, p, int(y_i), eps)
        return fig

    return draw


def _draw_row(axes, label: str, x: torch.Tensor, x_adv: torch.Tensor, p: torch.Tensor, y: int, eps: float):
    bound = max(eps, 1e-3)
    panels = [
        (x, "gray_r", 0.0, 1.0, f"digit (label {y})"),
        (x_adv - x, "RdBu_r", -bound, bound, r"$\delta$"),
        (x_adv, "gray_r", 0.0, 1.0, r"$x + \delta$"),
    ]
    for ax, (image, cmap, low, high, title) in zip(axes[:3], panels, strict=True):
        ax.imshow(image.reshape(8, 8).numpy(), cmap=cmap, vmin=low, vmax=high)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    axes[0].text(-3.5, 3.5, label, rotation=90, ha="center", va="center", fontsize=10)
    prediction = int(p.argmax())
    colors = ["#bbbbbb"] * len(p)
    colors[prediction] = COLORS["capped"] if prediction == y else COLORS["distilled"]
    axes[3].bar(range(len(p)), p.numpy(), color=colors)
    axes[3].set(ylim=(0, 1.02), xticks=range(len(p)))
    axes[3].set_title(f"{label}: predicts {prediction} ({float(p.max()):.2f})", fontsize=9)


def format_table(
    evaluation: Evaluation,
    columns: Sequence[float] = (0.05, 0.1, 0.2),
    seconds: Mapping[str, float] | None = None,
) -> str:
    """A plain-text table: clean, FGSM and PGD accuracy at ``columns``, and training time.

    ``seconds`` (optional) maps a model name to its training time; the last
    column is then the time relative to the ``"standard"`` model.
    """
    if not isinstance(evaluation, Evaluation):
        raise TypeError(f"evaluation must be an Evaluation, got {type(evaluation).__name__}")
    seconds = dict(seconds or {})
    header = ["model", "clean", f"FGSM {evaluation.train_eps:g}"] + [f"PGD {eps:g}" for eps in columns]
    if seconds:
        header += ["train s", "x standard"]
    rows = [header]
    for name in evaluation.robust:
        clean = evaluation.at(name, 0.0) if 0.0 in evaluation.eps else float("nan")
        row = [LABELS.get(name, name), f"{clean:.3f}", f"{evaluation.fgsm[name]:.3f}"]
        row += [f"{evaluation.at(name, eps):.3f}" for eps in columns]
        if seconds:
            row += [f"{seconds[name]:.1f}", f"{seconds[name] / seconds['standard']:.1f}"]
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)


AUTOATTACK_COLUMNS = {"clean": "clean", "fgsm": "FGSM", "pgd": "PGD", "autoattack": "AutoAttack"}


def format_autoattack_table(results: Mapping, eps: float, seed: str = "0") -> str:
    """A plain-text table of :func:`companion.adversarial.autoattack_results` at ``eps``.

    One row per model of training seed ``seed``: clean, FGSM, PGD, AutoAttack and worst-case
    accuracy (robust to every attack), each with its binomial standard error (``+-``), and the
    per-example comparison of the two: the digits only AutoAttack broke and those only PGD
    broke; then, when the file holds several seeds, the worst case's mean and range over them and
    each seed's clean accuracy.
    """
    if not isinstance(results, Mapping) or "seeds" not in results or "n" not in results:
        raise TypeError("results must be what companion.adversarial.autoattack_results returns")
    if seed not in results["seeds"]:
        raise ValueError(f"seed must be one of {list(results['seeds'])}, got {seed!r}")
    key, n = f"{eps:g}", results["n"]
    rows_of = results["seeds"][seed]
    if any(key not in rows for rows in rows_of.values()):
        raise ValueError(f"eps must be one of {results['eps']}, got {eps}")
    cell = lambda a: f"{a:.3f} +- {standard_error(a, n):.3f}"  # noqa: E731
    header = ["model", *AUTOATTACK_COLUMNS.values(), "worst case", "AA only", "PGD only"]
    rows = [header]
    for name, by_eps in rows_of.items():
        row = by_eps[key]
        rows.append(
            [LABELS.get(name, name), *(cell(row[c]) for c in AUTOATTACK_COLUMNS), cell(row["worst_case"])]
            + [str(row["broken_by_autoattack_only"]), str(row["broken_by_pgd_only"])]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    seeds = results["seeds"]
    if len(seeds) > 1:
        lines.append(f"worst case over training seeds {', '.join(seeds)}:")
        for name in rows_of:
            values = [seeds[s][name][key]["worst_case"] for s in seeds]
            mean = sum(values) / len(values)
            label = LABELS.get(name, name)
            lines.append(f"  {label:>8}: mean {mean:.3f}, from {min(values):.3f} to {max(values):.3f}")
        lines.append(f"clean accuracy over training seeds {', '.join(seeds)}:")
        for name in rows_of:
            values = [seeds[s][name][key]["clean"] for s in seeds]
            shown = ", ".join(f"{v:.3f}" for v in values)
            lines.append(f"  {LABELS.get(name, name):>8}: {shown}")
    return "\n".join(lines)
