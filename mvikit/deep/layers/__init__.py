"""Building blocks shared by mvikit's 3D networks (pure PyTorch)."""

from .attention import SymmetricAttention
from .blocks import (
                     ConvBlock3d,
                     ConvTrunk3d,
                     global_avg_max_pool,
                     scaled_channels,
                     trunk_gradcam_layers,
)
from .fusion import ClinicalGates, channel_gate
from .graph import (
                     CMTFM,
                     MMDFM,
                     SGCM,
                     CrossGraphConv,
                     DilatedKnnGraph,
                     EdgeConv,
                     GraphConvBlock,
                     MRConv,
                     PatchNeighbourhood,
                     cosine_similarity_map,
                     cross_knn_graph,
                     dilated_knn_graph,
                     patch_neighbourhood,
                     patch_voxels,
                     select_nodes,
                     write_back_nodes,
)
from .involution import Involution, InvResNetBlock, involution_groups
from .localisation import SpatialAttentionLocalisation
from .signature_fusion import SignatureFusion, fit_signature_fusion, signature_values

__all__ = [
    "CMTFM",
    "MMDFM",
    "SGCM",
    "ClinicalGates",
    "ConvBlock3d",
    "ConvTrunk3d",
    "InvResNetBlock",
    "Involution",
    "SignatureFusion",
    "SpatialAttentionLocalisation",
    "SymmetricAttention",
    "channel_gate",
    "fit_signature_fusion",
    "global_avg_max_pool",
    "involution_groups",
    "scaled_channels",
    "signature_values",
    "CrossGraphConv",
    "DilatedKnnGraph",
    "EdgeConv",
    "GraphConvBlock",
    "MRConv",
    "PatchNeighbourhood",
    "cosine_similarity_map",
    "cross_knn_graph",
    "dilated_knn_graph",
    "patch_neighbourhood",
    "patch_voxels",
    "select_nodes",
    "trunk_gradcam_layers",
    "write_back_nodes",
]
