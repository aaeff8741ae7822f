"""Grad-CAM (`mvikit.deep.gradcam`): localisation, hand-hooked reference, geometry, side effects."""

import copy

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from mvikit import Volume
from mvikit.deep import MDNetClassifier, VolumeNetClassifier, gradcam
from mvikit.deep._gradcam import _paste, _resample_onto
from mvikit.exceptions import GeometryMismatchError

torch.set_num_threads(1)

BLOB_SHAPE = (16, 32, 32)


def _blob_frame(n=24, seed=0):
    """Class 1 = a bright blob at a known place, away from the mask's centre."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(BLOB_SHAPE, np.uint8)
    mask[4:12, 8:24, 8:24] = 1
    blob = np.zeros(BLOB_SHAPE, bool)
    blob[4:10, 4:12, 20:28] = True
    y = np.array([0, 1] * (n // 2))
    volumes = []
    for label in y:
        image = rng.normal(size=BLOB_SHAPE)
        if label:
            image[blob] += 2.0
        volumes.append(Volume(image))
    X = pd.DataFrame({"HBP": volumes, "tumor_mask": [Volume(mask)] * n},
                     index=[f"p{i}" for i in range(n)])
    return X, y, blob


@pytest.fixture(scope="module")
def blob_model():
    X, y, blob = _blob_frame()
    clf = VolumeNetClassifier("concat", cube=BLOB_SHAPE, downsample=1, crop_size=BLOB_SHAPE,
                              width=0.125, max_epochs=6, batch_size=8, lr=3e-3, augment=False,
                              normalize=None, random_state=0).fit(X, y)
    return clf, X, y, blob


def _tiny_frame(n=6, seed=1, clinical=False):
    rng = np.random.default_rng(seed)
    mask = np.zeros((8, 16, 16), np.uint8)
    mask[3:5, 6:10, 6:10] = 1
    data = {"PRE": [Volume(rng.normal(size=(8, 16, 16))) for _ in range(n)],
            "HBP": [Volume(rng.normal(size=(8, 16, 16))) for _ in range(n)],
            "tumor_mask": [Volume(mask)] * n}
    if clinical:
        data = {"AFP": rng.lognormal(3, 1, n), "age": rng.normal(55, 8, n), **data}
    return pd.DataFrame(data, index=[f"q{i}" for i in range(n)])


# batch_size >= patients: gradcam and the reference then run the very same batch, so
# their results agree bit for bit (other batchings differ by float rounding, ~1e-7)
TINY = dict(cube=(8, 14, 14), downsample=1, crop_size=(8, 12, 12), width=0.0625, batch_size=8,
            random_state=0)


@pytest.fixture(scope="module")
def untrained_concat():
    X = _tiny_frame()
    return VolumeNetClassifier("concat", max_epochs=0, **TINY).fit(X, [0, 1, 2] * 2), X


def _manual_gradcam(module, volumes, layer_names, target):
    """Reference: forward hooks + tensor hooks + ``backward`` on a copy of the module."""
    module = copy.deepcopy(module).eval()
    acts, grads, handles = {}, {}, []
    for name in layer_names:
        def hook(_m, _i, out, name=name):
            acts[name] = out
            out.register_hook(lambda g, name=name: grads.__setitem__(name, g))
        handles.append(module.get_submodule(name).register_forward_hook(hook))
    logits = module({"volumes": volumes})["logits"]
    logits[torch.arange(len(target)), torch.as_tensor(target)].sum().backward()
    for h in handles:
        h.remove()
    out = {}
    for name in layer_names:
        alpha = grads[name].mean(dim=(2, 3, 4))
        cam = torch.relu((alpha[:, :, None, None, None] * acts[name]).sum(dim=1))
        out[name] = F.interpolate(cam[:, None].detach(), size=volumes.shape[2:],
                                  mode="trilinear", align_corners=False)[:, 0].numpy()
    return out, logits.detach().numpy()


def test_cam_peaks_on_the_blob_that_decides_the_class(blob_model):
    clf, X, y, blob = blob_model
    assert (clf.predict(X) == y).all()
    # tiny 16x32x32 inputs: the last block's map is 2x4x4; block 3 (4x8x8) localises
    cam = gradcam(clf, X, target=1, layer="encoders.encoders.0.trunk.blocks.2.convs")
    maps = cam["HBP"][y == 1]
    ratio = maps[:, blob].mean() / maps[:, ~blob].mean()
    assert ratio > 3.0  # measured 5.9
    peaks = [np.unravel_index(m.argmax(), m.shape) for m in maps]
    assert all(blob[p] for p in peaks)
    # the default layer (last block, coarser) still weights the blob more
    default = gradcam(clf, X, target=1)
    assert default.layers == {"HBP": "encoders.encoders.0.trunk.blocks.3.convs"}
    coarse = default["HBP"][y == 1]
    assert coarse[:, blob].mean() / coarse[:, ~blob].mean() > 1.5  # measured 2.1


def test_equals_hand_hooked_gradcam_concat(untrained_concat):
    clf, X = untrained_concat
    net = clf.net_
    volumes = net.augmenter.inference(clf._inference_data(X, with_clinical=False)["volumes"])
    names = [f"encoders.encoders.{i}.trunk.blocks.3.convs" for i in range(2)]
    for target in (0, 2):
        expected, logits = _manual_gradcam(net.module_, volumes, names, [target] * len(X))
        cam = gradcam(clf, X, target=target)
        assert cam.layers == {"PRE": names[0], "HBP": names[1]}
        for seq, name in zip(["PRE", "HBP"], names):
            assert cam[seq].shape == (6, 8, 12, 12)
            # equal up to float32 rounding: the estimator may feed channels-last
            # batches, whose convolution kernels sum in another order
            np.testing.assert_allclose(cam[seq], expected[name], rtol=1e-5, atol=1e-12)
        np.testing.assert_allclose(cam.logits, logits, rtol=1e-6)
        assert (cam.target == target).all()


def test_equals_hand_hooked_gradcam_mdnet_student_and_default_target():
    X = _tiny_frame(clinical=True)
    clf = MDNetClassifier(max_epochs=1, **TINY).fit(X, ["M0", "M1"] * 3)
    volumes = clf.net_.augmenter.inference(
        clf._inference_data(X, with_clinical=False)["volumes"])
    names = [f"encoders.{i}.trunk.blocks.3.convs" for i in range(2)]
    predicted = clf.predict(X)
    expected, _ = _manual_gradcam(clf.net_.module_, volumes, names,
                                  np.searchsorted(clf.classes_, predicted))
    cam = gradcam(clf, X[["PRE", "HBP", "tumor_mask"]])  # the student needs no clinical column
    assert np.array_equal(cam.target, predicted)
    np.testing.assert_allclose(cam["PRE"], expected[names[0]], rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(cam["HBP"], expected[names[1]], rtol=1e-5, atol=1e-12)
    # the teacher: its own branches, its own logits (needs the clinical columns)
    teacher = gradcam(clf, X, target="M1", model="teacher")
    proba = torch.softmax(torch.from_numpy(teacher.logits).double(), 1).numpy()
    np.testing.assert_allclose(proba, clf.teacher_predict_proba(X), rtol=1e-5)
    assert teacher.layers["HBP"] == "encoders.1.trunk.blocks.3.convs"
    assert (teacher.target == "M1").all()


def test_no_side_effects_and_deterministic(untrained_concat):
    clf, X = untrained_concat
    module = clf.net_.module_
    proba = clf.predict_proba(X)
    module.train()  # whatever mode the module was in is given back
    state = {k: v.clone() for k, v in module.state_dict().items()}
    first = gradcam(clf, X)
    second = gradcam(clf, X)
    assert module.training
    assert all(p.grad is None for p in module.parameters())
    assert all(torch.equal(v, module.state_dict()[k]) for k, v in state.items())
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    for seq in ("PRE", "HBP"):
        np.testing.assert_array_equal(first[seq], second[seq])
    # eval-mode logits: the estimator's own scores
    np.testing.assert_allclose(
        torch.softmax(torch.from_numpy(first.logits).double(), 1).numpy(), proba, rtol=1e-6)
    assert np.array_equal(first.target, clf.predict(X))


def test_shared_trunk_gives_every_sequence_the_same_map():
    X = _tiny_frame()
    clf = VolumeNetClassifier("cnn3d", max_epochs=0, **TINY).fit(X, [0, 1] * 3)
    cam = gradcam(clf, X)
    assert cam.layers == {"PRE": "encoder.trunk.blocks.3.convs",
                          "HBP": "encoder.trunk.blocks.3.convs"}
    np.testing.assert_array_equal(cam["PRE"], cam["HBP"])


def test_image_space_puts_the_crop_back_at_its_voxels():
    shape = (10, 20, 24)
    mask = np.zeros(shape, np.uint8)
    mask[3:6, 1:4, 14:19] = 1  # bbox centre (4, 2, 16): the cube leaves the image in H
    geometry = dict(spacing=(3.0, 0.8, 0.7), origin=(10.0, -5.0, 2.0),
                    direction=(-1, 0, 0, 0, -1, 0, 0, 0, 1))
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"HBP": [Volume(rng.normal(size=shape), **geometry) for _ in range(4)],
                      "tumor_mask": [Volume(mask, **geometry)] * 4},
                     index=list("abcd"))
    clf = VolumeNetClassifier(cube=(7, 12, 12), downsample=1, crop_size=(5, 8, 8), width=0.0625,
                              max_epochs=0, batch_size=4, random_state=0).fit(X, [0, 1] * 2)
    cam = gradcam(clf, X, target=1)
    # cube start = floor(centre - (size - 1)/2 + 1/2) = (1, -3, 11); centre crop
    # offset (cube - crop)//2 = (1, 2, 2): the crop starts at image voxel (2, -1, 13)
    image_space = cam.to_volumes()
    crop_space = cam.to_volumes("crop")
    for i, pid in enumerate(X.index):
        volume = image_space.loc[pid, "HBP"]
        assert volume.shape == shape
        assert (volume.spacing, volume.origin, volume.direction) == (
            X.loc[pid, "HBP"].spacing, X.loc[pid, "HBP"].origin, X.loc[pid, "HBP"].direction)
        expected = np.zeros(shape, np.float32)
        expected[2:7, 0:7, 13:21] = cam["HBP"][i][:, 1:, :]  # row -1 lies outside
        np.testing.assert_array_equal(volume.array, expected)
        crop = crop_space.loc[pid, "HBP"]
        np.testing.assert_array_equal(crop.array, cam["HBP"][i])
        # physical position of voxel (d, h, w) = origin + direction @ (w, h, d) * spacing
        xyz = np.array([13 * 0.7, -1 * 0.8, 2 * 3.0])
        np.testing.assert_allclose(crop.origin, np.array([10.0, -5.0, 2.0])
                                   + np.diag([-1, -1, 1]) @ xyz)
        # a grid-aligned crop resampled with SimpleITK lands on the same voxels
        np.testing.assert_allclose(_resample_onto(crop, X.loc[pid, "HBP"]).array, expected,
                                   atol=1e-6)


def test_paste_rejects_a_crop_outside_the_image():
    image = Volume(np.zeros((4, 4, 4)))
    far = Volume(np.ones((2, 2, 2)), origin=(100.0, 0.0, 0.0))
    with pytest.raises(GeometryMismatchError, match="patient 'p9', column 'HBP'"):
        _paste(far, image, "p9", "HBP")


def test_bad_arguments_name_the_fix(untrained_concat):
    clf, X = untrained_concat
    with pytest.raises(ValueError, match=r"neither a class label \(\[0, 1, 2\]\)"):
        gradcam(clf, X, target=7)
    with pytest.raises(ValueError, match="has no module 'encoders.nope'"):
        gradcam(clf, X, layer="encoders.nope")
    with pytest.raises(ValueError, match="not volume columns"):
        gradcam(clf, X, layer={"T2": "encoders.encoders.0.trunk.blocks.2.convs"})
    with pytest.raises(ValueError, match="Grad-CAM needs a module whose output"):
        gradcam(clf, X, layer="head.classifier")
    with pytest.raises(ValueError, match="MDNetClassifier only"):
        gradcam(clf, X, model="teacher")
    with pytest.raises(ValueError, match="3 values for 6 patients"):
        gradcam(clf, X, target=[0, 1, 2])
    with pytest.raises(ValueError, match="space must be"):
        gradcam(clf, X).to_volumes("world")


def test_image_space_of_a_downsampled_network_covers_the_crop_physically():
    # downsample (1, 2, 2): network voxels are 2x2 image voxels in-plane; a map of
    # ones pasted back must cover the image voxels of the centre crop, and nothing
    # else
    shape = (10, 24, 24)
    mask = np.zeros(shape, np.uint8)
    mask[4:6, 10:14, 10:14] = 1  # bbox centre (4.5, 11.5, 11.5)
    geometry = dict(spacing=(3.0, 0.8, 0.7), origin=(10.0, -5.0, 2.0),
                    direction=(-1, 0, 0, 0, -1, 0, 0, 0, 1))
    rng = np.random.default_rng(4)
    X = pd.DataFrame({"HBP": [Volume(rng.normal(size=shape), **geometry) for _ in range(4)],
                      "tumor_mask": [Volume(mask, **geometry)] * 4}, index=list("abcd"))
    clf = VolumeNetClassifier(cube=(8, 16, 16), downsample=(1, 2, 2), crop_size=(6, 4, 4),
                              width=0.0625, max_epochs=0, batch_size=4,
                              random_state=0).fit(X, [0, 1] * 2)
    cam = gradcam(clf, X, target=1)
    assert cam["HBP"].shape == (4, 6, 4, 4)
    cam.maps["HBP"] = np.ones_like(cam["HBP"])
    # cube start (1, 4, 4) in image voxels; centre crop of the 8x8x8 grid starts at
    # grid voxel (1, 2, 2) = image voxels (1 + 1, 4 + 4, 4 + 4): rows 8..15, depth 2..7
    volume = cam.to_volumes().loc["a", "HBP"]
    expected = np.zeros(shape, np.float32)
    expected[2:8, 8:16, 8:16] = 1
    # (the outermost image voxels lie half a voxel beyond the coarse centres, where
    # SimpleITK's linear interpolation still takes the border value)
    np.testing.assert_allclose(volume.array, expected, atol=1e-6)
