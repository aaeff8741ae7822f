"""`SummaryReprMixin`: a fitted model shows its summary table in Jupyter.

Jupyter asks an object for ``_repr_mimebundle_`` before ``_repr_html_``, and
scikit-learn's `BaseEstimator` answers the mimebundle with its estimator diagram,
so overriding ``_repr_html_`` alone never shows a fitted model's table.  This mixin
answers both: the summary once fitted, scikit-learn's diagram before.
"""

from __future__ import annotations

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
