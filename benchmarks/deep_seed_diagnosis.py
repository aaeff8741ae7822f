"""Why MD-Net's student gap does not appear on the simulated cohort: the measurements.

Seed 000 reports teacher 84.7 > distilled student 71.9 > plain student 70.0
(macro AUC, MVI grade).  ``benchmarks/deep_seed_finding.py`` reruns those rows;
this script measures the pieces the student gap is made of, on the default
cohort (n = 270, MVI grade M0/M1/M2, PRE + HBP) and the "cpu" preset:

1. **Information ceilings** (10 paired folds, 5-fold x 2 repeats, macro
   one-vs-one AUC of a logistic regression): the latent aggressiveness ``a``
   (everything an image can show), the true image signs and tumour geometry
   (a perfect reader), the tumour diameter alone, and first-order statistics
   of the very cubes the networks see (tumour, a 3-voxel ring around it and
   the rest of the cube, per sequence, plus tumour voxel count).
2. **Sign learnability**: the cpu-preset "concat" CNN trained with one true
   image sign as its label (3-fold): can this network see the sign at all?
3. **What distillation hands over**: one MD-Net fit (fold 0 of the paired
   folds): held-out student and teacher AUC, how well the student's
   clinical-regression head recovers the radiologist-read signs from the
   images (AUC of the predicted descriptor against the true sign; Spearman for
   size), and the loss terms per epoch (does the student follow the teacher?).
4. **What the student can learn, densely supervised** (10 paired folds): the
   plain student with its clinical-regression head trained on the *true*
   latent ``a`` and the true log-diameter instead of the clinical table -- the
   most informative privileged target there is.  Held-out Spearman of the
   predicted ``a`` and diameter with the truth, and the student's grade AUC.
5. **The most distillation can give** (10 paired folds): the plain student
   against the same student distilled (class-level term, eq. 4) from an
   *oracle* teacher whose soft labels are the true class posteriors,
   ``P(grade | a, s)`` (all the clinical knowledge there is) or
   ``P(grade | a)`` (all the image-visible knowledge), with the same seeds.
   No trained teacher can hand over more than these.
6. **A realistic teacher, honest or not** (10 paired folds): the same, with the
   soft labels of a ridge logistic regression on the 52 clinical items, either
   out-of-fold within the training patients (no patient is scored by a model
   that saw its grade) or in-sample (one model fitted on all of them, which is
   what a teacher trained on the student's patients gives).

Run ``python benchmarks/deep_seed_diagnosis.py
[--parts ceilings,signs,mdnet,dense,oracle,clinical] [--n-jobs 2]`` (about
1 + 2 + 1 + 4 + 10 + 10 CPU-minutes; ``--n-jobs`` runs the folds of parts 4-6
in parallel, one torch thread each).  The numbers are quoted
in docs/guide/distillation.rst ("What the simulated cohort shows").
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from scipy import ndimage
from scipy.stats import norm, spearmanr, wilcoxon
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mvikit.datasets import make_hcc_cohort
from mvikit.datasets._sim_params import grade_thresholds, resolve_params
from mvikit.deep import MDNetClassifier, VolumeNetClassifier
from mvikit.deep._base import PRESETS
from mvikit.deep._mdnet import DistillationTrainer
from mvikit.imaging import IntensityNormalizer, ROICropper, VolumeDownsampler

SEQUENCES = ["PRE", "HBP"]
#: true signs a perfect radiologist would read, plus geometry
KEY_SIGNS = ["sign_margin_nonsmooth", "sign_peritumoral_enhancement",
             "sign_hbp_peritumoral_hypo", "diameter_mm", "n_satellites"]
#: clinical-table descriptor (as predicted by the student's head) -> true sign (sign)
DESCRIPTORS = {"peritumoral_hypointensity": ("sign_hbp_peritumoral_hypo", 1),
               "margin=smooth": ("sign_margin_nonsmooth", -1),
               "peritumoral_enhancement": ("sign_peritumoral_enhancement", 1),
               "hbp_hypo": ("sign_hbp_hypo", 1),
               "necrosis": ("sign_necrosis", 1)}


def grade_auc(y, proba) -> float:
    return float(roc_auc_score(y, proba, multi_class="ovo", average="macro"))


def paired_folds(X, y):
    return list(RepeatedStratifiedKFold(n_splits=5, n_repeats=2, random_state=0).split(X, y))


def logistic_cv(F: np.ndarray, y: np.ndarray, folds, C: float = 0.1) -> np.ndarray:
    out = []
    for train, test in folds:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000))
        model.fit(F[train], y[train])
        out.append(grade_auc(y[test], model.predict_proba(F[test])))
    return np.asarray(out)


def cube_features(cohort) -> np.ndarray:
    """First-order statistics of the cpu preset's cubes, downsampled and normalised
    as the networks see them (z-score in the tumour plus 10 mm)."""
    columns = {"volumes": SEQUENCES, "masks": ["tumor_mask"]}
    frame = cohort.X[SEQUENCES + ["tumor_mask"]]
    frame = ROICropper(size=PRESETS["cpu"]["cube"], **columns).fit_transform(frame)
    frame = VolumeDownsampler(PRESETS["cpu"]["downsample"], **columns).fit_transform(frame)
    frame = IntensityNormalizer("zscore", region="roi", **columns).fit_transform(frame)
    rows = []
    for pid in frame.index:
        row = []
        tumour = frame.at[pid, "tumor_mask"].array > 0
        for seq in SEQUENCES:
            image = frame.at[pid, seq].array
            ring = ndimage.binary_dilation(tumour, np.ones((1, 7, 7))) & ~tumour
            rest = ~ndimage.binary_dilation(tumour, np.ones((1, 15, 15)))
            for region in (tumour, ring, rest):
                values = image[region] if region.any() else np.zeros(1, np.float32)
                row += [values.mean(), values.std(), *np.percentile(values, [10, 90])]
            row.append(np.log1p(tumour.sum()))
        rows.append(row)
    return np.asarray(rows, float)


def ceilings(cohort, folds) -> pd.DataFrame:
    y, truth = np.asarray(cohort.y), cohort.truth
    sets = {
        "latent a (all an image can show)": (truth[["a"]].to_numpy(float), 10.0),
        "true key signs + geometry": (truth[KEY_SIGNS].to_numpy(float), 0.1),
        "tumour diameter alone": (np.log(truth[["diameter_mm"]].to_numpy(float)), 10.0),
        "first-order stats of the cpu cubes": (cube_features(cohort), 0.1),
    }
    rows = []
    for name, (F, C) in sets.items():
        aucs = logistic_cv(F, y, folds, C)
        rows.append({"features": name, "auc_mean": aucs.mean(), "auc_sd": aucs.std(ddof=1)})
    return pd.DataFrame(rows)


def sign_learnability(cohort, signs=("sign_hbp_peritumoral_hypo", "sign_margin_nonsmooth"),
                      n_folds: int = 3) -> pd.DataFrame:
    X = cohort.X[cohort.volume_columns + cohort.mask_columns]
    rows = []
    for sign in signs:
        label = cohort.truth[sign].to_numpy().astype(int)
        splitter = StratifiedKFold(n_folds, shuffle=True, random_state=0)
        for k, (train, test) in enumerate(splitter.split(X, label)):
            net = VolumeNetClassifier(architecture="concat", volumes=SEQUENCES, preset="cpu",
                                      random_state=k).fit(X.iloc[train], label[train])
            rows.append({"sign": sign, "fold": k, "prevalence": label.mean(),
                         "test_auc": roc_auc_score(label[test],
                                                   net.predict_proba(X.iloc[test])[:, 1])})
    return pd.DataFrame(rows)


def mdnet_handover(cohort, folds, fold: int = 0) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    X, y, truth = cohort.X, np.asarray(cohort.y), cohort.truth
    train, test = folds[fold]
    model = MDNetClassifier(volumes=SEQUENCES, preset="cpu", random_state=fold)
    model.fit(X.iloc[train], y[train])
    summary = {"student_test_auc": grade_auc(y[test], model.predict_proba(X.iloc[test])),
               "student_train_auc": grade_auc(y[train], model.predict_proba(X.iloc[train])),
               "teacher_test_auc": grade_auc(y[test], model.teacher_predict_proba(X.iloc[test])),
               "teacher_train_auc": grade_auc(y[train],
                                              model.teacher_predict_proba(X.iloc[train]))}
    predicted = model.predict_clinical(X.iloc[test])
    rows = [{"item": "size", "true": "diameter_mm", "score": "spearman",
             "value": spearmanr(predicted["size"], truth["diameter_mm"].iloc[test]).statistic}]
    for item, (sign, direction) in DESCRIPTORS.items():
        rows.append({"item": item, "true": sign, "score": "auc",
                     "value": roc_auc_score(truth[sign].iloc[test].astype(int),
                                            direction * predicted[item])})
    history = model.net_.history
    names = sorted({k for epoch in history for b in epoch["batches"] for k in b
                    if k.startswith("loss_")})
    losses = pd.DataFrame({n[5:]: [np.mean([b[n] for b in epoch["batches"] if n in b])
                                   for epoch in history] for n in names})
    losses.index.name = "epoch"
    return summary, pd.DataFrame(rows), losses


# ----------------------------------------------------- 4. dense supervision
TRUE_TARGETS = ["true_a", "true_log_diameter"]


def with_true_targets(cohort) -> pd.DataFrame:
    """The cohort frame plus the latent ``a`` and the log-diameter as columns."""
    X = cohort.X.copy()
    X["true_a"] = cohort.truth["a"].to_numpy(float)
    X["true_log_diameter"] = np.log(cohort.truth["diameter_mm"].to_numpy(float))
    return X


def _dense_fold(X, y, train, test, seed) -> dict:
    torch.set_num_threads(1)
    model = MDNetClassifier(volumes=SEQUENCES, distillation="none", clinical=TRUE_TARGETS,
                            preset="cpu", random_state=seed).fit(X.iloc[train], y[train])
    predicted = model.predict_clinical(X.iloc[test])
    return {"student_auc": grade_auc(y[test], model.predict_proba(X.iloc[test])),
            "spearman_a": spearmanr(predicted["true_a"], X["true_a"].iloc[test]).statistic,
            "spearman_diameter": spearmanr(predicted["true_log_diameter"],
                                           X["true_log_diameter"].iloc[test]).statistic}


def dense_supervision(cohort, folds, n_jobs: int = 1) -> pd.DataFrame:
    X, y = with_true_targets(cohort), np.asarray(cohort.y)
    rows = Parallel(n_jobs=n_jobs)(delayed(_dense_fold)(X, y, train, test, k)
                                   for k, (train, test) in enumerate(folds))
    reference = np.log(cohort.truth["diameter_mm"].to_numpy(float))
    table = pd.DataFrame(rows)
    table.attrs["spearman_a_log_diameter"] = spearmanr(reference, cohort.truth["a"]).statistic
    return table


# ----------------------------------------------------- 5. oracle teacher
def true_posteriors(truth: pd.DataFrame, given: str) -> np.ndarray:
    """``P(grade | a, s)`` (``given="a,s"``) or ``P(grade | a)`` (``"a"``) of every
    patient: the liability is ``N(b_a a + b_s s, sigma^2)``, resp.
    ``N(b_a a, b_s^2 + sigma^2)``, cut at the simulator's grade thresholds."""
    params = resolve_params(None)
    low, high = grade_thresholds(params)
    if given == "a,s":
        mean, sd = truth["r"].to_numpy(float), params["sigma"]
    else:
        mean = params["b_a"] * truth["a"].to_numpy(float)
        sd = float(np.hypot(params["b_s"], params["sigma"]))
    below_low, below_high = norm.cdf((low - mean) / sd), norm.cdf((high - mean) / sd)
    return np.stack([below_low, below_high - below_low, 1.0 - below_high], axis=1)


class _OracleTeacherNet(DistillationTrainer):
    """The MD-Net net whose teacher output is the oracle's log-posterior (a
    measuring device: only the class-level term can use it)."""

    def _teacher_forward(self, x: dict) -> dict:
        return {"logits": torch.log(x["oracle"].clamp_min(1e-6))}


class OracleDistilledStudent(MDNetClassifier):
    """MD-Net's student distilled (eq. 4 only) from given class probabilities.

    ``fit`` reads them from the columns ``oracle_columns`` of X (one per class,
    in ``classes_`` order); the student never sees them at predict time.
    """

    def __init__(self, oracle_columns=("oracle_0", "oracle_1", "oracle_2"), **params):
        # only the class-level term can use an oracle (it has no feature maps)
        params = {"distillation": "hinton", "clinical_weight": 0.0, "clinical": ["age"],
                  **params}
        super().__init__(**params)
        self.oracle_columns = oracle_columns

    @classmethod
    def _get_param_names(cls):
        return sorted({*MDNetClassifier._get_param_names(), "oracle_columns"})

    def _prepare_fit(self, X, y):
        data, y_encoded = super()._prepare_fit(X, y)
        data["oracle"] = torch.as_tensor(X[list(self.oracle_columns)].to_numpy(np.float32))
        return data, y_encoded

    def _build_net(self, data, criterion, seed):
        net = super()._build_net(data, criterion, seed)
        net.__class__ = _OracleTeacherNet  # same net, the teacher replaced by the oracle
        return net


def _oracle_fold(X, y, train, test, seed) -> dict:
    torch.set_num_threads(1)
    models = {"plain student": MDNetClassifier(volumes=SEQUENCES, distillation="none",
                                               clinical_weight=0.0, preset="cpu",
                                               random_state=seed)}
    for given in ("a,s", "a"):
        columns = tuple(f"P({k} | {given})" for k in range(3))
        models[f"distilled from P(grade | {given})"] = OracleDistilledStudent(
            oracle_columns=columns, volumes=SEQUENCES, preset="cpu", random_state=seed)
    return {name: grade_auc(y[test], model.fit(X.iloc[train], y[train])
                            .predict_proba(X.iloc[test])) for name, model in models.items()}


def oracle_distillation(cohort, folds, n_jobs: int = 1) -> pd.DataFrame:
    X, y = cohort.X.copy(), np.asarray(cohort.y)
    for given in ("a,s", "a"):
        posterior = true_posteriors(cohort.truth, given)
        for k in range(3):
            X[f"P({k} | {given})"] = posterior[:, k]
    rows = Parallel(n_jobs=n_jobs)(delayed(_oracle_fold)(X, y, train, test, k)
                                   for k, (train, test) in enumerate(folds))
    return pd.DataFrame(rows)


# --------------------------------------- 6. a clinical teacher, honest or not
def clinical_teacher_probabilities(cohort, train, honest: bool) -> np.ndarray:
    """Class probabilities of a ridge logistic regression on the 52 clinical items
    for the patients ``train``: out-of-fold (5-fold within ``train``, every
    patient scored by a model that did not see it) when ``honest``, else from
    one model fitted on all of ``train`` (how a teacher trained on the student's
    own patients sees them)."""
    from sklearn.model_selection import cross_val_predict

    from mvikit.preprocessing import ClinicalPreprocessor

    X, y = cohort.X.iloc[train][cohort.clinical_columns], np.asarray(cohort.y)[train]
    model = make_pipeline(ClinicalPreprocessor(), LogisticRegression(C=0.01, max_iter=5000))
    if honest:
        return cross_val_predict(model, X, y, method="predict_proba",
                                 cv=StratifiedKFold(5, shuffle=True, random_state=0))
    return model.fit(X, y).predict_proba(X)


def _clinical_teacher_fold(cohort, train, test, seed) -> dict:
    torch.set_num_threads(1)
    X, y = cohort.X.copy(), np.asarray(cohort.y)
    models = {"plain student": MDNetClassifier(volumes=SEQUENCES, distillation="none",
                                               clinical_weight=0.0, preset="cpu",
                                               random_state=seed)}
    for honest in (True, False):
        name = "out-of-fold" if honest else "in-sample"
        columns = tuple(f"{name} {k}" for k in range(3))
        X[list(columns)] = 1.0 / 3  # test rows: never read (the student predicts alone)
        X.iloc[train, [X.columns.get_loc(c) for c in columns]] = \
            clinical_teacher_probabilities(cohort, train, honest)
        models[f"distilled from the {name} clinical teacher"] = OracleDistilledStudent(
            oracle_columns=columns, volumes=SEQUENCES, preset="cpu", random_state=seed)
    return {name: grade_auc(y[test], model.fit(X.iloc[train], y[train])
                            .predict_proba(X.iloc[test])) for name, model in models.items()}


def clinical_teacher_distillation(cohort, folds, n_jobs: int = 1) -> pd.DataFrame:
    rows = Parallel(n_jobs=n_jobs)(delayed(_clinical_teacher_fold)(cohort, train, test, k)
                                   for k, (train, test) in enumerate(folds))
    return pd.DataFrame(rows)


def print_gains(table: pd.DataFrame) -> None:
    print(table.round(3).to_string())
    print(table.agg(["mean", "std"]).round(3).to_string())
    plain = table["plain student"]
    for name in table.columns[1:]:
        gain = table[name] - plain
        print(f"   {name}: gain {gain.mean():+.3f} +- {gain.std(ddof=1):.3f}, "
              f"{int((gain > 0).sum())}/{len(gain)} folds, "
              f"Wilcoxon p = {wilcoxon(table[name], plain).pvalue:.3g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="ceilings,signs,mdnet,dense,oracle,clinical")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    parts = set(args.parts.split(","))
    cohort = make_hcc_cohort(n_patients=270, task="mvi_grade", random_state=0)
    folds = paired_folds(cohort.X, np.asarray(cohort.y))
    pd.set_option("display.width", 120)
    if "ceilings" in parts:
        start = time.perf_counter()
        print("1. information ceilings, macro OvO AUC over 10 paired folds")
        print(ceilings(cohort, folds).round(3).to_string(index=False))
        print(f"   ({time.perf_counter() - start:.0f} s)\n", flush=True)
    if "signs" in parts:
        start = time.perf_counter()
        table = sign_learnability(cohort)
        print("2. the cpu-preset CNN trained on one true sign as the label (held-out AUC)")
        print(table.groupby("sign")["test_auc"].agg(["mean", "min", "max"]).round(3))
        print(f"   ({time.perf_counter() - start:.0f} s)\n", flush=True)
    if "mdnet" in parts:
        start = time.perf_counter()
        summary, recovery, losses = mdnet_handover(cohort, folds)
        print("3. one MD-Net fit (fold 0):", {k: round(v, 3) for k, v in summary.items()})
        print("   student's clinical head vs the true signs (held out):")
        print(recovery.round(3).to_string(index=False))
        print("   loss terms per epoch (weighted):")
        print(losses.round(3).to_string())
        print(f"   ({time.perf_counter() - start:.0f} s)\n", flush=True)
    if "dense" in parts:
        start = time.perf_counter()
        table = dense_supervision(cohort, folds, args.n_jobs)
        print("4. the plain student with its regression head on the true a and log-diameter")
        print(table.agg(["mean", "std"]).round(3).to_string())
        print(f"   Spearman of the true log-diameter with a: "
              f"{table.attrs['spearman_a_log_diameter']:.3f}")
        print(f"   ({time.perf_counter() - start:.0f} s)\n", flush=True)
    if "oracle" in parts:
        start = time.perf_counter()
        table = oracle_distillation(cohort, folds, args.n_jobs)
        print("5. the student distilled from oracle teachers (held-out macro OvO AUC per fold)")
        print_gains(table)
        print(f"   ({time.perf_counter() - start:.0f} s)\n", flush=True)
    if "clinical" in parts:
        start = time.perf_counter()
        table = clinical_teacher_distillation(cohort, folds, args.n_jobs)
        print("6. the student distilled from a clinical logistic teacher, out-of-fold or "
              "in-sample soft labels")
        print_gains(table)
        print(f"   ({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
