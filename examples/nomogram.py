"""A clinical nomogram on the simulated HCC cohort.

Backward selection of clinical factors inside cross-validation (repeated
5-fold AUC), the final model's odds-ratio table, the nomogram figure and a
bedside risk calculator. Runs in well under a minute.
"""

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from mvikit.clinical import Nomogram, NomogramClassifier  # noqa: E402
from mvikit.datasets import make_hcc_cohort  # noqa: E402
from mvikit.exceptions import DataWarning  # noqa: E402
from mvikit.preprocessing import ClinicalPreprocessor  # noqa: E402


def main(out="nomogram.png"):
    cohort = make_hcc_cohort(n_patients=270, task="mvi", sequences=("PRE",), random_state=0)
    X, y = cohort.X[cohort.clinical_columns], cohort.y
    model = make_pipeline(ClinicalPreprocessor(log_transform="auto"),
                          NomogramClassifier(selection="backward")).set_output(
        transform="pandas")
    cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # unseen levels in small folds
        auc = cross_val_score(model, X, y, cv=cv, scoring="roc_auc")
    print(f"Clinical nomogram, repeated 5-fold CV AUC: {auc.mean():.3f} +/- {auc.std():.3f}")
    model.fit(X, y)
    clf = model[-1]
    print("Selected:", clf.selected_variables_)
    print(clf.summary_[["odds_ratio", "or_ci_lower", "or_ci_upper", "p_value"]].round(3))
    nomogram = Nomogram.from_estimator(model)
    print(nomogram.points(X.head()))
    risk = nomogram.risk_calculator()
    print(f"Risk of the first patient: {risk(X.iloc[0].to_dict()):.3f}")
    ax = nomogram.plot()
    ax.figure.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(ax.figure)


if __name__ == "__main__":
    main()
