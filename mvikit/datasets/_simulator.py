"""`make_hcc_cohort`: the documented synthetic HCC cohort (design/simulator.md).

Per patient ``i`` every random draw comes from streams seeded by
``(seed, i, purpose)``, so patient ``i`` depends on ``(random_state, i)`` only:
a cohort's first ``k`` patients equal the ``k``-patient cohort, and generation
parallelises over patients with identical results.
"""

from __future__ import annotations

import logging
import os
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.metrics import roc_auc_score
from sklearn.utils import Bunch, check_random_state
from threadpoolctl import threadpool_limits

from ..imaging._volume import Volume
from ._sim_clinical import CLINICAL_COLUMNS, clinical_mvi_probability, draw_clinical, item_table
from ._sim_images import render_patient
from ._sim_latent import SIGNS, draw_core, mvi_probability_given_a_sat
from ._sim_params import (
    CT_SEQUENCES,
    MAX_CENTERS,
    MRI_SEQUENCES,
    SimulationParameterError,
    center_table,
    grade_thresholds,
    resolve_params,
)
from ._sim_tumour import draw_geometry

__all__ = ["make_hcc_cohort"]

logger = logging.getLogger(__name__)

TASKS = ("mvi", "mvi_grade", "mavi", "tace", "survival")
LAYOUTS = ("roi", "full")
_SEQUENCE_CODES = {seq: k for k, seq in enumerate(MRI_SEQUENCES + CT_SEQUENCES)}
_STREAM_CORE, _STREAM_GEOMETRY, _STREAM_LAYOUT, _STREAM_SEQUENCE = 0, 1, 2, 3
_SURVIVAL_DTYPE = [("event", bool), ("time", float)]


def _check_arguments(n_patients, task, sequences, layout, modality, n_centers, missing_rate,
                     n_jobs):
    if isinstance(n_patients, bool) or not isinstance(n_patients, Integral) or n_patients < 1:
        raise SimulationParameterError(
            f"n_patients must be an integer >= 1; got {n_patients!r}.")
    if task not in TASKS:
        raise SimulationParameterError(f"Unknown task {task!r}; choose one of {TASKS}.")
    if modality not in ("mri", "ct"):
        raise SimulationParameterError(f"modality must be 'mri' or 'ct'; got {modality!r}.")
    sequences = () if sequences is None else (
        (sequences,) if isinstance(sequences, str) else tuple(sequences))
    allowed = MRI_SEQUENCES if modality == "mri" else CT_SEQUENCES
    for seq in sequences:
        if seq not in allowed:
            other = "ct" if seq in CT_SEQUENCES else "mri"
            hint = (f" (a {other.upper()} sequence: pass modality={other!r})"
                    if seq in _SEQUENCE_CODES else "")
            raise SimulationParameterError(
                f"Unknown sequence {seq!r} for modality={modality!r}{hint}; choose from {allowed}.")
    if len(set(sequences)) != len(sequences):
        raise SimulationParameterError(f"Duplicate sequence in {sequences!r}.")
    if layout is not None and layout not in LAYOUTS:
        raise SimulationParameterError(
            f"Unknown layout {layout!r}; choose 'roi', 'full' or None (no images).")
    if layout is None:
        sequences = ()
    if (isinstance(n_centers, bool) or not isinstance(n_centers, Integral)
            or not 1 <= n_centers <= MAX_CENTERS):
        raise SimulationParameterError(
            f"n_centers must be an integer in [1, {MAX_CENTERS}]; got {n_centers!r}.")
    if isinstance(missing_rate, str):
        if missing_rate != "default":
            raise SimulationParameterError(
                f"missing_rate must be 'default' or a rate in [0, 0.9]; got {missing_rate!r}.")
        missing_rate = None
    elif missing_rate is None:
        missing_rate = 0.0
    elif isinstance(missing_rate, bool) or not isinstance(missing_rate, Real) or not (
            0 <= missing_rate <= 0.9):
        raise SimulationParameterError(
            f"missing_rate must be 'default' or a rate in [0, 0.9]; got {missing_rate!r}.")
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, Integral)
                               or n_jobs == 0):
        raise SimulationParameterError(
            f"n_jobs must be None or a non-zero integer; got {n_jobs!r}.")
    return sequences, missing_rate


def _seed_from(random_state) -> int:
    if isinstance(random_state, Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise SimulationParameterError(f"random_state must be >= 0; got {random_state!r}.")
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _simulate_patient(seed, i, config):
    """Everything about patient ``i`` (plain Python / numpy objects)."""
    params, centers = config["params"], config["centers"]
    rng = np.random.default_rng([seed, i, _STREAM_CORE])
    core = draw_core(rng, centers, config["thresholds"], params)
    center = centers[core["center"]]
    clinical = draw_clinical(rng, core, params, center["missing"])
    geometry = draw_geometry(np.random.default_rng([seed, i, _STREAM_GEOMETRY]), core)
    volumes, masks, shifts = {}, {}, {}
    if config["sequences"]:
        seq_rngs = {seq: np.random.default_rng([seed, i, _STREAM_SEQUENCE, _SEQUENCE_CODES[seq]])
                    for seq in config["sequences"]}
        volumes, masks, shifts = render_patient(
            geometry, center, config["sequences"], config["layout"], params,
            np.random.default_rng([seed, i, _STREAM_LAYOUT]), seq_rngs)
        if config["image_dir"] is not None:
            volumes, masks = _written(i, config, center, volumes), _written(i, config, center,
                                                                             masks)
    return {"core": core, "clinical": clinical, "geometry": geometry, "volumes": volumes,
            "masks": masks, "shifts": shifts}


def _patient_id(i, config) -> str:
    return f"HCC{i + 1:0{config['id_width']}d}"


def _written(i, config, center, arrays: dict) -> dict:
    """Write patient ``i``'s arrays as uncompressed NIfTI files under ``image_dir``
    (float32 and uint8 exactly) and return lazy volumes with the exact geometry."""
    from ..imaging import write_image

    out = {}
    for column, array in arrays.items():
        volume = _volume(array, center)
        path = write_image(volume, Path(config["image_dir"]) /
                           f"{_patient_id(i, config)}_{column}.nii", compress=False)
        out[column] = Volume(path=path, spacing=volume.spacing, origin=volume.origin)
    return out


def _simulate_block(seed, indices, config):
    # The small matrix products of the texture fields are slower with several
    # BLAS threads than with one; parallelism comes from joblib over patients.
    with threadpool_limits(limits=1, user_api="blas"):
        return [_simulate_patient(seed, i, config) for i in indices]


def _truth_row(patient):
    core, geometry = patient["core"], patient["geometry"]
    row = {key: core[key] for key in ("a", "s", "e", "r", "liability", "survival_lp",
                                      "progression_lp", "diameter_mm", "n_satellites")}
    row["grade"] = core["grade"]
    row["margin_amplitude"] = geometry["margin_amplitude"]
    row["heterogeneity"] = geometry["heterogeneity"]
    row["peritumoral_enhancement_shape"] = core["pe_shape"]
    for name in list(SIGNS) + ["interrupted_capsule"]:
        row[f"sign_{name}"] = core["signs"][name]
    row["treatment"] = core["treatment"]
    return row


def _structured(event, time):
    out = np.empty(len(event), dtype=_SURVIVAL_DTYPE)
    out["event"] = np.asarray(event, dtype=bool)
    out["time"] = np.asarray(time, dtype=float)
    return out


def _auc(y, score):
    y = np.asarray(y)
    if y.min() == y.max():
        return float("nan")
    return float(roc_auc_score(y, score))


def _frames(patients, ids, config):
    """Cohort frame, truth and outcomes frames from the per-patient records."""
    centers = config["centers"]
    X = pd.DataFrame([p["clinical"] for p in patients], index=ids, columns=CLINICAL_COLUMNS)
    for seq in config["sequences"]:
        X[seq] = [_as_volume(p, p["volumes"][seq], centers) for p in patients]
    mask_columns = list(patients[0]["masks"]) if config["sequences"] else []
    for name in mask_columns:
        X[name] = [_as_volume(p, p["masks"][name], centers) for p in patients]
    X.index.name = "patient_id"
    truth = pd.DataFrame([_truth_row(p) for p in patients], index=ids)
    outcome_keys = ("mvi", "grade", "os_time", "os_event", "pfs_time", "pfs_event",
                    "mavi_time", "mavi_event", "progression_1y", "treatment")
    outcomes = pd.DataFrame([{k: p["core"][k] for k in outcome_keys} for p in patients],
                            index=ids).rename(columns={"grade": "mvi_grade"})
    center_names = pd.Series([centers[p["core"]["center"]]["name"] for p in patients],
                             index=ids, name="center")
    return X, truth, outcomes, center_names, mask_columns


def _as_volume(patient, array, centers):
    if isinstance(array, Volume):  # written to ``image_dir``: a lazy volume
        return array
    return _volume(array, centers[patient["core"]["center"]])


def _volume(array, center) -> Volume:
    spacing = center["spacing"]
    origin = tuple(-0.5 * n * sp for n, sp in zip(reversed(array.shape), reversed(spacing)))
    # The rendered arrays belong to this patient only: no defensive copy.
    return Volume._adopt(array, spacing=spacing, origin=origin)


def _targets(task, outcomes):
    if task == "mvi":
        return outcomes["mvi"].to_numpy(dtype=int)
    if task == "mvi_grade":
        return outcomes["mvi_grade"].to_numpy(dtype=int)
    if task == "tace":
        return outcomes["progression_1y"].to_numpy(dtype=int)
    if task == "mavi":
        return _structured(outcomes["mavi_event"], outcomes["mavi_time"])
    return _structured(outcomes["os_event"], outcomes["os_time"])


def make_hcc_cohort(n_patients=270, task="mvi_grade", *, sequences=("PRE", "HBP"),
                    layout="roi", modality="mri", n_centers=4, missing_rate="default",
                    params=None, n_jobs=None, random_state=None, image_dir=None):
    """Simulate a multicentre HCC cohort with known ground truth.

    A documented generative model (see the user guide "The simulated HCC
    cohort"): per patient a centre (scanner spacing, intensity scale, noise,
    bias field, missing-data rate), an image-visible aggressiveness ``a`` and a
    lab-visible systemic factor ``s``, the MVI risk ``r = b_a a + b_s s`` and
    grade (thresholds of ``r + e``), a tumour whose image signs carry ``a``,
    the 52 clinical items of MD-Net's Table I, survival, progression and
    macrovascular-invasion outcomes.  Patient ``i`` depends only on
    ``(random_state, i)``.

    Parameters
    ----------
    n_patients : int, default=270
        Number of patients (ids ``"HCC0001"``, ``"HCC0002"``, ...).
    task : {"mvi", "mvi_grade", "mavi", "tace", "survival"}, default="mvi_grade"
        What ``y`` holds: binary MVI (0/1 ints); MVI grade M0/M1/M2 as ints
        0/1/2; time to future macrovascular invasion (structured survival
        array); 1-year progression after treatment (0/1 ints; ``survival`` is
        then PFS); overall survival (structured array).
    sequences : sequence of str or None, default=("PRE", "HBP")
        Volume columns to render: MRI ``"PRE"``, ``"AP"``, ``"PV"``, ``"HBP"``,
        ``"T2"`` or CT ``"CT_PLAIN"``, ``"CT_AP"``, ``"CT_PV"`` (with
        ``modality="ct"``).  ``()`` or None: a fast clinical-only cohort.
    layout : {"roi", "full"} or None, default="roi"
        ``"roi"``: a ``(20, 80, 80)`` cube around the tumour with a random
        jitter; ``"full"``: a ``(48, 192, 192)`` abdomen-like volume with a
        liver and a ``liver_mask`` column.  None: no images.
    modality : {"mri", "ct"}, default="mri"
        Which family of sequence names is allowed.  The patients do not depend
        on it: one ``random_state`` gives the same patients (centre, latents,
        tumour and mask, clinical items, outcomes) for ``"mri"`` and ``"ct"``;
        only the image columns differ (`make_paired_cohort` joins them).
    n_centers : int, default=4
        Number of centres (1-6; unequal sizes, 45/25/18/12 % for 4).  The last
        centre is flagged external.
    missing_rate : "default" or float or None, default="default"
        ``"default"``: each centre's own rate (5, 8, 12, 15 %, ...) of values
        missing at random on labs and descriptors; a float: that rate
        everywhere; None or 0: complete data.
    params : dict, default=None
        Overrides of the fine knobs in ``DEFAULT_PARAMS`` (``b_a``, ``b_s``,
        ``sigma``, ``grade_mix``, ``rater_error``, ``lab_strength``,
        ``sign_strength``, ``satellite_rate``, ``noise_scale``, ``bias_scale``,
        ``roi_shape``, ``full_shape``, survival medians...); the resolved dict
        is returned as ``params``.
    n_jobs : int, default=None
        Processes for generating patients (joblib); the result is identical.
    random_state : int, RandomState instance or None, default=None
        Seed.  None draws one seed (returned as ``random_state``).
    image_dir : str or path-like, default=None
        Write each patient's volumes and masks, as soon as they are rendered, to
        uncompressed NIfTI files ``<patient id>_<column>.nii`` in this folder
        (created if needed; files of those names are replaced) and return lazy
        `Volume` cells that read them when used.  The voxels and geometry are
        those of the in-memory cohort; memory then holds one patient's images at
        a time (the ``"full"`` layout is about 17 MB per patient with two
        sequences, 4.6 GB for 270 patients).  None: volumes in memory.

    Returns
    -------
    cohort : sklearn.utils.Bunch
        ``X`` (the cohort frame: 52 clinical columns, one `Volume` column per
        sequence, ``tumor_mask`` and, for ``"full"``, ``liver_mask``; masks are
        drawn on the first sequence, the others are shifted by up to
        ``misregistration_voxels``), ``y``, ``survival`` (structured array
        ``[("event", bool), ("time", float)]``, months; OS, or PFS for
        ``task="tace"``), ``outcomes`` (every outcome per patient), ``centers``
        (centre name per patient), ``is_external`` (bool per patient: the
        external centre), ``center_info`` (one row per centre: share, spacing,
        gain, offset, noise, bias, missing rate, external flag),
        ``truth`` (oracle frame: ``a``, ``s``, ``e``, ``r``, ``liability``,
        ``grade``, linear predictors, true image signs), ``clinical_columns``,
        ``volume_columns``, ``mask_columns``, ``item_info`` (the 52 items: paper
        name, unit, what drives them), ``oracle_auc`` (AUC of ``r`` for binary
        MVI), ``image_ceiling_auc`` (AUC of ``P(MVI | a, satellites)``),
        ``clinical_ceiling_auc`` (AUC of ``P(MVI | clinical items)``),
        ``grade_thresholds`` (the two cut-points of the liability),
        ``target_names`` (None for survival tasks), ``task``, ``layout``,
        ``params`` (the resolved knobs), ``random_state`` (the integer seed
        used) and ``description``.

    See Also
    --------
    mvikit.datasets.write_cohort : Write the cohort as CSV + NIfTI files.
    mvikit.datasets.load_cohort : Read it back.

    Notes
    -----
    Defaults are calibrated so that on ``n_patients=270`` the oracle AUC is
    about 0.90, a clinical-only logistic regression on the 52 items reaches
    0.75-0.85 and an image-only radiomics baseline 0.65-0.78 (measured bands in
    the user guide; ``benchmarks/calibrate_simulator.py`` re-measures them).

    Examples
    --------
    >>> from mvikit.datasets import make_hcc_cohort
    >>> cohort = make_hcc_cohort(n_patients=5, random_state=0)
    >>> cohort.X.shape
    (5, 55)
    >>> cohort.X.index[:2].tolist(), cohort.volume_columns, cohort.mask_columns
    (['HCC0001', 'HCC0002'], ['PRE', 'HBP'], ['tumor_mask'])
    >>> cohort.X["PRE"].iloc[0].shape
    (20, 80, 80)
    >>> cohort.y.tolist() == cohort.truth["grade"].tolist()
    True
    """
    sequences, missing = _check_arguments(n_patients, task, sequences, layout, modality,
                                          n_centers, missing_rate, n_jobs)
    resolved = resolve_params(params)
    seed = _seed_from(random_state)
    thresholds = grade_thresholds(resolved)
    width = max(4, len(str(n_patients)))
    config = {"params": resolved, "centers": center_table(n_centers, resolved, missing),
              "thresholds": thresholds, "sequences": sequences, "layout": layout,
              "id_width": width, "image_dir": _image_dir(image_dir, sequences)}
    indices = list(range(n_patients))
    if n_jobs in (None, 1) or n_patients < 8:
        patients = _simulate_block(seed, indices, config)
    else:
        n_blocks = min(n_patients, 4 * abs(n_jobs) if n_jobs > 0 else 32)
        blocks = [b.tolist() for b in np.array_split(indices, n_blocks) if len(b)]
        results = Parallel(n_jobs=n_jobs)(delayed(_simulate_block)(seed, b, config)
                                          for b in blocks)
        patients = [p for block in results for p in block]
    ids = pd.Index([_patient_id(i, config) for i in indices], name="patient_id")
    X, truth, outcomes, centers, mask_columns = _frames(patients, ids, config)
    logger.info("simulated %d patients (seed %d)", n_patients, seed)
    return _bunch(X, truth, outcomes, centers, mask_columns, config, task, seed)


def _image_dir(image_dir, sequences) -> str | None:
    if image_dir is None:
        return None
    if not isinstance(image_dir, (str, os.PathLike)):
        raise SimulationParameterError(
            f"image_dir must be a folder path or None; got {type(image_dir).__name__}.")
    if not sequences:
        raise SimulationParameterError(
            "image_dir is given but the cohort has no images (layout=None or no sequences); "
            "drop image_dir or choose a layout and sequences.")
    folder = Path(os.fspath(image_dir))
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder.resolve())


def _bunch(X, truth, outcomes, centers, mask_columns, config, task, seed):
    params, thresholds = config["params"], config["thresholds"]
    mvi = outcomes["mvi"].to_numpy()
    image_score = mvi_probability_given_a_sat(truth["a"], truth["n_satellites"], thresholds,
                                              params)
    clinical_score = clinical_mvi_probability(X[CLINICAL_COLUMNS], thresholds, params)
    survival = (_structured(outcomes["pfs_event"], outcomes["pfs_time"]) if task == "tace"
                else _structured(outcomes["os_event"], outcomes["os_time"]))
    center_info = pd.DataFrame(config["centers"]).set_index("name")
    target_names = {"mvi": ["no MVI", "MVI"], "mvi_grade": ["M0", "M1", "M2"],
                    "tace": ["no progression at 1 year", "progression at 1 year"]}.get(task)
    return Bunch(
        X=X, y=_targets(task, outcomes), survival=survival, outcomes=outcomes,
        centers=centers, is_external=centers.map(center_info["external"]).to_numpy(dtype=bool),
        center_info=center_info, truth=truth,
        clinical_columns=list(CLINICAL_COLUMNS), volume_columns=list(config["sequences"]),
        mask_columns=mask_columns, item_info=item_table(),
        oracle_auc=_auc(mvi, truth["r"]), image_ceiling_auc=_auc(mvi, image_score),
        clinical_ceiling_auc=_auc(mvi, clinical_score),
        grade_thresholds=thresholds, target_names=target_names, task=task, params=params,
        layout=config["layout"] if config["sequences"] else None, random_state=seed,
        description=_description(len(X), task, config, seed),
    )


def _description(n, task, config, seed):
    seqs = ", ".join(config["sequences"]) or "none (clinical-only)"
    centres = "; ".join(
        f"{c['name']}{' (external)' if c['external'] else ''}: {100 * c['weight']:.0f} %, "
        f"spacing {c['spacing']} mm, missing {100 * c['missing']:.0f} %"
        for c in config["centers"])
    p = config["params"]
    return (
        f"Simulated HCC cohort (mvikit.datasets.make_hcc_cohort): {n} patients, task {task!r}, "
        f"seed {seed}.\nSequences: {seqs}; layout: {config['layout']}.\nCentres: {centres}.\n"
        f"MVI risk r = {p['b_a']} a + {p['b_s']} s; grade = thresholds "
        f"{tuple(round(t, 3) for t in config['thresholds'])} of r + N(0, {p['sigma']}^2).\n"
        "Clinical columns: the 52 items of MD-Net Table I (see `item_info` for the paper's names, "
        "units and what drives each item).\nSurvival times are in months."
    )
