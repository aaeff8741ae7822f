"""Slabs of contiguous axial slices around a structure, for the 2D input kinds.

CDLM (seed 003, Sec. 2.6) and CMIR (seed 001) read, per phase, the three
contiguous axial slices with the largest tumour area, inside a square region of
interest containing the whole tumour, resized to the network's input size.
DMMGNet (seed 002) reads ``n_slices`` contiguous slices of a liver crop and of a
tumour crop.  Both are a *slab*: ``k`` slices centred on the slice of largest
mask area, cut to a square in-plane box around the mask and resized.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..imaging import Volume

__all__ = ["slab_slices", "square_box", "mask_slab", "touches_edge"]


def slab_slices(mask: np.ndarray, k: int) -> tuple[np.ndarray, bool]:
    """Indices of ``k`` contiguous slices around the largest-area slice of ``mask``.

    The slab is the slice of largest mask area (the first, on ties) +/- ``k // 2``
    (``k`` even: one more slice below), shifted to stay inside the slices that
    contain the mask.  When the mask spans fewer than ``k`` slices, its edge slices
    are repeated.

    Parameters
    ----------
    mask : ndarray of shape (D, H, W)
    k : int

    Returns
    -------
    indices : ndarray of shape (k,)
        Slice indices, non-decreasing.
    padded : bool
        Whether edge slices were repeated.

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((6, 4, 4), bool); mask[1:5, 1, 1] = True; mask[2, 1:3, 1:3] = True
    >>> slab_slices(mask, 3)[0].tolist()
    [1, 2, 3]
    >>> slab_slices(mask[:2], 3)
    (array([1, 1, 1]), True)
    """
    area = mask.reshape(mask.shape[0], -1).sum(axis=1)
    present = np.flatnonzero(area)
    if present.size == 0:
        raise ValueError("the mask is empty")
    low, high = int(present[0]), int(present[-1])
    centre = int(np.argmax(area))
    start = centre - (k - 1) // 2 - (1 - k % 2)  # even k: the extra slice below
    start = min(max(start, low), max(high - k + 1, low))
    indices = np.clip(np.arange(start, start + k), low, high)
    return indices, bool(high - low + 1 < k)


def square_box(mask: np.ndarray, margin: float) -> tuple[int, int, int]:
    """Top-left corner and side (pixels) of the square in-plane box containing every
    mask voxel of every slice, enlarged by ``margin`` of its side on each side."""
    rows = np.flatnonzero(mask.any(axis=(0, 2)))
    cols = np.flatnonzero(mask.any(axis=(0, 1)))
    height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    side = int(np.ceil(max(height, width) * (1 + 2 * margin)))
    top = int(np.floor((rows[0] + rows[-1] + 1) / 2 - side / 2))
    left = int(np.floor((cols[0] + cols[-1] + 1) / 2 - side / 2))
    return top, left, side


def touches_edge(mask: np.ndarray) -> bool:
    """Whether ``mask`` has a voxel on a face of its volume (first/last slice, row or
    column): the structure may extend beyond the field of view, and its square box
    then leaves the image (`mask_slab` repeats the edge pixels there).

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((4, 6, 6), bool); mask[1:3, 2:4, 2:4] = True
    >>> touches_edge(mask)
    False
    >>> mask[1, 2:4, 0] = True
    >>> touches_edge(mask)
    True
    """
    mask = np.asarray(mask)
    return bool(any(np.take(mask, index, axis=axis).any()
                    for axis in range(mask.ndim) for index in (0, -1)))


def _cut(array: np.ndarray, top: int, left: int, side: int) -> np.ndarray:
    """``array[:, top:top+side, left:left+side]``, edge pixels repeated outside the image."""
    rows = np.clip(np.arange(top, top + side), 0, array.shape[1] - 1)
    cols = np.clip(np.arange(left, left + side), 0, array.shape[2] - 1)
    return array[:, rows][:, :, cols]


def mask_slab(image: Volume, mask: Volume, k: int, size: int, margin: float = 0.1
              ) -> tuple[np.ndarray, np.ndarray, Volume, bool]:
    """The ``k``-slice slab of ``image`` and ``mask`` around the mask, resized to ``size``.

    Images are resized with bilinear interpolation (antialiased when shrinking),
    masks with nearest neighbours.

    Returns
    -------
    image_slab : ndarray of shape (k, size, size), float32
    mask_slab : ndarray of shape (k, size, size), uint8
    geometry : Volume
        An empty-voxel volume whose spacing, origin and direction place the slab in
        physical space (in-plane spacing scaled by ``side / size``; the slab's first
        slice as origin); used to map Grad-CAM maps back to the image.
    padded : bool
        Whether the mask spans fewer than ``k`` slices (edge slices repeated).
    """
    from ..imaging._crop import physical_origin

    binary = mask.array > 0
    indices, padded = slab_slices(binary, k)
    top, left, side = square_box(binary, margin)
    planes = _cut(np.asarray(image.array, dtype=np.float32)[indices], top, left, side)
    labels = _cut(binary[indices].astype(np.uint8), top, left, side)
    images = F.interpolate(torch.from_numpy(planes)[None], size=(size, size), mode="bilinear",
                           align_corners=False, antialias=side > size)[0]
    masks = F.interpolate(torch.from_numpy(labels)[None].float(), size=(size, size),
                          mode="nearest")[0]
    scale = side / size
    spacing = (image.spacing[0], image.spacing[1] * scale, image.spacing[2] * scale)
    # the first output pixel's centre sits half an output pixel into the box
    corner = np.array([indices[0], top + 0.5 * scale - 0.5, left + 0.5 * scale - 0.5])
    geometry = Volume(np.zeros((1, 1, 1), np.uint8), spacing=spacing,
                      origin=physical_origin(image, corner), direction=image.direction)
    return images.numpy(), masks.to(torch.uint8).numpy(), geometry, padded
