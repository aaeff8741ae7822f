"""Calibration of predicted risk at a time horizon against Kaplan-Meier estimates."""

from __future__ import annotations

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter

from ._target import check_survival_y

__all__ = ["calibration_at_horizon"]


def calibration_at_horizon(y, predicted_risk, horizon, *, n_groups=10, alpha=0.05):
    """Predicted vs observed probability of an event by a horizon, per risk group.

    Patients are split into ``n_groups`` groups of (about) equal size by predicted risk
    (deciles by default); in each group the observed probability of the event by the
    horizon is ``1 - KM(horizon)`` (lifelines' Kaplan-Meier, which uses censored
    patients up to their last follow-up), with its log-log (exponential Greenwood) CI.

    Parameters
    ----------
    y : structured ndarray of shape (n_patients,)
        Survival target.
    predicted_risk : array-like of shape (n_patients,)
        Predicted probability of the event by ``horizon``, e.g.
        ``1 - fn(horizon)`` for ``fn`` in ``model.predict_survival_function(X)``.
    horizon : float
        The time horizon.
    n_groups : int, default=10
        Number of risk groups (quantiles of ``predicted_risk``; tied quantiles merge).
    alpha : float, default=0.05
        The observed-risk CI has level ``1 - alpha``.

    Returns
    -------
    pandas.DataFrame
        One row per group (lowest risk first): ``n``, ``events`` (by the horizon),
        ``predicted`` (mean predicted risk), ``observed``, ``observed lower``,
        ``observed upper``. ``observed`` is NaN for a group whose follow-up ends before
        the horizon (the Kaplan-Meier estimate would be extrapolated).

    Examples
    --------
    >>> import numpy as np
    >>> from mvikit.survival import Surv, calibration_at_horizon
    >>> rng = np.random.default_rng(0)
    >>> risk = rng.uniform(0.1, 0.9, 400)
    >>> # exponential times with P(T <= 1) = risk: a perfectly calibrated prediction
    >>> time = rng.exponential(-1 / np.log(1 - risk))
    >>> y = Surv.from_arrays(event=time < 3, time=np.minimum(time, 3))
    >>> table = calibration_at_horizon(y, risk, 1.0, n_groups=4)
    >>> bool(np.abs(table["observed"] - table["predicted"]).max() < 0.1)
    True
    """
    event, time = check_survival_y(y, allow_all_censored=True)
    risk = np.asarray(predicted_risk, dtype=float)
    if risk.shape != time.shape:
        raise ValueError(f"predicted_risk has shape {risk.shape}; expected {time.shape}.")
    if not np.isfinite(risk).all() or risk.min() < 0 or risk.max() > 1:
        raise ValueError("predicted_risk must be probabilities in [0, 1] without NaN.")
    groups = pd.qcut(risk, n_groups, labels=False, duplicates="drop")
    rows = []
    for group in np.unique(groups):
        inside = groups == group
        fitter = KaplanMeierFitter(alpha=alpha).fit(time[inside], event[inside])
        reached = time[inside].max() >= horizon
        surv = fitter.survival_function_at_times(horizon).iloc[0]
        band = fitter.confidence_interval_.iloc[
            fitter.confidence_interval_.index.searchsorted(horizon, side="right") - 1]
        rows.append({
            "n": int(inside.sum()),
            "events": int((event[inside] & (time[inside] <= horizon)).sum()),
            "predicted": float(risk[inside].mean()),
            "observed": 1 - surv if reached else np.nan,
            "observed lower": 1 - band.iloc[1] if reached else np.nan,
            "observed upper": 1 - band.iloc[0] if reached else np.nan,
        })
    table = pd.DataFrame(rows)
    table.index.name = "risk group"
    return table
