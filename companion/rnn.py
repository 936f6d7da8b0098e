"""Recurrent cells written from their equations, and the adding problem (chapter 1).

In the chapter's order: :class:`RNNCell`, :class:`GRUCell` (Cho et al. 2014) and
:class:`LSTMCell` (Hochreiter & Schmidhuber 1997, forget gate of Gers et al. 2000), one line
per equation in PyTorch's parameter names and stacked layouts, so torch's state dicts load and
the outputs match; :func:`unroll`, :func:`cell_from_fused` and :func:`parameter_count`; the
adding problem (:func:`adding_problem`, :class:`SequenceRegressor`, :func:`train_adding`) and
the gradient through time (:func:`hidden_state_gradients`); the 8x8 digits read one pixel per
step (:class:`PixelClassifier`, :func:`train_pixel_digits`). The figures and the GRU explorer
are in :mod:`companion.figures.rnn`, the exercises' checks in
:mod:`companion.classroom.checks.ch01_gru_vs_lstm`.

Notation (as in the chapter): ``T`` sequence length, ``N`` batch size, ``d_x`` (torch's ``I``) input
size, ``d_h`` (torch's ``H``) hidden size.

References
----------
Hochreiter, Schmidhuber. Long Short-Term Memory. Neural Computation 9(8), 1997.
Gers, Schmidhuber, Cummins. Learning to Forget: Continual Prediction with LSTM. Neural Comp. 12(10), 2000.
Cho et al. Learning Phrase Representations using RNN Encoder-Decoder for Statistical Machine
Translation. EMNLP 2014 (GRU: eqs. 5-8; arXiv v1 applied the reset after the product).
Chung, Gulcehre, Cho, Bengio. Empirical Evaluation of Gated Recurrent Neural Networks on Sequence
Modeling. arXiv:1412.3555, 2014.
Le, Jaitly, Hinton. A Simple Way to Initialize Recurrent Networks of Rectified Linear Units.
arXiv:1504.00941, 2015 (pixel-by-pixel MNIST, T = 784).
Jozefowicz, Zaremba, Sutskever. An Empirical Exploration of Recurrent Network Architectures. ICML 2015
(forget-gate bias 1).
PyTorch ``torch/nn/modules/rnn.py`` (parameter layout r|z|n and i|f|g|o).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from companion.data import Digits
from companion.runtime import Seed, generator, progress
from companion.training import History, TrainConfig, train
from companion.validation import require_positive, require_positive_int, require_seed, require_tensor

__all__ = [
    "CELLS", "GATES", "KINDS", "AddingConfig", "AddingHistory", "GRUCell", "LSTMCell",
    "PIXEL_CONFIG", "PIXEL_HIDDEN_SIZE", "PixelClassifier", "RNNCell", "SequenceRegressor", "adding_problem",
    "adding_test_set", "cell_from_fused", "hidden_state_gradients", "mean_squared_error",
    "parameter_count", "train_adding", "train_pixel_digits", "unroll",
]  # fmt: skip

KINDS = ("rnn", "gru", "lstm")
GATES = {"rnn": 1, "gru": 3, "lstm": 4}  # blocks stacked in weight_ih: -, r|z|n, i|f|g|o


def _require_kind(kind: object) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return kind


# --- Cells ----------------------------------------------------------------------------------------


class _Cell(nn.Module):
    """Parameters shared by the three cells: ``G`` stacked blocks of ``d_h`` rows each,
    ``weight_ih (G*H, I)``, ``weight_hh (G*H, H)``, ``bias_ih (G*H,)``, ``bias_hh (G*H,)``,
    initialised as torch does, uniform on ``[-1/sqrt(H), 1/sqrt(H)]``, but drawn from
    ``seed`` (:data:`companion.runtime.Seed`; 0 by default, so the global generator is left alone).
    """

    kind = "rnn"

    def __init__(self, input_size: int, hidden_size: int, *, seed: Seed = 0) -> None:
        super().__init__()
        self.input_size = require_positive_int("input_size", input_size)
        self.hidden_size = require_positive_int("hidden_size", hidden_size)
        rows = GATES[self.kind] * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size))
        self.weight_hh = nn.Parameter(torch.empty(rows, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(rows))
        self.bias_hh = nn.Parameter(torch.empty(rows))
        self.reset_parameters(seed=seed)

    def reset_parameters(self, *, seed: Seed = 0) -> None:
        """Draw every parameter from U(-1/sqrt(H), 1/sqrt(H)), as ``torch.nn.GRUCell`` does."""
        g = generator(seed)
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for p in self.parameters():
                p.uniform_(-bound, bound, generator=g)

    def _require_step(self, x: torch.Tensor, h: torch.Tensor | None) -> torch.Tensor:
        """Validate ``x (N, I)`` and ``h (N, H)``; return ``h`` (zeros when None)."""
        require_tensor("x", x, ndim=2, floating=True)
        n = x.shape[0]
        if x.shape[1] != self.input_size:
            raise ValueError(f"x must have shape (N, {self.input_size}), got {tuple(x.shape)}")
        if h is None:
            return x.new_zeros(n, self.hidden_size)
        require_tensor("h", h, ndim=2, floating=True)
        if tuple(h.shape) != (n, self.hidden_size):
            raise ValueError(f"h must have shape ({n}, {self.hidden_size}), got {tuple(h.shape)}")
        return h

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


class RNNCell(_Cell):
    """The tanh RNN (Elman) step, as ``torch.nn.RNNCell``:

    ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``

    Shapes: ``x (N, I)``, ``h (N, H)`` (zeros when None) -> ``h_t (N, H)``.
    """

    kind = "rnn"

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        h = self._require_step(x, h)
        return torch.tanh(
            F.linear(x, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh, self.bias_hh)
        )


class GRUCell(_Cell):
    """One GRU step, Cho et al. (2014) eqs. 5-8 in PyTorch's layout.

    ``variant="reset_after"`` (torch's ``nn.GRUCell``, Cho et al.'s arXiv v1)::

        r_t = sigma(W_ir x + b_ir + W_hr h + b_hr)          reset gate
        z_t = sigma(W_iz x + b_iz + W_hz h + b_hz)          update gate
        n_t = tanh(W_in x + b_in + r_t * (W_hn h + b_hn))   candidate
        h_t = (1 - z_t) * n_t + z_t * h                      z weights the OLD state

    ``variant="reset_before"`` (the paper's final version) resets the state before
    the product: ``n_t = tanh(W_in x + b_in + W_hn (r_t * h) + b_hn)``.

    Parameters
    ----------
    input_size, hidden_size : int
        ``I`` (d_x) and ``H`` (d_h).
    variant : {"reset_after", "reset_before"}
    seed : int, torch.Generator or None
        Draws the initial weights (:func:`companion.runtime.generator`; 0 by default).

    Shapes
    ------
    ``weight_ih (3H, I)`` stacked ``W_ir|W_iz|W_in``, ``weight_hh (3H, H)``
    stacked ``W_hr|W_hz|W_hn``, biases ``(3H,)``. ``x (N, I)``, ``h (N, H)`` -> ``(N, H)``.

    Notes
    -----
    The paper has no biases, or one per gate; torch keeps two (``b_i*`` and ``b_h*``, for
    cuDNN compatibility). In ``reset_before`` the two candidate biases simply add up.
    Chung et al. (2014) write the update the other way round, ``h_t = (1 - z_t) h + z_t n_t``:
    their ``z`` is our ``1 - z``.

    Examples
    --------
    >>> cell = GRUCell(10, 20)
    >>> cell.load_state_dict(torch.nn.GRUCell(10, 20).state_dict())
    <All keys matched successfully>
    >>> cell(torch.zeros(4, 10)).shape
    torch.Size([4, 20])
    """

    kind = "gru"

    def __init__(
        self, input_size: int, hidden_size: int, variant: str = "reset_after", *, seed: Seed = 0
    ) -> None:
        if variant not in ("reset_after", "reset_before"):
            raise ValueError(f"variant must be 'reset_after' or 'reset_before', got {variant!r}")
        super().__init__(input_size, hidden_size, seed=seed)
        self.variant = variant

    def gates(self, x: torch.Tensor, h: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """The reset gate ``r_t``, update gate ``z_t`` and candidate ``n_t``, each ``(N, H)``."""
        h = self._require_step(x, h)
        W_ir, W_iz, W_in = self.weight_ih.chunk(3)  # each (H, I)
        W_hr, W_hz, W_hn = self.weight_hh.chunk(3)  # each (H, H)
        b_ir, b_iz, b_in = self.bias_ih.chunk(3)  # each (H,)
        b_hr, b_hz, b_hn = self.bias_hh.chunk(3)
        r_t = torch.sigmoid(F.linear(x, W_ir, b_ir) + F.linear(h, W_hr, b_hr))
        z_t = torch.sigmoid(F.linear(x, W_iz, b_iz) + F.linear(h, W_hz, b_hz))
        if self.variant == "reset_after":
            n_t = torch.tanh(F.linear(x, W_in, b_in) + r_t * F.linear(h, W_hn, b_hn))
        else:
            n_t = torch.tanh(F.linear(x, W_in, b_in) + F.linear(r_t * h, W_hn, b_hn))
        return r_t, z_t, n_t

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        h = self._require_step(x, h)
        r_t, z_t, n_t = self.gates(x, h)
        h_t = (1 - z_t) * n_t + z_t * h
        return h_t

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, variant={self.variant!r}"


class LSTMCell(_Cell):
    """One LSTM step with a forget gate, as ``torch.nn.LSTMCell``::

        i_t = sigma(W_ii x + b_ii + W_hi h + b_hi)    input gate
        f_t = sigma(W_if x + b_if + W_hf h + b_hf)    forget gate (Gers et al. 2000)
        g_t = tanh(W_ig x + b_ig + W_hg h + b_hg)     candidate cell
        o_t = sigma(W_io x + b_io + W_ho h + b_ho)    output gate
        c_t = f_t * c + i_t * g_t
        h_t = o_t * tanh(c_t)

    Three gates (input, forget, output) and a candidate: there is no "update gate".

    Shapes
    ------
    ``weight_ih (4H, I)`` stacked ``i|f|g|o``, ``weight_hh (4H, H)``, biases
    ``(4H,)``. ``x (N, I)`` and ``state = (h, c)``, each ``(N, H)`` (zeros when None)
    -> ``(h_t, c_t)``.

    Examples
    --------
    >>> cell = LSTMCell(10, 20)
    >>> cell.load_state_dict(torch.nn.LSTMCell(10, 20).state_dict())
    <All keys matched successfully>
    >>> [s.shape for s in cell(torch.zeros(4, 10))]
    [torch.Size([4, 20]), torch.Size([4, 20])]
    """

    kind = "lstm"

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if state is not None and not (isinstance(state, tuple) and len(state) == 2):
            raise TypeError(f"state must be a tuple (h, c) or None, got {type(state).__name__}")
        h, c = state if state is not None else (None, None)
        h = self._require_step(x, h)
        c = self._require_step(x, c) if c is not None else torch.zeros_like(h)
        W_ii, W_if, W_ig, W_io = self.weight_ih.chunk(4)  # each (H, I)
        W_hi, W_hf, W_hg, W_ho = self.weight_hh.chunk(4)  # each (H, H)
        b_ii, b_if, b_ig, b_io = self.bias_ih.chunk(4)  # each (H,)
        b_hi, b_hf, b_hg, b_ho = self.bias_hh.chunk(4)
        i_t = torch.sigmoid(F.linear(x, W_ii, b_ii) + F.linear(h, W_hi, b_hi))
        f_t = torch.sigmoid(F.linear(x, W_if, b_if) + F.linear(h, W_hf, b_hf))
        g_t = torch.tanh(F.linear(x, W_ig, b_ig) + F.linear(h, W_hg, b_hg))
        o_t = torch.sigmoid(F.linear(x, W_io, b_io) + F.linear(h, W_ho, b_ho))
        c_t = f_t * c + i_t * g_t
        h_t = o_t * torch.tanh(c_t)
        return h_t, c_t


Cell = RNNCell | GRUCell | LSTMCell
CELLS = {"rnn": RNNCell, "gru": GRUCell, "lstm": LSTMCell}


def unroll(cell: Cell, x: torch.Tensor, state=None) -> tuple[list[torch.Tensor], object]:
    """Run ``cell`` over a sequence, one step at a time.

    Parameters
    ----------
    cell : RNNCell, GRUCell or LSTMCell
    x : torch.Tensor
        ``(T, N, I)`` (sequence first, as ``nn.GRU`` with ``batch_first=False``).
    state : optional
        Initial ``h (N, H)``, or ``(h, c)`` for an LSTM; zeros when None.

    Returns
    -------
    hs : list of T tensors
        The hidden states ``h_1, ..., h_T``, each ``(N, H)``; ``torch.stack(hs)`` equals
        the first output of ``nn.GRU``/``nn.LSTM`` with the same weights. They stay in the
        autograd graph, so ``torch.autograd.grad(loss, hs)`` gives ``dL/dh_t``.
    state
        The final ``h_T``, or ``(h_T, c_T)`` for an LSTM.
    """
    if not isinstance(cell, (RNNCell, GRUCell, LSTMCell)):
        raise TypeError(f"cell must be an RNNCell, GRUCell or LSTMCell, got {type(cell).__name__}")
    require_tensor("x", x, ndim=3, floating=True)
    if x.shape[2] != cell.input_size:
        raise ValueError(f"x must have shape (T, N, {cell.input_size}), got {tuple(x.shape)}")
    hs = []
    for x_t in x:  # x_t: (N, I)
        state = cell(x_t, state)
        hs.append(state[0] if isinstance(cell, LSTMCell) else state)
    return hs, state


def cell_from_fused(module: nn.RNNBase, variant: str = "reset_after") -> Cell:
    """The from-scratch cell holding the weights of a one-layer fused module.

    ``module`` is a one-layer, unidirectional ``nn.RNN`` (tanh), ``nn.GRU`` or ``nn.LSTM``
    with biases; its ``weight_ih_l0`` etc. become the cell's ``weight_ih`` etc. (copies, in
    the module's dtype).
    """
    kinds = {nn.LSTM: "lstm", nn.GRU: "gru", nn.RNN: "rnn"}
    if type(module) not in kinds:
        raise TypeError(f"module must be an nn.RNN, nn.GRU or nn.LSTM, got {type(module).__name__}")
    if module.num_layers != 1 or module.bidirectional or not module.bias or module.proj_size:
        raise ValueError("module must have one layer, one direction, biases and no projection")
    if isinstance(module, nn.RNN) and module.nonlinearity != "tanh":
        raise ValueError(f"module must use tanh, got nonlinearity={module.nonlinearity!r}")
    kind = kinds[type(module)]
    extra = {"variant": variant} if kind == "gru" else {}
    cell = CELLS[kind](module.input_size, module.hidden_size, **extra)
    weights = {name.removesuffix("_l0"): p.detach().clone() for name, p in module.named_parameters()}
    cell.load_state_dict(weights)
    return cell.to(next(module.parameters()).dtype)


def parameter_count(kind: str, input_size: int, hidden_size: int, biases: int = 2) -> int:
    """Parameters of one layer: ``G (H I + H^2 + biases H)`` with ``G`` = 1, 3, 4.

    Parameters
    ----------
    kind : {"rnn", "gru", "lstm"}
        ``G`` = 1 (tanh RNN), 3 (GRU: r, z, n), 4 (LSTM: i, f, g, o) blocks.
    input_size, hidden_size : int
        ``I`` (d_x) and ``H`` (d_h).
    biases : {0, 1, 2}
        Bias vectors per block: 2 as in PyTorch (``bias_ih`` and ``bias_hh``), 1 as in the
        papers and Keras' ``reset_after=False``, 0 as torch's ``bias=False``.

    Examples
    --------
    >>> parameter_count("gru", 10, 20), parameter_count("lstm", 10, 20)
    (1920, 2560)
    """
    _require_kind(kind)
    d_x = require_positive_int("input_size", input_size)
    d_h = require_positive_int("hidden_size", hidden_size)
    if biases not in (0, 1, 2) or isinstance(biases, bool):
        raise ValueError(f"biases must be 0, 1 or 2, got {biases!r}")
    return GATES[kind] * (d_h * d_x + d_h * d_h + biases * d_h)


# --- The adding problem ---------------------------------------------------------------------------


def adding_problem(n: int, T: int, *, seed: Seed = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` sequences of the adding problem (Hochreiter & Schmidhuber 1997, sec. 5.4).

    Each step carries a value ``u_t ~ U[0, 1]`` and a marker ``m_t`` in {0, 1}; exactly one
    marker falls in each half of the sequence, at a uniform position, and the target is the
    sum of the two marked values. Predicting the mean 1 always gives MSE Var(u + u') = 1/6.
    Every draw comes from ``seed`` (:func:`companion.runtime.generator`).

    Returns
    -------
    x : torch.Tensor
        ``(T, N, 2)`` float32, channels ``(u_t, m_t)``.
    y : torch.Tensor
        ``(N,)`` float32 in [0, 2].

    Notes
    -----
    The modern form (as in Le et al. 2015); the 1997 paper used values in [-1, 1] and the
    first ten steps for the first marker.
    """
    n, T = require_positive_int("n", n), require_positive_int("T", T)
    if T < 2:
        raise ValueError(f"T must be >= 2 (one marker in each half), got {T}")
    g = generator(seed)
    u = torch.rand(T, n, generator=g)  # (T, N)
    first = torch.randint(0, T // 2, (n,), generator=g)  # (N,) in the first half
    second = torch.randint(T // 2, T, (n,), generator=g)  # (N,) in the second half
    m = torch.zeros(T, n)
    m[first, torch.arange(n)] = 1.0
    m[second, torch.arange(n)] = 1.0
    x = torch.stack([u, m], dim=2)  # (T, N, 2)
    y = (u * m).sum(dim=0)  # (N,)
    return x, y


def _fused_with_readout(
    kind: str, input_size: int, hidden_size: int, output_size: int, forget_bias: float | None, seed: int
) -> tuple[nn.RNNBase, nn.Linear]:
    """The fused module and readout of :class:`SequenceRegressor` and :class:`PixelClassifier`."""
    require_positive_int("input_size", input_size)
    H = require_positive_int("hidden_size", hidden_size)
    seed = require_seed("seed", seed)
    fused = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[kind]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module, readout = fused(input_size, H), nn.Linear(H, output_size)
    if kind == "lstm" and forget_bias is not None:
        with torch.no_grad():  # i|f|g|o: the forget gate is rows H..2H
            module.bias_ih_l0[H : 2 * H] = float(forget_bias)
            module.bias_hh_l0[H : 2 * H] = 0.0
    return module, readout


class SequenceRegressor(nn.Module):
    """A fused one-layer ``nn.RNN`` (tanh), ``nn.GRU`` or ``nn.LSTM`` and a linear readout.

    ``x (T, N, I)`` -> ``y_hat (N,)``, read from the last hidden state ``h_T``. With
    ``forget_bias`` the LSTM's forget-gate biases start at a total of ``forget_bias``
    (``bias_ih`` slice set to it, ``bias_hh`` slice to 0), after Jozefowicz et al. (2015).
    Weights are drawn from ``seed`` without touching the global generator.
    """

    def __init__(
        self,
        kind: str,
        input_size: int = 2,
        hidden_size: int = 32,
        forget_bias: float | None = 1.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.kind = _require_kind(kind)
        self.rnn, self.readout = _fused_with_readout(kind, input_size, hidden_size, 1, forget_bias, seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hs, _ = self.rnn(x)  # (T, N, H)
        return self.readout(hs[-1]).squeeze(-1)  # (N,)


@dataclass(frozen=True)
class AddingConfig:
    """Settings of :func:`train_adding`; the defaults are the chapter's experiment.

    The step budget is the chapter's time budget on one CPU thread: at most 450 steps at a
    learning rate of 0.02 (the gradient clipped to norm 1), and a run stops at the first
    evaluation whose test MSE is below ``target_mse``, the task solved (0.01, a seventeenth of
    the 1/6 of always predicting 1); the steps a cell needs to get there are its result. Halving
    the rate needs more steps for the gated cells to leave the initial plateau; fewer steps
    leave a slow one (the LSTM with some seeds) still on it when training ends.
    """

    T: int = 50  # sequence length
    iterations: int = 450  # at most this many Adam steps, each on a freshly sampled batch
    hidden_size: int = 32  # d_h
    batch_size: int = 64  # sequences per step
    lr: float = 0.02  # Adam's learning rate
    clip: float = 1.0  # maximum gradient norm (clip_grad_norm_)
    forget_bias: float = 1.0  # initial LSTM forget-gate bias (Jozefowicz et al. 2015)
    eval_every: int = 50  # test MSE recorded every this many steps (and at step 0)
    test_size: int = 500  # fixed test sequences, drawn from seed + 1
    target_mse: float | None = 0.01  # stop once the test MSE is below it; None: every step
    seed: int = 0  # initial weights and the training batches

    def __post_init__(self) -> None:
        for name in ("T", "iterations", "hidden_size", "batch_size", "eval_every", "test_size"):
            require_positive_int(name, getattr(self, name))
        if self.T < 2:
            raise ValueError(f"T must be >= 2, got {self.T}")
        require_positive("lr", self.lr)
        require_positive("clip", self.clip)
        if self.target_mse is not None:
            require_positive("target_mse", self.target_mse)
        if isinstance(self.forget_bias, bool) or not isinstance(self.forget_bias, (int, float)):
            raise TypeError(f"forget_bias must be a number, got {type(self.forget_bias).__name__}")
        require_seed("seed", self.seed)


@dataclass
class AddingHistory:
    """Test MSE during :func:`train_adding`, and the training time behind it."""

    iterations: list[int] = field(default_factory=list)  # steps done at each evaluation; the last: all
    test_mse: list[float] = field(default_factory=list)  # test MSE at those steps
    seconds: list[float] = field(default_factory=list)  # training time so far (no sampling, no evaluations)

    @property
    def seconds_per_iteration(self) -> float:
        """Mean wall-clock time of one training step (forward, backward, clip, Adam)."""
        return self.seconds[-1] / max(self.iterations[-1], 1)


@torch.no_grad()
def mean_squared_error(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """``mean_n (model(x)_n - y_n)^2`` for sequences ``x (T, N, 2)`` and targets ``y (N,)``."""
    return F.mse_loss(model(x), y).item()


def adding_test_set(config: AddingConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed test set of :func:`train_adding`: ``config.test_size`` sequences of length
    ``config.T``, drawn from the seed ``config.seed + 1`` (the training batches use ``config.seed``)."""
    if not isinstance(config, AddingConfig):
        raise TypeError(f"config must be an AddingConfig, got {type(config).__name__}")
    return adding_problem(config.test_size, config.T, seed=config.seed + 1)


def train_adding(kind: str, config: AddingConfig = AddingConfig()) -> tuple[SequenceRegressor, AddingHistory]:
    """Train a :class:`SequenceRegressor` of ``kind`` on the adding problem.

    Each step samples a fresh batch of ``config.batch_size`` sequences, takes the MSE, clips
    the gradient norm to ``config.clip`` and makes one Adam step; every ``eval_every`` steps
    the MSE on :func:`adding_test_set` is recorded, and training stops at the first record
    below ``config.target_mse`` (or after ``config.iterations`` steps). Returns the trained
    model (in eval mode) and its :class:`AddingHistory`, whose last entry is where it stopped.

    Notes
    -----
    Not ``companion.training.train`` on purpose: that loop makes epochs over a fixed labelled
    data set; here every step draws new sequences and gradient clipping is part of the recipe.
    Adam runs as torch's fused kernel (``fused=True``: the same update in one call instead of
    a few small operations per tensor, which matter next to a step this small).
    """
    _require_kind(kind)
    if not isinstance(config, AddingConfig):
        raise TypeError(f"config must be an AddingConfig, got {type(config).__name__}")
    model = SequenceRegressor(kind, 2, config.hidden_size, config.forget_bias, config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, fused=True)
    batches = generator(config.seed)  # draws every training batch in turn
    x_test, y_test = adding_test_set(config)
    history = AddingHistory([0], [mean_squared_error(model, x_test, y_test)], [0.0])
    elapsed = 0.0
    try:
        model.train()
        for step in progress(range(1, config.iterations + 1), desc=f"{kind} T={config.T}", unit="step"):
            x, y = adding_problem(config.batch_size, config.T, seed=batches)
            start = time.perf_counter()  # times forward, backward, clip and Adam, not the sampling
            loss = F.mse_loss(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), config.clip)
            optimizer.step()
            elapsed += time.perf_counter() - start
            if step % config.eval_every == 0 or step == config.iterations:
                history.iterations.append(step)
                history.test_mse.append(mean_squared_error(model, x_test, y_test))
                history.seconds.append(elapsed)
                if config.target_mse is not None and history.test_mse[-1] < config.target_mse:
                    break  # solved: the steps it took are the result
    finally:
        model.eval()
    return model, history


def hidden_state_gradients(model: SequenceRegressor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``||dL/dh_t||`` for ``t = 1..T``, through the unrolled from-scratch cell.

    The fused module's weights are copied into :class:`RNNCell`/:class:`GRUCell`/
    :class:`LSTMCell` (in float64, so tiny gradients are not rounded to zero), the cell is
    unrolled over ``x (T, N, 2)``, and for each sample the squared error ``l_n`` of the
    readout of ``h_T`` is differentiated with respect to every hidden state. Returns the
    per-sample norms ``||d l_n / d h_t||_2`` averaged over the batch: ``(T,)`` float64.
    """
    if not isinstance(model, SequenceRegressor):
        raise TypeError(f"model must be a SequenceRegressor, got {type(model).__name__}")
    require_tensor("x", x, ndim=3, floating=True)
    require_tensor("y", y, ndim=1, floating=True)
    if x.shape[1] != y.shape[0]:
        raise ValueError(f"x (T, N, 2) and y (N,) must have the same N, got {x.shape[1]} and {y.shape[0]}")
    cell = cell_from_fused(model.rnn).double()
    W, b = model.readout.weight.detach().double(), model.readout.bias.detach().double()
    hs, _ = unroll(cell, x.double())  # T tensors (N, H)
    y_hat = F.linear(hs[-1], W, b).squeeze(-1)  # (N,)
    per_sample = (y_hat - y.double()) ** 2  # (N,)
    grads = torch.autograd.grad(per_sample.sum(), hs)  # row n of dL/dh_t belongs to sample n
    return torch.stack([g.norm(dim=1).mean() for g in grads])


# --- Pixel-by-pixel digits ------------------------------------------------------------------------


PIXEL_HIDDEN_SIZE = 32
"""The chapter's ``d_h`` for :class:`PixelClassifier` (as the adding problem's networks)."""


class PixelClassifier(nn.Module):
    """Classify an 8x8 digit read one pixel per step: ``T = 64`` scalar inputs.

    The image ``(N, 64)`` (or ``(N, 1, 8, 8)``) in [0, 1] is read row by row as the
    sequence ``x (64, N, 1)``; a fused one-layer ``nn.RNN``/``nn.GRU``/``nn.LSTM`` runs over
    it and a linear readout of the last state gives the logits ``W h_64 + b``, ``(N, 10)``.
    ``hidden_size`` is ``d_h``; ``forget_bias`` and ``seed`` act as in :class:`SequenceRegressor`.

    Notes
    -----
    Le et al. (2015) read 28x28 MNIST pixel by pixel, ``T = 784``; the 8x8 digits give only
    ``T = 64`` steps, much easier for every cell.
    """

    T = 64  # pixels, read row by row

    def __init__(
        self, kind: str, hidden_size: int = PIXEL_HIDDEN_SIZE, forget_bias: float | None = 1.0, seed: int = 0
    ) -> None:
        super().__init__()
        self.kind = _require_kind(kind)
        self.rnn, self.readout = _fused_with_readout(kind, 1, hidden_size, 10, forget_bias, seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        require_tensor("x", x, floating=True)
        if tuple(x.shape[1:]) not in ((self.T,), (1, 8, 8)):
            raise ValueError(f"x must have shape (N, 64) or (N, 1, 8, 8), got {tuple(x.shape)}")
        sequence = x.reshape(len(x), self.T).T.unsqueeze(-1)  # (64, N, 1): pixel t of every image
        hs, _ = self.rnn(sequence)  # (64, N, H)
        return self.readout(hs[-1])  # (N, 10)


PIXEL_CONFIG = TrainConfig(epochs=15, batch_size=128, lr=1e-2)
"""The chapter's settings for :func:`train_pixel_digits` (15 epochs, batches of 128, Adam lr 1e-2).

Chosen for the chapter's time budget on one CPU thread: 11 steps per epoch, 165 in all. At
this size much of a ``T = 64`` step is per-time-step overhead (for the GRU, the slowest cell,
most of it), so one step on 128 images costs less than four on 32 and large batches buy epochs.
The accuracies are still rising when training stops (the chapter's figure shows it). A larger
learning rate (2e-2) made the unclipped tanh RNN's accuracy collapse in some epochs, which would
be an artefact of the missing clipping.
"""


def train_pixel_digits(
    kind: str, data: Digits, config: TrainConfig = PIXEL_CONFIG, hidden_size: int = PIXEL_HIDDEN_SIZE
) -> tuple[PixelClassifier, History]:
    """Train a :class:`PixelClassifier` of ``kind`` on the digits with the course's loop.

    Weights are drawn from ``config.seed``; ``companion.training.train`` records the test
    accuracy after every epoch, but not the training accuracy: nothing here reads it, and that
    pass over the training set would cost as much as an epoch's forward passes. Returns the
    trained model (in eval mode) and its History. There is no gradient clipping (the shared
    loop has none); the learning rate is kept small enough instead.
    """
    _require_kind(kind)
    if not isinstance(data, Digits):
        raise TypeError(f"data must be companion.data.Digits, got {type(data).__name__}")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    model = PixelClassifier(kind, hidden_size, seed=config.seed)
    history = train(
        model,
        data.x_train,
        data.y_train,
        config,
        x_test=data.x_test,
        y_test=data.y_test,
        train_accuracy=False,
    )
    return model.eval(), history
