"""`PeritumoralShell`: masks of the liver tissue within k mm of the tumour."""

from __future__ import annotations

import warnings
from numbers import Real

import numpy as np
from scipy import ndimage

from ..exceptions import ColumnRoleError, EmptyMaskError
from ..utils._validation import StrOptions
from ..utils._warnings import PatientWarning
from ._base import Task, VolumeTransformerBase
from ._checks import check_mask_nonempty, mask_foreground
from ._volume import Volume

__all__ = ["PeritumoralShell", "distance_from_mask"]


def distance_from_mask(mask: np.ndarray, spacing, max_distance: float) -> np.ndarray:
    """Euclidean distance in mm from each voxel centre to the nearest foreground
    voxel centre (0 inside the mask); voxels farther than ``max_distance`` get
    ``inf``.  Computed only in the bounding box grown by ``max_distance``."""
    spacing = np.asarray(spacing, dtype=float)
    present = np.nonzero(mask)
    reach = np.ceil(max_distance / spacing).astype(int) + 1
    lo = np.maximum(np.array([p.min() for p in present]) - reach, 0)
    hi = np.minimum(np.array([p.max() for p in present]) + reach + 1, mask.shape)
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    distance = np.full(mask.shape, np.inf)
    # EDT of the background measures distance to the nearest tumour voxel, in mm
    # thanks to `sampling`; voxels outside the box are farther than max_distance.
    inside = ndimage.distance_transform_edt(mask[box] == 0, sampling=spacing)
    inside[inside > max_distance] = np.inf
    distance[box] = inside
    return distance


def _shell_name(mask_column: str, distance: float) -> str:
    prefix = "" if mask_column == "tumor_mask" else f"{mask_column.removesuffix('_mask')}_"
    return f"{prefix}peritumoral_{distance:g}mm_mask"


class PeritumoralShell(VolumeTransformerBase):
    """Add masks of the shell of tissue within ``distance_mm`` outside the tumour.

    MVI shows itself just outside the tumour margin (peritumoral enhancement,
    HBP hypointensity, satellites), so radiomics and deep models often look at
    a peritumoral ring.  The shell of distance ``k`` holds the voxels outside the
    tumour whose centre lies within ``k`` mm of a tumour voxel centre, measured
    in physical units (anisotropic spacing respected), clipped to the liver
    mask when there is one.

    Parameters
    ----------
    distance_mm : float or list of float, default=5.0
        Shell thickness(es) in mm; one new mask column per value, named
        ``"peritumoral_<k>mm_mask"`` (``"<SEQ>_peritumoral_<k>mm_mask"`` for a
        ``"<SEQ>_mask"`` tumour mask).  Each shell spans ``(0, k]`` mm.
    mask : str, default="tumor_mask"
        The tumour mask column.
    liver_mask : "auto", str or None, default="auto"
        Mask column to clip the shell to: ``"auto"`` uses ``"liver_mask"`` when
        the frame has it; ``None`` does not clip.
    volumes, masks : "auto" or list of str, default="auto"
        Image and mask columns (see `mvikit.utils.resolve_columns`).
    memory : str or joblib.Memory, default=None
        Also cache the shells on disk.

    Attributes
    ----------
    shell_columns_ : list of str
        The added mask columns.
    liver_mask_ : str or None
        The clipping mask column used.
    volume_columns_, mask_columns_ : list of str
        The resolved image and mask columns.
    n_features_in_ : int
        Number of columns of the frame seen in `fit`.
    feature_names_in_ : ndarray of str
        Their names.

    Raises
    ------
    EmptyMaskError
        In ``transform``, when a patient's shell is empty (tumour fills the
        image, or no liver around it).

    Warns
    -----
    DataWarning
        When the image border cuts a patient's shell.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mvikit import Volume
    >>> from mvikit.imaging import PeritumoralShell
    >>> tumor = np.zeros((9, 9, 9), np.uint8); tumor[4, 4, 4] = 1
    >>> X = pd.DataFrame({"tumor_mask": [Volume(tumor, spacing=(2, 1, 1))]}, index=["p1"])
    >>> out = PeritumoralShell(distance_mm=[1.0, 2.0]).fit_transform(X)
    >>> list(out.columns)
    ['tumor_mask', 'peritumoral_1mm_mask', 'peritumoral_2mm_mask']
    >>> int(out.loc["p1", "peritumoral_1mm_mask"].array.sum())
    4
    >>> int(out.loc["p1", "peritumoral_2mm_mask"].array.sum())
    14
    """

    _parameter_constraints: dict = {
        **VolumeTransformerBase._parameter_constraints,
        "distance_mm": [Real, "array-like"],
        "mask": [str],
        "liver_mask": [StrOptions({"auto"}), str, None],
    }

    def __init__(self, distance_mm=5.0, *, mask="tumor_mask", liver_mask="auto",
                 volumes="auto", masks="auto", memory=None):
        self.distance_mm = distance_mm
        self.mask = mask
        self.liver_mask = liver_mask
        self.volumes = volumes
        self.masks = masks
        self.memory = memory

    def _distances(self) -> list:
        values = [self.distance_mm] if isinstance(self.distance_mm, Real) else self.distance_mm
        return [float(v) for v in values]

    def _check_params(self, X) -> None:
        distances = self._distances()
        if not distances or not all(np.isfinite(d) and d > 0 for d in distances):
            raise ValueError(
                f"PeritumoralShell: `distance_mm` must be positive (mm), got {self.distance_mm!r}."
            )
        if self.mask not in self.mask_columns_:
            raise ColumnRoleError(
                f"PeritumoralShell: tumour mask column {self.mask!r} is not among the mask "
                f"columns {self.mask_columns_}. Set `mask=`."
            )
        if self.liver_mask == "auto":
            self.liver_mask_ = "liver_mask" if "liver_mask" in self.mask_columns_ else None
        elif self.liver_mask is not None and self.liver_mask not in self.mask_columns_:
            raise ColumnRoleError(
                f"PeritumoralShell: liver mask column {self.liver_mask!r} is not among the "
                f"mask columns {self.mask_columns_}. Use liver_mask=None to skip clipping."
            )
        else:
            self.liver_mask_ = self.liver_mask
        self.shell_columns_ = [_shell_name(self.mask, d) for d in distances]
        clash = [c for c in self.shell_columns_ if c in X.columns]
        if clash:
            raise ColumnRoleError(
                f"PeritumoralShell would add columns {clash}, which X already has. Drop them "
                "first, or apply the transformer once."
            )

    def _new_columns(self) -> list:
        return list(self.shell_columns_)

    def _tasks(self) -> list:
        inputs = (self.mask,) if self.liver_mask_ is None else (self.mask, self.liver_mask_)
        return [Task("shell", tuple(self.shell_columns_), inputs)]

    def _compute(self, task: Task, volumes: list, patient_id) -> tuple:
        tumor = volumes[0]
        tumor_array = check_mask_nonempty(tumor.array, patient_id=patient_id, column=self.mask)
        distances = self._distances()
        distance = distance_from_mask(tumor_array, tumor.spacing, max(distances))
        outside = distance > 0
        if len(volumes) > 1:
            outside &= mask_foreground(volumes[1].array, patient_id=patient_id,
                                       column=self.liver_mask_)
        shells = []
        for d, column in zip(distances, self.shell_columns_):
            shell = (outside & (distance <= d)).astype(np.uint8)
            if not shell.any():
                raise EmptyMaskError(
                    f"patient {patient_id!r}, column {column!r}: the {d:g} mm peritumoral shell "
                    f"of {self.mask!r} is empty (the tumour fills the image"
                    + (f" or {self.liver_mask_!r} leaves no tissue around it" if
                       self.liver_mask_ else "") + "). Check the masks or use a larger distance."
                )
            shells.append(tumor.with_array(shell))
        self._warn_if_cut(tumor_array, tumor, max(distances), patient_id)
        return tuple(shells)

    def _warn_if_cut(self, tumor_array, tumor: Volume, distance: float, patient_id) -> None:
        present = np.nonzero(tumor_array)
        spacing = np.asarray(tumor.spacing)
        low = np.array([p.min() for p in present]) * spacing
        high = (np.asarray(tumor_array.shape) - 1 - np.array([p.max() for p in present])) * spacing
        if min(low.min(), high.min()) < distance:
            warnings.warn(PatientWarning(
                f"the tumour lies within {distance:g} mm of the image border, so its "
                "peritumoral shell is cut there", column=self.mask, patient_id=patient_id),
                stacklevel=2)
