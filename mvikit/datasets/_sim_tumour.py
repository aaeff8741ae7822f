"""Tumour geometry of the simulated cohort: drawn in mm, rasterised to tissue
fraction maps at the centre's voxel spacing.

The signs (margin harmonics, capsule and its gap, necrosis, nodule-in-nodule,
peritumoral arterial enhancement, HBP peritumoral hypointensity, satellites)
come from the patient's true signs (`_sim_latent`); their strengths vary with
the sign's latent and with independent noise, never with the MVI label itself.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

__all__ = ["draw_geometry", "tissue_maps", "smooth_field"]

F32 = np.float32


def _unit(rng):
    v = rng.standard_normal(3)
    return v / np.linalg.norm(v)


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def draw_geometry(rng, core) -> dict:
    """Continuous geometry of the tumour and its surroundings, in mm (D, H, W axes)."""
    signs, lat = core["signs"], core["sign_latents"]
    radius = core["diameter_mm"] / 2.0
    geometry = {
        "radius": radius,
        # Non-smooth margin: low-order (degree 2-3) harmonics, amplitude rising
        # with the margin latent (continuous, so the image shows degrees of it).
        "harmonics": rng.standard_normal(12),
        "margin_amplitude": 0.03 + 0.13 * _sigmoid(1.5 * lat["margin_nonsmooth"]),
        "heterogeneity": 0.04 + 0.14 * _sigmoid(1.5 * lat["mosaic"]),
        "capsule": signs["capsule"],
        "capsule_thickness": 0.9 + 0.8 * rng.random(),
        "capsule_gap_dir": _unit(rng),
        "capsule_gap": signs["interrupted_capsule"],
        "necrosis": signs["necrosis"] and radius > 6.0,
        "necrosis_fraction": 0.3 + 0.3 * rng.random(),
        "necrosis_offset": 0.25 * radius * rng.uniform(-1, 1, 3),
        "nin": signs["nodule_in_nodule"],
        "nin_radius": radius * (0.22 + 0.15 * rng.random()),
        "nin_offset": 0.35 * radius * _unit(rng),
        "hemorrhage": signs["hemorrhage"],
        "hemorrhage_offset": 0.4 * radius * _unit(rng),
        "fat": signs["fat"],
        "aphe": signs["aphe"],
        "aphe_strength": 0.25 + 0.25 * _sigmoid(lat["aphe"]),
        "rim_aphe": signs["rim_aphe"] or signs["targetoid"],
        "washout": signs["washout"],
        "hbp_hypo": signs["hbp_hypo"],
        "pe": signs["peritumoral_enhancement"],
        "pe_amplitude": 0.22 + 0.2 * rng.random(),
        "pe_depth": 3.0 + 4.0 * rng.random(),
        "pe_dir": _unit(rng),
        "pe_wedge": core["pe_shape"] == "wedge",
        "hbp_peri": signs["hbp_peritumoral_hypo"],
        "hbp_peri_amplitude": 0.15 + 0.15 * rng.random(),
        "hbp_peri_depth": 2.5 + 3.5 * rng.random(),
        "vessels": [(_unit(rng), radius * rng.uniform(1.1, 2.2) * _unit(rng),
                     1.5 + 2.5 * rng.random()) for _ in range(3)],
        "satellites": [],
        "tissue_seed": int(rng.integers(2 ** 31)),
    }
    for _ in range(core["n_satellites"]):
        # MVI > 1 cm from the tumour: satellites 5-20 mm outside the margin.
        distance = radius + 5.0 + 15.0 * rng.random()
        geometry["satellites"].append((distance * _unit(rng), 2.0 + 3.0 * rng.random()))
    return geometry


# Real spherical harmonics of degree 2 and 3 written as homogeneous polynomials
# of the offset p = (z, y, x) (Y(u) = P(p) / |p|^deg): a list of monomials
# (coefficient, power of z, power of y, power of x) per basis function.
_DEGREE2 = [
    [(1.0, 0, 1, 1)], [(1.0, 1, 1, 0)], [(1.0, 1, 0, 1)], [(1.0, 0, 0, 2), (-1.0, 0, 2, 0)],
    [(1.0, 2, 0, 0), (-0.5, 0, 0, 2), (-0.5, 0, 2, 0)],
]
_DEGREE3 = [
    [(1.0, 0, 0, 3), (-3.0, 0, 2, 1)], [(3.0, 0, 1, 2), (-1.0, 0, 3, 0)],
    [(1.0, 1, 0, 2), (-1.0, 1, 2, 0)], [(2.0, 1, 1, 1)],
    [(4.0, 2, 0, 1), (-1.0, 0, 0, 3), (-1.0, 0, 2, 1)],
    [(4.0, 2, 1, 0), (-1.0, 0, 1, 2), (-1.0, 0, 3, 0)],
    [(1.0, 3, 0, 0), (-1.5, 1, 0, 2), (-1.5, 1, 2, 0)],
]
_HARMONIC_SD = 1.45  # SD over the sphere of the sum with N(0, 1) coefficients


def _homogeneous(terms, z, y, x):
    """Sum of monomials c z^i y^j x^k on the grid, built as sum_i z^i * Q_i(y, x)
    so that only one full-size multiply-add per power of z is needed."""
    by_power = {}
    for c, i, j, k in terms:
        plane = F32(c) * (y[:, None] ** j) * (x[None, :] ** k)
        by_power[i] = by_power.get(i, 0) + plane
    out = None
    for i, plane in by_power.items():
        part = (z[:, None, None] ** i) * plane[None] if i else np.broadcast_to(
            plane[None], (len(z),) + plane.shape)
        out = part if out is None else out + part
    return out


def _harmonic(z, y, x, inv, c):
    """Angular modulation sum_j c_j Y_j(p / |p|), degree 2-3, unit-ish SD."""
    quad = [(coef * cj, i, j, k) for basis, cj in zip(_DEGREE2, c[:5]) for coef, i, j, k in basis]
    cube = [(coef * cj, i, j, k) for basis, cj in zip(_DEGREE3, c[5:]) for coef, i, j, k in basis]
    p3 = _homogeneous(cube, z, y, x)
    p2 = _homogeneous(quad, z, y, x)
    return (p3 * inv + p2) * (inv * inv) * F32(1.0 / _HARMONIC_SD)


def _ramp(signed_mm, width):
    """Partial-volume fraction: 1 inside (negative distance), 0 outside, linear edge."""
    return np.clip(F32(0.5) - signed_mm * F32(1.0 / width), 0, 1)


def _sphere(shape, axes, centre, radius, width):
    """Fraction map of a sphere, computed only in its bounding box."""
    out = np.zeros(shape, F32)
    boxes = []
    for axis, c in zip(axes, centre):
        lo = np.searchsorted(axis, c - radius - width)
        hi = np.searchsorted(axis, c + radius + width)
        boxes.append(slice(lo, hi))
    if any(b.start >= b.stop for b in boxes):
        return out
    z, y, x = (axis[b] - c for axis, b, c in zip(axes, boxes, centre))
    rho = np.sqrt(z[:, None, None] ** 2 + y[None, :, None] ** 2 + x[None, None, :] ** 2)
    out[tuple(boxes)] = _ramp(rho - F32(radius), width)
    return out


def tissue_maps(geometry, shape, spacing, centre_vox) -> dict:
    """Fraction/weight maps (float32, ``shape``) of every tumour-related tissue.

    ``centre_vox`` is the tumour centre in voxel coordinates of this grid.
    """
    axes = [((np.arange(n, dtype=F32) - F32(c)) * F32(sp))
            for n, c, sp in zip(shape, centre_vox, spacing)]
    z, y, x = axes[0][:, None, None], axes[1][None, :, None], axes[2][None, None, :]
    width = float(min(spacing[1:]))
    rho = np.sqrt(z * z + (y * y + x * x))
    inv = F32(1.0) / np.maximum(rho, F32(1e-3))
    h = _harmonic(axes[0], axes[1], axes[2], inv, geometry["harmonics"].astype(F32))

    def cosine(direction):  # cos(angle between the voxel's direction and `direction`)
        d = direction.astype(F32)
        return (z * d[0] + (y * d[1] + x * d[2])) * inv

    radius = geometry["radius"]
    dist = rho - F32(radius) * (F32(1.0) + F32(geometry["margin_amplitude"]) * h)
    maps = {"tumour": _ramp(dist, width), "dist": dist}
    if geometry["capsule"]:
        th = geometry["capsule_thickness"]
        cap = np.clip(F32(1.0) - np.abs(dist + F32(0.3 * th)) * F32(1.0 / th), 0, 1)
        if geometry["capsule_gap"]:
            cap *= np.clip((F32(0.55) - cosine(geometry["capsule_gap_dir"])) * F32(6.0), 0, 1)
        maps["capsule"] = cap
    peri = np.maximum(dist, F32(0.0))
    if geometry["pe"]:
        w = np.exp(-peri * F32(1.0 / geometry["pe_depth"])) * (dist > 0)
        if geometry["pe_wedge"]:
            w *= np.clip(cosine(geometry["pe_dir"]), 0, 1) ** 2
        maps["pe"] = w * F32(geometry["pe_amplitude"])
    if geometry["hbp_peri"]:
        w = np.exp(-peri * F32(1.0 / geometry["hbp_peri_depth"])) * (dist > 0)
        maps["hbp_peri"] = w * F32(geometry["hbp_peri_amplitude"])
    centre = np.zeros(3)
    if geometry["necrosis"]:
        off = geometry["necrosis_offset"]
        r_n = geometry["necrosis_fraction"] * radius
        rho_n = np.sqrt((z - F32(off[0])) ** 2 + (y - F32(off[1])) ** 2 + (x - F32(off[2])) ** 2)
        maps["necrosis"] = _ramp(rho_n - F32(r_n) * (1 + F32(1.5 * geometry["margin_amplitude"])
                                                      * h), width) * maps["tumour"]
    if geometry["nin"]:
        maps["nin"] = _sphere(shape, axes, centre + geometry["nin_offset"],
                              geometry["nin_radius"], width) * maps["tumour"]
    if geometry["hemorrhage"]:
        maps["hemorrhage"] = _sphere(shape, axes, centre + geometry["hemorrhage_offset"],
                                     0.2 * radius + 1.0, width) * maps["tumour"]
    if geometry["rim_aphe"]:
        maps["rim"] = np.clip(F32(1.0) + dist * F32(1.0 / max(0.25 * radius, 2.0)), 0, 1) * \
            maps["tumour"]
    satellites = np.zeros(shape, F32)
    for position, r_sat in geometry["satellites"]:
        satellites = np.maximum(satellites, _sphere(shape, axes, position, r_sat, width))
    maps["satellites"] = satellites
    vessels = np.zeros(shape, F32)
    for direction, point, r_v in geometry["vessels"]:
        d = direction.astype(F32)
        pz, py, px = z - F32(point[0]), y - F32(point[1]), x - F32(point[2])
        along = pz * d[0] + py * d[1] + px * d[2]
        perp2 = pz * pz + py * py + px * px - along * along
        vessels = np.maximum(vessels, _ramp(np.sqrt(np.maximum(perp2, 0)) - F32(r_v), width))
    maps["vessels"] = vessels * (F32(1.0) - maps["tumour"])
    return maps


@lru_cache(maxsize=256)
def _smoothing_matrix(n: int, spacing: float, length: float):
    """Rows map a coarse white-noise grid (one knot per ``length`` mm) to ``n``
    voxels with Gaussian weights; rows have unit norm (unit-variance field)."""
    extent = n * spacing
    n_knots = int(math.ceil(extent / length)) + 3
    knots = (np.arange(n_knots) - 1.0) * length
    pos = (np.arange(n) + 0.5) * spacing
    weights = np.exp(-0.5 * ((pos[:, None] - knots[None, :]) / length) ** 2)
    weights /= np.linalg.norm(weights, axis=1, keepdims=True)
    return weights.astype(F32)


def smooth_field(rng, shape, spacing, length) -> np.ndarray:
    """A smooth unit-variance Gaussian random field (correlation length ~``length`` mm),
    made by separable Gaussian interpolation of coarse white noise (three small
    matrix products instead of a 3D filter)."""
    mats = [_smoothing_matrix(int(n), float(sp), float(length)) for n, sp in zip(shape, spacing)]
    (d, cd), (h, ch), (w, cw) = (m.shape for m in mats)
    coarse = rng.standard_normal((cd * ch, cw), dtype=F32)
    # One GEMM per axis; the transposes only move the small intermediate grids.
    field = (coarse @ mats[2].T).reshape(cd, ch, w).transpose(1, 0, 2).reshape(ch, cd * w)
    field = (mats[1] @ field).reshape(h, cd, w).transpose(1, 0, 2).reshape(cd, h * w)
    return (mats[0] @ field).reshape(d, h, w)
