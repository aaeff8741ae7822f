"""Shared input handling of the discrimination / calibration / decision-curve plots.

One model is ``(y_true, scores)``; several models on one axis are a dict
``name -> scores`` with either one shared outcome vector or a dict
``name -> outcomes`` (models that did not score the same patients, e.g. a model
that failed on a cross-validation fold).
"""

from __future__ import annotations

from ..exceptions import MetricInputError

__all__: list[str] = []


def _axes(ax):
    """The given Axes, else pyplot's current one (pyplot is imported only then)."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.gca()


def _model_entries(y_true, y_score, label, *, score_name="y_score", extra=None, extra_name=None):
    """``[(name, y, scores, extra)]``, one entry per model to draw.

    ``extra`` (e.g. fold ids) follows ``y_true``'s rule: one shared value or a
    dict with the same model names.
    """
    if not isinstance(y_score, dict):
        for value, what in ((y_true, "y_true"), (extra, extra_name)):
            if isinstance(value, dict):
                raise MetricInputError(
                    f"{what} is a dict of models but {score_name} is not; pass {score_name} as "
                    "a dict with the same model names (name -> scores)."
                )
        return [(label, y_true, y_score, extra)]
    if not y_score:
        raise MetricInputError(f"{score_name} is an empty dict; pass at least one model.")
    entries = []
    for name, scores in y_score.items():
        entries.append((name, _pick(y_true, name, "y_true", score_name),
                        scores, _pick(extra, name, extra_name, score_name)))
    return entries


def _pick(value, name, what, score_name):
    if not isinstance(value, dict):
        return value
    if name not in value:
        raise MetricInputError(
            f"{what} has no entry for model {name!r} of {score_name} (it has {list(value)}); "
            f"give every model of {score_name} its {what}, or pass one shared {what}."
        )
    return value[name]
