"""Shared fixtures. The default run skips `slow` tests; `pytest -m slow` runs them."""

import os

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_configure(config):
    if not config.option.markexpr:
        config.option.markexpr = "not slow"


@pytest.fixture(autouse=True)
def global_seed():
    """Every test starts from the same global NumPy seed (reproducible failures)."""
    np.random.seed(0)
    yield


@pytest.fixture(autouse=True)
def _close_figures():
    """Each test starts without open matplotlib figures (plt.gca() is never stale)."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
