"""`RadiomicsFeatures`: pyradiomics features of every (volume, ROI) of a cohort frame."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..exceptions import CohortError, ColumnRoleError, FeatureExtractionError
from ..imaging import PeritumoralShell
from ..utils._roles import check_cohort_frame, resolve_columns
from ..utils._validation import HasMethods, Integral, Interval, Real, StrOptions, fit_context
from ..utils._warnings import PatientWarning, aggregate_patient_warnings
from ._cache import FeatureCache, cache_location
from ._plan import (
    _extract_patient,
    _extractor,
    _fill,
    _Job,
    _look_up,
    _Pending,
    _prepare,
    _settings_key,
)
from ._settings import resolve_params
from ._worker import extract_pairs, single_threaded_itk

__all__ = ["RadiomicsFeatures"]


def _roi_name(mask_column: str, volume: str) -> str:
    if mask_column == f"{volume}_mask":
        return "tumor"
    return mask_column.removeprefix(f"{volume}_").removesuffix("_mask")


def _is_tumour_mask(column: str, volumes: list) -> bool:
    return column == "tumor_mask" or column in {f"{v}_mask" for v in volumes}


class RadiomicsFeatures(TransformerMixin, BaseEstimator):
    """pyradiomics features of each volume column in each ROI, one row per patient.

    For every volume column (sequence or phase) and every ROI mask - the
    tumour mask, and peritumoral shells of ``k`` mm (MVI shows itself just
    outside the tumour margin) - pyradiomics' `RadiomicsFeatureExtractor` runs
    with the settings given here or in a pyradiomics parameter file.  Masks
    are binarised (voxel > 0).  Patients run in parallel with joblib, and with
    ``memory`` every (patient, volume, ROI, settings) is extracted once:
    results are cached on disk under a hash of the image voxels and geometry,
    the mask voxels and the settings, so cross-validation folds, grid-search
    candidates and later sessions reuse them.

    Parameters
    ----------
    volumes : "auto" or list of str, default="auto"
        Image columns to extract from (`mvikit.utils.resolve_columns`).
    rois : "auto" or list of str, default="auto"
        ROI mask columns.  ``"auto"``: each volume's tumour mask (its own
        ``"<SEQ>_mask"``, else ``"tumor_mask"``) and the peritumoral shell
        columns of `mvikit.imaging.PeritumoralShell` in ``X``.  A listed mask
        named ``"<SEQ>_..."`` is used for volume ``SEQ`` only; others for
        every volume without its own mask.
    peritumoral_mm : float, list of float or None, default=None
        Also add peritumoral shells of these thicknesses (mm) around each
        tumour mask, with `mvikit.imaging.PeritumoralShell` (clipped to
        ``liver_mask`` when present), as extra ROIs.
    params : dict, str or path-like, default=None
        A pyradiomics parameter dict or YAML/JSON file (sections
        ``imageType``, ``featureClass``, ``setting``, ``voxelSetting``).
    image_types : str, list or dict, default=None
        pyradiomics image types, e.g. ``"Original"``,
        ``{"Original": {}, "LoG": {"sigma": [1.0, 3.0]}, "Wavelet": {}}``.
        None: from ``params``, else ``Original``.
    feature_classes : str, list or dict, default=None
        Feature classes (``"firstorder"``, ``"shape"``, ``"glcm"``,
        ``"glrlm"``, ``"glszm"``, ``"gldm"``, ``"ngtdm"``), or a dict
        ``class -> list of feature names`` (None = all).  None: from
        ``params``, else the seven 3D classes.
    bin_width : float, default=None
        Grey-level bin width (pyradiomics ``binWidth``; its default is 25).
    resampled_spacing : sequence of 3 floats, default=None
        Resample to this voxel size in mm along ``(D, H, W)`` (mvikit's
        order; passed to pyradiomics' ``resampledPixelSpacing`` as x, y, z).
    normalize : bool, default=None
        pyradiomics z-score normalisation of the image (``normalize``).
    settings : dict, default=None
        Any other pyradiomics setting (``{"normalizeScale": 100, "interpolator":
        "sitkBSpline"}``); unknown keys raise `InvalidSettingsError` listing the
        valid ones.  ``label`` and ``additionalInfo`` are fixed by mvikit.
    on_error : {"raise", "nan"}, default="raise"
        A failed extraction raises (naming patient, volume and ROI), or warns
        with `DataWarning` and leaves that patient's features NaN.
    memory : str, path-like or joblib.Memory, default=None
        Folder of the feature cache (a ``mvikit_radiomics`` sub-folder); None
        caches nothing.
    n_jobs : int, default=None
        Patients extracted in parallel (joblib; None follows the active backend).
    verbose : int, default=0
        Show a progress bar (tqdm) when > 0.
    passthrough : list of str, default=None
        Columns of ``X`` copied to the output after the features (e.g.
        ``["center"]`` for a later `ComBat`).

    Attributes
    ----------
    params_ : dict
        The resolved pyradiomics parameters (what runs and what is hashed).
    volume_columns_ : list of str
        The volume columns extracted from.
    rois_ : dict
        ``{volume: [(roi name, mask column), ...]}``.
    shells_ : list of PeritumoralShell
        Fitted shell makers (``peritumoral_mm``).
    feature_names_out_ : ndarray of str
        Output columns, ``"{volume}_{roi}_{imagetype}_{class}_{feature}"``
        (e.g. ``"HBP_tumor_original_firstorder_Mean"``), learnt in `fit` so
        every fold returns the same columns, then the ``passthrough`` columns.
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    See Also
    --------
    mvikit.imaging.PeritumoralShell : the shell masks.
    RadScore : the LASSO signature on these features.

    Notes
    -----
    Values are exactly those of
    ``radiomics.featureextractor.RadiomicsFeatureExtractor(params).execute(image,
    mask, label=1)`` on the volumes as SimpleITK images (van Griethuysen et al.,
    Cancer Res 2017).  ``fit`` extracts the training patients (to learn the
    column names); ``fit_transform`` extracts them once.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mvikit import Volume
    >>> from mvikit.radiomics import RadiomicsFeatures
    >>> rng = np.random.default_rng(0)
    >>> mask = np.zeros((6, 12, 12), np.uint8); mask[2:5, 4:9, 4:9] = 1
    >>> X = pd.DataFrame({"HBP": [Volume(rng.normal(100, 10, (6, 12, 12))) for _ in range(2)],
    ...                   "tumor_mask": [Volume(mask)] * 2}, index=["p1", "p2"])
    >>> rf = RadiomicsFeatures(feature_classes={"firstorder": ["Mean", "Maximum"]})
    >>> features = rf.fit_transform(X)
    >>> list(features.columns)
    ['HBP_tumor_original_firstorder_Mean', 'HBP_tumor_original_firstorder_Maximum']
    >>> bool(np.isclose(features.loc["p1", "HBP_tumor_original_firstorder_Mean"],
    ...                 X.loc["p1", "HBP"].array[mask > 0].mean()))
    True
    """

    _parameter_constraints: dict = {
        "volumes": ["array-like", str, None],
        "rois": ["array-like", StrOptions({"auto"})],
        "peritumoral_mm": [Real, "array-like", None],
        "params": [dict, str, os.PathLike, None],
        "image_types": [str, list, tuple, dict, None],
        "feature_classes": [str, list, tuple, dict, None],
        "bin_width": [Interval(Real, 0, None, closed="neither"), None],
        "resampled_spacing": ["array-like", None],
        "normalize": ["boolean", None],
        "settings": [dict, None],
        "on_error": [StrOptions({"raise", "nan"})],
        "memory": [None, str, os.PathLike, HasMethods(["cache"])],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
        "passthrough": ["array-like", None],
    }

    def __init__(self, *, volumes="auto", rois="auto", peritumoral_mm=None, params=None,
                 image_types=None, feature_classes=None, bin_width=None,
                 resampled_spacing=None, normalize=None, settings=None, on_error="raise",
                 memory=None, n_jobs=None, verbose=0, passthrough=None):
        self.volumes = volumes
        self.rois = rois
        self.peritumoral_mm = peritumoral_mm
        self.params = params
        self.image_types = image_types
        self.feature_classes = feature_classes
        self.bin_width = bin_width
        self.resampled_spacing = resampled_spacing
        self.normalize = normalize
        self.settings = settings
        self.on_error = on_error
        self.memory = memory
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.passthrough = passthrough

    # ----------------------------------------------------------------- fit
    def _fit_columns(self, X: pd.DataFrame) -> None:
        roles = resolve_columns(X, clinical="auto", volumes=self.volumes, masks="auto")
        if not roles.volumes:
            raise CohortError(
                f"RadiomicsFeatures found no volume column in X (columns: {list(X.columns)[:10]}"
                "). Put Volume/array/path cells in X, or name them with `volumes=`."
            )
        self.volume_columns_ = list(roles.volumes)
        self._image_columns = [*roles.volumes, *roles.masks]
        frame = X[self._image_columns]
        self.shells_ = []
        masks = list(roles.masks)
        if self.peritumoral_mm is not None:
            tumour_masks = [m for m in masks if _is_tumour_mask(m, self.volume_columns_)]
            if not tumour_masks:
                raise ColumnRoleError(
                    "RadiomicsFeatures: `peritumoral_mm` needs a tumour mask column "
                    f"('tumor_mask' or '<SEQ>_mask'); the mask columns are {masks}."
                )
            for tumour in tumour_masks:
                shell = PeritumoralShell(distance_mm=self.peritumoral_mm, mask=tumour,
                                         volumes=self.volume_columns_, masks=masks)
                shell.fit(frame)
                # Placeholders: a later shell maker is fitted on the frame the
                # earlier ones produce (shells are computed per patient later).
                frame = frame.assign(**{c: pd.Series(None, index=frame.index, dtype=object)
                                        for c in shell.shell_columns_})
                masks = masks + shell.shell_columns_
                self.shells_.append(shell)
        self.rois_ = self._resolve_rois(masks)

    def _resolve_rois(self, masks: list) -> dict:
        added = [c for shell in self.shells_ for c in shell.shell_columns_]
        if isinstance(self.rois, str):
            candidates = [m for m in masks if _is_tumour_mask(m, self.volume_columns_)
                          or "peritumoral_" in m]
        else:
            candidates = list(self.rois) + [c for c in added if c not in self.rois]
            unknown = [m for m in candidates if m not in masks]
            if unknown:
                raise ColumnRoleError(
                    f"RadiomicsFeatures: ROI mask column(s) {unknown} are not mask columns of X "
                    f"(mask columns: {masks})."
                )
        rois = {}
        for volume in self.volume_columns_:
            own = f"{volume}_mask" in masks
            others = [f"{w}_" for w in self.volume_columns_ if w != volume]
            mine = [m for m in candidates if m.startswith(f"{volume}_")] if own else [
                m for m in candidates if not any(m.startswith(p) for p in others)
                and not m.startswith(f"{volume}_")]
            if not mine:
                raise ColumnRoleError(
                    f"RadiomicsFeatures: no ROI mask for volume column {volume!r}; expected "
                    f"'{volume}_mask' or 'tumor_mask' among the mask columns {masks}, or name "
                    "them with `rois=`."
                )
            rois[volume] = [(_roi_name(m, volume), m) for m in mine]
        return rois

    def fit(self, X, y=None):
        """Check the settings and columns, extract the training patients and
        learn the feature names.

        Parameters
        ----------
        X : pandas.DataFrame
            The cohort frame.
        y : ignored
            Present for the scikit-learn API.

        Returns
        -------
        self : RadiomicsFeatures
        """
        self._fit(X)
        return self

    def fit_transform(self, X, y=None, **fit_params):
        """`fit`, returning the training features (extracted once).

        Parameters
        ----------
        X : pandas.DataFrame
            The cohort frame.
        y : ignored
            Present for the scikit-learn API.
        **fit_params : dict
            Unused.

        Returns
        -------
        pandas.DataFrame of shape (n_patients, n_features)
        """
        return self._fit(X)

    @fit_context(prefer_skip_nested_validation=True)
    def _fit(self, X):
        X = check_cohort_frame(X)
        self.params_ = resolve_params(self)
        _extractor(self.params_, _settings_key(self.params_))  # pyradiomics' schema check
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self._fit_columns(X)
        self._passthrough = [] if self.passthrough is None else list(self.passthrough)
        absent = [c for c in self._passthrough if c not in X.columns]
        if absent:
            raise ColumnRoleError(
                f"RadiomicsFeatures: passthrough column(s) {absent} are not in X."
            )
        features = self._extract(X)
        names = list(dict.fromkeys(n for row in features for n in row))
        if not names:
            raise FeatureExtractionError(
                "RadiomicsFeatures: no feature could be extracted from any training patient "
                "(every extraction failed or every volume is missing); see the warnings."
            )
        self.feature_names_out_ = np.asarray(names + self._passthrough, dtype=object)
        return self._frame(features, X)

    # ----------------------------------------------------------- transform
    def transform(self, X):
        """The radiomics features of each patient of ``X``.

        Parameters
        ----------
        X : pandas.DataFrame
            A cohort frame with the columns seen in `fit`.

        Returns
        -------
        pandas.DataFrame of shape (n_patients, n_features)
            Index: the patient ids; columns: ``get_feature_names_out()``;
            NaN where a sequence is missing (or, with ``on_error="nan"``, an
            extraction failed).
        """
        check_is_fitted(self, "feature_names_out_")
        X = check_cohort_frame(X)
        missing = [c for c in self._image_columns + self._passthrough if c not in X.columns]
        if missing:
            raise CohortError(
                f"RadiomicsFeatures: X lacks the image/mask column(s) {missing} seen in fit. "
                "Transform a frame with the same volume and mask columns."
            )
        return self._frame(self._extract(X), X)

    def _frame(self, features: list, X) -> pd.DataFrame:
        names = self.feature_names_out_[: len(self.feature_names_out_) - len(self._passthrough)]
        frame = pd.DataFrame.from_records(features, index=X.index, columns=names).astype(float)
        if self._passthrough:
            frame = pd.concat([frame, X[self._passthrough]], axis=1)
        return frame

    def _jobs(self) -> list:
        return [_Job(volume, roi, mask) for volume, rois in self.rois_.items()
                for roi, mask in rois]

    def _extract(self, X: pd.DataFrame) -> list:
        """Every patient's features; per-patient warnings (shells cut by the border,
        failed extractions) are aggregated into one per column and cause."""
        with aggregate_patient_warnings(type(self).__name__, stacklevel=4):
            return self._extract_all(X)

    def _extract_all(self, X: pd.DataFrame) -> list:
        """Extract every patient (in parallel); one dict of features per patient.

        The parent looks each (patient, volume, ROI) up in the cache and, for
        volumes in memory, prepares the pending ones (shells, checks, SimpleITK
        images) lazily while the workers run pyradiomics on the earlier
        patients (`mvikit.radiomics._worker`: workers import no scikit-learn
        or pandas).  Patients with file-backed volumes go to the workers whole.
        """
        params, settings_key = self.params_, _settings_key(self.params_)
        location = cache_location(self.memory)
        frame, jobs, cache = X[self._image_columns], self._jobs(), FeatureCache(location)
        rows = [frame.iloc[[i]] for i in range(len(frame))]
        with single_threaded_itk():  # the shells made here too
            outcomes = [_look_up(pid, row, self.shells_, jobs, settings_key, cache)
                        for pid, row in zip(frame.index, rows)]
            todo = [i for i, o in enumerate(outcomes)
                    if o is None or any(isinstance(v, _Pending) for v in o)]

            def tasks():
                for i in todo:
                    pid, row = frame.index[i], rows[i]
                    if outcomes[i] is None:  # file-backed: read, hashed and checked there
                        yield delayed(_extract_patient)(pid, row, self.shells_, jobs, params,
                                                        settings_key, location)
                        continue
                    outcomes[i], pairs = _prepare(pid, row, self.shells_, jobs, outcomes[i])
                    yield delayed(extract_pairs)(pairs, params, settings_key, location)

            results = Parallel(n_jobs=self.n_jobs, return_as="generator")(tasks())
            if self.verbose:
                from tqdm.auto import tqdm

                results = tqdm(results, total=len(todo), desc="RadiomicsFeatures",
                               unit="patient")
            results, pending, features = iter(results), set(todo), []
            for i, pid in enumerate(frame.index):  # a failure is raised as soon as it is known
                # the task's result first: preparing it updated outcomes[i]
                result = next(results) if i in pending else None
                features.append(self._collect(pid, jobs, outcomes[i], result))
            return features

    def _collect(self, patient_id, jobs, outcomes, result) -> dict:
        """One patient's features; failures raised or warned about (``on_error``)."""
        if outcomes is None:  # the worker returned every outcome
            outcomes = result
        elif result is not None:
            outcomes = _fill(patient_id, jobs, outcomes, result)
        features: dict = {}
        for job, outcome in zip(jobs, outcomes):
            if isinstance(outcome, Exception):
                if self.on_error == "raise":
                    raise outcome
                warnings.warn(PatientWarning(
                    f"extraction of {job.volume!r} failed, its features are NaN",
                    column=job.mask, patient_id=patient_id, detail=str(outcome)),
                    stacklevel=2)
            elif outcome is not None:
                prefix = f"{job.volume}_{job.roi}_"
                features.update({prefix + name: value for name, value in outcome.items()})
        return features

    def get_feature_names_out(self, input_features=None):
        """The output column names ``"{volume}_{roi}_{imagetype}_{class}_{feature}"``.

        Parameters
        ----------
        input_features : ignored
            Present for the scikit-learn API.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()
