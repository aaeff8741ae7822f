"""Per-patient latent story of the simulated cohort: centre, latents, MVI grade,
true image signs, tumour size, satellites, treatment and outcomes.

Generative model (docs/guide/simulated_cohort.rst):

* ``a ~ N(0, 1)`` aggressiveness (visible on images), ``s ~ N(0, 1)`` systemic
  factor (labs only);
* ``r = b_a * a + b_s * s`` (the oracle risk), liability ``r + e`` with
  ``e ~ N(0, sigma^2)``; grade M0/M1/M2 by the analytic thresholds of
  `_sim_params.grade_thresholds`; binary MVI = grade > 0;
* each binary image sign ``k`` is ``1[c0_k + c_k * a + eps_k > 0]`` (probit in
  ``a``); its latent ``u_k`` also sets the sign's continuous strength in the image;
* outcomes: Weibull proportional hazards in ``a``, ``s`` and the treatment.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

__all__ = ["SIGNS", "draw_core", "sign_probability", "mvi_probability_given_a_sat"]

#: Probit coefficients ``(c0, c_a)`` of every true image sign: P(sign | a) = Phi(c0 + c_a a).
SIGNS = {
    "margin_nonsmooth": (-0.2, 0.9),
    "peritumoral_enhancement": (-0.6, 0.8),
    "hbp_peritumoral_hypo": (-0.8, 0.9),
    "capsule": (0.4, -0.1),
    "capsule_gap": (-1.0, 0.6),       # interrupted capsule (only if a capsule exists)
    "necrosis": (-0.5, 0.6),
    "nodule_in_nodule": (-1.3, 0.4),
    "mosaic": (-0.4, 0.6),
    "targetoid": (-1.6, 0.3),
    "rim_aphe": (-1.4, 0.4),
    "aphe": (1.0, 0.2),
    "washout": (0.8, 0.2),
    "hbp_hypo": (1.6, 0.1),
    "hemorrhage": (-1.3, 0.3),
    "fat": (-1.0, 0.0),
}

TREATMENTS = ("resection", "TACE", "ablation")


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def sign_probability(name: str, a, params):
    """P(true sign = 1 | a), vectorised over ``a`` (used by the clinical ceiling)."""
    k = params["sign_strength"]
    if name == "interrupted_capsule":
        c0, ca = SIGNS["capsule"]
        g0, ga = SIGNS["capsule_gap"]
        return norm.cdf(c0 + k * ca * a) * norm.cdf(g0 + k * ga * a)
    c0, ca = SIGNS[name]
    return norm.cdf(c0 + k * ca * a)


def _draw_signs(rng, a, params) -> tuple[dict, dict]:
    k = params["sign_strength"]
    latents = {name: c0 + k * ca * a + rng.standard_normal() for name, (c0, ca) in SIGNS.items()}
    signs = {name: bool(u > 0) for name, u in latents.items()}
    signs["interrupted_capsule"] = signs["capsule"] and signs["capsule_gap"]
    return signs, latents


def _weibull_time(rng, median0, shape, lp):
    """Weibull PH draw: S(t) = exp(-log(2) (t/median0)^k exp(lp))."""
    u = rng.random()
    return median0 * (-math.log1p(-u) / (math.log(2.0) * math.exp(lp))) ** (1.0 / shape)


def _draw_outcomes(rng, a, s, grade, treatment, params) -> dict:
    k = params["weibull_shape"]
    effect = params["treatment_effect"][treatment]
    ga, gs = params["os_coef"]
    lp_os = ga * a + gs * s + effect
    pa, ps = params["progression_coef"]
    lp_prog = pa * a + ps * s + effect
    ma, ms, m2 = params["mavi_coef"]
    lp_mavi = ma * a + ms * s + m2 * (grade == 2)
    death = _weibull_time(rng, params["os_median0"], k, lp_os)
    progression = _weibull_time(rng, params["progression_median0"], k, lp_prog)
    mavi = _weibull_time(rng, params["mavi_median0"], k, lp_mavi)
    loss = rng.exponential(params["loss_to_followup_mean"])
    censor = min(params["admin_censoring"], loss)
    os_time = min(death, censor)
    pfs_true = min(progression, death)
    pfs_time = min(pfs_true, censor)
    mavi_time = min(mavi, death, censor)
    return {
        "os_time": round(os_time, 2), "os_event": bool(death <= censor),
        "pfs_time": round(pfs_time, 2), "pfs_event": bool(pfs_true <= censor),
        "mavi_time": round(mavi_time, 2), "mavi_event": bool(mavi <= min(death, censor)),
        # Inclusion as in DMMGNet: every patient has a complete first year of
        # follow-up, so the 1-year label uses the uncensored progression time.
        "progression_1y": int(pfs_true <= 12.0),
        "treatment": treatment,
        "survival_lp": lp_os,
        "progression_lp": lp_prog,
    }


def draw_core(rng, centers, thresholds, params) -> dict:
    """One patient's centre, latents, grade, signs, size, satellites and outcomes.

    Uses ``rng`` only (the patient's own stream), always in the same order.
    """
    weights = np.array([c["weight"] for c in centers])
    center = int(rng.choice(len(centers), p=weights))
    a = float(rng.standard_normal())
    s = float(rng.standard_normal())
    e = float(rng.standard_normal() * params["sigma"])
    r = params["b_a"] * a + params["b_s"] * s
    liability = r + e
    grade = int(np.searchsorted(thresholds, liability))
    signs, latents = _draw_signs(rng, a, params)
    log_d = (math.log(params["size_median_mm"]) + params["size_log_slope"] * a
             + params["size_log_sd"] * rng.standard_normal())
    diameter = float(min(max(math.exp(log_d), 8.0), 150.0))
    n_satellites = int(rng.poisson(params["satellite_rate"][grade]))
    pe_shape = "wedge" if rng.random() < 0.6 else "circumferential"
    # Treatment by tumour burden: large tumours go to TACE, small ones sometimes to ablation.
    p_tace = _sigmoid(-1.0 + 2.0 * (math.log(diameter) - math.log(30.0)))
    u = rng.random()
    if u < p_tace:
        treatment = "TACE"
    elif diameter < 30.0 and u < p_tace + 0.3 * (1 - p_tace):
        treatment = "ablation"
    else:
        treatment = "resection"
    outcomes = _draw_outcomes(rng, a, s, grade, treatment, params)
    return {
        "center": center, "a": a, "s": s, "e": e, "r": r, "liability": liability,
        "grade": grade, "mvi": int(grade > 0), "signs": signs, "sign_latents": latents,
        "diameter_mm": diameter, "n_satellites": n_satellites, "pe_shape": pe_shape,
        **outcomes,
    }


def mvi_probability_given_a_sat(a, n_sat, thresholds, params):
    """P(MVI = 1 | a, satellite count): the best image-only score.

    Given ``a`` the liability is ``N(b_a a, b_s^2 + sigma^2)``; satellites are
    Poisson with a grade-dependent mean (Bayes' rule over the three grades).
    """
    a = np.asarray(a, dtype=float)
    n_sat = np.asarray(n_sat, dtype=float)
    sd = math.sqrt(params["b_s"] ** 2 + params["sigma"] ** 2)
    mean = params["b_a"] * a
    c0 = norm.cdf((thresholds[0] - mean) / sd)
    c1 = norm.cdf((thresholds[1] - mean) / sd)
    prior = np.stack([c0, c1 - c0, 1.0 - c1])
    rates = np.asarray(params["satellite_rate"], dtype=float)[:, None]
    with np.errstate(divide="ignore"):
        log_lik = n_sat[None, :] * np.log(np.maximum(rates, 1e-12)) - rates
    joint = prior * np.exp(log_lik - log_lik.max(axis=0))
    return (joint[1] + joint[2]) / joint.sum(axis=0)
