"""The book as a whole: its configuration, its notebooks, and the -W build."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def _toc_files(entries):
    for entry in entries:
        if "file" in entry:
            yield entry["file"]
        yield from _toc_files(entry.get("chapters", []) + entry.get("sections", []))


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"], *_toc_files(toc.get("parts", []) + toc.get("chapters", []))]


def test_toc_lists_only_existing_pages_and_every_notebook():
    files = toc_files()
    for name in files:
        assert any((ROOT / f"{name}{ext}").exists() for ext in ("", ".md", ".ipynb")), name
    for notebook in NOTEBOOKS:
        assert f"book/{notebook.stem}" in files, f"{notebook.name} is missing from _toc.yml"


def test_config_executes_notebooks_strictly_and_has_launch_buttons():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] in ("cache", "force")
    assert config["execute"]["raise_on_error"] is True and config["execute"]["timeout"] > 0
    assert config["repository"]["url"].startswith("https://github.com/")
    assert config["repository"]["branch"] == "main"
    assert config["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert config["launch_buttons"]["notebook_interface"] == "jupyterlab"
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert "sphinx_exercise" in config["sphinx"]["extra_extensions"]
    assert config["bibtex_bibfiles"] == ["book/references.bib"]
    assert config["only_build_toc_files"] is True
    assert ".venv" in config["exclude_patterns"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_committed_clean_and_seeded(notebook):
    nb = json.loads(notebook.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), (
        f"{notebook.name} has outputs: commit notebooks without outputs"
    )
    source = "\n".join("".join(c["source"]) for c in code)
    assert "import companion" in source and "seed_everything(" in source
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


def test_book_builds_with_zero_warnings(tmp_path):
    """`jupyter-book build -W --keep-going .` executes every notebook; any warning fails it."""
    env = dict(os.environ, COMPANION_PROGRESS="0")
    command = [
        str(Path(sys.executable).parent / "jupyter-book"),
        "build",
        "-W",
        "--keep-going",
        "--path-output",
        str(tmp_path),
        str(ROOT),
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    log = result.stdout + result.stderr
    warnings = [line for line in log.splitlines() if "WARNING" in line and "running over TCP" not in line]
    assert result.returncode == 0 and not warnings, "\n".join(warnings) or log[-3000:]
    html = tmp_path / "_build" / "html"
    for name in toc_files():
        assert (html / f"{name}.html").exists(), name
    page = (html / "book" / "00_getting_started.html").read_text()
    assert (
        "mybinder.org/v2/gh/gates-gradients-adversaries/course/main"
        "?urlpath=lab/tree/book/00_getting_started.ipynb"
    ) in page
