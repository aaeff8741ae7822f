"""Survival analysis on the simulated HCC cohort: Cox model, risk groups, KM, horizon labels.

The simulated cohort (270 patients, 52 clinical items) has overall survival,
progression-free survival and time to macrovascular invasion, generated from a
Weibull proportional-hazards model whose linear predictor is known (``cohort.truth``).
The script

1. cross-validates a penalised clinical Cox model (Harrell's C, Uno's C, integrated
   Brier score) and compares it with the oracle C of the true linear predictor;
2. prints the hazard-ratio table and the proportional-hazards test of the full fit;
3. splits patients into low/high predicted risk on *held-out* folds (median cut-off of
   the training fold), then prints the Kaplan-Meier table, log-rank test and hazard
   ratio and draws the curves with an at-risk table (seeds 002-004);
4. turns PFS into the "1-year progression" label (seed 002) and time to macrovascular
   invasion into "invasion within 2 years" with a Youden cut-off (seed 004);
5. checks calibration of the predicted 2-year risk of death by risk quintile.

Run: ``python examples/survival.py [output folder]`` (about 40 s on two cores; the
figure goes to the output folder, default: a temporary folder).
"""

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import KFold, cross_validate  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from mvikit.datasets import make_hcc_cohort  # noqa: E402
from mvikit.plotting import plot_km  # noqa: E402
from mvikit.preprocessing import ClinicalPreprocessor  # noqa: E402
from mvikit.survival import (  # noqa: E402
    CoxPHSurvival,
    RiskStratifier,
    calibration_at_horizon,
    concordance_index,
    hazard_ratio,
    horizon_labels,
    km_summary,
    logrank_test,
    make_survival_scorer,
    make_survival_target,
)


def cox_pipeline():
    # 52 items for ~160 events: a small ridge penalty keeps the fit stable (some labs are
    # near-collinear) and improves the held-out C-index
    pipe = make_pipeline(ClinicalPreprocessor(), CoxPHSurvival(penalizer=0.1))
    return pipe.set_output(transform="pandas")  # feature names reach the summary table


def cross_validated_cox(X, y, oracle_lp, cv):
    scoring = {"Harrell C": make_survival_scorer("harrell_c"),
               "Uno C": make_survival_scorer("uno_c"),
               "-IBS": make_survival_scorer("neg_integrated_brier", times=[6, 12, 24, 36])}
    result = cross_validate(cox_pipeline(), X, y, cv=cv, scoring=scoring)
    for name in scoring:
        scores = result[f"test_{name}"]
        print(f"  {name:10s} {scores.mean():.3f} +/- {scores.std():.3f}")
    oracle = concordance_index(y, oracle_lp)
    low, high = oracle.confidence_interval()
    print(f"  oracle C (true linear predictor) {oracle.c:.3f} "
          f"(95 % CI {low:.3f}-{high:.3f}, R's infinitesimal-jackknife SE {oracle.se:.3f})")


def held_out_risk_groups(X, y, cv):
    groups = np.empty(len(y), dtype=int)
    for train, test in cv.split(X):
        stratifier = RiskStratifier(estimator=cox_pipeline()).fit(X.iloc[train], y[train])
        groups[test] = stratifier.predict(X.iloc[test])
    return np.where(groups == 1, "high", "low")


def out_of_fold_invasion_risk(X, invasion, cv):
    """Risk of invasion by the horizon for every patient, from models trained on the other
    folds' patients with a known label (IPCW-weighted logistic regression)."""
    risk = np.empty(len(X))
    for train, test in cv.split(X):
        train = train[invasion.mask[train]]
        clf = make_pipeline(ClinicalPreprocessor(), LogisticRegression(C=0.05, max_iter=1000))
        clf.fit(X.iloc[train], invasion.labels[train],
                logisticregression__sample_weight=invasion.weights[train])
        risk[test] = clf.predict_proba(X.iloc[test])[:, 1]
    return risk


def main(output):
    cohort = make_hcc_cohort(n_patients=270, task="survival", random_state=0)
    X = cohort.X[cohort.clinical_columns]
    os_y = make_survival_target(cohort.outcomes, time="os_time", event="os_event")
    cv = KFold(5, shuffle=True, random_state=0)

    print("1. Clinical Cox model for overall survival, 5-fold CV")
    cross_validated_cox(X, os_y, cohort.truth["survival_lp"].to_numpy(), cv)

    print("\n2. Full fit: strongest hazard ratios and proportional-hazards test")
    model = cox_pipeline().fit(X, os_y)
    cox = model[-1]
    print(cox.summary_.sort_values("p").head(5).round(3).to_string())
    ph = cox.check_proportional_hazards(model[0].transform(X), os_y)
    print(f"  features with PH test p < 0.01: {list(ph.index[ph['p'] < 0.01])}")

    print("\n3. Held-out risk groups (median of the training-fold risk)")
    groups = held_out_risk_groups(X, os_y, cv)
    print(km_summary(os_y, groups).round(1).to_string())
    test = logrank_test(os_y, groups)
    print(f"  log-rank chi2 {test.statistic:.1f} on {test.df} df, p = {test.p_value:.2g}")
    hr = hazard_ratio(os_y, groups, reference="low").loc["high"]
    print(f"  HR high vs low {hr['HR']:.2f} ({hr['HR lower']:.2f}-{hr['HR upper']:.2f}), "
          f"p = {hr['p']:.2g}")
    fig, ax = plt.subplots(figsize=(6, 4.5))
    plot_km(os_y, groups, ax=ax, reference="low", xlabel="months")
    ax.set_title("Overall survival, held-out Cox risk groups")
    fig.tight_layout()
    figure = Path(output) / "survival_km.png"
    fig.savefig(figure, dpi=100)
    plt.close(fig)
    print(f"  figure: {figure}")

    print("\n4. Horizon labels")
    pfs_y = make_survival_target(cohort.outcomes, time="pfs_time", event="pfs_event")
    one_year = horizon_labels(pfs_y, 12.0)
    print(f"  1-year progression: {one_year.counts}")
    mavi_y = make_survival_target(cohort.outcomes, time="mavi_time", event="mavi_event")
    invasion = horizon_labels(mavi_y, 24.0, censored="ipcw")
    risk = out_of_fold_invasion_risk(X, invasion, cv)
    kept = invasion.mask
    auc = roc_auc_score(invasion.labels[kept], risk[kept], sample_weight=invasion.weights[kept])
    print(f"  invasion within 2 years: {invasion.counts}; cross-validated IPCW-weighted AUC "
          f"{auc:.3f}")
    # seed 004: Youden cut-off of the ROC, then KM/log-rank on every patient
    youden = RiskStratifier(method="youden", horizon=24.0).fit(risk[:, None], mavi_y)
    mavi_groups = youden.predict(risk[:, None])
    print(f"  Youden cut-off {youden.cutoffs_[0]:.3f} (J = {youden.youden_index_:.2f}; seed 004 "
          f"found 0.157); groups {youden.group_counts_.tolist()}; log-rank p on time to "
          f"invasion = {logrank_test(mavi_y, mavi_groups).p_value:.2g}")

    print("\n5. Calibration of the 2-year risk of death (apparent, by quintile)")
    survival = cox.predict_survival_function(model[0].transform(X))
    predicted = 1 - np.array([fn(24.0) for fn in survival])
    print(calibration_at_horizon(os_y, predicted, 24.0, n_groups=5).round(3).to_string())


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="mvikit_survival_"))
