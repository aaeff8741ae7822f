"""Survival metrics at a horizon: calibration against Kaplan-Meier, the time-dependent ROC
curve, bootstrap CIs of Uno's C and the time-dependent AUC, and survival decision curves.

The IPCW numbers come from scikit-survival (censoring weights, Uno's C, cumulative/dynamic
AUC); Kaplan-Meier estimates at a horizon are computed here with numpy because a decision
curve or a bootstrap needs thousands of them (equal to lifelines' KM, tested).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from sksurv.metrics import concordance_index_ipcw, cumulative_dynamic_auc
from sksurv.nonparametric import CensoringDistributionEstimator

from ..exceptions import MetricInputError
from ..metrics._bootstrap import _resample_indices
from ._target import check_survival_y

__all__ = ["calibration_at_horizon", "calibration_slope_at_horizon", "km_at",
           "smoothed_calibration_at_horizon", "survival_decision_curve", "time_dependent_auc_ci",
           "time_dependent_roc", "uno_c_ci"]


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


def _as_target(event, time):
    y = np.empty(event.shape[0], dtype=[("event", bool), ("time", float)])
    y["event"], y["time"] = event, time
    return y


def _check_risk(risk, n, name="risk", probability=False):
    risk = np.asarray(risk, dtype=float)
    if risk.shape != (n,):
        raise MetricInputError(f"{name} has shape {risk.shape}; expected ({n},).")
    if not np.isfinite(risk).all():
        raise MetricInputError(f"{name} holds NaN or infinite values (row "
                               f"{int(np.argmax(~np.isfinite(risk)))}); fix the predictions.")
    if probability and (risk.min() < 0 or risk.max() > 1):
        raise MetricInputError(f"{name} must be probabilities of the event in [0, 1].")
    return risk


def _checked(y, y_train=None):
    event, time = check_survival_y(y, allow_all_censored=True)
    test = _as_target(event, time)
    if y_train is None:
        return test, test
    train_event, train_time = check_survival_y(y_train, allow_all_censored=True)
    return test, _as_target(train_event, train_time)


def _check_horizon(horizon, test, train):
    last = min(test["time"].max(), train["time"].max())
    if not horizon < last:
        raise MetricInputError(f"The horizon {horizon:g} is at or beyond the last follow-up "
                               f"({last:g}); choose a horizon before it.")
    if not (test["event"] & (test["time"] <= horizon)).any():
        raise MetricInputError(f"No event by the horizon {horizon:g}: there are no cases.")


def km_at(time, event, horizon):
    """Kaplan-Meier survival at ``horizon`` (NaN when follow-up ends before it).

    Parameters
    ----------
    time : ndarray of float
    event : ndarray of bool
    horizon : float

    Returns
    -------
    float
        ``prod_{t_j <= horizon} (1 - d_j / n_j)`` over the distinct event times ``t_j``
        (``d_j`` events among ``n_j`` at risk), as lifelines' ``KaplanMeierFitter``; NaN
        when the last follow-up (a censoring) comes before ``horizon``.

    Examples
    --------
    >>> import numpy as np
    >>> from mvikit.survival import km_at
    >>> round(km_at(np.array([1.0, 2, 3, 4]), np.array([True, False, True, False]), 3.5), 4)
    0.375
    """
    if time.size == 0:
        return np.nan
    distinct, inverse = np.unique(time, return_inverse=True)
    deaths = np.bincount(inverse, weights=event.astype(float))
    at_risk = time.size - np.r_[0, np.cumsum(np.bincount(inverse))[:-1]]
    keep = (distinct <= horizon) & (deaths > 0)
    surv = float(np.prod(1 - deaths[keep] / at_risk[keep]))
    # past the last follow-up the curve is unknown, unless everyone has had the event
    return np.nan if time.max() < horizon and surv > 0 else surv


def time_dependent_roc(y, risk, horizon, *, y_train=None):
    """Cumulative/dynamic ROC curve at a horizon (IPCW, Uno et al. 2007).

    Cases: events by ``horizon``, weighted by the inverse probability of remaining
    uncensored (Kaplan-Meier of the censoring times of ``y_train``, or of ``y``); controls:
    patients still event-free after ``horizon``. The area under the curve equals
    :func:`sksurv.metrics.cumulative_dynamic_auc` at ``horizon``.

    Parameters
    ----------
    y : structured ndarray of shape (n_patients,)
        Survival target of the patients scored.
    risk : array-like of shape (n_patients,)
        Risk score (higher = earlier event).
    horizon : float
        Time of the ROC curve; before the last follow-up of ``y`` and ``y_train``.
    y_train : structured ndarray, default=None
        Target the censoring distribution is estimated from (the training data of the
        model); ``None``: ``y``.

    Returns
    -------
    pandas.DataFrame
        ``threshold, fpr, tpr``, starting at (0, 0); ``attrs["auc"]`` is the area,
        ``attrs["n_cases"]`` and ``attrs["n_controls"]`` the counts.

    Examples
    --------
    >>> import numpy as np
    >>> from mvikit.survival import Surv, time_dependent_roc
    >>> y = Surv.from_arrays(event=[True, True, False, True, False, False],
    ...                      time=[1.0, 2.0, 2.5, 4.0, 5.0, 6.0])
    >>> roc = time_dependent_roc(y, [0.9, 0.4, 0.6, 0.5, 0.2, 0.1], 3.0)
    >>> round(roc.attrs["auc"], 4), roc.attrs["n_cases"], roc.attrs["n_controls"]
    (0.8333, 2, 3)
    """
    test, train = _checked(y, y_train)
    risk = _check_risk(risk, test.size)
    horizon = float(horizon)
    _check_horizon(horizon, test, train)
    ipcw = CensoringDistributionEstimator().fit(train).predict_ipcw(test)
    order = np.argsort(-risk, kind="stable")
    sorted_risk = risk[order]
    case = (test["time"][order] <= horizon) & test["event"][order]
    control = test["time"][order] > horizon
    tp = np.cumsum(case * ipcw[order])
    fp = np.cumsum(control)
    # one point per distinct risk (the last of a run of ties), as scikit-survival
    last = np.r_[sorted_risk[1:] != sorted_risk[:-1], True]
    tpr = np.r_[0.0, tp[last] / tp[-1]]
    fpr = np.r_[0.0, fp[last] / max(fp[-1], 1)]
    table = pd.DataFrame({"threshold": np.r_[np.inf, sorted_risk[last]], "fpr": fpr, "tpr": tpr})
    table.attrs.update(auc=float(np.trapezoid(tpr, fpr)), n_cases=int(case.sum()),
                       n_controls=int(control.sum()), horizon=horizon)
    return table


def _bootstrap(statistic, test, n_resamples, alpha, random_state):
    """Percentile interval of ``statistic(indices)`` over resamples stratified on the event."""
    values = []
    for index in _resample_indices(test["event"], n_resamples, True, random_state):
        try:
            values.append(statistic(index))
        except ValueError:  # e.g. no case at a horizon in this resample
            values.append(np.full_like(np.atleast_1d(statistic(np.arange(test.size))), np.nan))
    values = np.array(values, dtype=float)
    lower, upper = np.nanquantile(values, [alpha / 2, 1 - alpha / 2], axis=0)
    return lower, upper, int(np.isnan(values).any(axis=-1 if values.ndim > 1 else 0).sum())


def uno_c_ci(y, risk, *, tau=None, y_train=None, n_resamples=1000, alpha=0.05,
             random_state=None):
    """Uno's C truncated at ``tau`` with a bootstrap percentile CI.

    Parameters
    ----------
    y : structured ndarray of shape (n_patients,)
        Survival target of the patients scored.
    risk : array-like of shape (n_patients,)
        Risk score.
    tau : float, default=None
        Truncation time; ``None``: the 90th percentile of the times of ``y_train`` (or ``y``).
    y_train : structured ndarray, default=None
        Target of the censoring distribution (fixed across resamples); ``None``: ``y``,
        re-estimated in every resample.
    n_resamples : int, default=1000
        Bootstrap resamples of the patients, stratified on the event indicator.
    alpha : float, default=0.05
        The interval has level ``1 - alpha``.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    dict
        ``c`` (:func:`sksurv.metrics.concordance_index_ipcw`), ``ci_low``, ``ci_high``,
        ``tau``.

    Examples
    --------
    >>> from lifelines.datasets import load_lung
    >>> from mvikit.survival import make_survival_target, uno_c_ci
    >>> lung = load_lung().dropna()
    >>> y = make_survival_target(lung, time="time", event="status")
    >>> out = uno_c_ci(y, lung["ph.ecog"].to_numpy(), tau=700, n_resamples=200, random_state=0)
    >>> round(out["c"], 3), out["ci_low"] < out["c"] < out["ci_high"]
    (0.594, True)
    """
    test, train = _checked(y, y_train)
    risk = _check_risk(risk, test.size)
    tau = float(np.quantile(train["time"], 0.9)) if tau is None else float(tau)
    fixed = y_train is not None

    def statistic(index):
        sample = test[index]
        return concordance_index_ipcw(train if fixed else sample, sample, risk[index], tau=tau)[0]

    c = float(concordance_index_ipcw(train, test, risk, tau=tau)[0])
    lower, upper, _ = _bootstrap(statistic, test, n_resamples, alpha, random_state)
    return {"c": c, "ci_low": float(lower), "ci_high": float(upper), "tau": tau}


def time_dependent_auc_ci(y, risk, times, *, y_train=None, n_resamples=1000, alpha=0.05,
                          random_state=None):
    """Cumulative/dynamic AUC at each time with bootstrap percentile CIs.

    Parameters
    ----------
    y : structured ndarray of shape (n_patients,)
    risk : array-like of shape (n_patients,)
    times : array-like of float
        Horizons, before the last follow-up.
    y_train : structured ndarray, default=None
        Target of the censoring distribution (fixed across resamples); ``None``: ``y``.
    n_resamples : int, default=1000
        Resamples stratified on the event indicator; a resample without a case at a
        time is left out of that time's interval.
    alpha : float, default=0.05
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    pandas.DataFrame
        One row per time: ``time``, ``auc`` (:func:`sksurv.metrics.cumulative_dynamic_auc`),
        ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> from lifelines.datasets import load_lung
    >>> from mvikit.survival import make_survival_target, time_dependent_auc_ci
    >>> lung = load_lung().dropna()
    >>> y = make_survival_target(lung, time="time", event="status")
    >>> table = time_dependent_auc_ci(y, lung["ph.ecog"].to_numpy(), [180, 365],
    ...                               n_resamples=200, random_state=0)
    >>> table["auc"].round(3).tolist()
    [0.655, 0.617]
    """
    test, train = _checked(y, y_train)
    risk = _check_risk(risk, test.size)
    times = np.atleast_1d(np.asarray(times, dtype=float))
    for t in times:
        _check_horizon(t, test, train)
    fixed = y_train is not None
    auc = cumulative_dynamic_auc(train, test, risk, times)[0]

    def statistic(index):
        sample = test[index]
        if sample["time"].max() <= times.max():
            raise ValueError("follow-up of the resample ends before the last time")
        return cumulative_dynamic_auc(train if fixed else sample, sample, risk[index], times)[0]

    lower, upper, _ = _bootstrap(statistic, test, n_resamples, alpha, random_state)
    return pd.DataFrame({"time": times, "auc": auc, "ci_low": np.atleast_1d(lower),
                         "ci_high": np.atleast_1d(upper)})


def _net_benefit_at(time, event, treated, horizon, weight):
    """Vickers et al. (2008): NB = (1 - S_treated(h)) p_treated - S_treated(h) p_treated w."""
    share = treated.mean()
    if share == 0:
        return 0.0
    surv = km_at(time[treated], event[treated], horizon)
    return (1 - surv) * share - surv * share * weight


def survival_decision_curve(y, predicted_risk, horizon, thresholds=None, *, n_resamples=0,
                            alpha=0.05, random_state=None):
    """Net benefit at a horizon over threshold probabilities (survival decision curve).

    A patient is treated when the predicted risk of an event by ``horizon`` is at least the
    threshold ``pt``. Among the treated, the event rate by the horizon is the Kaplan-Meier
    estimate ``1 - S_treated(h)`` (so censored patients count up to their follow-up):
    ``NB(pt) = (1 - S_treated(h)) P(treated) - S_treated(h) P(treated) pt / (1 - pt)``
    (Vickers, Cronin, Elkin & Gonen 2008, section "Extension to survival"). Treat-all uses
    the Kaplan-Meier estimate of everyone, treat-none is 0.

    Parameters
    ----------
    y : structured ndarray of shape (n_patients,)
    predicted_risk : array-like of shape (n_patients,)
        Predicted probability of the event by ``horizon`` (e.g. ``1 - S(horizon | x)``).
    horizon : float
    thresholds : array-like, default=None
        Threshold probabilities in (0, 1); default 0.01, 0.02, ..., 0.99.
    n_resamples : int, default=0
        If > 0, bootstrap percentile band of the model's net benefit (``net_benefit_lower``,
        ``net_benefit_upper``), patients resampled stratified on the event.
    alpha : float, default=0.05
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    pandas.DataFrame
        ``threshold, net_benefit, net_benefit_all, net_benefit_none``; NaN where the
        treated patients' follow-up ends before the horizon. ``attrs["event_rate"]`` is
        ``1 - KM(horizon)`` of everyone.

    Examples
    --------
    >>> import numpy as np
    >>> from mvikit.survival import Surv, survival_decision_curve
    >>> y = Surv.from_arrays(event=[True, False, True, True, False, False],
    ...                      time=[1.0, 2.0, 2.5, 4.0, 5.0, 6.0])
    >>> risk = np.array([0.8, 0.3, 0.6, 0.4, 0.2, 0.1])
    >>> survival_decision_curve(y, risk, 3.0, thresholds=[0.25, 0.5]).round(4)
       threshold  net_benefit  net_benefit_all  net_benefit_none
    0       0.25       0.3333           0.1667               0.0
    1       0.50       0.3333          -0.2500               0.0
    """
    test, _ = _checked(y)
    risk = _check_risk(predicted_risk, test.size, "predicted_risk", probability=True)
    horizon = float(horizon)
    pts = np.round(np.arange(0.01, 1.0, 0.01), 2) if thresholds is None else \
        np.asarray(thresholds, dtype=float)
    if pts.min() <= 0 or pts.max() >= 1:
        raise MetricInputError("thresholds must lie strictly between 0 and 1.")
    weights = pts / (1 - pts)
    time, event = test["time"], test["event"]

    def curve(index):
        return np.array([_net_benefit_at(time[index], event[index], risk[index] >= pt, horizon, w)
                         for pt, w in zip(pts, weights)])

    everyone = np.ones(test.size, dtype=bool)
    table = pd.DataFrame({
        "threshold": pts, "net_benefit": curve(np.arange(test.size)),
        "net_benefit_all": [_net_benefit_at(time, event, everyone, horizon, w) for w in weights],
        "net_benefit_none": np.zeros(pts.size)})
    if n_resamples:
        lower, upper, _ = _bootstrap(curve, test, n_resamples, alpha, random_state)
        table["net_benefit_lower"], table["net_benefit_upper"] = lower, upper
    table.attrs.update(event_rate=1 - km_at(time, event, horizon), horizon=horizon, n=test.size)
    return table


def _cloglog(risk):
    clipped = np.clip(risk, 1e-12, 1 - 1e-12)
    return np.log(-np.log(1 - clipped))


def calibration_slope_at_horizon(y, predicted_risk, *, alpha=0.05):
    """Calibration slope of a predicted risk: Cox regression of ``y`` on its cloglog.

    For a Cox model, ``log(-log(1 - risk(h)))`` is the linear predictor plus a constant, so
    the slope is that of the linear predictor (rms ``validate(cph)``'s slope); 1 means the
    predicted risks spread as much as the outcomes do, < 1 overfitting.

    Parameters
    ----------
    y : structured ndarray of shape (n_patients,)
    predicted_risk : array-like of shape (n_patients,)
        Predicted probability of the event by a horizon (any horizon: the slope is the
        same for a proportional-hazards model).
    alpha : float, default=0.05

    Returns
    -------
    dict
        ``slope``, ``ci_low``, ``ci_high`` (Wald), ``p`` (Wald test of slope = 0).

    Examples
    --------
    >>> import numpy as np
    >>> from mvikit.survival import Surv, calibration_slope_at_horizon
    >>> rng = np.random.default_rng(0)
    >>> lp = rng.normal(size=2000)
    >>> time = rng.exponential(np.exp(-lp))
    >>> y = Surv.from_arrays(event=time < 2, time=np.minimum(time, 2))
    >>> risk = 1 - np.exp(-np.exp(lp))   # the true risk by t = 1
    >>> round(calibration_slope_at_horizon(y, risk)["slope"], 2)
    1.0
    """
    test, _ = _checked(y)
    risk = _check_risk(predicted_risk, test.size, "predicted_risk", probability=True)
    frame = pd.DataFrame({"x": _cloglog(risk), "T": test["time"], "E": test["event"]})
    fit = CoxPHFitter(alpha=alpha).fit(frame, "T", "E").summary.loc["x"]
    return {"slope": float(fit["coef"]), "ci_low": float(fit.filter(like="coef lower").iloc[0]),
            "ci_high": float(fit.filter(like="coef upper").iloc[0]), "p": float(fit["p"])}


def _rcs_basis(x, knots):
    """Restricted cubic spline basis (Harrell, Regression Modeling Strategies, eq. 2.25)."""
    k = knots
    scale = (k[-1] - k[0]) ** 2
    columns = [x]
    for j in range(len(k) - 2):
        term = (np.maximum(x - k[j], 0) ** 3
                - np.maximum(x - k[-2], 0) ** 3 * (k[-1] - k[j]) / (k[-1] - k[-2])
                + np.maximum(x - k[-1], 0) ** 3 * (k[-2] - k[j]) / (k[-1] - k[-2]))
        columns.append(term / scale)
    return np.column_stack(columns)


_KNOT_QUANTILES = {3: (0.1, 0.5, 0.9), 4: (0.05, 0.35, 0.65, 0.95)}


def smoothed_calibration_at_horizon(y, predicted_risk, horizon, *, n_knots=3, n_grid=50):
    """Smoothed observed risk by a horizon as a function of the predicted risk.

    Austin, Harrell & van Klaveren (2020): a Cox model of ``y`` on a restricted cubic
    spline of ``cloglog(predicted_risk)`` (knots at Harrell's default quantiles); the
    observed risk at a predicted value is ``1 - S(horizon | spline)`` of that model. The
    integrated calibration index (ICI) is the mean absolute difference between observed
    and predicted over the patients.

    Parameters
    ----------
    y : structured ndarray of shape (n_patients,)
    predicted_risk : array-like of shape (n_patients,)
        Predicted probability of the event by ``horizon``.
    horizon : float
    n_knots : {3, 4}, default=3
    n_grid : int, default=50
        Points of the returned curve, spread over the 1st-99th percentiles of the
        predictions.

    Returns
    -------
    pandas.DataFrame
        ``predicted, observed`` along the grid; ``attrs["ici"]`` and ``attrs["e50"]``
        (mean and median absolute difference over the patients).

    Examples
    --------
    >>> import numpy as np
    >>> from mvikit.survival import Surv, smoothed_calibration_at_horizon
    >>> rng = np.random.default_rng(0)
    >>> lp = rng.normal(size=500)
    >>> time = rng.exponential(np.exp(-lp))
    >>> y = Surv.from_arrays(event=time < 2, time=np.minimum(time, 2))
    >>> curve = smoothed_calibration_at_horizon(y, 1 - np.exp(-np.exp(lp)), 1.0)
    >>> curve.attrs["ici"] < 0.03
    True
    """
    test, _ = _checked(y)
    risk = _check_risk(predicted_risk, test.size, "predicted_risk", probability=True)
    horizon = float(horizon)
    _check_horizon(horizon, test, test)
    if n_knots not in _KNOT_QUANTILES:
        raise ValueError(f"n_knots must be 3 or 4, got {n_knots!r}.")
    x = _cloglog(risk)
    knots = np.quantile(x, _KNOT_QUANTILES[n_knots])
    names = [f"s{j}" for j in range(n_knots - 1)]
    frame = pd.DataFrame(_rcs_basis(x, knots), columns=names)
    frame["T"], frame["E"] = test["time"], test["event"]
    model = CoxPHFitter().fit(frame, "T", "E")

    def observed(values):
        basis = pd.DataFrame(_rcs_basis(_cloglog(values), knots), columns=names)
        return 1 - model.predict_survival_function(basis, times=[horizon]).to_numpy()[0]

    gap = np.abs(observed(risk) - risk)
    grid = np.linspace(*np.quantile(risk, [0.01, 0.99]), n_grid)
    curve = pd.DataFrame({"predicted": grid, "observed": observed(grid)})
    curve.attrs.update(ici=float(gap.mean()), e50=float(np.median(gap)), horizon=horizon)
    return curve
