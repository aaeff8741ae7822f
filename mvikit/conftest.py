"""Doctest configuration: non-interactive plotting, fixed global seed."""

import os

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _doctest_seed(doctest_namespace):
    np.random.seed(0)
    doctest_namespace["np"] = np


@pytest.fixture(autouse=True)
def _close_figures():
    """Each test starts without open matplotlib figures (plt.gca() is never stale)."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
