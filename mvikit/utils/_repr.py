"""`SummaryReprMixin`: a fitted model shows its summary table in Jupyter.

Jupyter asks an object for ``_repr_mimebundle_`` before ``_repr_html_``, and
scikit-learn's `BaseEstimator` answers the mimebundle with its estimator diagram,
so overriding ``_repr_html_`` alone never shows a fitted model's table.  This mixin
answers both: the summary once fitted, scikit-learn's diagram before.

`_SectionedResult`: result objects made of titled tables (the model comparisons,
`mvikit.survival.RiskGroupSummary`) render them as Markdown, HTML and ``repr`` once.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

__all__ = ["SummaryReprMixin"]


class SummaryReprMixin:
    """Mixin (before `BaseEstimator` in the bases) for models with a summary table.

    Subclasses define ``_summary_fitted()`` (whether the summary exists) and
    ``_summary_html()`` (the HTML shown once fitted).
    """

    def _summary_fitted(self) -> bool:
        return hasattr(self, "summary_")

    def _summary_html(self) -> str:
        # the one method a model using this mixin must write: its fitted summary as HTML
        raise NotImplementedError(
            f"{type(self).__name__} uses SummaryReprMixin but defines no _summary_html().")

    @property
    def _repr_html_(self):
        # a property, as scikit-learn's: unfitted, its diagram (or its own refusal)
        if self._summary_fitted():
            return self._summary_html
        return super()._repr_html_

    def _repr_mimebundle_(self, **kwargs):
        if self._summary_fitted():
            return {"text/plain": repr(self), "text/html": self._summary_html()}
        return super()._repr_mimebundle_(**kwargs)


class _SectionedResult:
    """What the comparison results share: tables as attributes, and Markdown, HTML and
    ``repr`` built from their ``_sections`` and ``_header`` (subclasses set ``_title``)."""

    _title = "Model comparison"

    def __init__(self, **tables):
        for name, value in tables.items():
            setattr(self, name, value)

    def to_markdown(self, digits=3) -> str:
        """The comparison as Markdown (GitHub tables).

        Parameters
        ----------
        digits : int, default=3
            Decimals shown.

        Returns
        -------
        str
        """
        parts = [f"## {self._title}", "", self._header(), ""]
        for title, frame in self._sections(digits):
            parts += [f"### {title}", "", _markdown_table(frame), ""]
        return "\n".join(parts)

    def to_html(self, digits=3) -> str:
        """The comparison as an HTML fragment (shown by Jupyter).

        Parameters
        ----------
        digits : int, default=3
            Decimals shown.

        Returns
        -------
        str
        """
        parts = ['<div class="mvikit-comparison">', f"<h2>{html.escape(self._title)}</h2>",
                 f"<p>{html.escape(self._header())}</p>"]
        for title, frame in self._sections(digits):
            parts += [f"<h3>{html.escape(title)}</h3>",
                      frame.to_html(index=False, border=0, classes="mvikit-table", na_rep="")]
        parts.append("</div>")
        return "\n".join(parts)

    def _repr_html_(self):
        return self.to_html()

    def __repr__(self):
        return f"<{type(self).__name__}: {self._header()}>"


def _markdown_table(frame: pd.DataFrame) -> str:
    def cell(value):
        if isinstance(value, float) and np.isnan(value):
            return ""
        return str(value).replace("|", "\\|").replace("\n", " ")

    header = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])
