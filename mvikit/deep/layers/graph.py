"""Graph modules of DMMGNet (seed 002, Sec. 3.2-3.4), in plain PyTorch.

Node selection and write-back (eq. 5), dynamic dilated kNN graphs (Li et al.,
DeepGCNs, ICCV 2019; Han et al., Vision GNN, NeurIPS 2022 -- the paper's [19]),
max-relative and edge graph convolutions, and the three modules built on them:
:class:`SGCM` (spatial graph convolution), :class:`MMDFM` (liver-tumour fusion,
eqs. 6-8) and :class:`CMTFM` (cross-sequence topology fusion).

Node features are ``(B, N, C)`` tensors (one row per node); a graph is a long
tensor ``(B, N, k)`` of neighbour indices.  The convolutions run on *packed*
graphs, ``(N, C)`` nodes and ``(N, k)`` indices into an ``(M, C)`` source table,
so that a batch of graphs of different sizes (CMTFM's neighbourhoods) is one
call and one batch normalisation, as for equal sizes.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "CMTFM",
    "MMDFM",
    "SGCM",
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
    "write_back_nodes",
]


# ----------------------------------------------------------------------------- node selection

def select_nodes(features: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per slice, the ``k`` in-plane positions of largest channel sum (eq. 5).

    ``index_i = sum_c f_i``, ``phi_i = gather(top_k(index_i), f_i)`` for every
    slice ``i`` of the depth axis; the ``D * k`` selected feature vectors are the
    nodes of one graph per sample.

    Parameters
    ----------
    features : Tensor of shape (B, C, D, H, W)
        A feature map.
    k : int
        Positions per slice, ``1 <= k <= H * W``.

    Returns
    -------
    nodes : Tensor of shape (B, D * k, C)
        Slice by slice, each slice's nodes in decreasing channel sum.
    index : LongTensor of shape (B, D, k)
        Their in-plane positions ``h * W + w``; :func:`write_back_nodes` puts
        updated nodes back there.

    Examples
    --------
    >>> import torch
    >>> f = torch.tensor([[5., 1.], [2., 7.]]).reshape(1, 1, 1, 2, 2)
    >>> nodes, index = select_nodes(f, 2)
    >>> index.tolist(), nodes.flatten().tolist()
    ([[[3, 0]]], [7.0, 5.0])
    """
    batch, channels, depth, height, width = features.shape
    if not 1 <= k <= height * width:
        raise ValueError(f"k={k} positions per slice are asked for, but a slice has "
                         f"{height * width} ({height} x {width}); use 1 <= k <= H * W.")
    flat = features.flatten(3)  # (B, C, D, H*W)
    index = flat.sum(1).topk(k, dim=-1).indices  # eq. (5): top-k of the channel sum
    nodes = flat.gather(3, index.unsqueeze(1).expand(batch, channels, depth, k))
    return nodes.flatten(2).transpose(1, 2), index


def write_back_nodes(features: torch.Tensor, nodes: torch.Tensor,
                     index: torch.Tensor) -> torch.Tensor:
    """Put node features back at the positions :func:`select_nodes` took them from.

    The paper's "feature local replacement" (Sec. 3.2): every other position
    keeps its input value.  Out of place (the input is not modified), so
    gradients reach both the untouched positions and the nodes.

    Parameters
    ----------
    features : Tensor of shape (B, C, D, H, W)
        The map the nodes were selected from.
    nodes : Tensor of shape (B, D * k, C)
        Updated nodes, in the order :func:`select_nodes` returned them.
    index : LongTensor of shape (B, D, k)
        Their positions, as returned by :func:`select_nodes`.

    Returns
    -------
    Tensor of shape (B, C, D, H, W)

    Examples
    --------
    >>> import torch
    >>> f = torch.randn(2, 3, 4, 5, 5)
    >>> nodes, index = select_nodes(f, 6)
    >>> bool(torch.equal(write_back_nodes(f, nodes, index), f))
    True
    """
    batch, channels, depth = features.shape[:3]
    k = index.shape[-1]
    values = nodes.transpose(1, 2).reshape(batch, channels, depth, k)
    flat = features.flatten(3).scatter(3, index.unsqueeze(1).expand(batch, channels, depth, k),
                                       values)
    return flat.reshape(features.shape)


# ----------------------------------------------------------------------------- graphs

def _dilated_ranks(score: torch.Tensor, k: int, dilation: int, stochastic: bool,
                   epsilon: float) -> torch.Tensor:
    """Every ``dilation``-th of the ``k * dilation`` highest scores per row (DeepGCNs'
    dilated kNN); with ``stochastic``, with probability ``epsilon`` per call, the
    first plus ``k - 1`` drawn at random (per row) from the other ``k * dilation - 1``."""
    ranked = score.topk(k * dilation, dim=-1).indices  # (B, N, k*d), nearest first
    if stochastic and k > 1 and dilation > 1 and float(torch.rand(())) < epsilon:
        draws = torch.rand(ranked.shape[:-1] + (k * dilation - 1,), device=score.device)
        others = draws.argsort(-1)[..., :k - 1].sort(-1).values + 1  # keep nearest-first order
        picks = torch.cat([torch.zeros_like(others[..., :1]), others], dim=-1)
        return ranked.gather(-1, picks)
    return ranked[..., ::dilation]


def _check_graph_size(k: int, dilation: int, n_sources: int) -> None:
    if k < 1 or dilation < 1 or k * dilation > n_sources:
        raise ValueError(f"a dilated kNN graph with k={k}, dilation={dilation} needs "
                         f"k * dilation <= {n_sources} nodes; lower k or dilation "
                         f"(DilatedKnnGraph lowers them itself for small graphs).")


@torch.no_grad()
def dilated_knn_graph(nodes: torch.Tensor, k: int, dilation: int = 1, *,
                      stochastic: bool = False, epsilon: float = 0.2) -> torch.Tensor:
    """Dilated k-nearest-neighbour graph of a node set (DeepGCNs, Sec. 3.4).

    Neighbours by Euclidean distance, each node its own first neighbour (forced,
    so duplicated feature vectors cannot push it out); the graph keeps every
    ``dilation``-th of the ``k * dilation`` nearest, i.e. ranks
    ``0, d, 2d, ..., (k-1)d``.  With ``stochastic=True`` (for training only; see
    :class:`DilatedKnnGraph`), with probability ``epsilon`` the node itself plus
    ``k - 1`` neighbours drawn at random among the other ``k * d - 1`` nearest
    (DeepGCNs' stochastic dilation, drawn per node).

    Parameters
    ----------
    nodes : Tensor of shape (B, N, C)
    k : int
        Neighbours per node, the node included.
    dilation : int, default=1
    stochastic : bool, default=False
    epsilon : float, default=0.2

    Returns
    -------
    LongTensor of shape (B, N, k)
        Neighbour indices, nearest first; column 0 is the node itself.

    Examples
    --------
    >>> import torch
    >>> line = torch.tensor([0., 1., 3., 7., 12.]).reshape(1, 5, 1)
    >>> dilated_knn_graph(line, k=2, dilation=2)[0].tolist()  # ranks 0 and 2
    [[0, 2], [1, 2], [2, 0], [3, 4], [4, 2]]
    """
    _check_graph_size(k, dilation, nodes.shape[1])
    # -|x_i - x_j|^2 without |x_i|^2, constant along row i: the same ranking, one product
    squares = (nodes * nodes).sum(-1)
    score = torch.baddbmm(-squares[:, None, :], nodes, nodes.transpose(1, 2), alpha=2)
    score.diagonal(dim1=1, dim2=2).fill_(math.inf)  # each node its own first neighbour
    return _dilated_ranks(score, k, dilation, stochastic, epsilon)


@torch.no_grad()
def cross_knn_graph(similarity: torch.Tensor, k: int, dilation: int = 1, *,
                    stochastic: bool = False, epsilon: float = 0.2) -> torch.Tensor:
    """Dilated top-k cross selection from a similarity map (eq. 6 and Sec. 3.3).

    Row ``i`` of ``similarity`` scores every node of another set against node
    ``i``; the graph keeps every ``dilation``-th of its ``k * dilation`` most
    similar, most similar first (the stochastic variant as in
    :func:`dilated_knn_graph`, the most similar always kept).

    Parameters
    ----------
    similarity : Tensor of shape (B, N, M)
    k : int
    dilation : int, default=1
    stochastic : bool, default=False
    epsilon : float, default=0.2

    Returns
    -------
    LongTensor of shape (B, N, k)
        Indices into the ``M`` nodes of the other set.

    Examples
    --------
    >>> import torch
    >>> sim = torch.tensor([[[0.1, 0.9, 0.5], [0.7, 0.2, 0.3]]])
    >>> cross_knn_graph(sim, k=2)[0].tolist()
    [[1, 2], [0, 2]]
    """
    _check_graph_size(k, dilation, similarity.shape[-1])
    return _dilated_ranks(similarity, k, dilation, stochastic, epsilon)


def cosine_similarity_map(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``M[i, j] = cos(a_i, b_j)``, the similarity map of eq. (6) with ``g`` the cosine.

    Parameters
    ----------
    a : Tensor of shape (B, N, C)
    b : Tensor of shape (B, M, C)

    Returns
    -------
    Tensor of shape (B, N, M)

    Examples
    --------
    >>> import torch
    >>> a = torch.tensor([[[1., 0.], [1., 1.]]])
    >>> b = torch.tensor([[[2., 0.], [0., 3.]]])
    >>> cosine_similarity_map(a, b).round(decimals=4)[0].tolist()
    [[1.0, 0.0], [0.7071, 0.7071]]
    """
    return F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).transpose(1, 2)


class DilatedKnnGraph(nn.Module):
    """A dynamic dilated kNN graph, stochastic only in training mode.

    Built from the current features at every call (the graph is "dynamic").
    Distances are taken between L2-normalised features, as in Vision GNN, so
    the nearest nodes are the most cosine-similar ones (``|a-b|^2 = 2 - 2 cos``
    for unit vectors) and :meth:`from_similarity` on eq. (6)'s map ranks the
    same way.  Random dilation (DeepGCNs) is applied only when the module is in
    training mode and ``stochastic=True``; ``eval()`` gives the plain dilated graph.
    When a graph has fewer than ``k * dilation`` candidate nodes, ``k`` is cut
    to the number of candidates, then ``dilation`` to what fits.

    Parameters
    ----------
    k : int, default=9
        Neighbours per node (a self graph counts the node itself).
    dilation : int, default=1
    stochastic : bool, default=True
    epsilon : float, default=0.2
        Probability of random dilation per call in training mode.

    Examples
    --------
    >>> import torch
    >>> graph = DilatedKnnGraph(k=3, dilation=2).eval()
    >>> nodes = torch.randn(2, 10, 4)
    >>> neighbours = graph(nodes)
    >>> tuple(neighbours.shape), bool((neighbours[..., 0] == torch.arange(10)).all())
    ((2, 10, 3), True)
    """

    def __init__(self, k: int = 9, dilation: int = 1, stochastic: bool = True,
                 epsilon: float = 0.2) -> None:
        super().__init__()
        self.k = k
        self.dilation = dilation
        self.stochastic = stochastic
        self.epsilon = epsilon

    def _sizes(self, n_sources: int) -> tuple[int, int]:
        k = min(self.k, n_sources)
        return k, max(1, min(self.dilation, n_sources // k))

    def forward(self, nodes: torch.Tensor) -> torch.Tensor:
        """``(B, N, C) -> (B, N, k)`` neighbour indices of the self graph."""
        k, dilation = self._sizes(nodes.shape[1])
        return dilated_knn_graph(F.normalize(nodes.detach(), dim=-1), k, dilation,
                                 stochastic=self.stochastic and self.training,
                                 epsilon=self.epsilon)

    def from_similarity(self, similarity: torch.Tensor) -> torch.Tensor:
        """``(B, N, M) -> (B, N, k)`` indices into the other set (cross graph)."""
        k, dilation = self._sizes(similarity.shape[-1])
        return cross_knn_graph(similarity.detach(), k, dilation,
                               stochastic=self.stochastic and self.training,
                               epsilon=self.epsilon)

    def extra_repr(self) -> str:
        return (f"k={self.k}, dilation={self.dilation}, stochastic={self.stochastic}, "
                f"epsilon={self.epsilon}")


# ----------------------------------------------------------------------------- convolutions

class _NodeMLP(nn.Sequential):
    """Linear -> BatchNorm -> GELU on the last axis of any ``(..., C)`` tensor."""

    def __init__(self, in_channels: int, out_channels: int, activation: bool = True) -> None:
        super().__init__(nn.Linear(in_channels, out_channels, bias=False),
                         nn.BatchNorm1d(out_channels),
                         nn.GELU() if activation else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.reshape(-1, x.shape[-1])).reshape(*x.shape[:-1], -1)


def _pack_graph(neighbours: torch.Tensor, n_sources: int) -> torch.Tensor:
    """``(B, N, k)`` per-sample indices -> ``(B*N, k)`` indices into ``B * n_sources`` rows."""
    offsets = torch.arange(neighbours.shape[0], device=neighbours.device) * n_sources
    return (neighbours + offsets[:, None, None]).flatten(0, 1)


class MRConv(nn.Module):
    """Max-relative graph convolution (DeepGCNs, eq. 7; Vision GNN's default).

    ``h_i = GELU(BN(W [x_i, max_{j in N(i)} (y_j - x_i)]))`` with ``y`` the source
    nodes (``x`` itself for a self graph).  One full linear map of the
    concatenation: every output channel sees the node and its neighbours (a
    grouped 1x1 convolution over ``[x, max(y - x)]`` would hide the neighbours
    from half the output channels).

    Parameters
    ----------
    in_channels : int
    out_channels : int

    Notes
    -----
    Packed shapes: ``x (N, C)``, ``neighbours (N, k)`` indexing ``sources (M, C)``
    -> ``(N, out_channels)``.  Repeated neighbour indices do not change the max.

    Examples
    --------
    >>> import torch
    >>> conv = MRConv(4, 6).eval()
    >>> x = torch.randn(5, 4)
    >>> conv(x, torch.tensor([[0, 1], [1, 2], [2, 3], [3, 4], [4, 0]])).shape
    torch.Size([5, 6])
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.mlp = _NodeMLP(2 * in_channels, out_channels)

    def forward(self, x: torch.Tensor, neighbours: torch.Tensor,
                sources: torch.Tensor | None = None) -> torch.Tensor:
        sources = x if sources is None else sources
        relative = (sources[neighbours] - x.unsqueeze(1)).amax(1)  # (N, C)
        return self.mlp(torch.cat([x, relative], dim=-1))


class EdgeConv(nn.Module):
    """Edge convolution (Wang et al., DGCNN 2019; DeepGCNs, eq. 6).

    ``h_i = max_{j in N(i)} GELU(BN(W [x_i, y_j - x_i]))``: an MLP on every edge,
    then the max over a node's edges.  Same packed shapes as :class:`MRConv`.

    Parameters
    ----------
    in_channels : int
    out_channels : int

    Examples
    --------
    >>> import torch
    >>> conv = EdgeConv(4, 6).eval()
    >>> conv(torch.randn(3, 4), torch.tensor([[0, 1], [1, 2], [2, 0]])).shape
    torch.Size([3, 6])
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.mlp = _NodeMLP(2 * in_channels, out_channels)

    def forward(self, x: torch.Tensor, neighbours: torch.Tensor,
                sources: torch.Tensor | None = None) -> torch.Tensor:
        sources = x if sources is None else sources
        centre = x.unsqueeze(1).expand(-1, neighbours.shape[1], -1)  # (N, k, C)
        edges = torch.cat([centre, sources[neighbours] - centre], dim=-1)
        return self.mlp(edges).amax(1)


_CONVOLUTIONS = {"mr": MRConv, "edge": EdgeConv}


def _make_conv(conv: str, channels: int) -> nn.Module:
    if conv not in _CONVOLUTIONS:
        raise ValueError(f"conv={conv!r} is not a graph convolution; use one of "
                         f"{sorted(_CONVOLUTIONS)}.")
    return _CONVOLUTIONS[conv](channels, channels)


class GraphConvBlock(nn.Module):
    """Graph convolution over a dynamic dilated kNN graph of the nodes, with a residual.

    ``x -> x + BN(W_out conv(x, G(x)))`` with ``G`` a :class:`DilatedKnnGraph`
    (Vision GNN's Grapher without its input projection): the feature
    interaction of SGCM (Sec. 3.2).

    Parameters
    ----------
    channels : int
    k : int, default=9
    dilation : int, default=1
    conv : {"mr", "edge"}, default="mr"
        :class:`MRConv` or :class:`EdgeConv`.
    stochastic : bool, default=True
    epsilon : float, default=0.2

    Notes
    -----
    Shapes: ``(B, N, C) -> (B, N, C)``.  Equivariant to permutations of the
    nodes (in eval mode, for distinct distances).

    Examples
    --------
    >>> import torch
    >>> block = GraphConvBlock(8, k=4, dilation=2).eval()
    >>> x = torch.randn(2, 12, 8)
    >>> perm = torch.randperm(12)
    >>> bool(torch.allclose(block(x)[:, perm], block(x[:, perm]), atol=1e-6))
    True
    """

    def __init__(self, channels: int, k: int = 9, dilation: int = 1, conv: str = "mr",
                 stochastic: bool = True, epsilon: float = 0.2) -> None:
        super().__init__()
        self.graph = DilatedKnnGraph(k, dilation, stochastic, epsilon)
        self.conv = _make_conv(conv, channels)
        self.out = _NodeMLP(channels, channels, activation=False)

    def forward(self, nodes: torch.Tensor) -> torch.Tensor:
        n_nodes, channels = nodes.shape[1:]
        neighbours = _pack_graph(self.graph(nodes), n_nodes)
        messages = self.conv(nodes.reshape(-1, channels), neighbours)
        return nodes + self.out(messages).reshape(nodes.shape)


class CrossGraphConv(nn.Module):
    """Graph messages between two node sets: each node reads its most similar nodes
    of the other set.

    With ``S = cos(x_i, y_j)`` (eq. 6), node ``x_i``'s neighbours are the (dilated)
    top-k of row ``i`` of ``S`` and ``y_j``'s the top-k of column ``j``; each set
    has its own convolution and output map.  Returns the messages
    ``Psi_x = BN(W conv(x, G_xy, y))`` and ``Psi_y``, which the caller fuses with
    its nodes (eqs. 7-8 in :class:`MMDFM`, a residual in :class:`CMTFM`).

    Parameters
    ----------
    channels : int
    k : int, default=9
    dilation : int, default=1
    conv : {"mr", "edge"}, default="mr"
    stochastic : bool, default=True
    epsilon : float, default=0.2

    Notes
    -----
    Shapes: ``x (B, N, C), y (B, M, C) -> (B, N, C), (B, M, C)``; the packed form
    :meth:`messages` takes graphs of different sizes in one call.

    Examples
    --------
    >>> import torch
    >>> fuse = CrossGraphConv(8, k=3).eval()
    >>> psi_x, psi_y = fuse(torch.randn(2, 6, 8), torch.randn(2, 9, 8))
    >>> tuple(psi_x.shape), tuple(psi_y.shape)
    ((2, 6, 8), (2, 9, 8))
    """

    def __init__(self, channels: int, k: int = 9, dilation: int = 1, conv: str = "mr",
                 stochastic: bool = True, epsilon: float = 0.2) -> None:
        super().__init__()
        self.graph = DilatedKnnGraph(k, dilation, stochastic, epsilon)
        self.conv_x = _make_conv(conv, channels)
        self.conv_y = _make_conv(conv, channels)
        self.out_x = _NodeMLP(channels, channels, activation=False)
        self.out_y = _NodeMLP(channels, channels, activation=False)

    def graphs(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, N, k)`` indices into ``y`` and ``(B, M, k')`` indices into ``x``."""
        similarity = cosine_similarity_map(x, y)  # eq. (6)
        return (self.graph.from_similarity(similarity),
                self.graph.from_similarity(similarity.transpose(1, 2)))

    def messages(self, x: torch.Tensor, y: torch.Tensor, x_neighbours: torch.Tensor,
                 y_neighbours: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Packed: ``x (N, C), y (M, C)``, ``x_neighbours (N, k)`` into ``y`` and
        ``y_neighbours (M, k')`` into ``x`` -> ``Psi_x (N, C), Psi_y (M, C)``."""
        return (self.out_x(self.conv_x(x, x_neighbours, y)),
                self.out_y(self.conv_y(y, y_neighbours, x)))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x_neighbours, y_neighbours = self.graphs(x, y)
        psi_x, psi_y = self.messages(x.flatten(0, 1), y.flatten(0, 1),
                                     _pack_graph(x_neighbours, y.shape[1]),
                                     _pack_graph(y_neighbours, x.shape[1]))
        return psi_x.reshape(x.shape), psi_y.reshape(y.shape)


# ----------------------------------------------------------------------------- DMMGNet modules

class SGCM(nn.Module):
    """Spatial graph convolution module (DMMGNet, Sec. 3.2, Fig. 2).

    Node selection (eq. 5: per slice, the ``nodes_per_slice`` positions of
    largest channel sum), feature interaction (:class:`GraphConvBlock` over a
    dynamic dilated kNN graph of all ``D * nodes_per_slice`` nodes of a sample)
    and feature local replacement (the updated nodes written back in place;
    every other position unchanged).

    Parameters
    ----------
    channels : int
        ``C`` of the feature map.
    nodes_per_slice : int, default=16
        ``k`` of eq. (5); cut to ``H * W`` for small maps.
    k : int, default=9
        Graph neighbours per node, the node included.
    dilation : int, default=2
    conv : {"mr", "edge"}, default="mr"
    stochastic : bool, default=True
        Random dilation in training mode (never in eval mode).
    epsilon : float, default=0.2

    Notes
    -----
    Shapes: ``(B, C, D, H, W) -> (B, C, D, H, W)``.

    Examples
    --------
    >>> import torch
    >>> sgcm = SGCM(8, nodes_per_slice=4, k=3).eval()
    >>> x = torch.randn(2, 8, 3, 6, 6)
    >>> out = sgcm(x)
    >>> changed = (out != x).any(1)  # (B, D, H, W)
    >>> out.shape, changed.flatten(2).sum(-1).tolist()  # 4 positions per slice
    (torch.Size([2, 8, 3, 6, 6]), [[4, 4, 4], [4, 4, 4]])
    """

    def __init__(self, channels: int, nodes_per_slice: int = 16, k: int = 9,
                 dilation: int = 2, conv: str = "mr", stochastic: bool = True,
                 epsilon: float = 0.2) -> None:
        super().__init__()
        self.nodes_per_slice = nodes_per_slice
        self.graph = GraphConvBlock(channels, k, dilation, conv, stochastic, epsilon)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        height, width = features.shape[-2:]
        nodes, index = select_nodes(features, min(self.nodes_per_slice, height * width))
        return write_back_nodes(features, self.graph(nodes), index)


class MMDFM(nn.Module):
    """Multi-module dynamic fusion of a tumour and a liver feature map (Sec. 3.3, Fig. 3).

    Nodes are selected from both maps as in :class:`SGCM` (eq. 5); the cosine
    similarity map ``M[i, j] = cos(Tumor_i, Liver_j)`` (eq. 6) gives each tumour
    node its (dilated) top-k most similar liver nodes and each liver node its
    top-k tumour nodes (top-k along the two axes of ``M``); a graph convolution
    over these cross graphs gives ``Psi_tumor`` (what the liver tells each
    tumour node) and ``Psi_liver``, fused with learnable scalars::

        Phi_t = alpha_1 * Tumor + alpha_2 * Psi_tumor      (eq. 7)
        Phi_l = alpha_3 * Liver + alpha_4 * Psi_liver      (eq. 8)

    and written back to the positions the nodes came from.  The paper's
    ``alpha = [alpha_1, ..., alpha_4]`` is read as one pair per tissue (its eqs. 7-8
    print ``alpha_1, alpha_2`` twice); all four start at 1.  Each output depends
    on both inputs: the tumour map's gradient reaches the liver input and vice versa.

    Parameters
    ----------
    channels : int
    nodes_per_slice : int, default=16
    k : int, default=9
        Cross neighbours per node.
    dilation : int, default=1
    conv : {"mr", "edge"}, default="mr"
    stochastic : bool, default=True
    epsilon : float, default=0.2

    Attributes
    ----------
    alpha : Parameter of shape (4,)

    Notes
    -----
    Shapes: ``tumour (B, C, Dt, Ht, Wt), liver (B, C, Dl, Hl, Wl) -> same two shapes``.

    Examples
    --------
    >>> import torch
    >>> fusion = MMDFM(8, nodes_per_slice=4, k=3).eval()
    >>> tumour, liver = torch.randn(2, 8, 3, 6, 6), torch.randn(2, 8, 3, 10, 10)
    >>> new_tumour, new_liver = fusion(tumour, liver)
    >>> new_tumour.shape, new_liver.shape
    (torch.Size([2, 8, 3, 6, 6]), torch.Size([2, 8, 3, 10, 10]))
    """

    def __init__(self, channels: int, nodes_per_slice: int = 16, k: int = 9,
                 dilation: int = 1, conv: str = "mr", stochastic: bool = True,
                 epsilon: float = 0.2) -> None:
        super().__init__()
        self.nodes_per_slice = nodes_per_slice
        self.cross = CrossGraphConv(channels, k, dilation, conv, stochastic, epsilon)
        self.alpha = nn.Parameter(torch.ones(4))

    def _select(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        height, width = features.shape[-2:]
        return select_nodes(features, min(self.nodes_per_slice, height * width))

    def forward(self, tumour: torch.Tensor,
                liver: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tumour_nodes, tumour_index = self._select(tumour)
        liver_nodes, liver_index = self._select(liver)
        psi_tumour, psi_liver = self.cross(tumour_nodes, liver_nodes)
        fused_tumour = self.alpha[0] * tumour_nodes + self.alpha[1] * psi_tumour  # eq. (7)
        fused_liver = self.alpha[2] * liver_nodes + self.alpha[3] * psi_liver  # eq. (8)
        return (write_back_nodes(tumour, fused_tumour, tumour_index),
                write_back_nodes(liver, fused_liver, liver_index))


class PatchNeighbourhood(NamedTuple):
    """The patches of CMTFM (Sec. 3.4), as ``(z, y, x)`` patch-grid coordinates."""

    centre: torch.Tensor
    """LongTensor (3,): the patch holding the most mask voxels (first in raster order on ties)."""
    first_order: torch.Tensor
    """LongTensor (n1, 3): the patches adjacent to the centre in the 26 directions."""
    second_order: torch.Tensor
    """LongTensor (n2, 3): the patches one ring further out (Chebyshev distance 2)."""


def patch_neighbourhood(mask: torch.Tensor, patch_size: int = 3) -> PatchNeighbourhood:
    """Cut a tumour mask into cubic patches; the largest is the centre (Sec. 3.4).

    The volume is cut into ``patch_size`` ^ 3 patches from the corner (the last
    patches along an axis may be partial); the patch with the most mask voxels
    is the centre, the patches at Chebyshev distance 1 in the patch grid (the
    26 directions) its first-order neighbours, at distance 2 its second-order
    neighbours; patches outside the volume do not exist.

    Parameters
    ----------
    mask : Tensor of shape (D, H, W)
        Non-zero = tumour.
    patch_size : int, default=3

    Returns
    -------
    PatchNeighbourhood

    Examples
    --------
    >>> import torch
    >>> mask = torch.zeros(9, 9, 9)
    >>> mask[0:3, 0:3, 0:3] = 1  # the corner patch
    >>> hood = patch_neighbourhood(mask)
    >>> hood.centre.tolist(), len(hood.first_order), len(hood.second_order)
    ([0, 0, 0], 7, 19)
    """
    padding = [(-n) % patch_size for n in mask.shape]  # partial patches at the far ends
    padded = F.pad(mask.float(), (0, padding[2], 0, padding[1], 0, padding[0]))
    grid_shape = [n // patch_size for n in padded.shape]
    counts = padded.reshape(grid_shape[0], patch_size, grid_shape[1], patch_size,
                            grid_shape[2], patch_size).sum((1, 3, 5))  # mask voxels per patch
    grid = torch.stack(torch.meshgrid(*(torch.arange(n, device=mask.device)
                                        for n in counts.shape), indexing="ij"), dim=-1)
    grid = grid.reshape(-1, 3)
    centre = grid[counts.flatten().argmax()]
    ring = (grid - centre).abs().amax(-1)  # Chebyshev distance in the patch grid
    return PatchNeighbourhood(centre, grid[ring == 1], grid[ring == 2])


def patch_voxels(patches: torch.Tensor, shape: tuple[int, int, int],
                 patch_size: int = 3) -> torch.Tensor:
    """Flat voxel indices ``(z * H + y) * W + x`` of the voxels of some patches.

    Parameters
    ----------
    patches : LongTensor of shape (n, 3)
        Patch-grid coordinates, e.g. from :func:`patch_neighbourhood`.
    shape : tuple of int
        ``(D, H, W)`` of the volume; voxels of partial patches outside it are left out.
    patch_size : int, default=3

    Returns
    -------
    LongTensor of shape (n_voxels,)

    Examples
    --------
    >>> import torch
    >>> patch_voxels(torch.tensor([[0, 0, 1]]), (1, 2, 4), patch_size=2).tolist()
    [2, 3, 6, 7]
    """
    offsets = torch.stack(torch.meshgrid(*[torch.arange(patch_size, device=patches.device)] * 3,
                                         indexing="ij"), dim=-1).reshape(-1, 3)
    voxels = (patches[:, None, :] * patch_size + offsets[None]).reshape(-1, 3)
    limits = torch.tensor(shape, device=patches.device)
    voxels = voxels[(voxels < limits).all(-1)]
    return (voxels[:, 0] * shape[1] + voxels[:, 1]) * shape[2] + voxels[:, 2]


class CMTFM(nn.Module):
    """Cross-model topology fusion of two sequences' tumour maps (Sec. 3.4, Fig. 4).

    Per sample, the tumour mask is cut into 3x3x3 patches (in feature-map
    voxels); the largest patch is the centre, the 26 adjacent patches its
    first-order and the next ring its second-order neighbours
    (:func:`patch_neighbourhood`).  The voxels of the centre and first-order
    patches form one node set per sequence, those of the second-order patches
    another; on each set, every node of one sequence reads its (dilated) top-k
    most similar nodes of the other sequence (:class:`CrossGraphConv`, one per
    order), the message is added to the node, and the fused nodes are written
    back to their voxels; every other voxel is unchanged.  A sample with an
    empty mask passes unchanged.

    Parameters
    ----------
    channels : int
    patch_size : int, default=3
    k : int, default=9
    dilation : int, default=1
    conv : {"mr", "edge"}, default="mr"
    stochastic : bool, default=True
    epsilon : float, default=0.2

    Notes
    -----
    Shapes: ``x (B, C, D, H, W)`` (e.g. PV), ``y`` the same shape (e.g. T2), ``mask``
    ``(B, 1, D, H, W)`` or ``(B, D, H, W)`` on the same grid -> ``x', y'`` of ``x``'s shape.
    The centre patch joins the first-order set (the paper does not say where it goes).

    Examples
    --------
    >>> import torch
    >>> fusion = CMTFM(4, k=3).eval()
    >>> pv, t2 = torch.randn(2, 4, 6, 12, 12), torch.randn(2, 4, 6, 12, 12)
    >>> mask = torch.zeros(2, 1, 6, 12, 12)
    >>> mask[:, :, 1:4, 4:8, 4:8] = 1
    >>> new_pv, new_t2 = fusion(pv, t2, mask)
    >>> new_pv.shape, bool((new_pv != pv).any()), bool((new_t2 != t2).any())
    (torch.Size([2, 4, 6, 12, 12]), True, True)
    """

    def __init__(self, channels: int, patch_size: int = 3, k: int = 9, dilation: int = 1,
                 conv: str = "mr", stochastic: bool = True, epsilon: float = 0.2) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.orders = nn.ModuleList(CrossGraphConv(channels, k, dilation, conv, stochastic,
                                                   epsilon) for _ in range(2))

    def _node_sets(self, mask: torch.Tensor) -> list[list[torch.Tensor]]:
        """Per order, the flat indices into the ``B * D * H * W`` voxels of the batch."""
        shape = tuple(mask.shape[1:])
        n_voxels = math.prod(shape)
        sets: list[list[torch.Tensor]] = [[], []]
        for sample, sample_mask in enumerate(mask):
            if not sample_mask.any():
                continue
            hood = patch_neighbourhood(sample_mask, self.patch_size)
            first = torch.cat([hood.centre[None], hood.first_order])
            for order, patches in enumerate((first, hood.second_order)):
                voxels = patch_voxels(patches, shape, self.patch_size)
                if len(voxels):
                    sets[order].append(voxels + sample * n_voxels)
        return sets

    def _fuse(self, fusion: CrossGraphConv, x: torch.Tensor, y: torch.Tensor,
              voxel_sets: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Fuse the ``(B*D*H*W, C)`` voxel tables on one order's node sets."""
        x_graphs, y_graphs, start = [], [], 0
        for voxels in voxel_sets:  # graphs per sample, convolutions on the packed batch
            x_neighbours, y_neighbours = fusion.graphs(x[voxels][None], y[voxels][None])
            x_graphs.append(_pad_neighbours(x_neighbours[0], fusion.graph.k) + start)
            y_graphs.append(_pad_neighbours(y_neighbours[0], fusion.graph.k) + start)
            start += len(voxels)
        voxels = torch.cat(voxel_sets)
        x_nodes, y_nodes = x[voxels], y[voxels]
        psi_x, psi_y = fusion.messages(x_nodes, y_nodes, torch.cat(x_graphs),
                                       torch.cat(y_graphs))
        return (x.index_copy(0, voxels, x_nodes + psi_x),
                y.index_copy(0, voxels, y_nodes + psi_y))

    def forward(self, x: torch.Tensor, y: torch.Tensor,
                mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = mask.squeeze(1) if mask.dim() == 5 else mask
        if x.shape != y.shape or mask.shape != x.shape[:1] + x.shape[2:]:
            raise ValueError(f"CMTFM needs two feature maps of one shape and a mask on their "
                             f"grid; got {tuple(x.shape)}, {tuple(y.shape)} and mask "
                             f"{tuple(mask.shape)}: resample the mask to the feature map.")
        channels_last = (0, 2, 3, 4, 1)
        x_table = x.permute(channels_last).reshape(-1, x.shape[1])  # (B*D*H*W, C)
        y_table = y.permute(channels_last).reshape(-1, y.shape[1])
        for fusion, voxel_sets in zip(self.orders, self._node_sets(mask)):
            if voxel_sets:
                x_table, y_table = self._fuse(fusion, x_table, y_table, voxel_sets)
        grid = x.shape[:1] + x.shape[2:] + x.shape[1:2]
        return (x_table.reshape(grid).permute(0, 4, 1, 2, 3),
                y_table.reshape(grid).permute(0, 4, 1, 2, 3))


def _pad_neighbours(neighbours: torch.Tensor, k: int) -> torch.Tensor:
    """Repeat the first neighbour up to ``k`` columns: the max aggregation of
    :class:`MRConv` and :class:`EdgeConv` does not change, and graphs of
    different sizes pack into one ``(N, k)`` tensor."""
    missing = k - neighbours.shape[1]
    return torch.cat([neighbours, neighbours[:, :1].expand(-1, missing)], dim=1)
