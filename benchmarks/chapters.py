"""Time every chapter and every cell in a fresh kernel on one CPU thread; report peak memory.

Usage::

    python benchmarks/chapters.py                 # every notebook in book/
    python benchmarks/chapters.py book/01_*.ipynb # some of them
    python benchmarks/chapters.py --executed /tmp/bench book/05_*.ipynb  # keep the outputs
    python benchmarks/chapters.py --check-progress book/01_*.ipynb       # bars on, see below

Each notebook runs in its own kernel, started by its own Python process, with
``OMP_NUM_THREADS=1`` and a first cell ``torch.set_num_threads(1)`` added in
memory (the file is not changed). Wall time covers kernel start to the last
cell; a cell's time is the kernel's own (from its ``execute_input`` to its
``execute_reply``); peak memory is the kernel's maximum resident set size. The
kernel's CPU time (user and system, start to exit) is printed beside the wall
time: on a machine shared with other work the wall time grows with the load,
the CPU time much less, so it says what the chapter costs a reader's idle
machine. The budgets apply to the wall time.

The budgets are a reader's: a chapter within :data:`BUDGET_SECONDS`, no cell
over :data:`BUDGET_CELL_SECONDS` and a peak under :data:`BUDGET_MB`. The script
prints a Markdown table with each chapter's slowest cell, then the slowest cells
of all, names every chapter and cell over budget and exits with 1 if there is one.

Progress bars are off (``COMPANION_PROGRESS=0``) so that they cost no time. With
``--check-progress`` they are on, and a cell that takes longer than
:data:`PROGRESS_SECONDS` without showing a progress bar (a ``tqdm`` widget or
text bar) also counts as over budget.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 30.0  # a chapter, kernel start to last cell
BUDGET_CELL_SECONDS = 10.0  # one cell: longer and a reader loses the thread
BUDGET_MB = 1024.0  # peak resident memory of the kernel
PROGRESS_SECONDS = 2.0  # a cell longer than this shows a progress bar
SLOWEST = 10  # cells listed after the table
SETUP = "import torch\ntorch.set_num_threads(1)\nassert torch.get_num_threads() == 1"
WIDGET = "application/vnd.jupyter.widget-view+json"


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def cell_seconds(cell: dict) -> float | None:
    """The kernel's time for an executed code cell (nbclient's timing metadata), or None."""
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return None
    return (_timestamp(end) - _timestamp(start)).total_seconds()


def shows_progress(cell: dict) -> bool:
    """True when a cell's outputs hold a tqdm bar: an ipywidgets view or a text bar on stderr."""
    for output in cell.get("outputs", []):
        if WIDGET in output.get("data", {}):
            return True
        text = output.get("text", "") if output.get("name") == "stderr" else ""
        if "|" in text and "it" in text:
            return True
    return False


def run_one(path: Path, executed: Path | None) -> None:
    """Execute ``path`` in a fresh kernel; print a JSON line with its times and memory."""
    import nbformat
    from nbclient import NotebookClient

    from companion.runtime import poll_kernels_in_slices

    poll_kernels_in_slices()  # a lost wake-up would add the whole timeout to a chapter's time
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(SETUP))
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    # The kernel was this process's child; once it has exited, RUSAGE_CHILDREN holds its peak RSS (KiB)
    # and its CPU time.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_mb, cpu = usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime
    nb.cells.pop(0)  # the setup cell: indices below are the notebook's own
    cells = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or (cell_time := cell_seconds(cell)) is None:
            continue
        first = next((line for line in cell.source.splitlines() if line.strip()), "")
        cells.append({"index": index, "seconds": cell_time, "line": first[:60], "bar": shows_progress(cell)})
    if executed is not None:
        executed.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, executed / path.name)
    record = {"notebook": path.name, "seconds": seconds, "cpu_seconds": cpu, "peak_mb": peak_mb}
    print(json.dumps({**record, "cells": cells}))


def problems(record: dict, check_progress: bool) -> list[str]:
    """What in one notebook's record breaks the budget, one sentence each."""
    name, found = record["notebook"], []
    if record["seconds"] > BUDGET_SECONDS:
        found.append(f"{name}: {record['seconds']:.1f} s in all (budget {BUDGET_SECONDS:.0f} s)")
    if record["peak_mb"] > BUDGET_MB:
        found.append(f"{name}: peak memory {record['peak_mb']:.0f} MB (budget {BUDGET_MB:.0f} MB)")
    for cell in record["cells"]:
        where = f"{name} cell {cell['index']} ({cell['line']!r})"
        if cell["seconds"] > BUDGET_CELL_SECONDS:
            found.append(f"{where}: {cell['seconds']:.1f} s (budget {BUDGET_CELL_SECONDS:.0f} s)")
        if check_progress and cell["seconds"] > PROGRESS_SECONDS and not cell["bar"]:
            found.append(f"{where}: {cell['seconds']:.1f} s without a progress bar")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks (default: book/*.ipynb)")
    parser.add_argument("--executed", type=Path, help="write each executed notebook into this folder")
    parser.add_argument(
        "--check-progress",
        action="store_true",
        help=f"progress bars on; a cell over {PROGRESS_SECONDS:.0f} s without one fails",
    )
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(args.one, args.executed)
        return 0

    notebooks = args.notebooks or sorted((ROOT / "book").glob("*.ipynb"))
    progress = "1" if args.check_progress else "0"
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", COMPANION_PROGRESS=progress)
    extra = ["--executed", str(args.executed.resolve())] if args.executed else []
    rows, found, cells = [], [], []
    for path in notebooks:
        result = subprocess.run(
            [sys.executable, __file__, "--one", str(path.resolve()), *extra],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if result.returncode != 0:
            print(result.stderr[-2000:], file=sys.stderr)
            rows.append(f"| {path.name} | failed | | | | no |")
            found.append(f"{path.name}: failed to run")
            continue
        record = json.loads(result.stdout.strip().splitlines()[-1])
        mine = problems(record, args.check_progress)
        found += mine
        cells += [dict(cell, notebook=record["notebook"]) for cell in record["cells"]]
        slowest = max(record["cells"], key=lambda cell: cell["seconds"], default=None)
        slow = f"{slowest['seconds']:.1f} (cell {slowest['index']})" if slowest else "-"
        rows.append(
            f"| {record['notebook']} | {record['seconds']:.1f} | {record['cpu_seconds']:.1f} | {slow} | "
            f"{record['peak_mb']:.0f} | "
            f"{'no' if mine else 'yes'} |"
        )
    print(
        f"One CPU thread (torch.set_num_threads(1)); budget {BUDGET_SECONDS:.0f} s per chapter, "
        f"{BUDGET_CELL_SECONDS:.0f} s per cell, {BUDGET_MB:.0f} MB.\n"
    )
    columns = ["notebook", "wall time (s)", "kernel CPU (s)", "slowest cell (s)", "peak memory (MB)"]
    print("| " + " | ".join([*columns, "within budget"]) + " |")
    print("| --- | ---: | ---: | ---: | ---: | :---: |")
    print("\n".join(rows))
    print("\nSlowest cells (s):")
    for cell in sorted(cells, key=lambda cell: -cell["seconds"])[:SLOWEST]:
        bar = ", progress bar" if cell["bar"] else ""
        print(f"  {cell['seconds']:6.1f}  {cell['notebook']} cell {cell['index']}{bar}: {cell['line']}")
    if found:
        print("\nOver budget:", *found, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
