"""Launch paths: Binder's requirements in step with the root's, and the Colab cell in every chapter."""

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
import tomllib
import urllib.request
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from companion.classroom.notebooks import (
    ensure_launch_cell,
    launch_cell_problems,
    launch_cell_source,
    repository_url,
)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
URL = repository_url(ROOT / "_config.yml")


def requirements(text: str) -> dict[str, str]:
    """``{package: specifier}`` of a requirements file; options and comments are left out."""
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name, spec = re.match(r"([A-Za-z0-9_.\-\[\]]+)\s*(.*)", line).groups()
        pins[name.lower()] = spec.replace(" ", "")
    return pins


def requirement_differences(root_text: str, binder_text: str) -> list[str]:
    """How binder/requirements.txt strays from the root file: a package the root does not pin,
    or a shared package with another specifier (torch may differ by its ``+cpu`` source only)."""
    root, binder = requirements(root_text), requirements(binder_text)
    problems = [f"{name} only in binder/requirements.txt" for name in sorted(binder.keys() - root.keys())]
    for name in sorted(root.keys() & binder.keys()):
        if name == "torch" and binder[name] == root[name] + "+cpu":
            continue
        if root[name] != binder[name]:
            problems.append(f"{name}: {root[name]!r} vs {binder[name]!r}")
    return problems


def reader_packages() -> set[str]:
    """What a reader's environment needs: the companion's dependencies and the kernel."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {re.match(r"[A-Za-z0-9_.\-]+", spec)[0].lower() for spec in project["dependencies"]}
    return names | {"ipykernel"}


def test_binder_installs_what_readers_need_with_the_root_pins():
    root = (ROOT / "requirements.txt").read_text()
    binder = (ROOT / "binder" / "requirements.txt").read_text()
    assert requirement_differences(root, binder) == []
    assert set(requirements(binder)) == reader_packages(), "no build, test or browser tools on Binder"
    assert "-e ." in root.splitlines() and "-e ." not in binder.splitlines()  # postBuild installs it
    assert any(line.startswith("--extra-index-url") and "/whl/cpu" in line for line in binder.splitlines())
    assert not any(line.startswith("--extra-index-url") for line in root.splitlines())
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    assert "--no-cache-dir" in (ROOT / "binder" / "postBuild").read_text()


def test_the_sync_check_fails_on_a_changed_pin_or_a_package_the_root_lacks():
    root = (ROOT / "requirements.txt").read_text()
    binder = (ROOT / "binder" / "requirements.txt").read_text()
    assert requirement_differences(root, binder + "seaborn>=0.13\n") == [
        "seaborn only in binder/requirements.txt"
    ]
    changed = binder.replace("ipywidgets>=8.1,<9", "ipywidgets>=8.0,<9")
    assert requirement_differences(root, changed) == ["ipywidgets: '>=8.1,<9' vs '>=8.0,<9'"]
    assert requirement_differences(root, binder.replace("torch==2.13.0+cpu", "torch==2.12.0+cpu"))
    assert "pytest" in requirements(root) and "pytest" not in reader_packages()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_every_chapter_starts_with_the_hidden_launch_cell(notebook):
    assert launch_cell_problems(notebook, URL) == []


def test_the_launch_cell_check_fails_on_a_notebook_without_it(tmp_path):
    copy = tmp_path / "chapter.ipynb"
    shutil.copy(NOTEBOOKS[0], copy)
    nb = nbformat.read(copy, as_version=4)
    nb.cells = [c for c in nb.cells if "colab-install" not in c.metadata.get("tags", [])]
    nbformat.write(nb, copy)
    assert "expected one cell tagged 'colab-install', found 0" in launch_cell_problems(copy, URL)[0]
    assert ensure_launch_cell(copy, URL) is True
    assert launch_cell_problems(copy, URL) == []
    assert ensure_launch_cell(copy, URL) is False  # idempotent: refreshed, never duplicated


def _run_launch_cell(hide_companion: bool) -> list[str]:
    """Run the launch cell in a real kernel whose %pip only records that it was called."""
    setup = (
        "import sys\nfrom IPython.core.magic import register_line_magic\ncalls = []\n"
        "@register_line_magic\ndef pip(line):\n    calls.append(line)\n"
    )
    if hide_companion:
        setup += "sys.modules['companion'] = None  # makes `import companion` raise ImportError\n"
    cells = [setup, launch_cell_source(URL), "print(calls)"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, kernel_name="python3", timeout=120).execute()
    return nb.cells[2].outputs[0]["text"].strip()


def test_the_launch_cell_is_a_no_op_where_the_companion_is_importable():
    assert _run_launch_cell(hide_companion=False) == "[]"
    installed = _run_launch_cell(hide_companion=True)
    assert f"companion @ git+{URL}" in installed


def test_launch_cell_source_rejects_a_bad_url():
    with pytest.raises(ValueError, match="url must be an https URL"):
        launch_cell_source("git@github.com:x/y.git")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lab_command() -> list[str]:
    """The command `make lab` runs (from `make -n`, which runs nothing), as a list of arguments."""
    dry = subprocess.run(["make", "-n", "-s", "lab"], cwd=ROOT, capture_output=True, text=True, check=True)
    return shlex.split(dry.stdout.strip().splitlines()[-1])


def test_make_lab_starts_jupyter_lab_on_the_chapters(tmp_path):
    """README's `make lab`: JupyterLab starts (as root too, as in CI) and lists book/'s notebooks."""
    command = lab_command()
    assert command[0].endswith("/jupyter") and command[1] == "lab", command
    port, token = _free_port(), "course-test"
    command += ["--no-browser", f"--port={port}", f"--IdentityProvider.token={token}"]
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path))
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        base = f"http://127.0.0.1:{port}"
        page = None
        for _ in range(120):  # up to 60 s on a busy machine
            if server.poll() is not None:
                pytest.fail(f"{command} exited with {server.returncode}: {server.stderr.read()[-2000:]}")
            try:
                page = urllib.request.urlopen(f"{base}/lab?token={token}", timeout=5).read().decode()
                break
            except OSError:
                time.sleep(0.5)
        assert page is not None and "JupyterLab" in page, "jupyter lab did not answer within 60 s"
        listing = json.loads(urllib.request.urlopen(f"{base}/api/contents/book?token={token}").read())
        assert {p.name for p in NOTEBOOKS} <= {item["name"] for item in listing["content"]}
    finally:
        server.terminate()
        server.wait(timeout=30)
