"""Sphinx configuration for the mvikit documentation."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))
os.environ.setdefault("MPLBACKEND", "Agg")

import mvikit  # noqa: E402

project = "mvikit"
author = "The mvikit developers"
copyright = "2026, The mvikit developers"
release = mvikit.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "numpydoc",
]
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
exclude_patterns = ["_build"]
templates_path = []
html_theme = "alabaster"
nitpicky = False
suppress_warnings = ["autosummary.import_cycle"]


def _skip_sklearn_members(app, what, name, obj, skip, options):
    """Leave out members that scikit-learn defines (``score``, ``set_params``,
    the generated ``set_*_request`` methods): their docstrings link into
    scikit-learn's own docs, and the API pages document mvikit's methods."""
    import re

    module = getattr(obj, "__module__", "") or ""
    if module.startswith("sklearn.") or re.fullmatch(r"set_\w+_request", name):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_sklearn_members)
