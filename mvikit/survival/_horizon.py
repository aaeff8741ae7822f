"""`horizon_labels`: a survival target as a binary label at a time horizon."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from sksurv.nonparametric import kaplan_meier_estimator

from ..exceptions import SurvivalTargetError
from ._target import check_survival_y

__all__ = ["HorizonLabels", "horizon_labels"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HorizonLabels:
    """Binary labels at a horizon, returned by :func:`horizon_labels`.

    Attributes
    ----------
    labels : ndarray of int, shape (n_patients,)
        1 = event at or before the horizon, 0 = followed beyond it without event,
        -1 = censored at or before the horizon (status unknown).
    mask : ndarray of bool, shape (n_patients,)
        True where the label is known (``labels >= 0``).
    weights : ndarray of float, shape (n_patients,)
        0 where the label is unknown; 1 elsewhere (``censored="exclude"``) or the inverse
        probability of censoring weight (``censored="ipcw"``).
    counts : dict
        ``{"events": ..., "event_free": ..., "censored_before_horizon": ...}``.
    horizon : float
    censored : str
    """

    labels: np.ndarray
    mask: np.ndarray
    weights: np.ndarray
    counts: dict
    horizon: float
    censored: str


def _step_value(times, values, at, *, left):
    """Right-continuous step function (value 1 before the first time) at ``at``,
    or its left limit ``f(at-)`` when ``left``."""
    position = np.searchsorted(times, at, side="left" if left else "right") - 1
    return np.where(position >= 0, values[np.clip(position, 0, None)], 1.0)


def _ipcw(event, time, horizon, is_case, is_control):
    # Kaplan-Meier of the censoring distribution G (scikit-survival's reverse estimator:
    # at a time shared by events and censorings the events come first, as in Graf et al.)
    times, survival = kaplan_meier_estimator(event, time, reverse=True)
    g_horizon = float(_step_value(times, survival, horizon, left=False))
    if g_horizon <= 0:
        raise SurvivalTargetError(
            f"Every patient is censored before the horizon {horizon}; the censoring "
            f"distribution is 0 there and IPCW weights are undefined. Choose an earlier horizon."
        )
    weights = np.zeros(event.shape[0])
    weights[is_case] = 1.0 / _step_value(times, survival, time[is_case], left=True)
    weights[is_control] = 1.0 / g_horizon
    return weights


def horizon_labels(y, horizon, *, censored="exclude"):
    """Turn a survival target into a binary label at a time horizon.

    "1-year progression" (seed 002) or "macrovascular invasion within 2 years" (seed 004)
    become classification tasks: label 1 when the event happens at or before the horizon,
    0 when the patient is followed beyond it without the event. Patients censored at or
    before the horizon have an unknown label.

    Parameters
    ----------
    y : structured ndarray of shape (n_patients,)
        Survival target.
    horizon : float
        Time horizon, in the unit of ``y``'s times. Must lie before the last follow-up.
    censored : {"exclude", "ipcw"}, default="exclude"
        ``"exclude"``: patients with an unknown label get weight 0, the others weight 1.
        ``"ipcw"``: known labels are weighted by the inverse probability of censoring
        (see Notes), which removes the bias of dropping early-censored patients.

    Returns
    -------
    HorizonLabels
        ``labels``, ``mask`` (known labels), ``weights`` and ``counts``. Fit a classifier
        on ``X[res.mask], res.labels[res.mask], sample_weight=res.weights[res.mask]``.

    Raises
    ------
    ValueError
        If the horizon is not positive or not before the last follow-up time.

    Notes
    -----
    IPCW (Graf et al., Stat. Med. 1999): with ``G`` the Kaplan-Meier estimate of the
    censoring distribution (censoring treated as the event; at tied times events are
    removed from the risk set first: scikit-survival's ``kaplan_meier_estimator(...,
    reverse=True)``),

    - a case (event at ``T_i <= h``) gets ``w_i = 1 / G(T_i-)``;
    - a control (``T_i > h``) gets ``w_i = 1 / G(h)``;
    - a patient censored at ``T_i <= h`` gets ``w_i = 0``.

    With these weights the weighted fraction of cases equals ``1 - KM(h)``, the
    Kaplan-Meier probability of an event by ``h``.

    Examples
    --------
    >>> from mvikit.survival import Surv, horizon_labels
    >>> y = Surv.from_arrays(event=[True, False, True, False, True],
    ...                      time=[3.0, 4.0, 14.0, 20.0, 6.0])
    >>> res = horizon_labels(y, 12.0)
    >>> res.labels, res.counts
    (array([ 1, -1,  0,  0,  1]), {'events': 2, 'event_free': 2, 'censored_before_horizon': 1})
    >>> horizon_labels(y, 12.0, censored="ipcw").weights.round(3)
    array([1.   , 0.   , 1.333, 1.333, 1.333])
    """
    if censored not in ("exclude", "ipcw"):
        raise ValueError(f"censored must be 'exclude' or 'ipcw', got {censored!r}.")
    event, time = check_survival_y(y, allow_all_censored=True)
    horizon = float(horizon)
    if not horizon > 0:
        raise ValueError(f"horizon must be positive, got {horizon}.")
    if horizon >= time.max():
        raise ValueError(
            f"horizon {horizon} is not before the last follow-up time {time.max()}: nobody is "
            f"observed beyond it, so every label would be 1 or unknown. Choose a horizon "
            f"below {time.max()}."
        )
    is_case = event & (time <= horizon)
    is_control = time > horizon
    labels = np.full(event.shape[0], -1, dtype=int)
    labels[is_case] = 1
    labels[is_control] = 0
    mask = labels >= 0
    counts = {"events": int(is_case.sum()), "event_free": int(is_control.sum()),
              "censored_before_horizon": int((~mask).sum())}
    if censored == "ipcw":
        weights = _ipcw(event, time, horizon, is_case, is_control)
    else:
        weights = mask.astype(float)
    logger.info("horizon %s: %d events, %d event-free, %d censored before the horizon (%s)",
                horizon, counts["events"], counts["event_free"],
                counts["censored_before_horizon"], censored)
    return HorizonLabels(labels=labels, mask=mask, weights=weights, counts=counts,
                         horizon=horizon, censored=censored)
