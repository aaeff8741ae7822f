"""The Cox negative partial log-likelihood as a PyTorch loss, in O(n log n).

Eq. (9) of DMMGNet (seed 002, after Katzman et al.'s DeepSurv)::

    loss = -1 / sum_i E_i * sum_i E_i * (r_i - log sum_{j in R_i} exp(r_j))

with ``R_i`` the patients still at risk at ``t_i`` (``t_j >= t_i``). Sorting once by time,
descending, turns every risk-set sum into a prefix sum, so ``torch.logcumsumexp`` gives all
of them at once; patients with tied times share the prefix sum at the *last* index of their
tie group (everyone tied is at risk). No ``n x n`` risk-set matrix is built.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["CoxPartialLikelihoodLoss", "cox_partial_likelihood_loss"]

_TIES = ("breslow", "efron")
_REDUCTIONS = ("mean", "sum")


def _check_inputs(risk: torch.Tensor, time: torch.Tensor, event: torch.Tensor,
                  ties: str, reduction: str) -> tuple[torch.Tensor, torch.Tensor,
                                                      torch.Tensor]:
    if ties not in _TIES:
        raise ValueError(f"ties must be one of {_TIES}, got {ties!r}.")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}.")
    if risk.ndim == 2 and risk.shape[1] == 1:
        risk = risk[:, 0]  # a single-output risk head, (B, 1)
    if risk.ndim != 1:
        raise ValueError(f"risk must have shape (B,) or (B, 1), got {tuple(risk.shape)}.")
    time = torch.as_tensor(time, device=risk.device).reshape(-1)
    event = torch.as_tensor(event, device=risk.device).reshape(-1)
    if time.shape[0] != risk.shape[0] or event.shape[0] != risk.shape[0]:
        raise ValueError(f"risk, time and event need the same length; got {risk.shape[0]}, "
                         f"{time.shape[0]} and {event.shape[0]}.")
    return risk, time, event.to(torch.bool)


def _tie_groups(time_desc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Group id of every (descending-sorted) time, and the last index of each group."""
    _, counts = torch.unique_consecutive(time_desc, return_counts=True)
    group = torch.repeat_interleave(torch.arange(counts.numel(), device=time_desc.device),
                                    counts)
    return group, torch.cumsum(counts, 0) - 1


def _segment_logsumexp(values: torch.Tensor, group: torch.Tensor, n_groups: int) -> torch.Tensor:
    """``log sum exp`` of ``values`` within each group (-inf for an empty group), O(n)."""
    shift = torch.full((n_groups,), -torch.inf, dtype=values.dtype, device=values.device)
    shift = shift.scatter_reduce(0, group, values.detach(), reduce="amax")
    shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
    total = torch.zeros(n_groups, dtype=values.dtype, device=values.device)
    total = total.index_add(0, group, torch.exp(values - shift[group]))
    return torch.log(total) + shift


def _efron_log_risk(risk: torch.Tensor, event: torch.Tensor, group: torch.Tensor,
                    log_risk_set: torch.Tensor) -> torch.Tensor:
    """Efron's denominator ``log(S_R - l/d * S_D)`` of every event (Efron 1977).

    For a time with ``d`` tied events, the l-th of them (``l = 0..d-1``) sees the risk set
    sum ``S_R`` minus the fraction ``l/d`` of the tied events' sum ``S_D``.
    """
    n_groups = log_risk_set.numel()
    events = event.to(risk.dtype)
    n_tied = torch.zeros(n_groups, dtype=risk.dtype, device=risk.device)
    n_tied = n_tied.index_add(0, group, events)
    # rank of each event among the events of its group: 0, 1, ..., d-1
    before_group = torch.cumsum(n_tied, 0) - n_tied
    rank = torch.cumsum(events, 0) - 1 - before_group[group]
    log_tied = _segment_logsumexp(risk.masked_fill(~event, -torch.inf), group, n_groups)
    fraction = torch.where(event, rank / n_tied[group].clamp(min=1), torch.zeros_like(rank))
    # log(S_R - f S_D) = log S_R + log1p(-f S_D / S_R), with S_D <= S_R and f < 1
    ratio = torch.exp(torch.where(event, log_tied[group] - log_risk_set[group],
                                  torch.zeros_like(rank)))
    return log_risk_set[group] + torch.log1p(-fraction * ratio)


def cox_partial_likelihood_loss(risk: torch.Tensor, time: torch.Tensor, event: torch.Tensor,
                                *, ties: str = "breslow", reduction: str = "mean"
                                ) -> torch.Tensor:
    """Negative Cox partial log-likelihood of predicted risks (eq. 9 of DMMGNet).

    Parameters
    ----------
    risk : torch.Tensor of shape (B,) or (B, 1)
        Predicted log-hazard (higher = worse prognosis).
    time : torch.Tensor of shape (B,)
        Observed times (to event or censoring).
    event : torch.Tensor of shape (B,)
        Event indicator (bool or 0/1).
    ties : {"breslow", "efron"}, default="breslow"
        Tied event times: Breslow's approximation (every tied event sees the full risk
        set) or Efron's (the tied events leave the risk set gradually).
    reduction : {"mean", "sum"}, default="mean"
        ``"mean"`` divides by the number of events (eq. 9); ``"sum"`` is the negative
        partial log-likelihood itself (lifelines' ``-log_likelihood_``).

    Returns
    -------
    loss : torch.Tensor, scalar
        A batch without any event has no partial likelihood; the loss is then a
        defined zero (``0 * risk.sum()``, so it still back-propagates zero gradients).

    Notes
    -----
    One sort per batch, ``O(B log B)``: after sorting by time, descending, the risk-set
    sum of patient ``i`` is the prefix ``logcumsumexp`` of the risks up to the last
    patient tied with ``i``. Adding a constant to every risk leaves the loss unchanged.

    Examples
    --------
    >>> import torch
    >>> from mvikit.survival import cox_partial_likelihood_loss
    >>> risk = torch.tensor([0.5, -0.2, 1.0, 0.0])
    >>> time = torch.tensor([2.0, 5.0, 1.0, 5.0])
    >>> event = torch.tensor([1, 0, 1, 1])
    >>> round(float(cox_partial_likelihood_loss(risk, time, event)), 4)
    0.7213
    >>> round(float(cox_partial_likelihood_loss(risk + 3.0, time, event)), 4)
    0.7213
    """
    risk, time, event = _check_inputs(risk, time, event, ties, reduction)
    n_events = event.sum()
    if n_events == 0:
        return risk.sum() * 0.0
    order = torch.argsort(time, descending=True)
    risk, time, event = risk[order], time[order], event[order]
    group, last = _tie_groups(time)
    log_risk_set = torch.logcumsumexp(risk, dim=0)[last]  # one value per tie group
    if ties == "efron":
        log_denominator = _efron_log_risk(risk, event, group, log_risk_set)
    else:
        log_denominator = log_risk_set[group]
    total = -torch.sum(torch.where(event, risk - log_denominator, torch.zeros_like(risk)))
    if reduction == "mean":
        return total / n_events.to(risk.dtype)
    return total


class CoxPartialLikelihoodLoss(nn.Module):
    """`cox_partial_likelihood_loss` as a module (a skorch ``criterion``).

    Parameters
    ----------
    ties : {"breslow", "efron"}, default="breslow"
    reduction : {"mean", "sum"}, default="mean"

    Notes
    -----
    ``forward(risk, target)``: ``risk`` of shape ``(B,)`` or ``(B, 1)``, ``target`` of
    shape ``(B, 2)`` with the time in column 0 and the event indicator in column 1;
    returns a scalar.

    Examples
    --------
    >>> import torch
    >>> from mvikit.survival import CoxPartialLikelihoodLoss
    >>> target = torch.tensor([[2.0, 1.0], [5.0, 0.0], [1.0, 1.0], [5.0, 1.0]])
    >>> loss = CoxPartialLikelihoodLoss()(torch.tensor([0.5, -0.2, 1.0, 0.0]), target)
    >>> round(float(loss), 4)
    0.7213
    """

    def __init__(self, ties: str = "breslow", reduction: str = "mean") -> None:
        super().__init__()
        self.ties = ties
        self.reduction = reduction

    def forward(self, risk: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return cox_partial_likelihood_loss(risk, target[:, 0], target[:, 1], ties=self.ties,
                                           reduction=self.reduction)
