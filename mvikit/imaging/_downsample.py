"""`VolumeDownsampler`: coarser voxels by whole-block averaging (images) or max (masks)."""

from __future__ import annotations

from numbers import Integral

import numpy as np

from ._base import Task, VolumeTransformerBase
from ._crop import physical_origin
from ._volume import Volume

__all__ = ["VolumeDownsampler", "downsample_volume", "downsample_factors"]


def downsample_factors(factor) -> tuple[int, int, int]:
    """``factor`` as three positive integers ``(D, H, W)`` (one int for all axes).

    Examples
    --------
    >>> downsample_factors(2), downsample_factors((1, 2, 2))
    ((2, 2, 2), (1, 2, 2))
    """
    values = (factor,) * 3 if isinstance(factor, Integral) else tuple(factor)
    if len(values) != 3 or not all(isinstance(v, Integral) and not isinstance(v, bool)
                                   and v >= 1 for v in values):
        raise ValueError(f"The downsampling factor must be a positive integer or 3 positive "
                         f"integers (D, H, W); got {factor!r}.")
    return tuple(int(v) for v in values)


def _block_reduce(array: np.ndarray, factors: tuple[int, int, int], reduce: str) -> np.ndarray:
    """Mean or max over ``factors`` blocks; a last, partial block reduces the voxels it has."""
    out_shape = tuple(-(-n // f) for n, f in zip(array.shape, factors))
    blocks = (out_shape[0], factors[0], out_shape[1], factors[1], out_shape[2], factors[2])
    dtype = array.dtype if reduce == "max" else np.float64  # float64 sums for the mean
    if tuple(n * f for n, f in zip(out_shape, factors)) == array.shape:
        padded = array.astype(dtype, copy=False)
    else:  # zero-pad the last blocks (zeros add nothing to a sum or to a mask's max)
        padded = np.zeros(tuple(n * f for n, f in zip(out_shape, factors)), dtype)
        padded[tuple(slice(0, n) for n in array.shape)] = array
    reduced = padded.reshape(blocks)
    if reduce == "max":
        return reduced.max(axis=(1, 3, 5))
    # voxels per block: the product of each axis' count (f, or fewer in the last block)
    counts = [np.minimum(f, n - f * np.arange(m)) for n, f, m in zip(array.shape, factors,
                                                                        out_shape)]
    count = counts[0][:, None, None] * counts[1][None, :, None] * counts[2][None, None, :]
    return (reduced.sum(axis=(1, 3, 5)) / count).astype(np.float32)


def downsample_volume(volume: Volume, factor, *, is_mask: bool = False) -> Volume:
    """``volume`` on a grid ``factor`` times coarser: block means (images) or maxima (masks).

    Voxel ``k`` of the result covers voxels ``k*f ... k*f + f - 1`` of the input
    on each axis (a last block may be partial).  The spacing is multiplied by
    ``f`` and the origin moved to the centre of the first block, so the result
    lies where its voxels came from in physical space.

    Parameters
    ----------
    volume : Volume
    factor : int or tuple of 3 int
        Block size ``(D, H, W)``.
    is_mask : bool, default=False
        Take the block maximum (any foreground voxel makes the coarse voxel
        foreground) and keep the dtype, instead of the float32 mean.

    Returns
    -------
    Volume

    Examples
    --------
    >>> import numpy as np
    >>> from mvikit import Volume
    >>> from mvikit.imaging._downsample import downsample_volume
    >>> v = Volume(np.arange(16.0).reshape(1, 4, 4), spacing=(3.0, 0.5, 0.5))
    >>> out = downsample_volume(v, (1, 2, 2))
    >>> out.array[0].tolist(), out.spacing, out.origin
    ([[2.5, 4.5], [10.5, 12.5]], (3.0, 1.0, 1.0), (0.25, 0.25, 0.0))
    """
    factors = downsample_factors(factor)
    if factors == (1, 1, 1):
        return volume
    array = _block_reduce(volume.array, factors, "max" if is_mask else "mean")
    spacing = tuple(s * f for s, f in zip(volume.spacing, factors))
    origin = physical_origin(volume, [(f - 1) / 2.0 for f in factors])
    return volume.with_array(array, spacing=spacing, origin=origin)


class VolumeDownsampler(VolumeTransformerBase):
    """Make every image and mask ``factor`` times coarser by whole voxel blocks.

    Images become the mean of each block (float32), masks its maximum, so a
    tumour voxel is never lost.  Unlike `VolumeResampler` there is no
    interpolation and no choice of target spacing: each coarse voxel is exactly
    the average of the voxels it replaces, and volumes of different spacing
    stay different.  The deep estimators' narrow presets use it to keep the
    paper's 20x80x80 field of view at half the in-plane resolution.

    Parameters
    ----------
    factor : int or tuple of 3 int, default=(1, 2, 2)
        Block size ``(D, H, W)``.
    volumes, masks : "auto" or list of str, default="auto"
        Image and mask columns (see `mvikit.utils.resolve_columns`).
    memory : str or joblib.Memory, default=None
        Also cache results on disk.  Results are always cached in memory.

    Attributes
    ----------
    volume_columns_, mask_columns_ : list of str
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    See Also
    --------
    VolumeResampler : interpolate to a given spacing instead.

    Notes
    -----
    Output shape ``ceil(shape / factor)``; a last, partial block averages (or
    maximises over) the voxels it has.  The origin moves to the centre of the
    first block: ``origin + direction @ ((factor - 1) / 2 * spacing)``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mvikit import Volume
    >>> from mvikit.imaging import VolumeDownsampler
    >>> mask = np.zeros((4, 8, 8), np.uint8); mask[1, 3, 3] = 1
    >>> X = pd.DataFrame({"HBP": [Volume(np.ones((4, 8, 8)), spacing=(3, 0.7, 0.7))],
    ...                   "tumor_mask": [Volume(mask, spacing=(3, 0.7, 0.7))]}, index=["p1"])
    >>> out = VolumeDownsampler((1, 2, 2)).fit_transform(X)
    >>> out.loc["p1", "HBP"]
    Volume(shape=(4, 4, 4), spacing=(3.0, 1.4, 1.4), in memory)
    >>> int(out.loc["p1", "tumor_mask"].array.sum())
    1
    """

    _parameter_constraints: dict = {
        **VolumeTransformerBase._parameter_constraints,
        "factor": [Integral, "array-like"],
    }

    def __init__(self, factor=(1, 2, 2), *, volumes="auto", masks="auto", memory=None):
        self.factor = factor
        self.volumes = volumes
        self.masks = masks
        self.memory = memory

    def _check_params(self, X) -> None:
        downsample_factors(self.factor)

    def _tasks(self) -> list:
        return ([Task("image", (c,), (c,)) for c in self.volume_columns_]
                + [Task("mask", (c,), (c,)) for c in self.mask_columns_])

    def _compute(self, task: Task, volumes: list, patient_id) -> tuple:
        return (downsample_volume(volumes[0], self.factor, is_mask=task.kind == "mask"),)
