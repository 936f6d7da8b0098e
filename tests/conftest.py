"""Shared fixtures: quiet progress bars, a seeded generator, the digits, a trained MLP."""

import os
import shutil
import subprocess
import sys
import time
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


# --- The book as a PDF (`make pdf`) ---------------------------------------------------------------

PDF_NAME = "gates-gradients-adversaries"  # _config.yml's latex.latex_documents.targetname
TEX_PROGRAMS = ("xelatex", "latexmk", "xindy")


def _need_tex() -> None:
    """Skip (or, with COMPANION_REQUIRE_PDF=1 as in CI, fail) when Debian's TeX is missing."""
    missing = [p for p in TEX_PROGRAMS if shutil.which(p) is None]
    if missing:
        reason = f"TeX is missing ({', '.join(missing)}): `make tex` installs Debian's TeX packages"
        if os.environ.get("COMPANION_REQUIRE_PDF") == "1":
            pytest.fail(f"COMPANION_REQUIRE_PDF=1 but {reason}")
        pytest.skip(reason)


def _latex_build(source: Path, build: Path, env: dict) -> SimpleNamespace:
    """`jupyter-book build -W --keep-going --builder pdflatex` of ``source`` into ``build``, the
    folder of its HTML build: Sphinx reuses that build's environment, so no notebook runs twice."""
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", "-W", "--keep-going",
               "--builder", "pdflatex", "--path-output", str(build.parent), str(source)]  # fmt: skip
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    return SimpleNamespace(
        returncode=result.returncode,
        log=result.stdout + result.stderr,
        pdf=build / "latex" / f"{PDF_NAME}.pdf",
        seconds=time.perf_counter() - start,
    )


@pytest.fixture(scope="session")
def book_pdf(built_book):
    """The book's PDF, from the HTML build's environment (nothing is executed again)."""
    _need_tex()
    assert built_book.returncode == 0, built_book.log[-3000:]
    env = dict(os.environ, COMPANION_PROGRESS="0")
    return _latex_build(ROOT, built_book.root / "_build", env)


@pytest.fixture(scope="session")
def student_pdf(student_book):
    """The student edition's PDF, built the same way from the student edition's sources."""
    _need_tex()
    assert student_book.returncode == 0, student_book.log[-3000:]
    env = dict(os.environ, COMPANION_PROGRESS="0", COMPANION_EDITION="student")
    return _latex_build(student_book.source, student_book.source / "_build", env)


@pytest.fixture(scope="session")
def hosted_pdfs(book_pdf, student_pdf, built_book, student_book):
    """Both PDFs in each website's pdf/ folder, where the intro page links them (as `make pdf`
    puts them); the student website gets the student PDF only."""
    assert book_pdf.returncode == 0 and student_pdf.returncode == 0, (book_pdf.log + student_pdf.log)[-3000:]
    for folder in (built_book.html / "pdf", student_book.html / "pdf"):
        folder.mkdir(exist_ok=True)
        shutil.copy(student_pdf.pdf, folder / f"{PDF_NAME}-student.pdf")
    shutil.copy(book_pdf.pdf, built_book.html / "pdf" / f"{PDF_NAME}.pdf")
