"""Comparing survival models as survival papers report them, on the simulated HCC cohort.

1. ``compare_models`` with three Cox models on the same 5 x 3 folds (stratified on death):
   Harrell's and Uno's C, time-dependent AUC at 12/24/36 months and the integrated Brier
   score (mean +/- SD, Wilcoxon), the pooled out-of-fold C with its CI and the paired
   jackknife test of two C-indices, held-out risk groups (training-fold cut-offs) with
   log-rank tests and hazard ratios; a Markdown/HTML report with the Kaplan-Meier,
   time-dependent ROC, calibration and decision-curve figures;
2. Harrell's C of the oracle linear predictor with R's standard error;
3. the reference model's AUC at 24 months and Uno's C with bootstrap CIs, calibration slope
   and decision curve at 24 months on the pooled out-of-fold predictions;
4. internal validation of the full-cohort Cox model (rms ``validate(cph)``: optimism-
   corrected C and calibration slope);
5. the nomogram of a five-item Cox model with 1-, 3- and 5-year survival axes and a
   median-survival axis.

Run: ``python examples/survival_comparison.py [output folder]`` (a few minutes on two
cores; the report and figures go to the output folder, default: a temporary folder).
"""

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from sklearn.model_selection import RepeatedStratifiedKFold  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from mvikit.clinical import Nomogram  # noqa: E402
from mvikit.datasets import make_hcc_cohort  # noqa: E402
from mvikit.metrics import optimism_corrected  # noqa: E402
from mvikit.model_selection import compare_survival_models  # noqa: E402
from mvikit.preprocessing import ClinicalPreprocessor  # noqa: E402
from mvikit.report import write_report  # noqa: E402
from mvikit.survival import (  # noqa: E402
    CoxPHSurvival,
    calibration_slope_at_horizon,
    concordance_index,
    make_survival_target,
    survival_decision_curve,
    time_dependent_auc_ci,
    uno_c_ci,
)

FIVE = ["afp", "size", "margin", "peritumoral_enhancement", "peritumoral_hypointensity"]


def cox(clinical="auto", penalizer=0.0):
    pipe = make_pipeline(ClinicalPreprocessor(clinical=clinical),
                         CoxPHSurvival(penalizer=penalizer))
    return pipe.set_output(transform="pandas")  # feature names reach the nomogram


def main(output):
    output = Path(output)
    cohort = make_hcc_cohort(n_patients=270, task="survival", random_state=0)
    X = cohort.X[cohort.clinical_columns]
    y = make_survival_target(cohort.outcomes, time="os_time", event="os_event")
    # the first model is the reference of the paired tests
    models = {"Cox, 52 items (ridge 3)": cox(penalizer=3.0),
              "Cox, 52 items (ridge 0.1)": cox(penalizer=0.1), "Cox, 5 items": cox(FIVE)}

    print("1. Three Cox models on the same 5 x 3 folds")
    cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=3, random_state=0)
    result = compare_survival_models(models, X, y, times=[12, 24, 36], cv=cv)
    print(result.table().to_string(index=False))
    print(result.paired.round(3).to_string(index=False))
    print(result.risk_groups.round(3).to_string(index=False))
    folder = write_report(result, output / "survival_report", overwrite=True,
                          title="Survival models on the simulated cohort")
    print(f"  report: {folder / 'report.html'}")

    print("\n2. Oracle: the true linear predictor")
    oracle = concordance_index(y, cohort.truth["survival_lp"].to_numpy())
    low, high = oracle.confidence_interval()
    print(f"  Harrell's C {oracle.c:.3f} (95% CI {low:.3f}-{high:.3f}); "
          f"{oracle.concordant} concordant, {oracle.discordant} discordant pairs")

    print("\n3. The reference, pooled out-of-fold predictions of repeat 0, at 24 months")
    oof = result.oof_predictions("Cox, 52 items (ridge 3)", 0)
    risk, risk_24 = oof["risk"].to_numpy(), 1 - oof["survival@24"].to_numpy()
    print(time_dependent_auc_ci(y, risk, [24], n_resamples=200, random_state=0)
          .round(3).to_string(index=False))
    uno = uno_c_ci(y, risk, tau=36, n_resamples=200, random_state=0)
    print(f"  Uno's C (tau 36) {uno['c']:.3f} ({uno['ci_low']:.3f}-{uno['ci_high']:.3f})")
    slope = calibration_slope_at_horizon(y, risk_24)
    print(f"  calibration slope {slope['slope']:.2f} ({slope['ci_low']:.2f}-"
          f"{slope['ci_high']:.2f})")
    curve = survival_decision_curve(y, risk_24, 24.0, thresholds=[0.2, 0.3, 0.4, 0.5])
    print(curve.round(3).to_string(index=False))

    print("\n4. Internal validation of the full-cohort model (rms validate(cph))")
    print(optimism_corrected(cox(penalizer=3.0), X, y, n_bootstrap=50, random_state=0).table
          .round(3).to_string())

    print("\n5. Nomogram with 1-, 3- and 5-year survival and median survival")
    model = cox(FIVE).fit(X, y)  # five items keep the figure readable
    nomogram = Nomogram.from_estimator(model, times=[12, 36, 60])
    print(f"  first patient: {nomogram.risk_calculator()(X.iloc[0])}")
    ax = nomogram.plot()
    ax.figure.savefig(output / "cox_nomogram.png", dpi=100, bbox_inches="tight")
    plt.close(ax.figure)
    print(f"  figure: {output / 'cox_nomogram.png'}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="mvikit_survcmp_"))
