"""Building blocks shared by mvikit's 3D networks (pure PyTorch)."""

from .attention import SymmetricAttention
from .blocks import (ConvBlock3d, ConvTrunk3d, global_avg_max_pool, scaled_channels,
                     trunk_gradcam_layers)
from .fusion import ClinicalGates, channel_gate
from .involution import Involution, InvResNetBlock, involution_groups
from .localisation import SpatialAttentionLocalisation

__all__ = [
    "ClinicalGates",
    "ConvBlock3d",
    "ConvTrunk3d",
    "InvResNetBlock",
    "Involution",
    "SpatialAttentionLocalisation",
    "SymmetricAttention",
    "channel_gate",
    "global_avg_max_pool",
    "involution_groups",
    "scaled_channels",
    "trunk_gradcam_layers",
]
