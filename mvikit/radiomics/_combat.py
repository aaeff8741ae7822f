"""`ComBat`: empirical-Bayes harmonisation of features across centres (Johnson et al. 2007).

Radiomics features shift and scale with the scanner and protocol of each
centre.  ComBat models feature ``g`` of patient ``j`` in centre ``i`` as
``x_ijg = alpha_g + C_j beta_g + gamma_ig + delta_ig e_ijg`` and removes the
centre's location ``gamma_ig`` and scale ``delta_ig``, estimated with
empirical-Bayes shrinkage across features.  Written here (no maintained
package offers a scikit-learn transformer that applies a fit to new
patients); checked against neuroCombat in the tests.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..exceptions import CohortError, ColumnRoleError
from ..utils._roles import check_cohort_frame
from ..utils._validation import Interval, fit_context

__all__ = ["ComBat"]


def _inverse_gamma_prior(delta_hat: np.ndarray) -> tuple:
    """Method-of-moments hyper-parameters ``(a, b)`` of the inverse-gamma prior
    of the batch variances (Johnson et al. 2007, section 3.1)."""
    m, s2 = delta_hat.mean(), delta_hat.var(ddof=1)
    return (2 * s2 + m**2) / s2, (m * s2 + m**3) / s2


def _posterior(z: np.ndarray, gamma_hat, delta_hat, gamma_bar, tau2, a, b, tol, max_iter):
    """Iterate the conditional posterior means of ``gamma`` and ``delta^2`` of one
    batch (Johnson et al. 2007, eqs. 3.1-3.2) until relative changes < ``tol``."""
    n = z.shape[0]
    gamma, delta = gamma_hat.copy(), delta_hat.copy()
    for _ in range(max_iter):
        gamma_new = (n * tau2 * gamma_hat + delta * gamma_bar) / (n * tau2 + delta)
        sum2 = ((z - gamma_new) ** 2).sum(axis=0)
        delta_new = (0.5 * sum2 + b) / (n / 2.0 + a - 1.0)
        change = max(np.max(np.abs(gamma_new - gamma) / np.abs(gamma)),
                     np.max(np.abs(delta_new - delta) / delta))
        gamma, delta = gamma_new, delta_new
        if change < tol:
            break
    return gamma, delta


class ComBat(TransformerMixin, BaseEstimator):
    """Remove centre (batch) effects from numeric features with empirical-Bayes ComBat.

    Fit on the training patients: the centre-free mean and pooled variance of
    each feature and the shrunken location/scale of each centre; transform
    then harmonises any patient of a centre seen in fit (so it is fold-safe).

    Parameters
    ----------
    batch : str, default="center"
        Column of ``X`` holding each patient's centre (scanner, site).  It is
        used, then left out of the output.  A scikit-learn pipeline passes
        only ``X``, so the centre travels as a column: join
        ``cohort.centers`` into the frame, or keep it with
        ``RadiomicsFeatures(passthrough=["center"])``.
    covariates : list of str, default=None
        Numeric columns whose effects are preserved (e.g. age); left out of
        the output.  Never put the outcome here: it is not known at predict time.
    mean_only : bool, default=False
        Remove only location shifts (no scale adjustment).
    empirical_bayes : bool, default=True
        Shrink centre effects across features (Johnson et al.); ``False`` uses
        the per-feature location/scale estimates as they are.
    tol : float, default=1e-4
        Relative convergence tolerance of the posterior iteration (as sva and
        neuroCombat).

    Attributes
    ----------
    batches_ : ndarray
        Centres seen in fit.
    feature_names_out_ : ndarray of str
        The harmonised columns (all but ``batch`` and ``covariates``).
    grand_mean_ : ndarray of shape (n_out,)
        ``alpha_g``.
    beta_ : ndarray of shape (n_covariates, n_out)
        Covariate effects.
    var_pooled_ : ndarray of shape (n_out,)
        Pooled residual variance.
    gamma_star_, delta_star_ : ndarray of shape (n_batches, n_out)
        Posterior centre locations and variances on the standardised scale.
    gamma_hat_, delta_hat_ : ndarray of shape (n_batches, n_out)
        Per-feature estimates before shrinkage.
    adjusted_ : ndarray of bool
        Features harmonised (constant features in training pass unchanged).
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Notes
    -----
    Standardise ``z = (x - alpha - C beta) / sigma`` (least squares on the
    centre indicators and covariates, ``alpha`` the sample-weighted mean of
    the centre intercepts, ``sigma^2`` the pooled residual variance), estimate
    ``gamma_hat`` (mean of ``z`` in a centre) and ``delta_hat^2`` (its
    variance), put a normal prior on ``gamma`` and an inverse-gamma prior on
    ``delta^2`` with hyper-parameters by the method of moments across features,
    iterate the posterior means, and return
    ``sigma (z - gamma*) / delta* + alpha + C beta``.  Johnson WE, Li C,
    Rabinovic A. Biostatistics 2007;8(1):118-27 (parametric priors);
    for radiomics: Orlhac F et al., J Nucl Med 2018;59(8):1321-8.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(60, 4)), columns=list("abcd"))
    >>> X["center"] = np.repeat(["A", "B"], 30)
    >>> X.loc[X["center"] == "B", ["a", "b", "c", "d"]] += 3.0   # a scanner shift
    >>> out = ComBat(batch="center").fit_transform(X)
    >>> out.columns.tolist()
    ['a', 'b', 'c', 'd']
    >>> gap = out[X["center"] == "B"].mean() - out[X["center"] == "A"].mean()
    >>> round(float(gap.mean()), 2)  # the common shift of 3 is gone
    -0.01
    """

    _parameter_constraints: dict = {
        "batch": [str],
        "covariates": ["array-like", None],
        "mean_only": ["boolean"],
        "empirical_bayes": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, *, batch="center", covariates=None, mean_only=False,
                 empirical_bayes=True, tol=1e-4):
        self.batch = batch
        self.covariates = covariates
        self.mean_only = mean_only
        self.empirical_bayes = empirical_bayes
        self.tol = tol

    # -------------------------------------------------------------- input
    def _split(self, X, *, fitting: bool):
        X = check_cohort_frame(X)
        covariates = list(self.covariates or [])
        missing = [c for c in [self.batch, *covariates] if c not in X.columns]
        if missing:
            raise ColumnRoleError(
                f"ComBat: column(s) {missing} not in X. The centre column (batch={self.batch!r}) "
                "must be a column of the frame: join cohort.centers into X, or keep it with "
                "RadiomicsFeatures(passthrough=[...])."
            )
        features = ([c for c in X.columns if c != self.batch and c not in covariates]
                    if fitting else list(self.feature_names_out_))
        absent = [c for c in features if c not in X.columns]
        if absent:
            raise CohortError(f"ComBat: X lacks the feature column(s) {absent[:5]} seen in fit.")
        values = {}
        for name, columns in (("features", features), ("covariates", covariates)):
            block = X[columns]
            try:
                array = block.to_numpy(dtype=float)
            except (TypeError, ValueError):
                bad = [c for c in columns if not pd.api.types.is_numeric_dtype(block[c])]
                raise CohortError(
                    f"ComBat: {name} column(s) {bad[:5]} are not numeric. Harmonise numeric "
                    "features only (encode or drop the others first)."
                ) from None
            if not np.isfinite(array).all():
                rows, cols = np.nonzero(~np.isfinite(array))
                raise CohortError(
                    f"ComBat: missing or infinite value for patient {X.index[rows[0]]!r}, "
                    f"column {columns[cols[0]]!r}. Impute before harmonising."
                )
            values[name] = array
        batch = X[self.batch].to_numpy()
        if pd.isna(X[self.batch]).any():
            raise CohortError(
                f"ComBat: patient {X.index[pd.isna(X[self.batch]).to_numpy()][0]!r} has no "
                f"centre in column {self.batch!r}. Fill it in."
            )
        return X, features, values["features"], values["covariates"], batch

    # ---------------------------------------------------------------- fit
    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Estimate the centre effects on the training patients.

        Parameters
        ----------
        X : pandas.DataFrame
            Numeric features plus the ``batch`` (and ``covariates``) column(s).
        y : ignored
            Present for the scikit-learn API.

        Returns
        -------
        self : ComBat
        """
        X, features, data, covar, batch = self._split(X, fitting=True)
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.feature_names_out_ = np.asarray(features, dtype=object)
        self.batches_, codes, counts = np.unique(batch, return_inverse=True, return_counts=True)
        if len(self.batches_) < 2:
            raise CohortError(
                f"ComBat: X holds one centre only ({self.batches_[0]!r} in column "
                f"{self.batch!r}); there is nothing to harmonise."
            )
        if counts.min() < 2:
            raise CohortError(
                f"ComBat: centre {self.batches_[np.argmin(counts)]!r} has a single training "
                "patient; its scale cannot be estimated. Merge it with another centre, or "
                "drop it."
            )
        onehot = (codes[:, None] == np.arange(len(self.batches_))).astype(float)
        design = np.hstack([onehot, covar])
        coef, *_ = np.linalg.lstsq(design, data, rcond=None)
        n_batches = len(self.batches_)
        self.grand_mean_ = (counts / counts.sum()) @ coef[:n_batches]
        self.beta_ = coef[n_batches:]
        residual = data - design @ coef
        self.var_pooled_ = (residual**2).mean(axis=0)
        # A feature constant in training has no centre effect to remove.
        spread = np.ptp(data, axis=0)
        self.adjusted_ = (spread > 0) & (self.var_pooled_ > 1e-12 * spread**2)
        z = self._standardize(data[:, self.adjusted_], covar, self.adjusted_)
        self._estimate_batch_effects(z, codes)
        return self

    def _standardize(self, data, covar, columns):
        mean = self.grand_mean_[columns] + covar @ self.beta_[:, columns]
        return (data - mean) / np.sqrt(self.var_pooled_[columns])

    def _estimate_batch_effects(self, z: np.ndarray, codes: np.ndarray) -> None:
        n_batches, n_out = len(self.batches_), len(self.adjusted_)
        gamma_hat = np.zeros((n_batches, n_out))
        delta_hat = np.ones((n_batches, n_out))
        gamma_star, delta_star = gamma_hat.copy(), delta_hat.copy()
        cols = self.adjusted_
        for i in range(n_batches):
            zi = z[codes == i]
            gamma_hat[i, cols] = zi.mean(axis=0)
            if not self.mean_only:
                variance = zi.var(axis=0, ddof=1)
                delta_hat[i, cols] = np.where(variance == 0, 1.0, variance)  # as sva
        tau2 = gamma_hat[:, cols].var(axis=1, ddof=1) if cols.sum() > 1 else np.zeros(n_batches)
        for i in range(n_batches):
            g_hat, d_hat = gamma_hat[i, cols], delta_hat[i, cols]
            if not self.empirical_bayes or cols.sum() < 2:
                gamma_star[i, cols], delta_star[i, cols] = g_hat, d_hat
            elif self.mean_only:
                # delta = 1: one posterior-mean step.  sva's ComBat (and neuroCombat)
                # use n = 1 here, which shrinks more than the n_i of eq. 3.1; we keep
                # their choice so results agree with the reference implementations.
                gamma_star[i, cols] = (tau2[i] * g_hat + g_hat.mean()) / (tau2[i] + 1.0)
            else:
                a, b = _inverse_gamma_prior(d_hat)
                gamma_star[i, cols], delta_star[i, cols] = _posterior(
                    z[codes == i], g_hat, d_hat, g_hat.mean(), tau2[i], a, b, self.tol, 1000)
        self.gamma_hat_, self.delta_hat_ = gamma_hat, delta_hat
        self.gamma_star_, self.delta_star_ = gamma_star, delta_star

    # ---------------------------------------------------------- transform
    def transform(self, X):
        """Harmonise patients of centres seen in fit.

        Parameters
        ----------
        X : pandas.DataFrame
            The fitted feature columns plus ``batch`` (and ``covariates``).

        Returns
        -------
        pandas.DataFrame
            The harmonised features (same index), ``batch`` and covariates left out.
        """
        check_is_fitted(self, "gamma_star_")
        X, _, data, covar, batch = self._split(X, fitting=False)
        known = {b: i for i, b in enumerate(self.batches_)}
        unseen = sorted({b for b in batch if b not in known}, key=str)
        if unseen:
            first = X.index[np.asarray([b in unseen for b in batch])][0]
            raise CohortError(
                f"ComBat: centre {unseen[0]!r} (patient {first!r}, column {self.batch!r}) was "
                f"not seen in fit (known: {list(self.batches_)}). ComBat cannot harmonise an "
                "unseen centre: include some of its patients in training, or validate "
                "without harmonisation."
            )
        codes = np.asarray([known[b] for b in batch])
        out = data.copy()
        cols = self.adjusted_
        z = self._standardize(data[:, cols], covar, cols)
        shift = self.gamma_star_[codes][:, cols]
        scale = np.sqrt(self.delta_star_[codes][:, cols])
        mean = self.grand_mean_[cols] + covar @ self.beta_[:, cols]
        out[:, cols] = np.sqrt(self.var_pooled_[cols]) * (z - shift) / scale + mean
        return pd.DataFrame(out, index=X.index, columns=self.feature_names_out_)

    def get_feature_names_out(self, input_features=None):
        """The harmonised columns (input columns minus ``batch`` and covariates).

        Parameters
        ----------
        input_features : ignored

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self, "gamma_star_")
        return self.feature_names_out_.copy()
