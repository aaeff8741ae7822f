"""`Volume`: one 3D image (or mask) in a cohort-frame cell.

A `Volume` is either *in memory* (it holds a read-only ``(D, H, W)`` array) or
*lazy* (it holds a file path and reads voxels only when ``.array`` is asked
for).  Lazy volumes pickle as their path, so joblib/Dask workers receive a few
hundred bytes per patient instead of voxels.

Geometry conventions (stated once, used everywhere in mvikit):

* ``spacing`` is the voxel size in mm along the array axes ``(D, H, W)``,
  i.e. SimpleITK's ``GetSpacing()`` reversed;
* ``origin`` is the physical position ``(x, y, z)`` in mm of voxel
  ``[0, 0, 0]``, as in ITK;
* ``direction`` is ITK's 3x3 direction-cosine matrix (row-major, physical
  ``(x, y, z)``), as in ITK.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import ImageFileNotFoundError, ImageReadError, VolumeError

__all__ = ["Volume", "as_volume", "IMAGE_SUFFIXES"]

#: File suffixes read as images (a folder is read as a DICOM series).
IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd", ".dcm")

_IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


def _floats(value, name: str) -> tuple:
    try:
        values = tuple(float(v) for v in np.ravel(value))
    except (TypeError, ValueError) as exc:
        raise VolumeError(f"`{name}` must be numbers; got {value!r}.") from exc
    if not all(np.isfinite(values)):
        raise VolumeError(f"`{name}` must be finite; got {values}.")
    return values


def _as_triple(value, name: str, default):
    if value is None:
        return default
    triple = _floats(value, name)
    if len(triple) != 3:
        raise VolumeError(f"`{name}` must have 3 values, got {len(triple)}: {value!r}.")
    return triple


# ITK itself accepts any invertible matrix; a direction that is not a rotation or
# reflection to this tolerance is a corrupt header (float32 NIfTI headers are ~1e-7 off).
_ORTHONORMAL_TOL = 1e-3


def _as_direction(value) -> tuple:
    if value is None:
        return _IDENTITY
    direction = _floats(value, "direction")
    if len(direction) != 9:
        raise VolumeError(
            f"`direction` must have 9 values (a 3x3 matrix, row-major), got {len(direction)}."
        )
    matrix = np.reshape(direction, (3, 3))
    if not np.allclose(matrix @ matrix.T, np.eye(3), atol=_ORTHONORMAL_TOL):
        raise VolumeError(
            f"`direction` {direction} is not orthonormal (its rows must be unit vectors at "
            "right angles: direction cosines). A singular or scaled matrix is a corrupt "
            "header; fix it, or pass the scanner's direction cosines."
        )
    return direction


def _as_voxels(data) -> np.ndarray:
    """A numeric, non-empty 3D copy of ``data``; booleans become uint8."""
    try:
        array = np.array(data, copy=True)
    except (TypeError, ValueError) as exc:
        raise VolumeError(f"Volume data cannot be read as an array ({exc}).") from exc
    if array.ndim != 3:
        raise VolumeError(
            f"A volume must be 3D (D, H, W); got an array of shape {array.shape}. "
            "Add a leading axis for a single slice: array[np.newaxis]."
        )
    if array.size == 0:
        raise VolumeError(f"A volume must hold voxels; got an empty array of shape {array.shape}.")
    if array.dtype == bool:
        array = array.astype(np.uint8)
    if array.dtype.kind not in "iuf":
        raise VolumeError(
            f"Volume voxels must be real numbers; got dtype {array.dtype}"
            + (" (complex: take np.abs or the real part first)" if array.dtype.kind == "c"
               else "") + "."
        )
    return array


def _looks_like_image_path(value: Any) -> bool:
    if isinstance(value, Path):
        return True
    if not isinstance(value, str):
        return False
    return value.lower().endswith(IMAGE_SUFFIXES)


class Volume:
    """A 3D image or mask, held in memory or read lazily from a file.

    Parameters
    ----------
    data : array-like of shape (D, H, W), default=None
        Voxels.  Copied into a read-only array (so a volume never changes and
        can be cached by identity).  Exactly one of ``data`` and ``path``.
    path : str or path-like, default=None
        NIfTI (``.nii``, ``.nii.gz``), NRRD, MHA/MHD file, or a folder holding
        one DICOM series.  Read lazily with SimpleITK.
    spacing : sequence of 3 floats, default=None
        Voxel size in mm along ``(D, H, W)``; ``(1, 1, 1)`` for an array when
        not given.  For a file the header's value is used unless given; a given
        value must agree with the header to within ``1e-4`` (relative) and then
        replaces it, which keeps float64 geometry exact for formats that store
        float32 (NIfTI).
    origin : sequence of 3 floats, default=None
        Physical ``(x, y, z)`` position in mm of voxel ``[0, 0, 0]``;
        ``(0, 0, 0)`` for an array when not given.  Files: as ``spacing``.
    direction : sequence of 9 floats, default=None
        ITK direction cosines, row-major; identity for an array when not
        given.  Files: as ``spacing``.
    series_uid : str, default=None
        For a DICOM folder holding several series: the SeriesInstanceUID to
        read.

    Attributes
    ----------
    shape : tuple of int
        ``(D, H, W)``.
    spacing, origin, direction : tuple of float
        Geometry, see the module notes.
    path : pathlib.Path or None
        The file, for a lazy volume.
    is_lazy : bool
        True when voxels are read from ``path`` on demand.

    Examples
    --------
    >>> import numpy as np
    >>> from mvikit import Volume
    >>> v = Volume(np.zeros((4, 8, 8)), spacing=(3.0, 0.8, 0.8))
    >>> v
    Volume(shape=(4, 8, 8), spacing=(3.0, 0.8, 0.8), in memory)
    >>> v.array.dtype, v.array.flags.writeable
    (dtype('float64'), False)
    """

    __slots__ = ("_array", "_path", "_series_uid", "_spacing", "_origin", "_direction",
                 "_shape", "_token")

    def __init__(self, data=None, *, path=None, spacing=None, origin=None, direction=None,
                 series_uid=None):
        if (data is None) == (path is None):
            raise VolumeError("Give exactly one of `data` (an array) and `path` (a file).")
        self._series_uid = series_uid
        self._token = uuid.uuid4().hex
        if data is not None:
            array = _as_voxels(data)
            array.flags.writeable = False
            self._array = array
            self._path = None
            self._shape = tuple(int(s) for s in array.shape)
            self._spacing = _as_triple(spacing, "spacing", (1.0, 1.0, 1.0))
            self._origin = _as_triple(origin, "origin", (0.0, 0.0, 0.0))
            self._direction = _as_direction(direction)
        else:
            self._array = None
            self._path = Path(os.fspath(path))
            self._read_header()
            self._override_geometry(spacing, origin, direction)
        if min(self._spacing) <= 0:
            where = f"{str(self._path)!r}: " if self._path is not None else ""
            raise VolumeError(f"{where}`spacing` must be positive, got {self._spacing}.")

    # ------------------------------------------------------------------ I/O
    def _read_header(self) -> None:
        from ._io import read_image_header

        header = read_image_header(self._path, series_uid=self._series_uid)
        self._shape = header["shape"]
        try:
            self._spacing = _as_triple(header["spacing"], "spacing", None)
            self._origin = _as_triple(header["origin"], "origin", None)
            self._direction = _as_direction(header["direction"])
        except VolumeError as exc:
            raise ImageReadError(f"{str(self._path)!r}: the header is invalid: {exc}") from None

    def _override_geometry(self, spacing, origin, direction) -> None:
        given = {"spacing": _as_triple(spacing, "spacing", None),
                 "origin": _as_triple(origin, "origin", None),
                 "direction": None if direction is None else _as_direction(direction)}
        for name, value in given.items():
            if value is None:
                continue
            header = getattr(self, f"_{name}")
            # float32 headers (NIfTI) round to ~1e-7 relative; 1e-4 mm catches real mismatches.
            if not np.allclose(value, header, rtol=1e-4, atol=1e-4):
                raise VolumeError(
                    f"The {name} given for {str(self._path)!r}, {value}, disagrees with the "
                    f"file header, {header}. Was the file replaced? Drop the stored geometry "
                    "or rewrite the cohort."
                )
            setattr(self, f"_{name}", value)

    @classmethod
    def from_sitk(cls, image) -> Volume:
        """Wrap a ``SimpleITK.Image`` (copying its voxels) with its geometry."""
        import SimpleITK as sitk

        if image.GetDimension() != 3:
            raise VolumeError(f"Expected a 3D image, got {image.GetDimension()}D.")
        return cls(
            sitk.GetArrayFromImage(image),
            spacing=tuple(reversed(image.GetSpacing())),
            origin=image.GetOrigin(),
            direction=image.GetDirection(),
        )

    def to_sitk(self):
        """This volume as a ``SimpleITK.Image`` with the same geometry."""
        import SimpleITK as sitk

        image = sitk.GetImageFromArray(np.ascontiguousarray(self.array))
        image.SetSpacing(tuple(reversed(self._spacing)))
        image.SetOrigin(self._origin)
        image.SetDirection(self._direction)
        return image

    def load(self) -> Volume:
        """An in-memory copy (the volume itself if it is already in memory)."""
        if not self.is_lazy:
            return self
        # The freshly read array belongs to no one else: adopt it without a copy.
        loaded = object.__new__(Volume)
        for slot in self.__slots__:
            object.__setattr__(loaded, slot, getattr(self, slot))
        loaded._array, loaded._path, loaded._token = self.array, None, uuid.uuid4().hex
        return loaded

    @classmethod
    def _adopt(cls, array, **geometry) -> Volume:
        """An in-memory volume that takes ``array`` (3D, not bool) without the
        defensive copy: only for arrays the caller made and hands over (the
        simulator, where the copy cost about a tenth of the run time)."""
        volume = cls(array[:1, :1, :1], **geometry)  # validates shape and geometry
        array.flags.writeable = False
        volume._array, volume._shape = array, tuple(int(s) for s in array.shape)
        return volume

    def with_array(self, array, *, spacing=None, origin=None) -> Volume:
        """A new in-memory volume with other voxels and this geometry
        (``spacing``/``origin`` overridable, e.g. after a crop)."""
        return Volume(
            array,
            spacing=self._spacing if spacing is None else spacing,
            origin=self._origin if origin is None else origin,
            direction=self._direction,
        )

    # ----------------------------------------------------------- properties
    @property
    def array(self) -> np.ndarray:
        """The voxels, ``(D, H, W)``.  Read from disk on every access for a lazy
        volume (call :meth:`load` to keep them)."""
        if self._array is not None:
            return self._array
        from ._io import read_image_array

        array = read_image_array(self._path, series_uid=self._series_uid)
        array.flags.writeable = False
        return array

    @property
    def shape(self) -> tuple[int, int, int]:
        return self._shape

    @property
    def spacing(self) -> tuple[float, float, float]:
        return self._spacing

    @property
    def origin(self) -> tuple[float, float, float]:
        return self._origin

    @property
    def direction(self) -> tuple[float, ...]:
        return self._direction

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def is_lazy(self) -> bool:
        return self._array is None

    @property
    def cache_key(self) -> tuple:
        """A hashable identity for caches: the file's path, size and
        modification time for a lazy volume; a token minted at construction
        (kept through pickling) for an in-memory one, whose voxels are
        read-only."""
        if self._path is not None:
            stat = self._path.stat() if self._path.exists() else None
            stamp = (stat.st_size, stat.st_mtime_ns) if stat else None
            return ("file", str(self._path.resolve()), self._series_uid, stamp)
        return ("array", self._token)

    # -------------------------------------------------------------- dunder
    def __getstate__(self):
        return {slot: getattr(self, slot) for slot in self.__slots__}

    def __setstate__(self, state):
        for slot, value in state.items():
            object.__setattr__(self, slot, value)
        if self._array is not None:
            self._array.flags.writeable = False

    def __repr__(self) -> str:
        spacing = tuple(round(s, 4) for s in self._spacing)
        where = f"path={str(self._path)!r}" if self.is_lazy else "in memory"
        return f"Volume(shape={self._shape}, spacing={spacing}, {where})"


def as_volume(cell, *, patient_id=None, column=None, base_dir=None) -> Volume:
    """Wrap a cohort-frame cell (``Volume``, 3D array or path) as a `Volume`.

    Parameters
    ----------
    cell : Volume, numpy.ndarray or str or path-like
        The cell.  Relative paths are taken relative to ``base_dir``.
    patient_id, column : optional
        Named in error messages.
    base_dir : path-like, default=None
        Folder that relative paths are relative to.

    Returns
    -------
    Volume

    Examples
    --------
    >>> import numpy as np
    >>> as_volume(np.ones((2, 3, 4))).shape
    (2, 3, 4)
    """
    where = _where(patient_id, column)
    if isinstance(cell, Volume):
        return cell
    if isinstance(cell, np.ndarray):
        try:
            return Volume(cell)
        except VolumeError as exc:
            raise VolumeError(f"{where}: {exc}") from None
    if isinstance(cell, (str, os.PathLike)):
        path = Path(os.fspath(cell))
        if base_dir is not None and not path.is_absolute():
            path = Path(base_dir) / path
        try:
            return Volume(path=path)
        except (ImageFileNotFoundError, ImageReadError) as exc:
            raise type(exc)(f"{where}: {exc}") from None
    raise VolumeError(
        f"{where}: a volume cell must be an mvikit.Volume, a 3D numpy array or an image "
        f"path; got {type(cell).__name__}."
    )


def _where(patient_id, column) -> str:
    parts = []
    if patient_id is not None:
        parts.append(f"patient {patient_id!r}")
    if column is not None:
        parts.append(f"column {column!r}")
    return ", ".join(parts) if parts else "volume"
