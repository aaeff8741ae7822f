"""Comparison reports: Markdown and self-contained HTML with figures.

:func:`build_report` renders a :func:`mvikit.model_selection.compare_models`
result (tables, methods paragraph, and figures drawn by :mod:`mvikit.plotting`:
ROC, calibration, decision curves and forest plot of a binary outcome;
one-vs-rest ROC curves, confusion matrices and forest plot of a graded one);
:func:`write_report` writes it to a folder atomically.
"""

from ._report import ComparisonReport, build_report, write_report

__all__ = ["ComparisonReport", "build_report", "write_report"]
