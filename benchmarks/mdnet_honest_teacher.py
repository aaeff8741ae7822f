"""Issue 20's measurements: does an honest (cross-fitted) teacher open MD-Net's student gap?

Rows, all on the same ``RepeatedStratifiedKFold(5, 2, random_state=0)`` folds of
``make_hcc_cohort(n_patients=N, task="mvi_grade", random_state=0)`` (PRE + HBP, cpu
preset, macro one-vs-one AUC):

- ``S-PRE-HBP``: the student trained alone (no teacher);
- ``Our method``: MD-Net, teacher trained jointly with the student (the paper);
- ``pretrain``: MD-Net, teacher trained first, then frozen;
- ``crossfit``: MD-Net distilling from out-of-fold soft labels of K = 5 teachers;
- ``T-Clinical-PRE-HBP``: the teacher trained alone;
- ``temperature``: ``Our method`` with the class-KD soft labels softened by a
  temperature only (``kd_temperature``; no other change), to separate "honest
  labels" from "softer labels".  ``--temperature`` (default 2).

Each (row, fold) prediction is cached in ``--cache`` as soon as it is done (the
`mdnet_tables` cache), so a stopped run continues; ``--rows`` picks rows.  The
summary prints mean +- SD and the Wilcoxon signed-rank test of each distilled
student against the plain student on the paired folds, and writes ``--out`` (CSV of
fold AUCs).

Run: ``python benchmarks/mdnet_honest_teacher.py --n-patients 270 --n-jobs 1``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from scipy.stats import wilcoxon
from sklearn.model_selection import RepeatedStratifiedKFold

from mvikit.datasets import make_hcc_cohort
from mvikit.deep import mdnet_ablation_models
from mvikit.deep._tables import _fit_fold, _fold_scores

PLAIN = "S-PRE-HBP"
ROWS = (PLAIN, "Our method", "pretrain", "crossfit", "T-Clinical-PRE-HBP", "temperature")


def build_rows(temperature: float, random_state: int = 0) -> dict:
    table = mdnet_ablation_models(["III"], preset="cpu", random_state=random_state)
    ours = table["Our method"]
    return {
        PLAIN: table[PLAIN],
        "Our method": ours,
        "pretrain": ours.__class__(**ours.get_params()).set_params(teacher_training="pretrain"),
        "crossfit": ours.__class__(**ours.get_params()).set_params(teacher_training="crossfit"),
        "T-Clinical-PRE-HBP": table["T-Clinical-PRE-HBP"],
        "temperature": ours.__class__(**ours.get_params()).set_params(
            kd_temperature=temperature),
    }


def _timed_fit(name, model, X, y, train, test, fold, cache):
    torch.set_num_threads(1)
    start = time.process_time()
    proba = _fit_fold(name, model, X, y, train, test, fold, cache)
    return proba, time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-patients", type=int, default=270)
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--only-folds", default=None,
                        help="comma-separated fold numbers (run two processes on disjoint "
                             "folds with one cache when memory is short)")
    parser.add_argument("--temperature", type=float, default=2.0)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--cache", default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    n = args.n_patients
    cache = Path(args.cache or f"benchmarks/.cache/mdnet_honest_teacher_n{n}")
    cache.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.only_folds is None else "_folds" + args.only_folds.replace(",", "-")
    out = Path(args.out or f"benchmarks/results/mdnet_honest_teacher_n{n}{suffix}.csv")
    out.parent.mkdir(parents=True, exist_ok=True)

    cohort = make_hcc_cohort(n_patients=n, task="mvi_grade", random_state=0)
    X, y = cohort.X, np.asarray(cohort.y)
    classes = np.unique(y)
    splits = list(RepeatedStratifiedKFold(n_splits=5, n_repeats=2,
                                          random_state=0).split(X, y))[:args.folds]
    models = {name: model for name, model in build_rows(args.temperature).items()
              if name in args.rows.split(",")}
    # fold-major order: whatever has finished is a set of complete paired folds
    folds = (range(len(splits)) if args.only_folds is None
             else [int(k) for k in args.only_folds.split(",")])
    tasks = [(name, fold) for fold in folds for name in models]
    jobs = (delayed(_timed_fit)(name, models[name], X, y, *splits[fold], fold, cache)
            for name, fold in tasks)
    records = []
    for (name, fold), (proba, cpu) in zip(
            tasks, Parallel(n_jobs=args.n_jobs, return_as="generator")(jobs)):
        test = splits[fold][1]
        auc = _fold_scores(y[test], proba, classes)["auc"]
        records.append({"fold": fold, "model": name, "auc": auc, "cpu_s": cpu})
        print(f"fold {fold} {name:20s} AUC {auc:.3f} ({cpu:.0f} CPU-s)", flush=True)
        pd.DataFrame(records).to_csv(out, index=False)

    table = pd.DataFrame(records).pivot(index="fold", columns="model", values="auc")
    print(f"\nn = {n}, {len(table)} folds, macro OvO AUC mean +- sd; "
          f"Wilcoxon vs {PLAIN}:")
    for name in models:
        values = table[name]
        line = f"  {name:20s} {values.mean():.3f} +- {values.std(ddof=1):.3f}"
        if name != PLAIN and PLAIN in table:
            diff = values - table[PLAIN]
            p = wilcoxon(values, table[PLAIN]).pvalue if np.any(diff != 0) else np.nan
            line += (f"  diff {diff.mean():+.3f}, higher in {int((diff > 0).sum())}/"
                     f"{len(diff)}, p = {p:.3g}")
        print(line, flush=True)


if __name__ == "__main__":
    main()
