"""Shared fixtures: quiet progress bars, a seeded generator, the digits, a trained MLP."""

import os
import shutil
import subprocess
import sys
import threading
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


# --- The two book builds, each executing every notebook once, in the background -------------------
#
# A build executes each notebook of its edition once, in a fresh kernel (myst-nb, `force` mode,
# `raise_on_error`): the instructors' book for the -W build, the figure, prose-number, browser and
# PDF checks, and for the nbval-style check that every cell runs (tests/test_book.py); the student
# edition for its own. Both start as soon as pytest knows a selected test needs them and run on
# their own cores while the unit tests run; their tests are ordered last and wait for them. When a
# selected test needs the PDFs and TeX is there, each edition's PDF is built from its HTML build's
# environment right after it, still in the background, while the other tests run.

BOOK = ROOT / "_build" / "test-book"
STUDENT = ROOT / "_build" / "test-student"
# The fixtures that need each build (`item.fixturenames` holds every fixture a test uses,
# directly or through other fixtures).
NEEDS_BOOK = {"built_book", "book_pdf", "hosted_pdfs", "executed_notebooks"}
NEEDS_STUDENT = {"student_book", "student_pdf", "hosted_pdfs"}
NEEDS_PDF = {"book_pdf", "student_pdf", "hosted_pdfs"}
# The modules whose tests ask for the PDFs through request.getfixturevalue.
PDF_MODULES = {"test_pdf.py", "test_browser.py"}
_builds: dict[str, SimpleNamespace] = {}


def _build_commands() -> dict[str, tuple[list[str], Path]]:
    """Each edition's build command and the folder it builds into."""
    jupyter_book = str(Path(sys.executable).parent / "jupyter-book")
    book = [jupyter_book, "build", "--all", "-W", "--keep-going", "--path-output", str(BOOK), str(ROOT)]
    student = [sys.executable, "-m", "companion.classroom", "student-edition", str(STUDENT)]
    return {"book": (book, BOOK), "student": (student, STUDENT)}


def _pdf_inputs(edition: str) -> tuple[Path, Path, dict]:
    """The source folder, the HTML build's folder and the environment of ``edition``'s PDF build."""
    if edition == "book":
        return ROOT, BOOK / "_build", dict(os.environ, COMPANION_PROGRESS="0")
    source = STUDENT / "source"
    return source, source / "_build", dict(os.environ, COMPANION_PROGRESS="0", COMPANION_EDITION="student")


def _run_edition(edition: str, state: SimpleNamespace, with_pdf: bool) -> None:
    """The background thread of one edition: its HTML build, then (``with_pdf``) its PDF."""
    command, out = _build_commands()[edition]
    env = dict(os.environ, COMPANION_PROGRESS="0")
    start = time.perf_counter()
    with state.log.open("w") as stream:
        process = subprocess.Popen(command, stdout=stream, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        state.process = process
        try:
            state.returncode = process.wait(timeout=1800)
        except subprocess.TimeoutExpired:
            process.kill()
            state.returncode = process.wait()
    state.html_seconds = time.perf_counter() - start
    state.html_done.set()
    if with_pdf and state.returncode == 0:
        state.pdf = _latex_build(*_pdf_inputs(edition))
    state.pdf_done.set()


def _start_build(edition: str, with_pdf: bool = False) -> None:
    """Start ``edition``'s build in the background (once per session), its log beside its folder."""
    if edition in _builds:
        return
    out = _build_commands()[edition][1]
    out.parent.mkdir(parents=True, exist_ok=True)
    state = SimpleNamespace(
        log=out.with_suffix(".log"), returncode=None, pdf=None, html_seconds=None,
        html_done=threading.Event(), pdf_done=threading.Event(),
    )  # fmt: skip
    state.thread = threading.Thread(target=_run_edition, args=(edition, state, with_pdf), daemon=True)
    _builds[edition] = state
    state.thread.start()


def _finish_build(edition: str) -> tuple[int, str]:
    """Wait for ``edition``'s HTML build (starting it if no test started it yet): exit code and log."""
    _start_build(edition)
    state = _builds[edition]
    state.html_done.wait()
    return state.returncode, state.log.read_text()


def _finish_pdf(edition: str) -> SimpleNamespace:
    """``edition``'s PDF: the background one when it was built, else built now."""
    state = _builds[edition]
    state.pdf_done.wait()
    return state.pdf if state.pdf is not None else _latex_build(*_pdf_inputs(edition))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Mark the tests that need a book build `build` (so `pytest -m "not build"` leaves them and
    their builds out) and run them last, after the unit tests that run while the builds do; of
    those, the ones that need the PDFs run at the very end, while the PDFs build."""
    for item in items:
        if (NEEDS_BOOK | NEEDS_STUDENT) & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.build)

    def order(item) -> int:
        if item.get_closest_marker("build") is None:
            return 0
        return 2 if _needs_pdf(item) else 1

    items.sort(key=order)  # stable
    _build_tests.update(item.nodeid for item in items if item.get_closest_marker("build"))


# --- Stage times, printed at the end of the run (what `make test` spends where) ------------------

_SESSION_START = time.perf_counter()
_build_tests: set[str] = set()  # node ids of the tests marked `build`
_last_finish: dict[str, float] = {}  # "unit" or "build": when the last such test finished


def pytest_runtest_logfinish(nodeid, location):
    _last_finish["build" if nodeid in _build_tests else "unit"] = time.perf_counter()


def pytest_terminal_summary(terminalreporter):
    """A few lines of stage times: the unit tests, each build and its PDF, the tests of the builds."""
    lines = []
    if "unit" in _last_finish:
        lines.append(f"unit tests, while the builds run: {_last_finish['unit'] - _SESSION_START:6.0f} s")
    for edition, state in _builds.items():
        if state.html_seconds is not None:
            lines.append(f"{edition} HTML build (every notebook executed): {state.html_seconds:6.0f} s")
        if state.pdf is not None:
            lines.append(f"{edition} PDF build: {state.pdf.seconds:6.0f} s")
    if "build" in _last_finish:
        lines.append(f"tests of the builds, ended at: {_last_finish['build'] - _SESSION_START:6.0f} s")
    if lines:
        terminalreporter.write_sep("-", "stage times (from the start of the session)")
        for line in lines:
            terminalreporter.write_line(line)


def _needs_pdf(item) -> bool:
    """True when ``item`` uses a PDF: through its fixtures, or (the first page of each edition in
    the browser test, the PDF test) through request.getfixturevalue."""
    if NEEDS_PDF & set(getattr(item, "fixturenames", ())):
        return True
    name = getattr(item, "path", Path()).name
    first_page = "[book/intro]" in item.name
    return name == "test_pdf.py" or (name == "test_browser.py" and first_page)


def pytest_collection_finish(session):
    """Start the builds that the selected tests need, before the first test runs, each with its
    PDF when a selected test needs that and TeX is installed."""
    if session.config.option.collectonly:
        return
    used = set().union(*(getattr(item, "fixturenames", ()) for item in session.items))
    if os.environ.get("COMPANION_EXECUTED_NOTEBOOKS"):
        used.discard("executed_notebooks")
    # A test marked `build` by hand gets its builds through request.getfixturevalue: start both.
    by_hand = any(
        item.get_closest_marker("build") and not (NEEDS_BOOK | NEEDS_STUDENT) & set(item.fixturenames)
        for item in session.items
    )
    with_pdf = any(_needs_pdf(item) for item in session.items) and _tex_missing() == []
    if by_hand or used & NEEDS_BOOK:
        _start_build("book", with_pdf)
    if by_hand or used & NEEDS_STUDENT:
        _start_build("student", with_pdf)


@pytest.fixture(scope="session")
def built_book():
    """`jupyter-book build --all -W --keep-going` of the course into _build/test-book, once per
    session (started in the background by :func:`pytest_collection_finish`).

    Returns the exit code, the log and the HTML folder; screenshots go beside it.
    """
    returncode, log = _finish_build("book")
    return SimpleNamespace(returncode=returncode, log=log, html=BOOK / "_build" / "html", root=BOOK)


@pytest.fixture(scope="session")
def student_book():
    """The student edition built by `python -m companion.classroom student-edition` into
    _build/test-student (sources in source/, HTML in source/_build/html), once per session."""
    returncode, log = _finish_build("student")
    source = STUDENT / "source"
    return SimpleNamespace(
        returncode=returncode,
        log=log,
        source=source,
        html=source / "_build" / "html",
        executed=source / "_build" / "jupyter_execute" / "book",
    )


# --- The book as a PDF (`make pdf`) ---------------------------------------------------------------

PDF_NAME = "gates-gradients-adversaries"  # _config.yml's latex.latex_documents.targetname
TEX_PROGRAMS = ("xelatex", "latexmk", "xindy")


def _tex_missing() -> list[str]:
    return [p for p in TEX_PROGRAMS if shutil.which(p) is None]


def _need_tex() -> None:
    """Skip (or, with COMPANION_REQUIRE_PDF=1 as in CI, fail) when Debian's TeX is missing."""
    missing = _tex_missing()
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
    return _finish_pdf("book")


@pytest.fixture(scope="session")
def student_pdf(student_book):
    """The student edition's PDF, built the same way from the student edition's sources."""
    _need_tex()
    assert student_book.returncode == 0, student_book.log[-3000:]
    return _finish_pdf("student")


@pytest.fixture(scope="session")
def hosted_pdfs(book_pdf, student_pdf, built_book, student_book):
    """Both PDFs in each website's pdf/ folder, where the intro page links them (as `make pdf`
    puts them); the student website gets the student PDF only."""
    assert book_pdf.returncode == 0 and student_pdf.returncode == 0, (book_pdf.log + student_pdf.log)[-3000:]
    for folder in (built_book.html / "pdf", student_book.html / "pdf"):
        folder.mkdir(exist_ok=True)
        shutil.copy(student_pdf.pdf, folder / f"{PDF_NAME}-student.pdf")
    shutil.copy(book_pdf.pdf, built_book.html / "pdf" / f"{PDF_NAME}.pdf")
