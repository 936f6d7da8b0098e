"""Maintenance of the course's notebooks: the launch cell that makes a chapter run on Colab.

Each chapter starts with one short cell, tagged ``remove-cell`` so the online
book hides it, that installs the companion from the course's repository only
when ``import companion`` fails (a fresh Colab runtime); everywhere else
(Binder, a local checkout, the book build) it does nothing. The repository URL
comes from the one place that names it: ``repository.url`` in ``_config.yml``.

Run ``python -m companion.classroom.notebooks`` from the repository root to add or refresh
the cell in every notebook under ``book/``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nbformat
import yaml

__all__ = [
    "LAUNCH_TAG",
    "ensure_launch_cell",
    "launch_cell_problems",
    "launch_cell_source",
    "repository_url",
]

LAUNCH_TAG = "colab-install"  # marks the cell, so it is found and refreshed, never duplicated
HIDE_TAG = "remove-cell"  # Jupyter Book leaves the cell out of the online page


def repository_url(config_path: str | Path = "_config.yml") -> str:
    """``repository.url`` from the book's ``_config.yml``."""
    config = yaml.safe_load(Path(config_path).read_text())
    url = (config.get("repository") or {}).get("url")
    if not isinstance(url, str) or not url.startswith("https://"):
        raise ValueError(f"repository.url in {config_path} must be an https URL, got {url!r}")
    return url.rstrip("/")


def launch_cell_source(url: str) -> str:
    """The cell's code: install the companion from ``url`` only if it cannot be imported."""
    if not isinstance(url, str) or not url.startswith("https://"):
        raise ValueError(f"url must be an https URL of the course repository, got {url!r}")
    return (
        "# Colab, or anywhere the course is not installed: fetch the companion. Elsewhere a no-op.\n"
        "try:\n"
        "    import companion  # noqa: F401\n"
        "except ImportError:\n"
        f'    %pip install --quiet "companion @ git+{url}"'
    )


def ensure_launch_cell(path: str | Path, url: str) -> bool:
    """Insert or refresh the launch cell as the first code cell of the notebook at ``path``.

    Returns True when the file changed. Outputs of other cells are left alone.
    """
    path = Path(path)
    if path.suffix != ".ipynb":
        raise ValueError(f"path must be a .ipynb notebook, got {path.name!r}")
    nb = nbformat.read(path, as_version=4)
    source = launch_cell_source(url)
    existing = [c for c in nb.cells if LAUNCH_TAG in c.get("metadata", {}).get("tags", [])]
    if len(existing) == 1 and existing[0].source == source:
        return False
    nb.cells = [c for c in nb.cells if c not in existing]
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [LAUNCH_TAG, HIDE_TAG]})
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
    nb.cells.insert(first_code, cell)
    nbformat.write(nb, path)
    return True


def launch_cell_problems(path: str | Path, url: str) -> list[str]:
    """What is wrong with the notebook's launch cell; an empty list when all is well."""
    nb = nbformat.read(Path(path), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    cells = [c for c in code if LAUNCH_TAG in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        return [f"{Path(path).name}: expected one cell tagged {LAUNCH_TAG!r}, found {len(cells)}"]
    cell, problems = cells[0], []
    if code[0] is not cell:
        problems.append(f"{Path(path).name}: the launch cell must be the first code cell")
    if HIDE_TAG not in cell.metadata.get("tags", []):
        problems.append(f"{Path(path).name}: the launch cell must be tagged {HIDE_TAG!r}")
    if cell.source != launch_cell_source(url):
        problems.append(
            f"{Path(path).name}: the launch cell is out of date (python -m companion.classroom.notebooks)"
        )
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description="Add or refresh the Colab launch cell in every chapter.")
    parser.add_argument("--root", type=Path, default=Path("."), help="repository root (default: .)")
    args = parser.parse_args()
    url = repository_url(args.root / "_config.yml")
    for path in sorted((args.root / "book").glob("*.ipynb")):
        if ensure_launch_cell(path, url):
            print(f"updated {path}")


if __name__ == "__main__":
    main()
