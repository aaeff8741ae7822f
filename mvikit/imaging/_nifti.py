"""Integrity of NIfTI files beyond what SimpleITK reports.

SimpleITK (ITK's NIfTI reader) has two silent behaviours that would put wrong
voxels into an analysis:

* a truncated ``.nii.gz`` or ``.nii`` (an interrupted copy) is read without an
  error, the missing voxels coming back as 0;
* NaN voxels of a float image come back as 0, so mvikit's NaN check cannot
  see them.

This module reads the NIfTI-1/NIfTI-2 header (data type, dimensions,
``vox_offset``) and the raw voxel bytes with the standard library, refuses a
short or corrupt file naming it, and restores the NaN voxels of float images.
The voxel layout of the file (x fastest) is the C-order ``(D, H, W)`` layout of
SimpleITK's array, so positions carry over one to one.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from ..exceptions import ImageReadError

__all__ = ["is_nifti", "check_nifti_voxels"]

# NIfTI datatype code -> numpy dtype (nifti1.h); float codes may hold NaN
_DTYPES = {2: "u1", 4: "i2", 8: "i4", 16: "f4", 64: "f8", 256: "i1", 512: "u2", 768: "u4",
           1024: "i8", 1280: "u8"}
# (sizeof_hdr, dim offset, dim format, datatype offset, vox_offset offset, vox_offset format)
_LAYOUTS = {348: (40, "8h", 70, 108, "f"), 540: (16, "8q", 12, 168, "q")}


def is_nifti(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(".nii") or name.endswith(".nii.gz")


def _read_bytes(path: Path) -> bytes:
    try:
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ImageReadError(
            f"Image {str(path)!r} is truncated or corrupt ({exc}): the gzip stream does not "
            "end properly, as after an interrupted copy. Copy the file again from its source."
        ) from None


def _header(data: bytes, path: Path):
    """``(endian, shape (D, H, W), dtype or None, vox_offset)`` of a NIfTI header."""
    for endian in "<>":
        if len(data) >= 4 and struct.unpack(endian + "i", data[:4])[0] in _LAYOUTS:
            break
    else:
        raise ImageReadError(f"Image {str(path)!r} has no NIfTI header (file too short or "
                             "not NIfTI).")
    size = struct.unpack(endian + "i", data[:4])[0]
    dim_at, dim_fmt, type_at, offset_at, offset_fmt = _LAYOUTS[size]
    if len(data) < size:
        raise ImageReadError(f"Image {str(path)!r} is truncated inside its header.")
    dims = struct.unpack_from(endian + dim_fmt, data, dim_at)
    datatype = struct.unpack_from(endian + "h", data, type_at)[0]
    vox_offset = int(struct.unpack_from(endian + offset_fmt, data, offset_at)[0])
    n_dims = max(1, min(int(dims[0]), 7))
    extent = [max(1, int(d)) for d in dims[1:1 + n_dims]]
    dtype = _DTYPES.get(datatype)
    return endian, extent, (np.dtype(endian + dtype) if dtype else None), max(vox_offset, size)


def check_nifti_voxels(path: Path, array: np.ndarray) -> np.ndarray:
    """Refuse a short NIfTI file; return ``array`` with the file's NaN voxels restored.

    Parameters
    ----------
    path : pathlib.Path
        A ``.nii`` or ``.nii.gz`` file.
    array : ndarray
        SimpleITK's voxels of that file, ``(D, H, W)``.

    Returns
    -------
    ndarray
        ``array``, or a float copy with NaN where the file stores NaN.
    """
    data = _read_bytes(path)
    _, extent, dtype, vox_offset = _header(data, path)
    n_voxels = int(np.prod(extent))
    if dtype is None:  # RGB, complex ...: SimpleITK refuses those itself
        return array
    available = max(0, (len(data) - vox_offset) // dtype.itemsize)
    if available < n_voxels:
        raise ImageReadError(
            f"Image {str(path)!r} is truncated: its header announces {n_voxels} voxels but the "
            f"file holds {available} ({100 * available / n_voxels:.1f} %), as after an "
            "interrupted copy; the rest would be read as zeros. Copy the file again."
        )
    if dtype.kind != "f" or array.size != n_voxels:
        return array
    raw = np.frombuffer(data, dtype=dtype, count=n_voxels, offset=vox_offset)
    nan = np.isnan(raw)
    if not nan.any():
        return array
    restored = np.array(array, dtype=np.result_type(array.dtype, np.float32), copy=True)
    restored.reshape(-1)[nan] = np.nan
    return restored
