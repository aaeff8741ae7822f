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


@pytest.fixture(scope="module")
def one_torch_thread():
    """Torch on one thread for a module of tiny networks: on shared cores, OpenMP
    handoffs between threads cost more than they save (fits several times slower)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def rossi():
    """lifelines' Rossi recidivism data: (features, survival target)."""
    from lifelines.datasets import load_rossi

    from mvikit.survival import make_survival_target

    frame = load_rossi()
    features = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]
    return frame[features], make_survival_target(frame, time="week", event="arrest")
