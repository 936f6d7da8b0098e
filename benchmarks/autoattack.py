"""The chapter 3 headline, evaluated in full: AutoAttack on all 450 test digits, three seeds.

For each training seed (0, 1, 2: initial weights, batch order and PGD's random starts) the
three models of ``companion.adversarial.train_models`` are trained, then attacked on the 450
test digits at eps 0.1 and 0.2 with FGSM, the chapter's PGD (20 steps, 5 restarts) and
AutoAttack (``companion.adversarial.autoattack``, standard settings: APGD-CE and APGD-T with 100
iterations, 9 targets, Square with 5000 queries; no FAB-T). The worst case over every attack is
the robust accuracy. Writes ``companion/results/autoattack.json``, which chapter 3 displays::

    nice -n 10 .venv/bin/python benchmarks/autoattack.py            # about 15 min on one thread
    nice -n 10 .venv/bin/python benchmarks/autoattack.py --seeds 0  # one seed
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from pathlib import Path

import torch

import companion
from companion import adversarial, data

OUT = Path(__file__).resolve().parents[1] / "companion" / "results" / "autoattack.json"
EPS = (0.1, 0.2)


def evaluate_seed(digits, seed: int) -> dict:
    setup = adversarial.Setup(seed=seed)
    trained = adversarial.train_models(digits, setup)
    x, y = digits.x_test, digits.y_test
    rows = {}
    for name, (model, _) in trained.items():
        rows[name] = {}
        for eps in EPS:
            start = time.perf_counter()
            fgsm = adversarial.fgsm_accuracy(model, x, y, eps)
            pgd = adversarial.pgd_robustness(model, x, y, eps, seed=seed)
            auto = adversarial.autoattack(model, x, y, eps, seed=seed)
            both = adversarial.worst_case(pgd, auto)
            rows[name][str(eps)] = {
                "clean": pgd.accuracy_of("clean"),
                "fgsm": fgsm,
                "pgd": pgd.accuracy,
                "autoattack": auto.accuracy,
                "cumulative": {k: auto.accuracy_of(k) for k in auto.robust},
                "worst_case": both.accuracy,
                # digits one attack broke and the other did not (per-example agreement)
                "broken_by_autoattack_only": int((pgd.worst_case & ~auto.worst_case).sum()),
                "broken_by_pgd_only": int((auto.worst_case & ~pgd.worst_case).sum()),
                "seconds": round(time.perf_counter() - start, 1),
            }
            print(seed, name, eps, rows[name][str(eps)], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    warnings.filterwarnings("ignore", module="art")
    companion.seed_everything(0)
    digits = data.load_digits()
    results = {
        "what": "accuracy on the 450 test digits; worst_case = robust to PGD and every AutoAttack attack",
        "n": len(digits.y_test),
        "eps": list(EPS),
        "training": {
            k: getattr(adversarial.Setup(), k) for k in ("eps", "epochs", "batch_size", "train_steps")
        },
        "pgd": {"steps": 20, "restarts": 5},
        "autoattack": {
            k: getattr(adversarial.AutoAttackSetup(), k)
            for k in ("attacks", "apgd_steps", "targets", "square_queries", "square_p_init")
        },
        "torch": torch.__version__,
        "python": platform.python_version(),
        "seeds": {},
    }
    for seed in args.seeds:
        results["seeds"][str(seed)] = evaluate_seed(digits, seed)
        OUT.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
