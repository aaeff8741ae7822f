"""The shared machinery of the ROI transformers: frame in, frame out.

A transformer here maps some image/mask columns of a cohort frame to new
`Volume` cells and passes every other column through unchanged.  The work is
split into *tasks*: "make output column(s) ``outputs`` of a patient from input
columns ``inputs``".  For each patient the base class

* looks each task's result up in the in-process cache (and in ``memory`` on
  disk when given), keyed by the inputs' ``Volume.cache_key``, the task kind
  and the transformer's parameters;
* on a miss, reads every input it needs *once per patient* (a tumour mask
  shared by two sequences is read once), checks it, and computes.

So a lazy file is read once, transformed, and only the (small) result is kept.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, check_memory

from ..exceptions import CohortError, ImageReadError, VolumeError
from ..utils._roles import check_cohort_frame, resolve_columns
from ..utils._validation import HasMethods, fit_context
from ..utils._warnings import aggregate_patient_warnings
from ._cache import VOLUME_CACHE
from ._checks import cell_volume, check_finite, check_mask_matches

__all__ = ["VolumeTransformerBase", "Task"]


class Task(NamedTuple):
    """Make ``outputs`` from ``inputs`` (column names) with ``kind`` of computation."""

    kind: str
    outputs: tuple
    inputs: tuple


def _disk_cached(key, compute):
    # joblib.Memory hashes ``key`` only (``compute`` is ignored), so a hit reads no voxels.
    return compute()


class VolumeTransformerBase(TransformerMixin, BaseEstimator, metaclass=ABCMeta):
    """Base class of the ROI transformers (not public: subclass it).

    Subclasses set ``_parameter_constraints``, implement ``_check_params``,
    ``_tasks`` (from the fitted column roles) and ``_compute``.
    """

    _parameter_constraints: dict = {
        "volumes": ["array-like", str, None],
        "masks": ["array-like", str, None],
        "memory": [None, str, HasMethods(["cache"])],
    }

    # ------------------------------------------------------------- hooks
    def _check_params(self, X: pd.DataFrame) -> None:
        """Validate parameters against the frame (columns known)."""

    @abstractmethod
    def _tasks(self) -> list:
        """The (inputs, outputs) column tasks of this transformer."""

    @abstractmethod
    def _compute(self, task: Task, volumes: list, patient_id) -> tuple:
        """The output volumes of one task for one patient."""

    def _cache_params(self) -> tuple:
        """The parameters that change a result (not column selections or memory)."""
        params = self.get_params(deep=False)
        return tuple(sorted((k, repr(v)) for k, v in params.items()
                            if k not in ("volumes", "masks", "memory")))

    def _new_columns(self) -> list:
        """Columns this transformer adds (none by default)."""
        return []

    # --------------------------------------------------------------- fit
    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Resolve the volume and mask columns and check every image/mask pair.

        Nothing is learnt: each patient is transformed on its own.  Headers are
        read (files must exist and masks must lie on their image's grid), voxels
        are not.

        Parameters
        ----------
        X : pandas.DataFrame
            The cohort frame.
        y : ignored
            Present for the scikit-learn API.

        Returns
        -------
        self
        """
        X = check_cohort_frame(X)
        roles = resolve_columns(X, clinical="auto", volumes=self.volumes, masks=self.masks)
        if not roles.volumes and not roles.masks:
            raise CohortError(
                f"{type(self).__name__} found no volume or mask column in X (columns: "
                f"{list(X.columns)[:10]}). Put Volume/array/path cells in X, or name them "
                "with `volumes=` and `masks=`."
            )
        self.volume_columns_ = list(roles.volumes)
        self.mask_columns_ = list(roles.masks)
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self._check_params(X)
        self._check_grids(X)
        return self

    def _check_grids(self, X: pd.DataFrame) -> None:
        # A sequence with its own "<SEQ>_mask" is checked against it; otherwise
        # against every shared mask (tumour, liver, shells), which must then lie
        # on the grid of every such sequence.
        own = {f"{v}_mask" for v in self.volume_columns_}
        shared = [m for m in self.mask_columns_ if m not in own]
        for patient_id in X.index:
            for image_column in self.volume_columns_:
                image = cell_volume(X, patient_id, image_column)
                if image is None:
                    continue
                mine = f"{image_column}_mask"
                for mask_column in [mine] if mine in self.mask_columns_ else shared:
                    mask = cell_volume(X, patient_id, mask_column)
                    if mask is not None:
                        check_mask_matches(image, mask, patient_id=patient_id,
                                           image_column=image_column, mask_column=mask_column)

    # --------------------------------------------------------- transform
    def transform(self, X):
        """Replace the volume/mask cells by their transformed versions.

        Parameters
        ----------
        X : pandas.DataFrame
            A cohort frame with the columns seen in `fit`.

        Returns
        -------
        pandas.DataFrame
            A new frame: same index; transformed columns hold in-memory
            `Volume` cells; every other column is passed through unchanged.
        """
        check_is_fitted(self)
        X = check_cohort_frame(X)
        if list(X.columns) != list(self.feature_names_in_):
            missing = [c for c in self.feature_names_in_ if c not in X.columns]
            extra = [c for c in X.columns if c not in set(self.feature_names_in_)]
            raise CohortError(
                f"X has other columns than at fit time (missing: {missing}, new: {extra}). "
                f"Transform a frame with the columns {type(self).__name__} was fitted on."
            )
        tasks = self._tasks()
        memory = check_memory(self.memory) if self.memory is not None else None
        results: dict = {column: [] for task in tasks for column in task.outputs}
        with aggregate_patient_warnings(type(self).__name__):
            for patient_id in X.index:
                row = self._transform_row(X, patient_id, tasks, memory)
                for column in results:
                    results[column].append(row.get(column, np.nan))
        out = X.copy(deep=False)
        for column, cells in results.items():
            out[column] = pd.Series(cells, index=X.index, dtype=object)
        return out

    def _transform_row(self, X, patient_id, tasks, memory, cache: bool = True) -> dict:
        # cache=False: for callers that keep only a small cut of the (full-size)
        # result, which would otherwise fill the in-process cache and evict crops.
        cells: dict = {}
        loaded: dict = {}

        def cell(column):
            if column not in cells:
                cells[column] = cell_volume(X, patient_id, column)
            return cells[column]

        def load(column):
            # Each input file is read at most once per patient, whatever the tasks.
            if column not in loaded:
                try:
                    volume = cell(column).load()
                except ImageReadError as exc:
                    raise ImageReadError(f"patient {patient_id!r}, column {column!r}: {exc}"
                                         ) from None
                check_finite(volume.array, patient_id=patient_id, column=column)
                loaded[column] = volume
            return loaded[column]

        row = {}
        for task in tasks:
            inputs = [cell(column) for column in task.inputs]
            if inputs[0] is None:  # a missing sequence stays missing
                continue
            absent = [c for c, v in zip(task.inputs, inputs) if v is None]
            if absent:
                raise VolumeError(
                    f"patient {patient_id!r}: column {absent[0]!r} is missing, but "
                    f"{type(self).__name__} needs it for column {task.inputs[0]!r}. Provide the "
                    "mask, or drop the patient."
                )
            key = (type(self).__name__, self._cache_params(), task.kind,
                   tuple(v.cache_key for v in inputs))
            result = VOLUME_CACHE.get(key) if cache else None
            if result is None:
                def compute(task=task):
                    volumes = [load(column) for column in task.inputs]
                    return self._compute(task, volumes, patient_id)

                if memory is not None:
                    result = memory.cache(_disk_cached, ignore=["compute"])(key, compute)
                else:
                    result = compute()
                if cache:
                    VOLUME_CACHE.put(key, result)
            row.update(zip(task.outputs, result))
        return row

    # ------------------------------------------------------------ naming
    def get_feature_names_out(self, input_features=None):
        """The output column names: the input columns, then any added ones.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Must equal ``feature_names_in_`` when given.

        Returns
        -------
        numpy.ndarray of str
        """
        check_is_fitted(self)
        if input_features is not None and list(input_features) != list(self.feature_names_in_):
            raise ValueError("input_features differ from feature_names_in_.")
        return np.asarray([*self.feature_names_in_, *self._new_columns()], dtype=object)
