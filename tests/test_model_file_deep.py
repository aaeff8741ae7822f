"""Deep models in model files: bit-identical predictions after a round trip for every deep
estimator, tampered weights and names refused, the architecture on the model card."""

import io
import json
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from _helpers import TINY, make_frame
from sklearn.pipeline import make_pipeline

from mvikit import Volume
from mvikit.deep import CDLMClassifier, MDNetClassifier, MTNetClassifier, VolumeNetClassifier
from mvikit.exceptions import MvikitWarning, UnsafeModelFileError
from mvikit.study import RecalibratedClassifier, load_model, model_card, save_model
from mvikit.study._trust import is_trusted_class
from mvikit.survival import DeepCoxSurvival, Surv

pytestmark = [pytest.mark.usefixtures("one_torch_thread"),
              pytest.mark.filterwarnings("ignore:'tumor_mask' spans fewer than n_slices")]

ONE = {**TINY, "max_epochs": 1}
N_TRAIN = 14
CDLM_TINY = dict(slice_size=16, width=0.0625, max_epochs=1, batch_size=4, inner_cv=2,
                 random_state=0)
MTNET_SHAPE = (16, 32, 32)  # MTnet's UNet halves each axis four times
MTNET_TINY = dict(cube=MTNET_SHAPE, downsample=1, crop_size=MTNET_SHAPE, width=0.125,
                  max_epochs=1, batch_size=4, random_state=0)


def _phases_frame(n, columns, shape, box, seed=0):
    """Noise volumes in ``columns`` with a brighter tumour ``box`` (class 1 brighter), its
    mask, a clinical item carrying the label and a noise item."""
    rng = np.random.default_rng(seed)
    y = np.array([0, 1] * (n // 2))
    mask = np.zeros(shape, np.uint8)
    mask[box] = 1
    data = {"afp": rng.normal(size=n) + 1.5 * y, "age": rng.normal(size=n),
            "sex": rng.choice(["F", "M"], n)}
    for column in columns:
        data[column] = [Volume(rng.normal(size=shape) + (1.0 + y[i]) * mask) for i in range(n)]
    data["tumor_mask"] = [Volume(mask)] * n
    return pd.DataFrame(data, index=[f"p{i:02d}" for i in range(n)]), y


def cdlm_frame(n):
    return _phases_frame(n, ["CT_AP", "CT_PV"], (8, 16, 16), np.s_[2:6, 5:11, 5:11])


def mtnet_frame(n):
    return _phases_frame(n, ["CT_PV"], MTNET_SHAPE, np.s_[5:10, 10:20, 9:21])


@pytest.fixture(scope="module")
def frame():
    X, y = make_frame(n=20)
    return X.iloc[:N_TRAIN], y[:N_TRAIN], X.iloc[N_TRAIN:]


def _round_trip(model, tmp_path):
    path = save_model(model, tmp_path / "deep.mvikit", overwrite=True)
    with zipfile.ZipFile(path) as archive:
        assert not any(name.endswith((".pkl", ".pt")) for name in archive.namelist())
    return load_model(path)


def _same_networks(saved, loaded):
    """Same weights, same history, same trainer settings in every network of the trainer."""
    for name in saved.net_._modules:
        ours, theirs = getattr(saved.net_, f"{name}_"), getattr(loaded.net_, f"{name}_")
        assert type(ours) is type(theirs)
        for (k, a), (k2, b) in zip(ours.state_dict().items(), theirs.state_dict().items()):
            assert k == k2 and torch.equal(a, b)
    assert list(loaded.net_.history) == list(saved.net_.history)
    assert type(loaded.net_) is type(saved.net_)
    assert loaded.net_.augmenter.__dict__ == saved.net_.augmenter.__dict__


CLASSIFIERS = {
    "concat": lambda: VolumeNetClassifier("concat", **ONE),
    "cnn3d + clinical (late fusion, balanced)": lambda: VolumeNetClassifier(
        "cnn3d", use_clinical=True, class_weight="balanced", **ONE),
    "resnet18_slices": lambda: VolumeNetClassifier("resnet18_slices", slice_size=16, **ONE),
    "mdnet joint": lambda: MDNetClassifier(**ONE),
    "mdnet pretrain": lambda: MDNetClassifier(teacher_training="pretrain", **ONE),
    "mdnet crossfit": lambda: MDNetClassifier(teacher_training="crossfit", n_teachers=2, **ONE),
}


@pytest.mark.parametrize("name", list(CLASSIFIERS))
def test_deep_classifiers_round_trip_bit_identically(name, frame, tmp_path):
    X, y, held_out = frame
    model = CLASSIFIERS[name]().fit(X, y)
    torch.manual_seed(5)
    expected_draw = torch.rand(2)
    torch.manual_seed(5)
    loaded = _round_trip(model, tmp_path)
    assert torch.equal(torch.rand(2), expected_draw)  # loading leaves the caller's RNG alone
    np.testing.assert_array_equal(loaded.predict_proba(held_out), model.predict_proba(held_out))
    np.testing.assert_array_equal(loaded.transform(held_out), model.transform(held_out))
    assert loaded.get_params() == model.get_params()
    assert loaded.settings_ == model.settings_
    _same_networks(model, loaded)
    if isinstance(model, MDNetClassifier):
        np.testing.assert_array_equal(loaded.teacher_predict_proba(held_out),
                                      model.teacher_predict_proba(held_out))
        np.testing.assert_array_equal(loaded.predict_clinical(held_out),
                                      model.predict_clinical(held_out))
    if name == "mdnet pretrain":  # the frozen teacher stays frozen
        assert not any(p.requires_grad for p in loaded.net_.teacher_.parameters())
        assert loaded.net_.phase == "student"
    if name == "mdnet crossfit":
        assert len(loaded.teachers_) == 2
        np.testing.assert_array_equal(loaded.teacher_oof_proba_, model.teacher_oof_proba_)


def test_cdlm_round_trip(tmp_path):
    X, y = cdlm_frame(n=16)
    model = CDLMClassifier(**CDLM_TINY).fit(X.iloc[:12], y[:12])
    loaded = _round_trip(model, tmp_path)
    held_out = X.iloc[12:]
    np.testing.assert_array_equal(loaded.predict_proba(held_out), model.predict_proba(held_out))
    np.testing.assert_array_equal(loaded.signatures(held_out), model.signatures(held_out))
    assert loaded.selected_factors_ == model.selected_factors_
    _same_networks(model, loaded)


@pytest.mark.parametrize("variant", ["CR-DR", "CR"])
def test_mtnet_round_trip(variant, tmp_path):
    X, y = mtnet_frame(n=12)
    model = MTNetClassifier(variant, **MTNET_TINY).fit(X.iloc[:8], y[:8])
    loaded = _round_trip(model, tmp_path)
    held_out = X.iloc[8:]
    np.testing.assert_array_equal(loaded.predict_proba(held_out), model.predict_proba(held_out))
    np.testing.assert_array_equal(loaded.predict_risk_group(held_out),
                                  model.predict_risk_group(held_out))
    assert loaded.threshold_ == model.threshold_
    if variant == "CR-DR":
        segmentation = loaded.predict_segmentation(held_out, space="crop")
        for a, b in zip(segmentation, model.predict_segmentation(held_out, space="crop")):
            np.testing.assert_array_equal(a.array, b.array)


@pytest.mark.parametrize("fusion", ["late", "linear"])
def test_deep_cox_round_trip(fusion, frame, tmp_path):
    X, _, held_out = frame
    rng = np.random.default_rng(0)
    y = Surv.from_arrays(event=[1, 0] * (N_TRAIN // 2), time=rng.uniform(1, 10, N_TRAIN))
    extra = {"clinical_lr": 0.5} if fusion == "linear" else {}
    model = DeepCoxSurvival("cnn3d", use_clinical=True, clinical_fusion=fusion,
                            clinical=["age", "AFP"], **extra, **ONE).fit(X, y)
    loaded = _round_trip(model, tmp_path)
    np.testing.assert_array_equal(loaded.predict(held_out), model.predict(held_out))
    np.testing.assert_array_equal(
        loaded.predict_survival_function(held_out, return_array=True),
        model.predict_survival_function(held_out, return_array=True))
    _same_networks(model, loaded)
    if fusion == "linear":
        np.testing.assert_array_equal(loaded.decompose_risk(held_out),
                                      model.decompose_risk(held_out))
        groups = loaded.net_.optimizer_.param_groups
        assert [g["lr"] for g in groups] == [0.5, ONE.get("lr", loaded.settings_["lr"])]


def test_deep_models_inside_a_pipeline_and_a_recalibration(frame, tmp_path):
    X, y, held_out = frame
    pipeline = make_pipeline(VolumeNetClassifier("cnn3d", **ONE)).fit(X, y)
    loaded = _round_trip(pipeline, tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(held_out),
                                  pipeline.predict_proba(held_out))
    recalibrated = RecalibratedClassifier(pipeline, method="logistic").fit(X, y)
    loaded = _round_trip(recalibrated, tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(held_out),
                                  recalibrated.predict_proba(held_out))


# ------------------------------------------------------------------ tampering
@pytest.fixture(scope="module")
def concat(frame):
    X, y, _ = frame
    return VolumeNetClassifier("concat", **ONE).fit(X, y)


def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _rewrite(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _state_node(tree):
    """The state-dict node of the trainer's main network in a model.json tree."""
    net = tree["state"]["values"][tree["state"]["keys"].index("net_")]
    components = net["components"]
    return components["values"][components["keys"].index("module")]["state"]


def test_tampered_weights_are_refused_naming_the_key(concat, tmp_path):
    path = save_model(concat, tmp_path / "m.mvikit")
    members = _members(path)
    tree = json.loads(members["model.json"])
    state = _state_node(tree)
    key = next(k for k in state["keys"] if k.endswith("conv.weight") or k.endswith(".weight"))
    i = state["keys"].index(key)
    # a renamed key
    state["keys"][i] = key + "_x"
    _rewrite(path, {**members, "model.json": json.dumps(tree).encode()})
    with pytest.raises(UnsafeModelFileError, match=rf"architecture 'concat'.*key "
                                                   rf"'{key}_x' is not one of the network's"):
        load_model(path)
    # an array of another shape under the right key
    state["keys"][i] = key
    shape = tuple(concat.net_.module_.state_dict()[key].shape)
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((2,) + shape, np.float32), allow_pickle=False)
    members[state["tensors"][i]["file"]] = buffer.getvalue()
    _rewrite(path, {**members, "model.json": json.dumps(tree).encode()})
    with pytest.raises(UnsafeModelFileError,
                       match=rf"'{key}' is \(2, {shape[0]}.*the network's \({shape[0]}"):
        load_model(path)
    # a dtype that the array does not have
    path = save_model(concat, tmp_path / "d.mvikit")
    members = _members(path)
    tree = json.loads(members["model.json"])
    _state_node(tree)["tensors"][i]["dtype"] = "float64"
    _rewrite(path, {**members, "model.json": json.dumps(tree).encode()})
    with pytest.raises(UnsafeModelFileError, match="holds float32 values where the model file "
                                                   "declares float64"):
        load_model(path)


def _set_devices(node, device, found):
    """Write ``device`` into every ``device`` entry of a model.json tree (the estimator's
    parameter and its trainer's), as a GPU-trained model's file would hold; count them."""
    if isinstance(node, dict):
        if "keys" in node and "values" in node and "device" in node["keys"]:
            node["values"][node["keys"].index("device")] = device
            found.append(device)
        for value in node.values():
            _set_devices(value, device, found)
    elif isinstance(node, list):
        for value in node:
            _set_devices(value, device, found)


def test_a_gpu_trained_model_loads_onto_the_cpu_where_no_gpu_is(concat, frame, tmp_path,
                                                                 monkeypatch):
    _, _, held_out = frame
    path = save_model(concat, tmp_path / "gpu.mvikit")
    members = _members(path)
    tree = json.loads(members["model.json"])
    found = []
    _set_devices(tree, "cuda:0", found)
    assert len(found) == 2  # VolumeNetClassifier.device and its trainer's
    _rewrite(path, {**members, "model.json": json.dumps(tree).encode()})
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(MvikitWarning, match=r"trained on \['cuda:0'\].*loaded onto the CPU"):
        loaded = load_model(path)
    assert loaded.device == loaded.net_.device == "cpu"
    assert next(loaded.net_.module_.parameters()).device.type == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(held_out), concat.predict_proba(held_out))
    # an explicit device wins, silently
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        explicit = load_model(path, device="cpu")
    assert explicit.device == explicit.net_.device == "cpu"
    # a CPU model stays on the CPU and loading it says nothing
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_model(save_model(concat, tmp_path / "cpu.mvikit")).device == "cpu"


def test_unknown_classes_and_architectures_are_refused_by_name(concat, tmp_path):
    path = save_model(concat, tmp_path / "m.mvikit")
    members = _members(path)
    text = members["model.json"].decode()
    replacements = {'"architecture": "concat"': '"architecture": "no_such_net"',
                    '"mvikit.deep._trainers.CohortTrainer"': '"os.system"',
                    '"mvikit.deep._trainers.FocalCriterion"': '"torch.nn.modules.linear.Linear"',
                    '"skorch.callbacks.lr_scheduler.LRScheduler"':
                        '"skorch.callbacks.training.LoadInitState"'}
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    _rewrite(path, {**members, "model.json": text.encode()})
    with pytest.raises(UnsafeModelFileError) as error:
        load_model(path)
    message = str(error.value)
    assert "4 type(s) that mvikit does not trust" in message
    for name in ("architecture 'no_such_net' (not registered)", "'os.system'",
                 "'torch.nn.modules.linear.Linear'", "LoadInitState"):
        assert name in message
    # networks and trainers never take the generic state-restoring path (skorch's
    # __setstate__ calls torch.load)
    assert not is_trusted_class("mvikit.deep._trainers.CohortTrainer")
    assert not is_trusted_class("mvikit.deep.nets.baselines.ConcatNet")


def test_networks_built_outside_the_register_are_refused_at_save(concat, tmp_path):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(np.array([[0.0], [1.0]]), [0, 1])
    model.extra_ = torch.nn.Linear(2, 1)
    with pytest.raises(UnsafeModelFileError, match=r"torch.nn.modules.linear.Linear network "
                                                   r"\(at LogisticRegression.extra_\) that was "
                                                   "not built through the architecture register"):
        save_model(model, tmp_path / "m.mvikit")
    assert not (tmp_path / "m.mvikit").exists()


# ------------------------------------------------------------------ model card
def test_model_card_describes_the_architecture(frame):
    X, y, _ = frame
    model = MDNetClassifier(teacher_training="crossfit", n_teachers=2, **ONE).fit(X, y)
    section = model_card(model).sections["Model"]
    n_student = sum(p.numel() for p in model.net_.module_.parameters())
    assert (f"- network: architecture 'mdnet_student' (registered), {n_student} parameters, "
            "input kind 'cube', sequences PRE, HBP, 0 clinical inputs") in section
    n_teacher = sum(p.numel() for p in model.teachers_[1].module_.parameters())
    n_clinical = model.teachers_[1].module_._mvikit_build["kwargs"]["n_clinical"]
    assert n_clinical == len(model.clinical_preprocessor_.get_feature_names_out())
    assert (f"- cross-fitted teacher 2: architecture 'mdnet_teacher' (registered), {n_teacher} "
            f"parameters, input kind 'cube', sequences PRE, HBP, {n_clinical} clinical "
            "inputs") in section
