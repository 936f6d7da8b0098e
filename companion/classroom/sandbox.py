"""Contained execution of a submission's kernel: limits, its own user, no network, no view.

Every submission is executed in a kernel started through :class:`SandboxedKernelManager`:

* **rlimits** (everywhere on POSIX): address space (``memory``), CPU time (``cpu``), size of a
  written file (``file_size``) and number of processes and threads (``processes``), set by
  ``_sandbox_launch.py`` just before it becomes the kernel;
* **its own user** when the grader runs as root: the kernel drops to a uid of its own
  (:func:`kernel_uid`), so ``RLIMIT_NPROC``, which root ignores, counts that kernel's processes
  only, and whatever it leaves behind can be found and ended by uid (:func:`end_processes`);
* **bubblewrap** (Debian's ``bubblewrap``) where it works: a new network namespace with no
  interface but loopback (``--unshare-net``; Python's socket patches are bypassed by
  ``import _socket``, a namespace is not), a pid namespace, and a filesystem of read-only
  system folders (``/usr``, ``/etc``, ...), the read-only virtual environment and companion
  package, a small private ``/tmp`` and one writable scratch folder. Nothing else is mounted:
  the instructor's chapters (the solutions), the assignment folder (the quiz keys), the other
  submissions and the grades are not there to read.

The kernel talks to the grader over Unix sockets in the scratch folder (ZeroMQ's ``ipc``
transport), which cross the network namespace.

Where bubblewrap is missing or cannot run (an unprivileged container), :func:`bubblewrap`
returns ``None`` and the grader warns once, loudly, and runs with the rlimits (and the uid, as
root) only; then a submission can read what its user can read. ``book/instructors.md`` has a
container recipe for grading on a shared server.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jupyter_client import AsyncKernelManager

__all__ = [
    "Limits",
    "ProcessWatch",
    "SandboxWarning",
    "SandboxedKernelManager",
    "bubblewrap",
    "end_group",
    "end_processes",
    "kernel_uid",
    "warn_if_uncontained",
]

_LAUNCH = Path(__file__).with_name("_sandbox_launch.py")
_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
#: First uid of the grading kernels (root only); a kernel's uid adds its grader's pid.
UID_BASE = 200_000
GiB = 2**30


class SandboxWarning(UserWarning):
    """Grading runs without bubblewrap: limits only, the filesystem and network are visible."""


@dataclass(frozen=True)
class Limits:
    """What one submission's kernel may use.

    ``memory``: bytes of address space (``RLIMIT_AS``; torch needs about 1 GiB of it to import);
    ``cpu``: seconds of CPU time for the kernel's whole life (a backstop: the per-cell wall-clock
    timeout of the grader interrupts a loop first); ``processes``: processes and threads of the
    kernel's user (``RLIMIT_NPROC``; the kernel itself runs about 20 threads); ``file_size``:
    bytes of one written file; ``tmp_size``: bytes of the private ``/tmp`` (bubblewrap only).
    ``sandbox`` is ``"auto"`` (bubblewrap if it works), ``"bubblewrap"`` (required) or
    ``"none"`` (limits only).
    """

    memory: int = 4 * GiB
    cpu: int = 3600
    processes: int = 256
    file_size: int = 256 * 2**20
    tmp_size: int = 256 * 2**20
    sandbox: str = "auto"

    def __post_init__(self) -> None:
        minimum = {"memory": 256 * 2**20, "cpu": 1, "processes": 16, "file_size": 2**20, "tmp_size": 2**20}
        for name, low in minimum.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"limits.{name} must be an int >= {low}, got {value!r}")
        if self.sandbox not in ("auto", "bubblewrap", "none"):
            raise ValueError(f"limits.sandbox must be 'auto', 'bubblewrap' or 'none', got {self.sandbox!r}")


@cache
def bubblewrap() -> str | None:
    """The path of a ``bwrap`` that can build this sandbox here, or ``None``.

    Tried once per process: a namespace with a read-only root and no network must start.
    """
    path = shutil.which("bwrap")
    if path is None:
        return None
    probe = [path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-net"]
    probe += ["--unshare-pid", "--die-with-parent", "true"]
    try:
        done = subprocess.run(probe, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if done.returncode == 0 else None


_WARNED: list[bool] = []


def warn_if_uncontained(limits: Limits) -> bool:
    """Whether kernels will run inside bubblewrap; if not, warn once per process, loudly.

    Raises ``RuntimeError`` when ``limits.sandbox == "bubblewrap"`` and it cannot run.
    """
    if limits.sandbox == "none":
        contained = False
    else:
        contained = bubblewrap() is not None
        if not contained and limits.sandbox == "bubblewrap":
            raise RuntimeError("limits.sandbox is 'bubblewrap' but bwrap is missing or cannot run here")
    if not contained and not _WARNED:
        _WARNED.append(True)
        message = (
            "GRADING WITHOUT A SANDBOX: bubblewrap (Debian package 'bubblewrap') is missing, cannot "
            "run here, or was turned off. Submissions get memory, CPU, file-size and process limits "
            "only: they can read every file their user can read (your solutions, the other "
            "submissions) and reach the network. Install bubblewrap or grade in a container "
            "without a network (see book/instructors.md)."
        )
        print(f"\n{'!' * 78}\n{message}\n{'!' * 78}\n", file=sys.stderr, flush=True)
        warnings.warn(message, SandboxWarning, stacklevel=2)
    return contained


def kernel_uid(contained: bool) -> int | None:
    """The uid this process's grading kernels run as, or ``None`` (keep the grader's user).

    As root, a uid of its own (``UID_BASE`` plus this process's pid, so parallel graders differ):
    inside bubblewrap always; without it only if that user can run this Python (a pyenv
    interpreter under ``/root`` it cannot). Not root: ``None``.
    """
    if os.geteuid() != 0:
        return None
    if contained or _uid_can_run():
        return UID_BASE + os.getpid()
    return None


@cache
def _uid_can_run() -> bool:
    """Whether a user of no group and no home can start a kernel's Python here, unsandboxed."""
    probe = {"memory": 2 * GiB, "cpu": 60, "processes": 64, "file_size": 2**20, "uid": UID_BASE - 1}
    cmd = [_python(), "-I", str(_LAUNCH), json.dumps(probe), "--", _python(), "-c", "import ipykernel"]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=60, check=False, cwd="/")
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _python() -> str:
    """This virtual environment's interpreter, by a path that exists inside the sandbox."""
    return str(Path(sys.prefix).resolve() / "bin" / Path(sys.executable).name)


def _companion_root() -> Path:
    return Path(__file__).resolve().parents[2]


def _visible() -> list[Path]:
    """What the sandbox mounts read-only: system folders, the environments, the package."""
    paths = [Path(p) for p in _SYSTEM]
    paths += [Path(p).resolve() for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}]
    paths.append(_companion_root() / "companion")
    return [p for p in dict.fromkeys(paths) if p.exists()]


def _ancestors(path: Path) -> list[Path]:
    return [p for p in reversed(path.parents) if p != Path("/")]


def _under(path: Path, folders: list[Path]) -> bool:
    return any(path == f or f in path.parents for f in folders)


def _bwrap_args(scratch: Path, limits: Limits, hide: tuple[Path, ...] = ()) -> list[str]:
    """bubblewrap's options: namespaces, the read-only mounts, ``/tmp``, the scratch folder.

    Folders that bubblewrap creates to mount into (``/root`` for a pyenv interpreter) are made
    0755, or the kernel's user could not reach its own Python. Every path of ``hide`` that lies
    inside a mounted folder (and holds none of what the kernel needs) is covered by an empty
    read-only tmpfs.
    """
    args = [bubblewrap() or "bwrap", "--unshare-net", "--unshare-pid", "--unshare-ipc"]
    args += ["--unshare-uts", "--die-with-parent"]  # no --new-session: interrupts reach the group
    # /tmp first: a fresh tmpfs, under which the mounts below can still show a project or an
    # environment that lives in /tmp (mounted after it, they are not hidden by it).
    args += ["--dev", "/dev", "--proc", "/proc", "--perms", "1777", "--size", str(limits.tmp_size)]
    args += ["--tmpfs", "/tmp"]
    mounted: list[Path] = []
    made: set[Path] = set()

    def parents(path: Path) -> None:
        for parent in _ancestors(path):
            if parent not in made and not _under(parent, mounted) and parent != Path("/tmp"):
                args.extend(["--perms", "0755", "--dir", str(parent)])
                made.add(parent)

    for path in sorted(_visible(), key=lambda p: len(p.parts)):
        if _under(path, mounted):
            continue
        parents(path)
        if path.is_symlink():  # /bin -> usr/bin on merged-/usr systems
            args += ["--symlink", os.readlink(path), str(path)]
        else:
            args += ["--ro-bind", str(path), str(path)]
            mounted.append(path)
    scratch = scratch.resolve()
    parents(scratch)
    args += ["--bind", str(scratch), str(scratch), "--chdir", str(scratch)]
    needed = [*_visible(), scratch]
    for path in hide:
        path = Path(path).resolve()
        if _under(path, mounted) and path.is_dir() and not any(_under(p, [path]) for p in needed):
            args += ["--tmpfs", str(path), "--remount-ro", str(path)]
    return args


def kernel_env(scratch: Path) -> dict[str, str]:
    """The kernel's environment: nothing of the grader's but what Python and the course need."""
    keep = ("PATH", "LANG", "LC_ALL", "TZ")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(
        HOME=str(scratch),
        TMPDIR=str(scratch / "tmp"),
        MPLCONFIGDIR=str(scratch / ".matplotlib"),
        IPYTHONDIR=str(scratch / ".ipython"),
        PYTHONPATH=str(_companion_root()),
        COMPANION_PROGRESS="0",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        MPLBACKEND="Agg",
        PYDEVD_DISABLE_FILE_VALIDATION="1",
    )
    return env


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel starts inside the sandbox (see the module's docstring).

    Make it with :meth:`for_scratch`; ``scratch`` is the kernel's writable folder, which holds
    its connection file and Unix sockets; ``hide`` are folders to cover should a read-only
    mount contain them (the chapters, the assignment, the submissions, the grades).
    """

    @classmethod
    def for_scratch(
        cls,
        scratch: Path,
        limits: Limits,
        contained: bool,
        uid: int | None,
        hide: tuple[Path, ...] = (),
        name: str = "kernel",
    ) -> SandboxedKernelManager:
        scratch = Path(scratch).resolve()
        (scratch / "tmp").mkdir(parents=True, exist_ok=True)
        km = cls(
            kernel_name="python3",
            transport="ipc",
            ip=str(scratch / name),
            connection_file=str(scratch / f"{name}.json"),
        )
        # an interrupt as a message, which the kernel turns into SIGINT for itself: a signal to the
        # process group would end bubblewrap, and the kernel with it
        km.kernel_spec.interrupt_mode = "message"
        km.sandbox = {"scratch": scratch, "limits": limits, "contained": contained, "uid": uid, "hide": hide}
        return km

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        settings: dict[str, Any] = self.sandbox
        limits, uid = settings["limits"], settings["uid"]
        if cmd and Path(cmd[0]).name.startswith("python"):
            cmd[0] = _python()
        fields = {k: v for k, v in asdict(limits).items() if k in ("memory", "cpu", "processes", "file_size")}
        launch = [_python(), "-I", str(_LAUNCH), json.dumps({**fields, "uid": uid}), "--", *cmd]
        if uid is not None:
            _give(settings["scratch"], uid)
        if settings["contained"]:
            return [*_bwrap_args(settings["scratch"], limits, settings["hide"]), "--", *launch]
        return launch


def _give(scratch: Path, uid: int) -> None:
    """Hand the scratch folder (and the connection file written into it) to ``uid``."""
    for path in [scratch, *scratch.rglob("*")]:
        os.chown(path, uid, uid, follow_symlinks=False)


def _processes() -> list[tuple[int, int, int, int]]:
    """(pid, ppid, uid, start time) of every process but zombies (dead, not yet reaped)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            uid = os.stat(entry.path).st_uid
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] in ("Z", "X"):
            continue
        found.append((int(entry.name), int(fields[1]), uid, int(fields[19])))
    return found


def _descendants(root_pid: int, procs: list | None = None) -> list[tuple[int, int, int, int]]:
    """Every process below ``root_pid`` (not itself)."""
    children: dict[int, list] = {}
    for p in procs if procs is not None else _processes():
        children.setdefault(p[1], []).append(p)
    mine, todo = [], [root_pid]
    while todo:
        for p in children.get(todo.pop(), []):
            mine.append(p)
            todo.append(p[0])
    return mine


def end_processes(uid: int | None, keep: bool = False, root_pid: int | None = None) -> int:
    """Kill what a kernel left running: every process of ``uid``, except the oldest (the
    kernel) when ``keep``; without a uid of its own, the descendants of ``root_pid`` (the
    kernel, which its launcher became). Returns how many were killed."""
    procs = _processes()
    if uid is not None:
        mine = [p for p in procs if p[2] == uid]
    elif root_pid is not None:
        mine = _descendants(root_pid, procs)
    else:
        return 0
    mine.sort(key=lambda p: p[3])
    if keep and uid is not None and mine:
        mine = mine[1:]
    killed = 0
    for pid, *_ in mine:
        try:
            os.kill(pid, signal.SIGKILL)
            killed += 1
        except OSError:
            pass
    return killed


class ProcessWatch:
    """Cap a kernel's processes where ``RLIMIT_NPROC`` cannot (the grader's own user, root).

    A thread counts the kernel's descendants every ``interval`` seconds and, past ``limit``,
    kills the kernel's process group (``tripped`` is then True): a fork bomb costs the kernel,
    which the grader restarts. A process that leaves the group (``os.setsid``) escapes it. With
    a uid of its own the kernel's fork simply fails past the limit, and no watch is needed.
    """

    def __init__(self, pid: int, limit: int, interval: float = 0.05) -> None:
        self.pid, self.limit, self.interval = pid, limit, interval
        self.tripped = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ProcessWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if len(_descendants(self.pid)) > self.limit:
                self.tripped = True
                end_group(self.pid)
                return


def end_group(pgid: int) -> None:
    """Kill process group ``pgid`` (a kernel started in a session of its own, and every process
    it forked that did not leave the group), again until none is left: forks race the kill."""
    for _ in range(1000):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:  # no process left in the group
            return
        time.sleep(0.001)
