"""Clinical columns of a cohort frame -> a cross-validated logistic model.

A small cohort frame (labs with gaps, a skewed AFP, flags, categories and an
image column) goes through `ClinicalPreprocessor` and a logistic regression in
one pipeline; the image column is ignored by the preprocessor.
Runs in a few seconds.
"""

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline

from mvikit import Volume
from mvikit.preprocessing import ClinicalPreprocessor


def small_cohort(n=200, seed=0):
    rng = np.random.default_rng(seed)
    age = rng.normal(58, 10, n)
    afp = np.exp(rng.normal(3, 2, n))
    bclc = pd.Categorical(rng.choice(["0", "A", "B"], n, p=[0.3, 0.5, 0.2]),
                          categories=["0", "A", "B"], ordered=True)
    hbv = rng.random(n) < 0.7
    logit = -2.5 + 0.35 * np.log(afp) + 0.9 * (bclc.codes == 2) + 0.03 * (age - 58)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    age[rng.random(n) < 0.1] = np.nan  # gaps, as in any real table
    X = pd.DataFrame({"age": age, "AFP": afp, "BCLC": bclc, "HBV": hbv,
                      "HBP": [Volume(np.zeros((2, 8, 8)))] * n},
                     index=[f"P{i:03d}" for i in range(n)])
    return X, y


def main():
    X, y = small_cohort()
    pre = ClinicalPreprocessor(log_transform="auto", add_indicator=True)
    pre.set_output(transform="pandas")
    print(pre.fit_transform(X).head())
    print(pre.feature_map_)
    model = make_pipeline(ClinicalPreprocessor(log_transform="auto", add_indicator=True),
                          LogisticRegression())
    cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=3, random_state=0)
    auc = cross_val_score(model, X, y, cv=cv, scoring="roc_auc")
    print(f"AUC over 5x3 CV: {auc.mean():.3f} +/- {auc.std():.3f}")


if __name__ == "__main__":
    main()
