"""`horizon_task`: future macrovascular invasion as a horizon classification (seed 004).

MTnet predicts macrovascular invasion (MaVI) *within* a horizon from the time to
MaVI: the labels of `mvikit.survival.horizon_labels` on the rows whose status at the
horizon is known.
"""

from __future__ import annotations

import numpy as np

from ..utils._roles import check_cohort_frame

__all__ = ["horizon_task"]


def horizon_task(X, survival, horizon, *, censored="exclude"):
    """The patients and binary labels of a horizon classification (future MaVI).

    "Macrovascular invasion within ``horizon``": label 1 when the event happens at
    or before the horizon, 0 when the patient is followed beyond it without the
    event (`mvikit.survival.horizon_labels`).  Patients censored at or before
    the horizon have no label and are left out (``censored="exclude"``) or kept
    with inverse-probability-of-censoring weights for the metrics
    (``censored="ipcw"``: the unknown ones still leave the training rows).

    Parameters
    ----------
    X : pandas.DataFrame
        Cohort frame, one row per patient.
    survival : structured ndarray
        Time to macrovascular invasion (``make_hcc_cohort(task="mavi").y``).
    horizon : float
        In the unit of the times (months for the simulated cohort); must lie
        before the last follow-up.
    censored : {"exclude", "ipcw"}, default="exclude"

    Returns
    -------
    X_known : pandas.DataFrame
        The rows with a known label.
    y_known : ndarray of int
    labels : HorizonLabels
        Every patient's label, the weights and the ``counts`` (events,
        event-free, censored before the horizon: the patients left out).

    Raises
    ------
    ValueError
        The horizon is not before the last follow-up (nobody is observed beyond it).

    Examples
    --------
    >>> from mvikit.datasets import make_hcc_cohort
    >>> cohort = make_hcc_cohort(40, task="mavi", sequences=None, layout=None,
    ...                          random_state=0)
    >>> X, y, labels = horizon_task(cohort.X, cohort.y, 12)
    >>> len(X) + labels.counts["censored_before_horizon"] == 40
    True
    """
    from ..survival import horizon_labels

    X = check_cohort_frame(X)
    labels = horizon_labels(survival, horizon, censored=censored)
    if labels.mask.shape[0] != len(X):
        raise ValueError(f"X has {len(X)} patients but the survival target has "
                         f"{labels.mask.shape[0]}.")
    return X.loc[labels.mask], labels.labels[labels.mask].astype(np.int64), labels
