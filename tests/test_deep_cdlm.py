"""CDLM (seed 003): the ResNet18 trunk, torchvision-layout weights, the cross-fitted fusion
head, factor selection inside the fold, end-to-end training, Grad-CAM and bad input."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_validate

from mvikit import Volume
from mvikit.clinical import StepwiseSelector
from mvikit.deep import CDLMClassifier, PretrainedWeightsError, gradcam
from mvikit.deep._base import _seed
from mvikit.deep.layers import SignatureFusion, fit_signature_fusion
from mvikit.deep.nets import CDLMNet, get_architecture, resnet18_trunk
from mvikit.exceptions import ColumnRoleError, DataWarning
from mvikit.preprocessing import ClinicalPreprocessor

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PHASES = ["CT_AP", "CT_PV"]
TINY = dict(slice_size=16, width=0.0625, max_epochs=1, batch_size=4, inner_cv=2,
            random_state=0)


def _frame(n=16, seed=0, signal=0.0, thin=()):
    """Noise phases (optionally brighter tumours for class 1), a 4-slice tumour, AFP
    carrying the label, age noise."""
    rng = np.random.default_rng(seed)
    y = np.array([0, 1] * (n // 2))
    mask = np.zeros((8, 16, 16), np.uint8)
    mask[2:6, 5:11, 5:11] = 1
    thin_mask = np.zeros_like(mask)
    thin_mask[3:5, 5:11, 5:11] = 1
    ids = [f"p{i}" for i in range(n)]
    data = {"afp": rng.normal(size=n) + 1.5 * y, "age": rng.normal(size=n)}
    for phase in PHASES:
        data[phase] = [Volume(rng.normal(size=(8, 16, 16)) + signal * y[i] * mask)
                       for i in range(n)]
    data["tumor_mask"] = [Volume(thin_mask if pid in thin else mask) for pid in ids]
    return pd.DataFrame(data, index=ids), y


# ------------------------------------------------------------------ network
def test_resnet18_trunk_has_torchvisions_parameter_count_and_layout():
    trunk = resnet18_trunk(3)
    assert sum(p.numel() for p in trunk.parameters()) == 11_176_512
    # torchvision.models.resnet18's state dict, written from its definition (BasicBlock,
    # layers [2, 2, 2, 2], 1x1 stride-2 downsample without bias in layers 2-4), minus fc
    expected = {"conv1.weight": (64, 3, 7, 7)}
    expected.update({f"bn1.{p}": (64,) for p in ("weight", "bias", "running_mean",
                                                 "running_var")})
    channels = {1: (64, 64), 2: (64, 128), 3: (128, 256), 4: (256, 512)}
    for layer, (c_in, c_out) in channels.items():
        for block in (0, 1):
            first = c_in if block == 0 else c_out
            name = f"layer{layer}.{block}"
            expected[f"{name}.conv1.weight"] = (c_out, first, 3, 3)
            expected[f"{name}.conv2.weight"] = (c_out, c_out, 3, 3)
            for bn in ("bn1", "bn2"):
                expected.update({f"{name}.{bn}.{p}": (c_out,) for p in
                                 ("weight", "bias", "running_mean", "running_var")})
        if layer > 1:
            expected[f"layer{layer}.0.downsample.0.weight"] = (c_out, c_in, 1, 1)
            expected.update({f"layer{layer}.0.downsample.1.{p}": (c_out,) for p in
                             ("weight", "bias", "running_mean", "running_var")})
    state = {k: tuple(v.shape) for k, v in trunk.state_dict().items()
             if not k.endswith("num_batches_tracked")}
    assert state == expected


def test_cdlm_net_signatures_are_the_phase_log_odds():
    torch.manual_seed(0)
    net = CDLMNet(3, 2, n_clinical=2, width=0.125).eval()
    batch = {"volumes": torch.randn(4, 3, 3, 32, 32), "clinical": torch.randn(4, 2)}
    with torch.no_grad():
        out = net(batch)
    phase = out["phase_logits"]
    torch.testing.assert_close(out["signatures"], phase[..., 1] - phase[..., 0])
    # each phase's logits come from its own encoder only
    with torch.no_grad():
        features = net.encoders[1](batch["volumes"][:, 1])
        torch.testing.assert_close(phase[:, 1], net.signature_heads[1](features))
    # the fusion head is linear in the signatures and the factors
    layer = net.fusion.layers[0]
    with torch.no_grad():
        manual = layer(torch.cat([out["signatures"], batch["clinical"]], dim=1))
    torch.testing.assert_close(out["logits"], manual)
    full = CDLMNet(3, 2)
    per_phase = 11_176_512 + 512 * 2 + 2
    assert sum(p.numel() for p in full.parameters()) == 3 * per_phase + (3 * 2 + 2)


# ------------------------------------------------------------------ weights
def _torchvision_file(tmp_path, prefix="", width=1.0, drop_counters=True):
    torch.manual_seed(1)
    state = resnet18_trunk(3, width).state_dict()
    if drop_counters:  # torchvision's ImageNet checkpoints have no BatchNorm counters
        state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    state["fc.weight"] = torch.randn(1000, int(512 * width))
    state["fc.bias"] = torch.randn(1000)
    state = {prefix + k: v for k, v in state.items()}
    path = tmp_path / "resnet18.pth"
    torch.save(state, path)
    return path, state


def test_pretrained_weights_load_into_every_phase(tmp_path):
    path, state = _torchvision_file(tmp_path)
    X, y = _frame(n=8)
    clf = CDLMClassifier(**dict(TINY, width=1.0, max_epochs=0), pretrained_weights=path,
                         factors=None).fit(X, y)
    for encoder in clf.net_.module_.encoders:
        loaded = encoder.state_dict()
        for key in ("conv1.weight", "layer4.1.bn2.running_var", "layer2.0.downsample.0.weight"):
            torch.testing.assert_close(loaded[key], state[key], rtol=0, atol=0)
    # random initialisation otherwise: the two phases differ
    plain = CDLMClassifier(**dict(TINY, width=1.0, max_epochs=0), factors=None).fit(X, y)
    first, second = plain.net_.module_.encoders
    assert not torch.equal(first.conv1.weight, second.conv1.weight)


def test_weights_of_another_layout_name_the_first_mismatched_key(tmp_path):
    X, y = _frame(n=8)
    path, _ = _torchvision_file(tmp_path, prefix="module.")
    with pytest.raises(PretrainedWeightsError,
                       match=r"key 'module\.conv1\.weight' is not in the expected layout.*"
                             r"torchvision's ResNet18 layout"):
        CDLMClassifier(**dict(TINY, width=1.0), pretrained_weights=path).fit(X, y)
    path, _ = _torchvision_file(tmp_path, width=0.5)
    with pytest.raises(PretrainedWeightsError, match=r"key 'conv1\.weight' has shape "
                                                     r"\(32, 3, 7, 7\), the network \(64"):
        CDLMClassifier(**dict(TINY, width=1.0), pretrained_weights=path).fit(X, y)
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, tmp_path / "partial.pth")
    with pytest.raises(PretrainedWeightsError, match="lacks key 'bn1.weight'"):
        CDLMClassifier(**dict(TINY, width=1.0),
                       pretrained_weights=tmp_path / "partial.pth").fit(X, y)
    assert issubclass(PretrainedWeightsError, ValueError)


# ------------------------------------------------------------------ cross-fitting
def test_fusion_head_is_trained_on_out_of_fold_signatures_only():
    # noise images, a long training: the per-phase networks memorise their rows, so the
    # in-sample signatures separate the classes and the out-of-fold ones do not
    X, y = _frame(n=24, seed=3)
    clf = CDLMClassifier(**dict(TINY, max_epochs=30, lr=1e-2, width=0.25, augment=False,
                                inner_cv=3), factors=None).fit(X, y)
    oof = clf.oof_signatures_
    assert list(oof.index) == list(X.index) and list(oof.columns) == PHASES
    in_sample = clf.signatures(X)
    auc_in = roc_auc_score(y, in_sample.sum(axis=1))
    auc_oof = roc_auc_score(y, oof.sum(axis=1))
    assert auc_in > 0.95 and auc_oof < 0.8, (auc_in, auc_oof)
    # the head is exactly the fusion fit on the out-of-fold signatures ...
    fusion = clf.net_.module_.fusion
    refit = fit_signature_fusion(SignatureFusion(2, 0, 2), oof.to_numpy(), np.zeros((24, 0)),
                                 y, alpha=clf.fusion_alpha, seed=_seed(0))
    for key, value in refit.state_dict().items():
        torch.testing.assert_close(fusion.state_dict()[key], value, rtol=0, atol=0)
    # ... and not the one an in-sample fit would give
    leaky = fit_signature_fusion(SignatureFusion(2, 0, 2), in_sample.to_numpy(),
                                 np.zeros((24, 0)), y, alpha=clf.fusion_alpha, seed=_seed(0))
    assert not torch.allclose(leaky.layers[0].weight, fusion.layers[0].weight, atol=1e-3)
    # predictions are the head applied to the final networks' signatures
    standardised = (in_sample.to_numpy() - fusion.shift.numpy()) / fusion.scale.numpy()
    weight, bias = fusion.layers[0].weight.detach().numpy(), fusion.layers[0].bias.detach()
    logits = standardised @ weight.T + bias.numpy()
    np.testing.assert_allclose(clf.decision_function(X), logits[:, 1] - logits[:, 0],
                               rtol=1e-4, atol=1e-4)


def test_factor_selection_happens_inside_each_training_fold():
    X, y = _frame(n=32, seed=0)
    # AFP carries the label in the first half only: the split decides the selection
    half = X.index[16:]
    X.loc[half, "afp"] = np.random.default_rng(5).normal(size=16)
    first, second = np.arange(16), np.arange(16, 32)
    result = cross_validate(CDLMClassifier(**TINY), X, y, cv=[(first, second),
                                                              (second, first)],
                            return_estimator=True, scoring="roc_auc")
    for estimator, train in zip(result["estimator"], (first, second)):
        rows = X.iloc[train]
        design = ClinicalPreprocessor(clinical=["afp", "age"]).set_output(
            transform="pandas").fit_transform(rows[["afp", "age"]])
        try:
            reference = StepwiseSelector().fit(design, y[train]).selected_variables_
        except ValueError:  # nothing selected
            reference = []
        assert estimator.selected_factors_ == reference
        assert estimator.clinical_columns_ == reference
    assert result["estimator"][0].selected_factors_ == ["afp"]
    assert result["estimator"][1].selected_factors_ == []


def test_clone_pickle_reruns_and_end_to_end():
    X, y = _frame()
    clf = CDLMClassifier(**TINY).fit(X, y)
    again = clone(clf).fit(X, y)
    proba = clf.predict_proba(X)
    np.testing.assert_array_equal(proba, again.predict_proba(X))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X), proba)
    assert clf.selected_factors_ == ["afp"]
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    joint = CDLMClassifier(**TINY, training="end_to_end").fit(X, y)
    assert joint.oof_signatures_ is None
    batch = joint.net_.history[-1, "batches", -1]
    assert 0 < batch["loss_fusion"] < batch["train_loss"]
    assert not np.allclose(joint.predict_proba(X), proba)


def test_gradcam_maps_slices_back_to_the_image():
    X, y = _frame()
    clf = CDLMClassifier(**TINY).fit(X, y)
    cam = gradcam(clf, X)
    assert cam["CT_AP"].shape == (16, 3, 16, 16)
    assert (cam["CT_AP"] >= 0).all() and np.isfinite(cam["CT_AP"]).all()
    volume = cam.to_volumes().loc["p0", "CT_PV"]
    assert volume.shape == X.loc["p0", "CT_PV"].shape
    # the map lives on the three slices of largest tumour area (2-5 tie: 2, 3, 4)
    assert set(np.flatnonzero(volume.array.reshape(8, -1).any(axis=1))) <= {2, 3, 4}
    np.testing.assert_allclose(cam.logits[:, 1] - cam.logits[:, 0], clf.decision_function(X),
                               rtol=1e-4, atol=1e-5)
    # plot_cam draws the slices the network saw, as a stack or one 2D slice
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mvikit.plotting import plot_cam

    slices, heat = cam.inputs["CT_AP"][0], cam["CT_AP"][0]
    axes = plot_cam(slices, heat, slices=[0, 1, 2])
    assert [a.get_title() for a in axes] == ["axial 0", "axial 1", "axial 2"]
    axis = plot_cam(slices[1], heat[1])
    np.testing.assert_array_equal(axis.images[0].get_array(), slices[1])
    with pytest.raises(ValueError, match=r"2D \(H, W\) or 3D"):
        plot_cam(slices[0, 0], heat[0, 0])
    plt.close("all")


# ------------------------------------------------------------------ bad input
def test_bad_input():
    X, y = _frame(thin=("p1", "p4"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = CDLMClassifier(**TINY).fit(X, y)
    messages = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert len(messages) == 1, messages
    assert "fewer than n_slices=3" in messages[0] and "'p1', 'p4'" in messages[0]
    with pytest.raises(ColumnRoleError, match=r"lacks \['CT_PV'\]"):
        clf.predict_proba(X.drop(columns="CT_PV"))
    with pytest.raises(ColumnRoleError, match=r"lacks \['afp'\]"):
        clf.predict_proba(X.drop(columns="afp"))
    # a factor not selected is not needed at predict time
    clf.predict_proba(X.drop(columns="age"))
    with pytest.raises(ValueError, match="binary target"):
        CDLMClassifier(**TINY).fit(X, np.arange(16) % 3)


def test_registered_architecture_and_presets():
    spec = get_architecture("cdlm")
    assert (spec.input_kind, spec.spatial_dims, spec.clinical) == ("slices", 2, "late")
    cpu = CDLMClassifier()._settings(spec)
    paper = CDLMClassifier(preset="paper")._settings(spec)
    assert (cpu["slice_size"], cpu["width"], cpu["n_slices"]) == (64, 0.25, 3)
    assert (paper["slice_size"], paper["width"], paper["grid"]) == (224, 1.0, (3, 224, 224))


# ------------------------------------------------------------------ Table 3
def test_cdlm_models_reproduce_table_3_rows_on_the_same_folds():
    from scipy.special import expit
    from sklearn.linear_model import LogisticRegression

    from mvikit.datasets import make_hcc_cohort
    from mvikit.deep import CDLM_PHASES, cdlm_models
    from mvikit.model_selection import compare_models

    cohort = make_hcc_cohort(80, "mvi", sequences=CDLM_PHASES["ct"], modality="ct",
                             n_centers=1, random_state=0)
    models = cdlm_models("ct", slice_size=16, width=0.0625, max_epochs=1, batch_size=8,
                         inner_cv=2, random_state=0)
    assert list(models) == ["Clinical model", "Radiological model", "Signature CT_PLAIN",
                            "Signature CT_AP", "Signature CT_PV", "Fusion DL model", "CDLM"]
    assert "hbp_hypo" not in models["Radiological model"][0].clinical
    assert "hbp_hypo" in cdlm_models("mri")["Radiological model"][0].clinical
    result = compare_models(models, cohort.X, cohort.y, cv=2, random_state=0,
                            scoring=["auc"], threshold_cv="train")
    assert result.failures.empty, result.failures[["model", "message"]]
    # the clinical model is a logistic regression on log AFP, fitted per training fold
    oof = result.oof_predictions("Clinical model")
    afp = cohort.X["afp"]
    for _, split in result.splits.iterrows():
        train, test = split["train_indices"], split["test_indices"]
        # the training fold's median fills missing values, then log, then standardise
        log_afp = np.log(afp.fillna(afp.iloc[train].median()))
        rows = log_afp.iloc[train]
        z = ((rows - rows.mean()) / rows.std(ddof=0)).to_numpy()[:, None]
        fit = LogisticRegression(penalty=None, tol=1e-10).fit(z, cohort.y[train])
        ztest = ((log_afp.iloc[test] - rows.mean()) / rows.std(ddof=0)).to_numpy()[:, None]
        expected = expit(fit.decision_function(ztest))
        np.testing.assert_allclose(oof["score"].iloc[test], expected, rtol=1e-4)
