"""The statistics of an MVI model comparison, one function each.

Two logistic models (a 3-item "clinical" model and a 6-item "clinical +
imaging" model) are cross-validated on the same stratified folds of a simulated
cohort; all statistics use the pooled out-of-fold risks, as the seeds report
them: AUC with DeLong CI and test (CDLM, MTnet), a bootstrap CI, threshold
metrics at the Youden threshold (MTnet) with McNemar (CDLM), kappa, calibration
(intercept, slope, Hosmer-Lemeshow, Spiegelhalter), decision curves (CDLM,
MTnet), NRI / IDI (MTnet) and Harrell's optimism-corrected performance.

The four figures (ROC per fold with mean +/- SD band, calibration, decision
curves, confusion matrix) are saved to ``statistics.png`` in the folder given
as first argument (a temporary folder by default).

Run: ``python examples/statistics.py [output folder]`` (a few seconds).
"""

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np
import pandas as pd  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import StratifiedKFold, cross_val_predict  # noqa: E402

from mvikit.metrics import (  # noqa: E402
    bootstrap_ci,
    calibration_curve,
    calibration_stats,
    decision_curve,
    delong_covariance,
    delong_test,
    hosmer_lemeshow,
    idi,
    kappa,
    make_net_benefit_scorer,
    mcnemar_test,
    net_benefit_difference,
    nri,
    optimism_corrected,
    paired_bootstrap_test,
    roc_auc_ci,
    threshold_metrics,
    youden_threshold,
)
from mvikit.plotting import (  # noqa: E402
    plot_calibration,
    plot_confusion_matrix,
    plot_decision_curve,
    plot_roc,
)


def simulated_cohort(n=400, seed=0):
    """Six standardised predictors; the first three are 'clinical'."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 6))
    lp = -1.0 + 0.8 * X[:, 0] + 0.5 * X[:, 1] + 0.3 * X[:, 2] + 0.9 * X[:, 3] + 0.4 * X[:, 4]
    return X, rng.binomial(1, 1 / (1 + np.exp(-lp)))


def save_figures(y, p_clin, p_full, folds, threshold, out_dir):
    figure, axes = plt.subplots(2, 2, figsize=(11, 10))
    plot_roc(y, p_full, folds=folds, ax=axes[0, 0], label="full")
    plot_calibration(y, p_full, n_bins=8, ax=axes[0, 1], label="full")
    plot_decision_curve(y, {"clinical": p_clin, "full": p_full}, ax=axes[1, 0])
    plot_confusion_matrix(y, (p_full >= threshold).astype(int), ax=axes[1, 1])
    figure.tight_layout()
    path = Path(out_dir) / "statistics.png"
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path


def main(out_dir):
    X, y = simulated_cohort()
    cv = StratifiedKFold(5, shuffle=True, random_state=0)  # the same folds for both models
    model = LogisticRegression()
    p_clin = cross_val_predict(model, X[:, :3], y, cv=cv, method="predict_proba")[:, 1]
    p_full = cross_val_predict(model, X, y, cv=cv, method="predict_proba")[:, 1]

    print("== Discrimination ==")
    print("clinical:", roc_auc_ci(y, p_clin))
    print("full    :", roc_auc_ci(y, p_full, transform="logit"))
    print("DeLong full vs clinical:", delong_test(y, p_full, p_clin))
    covariance = delong_covariance(y, pd.DataFrame({"clinical": p_clin, "full": p_full}))
    print("covariance matrix:\n", covariance.to_frame())
    print("bootstrap AUC CI:", bootstrap_ci(lambda t, s: roc_auc_ci(t, s).auc, y, p_full,
                                            n_resamples=500, random_state=0))
    print("paired bootstrap:", paired_bootstrap_test(lambda t, s: roc_auc_ci(t, s).auc, y,
                                                     p_full, p_clin, n_resamples=500,
                                                     random_state=0))

    print("\n== At the Youden threshold ==")
    cut = youden_threshold(y, p_full)
    print(cut)
    print(threshold_metrics(y, p_full, threshold=cut.threshold).to_frame().round(3))
    pred_full = (p_full >= cut.threshold).astype(int)
    pred_clin = (p_clin >= youden_threshold(y, p_clin).threshold).astype(int)
    print("McNemar (sensitivity):", mcnemar_test(y, pred_full, pred_clin, subset="positives"))
    print("kappa, model vs truth:", kappa(y, pred_full))

    print("\n== Calibration ==")
    print(calibration_stats(y, p_full))
    print(hosmer_lemeshow(y, p_full, n_groups=10).table.round(3))
    curve = calibration_curve(y, p_full, n_bins=5)
    print("binned curve:", np.c_[curve.prob_pred, curve.prob_true].round(3).tolist())

    print("\n== Clinical usefulness ==")
    dca = decision_curve(y, p_full, thresholds=[0.1, 0.2, 0.3, 0.4], n_resamples=200,
                         random_state=0)
    print(dca.round(4).to_string(index=False))
    print(net_benefit_difference(y, p_full, p_clin, thresholds=[0.2, 0.3], n_resamples=200,
                                 random_state=0).round(4).to_string(index=False))
    nb_scorer = make_net_benefit_scorer(0.2)
    print("net benefit at 0.2 of the refitted model (apparent):",
          round(nb_scorer(model.fit(X, y), X, y), 4))

    print("\n== Reclassification ==")
    print("category-free NRI:", nri(y, p_clin, p_full))
    print("NRI (cut-offs 0.2, 0.4):", nri(y, p_clin, p_full, cutoffs=[0.2, 0.4]))
    print("IDI:", idi(y, p_clin, p_full))

    print("\n== Internal validation ==")
    print(optimism_corrected(LogisticRegression(), X, y, n_bootstrap=50, random_state=0))

    folds = np.empty(len(y), dtype=int)
    for k, (_, test) in enumerate(cv.split(X, y)):
        folds[test] = k
    print("\nfigures:", save_figures(y, p_clin, p_full, folds, cut.threshold, out_dir))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="mvikit-statistics-"))
