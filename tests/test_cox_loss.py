"""The Cox partial-likelihood loss against lifelines / statsmodels, its gradient and invariances."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lifelines import CoxPHFitter
from lifelines.datasets import load_rossi
from statsmodels.duration.hazard_regression import PHReg

from mvikit.survival import CoxPartialLikelihoodLoss, cox_partial_likelihood_loss


@pytest.fixture(scope="module")
def rossi():
    data = load_rossi()
    X = data.drop(columns=["week", "arrest"])
    fit = CoxPHFitter().fit(data, duration_col="week", event_col="arrest")
    # rossi's weeks have many ties (432 patients, 49 distinct event weeks): Breslow and
    # Efron differ, which is what the two reference checks need
    return X.to_numpy(float), data["week"].to_numpy(float), data["arrest"].to_numpy(), fit


def _torch(*arrays):
    return [torch.as_tensor(a, dtype=torch.float64) for a in arrays]


def test_efron_equals_lifelines_log_likelihood(rossi):
    X, time, event, fit = rossi
    risk, time_t, event_t = _torch(X @ fit.params_.to_numpy(), time, event)
    loss = cox_partial_likelihood_loss(risk, time_t, event_t, ties="efron", reduction="sum")
    # lifelines' log_likelihood_ is the (unnormalised) Efron partial log-likelihood
    assert float(loss) == pytest.approx(-fit.log_likelihood_, rel=1e-12)
    mean = cox_partial_likelihood_loss(risk, time_t, event_t, ties="efron")
    assert float(mean) == pytest.approx(-fit.log_likelihood_ / event.sum(), rel=1e-12)


@pytest.mark.parametrize("scale", [0.0, 1.0, -2.0])
def test_breslow_equals_statsmodels_loglike(rossi, scale):
    X, time, event, fit = rossi
    params = scale * fit.params_.to_numpy()
    reference = PHReg(time, X, status=event, ties="breslow").loglike(params)
    risk, time_t, event_t = _torch(X @ params, time, event)
    loss = cox_partial_likelihood_loss(risk, time_t, event_t, reduction="sum")
    assert float(loss) == pytest.approx(-reference, rel=1e-12)


def test_efron_equals_statsmodels_and_breslow_without_ties(rossi):
    X, time, event, fit = rossi
    params = fit.params_.to_numpy()
    reference = PHReg(time, X, status=event, ties="efron").loglike(params)
    risk, time_t, event_t = _torch(X @ params, time, event)
    efron = cox_partial_likelihood_loss(risk, time_t, event_t, ties="efron", reduction="sum")
    breslow = cox_partial_likelihood_loss(risk, time_t, event_t, reduction="sum")
    assert float(efron) == pytest.approx(-reference, rel=1e-12)
    assert float(efron) < float(breslow)  # Efron's correction lowers the tied denominators
    # distinct times: both approximations are the exact partial likelihood
    jittered = time_t + torch.arange(time_t.numel(), dtype=torch.float64) * 1e-6
    assert float(cox_partial_likelihood_loss(risk, jittered, event_t, ties="efron")) == \
        pytest.approx(float(cox_partial_likelihood_loss(risk, jittered, event_t)), rel=1e-12)


def _tied_batch(n=40, seed=0):
    rng = np.random.default_rng(seed)
    time = rng.integers(1, 8, size=n).astype(float)  # many ties
    event = rng.random(n) < 0.6
    risk = rng.normal(size=n)
    return _torch(risk, time, event)


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_gradcheck(ties):
    risk, time, event = _tied_batch(n=25)
    risk.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda r: cox_partial_likelihood_loss(r, time, event, ties=ties), (risk,))


def _risk_set_matrix_loss(risk, time, event):
    """Breslow eq. (9) written literally with the n x n risk-set matrix."""
    at_risk = time[None, :] >= time[:, None]
    log_denominator = torch.logsumexp(risk[None, :].masked_fill(~at_risk, -torch.inf), dim=1)
    return -((risk - log_denominator) * event).sum() / event.sum()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_breslow_equals_risk_set_definition(seed):
    risk, time, event = _tied_batch(seed=seed)
    assert float(cox_partial_likelihood_loss(risk, time, event)) == pytest.approx(
        float(_risk_set_matrix_loss(risk, time, event)), rel=1e-12)


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_shift_and_permutation_invariance(ties):
    risk, time, event = _tied_batch(seed=3)
    loss = float(cox_partial_likelihood_loss(risk, time, event, ties=ties))
    assert float(cox_partial_likelihood_loss(risk + 7.5, time, event, ties=ties)) == \
        pytest.approx(loss, rel=1e-12)
    perm = torch.randperm(risk.numel(), generator=torch.Generator().manual_seed(0))
    assert float(cox_partial_likelihood_loss(risk[perm], time[perm], event[perm],
                                             ties=ties)) == pytest.approx(loss, rel=1e-12)
    # large risks stay finite (log-sum-exp throughout)
    big = cox_partial_likelihood_loss(risk * 1e3, time, event, ties=ties)
    assert torch.isfinite(big)


def test_no_event_batch_is_zero_with_zero_gradient():
    risk = torch.randn(6, dtype=torch.float64, requires_grad=True)
    loss = cox_partial_likelihood_loss(risk, torch.arange(1.0, 7.0), torch.zeros(6))
    loss.backward()
    assert float(loss.detach()) == 0.0
    assert torch.equal(risk.grad, torch.zeros(6, dtype=torch.float64))


def test_module_matches_function_and_takes_column_risk():
    risk, time, event = _tied_batch(seed=4)
    target = torch.stack([time, event], dim=1)
    module = CoxPartialLikelihoodLoss(ties="efron")
    assert float(module(risk[:, None], target)) == pytest.approx(
        float(cox_partial_likelihood_loss(risk, time, event, ties="efron")), rel=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    ({"ties": "exact"}, "ties must be one of"),
    ({"reduction": "none"}, "reduction must be one of"),
])
def test_bad_options(kwargs, match):
    risk, time, event = _tied_batch()
    with pytest.raises(ValueError, match=match):
        cox_partial_likelihood_loss(risk, time, event, **kwargs)


def test_bad_shapes():
    with pytest.raises(ValueError, match=r"shape \(B,\) or \(B, 1\)"):
        cox_partial_likelihood_loss(torch.zeros(4, 2), torch.ones(4), torch.ones(4))
    with pytest.raises(ValueError, match="same length"):
        cox_partial_likelihood_loss(torch.zeros(4), torch.ones(3), torch.ones(4))
