"""DMMGNet (seed 002) as a network and through the estimators: every branch reaches the
output, the fusion modules join what the paper says, the Cox head's loss, presets and the
plateau schedule, Table 1's rows, and bad input (no liver mask, a tumour at the image edge,
few events)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from lifelines import CoxPHFitter

from mvikit import Volume
from mvikit.deep import CohortTensorizer, VolumeNetClassifier, dmmgnet_models
from mvikit.deep.nets import DMMGNet, get_architecture
from mvikit.deep.nets.dmmgnet import DMMGNET_VARIANTS
from mvikit.exceptions import ColumnRoleError, DataWarning
from mvikit.survival import CoxPartialLikelihoodLoss, DeepCoxSurvival, Surv

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = dict(volumes=["T2", "PV"], n_slices=4, slice_size=16, width=0.125, max_epochs=1,
             batch_size=4, random_state=0)


def _frame(n=8, seed=0, tumour_cols=slice(10, 18)):
    rng = np.random.default_rng(seed)
    tumour = np.zeros((12, 32, 32), np.uint8)
    tumour[3:9, 12:20, tumour_cols] = 1
    liver = np.zeros_like(tumour)
    liver[1:11, 4:28, 2:28] = 1
    liver |= tumour
    return pd.DataFrame({
        "T2": [Volume(rng.normal(size=tumour.shape)) for _ in range(n)],
        "PV": [Volume(rng.normal(size=tumour.shape)) for _ in range(n)],
        "tumor_mask": [Volume(tumour)] * n, "liver_mask": [Volume(liver)] * n},
        index=[f"p{i}" for i in range(n)])


def _batch(n=2, depth=4, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    shape = (n, 2, depth, size, size)
    masks = torch.zeros(shape)
    masks[:, :, 1:3, 4:12, 4:12] = 1
    return {"volumes": torch.randn(shape, generator=g), "masks": masks,
            "liver_volumes": torch.randn(shape, generator=g), "liver_masks": torch.ones(shape)}


def _net(name, n_outputs=1):
    torch.manual_seed(0)
    return get_architecture(name).build(n_sequences=2, n_outputs=n_outputs, width=0.125).eval()


def _weighted(out: torch.Tensor) -> torch.Tensor:
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))
    return (out * weights).sum()


# --------------------------------------------------------------------- the network
@pytest.mark.parametrize("name", ["dmmgnet", "dmmgnet_baseline"])
def test_every_branch_reaches_the_output_and_t2_changes_it(name):
    net, batch = _net(name, 2), _batch()
    volumes = batch["volumes"].requires_grad_(True)
    liver = batch["liver_volumes"].requires_grad_(True)
    logits = net(batch)["logits"]
    _weighted(logits).backward()
    for slabs in (volumes, liver):  # tumour and liver x T2 (0) and PV (1): four branches
        for sequence in (0, 1):
            assert float(slabs.grad[:, sequence].abs().sum()) > 0, (slabs is liver, sequence)
    other = {**batch, "volumes": batch["volumes"].detach().clone(),
             "liver_volumes": batch["liver_volumes"].detach().clone()}
    other["volumes"][:, 0] = torch.randn(other["volumes"][:, 0].shape)  # new T2 slabs only
    other["liver_volumes"][:, 0] = torch.randn(other["liver_volumes"][:, 0].shape)
    with torch.no_grad():
        assert not torch.allclose(net(other)["logits"], logits.detach())


def _reaches(net, batch, output, wrt) -> bool:
    """Whether ``output`` (e.g. ("tumour", 1): the PV tumour map after the last stage)
    depends on the input slab ``wrt`` (e.g. ("volumes", 0): T2 tumour)."""
    batch = {key: value.clone() for key, value in batch.items()}
    inputs = batch[wrt[0]].requires_grad_(True)
    tissue, sequence = output
    (grad,) = torch.autograd.grad(_weighted(net.features(batch)[tissue][sequence]), inputs,
                                  allow_unused=True)
    return grad is not None and float(grad[:, wrt[1]].abs().sum()) > 0


@pytest.mark.parametrize("name", list(DMMGNET_VARIANTS))
def test_fusion_modules_join_what_the_paper_says(name):
    sgcm, mmdfm, cmtfm = DMMGNET_VARIANTS[name]
    net, batch = _net(name), _batch()
    # CMTFM: the tumour maps of the two sequences read each other (eq. 4)
    assert _reaches(net, batch, ("tumour", 1), ("volumes", 0)) == cmtfm
    assert _reaches(net, batch, ("tumour", 0), ("volumes", 1)) == cmtfm
    # MMDFM: tumour and liver maps of one sequence read each other (eqs. 6-8)
    assert _reaches(net, batch, ("tumour", 0), ("liver_volumes", 0)) == mmdfm
    assert _reaches(net, batch, ("liver", 1), ("volumes", 1)) == mmdfm
    # the liver is never fused across sequences directly; through MMDFM + CMTFM it is
    assert _reaches(net, batch, ("liver", 1), ("liver_volumes", 0)) == (mmdfm and cmtfm)
    assert (net.sgcm is not None) == sgcm


def test_cmtfm_reads_the_pv_tumour_mask_max_pooled_to_each_stage():
    net, batch = _net("dmmgnet"), _batch(n=1, depth=4, size=32)
    batch["masks"] = torch.zeros_like(batch["masks"])
    batch["masks"][0, 1, 2, 13, 22] = 1  # one PV tumour voxel; the T2 mask is empty
    seen = []
    hooks = [module.register_forward_pre_hook(lambda m, args: seen.append(args[2]))
             for module in net.cmtfm]
    with torch.no_grad():
        maps = net.features(batch)
    for hook in hooks:
        hook.remove()
    assert len(seen) == 4
    for stage, mask in enumerate(seen, start=1):
        assert mask.shape[2:] == maps["tumour"][1].shape[2:] if stage == 4 else True
        expected = torch.zeros_like(mask)
        expected[0, 0, 2, 13 >> stage, 22 >> stage] = 1  # in-plane 2x2 pools, depth kept
        assert torch.equal(mask, expected), stage


def test_network_needs_two_sequences():
    batch = _batch()
    batch["volumes"] = batch["volumes"][:, :1]
    with pytest.raises(ValueError, match="two sequences"):
        DMMGNet(1, width=0.125)(batch)
    with pytest.raises(ValueError, match="takes 2 volume column"):
        VolumeNetClassifier("dmmgnet", **{**SMALL, "volumes": ["T2"]}).fit(_frame(), [0, 1] * 4)


# --------------------------------------------------------------------- Cox head
def test_cox_head_loss_equals_lifelines_partial_likelihood():
    X = _frame(n=12)
    time = np.array([5.0, 3.5, 9.0, 1.0, 7.5, 2.0, 11.0, 4.0, 6.5, 8.0, 10.0, 12.5])  # no ties
    event = np.array([1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1], bool)
    y = Surv.from_arrays(event=event, time=time)
    model = DeepCoxSurvival("dmmgnet", **SMALL).fit(X, y)
    data = model.tensorizer_.transform(X)
    risk = model.net_.outputs(data)["logits"][:, 0].astype(np.float64)
    frame = pd.DataFrame({"risk": risk, "time": time, "event": event})
    fit = CoxPHFitter().fit(frame, "time", "event")
    beta = float(fit.params_["risk"])
    # scale the risk head by lifelines' estimate: the network then outputs beta * risk
    head = model.net_.module_.head.classifier
    with torch.no_grad():
        head.weight.mul_(beta)
        head.bias.mul_(beta)
    logits = torch.from_numpy(model.net_.outputs(data)["logits"])
    target = torch.from_numpy(np.column_stack([time, event]).astype(np.float32))
    loss = model.net_.get_loss({"logits": logits}, target)
    # eq. (9): the negative partial log-likelihood divided by the number of events
    assert float(loss) == pytest.approx(-fit.log_likelihood_ / event.sum(), rel=2e-5)
    assert model.net_.criterion_.ties == model.ties == "breslow"
    efron = CoxPartialLikelihoodLoss(ties="efron")(logits, target)
    assert float(efron) == pytest.approx(float(loss), rel=1e-6)  # tie-free: the same


def test_every_cox_batch_holds_events():
    X = _frame(n=16)
    event = np.zeros(16, bool)
    event[[1, 6, 9, 14]] = True  # 4 events among 16: batches of 4 would often have none
    y = Surv.from_arrays(event=event, time=np.arange(1.0, 17.0))
    model = DeepCoxSurvival("dmmgnet", min_events_per_batch=2, **SMALL).fit(X, y)
    seen = []
    model.net_.criterion_.register_forward_hook(
        lambda module, inputs, output: seen.append(int(inputs[1][:, 1].sum())))
    model.net_.partial_fit(model.tensorizer_.transform(X),
                           np.column_stack([np.arange(1.0, 17.0), event]).astype(np.float32))
    assert seen == [2, 2]  # two batches of 8 (not four of 4), two events each
    with pytest.raises(ValueError, match="event"):
        DeepCoxSurvival("dmmgnet", **SMALL).fit(
            X, Surv.from_arrays(event=np.zeros(16, bool), time=np.arange(1.0, 17.0)))


# --------------------------------------------------------------------- presets, schedule
def test_presets_come_from_the_architecture():
    spec = get_architecture("dmmgnet")
    paper = VolumeNetClassifier("dmmgnet", preset="paper")._settings(spec)
    assert (paper["grid"], paper["lr"], paper["batch_size"], paper["width"]) == \
        ((10, 112, 112), 5e-3, 16, 1.0)
    assert paper["lr_schedule"]["policy"] == "plateau" and paper["lr_schedule"]["factor"] == 0.8
    assert VolumeNetClassifier("dmmgnet")._settings(spec)["grid"] == (10, 56, 56)
    explicit = VolumeNetClassifier("dmmgnet", slice_size=32, lr=1e-3)._settings(spec)
    assert (explicit["grid"], explicit["lr"]) == ((10, 32, 32), 1e-3)
    # other architectures keep the estimators' presets and StepLR
    assert "lr_schedule" not in VolumeNetClassifier("concat")._settings(get_architecture("concat"))


def test_learning_rate_falls_by_0_8_when_the_training_loss_does_not():
    X, y = _frame(n=8), np.array([0, 1] * 4)
    clf = VolumeNetClassifier("dmmgnet_baseline", **{**SMALL, "max_epochs": 5}).fit(X, y)
    losses = clf.net_.history[:, "train_loss"]
    lr, best = 5e-3, np.inf
    for loss in losses:  # ReduceLROnPlateau(mode="min", threshold=1e-4 relative, patience=0)
        if loss < best * (1 - 1e-4):
            best = loss
        else:
            lr *= 0.8
    assert clf.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(lr, rel=1e-9)


# --------------------------------------------------------------------- Table 1
def test_dmmgnet_models_are_the_eight_rows_of_table_1():
    models = dmmgnet_models(random_state=3, max_epochs=2)
    assert list(models) == ["Baseline", "Baseline+SGCM", "Baseline+MMDFM", "Baseline+CMTFM",
                            "Baseline+SGCM+MMDFM", "Baseline+SGCM+CMTFM",
                            "Baseline+MMDFM+CMTFM", "DMMGNet"]
    modules = []
    for model in models.values():
        assert isinstance(model, VolumeNetClassifier) and model.volumes == ["T2", "PV"]
        assert (model.random_state, model.max_epochs) == (3, 2)
        net = get_architecture(model.architecture).build(n_sequences=2, n_outputs=2,
                                                         width=0.125)
        modules.append(tuple(getattr(net, m) is not None for m in ("sgcm", "mmdfm", "cmtfm")))
    assert modules == [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (1, 0, 1),
                       (0, 1, 1), (1, 1, 1)]
    survival = dmmgnet_models("survival", t2="T2w", pv="PVp")
    assert all(isinstance(m, DeepCoxSurvival) and m.volumes == ["T2w", "PVp"]
               for m in survival.values())
    with pytest.raises(ValueError, match="task="):
        dmmgnet_models("regression")


# --------------------------------------------------------------------- bad input
def test_no_liver_mask_names_the_column_and_the_layout():
    X = _frame().drop(columns="liver_mask")
    with pytest.raises(ColumnRoleError, match=r"'liver_mask'.*layout='full'"):
        VolumeNetClassifier("dmmgnet", **SMALL).fit(X, [0, 1] * 4)


def test_tumour_at_the_image_edge_is_padded_and_warned_once_naming_the_patients():
    X = _frame(n=3)
    at_edge = np.zeros((12, 32, 32), np.uint8)
    at_edge[3:9, 12:20, 0:6] = 1  # touches column 0
    X.loc[["p0", "p2"], "tumor_mask"] = pd.Series([Volume(at_edge)] * 2, index=["p0", "p2"])
    columns = np.broadcast_to(np.arange(32.0), (12, 32, 32)).copy()
    X["T2"] = [Volume(columns)] * 3  # each voxel's value is its column
    # the box: rows 12-19, columns 0-5 (+10 %) -> side 10, columns -2..7 (no resizing)
    tensorizer = CohortTensorizer("liver_tumor", volumes=["T2", "PV"], n_slices=4,
                                  slice_size=10, normalize=None).fit(X)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = tensorizer.transform(X)
    messages = [str(w.message) for w in caught if "touches the edge" in str(w.message)]
    assert len(messages) == 1 and "2 patient(s) ('p0', 'p2')" in messages[0]
    np.testing.assert_allclose(data["volumes"][0, 0, 0, 0].numpy(),
                               [0, 0, 0, 1, 2, 3, 4, 5, 6, 7], atol=1e-5)  # edge repeated
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        VolumeNetClassifier("dmmgnet", **SMALL).fit(X, [0, 1, 0])
    edge = [w for w in caught if "touches the edge" in str(w.message)]
    assert len(edge) == 1 and issubclass(edge[0].category, DataWarning)


def test_learning_rate_schedule_name_is_checked():
    clf = VolumeNetClassifier("dmmgnet")
    with pytest.raises(ValueError, match="schedule"):
        clf._lr_scheduler({"policy": "cosine"})


def test_mask_pooling_matches_the_feature_grid():
    # odd in-plane sizes: ceil-mode pooling keeps mask and features on one grid
    net, batch = _net("dmmgnet"), _batch(n=1, depth=3, size=18)
    maps = net.features(batch)
    mask = batch["masks"][:, 1:2]
    for _ in range(4):
        mask = F.max_pool3d(mask, (1, 2, 2), ceil_mode=True)
    assert mask.shape[2:] == maps["tumour"][1].shape[2:] == (3, 2, 2)
