"""The book as a whole: its configuration, its notebooks, and the -W build."""

import json
import re
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


def toc_files(root: Path = ROOT) -> list[str]:
    """The pages of the table of contents of the book at ``root`` (the student edition drops some)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    return [toc["root"], *_toc_files(toc.get("parts", []) + toc.get("chapters", []))]


def test_toc_lists_only_existing_pages_and_every_notebook():
    files = toc_files()
    for name in files:
        assert any((ROOT / f"{name}{ext}").exists() for ext in ("", ".md", ".ipynb")), name
    for notebook in NOTEBOOKS:
        assert f"book/{notebook.stem}" in files, f"{notebook.name} is missing from _toc.yml"


def test_config_executes_notebooks_strictly_and_has_launch_buttons():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "force"
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


def test_bibliography_parses_strictly_and_cites_resolve():
    """The bibliography is read by pybtex as sphinxcontrib-bibtex reads it, with every error an
    exception, so a missing brace fails here in a second, not as a crashed build minutes later.
    Every {cite}/{cite:p}/{cite:t} key used in the book is an entry of it."""
    from pybtex import errors
    from pybtex.database import parse_file

    strict = errors.strict
    errors.set_strict_mode(True)
    try:
        entries = parse_file(str(ROOT / "book" / "references.bib")).entries
    finally:
        errors.set_strict_mode(strict)
    pages = [*NOTEBOOKS, *(ROOT / "book").glob("*.md")]
    cited = {
        key.strip()
        for page in pages
        for keys in re.findall(r"\{cite(?::[a-z]+)?\}`([^`]+)`", page.read_text())
        for key in keys.split(",")
    }
    assert cited, "no citation found: the pattern no longer matches the book's cite roles"
    assert not cited - set(entries), f"cited but not in references.bib: {sorted(cited - set(entries))}"


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


def test_book_builds_with_zero_warnings(built_book):
    """`jupyter-book build -W --keep-going .` executes every notebook; any warning fails it."""
    lines = built_book.log.splitlines()
    warnings = [line for line in lines if "WARNING" in line and "running over TCP" not in line]
    assert built_book.returncode == 0 and not warnings, "\n".join(warnings) or built_book.log[-3000:]
    for name in toc_files():
        assert (built_book.html / f"{name}.html").exists(), name


def executed(built_book, notebook: Path) -> dict:
    """``notebook`` as the book build executed it."""
    return json.loads((built_book.root / "_build" / "jupyter_execute" / "book" / notebook.name).read_text())


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_top_to_bottom_in_a_fresh_kernel(built_book, notebook):
    """What `pytest --nbval-lax` checks (every code cell runs, in order, in a fresh kernel, without
    an error), checked on the build's own execution so that a test run executes each notebook
    once: the build runs each notebook in a new kernel (execution counts start at 1) and stops at
    an error (`raise_on_error`); here every code cell must have run, in order, with no error
    output. `make nbval` (or `pytest book/NN_x.ipynb`) runs nbval itself."""
    assert built_book.returncode == 0, built_book.log[-3000:]
    source = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
    cells = [c for c in executed(built_book, notebook)["cells"] if c["cell_type"] == "code"]
    assert len(cells) == len(source), f"{notebook.name}: the build has {len(cells)} code cells"
    counts = [c["execution_count"] for c in cells]
    assert counts == list(range(1, len(cells) + 1)), f"{notebook.name}: cells ran as {counts}"
    errors = [(c.get("id"), o["ename"]) for c in cells for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, f"{notebook.name}: cells that raised: {errors}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_each_chapter_page_launches_its_own_notebook(built_book, notebook):
    """Binder (JupyterLab) and Colab buttons point at the page's notebook; the Colab cell is hidden."""
    page = (built_book.html / "book" / f"{notebook.stem}.html").read_text()
    repo = "gates-gradients-adversaries/course"
    assert f"mybinder.org/v2/gh/{repo}/main?urlpath=lab/tree/book/{notebook.name}" in page
    assert f"colab.research.google.com/github/{repo}/blob/main/book/{notebook.name}" in page
    assert "git+https" not in page, "the Colab install cell must be hidden (remove-cell)"
    assert "Traceback (most recent call last)" not in page


def _widget_draws_images(nb: dict, model_id: str) -> bool:
    """Whether the saved widget ``model_id`` (or a widget inside it) shows an image."""
    state = nb["metadata"].get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    models, todo, seen = state.get("state", {}), [model_id], set()
    while todo:
        model = models.get(todo.pop(), {}).get("state", {})
        if any("image/png" in o.get("data", {}) for o in model.get("outputs", [])):
            return True
        refs = set(re.findall(r"IPY_MODEL_([0-9a-f]+)", json.dumps(model))) - seen
        seen |= refs
        todo += refs
    return False


def figure_cells(nb: dict) -> list[dict]:
    """The code cells of an executed notebook that show a figure: an image output, or a widget
    (an explorer) that draws one."""
    cells = []
    for cell in nb["cells"]:
        data = [o.get("data", {}) for o in cell.get("outputs", [])]
        images = any(k.startswith("image/") for d in data for k in d)
        views = [d["application/vnd.jupyter.widget-view+json"]["model_id"] for d in data
                 if "application/vnd.jupyter.widget-view+json" in d]  # fmt: skip
        if images or any(_widget_draws_images(nb, v) for v in views):
            cells.append(cell)
    return cells


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_every_figure_cell_describes_its_figure(built_book, notebook):
    """Alternative text for every figure (WCAG 1.1.1), in the cell metadata `mystnb: image: alt:`
    (for an explorer, book/_ext/accessibility.py hands it to the widget's image): what the figure
    shows, in a sentence or more. One figure per cell, so that each gets its own text."""
    cells = figure_cells(executed(built_book, notebook))
    assert cells, "every chapter has figures"
    for cell in cells:
        alt = cell["metadata"].get("mystnb", {}).get("image", {}).get("alt", "")
        images = sum(any(k.startswith("image/") for k in o.get("data", {})) for o in cell["outputs"])
        where = f"{notebook.name}, cell {cell.get('id')} ({''.join(cell['source'])[:50]!r})"
        assert len(alt.split()) >= 12, f"{where}: no alt text that says what the figure shows"
        assert images <= 1 or cell.get("id") in TWO_FIGURE_CELLS, f"{where}: {images} figures in one cell"


# A cell whose one call returns two figures (its alt text describes both).
TWO_FIGURE_CELLS = {"e001f3ed"}  # 03: adversarial.example_figures, the digits and the perturbations
