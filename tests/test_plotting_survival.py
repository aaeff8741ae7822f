"""Survival plots at a horizon: the drawn data equal mvikit.survival's metrics."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mvikit.exceptions import MetricInputError  # noqa: E402
from mvikit.plotting import (  # noqa: E402
    plot_survival_calibration,
    plot_survival_decision_curve,
    plot_time_roc,
)
from mvikit.survival import (  # noqa: E402
    Surv,
    calibration_at_horizon,
    smoothed_calibration_at_horizon,
    survival_decision_curve,
    time_dependent_roc,
)


@pytest.fixture
def cohort():
    rng = np.random.default_rng(1)
    lp = rng.normal(size=300)
    time = rng.exponential(np.exp(-lp))
    censor = rng.uniform(0.5, 3, 300)
    y = Surv.from_arrays(event=time <= censor, time=np.minimum(time, censor))
    noisy = lp + rng.normal(size=300)
    return y, {"true": lp, "noisy": noisy}


@pytest.fixture
def ax():
    figure, axes = plt.subplots()
    yield axes
    plt.close(figure)


def test_time_roc_draws_the_curves(cohort, ax):
    y, risks = cohort
    plot_time_roc(y, risks, 1.0, ax=ax)
    for line, (name, risk) in zip(ax.lines, risks.items(), strict=False):
        roc = time_dependent_roc(y, risk, 1.0)
        np.testing.assert_allclose(line.get_xdata(), roc["fpr"])
        np.testing.assert_allclose(line.get_ydata(), roc["tpr"])
        assert line.get_label() == f"{name} (AUC {roc.attrs['auc']:.3f})"
    assert ax.get_legend() is not None
    with pytest.raises(MetricInputError, match="horizon 10 is at or beyond"):
        plot_time_roc(y, risks["true"], 10.0, ax=ax)


def test_survival_calibration_draws_groups_and_smooth(cohort, ax):
    y, risks = cohort
    predicted = {name: 1 - np.exp(-np.exp(r)) for name, r in risks.items()}
    plot_survival_calibration(y, predicted, 1.0, n_groups=4, ax=ax)
    curve = smoothed_calibration_at_horizon(y, predicted["noisy"], 1.0)
    smooth = [line for line in ax.lines if line.get_label().startswith("noisy (slope")]
    np.testing.assert_allclose(smooth[0].get_ydata(), curve["observed"])
    table = calibration_at_horizon(y, predicted["true"], 1.0, n_groups=4)
    # errorbar containers hold the group points at (mean predicted, KM observed)
    points = ax.containers[0].lines[0]
    np.testing.assert_allclose(points.get_xdata(), table["predicted"].astype(float))
    np.testing.assert_allclose(points.get_ydata(), table["observed"].astype(float))


def test_survival_decision_curve_draws_net_benefit(cohort, ax):
    y, risks = cohort
    predicted = 1 - np.exp(-np.exp(risks["true"]))
    plot_survival_decision_curve(y, {"true": predicted}, 1.0, thresholds=[0.1, 0.3, 0.5], ax=ax,
                                 n_resamples=20, random_state=0)
    curve = survival_decision_curve(y, predicted, 1.0, [0.1, 0.3, 0.5])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), curve["net_benefit"])
    np.testing.assert_allclose(ax.lines[1].get_ydata(), curve["net_benefit_all"])
    assert [line.get_label() for line in ax.lines] == ["true", "treat all", "treat none"]
    assert len(ax.collections) == 1  # the bootstrap band
