"""Cox partial-likelihood loss: one sort + logcumsumexp vs the n x n risk-set matrix.

Forward + backward on one batch of 4,096 patients (Breslow ties), timed in the same
process; prints the ratio (target: >= 20x). The O(n^2) baseline is written here only,
as eq. (9) of DMMGNet reads: a mask of who is at risk at each patient's time.

    python benchmarks/bench_cox_loss.py [--threads 1]

Both run with the same number of torch threads (default 1: on a shared, loaded
machine, OpenMP threads waiting for each other swamp a 4,096-element loss).
"""

from __future__ import annotations

import argparse
import timeit

import torch

from mvikit.survival import cox_partial_likelihood_loss

N = 4096
REPEATS = 5


def risk_set_matrix_loss(risk: torch.Tensor, time: torch.Tensor,
                         event: torch.Tensor) -> torch.Tensor:
    at_risk = time[None, :] >= time[:, None]  # (n, n): row i = risk set R_i
    log_denominator = torch.logsumexp(risk[None, :].masked_fill(~at_risk, -torch.inf), dim=1)
    return -((risk - log_denominator) * event).sum() / event.sum()


def _timed(loss_fn, risk, time, event) -> float:
    def step():
        risk.grad = None
        loss_fn(risk, time, event).backward()

    step()  # warm-up
    return min(timeit.repeat(step, number=1, repeat=REPEATS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    torch.set_num_threads(parser.parse_args().threads)
    torch.manual_seed(0)
    risk = torch.randn(N, requires_grad=True)
    time = torch.randint(1, 1000, (N,)).float()  # ties, as in follow-up in days
    event = (torch.rand(N) < 0.6).float()
    fast = cox_partial_likelihood_loss(risk, time, event)
    slow = risk_set_matrix_loss(risk, time, event)
    assert torch.allclose(fast, slow, rtol=1e-5), (float(fast), float(slow))
    t_fast = _timed(cox_partial_likelihood_loss, risk, time, event)
    t_efron = _timed(lambda r, t, e: cox_partial_likelihood_loss(r, t, e, ties="efron"),
                     risk, time, event)
    t_slow = _timed(risk_set_matrix_loss, risk, time, event)
    print(f"batch {N}, forward + backward, best of {REPEATS} "
          f"({torch.get_num_threads()} torch threads)")
    print(f"  risk-set matrix O(n^2)   : {t_slow * 1e3:8.2f} ms (baseline)")
    for name, seconds in (("sort + logcumsumexp", t_fast), ("same, Efron ties", t_efron)):
        print(f"  {name:24s} : {seconds * 1e3:8.2f} ms  -> {t_slow / seconds:6.1f}x faster")


if __name__ == "__main__":
    main()
