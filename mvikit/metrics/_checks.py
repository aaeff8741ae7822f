"""Private input validators shared by every metric in :mod:`mvikit.metrics`.

One place decides what a valid outcome, score, probability, threshold grid and
``alpha`` are, so every metric fails the same way.  Messages name the
offending patient id (the index of a pandas input) or the position, and say
how to fix the problem.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mvikit.exceptions import MetricInputError
from mvikit.utils._align import align_by_patient

__all__: list[str] = []

_MAX_NAMED = 5


def _index_of(*arrays):
    """The pandas index of the first pandas input, else ``None``."""
    for a in arrays:
        if isinstance(a, (pd.Series, pd.DataFrame)):
            return a.index
    return None


def _where(bad, index=None):
    """Describe where ``bad`` (a boolean mask) is true: patient ids or positions."""
    pos = np.flatnonzero(bad)
    if index is not None and len(index) == len(bad):
        names = [repr(index[i]) for i in pos[:_MAX_NAMED]]
        what = "patient id" if len(pos) == 1 else "patient ids"
    else:
        names = [str(i) for i in pos[:_MAX_NAMED]]
        what = "position" if len(pos) == 1 else "positions"
    more = f" and {len(pos) - _MAX_NAMED} more" if len(pos) > _MAX_NAMED else ""
    return f"{what} {', '.join(names)}{more}"


def _as_1d(values, name):
    arr = np.asarray(values)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise MetricInputError(
            f"{name} must be one-dimensional (one value per patient); got shape {arr.shape}."
        )
    return arr


def _check_alpha(alpha):
    if not (isinstance(alpha, (int, float, np.floating)) and 0 < alpha < 1):
        raise MetricInputError(
            "alpha must lie strictly between 0 and 1 (e.g. 0.05 for a 95 % interval); "
            f"got {alpha!r}."
        )
    return float(alpha)


def _check_target(y_true, name="y_true", index=None):
    """1-D outcome without missing values; returns the array and its classes."""
    y = _as_1d(y_true, name)
    if len(y) == 0:
        raise MetricInputError(f"{name} is empty; pass at least one event and one non-event.")
    missing = pd.isna(y)
    if missing.any():
        raise MetricInputError(
            f"{name} has missing outcomes at {_where(missing, index)}; drop those patients "
            "or impute the outcome before scoring."
        )
    try:
        classes = np.unique(y)
    except TypeError as exc:
        raise MetricInputError(f"{name} mixes label types ({exc}); use one label type.") from exc
    if len(classes) < 2:
        raise MetricInputError(
            f"{name} holds only one class ({classes[0]!r}) in {len(y)} patients; the metric "
            "needs both events and non-events. Check the outcome column, or use a stratified "
            "splitter so every fold holds both classes."
        )
    return y, classes


def _check_binary_target(y_true, name="y_true", index=None):
    """Binary outcome as 0/1 ints; the larger of the two sorted labels is positive.

    Booleans, 0/1 and two labels (e.g. ``"Good"``/``"Poor"``) are accepted,
    following scikit-learn's convention that ``classes[1]`` is the positive
    class.
    """
    y, classes = _check_target(y_true, name, index)
    if len(classes) > 2:
        raise MetricInputError(
            f"{name} has {len(classes)} classes {list(classes)[:10]}; this metric needs a binary "
            "outcome. For a multiclass AUC pass multi_class='ovr' or 'ovo' to roc_auc_ci, or "
            "binarise the outcome (e.g. y == 'M2')."
        )
    return (y == classes[1]).astype(np.int64), classes


def _check_scores(y_score, n, name="y_score", index=None, probabilities=False):
    """Finite float scores, one per patient; in [0, 1] when ``probabilities``."""
    arr = _as_1d(y_score, name)
    try:
        arr = arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise MetricInputError(
            f"{name} must be numeric scores or probabilities; could not convert ({exc})."
        ) from exc
    if len(arr) != n:
        raise MetricInputError(
            f"{name} has {len(arr)} values but y_true has {n}; pass one score per patient, "
            "in the same order as y_true."
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        raise MetricInputError(
            f"{name} has NaN or infinite values at {_where(bad, index)}; a model must score "
            "every patient (impute missing predictors before predicting)."
        )
    if probabilities:
        _check_unit_interval(arr, name, index)
    return arr


def _check_unit_interval(arr, name, index=None):
    out = (arr < 0) | (arr > 1)
    if out.any():
        first = arr[np.flatnonzero(out)[0]]
        raise MetricInputError(
            f"{name} must be probabilities in [0, 1], but {_where(out, index)} lie outside "
            f"(e.g. {first:.6g}). Pass predict_proba(X)[:, 1], not decision_function or a "
            "linear predictor."
        )


def _check_score_matrix(y_score, n, name="y_score", index=None):
    """2-D finite scores (n_samples, n_columns), e.g. class probabilities."""
    arr = np.asarray(y_score, dtype=np.float64)
    if arr.ndim != 2:
        raise MetricInputError(
            f"{name} must be two-dimensional (n_patients, n_classes) for a multiclass AUC; "
            f"got shape {arr.shape}."
        )
    if arr.shape[0] != n:
        raise MetricInputError(
            f"{name} has {arr.shape[0]} rows but y_true has {n}; pass one row per patient."
        )
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise MetricInputError(
            f"{name} has NaN or infinite values at {_where(bad, index)}; a model must score "
            "every patient."
        )
    return arr


def _check_class_scores(y_true, y_score, labels=None):
    """Multiclass outcomes and an (n, n_classes) score matrix whose columns are ``labels``
    (default: the sorted classes of ``y_true``): ``(y, score, labels)``."""
    y_true, y_score = align_by_patient(y_true, y_score, names=["y_true", "y_score"])
    index = _index_of(y_true, y_score)
    y, classes = _check_target(y_true, index=index)
    score = _check_score_matrix(y_score, len(y), index=index)
    labels = classes if labels is None else np.asarray(labels)
    if score.shape[1] != len(labels):
        raise MetricInputError(
            f"y_score has {score.shape[1]} columns but there are {len(labels)} classes "
            f"{list(labels)}; pass labels= in the column order of y_score."
        )
    unknown = set(classes.tolist()) - set(labels.tolist())
    if unknown:
        raise MetricInputError(
            f"y_true holds labels {sorted(unknown)} missing from labels={list(labels)}.")
    return y, score, labels


def _check_thresholds(thresholds, name="thresholds"):
    """Threshold probabilities strictly inside (0, 1), as a sorted float array."""
    arr = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
    if arr.ndim != 1 or len(arr) == 0:
        raise MetricInputError(f"{name} must be a non-empty 1-D grid of probabilities.")
    bad = ~np.isfinite(arr) | (arr <= 0) | (arr >= 1)
    if bad.any():
        raise MetricInputError(
            f"{name} must lie strictly between 0 and 1 (the odds pt / (1 - pt) are undefined at "
            f"1 and pt = 0 carries no decision); got {arr[bad][:_MAX_NAMED].tolist()}. "
            "Use e.g. np.arange(0.01, 1.0, 0.01)."
        )
    return arr


def _check_binary_inputs(y_true, *scores, names=None, probabilities=False):
    """Validate a binary outcome and any number of matching score vectors.

    Pandas inputs are paired by patient id (see `mvikit.utils.align_by_patient`).
    """
    if names is None:
        names = ["y_score"] if len(scores) == 1 else [f"y_score[{i}]" for i in range(len(scores))]
    y_true, *scores = align_by_patient(y_true, *scores, names=["y_true", *names])
    index = _index_of(y_true, *scores)
    y, classes = _check_binary_target(y_true, index=index)
    checked = [
        _check_scores(s, len(y), name, index, probabilities) for s, name in zip(scores, names)
    ]
    return y, checked, classes, index
