"""Seed 003's findings on the simulated cohort, CT and MRI of the same patients.

Findings (seed 003, Table 3 and Sec. 3.3): (1) CDLM > the best single-phase DL
signature; (2) CDLM > the clinical (AFP) model; (3) on paired images CDLM-EOB-MRI >
CDLM-CE-CT (paired DeLong on the pooled out-of-fold predictions).  Every model is
cross-validated by `compare_models` on the same folds of one paired cohort
(`make_paired_cohort`: the same patients imaged by MRI and CT); the MRI-vs-CT
comparison adds McNemar's tests at the training-fold thresholds, decision curves and
the subgroup table (`head_to_head`).

Each fold costs, with the CPU preset: one network per phase (3 CT + 5 MRI single-phase
signatures) and two CDLMs (CT: 3 phases x 4 trainings; MRI: 5 x 4).  ``--max-splits``
runs only the first splits of the partition (the pooled predictions then cover those
test folds only) when the machine's time does not allow all.

Run: ``python benchmarks/cdlm_findings.py [--folds 5] [--repeats 2] [--max-splits N]
[--n-patients 270] [--n-jobs 1] [--max-epochs E] [--threshold-cv train|3] [--out DIR]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import RepeatedStratifiedKFold

from mvikit.datasets import make_paired_cohort
from mvikit.deep import CDLM_PHASES, cdlm_models
from mvikit.model_selection import compare_models, head_to_head, subgroup_labels


def models_for(params: dict) -> dict:
    """Clinical model, every single-phase signature of both modalities, CDLM-CT, CDLM-MRI."""
    ct, mri = cdlm_models("ct", **params), cdlm_models("mri", **params)
    models = {"Clinical model": ct["Clinical model"]}
    for name, model in [*ct.items(), *mri.items()]:
        if name.startswith("Signature"):
            models[name] = model
    models["CDLM-CT"], models["CDLM-MRI"] = ct["CDLM"], mri["CDLM"]
    return models


def pooled_auc(result, name: str) -> float:
    h2h = head_to_head(result, name, "Clinical model")
    return float(h2h.auc.loc[name, "auc"])


def report(result, X: pd.DataFrame) -> None:
    print(result.table().to_string(index=False))
    aucs = {name: pooled_auc(result, name) for name in result.models}
    print("\npooled out-of-fold AUC:", {k: round(v, 3) for k, v in aucs.items()})
    for modality in ("CT", "MRI"):
        phases = CDLM_PHASES[modality.lower()]
        best = max((f"Signature {p}" for p in phases), key=aucs.get)
        for other in (best, "Clinical model"):
            test = head_to_head(result, f"CDLM-{modality}", other).delong
            print(f"CDLM-{modality} {test.auc_a:.3f} vs {other} {test.auc_b:.3f}: difference "
                  f"{test.difference:+.3f} (95% CI {test.ci[0]:+.3f} to {test.ci[1]:+.3f}), "
                  f"paired DeLong p = {test.p_value:.3g}")
    h2h = head_to_head(result, "CDLM-MRI", "CDLM-CT", subgroups=subgroup_labels(X))
    d = h2h.delong
    print(f"\nhead to head, CDLM-MRI {d.auc_a:.3f} vs CDLM-CT {d.auc_b:.3f}: difference "
          f"{d.difference:+.3f} (95% CI {d.ci[0]:+.3f} to {d.ci[1]:+.3f}), p = {d.p_value:.3g}"
          f" (n = {h2h.n})")
    print("McNemar at training-fold thresholds:\n" + h2h.mcnemar.round(3).to_string())
    print("subgroups:\n" + h2h.subgroups.round(3).to_string(index=False))
    curve = h2h.decision_curve
    at = curve[np.isclose(curve["threshold"], 0.25)]
    print("net benefit at a 25% threshold:",
          dict(zip(at["model"], at["net_benefit"].round(3))))
    return h2h


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--max-splits", type=int, default=None)
    parser.add_argument("--n-patients", type=int, default=270)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--threshold-cv", default="train")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pair = make_paired_cohort(args.n_patients, "mvi", random_state=args.seed)
    X, y = pair.X, np.asarray(pair.y)
    print(f"{len(y)} patients, MVI prevalence {y.mean():.2f}, oracle AUC {pair.oracle_auc:.3f},"
          f" image ceiling {pair.image_ceiling_auc:.3f}, clinical ceiling "
          f"{pair.clinical_ceiling_auc:.3f}")
    params = {"preset": "cpu", "random_state": args.seed}
    if args.max_epochs is not None:
        params["max_epochs"] = args.max_epochs
    splitter = RepeatedStratifiedKFold(n_splits=args.folds, n_repeats=args.repeats,
                                       random_state=args.seed)
    splits = list(splitter.split(X, y))[:args.max_splits]
    threshold_cv = args.threshold_cv if args.threshold_cv == "train" else int(args.threshold_cv)
    start, cpu = time.time(), time.process_time()
    result = compare_models(models_for(params), X, y, cv=splits, n_jobs=args.n_jobs,
                            scoring=["auc", "sensitivity", "specificity"],
                            threshold_cv=threshold_cv, random_state=args.seed)
    print(f"{len(splits)} splits in {time.time() - start:.0f} wall s "
          f"({time.process_time() - cpu:.0f} CPU s of this process)\n")
    h2h = report(result, X)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        result.predictions.to_csv(args.out / "predictions.csv", index=False)
        result.scores.to_csv(args.out / "scores.csv", index=False)
        h2h.subgroups.to_csv(args.out / "subgroups.csv", index=False)


if __name__ == "__main__":
    main()
