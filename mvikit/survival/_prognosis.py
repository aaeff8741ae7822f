"""`risk_group_prognosis`: PFS and OS of the risk groups a model's output defines (seed 003).

Seed 003 (Sec. 2.8, 3.5) builds Cox models on the CDLM outputs for progression-free
and overall survival, draws Kaplan-Meier curves of low- and high-risk patients and
compares them by the log-rank test.  Given each patient's score (e.g. the pooled
out-of-fold CDLM probabilities of `compare_models`) and survival targets, this
gives, per endpoint, the groups' Kaplan-Meier summary, the log-rank test, the hazard
ratio of the high-risk group and the Cox hazard ratio per standard deviation of the
score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ._km import hazard_ratio, km_summary, logrank_test
from ._stratify import RiskStratifier

__all__ = ["risk_group_prognosis"]


def _score_hazard_ratio(y, score: np.ndarray) -> tuple[float, float, float, float]:
    """Cox HR (Efron ties, lifelines) per SD of the score, its 95 % CI and Wald p."""
    from lifelines import CoxPHFitter

    frame = pd.DataFrame({"score": (score - score.mean()) / score.std(ddof=1),
                          "__time__": y["time"], "__event__": y["event"]})
    row = CoxPHFitter().fit(frame, "__time__", "__event__").summary.loc["score"]
    return (float(row["exp(coef)"]), float(row["exp(coef) lower 95%"]),
            float(row["exp(coef) upper 95%"]), float(row["p"]))


def risk_group_prognosis(score, endpoints: dict, *, groups=None, method="median") -> Bunch:
    """Kaplan-Meier, log-rank and hazard ratios of risk groups defined by a score.

    Parameters
    ----------
    score : array-like of shape (n_patients,)
        Risk score (e.g. a model's MVI probability).
    endpoints : dict of str to structured ndarray
        Survival targets by name, e.g. ``{"PFS": ..., "OS": ...}`` (`Surv`).
    groups : array-like of shape (n_patients,), default=None
        Ready-made groups, 0 = low and 1 = high risk (e.g. the labels of
        `compare_models` at training-fold thresholds).  None: `RiskStratifier`
        with ``method`` on ``score``.
    method : str or float, default="median"
        `RiskStratifier`'s method when ``groups`` is None (``"median"`` or a fixed
        cut-off such as 0.5).

    Returns
    -------
    sklearn.utils.Bunch
        ``groups`` (``"low"``/``"high"`` per patient), ``table`` (one row per
        endpoint: the groups' ``n``, ``events`` and median survival, ``logrank p``,
        the high-vs-low ``HR`` with CI and p, and the Cox ``HR per SD`` of the
        score with CI and p), ``km`` (`km_summary` per endpoint).

    Examples
    --------
    >>> import numpy as np
    >>> from mvikit.survival import Surv, risk_group_prognosis
    >>> rng = np.random.default_rng(0)
    >>> score = rng.uniform(size=200)
    >>> time = rng.exponential(20 / (0.5 + 2 * score))
    >>> pfs = Surv.from_arrays(time < 30, np.minimum(time, 30))
    >>> out = risk_group_prognosis(score, {"PFS": pfs})
    >>> row = out.table.loc["PFS"]
    >>> int(row["n low"]), int(row["n high"]), bool(row["HR"] > 1), bool(row["logrank p"] < 0.05)
    (100, 100, True, True)
    """
    score = np.asarray(score, dtype=float)
    if groups is None:
        coded = RiskStratifier(method=method).fit(score[:, None]).predict(score[:, None])
    else:
        coded = np.asarray(groups).astype(int)
    labels = np.where(coded == 1, "high", "low")
    rows, km = {}, {}
    for name, y in endpoints.items():
        km[name] = table = km_summary(y, labels)
        hr = hazard_ratio(y, labels, reference="low").loc["high"]
        per_sd = _score_hazard_ratio(y, score)
        row = {}
        for group in ("low", "high"):
            row.update({f"n {group}": int(table.at[group, "n"]),
                        f"events {group}": int(table.at[group, "events"]),
                        f"median {group}": float(table.at[group, "median"])})
        row.update({"logrank p": logrank_test(y, labels).p_value, "HR": hr["HR"],
                    "HR lower": hr["HR lower"], "HR upper": hr["HR upper"], "HR p": hr["p"],
                    "HR per SD": per_sd[0], "HR per SD lower": per_sd[1],
                    "HR per SD upper": per_sd[2], "HR per SD p": per_sd[3]})
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "endpoint"
    return Bunch(groups=pd.Series(labels, name="risk group"), table=table, km=km)
