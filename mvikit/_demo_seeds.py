"""The seed-paper sections of ``mvikit demo`` (the full demo only).

One function per seed architecture -- CDLM (seed 003), MTnet (seed 004), CMIR
(seed 001), DMMGNet (seed 002) -- runs a small but honest version of that paper's
evaluation with the public API on its own simulated cohort, writes its figures and
its comparison report into ``<out>/<name>/``, prints a short table and returns a
:class:`SeedSection` holding the Markdown section and the comparison objects it
printed.  The sizes (:class:`SeedSettings`) keep each section at a few CPU-minutes
with the ``"cpu"`` preset; the papers' own sizes are in ``benchmarks/<seed>_findings.py``.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["SEED_SECTIONS", "SeedSection", "SeedSettings", "run_seed_section"]

#: Section names in the order the demo runs them.
SEED_SECTIONS = ("cdlm", "mtnet", "cmir", "dmmgnet")


@dataclass(frozen=True)
class SeedSettings:
    """How much work each seed section does (the full demo's defaults).

    ``max_epochs=None`` keeps the preset's epochs.  ``n_splits`` is the stratified
    K-fold of CDLM and MTnet; CMIR has one external-validation split; DMMGNet uses
    ``dmmgnet_splits`` (the paper's 4-fold CV).
    """

    preset: str = "cpu"
    max_epochs: int | None = None
    n_splits: int = 3
    cdlm_patients: int = 200
    mtnet_patients: int = 270
    mtnet_horizon: float = 12.0
    cmir_patients: int = 270
    dmmgnet_patients: int = 100
    dmmgnet_splits: int = 4


@dataclass
class SeedSection:
    """One seed section: its Markdown, the figures it wrote and its comparison objects."""

    name: str
    title: str
    markdown: str
    figures: list = field(default_factory=list)
    results: dict = field(default_factory=dict)


def _params(settings: SeedSettings, random_state) -> dict:
    params = {"preset": settings.preset, "random_state": random_state}
    if settings.max_epochs is not None:
        params["max_epochs"] = settings.max_epochs
    return params


def _save(fig, path: Path) -> str:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path.name


def _md(frame: pd.DataFrame, digits=3, index=True) -> str:
    # object dtype: tabulate then formats each value by its own type (counts stay integers)
    return frame.astype(object).to_markdown(floatfmt=f".{digits}f", index=index)


def _failures(result) -> list:
    """A block naming the failed fits (the section reports the others), or nothing."""
    if result.failures.empty:
        return []
    rows = result.failures[["model", "repeat", "fold", "error", "message"]]
    return ["Failed fits (left out of the tables above):\n\n"
            + rows.to_markdown(index=False)]


def _finish(name, title, intro, blocks, out: Path, figures, results, stream) -> SeedSection:
    """Print the section and return it; figures are links relative to the demo folder."""
    blocks = [*blocks, *_failures(results["comparison"])]
    text = "\n\n".join([intro, *blocks])
    stream.write(f"\n## {title}\n\n{text}\n")
    links = "\n".join(f"![{f}]({name}/{f})" for f in figures)
    markdown = (f"## {title}\n\n{text}\n\nComparison report: [{name}/report/report.html]"
                f"({name}/report/report.html)\n\n{links}\n")
    return SeedSection(name=name, title=title, markdown=markdown,
                       figures=[out / f for f in figures], results=results)


def _stratified_folds(n_splits, y, random_state) -> list:
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits, shuffle=True, random_state=random_state)
    return list(splitter.split(np.zeros(len(y)), y))


# ---------------------------------------------------------------------------- CDLM
def cdlm_section(settings: SeedSettings, out: Path, *, random_state=0, n_jobs=None,
                 stream) -> SeedSection:
    """Seed 003: the AFP model, CDLM-CT and CDLM-MRI on the same patients and folds;
    paired DeLong, McNemar at training-fold thresholds, subgroups; one Grad-CAM map."""
    from sklearn.base import clone

    from .datasets import make_paired_cohort
    from .deep import cdlm_models
    from .model_selection import compare_models, head_to_head, subgroup_labels
    from .report import write_report

    pair = make_paired_cohort(settings.cdlm_patients, random_state=random_state, n_jobs=n_jobs)
    X, y = pair.X, np.asarray(pair.y)
    params = _params(settings, random_state)
    ct, mri = cdlm_models("ct", **params), cdlm_models("mri", **params)
    models = {"Clinical model (AFP)": ct["Clinical model"], "CDLM-CT": ct["CDLM"],
              "CDLM-MRI": mri["CDLM"]}
    folds = _stratified_folds(settings.n_splits, y, random_state)
    result = compare_models(models, X, y, cv=folds, threshold_cv="train", n_jobs=n_jobs,
                            scoring=["auc", "sensitivity", "specificity"],
                            random_state=random_state)
    subgroups = subgroup_labels(X)
    h2h = head_to_head(result, "CDLM-MRI", "CDLM-CT", subgroups=subgroups)
    write_report(result, out / "report", title="CDLM (seed 003): CT vs MRI, same patients")
    figure = _cdlm_gradcam(clone(models["CDLM-MRI"]), X, y, folds[0], out)
    d = h2h.delong
    intro = (f"{len(y)} simulated patients imaged by both MRI ({', '.join(pair.mri_sequences)}) "
             f"and CT ({', '.join(pair.ct_sequences)}), MVI prevalence {y.mean():.2f}; "
             f"{len(folds)}-fold stratified CV, the same folds for every model; preset "
             f"{settings.preset!r}; thresholds: Youden's J on each training fold.")
    blocks = [
        "Cross-validated comparison (mean ± SD over folds; p vs the AFP model):\n\n"
        + result.table().to_markdown(index=False),
        f"CDLM-MRI vs CDLM-CT, pooled out-of-fold (paired DeLong): AUC {d.auc_a:.3f} vs "
        f"{d.auc_b:.3f}, difference {d.auc_a - d.auc_b:+.3f}, p = {d.p_value:.3g}",
        "AUC (DeLong 95% CI) and threshold metrics:\n\n" + _md(h2h.auc),
        "McNemar's exact test at the training-fold thresholds:\n\n" + _md(h2h.mcnemar),
        "Subgroups (AUC of each model, paired DeLong p):\n\n"
        + _md(h2h.subgroups[["subgroup", "level", "n", "events", "auc CDLM-MRI",
                             "auc CDLM-CT", "p_delong"]], index=False),
    ]
    return _finish("cdlm", "CDLM (seed 003): CT vs MRI on the same patients", intro, blocks,
                   out, [figure], {"comparison": result, "head_to_head": h2h,
                                   "subgroups": subgroups}, stream)


def _cdlm_gradcam(model, X, y, split, out: Path) -> str:
    """CDLM-MRI fitted on the first training fold; Grad-CAM of the test patient with MVI
    it ranks highest, on the three slices each phase's network read."""
    import matplotlib.pyplot as plt

    from .deep import gradcam
    from .plotting import plot_cam

    train, test = split
    model.fit(X.iloc[train], y[train])
    risk = model.predict_proba(X.iloc[test])[:, 1]
    positive = np.flatnonzero(y[test] == 1)
    chosen = test[positive[np.argmax(risk[positive])]] if len(positive) else test[0]
    patient = X.iloc[[chosen]]
    cam = gradcam(model, patient)
    phases = list(model.volumes)
    fig, axes = plt.subplots(len(phases), 3, figsize=(7.5, 2.5 * len(phases)), squeeze=False)
    for row, phase in zip(axes, phases):
        plot_cam(cam.inputs[phase][0], cam[phase][0], ax=row, slices=[0, 1, 2], title=False)
        row[0].text(-0.08, 0.5, phase, transform=row[0].transAxes, rotation=90, ha="right",
                    va="center")  # plot_cam hides the axes, so no ylabel
    for k, ax in enumerate(axes[0]):
        ax.set_title(f"slice {k + 1} of 3", fontsize=8)
    fig.tight_layout()
    fig.suptitle(f"CDLM-MRI Grad-CAM, patient {patient.index[0]} (MVI {y[chosen]}, held out, "
                 f"risk {risk[np.flatnonzero(test == chosen)[0]]:.2f})", fontsize=9, y=1.01)
    return _save(fig, out / "cdlm_gradcam.png")


# ---------------------------------------------------------------------------- MTnet
_MTNET_REFERENCE = "Model CR-DR"


def mtnet_section(settings: SeedSettings, out: Path, *, random_state=0, n_jobs=None,
                  stream) -> SeedSection:
    """Seed 004: the five MTnet models on MaVI within the horizon (Figure 4, Table S2),
    the held-out Youden risk groups of CR-DR with KM for time to MaVI (Figure 6), and
    the held-out Dice of the segmentation decoder."""
    from .datasets import make_hcc_cohort
    from .deep import horizon_task, mtnet_models
    from .model_selection import compare_models
    from .report import write_report

    cohort = make_hcc_cohort(settings.mtnet_patients, task="mavi", sequences=("CT_PV",),
                             modality="ct", random_state=random_state, n_jobs=n_jobs)
    X, y, labels = horizon_task(cohort.X, cohort.y, settings.mtnet_horizon)
    params = _params(settings, random_state)
    folds = _stratified_folds(settings.n_splits, y, random_state)
    result = compare_models(mtnet_models(**params), X, y, cv=folds, threshold="youden",
                            threshold_cv="train", n_jobs=n_jobs, random_state=random_state,
                            scoring=["auc", "sensitivity", "specificity", "brier"])
    write_report(result, out / "report", title="MTnet (seed 004): five models")
    table = mtnet_table_s2(result)
    groups, group_text, figures = _mtnet_risk_groups(result, cohort, X.index, out)
    dice = _mtnet_dice(X, y, folds[0], params)
    counts = labels.counts
    intro = (f"{settings.mtnet_patients} simulated CT patients (portal-venous phase); MaVI "
             f"within {settings.mtnet_horizon:g} months: {counts['events']} events, "
             f"{counts['event_free']} event-free, {counts['censored_before_horizon']} censored "
             f"before the horizon and left out; {len(folds)}-fold stratified CV, the same folds "
             f"for every model; preset {settings.preset!r}; Youden cut-offs on each training "
             f"fold's own predictions.")
    blocks = [
        "Cross-validated comparison (mean ± SD over folds; p vs Model CR-DR):\n\n"
        + result.table().to_markdown(index=False),
        "Table S2, pooled out-of-fold: AUC (DeLong CI), paired DeLong p, category-free NRI "
        "and IDI of Model CR-DR against each model:\n\n" + _md(table),
        group_text,
        f"Held-out Dice of the segmentation (Model CR-DR fitted on the first training fold, "
        f"{len(dice)} test patients): median {dice.median():.3f}, IQR "
        f"{dice.quantile(0.25):.3f}-{dice.quantile(0.75):.3f}",
    ]
    return _finish("mtnet", "MTnet (seed 004): future macrovascular invasion", intro, blocks,
                   out, figures, {"comparison": result, "table_s2": table,
                                  "risk_groups": groups, "dice": dice}, stream)


def mtnet_table_s2(result) -> pd.DataFrame:
    """AUC with DeLong's CI per model; DeLong p, NRI and IDI of Model CR-DR against each.

    Pooled out-of-fold predictions of repeat 0; a model with a failed fit is left out
    (its failure is listed in the section).  NRI and IDI read the reference as the new
    model: positive values favour CR-DR."""
    from .metrics import idi, nri, roc_auc_ci

    reference = result.oof_predictions(_MTNET_REFERENCE)
    y = (reference["y_true"] == result.pos_label).to_numpy(int)
    new = reference["score"].to_numpy(float)
    delong = result.delong.query("repeat == 0").set_index("model")["p_value"]
    complete = [m for m in result.models if m not in set(result.failures["model"])]
    rows = {}
    for name in complete:
        score = result.oof_predictions(name).loc[reference.index, "score"].to_numpy(float)
        auc = roc_auc_ci(y, score)
        row = {"AUC": auc.auc, "AUC lower": auc.ci[0], "AUC upper": auc.ci[1]}
        if name != _MTNET_REFERENCE:
            n, i = nri(y, score, new), idi(y, score, new)
            row.update({"DeLong p": delong[name], "NRI": n.estimate, "NRI p": n.p_value,
                        "IDI": i.estimate, "IDI p": i.p_value})
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def _group_statistics(y, groups) -> dict:
    """KM medians, log-rank and HR (high vs low) of two risk groups."""
    from .survival import hazard_ratio, km_summary, logrank_test

    hr = hazard_ratio(y, groups, reference="low").iloc[0]
    return {"km": km_summary(y, groups), "logrank_p": logrank_test(y, groups).p_value,
            "HR": hr["HR"], "HR lower": hr["HR lower"], "HR upper": hr["HR upper"]}


def _mtnet_risk_groups(result, cohort, labelled, out: Path):
    """Model CR-DR's out-of-fold labels at its training-fold Youden cut-offs as risk
    groups; KM, log-rank and HR for time to MaVI and OS.

    Returns ``{"groups": Series by patient, "endpoints": {name: survival target},
    "statistics": {name: KM table, log-rank p, HR}}``, the text and the figure names."""
    import matplotlib.pyplot as plt

    from .plotting import plot_km
    from .survival import Surv

    oof = result.oof_predictions(_MTNET_REFERENCE).loc[labelled]
    groups = np.where(oof["y_pred"].to_numpy() == result.pos_label, "high", "low")
    position = cohort.X.index.get_indexer(labelled)
    outcomes = cohort.outcomes.iloc[position]
    endpoints = {"time to MaVI": cohort.y[position],
                 "OS": Surv.from_arrays(event=outcomes["os_event"].astype(bool),
                                        time=outcomes["os_time"].astype(float))}
    sizes = {g: int(np.sum(groups == g)) for g in ("low", "high")}
    found = {"groups": pd.Series(groups, index=labelled), "endpoints": endpoints,
             "statistics": {}}
    if min(sizes.values()) < 2:
        return found, (f"Held-out risk groups of Model CR-DR: {sizes['high']} high-risk and "
                    f"{sizes['low']} low-risk patients; too few in one group for KM."), []
    stats = found["statistics"] = {name: _group_statistics(y, groups)
                                   for name, y in endpoints.items()}
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    for ax, (name, y) in zip(axes, endpoints.items()):
        plot_km(y, groups, ax=ax, reference="low", xlabel="months")
        ax.set_title(f"Model CR-DR held-out risk groups: {name}", fontsize=9)
    figure = _save(fig, out / "mtnet_km.png")
    rows = pd.DataFrame({name: {"median low": s["km"].loc["low", "median"],
                                "median high": s["km"].loc["high", "median"],
                                "log-rank p": s["logrank_p"], "HR": s["HR"],
                                "HR lower": s["HR lower"], "HR upper": s["HR upper"]}
                         for name, s in stats.items()}).T
    text = (f"Held-out risk groups of Model CR-DR ({sizes['high']} high, {sizes['low']} low; "
            f"HR high vs low, medians in months, inf = not reached):\n\n" + _md(rows))
    return found, text, [figure]


def _mtnet_dice(X, y, split, params) -> pd.Series:
    from .deep import MTNetClassifier

    train, test = split
    model = MTNetClassifier("CR-DR", **params).fit(X.iloc[train], y[train])
    return model.segmentation_dice(X.iloc[test])


# ---------------------------------------------------------------------------- CMIR
_CMIR_EXTERNAL = ("C3", "C4", "C5")


def cmir_section(settings: SeedSettings, out: Path, *, random_state=0, n_jobs=None,
                 stream) -> SeedSection:
    """Seed 001: S1, M1 and Ours trained once on the internal centres (C1, C2; 20 % held
    out as the internal validation set) and tested on each external centre (Table 3)."""
    from .datasets import make_hcc_cohort
    from .deep import cmir_models
    from .model_selection import ExternalValidationSplit, centre_performance, compare_models
    from .report import write_report

    cohort = make_hcc_cohort(settings.cmir_patients, task="mvi", sequences=("AP", "PV"),
                             n_centers=5, random_state=random_state, n_jobs=n_jobs)
    models = cmir_models(["S1", "M1", "Ours"], **_params(settings, random_state))
    design = ExternalValidationSplit(external=list(_CMIR_EXTERNAL), internal_test_size=0.2,
                                     random_state=random_state)
    result = compare_models(models, cohort.X, cohort.y, cv=design, groups=cohort.centers,
                            threshold_cv="train", n_jobs=n_jobs, random_state=random_state,
                            scoring=["auc", "accuracy", "sensitivity", "specificity"])
    write_report(result, out / "report", title="CMIR (seed 001): internal and external centres")
    table = centre_performance(result)
    auc = table.pivot(index="model", columns="centre", values="auc").loc[list(models)]
    cells = table.assign(model=pd.Categorical(table["model"], list(models)),
                         internal=~table["centre"].isin(_CMIR_EXTERNAL))
    cells = cells.sort_values(["model", "internal", "centre"]).set_index(["model", "centre"])
    for metric in ("accuracy", "auc", "sensitivity", "specificity"):
        cells[metric.upper()[:3]] = [f"{v:.3f} ({lo:.3f}-{hi:.3f})" for v, lo, hi in zip(
            cells[metric], cells[f"{metric}_ci_low"], cells[f"{metric}_ci_high"])]
    centres = pd.Series(np.asarray(cohort.centers)).value_counts().sort_index()
    intro = (f"{settings.cmir_patients} simulated MRI patients (AP + PV) in five centres "
             f"({', '.join(f'{c}: {n}' for c, n in centres.items())}); trained once on C1 + "
             f"C2 with 20 % of them held out as the internal test set, tested on each external "
             f"centre ({', '.join(_CMIR_EXTERNAL)}; C1 and C2 below are the internal test "
             f"patients of each centre); preset {settings.preset!r}; thresholds: "
             f"Youden's J on the training patients; 95% CIs: DeLong (AUC), Wilson (ACC, SEN, "
             f"SPE).")
    blocks = ["AUC per test centre:\n\n" + _md(auc),
              "Table 3 (per model and centre):\n\n"
              + cells[["n", "n_positive", "ACC", "AUC", "SEN", "SPE"]].reset_index()
              .to_markdown(index=False)]
    return _finish("cmir", "CMIR (seed 001): external validation by centre", intro, blocks,
                   out, [], {"comparison": result, "centres": table}, stream)


# ---------------------------------------------------------------------------- DMMGNet
def dmmgnet_section(settings: SeedSettings, out: Path, *, random_state=0, n_jobs=None,
                    stream) -> SeedSection:
    """Seed 002: the baseline (four CNN branches + LSTM) and the full DMMGNet as Cox
    models of progression-free survival after TACE; C-index per fold and pooled, held-out
    risk groups cut at each training fold's median, KM per fold (Fig. 6)."""
    from .datasets import make_hcc_cohort
    from .deep import dmmgnet_models
    from .model_selection import compare_survival_models
    from .report import write_report

    # the full layout is about 18 MB per patient: the images go to a temporary folder as
    # they are simulated and are read lazily (each fit keeps only its slabs), so neither
    # this process nor each parallel worker holds the whole cohort (6.8 GB peak before)
    with tempfile.TemporaryDirectory(prefix="mvikit-demo-dmmgnet-") as images:
        cohort = make_hcc_cohort(settings.dmmgnet_patients, task="tace",
                                 sequences=("T2", "PV"), layout="full",
                                 random_state=random_state, n_jobs=n_jobs, image_dir=images)
        X, pfs = cohort.X, cohort.survival
        rows = dmmgnet_models("survival", **_params(settings, random_state))
        models = {name: rows[name] for name in ("Baseline", "DMMGNet")}
        folds = _stratified_folds(settings.dmmgnet_splits, pfs["event"], random_state)
        times = survival_horizons(pfs, folds)
        result = compare_survival_models(models, X, pfs, cv=folds, times=times,
                                         n_jobs=n_jobs, random_state=random_state)
    write_report(result, out / "report", title="DMMGNet (seed 002): PFS after TACE")
    figures = [_dmmgnet_km(result, name, out) for name in models]
    harrell = (result.scores.query("metric == 'harrell_c'")
               .pivot(index="fold", columns="model", values="value")[list(models)])
    pooled = result.summary[["c", "c_low", "c_high", "p_paired"]]
    groups = result.risk_groups.query("repeat == 0").set_index("model")[
        ["n_low", "n_high", "p_logrank", "HR", "HR_low", "HR_high"]]
    intro = (f"{len(X)} simulated TACE patients (T2 + PV MRI with liver masks, "
             f"layout='full'), {int(pfs['event'].sum())} progressions; "
             f"{len(folds)}-fold CV stratified on the event, the same folds for both "
             f"models; preset {settings.preset!r}; risk groups cut at each training "
             f"fold's median risk.")
    blocks = ["Cross-validated comparison (mean ± SD over folds):\n\n"
              + result.table().to_markdown(index=False),
              "Harrell's C per held-out fold:\n\n" + _md(harrell),
              "Pooled out-of-fold Harrell's C (95% CI) and paired p vs the baseline:\n\n"
              + _md(pooled),
              "Held-out risk groups, pooled over folds (HR high vs low):\n\n" + _md(groups)]
    return _finish("dmmgnet", "DMMGNet (seed 002): progression-free survival after TACE",
                   intro, blocks, out, figures, {"comparison": result}, stream)


def survival_horizons(y, folds, quantiles=(0.25, 0.5, 0.75)) -> np.ndarray:
    """Quantiles of the event times that lie before the last follow-up of every training
    and test fold (what `compare_survival_models` requires of its horizons)."""
    last = min(y["time"][part].max() for split in folds for part in split)
    candidates = np.unique(np.quantile(y["time"][y["event"]], quantiles).round(1))
    kept = candidates[candidates < last]
    return kept if len(kept) else np.array([np.quantile(y["time"][y["event"]], 0.1)])


def _dmmgnet_km(result, model: str, out: Path) -> str:
    """Fig. 6: one KM panel per held-out fold, high vs low risk."""
    import matplotlib.pyplot as plt

    from .plotting import plot_km
    from .survival import Surv

    rows = result.predictions.query("model == @model and repeat == 0")
    folds = sorted(rows["fold"].unique())
    fig, axes = plt.subplots(1, len(folds), figsize=(5 * len(folds), 4.5), squeeze=False)
    for ax, fold in zip(axes[0], folds):
        part = rows[(rows["fold"] == fold) & (rows["risk_group"] >= 0)]
        groups = np.where(part["risk_group"] == 1, "high", "low")
        if min(np.sum(groups == "high"), np.sum(groups == "low")) < 2:
            ax.set_title(f"fold {fold}: one risk group only", fontsize=9)
            continue
        y = Surv.from_arrays(event=part["event"].astype(bool), time=part["time"].astype(float))
        plot_km(y, groups, ax=ax, reference="low", xlabel="months")
        ax.set_title(f"{model}, fold {fold}", fontsize=9)
    name = f"dmmgnet_km_{model.lower()}.png"
    return _save(fig, out / name)


# ---------------------------------------------------------------------------- dispatch
_SECTIONS = {"cdlm": cdlm_section, "mtnet": mtnet_section, "cmir": cmir_section,
             "dmmgnet": dmmgnet_section}


def check_sections(names) -> tuple:
    """The section names, checked (``"none"`` or an empty value: no section)."""
    names = tuple(n.strip().lower() for n in names if n.strip() and n.strip() != "none")
    unknown = [n for n in names if n not in _SECTIONS]
    if unknown:
        raise ValueError(f"Unknown demo section(s) {unknown}; choose from "
                         f"{', '.join(SEED_SECTIONS)} (or 'none').")
    return names


def run_seed_section(name: str, settings: SeedSettings, out: Path, *, random_state=0,
                     n_jobs=None, stream) -> SeedSection:
    """Run one seed section into ``out / name`` (created).

    Parameters
    ----------
    name : {"cdlm", "mtnet", "cmir", "dmmgnet"}
    settings : SeedSettings
    out : path-like
        The demo folder; the section writes into ``out / name``.
    random_state : int, default=0
        Seeds the cohort, the folds and the models.
    n_jobs : int, default=None
        Parallel fits (joblib) and cohort simulation.
    stream : file-like
        Where the section's tables are printed.

    Returns
    -------
    SeedSection

    Examples
    --------
    >>> check_sections(["cdlm", "cmir"])
    ('cdlm', 'cmir')
    """
    (name,) = check_sections([name])
    folder = Path(out) / name
    folder.mkdir(parents=True, exist_ok=True)
    return _SECTIONS[name](settings, folder, random_state=random_state, n_jobs=n_jobs,
                           stream=stream)
