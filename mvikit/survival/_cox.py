"""`CoxPHSurvival`: lifelines' Cox proportional-hazards model as a scikit-learn estimator."""

from __future__ import annotations

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.statistics import proportional_hazard_test
from scipy.stats import chi2, norm, rankdata
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data
from sksurv.functions import StepFunction
from sksurv.metrics import concordance_index_censored
from sksurv.nonparametric import kaplan_meier_estimator

from ..exceptions import CohortError
from ..utils._repr import SummaryReprMixin
from ..utils._validation import Integral, Interval, Real, StrOptions, fit_context
from ._breslow import breslow_baseline_hazard, fit_breslow, schoenfeld_residuals
from ._target import check_survival_y

__all__ = ["CoxPHSurvival"]

# Reserved names of the time/event columns handed to lifelines; a feature may not use them.
_TIME, _EVENT = "__mvikit_time__", "__mvikit_event__"


_TIME_TRANSFORMS = ("rank", "km", "identity", "log")


def _transform_times(kind, event_times, time, event):
    """Function of the event times the Schoenfeld residuals are correlated with."""
    if kind == "rank":
        return rankdata(event_times)  # mid-ranks: tied event times share their rank
    if kind == "identity":
        return event_times.astype(float)
    if kind == "log":
        return np.log(event_times)
    # "km": 1 - Kaplan-Meier of all training patients at each event time (R's default)
    unique, survival = kaplan_meier_estimator(event, time)
    return 1.0 - survival[np.searchsorted(unique, event_times)]


def _lifelines_fit_options(tol=1e-9, max_steps=500):
    """``fit_options`` that make lifelines' Efron Newton-Raphson stop as R's ``coxph``.

    lifelines stops when the step norm *or* the Newton decrement ``g' H^-1 g / 2`` falls
    below ``precision`` and returns the point before that step. The decrement is about
    ``info * |step|^2 / 2``, so ``precision = tol`` stops ``sqrt(2 tol / info)`` (~1e-5)
    short of the optimum; ``tol ** 2`` bounds the distance by about ``tol``. The relative
    change of the log-likelihood below ``tol * 1e-3`` (R's criterion, there ``eps``) then
    usually stops first, one quadratically convergent step after R would.
    """
    return {"precision": tol ** 2, "r_precision": tol * 1e-3, "max_steps": max_steps}


def _feature_frame(X, names, index=None):
    return pd.DataFrame(X, columns=names, index=index, copy=False)


class CoxPHSurvival(SummaryReprMixin, BaseEstimator):
    """Cox proportional-hazards regression with the scikit-learn contract.

    With Efron's ties (default) a thin adapter around :class:`lifelines.CoxPHFitter`; with
    Breslow's ties mvikit's own Newton-Raphson on the Breslow partial likelihood (lifelines
    has Efron only), with the same penalty, summary and predictions. The survival target
    is the scikit-survival structured array instead of ``duration_col``/``event_col``
    names, so the model works in :class:`~sklearn.pipeline.Pipeline`, ``GridSearchCV``,
    ``cross_val_score``, ``clone`` and pickle, while keeping lifelines' clinical report
    (:attr:`summary_` with hazard ratios, 95 % CIs and Wald p-values).

    Parameters
    ----------
    penalizer : float, default=0.0
        Penalty strength, as lifelines: the covariates are standardised (training mean and
        sample standard deviation) and the fit maximises the partial log-likelihood
        averaged over patients minus ``penalizer * ((1 - l1_ratio) / 2 * ||b||^2 +
        l1_ratio * ||b||_1)``, ``b`` the coefficients of the standardised covariates
        (:attr:`coef_` is reported on the original scale). The absolute value is smoothed
        and sharpened at every Newton step, as lifelines does. ``0`` is the unpenalised
        model that matches R's ``coxph``. Both ``ties`` use this same penalty.
    l1_ratio : float, default=0.0
        Elastic-net mixing, ``0`` = ridge, ``1`` = lasso (lifelines' convention).
    ties : {"efron", "breslow"}, default="efron"
        Handling of tied event times. ``"efron"`` (R's ``coxph`` default) is fitted by
        lifelines. ``"breslow"`` (every event tied at a time sees the whole risk set; the
        default of SAS, Stata, statsmodels and scikit-survival) is fitted by mvikit's
        Newton-Raphson: one sort, then prefix sums, ``O(n p^2)`` per step. Without tied
        event times both give the same model.
    alpha : float, default=0.05
        Confidence intervals in :attr:`summary_` are ``1 - alpha`` Wald intervals.
    tol : float, default=1e-9
        Convergence of Newton-Raphson: it stops when the distance to the optimum is
        about ``tol`` or less, or the relative change of the log-likelihood falls below
        ``tol * 1e-3`` (R's ``coxph`` rule, ``eps = 1e-9``), as R's ``coxph``. With
        ``ties="breslow"`` the step norm or the Newton decrement is compared with ``tol``
        and the last Newton step is then taken. With ``ties="efron"`` lifelines does not
        take that last step, and reads its ``precision`` as a threshold on the Newton
        decrement (half the squared step length in the information metric), so it is
        given ``tol ** 2``: the coefficients agree with R's ``coxph`` to about 1e-8
        relative (lifelines' own defaults stop about 1e-5 from the optimum).
    max_steps : int, default=500
        Newton-Raphson iterations allowed.
    strata : list of str, default=None
        Feature names (columns of ``X``) to stratify on, as R's ``strata()``: each
        combination of their values (e.g. the centre) gets its own baseline hazard, and
        they get no coefficient. Patients of a stratum not seen in ``fit`` cannot be
        predicted.

    Attributes
    ----------
    coef_ : ndarray of shape (n_covariates,)
        Log hazard ratios.
    hazard_ratios_ : ndarray of shape (n_covariates,)
        ``exp(coef_)``.
    summary_ : pandas.DataFrame
        One row per feature: ``coef``, ``HR``, ``HR lower``, ``HR upper`` (the
        ``1 - alpha`` CI), ``se``, ``z`` and ``p`` (Wald test).
    variance_matrix_ : ndarray of shape (n_covariates, n_covariates)
        Covariance of :attr:`coef_`: the inverse of the observed information of the
        (penalised) partial likelihood; ``summary_["se"]`` is the root of its diagonal.
    log_likelihood_ : float
        Maximised partial log-likelihood (with a penalty: the penalised one, as lifelines).
    log_likelihood_ratio_test_ : tuple of (float, int, float)
        Likelihood-ratio statistic against the null model, its degrees of freedom and p.
    baseline_survival_ : pandas.Series or pandas.DataFrame
        Breslow baseline survival at the training event and censoring times, for a
        patient at the training means of the features; with ``strata``, a DataFrame with
        one column per stratum (a value, or a tuple of values).
    baseline_cumulative_hazard_ : pandas.Series or pandas.DataFrame
        ``-log(baseline_survival_)``.
    unique_times_ : ndarray
        The time grid of :attr:`baseline_survival_` (and of ``return_array=True``).
    feature_means_ : ndarray of shape (n_covariates,)
        Training means of the covariates (the features that are not strata); the linear
        predictor is centred at them.
    covariates_ : list of str
        Names of the features with a coefficient (all but ``strata``), in ``coef_`` order.
    survival_train_ : structured ndarray
        The training target, kept so that IPCW metrics (Uno's C, Brier score) can use the
        training censoring distribution (see :func:`make_survival_scorer`).
    lifelines_model_ : lifelines.CoxPHFitter or None
        The fitted lifelines model (``ties="efron"``), for anything else lifelines
        offers; ``None`` with ``ties="breslow"``.
    n_iter_ : int or None
        Newton-Raphson steps taken (``ties="breslow"``; ``None`` with lifelines).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` is a DataFrame with string column names.

    See Also
    --------
    sksurv.linear_model.CoxPHSurvivalAnalysis : scikit-survival's Cox model.
    sksurv.linear_model.CoxnetSurvivalAnalysis : elastic-net Cox with a path of penalties.
    RiskStratifier : turn the predicted risk into risk groups.

    Notes
    -----
    The partial likelihood is that of eq. (9) of DMMGNet (seed 002), with Efron's
    correction for tied times or Breslow's approximation (Breslow 1974; the same sum as
    :func:`cox_partial_likelihood_loss` with ``ties="breslow"``). With Breslow's ties the
    baseline hazard is Breslow's estimator, and :meth:`check_proportional_hazards` uses
    Breslow Schoenfeld residuals. :meth:`predict` returns the linear predictor centred at the
    training means (R's ``predict(fit, type = "lp")``); :meth:`score` is Harrell's C.

    Examples
    --------
    >>> from lifelines.datasets import load_rossi
    >>> from mvikit.survival import CoxPHSurvival, make_survival_target
    >>> rossi = load_rossi()
    >>> y = make_survival_target(rossi, time="week", event="arrest")
    >>> X = rossi.drop(columns=["week", "arrest"])
    >>> cox = CoxPHSurvival().fit(X, y)
    >>> cox.summary_.loc["fin", ["HR", "HR lower", "HR upper"]].round(4).tolist()
    [0.6843, 0.4702, 0.9957]
    >>> round(cox.score(X, y), 4)
    0.6403

    Breslow's ties (R: ``coxph(Surv(week, arrest) ~ ., data = rossi, ties = "breslow")``):

    >>> breslow = CoxPHSurvival(ties="breslow").fit(X, y)
    >>> breslow.coef_[:2].round(4).tolist(), round(breslow.log_likelihood_, 3)
    ([-0.379, -0.0572], -659.121)
    """

    _estimator_kind = "survival"

    _parameter_constraints = {
        "penalizer": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "ties": [StrOptions({"efron", "breslow"})],
        "alpha": [Interval(Real, 0, 1, closed="neither")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_steps": [Interval(Integral, 1, None, closed="left")],
        "strata": [list, None],
    }

    def __init__(self, *, penalizer=0.0, l1_ratio=0.0, ties="efron", alpha=0.05, tol=1e-9,
                 max_steps=500, strata=None):
        self.penalizer = penalizer
        self.l1_ratio = l1_ratio
        self.ties = ties
        self.alpha = alpha
        self.tol = tol
        self.max_steps = max_steps
        self.strata = strata

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.one_d_labels = False
        return tags

    def _column_names(self):
        if hasattr(self, "feature_names_in_"):
            return [str(name) for name in self.feature_names_in_]
        return [f"x{i}" for i in range(self.n_features_in_)]

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the Cox model.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_patients, n_features)
            Numeric features (e.g. the output of
            :class:`mvikit.preprocessing.ClinicalPreprocessor`), no missing values.
        y : structured ndarray of shape (n_patients,)
            Survival target (:func:`make_survival_target`, :meth:`Surv.from_arrays`).

        Returns
        -------
        self : CoxPHSurvival
        """
        ids = X.index if isinstance(X, pd.DataFrame) else None
        # X first: scikit-learn's messages for empty, sparse, NaN or complex input
        X = validate_data(self, X, reset=True, dtype=float, ensure_min_samples=2)
        event, time = check_survival_y(y, patient_ids=ids)
        if X.shape[0] != event.shape[0]:
            raise ValueError(f"X has {X.shape[0]} patients but y has {event.shape[0]}.")
        names = self._column_names()
        if _TIME in names or _EVENT in names:
            raise ValueError(f"Feature names {_TIME!r} and {_EVENT!r} are reserved.")
        strata = self._check_strata(names)
        self.strata_ = strata
        self.covariates_ = [name for name in names if name not in strata]
        self._check_not_constant(X, names)
        if self.ties == "breslow":
            self.lifelines_model_ = None
            self._fit_breslow(X, names, event, time)
        else:
            self._fit_lifelines(X, names, event, time)
        y = np.empty(event.shape[0], dtype=[("event", bool), ("time", float)])
        y["event"], y["time"] = event, time
        self.survival_train_ = y
        return self

    def _check_not_constant(self, X, names):
        """Refuse constant covariates for both ties (lifelines would stop with a bare
        ConvergenceError about NaN deltas)."""
        scales = X[:, [names.index(name) for name in self.covariates_]].std(0, ddof=1)
        constant = [name for name, scale in zip(self.covariates_, scales) if not scale > 0]
        if constant:
            raise CohortError(
                f"Feature(s) {constant[:10]} are constant over the {X.shape[0]} training "
                "patients: a Cox model cannot estimate their coefficient. Drop them (e.g. "
                "sklearn.feature_selection.VarianceThreshold) or pass them as strata."
            )

    def _fit_lifelines(self, X, names, event, time):
        """Efron ties: lifelines' CoxPHFitter."""
        frame = _feature_frame(X, names)
        frame[_TIME] = time
        frame[_EVENT] = event
        model = CoxPHFitter(penalizer=self.penalizer, l1_ratio=self.l1_ratio, alpha=self.alpha)
        model.fit(frame, duration_col=_TIME, event_col=_EVENT, strata=self.strata_ or None,
                  fit_options=_lifelines_fit_options(self.tol, self.max_steps))
        self.lifelines_model_ = model
        self._store_fit(model)

    def _stratum_codes(self, X, names):
        """Stratum code of every row and the name of every code (lifelines' naming: the
        value for one stratum column, a tuple of values for several)."""
        if not self.strata_:
            return np.zeros(X.shape[0], dtype=np.intp), [None]
        keys = X[:, [names.index(name) for name in self.strata_]]
        unique, codes = np.unique(keys, axis=0, return_inverse=True)
        labels = [row[0] if len(row) == 1 else tuple(row) for row in unique.tolist()]
        return codes.ravel(), labels

    def _fit_breslow(self, X, names, event, time):
        """Breslow ties: our Newton-Raphson (`_breslow.fit_breslow`), lifelines' penalty."""
        columns = [names.index(name) for name in self.covariates_]
        covariates = X[:, columns]
        means, scales = covariates.mean(0), covariates.std(0, ddof=1)
        codes, labels = self._stratum_codes(X, names)
        fit = fit_breslow((covariates - means) / scales, time, event, codes,
                          penalizer=self.penalizer, l1_ratio=self.l1_ratio, tol=self.tol,
                          max_steps=self.max_steps)
        self.coef_ = fit.beta / scales
        # covariance of the original-scale coefficients: inverse information, rescaled
        self.variance_matrix_ = np.linalg.inv(-fit.hessian) / np.outer(scales, scales)
        self.feature_means_ = means
        self.n_iter_ = fit.n_iter
        self._store_summary(self.coef_, np.sqrt(np.diag(self.variance_matrix_)))
        self.log_likelihood_ = fit.log_likelihood
        statistic = 2 * (fit.log_likelihood - fit.log_likelihood_null)
        self.log_likelihood_ratio_test_ = (float(statistic), len(self.coef_),
                                           float(chi2.sf(statistic, len(self.coef_))))
        lp = (covariates - means) @ self.coef_
        hazard = breslow_baseline_hazard(lp, time, event, codes,
                                         labels if self.strata_ else ["baseline hazard"])
        self._store_baselines(hazard.cumsum())

    def _check_strata(self, names):
        strata = list(self.strata or [])
        unknown = [name for name in strata if name not in names]
        if unknown:
            raise ValueError(
                f"strata {unknown} are not features of X; features are {names[:10]}"
                f"{' ...' if len(names) > 10 else ''}. Strata are named by column (after "
                f"preprocessing, e.g. one-hot names such as 'center=C2')."
            )
        if len(strata) == len(names):
            raise ValueError("Every feature is a stratum; keep at least one covariate.")
        return strata

    def _store_fit(self, model):
        """Coefficients, summary, likelihoods and baselines of the lifelines fit."""
        summary = model.summary.loc[self.covariates_]
        self.coef_ = summary["coef"].to_numpy()
        self.variance_matrix_ = model.variance_matrix_.loc[self.covariates_,
                                                           self.covariates_].to_numpy()
        self.n_iter_ = None
        self._store_summary(self.coef_, summary["se(coef)"].to_numpy())
        self.log_likelihood_ = float(model.log_likelihood_)
        lrt = model.log_likelihood_ratio_test()
        self.log_likelihood_ratio_test_ = (float(lrt.test_statistic), int(lrt.degrees_freedom),
                                           float(lrt.p_value))
        self._store_baselines(model.baseline_cumulative_hazard_)
        self.feature_means_ = model._norm_mean.loc[self.covariates_].to_numpy()

    def _store_summary(self, coef, se):
        """The clinical table: HR with its ``1 - alpha`` Wald CI, z and p (as lifelines)."""
        z = coef / se
        quantile = norm.ppf(1 - self.alpha / 2)
        self.hazard_ratios_ = np.exp(coef)
        self.summary_ = pd.DataFrame({
            "coef": coef,
            "HR": np.exp(coef),
            "HR lower": np.exp(coef - quantile * se),
            "HR upper": np.exp(coef + quantile * se),
            "se": se,
            "z": z,
            "p": chi2.sf(z ** 2, 1),
        }, index=pd.Index(self.covariates_, name="feature"))

    def _store_baselines(self, cumulative_hazard):
        """Baseline cumulative hazard and survival: a Series, or one column per stratum."""
        if self.strata_:
            self.baseline_cumulative_hazard_ = cumulative_hazard.copy()
            self.baseline_survival_ = np.exp(-cumulative_hazard)
        else:
            self.baseline_cumulative_hazard_ = cumulative_hazard.iloc[:, 0].rename(
                "baseline cumulative hazard")
            self.baseline_survival_ = np.exp(-self.baseline_cumulative_hazard_).rename(
                "baseline survival")
        self.unique_times_ = self.baseline_survival_.index.to_numpy(dtype=float)

    def _validated(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=float)

    def _linear_predictor(self, X):
        names = self._column_names()
        columns = [names.index(name) for name in self.covariates_]
        return (X[:, columns] - self.feature_means_) @ self.coef_

    def predict(self, X):
        """Predicted risk: the linear predictor (higher = worse prognosis).

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_patients, n_features)

        Returns
        -------
        risk : ndarray of shape (n_patients,)
            ``(x - feature_means_) @ coef_``, the log partial hazard relative to a patient
            at the training means.
        """
        return self._linear_predictor(self._validated(X))

    def _baselines(self, X, baseline):
        """Baseline curve of every patient, shape (n_patients, n_times)."""
        if not self.strata_:
            return baseline.to_numpy()[None, :]
        names = self._column_names()
        keys = X[:, [names.index(name) for name in self.strata_]]
        columns = {key if isinstance(key, tuple) else (key,): i
                   for i, key in enumerate(baseline.columns)}
        unseen = [i for i, key in enumerate(map(tuple, keys)) if key not in columns]
        if unseen:
            raise ValueError(
                f"Row {unseen[0]} is in stratum {dict(zip(self.strata_, keys[unseen[0]]))}, "
                f"not seen in fit ({len(unseen)} such rows); its baseline hazard is unknown."
            )
        order = [columns[tuple(key)] for key in keys]
        return baseline.to_numpy().T[order]

    def _functions(self, X, baseline_name, transform, return_array):
        X = self._validated(X)
        risk = np.exp(self._linear_predictor(X))
        values = transform(self._baselines(X, getattr(self, baseline_name)), risk[:, None])
        if return_array:
            return values
        # domain (0, last training time), as scikit-survival's Cox estimators.
        return np.array([StepFunction(self.unique_times_, row) for row in values])

    def predict_survival_function(self, X, return_array=False):
        """Survival functions ``S(t | x) = S0(t) ** exp(risk)``.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_patients, n_features)
        return_array : bool, default=False
            Return an array evaluated at :attr:`unique_times_` instead of functions.

        Returns
        -------
        survival : ndarray of :class:`sksurv.functions.StepFunction`, or ndarray of shape \
(n_patients, n_times)
        """
        return self._functions(X, "baseline_survival_", np.power, return_array)

    def predict_cumulative_hazard_function(self, X, return_array=False):
        """Cumulative hazard functions ``H(t | x) = H0(t) * exp(risk)``.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_patients, n_features)
        return_array : bool, default=False
            Return an array evaluated at :attr:`unique_times_` instead of functions.

        Returns
        -------
        cumulative_hazard : ndarray of :class:`sksurv.functions.StepFunction`, or ndarray of \
shape (n_patients, n_times)
        """
        return self._functions(X, "baseline_cumulative_hazard_", np.multiply, return_array)

    def score(self, X, y):
        """Harrell's concordance index of :meth:`predict` (scikit-survival).

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_patients, n_features)
        y : structured ndarray of shape (n_patients,)

        Returns
        -------
        cindex : float
        """
        ids = X.index if isinstance(X, pd.DataFrame) else None
        event, time = check_survival_y(y, patient_ids=ids)
        return float(concordance_index_censored(event, time, self.predict(X))[0])

    def check_proportional_hazards(self, X, y, *, time_transform="rank"):
        """Test the proportional-hazards assumption with scaled Schoenfeld residuals.

        Grambsch-Therneau tests from :func:`lifelines.statistics.proportional_hazard_test`
        (R's ``cox.zph``), one row per feature. With ``ties="breslow"`` the same statistic
        on Breslow Schoenfeld residuals (computed by mvikit; lifelines' residuals are
        Efron's).

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_patients, n_features)
            The training data (the residuals are those of the fitted model on its data).
        y : structured ndarray of shape (n_patients,)
        time_transform : {"rank", "km", "identity", "log"}, default="rank"
            Function of time the residuals are correlated with ("km" is R's default).
            With ``ties="breslow"``, ``"rank"`` is the mid-rank among the event times
            (tied times share it); lifelines ranks tied events in row order.

        Returns
        -------
        pandas.DataFrame
            ``test_statistic`` and ``p`` per feature; a small ``p`` flags a hazard ratio that
            changes over time.
        """
        check_is_fitted(self)
        ids = X.index if isinstance(X, pd.DataFrame) else None
        event, time = check_survival_y(y, patient_ids=ids)
        X = validate_data(self, X, reset=False, dtype=float)
        if X.shape[0] != event.shape[0]:
            raise ValueError(f"X has {X.shape[0]} patients but y has {event.shape[0]}.")
        if time_transform not in _TIME_TRANSFORMS:
            raise ValueError(f"time_transform must be one of {_TIME_TRANSFORMS}, got "
                             f"{time_transform!r}.")
        if self.ties == "breslow":
            return self._breslow_ph_test(X, event, time, time_transform)
        frame = _feature_frame(X, self._column_names())
        frame[_TIME] = time
        frame[_EVENT] = event
        result = proportional_hazard_test(self.lifelines_model_, frame,
                                          time_transform=time_transform)
        table = result.summary[["test_statistic", "p"]].copy()
        table.index = [name if isinstance(name, str) else name[0] for name in table.index]
        table = table.reindex(self.covariates_)
        table.index.name = "feature"
        return table

    def _breslow_ph_test(self, X, event, time, time_transform):
        """Grambsch-Therneau test on Breslow Schoenfeld residuals (lifelines' statistic).

        Scaled residuals ``s* = d * r V`` (d events, V the covariance of ``coef_``);
        per feature ``T = (sum_k (g_k - mean g) s*_k)^2 / (d * se^2 * sum_k (g_k - mean g)^2)``
        with ``g`` the transformed event times, ~ chi-square(1) (Grambsch & Therneau
        1994, the approximation of lifelines and of R's ``cox.zph`` before survival 3.0).
        """
        names = self._column_names()
        covariates = X[:, [names.index(name) for name in self.covariates_]]
        codes, _ = self._stratum_codes(X, names)
        lp = (covariates - self.feature_means_) @ self.coef_
        residuals, event_times = schoenfeld_residuals(covariates, time, event, codes, lp)
        n_events = residuals.shape[0]
        scaled = n_events * residuals @ self.variance_matrix_
        g = _transform_times(time_transform, event_times, time, event)
        g = g - g.mean()
        se2 = np.diag(self.variance_matrix_)
        statistic = (g @ scaled) ** 2 / (n_events * se2 * (g @ g))
        table = pd.DataFrame({"test_statistic": statistic, "p": chi2.sf(statistic, 1)},
                             index=pd.Index(self.covariates_, name="feature"))
        return table

    def _summary_html(self):
        header = (f"<p><b>CoxPHSurvival</b> &mdash; {self.survival_train_.shape[0]} patients, "
                  f"{int(self.survival_train_['event'].sum())} events; log-likelihood "
                  f"{self.log_likelihood_:.3f}; LR test {self.log_likelihood_ratio_test_[0]:.2f} "
                  f"on {self.log_likelihood_ratio_test_[1]} df, "
                  f"p = {self.log_likelihood_ratio_test_[2]:.3g}</p>")
        return header + self.summary_.to_html(float_format=lambda v: f"{v:.4g}")
