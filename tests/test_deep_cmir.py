"""CMIR (seed 001, issue 17): the network's modules, its variants, bad input and the
per-centre table (the contract through the register is tests/test_deep_register.py)."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from mvikit import Volume
from mvikit.deep import VolumeNetClassifier, cmir_models
from mvikit.deep.layers import Involution, SpatialAttentionLocalisation, SymmetricAttention
from mvikit.deep.nets import CMIRNet, get_architecture
from mvikit.model_selection import ExternalValidationSplit, centre_performance, compare_models

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _slabs(n=3, seed=0, size=32):
    g = torch.Generator().manual_seed(seed)
    return {"volumes": torch.randn(n, 2, 3, size, size, generator=g),
            "clinical": torch.randn(n, 4, generator=g)}


def _swapped(batch):
    return {**batch, "volumes": batch["volumes"].flip(1)}


# ------------------------------------------------------------------ CMAM
def test_cross_modal_attention_swaps_its_outputs_on_2d_maps():
    torch.manual_seed(0)
    cmam = SymmetricAttention(8).eval()
    ap, pv = torch.randn(2, 8, 4, 4), torch.randn(2, 8, 3, 5)  # different grids are allowed
    ap_hat, pv_hat = cmam(ap, pv)
    pv_swap, ap_swap = cmam(pv, ap)
    torch.testing.assert_close(ap_hat, ap_swap)
    torch.testing.assert_close(pv_hat, pv_swap)
    # both directions: each output depends on the other phase
    assert not torch.allclose(cmam(ap, pv + 1.0)[0], ap_hat)
    assert not torch.allclose(cmam(ap + 1.0, pv)[1], pv_hat)


@pytest.mark.parametrize("variant", ["M3", "Ours"])
def test_network_swaps_phase_features_when_phases_are_swapped(variant):
    """With the two phase branches given equal weights, swapping AP and PV in the batch
    swaps the per-phase features: CMAM and SA treat the phases symmetrically."""
    torch.manual_seed(0)
    net = CMIRNet(2, 2, n_clinical=4, variant=variant, width=0.125).eval()
    net.encoders[1].load_state_dict(net.encoders[0].state_dict())
    if net.localisation is not None:
        net.localisation[1].load_state_dict(net.localisation[0].state_dict())
    batch = _slabs()
    with torch.no_grad():
        ap, pv = net.phase_features(batch)
        pv_swap, ap_swap = net.phase_features(_swapped(batch))
    torch.testing.assert_close(ap, ap_swap)
    torch.testing.assert_close(pv, pv_swap)
    assert not torch.allclose(ap, pv)


def test_cmam_makes_a_phase_depend_on_the_other():
    torch.manual_seed(0)
    batch = _slabs()
    changed = {**batch, "volumes": batch["volumes"].clone()}
    changed["volumes"][:, 1] += 1.0  # only PV changes
    for variant, depends in (("M2", False), ("M3", True)):
        net = CMIRNet(2, 2, variant=variant, width=0.125).eval()
        with torch.no_grad():
            before, after = net.phase_features(batch)[0], net.phase_features(changed)[0]
        assert torch.allclose(before, after) is not depends, variant


# ------------------------------------------------------------------ Inv-ResNet
def _involution_params(channels, k=7, r=4, group_channels=16):
    groups = max(1, channels // group_channels)
    return channels ** 2 // r + 2 * channels // r + channels // r * k * k * groups + k * k * groups


@pytest.mark.parametrize("inv_blocks, involved", [
    ("projection", ["layer2.0", "layer3.0", "layer4.0"]),
    ("all", [f"layer{s}.{b}" for s in range(1, 5) for b in range(2)]),
])
def test_involution_replaces_the_documented_convolutions(inv_blocks, involved):
    plain = CMIRNet(2, 2, variant="M1", width=0.25).encoders[0]
    inv = CMIRNet(2, 2, variant="M2", width=0.25, inv_blocks=inv_blocks).encoders[0]
    found = sorted(name.removesuffix(".conv2") for name, module in inv.named_modules()
                   if isinstance(module, Involution))
    assert found == sorted(involved)
    # parameters: each replaced 3x3 convolution (planes^2 * 9) becomes the closed form
    delta = 0
    for name in involved:
        planes = plain.get_submodule(name).conv2.out_channels
        delta += _involution_params(planes) - planes * planes * 9
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(inv) - count(plain) == delta


def test_variants_have_the_documented_modules():
    nets = {v: CMIRNet(2, 2, variant=v, width=0.125) for v in ("M1", "M2", "M3", "Ours")}
    assert [nets[v].cmam is not None for v in nets] == [False, False, True, True]
    assert [nets[v].localisation is not None for v in nets] == [False, False, False, True]
    # embedding: 64 x width per phase (GAP of layer4), (16 + 32 + 64) with SA localisation
    with torch.no_grad():
        sizes = {v: net.eval()(_slabs())["embedding"].shape[1] for v, net in nets.items()}
    assert sizes == {"M1": 128, "M2": 128, "M3": 128, "Ours": 224}


def test_three_dimensional_variant_reads_cubes():
    torch.manual_seed(0)
    net = get_architecture("cmir_cube").build(n_sequences=2, n_outputs=2, n_clinical=3,
                                              width=0.125).eval()
    inv = [m for m in net.modules() if isinstance(m, Involution)]
    assert len(inv) == 6 and all(m.spatial_dims == 3 and m.kernel_size == 3 for m in inv)
    batch = {"volumes": torch.randn(2, 2, 16, 32, 32), "clinical": torch.randn(2, 3)}
    with torch.no_grad():
        maps = net.localisation_maps(batch)
    assert maps[0].shape == (2, 1, 2, 4, 4)  # layer2's grid: stride 8
    assert net(batch)["logits"].shape == (2, 2)


def _rows_3d():
    """The five rows of ``cmir_models(spatial_dims=3)`` built as their estimators build them
    (width 0.125, three clinical inputs): ``{row: network}``."""
    nets = {}
    for row, model in cmir_models(spatial_dims=3, preset="cpu").items():
        torch.manual_seed(0)
        nets[row] = get_architecture(model.architecture).build(
            n_sequences=len(model.volumes), n_outputs=2, n_clinical=3, width=0.125)
    return nets


def test_cmir_models_in_3d_add_one_module_per_row():
    """Each row of Table 2 in 3D differs from the previous one exactly by the module the
    table adds: the parameter names present in one row and absent in the other."""
    nets = _rows_3d()
    params = {row: {n: tuple(p.shape) for n, p in net.named_parameters()}
              for row, net in nets.items()}

    def change(before, after):
        return set(params[after]) - set(params[before]), set(params[before]) - set(params[after])

    # every convolution is 3D; involution is 3D with K = 3 (a K^3 kernel per group)
    for net in nets.values():
        convs = [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d))]
        assert convs and all(isinstance(m, torch.nn.Conv3d) for m in convs)
    inv = params["M2"]["encoders.0.layer4.0.conv2.span.weight"]
    assert inv == (27 * 4, 16, 1, 1, 1)  # K^3 x G (64 channels / 16) kernels from 64 / r
    # S1 -> M1: a second phase encoder, nothing else
    added, removed = change("S1", "M1")
    assert removed == set()
    assert added == {n.replace("encoders.0.", "encoders.1.", 1) for n in params["S1"]
                     if n.startswith("encoders.0.")}
    # M1 -> M2: the second 3x3x3 convolution of each convolution block becomes involution
    involved = [f"encoders.{i}.layer{s}.0.conv2" for i in range(2) for s in (2, 3, 4)]
    added, removed = change("M1", "M2")
    assert removed == {f"{layer}.weight" for layer in involved}
    assert added == {f"{layer}.{p}" for layer in involved
                     for p in ("reduce.weight", "norm.weight", "norm.bias", "span.weight",
                               "span.bias")}
    # M2 -> M3: CMAM; M3 -> Ours: SA localisation (one per phase)
    for before, after, module in (("M2", "M3", "cmam."), ("M3", "Ours", "localisation.")):
        added, removed = change(before, after)
        assert removed == set() and added and all(n.startswith(module) for n in added)
    assert {n.split(".")[1] for n in change("M3", "Ours")[0]} == {"0", "1"}
    # shared parameters keep their shapes, but the classifier's input (more features)
    for before, after in zip(list(params)[:-1], list(params)[1:]):
        reshaped = {n for n in set(params[before]) & set(params[after])
                    if params[before][n] != params[after][n]}
        assert reshaped <= {"head.classifier.weight"}, (before, after)
    # every row reads cubes: (B, S, D, H, W), one input channel per phase
    batch = {"volumes": torch.randn(2, 2, 16, 32, 32), "clinical": torch.randn(2, 3)}
    with torch.no_grad():
        for row, net in nets.items():
            volumes = batch["volumes"][:, :1] if row == "S1" else batch["volumes"]
            out = net.eval()({**batch, "volumes": volumes})
            assert out["logits"].shape == (2, 2), row


# ------------------------------------------------------------------ SA localisation
def test_spatial_attention_pooling_is_the_attention_weighted_mean():
    torch.manual_seed(0)
    sa = SpatialAttentionLocalisation([2, 3])
    levels = [torch.randn(2, 2, 4, 4), torch.randn(2, 3, 2, 2)]
    features = sa.features(levels)
    upsampled = torch.nn.functional.interpolate(levels[1], size=(4, 4), mode="bilinear")
    torch.testing.assert_close(features, torch.cat([levels[0], upsampled], dim=1))
    summary = torch.cat([features.mean(1, keepdim=True), features.amax(1, keepdim=True)], 1)
    weights = torch.sigmoid(sa.conv(summary))
    expected = (weights * features).sum((2, 3)) / weights.sum((2, 3))
    torch.testing.assert_close(sa(levels), expected)
    # a constant map is global average pooling
    with torch.no_grad():
        sa.conv.weight.zero_()
    torch.testing.assert_close(sa(levels), features.mean((2, 3)))


def test_spatial_attention_map_selects_the_learnt_region():
    sa = SpatialAttentionLocalisation([1], kernel_size=1)
    with torch.no_grad():  # map = sigmoid(10 * channel max - 5): high where features are high
        sa.conv.weight.copy_(torch.tensor([0.0, 10.0]).view(1, 2, 1, 1))
        sa.conv.bias.fill_(-5.0)
    level = torch.zeros(1, 1, 4, 4)
    level[0, 0, 1, 2] = 1.0
    attention = sa.attention([level])
    assert attention[0, 0, 1, 2] > 0.99 and attention[0, 0, 0, 0] < 0.01
    # the pooled value is dominated by the selected position (mean pooling would give 1/16)
    assert float(sa([level]).detach()) > 0.7


# ------------------------------------------------------------------ bad input
def _frame(n=8, seed=1):
    rng = np.random.default_rng(seed)
    mask = np.zeros((12, 32, 32), np.uint8)
    mask[4:8, 12:20, 10:18] = 1
    return pd.DataFrame({
        "AFP": rng.lognormal(3, 1, n), "age": rng.normal(55, 8, n),
        "AP": [Volume(rng.normal(size=(12, 32, 32))) for _ in range(n)],
        "PV": [Volume(rng.normal(size=(12, 32, 32))) for _ in range(n)],
        "tumor_mask": [Volume(mask)] * n}, index=[f"p{i}" for i in range(n)])


TINY = dict(slice_size=32, width=0.125, max_epochs=1, batch_size=4, random_state=0)


@pytest.mark.parametrize("architecture", ["cmir_m2", "cmir_m3", "cmir", "cmir_m2_cube",
                                          "cmir_m3_cube", "cmir_cube"])
def test_multi_phase_variant_with_one_phase_names_variant_and_columns(architecture):
    with pytest.raises(ValueError, match=rf"'{architecture}' \(CMIR.*AP.*PV.*volumes="
                                         r"\['AP', 'PV'\]\) takes 2 volume column\(s\); got 1"):
        VolumeNetClassifier(architecture, volumes=["AP"], **TINY).fit(_frame(), [0, 1] * 4)
    with pytest.raises(ValueError, match=r"variant 'M3' takes 2 phases.*\['AP', 'PV'\].*S1"):
        CMIRNet(1, 2, variant="M3")


def test_single_phase_s1_trains_on_one_column():
    clf = VolumeNetClassifier("cmir_m1", volumes=["PV"], **TINY).fit(_frame(), [0, 1] * 4)
    assert len(clf.net_.module_.encoders) == 1 and clf.predict_proba(_frame()).shape == (8, 2)


def test_width_whose_channels_do_not_split_into_groups_names_the_layer():
    # width 0.3: MONAI's stages get 19, 38, 76, 153 channels; the first involution
    # (inv_blocks="projection") is layer2.0's
    with pytest.raises(ValueError, match=r"CMIR variant 'Ours' at width=0\.3: encoders\.<phase>"
                                         r"\.layer2\.0\.conv2 \(Involution of an "
                                         r"InvResNetBlock\): 38 channels cannot be split into "
                                         r"groups of group_channels=16.*width=0\.125, 0\.25, "
                                         r"0\.5 or 1"):
        VolumeNetClassifier("cmir", **{**TINY, "width": 0.3}).fit(_frame(), [0, 1] * 4)
    with pytest.raises(ValueError, match=r"layer1\.0\.conv2.*19 channels"):
        CMIRNet(2, 2, width=0.3, inv_blocks="all")
    CMIRNet(2, 2, variant="M1", width=0.3)  # no involution, no constraint


# ------------------------------------------------------------------ ablation rows
def test_cmir_models_are_table_2():
    models = cmir_models(preset="cpu", random_state=3, max_epochs=2)
    assert list(models) == ["S1", "M1", "M2", "M3", "Ours"]
    assert {n: m.architecture for n, m in models.items()} == {
        "S1": "cmir_m1", "M1": "cmir_m1", "M2": "cmir_m2", "M3": "cmir_m3", "Ours": "cmir"}
    assert models["S1"].volumes == ["AP"] and models["M3"].volumes == ["AP", "PV"]
    assert all(m.use_clinical and m.max_epochs == 2 and m.random_state == 3
               for m in models.values())
    assert cmir_models(["S1"], single_phase="PV")["S1"].volumes == ["PV"]
    cubes = cmir_models(spatial_dims=3, single_phase="PV", max_epochs=2)
    assert {n: m.architecture for n, m in cubes.items()} == {
        "S1": "cmir_m1_cube", "M1": "cmir_m1_cube", "M2": "cmir_m2_cube",
        "M3": "cmir_m3_cube", "Ours": "cmir_cube"}
    assert cubes["S1"].volumes == ["PV"] and cubes["Ours"].max_epochs == 2
    assert {(get_architecture(m.architecture).input_kind,
             get_architecture(m.architecture).spatial_dims) for m in cubes.values()} == {
        ("cube", 3)}
    with pytest.raises(ValueError, match=r"Unknown CMIR row\(s\) \['M4'\]"):
        cmir_models(["M4"])
    with pytest.raises(ValueError, match=r"spatial_dims=4; choose 2 .*slices.* or 3 .*cube"):
        cmir_models(["M2"], spatial_dims=4)


def test_presets_of_the_registered_variants():
    X, y = _frame(), [0, 1] * 4
    clf = VolumeNetClassifier("cmir", max_epochs=1, random_state=0).fit(X, y)  # cpu preset
    assert clf.settings_["width"] == 0.25 and clf.settings_["grid"] == (3, 64, 64)
    assert VolumeNetClassifier("cmir", preset="paper")._settings(
        get_architecture("cmir"))["grid"] == (3, 224, 224)


_PAPER = {"width": 1.0, "max_epochs": 80, "batch_size": 16, "lr": 3e-4}


@pytest.mark.parametrize("architecture, expected", [
    ("cmir_m1", {**_PAPER, "n_slices": 3, "slice_size": 224, "grid": (3, 224, 224)}),
    ("cmir", {**_PAPER, "n_slices": 3, "slice_size": 224, "grid": (3, 224, 224)}),
    ("cmir_m2_cube", {**_PAPER, "cube": (20, 80, 80), "downsample": (1, 1, 1),
                      "crop_size": (16, 64, 64), "grid": (20, 80, 80)}),
    ("cmir_cube", {**_PAPER, "cube": (20, 80, 80), "downsample": (1, 1, 1),
                   "crop_size": (16, 64, 64), "grid": (20, 80, 80)}),
])
def test_paper_preset_is_cmirs_own(architecture, expected, monkeypatch):
    """The documented paper preset (docs/guide/cmir.rst), written out in CMIR's register
    entry: changing the estimators' paper preset (MD-Net's) leaves it unchanged."""
    from mvikit.deep._base import PRESETS

    spec = get_architecture(architecture)
    monkeypatch.setitem(PRESETS, "paper", {**PRESETS["paper"], "width": 0.5, "lr": 1e-2,
                                           "max_epochs": 3, "batch_size": 4, "slice_size": 96,
                                           "cube": (8, 32, 32), "crop_size": (8, 16, 16),
                                           "downsample": (1, 2, 2)})
    settings = VolumeNetClassifier(architecture, preset="paper")._settings(spec)
    assert {key: settings[key] for key in expected} == expected
    # an explicit parameter still wins over the preset
    assert VolumeNetClassifier(architecture, preset="paper", width=0.25)._settings(
        spec)["width"] == 0.25


# ------------------------------------------------------------------ Table 3
def test_centre_performance_matches_closed_forms():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 2))
    y = (X[:, 0] + rng.normal(size=240) > 0).astype(int)
    centres = np.repeat(["int", "ext1", "ext2"], 80)
    result = compare_models({"lr": LogisticRegression()}, X, y, groups=centres,
                            cv=ExternalValidationSplit(external=["ext1", "ext2"]),
                            scoring=["auc"], threshold=0.5)
    table = centre_performance(result).set_index("centre")
    assert list(table.index) == ["ext1", "ext2"]
    z = 1.959963984540054
    for centre in ("ext1", "ext2"):
        rows = centres == centre
        score = LogisticRegression().fit(X[centres == "int"], y[centres == "int"]
                                         ).predict_proba(X[rows])[:, 1]
        truth, pred = y[rows], score >= 0.5
        assert table.loc[centre, "auc"] == pytest.approx(roc_auc_score(truth, score))
        for metric, hits, n in (("sensitivity", pred[truth == 1].sum(), (truth == 1).sum()),
                                ("specificity", (~pred[truth == 0]).sum(), (truth == 0).sum()),
                                ("accuracy", (pred == truth).sum(), len(truth))):
            p = hits / n  # Wilson score interval (Wilson 1927)
            centre_ = (p + z * z / (2 * n)) / (1 + z * z / n)
            half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
            assert table.loc[centre, metric] == pytest.approx(p)
            assert table.loc[centre, f"{metric}_ci_low"] == pytest.approx(centre_ - half)
            assert table.loc[centre, f"{metric}_ci_high"] == pytest.approx(centre_ + half)
        assert table.loc[centre, "auc_ci_low"] < table.loc[centre, "auc"] < \
            table.loc[centre, "auc_ci_high"]
    wider = centre_performance(result, alpha=0.01).set_index("centre")
    assert (wider["auc_ci_low"] < table["auc_ci_low"]).all()
    no_centres = compare_models({"lr": LogisticRegression()}, X, y, cv=3, scoring=["auc"])
    with pytest.raises(ValueError, match="groups="):
        centre_performance(no_centres)
