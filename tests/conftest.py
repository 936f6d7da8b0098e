"""Shared fixtures: quiet progress bars, a seeded generator, the digits, a trained MLP."""

import os

import matplotlib
import pytest

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


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
