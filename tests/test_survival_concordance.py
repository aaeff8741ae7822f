"""Harrell's C and its standard error against R survival::concordance, sksurv and brute force."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sksurv.metrics import concordance_index_censored

from mvikit.exceptions import MetricInputError
from mvikit.survival import Surv, concordance_index

DATA = Path(__file__).parent / "data"


def _target(frame):
    # R's lung and veteran code the event as status 2 (lung: 1 = censored, 2 = dead) or 1
    event = frame["status"].to_numpy() == frame["status"].max()
    return Surv.from_arrays(event=event, time=frame["time"].to_numpy(float))


@pytest.fixture(scope="module")
def lung():
    # written from R 4.x, survival 3.x: write.csv(lung[, c("time", "status", "age", "sex",
    # "ph.ecog")], "tests/data/lung.csv", row.names=FALSE, na="")
    return pd.read_csv(DATA / "lung.csv")


@pytest.fixture(scope="module")
def veteran():
    # fit <- coxph(Surv(time, status) ~ karno + age + trt + celltype, data=veteran)
    # write.csv(data.frame(time=veteran$time, status=veteran$status, karno=veteran$karno,
    #           lp=sprintf("%.17g", fit$linear.predictors)), "tests/data/veteran.csv", ...)
    return pd.read_csv(DATA / "veteran.csv")


def _counts(result):
    return (result.concordant, result.discordant, result.tied_risk, result.tied_time,
            result.tied_time_and_risk)


# Each expected row is R's output, printed with
# p <- function(f) { print(f$count); cat(sprintf("C=%.15f se=%.15f\n", f$concordance,
#                                                 sqrt(f$var))) }
@pytest.mark.parametrize("data, column, sign, counts, c, se", [
    # p(concordance(Surv(time, status) ~ age, data=lung, reverse=TRUE))
    #  concordant discordant tied.x tied.y tied.xy:  10717 8706 591 27 1
    ("lung", "age", 1, (10717, 8706, 591, 27, 1), 0.550239832117518, 0.025142111594333),
    # p(concordance(Surv(time, status) ~ ph.ecog, data=lung, reverse=TRUE))  (1 NA dropped)
    #  8392 4258 7137 21 7
    ("lung", "ph.ecog", 1, (8392, 4258, 7137, 21, 7), 0.604462525900844, 0.023901526915260),
    # p(concordance(Surv(time, status) ~ karno, data=veteran))  (high karno = low risk)
    #  5674 1989 1141 34 5
    ("veteran", "karno", -1, (5674, 1989, 1141, 34, 5), 0.709279872785098, 0.022558717191727),
    # p(concordance(fit)) for the coxph fit above (its linear predictor, reverse=TRUE)
    #  6499 2301 4 39 0
    ("veteran", "lp", 1, (6499, 2301, 4, 39, 0), 0.738414357110404, 0.021038383228326),
])
def test_equals_r_concordance(request, data, column, sign, counts, c, se):
    frame = request.getfixturevalue(data).dropna(subset=[column])
    y = _target(frame)
    risk = sign * frame[column].to_numpy(float)
    result = concordance_index(y, risk)
    assert _counts(result) == counts
    assert result.c == pytest.approx(c, abs=1e-14)
    assert result.se == pytest.approx(se, abs=1e-14)
    assert result.n == len(frame)
    # scikit-survival's C (tied risks 1/2, same comparable pairs)
    sk = concordance_index_censored(y["event"], y["time"], risk)
    assert result.c == pytest.approx(sk[0], abs=1e-12)
    assert (result.concordant, result.discordant, result.tied_risk) == tuple(sk[1:4])
    # the influence reproduces the standard error
    assert np.sqrt(np.sum(result.influence ** 2)) == pytest.approx(result.se, rel=1e-12)


def _brute_force(event, time, risk):
    """Every pair, as R's concordance3.c counts them; returns C, SE and the counts."""
    n = time.size
    c_k, d_k, t_k = np.zeros(n), np.zeros(n), np.zeros(n)
    tied_time = tied_both = 0
    for i in np.flatnonzero(event):
        for j in range(n):
            if j == i:
                continue
            if time[j] > time[i] or (time[j] == time[i] and not event[j]):
                kind = c_k if risk[i] > risk[j] else d_k if risk[i] < risk[j] else t_k
                kind[i] += 1
                kind[j] += 1
            elif time[j] == time[i] and event[j] and j > i:
                tied_both += risk[i] == risk[j]
                tied_time += risk[i] != risk[j]
    concordant, discordant, tied = c_k.sum() / 2, d_k.sum() / 2, t_k.sum() / 2
    pairs = concordant + discordant + tied
    d = (concordant - discordant) / pairs
    dfbeta = (c_k - d_k) / pairs - d * (c_k + d_k + t_k) / pairs
    counts = (concordant, discordant, tied, tied_time, tied_both)
    return (d + 1) / 2, np.sqrt(np.sum(dfbeta ** 2) / 4), counts


@pytest.mark.parametrize("seed", range(40))
def test_equals_brute_force_with_ties(seed):
    # many tied times, tied risks, events tied with censorings: every branch of the counting
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 60))
    time = rng.integers(1, 8, n).astype(float)
    event = rng.random(n) < 0.6
    event[0] = True
    time[0] = 1.0 if time.min() > 1.0 or not event[time == time.min()].all() else time[0]
    risk = rng.integers(0, 4, n).astype(float) if seed % 2 else rng.normal(size=n)
    expected_c, expected_se, counts = _brute_force(event, time, risk)
    result = concordance_index(Surv.from_arrays(event=event, time=time), risk)
    assert _counts(result) == counts
    assert result.c == pytest.approx(expected_c, abs=1e-13)
    assert result.se == pytest.approx(expected_se, abs=1e-13)


def test_invariances():
    rng = np.random.default_rng(3)
    time = rng.exponential(size=300).round(2) + 0.01
    event = rng.random(300) < 0.7
    risk = rng.normal(size=300).round(1)
    y = Surv.from_arrays(event=event, time=time)
    base = concordance_index(y, risk)
    # a monotone transform of the risk and a permutation of the patients change nothing
    same = concordance_index(y, np.exp(2 * risk))
    assert (same.c, same.se) == pytest.approx((base.c, base.se), abs=1e-14)
    perm = rng.permutation(300)
    permuted = concordance_index(y[perm], risk[perm])
    assert (permuted.c, permuted.se) == pytest.approx((base.c, base.se), abs=1e-14)
    np.testing.assert_allclose(permuted.influence, base.influence[perm], atol=1e-15)
    # reversing the risk swaps concordant and discordant: C -> 1 - C, same SE
    flipped = concordance_index(y, -risk)
    assert flipped.c == pytest.approx(1 - base.c, abs=1e-14)
    assert flipped.se == pytest.approx(base.se, abs=1e-14)
    assert (flipped.concordant, flipped.discordant) == (base.discordant, base.concordant)
    # a constant risk ties every comparable pair: C = 1/2 with SE 0
    constant = concordance_index(y, np.zeros(300))
    assert (constant.c, constant.se, constant.concordant) == (0.5, 0.0, 0)
    lower, upper = base.confidence_interval()
    assert (upper - lower) / 2 == pytest.approx(1.959963984540054 * base.se)


def test_bad_input():
    y = Surv.from_arrays(event=[False, False, False], time=[1.0, 2.0, 3.0])
    with pytest.raises(MetricInputError, match="No comparable pair among the 3 patients"):
        concordance_index(y, [0.1, 0.2, 0.3])
    y = Surv.from_arrays(event=[True, False, True], time=[1.0, 2.0, 3.0])
    with pytest.raises(MetricInputError, match=r"NaN or infinite for row\(s\) \[1\]"):
        concordance_index(y, [0.1, np.nan, 0.3])
    with pytest.raises(MetricInputError, match=r"expected \(3,\)"):
        concordance_index(y, [0.1, 0.3])
