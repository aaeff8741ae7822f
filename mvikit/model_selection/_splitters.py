"""Centre-wise splitters: leave-one-centre-out and internal/external validation.

Both are scikit-learn cross-validators (``split(X, y, groups)`` /
``get_n_splits``), so they work in ``cross_val_score`` and ``GridSearchCV`` as
well as in :func:`mvikit.model_selection.compare_models`.  ``groups`` is the
centre of each patient (``cohort.centers`` of :func:`mvikit.datasets.make_hcc_cohort`).
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.model_selection import BaseCrossValidator, StratifiedShuffleSplit
from sklearn.utils import check_random_state

from ..exceptions import CohortError

__all__ = ["LeaveOneCentreOut", "ExternalValidationSplit"]


def _check_groups(groups, n_samples: int) -> np.ndarray:
    """The centre labels as a 1-d object array of length ``n_samples``."""
    if groups is None:
        raise CohortError(
            "Centre-wise validation needs the centre of every patient: pass groups=<centres> "
            "(for the simulated cohort, groups=cohort.centers)."
        )
    groups = np.asarray(groups, dtype=object).ravel()
    if groups.shape[0] != n_samples:
        raise CohortError(
            f"groups has {groups.shape[0]} entries but X has {n_samples} patients; pass one centre "
            "label per patient, in the order of X's rows."
        )
    missing = pd.isna(pd.Series(groups))
    if missing.any():
        first = int(np.flatnonzero(missing.to_numpy())[0])
        raise CohortError(
            f"groups has a missing centre label at row {first} "
            f"({int(missing.sum())} in all); every "
            "patient needs a centre. Fill it in or drop those patients before splitting."
        )
    return groups


def _centre_order(groups: np.ndarray) -> list:
    """Centres in sorted order when sortable, else in order of first appearance."""
    unique = list(pd.unique(pd.Series(groups)))
    try:
        return sorted(unique)
    except TypeError:
        return unique


class LeaveOneCentreOut(BaseCrossValidator):
    """Leave-one-centre-out cross-validation.

    Each split trains on every centre but one and tests on the held-out centre,
    so a model is always evaluated on a scanner/population it has not seen.
    The splits come in sorted centre order.

    Parameters
    ----------
    min_test_size : int, default=1
        Centres with fewer patients than this are never held out alone (they
        stay in every training set); a clear error is raised when fewer than
        two centres remain.

    See Also
    --------
    ExternalValidationSplit : Train on the internal centres, test on external ones.
    sklearn.model_selection.LeaveOneGroupOut : The same split without the size rule.

    Notes
    -----
    This is seed 001's multi-centre design taken one step further: every centre
    in turn plays the external hospital.  :func:`compare_models` names each fold
    after its held-out centre and reports per-centre AUC, sensitivity,
    specificity and calibration.

    Examples
    --------
    >>> import numpy as np
    >>> from mvikit.model_selection import LeaveOneCentreOut
    >>> centres = np.array(["A", "A", "B", "B", "C", "C"])
    >>> loco = LeaveOneCentreOut()
    >>> loco.get_n_splits(groups=centres)
    3
    >>> for train, test in loco.split(np.zeros((6, 1)), groups=centres):
    ...     print(train, test)
    [2 3 4 5] [0 1]
    [0 1 4 5] [2 3]
    [0 1 2 3] [4 5]
    >>> loco.test_centres(centres)
    ['A', 'B', 'C']
    """

    def __init__(self, *, min_test_size=1):
        self.min_test_size = min_test_size

    def _held_out(self, groups: np.ndarray) -> list:
        if not isinstance(self.min_test_size, Integral) or self.min_test_size < 1:
            raise ValueError(
                "LeaveOneCentreOut: min_test_size must be an integer >= 1; "
                f"got {self.min_test_size!r}."
            )
        counts = pd.Series(groups).value_counts()
        held = [c for c in _centre_order(groups) if counts[c] >= self.min_test_size]
        if len(held) < 2:
            raise CohortError(
                f"Leave-one-centre-out needs at least 2 centres with >= {self.min_test_size} "
                f"patients; got centre sizes {counts.to_dict()}. Use stratified K-fold "
                "(cv=None without groups) for a single-centre cohort."
            )
        return held

    def test_centres(self, groups) -> list:
        """The held-out centre of each split, in split order.

        Parameters
        ----------
        groups : array-like of shape (n_samples,)
            The centre of every patient.

        Returns
        -------
        list
            One centre label per split.
        """
        groups = _check_groups(groups, len(groups))
        return self._held_out(groups)

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of splits: the number of centres that are held out.

        Parameters
        ----------
        X, y : object
            Ignored; present for API compatibility.
        groups : array-like of shape (n_samples,)
            The centre of every patient.

        Returns
        -------
        int
        """
        n = len(groups) if groups is not None else 0
        return len(self._held_out(_check_groups(groups, n)))

    def _iter_test_masks(self, X=None, y=None, groups=None):
        groups = _check_groups(groups, len(X) if X is not None else len(groups))
        for centre in self._held_out(groups):
            yield groups == centre

    def split(self, X, y=None, groups=None):
        """Generate (train, test) indices, one split per held-out centre.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The cohort frame (only its length is used).
        y : array-like, default=None
            Ignored.
        groups : array-like of shape (n_samples,)
            The centre of every patient.

        Yields
        ------
        train : ndarray
        test : ndarray
        """
        yield from super().split(X, y, groups)


class ExternalValidationSplit(BaseCrossValidator):
    """Train on the internal centres, test on the external one(s): one split.

    Parameters
    ----------
    external : str or list of str
        The external centre(s).  With several, the model is trained once and
        :func:`compare_models` reports every external centre separately
        (seed 001, Table 3).
    internal_test_size : float in (0, 1) or None, default=None
        When set, this fraction of the internal patients (stratified on ``y``)
        is also held out and tested, as seed 001's "internal validation set".
    random_state : int, RandomState instance or None, default=None
        Seeds the internal hold-out draw.

    See Also
    --------
    LeaveOneCentreOut : Every centre in turn is the external one.

    Notes
    -----
    A single split has no spread: :func:`compare_models` then reports no SD and
    no Wilcoxon test (DeLong on the pooled test predictions still applies).

    Examples
    --------
    >>> import numpy as np
    >>> from mvikit.model_selection import ExternalValidationSplit
    >>> centres = np.array(["C1", "C1", "C2", "C2", "C4", "C4"])
    >>> train, test = next(ExternalValidationSplit(external="C4").split(
    ...     np.zeros((6, 1)), groups=centres))
    >>> train, test
    (array([0, 1, 2, 3]), array([4, 5]))
    """

    def __init__(self, *, external, internal_test_size=None, random_state=None):
        self.external = external
        self.internal_test_size = internal_test_size
        self.random_state = random_state

    def _external_list(self, groups: np.ndarray) -> list:
        external = [self.external] if isinstance(self.external, str) else list(
            np.atleast_1d(np.asarray(self.external, dtype=object))
        )
        present = set(pd.unique(pd.Series(groups)))
        unknown = [c for c in external if c not in present]
        if unknown or not external:
            raise CohortError(
                f"ExternalValidationSplit: external centre(s) {unknown or external} not found in "
                f"groups; the centres present are {sorted(map(str, present))}."
            )
        if present <= set(external):
            raise CohortError(
                "ExternalValidationSplit: every centre is external, so nothing is left to train "
                "on; name only the held-out centre(s) in external= "
                f"(centres: {sorted(map(str, present))})."
            )
        return external

    def get_n_splits(self, X=None, y=None, groups=None):
        """Always 1: one training set, one test set.

        Parameters
        ----------
        X, y, groups : object
            Ignored; present for API compatibility.

        Returns
        -------
        int
        """
        return 1

    def split(self, X, y=None, groups=None):
        """Yield the one (train, test) split.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The cohort frame (only its length is used).
        y : array-like of shape (n_samples,), default=None
            Labels; needed only for the stratified internal hold-out.
        groups : array-like of shape (n_samples,)
            The centre of every patient.

        Yields
        ------
        train : ndarray
        test : ndarray
        """
        n_samples = len(X)
        groups = _check_groups(groups, n_samples)
        is_external = np.isin(groups, self._external_list(groups))
        internal = np.flatnonzero(~is_external)
        test = np.flatnonzero(is_external)
        size = self.internal_test_size
        if size is not None:
            if not isinstance(size, Real) or not 0 < size < 1:
                raise ValueError(
                    "ExternalValidationSplit: internal_test_size must be a float in (0, 1) or "
                    f"None; got {size!r}."
                )
            if y is None:
                raise ValueError(
                    "ExternalValidationSplit: internal_test_size needs y (stratification).")
            seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
            holdout = StratifiedShuffleSplit(n_splits=1, test_size=size, random_state=seed)
            keep, held = next(holdout.split(internal, np.asarray(y)[internal]))
            test = np.sort(np.concatenate([test, internal[held]]))
            internal = np.sort(internal[keep])
        yield internal, test
