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
