"""The 52 clinical items of MD-Net's Table I (seed 000) for the simulated cohort.

Each item is generated from the patient's latents by one of a few *kinds*
(Gaussian on a transformed scale, probit flag, radiologist reading of a true
image sign, ordinal probit, pure-noise category, or derived from other items).
The same table drives the generator and the likelihood behind
``clinical_ceiling_auc`` (the Bayes score ``P(MVI | clinical items)`` computed
on an ``(a, s)`` grid), so the two cannot drift apart.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import expit, logit
from scipy.stats import norm

from ._sim_latent import sign_probability

__all__ = ["ITEMS", "CLINICAL_COLUMNS", "draw_clinical", "clinical_mvi_probability",
           "item_table"]


def _gauss(name, paper, group, unit, transform, mu, la, ls, sd, decimals, lo, hi, what):
    return dict(name=name, paper=paper, group=group, kind="gauss", unit=unit,
                transform=transform, mu=mu, la=la, ls=ls, sd=sd, decimals=decimals,
                lo=lo, hi=hi, what=what, missable=True)


def _sign(name, paper, sign, labels=None, what=""):
    return dict(name=name, paper=paper, group="radiological", kind="sign", unit="",
                sign=sign, labels=labels, missable=True,
                what=what or f"radiologist's reading of the true image sign '{sign}'")


def _derived(name, paper, group, unit, what, missable=False):
    return dict(name=name, paper=paper, group=group, kind="derived", unit=unit, what=what,
                missable=missable)


LOG10 = "log10"
_L = "clinical/hematological"
# Table I of MD-Net, in the paper's order.  Python-friendly names; `paper` keeps
# the paper's spelling.  Units are those of Chinese hospital lab reports.
ITEMS = [
    dict(name="es_grade", paper="ES", group="pathological", kind="ordinal", unit="grade 1-4",
         ca=0.6, cs=0.0, cuts=(-1.9, -0.1, 1.5), levels=(1.0, 2.0, 3.0, 4.0), missable=True,
         what="Edmondson-Steiner grade, ordinal probit in a"),
    dict(name="cirrhosis", paper="cirrhosis", group="pathological", kind="probit", unit="0/1",
         c0=0.6, ca=0.0, cs=0.5, missable=True, what="probit in s"),
    _gauss("ki67", "Ki-67", "pathological", "%", "logit100", -1.4, 0.65, 0.0, 0.8, 0, 1, 95,
           "proliferation index, logit-normal in a"),
    dict(name="gender", paper="Gender", group="clinical", kind="categorical", unit="",
         levels=("M", "F"), probs=(0.86, 0.14), missable=False, what="noise"),
    _gauss("age", "Age", "clinical", "years", "identity", 55.0, 0.0, 0.0, 11.0, 0, 20, 85,
           "noise"),
    _derived("bclc", "BCLC", "clinical", "0/A/B", "from size, number and Child-Pugh"),
    _derived("child_pugh", "Child-pugh", "clinical", "A/B",
             "Child-Pugh class from TBIL, ALB, PT and ascites"),
    dict(name="size", paper="size", group="clinical/radiological", kind="size", unit="cm",
         missable=False, what="measured largest diameter (true diameter, lognormal in a)"),
    dict(name="number", paper="number", group="clinical/radiological", kind="number",
         unit="count", missable=False,
         what="1 + half the satellites (grade-dependent) + other nodules"),
    _derived("multifocality", "multifocality", "clinical/radiological", "0/1", "number > 1"),
    dict(name="hbv_dna", paper="HBVDNA", group=_L, kind="hbv_dna", unit="IU/mL",
         missable=True, what="noise (viral load of HBV carriers; 20 = undetectable)"),
    _derived("hbv_or_hcv", "HBV_OR_HCV", _L, "0/1", "HBV or HCV"),
    dict(name="hcv", paper="HCV", group=_L, kind="probit", unit="0/1", c0=-1.8, ca=0.0, cs=0.0,
         missable=False, what="noise"),
    dict(name="hbv", paper="HBV", group=_L, kind="probit", unit="0/1", c0=1.0, ca=0.0, cs=0.0,
         missable=False, what="noise"),
    _gauss("afp", "AFP", _L, "ng/mL", LOG10, 1.45, 0.6, 0.45, 0.85, 1, 0.6, 120000.0,
           "log10-normal in a and s (heavy-tailed)"),
    _gauss("cea", "CEA", _L, "ng/mL", "log", math.log(2.5), 0.0, 0.07, 0.6, 2, 0.2, 200.0,
           "noise (weak s)"),
    _gauss("ca199", "CA199", _L, "U/mL", "log", math.log(18.0), 0.0, 0.13, 0.7, 1, 0.6, 1000.0,
           "noise (weak s)"),
    _gauss("plt", "PLT", _L, "10^9/L", "log", math.log(150.0), 0.07, -0.2, 0.35, 0, 20, 600,
           "log-normal, falls with s"),
    _gauss("tbil", "TBIL", _L, "umol/L", "log", math.log(14.0), 0.0, 0.26, 0.38, 1, 3, 200,
           "log-normal, rises with s"),
    _gauss("dbil", "DBIL", _L, "umol/L", "log", math.log(4.8), 0.0, 0.26, 0.45, 1, 0.5, 120,
           "log-normal, rises with s"),
    _gauss("tp", "TP", _L, "g/L", "identity", 68.0, 0.0, -1.3, 6.0, 1, 40, 95, "falls with s"),
    _gauss("alb", "ALB", _L, "g/L", "identity", 40.0, 0.0, -2.6, 4.0, 1, 20, 55, "falls with s"),
    _gauss("alt", "ALT", _L, "U/L", "log", math.log(38.0), 0.0, 0.2, 0.55, 0, 5, 900,
           "log-normal, rises with s"),
    _gauss("ast", "AST", _L, "U/L", "log", math.log(40.0), 0.1, 0.26, 0.5, 0, 8, 900,
           "log-normal, rises with s (weakly a)"),
    _gauss("akp", "AKP", _L, "U/L", "log", math.log(95.0), 0.07, 0.16, 0.4, 0, 20, 900,
           "alkaline phosphatase, rises with s"),
    _gauss("ggt", "GGT", _L, "U/L", "log", math.log(70.0), 0.2, 0.33, 0.7, 0, 6, 1500,
           "log-normal, rises with s and a"),
    _gauss("tba", "TBA", _L, "umol/L", "log", math.log(10.0), 0.0, 0.33, 0.8, 1, 0.5, 300,
           "total bile acids, rises with s"),
    _gauss("ldh", "LDH", _L, "U/L", "log", math.log(190.0), 0.08, 0.0, 0.25, 0, 60, 1500,
           "log-normal, weakly a"),
    _gauss("aplb", "APLB", _L, "g/L", "identity", 0.85, 0.0, -0.04, 0.22, 2, 0.2, 2.0,
           "apolipoprotein B (our reading of 'APLB'); noise (weak s)"),
    _gauss("pt", "PT", _L, "s", "identity", 12.3, 0.0, 0.6, 1.0, 1, 9.0, 25.0,
           "prothrombin time, rises with s"),
    _sign("nodule_in_nodule", "Nodule-in-nodule", "nodule_in_nodule"),
    _sign("ip_op", "IP/OP", "fat", what="signal drop in-/opposed phase (intralesional fat; noise)"),
    _sign("necrosis", "Necrosis or cystic component", "necrosis"),
    dict(name="t2wi", paper="T2WI", group="radiological", kind="categorical", unit="",
         levels=("iso", "mild_hyper", "moderate_hyper"), probs=(0.1, 0.6, 0.3), missable=True,
         what="T2 signal of the tumour (noise)"),
    _sign("rim_aphe", "rim APHE", "rim_aphe"),
    dict(name="t1wi", paper="T1WI", group="radiological", kind="categorical", unit="",
         levels=("hypo", "iso", "hyper"), probs=(0.78, 0.12, 0.10), missable=True,
         what="T1 signal of the tumour (noise)"),
    _sign("mosaic", "Mosaic architecture", "mosaic"),
    _sign("targetoid", "Targetoid", "targetoid"),
    _sign("hbp_hypo", "HBP hypo", "hbp_hypo"),
    _sign("margin", "Margin", "margin_nonsmooth", labels=("smooth", "non-smooth")),
    _sign("peritumoral_enhancement", "Peritumoral enhancement", "peritumoral_enhancement"),
    _sign("capsule_enhancement", "Capsule enhancement", "capsule"),
    _sign("peritumoral_hypointensity", "Peritumoral hypointensity", "hbp_peritumoral_hypo"),
    _sign("hemorrhage", "hemorrhage", "hemorrhage"),
    dict(name="ascites", paper="ascites", group="radiological", kind="probit", unit="0/1",
         c0=-1.6, ca=0.0, cs=0.5, missable=True, what="probit in s"),
    _sign("aphe", "APHE", "aphe"),
    _sign("washout", "washout", "washout"),
    _derived("lirads", "Lirads", "radiological", "LR-3/4/5/M",
             "LI-RADS v2018 category from size and the read APHE/washout/capsule/LR-M signs"),
    _derived("ap_enhancement_intensity", "AP enhancement intensity", "radiological", "0/1/2",
             "0 without APHE, 2 for strong APHE", missable=True),
    _sign("non_enhancing_capsule", "non-enhancement capsule", "interrupted_capsule"),
    _derived("peritumoral_enhancement_shape", "Peritumoral enhanced shape", "radiological",
             "none/wedge/circumferential", "shape of the read peritumoral enhancement",
             missable=True),
    _sign("enhanced_capsule", "Enhanced capsule", "capsule"),
]
CLINICAL_COLUMNS = [item["name"] for item in ITEMS]
_BY_NAME = {item["name"]: item for item in ITEMS}
_OTHER_NODULES = 0.12    # Poisson mean of nodules unrelated to the satellites
_SATELLITE_COUNTED = 0.5  # fraction of satellites counted as separate nodules


def _forward(transform, z):
    if transform == "log":
        return math.exp(z)
    if transform == LOG10:
        return 10.0 ** z
    if transform == "logit100":
        return 100.0 * float(expit(z))
    return z


def _backward(transform, values):
    if transform == "log":
        return np.log(values)
    if transform == LOG10:
        return np.log10(values)
    if transform == "logit100":
        return logit(np.clip(values, 0.5, 99.5) / 100.0)
    return values


def _gauss_value(item, rng, a, s, k):
    z = item["mu"] + k * (item["la"] * a + item["ls"] * s) + item["sd"] * rng.standard_normal()
    value = min(max(_forward(item["transform"], z), item["lo"]), item["hi"])
    return round(value, item["decimals"])


def _child_pugh(v):
    tbil, alb, inr = v["tbil"], v["alb"], v["pt"] / 12.0  # INR from PT with a 12 s control
    score = 1 + (tbil >= 34) + (tbil > 50)
    score += 1 + (alb <= 35) + (alb < 28)
    score += 1 + (inr >= 1.7) + (inr > 2.3)
    score += 1 + v["ascites"] + 1  # ascites (slight = 2), no encephalopathy
    return "A" if score <= 6 else "B"  # Child-Pugh C is excluded from surgical cohorts


def _lirads(v, size_mm):
    if v["targetoid"] and v["rim_aphe"]:  # LR-M needs a concordant targetoid reading
        return "LR-M"
    majors = int(v["washout"]) + int(v["capsule_enhancement"])
    if v["aphe"]:
        if size_mm >= 20:
            return "LR-5" if majors >= 1 else "LR-4"
        if size_mm >= 10:
            return "LR-5" if v["washout"] else ("LR-4" if majors else "LR-3")
        return "LR-4" if majors else "LR-3"
    if size_mm >= 20 and majors >= 1:
        return "LR-4"
    return "LR-3"


def _derive(v, core):
    size_mm = v["size"] * 10.0
    load = v["hbv_dna"]  # HBV carriers only; 20 IU/mL is the detection limit
    v["hbv_dna"] = float(round(10.0 ** load) if v["hbv"] and load > math.log10(20) else 20)
    v["hbv_or_hcv"] = float(v["hbv"] or v["hcv"])
    v["multifocality"] = int(v["number"] > 1)
    v["child_pugh"] = _child_pugh(v)
    if v["number"] == 1 and size_mm <= 20 and v["child_pugh"] == "A":
        v["bclc"] = "0"
    elif v["number"] == 1 or (v["number"] <= 3 and size_mm <= 30):
        v["bclc"] = "A"
    else:
        v["bclc"] = "B"
    v["lirads"] = _lirads(v, size_mm)
    strong = core["sign_latents"]["aphe"] > 1.2
    v["ap_enhancement_intensity"] = float(0 if not v["aphe"] else (2 if strong else 1))
    v["peritumoral_enhancement_shape"] = (
        core["pe_shape"] if v["peritumoral_enhancement"] else "none")


def draw_clinical(rng, core, params, missing: float) -> dict:
    """The 52 items of one patient (with missing values) from its core draw."""
    a, s = core["a"], core["s"]
    k = params["lab_strength"]
    q = params["rater_error"]
    v = {}
    for item in ITEMS:
        kind = item["kind"]
        if kind == "gauss":
            v[item["name"]] = _gauss_value(item, rng, a, s, k)
        elif kind == "probit":
            u = item["c0"] + item["ca"] * a + item["cs"] * s + rng.standard_normal()
            v[item["name"]] = float(u > 0)
        elif kind == "sign":
            read = core["signs"][item["sign"]] != (rng.random() < q)  # flip with prob q
            v[item["name"]] = item["labels"][int(read)] if item["labels"] else float(read)
        elif kind == "ordinal":
            u = item["ca"] * a + item["cs"] * s + rng.standard_normal()
            v[item["name"]] = item["levels"][int(np.searchsorted(item["cuts"], u))]
        elif kind == "categorical":
            v[item["name"]] = item["levels"][int(np.searchsorted(np.cumsum(item["probs"]),
                                                                rng.random()))]
        elif kind == "size":
            error = params["size_measurement_sd"] * rng.standard_normal()
            v["size"] = round(core["diameter_mm"] * math.exp(error) / 10.0, 1)
        elif kind == "number":
            counted = rng.binomial(core["n_satellites"], _SATELLITE_COUNTED)
            v["number"] = int(1 + counted + rng.poisson(_OTHER_NODULES))
        elif kind == "hbv_dna":
            v["hbv_dna"] = 3.2 + 1.4 * rng.standard_normal()  # log10 load, set in _derive
    _derive(v, core)
    # Missing completely at random within a centre (MAR overall): one uniform per
    # item, always drawn, so the stream does not depend on the rate.
    draws = rng.random(len(ITEMS))
    for item, u in zip(ITEMS, draws):
        if item["missable"] and u < missing:
            v[item["name"]] = np.nan
    return {name: v[name] for name in CLINICAL_COLUMNS}


# ------------------------------------------------------------ clinical ceiling
_GRID = np.linspace(-4.0, 4.0, 41)


def _item_terms(item, values, A, S, params):
    """The item's log-likelihood on the grid as ``features @ table``.

    ``features`` (n, k) holds per-patient statistics (zero when missing),
    ``table`` (k, grid) the matching functions of ``(a, s)``: a Gaussian gives
    ``z m / sd^2 - m^2 / (2 sd^2)`` (the ``z^2`` term is constant per patient), a
    binary or ordinal item the log-probability of its observed level.
    """
    kind = item["kind"]
    k = params["lab_strength"]
    observed = ~values.isna().to_numpy()
    if kind in ("gauss", "size"):
        if kind == "size":
            z = np.log(np.where(observed, values.to_numpy(dtype=float), 1.0) * 10.0)
            sd = math.hypot(params["size_log_sd"], params["size_measurement_sd"])
            mean = math.log(params["size_median_mm"]) + params["size_log_slope"] * A + 0 * S
        else:
            if item["la"] == 0 and item["ls"] == 0:
                return None
            raw = np.where(observed, values.to_numpy(dtype=float), _forward(item["transform"],
                                                                            item["mu"]))
            z = _backward(item["transform"], raw)
            sd = item["sd"]
            mean = item["mu"] + k * (item["la"] * A + item["ls"] * S)
        features = np.stack([z * observed, observed.astype(float)], axis=1)
        table = np.stack([mean.ravel() / sd ** 2, -0.5 * mean.ravel() ** 2 / sd ** 2])
        return features, table
    if kind == "ordinal":
        eta = item["ca"] * A + item["cs"] * S
        cuts = np.concatenate([[-np.inf], item["cuts"], [np.inf]])
        table = np.stack([np.log(np.maximum(norm.cdf(hi - eta) - norm.cdf(lo - eta), 1e-12)).ravel()
                          for lo, hi in zip(cuts[:-1], cuts[1:])])
        levels = np.asarray(item["levels"])
        features = (values.to_numpy(dtype=float)[:, None] == levels[None, :]).astype(float)
        return features, table
    if kind == "probit":
        if item["ca"] == 0 and item["cs"] == 0:
            return None
        p1 = norm.cdf(item["c0"] + item["ca"] * A + item["cs"] * S)
    else:  # a radiologist's reading of a true sign, flipped with probability q
        q = params["rater_error"]
        p = sign_probability(item["sign"], A + 0 * S, params)
        p1 = (1 - q) * p + q * (1 - p)
    if item.get("labels"):
        ones = values.to_numpy() == item["labels"][1]
    else:
        ones = np.where(observed, values.to_numpy(dtype=float), 0.0) > 0.5
    features = np.stack([ones & observed, ~ones & observed], axis=1).astype(float)
    table = np.log(np.maximum(np.stack([p1.ravel(), 1 - p1.ravel()]), 1e-12))
    return features, table


def clinical_mvi_probability(frame, thresholds, params):
    """``P(MVI = 1 | the clinical items)`` per patient: the clinical ceiling score.

    Bayes' rule on a 41 x 41 grid of ``(a, s)`` with the grade summed out; the
    derived items (BCLC, Child-Pugh, LI-RADS, ...) are functions of the others
    and left out, so this is the ceiling up to their small extra information
    when a source item is missing.
    """
    A, S = np.meshgrid(_GRID, _GRID, indexing="ij")
    log_post = np.tile(-0.5 * (A ** 2 + S ** 2).ravel(), (len(frame), 1))
    for item in ITEMS:
        if item["kind"] in ("derived", "categorical", "number", "hbv_dna"):
            continue
        terms = _item_terms(item, frame[item["name"]], A, S, params)
        if terms is not None:
            log_post += terms[0] @ terms[1]
    post = np.exp(log_post - log_post.max(axis=1, keepdims=True))       # (n, grid)
    r = (params["b_a"] * A + params["b_s"] * S).ravel()
    c0 = norm.cdf((thresholds[0] - r) / params["sigma"])
    c1 = norm.cdf((thresholds[1] - r) / params["sigma"])
    by_grade = post @ np.stack([c0, c1 - c0, 1 - c1]).T                  # (n, 3)
    # `number` depends on the grade through the satellites (thinned Poisson).
    rates = _SATELLITE_COUNTED * np.asarray(params["satellite_rate"]) + _OTHER_NODULES
    extra = frame["number"].to_numpy(dtype=float) - 1.0
    by_grade *= np.exp(extra[:, None] * np.log(rates[None, :]) - rates[None, :])
    return (by_grade[:, 1] + by_grade[:, 2]) / by_grade.sum(axis=1)


def item_table():
    """The items as rows: name, paper name, group, kind, unit, what drives it."""
    import pandas as pd

    return pd.DataFrame(
        [{"name": it["name"], "paper_name": it["paper"], "group": it["group"],
          "kind": it["kind"], "unit": it["unit"], "may_be_missing": it["missable"],
          "driven_by": it["what"]} for it in ITEMS]).set_index("name")
