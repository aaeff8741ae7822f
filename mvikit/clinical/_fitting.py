"""Unpenalised maximum-likelihood fits with statsmodels, and the tests built on them.

Binary outcomes: `statsmodels.api.Logit` with an intercept (Newton-Raphson).
Ordinal outcomes: `statsmodels.miscmodels.ordinal_model.OrderedModel`, the
proportional-odds (cumulative logit) model ``P(Y <= k) = expit(theta_k - x'b)``.
Inference is statsmodels' own (Wald z from the observed information); nothing
here re-implements it.

`logistic_llf` is the one exception, for speed: stepwise selection by AIC or
likelihood-ratio tests compares the maximised log-likelihood of hundreds of
candidate models and needs nothing else from them, so those candidates are
fitted by a plain Newton-Raphson in numpy, warm-started from the neighbouring
model (one variable more or less) - a few iterations each instead of
statsmodels' cold start and result object.  Reported tables still come from
statsmodels fits.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from ..exceptions import DataWarning

__all__ = ["fit_model", "logistic_llf", "single_threaded_blas", "slope_slice",
           "wald_group_pvalue", "lr_pvalue", "coefficient_table"]

_CI_Z = stats.norm.ppf(0.975)


def fit_model(X: np.ndarray, y: np.ndarray, *, ordinal: bool, max_iter: int = 100):
    """Fit the logistic (or proportional-odds) model of ``y`` on the columns of ``X``.

    ``y`` holds class codes ``0..K-1``. Returns the statsmodels results object;
    convergence warnings are re-raised as `DataWarning` by the caller.
    """
    import statsmodels.api as sm

    if ordinal:
        from statsmodels.miscmodels.ordinal_model import OrderedModel

        model = OrderedModel(y, X, distr="logit")
        return model.fit(method="bfgs", disp=0, maxiter=max(max_iter, 200), gtol=1e-8)
    exog = np.column_stack([np.ones(len(y)), X]) if X.shape[1] else np.ones((len(y), 1))
    try:
        return sm.Logit(y, exog).fit(disp=0, method="newton", maxiter=max_iter, tol=1e-10)
    except np.linalg.LinAlgError:
        # Logit inverts the final Hessian; under separation (a level seen in one class
        # only, common in small training folds) its entries underflow to 0 and the
        # inversion fails. The same likelihood by IRLS (GLM) takes a pseudo-inverse:
        # the separated coefficient gets a huge SE (p ~ 1) and is warned about.
        return sm.GLM(y, exog, family=sm.families.Binomial()).fit(maxiter=max_iter, tol=1e-10)


def single_threaded_blas():
    """Context: BLAS on one thread.

    The matrices here are small (patients x a few dozen columns): a
    multi-threaded BLAS only adds synchronisation, and on a busy machine its
    spinning threads made each statsmodels fit up to 70x slower (measured).
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _log_likelihood(y: np.ndarray, eta: np.ndarray) -> float:
    # sum_i y_i eta_i - log(1 + exp(eta_i)), overflow-free
    return float(y @ eta - np.logaddexp(0.0, eta).sum())


def logistic_llf(X: np.ndarray, y: np.ndarray, *, start=None, max_iter: int = 100,
                 tol: float = 1e-11):
    """Maximised log-likelihood of the binary logistic model ``logit P(y=1) = X b``.

    ``X`` holds the intercept column. Newton-Raphson (the iteration of
    statsmodels ``Logit(...).fit(method="newton")``, with its ridge of 1e-10
    on the per-observation Hessian), from ``start`` (a warm start, e.g. the
    neighbouring model's coefficients) or zeros, halving a step that would
    lower the likelihood (possible from a warm start far from the optimum).

    It stops once the Newton decrement ``g' H^-1 g`` - twice the predicted
    gain of a full step, so a bound on how far the log-likelihood still is
    from its maximum - falls below ``2 tol``.  Under (quasi-)complete
    separation the maximum is a supremum approached as a coefficient grows
    without bound; the same rule stops within ``tol`` of it, where
    statsmodels runs to ``max_iter``.

    Returns ``(llf, coefficients, n_iterations)``.
    """
    n, k = X.shape
    beta = np.zeros(k) if start is None else np.array(start, dtype=float)
    eta = X @ beta
    llf = _log_likelihood(y, eta)
    ridge = 1e-10 * n
    iteration = 0
    while iteration < max_iter:
        iteration += 1
        p = 0.5 * (1.0 + np.tanh(0.5 * eta))  # expit without overflow warnings
        gradient = X.T @ (y - p)
        hessian = (X * (p * (1.0 - p))[:, None]).T @ X
        hessian[np.diag_indices(k)] += ridge
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(hessian, gradient, rcond=None)[0]
        decrement = float(gradient @ step)
        size = 1.0
        while True:  # step-halving: never accept a lower likelihood
            new_eta = eta + size * (X @ step)
            new_llf = _log_likelihood(y, new_eta)
            if new_llf >= llf or size < 1e-8:
                break
            size *= 0.5
        if new_llf >= llf:
            beta, eta, llf = beta + size * step, new_eta, new_llf
        if decrement <= 2.0 * tol or new_llf < llf:
            break
    return llf, beta, iteration


def slope_slice(n_columns: int, ordinal: bool) -> slice:
    """Positions of the slope coefficients in ``result.params``.

    Logit puts the intercept first; OrderedModel puts the thresholds last.
    """
    return slice(0, n_columns) if ordinal else slice(1, n_columns + 1)


def wald_group_pvalue(result, positions) -> float:
    """Joint Wald chi-square p-value of the coefficients at ``positions``
    (``b' V^-1 b`` on ``len(positions)`` df; the z-test p-value for one)."""
    params = np.asarray(result.params)[positions]
    try:
        cov = np.asarray(result.cov_params())[np.ix_(positions, positions)]
        chi2 = float(params @ np.linalg.solve(cov, params))
    except (np.linalg.LinAlgError, ValueError):  # singular information (separation)
        return np.nan
    return float(stats.chi2.sf(chi2, len(positions)))


def lr_pvalue(full_llf: float, reduced_llf: float, df: int) -> float:
    """Likelihood-ratio test p-value, ``2 (llf_full - llf_reduced) ~ chi2(df)``."""
    return float(stats.chi2.sf(max(2.0 * (full_llf - reduced_llf), 0.0), df))


def coefficient_table(result, names, *, ordinal: bool, threshold_names=()) -> pd.DataFrame:
    """Coefficient, SE, z, Wald p, 95 % CI, odds ratio and its CI, one row per term.

    The OR and its CI are ``exp`` of the coefficient and of its Wald CI
    ``coef +/- z_{0.975} SE`` (statsmodels' ``conf_int()``).
    """
    params = np.asarray(result.params, dtype=float)
    try:
        se = np.asarray(result.bse, dtype=float)
        z = np.asarray(result.tvalues, dtype=float)
        p = np.asarray(result.pvalues, dtype=float)
        ci = np.asarray(result.conf_int(alpha=0.05), dtype=float)
    except (np.linalg.LinAlgError, ValueError):  # no covariance: singular information
        se = z = p = np.full(len(params), np.nan)
        ci = np.full((len(params), 2), np.nan)
    table = pd.DataFrame({"coef": params, "se": se, "z": z, "p_value": p,
                          "ci_lower": ci[:, 0], "ci_upper": ci[:, 1]})
    with np.errstate(over="ignore"):  # a separated variable's OR is inf; it is warned about
        table["odds_ratio"] = np.exp(table["coef"])
        table["or_ci_lower"] = np.exp(table["ci_lower"])
        table["or_ci_upper"] = np.exp(table["ci_upper"])
    if ordinal:
        # thresholds are not odds ratios: leave their OR columns empty
        table.index = list(names) + list(threshold_names)
        table.loc[list(threshold_names), ["odds_ratio", "or_ci_lower", "or_ci_upper"]] = np.nan
    else:
        table.index = ["Intercept", *names]
    table.index.name = "term"
    return table


def warn_if_separated(X: np.ndarray, y: np.ndarray, names, result=None, *,
                      ordinal: bool = False) -> None:
    """Warn, naming the variable, when a column separates the outcome.

    A column separates the outcome when, for some cut between classes, every
    value below the cut lies on one side of every value above it (complete or
    quasi-complete separation): its maximum-likelihood coefficient is then
    infinite. When no single column does so but the fit did not converge, the
    column with the largest effect ``|coef| * SD(x)`` is named as the likely
    culprit (separation by a combination of columns).
    """
    classes = np.unique(y)
    flagged = []
    for j, name in enumerate(names):
        x = X[:, j]
        if x.size and x.min() == x.max():  # constant: no effect to estimate, not separation
            continue
        for low, high in zip(classes[:-1], classes[1:]):
            a, b = x[y <= low], x[y >= high]
            if a.size and b.size and (a.max() <= b.min() or b.max() <= a.min()):
                flagged.append(name)
                break
    if not flagged and result is not None and not _converged(result):
        params = np.abs(np.asarray(result.params)[slope_slice(len(names), ordinal)])
        spread = X.std(axis=0) if len(X) else np.ones(len(names))
        if len(names):
            flagged.append(names[int(np.argmax(params * spread))])
    for name in flagged:
        warnings.warn(
            f"Variable {name!r} separates the outcome (quasi-)completely: its maximum-"
            "likelihood coefficient is infinite, so its odds ratio, CI and p-value are "
            "meaningless. Drop or merge it, or use selection='l1'.",
            DataWarning, stacklevel=4)


def _converged(result) -> bool:
    return bool(getattr(result, "mle_retvals", {}).get("converged", True))
