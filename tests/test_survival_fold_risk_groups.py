"""risk_groups_by_fold: per-fold C-index and training-median HR, recomputed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold
from sksurv.metrics import concordance_index_censored

from mvikit.survival import CoxPHSurvival, Surv, hazard_ratio, risk_groups_by_fold


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=120), "z": rng.normal(size=120)},
                     index=[f"p{i}" for i in range(120)])
    time = rng.exponential(np.exp(-X["x"].to_numpy()))
    return X, Surv.from_arrays(event=rng.random(120) < 0.8, time=time)


def test_scores_equal_the_definitions(data):
    X, y = data
    folds = list(KFold(3, shuffle=True, random_state=1).split(X))
    result = risk_groups_by_fold({"cox": CoxPHSurvival()}, X, y, cv=folds)
    assert len(result.scores) == 3 and len(result.predictions) == 120
    assert sorted(result.predictions["patient"]) == sorted(X.index)
    for k, (train, test) in enumerate(folds):
        model = CoxPHSurvival().fit(X.iloc[train], y[train])
        risk, risk_train = model.predict(X.iloc[test]), model.predict(X.iloc[train])
        row = result.scores.iloc[k]
        expected_c = concordance_index_censored(y["event"][test], y["time"][test], risk)[0]
        assert row["c_index"] == pytest.approx(expected_c, rel=1e-12)
        high = (risk > np.median(risk_train)).astype(int)  # the training median, not the test's
        expected = hazard_ratio(y[test], high, reference=0).iloc[0]
        assert row["hr"] == pytest.approx(expected["HR"], rel=1e-9)
        assert row["hr_lower"] == pytest.approx(expected["HR lower"], rel=1e-9)
        assert row["n_high"] == high.sum()
    assert row["hr"] > 1.5  # x drives the hazard: the high-risk group does worse
    table = result.table(digits=3)
    assert table.loc[0, "C-index"].startswith(f"{result.scores['c_index'].mean():.3f} ± ")


def test_km_figure_has_one_panel_per_fold(data):
    X, y = data
    result = risk_groups_by_fold({"cox": CoxPHSurvival()}, X, y, cv=4, random_state=0)
    figure = result.plot_km("cox")
    assert len(figure.axes) == 4
    assert [ax.get_title() for ax in figure.axes] == [f"cox, fold {k}" for k in range(1, 5)]
    with pytest.raises(ValueError, match="No model"):
        result.plot_km("nope")
