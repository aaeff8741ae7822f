"""Decision curves against dcurves and the published DCA-tutorial numbers; NRI / IDI."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from hypothesis import given, settings
from hypothesis import strategies as st

from mvikit.metrics import decision_curve, idi, net_benefit_difference, nri


def _df_binary_path():
    # in-repo copy first; the copy inside the installed dcurves wheel next
    local = Path(__file__).parent / "data" / "df_binary.csv"
    if local.exists():
        return local
    dcurves = pytest.importorskip("dcurves")
    return Path(dcurves.__file__).parent / "data" / "df_binary.csv"


@pytest.fixture(scope="module")
def df_binary():
    data = pd.read_csv(_df_binary_path())
    # dcurves 1.1.7 reads `cancer` as boolean; compare on the 0/1 outcome (evaluation.md)
    data["cancer"] = data["cancer"].astype(int)
    fit = smf.logit("cancer ~ marker", data).fit(disp=0)
    data["marker_prob"] = fit.predict(data)
    return data


def test_net_benefit_equals_published_values(df_binary):
    # Vickers' DCA tutorial / dcurves df_binary, marker via logistic regression cancer ~ marker
    dc = decision_curve(df_binary["cancer"], df_binary["marker_prob"],
                        thresholds=[0.10, 0.15, 0.20])
    np.testing.assert_allclose(dc["net_benefit"], [0.062370, 0.046667, 0.029000], atol=5e-7)
    # "about 33 interventions avoided per 100 patients at pt 0.15"
    assert dc["interventions_avoided"].iloc[1] == pytest.approx(33, abs=0.5)
    pts = [0.05, 0.10, 0.15, 0.20, 0.25]
    fam = decision_curve(df_binary["cancer"], df_binary["famhistory"], thresholds=pts)
    np.testing.assert_allclose(
        fam["net_benefit"], [0.025614, 0.018519, 0.010588, 0.001667, -0.008444], atol=5e-7
    )
    # treat-all: 0.094737 (0.05), 0.044444 (0.10)
    np.testing.assert_allclose(fam["net_benefit_all"][:2], [0.094737, 0.044444], atol=5e-7)
    assert (fam["net_benefit_none"] == 0).all()


def test_decision_curve_equals_dcurves(df_binary):
    dcurves = pytest.importorskip("dcurves")
    pts = np.round(np.arange(0.01, 1.0, 0.01), 2)
    ref = dcurves.dca(
        data=df_binary[["cancer", "marker_prob", "famhistory"]],
        outcome="cancer",
        modelnames=["marker_prob", "famhistory"],
        thresholds=pts,
    )
    for model in ["marker_prob", "famhistory"]:
        ours = decision_curve(df_binary["cancer"], df_binary[model], standardize=True)
        theirs = ref[ref["model"] == model].sort_values("threshold")
        np.testing.assert_allclose(ours["threshold"], theirs["threshold"])
        np.testing.assert_allclose(ours["net_benefit"], theirs["net_benefit"], atol=1e-12)
        np.testing.assert_allclose(
            ours["interventions_avoided"], 100 * theirs["net_intervention_avoided"], atol=1e-9
        )
        prevalence = df_binary["cancer"].mean()
        np.testing.assert_allclose(ours["standardized_net_benefit"],
                                   ours["net_benefit"] / prevalence)
    treat_all = ref[ref["model"] == "all"].sort_values("threshold")["net_benefit"]
    np.testing.assert_allclose(ours["net_benefit_all"], treat_all, atol=1e-12)


def test_bootstrap_bands_and_difference(df_binary):
    y, p = df_binary["cancer"], df_binary["marker_prob"]
    dc = decision_curve(y, p, thresholds=[0.1, 0.2], n_resamples=300, random_state=0)
    assert (dc["net_benefit_lower"] < dc["net_benefit"]).all()
    assert (dc["net_benefit"] < dc["net_benefit_upper"]).all()
    # a risk of 1 for everyone is treat-all, so model B's curve is the treat-all line
    diff = net_benefit_difference(
        y, p, np.ones(len(y)), thresholds=[0.1, 0.15, 0.2], n_resamples=300, random_state=0
    )
    treat_all = decision_curve(y, p, thresholds=[0.1, 0.15, 0.2])["net_benefit_all"]
    np.testing.assert_allclose(diff["net_benefit_b"], treat_all)
    np.testing.assert_allclose(diff["difference"], diff["net_benefit_a"] - diff["net_benefit_b"])
    # the marker clearly beats treat-all at 0.15 and 0.20 (about 0.06 and 0.10)
    assert (diff["lower"].iloc[1:] > 0).all() and (diff["p_value"].iloc[1:] < 0.01).all()


# --------------------------------------------------------------------- NRI / IDI


def test_nri_by_hand():
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    old = np.array([0.3, 0.4, 0.2, 0.6, 0.3, 0.5, 0.1, 0.2])
    new = np.array([0.5, 0.6, 0.1, 0.7, 0.2, 0.4, 0.2, 0.1])
    res = nri(y, old, new)
    # events: 3 up, 1 down -> 0.5; non-events: 3 down, 1 up -> 0.5 (Pencina 2011)
    assert (res.event, res.nonevent, res.estimate) == (0.5, 0.5, 1.0)
    # Var(p_up - p_down) = (p_up + p_down - (p_up - p_down)^2) / n = (1 - 0.25) / 4
    assert res.event_se == pytest.approx(np.sqrt(0.75 / 4))
    assert res.se == pytest.approx(np.sqrt(2 * 0.75 / 4))
    # categories [0, 0.25), [0.25, 0.5), [0.5, 1]: events 0.4->0.6 up, 0.2->0.1 same, 0.3->0.5 up
    cat = nri(y, old, new, cutoffs=[0.25, 0.5])
    assert (cat.event, cat.nonevent, cat.kind) == (0.5, 0.5, "categorical")


def test_idi_is_gain_in_discrimination_slope():
    rng = np.random.RandomState(5)
    y = rng.binomial(1, 0.3, 400)
    old = np.clip(0.3 + 0.1 * (y - 0.3) + rng.normal(0, 0.1, 400), 0.01, 0.99)
    new = np.clip(0.3 + 0.3 * (y - 0.3) + rng.normal(0, 0.1, 400), 0.01, 0.99)
    res = idi(y, old, new)

    def slope(p):
        return p[y == 1].mean() - p[y == 0].mean()

    assert res.estimate == pytest.approx(slope(new) - slope(old))
    d = new - old
    se = np.sqrt(d[y == 1].var(ddof=1) / (y == 1).sum() + d[y == 0].var(ddof=1) / (y == 0).sum())
    assert res.se == pytest.approx(se) and res.p_value < 1e-6 and res.kind == "idi"


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.floats(0, 1)), min_size=4, max_size=40))
def test_nri_and_idi_of_model_against_itself_are_zero(rows):
    y = np.array([r[0] for r in rows])
    y[:2] = [0, 1]
    p = np.array([r[1] for r in rows])
    for res in (nri(y, p, p), nri(y, p, p, cutoffs=[0.2, 0.6]), idi(y, p, p)):
        assert res.estimate == 0 and res.event == 0 and res.nonevent == 0 and res.p_value == 1
