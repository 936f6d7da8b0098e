"""Shared fixtures: quiet progress bars, a seeded generator, the digits, a trained MLP."""

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import pytest

ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("COMPANION_PROGRESS", "0")
matplotlib.use("Agg")


@pytest.fixture(scope="session")
def digits():
    from companion.data import load_digits

    return load_digits()


@pytest.fixture(scope="session")
def trained_mlp(digits):
    """The shared MLP trained with the default config (about 0.4 s on one CPU)."""
    from companion.training import train_classifier

    model, history = train_classifier(digits, "mlp")
    return model, history


@pytest.fixture(scope="session")
def adversarial_trained(digits):
    """Chapter 3's three models with the chapter's defaults, ``{name: (model, history)}`` (the
    slow part, done once; trained on one thread, as the notebook runs)."""
    from companion import adversarial

    return adversarial.train_models(digits, adversarial.Setup())


@pytest.fixture(scope="session")
def fgsm_at_03(digits):
    """Chapter 3's experiment exercise: FGSM adversarial training at eps 0.3, as the notebook trains it."""
    from companion import adversarial

    ((model, _),) = adversarial.train_models(digits, adversarial.Setup(eps=0.3), names=["fgsm"]).values()
    return model


@pytest.fixture(scope="session")
def boundary_experiment(digits):
    """Chapter 4's experiment with its defaults: config, both models, the attacked digits and the
    boundary attack's result on each model (the lesson's tests and the checks' tests share it)."""
    from companion import boundary

    config = boundary.ExperimentConfig()
    models = boundary.experiment_models(digits, config.T)
    x, y = boundary.attack_set(models, digits.x_test, digits.y_test, config.images)
    results = {
        name: boundary.boundary_attack(boundary.labels_of(model), x, y, config.steps, seed=config.seed)
        for name, model in models.items()
    }
    return config, models, x, y, results


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    """One torch thread, as the chapters' budget assumes: the course's tiny models run fastest
    on one, and two threads fighting on a busy two-core machine made tests up to 10x slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture(scope="session")
def built_book():
    """`jupyter-book build -W --keep-going` of the course into _build/test-book, once per session.

    Returns the exit code, the log and the HTML folder; screenshots go beside it.
    """
    out = ROOT / "_build" / "test-book"
    env = dict(os.environ, COMPANION_PROGRESS="0")
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", "--all", "-W", "--keep-going",
               "--path-output", str(out), str(ROOT)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    return SimpleNamespace(
        returncode=result.returncode,
        log=result.stdout + result.stderr,
        html=out / "_build" / "html",
        root=out,
    )


@pytest.fixture(scope="session")
def student_book():
    """The student edition built by `python -m companion.classroom student-edition` into
    _build/test-student (sources in source/, HTML in source/_build/html), once per session."""
    out = ROOT / "_build" / "test-student"
    command = [sys.executable, "-m", "companion.classroom", "student-edition", str(out)]
    env = dict(os.environ, COMPANION_PROGRESS="0")
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    source = out / "source"
    return SimpleNamespace(
        returncode=result.returncode,
        log=result.stdout + result.stderr,
        source=source,
        html=source / "_build" / "html",
        executed=source / "_build" / "jupyter_execute" / "book",
    )
