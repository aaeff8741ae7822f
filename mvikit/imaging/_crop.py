"""`ROICropper`: a fixed-size box around the tumour, for images and masks."""

from __future__ import annotations

import numpy as np

from ..exceptions import ColumnRoleError, GeometryMismatchError
from ..utils._validation import Interval, Real, StrOptions
from ._base import Task, VolumeTransformerBase
from ._checks import check_mask_nonempty
from ._volume import Volume

__all__ = ["ROICropper", "physical_origin", "mask_bbox_center"]


def physical_origin(volume: Volume, index) -> tuple:
    """Physical ``(x, y, z)`` of voxel ``index`` = ``(d, h, w)`` (may lie outside
    the array): ``origin + direction @ (index_xyz * spacing_xyz)`` as in ITK."""
    direction = np.asarray(volume.direction, dtype=float).reshape(3, 3)
    offset = np.asarray(index[::-1], dtype=float) * np.asarray(volume.spacing[::-1])
    return tuple(float(v) for v in np.asarray(volume.origin) + direction @ offset)


def mask_bbox_center(mask: np.ndarray) -> np.ndarray:
    """Centre ``(d, h, w)`` (voxel units, may be half-integer) of the bounding box
    of the mask's foreground."""
    center = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        present = np.flatnonzero(np.any(mask, axis=other))
        center.append((present[0] + present[-1]) / 2.0)
    return np.asarray(center)


def crop_box(array: np.ndarray, start, size, *, padding: str, fill_value: float) -> np.ndarray:
    """``array[start : start + size]`` on each axis, padded where the box leaves
    the array (``padding="constant"`` with ``fill_value``, or ``"edge"``)."""
    start = np.asarray(start, dtype=int)
    stop = start + np.asarray(size, dtype=int)
    shape = np.asarray(array.shape)
    lo = np.clip(start, 0, shape)
    hi = np.clip(stop, 0, shape)
    inside = array[tuple(slice(a, b) for a, b in zip(lo, hi))]
    pad = [(int(a - s), int(e - b)) for s, e, a, b in zip(start, stop, lo, hi)]
    if not any(p for pair in pad for p in pair):
        return inside.copy()
    if padding == "edge" and inside.size:
        return np.pad(inside, pad, mode="edge")
    return np.pad(inside, pad, mode="constant", constant_values=fill_value)


class ROICropper(VolumeTransformerBase):
    """Crop a fixed-size box centred on the tumour from every image and mask.

    The box is centred on the centre of the bounding box of the tumour mask
    (MD-Net's ROI cube, 20 x 80 x 80 voxels by default).  Where the box leaves
    the image it is padded.  The crop's origin is moved to the box's first
    voxel, so the crop keeps its true physical position (``to_sitk`` of a crop
    overlays the original image).

    Parameters
    ----------
    size : tuple of 3 int or float, default=(20, 80, 80)
        Box size ``(D, H, W)`` in voxels (``units="voxel"``) or millimetres
        (``units="mm"``: rounded to whole voxels of each volume's spacing).
    units : {"voxel", "mm"}, default="voxel"
        Units of ``size``.
    mask : str, default="tumor_mask"
        Mask column whose bounding box centres the box.  A sequence with its own
        ``"<SEQ>_mask"`` column is centred on that mask instead (sequences need
        not be registered), and so is that mask itself.
    padding : {"constant", "edge"}, default="constant"
        How images are padded where the box leaves them.  Masks are always
        padded with 0.
    fill_value : float, default=0.0
        Image value for ``padding="constant"``.
    volumes, masks : "auto" or list of str, default="auto"
        Image and mask columns (see `mvikit.utils.resolve_columns`).
    memory : str or joblib.Memory, default=None
        Also cache crops on disk (file-backed volumes only stay valid across
        sessions).  Crops are always cached in memory (`volume_cache_info`).

    Attributes
    ----------
    volume_columns_, mask_columns_ : list of str
        The resolved image and mask columns.
    n_features_in_ : int
        Number of columns of the frame seen in `fit`.
    feature_names_in_ : ndarray of str
        Their names.

    See Also
    --------
    VolumeResampler : resample to a common spacing first (``units="mm"`` then
        gives boxes of equal physical size).
    IntensityNormalizer : normalise the crops.

    Notes
    -----
    For a foreground bounding box ``[lo, hi]`` (inclusive) on an axis and box
    size ``s``, the box starts at ``round((lo + hi) / 2 - (s - 1) / 2)`` (halves
    rounded up), so an odd box is centred exactly on an odd-sized tumour.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mvikit import Volume
    >>> from mvikit.imaging import ROICropper
    >>> image = np.arange(6 * 10 * 10, dtype=float).reshape(6, 10, 10)
    >>> mask = np.zeros((6, 10, 10), np.uint8); mask[2:4, 4:7, 4:7] = 1
    >>> X = pd.DataFrame({"age": [61], "HBP": [Volume(image, spacing=(3, 1, 1))],
    ...                   "tumor_mask": [Volume(mask, spacing=(3, 1, 1))]}, index=["p1"])
    >>> out = ROICropper(size=(2, 3, 3)).fit_transform(X)
    >>> out.loc["p1", "HBP"]
    Volume(shape=(2, 3, 3), spacing=(3.0, 1.0, 1.0), in memory)
    >>> out.loc["p1", "HBP"].origin
    (4.0, 4.0, 6.0)
    >>> int(out.loc["p1", "tumor_mask"].array.sum()), int(out.loc["p1", "age"])
    (18, 61)
    """

    _parameter_constraints: dict = {
        **VolumeTransformerBase._parameter_constraints,
        "size": ["array-like"],
        "units": [StrOptions({"voxel", "mm"})],
        "mask": [str],
        "padding": [StrOptions({"constant", "edge"})],
        "fill_value": [Interval(Real, None, None, closed="neither")],
    }

    def __init__(self, size=(20, 80, 80), *, units="voxel", mask="tumor_mask",
                 padding="constant", fill_value=0.0, volumes="auto", masks="auto",
                 memory=None):
        self.size = size
        self.units = units
        self.mask = mask
        self.padding = padding
        self.fill_value = fill_value
        self.volumes = volumes
        self.masks = masks
        self.memory = memory

    def _check_params(self, X) -> None:
        size = np.asarray(self.size, dtype=float)
        if size.shape != (3,) or not np.all(size > 0):
            raise ValueError(
                f"ROICropper: `size` must be 3 positive numbers (D, H, W), got {self.size!r}."
            )
        if self.units == "voxel" and not np.all(size == np.round(size)):
            raise ValueError(
                f"ROICropper: `size` in voxels must be whole numbers, got {self.size!r}; "
                "use units='mm' for a size in millimetres."
            )
        needs_shared = [c for c in [*self.volume_columns_, *self.mask_columns_]
                        if self._center_column(c) == self.mask]
        if needs_shared and self.mask not in self.mask_columns_:
            raise ColumnRoleError(
                f"ROICropper centres {needs_shared} on mask column {self.mask!r}, which is "
                f"not among the mask columns {self.mask_columns_}. Set `mask=` to the tumour "
                "mask column."
            )

    def _center_column(self, column) -> str:
        if column in self.volume_columns_ and f"{column}_mask" in self.mask_columns_:
            return f"{column}_mask"
        if (column.endswith("_mask") and column[: -len("_mask")] in self.volume_columns_):
            return column
        return self.mask

    def _tasks(self) -> list:
        tasks = [Task("image", (c,), (c, self._center_column(c))) for c in self.volume_columns_]
        tasks += [Task("mask", (c,), (c, self._center_column(c))) for c in self.mask_columns_]
        return tasks

    def _box_size(self, volume: Volume) -> np.ndarray:
        size = np.asarray(self.size, dtype=float)
        if self.units == "mm":
            size = size / np.asarray(volume.spacing)
        return np.maximum(np.round(size), 1).astype(int)

    def _compute(self, task: Task, volumes: list, patient_id) -> tuple:
        volume, center_mask = volumes
        if volume.shape != center_mask.shape:
            raise GeometryMismatchError(
                f"patient {patient_id!r}: column {task.inputs[0]!r} has shape {volume.shape} "
                f"but its centring mask {task.inputs[1]!r} has shape {center_mask.shape}."
            )
        foreground = check_mask_nonempty(center_mask.array, patient_id=patient_id,
                                         column=task.inputs[1])
        size = self._box_size(volume)
        center = mask_bbox_center(foreground)
        start = np.floor(center - (size - 1) / 2.0 + 0.5).astype(int)
        is_mask = task.kind == "mask"
        array = crop_box(volume.array, start, size,
                         padding="constant" if is_mask else self.padding,
                         fill_value=0 if is_mask else self.fill_value)
        return (volume.with_array(array, origin=physical_origin(volume, start)),)
