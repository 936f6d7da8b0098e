"""How the course's code runs: seeds, device and progress bars.

Every chapter calls :func:`seed_everything` once at the top so its numbers
repeat from run to run. Long loops wrap their iterable in :func:`progress`,
which is silent when the environment variable ``COMPANION_PROGRESS`` is ``0``
(the tests and the book build set it).

Randomness has one convention (``CONTRIBUTING.md``): a function that draws random
numbers takes it as a keyword argument ``seed`` of type :data:`Seed` and turns it
into a ``torch.Generator`` with :func:`generator`, first thing. An experiment's
config (a dataclass) records an int ``seed`` and passes it on.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable, Iterator
from typing import TypeVar

import numpy as np
import torch
from tqdm.auto import tqdm

from companion.validation import require_generator_seed, require_seed

T = TypeVar("T")

#: What a stochastic function accepts as ``seed``: an int (a private generator seeded with it),
#: a ``torch.Generator`` (used, and advanced, as it is), or ``None`` (torch's global generator,
#: which :func:`seed_everything` seeds: what torch's own functions use by default).
Seed = int | torch.Generator | None

__all__ = [
    "Seed",
    "default_device",
    "generator",
    "poll_kernels_in_slices",
    "progress",
    "progress_enabled",
    "seed_everything",
]


def seed_everything(seed: int, threads: int | None = 1) -> torch.Generator:
    """Seed Python, NumPy and PyTorch, ask torch for deterministic kernels, fix its threads.

    Parameters
    ----------
    seed : int
        A non-negative integer.
    threads : int or None
        torch's intra-op threads (``torch.set_num_threads``); None leaves them
        alone. One by default: the chapters' budget is one thread, their tiny
        models run fastest on one, and the thread count can change the order of
        floating-point sums, so one thread also makes the numbers repeat across
        machines.

    Returns
    -------
    torch.Generator
        A CPU generator seeded with ``seed``, for code that takes its
        randomness as an argument.

    Notes
    -----
    ``torch.use_deterministic_algorithms(True, warn_only=True)`` (its eager part:
    see :func:`_use_deterministic_algorithms`) makes torch
    pick deterministic kernels where they exist and warn (not fail) where they
    do not. On the CPU every operation this course uses is deterministic.
    """
    seed = require_seed("seed", seed)
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a positive int or None, got {threads!r}")
        torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - seeding the legacy global generator is the point
    torch.manual_seed(seed)
    _use_deterministic_algorithms()
    # cuBLAS needs this for deterministic matrix products on the GPU.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return generator(seed)


def _use_deterministic_algorithms() -> None:
    """``torch.use_deterministic_algorithms(True, warn_only=True)`` without its import of the compiler.

    torch's function also sets ``torch._inductor.config.deterministic``, and importing that
    module costs about a second of every chapter's start; the course never compiles a model, so
    we set the eager flag alone when torch exposes it, and call the public function otherwise.
    """
    set_eager_flag = getattr(torch._C, "_set_deterministic_algorithms", None)
    if set_eager_flag is None:
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        set_eager_flag(True, warn_only=True)


def generator(seed: Seed, name: str = "seed") -> torch.Generator:
    """The ``torch.Generator`` a stochastic function draws from, given its ``seed`` argument.

    An int gives a new CPU generator seeded with it (the same numbers on every call), a
    ``torch.Generator`` is returned as it is (so a loop that passes one generator to many calls
    draws fresh numbers each time), and ``None`` gives ``torch.default_generator``, the global
    generator that :func:`seed_everything` seeds and torch's own functions use by default.
    ``name`` names the argument in the error for anything else.

    >>> a = generator(3); b = generator(3)
    >>> bool(torch.equal(torch.rand(2, generator=a), torch.rand(2, generator=b)))
    True
    >>> generator(None) is torch.default_generator
    True
    """
    seed = require_generator_seed(name, seed)
    if seed is None:
        return torch.default_generator
    if isinstance(seed, torch.Generator):
        return seed
    return torch.Generator().manual_seed(seed)


def default_device() -> torch.device:
    """CUDA when it is available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def progress_enabled() -> bool:
    """False when the environment variable ``COMPANION_PROGRESS`` is ``0``."""
    return os.environ.get("COMPANION_PROGRESS", "1").strip() != "0"


def progress(iterable: Iterable[T], desc: str | None = None, **kwargs) -> Iterator[T]:
    """Wrap ``iterable`` in a ``tqdm.auto`` bar (a widget in Jupyter, text elsewhere).

    Silent when ``COMPANION_PROGRESS=0``. Extra keyword arguments go to tqdm.
    """
    return iter(tqdm(iterable, desc=desc, disable=not progress_enabled(), leave=False, **kwargs))


POLL_SLICE_SECONDS = 1.0
"""The longest single wait for a kernel message in :func:`poll_kernels_in_slices`."""


def poll_kernels_in_slices() -> None:
    """Make every asyncio Jupyter client wait for a kernel's messages in slices of at most a second.

    A workaround for a lost wake-up in pyzmq's asyncio polling (zeromq/pyzmq#1558): now and
    then ``await socket.poll(timeout)`` misses the notification of a message that has arrived
    and sleeps out its whole timeout, then returns the message. nbclient waits for each cell's
    reply with the cell timeout, so a notebook run (the book build through myst-nb, the
    grader, the benchmark) would stall for that long (``execute.timeout`` in ``_config.yml`` for a
    build) and then carry on as if nothing had happened. Waiting in slices
    of :data:`POLL_SLICE_SECONDS`, each a fresh poll, caps a lost wake-up at that slice; the
    overall timeout, and ``queue.Empty`` when it passes, are unchanged.

    Patches ``jupyter_client.channels.AsyncZMQSocketChannel.get_msg`` once per process (a
    second call does nothing).
    """
    import time
    from queue import Empty

    from jupyter_client.channels import AsyncZMQSocketChannel

    if getattr(AsyncZMQSocketChannel.get_msg, "_in_slices", False):
        return

    async def get_msg(self, timeout: float | None = None) -> dict:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = POLL_SLICE_SECONDS if deadline is None else max(0.0, deadline - time.monotonic())
            if await self.socket.poll(int(1000 * min(POLL_SLICE_SECONDS, left))):
                return await self._recv()
            if deadline is not None and time.monotonic() >= deadline:
                raise Empty

    get_msg._in_slices = True
    get_msg.__doc__ = AsyncZMQSocketChannel.get_msg.__doc__
    AsyncZMQSocketChannel.get_msg = get_msg
