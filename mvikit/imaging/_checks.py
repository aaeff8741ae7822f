"""Validation of the image and mask cells of a cohort frame.

Every check names the patient id and the column, and says how to fix the
problem, so a bad row in a 500-patient cohort is found from the message alone.
Header-level checks (file exists and is readable, mask grid matches its image)
need no voxels and run in ``fit``; voxel-level checks (NaN/inf, empty mask)
run when the voxels are read anyway.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import EmptyMaskError, GeometryMismatchError, VolumeError
from ..utils._roles import _is_missing, check_cohort_frame, mask_column_for, resolve_columns
from ._volume import Volume, _where, as_volume

__all__ = ["check_finite", "check_mask_matches", "check_mask_nonempty", "validate_cohort",
           "cell_volume", "mask_pairs"]

# Relative tolerance on spacing: float32 headers (NIfTI) round at ~1e-7.
_SPACING_RTOL = 1e-4


def cell_volume(X: pd.DataFrame, patient_id, column, *, base_dir=None) -> Volume | None:
    """The cell ``X.loc[patient_id, column]`` as a `Volume` (None when missing)."""
    cell = X.at[patient_id, column]
    if _is_missing(cell):
        return None
    return as_volume(cell, patient_id=patient_id, column=column, base_dir=base_dir)


def check_finite(array: np.ndarray, *, patient_id=None, column=None) -> np.ndarray:
    """Raise `VolumeError` if ``array`` holds NaN or infinite voxels."""
    if array.dtype.kind == "f":
        finite = np.isfinite(array)
        if not finite.all():
            n_bad = int(finite.size - np.count_nonzero(finite))
            raise VolumeError(
                f"{_where(patient_id, column)}: {n_bad} voxel(s) are NaN or infinite. "
                "Fix the file, or replace them (e.g. np.nan_to_num) before building the cohort."
            )
    return array


def check_mask_nonempty(mask: np.ndarray, *, patient_id=None, column=None) -> np.ndarray:
    """Raise `EmptyMaskError` if ``mask`` has no foreground voxel."""
    if not np.any(mask):
        raise EmptyMaskError(
            f"{_where(patient_id, column)}: the mask is empty (no voxel > 0). Check the "
            "segmentation, or drop the patient from the cohort."
        )
    return mask


def check_mask_matches(image: Volume, mask: Volume, *, patient_id=None, image_column=None,
                       mask_column=None) -> None:
    """Raise `GeometryMismatchError` if ``mask`` is not on ``image``'s voxel grid
    (shape, or spacing to a relative tolerance of 1e-4)."""
    where = _where(patient_id, None)
    if image.shape != mask.shape:
        raise GeometryMismatchError(
            f"{where}: mask column {mask_column!r} has shape {mask.shape} but image column "
            f"{image_column!r} has shape {image.shape}. Resample the mask onto the image grid "
            "(e.g. SimpleITK.Resample with nearest-neighbour interpolation)."
        )
    if not np.allclose(image.spacing, mask.spacing, rtol=_SPACING_RTOL, atol=0):
        raise GeometryMismatchError(
            f"{where}: mask column {mask_column!r} has spacing {mask.spacing} mm but image "
            f"column {image_column!r} has spacing {image.spacing} mm. Resample the mask onto "
            "the image grid, or fix the header spacing."
        )


def mask_pairs(volumes, masks, *, mask_kind: str = "tumor") -> dict:
    """``{volume column: its mask column}`` (own ``<SEQ>_mask`` first, then the
    shared ``<mask_kind>_mask``); volumes with neither map to None."""
    pairs = {}
    for column in volumes:
        try:
            pairs[column] = mask_column_for(column, masks, mask_kind=mask_kind)
        except ValueError:
            pairs[column] = None
    return pairs


def validate_cohort(X, *, volumes="auto", masks="auto", read_voxels: bool = False,
                    base_dir=None) -> pd.DataFrame:
    """Check every image and mask cell of a cohort frame; raise on the first problem.

    Checks: unique patient ids, column roles, that every image/mask file exists
    and can be read, that every mask is on its image's grid (shape and
    spacing), and - with ``read_voxels=True`` - that images are finite and
    tumour masks are not empty.

    Parameters
    ----------
    X : pandas.DataFrame
        The cohort frame.
    volumes, masks : "auto" or list of str, default="auto"
        Column roles, see `mvikit.utils.resolve_columns`.
    read_voxels : bool, default=False
        Also read the voxels (slower: every file is read once).
    base_dir : path-like, default=None
        Folder that relative path cells are relative to.

    Returns
    -------
    pandas.DataFrame
        ``X`` itself, unchanged.

    Raises
    ------
    CohortError, ColumnRoleError, ImageFileNotFoundError, ImageReadError,
    GeometryMismatchError, EmptyMaskError, VolumeError
        With the patient id and the column in the message.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mvikit.imaging import validate_cohort
    >>> X = pd.DataFrame({"HBP": [np.ones((4, 6, 6))], "tumor_mask": [np.zeros((4, 6, 6))]},
    ...                  index=["p1"])
    >>> validate_cohort(X, read_voxels=True)
    Traceback (most recent call last):
    ...
    mvikit.exceptions.EmptyMaskError: patient 'p1', column 'tumor_mask': the mask is empty ...
    """
    check_cohort_frame(X)
    roles = resolve_columns(X, clinical="auto", volumes=volumes, masks=masks)
    pairs = mask_pairs(roles.volumes, roles.masks)
    for patient_id in X.index:
        cells = {column: cell_volume(X, patient_id, column, base_dir=base_dir)
                 for column in [*roles.volumes, *roles.masks]}
        for image_column, mask_column in pairs.items():
            image = cells[image_column]
            mask = cells.get(mask_column) if mask_column else None
            if image is not None and mask is not None:
                check_mask_matches(image, mask, patient_id=patient_id,
                                   image_column=image_column, mask_column=mask_column)
        if read_voxels:
            for column, volume in cells.items():
                if volume is None:
                    continue
                array = volume.array
                check_finite(array, patient_id=patient_id, column=column)
                if column in roles.masks and column != "liver_mask":
                    check_mask_nonempty(array, patient_id=patient_id, column=column)
    return X
