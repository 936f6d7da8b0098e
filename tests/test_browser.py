"""The online book as a reader sees it, in headless Chromium (see browser.py for the checks)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import browser
import pytest
from test_book import ROOT, toc_files

# CI sets this: there a missing browser is a failure, not a skip.
REQUIRED = os.environ.get("COMPANION_REQUIRE_BROWSER") == "1"


def _need_browser() -> None:
    reason = browser.unavailable()
    if reason and REQUIRED:
        pytest.fail(f"COMPANION_REQUIRE_BROWSER=1 but {reason}")
    if reason:
        pytest.skip(f"browser test skipped: {reason}")


@pytest.fixture(scope="module")
def chromium():
    _need_browser()
    with browser.chromium() as instance:
        yield instance


@pytest.fixture(scope="module")
def site(built_book, chromium):
    assert built_book.returncode == 0, built_book.log[-3000:]
    with browser.serve(built_book.html) as base:
        page = browser.new_page(chromium, base)
        yield base, page
        page.close()


@pytest.mark.parametrize("name", toc_files())
def test_page_reads_well_in_a_browser(site, built_book, name):
    base, page = site
    notebook = f"{Path(name).name}.ipynb" if (ROOT / f"{name}.ipynb").exists() else None
    screenshot = built_book.root / "screenshots" / f"{Path(name).name}.png"
    problems = browser.check_page(page, f"{base}{name}.html", screenshot=screenshot, notebook=notebook)
    assert problems == []
    assert screenshot.stat().st_size > 0


def _tiny_book(folder: Path) -> Path:
    """A two-page book with a missing figure and a cell that raises, built without -W."""
    folder.mkdir()
    (folder / "_config.yml").write_text(
        "title: Tiny\nonly_build_toc_files: true\n"
        "execute:\n  execute_notebooks: force\n  allow_errors: true\n"
        "sphinx:\n  config:\n    html_context:\n      default_mode: light\n"
    )
    (folder / "_toc.yml").write_text("format: jb-book\nroot: index\nchapters:\n  - file: broken\n")
    (folder / "index.md").write_text('# Tiny\n\nA figure:\n\n<img src="missing.png" alt="a lost figure">\n')
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "# Broken"},
             {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
              "source": "raise ValueError('boom')"}]  # fmt: skip
    notebook = {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                            "language": "python"}}}  # fmt: skip
    (folder / "broken.ipynb").write_text(json.dumps(notebook))
    jupyter_book = str(Path(sys.executable).parent / "jupyter-book")
    subprocess.run([jupyter_book, "build", str(folder)], check=True, capture_output=True, timeout=600)
    return folder / "_build" / "html"


def test_the_checks_catch_a_missing_figure_and_a_traceback(tmp_path, chromium):
    html = _tiny_book(tmp_path / "tiny")
    with browser.serve(html) as base:
        page = browser.new_page(chromium, base)
        index = browser.check_page(page, f"{base}index.html")
        broken = browser.check_page(page, f"{base}broken.html")
    assert any(p.startswith("image did not load") and "missing.png" in p for p in index), index
    assert any("HTTP 404" in p and "missing.png" in p for p in index), index
    assert "the page shows a Python traceback or error output" in broken, broken
