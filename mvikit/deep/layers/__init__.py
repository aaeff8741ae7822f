"""Building blocks shared by mvikit's 3D networks (pure PyTorch)."""

from .attention import SymmetricAttention
from .blocks import (ConvBlock3d, ConvTrunk3d, global_avg_max_pool, scaled_channels,
                     trunk_gradcam_layers)
from .fusion import ClinicalGates, channel_gate
from .graph import (CMTFM, MMDFM, SGCM, CrossGraphConv, DilatedKnnGraph, EdgeConv,
                    GraphConvBlock, MRConv, PatchNeighbourhood, cosine_similarity_map,
                    cross_knn_graph, dilated_knn_graph, patch_neighbourhood, patch_voxels,
                    select_nodes, write_back_nodes)

__all__ = [
    "CMTFM",
    "MMDFM",
    "SGCM",
    "ClinicalGates",
    "ConvBlock3d",
    "ConvTrunk3d",
    "CrossGraphConv",
    "DilatedKnnGraph",
    "EdgeConv",
    "GraphConvBlock",
    "MRConv",
    "PatchNeighbourhood",
    "SymmetricAttention",
    "channel_gate",
    "cosine_similarity_map",
    "cross_knn_graph",
    "dilated_knn_graph",
    "global_avg_max_pool",
    "patch_neighbourhood",
    "patch_voxels",
    "scaled_channels",
    "select_nodes",
    "trunk_gradcam_layers",
    "write_back_nodes",
]
