"""`VolumeResampler`: resample images and masks to a target voxel spacing."""

from __future__ import annotations

from numbers import Real

from ..utils._validation import StrOptions
from ._base import Task, VolumeTransformerBase
from ._volume import Volume

__all__ = ["VolumeResampler", "resample_volume", "resample_mask"]


def _target_spacing(spacing, volume: Volume) -> tuple:
    if isinstance(spacing, Real):
        return (float(spacing),) * 3
    return tuple(float(old) if new is None else float(new)
                 for new, old in zip(spacing, volume.spacing))


def resample_volume(volume: Volume, spacing, *, interpolation: str = "linear") -> Volume:
    """Resample ``volume`` to ``spacing`` (``(D, H, W)`` mm) with SimpleITK.

    The origin and direction are kept (voxel ``[0, 0, 0]`` stays where it is)
    and the size is chosen so the physical extent is kept:
    ``new_size = round(size * old_spacing / new_spacing)``.  Images become
    float32; ``interpolation="nearest"`` keeps the dtype (for masks).
    """
    import SimpleITK as sitk

    new_spacing = _target_spacing(spacing, volume)
    size = [max(1, int(round(n * old / new)))
            for n, old, new in zip(volume.shape, volume.spacing, new_spacing)]
    image = volume.to_sitk()
    interpolator = {"linear": sitk.sitkLinear, "bspline": sitk.sitkBSpline,
                    "nearest": sitk.sitkNearestNeighbor}[interpolation]
    if interpolation != "nearest":
        image = sitk.Cast(image, sitk.sitkFloat32)
    resampled = sitk.Resample(
        image, size[::-1], sitk.Transform(), interpolator, volume.origin,
        new_spacing[::-1], volume.direction, 0.0, image.GetPixelID(),
    )
    return Volume(sitk.GetArrayFromImage(resampled), spacing=new_spacing,
                  origin=volume.origin, direction=volume.direction)


def resample_mask(mask: Volume, image: Volume) -> Volume:
    """Resample ``mask`` onto ``image``'s voxel grid (nearest neighbour, in physical space).

    Each image voxel takes the label of the mask voxel nearest to the same
    physical point (origin, spacing and direction of both are honoured, so a
    mirrored or shifted mask lands on the right anatomy); points outside the
    mask are background.

    Parameters
    ----------
    mask : Volume
        The segmentation, on its own grid.
    image : Volume
        The image whose grid (shape, spacing, origin, direction) the result takes.

    Returns
    -------
    Volume
        The labels on the image grid, same dtype as ``mask``.

    Examples
    --------
    >>> import numpy as np
    >>> from mvikit import Volume
    >>> from mvikit.imaging import resample_mask
    >>> image = Volume(np.zeros((1, 1, 4)))
    >>> flipped = Volume(np.array([[[1, 0, 0, 0]]]), origin=(3, 0, 0),
    ...                  direction=(-1, 0, 0, 0, 1, 0, 0, 0, 1))
    >>> resample_mask(flipped, image).array.ravel().tolist()
    [0, 0, 0, 1]
    """
    import SimpleITK as sitk

    reference = sitk.Image([int(s) for s in image.shape[::-1]], sitk.sitkUInt8)
    reference.SetSpacing(tuple(reversed(image.spacing)))
    reference.SetOrigin(image.origin)
    reference.SetDirection(image.direction)
    source = mask.to_sitk()
    resampled = sitk.Resample(source, reference, sitk.Transform(), sitk.sitkNearestNeighbor,
                              0, source.GetPixelID())
    return image.with_array(sitk.GetArrayFromImage(resampled))


class VolumeResampler(VolumeTransformerBase):
    """Resample every image and mask to one voxel spacing (mm).

    Images are interpolated linearly (or with cubic B-splines), masks with
    nearest neighbour so they stay binary/label-valued.  Image and mask of a
    patient map onto the same new grid, since they share the old one.

    Parameters
    ----------
    spacing : float or tuple of 3 (float or None), default=(3.0, 0.8, 0.8)
        Target voxel size ``(D, H, W)`` in mm; one float for isotropic voxels;
        ``None`` on an axis keeps that axis' spacing.
    interpolation : {"linear", "bspline"}, default="linear"
        Interpolation of images.
    volumes, masks : "auto" or list of str, default="auto"
        Image and mask columns (see `mvikit.utils.resolve_columns`).
    memory : str or joblib.Memory, default=None
        Also cache results on disk.  Results are always cached in memory
        (bounded, least recently used evicted; see `volume_cache_info`).

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
    ROICropper : crop after resampling (boxes then have equal physical size).

    Notes
    -----
    The origin is kept and ``new_size = round(size * old_spacing /
    new_spacing)``, the convention of pyradiomics' and nnU-Net's resampling.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mvikit import Volume
    >>> from mvikit.imaging import VolumeResampler
    >>> X = pd.DataFrame({"HBP": [Volume(np.ones((4, 10, 10)), spacing=(5, 1, 1))]},
    ...                  index=["p1"])
    >>> VolumeResampler(spacing=(2.5, 2.0, 2.0)).fit_transform(X).loc["p1", "HBP"]
    Volume(shape=(8, 5, 5), spacing=(2.5, 2.0, 2.0), in memory)
    """

    _parameter_constraints: dict = {
        **VolumeTransformerBase._parameter_constraints,
        "spacing": [Real, "array-like"],
        "interpolation": [StrOptions({"linear", "bspline"})],
    }

    def __init__(self, spacing=(3.0, 0.8, 0.8), *, interpolation="linear", volumes="auto",
                 masks="auto", memory=None):
        self.spacing = spacing
        self.interpolation = interpolation
        self.volumes = volumes
        self.masks = masks
        self.memory = memory

    def _check_params(self, X) -> None:
        values = [self.spacing] if isinstance(self.spacing, Real) else list(self.spacing)
        ok = len(values) in (1, 3) if isinstance(self.spacing, Real) else len(values) == 3
        ok = ok and all(v is None or (isinstance(v, Real) and v > 0) for v in values)
        if not ok:
            raise ValueError(
                "VolumeResampler: `spacing` must be a positive number or 3 positive numbers "
                f"(D, H, W) in mm (None keeps an axis), got {self.spacing!r}."
            )

    def _tasks(self) -> list:
        return ([Task("image", (c,), (c,)) for c in self.volume_columns_]
                + [Task("mask", (c,), (c,)) for c in self.mask_columns_])

    def _compute(self, task: Task, volumes: list, patient_id) -> tuple:
        interpolation = "nearest" if task.kind == "mask" else self.interpolation
        return (resample_volume(volumes[0], self.spacing, interpolation=interpolation),)
