"""The checks of chapter 1's exercises (companion.classroom.checks.ch01_gru_vs_lstm)."""

import dataclasses

import numpy as np
import pytest
import torch
from feedback_asserts import not_yet, stub

from companion import rnn
from companion.classroom.checks import ch01_gru_vs_lstm as checks


@pytest.fixture(scope="module")
def short_run():
    """The sequence-length exercise's reference solution: the tanh RNN at T = 10."""
    return rnn.train_adding("rnn", dataclasses.replace(rnn.AddingConfig(), T=10))


@pytest.fixture(scope="module")
def long_run():
    """The tanh RNN of the chapter's experiment, at T = 50: a run the check must refuse."""
    return rnn.train_adding("rnn", rnn.AddingConfig())


def test_check_parameter_count_confirms_the_counts_of_the_exercise():
    feedback = checks.check_parameter_count(1920, "gru", 10, 20)
    assert feedback.correct is True and feedback.exercise == "ex-rnn-count"
    assert str(feedback).startswith("Correct (ex-rnn-count)")
    assert checks.check_parameter_count(np.int64(1920), "gru", 10, 20).correct
    assert checks.check_parameter_count(1248, "gru", 8, 16).correct  # the notebook's two answers
    assert checks.check_parameter_count(1664, "lstm", 8, 16).correct


def test_check_parameter_count_hints_without_revealing():
    G, d_x, d_h = 3, 10, 20
    slips = (
        (1860, "TWO bias"),
        (1800, "left out the biases"),
        (G * (2 * d_h * d_x + 2 * d_h), "U maps the state to the state"),  # U taken as d_h x d_x
        (G * d_h * (d_x + 2), "left out the recurrent weights U"),
        (2560, "count the blocks of a gru"),  # the LSTM's count
        (np.int32(640), "count the blocks of a gru"),  # the tanh RNN's count
        (1234, "blocks x (weights on x"),
    )
    for wrong, hint in slips:
        message = not_yet(
            checks.check_parameter_count(wrong, "gru", 10, 20), hint, "the gru layer (d_x=10, d_h=20)"
        )
        assert "1920" not in message, (wrong, message)
    lstm = not_yet(checks.check_parameter_count(1600, "lstm", 8, 16), "TWO bias")
    assert "1664" not in lstm


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (None, "still None"),
        ("1920", "must be an int, the number of parameters, got str"),
        (1920.0, "got float"),
        (True, "got bool"),
    ],
)
def test_check_parameter_count_unanswered_or_mistyped_is_not_yet(answer, hint):
    message = not_yet(checks.check_parameter_count(answer, "gru", 10, 20), hint)
    assert "1920" not in message.replace("'1920'", "")


def _gru_step(x, h, weight_ih, weight_hh, bias_ih, bias_hh, chung=False, before=False):
    gi = torch.nn.functional.linear(x, weight_ih, bias_ih).chunk(3, dim=1)
    W_hr, W_hz, W_hn = weight_hh.chunk(3)
    b_hr, b_hz, b_hn = bias_hh.chunk(3)
    r = torch.sigmoid(gi[0] + h @ W_hr.T + b_hr)
    z = torch.sigmoid(gi[1] + h @ W_hz.T + b_hz)
    n = torch.tanh(gi[2] + ((r * h) @ W_hn.T + b_hn if before else r * (h @ W_hn.T + b_hn)))
    return z * n + (1 - z) * h if chung else (1 - z) * n + z * h


def test_check_gru_step():
    feedback = checks.check_gru_step(_gru_step)
    assert feedback.correct is True and feedback.exercise == "ex-rnn-step"
    assert "matches torch.nn.GRUCell to 1e-9" in feedback.message
    not_yet(checks.check_gru_step(lambda *a: _gru_step(*a, chung=True)), "Chung")
    not_yet(checks.check_gru_step(lambda *a: _gru_step(*a, before=True)), "AFTER")
    not_yet(checks.check_gru_step(lambda x, h, *w: h[:, :2]), "shape (N, d_h) = (5, 4), got (5, 2)")
    not_yet(checks.check_gru_step(lambda x, h, *w: h), "order r|z|n")
    not_yet(checks.check_gru_step(lambda x, h, *w: h.long()), "float tensor")
    not_yet(checks.check_gru_step(lambda x, h, *w: h.tolist()), "got list")


def test_check_gru_step_accepts_float32_answers():
    def in_float32(*args, **kwargs):
        return _gru_step(*(a.float() for a in args), **kwargs)

    feedback = checks.check_gru_step(in_float32)
    assert feedback.correct and feedback.message == "your step matches torch.nn.GRUCell to 1e-5."
    not_yet(checks.check_gru_step(lambda *a: in_float32(*a, chung=True)), "Chung")
    not_yet(checks.check_gru_step(lambda x, h, *w: h.float()))


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (None, "`gru_step` is still None"),
        (stub, "still raises NotImplementedError"),
        (lambda x, h: h, "`gru_step` raised TypeError"),  # the wrong signature
        (lambda *a: 1 / 0, "raised ZeroDivisionError"),
        (3, "must be a function, got int"),
    ],
)
def test_check_gru_step_unanswered_or_failing_is_not_yet(answer, hint):
    message = not_yet(checks.check_gru_step(answer), hint)
    assert "sigmoid" not in message and "(1 - z" not in message  # no code of the answer


def test_check_gru_step_leaves_the_global_generator_and_its_inputs_alone():
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    checks.check_gru_step(_gru_step)
    assert torch.equal(torch.rand(3), expected)

    def in_place(x, h, *weights):  # a student's step that overwrites its arguments
        out = _gru_step(x, h, *weights)
        h.zero_()
        weights[0].zero_()
        return out

    assert checks.check_gru_step(in_place).correct  # the reference is computed on the check's own copies
    assert checks.check_gru_step(_gru_step, seed=7).correct  # other cases, same verdict
    assert checks.check_gru_step(_gru_step, seed=torch.Generator().manual_seed(7)).correct


def test_check_sequence_length_accepts_the_reference_solution(short_run):
    model, history = short_run
    feedback = checks.check_sequence_length(model, history)
    assert feedback.correct is True and feedback.exercise == "ex-rnn-length"
    assert "T = 10" in feedback.message


def test_check_sequence_length_explains_what_is_off(short_run, long_run):
    model, history = short_run
    not_yet(checks.check_sequence_length(None, None), "`short_model` is still None")
    not_yet(checks.check_sequence_length(model, None), "`short_history` is still None")
    not_yet(checks.check_sequence_length(history, model), "must be the SequenceRegressor")
    not_yet(checks.check_sequence_length(model, [0.1]), "must be the AddingHistory")
    gru = rnn.SequenceRegressor("gru")
    not_yet(checks.check_sequence_length(gru, history), "tanh RNN", "is a gru")
    not_yet(checks.check_sequence_length(*long_run), "not this model's MSE on sequences of length 10")
    not_yet(checks.check_sequence_length(model, long_run[1]), "not this model's MSE")
    quick = rnn.train_adding("rnn", rnn.AddingConfig(T=10, iterations=20))
    not_yet(checks.check_sequence_length(*quick), "only T changes: iterations is 20, the chapter's is 450")
    narrow = rnn.SequenceRegressor("rnn", hidden_size=8)
    not_yet(checks.check_sequence_length(narrow, history), "hidden_size is 8")
    untrained = rnn.SequenceRegressor("rnn")
    x, y = rnn.adding_problem(500, 10, seed=1)  # the check's test set
    with torch.no_grad():
        mse = torch.nn.functional.mse_loss(untrained(x), y).item()
    fake = rnn.AddingHistory([0, 450], [mse, mse], [0.0, 1.0])
    not_yet(checks.check_sequence_length(untrained, fake), "not clearly below the 1/6")


def test_check_sequence_length_accepts_a_run_stopped_below_the_target(short_run):
    """The chapter's runs stop once the test MSE is below AddingConfig.target_mse: a history that
    ends there, before the last step, keeps the chapter's settings; one that goes beyond does not."""
    model, history = short_run
    mse = history.test_mse[-1]
    target = rnn.AddingConfig().target_mse
    assert mse < target  # the reference run reaches the target (at its last evaluation)
    stopped = rnn.AddingHistory([0, 300], [history.test_mse[0], mse], [0.0, 1.0])
    assert checks.check_sequence_length(model, stopped).correct
    longer = rnn.AddingHistory([0, 900], [history.test_mse[0], mse], [0.0, 1.0])
    hint = "only T changes: iterations is 900, the chapter's is 450"
    not_yet(checks.check_sequence_length(model, longer), hint)


def test_check_parameter_count_validates_the_exercise():
    with pytest.raises(ValueError, match=r"kind must be one of .*got 'transformer'"):
        checks.check_parameter_count(1920, "transformer", 10, 20)  # the exercise's setting, not the answer
