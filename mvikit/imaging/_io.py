"""Reading and writing image files with SimpleITK.

NIfTI (``.nii``, ``.nii.gz``), NRRD, MHA/MHD and single DICOM files are read
with ``sitk.ImageFileReader``; a folder is read as a DICOM series with
``sitk.ImageSeriesReader``.  Headers are read without voxels so lazy volumes
learn their geometry cheaply.
"""

from __future__ import annotations

import functools
import locale
import os
import tempfile
from pathlib import Path

import numpy as np

from ..exceptions import ImageFileNotFoundError, ImageReadError
from ._nifti import check_nifti_voxels, is_nifti

__all__ = ["read_image", "read_image_header", "read_image_array", "write_image",
           "dicom_series_files"]


def _keeps_locale(function):
    """Restore the process locale after SimpleITK returns.

    GDCM, SimpleITK's DICOM back end, sets the C locale to "C" while it reads or
    writes DICOM and does not set it back; Python's ``open()`` then defaults to
    ASCII for the rest of the process (a later UTF-8 read fails).  Every
    SimpleITK call in this module goes through this guard.
    """

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        saved = locale.setlocale(locale.LC_ALL)
        try:
            return function(*args, **kwargs)
        finally:
            if locale.setlocale(locale.LC_ALL) != saved:
                locale.setlocale(locale.LC_ALL, saved)

    return wrapper


@_keeps_locale
def dicom_series_files(folder: Path, series_uid: str | None = None) -> list[str]:
    """The sorted file names of one DICOM series in ``folder``.

    Raises `ImageReadError` if the folder holds no series, or several series and
    ``series_uid`` does not pick one (the message lists the UIDs).
    """
    import SimpleITK as sitk

    uids = list(sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder)))
    if not uids:
        raise ImageReadError(f"No DICOM series found in folder {str(folder)!r}.")
    if series_uid is None:
        if len(uids) > 1:
            listing = "\n  ".join(
                f"{uid} ({len(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), uid))}"
                " files)" for uid in uids
            )
            raise ImageReadError(
                f"DICOM folder {str(folder)!r} holds {len(uids)} series:\n  {listing}\n"
                "Pick one with Volume(path=..., series_uid='<uid>'), or move each series "
                "into its own folder."
            )
        series_uid = uids[0]
    elif series_uid not in uids:
        raise ImageReadError(
            f"DICOM folder {str(folder)!r} has no series {series_uid!r}; it holds: "
            + ", ".join(uids)
        )
    return list(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), series_uid))


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise ImageFileNotFoundError(
            f"Image file {str(path)!r} does not exist. Check the path column of the cohort "
            "(relative paths are relative to the CSV's folder)."
        )


def _reader(path: Path, series_uid: str | None):
    import SimpleITK as sitk

    _check_exists(path)
    if path.is_dir():
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(dicom_series_files(path, series_uid))
    else:
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(path))
    return reader


@_keeps_locale
def read_image(path, series_uid: str | None = None):
    """Read an image file or a DICOM series folder into a 3D ``SimpleITK.Image``.

    Parameters
    ----------
    path : str or path-like
        NIfTI, NRRD, MHA/MHD or DICOM file, or a folder holding a DICOM series.
    series_uid : str, default=None
        The SeriesInstanceUID to read from a folder holding several series.

    Returns
    -------
    SimpleITK.Image
        A scalar 3D image (a single 2D slice becomes a one-slice volume).

    Raises
    ------
    ImageFileNotFoundError
        ``path`` does not exist.
    ImageReadError
        The file cannot be read, or the folder holds several DICOM series and
        ``series_uid`` does not pick one (the message lists their UIDs).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from mvikit import Volume
    >>> from mvikit.imaging import read_image, write_image
    >>> path = write_image(Volume(np.zeros((2, 3, 4))), os.path.join(tempfile.mkdtemp(), "a.mha"))
    >>> read_image(path).GetSize()
    (4, 3, 2)
    """
    path = Path(os.fspath(path))
    reader = _reader(path, series_uid)
    try:
        image = reader.Execute()
    except RuntimeError as exc:
        raise ImageReadError(f"Cannot read image {str(path)!r}: {_first_line(exc)}") from None
    if image.GetDimension() == 2:  # a single 2D DICOM/slice file: one-slice volume
        import SimpleITK as sitk

        image = sitk.JoinSeries(image)
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise ImageReadError(
            f"Image {str(path)!r} is {image.GetDimension()}D with "
            f"{image.GetNumberOfComponentsPerPixel()} components; mvikit reads scalar 3D images."
        )
    return image


@_keeps_locale
def read_image_header(path, series_uid: str | None = None) -> dict:
    """Shape ``(D, H, W)``, spacing ``(D, H, W)``, origin and direction, without
    reading voxels (for a DICOM series: the first file's header plus the count)."""
    path = Path(os.fspath(path))
    if path.is_dir():
        # Slice positions, hence the through-plane spacing, need every file; a
        # series folder is read once here and is small compared with NIfTI cohorts.
        image = read_image(path, series_uid)
        return _geometry(image)
    reader = _reader(path, series_uid)
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        raise ImageReadError(f"Cannot read image {str(path)!r}: {_first_line(exc)}") from None
    size = reader.GetSize()
    if len(size) == 2:
        size = (*size, 1)
        spacing = (*reader.GetSpacing(), 1.0)
        origin = (*reader.GetOrigin(), 0.0)
        direction = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    elif len(size) == 3:
        spacing, origin, direction = reader.GetSpacing(), reader.GetOrigin(), reader.GetDirection()
    else:
        raise ImageReadError(f"Image {str(path)!r} is {len(size)}D; mvikit reads 3D images.")
    return {
        "shape": tuple(int(s) for s in reversed(size)),
        "spacing": tuple(float(s) for s in reversed(spacing)),
        "origin": tuple(float(o) for o in origin),
        "direction": tuple(float(d) for d in direction),
    }


def _geometry(image) -> dict:
    return {
        "shape": tuple(int(s) for s in reversed(image.GetSize())),
        "spacing": tuple(float(s) for s in reversed(image.GetSpacing())),
        "origin": tuple(float(o) for o in image.GetOrigin()),
        "direction": tuple(float(d) for d in image.GetDirection()),
    }


@_keeps_locale
def read_image_array(path, series_uid: str | None = None) -> np.ndarray:
    """The voxels of a file or DICOM folder as a ``(D, H, W)`` array.

    A NIfTI file is also checked for a short read (a truncated copy is an
    `ImageReadError`, not zeros) and its NaN voxels, which SimpleITK reads as
    0, are restored so `check_finite` sees them (`mvikit.imaging._nifti`).
    """
    import SimpleITK as sitk

    array = sitk.GetArrayFromImage(read_image(path, series_uid))
    path = Path(os.fspath(path))
    if path.is_file() and is_nifti(path):
        array = check_nifti_voxels(path, array)
    return array


@_keeps_locale
def write_image(volume, path, *, compress: bool = True) -> Path:
    """Write a `Volume` (or ``SimpleITK.Image``) to ``path`` atomically.

    The image is written to a temporary file in the same folder and renamed,
    so a crash never leaves a partial file.

    Parameters
    ----------
    volume : Volume or SimpleITK.Image
        The image, with its geometry.
    path : str or path-like
        Target file; the format follows the suffix (``.nii.gz`` recommended,
        ``.nii``, ``.nrrd``, ``.mha``).
    compress : bool, default=True
        Compress the voxels where the format allows it.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from mvikit import Volume
    >>> from mvikit.imaging import write_image
    >>> folder = tempfile.mkdtemp()
    >>> path = write_image(Volume(np.ones((2, 3, 4)), spacing=(2.5, 0.7, 0.7)),
    ...                    os.path.join(folder, "a.nii.gz"))
    >>> Volume(path=path).spacing
    (2.5, 0.7, 0.7)
    """
    import SimpleITK as sitk

    path = Path(os.fspath(path))
    image = volume if isinstance(volume, sitk.Image) else volume.to_sitk()
    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".nii.gz") else path.suffix
    handle, tmp = tempfile.mkstemp(suffix=suffix, prefix=".tmp-", dir=path.parent)
    os.close(handle)
    try:
        sitk.WriteImage(image, tmp, useCompression=compress)
        # mkstemp creates the file 0600; the image gets the mode any new file would
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _first_line(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    # SimpleITK puts the useful sentence last (after file/line context).
    return lines[-1] if lines else type(exc).__name__
