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

from ..exceptions import EmptyMaskError, GeometryMismatchError, ImageReadError, VolumeError
from ..utils._roles import _is_missing, check_cohort_frame, mask_column_for, resolve_columns
from ._volume import Volume, _where, as_volume

__all__ = ["check_finite", "check_mask_matches", "check_mask_nonempty", "mask_foreground",
           "validate_cohort", "cell_volume", "mask_pairs"]

# Relative tolerance on spacing: float32 headers (NIfTI) round at ~1e-7.
_SPACING_RTOL = 1e-4
# Origin to 1 % of a voxel and direction cosines to 1e-4: far below any real
# misregistration, far above the float32 rounding of NIfTI headers.
_ORIGIN_TOL_VOXELS = 1e-2
_DIRECTION_TOL = 1e-4
_RESAMPLE_FIX = ("Fix the header, or resample the mask onto the image grid "
                 "(mvikit.imaging.resample_mask, or validate_cohort(X, resample_masks=True)).")


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


def mask_foreground(mask: np.ndarray, *, patient_id=None, column=None) -> np.ndarray:
    """The foreground of a mask, read the same way everywhere in mvikit: voxel > 0.

    Every positive label is foreground (a multi-label segmentation is read as
    the union of its labels).  A label that is negative, NaN or infinite, or a
    non-numeric mask, is a `VolumeError` naming the patient and column: such a
    file is not a segmentation mvikit can read unambiguously.
    """
    mask = np.asarray(mask)
    where = _where(patient_id, column)
    if mask.dtype.kind not in "biuf":
        raise VolumeError(f"{where}: a mask must hold numeric labels; got dtype {mask.dtype}.")
    if mask.dtype.kind == "f" and not np.isfinite(mask).all():
        raise VolumeError(f"{where}: the mask has NaN or infinite voxels; a mask holds labels "
                          "0 (background) and 1 (foreground). Fix the segmentation file.")
    if mask.dtype.kind in "if" and mask.size and mask.min() < 0:
        raise VolumeError(
            f"{where}: the mask has negative labels (min {mask.min()!r}); a mask holds 0 for "
            "background and positive labels for the region. Fix the segmentation, or pass "
            "(mask > 0) / (mask == label) explicitly."
        )
    return mask > 0


def check_mask_nonempty(mask: np.ndarray, *, patient_id=None, column=None) -> np.ndarray:
    """The boolean foreground of ``mask`` (see `mask_foreground`); `EmptyMaskError`
    if it has no foreground voxel."""
    foreground = mask_foreground(mask, patient_id=patient_id, column=column)
    if not foreground.any():
        raise EmptyMaskError(
            f"{_where(patient_id, column)}: the mask is empty (no voxel > 0). Check the "
            "segmentation, or drop the patient from the cohort."
        )
    return foreground


def check_mask_matches(image: Volume, mask: Volume, *, patient_id=None, image_column=None,
                       mask_column=None) -> None:
    """Raise `GeometryMismatchError` if ``mask`` is not on ``image``'s voxel grid
    (shape; spacing to a relative tolerance of 1e-4; origin to 1 % of the smallest
    voxel; direction cosines to 1e-4)."""
    where = _where(patient_id, None)
    if image.shape != mask.shape:
        raise GeometryMismatchError(
            f"{where}: mask column {mask_column!r} has shape {mask.shape} but image column "
            f"{image_column!r} has shape {image.shape}. Resample the mask onto the image grid "
            "(mvikit.imaging.resample_mask, or validate_cohort(X, resample_masks=True))."
        )
    if not np.allclose(image.spacing, mask.spacing, rtol=_SPACING_RTOL, atol=0):
        raise GeometryMismatchError(
            f"{where}: mask column {mask_column!r} has spacing {mask.spacing} mm but image "
            f"column {image_column!r} has spacing {image.spacing} mm. Resample the mask onto "
            "the image grid, or fix the header spacing."
        )
    if not np.allclose(image.direction, mask.direction, rtol=0, atol=_DIRECTION_TOL):
        raise GeometryMismatchError(
            f"{where}: mask column {mask_column!r} has direction {_mm(mask.direction)} but "
            f"image column {image_column!r} has direction {_mm(image.direction)}: the mask is "
            f"mirrored or rotated relative to the image. {_RESAMPLE_FIX}"
        )
    origin_tol = _ORIGIN_TOL_VOXELS * min(image.spacing)
    if not np.allclose(image.origin, mask.origin, rtol=0, atol=origin_tol):
        raise GeometryMismatchError(
            f"{where}: mask column {mask_column!r} has origin {_mm(mask.origin)} mm but image "
            f"column {image_column!r} has origin {_mm(image.origin)} mm: the mask is shifted "
            f"{_mm(np.subtract(mask.origin, image.origin))} mm from the image. {_RESAMPLE_FIX}"
        )


def _mm(values) -> tuple:
    return tuple(round(float(v), 4) for v in values)


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
                    base_dir=None, resample_masks: bool = False) -> pd.DataFrame:
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
    resample_masks : bool, default=False
        A mask of the right size but another grid (shape, spacing, origin or
        direction) is resampled onto its image with `resample_mask` instead of
        refused.  A mask shared by sequences on different grids is still an
        error (it cannot lie on both).

    Returns
    -------
    pandas.DataFrame
        ``X`` itself, unchanged; with ``resample_masks=True`` a copy where
        mismatched masks are resampled.

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
    out = X.copy() if resample_masks else X
    for patient_id in X.index:
        cells = {column: cell_volume(X, patient_id, column, base_dir=base_dir)
                 for column in [*roles.volumes, *roles.masks]}
        resampled = set()
        for image_column, mask_column in pairs.items():
            image = cells[image_column]
            mask = cells.get(mask_column) if mask_column else None
            if image is None or mask is None:
                continue
            try:
                check_mask_matches(image, mask, patient_id=patient_id,
                                   image_column=image_column, mask_column=mask_column)
            except GeometryMismatchError:
                if not resample_masks or mask_column in resampled:
                    raise
                from ._resample import resample_mask

                cells[mask_column] = resample_mask(mask, image)
                resampled.add(mask_column)
                out.at[patient_id, mask_column] = cells[mask_column]
        if read_voxels:
            for column, volume in cells.items():
                if volume is None:
                    continue
                try:
                    array = volume.array
                except ImageReadError as exc:
                    raise ImageReadError(f"{_where(patient_id, column)}: {exc}") from None
                check_finite(array, patient_id=patient_id, column=column)
                if column in roles.masks and column != "liver_mask":
                    check_mask_nonempty(array, patient_id=patient_id, column=column)
    return out
