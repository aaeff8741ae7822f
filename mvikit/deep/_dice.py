"""`dice_coefficient`: the overlap of two binary masks (MONAI's Dice), for segmentation heads."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["dice_coefficient"]


def dice_coefficient(prediction, reference) -> float:
    """Dice similarity of two binary masks, ``2 |A n B| / (|A| + |B|)`` (MONAI's).

    Parameters
    ----------
    prediction, reference : array-like or Volume of the same shape
        Non-zero voxels are the structure.

    Returns
    -------
    float
        In [0, 1]; 1 when both masks are empty.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.zeros((4, 4, 4)); a[:2] = 1
    >>> b = np.zeros((4, 4, 4)); b[1:3] = 1
    >>> dice_coefficient(a, a), dice_coefficient(a, b), dice_coefficient(a, 1 - a)
    (1.0, 0.5, 0.0)
    """
    from monai.metrics import compute_dice

    a = np.asarray(getattr(prediction, "array", prediction)) > 0
    b = np.asarray(getattr(reference, "array", reference)) > 0
    if a.shape != b.shape:
        raise ValueError(f"the masks have different shapes: {a.shape} and {b.shape}.")
    value = compute_dice(torch.from_numpy(a)[None, None].float(),
                         torch.from_numpy(b)[None, None].float(), include_background=True,
                         ignore_empty=False)
    return float(value.item())
