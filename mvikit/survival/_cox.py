"""`CoxPHSurvival`: lifelines' Cox proportional-hazards model as a scikit-learn estimator."""

from __future__ import annotations

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.statistics import proportional_hazard_test
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data
from sksurv.functions import StepFunction
from sksurv.metrics import concordance_index_censored

from ..utils._validation import Integral, Interval, Real, StrOptions, fit_context
from ._target import check_survival_y

__all__ = ["CoxPHSurvival"]

# Reserved names of the time/event columns handed to lifelines; a feature may not use them.
_TIME, _EVENT = "__mvikit_time__", "__mvikit_event__"


def _feature_frame(X, names, index=None):
    return pd.DataFrame(X, columns=names, index=index, copy=False)


class CoxPHSurvival(BaseEstimator):
    """Cox proportional-hazards regression (lifelines) with the scikit-learn contract.

    A thin adapter around :class:`lifelines.CoxPHFitter`: the survival target is the
    scikit-survival structured array instead of ``duration_col``/``event_col`` names, so
    the model works in :class:`~sklearn.pipeline.Pipeline`, ``GridSearchCV``,
    ``cross_val_score``, ``clone`` and pickle, while keeping lifelines' clinical report
    (:attr:`summary_` with hazard ratios, 95 % CIs and Wald p-values).

    Parameters
    ----------
    penalizer : float, default=0.0
        Penalty strength, as lifelines: the partial log-likelihood (averaged over
        patients) minus ``penalizer * ((1 - l1_ratio) / 2 * ||beta||^2 + l1_ratio * ||beta||_1)``
        (lifelines smooths the L1 term). ``0`` is the unpenalised model that matches
        R's ``coxph``.
    l1_ratio : float, default=0.0
        Elastic-net mixing, ``0`` = ridge, ``1`` = lasso (lifelines' convention).
    ties : {"efron"}, default="efron"
        Handling of tied event times. lifelines implements Efron's approximation only
        (R's ``coxph`` default), so ``"efron"`` is the one value; for Breslow ties use
        :class:`sksurv.linear_model.CoxPHSurvivalAnalysis` ``(ties="breslow")``, which runs
        on the same frames and targets.
    alpha : float, default=0.05
        Confidence intervals in :attr:`summary_` are ``1 - alpha`` Wald intervals.
    tol : float, default=1e-9
        Newton-Raphson (lifelines) stops when the step norm or the Newton decrement falls
        below ``tol``, or the relative change of the log-likelihood below ``tol * 1e-3``.
        lifelines' own defaults (1e-7, 1e-9) stop about 1e-5 from the optimum; these agree
        with scikit-survival and R to 1e-9.
    max_steps : int, default=500
        Newton-Raphson iterations allowed to lifelines.
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
    log_likelihood_ : float
        Maximised partial log-likelihood.
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
    lifelines_model_ : lifelines.CoxPHFitter
        The fitted lifelines model, for anything else lifelines offers.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` is a DataFrame with string column names.

    See Also
    --------
    sksurv.linear_model.CoxPHSurvivalAnalysis : scikit-survival's Cox model (Breslow ties).
    sksurv.linear_model.CoxnetSurvivalAnalysis : elastic-net Cox with a path of penalties.
    RiskStratifier : turn the predicted risk into risk groups.

    Notes
    -----
    The partial likelihood is that of eq. (9) of DMMGNet (seed 002), with Efron's
    correction for tied times. :meth:`predict` returns the linear predictor centred at the
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
    """

    _estimator_kind = "survival"

    _parameter_constraints = {
        "penalizer": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "ties": [StrOptions({"efron"})],
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
        frame = _feature_frame(X, names)
        frame[_TIME] = time
        frame[_EVENT] = event
        model = CoxPHFitter(penalizer=self.penalizer, l1_ratio=self.l1_ratio, alpha=self.alpha)
        model.fit(frame, duration_col=_TIME, event_col=_EVENT, strata=strata or None,
                  fit_options={"precision": self.tol, "r_precision": self.tol * 1e-3,
                               "max_steps": self.max_steps})
        self.lifelines_model_ = model
        self.strata_ = strata
        self.covariates_ = [name for name in names if name not in strata]
        self._store_fit(model, event, time)
        return self

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

    def _store_fit(self, model, event, time):
        summary = model.summary.loc[self.covariates_]
        self.coef_ = summary["coef"].to_numpy()
        self.hazard_ratios_ = np.exp(self.coef_)
        self.summary_ = pd.DataFrame({
            "coef": summary["coef"],
            "HR": summary["exp(coef)"],
            "HR lower": summary.filter(like="exp(coef) lower").iloc[:, 0],
            "HR upper": summary.filter(like="exp(coef) upper").iloc[:, 0],
            "se": summary["se(coef)"],
            "z": summary["z"],
            "p": summary["p"],
        })
        self.summary_.index.name = "feature"
        self.log_likelihood_ = float(model.log_likelihood_)
        lrt = model.log_likelihood_ratio_test()
        self.log_likelihood_ratio_test_ = (float(lrt.test_statistic), int(lrt.degrees_freedom),
                                           float(lrt.p_value))
        if self.strata_:
            self.baseline_survival_ = model.baseline_survival_.copy()
            self.baseline_cumulative_hazard_ = model.baseline_cumulative_hazard_.copy()
        else:
            self.baseline_survival_ = model.baseline_survival_.iloc[:, 0].rename(
                "baseline survival")
            self.baseline_cumulative_hazard_ = model.baseline_cumulative_hazard_.iloc[
                :, 0].rename("baseline cumulative hazard")
        self.unique_times_ = self.baseline_survival_.index.to_numpy(dtype=float)
        self.feature_means_ = model._norm_mean.loc[self.covariates_].to_numpy()
        y = np.empty(event.shape[0], dtype=[("event", bool), ("time", float)])
        y["event"], y["time"] = event, time
        self.survival_train_ = y

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
        (R's ``cox.zph``), one row per feature.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_patients, n_features)
            The training data (the residuals are those of the fitted model on its data).
        y : structured ndarray of shape (n_patients,)
        time_transform : {"rank", "km", "identity", "log"}, default="rank"
            Function of time the residuals are correlated with ("km" is R's default).

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

    @property
    def _repr_html_(self):
        # Fitted: lifelines-style report in Jupyter; unfitted: scikit-learn's diagram.
        if hasattr(self, "summary_"):
            return self._summary_html
        return super()._repr_html_

    def _summary_html(self):
        header = (f"<p><b>CoxPHSurvival</b> &mdash; {self.survival_train_.shape[0]} patients, "
                  f"{int(self.survival_train_['event'].sum())} events; log-likelihood "
                  f"{self.log_likelihood_:.3f}; LR test {self.log_likelihood_ratio_test_[0]:.2f} "
                  f"on {self.log_likelihood_ratio_test_[1]} df, "
                  f"p = {self.log_likelihood_ratio_test_[2]:.3g}</p>")
        return header + self.summary_.to_html(float_format=lambda v: f"{v:.4g}")
