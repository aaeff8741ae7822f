"""`head_to_head`: two models of one `compare_models` run, compared on the same patients.

Seed 003 (Sec. 2.6, 2.9, 3.3) compares CDLM-CE-CT with CDLM-EOB-MRI on paired
images: AUCs by DeLong's paired test, sensitivities and specificities by
McNemar's test, decision curves, and AUCs within subgroups of age, sex, AFP and
tumour size.  Here every statistic reads the pooled out-of-fold predictions of one
repeat of `compare_models`, whose labels come from thresholds chosen on the
training folds (Youden's J by default), so no test patient chooses its own
operating point.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ..metrics import decision_curve, delong_test, mcnemar_test, roc_auc_ci

__all__ = ["head_to_head", "paired_statistics", "subgroup_labels"]


def subgroup_labels(X: pd.DataFrame, *, age="age", sex="gender", afp="afp", size="size",
                    age_cut=60.0, afp_cuts=(20.0, 400.0), size_cut=5.0) -> pd.DataFrame:
    """Seed 003's stratification variables (age, sex, AFP, tumour size) as labels.

    Parameters
    ----------
    X : pandas.DataFrame
        Cohort frame (index = patient id).
    age, sex, afp, size : str
        Column names (years, sex label, ng/mL, cm); a column absent from ``X`` is
        left out.
    age_cut : float, default=60
        ``"< 60"`` / ``">= 60"``.
    afp_cuts : sequence of float, default=(20, 400)
        AFP strata ``"< 20"``, ``"20-400"``, ``">= 400"`` ng/mL (the usual
        clinical cut-offs; the paper's Table S1 strata are not in the text).
    size_cut : float, default=5
        ``"<= 5 cm"`` / ``"> 5 cm"`` (the paper's cut-off, Sec. 3.3).

    Returns
    -------
    pandas.DataFrame
        One column per variable (``"age"``, ``"sex"``, ``"AFP"``, ``"size"``),
        labels as strings, NaN where the value is missing.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"age": [45, 70], "gender": ["M", "F"], "afp": [5.0, 900.0],
    ...                   "size": [3.0, 7.5]}, index=["a", "b"])
    >>> subgroup_labels(X).loc["b"].tolist()
    ['>= 60', 'F', '>= 400', '> 5 cm']
    """
    out = pd.DataFrame(index=X.index)
    if age in X:
        out["age"] = np.where(X[age] < age_cut, f"< {age_cut:g}", f">= {age_cut:g}")
        out.loc[X[age].isna(), "age"] = np.nan
    if sex in X:
        out["sex"] = X[sex].astype(object)
    if afp in X:
        edges = [-np.inf, *afp_cuts, np.inf]
        names = ([f"< {afp_cuts[0]:g}"]
                 + [f"{lo:g}-{hi:g}" for lo, hi in zip(afp_cuts[:-1], afp_cuts[1:])]
                 + [f">= {afp_cuts[-1]:g}"])
        out["AFP"] = pd.cut(X[afp], edges, right=False, labels=names).astype(object)
    if size in X:
        out["size"] = np.where(X[size] <= size_cut, f"<= {size_cut:g} cm", f"> {size_cut:g} cm")
        out.loc[X[size].isna(), "size"] = np.nan
    return out


def _enough(y) -> bool:
    """DeLong's variance needs at least two events and two non-events."""
    return min(int(np.sum(y == 1)), int(np.sum(y == 0))) >= 2


def _auc_cell(y, score) -> tuple[float, float, float]:
    if len(np.unique(y)) < 2:
        return (np.nan, np.nan, np.nan)
    if not _enough(y):  # an AUC, but no DeLong interval
        from sklearn.metrics import roc_auc_score

        return (float(roc_auc_score(y, score)), np.nan, np.nan)
    result = roc_auc_ci(y, score)
    return (result.auc, *result.ci)


def _subgroup_table(y, a, b, labels: pd.DataFrame, names) -> pd.DataFrame:
    rows = []
    for variable in labels.columns:
        for level in sorted(labels[variable].dropna().unique(), key=str):
            keep = (labels[variable] == level).to_numpy()
            row = {"subgroup": variable, "level": level, "n": int(keep.sum()),
                   "events": int(y[keep].sum())}
            for name, score in zip(names, (a, b)):
                auc, low, high = _auc_cell(y[keep], score[keep])
                row.update({f"auc {name}": auc, f"ci_low {name}": low,
                            f"ci_high {name}": high})
            row["p_delong"] = (delong_test(y[keep], a[keep], b[keep]).p_value
                               if _enough(y[keep]) else np.nan)
            rows.append(row)
    return pd.DataFrame(rows)


def head_to_head(result, model: str, reference: str, *, subgroups: pd.DataFrame | None = None,
                 repeat: int = 0, thresholds=None) -> Bunch:
    """Paired comparison of two models of a `compare_models` result (seed 003's CT vs MRI).

    Parameters
    ----------
    result : ModelComparison
        A binary-task result whose models were fitted on the same folds.
    model, reference : str
        The two models (e.g. ``"CDLM-MRI"`` and ``"CDLM-CT"``).
    subgroups : pandas.DataFrame, default=None
        Subgroup labels per patient (rows: patient ids of ``X``; e.g.
        `subgroup_labels`); adds the per-subgroup AUC table.
    repeat : int, default=0
        Which repeat's pooled out-of-fold predictions to use.
    thresholds : array-like, default=None
        Threshold probabilities of the decision curves (default 0.01-0.99).

    Returns
    -------
    sklearn.utils.Bunch
        ``auc`` (per model: AUC, DeLong 95 % CI, and sensitivity, specificity and
        accuracy at the training-fold thresholds), ``delong`` (paired
        `DeLongTestResult`, ``model`` minus ``reference``), ``mcnemar`` (McNemar's
        exact test of accuracy, sensitivity and specificity: one row each),
        ``decision_curve`` (net benefit of both models, treat-all and the
        thresholds, long format with a ``model`` column) and ``subgroups``
        (``subgroup, level, n, events``, the AUC and CI of each model and the
        paired DeLong p-value; None without ``subgroups``).

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from mvikit.model_selection import compare_models, head_to_head
    >>> X, y = make_classification(n_samples=150, n_features=5, random_state=0)
    >>> result = compare_models({"logistic": LogisticRegression(), "bayes": GaussianNB()},
    ...                         X, y, cv=3, random_state=0)
    >>> h2h = head_to_head(result, "logistic", "bayes")
    >>> h2h.mcnemar.index.tolist(), round(h2h.delong.p_value, 3)
    (['accuracy', 'sensitivity', 'specificity'], 0.461)
    """
    if result.task != "binary":
        raise ValueError("head_to_head compares binary predictions; this result is "
                         f"{result.task!r}.")
    first, second = result.oof_predictions(model, repeat), result.oof_predictions(reference,
                                                                                  repeat)
    common = first.index.intersection(second.index)
    first, second = first.loc[common], second.loc[common]
    y = (first["y_true"] == result.pos_label).to_numpy(dtype=int)
    out = paired_statistics(
        y, {name: frame["score"].to_numpy(float) for name, frame in ((model, first),
                                                                     (reference, second))},
        {name: (frame["y_pred"] == result.pos_label).to_numpy(dtype=int)
         for name, frame in ((model, first), (reference, second))},
        subgroups=None if subgroups is None else subgroups.reindex(common),
        thresholds=thresholds,
        probabilities=[m for m in (model, reference) if m in result.probability_models])
    out.repeat = repeat
    return out


def paired_statistics(y, scores: dict, labels: dict, *, subgroups=None, thresholds=None,
                      probabilities=None) -> Bunch:
    """The statistics of `head_to_head` from two models' scores and labels on one cohort.

    Parameters
    ----------
    y : array-like of shape (n,)
        Binary outcome (0/1).
    scores, labels : dict of str to array-like
        Two entries each, same keys: ``{model: score}`` (probabilities) and ``{model:
        0/1 label at its threshold}``; the first key is compared with the second.
    subgroups : pandas.DataFrame, default=None
        Subgroup labels, rows in the order of ``y``.
    thresholds : array-like, default=None
        Threshold probabilities of the decision curves.
    probabilities : list of str, default=None
        Models whose scores are probabilities (decision curves); None: both.

    Returns
    -------
    sklearn.utils.Bunch
        As `head_to_head`.
    """
    y = np.asarray(y, dtype=int)
    names = list(scores)
    scores = [np.asarray(scores[name], dtype=float) for name in names]
    labels = [np.asarray(labels[name], dtype=int) for name in names]
    model, reference = names
    auc = pd.DataFrame([
        {"model": name, **dict(zip(("auc", "ci_low", "ci_high"), _auc_cell(y, score))),
         "sensitivity": pred[y == 1].mean(), "specificity": 1 - pred[y == 0].mean(),
         "accuracy": (pred == y).mean()}
        for name, score, pred in zip(names, scores, labels)]).set_index("model")
    mcnemar = {}
    for metric, subset in (("accuracy", "all"), ("sensitivity", "positives"),
                           ("specificity", "negatives")):
        test = mcnemar_test(y, labels[0], labels[1], subset=subset)
        mcnemar[metric] = {model: auc.loc[model, metric], reference: auc.loc[reference, metric],
                           "statistic": test.statistic, "p_value": test.p_value}
    probabilities = names if probabilities is None else probabilities
    curves = [decision_curve(y, score, thresholds).assign(model=name)
              for name, score in zip(names, scores) if name in probabilities]
    table = None
    if subgroups is not None:
        table = _subgroup_table(y, *scores, subgroups, names)
    return Bunch(auc=auc, delong=delong_test(y, *scores), mcnemar=pd.DataFrame(mcnemar).T,
                 decision_curve=pd.concat(curves, ignore_index=True) if curves else None,
                 subgroups=table, n=len(y))
