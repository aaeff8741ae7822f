"""`centre_performance`: seed 001's Table 3 from a `ModelComparison` -- per centre ACC,
AUC, SEN and SPE, each with its 95 % confidence interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

__all__ = ["centre_performance"]


def _proportion(successes: int, trials: int, alpha: float) -> tuple[float, float, float]:
    if trials == 0:
        return np.nan, np.nan, np.nan
    low, high = proportion_confint(successes, trials, alpha=alpha, method="wilson")
    return successes / trials, float(low), float(high)


def centre_performance(result, *, repeat: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """ACC, AUC, SEN and SPE of every model on every test centre, with confidence intervals.

    Reads the pooled test predictions of :func:`compare_models` run with
    ``groups`` (the centres), e.g. on :class:`ExternalValidationSplit` with several
    external centres: the model is trained once on the internal centres and each
    external centre (and the internal hold-out) is one column of seed 001's
    Table 3.  The AUC interval is DeLong's (:func:`mvikit.metrics.roc_auc_ci`);
    accuracy, sensitivity and specificity are proportions at the training-fold
    threshold of ``compare_models`` with Wilson score intervals.

    Parameters
    ----------
    result : ModelComparison
        From ``compare_models(..., groups=centres)``.
    repeat : int, default=0
        Which repeat of a repeated splitter.
    alpha : float, default=0.05
        One minus the confidence level.

    Returns
    -------
    pandas.DataFrame
        One row per model and centre: ``model, centre, n, n_positive`` and
        ``<metric>, <metric>_ci_low, <metric>_ci_high`` for ``accuracy``,
        ``auc``, ``sensitivity``, ``specificity``.

    Raises
    ------
    ValueError
        Without centres (``groups``) in the comparison, or for a multiclass task.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from mvikit.model_selection import (ExternalValidationSplit, centre_performance,
    ...                                     compare_models)
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 3)); y = (X[:, 0] + rng.normal(size=300) > 0).astype(int)
    >>> centres = np.repeat(["A", "B", "C"], 100)
    >>> result = compare_models({"logistic": LogisticRegression()}, X, y, groups=centres,
    ...                         cv=ExternalValidationSplit(external=["B", "C"]),
    ...                         scoring=["auc"])
    >>> table = centre_performance(result)
    >>> print(table[["centre", "n", "accuracy", "accuracy_ci_low", "accuracy_ci_high", "auc",
    ...              "auc_ci_low", "auc_ci_high"]].round(3).to_string(index=False))
    centre   n  accuracy  accuracy_ci_low  accuracy_ci_high   auc  auc_ci_low  auc_ci_high
         B 100      0.75            0.657             0.825 0.828       0.747        0.910
         C 100      0.79            0.700             0.858 0.893       0.833        0.953
    """
    if result.centre_metrics is None:
        raise ValueError("centre_performance needs the centres: run compare_models with "
                         "groups=<centre of each patient>.")
    if result.task != "binary":
        raise ValueError("centre_performance reports ACC/AUC/SEN/SPE of a binary outcome; "
                         f"this comparison is {result.task}.")
    auc = result.centre_metrics.set_index(["model", "repeat", "centre"])
    predictions = result.predictions[result.predictions["repeat"] == repeat]
    rows = []
    for (model, centre), frame in predictions.groupby(["model", "centre"], sort=False):
        y_true = (frame["y_true"].to_numpy() == result.pos_label)
        y_pred = (frame["y_pred"].to_numpy() == result.pos_label)
        row = {"model": model, "centre": centre, "n": len(frame),
               "n_positive": int(y_true.sum())}
        measured = {"accuracy": _proportion(int((y_true == y_pred).sum()), len(frame), alpha),
                    "sensitivity": _proportion(int(y_pred[y_true].sum()), int(y_true.sum()),
                                               alpha),
                    "specificity": _proportion(int((~y_pred[~y_true]).sum()),
                                               int((~y_true).sum()), alpha)}
        if alpha == 0.05:
            stored = auc.loc[(model, repeat, centre)]
            measured["auc"] = (stored["auc"], stored["auc_ci_low"], stored["auc_ci_high"])
        else:
            measured["auc"] = _auc(y_true, frame["score"].to_numpy(), alpha)
        for metric in ("accuracy", "auc", "sensitivity", "specificity"):
            value, low, high = measured[metric]
            row.update({metric: value, f"{metric}_ci_low": low, f"{metric}_ci_high": high})
        rows.append(row)
    return pd.DataFrame(rows)


def _auc(y_true: np.ndarray, score: np.ndarray, alpha: float) -> tuple[float, float, float]:
    from ..metrics import roc_auc_ci

    if not 0 < y_true.sum() < len(y_true):
        return np.nan, np.nan, np.nan
    out = roc_auc_ci(y_true.astype(int), score, alpha=alpha)
    return out.auc, out.ci[0], out.ci[1]
