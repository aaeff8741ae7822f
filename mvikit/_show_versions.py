"""`show_versions`: the versions a bug report needs."""

from __future__ import annotations

import importlib
import platform
import sys

_DEPENDENCIES = ("numpy", "scipy", "pandas", "sklearn", "joblib", "torch", "skorch",
                 "lifelines", "sksurv", "SimpleITK", "radiomics", "statsmodels", "matplotlib")


def _versions() -> dict:
    info = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in _DEPENDENCIES:
        try:
            module = importlib.import_module(name)
            info[name] = getattr(module, "__version__", getattr(module, "Version", lambda: "?"))
            if callable(info[name]):
                info[name] = info[name]()
        except Exception:  # a broken optional import must not break the report
            info[name] = None
    return info


def show_versions(*, as_dict: bool = False):
    """Print (or return) the versions of Python, mvikit and its dependencies.

    Parameters
    ----------
    as_dict : bool, default=False
        Return a dict instead of printing.

    Examples
    --------
    >>> from mvikit import show_versions
    >>> "numpy" in show_versions(as_dict=True)
    True
    """
    from . import __version__

    info = {"mvikit": __version__, **_versions()}
    if as_dict:
        return info
    width = max(len(k) for k in info)
    sys.stdout.write("\n".join(f"{k:>{width}}: {v}" for k, v in info.items()) + "\n")
    return None
