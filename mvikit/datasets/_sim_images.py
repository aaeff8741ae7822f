"""Rendering of the simulated sequences: tissue intensities per MRI sequence /
CT phase, smooth texture, bias field, Rician (MRI) or Gaussian (CT) noise, and
the two layouts (``"roi"`` cube around the tumour, ``"full"`` abdomen-like
volume with a liver).  One tumour geometry is rasterised once on a padded grid;
each sequence is a crop of it shifted by a few voxels (no registration).
"""

from __future__ import annotations

import math

import numpy as np

from ._sim_tumour import F32, _harmonic, _ramp, smooth_field, tissue_maps

__all__ = ["INTENSITIES", "render_patient"]

#: Mean intensity of each tissue: MRI in units of the (unenhanced) liver, CT in HU.
INTENSITIES = {
    "PRE": dict(liver=1.0, tumour=0.72, capsule=0.62, necrosis=0.45, nin=0.95, hemorrhage=1.4,
                fat=1.2, vessel=0.55, body=0.8, spine=0.9, air=0.02),
    "AP": dict(liver=1.0, tumour=0.95, capsule=0.9, necrosis=0.45, nin=1.7, hemorrhage=0.9,
               fat=1.0, vessel=1.9, body=0.9, spine=0.9, air=0.02),
    "PV": dict(liver=1.25, tumour=1.15, capsule=1.55, necrosis=0.5, nin=1.1, hemorrhage=0.9,
               fat=1.0, vessel=1.7, body=1.0, spine=0.9, air=0.02),
    "HBP": dict(liver=1.65, tumour=0.72, capsule=0.85, necrosis=0.45, nin=1.1, hemorrhage=0.9,
                fat=0.9, vessel=0.55, body=0.9, spine=0.9, air=0.02),
    "T2": dict(liver=0.55, tumour=0.85, capsule=0.9, necrosis=1.5, nin=0.7, hemorrhage=0.6,
               fat=0.9, vessel=0.35, body=0.7, spine=0.8, air=0.02),
    "CT_PLAIN": dict(liver=58.0, tumour=42.0, capsule=45.0, necrosis=18.0, nin=50.0,
                     hemorrhage=65.0, fat=-20.0, vessel=42.0, body=35.0, spine=420.0,
                     air=-1000.0),
    "CT_AP": dict(liver=75.0, tumour=78.0, capsule=70.0, necrosis=20.0, nin=140.0,
                  hemorrhage=60.0, fat=-15.0, vessel=230.0, body=45.0, spine=430.0,
                  air=-1000.0),
    "CT_PV": dict(liver=115.0, tumour=118.0, capsule=130.0, necrosis=22.0, nin=110.0,
                  hemorrhage=60.0, fat=-10.0, vessel=170.0, body=50.0, spine=440.0,
                  air=-1000.0),
}
_SEQUENCE_ORDER = tuple(INTENSITIES)
MRI_UNIT = 500.0  # MRI grey value of unenhanced liver at centre scale 1


def _tumour_intensity(seq, table, geometry):
    """Mean tumour intensity in ``seq`` given the enhancement signs."""
    liver = table["liver"]
    if seq in ("AP", "CT_AP"):
        base = table["tumour"]
        if geometry["aphe"]:  # arterial-phase hyperenhancement relative to liver
            return liver * (1.0 + geometry["aphe_strength"]) + (base - liver) * 0.2
        return base
    if seq in ("PV", "CT_PV"):
        return liver * (0.78 if geometry["washout"] else 0.97)
    if seq == "HBP":
        return table["tumour"] if geometry["hbp_hypo"] else liver * 0.95
    return table["tumour"]


def _compose(seq, maps, geometry, textures, background):
    """Noise-free intensity of one sequence from the tissue maps."""
    t = INTENSITIES[seq]
    image = background.copy()
    # Peritumoral liver: arterial enhancement (AP; fading in PV) and HBP hypointensity.
    if "pe" in maps and seq in ("AP", "CT_AP", "PV", "CT_PV"):
        gain = 1.0 if seq in ("AP", "CT_AP") else 0.3
        image *= F32(1.0) + F32(gain) * maps["pe"]
    if "hbp_peri" in maps and seq == "HBP":
        image *= F32(1.0) - maps["hbp_peri"] * (F32(1.0) + F32(0.3) * textures["liver"])
    image += maps["vessels"] * F32(t["vessel"] - t["liver"])
    tumour_value = _tumour_intensity(seq, t, geometry)
    het = F32(geometry["heterogeneity"])
    tumour = F32(tumour_value) * (F32(1.0) + het * textures["tumour"])
    if "rim" in maps and seq in ("AP", "CT_AP"):
        # Rim APHE / targetoid: bright periphery, hypo-enhancing centre.
        tumour = tumour * (F32(0.75) + F32(0.5) * maps["rim"])
    if "rim" in maps and seq in ("HBP", "T2"):
        tumour = tumour * (F32(1.1) - F32(0.25) * (F32(1.0) - maps["rim"]))
    for tissue in ("nin", "hemorrhage", "necrosis"):
        if tissue in maps:
            tumour += maps[tissue] * (F32(t[tissue]) - tumour)
    if geometry["fat"] and seq in ("PRE", "CT_PLAIN"):
        tumour += F32(0.15 * (t["fat"] - tumour_value)) * np.clip(textures["tumour"], 0, 1)
    image += maps["tumour"] * (tumour - image)
    if "capsule" in maps:
        image += maps["capsule"] * (F32(t["capsule"]) - image)
    sat_value = F32(_tumour_intensity(seq, t, geometry))
    image += maps["satellites"] * (sat_value - image)
    return image


def _bias_field(rng, shape, strength):
    """Smooth multiplicative MRI bias field: exp of a separable quadratic."""
    if strength == 0:
        return None
    terms = []
    for n in shape:
        u = np.linspace(-1, 1, n, dtype=F32)
        c = rng.uniform(-1, 1, 2)
        terms.append(F32(c[0]) * u + F32(c[1]) * (u * u - F32(1 / 3)))
    field = terms[0][:, None, None] + terms[1][None, :, None] + terms[2][None, None, :]
    return np.exp(F32(strength) * field)


def _finish(seq, image, rng, center, bias):
    """Bias field, scanner scale/offset and noise: grey values of the centre."""
    if seq.startswith("CT"):
        noise = rng.standard_normal(image.shape, dtype=F32)
        noise *= F32(center["ct_noise"])
        noise += image
        noise += F32(center["ct_offset"])
        return noise
    gain = MRI_UNIT * center["scale"] * (1.0 + 0.08 * math.sin(1.7 * len(seq) + center["scale"]))
    if bias is not None:
        image *= bias
    # Magnitude of a complex signal with Gaussian noise on both channels (Rician):
    # |image + sigma n_re + i sigma n_im|.  The generator fills arrays in C order,
    # so drawing n_re then n_im equals one (2, D, H, W) draw; drawing n_im into
    # the no longer needed `image` buffer and working in place saves three
    # full-size temporaries (same float32 operations, same voxels).
    sigma = F32(center["noise"] * INTENSITIES[seq]["liver"])
    magnitude = rng.standard_normal(image.shape, dtype=F32)
    magnitude *= sigma
    magnitude += image
    np.square(magnitude, out=magnitude)
    imag = rng.standard_normal(dtype=F32, out=image)
    imag *= sigma
    np.square(imag, out=imag)
    magnitude += imag
    np.sqrt(magnitude, out=magnitude)
    magnitude *= F32(gain)
    magnitude += F32(center["offset"])
    return magnitude


def _background_full(shape, spacing, seq, liver, textures):
    """Body, spine and liver of the abdomen-like ``full`` layout (noise-free)."""
    t = INTENSITIES[seq]
    d, h, w = [np.arange(n, dtype=F32) for n in shape]
    # Body: elliptic cylinder filling most of the in-plane field of view.
    yy = (h[:, None] - F32(shape[1] / 2)) / F32(0.44 * shape[1])
    xx = (w[None, :] - F32(shape[2] / 2)) / F32(0.47 * shape[2])
    body = _ramp((np.sqrt(yy * yy + xx * xx) - 1) * F32(0.44 * shape[1] * spacing[1]), 1.5)
    sy = (h[:, None] - F32(0.78 * shape[1])) * F32(spacing[1])
    sx = (w[None, :] - F32(0.5 * shape[2])) * F32(spacing[2])
    spine = _ramp(np.sqrt(sy * sy + sx * sx) - F32(0.07 * shape[1] * spacing[1]), 1.5)
    plane = F32(t["air"]) + body * F32(t["body"] - t["air"])
    plane += spine * F32(t["spine"] - t["body"])
    image = np.broadcast_to(plane, shape).astype(F32)
    liver_value = F32(t["liver"]) * (F32(1.0) + F32(0.03) * textures["liver"])
    image += liver * (liver_value - image)
    return image


def _liver_fraction(shape, spacing, liver):
    """Liver: an ellipsoid with a low-order harmonic deformation (partial volume edge)."""
    z, y, x = [(np.arange(n, dtype=F32) - F32(c)) * F32(sp / ax) for n, c, sp, ax
               in zip(shape, liver["centre"], spacing, liver["axes"])]
    rho = np.sqrt(z[:, None, None] ** 2 + (y[:, None] ** 2 + x[None, :] ** 2)[None])
    inv = F32(1.0) / np.maximum(rho, F32(1e-3))
    h = _harmonic(z, y, x, inv, liver["harmonics"].astype(F32))
    scale = F32(min(liver["axes"]))
    return _ramp((rho - (F32(1.0) + F32(0.12) * h)) * scale, 1.5)


def render_patient(geometry, center, sequences, layout, params, rng_layout, seq_rngs):
    """Volumes (dict seq -> float32 array) and masks of one patient.

    ``rng_layout`` draws the ROI jitter / tumour position and the shifts;
    ``seq_rngs[seq]`` draws each sequence's own texture, bias and noise, so
    adding a sequence leaves the others unchanged.
    """
    spacing = center["spacing"]
    margin = np.array(params["misregistration_voxels"])
    # Each sequence draws its shift from its own stream; the first sequence is
    # the reference the tumour mask was drawn on.
    shifts = {seq: seq_rngs[seq].integers(-margin, margin + 1) for seq in sequences}
    if sequences:
        shifts[sequences[0]] = np.zeros(3, dtype=int)
    if layout == "roi":
        shape = np.array(params["roi_shape"])
        jitter = rng_layout.integers(-np.array(params["roi_jitter_voxels"]),
                                     np.array(params["roi_jitter_voxels"]) + 1)
        centre = (shape - 1) / 2.0 + jitter
        liver = None
    else:
        shape = np.array(params["full_shape"])
        extent = shape * np.array(spacing)
        liver = {"axes": extent * np.array([0.40, 0.30, 0.29]),
                 "harmonics": rng_layout.standard_normal(12)}
        liver["centre"] = np.array([0.5, 0.45, 0.36]) * shape + margin
        offset = rng_layout.uniform(-0.35, 0.35, 3) * liver["axes"] / np.array(spacing)
        centre = liver["centre"] - margin + offset
    padded = tuple(int(v) for v in shape + 2 * margin)
    maps = tissue_maps(geometry, padded, spacing, centre + margin)
    tissue_rng = np.random.default_rng(geometry["tissue_seed"])
    tumour_a = smooth_field(tissue_rng, padded, spacing, 2.5)
    tumour_b = smooth_field(tissue_rng, padded, spacing, 2.5)
    shared_liver = smooth_field(tissue_rng, padded, spacing, 8.0)
    liver_fraction = None if liver is None else _liver_fraction(padded, spacing, liver)
    if liver_fraction is not None:  # vessels run inside the liver only
        maps["vessels"] = maps["vessels"] * liver_fraction
    crop0 = tuple(slice(m, m + n) for m, n in zip(margin, shape))
    volumes = {}
    for seq in sequences:
        rng = seq_rngs[seq]
        # Tumour texture: a sequence-specific mix of two shared fields, so the
        # phases show the same tissue with partly different patterns.
        angle = 0.45 * _SEQUENCE_ORDER.index(seq)
        textures = {"tumour": F32(math.cos(angle)) * tumour_a + F32(math.sin(angle)) * tumour_b,
                    "liver": shared_liver}
        if liver is None:
            t = INTENSITIES[seq]
            background = F32(t["liver"]) * (F32(1.0) + F32(0.03) * shared_liver)
        else:
            background = _background_full(padded, spacing, seq, liver_fraction, textures)
        image = _compose(seq, maps, geometry, textures, background)
        crop = tuple(slice(m + s, m + s + n) for m, s, n in zip(margin, shifts[seq], shape))
        bias = _bias_field(rng, tuple(shape), center["bias"]) if not seq.startswith("CT") else None
        volumes[seq] = _finish(seq, np.ascontiguousarray(image[crop]), rng, center, bias)
    masks = {"tumor_mask": (maps["tumour"][crop0] >= 0.5).astype(np.uint8)}
    if liver is not None:
        masks["liver_mask"] = ((liver_fraction[crop0] >= 0.5)
                               | (masks["tumor_mask"] > 0)).astype(np.uint8)
    return volumes, masks, shifts
