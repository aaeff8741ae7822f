"""Cox regression with Breslow's ties: Newton-Raphson on the partial likelihood, in numpy.

lifelines' `CoxPHFitter` implements Efron's ties only; this module fits the same model
with Breslow's approximation (Breslow 1974), where every event tied at a time sees the
whole risk set (R's ``coxph(..., ties = "breslow")``)::

    l(beta) = sum_k [ sum_{i in D_k} eta_i  -  d_k log S0_k ],   S0_k = sum_{j in R_k} exp(eta_j)

with ``D_k`` the ``d_k`` events at the k-th distinct time, ``R_k`` the risk set (time >= t_k)
and ``eta = Z beta``. As in `cox_partial_likelihood_loss` (the torch loss of the deep
models), one sort by time, descending, turns every risk-set sum into a prefix sum at the
last index of the tie group; the gradient and the observed information follow from the
prefix sums ``S1_k = sum_{R_k} w_j z_j`` and, for the second moment, from the Breslow
cumulative hazard ``A_j = sum_{k: t_k <= t_j} d_k / S0_k``::

    grad  = sum_events z_i - sum_k d_k m_k,                m_k = S1_k / S0_k
    info  = Z' diag(w * A) Z - sum_k d_k m_k m_k'          (w = exp(eta))

so no ``n x n`` risk-set matrix and no ``n x p x p`` array is built: O(n log n) once for
the sort, O(n p^2) per iteration.

The penalty is lifelines' (so that switching ``ties`` keeps its meaning): the covariates
are standardised (training mean and sample standard deviation) and the Newton iterations
maximise ``l(beta) - n * penalizer * ((1 - l1_ratio) / 2 * ||beta||^2 + l1_ratio * |beta|_1)``
on that scale, with the absolute value smoothed as ``|x|_a = (log(1 + e^{-ax}) +
log(1 + e^{ax})) / a`` and ``a = 1.3 ** iteration`` sharpening it every step (Schmidt,
Fung & Rosales 2009, UBC TR-2009-19, as lifelines).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning

from ..exceptions import TrainingError

__all__ = ["BreslowFit", "fit_breslow", "breslow_baseline_hazard", "schoenfeld_residuals"]


@dataclass
class _Stratum:
    """One stratum's rows in descending time order and its tie groups."""

    rows: np.ndarray        # indices into the full data, time descending
    group: np.ndarray       # tie group of every row (0 = latest time)
    first: np.ndarray       # first row (in `rows` order) of every tie group
    last: np.ndarray        # last row (in `rows` order) of every tie group
    deaths: np.ndarray      # events per tie group, d_k
    times: np.ndarray       # the group's time, descending
    event: np.ndarray       # event indicator of every row, in `rows` order


def _strata(time: np.ndarray, event: np.ndarray, codes: np.ndarray) -> list[_Stratum]:
    """Sort once: every stratum's rows by time, descending, with their tie groups."""
    out = []
    for code in np.unique(codes):
        rows = np.flatnonzero(codes == code)
        rows = rows[np.argsort(-time[rows], kind="stable")]
        t = time[rows]
        starts = np.r_[True, t[1:] != t[:-1]]
        group = np.cumsum(starts) - 1
        last = np.r_[np.flatnonzero(starts)[1:], t.size] - 1
        deaths = np.bincount(group, weights=event[rows], minlength=last.size)
        out.append(_Stratum(rows, group, np.flatnonzero(starts), last, deaths, t[last],
                            event[rows]))
    return out


def _risk_set_moments(zs: np.ndarray | None, e: np.ndarray, s: _Stratum):
    """Shifted weights and the per-group prefix sums ``log S0`` and ``m = S1 / S0``
    (``m`` only when the stratum's sorted rows ``zs`` are given)."""
    shift = e.max()
    w = np.exp(e - shift)  # the shift cancels in every ratio; added back to log S0
    # sums within tie groups, then a prefix sum over groups: the risk-set sums at the
    # last row of every group (a row-wise cumsum of an (n, p) array is several times
    # slower than reduceat)
    S0 = np.cumsum(np.add.reduceat(w, s.first))
    m = None
    if zs is not None:
        m = np.cumsum(np.add.reduceat(w[:, None] * zs, s.first, axis=0), axis=0) / S0[:, None]
    return w, np.log(S0) + shift, m, S0


def _loglik_terms(Z: np.ndarray, beta: np.ndarray, strata: list[_Stratum], *,
                  derivatives: bool = True):
    """Breslow partial log-likelihood, its gradient and the observed information.

    ``Z`` is a list with each stratum's rows already in its sorted order."""
    p = beta.shape[0]
    ll, grad, info = 0.0, np.zeros(p), np.zeros((p, p))
    for zs, s in zip(Z, strata):
        if not s.deaths.any():
            continue  # a stratum without events adds nothing to the partial likelihood
        e = zs @ beta
        w, log_S0, m, S0 = _risk_set_moments(zs if derivatives else None, e, s)
        ll += e[s.event].sum() - s.deaths @ log_S0
        if not derivatives:
            continue
        grad += zs[s.event].sum(0) - s.deaths @ m
        # A_j: Breslow cumulative hazard (shifted) of the groups at or before row j's time;
        # groups are in descending time, so that is a reverse cumulative sum
        A = np.cumsum((s.deaths / S0)[::-1])[::-1][s.group]
        info += (zs * (w * A)[:, None]).T @ zs - (m * s.deaths[:, None]).T @ m
    return ll, grad, info


def _penalty(beta: np.ndarray, penalizer: float, l1_ratio: float, a: float, n: int):
    """``n * penalizer * (l1 |beta|_a + (1 - l1) / 2 beta^2)``, its gradient and Hessian
    diagonal (the smoothed absolute value: derivative tanh(a x / 2))."""
    soft_abs = (np.logaddexp(0, -a * beta) + np.logaddexp(0, a * beta)) / a
    tanh = np.tanh(a * beta / 2)
    value = l1_ratio * soft_abs + 0.5 * (1 - l1_ratio) * beta ** 2
    grad = l1_ratio * tanh + (1 - l1_ratio) * beta
    curvature = l1_ratio * a / 2 * (1 - tanh ** 2) + (1 - l1_ratio)
    scale = n * penalizer
    return scale * value.sum(), scale * grad, scale * curvature


@dataclass
class BreslowFit:
    """Result of `fit_breslow` on the standardised covariates."""

    beta: np.ndarray            # coefficients of the standardised covariates
    log_likelihood: float       # penalised, at ``beta`` (lifelines' convention)
    log_likelihood_null: float  # unpenalised, at beta = 0
    hessian: np.ndarray         # of the penalised log-likelihood at ``beta``
    n_iter: int
    converged: bool


def fit_breslow(Z: np.ndarray, time: np.ndarray, event: np.ndarray, codes: np.ndarray, *,
                penalizer: float = 0.0, l1_ratio: float = 0.0, tol: float = 1e-9,
                max_steps: int = 500) -> BreslowFit:
    """Maximise the (penalised) Breslow partial likelihood by damped Newton-Raphson.

    ``Z`` holds standardised covariates; ``codes`` the stratum of every row (one value:
    no strata). Stops, as lifelines, when the Newton step norm or the Newton decrement
    falls below ``tol`` or the relative change of the log-likelihood below ``tol * 1e-3``,
    then takes that last Newton step; a step that lowers the objective is halved until it
    does not.
    """
    n, p = Z.shape
    strata = _strata(time, event.astype(bool), codes)
    sorted_Z = [Z[s.rows] for s in strata]  # one copy, in risk-set order
    penalised = penalizer > 0

    def objective(beta, a, derivatives=True):
        ll, grad, info = _loglik_terms(sorted_Z, beta, strata, derivatives=derivatives)
        if penalised:
            value, d1, d2 = _penalty(beta, penalizer, l1_ratio, a, n)
            ll, grad = ll - value, grad - d1
            info = info + np.diag(d2)
        return ll, grad, info

    beta = np.zeros(p)
    ll_null = _loglik_terms(sorted_Z, np.zeros(p), strata, derivatives=False)[0]
    previous, converged = None, False
    for iteration in range(1, max_steps + 1):
        a = 1.3 ** min(iteration, 2000)  # lifelines' sharpening of the smoothed |x|
        ll, grad, info = objective(beta, a)
        if not (np.isfinite(ll) and np.all(np.isfinite(info))):
            raise TrainingError(_diverged_message(iteration))
        try:
            delta = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            raise TrainingError(_singular_message()) from None
        decrement = grad @ delta / 2
        relative = None if previous is None else abs(ll - previous) / max(abs(previous), 1e-300)
        if (np.linalg.norm(delta) < tol or decrement < tol
                or (relative is not None and relative < tol * 1e-3)):
            # the relative-change test can stop ~1e-6 short of the optimum (the
            # log-likelihood is flat there); one more full Newton step, quadratically
            # convergent, lands within rounding of it
            candidate = beta + delta
            final = objective(candidate, a)
            if np.isfinite(final[0]) and final[0] >= ll - 1e-12 * abs(ll):
                beta, (ll, grad, info) = candidate, final
            converged = True
            break
        previous = ll
        beta = _line_search(objective, beta, delta, ll, a)
    if not converged:
        warnings.warn(f"Newton-Raphson (Breslow ties) did not converge in {max_steps} steps; "
                      "raise max_steps, or add a penalizer if features are collinear.",
                      ConvergenceWarning, stacklevel=3)
    return BreslowFit(beta, float(ll), float(ll_null), -info, iteration, converged)


def _line_search(objective, beta, delta, ll, a, max_halvings=30):
    """Full Newton step, halved until the penalised log-likelihood does not drop."""
    step = 1.0
    for _ in range(max_halvings):
        candidate = beta + step * delta
        value = objective(candidate, a, derivatives=False)[0]
        if np.isfinite(value) and value >= ll - 1e-12 * abs(ll):
            return candidate
        step /= 2
    return beta + step * delta


def _diverged_message(iteration: int) -> str:
    return (f"The Breslow Cox fit diverged in Newton step {iteration} (infinite log-likelihood): "
            "a feature may separate events from non-events perfectly. Add a penalizer "
            "(e.g. penalizer=0.1) or drop the feature.")


def _singular_message() -> str:
    return ("The Breslow Cox fit has a singular information matrix: some features are "
            "collinear (e.g. every dummy of a variable kept, or a duplicated lab). Drop one "
            "of them or add a ridge penalty (penalizer > 0, l1_ratio < 1).")


def breslow_baseline_hazard(lp: np.ndarray, time: np.ndarray, event: np.ndarray,
                            codes: np.ndarray, names: list) -> pd.DataFrame:
    """Breslow's baseline hazard ``d_k / sum_{R_k} exp(lp_j)`` at every training time.

    One column per stratum (named ``names[i]`` for code ``i``), on the union of the
    training times, zero where a stratum has no event -- lifelines' layout.
    """
    index = np.unique(time)
    columns, values = [], []
    for s in _strata(time, event.astype(bool), codes):
        S0 = np.cumsum(np.exp(lp[s.rows]))[s.last]
        hazard = pd.Series(s.deaths / S0, index=s.times)
        columns.append(names[codes[s.rows[0]]])
        values.append(hazard.reindex(index, fill_value=0.0).to_numpy())
    # an Index of tuples (several strata columns), not a MultiIndex: lifelines' layout
    return pd.DataFrame(np.column_stack(values), index=index,
                        columns=pd.Index(columns, tupleize_cols=False))


def schoenfeld_residuals(X: np.ndarray, time: np.ndarray, event: np.ndarray,
                         codes: np.ndarray, lp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Breslow Schoenfeld residuals ``x_i - m(t_i)`` of every event, and their times.

    ``m(t)`` is the ``exp(lp)``-weighted mean of ``x`` over the risk set at ``t`` (all
    patients of the stratum with time >= t, the tied ones included).
    """
    residuals, times = [], []
    for s in _strata(time, event.astype(bool), codes):
        if not s.deaths.any():
            continue
        xs = X[s.rows]
        _, _, m, _ = _risk_set_moments(xs, lp[s.rows], s)
        residuals.append(xs[s.event] - m[s.group[s.event]])
        times.append(s.times[s.group[s.event]])
    return np.concatenate(residuals), np.concatenate(times)
