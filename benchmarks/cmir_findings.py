"""CMIR's findings on the simulated cohort (seed 001, issue 17), with a progress log.

Two designs on ``make_hcc_cohort(n_patients, task="mvi", sequences=("AP", "PV"),
n_centers=5)``:

1. **Ablation (Table 2) on paired folds**: the rows S1, M1, M2, M3, Ours of
   ``cmir_models`` on the first ``--folds`` folds of a repeated stratified 5-fold
   CV (the same folds for every row), through ``compare_models``; prints the
   summary, the paired per-fold AUC differences M1 - S1 and Ours - M1 with
   their Wilcoxon p-values.  The findings: M1 > S1 (multi-phase beats single
   phase) and Ours >= M1.
2. **Centres (Table 3)**: trained once on the internal centres (C1, C2; 20 %
   of them held out as the internal validation set), tested on each external
   centre (C3, C4, C5): ``centre_performance`` prints ACC, AUC, SEN and SPE with
   95 % CIs per centre (``--centre-rows``).

Run: ``python benchmarks/cmir_findings.py [--folds 8] [--rows S1,M1,Ours]
[--centre-rows M1,Ours] [--n-jobs 2] [--n-patients 270] [--preset cpu]
[--param KEY=VALUE ...] [--skip-ablation] [--skip-centres] [--out cmir_findings.csv]``
``--n-jobs J`` runs J fits in parallel; every fit uses one torch thread.
"""

from __future__ import annotations

import argparse
import ast
import time

import numpy as np
import pandas as pd
import torch
from scipy.stats import wilcoxon
from sklearn.model_selection import RepeatedStratifiedKFold

from mvikit.datasets import make_hcc_cohort
from mvikit.deep import cmir_models
from mvikit.model_selection import ExternalValidationSplit, centre_performance, compare_models

PUBLISHED_AUC = {"S1": 0.742, "M1": 0.784, "M2": 0.810, "M3": 0.842, "Ours": 0.860}
INTERNAL, EXTERNAL = ("C1", "C2"), ["C3", "C4", "C5"]


def _params(pairs) -> dict:
    out = {}
    for pair in pairs or []:
        key, value = pair.split("=", 1)
        out[key] = ast.literal_eval(value)
    return out


def ablation(cohort, args, params) -> pd.DataFrame:
    rows = args.rows.split(",")
    models = cmir_models(rows, **params)
    cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=(args.folds + 4) // 5, random_state=0)
    splits = list(cv.split(cohort.X, cohort.y))[:args.folds]
    start = time.perf_counter()
    result = compare_models(models, cohort.X, cohort.y, cv=splits, groups=cohort.centers,
                            scoring=["auc", "accuracy", "sensitivity", "specificity"],
                            threshold_cv="train", n_jobs=args.n_jobs, random_state=0)
    print(f"\n== Table 2 (ablation), {len(splits)} paired folds, "
          f"{time.perf_counter() - start:.0f} s wall ==")
    print(result.table().to_string(index=False))
    auc = result.scores[result.scores["metric"] == "auc"].pivot_table(
        index=["repeat", "fold"], columns="model", values="value")
    print("\nper-fold AUC:\n" + auc.round(3).to_string())
    for better, worse in (("M1", "S1"), ("Ours", "M1"), ("M3", "M1"), ("M2", "M1")):
        if better in auc and worse in auc:
            diff = (auc[better] - auc[worse]).dropna()
            p = wilcoxon(diff).pvalue if len(diff) > 1 and diff.any() else np.nan
            print(f"{better} - {worse}: mean {diff.mean():+.3f} (SD {diff.std(ddof=1):.3f}), "
                  f"{int((diff > 0).sum())}/{len(diff)} folds > 0, Wilcoxon p = {p:.3g}")
    print("published AUC (Table 2):", PUBLISHED_AUC)
    return result.scores


def centres(cohort, args, params) -> pd.DataFrame:
    models = cmir_models(args.centre_rows.split(","), **params)
    split = ExternalValidationSplit(external=EXTERNAL, internal_test_size=0.2, random_state=0)
    start = time.perf_counter()
    result = compare_models(models, cohort.X, cohort.y, cv=split, groups=cohort.centers,
                            threshold_cv="train", n_jobs=args.n_jobs, random_state=0)
    table = centre_performance(result)
    print(f"\n== Table 3 (train on {INTERNAL}, test on each centre), "
          f"{time.perf_counter() - start:.0f} s wall ==")
    for metric in ("accuracy", "auc", "sensitivity", "specificity"):
        table[metric.upper()[:3]] = [f"{v:.3f} ({lo:.3f}, {hi:.3f})" for v, lo, hi in zip(
            table[metric], table[f"{metric}_ci_low"], table[f"{metric}_ci_high"])]
    print(table[["model", "centre", "n", "n_positive", "ACC", "AUC", "SEN",
                 "SPE"]].to_string(index=False))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=8)
    parser.add_argument("--rows", default="S1,M1,M2,M3,Ours")
    parser.add_argument("--centre-rows", default="M1,Ours")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--n-patients", type=int, default=270)
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--param", action="append")
    parser.add_argument("--skip-ablation", action="store_true")
    parser.add_argument("--skip-centres", action="store_true")
    parser.add_argument("--out", default=None, help="CSV of the per-fold scores")
    args = parser.parse_args()
    # one torch thread per fit: the networks are small, and on shared cores extra
    # threads spin (a 2-thread fit used 10x the CPU time of a 1-thread fit here)
    torch.set_num_threads(1)
    params = {"preset": args.preset, "random_state": 0, **_params(args.param)}
    cohort = make_hcc_cohort(args.n_patients, task="mvi", sequences=("AP", "PV"),
                             n_centers=5, random_state=0)
    print(pd.crosstab(cohort.centers, cohort.y).to_string())
    if not args.skip_ablation:
        scores = ablation(cohort, args, params)
        if args.out:
            scores.to_csv(args.out, index=False)
    if not args.skip_centres:
        centres(cohort, args, params)


if __name__ == "__main__":
    main()
