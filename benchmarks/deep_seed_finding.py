"""Seed 000's central finding on the simulated cohort, with a progress log.

MD-Net's Table III: the teacher with clinical data ("T-Clinical-PRE-HBP", AUC
84.7 %) beats the distilled MRI-only student ("Our method", 71.9 %), which beats
the same student trained without a teacher ("S-PRE-HBP", 70.0 %; Wilcoxon
p = 4.2e-2 over the paired folds).  This script reruns the three rows with
`mvikit.model_selection.compare_models` on paired folds of the default
simulated cohort (MVI grade, PRE + HBP) and prints the Table-III-style
summary and the Wilcoxon tests.  It is long: three deep fits per fold (about
five CPU-minutes per fold with the "cpu" preset), so it checkpoints every two folds
to ``--out`` and can be stopped and resumed.

Run: ``python benchmarks/deep_seed_finding.py [--splits 5] [--repeats 2]
[--preset cpu] [--param KEY=VALUE ...] [--folds K] [--seeds N] [--rows A,B]
[--n-jobs J] [--out deep_seed_finding.csv]``
(``--folds K`` stops after the first K folds; the summary then covers those).
``--seeds N`` replaces every row by a soft-voting ensemble of N copies trained
with different ``random_state`` values: the cpu-preset networks move by about
0.05 AUC from seed to seed on one fold, more than the gap being tested.
``--rows`` picks a subset of the three rows; ``--n-jobs`` runs the fits of a
pair of folds in parallel (one torch thread each); ``--param`` overrides a
parameter of every row that has it (e.g. ``--param lr_gamma=0.9 --param lr_step=2``; the
value is read as a Python literal).
"""

from __future__ import annotations

import argparse
import ast
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import wilcoxon
from sklearn.base import clone
from sklearn.ensemble import VotingClassifier
from sklearn.model_selection import RepeatedStratifiedKFold

from mvikit.datasets import make_hcc_cohort
from mvikit.deep import mdnet_ablation_models
from mvikit.model_selection import compare_models

ROWS = ("T-Clinical-PRE-HBP", "Our method", "S-PRE-HBP")
PUBLISHED_AUC = {"T-Clinical-PRE-HBP": 84.69, "Our method": 71.86, "S-PRE-HBP": 69.98}


def seed_ensemble(model, n_seeds: int, first_seed: int):
    """``model`` itself (one seed) or a soft-voting average of ``n_seeds`` copies."""
    if n_seeds == 1:
        return model
    members = [(f"seed{k}", clone(model).set_params(random_state=first_seed + k))
               for k in range(n_seeds)]
    return VotingClassifier(members, voting="soft")


def _row_params(model, params: dict) -> dict:
    """The ``--param`` values a row takes: those it has (a student without a teacher
    keeps its teacher settings)."""
    own = model.get_params()
    return {key: value for key, value in params.items() if key in own
            and not (key.startswith("teacher") and own.get("distillation") == "none")}


def chunk_scores(models: dict, X: pd.DataFrame, y: np.ndarray, splits: list,
                 seed: int, n_jobs: int = 1) -> pd.DataFrame:
    """Macro one-vs-one AUC of every model on each of ``splits`` (at least two paired
    folds), through `compare_models`: one row per fold, one column per model."""
    result = compare_models(models, X, y, cv=splits, scoring=["auc"], threshold="predict",
                            random_state=seed, n_jobs=n_jobs)
    if len(result.failures):
        raise RuntimeError(f"failed fits:\n{result.failures}")
    # compare_models numbers the given splits by (repeat, fold); back to their order
    order = result.splits.set_index(["repeat", "fold"])["split"]
    scores = result.scores[result.scores["metric"] == "auc"]
    table = scores.pivot_table(index=["repeat", "fold"], columns="model", values="value")
    return table.set_axis(order.loc[table.index].to_numpy()).sort_index()[list(models)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--folds", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", default="deep_seed_finding.csv")
    args = parser.parse_args()
    params = {key: ast.literal_eval(value)
              for key, value in (item.split("=", 1) for item in args.param)}
    torch.set_num_threads(args.threads)
    rows = [r for r in ROWS if r in args.rows.split(",")]

    cohort = make_hcc_cohort(n_patients=270, task="mvi_grade", random_state=0)
    X, y = cohort.X, np.asarray(cohort.y)
    splitter = RepeatedStratifiedKFold(n_splits=args.splits, n_repeats=args.repeats,
                                       random_state=0)
    out = Path(args.out)
    done = pd.read_csv(out) if out.exists() else pd.DataFrame(columns=["fold", *rows])
    splits = list(splitter.split(X, y))[:args.folds]
    todo = [k for k in range(len(splits)) if k not in set(done["fold"])]
    # compare_models needs two or more splits: the folds go in pairs, checkpointed
    for chunk in (todo[i:i + 2] for i in range(0, len(todo), 2)):
        if len(chunk) == 1:
            chunk = [chunk[0] - 1, chunk[0]]  # an odd last fold is paired with its neighbour
        start, cpu = time.perf_counter(), time.process_time()
        models = mdnet_ablation_models(["III"], preset=args.preset, random_state=chunk[0])
        models = {name: seed_ensemble(models[name].set_params(**_row_params(models[name],
                                                                             params)),
                                      args.seeds, 100 * chunk[0])
                  for name in rows}
        table = chunk_scores(models, X, y, [splits[k] for k in chunk], seed=chunk[0],
                             n_jobs=args.n_jobs)
        table = table.reset_index(drop=True)
        table.insert(0, "fold", chunk)
        kept = done[~done["fold"].isin(chunk)]
        done = pd.concat([kept, table], ignore_index=True) if len(kept) else table
        done.to_csv(out, index=False)
        for _, row in table.iterrows():
            print(f"fold {int(row['fold'])}: " + ", ".join(f"{n} {row[n]:.3f}" for n in rows),
                  flush=True)
        cpu_note = f", {time.process_time() - cpu:.0f} s CPU" if args.n_jobs == 1 else ""
        print(f"  ({time.perf_counter() - start:.0f} s wall{cpu_note} for {len(chunk)} folds)",
              flush=True)

    print(f"\n{len(done)} folds; macro OvO AUC, mean +- sd (published, %):")
    for name in rows:
        values = done[name].to_numpy(float)
        print(f"  {name:20s} {values.mean():.3f} +- {values.std(ddof=1):.3f} "
              f"({PUBLISHED_AUC[name]})")
    for a, b in zip(rows[:-1], rows[1:]):
        if len(done) >= 2:
            test = wilcoxon(done[a].astype(float), done[b].astype(float))
            wins = int((done[a] > done[b]).sum())
            print(f"  {a} vs {b}: {wins}/{len(done)} folds higher, "
                  f"Wilcoxon p = {test.pvalue:.3g}")


if __name__ == "__main__":
    main()
