"""`risk_groups_by_fold`: risk models on the same folds, C-index and HR per fold.

The evaluation of DMMGNet's PFS task (seed 002, Sec. 4 and Fig. 6): k-fold
cross-validation; per test fold Harrell's C-index of the predicted risk and the
hazard ratio of the high- vs the low-risk group, the groups cut at the median of
the *training* risks (`RiskStratifier`); Kaplan-Meier curves of the groups per fold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, check_cv
from sksurv.metrics import concordance_index_censored

from ._km import hazard_ratio, logrank_test
from ._stratify import RiskStratifier
from ._target import check_survival_y

__all__ = ["RiskGroupsByFold", "risk_groups_by_fold"]


@dataclass
class RiskGroupsByFold:
    """Result of `risk_groups_by_fold`.

    Attributes
    ----------
    scores : pandas.DataFrame
        One row per model and fold: ``model``, ``fold``, ``c_index`` (Harrell's, test
        fold), ``hr``, ``hr_lower``, ``hr_upper`` (high vs low risk, 95 % CI),
        ``p_logrank``, ``n_test``, ``n_high``.
    predictions : pandas.DataFrame
        Test-fold predictions: ``model``, ``fold``, ``patient``, ``risk``, ``group``
        (0 low, 1 high), ``time``, ``event``.
    """

    scores: pd.DataFrame
    predictions: pd.DataFrame

    def table(self, digits: int = 4) -> pd.DataFrame:
        """Mean +/- SD (ddof=1) over folds of the C-index and the HR, per model (Table 1's
        PFS columns)."""
        rows = []
        for model, part in self.scores.groupby("model", sort=False):
            rows.append({"Model": model, **{
                label: f"{part[col].mean():.{digits}f} ± {part[col].std(ddof=1):.{digits}f}"
                for label, col in (("C-index", "c_index"), ("HR", "hr"))}})
        return pd.DataFrame(rows)

    def plot_km(self, model: str, **kwargs):
        """Kaplan-Meier curves of the high- and low-risk test patients, one panel per fold
        (DMMGNet's Fig. 6); ``kwargs`` go to `mvikit.plotting.plot_km`.

        Returns
        -------
        matplotlib.figure.Figure
        """
        import matplotlib.pyplot as plt

        from ..plotting import plot_km

        part = self.predictions[self.predictions["model"] == model]
        if part.empty:
            raise ValueError(f"No model {model!r}; models: {self.scores['model'].unique()}.")
        folds = sorted(part["fold"].unique())
        figure, axes = plt.subplots(1, len(folds), figsize=(4.5 * len(folds), 4), squeeze=False)
        for ax, fold in zip(axes[0], folds):
            test = part[part["fold"] == fold]
            y = np.empty(len(test), dtype=[("event", bool), ("time", float)])
            y["event"], y["time"] = test["event"], test["time"]
            options = {"group_names": {0: "low risk", 1: "high risk"}, "at_risk": False, **kwargs}
            if test["group"].nunique() == 2:
                plot_km(y, test["group"].to_numpy(), ax=ax, **options)
                ax.legend(loc="lower left")  # the log-rank and HR text sits top right
            ax.set_title(f"{model}, fold {fold + 1}")
        figure.tight_layout()
        return figure


def _fold(model, X, event, time, train, test, fold):
    fitted = clone(model).fit(X.iloc[train], _target(event[train], time[train]))
    risk_train = np.asarray(fitted.predict(X.iloc[train]), dtype=float)
    risk = np.asarray(fitted.predict(X.iloc[test]), dtype=float)
    groups = RiskStratifier(method="median").fit(risk_train[:, None]).predict(risk[:, None])
    y = _target(event[test], time[test])
    row = {"fold": fold, "c_index": concordance_index_censored(event[test], time[test],
                                                               risk)[0],
           "hr": np.nan, "hr_lower": np.nan, "hr_upper": np.nan, "p_logrank": np.nan,
           "n_test": len(test), "n_high": int(groups.sum())}
    if 0 < groups.sum() < len(groups):  # both groups present among the test patients
        ratio = hazard_ratio(y, groups, reference=0).iloc[0]
        row.update(hr=ratio["HR"], hr_lower=ratio["HR lower"], hr_upper=ratio["HR upper"],
                   p_logrank=logrank_test(y, groups).p_value)
    predictions = pd.DataFrame({"fold": fold, "patient": X.index[test], "risk": risk,
                                "group": groups, "time": time[test], "event": event[test]})
    return row, predictions


def _target(event, time) -> np.ndarray:
    y = np.empty(len(event), dtype=[("event", bool), ("time", float)])
    y["event"], y["time"] = event, time
    return y


def risk_groups_by_fold(models, X, y, *, cv=4, n_jobs=None, random_state=None
                            ) -> RiskGroupsByFold:
    """Cross-validate risk models on the same folds: C-index and high- vs low-risk HR.

    Per test fold: Harrell's C-index of ``predict`` (the risk) and the Cox hazard
    ratio of the high- vs the low-risk group (`hazard_ratio`, Efron ties, 95 % CI),
    the groups cut at the median of the training patients' risks
    (`RiskStratifier(method="median")`, fitted on the training fold only); the
    log-rank p-value of the two groups.  DMMGNet's PFS evaluation (seed 002,
    Table 1 and Fig. 6: 4-fold CV).

    Parameters
    ----------
    models : dict of str to estimator
        Unfitted survival estimators whose ``predict`` is a risk (higher = worse),
        e.g. `DeepCoxSurvival`, `CoxPHSurvival` pipelines.
    X : pandas.DataFrame
        Cohort frame.
    y : structured ndarray
        Survival target.
    cv : int, splitter or iterable, default=4
        An int: ``StratifiedKFold(cv, shuffle=True)`` on the event indicator (seeded
        by ``random_state``); or any scikit-learn splitter / list of ``(train,
        test)`` index pairs (e.g. the folds of a classification comparison).
    n_jobs : int, default=None
        Parallel (model, fold) fits (joblib).
    random_state : int or None, default=None
        Seeds the default splitter.

    Returns
    -------
    RiskGroupsByFold
        ``scores`` per model and fold, ``table()`` mean +/- SD, ``plot_km(model)``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mvikit.survival import CoxPHSurvival, Surv, risk_groups_by_fold
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=200), "noise": rng.normal(size=200)})
    >>> time = rng.exponential(np.exp(-X["x"].to_numpy()))
    >>> y = Surv.from_arrays(event=rng.random(200) < 0.8, time=time)
    >>> from sklearn.compose import make_column_transformer
    >>> from sklearn.pipeline import make_pipeline
    >>> noise = make_pipeline(make_column_transformer(("passthrough", ["noise"])),
    ...                       CoxPHSurvival())
    >>> result = risk_groups_by_fold({"x + noise": CoxPHSurvival(), "noise": noise},
    ...                                  X, y, random_state=0)
    >>> list(result.scores.columns[:4])
    ['model', 'fold', 'c_index', 'hr']
    >>> print(result.table(digits=2).to_string(index=False))
        Model     C-index          HR
    x + noise 0.74 ± 0.03 4.74 ± 1.30
        noise 0.44 ± 0.04 0.71 ± 0.22
    """
    event, time = check_survival_y(y, patient_ids=getattr(X, "index", None))
    if isinstance(cv, int):
        cv = StratifiedKFold(cv, shuffle=True, random_state=random_state)
    splitter = check_cv(cv, event.astype(int), classifier=True)
    splits = list(splitter.split(X, event.astype(int)))
    names = list(models)
    outputs = Parallel(n_jobs=n_jobs)(
        delayed(_fold)(models[name], X, event, time, train, test, k)
        for name in names for k, (train, test) in enumerate(splits))
    rows, predictions = [], []
    for i, (row, pred) in enumerate(outputs):
        name = names[i // len(splits)]
        rows.append({"model": name, **row})
        predictions.append(pred.assign(model=name))
    predictions = pd.concat(predictions, ignore_index=True)
    return RiskGroupsByFold(pd.DataFrame(rows),
                              predictions[["model", *predictions.columns[:-1]]])
