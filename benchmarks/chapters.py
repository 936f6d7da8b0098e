"""Time every chapter in a fresh kernel on one CPU thread and report peak memory.

Usage::

    python benchmarks/chapters.py                 # every notebook in book/
    python benchmarks/chapters.py book/01_*.ipynb # some of them

Each notebook runs in its own kernel, started by its own Python process, with
``OMP_NUM_THREADS=1`` and a first cell ``torch.set_num_threads(1)`` added in
memory (the file is not changed). Wall time covers kernel start to the last
cell; peak memory is the kernel's maximum resident set size. Prints a Markdown
table and exits with 1 if a notebook breaks the budget (60 s, 1.5 GB).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 60.0
BUDGET_MB = 1536.0
SETUP = "import torch\ntorch.set_num_threads(1)\nassert torch.get_num_threads() == 1"


def run_one(path: Path) -> None:
    """Execute ``path`` in a fresh kernel; print a JSON line with time and memory."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(SETUP))
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    # The kernel was this process's child; once it has exited, RUSAGE_CHILDREN holds its peak RSS (KiB).
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"notebook": path.name, "seconds": seconds, "peak_mb": peak_mb}))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks (default: book/*.ipynb)")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(args.one)
        return 0

    notebooks = args.notebooks or sorted((ROOT / "book").glob("*.ipynb"))
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", COMPANION_PROGRESS="0")
    rows, over = [], False
    for path in notebooks:
        result = subprocess.run(
            [sys.executable, __file__, "--one", str(path.resolve())],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if result.returncode != 0:
            print(result.stderr[-2000:], file=sys.stderr)
            rows.append(f"| {path.name} | failed | failed | no |")
            over = True
            continue
        record = json.loads(result.stdout.strip().splitlines()[-1])
        ok = record["seconds"] <= BUDGET_SECONDS and record["peak_mb"] <= BUDGET_MB
        over |= not ok
        rows.append(
            f"| {record['notebook']} | {record['seconds']:.1f} | {record['peak_mb']:.0f} | "
            f"{'yes' if ok else 'NO'} |"
        )
    print(
        f"One CPU thread (torch.set_num_threads(1)); budget {BUDGET_SECONDS:.0f} s and {BUDGET_MB:.0f} MB.\n"
    )
    print("| notebook | wall time (s) | peak memory (MB) | within budget |")
    print("| --- | ---: | ---: | :---: |")
    print("\n".join(rows))
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
