import ipywidgets
import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure

from companion.plotting import COLORS, digit_grid, learning_curves, prediction_figure
from companion.training import History
from companion.widgets import explorer


def test_digit_grid_titles_labels_and_marks_mistakes_in_red():
    images = torch.rand(12, 64)
    labels, predictions = torch.arange(12) % 10, torch.arange(12) % 10
    predictions[3] = 9
    fig = digit_grid(images, labels=labels, predictions=predictions, ncols=5)
    assert isinstance(fig, Figure)
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert len(fig.axes) == 15 and len(titled) == 12
    assert titled[3].get_title() == "y=3 pred=9"
    assert titled[3].title.get_color() == "#d62728" and titled[2].title.get_color() == "black"


def test_digit_grid_signed_mode_is_centred_on_zero():
    fig = digit_grid(torch.randn(3, 1, 8, 8) * 0.2, signed=True)
    low, high = fig.axes[0].images[0].get_clim()
    assert low == -high


def test_digit_grid_rejects_bad_input():
    with pytest.raises(ValueError, match="labels must have 3 entries"):
        digit_grid(torch.rand(3, 64), labels=torch.arange(4))
    with pytest.raises(ValueError, match="at least one image"):
        digit_grid(torch.rand(0, 64))
    with pytest.raises(TypeError, match="images must have a floating dtype"):
        digit_grid(torch.ones(2, 64, dtype=torch.int64))


def test_learning_curves_and_prediction_figure():
    history = History(loss=[1.0, 0.5], train_accuracy=[0.8, 0.9], test_accuracy=[0.7, 0.85])
    fig = learning_curves(history)
    assert len(fig.axes[1].lines) == 2
    with pytest.raises(ValueError, match="at least one epoch"):
        learning_curves(History())
    p = torch.softmax(torch.arange(10.0), dim=0)
    fig = prediction_figure(p, torch.rand(64), label=9)
    assert fig.axes[1].get_title().startswith("prediction 9")
    with pytest.raises(ValueError, match="image must hold 64 pixels"):
        prediction_figure(p, torch.rand(65))
    assert set(COLORS) >= {"gru", "lstm", "rnn", "standard", "distilled"}


def test_explorer_draws_on_creation_and_on_change():
    calls = []

    def draw(k):
        calls.append(k)
        fig, ax = plt.subplots()
        ax.set_title(str(k))
        return fig

    panel = explorer(draw, k=(0, 5))
    assert isinstance(panel, ipywidgets.interactive)
    assert calls == [2]  # ipywidgets starts an integer slider at its middle
    panel.children[0].value = 4
    assert calls[-1] == 4


def test_explorer_rejects_bad_arguments():
    with pytest.raises(TypeError, match="draw must be a function"):
        explorer(42, k=(0, 1))
    with pytest.raises(ValueError, match="at least one control"):
        explorer(lambda: None)


def test_every_figure_shows_in_a_real_kernel():
    """Regression: styling must not switch off the inline backend's interactive mode,
    or every figure after the first one in a notebook is silently not displayed."""
    import nbformat
    from nbclient import NotebookClient

    cells = [
        "import torch\nfrom companion import plotting",
        "fig = plotting.digit_grid(torch.rand(3, 64))",
        "fig = plotting.digit_grid(torch.rand(3, 64))",
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, kernel_name="python3", timeout=120).execute()
    shown = ["image/png" in o.get("data", {}) for c in nb.cells[1:] for o in c.outputs]
    assert shown == [True, True, True]


def test_no_module_styles_figures_with_rc_context():
    """plt.rc_context switches off inline display after the first figure: use style_context/styled."""
    from pathlib import Path

    import companion

    package = Path(companion.__file__).parent
    offenders = [p.name for p in package.glob("*.py") if "rc_context(" in p.read_text()]
    offenders = [name for name in offenders if name != "plotting.py"]  # its docstring explains why not
    assert offenders == []


def _contrast_with_white(color: str) -> float:
    """WCAG 2.1 contrast ratio of ``color`` against white (1 to 21)."""
    from matplotlib.colors import to_rgb

    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in to_rgb(color)]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return 1.05 / (luminance + 0.05)


def test_figure_colours_stand_out_from_the_white_background():
    """WCAG 2.1 1.4.11: lines, bars and markers need 3:1 against their background."""
    assert _contrast_with_white("#ff7f0e") < 3 < _contrast_with_white("#000000")  # the check can fail
    ratios = {name: round(_contrast_with_white(color), 2) for name, color in COLORS.items()}
    assert {name: r for name, r in ratios.items() if r < 3} == {}
    p = torch.softmax(torch.arange(10.0), dim=0)
    bars = prediction_figure(p, torch.rand(64)).axes[1].patches
    assert min(_contrast_with_white(bar.get_facecolor()) for bar in bars) >= 3
