"""Batch augmentation: crops, flips, affine, intensity jitter (torch)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mvikit.deep.augment import (
    BatchAugmenter,
    center_crop,
    intensity_jitter,
    random_affine,
    random_crop,
    random_flip,
)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _batch():
    torch.manual_seed(0)
    volumes = torch.randn(3, 2, 6, 10, 12)
    masks = (torch.rand(3, 2, 6, 10, 12) > 0.7).float()
    return volumes, masks


def test_center_crop_takes_the_middle_box():
    volumes, _ = _batch()
    out = center_crop(volumes, (4, 6, 8))
    assert torch.equal(out, volumes[..., 1:5, 2:8, 2:10])
    with pytest.raises(ValueError, match="does not fit"):
        center_crop(volumes, (7, 6, 8))


def test_random_crop_is_a_shared_window_of_each_patient():
    volumes, masks = _batch()
    v, m = random_crop(volumes, masks, (4, 6, 8), _gen())
    for b in range(3):
        # find the window: the crop must equal volumes[b] at one offset, masks at the same
        hits = [(d, h, w) for d in range(3) for h in range(5) for w in range(5)
                if torch.equal(v[b], volumes[b, :, d:d + 4, h:h + 6, w:w + 8])]
        assert len(hits) == 1
        d, h, w = hits[0]
        assert torch.equal(m[b], masks[b, :, d:d + 4, h:h + 6, w:w + 8])
    v2, _ = random_crop(volumes, masks, (4, 6, 8), _gen())
    assert torch.equal(v, v2)  # same generator seed, same crops


def test_random_flip_matches_numpy_flips():
    volumes, masks = _batch()
    v, m = random_flip(volumes, masks, _gen(3), p=0.5)
    for b in range(3):
        candidates = {(fh, fw): volumes[b].numpy() for fh in (0, 1) for fw in (0, 1)}
        for (fh, fw) in candidates:
            array = volumes[b].numpy()
            if fh:
                array = np.flip(array, axis=-2)
            if fw:
                array = np.flip(array, axis=-1)
            candidates[(fh, fw)] = array
        match = [k for k, a in candidates.items() if np.array_equal(v[b].numpy(), a)]
        assert len(match) == 1
        fh, fw = match[0]
        expected_mask = masks[b].numpy()
        if fh:
            expected_mask = np.flip(expected_mask, axis=-2)
        if fw:
            expected_mask = np.flip(expected_mask, axis=-1)
        assert np.array_equal(m[b].numpy(), expected_mask)
    v_all, _ = random_flip(volumes, None, _gen(), p=1.0)
    assert torch.equal(v_all, volumes.flip(-2).flip(-1))


def test_random_affine_identity_and_binary_masks():
    volumes, masks = _batch()
    v, m = random_affine(volumes, masks, _gen(), rotation=0.0, scale=0.0, translation=0.0)
    assert torch.allclose(v, volumes, atol=1e-5)
    assert torch.equal(m, masks)
    v, m = random_affine(volumes, masks, _gen(), rotation=30.0, scale=0.2, translation=0.1)
    assert not torch.allclose(v, volumes, atol=1e-2)
    assert set(torch.unique(m).tolist()) <= {0.0, 1.0}
    # trilinear resampling never leaves the input range
    assert v.min() >= volumes.min() - 1e-5 and v.max() <= volumes.max() + 1e-5


def test_intensity_jitter_is_affine_per_patient_and_sequence():
    volumes, _ = _batch()
    out = intensity_jitter(volumes, _gen(), scale=0.1, shift=0.2)
    for b in range(3):
        for s in range(2):
            x, z = volumes[b, s].flatten().double(), out[b, s].flatten().double()
            a = ((z - z.mean()) * (x - x.mean())).sum() / ((x - x.mean()) ** 2).sum()
            c = z.mean() - a * x.mean()
            assert torch.allclose(z, a * x + c, atol=1e-5)
            assert 0.9 <= a <= 1.1 and -0.2 <= c <= 0.2


def test_batch_augmenter_train_and_inference():
    volumes, masks = _batch()
    aug = BatchAugmenter((4, 6, 8))
    v1, m1 = aug.train(volumes, masks, _gen(5))
    v2, m2 = aug.train(volumes, masks, _gen(5))
    assert torch.equal(v1, v2) and torch.equal(m1, m2)
    assert tuple(v1.shape) == (3, 2, 4, 6, 8)
    assert torch.equal(aug.inference(volumes), center_crop(volumes, (4, 6, 8)))
