"""Seeds' survival findings on the simulated cohort (slow: ``pytest -m slow``).

A clinical Cox model is cross-validated on OS (task "survival"), PFS (task "tace") and
time to macrovascular invasion (task "mavi"), compared with the oracle C of the true
linear predictor, and its held-out high/low risk groups must separate (seeds 002-004).
"""

import numpy as np
import pytest
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sksurv.metrics import concordance_index_censored

from mvikit.datasets import make_hcc_cohort
from mvikit.preprocessing import ClinicalPreprocessor
from mvikit.survival import (
    CoxPHSurvival,
    RiskStratifier,
    hazard_ratio,
    logrank_test,
    make_survival_scorer,
    make_survival_target,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cohort():
    return make_hcc_cohort(n_patients=270, task="survival", random_state=0)


def _target_and_oracle(cohort, task):
    outcomes, truth = cohort.outcomes, cohort.truth
    if task == "survival":
        return make_survival_target(outcomes, time="os_time", event="os_event"), \
            truth["survival_lp"].to_numpy()
    if task == "tace":
        return make_survival_target(outcomes, time="pfs_time", event="pfs_event"), \
            truth["progression_lp"].to_numpy()
    # mavi: the simulator's Weibull PH linear predictor (design/simulator.md, item 8)
    ma, ms, m2 = cohort.params["mavi_coef"]
    lp = ma * truth["a"] + ms * truth["s"] + m2 * (truth["grade"] == 2)
    return make_survival_target(outcomes, time="mavi_time", event="mavi_event"), lp.to_numpy()


# measured (seed 0, 270 patients, penalizer 0.1): C 0.61 / 0.59 / 0.69, oracle 0.69 / 0.66 / 0.73
@pytest.mark.parametrize("task, c_low", [("survival", 0.57), ("tace", 0.54), ("mavi", 0.60)])
def test_clinical_cox_on_simulated_cohort(cohort, task, c_low):
    y, oracle_lp = _target_and_oracle(cohort, task)
    X = cohort.X[cohort.clinical_columns]
    cv = KFold(5, shuffle=True, random_state=0)
    pipe = make_pipeline(ClinicalPreprocessor(), CoxPHSurvival(penalizer=0.1))
    scores = cross_val_score(pipe, X, y, cv=cv, scoring=make_survival_scorer("harrell_c"))
    oracle = concordance_index_censored(y["event"], y["time"], oracle_lp)[0]
    # the clinical table carries signal, but less than the true linear predictor
    assert c_low < scores.mean() < oracle
    assert 0.6 < oracle < 0.8
    # held-out risk groups: cut-off = median of the training fold's predicted risk
    groups = np.empty(len(y), dtype=int)
    for train, test in cv.split(X):
        stratifier = RiskStratifier(estimator=pipe).fit(X.iloc[train], y[train])
        groups[test] = stratifier.predict(X.iloc[test])
    assert logrank_test(y, groups).p_value < 0.05
    assert hazard_ratio(y, groups).loc[1, "HR"] > 1.3
