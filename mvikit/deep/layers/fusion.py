"""Channel-wise clinical gating of image feature maps (eq. 1 of MD-Net)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ClinicalGates", "channel_gate"]


def channel_gate(features: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
    """Multiply each channel of a feature map by one number (eq. 1 of MD-Net).

    ``Y_i(u) = C_i * X_i(u)`` for every voxel ``u`` of channel ``i``.

    Parameters
    ----------
    features : Tensor of shape (B, C, D, H, W)
    gate : Tensor of shape (B, C)

    Returns
    -------
    Tensor of shape (B, C, D, H, W)

    Examples
    --------
    >>> import torch
    >>> x = torch.ones(1, 2, 1, 1, 2)
    >>> channel_gate(x, torch.tensor([[2.0, 0.5]])).flatten().tolist()
    [2.0, 2.0, 0.5, 0.5]
    """
    if gate.shape != features.shape[:2]:
        raise ValueError(f"gate shape {tuple(gate.shape)} does not match the (B, C) of the "
                         f"feature map {tuple(features.shape)}")
    return features * gate[:, :, None, None, None]


class ClinicalGates(nn.Module):
    """Four chained fully-connected layers turning a clinical vector into gates.

    MD-Net's MRI-clinical-fusion module (Fig. 3a) maps the clinical vector through
    FC layers with 64, 128, 256 and 256 outputs (times ``width``) and multiplies the
    k-th output channel-wise with the k-th image block's feature map (eq. 1).  The
    FC layers are chained (each feeds the next through a ReLU).  The gate itself is
    ``sigmoid`` of the layer's pre-activation, so it lies in (0, 1): eq. 1 leaves the
    range open, and a bounded gate cannot flip the sign of, or blow up, an image
    channel when a clinical vector is unusual.

    Parameters
    ----------
    n_clinical : int
        Length of the (preprocessed) clinical vector.
    channels : tuple of int
        Output size of each FC layer = channels of the matching image block.

    Notes
    -----
    Shapes: ``(B, n_clinical) -> [(B, channels[0]), ..., (B, channels[-1])]``.
    """

    def __init__(self, n_clinical: int, channels: tuple[int, ...]) -> None:
        super().__init__()
        ins = (n_clinical,) + tuple(channels[:-1])
        self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in zip(ins, channels))

    def forward(self, clinical: torch.Tensor) -> list[torch.Tensor]:
        gates = []
        hidden = clinical
        for layer in self.layers:
            pre = layer(hidden)
            gates.append(torch.sigmoid(pre))
            hidden = torch.relu(pre)
        return gates
