"""ComBat: equal to neuroCombat (the published method's Python port), removes
simulated location/scale centre effects, near-identity without them, fold-safe."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mvikit.exceptions import CohortError, ColumnRoleError
from mvikit.radiomics import ComBat

SHIFT = {"A": 0.0, "B": 2.0, "C": -1.0}
SCALE = {"A": 1.0, "B": 2.0, "C": 0.5}


def simulate(n=(40, 30, 20), p=12, batch_effect=True, seed=1):
    rng = np.random.default_rng(seed)
    batch = np.repeat(list(SHIFT), n)
    age = rng.normal(60, 10, len(batch))
    truth = rng.normal(size=(len(batch), p)) + 0.05 * age[:, None]
    X = truth.copy()
    if batch_effect:
        for b in SHIFT:
            rows = batch == b
            X[rows] = (truth[rows] - truth[rows].mean(0)) * SCALE[b] + truth[rows].mean(0) \
                + SHIFT[b] + rng.normal(0, 0.2, p)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(p)],
                         index=[f"p{i}" for i in range(len(batch))])
    frame["center"] = batch
    frame["age"] = age
    return frame, truth


@pytest.mark.parametrize("covariates, mean_only", [(None, False), (["age"], False),
                                                   (None, True)])
def test_equals_neurocombat(covariates, mean_only):
    neuroCombat = pytest.importorskip("neuroCombat").neuroCombat
    frame, _ = simulate()
    X = frame if covariates else frame.drop(columns="age")
    ours = ComBat(covariates=covariates, mean_only=mean_only).fit_transform(X)
    features = [c for c in frame.columns if c.startswith("f")]
    ref = neuroCombat(dat=frame[features].to_numpy().T, covars=frame[["center", "age"]],
                      batch_col="center", continuous_cols=covariates,
                      mean_only=mean_only)["data"].T
    # agreement to the posterior iteration's tolerance (relative change < 1e-4)
    np.testing.assert_allclose(ours[features].to_numpy(), ref, atol=1e-5)


def test_removes_location_and_scale_shifts():
    frame, truth = simulate(n=(60, 60, 60))
    out = ComBat().fit_transform(frame.drop(columns="age"))
    before = frame.drop(columns="age").groupby("center").agg(["mean", "std"])
    after = out.assign(center=frame["center"]).groupby("center").agg(["mean", "std"])
    mean_gap = lambda t: t.xs("mean", axis=1, level=1).agg(np.ptp).mean()  # noqa: E731
    sd_ratio = lambda t: (t.xs("std", axis=1, level=1).max()  # noqa: E731
                          / t.xs("std", axis=1, level=1).min()).mean()
    assert mean_gap(before) > 2.5 and mean_gap(after) < 0.3
    assert sd_ratio(before) > 3.5 and sd_ratio(after) < 1.3
    # what is left is the centre-free signal: harmonised values track the truth
    assert np.corrcoef(out.to_numpy().ravel(), truth.ravel())[0, 1] > 0.9


def test_near_identity_without_batch_effect():
    frame, _ = simulate(batch_effect=False)
    X = frame.drop(columns="age")
    out = ComBat().fit_transform(X)
    change = (out - X.drop(columns="center")).abs()
    sd = X.drop(columns="center").std()
    # only sampling noise of the centre means/SDs is removed: small in SD units
    assert (change.mean() / sd).max() < 0.15


def test_fold_safe_transform_of_new_patients():
    frame, _ = simulate()
    X = frame.drop(columns="age")
    train, test = X.iloc[::2], X.iloc[1::2]
    model = ComBat().fit(train)
    pd.testing.assert_frame_equal(model.transform(train), ComBat().fit_transform(train))
    out = model.transform(test)
    features = model.get_feature_names_out()
    # by hand from the fitted parameters
    codes = np.searchsorted(model.batches_, test["center"])
    z = (test[features].to_numpy() - model.grand_mean_) / np.sqrt(model.var_pooled_)
    expected = (np.sqrt(model.var_pooled_) * (z - model.gamma_star_[codes])
                / np.sqrt(model.delta_star_[codes]) + model.grand_mean_)
    np.testing.assert_allclose(out.to_numpy(), expected)
    assert out.index.equals(test.index) and "center" not in out.columns


def test_constant_feature_passes_unchanged():
    frame, _ = simulate()
    X = frame.drop(columns="age").assign(flat=3.0)
    out = ComBat().fit_transform(X)
    assert (out["flat"] == 3.0).all()
    assert not ComBat().fit(X).adjusted_[-1]


def test_bad_input():
    frame, _ = simulate()
    X = frame.drop(columns="age")
    model = ComBat().fit(X)
    unseen = X.iloc[:3].assign(center="Z")
    with pytest.raises(CohortError, match=r"centre 'Z' \(patient 'p0', column 'center'\) was "
                                          r"not seen in fit"):
        model.transform(unseen)
    with pytest.raises(ColumnRoleError, match=r"\['site'\] not in X.*join cohort.centers"):
        ComBat(batch="site").fit(X)
    lonely = X.iloc[:41]  # centre B has one patient
    with pytest.raises(CohortError, match="centre 'B' has a single training patient"):
        ComBat().fit(lonely)
    holes = X.copy()
    holes.iloc[4, 2] = np.nan
    with pytest.raises(CohortError, match=r"patient 'p4', column 'f2'.*Impute"):
        ComBat().fit(holes)
    with pytest.raises(CohortError, match="not numeric"):
        ComBat().fit(X.assign(grade="G2"))
