"""`IntensityNormalizer`: per-patient, per-sequence intensity normalisation."""

from __future__ import annotations

import numpy as np

from ..exceptions import ColumnRoleError, VolumeError
from ..utils._validation import Interval, Real, StrOptions
from ._base import Task, VolumeTransformerBase
from ._checks import check_mask_nonempty
from ._shell import distance_from_mask

__all__ = ["IntensityNormalizer"]


class IntensityNormalizer(VolumeTransformerBase):
    """Normalise each image by statistics of one region of that image.

    MRI intensities have no absolute unit and differ between centres and
    scanners, so each patient's sequence is rescaled on its own.  Masks pass
    through unchanged.

    Parameters
    ----------
    method : {"zscore", "percentile"}, default="zscore"
        ``"zscore"``: ``(x - mean) / std`` of the region.  ``"percentile"``:
        clip to the region's ``percentiles`` ``(p_lo, p_hi)`` and map them to
        0 and 1: ``(clip(x, p_lo, p_hi) - p_lo) / (p_hi - p_lo)``.
    region : {"roi", "tumor", "liver", "image"}, default="roi"
        Voxels the statistics come from: ``"tumor"`` the tumour mask;
        ``"roi"`` the tumour plus every voxel within ``roi_margin_mm`` of it
        (physical distance); ``"liver"`` the ``"liver_mask"`` column; ``"image"``
        every voxel.  Each sequence uses its own ``"<SEQ>_mask"`` when present,
        otherwise ``"tumor_mask"``.
    percentiles : tuple of 2 float, default=(0.5, 99.5)
        Percentiles (0-100) for ``method="percentile"``.
    roi_margin_mm : float, default=10.0
        Margin around the tumour for ``region="roi"``.
    volumes, masks : "auto" or list of str, default="auto"
        Image and mask columns (see `mvikit.utils.resolve_columns`).
    memory : str or joblib.Memory, default=None
        Also cache results on disk.

    Attributes
    ----------
    region_columns_ : dict
        ``{image column: mask column defining its region}`` (None for
        ``region="image"``).
    volume_columns_, mask_columns_ : list of str
        The resolved image and mask columns.
    n_features_in_ : int
        Number of columns of the frame seen in `fit`.
    feature_names_in_ : ndarray of str
        Their names.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mvikit import Volume
    >>> from mvikit.imaging import IntensityNormalizer
    >>> image = np.random.default_rng(0).normal(100, 20, (4, 8, 8))
    >>> X = pd.DataFrame({"HBP": [Volume(image)]}, index=["p1"])
    >>> out = IntensityNormalizer(region="image").fit_transform(X).loc["p1", "HBP"].array
    >>> round(float(out.mean()), 6), round(float(out.std()), 4)
    (0.0, 1.0)
    """

    _parameter_constraints: dict = {
        **VolumeTransformerBase._parameter_constraints,
        "method": [StrOptions({"zscore", "percentile"})],
        "region": [StrOptions({"roi", "tumor", "liver", "image"})],
        "percentiles": ["array-like"],
        "roi_margin_mm": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, method="zscore", *, region="roi", percentiles=(0.5, 99.5),
                 roi_margin_mm=10.0, volumes="auto", masks="auto", memory=None):
        self.method = method
        self.region = region
        self.percentiles = percentiles
        self.roi_margin_mm = roi_margin_mm
        self.volumes = volumes
        self.masks = masks
        self.memory = memory

    def _check_params(self, X) -> None:
        lo, hi = (float(p) for p in self.percentiles)
        if not 0 <= lo < hi <= 100:
            raise ValueError(
                "IntensityNormalizer: `percentiles` must be (low, high) with "
                f"0 <= low < high <= 100, got {self.percentiles!r}."
            )
        self.region_columns_ = {c: self._region_column(c) for c in self.volume_columns_}

    def _region_column(self, column):
        if self.region == "image":
            return None
        wanted = ["liver_mask"] if self.region == "liver" else [f"{column}_mask", "tumor_mask"]
        for name in wanted:
            if name in self.mask_columns_:
                return name
        raise ColumnRoleError(
            f"IntensityNormalizer(region={self.region!r}) needs mask column "
            f"{' or '.join(map(repr, wanted))} for image column {column!r}; the mask columns "
            f"are {self.mask_columns_}. Choose another `region`, or add the mask."
        )

    def _tasks(self) -> list:
        tasks = []
        for column, region in self.region_columns_.items():
            inputs = (column,) if region is None else (column, region)
            tasks.append(Task("image", (column,), inputs))
        return tasks

    def _region_values(self, task: Task, volumes: list, patient_id) -> np.ndarray:
        image = volumes[0]
        if len(volumes) == 1:
            return image.array.ravel()
        mask = volumes[1].array
        if mask.shape != image.shape:
            raise VolumeError(
                f"patient {patient_id!r}: mask {task.inputs[1]!r} has shape {mask.shape}, "
                f"image {task.inputs[0]!r} has shape {image.shape}."
            )
        mask = check_mask_nonempty(mask, patient_id=patient_id, column=task.inputs[1])
        if self.region == "roi":
            region = distance_from_mask(mask, image.spacing, self.roi_margin_mm) <= \
                self.roi_margin_mm
        else:
            region = mask > 0
        return image.array[region]

    def _compute(self, task: Task, volumes: list, patient_id) -> tuple:
        image = volumes[0]
        values = self._region_values(task, volumes, patient_id).astype(np.float64)
        array = image.array.astype(np.float64)
        if self.method == "zscore":
            center, scale = values.mean(), values.std()
        else:
            center, high = np.percentile(values, [float(p) for p in self.percentiles])
            scale = high - center
            array = np.clip(array, center, high)
        if not scale > 0:
            raise VolumeError(
                f"patient {patient_id!r}, column {task.inputs[0]!r}: the {self.region!r} region "
                f"has constant intensity ({values.size} voxels), so it cannot be normalised. "
                "Check the image, or choose another `region`."
            )
        return (image.with_array(((array - center) / scale).astype(np.float32)),)
