"""Paired tests and per-centre metrics of a model comparison.

* Wilcoxon: two-sided signed-rank test on the per-fold scores of a model and the
  reference, paired by (repeat, fold) - seed 000, Tables II-IV.
* DeLong: paired test of two AUCs on the pooled out-of-fold predictions of one
  repeat (:func:`mvikit.metrics.delong_test`; evaluation.md: pooled predictions,
  because AUCs of small folds are noisy and not independent).
* Per-centre AUC (DeLong CI), sensitivity, specificity and calibration on the
  pooled test predictions of each centre (seed 001, Table 3).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats
from sklearn import metrics as skm

__all__ = ["wilcoxon_table", "delong_table", "centre_table"]

WILCOXON_COLUMNS = ["model", "reference", "metric", "n_pairs", "statistic", "p_value"]
DELONG_COLUMNS = ["model", "reference", "repeat", "n", "auc", "auc_reference", "difference",
                  "ci_low", "ci_high", "statistic", "p_value"]


def wilcoxon_table(scores: pd.DataFrame, names, reference, metrics) -> pd.DataFrame:
    """Wilcoxon signed-rank test of every model against ``reference``, per metric."""
    wide = scores.pivot_table(index=["repeat", "fold"], columns=["model", "metric"],
                              values="value", dropna=False)
    rows = []
    for name in names:
        if name == reference:
            continue
        for metric in metrics:
            pair = _paired_columns(wide, name, reference, metric)
            rows.append([name, reference, metric, len(pair), *_wilcoxon(pair)])
    return pd.DataFrame(rows, columns=WILCOXON_COLUMNS)


def _paired_columns(wide, name, reference, metric) -> pd.DataFrame:
    columns = {}
    for key, label in ((name, "model"), (reference, "reference")):
        columns[label] = wide[(key, metric)] if (key, metric) in wide else np.nan
    return pd.DataFrame(columns, index=wide.index).dropna()


def _wilcoxon(pair: pd.DataFrame):
    """(statistic, p) of scipy's two-sided test; NaN with fewer than 2 pairs."""
    if len(pair) < 2:
        return np.nan, np.nan
    difference = pair["model"].to_numpy() - pair["reference"].to_numpy()
    if not np.any(difference):
        # identical scores on every fold: no evidence of a difference (scipy gives the same
        # statistic 0 and p 1 here, with a division warning)
        return 0.0, 1.0
    with warnings.catch_warnings():
        # scipy warns when ties/zeros force the normal approximation; the p-value stands
        warnings.simplefilter("ignore", UserWarning)
        result = stats.wilcoxon(pair["model"].to_numpy(), pair["reference"].to_numpy(),
                                alternative="two-sided")
    return float(result.statistic), float(result.pvalue)


def delong_table(predictions: pd.DataFrame, names, reference, positive, n_classes,
                 alpha=0.05) -> pd.DataFrame:
    """Paired DeLong test of each model against ``reference``, one row per repeat.

    Binary outcomes only (the DeLong test compares two binary ROC curves); the
    table is empty for a multiclass task.
    """
    if n_classes != 2 or predictions.empty:
        return pd.DataFrame(columns=DELONG_COLUMNS)
    from ..metrics import delong_test

    rows = []
    for repeat, in_repeat in predictions.groupby("repeat", sort=True):
        by_model = {m: frame.set_index("position") for m, frame in in_repeat.groupby("model")}
        if reference not in by_model:
            continue
        ref = by_model[reference]
        for name in names:
            if name == reference or name not in by_model:
                continue
            common = by_model[name].index.intersection(ref.index).sort_values()
            y_true = (ref.loc[common, "y_true"].to_numpy() == positive).astype(int)
            if len(np.unique(y_true)) < 2:
                continue
            test = delong_test(y_true, by_model[name].loc[common, "score"].to_numpy(),
                               ref.loc[common, "score"].to_numpy(), paired=True, alpha=alpha)
            rows.append([name, reference, repeat, len(common), test.auc_a, test.auc_b,
                         test.difference, test.ci[0], test.ci[1], test.statistic, test.p_value])
    table = pd.DataFrame(rows, columns=DELONG_COLUMNS)
    order = {name: k for k, name in enumerate(names)}
    return table.sort_values(["model", "repeat"], key=lambda c: c.map(order) if c.name == "model"
                             else c, kind="stable").reset_index(drop=True)


def centre_table(predictions: pd.DataFrame, classes, positive, probability_models) -> pd.DataFrame:
    """Per model, repeat and centre: n, AUC with its DeLong CI, sensitivity, specificity,
    calibration."""
    rows = []
    for (model, repeat, centre), frame in predictions.groupby(["model", "repeat", "centre"],
                                                              sort=False):
        row = {"model": model, "repeat": repeat, "centre": centre, "n": len(frame)}
        if len(classes) == 2:
            row.update(_binary_centre_metrics(frame, positive, model in probability_models))
        else:
            row.update(_multiclass_centre_metrics(frame, classes))
        rows.append(row)
    return pd.DataFrame(rows)


def _binary_centre_metrics(frame, positive, is_probability) -> dict:
    from ..metrics import calibration_stats, roc_auc_ci

    y_true = (frame["y_true"].to_numpy() == positive).astype(int)
    y_pred = (frame["y_pred"].to_numpy() == positive).astype(int)
    score = frame["score"].to_numpy()
    out = {"n_positive": int(y_true.sum()), "auc": np.nan, "auc_ci_low": np.nan,
           "auc_ci_high": np.nan,
           "sensitivity": y_pred[y_true == 1].mean() if y_true.any() else np.nan,
           "specificity": 1 - y_pred[y_true == 0].mean() if (1 - y_true).any() else np.nan,
           "accuracy": float(np.mean(y_pred == y_true)),
           "calibration_intercept": np.nan, "calibration_slope": np.nan, "brier": np.nan}
    if 0 < y_true.sum() < len(y_true):
        if min(y_true.sum(), len(y_true) - y_true.sum()) >= 2:
            auc = roc_auc_ci(y_true, score)
            out.update(auc=auc.auc, auc_ci_low=auc.ci[0], auc_ci_high=auc.ci[1])
        else:  # DeLong's variance needs two of each class: the AUC without its interval
            out["auc"] = float(skm.roc_auc_score(y_true, score))
        if is_probability:
            out.update(_calibration(calibration_stats, y_true, score))
    return out


def _calibration(calibration_stats, y_true, prob) -> dict:
    brier = float(skm.brier_score_loss(y_true, prob))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cal = calibration_stats(y_true, prob)
    except Exception:  # noqa: BLE001 - a tiny centre may not support a logistic recalibration fit
        return {"brier": brier}
    return {"calibration_intercept": cal.intercept, "calibration_slope": cal.slope, "brier": brier}


def _multiclass_centre_metrics(frame, classes) -> dict:
    y_true = frame["y_true"].to_numpy()
    proba = frame[[f"proba_{c}" for c in classes]].to_numpy()
    out = {"accuracy": float(np.mean(frame["y_pred"].to_numpy() == y_true)), "auc": np.nan}
    if len(np.unique(y_true)) == len(classes):
        out["auc"] = skm.roc_auc_score(y_true, proba, multi_class="ovo", labels=classes)
    out["kappa_quadratic"] = skm.cohen_kappa_score(y_true, frame["y_pred"].to_numpy(),
                                                   labels=classes, weights="quadratic")
    return out
