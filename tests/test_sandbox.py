"""Hostile submissions: each gets the marks of what it answered honestly and a note, nothing
outside its scratch folder is read or changed, and the other students' grades are unaffected.

The bubblewrap part needs ``bwrap``: the set-up installs Debian's ``bubblewrap`` when it is
missing and we are root on Debian, and otherwise skips that part, saying why. The fallback part
(bubblewrap turned off: rlimits and a process watch only) runs everywhere on Linux.
"""

import csv
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest
from demo_chapter import demo_notebook, write_demo_root

from companion.classroom import sandbox
from companion.classroom.assignments import ROOT, fill_with_solutions, make_assignments, role
from companion.classroom.grading import grade

GiB = 2**30
CHECKS = ROOT / "companion" / "classroom" / "checks" / "__init__.py"
LIMITS = {"memory": 3 * GiB, "processes": 64}  # small, so that the bombs hit them fast


def _ensure_bubblewrap() -> str | None:
    """Why bubblewrap cannot be used here, or ``None`` once it can (installed if missing)."""
    if shutil.which("bwrap") is None:
        if os.geteuid() != 0 or not Path("/etc/debian_version").exists():
            return "bwrap is missing and this is not root on Debian, so it cannot be installed"
        subprocess.run(["apt-get", "install", "-y", "bubblewrap"], check=False, capture_output=True)
        sandbox.bubblewrap.cache_clear()
    if sandbox.bubblewrap() is None:
        return "bwrap is installed but cannot build a sandbox here (an unprivileged container?)"
    return None


def _rows(path):
    with path.open(newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()
    }


class _Listener:
    """A TCP server on the grader's loopback that counts connections."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()


def _hostile(tmp: Path, listener: _Listener) -> dict[str, str]:
    """Each hostile student's extra cell, run between the answers and their checks."""
    neighbour = tmp / "submissions" / "honest" / "99_demo.ipynb"
    secrets = [ROOT / "book" / "01_gru_vs_lstm.ipynb", tmp / "course" / "book" / "99_demo.ipynb", neighbour,
               tmp / "handouts" / "assignment.json"]  # fmt: skip
    return {
        "reader": "stolen = []\n"
        f"for path in {[str(p) for p in secrets]!r}:\n"
        "    try:\n"
        "        stolen.append(open(path).read())\n"
        "    except OSError as error:\n"
        "        print(type(error).__name__)\n"
        "import os\n"
        "print(sorted(os.listdir('/tmp')))\n"
        "assert stolen, 'nothing could be read'\n",
        "network": "import _socket\n"
        "s = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)\n"
        f"s.connect(('127.0.0.1', {listener.port}))\n",
        "network2": "import _socket\n"
        "s = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)\n"
        "s.connect(('93.184.216.34', 80))\n",
        "writer": f"for path in {[str(tmp / 'canary.txt'), str(neighbour)]!r}:\n"
        "    try:\n"
        "        open(path, 'a').write('written')\n"
        "    except OSError as error:\n"
        "        print(type(error).__name__)\n"
        f"open({str(CHECKS)!r}, 'a').write('raise SystemExit')\n",
        "forkbomb": "import os\nwhile True:\n    os.fork()\n",
        "membomb": "hog = []\nwhile True:\n    hog.append(bytearray(10**8))\n",
        "loop": "while True:\n    pass\n",
    }


def _grade(tmp: Path, hostile: dict[str, str], limits: sandbox.Limits, jobs: int):
    root = write_demo_root(tmp / "course")
    roster = tmp / "roster.csv"
    students = ["honest", *hostile, "neighbour2"]
    roster.write_text("student,seed\n" + "".join(f"{s},{n}\n" for n, s in enumerate(students, 1)))
    handouts = make_assignments(["99"], roster, tmp / "handouts", root=root, quiz="none")
    for student in students:
        nb = nbformat.read(handouts / student / "99_demo.ipynb", as_version=4)
        fill_with_solutions(nb, demo_notebook())
        if student in hostile:  # right after the seed cell: before both answers and their checks
            at = next(n for n, c in enumerate(nb.cells) if role(c) == "seed") + 1
            nb.cells.insert(at, nbformat.v4.new_code_cell(hostile[student]))
        (tmp / "submissions" / student).mkdir(parents=True)
        nbformat.write(nb, tmp / "submissions" / student / "99_demo.ipynb")
    before = {**_digest(tmp / "submissions"), **_digest(tmp / "handouts"), **_digest(tmp / "course")}
    before[str(CHECKS)] = hashlib.sha256(CHECKS.read_bytes()).hexdigest()
    out = tmp / "grades" / "grades.csv"
    grade(handouts, tmp / "submissions", out, cell_timeout=10, jobs=jobs, limits=limits,
          executed=tmp / "executed")  # fmt: skip
    after = {**_digest(tmp / "submissions"), **_digest(tmp / "handouts"), **_digest(tmp / "course")}
    after[str(CHECKS)] = hashlib.sha256(CHECKS.read_bytes()).hexdigest()
    return _rows(out), before, after


@pytest.fixture(scope="module")
def contained(tmp_path_factory):
    reason = _ensure_bubblewrap()
    if reason:
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("contained")
    listener = _Listener()
    hostile = _hostile(tmp, listener)
    rows, before, after = _grade(tmp, hostile, sandbox.Limits(**LIMITS, sandbox="bubblewrap"), jobs=2)
    return rows, before, after, tmp, listener


def test_every_hostile_submission_gets_its_honest_marks_and_a_note(contained):
    rows, *_ = contained
    for student, row in rows.items():
        assert (row["ex-demo-square"], row["ex-demo-double"], row["score"]) == ("3", "3", "6"), (student, row)
    assert rows["honest"]["notes"] == "" and rows["neighbour2"]["notes"] == ""
    assert (
        "a cell before the exercises (cell 4) raised AssertionError: nothing could be read"
        in (rows["reader"]["notes"])
    )
    assert "raised ConnectionRefusedError" in rows["network"]["notes"]  # its own, empty loopback
    assert "raised OSError: [Errno 101] Network is unreachable" in rows["network2"]["notes"]
    assert f"raised PermissionError: [Errno 13] Permission denied: '{CHECKS}'" in rows["writer"]["notes"]
    assert "a cell before the exercises (cell 4)" in rows["forkbomb"]["notes"]
    assert "processes running (ended)" in rows["forkbomb"]["notes"]
    assert "ran out of memory (the limit is 3 GiB): kernel restarted" in rows["membomb"]["notes"]
    assert (
        "a cell before the exercises (cell 4) was still running after 10 s: interrupted"
        in (rows["loop"]["notes"])
    )


def test_nothing_outside_the_scratch_folder_is_read_or_changed(contained):
    rows, before, after, tmp, listener = contained
    assert before == after, "no submission, handout or solution changed"
    assert not (tmp / "canary.txt").exists()
    assert listener.connections == 0, "the grader's loopback was not reachable"
    reader = nbformat.read(tmp / "executed" / "reader" / "99_demo.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for o in reader.cells[4].outputs)
    assert printed.split("\n")[:4] == ["FileNotFoundError"] * 4, printed
    assert "'grading-" in printed and "pytest" not in printed, "/tmp shows its own scratch folder only"
    assert "SECRET" not in json.dumps(reader.cells[4].outputs), "no solution reached the output"
    writer = nbformat.read(tmp / "executed" / "writer" / "99_demo.ipynb", as_version=4)
    assert "".join(o.get("text", "") for o in writer.cells[4].outputs) == "FileNotFoundError\n" * 2


def test_without_bubblewrap_the_limits_still_hold_and_the_grader_says_so(tmp_path, capsys):
    hostile = {
        "forkbomb": "import os, time\nwhile True:\n    if os.fork() == 0:\n        time.sleep(60)\n"
        "        os._exit(0)\n",  # linear, so that a watch by polling is safe on a shared machine
        "membomb": "hog = []\nwhile True:\n    hog.append(bytearray(10**8))\n",
        "loop": "while True:\n    pass\n",
    }
    sandbox._WARNED.clear()
    with pytest.warns(sandbox.SandboxWarning, match="GRADING WITHOUT A SANDBOX"):
        rows, *_ = _grade(tmp_path, hostile, sandbox.Limits(**LIMITS, sandbox="none"), jobs=1)
    assert "GRADING WITHOUT A SANDBOX" in capsys.readouterr().err
    for student, row in rows.items():
        assert row["score"] == "6", (student, row)
    forkbomb = rows["forkbomb"]["notes"]
    assert "more than 64 processes" in forkbomb or "Resource temporarily unavailable" in forkbomb, forkbomb
    assert "ran out of memory (the limit is 3 GiB)" in rows["membomb"]["notes"]
    assert "was still running after 10 s: interrupted" in rows["loop"]["notes"]


def test_the_launcher_caps_cpu_time():
    limits = {"memory": GiB, "cpu": 1, "processes": 64, "file_size": 2**20, "uid": None}
    launch = Path(sandbox.__file__).with_name("_sandbox_launch.py")
    busy = [sys.executable, "-c", "while True: pass"]
    done = subprocess.run([sys.executable, "-I", str(launch), json.dumps(limits), "--", *busy], timeout=30)
    assert done.returncode < 0, "ended by SIGXCPU or SIGKILL"


def test_limits_refuse_bad_values():
    with pytest.raises(ValueError, match="limits.memory must be an int >= 268435456"):
        sandbox.Limits(memory=10)
    with pytest.raises(ValueError, match="limits.sandbox must be 'auto', 'bubblewrap' or 'none'"):
        sandbox.Limits(sandbox="docker")


def test_a_course_kept_under_tmp_is_still_visible_inside_the_sandbox(tmp_path, monkeypatch):
    """The sandbox's own /tmp is a fresh tmpfs; a course (or an environment) that lives under /tmp
    must be mounted over it, not hidden by it, or the kernel cannot import the companion."""
    reason = _ensure_bubblewrap()
    if reason:
        pytest.skip(reason)
    course = tmp_path / "course"  # pytest's tmp_path lies under /tmp
    (course / "companion").mkdir(parents=True)
    (course / "companion" / "marker.txt").write_text("visible")
    (tmp_path / "secret.txt").write_text("hidden")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(sandbox, "_companion_root", lambda: course)
    args = sandbox._bwrap_args(scratch, sandbox.Limits(**LIMITS))
    read = "import pathlib, sys; print([pathlib.Path(p).exists() for p in sys.argv[1:]])"
    targets = [course / "companion" / "marker.txt", tmp_path / "secret.txt"]
    command = [*args, sys.executable, "-c", read, *map(str, targets)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[True, False]"  # the course is seen, the rest of /tmp is not
