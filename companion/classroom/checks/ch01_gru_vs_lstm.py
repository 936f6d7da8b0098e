"""The checks of chapter 1's exercises: ``ex-rnn-count``, ``ex-rnn-step`` and ``ex-rnn-length``.

The check cells run ``checks.check_parameter_count(...)``, ``checks.check_gru_step(gru_step)``
and ``checks.check_sequence_length(short_model, short_history)`` after
``from companion.classroom.checks import ch01_gru_vs_lstm as checks``. Each returns a
:class:`~companion.classroom.exercises.Feedback`, never an exception for a wrong answer; the
method they check is :mod:`companion.rnn`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from companion.classroom import exercises
from companion.rnn import (
    GATES,
    KINDS,
    AddingConfig,
    AddingHistory,
    GRUCell,
    SequenceRegressor,
    adding_test_set,
    mean_squared_error,
    parameter_count,
)
from companion.runtime import Seed, generator

__all__ = [
    "FLOAT64_TOLERANCE",
    "LEARNED_MSE",
    "LOW_PRECISION_TOLERANCE",
    "SHORT_T",
    "check_gru_step",
    "check_parameter_count",
    "check_sequence_length",
]

SHORT_T = 10
"""The sequence length of exercise ``ex-rnn-length``."""
LEARNED_MSE = 0.05
"""The test MSE a model must stay below to count as having learned the adding problem: clearly
below the 1/6 of always predicting 1, and below the 1/12 of a model that remembers only the later
marked value (it predicts 0.5 + u', a half-solution)."""
FLOAT64_TOLERANCE = 1e-9
"""How close (absolute) a float64 answer to ``ex-rnn-step`` must come to torch's step."""
LOW_PRECISION_TOLERANCE = 1e-5
"""The same for an answer that came back in a lower precision (float32, ...)."""
MSE_RTOL, MSE_ATOL = 1e-4, 1e-6
"""How closely the last test MSE in the student's history must match the check's own evaluation."""


@exercises.check("ex-rnn-count", unavailable=("companion.rnn.parameter_count",))
def check_parameter_count(answer: int | None, kind: str, input_size: int, hidden_size: int) -> str:
    """Is ``answer`` the parameter count of one torch layer of ``kind`` (two biases per block)?

    ``answer`` is the student's count: an integer (Python, NumPy or one-element tensor; read with
    :func:`companion.classroom.exercises.integer`).
    ``kind``, ``input_size`` and ``hidden_size`` set the exercise and are validated as in
    :func:`companion.rnn.parameter_count`. A wrong count gets a hint at the likely slip, without the number.
    """
    truth = parameter_count(kind, input_size, hidden_size)  # ValueError: the exercise is wrong
    setting = f"the {kind} layer (d_x={input_size}, d_h={hidden_size})"
    try:
        answer = exercises.integer(answer, "count", "an int, the number of parameters")
    except exercises.NotYet as hint:  # say which of the chapter's layers it is about
        raise exercises.NotYet(f"{setting}: {hint}") from None
    if answer == truth:
        return f"{setting} has {answer} parameters."
    G, d_x, d_h = GATES[kind], input_size, hidden_size
    hints = {
        parameter_count(kind, d_x, d_h, biases=1): "torch keeps TWO bias vectors per block.",
        parameter_count(kind, d_x, d_h, biases=0): "you left out the biases.",
        G * (2 * d_h * d_x + 2 * d_h): "U maps the state to the state: it is d_h x d_h.",  # U as d_h x d_x
        G * d_h * (d_x + 2): "you left out the recurrent weights U (d_h x d_h per block).",
    }
    for other in KINDS:
        hints.setdefault(parameter_count(other, d_x, d_h), f"count the blocks of a {kind}.")
    hint = hints.get(answer, "blocks x (weights on x + weights on h + biases).")
    raise exercises.NotYet(f"{setting}: {answer} is not right. Hint: {hint}")


def _gru_check_case(seed: Seed) -> tuple[GRUCell, torch.Tensor, torch.Tensor]:
    """A float64 GRUCell(3, 4) and inputs ``x (5, 3)``, ``h (5, 4)``, all drawn from ``seed``."""
    g = generator(seed)
    cell = GRUCell(3, 4, seed=g).double()
    x = torch.randn(5, 3, generator=g, dtype=torch.float64)
    h = torch.rand(5, 4, generator=g, dtype=torch.float64)
    return cell, x, h


@exercises.check("ex-rnn-step")
def check_gru_step(gru_step: Callable[..., torch.Tensor] | None, seed: Seed = 0) -> str:
    """Test ``gru_step(x, h, weight_ih, weight_hh, bias_ih, bias_hh) -> h_t`` against torch.

    Arguments are in ``torch.nn.GRUCell``'s layout (r|z|n); float64, ``x (5, 3)``,
    ``h (5, 4)``, all drawn from ``seed`` (an int leaves the global generator untouched). The
    answer is compared in float64, to :data:`FLOAT64_TOLERANCE` if it is float64 and to
    :data:`LOW_PRECISION_TOLERANCE` if it came back in a lower precision. A wrong step gets a
    hint naming the likely mix-up.
    """
    ours, x, h = _gru_check_case(seed)
    with torch.random.fork_rng(devices=[]):  # nn.GRUCell draws its (overwritten) weights globally
        reference = torch.nn.GRUCell(3, 4).double()
    reference.load_state_dict(ours.state_dict())
    weights = [p.detach() for p in (ours.weight_ih, ours.weight_hh, ours.bias_ih, ours.bias_hh)]
    with torch.no_grad():
        got = exercises.call(gru_step, "gru_step", x.clone(), h.clone(), *(w.clone() for w in weights))
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != (5, 4):
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            raise exercises.NotYet(f"gru_step must return h_t of shape (N, d_h) = (5, 4), got {shape}.")
        if not got.is_floating_point():
            raise exercises.NotYet(f"gru_step must return a float tensor, got {got.dtype}.")
        atol = FLOAT64_TOLERANCE if got.dtype == torch.float64 else LOW_PRECISION_TOLERANCE
        got = got.detach().to(torch.float64)
        if torch.allclose(got, reference(x, h), atol=atol):
            tolerance = f"{atol:.0e}".replace("e-0", "e-")  # 1e-9, not 1e-09
            return f"your step matches torch.nn.GRUCell to {tolerance}."
        _, z_t, n_t = ours.gates(x, h)
        chung = z_t * n_t + (1 - z_t) * h  # z weighting the candidate
        ours.variant = "reset_before"
        cho = ours(x, h)  # r applied before the product
    slips = {
        "here z weights the candidate (Chung et al.'s convention); torch lets z weight h_{t-1}.": chung,
        "torch applies r AFTER the product with W_hn (reset_after), not to h before it.": cho,
    }
    for hint, value in slips.items():
        if torch.allclose(got, value, atol=atol):
            raise exercises.NotYet(f"Hint: {hint}")
    raise exercises.NotYet("the output differs from torch. Check the order r|z|n of the stacked weights.")


@exercises.check("ex-rnn-length")
def check_sequence_length(model: SequenceRegressor | None, history: AddingHistory | None) -> str:
    """Did the student's tanh RNN, trained at ``T = 10`` with the chapter's settings, learn?

    ``model, history`` are what ``train_adding("rnn", dataclasses.replace(config, T=10))``
    returned. The check evaluates ``model`` on :func:`companion.rnn.adding_test_set` for
    ``T = 10`` (the test set :func:`~companion.rnn.train_adding` draws) and requires that this
    MSE is the last one in ``history`` (so the history belongs to the model and was measured at
    ``T = 10``), that the run went on for the chapter's steps or until it stopped below the
    chapter's ``target_mse``, and that the MSE is clearly below the 1/6 of always predicting 1
    (below :data:`LEARNED_MSE`).
    """
    default = AddingConfig(T=SHORT_T)
    exercises.answered(model, "short_model", "the model train_adding returned")
    exercises.answered(history, "short_history", "the history train_adding returned")
    if not isinstance(model, SequenceRegressor):
        raise exercises.NotYet(
            f"short_model must be the SequenceRegressor train_adding returns, got {type(model).__name__}."
        )
    if not isinstance(history, AddingHistory) or not history.test_mse:
        raise exercises.NotYet(
            f"short_history must be the AddingHistory train_adding returns, got {type(history).__name__}."
        )
    if model.kind != "rnn":
        raise exercises.NotYet(f"the exercise is about the tanh RNN ('rnn'); short_model is a {model.kind}.")
    settings = {"hidden_size": (model.rnn.hidden_size, default.hidden_size)}
    steps = history.iterations[-1]  # a run stops at the chapter's last step or once solved
    solved = default.target_mse is not None and history.test_mse[-1] < default.target_mse
    if steps > default.iterations or (steps < default.iterations and not solved):
        settings["iterations"] = (steps, default.iterations)
    for name, (got, chapter) in settings.items():
        if got != chapter:
            raise exercises.NotYet(
                f"keep the chapter's other settings, only T changes: {name} is {got}, "
                f"the chapter's is {chapter}."
            )
    x_test, y_test = adding_test_set(default)
    mse = mean_squared_error(model, x_test, y_test)
    if not math.isclose(mse, history.test_mse[-1], rel_tol=MSE_RTOL, abs_tol=MSE_ATOL):
        raise exercises.NotYet(
            f"short_history's last test MSE ({history.test_mse[-1]:.4f}) is not this model's MSE on "
            f"sequences of length {SHORT_T}: train at T = {SHORT_T} with the chapter's settings and keep "
            "the model and the history of that one run."
        )
    if not mse < LEARNED_MSE:
        raise exercises.NotYet(
            f"the test MSE {mse:.4f} is not clearly below the 1/6 of always predicting 1 and the "
            "1/12 of remembering only one of the two marked values: the model has not learned "
            "the task. Did the training run to the end?"
        )
    return (
        f"at T = {SHORT_T} the tanh RNN reaches a test MSE of {mse:.4f}, {1 / 6 / mse:.0f} times below "
        f"the 1/6 of always predicting 1 (the check asks for less than {LEARNED_MSE}): it learned the task."
    )
