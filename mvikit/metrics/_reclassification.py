"""Net reclassification improvement (NRI) and integrated discrimination
improvement (IDI) of a new model over an old one (Pencina et al. 2008, 2011).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

from mvikit.exceptions import DataWarning, MetricInputError

from ._checks import _check_alpha, _check_binary_inputs, _check_thresholds
from ._results import ReclassificationResult

__all__ = ["nri", "idi"]


def _difference_of_shares(up, down):
    """p_up - p_down within one group and its variance.

    Var(p_up - p_down) = (p_up + p_down - (p_up - p_down)^2) / n: multinomial
    sampling of up / same / down, without the null assumption p_up = p_down
    (Pencina et al. 2008 use (p_up + p_down) / n for their z test; the
    unrestricted form, as in Hmisc ``improveProb``, also gives a valid CI).
    """
    n = len(up)
    pu, pd = up.mean(), down.mean()
    return float(pu - pd), float((pu + pd - (pu - pd) ** 2) / n)


def _result(event, var_event, nonevent, var_nonevent, kind, alpha):
    estimate = event + nonevent
    se = float(np.sqrt(var_event + var_nonevent))
    if se > 0:
        z = estimate / se
    else:
        z = 0.0 if estimate == 0 else float(np.copysign(np.inf, estimate))
        if estimate != 0:
            warnings.warn(
                f"{kind.upper() if kind == 'idi' else 'NRI'}: the standard error is 0 (every "
                "event, and every non-event, moved the same way), so the z statistic is "
                "infinite and the CI has zero width; the sample is too small or degenerate for "
                "this test.", DataWarning, stacklevel=3)
    half = stats.norm.ppf(1 - alpha / 2) * se
    return ReclassificationResult(
        estimate=float(estimate),
        se=se,
        ci=(float(estimate - half), float(estimate + half)),
        statistic=float(z),
        p_value=float(2 * stats.norm.sf(abs(z))),
        event=float(event),
        event_se=float(np.sqrt(var_event)),
        nonevent=float(nonevent),
        nonevent_se=float(np.sqrt(var_nonevent)),
        kind=kind,
        alpha=alpha,
    )


def nri(y_true, p_old, p_new, cutoffs=None, *, alpha=0.05):
    """Net reclassification improvement, categorical or category-free.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome.
    p_old, p_new : array-like of shape (n_samples,)
        Predicted risks of the old (reference) and new model.
    cutoffs : array-like, default=None
        Increasing risk cut-offs in (0, 1) defining the categories (a risk
        equal to a cut-off belongs to the upper category). ``None`` gives the
        category-free (continuous) NRI: any increase is "up".
    alpha : float, default=0.05
        One minus the confidence level.

    Returns
    -------
    ReclassificationResult
        ``estimate`` (NRI = event + nonevent), ``se``, ``ci``, ``statistic``
        (z), ``p_value``, ``event`` = P(up | event) - P(down | event) and
        ``nonevent`` = P(down | non-event) - P(up | non-event), with SEs;
        ``kind`` is ``"categorical"`` or ``"continuous"``.

    See Also
    --------
    idi

    Notes
    -----
    Pencina, D'Agostino & Vasan (2008), Stat Med 27:157, section 3.1 (NRI);
    Pencina, D'Agostino & Steyerberg (2011), Stat Med 30:11 (category-free
    NRI). The continuous NRI ranges from -2 to 2.

    Examples
    --------
    >>> from mvikit.metrics import nri
    >>> y = [1, 1, 1, 1, 0, 0, 0, 0]
    >>> old = [0.3, 0.4, 0.2, 0.6, 0.3, 0.5, 0.1, 0.2]
    >>> new = [0.5, 0.6, 0.1, 0.7, 0.2, 0.4, 0.2, 0.1]
    >>> res = nri(y, old, new)
    >>> res.event, res.nonevent, res.estimate
    (0.5, 0.5, 1.0)
    """
    alpha = _check_alpha(alpha)
    y, (old, new), _, _ = _check_binary_inputs(
        y_true, p_old, p_new, names=["p_old", "p_new"], probabilities=True
    )
    if cutoffs is None:
        up, down, kind = new > old, new < old, "continuous"
    else:
        cuts = _check_thresholds(cutoffs, name="cutoffs")
        if np.any(np.diff(cuts) <= 0):
            raise MetricInputError(f"cutoffs must be strictly increasing; got {cuts.tolist()}.")
        cat_old = np.searchsorted(cuts, old, side="right")
        cat_new = np.searchsorted(cuts, new, side="right")
        up, down, kind = cat_new > cat_old, cat_new < cat_old, "categorical"
    ev = y == 1
    event, var_event = _difference_of_shares(up[ev], down[ev])
    nonevent_neg, var_nonevent = _difference_of_shares(up[~ev], down[~ev])
    return _result(event, var_event, -nonevent_neg, var_nonevent, kind, alpha)


def idi(y_true, p_old, p_new, *, alpha=0.05):
    """Integrated discrimination improvement of ``p_new`` over ``p_old``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome.
    p_old, p_new : array-like of shape (n_samples,)
        Predicted risks of the old and new model.
    alpha : float, default=0.05
        One minus the confidence level.

    Returns
    -------
    ReclassificationResult
        ``estimate`` (IDI), ``se``, ``ci``, ``statistic``, ``p_value``,
        ``event`` (mean risk increase in events), ``nonevent`` (mean risk
        decrease in non-events), with SEs; ``kind="idi"``.

    See Also
    --------
    nri

    Notes
    -----
    IDI = (mean p_new - mean p_old | events) - (mean p_new - mean p_old |
    non-events), the gain in discrimination slope; SE = sqrt(se_e^2 + se_ne^2)
    with se_e the standard error of the paired differences p_new - p_old in
    events (Pencina et al. 2008, section 3.2).

    Examples
    --------
    >>> from mvikit.metrics import idi
    >>> y = [1, 1, 1, 1, 0, 0, 0, 0]
    >>> old = [0.3, 0.4, 0.2, 0.6, 0.3, 0.5, 0.1, 0.2]
    >>> new = [0.5, 0.6, 0.1, 0.7, 0.2, 0.4, 0.2, 0.1]
    >>> round(idi(y, old, new).estimate, 4)
    0.15
    """
    alpha = _check_alpha(alpha)
    y, (old, new), _, _ = _check_binary_inputs(
        y_true, p_old, p_new, names=["p_old", "p_new"], probabilities=True
    )
    d = new - old
    d_ev, d_ne = d[y == 1], d[y == 0]
    var_ev = float(np.var(d_ev, ddof=1) / len(d_ev)) if len(d_ev) > 1 else 0.0
    var_ne = float(np.var(d_ne, ddof=1) / len(d_ne)) if len(d_ne) > 1 else 0.0
    return _result(float(d_ev.mean()), var_ev, float(-d_ne.mean()), var_ne, "idi", alpha)
