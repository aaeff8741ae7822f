"""Batch augmentation of 3D volumes in PyTorch (training mode only).

Every function takes a batch ``volumes`` of shape ``(B, S, D, H, W)`` (S
sequences of one patient) and optionally its ``masks`` of the same shape, and
applies one random draw *per patient*, shared by the patient's sequences and
masks, so that sequences stay aligned with each other and with their masks.
Random numbers come from an explicit ``torch.Generator`` (on the CPU), so a
training run is reproducible whatever the device.

MD-Net (Sec. III-F) trains on random 16x64x64 crops of the 20x80x80 cube with a
random affine transformation and horizontal and vertical flips, and predicts
from the centre crop.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["random_crop", "center_crop", "random_flip", "random_affine", "intensity_jitter",
           "BatchAugmenter"]

Size3 = Sequence[int]


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def _check_size(volumes: torch.Tensor, size: Size3) -> tuple[int, int, int]:
    size = tuple(int(s) for s in size)
    if len(size) != 3 or any(s > n for s, n in zip(size, volumes.shape[-3:])):
        raise ValueError(f"crop size {size} does not fit in volumes of spatial shape "
                         f"{tuple(volumes.shape[-3:])}")
    return size


def center_crop(volumes: torch.Tensor, size: Size3) -> torch.Tensor:
    """The centre ``size = (d, h, w)`` box of each volume (inference).

    Shape: ``(..., D, H, W) -> (..., d, h, w)``.

    Examples
    --------
    >>> import torch
    >>> x = torch.arange(5.0).reshape(1, 1, 5, 1, 1)
    >>> center_crop(x, (3, 1, 1)).flatten().tolist()
    [1.0, 2.0, 3.0]
    """
    size = _check_size(volumes, size)
    starts = [(n - s) // 2 for n, s in zip(volumes.shape[-3:], size)]
    return volumes[..., starts[0]:starts[0] + size[0], starts[1]:starts[1] + size[1],
                   starts[2]:starts[2] + size[2]]


def random_crop(volumes: torch.Tensor, masks: torch.Tensor | None, size: Size3,
                generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A random ``size`` box per patient: ``(B, S, D, H, W) -> (B, S, d, h, w)``."""
    size = _check_size(volumes, size)
    spare = [n - s for n, s in zip(volumes.shape[-3:], size)]
    starts = torch.stack([torch.randint(0, m + 1, (volumes.shape[0],), generator=generator)
                          for m in spare], dim=1).tolist()

    def crop(x: torch.Tensor) -> torch.Tensor:
        return torch.stack([x[b, :, d:d + size[0], h:h + size[1], w:w + size[2]]
                            for b, (d, h, w) in enumerate(starts)])

    return crop(volumes), None if masks is None else crop(masks)


def random_flip(volumes: torch.Tensor, masks: torch.Tensor | None, generator: torch.Generator,
                axes: Sequence[int] = (-2, -1), p: float = 0.5
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Flip each patient along each of ``axes`` with probability ``p``.

    The default axes (H, W) are the paper's vertical and horizontal flips.
    """
    flips = torch.rand(volumes.shape[0], len(axes), generator=generator) < p
    out_v, out_m = volumes.clone(), None if masks is None else masks.clone()
    for b in range(volumes.shape[0]):
        dims = [a for a, flip in zip(axes, flips[b].tolist()) if flip]
        if dims:
            dims = [d if d < 0 else d - 1 for d in dims]  # a patient's tensor has no B axis
            out_v[b] = volumes[b].flip(dims)
            if masks is not None:
                out_m[b] = masks[b].flip(dims)
    return out_v, out_m


def random_affine(volumes: torch.Tensor, masks: torch.Tensor | None, generator: torch.Generator,
                  rotation: float = 10.0, scale: float = 0.1, translation: float = 0.05,
                  depth_shift: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A random in-plane affine transform per patient (``affine_grid``/``grid_sample``).

    In-plane (H, W) rotation by up to ``rotation`` degrees, isotropic in-plane
    scaling by a factor in ``[1 - scale, 1 + scale]`` and translation by up to
    ``translation`` of the half-extent on every axis.  Rotation stays in-plane
    because MRI slices are much thicker than the in-plane pixels.  Images are
    resampled trilinearly with border padding, masks with nearest neighbours.
    ``depth_shift=False`` keeps the depth axis in place (for stacks of 2D slices,
    which must not be interpolated between slices); the random draws are the same.
    """
    batch = volumes.shape[0]
    angle = torch.deg2rad(_uniform(batch, -rotation, rotation, generator))
    zoom = _uniform(batch, 1 - scale, 1 + scale, generator)
    shift = _uniform(batch * 3, -translation, translation, generator).reshape(batch, 3)
    if not depth_shift:
        shift[:, 2] = 0.0
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.zeros(batch, 3, 4)
    # grid coordinates are (x, y, z) = (W, H, D)
    theta[:, 0, 0], theta[:, 0, 1] = cos, -sin
    theta[:, 1, 0], theta[:, 1, 1] = sin, cos
    theta[:, 2, 2] = 1.0
    theta[:, :, 3] = shift
    theta = theta.to(device=volumes.device, dtype=volumes.dtype)
    grid = F.affine_grid(theta, list(volumes.shape), align_corners=False)
    out_v = F.grid_sample(volumes, grid, mode="bilinear", padding_mode="border",
                          align_corners=False)
    out_m = None
    if masks is not None:
        out_m = F.grid_sample(masks.to(volumes.dtype), grid, mode="nearest",
                              padding_mode="zeros", align_corners=False).to(masks.dtype)
    return out_v, out_m


def intensity_jitter(volumes: torch.Tensor, generator: torch.Generator, scale: float = 0.1,
                     shift: float = 0.1) -> torch.Tensor:
    """``x * a + b`` per patient and sequence, ``a ~ U(1 - scale, 1 + scale)``,
    ``b ~ U(-shift, shift)`` (in units of the normalised intensity)."""
    batch, seqs = volumes.shape[:2]
    a = _uniform(batch * seqs, 1 - scale, 1 + scale, generator).reshape(batch, seqs, 1, 1, 1)
    b = _uniform(batch * seqs, -shift, shift, generator).reshape(batch, seqs, 1, 1, 1)
    return volumes * a.to(volumes) + b.to(volumes)


class BatchAugmenter:
    """Random crop + flips + affine + intensity jitter for training; centre crop
    for inference.

    Parameters
    ----------
    crop_size : tuple of 3 int
        ``(d, h, w)`` of the network input (16x64x64 in the paper).
    flip : bool, default=True
    rotation : float, default=10.0
        Maximum in-plane rotation in degrees (0 disables the affine transform
        together with ``scale=0`` and ``translation=0``).
    scale, translation : float, default=0.1, 0.05
    intensity : float, default=0.1
        Maximum relative scale and absolute shift of the intensity jitter.
    spatial_dims : {3, 2}, default=3
        2: the depth axis is a stack of 2D slices (the ``"slices"`` input kinds),
        never shifted by the affine transform (flips and rotations are in-plane
        anyway; a random crop keeps all slices when ``d`` is the stack's depth).

    Examples
    --------
    >>> import torch
    >>> aug = BatchAugmenter((4, 8, 8))
    >>> g = torch.Generator().manual_seed(0)
    >>> v, m = aug.train(torch.randn(2, 2, 6, 12, 12), torch.ones(2, 2, 6, 12, 12), g)
    >>> tuple(v.shape), tuple(aug.inference(torch.randn(2, 2, 6, 12, 12)).shape)
    ((2, 2, 4, 8, 8), (2, 2, 4, 8, 8))
    """

    def __init__(self, crop_size: Size3, flip: bool = True, rotation: float = 10.0,
                 scale: float = 0.1, translation: float = 0.05, intensity: float = 0.1,
                 spatial_dims: int = 3) -> None:
        self.crop_size = tuple(int(s) for s in crop_size)
        self.spatial_dims = spatial_dims
        self.flip = flip
        self.rotation = rotation
        self.scale = scale
        self.translation = translation
        self.intensity = intensity

    def train(self, volumes: torch.Tensor, masks: torch.Tensor | None,
              generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Augment a training batch ``(B, S, D, H, W) -> (B, S, d, h, w)``."""
        volumes, masks = random_crop(volumes, masks, self.crop_size, generator)
        if self.flip:
            volumes, masks = random_flip(volumes, masks, generator)
        if self.rotation or self.scale or self.translation:
            volumes, masks = random_affine(volumes, masks, generator, self.rotation,
                                           self.scale, self.translation,
                                           depth_shift=self.spatial_dims == 3)
        if self.intensity:
            volumes = intensity_jitter(volumes, generator, self.intensity, self.intensity)
        return volumes, masks

    def inference(self, volumes: torch.Tensor) -> torch.Tensor:
        """Centre crop ``(B, S, D, H, W) -> (B, S, d, h, w)``."""
        return center_crop(volumes, self.crop_size)
