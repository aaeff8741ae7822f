"""Survival figures at a horizon: time-dependent ROC curves, calibration (Kaplan-Meier by risk
group with CIs plus a smoothed curve) and decision curves, one or several models per axis.

``mvikit.survival`` is imported inside the functions, so that ``import mvikit.plotting``
does not load the survival package's deep model (torch)."""

from __future__ import annotations

import numpy as np

from ._common import _axes, _model_entries

__all__ = ["plot_survival_calibration", "plot_survival_decision_curve", "plot_time_roc"]


def _legend(ax):
    # below the axes, so that no legend covers a curve
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)


def plot_time_roc(y, risk, horizon, *, y_train=None, ax=None, label=None):
    """Cumulative/dynamic ROC curve at a horizon for one or several models.

    Parameters
    ----------
    y : structured ndarray of shape (n_patients,) or dict
        Survival target; with a dict ``risk``, one target shared by every model or a dict
        model name -> target.
    risk : array-like of shape (n_patients,) or dict
        Risk scores of one model (e.g. pooled out-of-fold), or a dict model name -> scores.
    horizon : float
        Time of the ROC curves.
    y_train : structured ndarray, default=None
        Target of the censoring distribution (see
        :func:`mvikit.survival.time_dependent_roc`); ``None``: ``y``.
    ax : matplotlib Axes, default=None
    label : str, default=None
        Legend label of a single model.

    Returns
    -------
    ax : matplotlib Axes
        One line per model (labelled with its AUC at the horizon), then the chance diagonal.

    See Also
    --------
    mvikit.survival.time_dependent_roc, mvikit.survival.time_dependent_auc_ci

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from lifelines.datasets import load_lung
    >>> from mvikit.plotting import plot_time_roc
    >>> from mvikit.survival import make_survival_target
    >>> lung = load_lung().dropna()
    >>> y = make_survival_target(lung, time="time", event="status")
    >>> ax = plot_time_roc(y, {"ECOG": lung["ph.ecog"].to_numpy()}, 365)
    >>> ax.lines[0].get_label()
    'ECOG (AUC 0.617)'
    >>> plt.close("all")
    """
    from ..survival._metrics import time_dependent_roc

    ax = _axes(ax)
    for name, target, scores, _ in _model_entries(y, risk, label or "model", score_name="risk"):
        roc = time_dependent_roc(target, scores, horizon, y_train=y_train)
        ax.step(roc["fpr"], roc["tpr"], where="post", linewidth=1.5,
                label=f"{name} (AUC {roc.attrs['auc']:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="chance")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="1 - specificity (event-free after horizon)",
           ylabel=f"sensitivity (event by {horizon:g})", aspect="equal")
    _legend(ax)
    return ax


def plot_survival_calibration(y, predicted_risk, horizon, *, n_groups=5, smooth=True, ax=None,
                              label=None, alpha=0.05):
    """Predicted vs observed risk of an event by a horizon, with CIs and a smoothed curve.

    Patients are grouped by quantiles of the predicted risk; each group's observed risk is
    ``1 - KM(horizon)`` with its log-log CI (:func:`mvikit.survival.calibration_at_horizon`),
    drawn as a point with error bars at the group's mean prediction. The smoothed curve is
    the flexible Cox model of Austin et al. (2020)
    (:func:`mvikit.survival.smoothed_calibration_at_horizon`); the legend gives the
    calibration slope (:func:`mvikit.survival.calibration_slope_at_horizon`) and the ICI.

    Parameters
    ----------
    y : structured ndarray of shape (n_patients,) or dict
    predicted_risk : array-like of shape (n_patients,) or dict
        Predicted probability of the event by ``horizon`` (``1 - S(horizon | x)``), of one
        model or a dict model name -> predictions.
    horizon : float
    n_groups : int, default=5
        Risk groups (quantiles of the predictions).
    smooth : bool, default=True
        Draw the smoothed curve.
    ax : matplotlib Axes, default=None
    label : str, default=None
    alpha : float, default=0.05
        Level of the group CIs (``1 - alpha``).

    Returns
    -------
    ax : matplotlib Axes
        The ideal diagonal first, then per model its groups (error bars) and smoothed curve.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from mvikit.plotting import plot_survival_calibration
    >>> from mvikit.survival import Surv
    >>> rng = np.random.default_rng(0)
    >>> lp = rng.normal(size=400)
    >>> time = rng.exponential(np.exp(-lp))
    >>> y = Surv.from_arrays(event=time < 2, time=np.minimum(time, 2))
    >>> ax = plot_survival_calibration(y, {"true": 1 - np.exp(-np.exp(lp))}, 1.0)
    >>> ax.lines[1].get_label()
    'true (slope 1.02, ICI 0.011)'
    >>> plt.close("all")
    """
    from ..survival._metrics import (
        calibration_at_horizon,
        calibration_slope_at_horizon,
        smoothed_calibration_at_horizon,
    )

    ax = _axes(ax)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="ideal")
    entries = _model_entries(y, predicted_risk, label or "model", score_name="predicted_risk")
    for k, (name, target, risk, _) in enumerate(entries):
        color = f"C{k}"
        slope = calibration_slope_at_horizon(target, risk)["slope"]
        text = f"{name} (slope {slope:.2f}"
        if smooth:
            curve = smoothed_calibration_at_horizon(target, risk, horizon)
            ax.plot(curve["predicted"], curve["observed"], color=color, linewidth=1.5,
                    label=f"{text}, ICI {curve.attrs['ici']:.3f})")
        table = calibration_at_horizon(target, risk, horizon, n_groups=n_groups, alpha=alpha)
        table = table.dropna(subset=["observed"]).astype(float)
        observed = table["observed"].to_numpy()
        error = np.vstack([observed - table["observed lower"].to_numpy(),
                           table["observed upper"].to_numpy() - observed])
        ax.errorbar(table["predicted"].to_numpy(), observed, yerr=np.clip(error, 0, None),
                    fmt="o", color=color, markersize=4, capsize=2, linewidth=1,
                    label=None if smooth else f"{text})")
    ax.set(xlim=(0, 1), ylim=(0, 1), aspect="equal", xlabel=f"predicted risk by {horizon:g}",
           ylabel=f"observed risk by {horizon:g} (Kaplan-Meier)")
    _legend(ax)
    return ax


def plot_survival_decision_curve(y, predicted_risk, horizon, *, thresholds=None, ax=None,
                                 label=None, n_resamples=0, random_state=None):
    """Survival decision curves at a horizon (Vickers et al. 2008), treat-all and treat-none.

    Parameters
    ----------
    y : structured ndarray of shape (n_patients,) or dict
    predicted_risk : array-like of shape (n_patients,) or dict
        Predicted probability of the event by ``horizon``, of one model or a dict.
    horizon : float
    thresholds : array-like, default=None
        Threshold probabilities in (0, 1); default 0.01-0.99.
    ax : matplotlib Axes, default=None
    label : str, default=None
    n_resamples : int, default=0
        If > 0, a bootstrap band around each model's curve.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    ax : matplotlib Axes
        One line per model, then "treat all" (the first model's patients) and "treat none".

    See Also
    --------
    mvikit.survival.survival_decision_curve

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from mvikit.plotting import plot_survival_decision_curve
    >>> from mvikit.survival import Surv
    >>> rng = np.random.default_rng(0)
    >>> lp = rng.normal(size=300)
    >>> time = rng.exponential(np.exp(-lp))
    >>> y = Surv.from_arrays(event=time < 2, time=np.minimum(time, 2))
    >>> ax = plot_survival_decision_curve(y, {"true": 1 - np.exp(-np.exp(lp))}, 1.0)
    >>> [line.get_label() for line in ax.lines]
    ['true', 'treat all', 'treat none']
    >>> plt.close("all")
    """
    from ..survival._metrics import survival_decision_curve

    ax = _axes(ax)
    first = None
    entries = _model_entries(y, predicted_risk, label or "model", score_name="predicted_risk")
    for k, (name, target, risk, _) in enumerate(entries):
        curve = survival_decision_curve(target, risk, horizon, thresholds,
                                        n_resamples=n_resamples, random_state=random_state)
        ax.plot(curve["threshold"], curve["net_benefit"], color=f"C{k}", linewidth=1.5,
                label=name)
        if n_resamples:
            ax.fill_between(curve["threshold"], curve["net_benefit_lower"],
                            curve["net_benefit_upper"], color=f"C{k}", alpha=0.15, linewidth=0)
        first = curve if first is None else first
    ax.plot(first["threshold"], first["net_benefit_all"], color="grey", linewidth=1,
            label="treat all")
    ax.plot(first["threshold"], first["net_benefit_none"], color="black", linewidth=1,
            label="treat none")
    top = first.attrs["event_rate"]
    ax.set(xlim=(0, 1), ylim=(-0.1 * top, 1.1 * top), xlabel="threshold probability",
           ylabel=f"net benefit at {horizon:g}")
    _legend(ax)
    return ax
