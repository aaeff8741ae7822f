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
    """The patients, binary labels and training weights of a horizon classification.

    "Macrovascular invasion within ``horizon``": label 1 when the event happens at
    or before the horizon, 0 when the patient is followed beyond it without the
    event (`mvikit.survival.horizon_labels`).  A patient censored at or before the
    horizon has no label: it leaves the training rows and is counted in
    ``labels.counts["censored_before_horizon"]``.  With ``censored="ipcw"`` the
    labelled patients carry inverse-probability-of-censoring weights, which make
    the training loss (``MTNetClassifier.fit(X_known, y_known,
    sample_weight=labels.weights[labels.mask])``)
    estimate the loss of the full cohort, early-censored patients included
    (Graf et al. 1999): a case ``1 / G(T_i-)``, a control ``1 / G(horizon)``,
    with ``G`` the Kaplan-Meier estimate of the censoring distribution, the
    weights of mvikit's time-dependent metrics.  ``censored="exclude"`` (the
    default) gives every labelled patient weight 1.

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
        The weights of the labelled patients: 1, or the IPCW weights.

    Returns
    -------
    X_known : pandas.DataFrame
        The rows with a known label.
    y_known : ndarray of int
    labels : HorizonLabels
        Every patient's label and weight (``labels.weights[labels.mask]``: the
        training weights of the rows of ``X_known``, for ``sample_weight``), and the
        ``counts`` (events, event-free, censored before the horizon: the patients
        left out).

    Raises
    ------
    ValueError
        The horizon is not before the last follow-up (nobody is observed beyond it).

    Examples
    --------
    >>> from mvikit.datasets import make_hcc_cohort
    >>> cohort = make_hcc_cohort(40, task="mavi", sequences=None, layout=None,
    ...                          random_state=0)
    >>> X, y, labels = horizon_task(cohort.X, cohort.y, 12, censored="ipcw")
    >>> len(X) + labels.counts["censored_before_horizon"] == 40
    True
    >>> weights = labels.weights[labels.mask]  # sample_weight of MTNetClassifier.fit
    >>> len(weights) == len(X), bool(weights.min() >= 1.0)
    (True, True)
    """
    from ..survival import horizon_labels

    X = check_cohort_frame(X)
    labels = horizon_labels(survival, horizon, censored=censored)
    if labels.mask.shape[0] != len(X):
        raise ValueError(f"X has {len(X)} patients but the survival target has "
                         f"{labels.mask.shape[0]}.")
    return X.loc[labels.mask], labels.labels[labels.mask].astype(np.int64), labels
