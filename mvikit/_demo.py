"""`mvikit demo`: every model family on the simulated cohort, on the same folds.

The demo simulates the default cohort, cross-validates each model family that
mvikit offers (clinical logistic model and nomogram, radiomics signature and
combined radiomics nomogram, a plain 3D CNN student and MD-Net) with
:func:`mvikit.model_selection.compare_models`, prints the Table II-style
comparison, runs a survival section (clinical Cox model and a deep Cox model
with a linear clinical term compared on the same folds by
:func:`mvikit.model_selection.compare_survival_models`, Kaplan-Meier risk groups) and
writes figures and one report holding both comparisons.  The full demo then runs
the seed-paper sections (CDLM, MTnet, CMIR, DMMGNet; :mod:`mvikit._demo_seeds`), each
on its own simulated cohort, into ``seeds.md`` and one folder per seed.  Everything
is written into a temporary folder and moved into place at the end, so an
interrupted demo leaves nothing half-written.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ._demo_seeds import SEED_SECTIONS, SeedSettings, check_sections, run_seed_section

logger = logging.getLogger("mvikit.demo")

__all__ = ["run_demo", "DemoSettings", "demo_settings"]


@dataclass(frozen=True)
class DemoSettings:
    """How much work the demo does."""

    n_patients: int
    n_splits: int
    n_repeats: int
    deep_preset: str
    radiomics: bool
    deep: bool
    radiomics_classes: tuple = ("firstorder",)
    #: Seed-paper sections to run after the main comparison (names of SEED_SECTIONS).
    seed_sections: tuple = ()
    #: Their sizes (cohorts, folds, preset).
    seeds: SeedSettings = field(default_factory=SeedSettings)


def demo_settings(quick: bool) -> DemoSettings:
    """The full demo (5-fold CV x 5 repeats, as MD-Net, and the four seed sections) or
    the quick one (no seed section).

    Examples
    --------
    >>> demo_settings(quick=True).n_repeats, demo_settings(quick=True).seed_sections
    (1, ())
    >>> demo_settings(quick=False).seed_sections
    ('cdlm', 'mtnet', 'cmir', 'dmmgnet')
    """
    if quick:
        return DemoSettings(n_patients=270, n_splits=3, n_repeats=1, deep_preset="demo",
                            radiomics=True, deep=True)
    return DemoSettings(n_patients=270, n_splits=5, n_repeats=5, deep_preset="cpu",
                        radiomics=True, deep=True,
                        radiomics_classes=("firstorder", "shape", "glcm"),
                        seed_sections=SEED_SECTIONS)


class _Progress:
    """Numbered steps with their duration on stderr (the demo's progress)."""

    def __init__(self, n_steps: int, stream=None):
        self.n_steps, self.step, self.stream = n_steps, 0, stream or sys.stderr
        self._start = None

    def begin(self, what: str) -> None:
        self.step += 1
        self._start = time.perf_counter()
        self.stream.write(f"[{self.step}/{self.n_steps}] {what} ...\n")
        self.stream.flush()

    def end(self, detail: str = "") -> None:
        elapsed = time.perf_counter() - self._start
        self.stream.write(f"      done in {elapsed:.1f} s{': ' + detail if detail else ''}\n")
        self.stream.flush()


def _clinical_models(cohort, random_state) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from .clinical import NomogramClassifier
    from .preprocessing import ClinicalPreprocessor

    clinical = list(cohort.clinical_columns)
    return {
        "Clinical logistic (52 items)": make_pipeline(
            ClinicalPreprocessor(clinical=clinical),
            LogisticRegression(C=0.1, max_iter=2000),
        ),
        # pandas output keeps column names, so the dummies of one variable are
        # selected together and the nomogram reads original units.
        "Clinical nomogram (backward)": make_pipeline(
            ClinicalPreprocessor(clinical=clinical, log_transform="auto"),
            NomogramClassifier(selection="backward", criterion="wald",
                               random_state=random_state),
        ).set_output(transform="pandas"),
    }


def _radiomics_models(cohort, settings: DemoSettings, memory, random_state) -> dict:
    """Radiomics signature and combined nomogram sharing one feature cache, so
    each (patient, volume, ROI) is extracted once for both models and all folds."""
    from .preprocessing import ClinicalPreprocessor
    from .radiomics import RadiomicsFeatures, radiomics_nomogram, radiomics_signature

    features = RadiomicsFeatures(volumes=list(cohort.volume_columns), peritumoral_mm=5.0,
                                 feature_classes=list(settings.radiomics_classes),
                                 memory=memory)
    clinical = ClinicalPreprocessor(clinical=list(cohort.clinical_columns), log_transform="auto")
    return {
        "Radiomics signature (tumour + 5 mm shell)": radiomics_signature(features),
        "Radiomics nomogram (clinical + rad-score)": radiomics_nomogram(features,
                                                                        clinical=clinical),
    }


def _deep_models(cohort, settings: DemoSettings, random_state) -> dict:
    from .deep import MDNetClassifier, VolumeNetClassifier

    volumes = list(cohort.volume_columns)
    common = dict(volumes=volumes, preset=settings.deep_preset, random_state=random_state)
    return {
        "3D CNN student (PRE+HBP)": VolumeNetClassifier(architecture="concat", **common),
        "MD-Net student (distilled)": MDNetClassifier(
            clinical=list(cohort.clinical_columns), **common),
    }


def _nomogram_figure(model, cohort, out: Path) -> str:
    """Fit the clinical nomogram on the whole cohort and draw it."""
    import matplotlib.pyplot as plt
    from sklearn.base import clone

    from .clinical import Nomogram

    fitted = clone(model).fit(cohort.X, cohort.y)
    nomogram = Nomogram.from_estimator(fitted)
    fig, ax = plt.subplots(figsize=(10, 6))
    nomogram.plot(ax=ax)
    fig.savefig(out / "nomogram.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    selected = fitted[-1].selected_variables_
    return f"Clinical nomogram on all patients: {len(selected)} variables ({', '.join(selected)})"


def _deep_figures(model, cohort, splits, out: Path) -> str:
    """Fit MD-Net on the first training fold; Grad-CAM of three test patients
    (seed 000 Fig. 6) and t-SNE of the student embeddings (Fig. 5)."""
    import matplotlib.pyplot as plt
    from sklearn.base import clone
    from threadpoolctl import threadpool_limits

    from .deep import gradcam
    from .plotting import plot_cam, plot_embedding

    train, test = splits
    X, y = cohort.X, np.asarray(cohort.y)
    fitted = clone(model).fit(X.iloc[train], y[train])
    shown = X.iloc[test[:3]]
    volumes = list(cohort.volume_columns)
    cams = gradcam(fitted, shown).to_volumes()
    predicted = fitted.predict(shown)
    fig, axes = plt.subplots(len(shown), len(volumes), figsize=(3.4 * len(volumes),
                                                                 3.2 * len(shown)), squeeze=False)
    for i, pid in enumerate(shown.index):
        for j, sequence in enumerate(volumes):
            plot_cam(shown.loc[pid, sequence], cams.loc[pid, sequence],
                     shown.loc[pid, "tumor_mask"], ax=axes[i, j], slices="mask", title=False)
            axes[i, j].set_title(f"{pid} {sequence}: MVI {y[test[i]]}, predicted "
                                 f"{predicted[i]}", fontsize=8)
    fig.savefig(out / "gradcam.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    image_only = X[volumes + ["tumor_mask"]]  # the student needs no clinical column
    fig, ax = plt.subplots(figsize=(4.5, 4))
    with threadpool_limits(1):  # OpenMP threads oversubscribe small t-SNE runs
        plot_embedding(fitted.transform(image_only), y, ax=ax, random_state=0,
                       label_names={0: "MVI-", 1: "MVI+"}, legend_title="MVI")
    fig.savefig(out / "tsne.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "MD-Net Grad-CAM (gradcam.png) and t-SNE of student embeddings (tsne.png)"


#: Ridge strength of the clinical Cox model and of the starting clinical term of the
#: deep Cox model: on the default cohort's 3 folds the clinical Cox model's held-out C
#: rises from 0.61 (penalizer 0.1) to 0.65 (1 to 10).
_COX_PENALIZER = 3.0


def _survival_models(cohort, settings: DemoSettings, random_state) -> dict:
    """Name -> (model, columns it reads or None for the whole frame)."""
    from sklearn.feature_selection import VarianceThreshold
    from sklearn.pipeline import make_pipeline

    from .preprocessing import ClinicalPreprocessor
    from .survival import CoxPHSurvival, DeepCoxSurvival

    clinical = list(cohort.clinical_columns)
    # VarianceThreshold: a category absent from a small training fold is a constant dummy
    models = {"Clinical Cox (52 items)": (make_pipeline(
        ClinicalPreprocessor(clinical=clinical), VarianceThreshold(),
        CoxPHSurvival(penalizer=_COX_PENALIZER)), clinical)}
    if settings.deep:
        # DeepSurv with a linear clinical skip: risk = clinical @ w + CNN(PRE, HBP), w
        # started at the clinical Cox fit; the demo's deep preset ('demo' with --quick:
        # 3 epochs; 'cpu' otherwise), on the 20x80x80 cube at full resolution (the
        # network reads its central 16x32x32): on the quick demo's folds this gave C
        # 0.666 against 0.646 with the presets' half-resolution 64x64 view (one run each)
        models["Deep Cox (PRE+HBP, linear clinical term)"] = (DeepCoxSurvival(
            "concat", use_clinical=True, clinical_fusion="linear",
            clinical_penalizer=_COX_PENALIZER, clinical=clinical,
            volumes=list(cohort.volume_columns), preset=settings.deep_preset,
            cube=(20, 80, 80), downsample=1, random_state=random_state),
            None)
    return models


def _survival_section(cohort, settings: DemoSettings, out: Path, random_state, n_jobs,
                      stream):
    """Overall survival of the same patients: clinical Cox and deep Cox models compared
    on the same folds by `compare_survival_models` (held-out Harrell's C, pooled C with its
    paired test, held-out risk groups cut at the training fold's median); KM figure.

    Returns the survival comparison (reported with the classifiers) and its text."""
    import matplotlib.pyplot as plt
    from sklearn.model_selection import KFold

    from .model_selection import compare_survival_models
    from .plotting import plot_km
    from .survival import concordance_index, make_survival_target

    y = make_survival_target(cohort.outcomes, time="os_time", event="os_event")
    models = {name: model for name, (model, _) in
              _survival_models(cohort, settings, random_state).items()}
    folds = list(KFold(settings.n_splits, shuffle=True, random_state=random_state)
                 .split(cohort.X))
    times = np.unique(np.quantile(y["time"][y["event"]], [0.25, 0.5, 0.75]).round(1))
    result = compare_survival_models(models, cohort.X, y, times=times, cv=folds,
                                     n_jobs=n_jobs)
    oracle = concordance_index(y, cohort.truth["survival_lp"].to_numpy())
    lines = [f"Overall survival of the same {len(y)} patients ({int(y['event'].sum())} "
             f"deaths), {len(folds)}-fold CV, the same folds for every model:"]
    harrell = result.scores.query("metric == 'harrell_c'")
    fig, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 5), squeeze=False)
    for ax, name in zip(axes[0], models):
        scores = harrell.query("model == @name").sort_values("fold")["value"]
        groups_row = result.risk_groups.query("model == @name and repeat == 0").iloc[0]
        lines += [f"  {name}: Harrell's C {scores.mean():.3f} (folds "
                  f"{', '.join(f'{v:.3f}' for v in scores)})",
                  f"    held-out high vs low predicted risk: log-rank p = "
                  f"{groups_row['p_logrank']:.2g}, HR {groups_row['HR']:.2f} (95% CI "
                  f"{groups_row['HR_low']:.2f}-{groups_row['HR_high']:.2f})"]
        oof = result.oof_predictions(name, 0)
        groups = np.where(oof["risk_group"] == 1, "high risk", "low risk")
        plot_km(y, groups, ax=ax, reference="low risk")
        ax.set_title(name, fontsize=9)
    lines.append(f"  oracle (true linear predictor): Harrell's C {oracle.c:.3f} "
                 f"(se {oracle.se:.3f})")
    fig.savefig(out / "km_risk_groups.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    text = "\n".join(lines) + "\n"
    stream.write(text)
    return result, text


def _seed_sections(settings: DemoSettings, staging: Path, random_state, n_jobs, progress,
                   stream) -> list:
    """The seed-paper sections of the full demo, one progress step each."""
    sections = []
    for name in settings.seed_sections:
        progress.begin(f"Seed section {name}")
        sections.append(run_seed_section(name, settings.seeds, staging,
                                         random_state=random_state, n_jobs=n_jobs,
                                         stream=stream))
        progress.end(", ".join(f"{name}/{f.name}" for f in sections[-1].figures))
    return sections


def run_demo(out="mvikit-demo", *, quick=False, random_state=0, n_jobs=None, overwrite=False,
             settings: DemoSettings | None = None, sections=None, stream=None):
    """Run the demo and write its report into ``out``.

    Parameters
    ----------
    out : path-like, default="mvikit-demo"
        Output folder (created; must not exist unless ``overwrite``).
    quick : bool, default=False
        3-fold CV x 1 repeat and fewer epochs instead of 5-fold x 5 repeats.
    random_state : int, default=0
        Seeds the cohort, the folds and the models.
    n_jobs : int, default=None
        Parallel folds (joblib); ``None`` uses every core.
    overwrite : bool, default=False
        Replace ``out`` if it exists.
    settings : DemoSettings, default=None
        Override the quick/full settings (used by the tests).
    sections : sequence of str, default=None
        Seed-paper sections to run after the main comparison, from ``"cdlm"``,
        ``"mtnet"``, ``"cmir"``, ``"dmmgnet"`` (each on its own cohort, at the full
        demo's sizes, written to ``<out>/<name>/`` and ``<out>/seeds.md``); ``()``
        for none.  ``None``: all four in the full demo, none with ``quick``.
    stream : file-like, default=sys.stdout
        Where the tables are printed.

    Returns
    -------
    ModelComparison
        The classification comparison.
    """
    from sklearn.model_selection import RepeatedStratifiedKFold

    from .datasets import make_hcc_cohort
    from .exceptions import OutputExistsError
    from .model_selection import compare_models
    from .report import write_report

    stream = stream or sys.stdout
    out = Path(out)
    if out.exists() and not overwrite:
        raise OutputExistsError(
            f"Output folder {str(out)!r} exists; pass --overwrite (overwrite=True) to replace it."
        )
    settings = settings or demo_settings(quick)
    if sections is not None:
        settings = replace(settings, seed_sections=check_sections(sections))
    n_jobs = -1 if n_jobs is None else n_jobs
    progress = _Progress(5 + len(settings.seed_sections))
    staging = Path(tempfile.mkdtemp(prefix=".mvikit-demo-", dir=out.parent.resolve()))
    try:
        progress.begin(f"Simulating the HCC cohort ({settings.n_patients} patients, PRE+HBP)")
        cohort = make_hcc_cohort(n_patients=settings.n_patients, task="mvi",
                                 random_state=random_state, n_jobs=n_jobs)
        progress.end(f"oracle AUC {cohort.oracle_auc:.3f}, image ceiling "
                     f"{cohort.image_ceiling_auc:.3f}, clinical ceiling "
                     f"{cohort.clinical_ceiling_auc:.3f}")

        progress.begin("Building the models")
        models = _clinical_models(cohort, random_state)
        if settings.radiomics:
            models.update(_radiomics_models(cohort, settings, staging / "radiomics-cache",
                                            random_state))
        if settings.deep:
            models.update(_deep_models(cohort, settings, random_state))
        progress.end(", ".join(models))

        progress.begin(f"Cross-validating {len(models)} models ({settings.n_splits}-fold x "
                       f"{settings.n_repeats} repeat(s), same folds for all)")
        cv = RepeatedStratifiedKFold(n_splits=settings.n_splits, n_repeats=settings.n_repeats,
                                     random_state=random_state)
        # The Youden threshold from the training fold's own predictions: an inner
        # CV would train every deep model four times per fold.
        result = compare_models(models, cohort.X, cohort.y, cv=cv, n_jobs=n_jobs,
                                threshold_cv="train", random_state=random_state)
        progress.end()
        stream.write("\n" + result.to_markdown() + "\n\n")

        progress.begin("Survival: clinical and deep Cox models, Kaplan-Meier risk groups")
        survival, survival_text = _survival_section(cohort, settings, staging, random_state,
                                                    n_jobs, stream)
        progress.end()
        seed_sections = _seed_sections(settings, staging, random_state, n_jobs, progress,
                                       stream)

        progress.begin("Writing the report, the nomogram and the figures")
        stream.write(_nomogram_figure(models["Clinical nomogram (backward)"], cohort, staging)
                     + "\n")
        if settings.deep:
            first_split = next(iter(cv.split(cohort.X, cohort.y)))
            stream.write(_deep_figures(models["MD-Net student (distilled)"], cohort,
                                       first_split, staging) + "\n")
        shutil.rmtree(staging / "radiomics-cache", ignore_errors=True)
        write_report(result, staging / "report", title="mvikit demo: simulated HCC cohort",
                     survival=survival)
        (staging / "survival.md").write_text(
            "# Survival section\n\n" + survival_text + "\n![KM](km_risk_groups.png)\n")
        if seed_sections:
            (staging / "seeds.md").write_text(
                "# Seed-paper sections\n\n" + "\n".join(s.markdown for s in seed_sections))
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
        progress.end(f"report: {out / 'report' / 'report.html'}")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result
