import random

import numpy as np
import pytest
import torch

import companion
from companion.runtime import default_device, progress, progress_enabled


def test_seed_everything_repeats_python_numpy_and_torch():
    def draws():
        g = companion.seed_everything(123)
        legacy = np.random.rand()  # noqa: NPY002 - the legacy global generator is what we seed
        return random.random(), legacy, torch.rand(3), torch.rand(2, generator=g)

    a, b = draws(), draws()
    assert a[0] == b[0] and a[1] == b[1]
    assert torch.equal(a[2], b[2]) and torch.equal(a[3], b[3])
    companion.seed_everything(124)
    assert not torch.equal(torch.rand(3), a[2])


def test_seed_everything_asks_for_deterministic_algorithms():
    companion.seed_everything(0)
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.is_deterministic_algorithms_warn_only_enabled()  # warn, do not fail


@pytest.mark.parametrize(
    ("seed", "error", "match"),
    [
        (-1, ValueError, "seed must be an int >= 0, got -1"),
        (1.5, TypeError, "seed must be an int"),
        (True, TypeError, "seed must be an int"),
        ("0", TypeError, "got str"),
    ],
)
def test_seed_everything_rejects_bad_seeds(seed, error, match):
    with pytest.raises(error, match=match):
        companion.seed_everything(seed)


def test_progress_is_silent_when_disabled(monkeypatch, capsys):
    monkeypatch.setenv("COMPANION_PROGRESS", "0")
    assert not progress_enabled()
    assert list(progress(range(3), desc="x")) == [0, 1, 2]
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_progress_shows_a_bar_when_enabled(monkeypatch, capsys):
    monkeypatch.setenv("COMPANION_PROGRESS", "1")
    assert progress_enabled()
    assert list(progress(range(3), desc="work")) == [0, 1, 2]
    assert "work" in capsys.readouterr().err


def test_default_device_is_cpu_without_cuda():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert default_device().type == expected


def test_seed_everything_sets_one_torch_thread_by_default():
    before = torch.get_num_threads()
    try:
        companion.seed_everything(0)
        assert torch.get_num_threads() == 1
        companion.seed_everything(0, threads=None)
        assert torch.get_num_threads() == 1  # None leaves them alone
        with pytest.raises(ValueError, match="threads must be a positive int or None, got 0"):
            companion.seed_everything(0, threads=0)
    finally:
        torch.set_num_threads(before)


def test_kernel_messages_are_awaited_in_slices_of_a_second():
    """poll_kernels_in_slices: a lost wake-up costs a slice, not the whole timeout (pyzmq#1558)."""
    import asyncio
    from queue import Empty

    from jupyter_client.channels import AsyncZMQSocketChannel

    from companion.runtime import POLL_SLICE_SECONDS, poll_kernels_in_slices

    poll_kernels_in_slices()
    poll_kernels_in_slices()  # idempotent
    get_msg = AsyncZMQSocketChannel.get_msg
    assert get_msg._in_slices is True

    class Socket:  # a message that arrived but whose wake-up is lost for the first two polls
        def __init__(self, ready_after: int | None) -> None:
            self.polls, self.ready_after = [], ready_after

        async def poll(self, timeout_ms):
            self.polls.append(timeout_ms)
            await asyncio.sleep(0)
            return self.ready_after is not None and len(self.polls) > self.ready_after

    class Channel:
        def __init__(self, socket) -> None:
            self.socket = socket

        async def _recv(self):
            return {"msg_type": "execute_reply"}

    late = Channel(Socket(ready_after=2))
    assert asyncio.run(get_msg(late, timeout=180)) == {"msg_type": "execute_reply"}
    assert len(late.socket.polls) == 3 and max(late.socket.polls) <= 1000 * POLL_SLICE_SECONDS
    forever = Channel(Socket(ready_after=3))
    assert asyncio.run(get_msg(forever, timeout=None))["msg_type"] == "execute_reply"
    never = Channel(Socket(ready_after=None))
    with pytest.raises(Empty):
        asyncio.run(get_msg(never, timeout=0.01))
    assert all(0 <= t <= 10 for t in never.socket.polls)
