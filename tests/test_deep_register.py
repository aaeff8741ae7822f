"""The architecture register: one contract test over every registered architecture, the
toy sixth architecture from a file outside the package, input kinds and bad input."""

import importlib.util
import inspect
import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from mvikit import Volume
from mvikit.deep import (
    CDLMClassifier,
    CohortTensorizer,
    MDNetClassifier,
    MTNetClassifier,
    VolumeNetClassifier,
    gradcam,
    register_architecture,
)
from mvikit.deep._base import SHARED_CONSTRAINTS, SHARED_PARAMETERS
from mvikit.deep._slices import mask_slab, slab_slices
from mvikit.deep._trainers import dice_ce_loss
from mvikit.deep.nets import (
    ArchitectureContractError,
    check_module_output,
    get_architecture,
    list_architectures,
)
from mvikit.deep.nets.dmmgnet import DMMGNET_VARIANTS
from mvikit.exceptions import ColumnRoleError, DataWarning
from mvikit.survival import DeepCoxSurvival, Surv

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BUILTIN = list_architectures()
SHAPE = (16, 32, 32)


def _batch(spec, n=3, n_sequences=2, n_clinical=0, seed=0):
    g = torch.Generator().manual_seed(seed)
    # slabs as deep as the architecture's cpu preset reads them (3 slices by default)
    depth = (spec.presets.get("cpu", {}).get("n_slices", 3) if spec.input_kind != "cube"
             else SHAPE[0])
    shape = (n, n_sequences, depth) + SHAPE[1:]
    batch = {"volumes": torch.randn(shape, generator=g),
             "masks": (torch.rand(shape, generator=g) > 0.7).float(),
             "clinical": torch.randn(n, n_clinical, generator=g)}
    if spec.input_kind == "liver_tumor":
        batch["liver_volumes"] = torch.randn(shape, generator=g)
        batch["liver_masks"] = (torch.rand(shape, generator=g) > 0.5).float()
    return batch


def _module(spec, n_clinical):
    torch.manual_seed(0)
    return spec.build(n_sequences=2, n_outputs=3, n_clinical=n_clinical, width=0.125)


def _clinical(spec):
    return 0 if spec.clinical == "none" else 5


@pytest.mark.parametrize("name", BUILTIN)
def test_module_contract(name):
    spec = get_architecture(name)
    n_clinical = _clinical(spec)
    net = _module(spec, n_clinical).train()
    batch = _batch(spec, n_clinical=n_clinical)
    out = net(batch)
    check_module_output(out, name, spec.auxiliary, 3, 3)
    # gradients reach every parameter
    sum((value.float() ** 2).mean() for value in out.values()).backward()
    silent = [n for n, p in net.named_parameters()
              if p.grad is None or float(p.grad.abs().sum()) == 0.0]
    assert silent == []
    # eval mode: deterministic, a patient's output independent of the batch
    net.eval()
    with torch.no_grad():
        first, second = net(batch), net(batch)
        one = net({key: value[:1] for key, value in batch.items()})
    for key in first:
        assert torch.equal(first[key], second[key])
    assert torch.allclose(one["logits"], first["logits"][:1], atol=1e-5)
    # pickling keeps the outputs
    clone = pickle.loads(pickle.dumps(net))
    with torch.no_grad():
        assert torch.equal(clone(batch)["logits"], first["logits"])


@pytest.mark.parametrize("name", BUILTIN)
def test_gradcam_layers_are_feature_maps(name):
    spec = get_architecture(name)
    net = _module(spec, _clinical(spec)).eval()
    layers = spec.gradcam_layers(net, ["PRE", "HBP"])
    assert set(layers) == {"PRE", "HBP"}
    outputs = {}
    handles = [net.get_submodule(layer).register_forward_hook(
        lambda m, i, o, layer=layer: outputs.setdefault(layer, o)) for layer in layers.values()]
    with torch.no_grad():
        net(_batch(spec, n_clinical=_clinical(spec)))
    for handle in handles:
        handle.remove()
    for layer in layers.values():
        assert outputs[layer].dim() == spec.spatial_dims + 2


def _frame(n=8, seed=1, clinical=True, depth=16, liver=False):
    rng = np.random.default_rng(seed)
    mask = np.zeros((depth, 32, 32), np.uint8)
    mask[6:10, 12:20, 10:18] = 1
    data = {"PRE": [Volume(rng.normal(size=(depth, 32, 32))) for _ in range(n)],
            "HBP": [Volume(rng.normal(size=(depth, 32, 32))) for _ in range(n)],
            "tumor_mask": [Volume(mask)] * n}
    if liver:
        liver_mask = np.zeros_like(mask)
        liver_mask[2:14, 4:28, 4:28] = 1
        data["liver_mask"] = [Volume(liver_mask)] * n
    if clinical:
        data = {"AFP": rng.lognormal(3, 1, n), "age": rng.normal(55, 8, n), **data}
    return pd.DataFrame(data, index=[f"p{i}" for i in range(n)])


TINY = dict(cube=SHAPE, downsample=1, crop_size=SHAPE, slice_size=32, width=0.125,
            max_epochs=1, batch_size=4, random_state=0)
# DMMGNet's Table 1 rows differ from "dmmgnet" and "dmmgnet_baseline" only in module
# switches, which test_module_contract covers row by row; training each twice here would
# add about a minute to the suite
_TABLE_1_ROWS = set(DMMGNET_VARIANTS) - {"dmmgnet", "dmmgnet_baseline"}
CLASSIFIABLE = ([n for n in BUILTIN if n != "mdnet_student" and n not in _TABLE_1_ROWS]
                + ["mdnet_student"])


@pytest.mark.parametrize("name", CLASSIFIABLE)
def test_every_architecture_trains_reproducibly_pickles_and_explains(name):
    spec = get_architecture(name)
    X, y = _frame(liver=spec.input_kind == "liver_tumor"), np.array([0, 1] * 4)
    params = dict(TINY, use_clinical=spec.clinical == "required")
    first = VolumeNetClassifier(name, **params).fit(X, y)
    second = VolumeNetClassifier(name, **params).fit(X, y)
    proba = first.predict_proba(X)
    np.testing.assert_array_equal(proba, second.predict_proba(X))  # bit-identical reruns
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(first)).predict_proba(X), proba)
    cam = gradcam(first, X)
    assert cam["PRE"].shape == (8,) + first.settings_["crop_size"]
    assert (cam["PRE"] >= 0).all() and np.isfinite(cam["PRE"]).all()
    assert cam.to_volumes().loc["p0", "HBP"].shape == X.loc["p0", "HBP"].shape


def test_shared_parameters_are_declared_once():
    for cls in (VolumeNetClassifier, MDNetClassifier, CDLMClassifier, MTNetClassifier,
                DeepCoxSurvival):
        signature = inspect.signature(cls.__init__).parameters
        defaults = {name: signature[name].default for name in SHARED_PARAMETERS}
        assert defaults == SHARED_PARAMETERS, cls.__name__
        for name in SHARED_CONSTRAINTS:
            assert cls._parameter_constraints[name] is SHARED_CONSTRAINTS[name]


# ------------------------------------------------------------------ toy sixth
@pytest.fixture(scope="module")
def toy():
    path = Path(__file__).parent / "architectures" / "toy_sixth.py"
    spec = importlib.util.spec_from_file_location("toy_sixth", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_toy_sixth_architecture_everywhere(toy):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline

    from mvikit.model_selection import compare_models
    from mvikit.preprocessing import ClinicalPreprocessor

    assert "toy_sixth" in list_architectures(clinical="late")
    X, y = _frame(n=12), np.array([0, 1] * 6)
    clf = VolumeNetClassifier("toy_sixth", use_clinical=True, **TINY).fit(X, y)
    assert isinstance(clf.net_.module_, toy.ToyNet) and clf.predict_proba(X).shape == (12, 2)
    cam = gradcam(clf, X)
    assert cam.layers == {"PRE": "convs.0", "HBP": "convs.1"}
    survival = Surv.from_arrays(event=[1, 0, 1] * 4, time=np.arange(1.0, 13.0))
    cox = DeepCoxSurvival("toy_sixth", **TINY).fit(X, survival)
    assert isinstance(cox.net_.module_, toy.ToyNet) and 0 <= cox.score(X, survival) <= 1
    models = {"toy": VolumeNetClassifier("toy_sixth", **TINY),
              "logistic": make_pipeline(ClinicalPreprocessor(clinical=["AFP", "age"]),
                                        LogisticRegression())}
    result = compare_models(models, X, y, cv=StratifiedKFold(3), scoring=["auc"])
    assert set(result.scores["model"]) == {"toy", "logistic"}


# ------------------------------------------------------------------ bad input
def test_unknown_architecture_lists_the_registered_ones():
    with pytest.raises(ValueError, match="registered: .*concat.*mdnet_teacher"):
        VolumeNetClassifier("nope", **TINY).fit(_frame(), [0, 1] * 4)


def test_broken_module_names_the_missing_key():
    class Broken(torch.nn.Module):
        def __init__(self, n_outputs):
            super().__init__()
            self.head = torch.nn.Linear(1, n_outputs)

        def forward(self, batch):
            return {"logits": self.head(batch["volumes"].mean(dim=(1, 2, 3, 4))[:, None])}

    register_architecture("test_broken", lambda *, n_sequences, n_outputs, n_clinical, width:
                          Broken(n_outputs), clinical="none",
                          gradcam_layers=lambda m, s: {}, replace=True)
    with pytest.raises(ArchitectureContractError, match=r"missing \['embedding'\]"):
        VolumeNetClassifier("test_broken", **TINY).fit(_frame(), [0, 1] * 4)


def test_registration_is_checked():
    with pytest.raises(ArchitectureContractError, match="input_kind='voxels'"):
        register_architecture("test_bad", lambda **kw: None, clinical="none",
                              input_kind="voxels", gradcam_layers=lambda m, s: {})
    with pytest.raises(ArchitectureContractError, match="already registered"):
        register_architecture("concat", lambda **kw: None, clinical="none",
                              gradcam_layers=lambda m, s: {})


def test_liver_input_without_liver_mask_names_column_and_layout():
    with pytest.raises(ColumnRoleError, match=r"'liver_mask'.*layout='full'"):
        CohortTensorizer(input_kind="liver_tumor").fit(_frame())


def test_liver_tumor_slabs():
    X = _frame(n=2, liver=True)
    rows = np.broadcast_to(np.arange(32.0)[None, :, None], (16, 32, 32)).copy()
    X["PRE"] = [Volume(rows)] * 2  # each voxel's value is its row
    tensorizer = CohortTensorizer(input_kind="liver_tumor", n_slices=10, slice_size=16,
                                  normalize=None).fit(X)
    with pytest.warns(DataWarning, match="'tumor_mask' spans fewer than n_slices=10") as seen:
        data = tensorizer.transform(X)
    assert len(seen) == 1  # the liver spans 12 slices: no warning for it
    assert data["volumes"].shape == data["liver_volumes"].shape == (2, 2, 10, 16, 16)
    # the tumour box covers rows 12-19 (+10 %), the liver box rows 4-27 (+10 %)
    tumour, liver = data["volumes"][:, 0], data["liver_volumes"][:, 0]
    assert 10.5 < float(tumour.min()) < 12 and 19.5 < float(tumour.max()) < 21
    assert 1 < float(liver.min()) < 4 and 27.5 < float(liver.max()) < 31
    assert data["liver_masks"].all(dim=(2,)).float().mean() > 0.5


def test_fewer_tumour_slices_than_k_repeat_edges_and_warn_once_per_column():
    X = _frame(n=3, clinical=False)
    thin = np.zeros((16, 32, 32), np.uint8)
    thin[7, 12:20, 10:18] = 1
    X["PRE_mask"] = [Volume(thin)] * 3
    tensorizer = CohortTensorizer(input_kind="slices", slice_size=16).fit(X)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = tensorizer.transform(X)
    messages = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert len(messages) == 1 and "'PRE_mask'" in messages[0] and "'p0', 'p1', 'p2'" in messages[0]
    pre = data["volumes"][:, 0]
    assert torch.equal(pre[:, 0], pre[:, 1]) and torch.equal(pre[:, 1], pre[:, 2])


# ------------------------------------------------------------------ slabs
@pytest.mark.parametrize("rows, k, expected", [
    ({2: 4, 3: 9, 4: 1}, 3, [2, 3, 4]),       # argmax 3 +/- 1
    ({0: 9, 1: 4, 2: 1, 3: 1}, 3, [0, 1, 2]),  # clamped at the volume's first slice
    ({5: 1, 6: 2, 7: 9}, 3, [5, 6, 7]),       # clamped at the tumour's last slice
    ({4: 2, 5: 9}, 3, [4, 5, 5]),             # two tumour slices: the edge repeated
    ({1: 3, 2: 9, 3: 3, 4: 2, 5: 1}, 4, [1, 2, 3, 4]),  # even k: one more below
])
def test_slab_picker(rows, k, expected):
    mask = np.zeros((8, 5, 5), bool)
    for z, area in rows.items():
        mask[z].flat[:area] = True
    assert slab_slices(mask, k)[0].tolist() == expected


def test_slab_geometry_places_the_slab_in_the_image():
    from mvikit.deep._gradcam import _paste

    image = Volume(np.arange(8 * 24 * 24, dtype=np.float32).reshape(8, 24, 24),
                   spacing=(2.0, 0.7, 0.7), origin=(5.0, -3.0, 1.0))
    mask = np.zeros((8, 24, 24), np.uint8)
    mask[3:6, 6:16, 8:18] = 1
    mask[4, 6:16, 8:18] = 1
    slab, labels, geometry, padded = mask_slab(image, Volume(mask, spacing=(2.0, 0.7, 0.7),
                                                             origin=(5.0, -3.0, 1.0)),
                                               3, 10, margin=0.0)
    assert not padded and labels.all()
    np.testing.assert_array_equal(slab, image.array[3:6, 6:16, 8:18])
    pasted = _paste(geometry.with_array(np.ones((3, 10, 10), np.float32)), image, "p", "PRE")
    expected = np.zeros(image.shape)
    expected[3:6, 6:16, 8:18] = 1
    np.testing.assert_allclose(pasted.array, expected, atol=1e-6)


def test_multitask_loss_is_main_plus_weighted_dice_ce():
    perfect = torch.zeros(2, 2, 4, 8, 8)
    masks = torch.zeros(2, 1, 4, 8, 8)
    masks[:, :, 1:3, 2:6, 2:6] = 1
    perfect[:, 1] = 20 * (2 * masks[:, 0] - 1)
    assert float(dice_ce_loss(perfect, masks)) < 1e-3
    X, y = _frame(), np.array([0, 1] * 4)
    fits = {w: VolumeNetClassifier("unet_multitask", auxiliary_weights={"segmentation": w},
                                   **TINY).fit(X, y) for w in (0.0, 1.0)}
    history = fits[1.0].net_.history
    batch = history[-1, "batches", -1]
    assert batch["train_loss"] == pytest.approx(batch["loss_main"] + batch["loss_segmentation"],
                                                rel=1e-5)
    assert "loss_segmentation" not in fits[0.0].net_.history[-1, "batches", -1]
    with pytest.raises(ValueError, match="auxiliary outputs"):
        VolumeNetClassifier("concat", auxiliary_weights={"segmentation": 1.0},
                            **TINY).fit(X, y)
