"""Constants and knobs of the simulated HCC cohort (see ``_simulator.py``).

Everything cohort-wide lives here as a *fixed constant* or a function of the
knobs only (never of the generated sample), so that patient ``i`` depends on
``(random_state, i)`` alone and a cohort prefix equals a smaller cohort.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from scipy.stats import norm

from ..exceptions import MvikitError

__all__ = [
    "DEFAULT_PARAMS",
    "MRI_SEQUENCES",
    "CT_SEQUENCES",
    "CENTER_TEMPLATES",
    "resolve_params",
    "grade_thresholds",
    "center_table",
]


class SimulationParameterError(MvikitError, ValueError):
    """A knob of the simulator has an invalid value (private: callers catch ValueError)."""


#: MRI sequences / phases and CT phases the simulator renders.
MRI_SEQUENCES = ("PRE", "AP", "PV", "HBP", "T2")
CT_SEQUENCES = ("CT_PLAIN", "CT_AP", "CT_PV")

#: Default knobs.  ``params={...}`` in ``make_hcc_cohort`` overrides any of them.
DEFAULT_PARAMS = {
    # --- MVI risk, r = b_a * a + b_s * s; liability = r + e, e ~ N(0, sigma^2)
    "b_a": 1.0,               # weight of the image-visible aggressiveness a
    "b_s": 0.8,               # weight of the systemic (lab-visible) factor s
    "sigma": 0.85,            # residual noise: oracle AUC(r) about 0.90
    "grade_mix": (0.474, 0.344, 0.182),  # M0/M1/M2, XMU-HCC 128/93/49
    # --- clinical table
    "rater_error": 0.15,      # probability that a radiologist misreads a binary sign
    "lab_strength": 1.0,      # multiplies every lab's loading on s (and a)
    # --- image signs
    "sign_strength": 1.0,     # multiplies the loading of every image sign on a
    "size_median_mm": 30.0,   # median tumour diameter at a = 0
    "size_log_slope": 0.27,   # log-diameter per SD of a (2.3 cm at a=-1, 3.9 cm at a=+1)
    "size_log_sd": 0.42,      # residual spread of the log-diameter
    "size_measurement_sd": 0.06,  # log-scale error of the reported size
    "satellite_rate": (0.05, 0.15, 0.60),  # Poisson mean of satellite nodules per grade
    # --- scanner
    "noise_scale": 1.0,       # multiplies every centre's noise level
    "bias_scale": 1.0,        # multiplies every centre's bias-field strength
    "misregistration_voxels": (1, 3, 3),  # max |shift| (D, H, W) between sequences
    "roi_jitter_voxels": (2, 8, 8),       # max |offset| of the ROI cube centre
    "roi_shape": (20, 80, 80),
    "full_shape": (48, 192, 192),
    # --- outcomes (months); Weibull proportional hazards, shape k
    "weibull_shape": 1.2,
    "os_median0": 29.0,       # OS median at linear predictor 0 -> cohort median ~24
    "os_coef": (0.45, 0.45),  # (a, s)
    "progression_median0": 21.0,  # about 50 % progress within a year
    "progression_coef": (0.5, 0.3),
    "treatment_effect": {"resection": 0.0, "TACE": 0.35, "ablation": 0.1},
    "mavi_median0": 110.0,    # about 12 % macrovascular invasion events
    "mavi_coef": (0.7, 0.4, 0.8),  # (a, s, M2)
    "admin_censoring": 60.0,
    "loss_to_followup_mean": 70.0,  # exponential loss to follow-up (~40 % censored)
}

#: Per-centre scanner and data-quality templates (the first ``n_centers`` are used;
#: the last used one is the "external" centre).  Spacing (D, H, W) in mm.
CENTER_TEMPLATES = (
    dict(weight=0.45, spacing=(3.0, 0.70, 0.70), scale=1.00, offset=0.0, noise=0.035,
         bias=0.10, missing=0.05, ct_noise=10.0, ct_offset=0.0),
    dict(weight=0.25, spacing=(2.0, 0.78, 0.78), scale=0.80, offset=20.0, noise=0.045,
         bias=0.15, missing=0.08, ct_noise=12.0, ct_offset=3.0),
    dict(weight=0.18, spacing=(5.0, 0.94, 0.94), scale=1.25, offset=-10.0, noise=0.060,
         bias=0.20, missing=0.12, ct_noise=16.0, ct_offset=-4.0),
    dict(weight=0.12, spacing=(4.0, 0.62, 0.62), scale=0.65, offset=35.0, noise=0.050,
         bias=0.25, missing=0.15, ct_noise=14.0, ct_offset=6.0),
    dict(weight=0.10, spacing=(2.5, 0.86, 0.86), scale=1.10, offset=5.0, noise=0.040,
         bias=0.12, missing=0.10, ct_noise=11.0, ct_offset=-2.0),
    dict(weight=0.08, spacing=(3.5, 1.00, 1.00), scale=0.90, offset=15.0, noise=0.055,
         bias=0.18, missing=0.07, ct_noise=13.0, ct_offset=2.0),
)
MAX_CENTERS = len(CENTER_TEMPLATES)


def _check_positive(params, key, *, allow_zero=False):
    value = params[key]
    if not isinstance(value, Real) or isinstance(value, bool) or not math.isfinite(value) or (
            value < 0 or (value == 0 and not allow_zero)):
        bound = ">= 0" if allow_zero else "> 0"
        raise SimulationParameterError(
            f"params[{key!r}] must be a finite number {bound}; got {value!r}.")


def _check_shape(params, key):
    shape = params[key]
    ok = (len(tuple(shape)) == 3
          and all(isinstance(v, Integral) and v >= 8 for v in shape))
    if not ok:
        raise SimulationParameterError(
            f"params[{key!r}] must be 3 integers >= 8 (D, H, W); got {shape!r}.")
    params[key] = tuple(int(v) for v in shape)


def resolve_params(params) -> dict:
    """Defaults updated with ``params`` (a dict), validated."""
    resolved = {key: value for key, value in DEFAULT_PARAMS.items()}
    if params is None:
        return resolved
    if not isinstance(params, dict):
        raise SimulationParameterError(
            f"`params` must be a dict of knobs (see DEFAULT_PARAMS); got {type(params).__name__}.")
    unknown = sorted(set(params) - set(DEFAULT_PARAMS))
    if unknown:
        raise SimulationParameterError(
            f"Unknown simulator knob(s) {unknown}; known knobs: {sorted(DEFAULT_PARAMS)}.")
    resolved.update(params)
    for key in ("b_a", "b_s", "rater_error", "lab_strength", "sign_strength", "noise_scale",
                "bias_scale", "size_log_sd", "size_measurement_sd", "weibull_shape"):
        _check_positive(resolved, key, allow_zero=True)
    for key in ("sigma", "size_median_mm", "os_median0", "progression_median0", "mavi_median0",
                "admin_censoring", "loss_to_followup_mean"):
        _check_positive(resolved, key)
    if resolved["rater_error"] >= 0.5:
        raise SimulationParameterError(
            f"params['rater_error'] must be in [0, 0.5); got {resolved['rater_error']!r}.")
    mix = np.asarray(resolved["grade_mix"], dtype=float)
    if mix.shape != (3,) or np.any(mix <= 0) or not np.isclose(mix.sum(), 1.0, atol=1e-3):
        raise SimulationParameterError(
            f"params['grade_mix'] must be 3 positive proportions summing to 1 (M0, M1, M2); "
            f"got {resolved['grade_mix']!r}.")
    rates = np.asarray(resolved["satellite_rate"], dtype=float)
    if rates.shape != (3,) or np.any(rates < 0):
        raise SimulationParameterError(
            f"params['satellite_rate'] must be 3 non-negative Poisson means (M0, M1, M2); "
            f"got {resolved['satellite_rate']!r}.")
    for key in ("roi_shape", "full_shape"):
        _check_shape(resolved, key)
    for key in ("misregistration_voxels", "roi_jitter_voxels"):
        shifts = tuple(resolved[key])
        if len(shifts) != 3 or not all(isinstance(v, Integral) and v >= 0 for v in shifts):
            raise SimulationParameterError(
                f"params[{key!r}] must be 3 non-negative integers (D, H, W); got {shifts!r}.")
        resolved[key] = tuple(int(v) for v in shifts)
    return resolved


def grade_thresholds(params) -> tuple[float, float]:
    """Cut-points of the liability ``r + e`` giving the M0/M1/M2 mix.

    The liability is exactly Gaussian with variance ``b_a^2 + b_s^2 + sigma^2``,
    so the thresholds are its analytic quantiles (no dependence on the sample).
    """
    sd = math.sqrt(params["b_a"] ** 2 + params["b_s"] ** 2 + params["sigma"] ** 2)
    p0, p1, _ = params["grade_mix"]
    return float(sd * norm.ppf(p0)), float(sd * norm.ppf(p0 + p1))


def center_table(n_centers: int, params, missing_rate=None) -> list[dict]:
    """The scanner/data-quality description of each centre (named C1, C2, ...).

    ``missing_rate`` None keeps each centre's own rate (5-15 %); a number sets
    one rate for all centres."""
    templates = CENTER_TEMPLATES[:n_centers]
    total = sum(t["weight"] for t in templates)
    table = []
    for k, template in enumerate(templates):
        center = dict(template)
        center["name"] = f"C{k + 1}"
        center["weight"] = template["weight"] / total
        center["external"] = n_centers > 1 and k == n_centers - 1
        center["noise"] = template["noise"] * params["noise_scale"]
        center["ct_noise"] = template["ct_noise"] * params["noise_scale"]
        center["bias"] = template["bias"] * params["bias_scale"]
        if missing_rate is not None:
            center["missing"] = float(missing_rate)
        table.append(center)
    return table
