"""`CohortTensorizer`: the cohort frame -> the tensors a network reads (a fitted object).

Column roles, the input geometry (cube, downsampling, slabs of slices), the
fold-safe clinical preprocessing and what each input kind needs are decided once,
in ``fit``, and stored here; the deep estimators own one (``tensorizer_``) and
`gradcam` asks it for the geometry of what the network saw.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ..exceptions import CohortError, ColumnRoleError, DataWarning
from ..imaging import Volume, as_volume
from ..utils._roles import check_cohort_frame, mask_column_for, resolve_columns
from .nets._registry import INPUT_KINDS

__all__ = ["CohortTensorizer"]


def _patients(ids: list) -> str:
    shown = ", ".join(map(repr, ids[:5]))
    return shown + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")


class CohortTensorizer(BaseEstimator):
    """Turn a cohort frame into the dict of tensors the networks read.

    Parameters
    ----------
    input_kind : {"cube", "slices", "liver_tumor"}, default="cube"
        ``"cube"``: a ``cube`` box (image voxels) around the tumour, averaged by
        ``downsample`` (`mvikit.imaging.ROICropper`, `VolumeDownsampler`):
        ``volumes``/``masks`` of shape ``(N, S, *grid)``.  ``"slices"``: per
        sequence the ``n_slices`` contiguous slices with the largest tumour area,
        cut to a square box containing the whole tumour (``roi_margin`` of its side
        added on each side) and resized to ``slice_size``: ``(N, S, n_slices,
        slice_size, slice_size)``.  ``"liver_tumor"``: such slabs around the tumour
        (``volumes``, ``masks``) and around the liver (``liver_volumes``,
        ``liver_masks``); needs a ``liver_mask`` column.
    volumes, clinical, masks : "auto" or list of str
        Column roles (`mvikit.utils.resolve_columns`).
    use_clinical : bool, default=False
        Fit a `ClinicalPreprocessor` on the training rows and return its matrix as
        ``clinical``; otherwise ``clinical`` is ``(N, 0)``.
    cube : tuple of 3 int, default=(20, 80, 80)
    downsample : tuple of 3 int, default=(1, 1, 1)
    n_slices : int, default=3
    slice_size : int, default=64
    roi_margin : float, default=0.1
    normalize : {"zscore", "percentile"} or None, default="zscore"
        Per-patient intensity normalisation (`IntensityNormalizer`, tumour + 10 mm
        margin as region), before cropping to slabs.

    Attributes
    ----------
    volume_columns_, mask_columns_, clinical_columns_ : list of str
    liver_mask_column_ : str or None
    clinical_preprocessor_ : ClinicalPreprocessor or None
    grid_ : tuple of 3 int
        Spatial shape of each sequence's tensor.

    Notes
    -----
    Slabs are cut one patient at a time (its volumes read once, normalised, cut,
    dropped) and kept per patient, sequence and structure in the process-wide volume
    cache (`mvikit.imaging.volume_cache_info`, `clear_volume_cache`), keyed by the
    cells' ``Volume.cache_key`` and the slab parameters: later folds, ``predict`` and
    `geometry` reuse them.  Only `Volume` cells are cached (an array or path cell is
    re-wrapped, with a new identity, on every call).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mvikit import Volume
    >>> from mvikit.deep import CohortTensorizer
    >>> rng = np.random.default_rng(0)
    >>> mask = np.zeros((8, 16, 16), np.uint8); mask[3:6, 6:10, 5:9] = 1
    >>> X = pd.DataFrame({"PRE": [Volume(rng.normal(size=(8, 16, 16))) for _ in range(3)],
    ...                   "tumor_mask": [Volume(mask)] * 3}, index=["a", "b", "c"])
    >>> t = CohortTensorizer(input_kind="slices", slice_size=32).fit(X)
    >>> {k: tuple(v.shape) for k, v in t.transform(X).items()}
    {'volumes': (3, 1, 3, 32, 32), 'masks': (3, 1, 3, 32, 32), 'clinical': (3, 0)}
    """

    _estimator_kind = "cohort-stage"

    def __init__(self, input_kind="cube", *, volumes="auto", clinical="auto", masks="auto",
                 use_clinical=False, cube=(20, 80, 80), downsample=(1, 1, 1), n_slices=3,
                 slice_size=64, roi_margin=0.1, normalize="zscore"):
        self.input_kind = input_kind
        self.volumes = volumes
        self.clinical = clinical
        self.masks = masks
        self.use_clinical = use_clinical
        self.cube = cube
        self.downsample = downsample
        self.n_slices = n_slices
        self.slice_size = slice_size
        self.roi_margin = roi_margin
        self.normalize = normalize

    # ----------------------------------------------------------------- fit
    def fit(self, X, y=None, *, owner: str | None = None) -> CohortTensorizer:
        """Resolve the column roles, check the input kind, fit the clinical preprocessing.

        Parameters
        ----------
        X : pandas.DataFrame
            Training cohort frame.
        y : ignored
        owner : str, default=None
            Name used in error messages (the estimator's class).

        Returns
        -------
        self
        """
        if self.input_kind not in INPUT_KINDS:
            raise ValueError(f"input_kind={self.input_kind!r}; choose one of {INPUT_KINDS}.")
        X = check_cohort_frame(X)
        self.owner_ = owner or type(self).__name__
        roles = resolve_columns(X, clinical=self.clinical, volumes=self.volumes,
                                masks=self.masks)
        if not roles.volumes:
            raise ColumnRoleError(
                f"{self.owner_} found no volume column in X (columns: {list(X.columns)[:12]}). "
                "Add volume columns (Volume cells) or name them with volumes=[...].")
        self.volume_columns_ = list(roles.volumes)
        self.mask_columns_ = list(roles.masks)
        self.clinical_columns_ = list(roles.clinical)
        self._check_input_kind()
        self.clinical_preprocessor_ = None
        if self.use_clinical:
            self._fit_clinical(X)
        self.grid_ = self._grid()
        return self

    def _check_input_kind(self) -> None:
        self.liver_mask_column_ = None
        if self.input_kind == "cube":
            return
        if not self.mask_columns_:
            raise ColumnRoleError(
                f"{self.owner_}: input_kind={self.input_kind!r} cuts slices around the tumour "
                "and needs a tumour mask column ('tumor_mask' or '<SEQ>_mask').")
        for column in self.volume_columns_:
            mask_column_for(column, self.mask_columns_)
        if self.input_kind == "liver_tumor":
            if "liver_mask" not in self.mask_columns_:
                raise ColumnRoleError(
                    f"{self.owner_}: input_kind='liver_tumor' needs a 'liver_mask' column, which "
                    f"X lacks (mask columns: {self.mask_columns_}). Cohorts simulated with "
                    "make_hcc_cohort(layout='full') have it.")
            self.liver_mask_column_ = "liver_mask"

    def _grid(self) -> tuple[int, int, int]:
        if self.input_kind == "cube":
            return tuple(int(c) // int(f) for c, f in zip(self.cube, self.downsample))
        return (int(self.n_slices), int(self.slice_size), int(self.slice_size))

    def _fit_clinical(self, X: pd.DataFrame) -> None:
        from ..preprocessing import ClinicalPreprocessor

        if not self.clinical_columns_:
            raise ColumnRoleError(
                f"{self.owner_} needs clinical columns to fit, but X has none (or "
                "clinical=None). Add the clinical columns or name them with clinical=[...].")
        self.clinical_preprocessor_ = ClinicalPreprocessor(clinical=self.clinical_columns_)
        self.clinical_preprocessor_.fit(X[self.clinical_columns_])

    # ------------------------------------------------------------ transform
    def transform(self, X, *, clinical: bool = True) -> dict[str, torch.Tensor]:
        """The tensors of every patient of ``X`` (rows in ``X``'s order).

        Parameters
        ----------
        X : pandas.DataFrame
        clinical : bool, default=True
            Include the clinical matrix (when ``use_clinical``); False gives ``(N, 0)``,
            for networks that predict from images only.

        Returns
        -------
        dict of str to torch.Tensor
            ``volumes`` (float32) and ``masks`` (uint8) of shape ``(N, S, *grid_)``,
            ``clinical`` (float32, ``(N, C)``), and for ``"liver_tumor"`` also
            ``liver_volumes`` and ``liver_masks``.
        """
        check_is_fitted(self, "volume_columns_")
        X = check_cohort_frame(X)
        if self.input_kind == "cube":
            volumes, masks = self._cube_tensors(X)
            data = {"volumes": volumes, "masks": masks}
        else:
            data = self._slab_tensors(X)
        if clinical and self.clinical_preprocessor_ is not None:
            data["clinical"] = torch.from_numpy(self.clinical_matrix(X))
        else:
            data["clinical"] = torch.zeros((len(X), 0))
        return data

    def clinical_matrix(self, X: pd.DataFrame) -> np.ndarray:
        """The preprocessed clinical matrix ``(N, C)`` (float32)."""
        check_is_fitted(self, "clinical_preprocessor_")
        missing = [c for c in self.clinical_columns_ if c not in X.columns]
        if missing:
            raise ColumnRoleError(
                f"{self.owner_} uses the clinical columns it was fitted with; X lacks "
                f"{missing[:10]}{' ...' if len(missing) > 10 else ''}. Pass them (NaN cells "
                "are imputed).")
        return self.clinical_preprocessor_.transform(X[self.clinical_columns_]).astype(
            np.float32)

    def _check_volume_columns(self, X: pd.DataFrame) -> None:
        needed = self.volume_columns_ + self.mask_columns_
        missing = [c for c in needed if c not in X.columns]
        if missing:
            raise ColumnRoleError(
                f"{self.owner_} was fitted with volume/mask columns {needed}; X lacks "
                f"{missing}. Pass a cohort frame with these columns.")
        for column in needed:
            absent = X[column].isna()
            if absent.any():
                raise CohortError(
                    f"Column {column!r} has no volume for patient(s) "
                    f"{_patients(list(X.index[absent]))}. Every patient needs every sequence "
                    "and mask: drop these patients or fill the cells.")

    # ----------------------------------------------------------------- cube
    def cube_frame(self, X: pd.DataFrame) -> pd.DataFrame:
        """The volume and mask columns cropped to the cube around the tumour and
        downsampled (not normalised); each cell keeps its physical geometry."""
        from ..imaging import ROICropper, VolumeDownsampler

        self._check_volume_columns(X)
        frame = X[self.volume_columns_ + self.mask_columns_]
        columns = {"volumes": self.volume_columns_, "masks": self.mask_columns_}
        if self.mask_columns_:
            frame = ROICropper(size=tuple(self.cube), **columns).fit_transform(frame)
        if tuple(self.downsample) != (1, 1, 1):
            frame = VolumeDownsampler(tuple(self.downsample), **columns).fit_transform(frame)
        return frame

    def _normalizer(self, frame: pd.DataFrame):
        """The fitted per-patient `IntensityNormalizer` (None without ``normalize``)."""
        from ..imaging import IntensityNormalizer

        if self.normalize is None:
            return None
        region = "roi" if self.mask_columns_ else "image"
        return IntensityNormalizer(self.normalize, region=region, volumes=self.volume_columns_,
                                   masks=self.mask_columns_).fit(frame)

    def _normalized(self, frame: pd.DataFrame) -> pd.DataFrame:
        normalizer = self._normalizer(frame)
        return frame if normalizer is None else normalizer.transform(frame)

    def _tumour_mask_columns(self) -> list[str]:
        return [mask_column_for(c, self.mask_columns_) for c in self.volume_columns_]

    def _cube_tensors(self, X: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor]:
        frame = self._normalized(self.cube_frame(X))
        volumes = self._stack(frame, self.volume_columns_, np.float32)
        if self.mask_columns_:
            masks = self._stack(frame, self._tumour_mask_columns(), np.uint8)
        else:
            masks = np.zeros(volumes.shape, np.uint8)
        return torch.from_numpy(volumes), torch.from_numpy(masks)

    def _stack(self, frame: pd.DataFrame, columns: list, dtype) -> np.ndarray:
        out = np.empty((len(frame), len(columns)) + self.grid_, dtype=dtype)
        for j, column in enumerate(columns):
            for i, (pid, cell) in enumerate(frame[column].items()):
                array = cell.array if hasattr(cell, "array") else np.asarray(cell)
                if array.shape != self.grid_:
                    raise CohortError(
                        f"patient {pid!r}, column {column!r}: volume of shape {array.shape}, "
                        f"expected the cube {self.grid_}. Add a tumour mask column (the cube is "
                        "cropped around it) or set `cube` to the volumes' shape (and "
                        "`downsample=1`).")
                out[i, j] = array
        return out

    # ---------------------------------------------------------------- slabs
    # Slabs are cut patient by patient: the patient's volumes are read (lazy cells),
    # normalised and cut, and only the slabs are kept -- in the process-wide
    # `VOLUME_CACHE`, so later folds, ``predict`` and `geometry` reuse them.  No
    # full-size normalised volume outlives its patient: a 270-patient full-layout
    # cohort (48 x 192 x 192 voxels per sequence) would otherwise hold a normalised
    # copy of every volume at once.
    def _structures(self) -> dict[str, list[str]]:
        """Tensor-name prefix -> the mask column of each volume column."""
        structures = {"": self._tumour_mask_columns()}
        if self.input_kind == "liver_tumor":
            structures["liver_"] = [self.liver_mask_column_] * len(self.volume_columns_)
        return structures

    def _slab_tensors(self, X: pd.DataFrame) -> dict[str, torch.Tensor]:
        self._check_volume_columns(X)
        frame = X[self.volume_columns_ + self.mask_columns_]
        structures = self._structures()
        entries = self._slab_entries(frame, structures)
        data = {}
        for prefix, mask_columns in structures.items():
            # a liver cut by the field of view is common and harmless; a cut tumour is not
            self._warn_slabs(frame.index, entries[prefix], mask_columns, edge=prefix == "")
            shape = (len(frame), len(self.volume_columns_)) + self.grid_
            images, masks = np.empty(shape, np.float32), np.empty(shape, np.uint8)
            for j, cells in enumerate(entries[prefix]):
                for i, entry in enumerate(cells):
                    images[i, j], masks[i, j] = entry[0], entry[1]
            data[f"{prefix}volumes"] = torch.from_numpy(images)
            data[f"{prefix}masks"] = torch.from_numpy(masks)
        return data

    def _slab_entries(self, frame: pd.DataFrame, structures: dict) -> dict[str, list]:
        """``entries[prefix][j][i]``: (image slab, mask slab, geometry, padded, at
        edge) of patient ``i``, volume column ``j``, structure ``prefix``."""
        from ..utils._warnings import aggregate_patient_warnings

        normalizer = self._normalizer(frame)
        tasks = {} if normalizer is None else {t.outputs[0]: t for t in normalizer._tasks()}
        settings = ("CohortTensorizer.slab", int(self.n_slices), int(self.slice_size),
                    float(self.roi_margin),
                    None if normalizer is None else normalizer._cache_params())
        entries = {prefix: [[] for _ in self.volume_columns_] for prefix in structures}
        with aggregate_patient_warnings(type(normalizer).__name__):
            for pid in frame.index:
                loaded: dict = {}  # column -> in-memory volume: each file read once
                for j, column in enumerate(self.volume_columns_):
                    found = self._column_slabs(
                        frame, pid, column, {p: m[j] for p, m in structures.items()},
                        normalizer, tasks.get(column), settings, loaded)
                    for prefix, entry in found.items():
                        entries[prefix][j].append(entry)
        return entries

    def _column_slabs(self, frame, pid, column, mask_columns: dict, normalizer, task,
                      settings, loaded: dict) -> dict:
        """The slabs of one patient's volume ``column`` around each structure; from
        the cache, else computed from the volumes read once."""
        from ..imaging._cache import VOLUME_CACHE

        inputs = tuple(task.inputs) if task is not None else (column,)
        needed = list(dict.fromkeys(inputs + tuple(mask_columns.values())))
        cells = {c: frame.at[pid, c] for c in needed}
        # arrays and paths get a new identity on every wrap: only Volume cells are cached
        cacheable = all(isinstance(cell, Volume) for cell in cells.values())
        volumes = {c: as_volume(cell, patient_id=pid, column=c) for c, cell in cells.items()}
        base = settings + tuple(volumes[c].cache_key for c in inputs)
        keys = {p: base + (m, volumes[m].cache_key) for p, m in mask_columns.items()}
        found = {p: VOLUME_CACHE.get(k) if cacheable else None for p, k in keys.items()}
        missing = [p for p, entry in found.items() if entry is None]
        if not missing:
            return found
        for c in needed:
            if c not in loaded:
                loaded[c] = volumes[c].load()
        image = loaded[column]
        if normalizer is not None:
            row = pd.DataFrame({c: pd.Series([loaded[c]], index=[pid], dtype=object)
                                for c in inputs})
            image = normalizer._transform_row(row, pid, [task], None, cache=False)[column]
        for prefix in missing:
            found[prefix] = self._slab_entry(image, loaded[mask_columns[prefix]], pid,
                                             mask_columns[prefix])
            if cacheable:
                VOLUME_CACHE.put(keys[prefix], found[prefix],
                                 nbytes=found[prefix][0].nbytes + found[prefix][1].nbytes)
        return found

    def _slab_entry(self, image: Volume, mask: Volume, pid, mask_column: str) -> tuple:
        from ._slices import mask_slab, touches_edge

        if not np.any(mask.array):
            raise CohortError(f"patient {pid!r}, column {mask_column!r}: the mask is "
                              "empty; the slices are chosen by its area.")
        images, masks, cell, short = mask_slab(image, mask, int(self.n_slices),
                                               int(self.slice_size), float(self.roi_margin))
        images.flags.writeable = masks.flags.writeable = False  # shared through the cache
        return images, masks, cell, short, touches_edge(mask.array)

    def _warn_slabs(self, index: pd.Index, entries: list, mask_columns: list[str],
                    edge: bool) -> None:
        padded: dict[str, list] = {}  # mask column -> patients whose mask is too thin
        at_edge: dict[str, list] = {}  # mask column -> patients whose mask touches the edge
        for cells, mask_column in zip(entries, mask_columns):
            for pid, entry in zip(index, cells):
                if entry[3] and pid not in padded.setdefault(mask_column, []):
                    padded[mask_column].append(pid)
                if edge and entry[4] and pid not in at_edge.setdefault(mask_column, []):
                    at_edge[mask_column].append(pid)
        for mask_column, ids in padded.items():
            if ids:
                warnings.warn(
                    f"{mask_column!r} spans fewer than n_slices={self.n_slices} slices for "
                    f"{len(ids)} patient(s) ({_patients(ids)}); their edge slices are "
                    "repeated.", DataWarning, stacklevel=4)
        for mask_column, ids in at_edge.items():
            if ids:
                warnings.warn(
                    f"{mask_column!r} touches the edge of the image for {len(ids)} patient(s) "
                    f"({_patients(ids)}): the tumour may extend beyond the field of view, and "
                    "their slabs repeat the image's edge pixels where the box around it leaves "
                    "the image.", DataWarning, stacklevel=4)

    # -------------------------------------------------------------- geometry
    def geometry(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per patient and sequence, a `Volume` placing the sequence's tensor (before
        any centre crop) in physical space: the (downsampled) cube, or the slab.

        Parameters
        ----------
        X : pandas.DataFrame

        Returns
        -------
        pandas.DataFrame of Volume, rows ``X.index``, columns the volume columns.
        """
        check_is_fitted(self, "volume_columns_")
        X = check_cohort_frame(X)
        if self.input_kind != "cube":
            self._check_volume_columns(X)
            frame = X[self.volume_columns_ + self.mask_columns_]
            structures = {"": self._tumour_mask_columns()}
            entries = self._slab_entries(frame, structures)[""]
            return pd.DataFrame({c: [entry[2] for entry in cells]
                                 for c, cells in zip(self.volume_columns_, entries)},
                                index=frame.index)
        frame = self.cube_frame(X)
        out: dict[str, Any] = {}
        for column in self.volume_columns_:
            cells = []
            for pid, cell in frame[column].items():
                volume = as_volume(cell, patient_id=pid, column=column)
                cells.append(Volume(np.zeros((1, 1, 1), np.uint8), spacing=volume.spacing,
                                    origin=volume.origin, direction=volume.direction))
            out[column] = cells
        return pd.DataFrame(out, index=frame.index)
