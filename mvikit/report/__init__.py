"""Comparison reports: Markdown and self-contained HTML with figures.

:func:`build_report` renders a :func:`mvikit.model_selection.compare_models`
result (tables, methods paragraph, ROC / calibration / decision-curve / forest
figures); :func:`write_report` writes it to a folder atomically.
"""

from ._report import ComparisonReport, build_report, write_report

__all__ = ["ComparisonReport", "build_report", "write_report"]
