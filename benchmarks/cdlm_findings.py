"""Seed 003's findings on the simulated cohort, CT and MRI of the same patients.

Findings (seed 003, Table 3 and Sec. 3.3): (1) CDLM > the best single-phase DL
signature; (2) CDLM > the clinical (AFP) model; (3) on paired images CDLM-EOB-MRI >
CDLM-CE-CT (paired DeLong on the pooled out-of-fold predictions).

One paired cohort (`make_paired_cohort`: the same patients imaged by MRI and CT), one
stratified K-fold partition (``--repeats`` partitions), and per split: the clinical
model (logistic regression on log AFP), CDLM-CT and CDLM-MRI (CPU preset) fitted on the
training fold.  The single-phase signatures are read from each CDLM's final per-phase
networks (``signatures(X_test)``): each is one phase's ResNet18 + linear layer trained
on its own loss on the training fold, i.e. the network of the "Signature <phase>" rows
of `cdlm_models`, so no extra training is spent on them.  Operating points are the
Youden thresholds of training-fold predictions: CDLM's cross-fitted (out-of-fold)
fused predictions of its training rows, the clinical model's own fit.

Results are written after every split (``--out``), so a run stopped early keeps the
splits it finished; the statistics pool the test folds finished so far.

Run: ``python benchmarks/cdlm_findings.py [--folds 3] [--repeats 1] [--max-splits N]
[--n-patients 270] [--n-jobs 2] [--out DIR]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import RepeatedStratifiedKFold

from mvikit.datasets import make_paired_cohort
from mvikit.deep import CDLM_PHASES, cdlm_models
from mvikit.metrics import delong_test
from mvikit.model_selection import paired_statistics, subgroup_labels


def youden(y, score) -> float:
    fpr, tpr, cut = roc_curve(y, score)
    return float(cut[np.argmax(tpr - fpr)])


def oof_training_scores(model, X_train) -> np.ndarray:
    """CDLM's fused predictions of its training rows from the out-of-fold signatures."""
    head = model.net_.module_.fusion
    signatures = torch.as_tensor(model.oof_signatures_.to_numpy())
    if model.selected_factors_:
        clinical = torch.as_tensor(model.tensorizer_.clinical_matrix(X_train))
    else:
        clinical = torch.zeros(len(X_train), 0)
    with torch.no_grad():
        return torch.softmax(head(signatures, clinical).double(), dim=1)[:, 1].numpy()


def fit_one(name, model, X, y, train, test, threads):
    torch.set_num_threads(threads)
    start = time.process_time()
    model = clone(model).fit(X.iloc[train], y[train])
    score = model.predict_proba(X.iloc[test])[:, 1]
    if name.startswith("CDLM"):
        train_score = oof_training_scores(model, X.iloc[train])
        signatures = model.signatures(X.iloc[test])
        factors = model.selected_factors_
    else:
        train_score = model.predict_proba(X.iloc[train])[:, 1]
        signatures, factors = None, None
    return {"name": name, "score": score, "threshold": youden(y[train], train_score),
            "signatures": signatures, "factors": factors,
            "cpu": time.process_time() - start}


def columns_for(X, phases) -> list:
    image = set(CDLM_PHASES["ct"]) | set(CDLM_PHASES["mri"]) | {"tumor_mask"}
    return [c for c in X.columns if c not in image] + list(phases) + ["tumor_mask"]


def summarise(pred: pd.DataFrame, y: pd.Series, X: pd.DataFrame) -> None:
    rows = pred.index
    yy = y.loc[rows].to_numpy()
    aucs = {c: roc_auc_score(yy, pred[c]) for c in pred.columns
            if c.startswith(("score ", "signature "))}
    print(f"\n{len(rows)} patients pooled; AUC:", {k: round(v, 3) for k, v in aucs.items()})
    for modality in ("CT", "MRI"):
        best = max((c for c in aucs if c.startswith("signature ")
                    and c.split()[1] in CDLM_PHASES[modality.lower()]), key=aucs.get)
        for other in (best, "score Clinical model"):
            s = delong_test(yy, pred[f"score CDLM-{modality}"], pred[other])
            label = other.split(" ", 1)[1]
            print(f"CDLM-{modality} {s.auc_a:.3f} vs {label} {s.auc_b:.3f}: difference "
                  f"{s.difference:+.3f} (95% CI {s.ci[0]:+.3f} to {s.ci[1]:+.3f}), paired "
                  f"DeLong p = {s.p_value:.3g}")
    h2h = paired_statistics(
        yy, {"CDLM-MRI": pred["score CDLM-MRI"], "CDLM-CT": pred["score CDLM-CT"]},
        {"CDLM-MRI": pred["label CDLM-MRI"], "CDLM-CT": pred["label CDLM-CT"]},
        subgroups=subgroup_labels(X.loc[rows]))
    d = h2h.delong
    print(f"head to head: CDLM-MRI {d.auc_a:.3f} vs CDLM-CT {d.auc_b:.3f}, difference "
          f"{d.difference:+.3f} (95% CI {d.ci[0]:+.3f} to {d.ci[1]:+.3f}), p = {d.p_value:.3g}")
    print("at training-fold Youden thresholds:\n" + h2h.auc.round(3).to_string())
    print("McNemar:\n" + h2h.mcnemar.round(3).to_string())
    print("subgroups:\n" + h2h.subgroups.round(3).to_string(index=False))
    curve = h2h.decision_curve
    at = curve[np.isclose(curve["threshold"], 0.25)]
    print("net benefit at 25%:", dict(zip(at["model"], at["net_benefit"].round(3))), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--max-splits", type=int, default=None)
    parser.add_argument("--n-patients", type=int, default=270)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-epochs", type=int, default=None, help="smoke runs only")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    pair = make_paired_cohort(args.n_patients, "mvi", random_state=args.seed)
    X, y = pair.X, pd.Series(np.asarray(pair.y), index=pair.X.index)
    print(f"{len(y)} patients, MVI prevalence {y.mean():.2f}, oracle AUC {pair.oracle_auc:.3f},"
          f" image ceiling {pair.image_ceiling_auc:.3f}, clinical ceiling "
          f"{pair.clinical_ceiling_auc:.3f}", flush=True)
    params = {"preset": "cpu", "random_state": args.seed}
    if args.max_epochs is not None:
        params["max_epochs"] = args.max_epochs
    ct, mri = cdlm_models("ct", **params), cdlm_models("mri", **params)
    jobs = {"CDLM-MRI": (mri["CDLM"], CDLM_PHASES["mri"]),
            "CDLM-CT": (ct["CDLM"], CDLM_PHASES["ct"]),
            "Clinical model": (ct["Clinical model"], ())}
    splitter = RepeatedStratifiedKFold(n_splits=args.folds, n_repeats=args.repeats,
                                       random_state=args.seed)
    parts = []
    for k, (train, test) in enumerate(list(splitter.split(X, y))[:args.max_splits]):
        start = time.time()
        outs = Parallel(n_jobs=args.n_jobs)(
            delayed(fit_one)(name, model, X[columns_for(X, phases)], y.to_numpy(), train, test,
                             args.threads)
            for name, (model, phases) in jobs.items())
        part = pd.DataFrame(index=X.index[test])
        part["split"] = k
        for out in outs:
            part[f"score {out['name']}"] = out["score"]
            part[f"label {out['name']}"] = (out["score"] >= out["threshold"]).astype(int)
            if out["signatures"] is not None:
                for phase in out["signatures"].columns:
                    part[f"signature {phase}"] = out["signatures"][phase].to_numpy()
        parts.append(part)
        cpu = {o["name"]: round(o["cpu"]) for o in outs}
        print(f"split {k}: {time.time() - start:.0f} wall s; CPU s per model {cpu}; factors "
              f"{ {o['name']: o['factors'] for o in outs if o['factors'] is not None} }",
              flush=True)
        pred = pd.concat(parts)
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            pred.to_csv(args.out / "predictions.csv")
        summarise(pred, y, X)


if __name__ == "__main__":
    main()
