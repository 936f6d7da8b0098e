"""No number the outputs don't show: the book's prose, quizzes and notes page against its outputs.

The rules (which tokens are numbers, where each must be shown) and the allow-list are in
``tests/prose_numbers.py``. The check runs on the notebooks the book build executes; the tests
of the check itself run on small synthetic notebooks.
"""

import os
from pathlib import Path

import nbformat
import pytest
from prose_numbers import ALLOWED, Finding, allow, check_book, check_notebook, numbers_in, sentences

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p.stem for p in (ROOT / "book").glob("*.ipynb"))


@pytest.fixture(scope="session")
def executed_notebooks(request) -> dict[str, Path]:
    """Each chapter's name mapped to its executed notebook: the book build's (``built_book``).

    The one place to change when the pipeline shares executed notebooks another way. Set
    ``COMPANION_EXECUTED_NOTEBOOKS`` to a folder of executed ``NN_*.ipynb`` to check those
    instead (``/tmp/baseline``, or an ``execnb.py`` output) without building the book.
    """
    folder = os.environ.get("COMPANION_EXECUTED_NOTEBOOKS")
    if folder:
        folder = Path(folder)
    else:
        build = request.getfixturevalue("built_book")
        folder = build.root / "_build" / "jupyter_execute" / "book"
    found = {name: folder / f"{name}.ipynb" for name in CHAPTERS}
    missing = [name for name, path in found.items() if not path.exists()]
    assert not missing, f"no executed notebook for {missing} in {folder}"
    return found


def test_every_number_in_the_book_is_shown_by_its_chapter(executed_notebooks):
    findings, stale = allow(check_book(executed_notebooks))
    report = [str(f) for f in findings] + [f"stale allow-list entry {s}: nothing needs it" for s in stale]
    assert not report, "\n".join(report)


def test_an_altered_number_in_a_chapter_is_caught_naming_its_cell(executed_notebooks):
    """A test of the test on a real chapter: chapter 1 prints the LSTM's accuracy on the pixel
    digits and its prose quotes it; typing a number no output shows instead is caught, with the
    cell and the number named."""
    notebook = nbformat.read(executed_notebooks["01_gru_vs_lstm"], as_version=4)
    index = next(i for i, c in enumerate(notebook.cells) if "for the LSTM." in c.source)
    cell = notebook.cells[index]
    assert allow(check_notebook(notebook, "01_gru_vs_lstm.ipynb"))[0] == []
    quoted = next(n.text for n in numbers_in(cell.source) if f"{n.text} for the LSTM." in cell.source)
    printed = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    typo = next(n for n in ("0.71", "0.73", "0.77") if n not in printed and n not in cell.source)
    cell.source = cell.source.replace(f"{quoted} for the LSTM.", f"{typo} for the LSTM.")
    (finding,) = allow(check_notebook(notebook, "01_gru_vs_lstm.ipynb"))[0]
    assert finding.where == f"cell {index} (id {cell.id})" and finding.number == typo
    assert str(finding).startswith(
        f"01_gru_vs_lstm.ipynb, cell {index} (id {cell.id}): '{typo}' is not shown"
    )


# --- the check itself, on small synthetic notebooks ------------------------------------------------


def _notebook(*cells) -> nbformat.NotebookNode:
    """A notebook of ("markdown", text) and ("code", source, printed output) cells, as executed."""
    nb = nbformat.v4.new_notebook()
    for kind, source, *printed in cells:
        if kind == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            cell = nbformat.v4.new_code_cell(source)
            if printed:
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed[0])]
            nb.cells.append(cell)
    return nb


def _demo(prose: str) -> nbformat.NotebookNode:
    return _notebook(
        ("markdown", "# Demo\n\nA chapter."),
        ("markdown", "## The experiment\n\nWe train for 30 epochs."),
        ("code", "epochs = 30\nprint(run(epochs))", "accuracy 0.847, 1975 queries, success 0.950\n"),
        ("markdown", prose),
        ("markdown", "## Exercises\n\nTry $\\epsilon = 0.3$."),
        ("code", "from companion.classroom import quiz\nquiz.show('demo')", "accuracy 0.99\n"),
    )


def test_numbers_shown_at_their_precision_pass():
    prose = "It reaches 0.85 (about 0.8), with about 2,000 queries and a success of 95%; 30 epochs."
    assert check_notebook(_demo(prose), "demo.ipynb") == []


@pytest.mark.parametrize(
    ("prose", "number"),
    [
        ("It reaches 0.86.", "0.86"),  # the output says 0.847: 0.85, not 0.86
        ("It reaches 0.850.", "0.850"),  # more digits than the output supports
        ("A success of 96%.", "96%"),
        ("With 1,980 queries.", "1,980"),  # exact: 1975 is not 1,980
        ("It reaches 0.99.", "0.99"),  # only the quiz cell shows 0.99, and it is no source
        ("An error of $2.7 \\cdot 10^{-3}$.", "2.7 \\cdot 10^{-3}"),
        ("An error of 3e-5.", "3e-5"),
    ],
)
def test_a_number_nothing_shows_fails_naming_the_cell_and_the_number(prose, number):
    notebook = _demo(prose)
    (finding,) = check_notebook(notebook, "demo.ipynb")
    where = f"cell 3 (id {notebook.cells[3].id})"
    assert isinstance(finding, Finding)
    assert (finding.source, finding.where, finding.number) == ("demo.ipynb", where, number)
    assert str(finding).startswith(f"demo.ipynb, {where}: {number!r} is not shown")


def test_a_measurement_must_be_shown_in_its_own_section():
    nb = _notebook(
        ("markdown", "## One\n\nSome text."),
        ("code", "x = 1", "accuracy 0.847\n"),
        ("markdown", "## Two\n\nIt printed 0.85 above."),
        ("code", "y = 2", "loss 1.5\n"),
    )
    (finding,) = check_notebook(nb, "demo.ipynb")
    assert finding.where.startswith("cell 2") and finding.number == "0.85"


def test_a_citation_in_the_same_sentence_excuses_a_papers_figure():
    prose = "Papernot et al. report 95% before and 0.5% after. Ours is 0.85. We saw 0.5% too."
    (finding,) = check_notebook(_demo(prose), "demo.ipynb")
    assert finding.number == "0.5%" and finding.sentence == "We saw 0.5% too."
    assert check_notebook(_demo("The paper's 12.3 {cite:p}`madry2018towards`."), "demo.ipynb") == []


@pytest.mark.parametrize(
    ("sentence", "numbers"),
    [
        ("About 0.86 of 1,347 digits (88%), $T = 50$, in 3 s.", ["0.86", "1,347", "88%", "50"]),
        (
            "Errors of $3.6 \\cdot 10^{-3}$, $10^{-2}$ and 2.7e-33.",
            ["3.6 \\cdot 10^{-3}", "10^{-2}", "2.7e-33"],
        ),
        ("A range 0.0145-0.026 and $0.05 \\le \\epsilon \\le 0.2$.", ["0.0145", "0.026", "0.05", "0.2"]),
        ("In 2016, 12 of 450.", ["2016", "12", "450"]),
        ("Three gates, 5 restarts, 1/2, x_1, L2, f6, 8x8, 28x28 and Foolbox 3.3.4.", []),
        ("See chapter 12, section 5.4, eq. 2.1 and figure 10.", []),
        ("The worked $3 \\cdot 416 = 1{,}248$ and $\\sigma(1) \\approx 0.73$.", []),
        ("Exponents: $2^{-149}$, $e^{-75}$, $0.73^{50}$.", ["0.73"]),
        ("Code `lr=0.05` and a link [chapter 12](12_x.ipynb#a-12) and {eq}`eq-12`.", []),
    ],
)
def test_which_tokens_are_numbers(sentence, numbers):
    assert [n.text for part in sentences(sentence) for n in numbers_in(part)] == numbers


def test_givens_of_a_problem_are_data_not_results():
    sentence = "For $d_x = 5$, $z = (4, 0, 0)$ and $T = 20$, give 0.787."
    assert [n.text for n in numbers_in(sentence, givens=True)] == ["0.787"]
    assert [n.text for n in numbers_in(sentence)] == ["20", "0.787"]
    assert check_notebook(_demo("## Exercises\n\nTake $T = 20$ and $\\epsilon = 0.35$."), "x") == []


def test_precision_of_integers_and_approximations():
    (exact,) = numbers_in("With 2,000 queries.")
    (rounded,) = numbers_in("With about 2,000 queries.")
    assert exact.tolerance == 0.5 and rounded.tolerance == 500
    (percent,) = numbers_in("A share of 88.5%.")
    assert percent.value == pytest.approx(0.885) and percent.tolerance == pytest.approx(0.0005)


def test_code_literals_count_but_comments_and_strings_do_not():
    nb = _notebook(
        ("markdown", "## A\n\nWe use 0.25, not 0.75 or 0.125."),
        ("code", 'rate = 0.25  # or 0.75\nprint("0.125")', "done\n"),
    )
    assert [f.number for f in check_notebook(nb, "demo.ipynb")] == ["0.75", "0.125"]


def test_the_allow_list_excuses_only_its_entries_and_reports_stale_ones():
    findings = [
        Finding("a.ipynb", "cell 1", "0.8", "Each query is right with probability 0.8."),
        Finding("a.ipynb", "cell 2", "0.9", "Something else, 0.9."),
        Finding("b.ipynb", "cell 3", "450", "On 450 test digits."),
    ]
    allowed = {
        "a.ipynb": {("0.8", "probability"): "a given", ("0.7", ""): "nothing uses it"},
        "*": {("450", "test digits"): "the test split"},
    }
    remaining, stale = allow(findings, allowed)
    assert remaining == [findings[1]] and stale == [("a.ipynb", "0.7", "")]


def test_every_allow_list_entry_has_a_reason():
    for source, entries in ALLOWED.items():
        assert source == "*" or source.split("/")[-1].split(".")[0] in CHAPTERS, source
        for (number, _), reason in entries.items():
            assert [n.text for n in numbers_in(number)] == [number], (source, number)
            assert len(reason) > 20, (source, number)
