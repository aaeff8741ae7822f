"""mvikit: scikit-learn estimators for HCC vascular-invasion research.

One cohort DataFrame (clinical columns + `Volume` columns) feeds clinical
nomograms, radiomics signatures, deep 3D networks and survival models, so all
of them run in the same ``Pipeline``/``cross_val_score``/``GridSearchCV`` calls.
"""

import importlib

from ._version import __version__

__all__ = ["__version__", "Volume", "show_versions"]

# Imported on first use (PEP 562), so that ``import mvikit.<sub>`` loads only
# what that sub-package needs: a joblib worker running radiomics extractions
# imports no scikit-learn, SciPy or PyTorch it does not use.
_LAZY = {"Volume": ("mvikit.imaging._volume", "Volume"),
         "show_versions": ("mvikit._show_versions", "show_versions")}
_SUBPACKAGES = ("clinical", "datasets", "deep", "exceptions", "imaging", "metrics",
                "model_selection", "plotting", "preprocessing", "radiomics", "report", "study",
                "survival", "utils")


def __getattr__(name):
    if name in _LAZY:
        module, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module), attribute)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_SUBPACKAGES))
