"""DMMGNet's graph modules (mvikit/deep/layers/graph.py; seed 002, Sec. 3.2-3.4).

Reference implementations here are brute force (Python loops over nodes), written
from the paper's and DeepGCNs' definitions, not from the vectorised code.
"""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mvikit.deep.layers.graph import (
    CMTFM,
    MMDFM,
    SGCM,
    CrossGraphConv,
    DilatedKnnGraph,
    EdgeConv,
    GraphConvBlock,
    MRConv,
    cross_knn_graph,
    dilated_knn_graph,
    patch_neighbourhood,
    patch_voxels,
    select_nodes,
    write_back_nodes,
)


@pytest.fixture(autouse=True)
def _torch_seed():
    torch.manual_seed(0)


def _gradient(out: torch.Tensor, wrt: torch.Tensor) -> torch.Tensor:
    """d(weighted sum of out)/d(wrt); zeros where ``wrt`` does not reach ``out`` at all."""
    (grad,) = torch.autograd.grad(_random_weights_loss(out), wrt, retain_graph=True,
                                  allow_unused=True)
    return torch.zeros_like(wrt) if grad is None else grad


def _random_weights_loss(out: torch.Tensor) -> torch.Tensor:
    # a plain sum of a batch-normalised output is constant in training mode: weight it
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))
    return (out * weights).sum()


# ----------------------------------------------------------------------------- node selection

def test_select_nodes_hand_example():
    # B=1, C=2, D=2 slices of 2 x 3; channel sums per slice:
    #   slice 0: [[3, 0, 5], [1, 9, 2]] -> top-2 positions 4 (9), 2 (5)
    #   slice 1: [[4, 8, 6], [7, 0, 1]] -> top-2 positions 1 (8), 3 (7)
    channel_0 = torch.tensor([[[1., 0., 2.], [1., 4., 1.]], [[4., 3., 6.], [2., 0., 1.]]])
    channel_1 = torch.tensor([[[2., 0., 3.], [0., 5., 1.]], [[0., 5., 0.], [5., 0., 0.]]])
    features = torch.stack([channel_0, channel_1])[None]  # (1, 2, 2, 2, 3)
    nodes, index = select_nodes(features, 2)
    assert index.tolist() == [[[4, 2], [1, 3]]]
    assert nodes.tolist() == [[[4., 5.], [2., 3.], [3., 5.], [2., 5.]]]  # (D*k, C)


@pytest.mark.parametrize("shape, k", [((2, 3, 4, 5, 5), 1), ((2, 3, 4, 5, 5), 7),
                                      ((1, 8, 3, 4, 6), 24), ((3, 1, 1, 7, 2), 5)])
def test_select_identity_write_back_reproduces_input(shape, k):
    features = torch.randn(shape)
    nodes, index = select_nodes(features, k)
    assert torch.equal(write_back_nodes(features, nodes, index), features)
    sgcm = SGCM(shape[1], nodes_per_slice=k)
    sgcm.graph = nn.Identity()  # the module's select -> graph op -> write back path
    assert torch.equal(sgcm(features), features)


def test_sgcm_updates_exactly_the_selected_nodes():
    features = torch.randn(2, 6, 3, 5, 5)
    sgcm = SGCM(6, nodes_per_slice=4, k=3, dilation=2).eval()
    nodes, index = select_nodes(features, 4)
    expected = write_back_nodes(features, sgcm.graph(nodes), index)
    out = sgcm(features)
    assert torch.equal(out, expected)
    changed = (out != features).any(1).flatten(2)  # (B, D, H*W)
    selected = torch.zeros_like(changed).scatter(2, index, True)
    assert torch.equal(changed, selected)


def test_select_nodes_rejects_too_many_positions():
    with pytest.raises(ValueError, match=r"k=26 positions per slice.*1 <= k <= H \* W"):
        select_nodes(torch.randn(1, 2, 3, 5, 5), 26)


# ----------------------------------------------------------------------------- dilated kNN

def _brute_force_dilated_knn(nodes: torch.Tensor, k: int, dilation: int) -> list:
    """Every d-th of the k*d nearest, the node itself first (rank 0)."""
    graphs = []
    for sample in nodes.tolist():
        rows = []
        for i, centre in enumerate(sample):
            distance = [sum((a - b) ** 2 for a, b in zip(centre, other)) for other in sample]
            order = sorted(range(len(sample)), key=lambda j, i=i: (j != i, distance[j]))
            rows.append(order[:k * dilation:dilation])
        graphs.append(rows)
    return graphs


@pytest.mark.parametrize("k, dilation", [(1, 1), (4, 1), (4, 3), (5, 6), (3, 10)])
def test_dilated_knn_is_every_dth_of_the_kd_nearest(k, dilation):
    nodes = torch.randn(2, 30, 5, dtype=torch.float64)
    assert dilated_knn_graph(nodes, k, dilation).tolist() == \
        _brute_force_dilated_knn(nodes, k, dilation)
    nodes[1, 7] = nodes[1, 3]  # a duplicated node: each copy still its own first neighbour
    assert torch.equal(dilated_knn_graph(nodes, k, dilation)[..., 0],
                       torch.arange(30).expand(2, 30))


def test_cross_knn_is_every_dth_of_the_kd_most_similar():
    similarity = torch.randn(2, 7, 20)
    got = cross_knn_graph(similarity, k=3, dilation=4)
    expected = [[sorted(range(20), key=lambda j, r=row: -r[j])[:12:4] for row in sample]
                for sample in similarity.tolist()]
    assert got.tolist() == expected


def test_dilated_knn_rejects_graph_larger_than_node_set():
    with pytest.raises(ValueError, match="k \\* dilation <= 10 nodes"):
        dilated_knn_graph(torch.randn(1, 10, 3), k=4, dilation=3)


def test_graph_module_shrinks_k_and_dilation_for_small_node_sets():
    graph = DilatedKnnGraph(k=9, dilation=3).eval()
    nodes = torch.randn(1, 20, 4)
    assert torch.equal(graph(nodes), dilated_knn_graph(F.normalize(nodes, dim=-1), 9, 2))
    assert graph(nodes[:, :5]).shape == (1, 5, 5)


def test_random_dilation_only_in_training_mode():
    nodes = torch.randn(3, 40, 6)
    graph = DilatedKnnGraph(k=4, dilation=3, stochastic=True, epsilon=1.0)
    plain = dilated_knn_graph(F.normalize(nodes, dim=-1), 4, 3)
    graph.eval()
    assert all(torch.equal(graph(nodes), plain) for _ in range(5))
    graph.train()
    drawn = graph(nodes)
    assert not torch.equal(drawn, plain)
    assert torch.equal(drawn[..., 0], torch.arange(40).expand(3, 40))  # self still first
    nearest = dilated_knn_graph(F.normalize(nodes, dim=-1), 12, 1)
    for row, pool in zip(drawn.flatten(0, 1).tolist(), nearest.flatten(0, 1).tolist()):
        assert len(set(row)) == 4 and set(row) <= set(pool)  # k distinct of the k*d nearest
    # the same holds through the modules: eval is deterministic, training is not
    sgcm = SGCM(6, nodes_per_slice=8, k=4, dilation=3, epsilon=1.0)
    features = torch.randn(2, 6, 5, 4, 4)
    sgcm.eval()
    assert torch.equal(sgcm(features), sgcm(features))
    sgcm.train()
    assert not torch.equal(sgcm(features), sgcm(features))


# ----------------------------------------------------------------------------- convolutions

def test_mrconv_and_edgeconv_match_their_formulas():
    x, sources = torch.randn(6, 4), torch.randn(9, 4)
    neighbours = torch.randint(0, 9, (6, 3))
    mr, edge = MRConv(4, 5).eval(), EdgeConv(4, 5).eval()
    for i in range(6):
        relative = torch.stack([sources[j] - x[i] for j in neighbours[i]]).amax(0)
        expected_mr = mr.mlp(torch.cat([x[i], relative])[None])[0]
        expected_edge = torch.stack([edge.mlp(torch.cat([x[i], sources[j] - x[i]])[None])[0]
                                     for j in neighbours[i]]).amax(0)
        assert torch.allclose(mr(x, neighbours, sources)[i], expected_mr, atol=1e-6)
        assert torch.allclose(edge(x, neighbours, sources)[i], expected_edge, atol=1e-6)


@pytest.mark.parametrize("conv", [MRConv, EdgeConv])
def test_every_output_channel_sees_the_neighbours(conv):
    # the public code's grouped 1x1 left half the output channels blind to the neighbours
    module = conv(8, 8).eval()
    x, neighbours = torch.randn(4, 8), torch.tensor([[1], [2], [3], [0]])
    sources = torch.randn(4, 8)
    jacobian = torch.autograd.functional.jacobian(lambda s: module(x, neighbours, s)[0], sources)
    assert (jacobian[:, 1].abs().sum(-1) > 0).all()  # node 0's neighbour is source 1


@pytest.mark.parametrize("conv", ["mr", "edge"])
def test_permuting_nodes_permutes_the_graph_output(conv):
    block = GraphConvBlock(6, k=4, dilation=2, conv=conv).eval()
    nodes = torch.randn(2, 25, 6)
    perm = torch.randperm(25)
    assert torch.allclose(block(nodes)[:, perm], block(nodes[:, perm]), atol=1e-5)
    cross = CrossGraphConv(6, k=3, conv=conv).eval()
    other = torch.randn(2, 11, 6)
    psi_x, psi_y = cross(nodes, other)
    psi_x_perm, psi_y_perm = cross(nodes[:, perm], other)
    assert torch.allclose(psi_x[:, perm], psi_x_perm, atol=1e-5)
    assert torch.allclose(psi_y, psi_y_perm, atol=1e-5)  # a node set, not a sequence


def test_unknown_convolution_is_named():
    with pytest.raises(ValueError, match="conv='gin'.*'edge', 'mr'"):
        GraphConvBlock(4, conv="gin")


@pytest.mark.parametrize("module, inputs, expected", [
    (SGCM(8), [(2, 8, 10, 28, 28)], [(2, 8, 10, 28, 28)]),
    (SGCM(8, nodes_per_slice=64), [(1, 8, 2, 3, 3)], [(1, 8, 2, 3, 3)]),  # k cut to H*W
    (MMDFM(8), [(2, 8, 10, 14, 14), (2, 8, 10, 28, 28)], [(2, 8, 10, 14, 14),
                                                          (2, 8, 10, 28, 28)]),
    (MMDFM(4, k=20), [(1, 4, 1, 2, 2), (1, 4, 1, 3, 3)], [(1, 4, 1, 2, 2), (1, 4, 1, 3, 3)]),
    (CMTFM(4), [(2, 4, 5, 14, 14)] * 2, [(2, 4, 5, 14, 14)] * 2),
    (CMTFM(4, k=30), [(1, 4, 1, 2, 2)] * 2, [(1, 4, 1, 2, 2)] * 2),
])
def test_module_output_shapes(module, inputs, expected):
    tensors = [torch.randn(shape) for shape in inputs]
    if isinstance(module, CMTFM):
        tensors.append(torch.ones(inputs[0][:1] + inputs[0][2:]))
    out = module.eval()(*tensors)
    out = out if isinstance(out, tuple) else (out,)
    assert [tuple(o.shape) for o in out] == expected


# ----------------------------------------------------------------------------- MMDFM

@pytest.mark.parametrize("conv", ["mr", "edge"])
def test_mmdfm_each_output_gets_gradient_from_the_other_input(conv):
    fusion = MMDFM(6, nodes_per_slice=5, k=3, conv=conv)  # training mode
    tumour = torch.randn(2, 6, 3, 4, 4, requires_grad=True)
    liver = torch.randn(2, 6, 3, 8, 8, requires_grad=True)
    new_tumour, new_liver = fusion(tumour, liver)
    # not a fusion that returns its inputs: the selected positions change
    assert (new_tumour != tumour).any(1).flatten(2).sum(-1).eq(5).all()
    assert (new_liver != liver).any(1).flatten(2).sum(-1).eq(5).all()
    liver_grad, tumour_grad = _gradient(new_tumour, liver), _gradient(new_liver, tumour)
    _, liver_index = select_nodes(liver, 5)
    liver_selected = torch.zeros(2, 3, 64, dtype=torch.bool).scatter(2, liver_index, True)
    reached = liver_grad.abs().sum(1).flatten(2) > 0
    assert reached.any() and not (reached & ~liver_selected).any()  # only via the nodes
    assert tumour_grad.abs().sum() > 0
    _random_weights_loss(new_tumour).backward()
    assert fusion.alpha.grad[:2].abs().min() > 0  # alpha_1, alpha_2 of eq. (7) learn


# ----------------------------------------------------------------------------- CMTFM

def _brute_force_rings(counts_shape, centre):
    rings = {1: set(), 2: set()}
    for patch in itertools.product(*(range(n) for n in counts_shape)):
        distance = max(abs(a - b) for a, b in zip(patch, centre))
        if distance in rings:
            rings[distance].add(patch)
    return rings


@pytest.mark.parametrize("shape, big, small, centre, grid", [
    ((15, 15, 15), (slice(6, 9), slice(6, 9), slice(6, 9)),
     (slice(0, 2), slice(12, 15), slice(3, 5)), (2, 2, 2), (5, 5, 5)),
    ((7, 8, 10), (slice(6, 7), slice(6, 8), slice(9, 10)),  # a partial corner patch: 2 voxels
     (slice(0, 1), slice(0, 1), slice(0, 1)), (2, 2, 3), (3, 3, 4)),
    ((9, 12, 12), (slice(0, 3), slice(3, 6), slice(9, 12)),
     (slice(3, 6), slice(3, 6), slice(3, 5)), (0, 1, 3), (3, 4, 4)),
])
def test_cmtfm_neighbour_sets_for_known_masks(shape, big, small, centre, grid):
    mask = torch.zeros(shape, dtype=torch.bool)
    mask[big] = True
    mask[small] = True
    mask[small][..., 0] = False  # a smaller tumour part elsewhere
    hood = patch_neighbourhood(mask)
    assert tuple(hood.centre.tolist()) == centre
    rings = _brute_force_rings(grid, centre)
    assert {tuple(p) for p in hood.first_order.tolist()} == rings[1]
    assert {tuple(p) for p in hood.second_order.tolist()} == rings[2]
    assert len(hood.first_order) == len(rings[1])  # no duplicates
    for ring in (1, 2):  # the voxels of those patches, clipped to the volume
        patches = hood.first_order if ring == 1 else hood.second_order
        expected = {(z * shape[1] + y) * shape[2] + x
                    for z, y, x in itertools.product(*(range(n) for n in shape))
                    if (z // 3, y // 3, x // 3) in rings[ring]}
        voxels = patch_voxels(patches, shape).tolist()
        assert len(voxels) == len(expected) and set(voxels) == expected


def test_cmtfm_interior_centre_has_26_and_98_neighbours():
    mask = torch.zeros(15, 15, 15)
    mask[7, 7, 7] = 1
    hood = patch_neighbourhood(mask)
    assert hood.centre.tolist() == [2, 2, 2]
    assert (len(hood.first_order), len(hood.second_order)) == (26, 98)


def test_cmtfm_rewrites_exactly_the_neighbourhood_voxels():
    fusion = CMTFM(4, k=5).eval()
    pv, t2 = torch.randn(2, 4, 6, 15, 15), torch.randn(2, 4, 6, 15, 15)
    mask = torch.zeros(2, 1, 6, 15, 15)
    mask[0, 0, 0:2, 0:3, 0:3] = 1  # centre patch (0, 0, 0)
    new_pv, new_t2 = fusion(pv, t2, mask)  # sample 1: empty mask, passes unchanged
    hood = patch_neighbourhood(mask[0, 0])
    patches = torch.cat([hood.centre[None], hood.first_order, hood.second_order])
    expected = torch.zeros(6 * 15 * 15, dtype=torch.bool)
    expected[patch_voxels(patches, (6, 15, 15))] = True
    for new, old in ((new_pv, pv), (new_t2, t2)):
        changed = (new != old).any(1).flatten(1)
        assert torch.equal(changed[0], expected) and not changed[1].any()


@pytest.mark.parametrize("conv", ["mr", "edge"])
def test_cmtfm_each_sequence_gets_gradient_from_the_other(conv):
    # the public code's cross-sequence graph linked each node to itself only,
    # so the T2 branch received no gradient from the fused PV features
    fusion = CMTFM(4, k=4, conv=conv)  # training mode
    pv = torch.randn(2, 4, 6, 12, 12, requires_grad=True)
    t2 = torch.randn(2, 4, 6, 12, 12, requires_grad=True)
    mask = torch.zeros(2, 1, 6, 12, 12)
    mask[0, 0, 1:4, 3:9, 3:9] = 1
    mask[1, 0, 3:6, 0:3, 6:9] = 1
    new_pv, new_t2 = fusion(pv, t2, mask)
    t2_grad, pv_grad = _gradient(new_pv, t2), _gradient(new_t2, pv)
    for grad in (t2_grad, pv_grad):
        per_sample = grad.abs().flatten(1).sum(1)
        assert (per_sample > 0).all()  # every patient's other sequence is reached


def test_cmtfm_rejects_a_mask_off_the_feature_grid():
    with pytest.raises(ValueError, match="resample the mask to the feature map"):
        CMTFM(4)(torch.randn(1, 4, 4, 8, 8), torch.randn(1, 4, 4, 8, 8),
                 torch.ones(1, 1, 8, 16, 16))


@pytest.mark.parametrize("cast_input", [False, True])
def test_modules_run_under_bfloat16_autocast(cast_input):
    # precision="bfloat16" runs the networks under autocast; the write-back must
    # accept messages in another dtype than the map (a float32 map, bfloat16 messages)
    dtype = torch.bfloat16 if cast_input else torch.float32
    tumour, t2 = torch.randn(2, 4, 3, 9, 9, dtype=dtype), torch.randn(2, 4, 3, 9, 9, dtype=dtype)
    liver, mask = torch.randn(2, 4, 3, 12, 12, dtype=dtype), torch.ones(2, 1, 3, 9, 9)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        outputs = (SGCM(4)(tumour), *MMDFM(4)(tumour, liver), *CMTFM(4)(tumour, t2, mask))
    for out, source in zip(outputs, (tumour, tumour, liver, tumour, t2)):
        assert out.shape == source.shape and torch.isfinite(out).all()
        assert (out != source).any()
