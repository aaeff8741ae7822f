"""Fully connected fusion of per-phase DL signatures with clinical factors (CDLM, seed 003).

Seed 003 (Sec. 2.5) turns each phase's ResNet18 into a "single-phase DL
signature" and adds "fully connected layers ... to integrate the single
signatures with clinical and radiological factors".  `SignatureFusion` is that
block: the signatures, standardised by stored statistics, concatenated with the
(already preprocessed) factors, then one linear layer (a logistic model on
signatures and factors) or ``Linear -> ReLU -> Linear`` with ``hidden`` units.
`fit_signature_fusion` trains it alone, full batch, for the cross-fitted scheme
(the head reads out-of-fold signatures).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["SignatureFusion", "fit_signature_fusion", "signature_values"]


def signature_values(phase_logits: torch.Tensor) -> torch.Tensor:
    """The DL signature of each phase from its class logits.

    Parameters
    ----------
    phase_logits : Tensor of shape (B, S, K)

    Returns
    -------
    Tensor of shape (B, S * max(K - 1, 1))
        The log-odds of each class against the first (``K = 2``: the MVI log-odds
        of each phase); ``K = 1``: the logit itself.

    Examples
    --------
    >>> import torch
    >>> signature_values(torch.tensor([[[0.5, 2.0], [1.0, 0.0]]])).tolist()
    [[1.5, -1.0]]
    """
    if phase_logits.shape[-1] > 1:
        phase_logits = phase_logits[..., 1:] - phase_logits[..., :1]
    return phase_logits.flatten(1)


class SignatureFusion(nn.Module):
    """Signatures (standardised) + clinical factors -> class logits.

    Parameters
    ----------
    n_signatures : int
        Signature columns (phases x values per phase).
    n_clinical : int
        Factor columns (0: signatures only, the "fusion DL model" of Table 3).
    n_outputs : int
    hidden : int, default=0
        0: one linear layer; > 0: ``Linear(hidden) -> ReLU -> Linear``.

    Notes
    -----
    The buffers ``shift`` and ``scale`` standardise the signatures (identity
    until `fit_signature_fusion` sets them from the training signatures).

    Examples
    --------
    >>> import torch
    >>> head = SignatureFusion(3, 2, 2)
    >>> head(torch.randn(4, 3), torch.randn(4, 2)).shape
    torch.Size([4, 2])
    """

    def __init__(self, n_signatures: int, n_clinical: int, n_outputs: int,
                 hidden: int = 0) -> None:
        super().__init__()
        self.n_clinical = n_clinical
        self.register_buffer("shift", torch.zeros(n_signatures))
        self.register_buffer("scale", torch.ones(n_signatures))
        n_in = n_signatures + n_clinical
        if hidden:
            self.layers = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(),
                                        nn.Linear(hidden, n_outputs))
        else:
            self.layers = nn.Sequential(nn.Linear(n_in, n_outputs))

    def forward(self, signatures: torch.Tensor,
                clinical: torch.Tensor | None = None) -> torch.Tensor:
        parts = [(signatures - self.shift) / self.scale]
        if self.n_clinical:
            if clinical is None or clinical.shape[1] != self.n_clinical:
                got = 0 if clinical is None else clinical.shape[1]
                raise ValueError(f"This fusion head reads {self.n_clinical} clinical "
                                 f"factor(s); the batch has {got}.")
            parts.append(clinical.to(signatures.dtype))
        return self.layers(torch.cat(parts, dim=1))


def fit_signature_fusion(head: SignatureFusion, signatures: np.ndarray, clinical: np.ndarray,
                         y: np.ndarray, *, alpha: float = 1e-2, max_iter: int = 200,
                         seed: int = 0) -> SignatureFusion:
    """Train ``head`` alone, full batch, on given signatures and factors.

    Minimises the mean cross-entropy plus ``alpha / 2`` times the squared norm of
    the weights (not the biases) with L-BFGS (strong Wolfe line search), after
    setting the standardisation buffers to the signatures' mean and SD.  With
    ``hidden=0`` this is an L2-penalised multinomial logistic regression on the
    standardised signatures and the factors.

    Parameters
    ----------
    head : SignatureFusion
    signatures : ndarray of shape (n, n_signatures)
    clinical : ndarray of shape (n, n_clinical)
    y : ndarray of int of shape (n,)
    alpha : float, default=1e-2
    max_iter : int, default=200
    seed : int, default=0
        Seeds the initial weights (matters only with hidden units).

    Returns
    -------
    SignatureFusion
        ``head``, trained, in eval mode.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> s = rng.normal(size=(200, 1)); y = (s[:, 0] + rng.logistic(size=200) > 0).astype(int)
    >>> head = fit_signature_fusion(SignatureFusion(1, 0, 2), s, np.zeros((200, 0)), y)
    >>> w = head.layers[0].weight.detach()
    >>> bool(w[1, 0] - w[0, 0] > 0)
    True
    """
    device = head.shift.device  # the head may live on a GPU with its network
    sig = torch.as_tensor(np.asarray(signatures, dtype=np.float32), device=device)
    clin = torch.as_tensor(np.asarray(clinical, dtype=np.float32), device=device)
    target = torch.as_tensor(np.asarray(y, dtype=np.int64), device=device)
    with torch.no_grad():
        head.shift.copy_(sig.mean(dim=0))
        head.scale.copy_(sig.std(dim=0).clamp_min(1e-6) if len(sig) > 1 else
                         torch.ones(sig.shape[1], device=device))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in head.layers:
            if isinstance(module, nn.Linear):
                module.reset_parameters()
    weights = [p for n, p in head.named_parameters() if n.endswith("weight")]
    optimizer = torch.optim.LBFGS(head.parameters(), lr=1.0, max_iter=max_iter,
                                  line_search_fn="strong_wolfe")
    head.train()

    def closure():
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(head(sig, clin), target)
        loss = loss + 0.5 * alpha * sum((w ** 2).sum() for w in weights)
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    return head.eval()
