"""Metrics of :func:`compare_models`: the default sets and how names resolve.

mvikit's own metric names are computed from a fold's test predictions (class
probabilities plus the predicted labels at the threshold chosen on the training
fold).  Any other string is looked up with :func:`sklearn.metrics.get_scorer`
and called as ``scorer(fitted_model, X_test, y_test)``.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning

from ..exceptions import DataWarning

__all__ = ["METRICS", "default_scoring", "resolve_scoring"]

BINARY_DEFAULT = ("auc", "accuracy", "f1", "sensitivity", "specificity", "kappa")
# MD-Net (seed 000) reports F1, accuracy, OvO macro AUC and kappa for M0/M1/M2; the
# grades are ordered, so the quadratic-weighted kappa is offered beside Cohen's.
MULTICLASS_DEFAULT = ("auc", "accuracy", "f1", "kappa", "kappa_quadratic")


def _binary_labels(fold):
    return (fold.y_true == fold.classes[fold.pos_index]).astype(int)


def _auc(fold):
    if fold.n_classes == 2:
        return skm.roc_auc_score(_binary_labels(fold), fold.score)
    return skm.roc_auc_score(fold.y_true, fold.proba, multi_class="ovo", average="macro",
                             labels=fold.classes)


def _auc_ovr(fold):
    if fold.n_classes == 2:
        return _auc(fold)
    return skm.roc_auc_score(fold.y_true, fold.proba, multi_class="ovr", average="macro",
                             labels=fold.classes)


def _f1(fold):
    if fold.n_classes == 2:
        return skm.f1_score(fold.y_true, fold.y_pred, pos_label=fold.classes[fold.pos_index])
    return skm.f1_score(fold.y_true, fold.y_pred, average="macro", labels=fold.classes)


def _recall_of(fold, index):
    return skm.recall_score(fold.y_true, fold.y_pred, pos_label=fold.classes[index],
                            zero_division=np.nan)


def _precision_of(fold, index):
    return skm.precision_score(fold.y_true, fold.y_pred, pos_label=fold.classes[index],
                               zero_division=np.nan)


def _brier(fold):
    if fold.n_classes == 2:
        return skm.brier_score_loss(_binary_labels(fold), fold.score)
    onehot = (fold.y_true[:, None] == np.asarray(fold.classes)[None, :]).astype(float)
    return float(np.mean(np.sum((fold.proba - onehot) ** 2, axis=1)))


def _kappa(weights):
    def kappa(fold):
        return skm.cohen_kappa_score(fold.y_true, fold.y_pred, labels=fold.classes, weights=weights)
    return kappa


# name -> (function(fold) -> float, binary only?, needs probabilities?)
METRICS = {
    "auc": (_auc, False, False),
    "auc_ovr": (_auc_ovr, False, False),
    "accuracy": (lambda f: skm.accuracy_score(f.y_true, f.y_pred), False, False),
    "balanced_accuracy": (lambda f: skm.balanced_accuracy_score(f.y_true, f.y_pred), False, False),
    "f1": (_f1, False, False),
    "sensitivity": (lambda f: _recall_of(f, f.pos_index), True, False),
    "specificity": (lambda f: _recall_of(f, 1 - f.pos_index), True, False),
    "ppv": (lambda f: _precision_of(f, f.pos_index), True, False),
    "npv": (lambda f: _precision_of(f, 1 - f.pos_index), True, False),
    "kappa": (_kappa(None), False, False),
    "kappa_quadratic": (_kappa("quadratic"), False, False),
    "brier": (_brier, False, True),
}


def default_scoring(n_classes: int) -> tuple:
    """The default metric names for a binary or a multiclass task."""
    return BINARY_DEFAULT if n_classes == 2 else MULTICLASS_DEFAULT


def resolve_scoring(scoring, n_classes: int) -> dict:
    """Map each metric name to ``("mvikit", name)`` or ``("sklearn", scorer)``.

    Raises ``ValueError`` for unknown names and for binary-only metrics asked
    of a multiclass task.
    """
    if scoring is None:
        items = [(name, name) for name in default_scoring(n_classes)]
    elif isinstance(scoring, str) or callable(scoring):
        items = [(scoring if isinstance(scoring, str) else "score", scoring)]
    elif isinstance(scoring, dict):
        items = list(scoring.items())
    else:
        items = [(name, name) for name in scoring]
    if not items:
        raise ValueError("scoring is empty; pass None for the default metrics or a list of names.")
    resolved = {}
    for name, spec in items:
        if isinstance(spec, str) and spec in METRICS:
            if METRICS[spec][1] and n_classes != 2:
                raise ValueError(
                    f"Metric {spec!r} is defined for a binary outcome only; "
                    f"y has {n_classes} classes. "
                    "Use 'balanced_accuracy', 'f1' (macro) or 'kappa_quadratic' "
                    "for graded outcomes."
                )
            resolved[name] = ("mvikit", spec)
        elif isinstance(spec, str):
            try:
                resolved[name] = ("sklearn", skm.get_scorer(spec))
            except ValueError as exc:
                raise ValueError(
                    f"Unknown metric {spec!r}: it is neither an mvikit metric "
                    f"({sorted(METRICS)}) nor a "
                    "scikit-learn scorer name (sklearn.metrics.get_scorer_names())."
                ) from exc
        elif callable(spec):
            resolved[name] = ("sklearn", spec)
        else:
            raise ValueError(f"scoring[{name!r}] must be a metric name or a scorer callable; "
                             f"got {spec!r}.")
    return resolved


def compute_metric(name: str, fold) -> float:
    """One mvikit metric on one fold; NaN (with a warning) where it is undefined."""
    function, _, needs_proba = METRICS[name]
    if needs_proba and not fold.is_probability:
        return np.nan
    # A test fold holding one class only (a small centre) has no AUC: report NaN and say
    # which model and fold, never drop the fold silently.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UndefinedMetricWarning)
        try:
            value = float(function(fold))
        except ValueError as exc:
            caught.append(warnings.WarningMessage(str(exc), UndefinedMetricWarning, "", 0))
            value = np.nan
    for record in caught:
        if issubclass(record.category, UndefinedMetricWarning):
            warnings.warn(f"{name} is undefined on {fold.label}: {record.message}", DataWarning,
                          stacklevel=4)
        else:
            warnings.warn_explicit(record.message, record.category, record.filename, record.lineno)
    return value
