"""Symmetric attention between two feature maps (eqs. 2-3 of MD-Net)."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["SymmetricAttention"]


class SymmetricAttention(nn.Module):
    """Refine two feature maps with each other's context (MD-Net, Sec. III-C).

    Token layout: every voxel of a feature map ``(B, C, D, H, W)`` is one token, a
    ``C``-vector, so a map gives ``N = D*H*W`` tokens.  With ``Q, K, V`` linear maps of
    the tokens (shared by the two inputs, which is what makes the module
    symmetric: ``SA(Y, X)`` is ``SA(X, Y)`` with its two outputs swapped)::

        X_hat = softmax(Q_x K_x^T / sqrt(d)) V_x + softmax(Q_x K_y^T / sqrt(d)) V_y   (eq. 2)
        Y_hat = softmax(Q_y K_x^T / sqrt(d)) V_x + softmax(Q_y K_y^T / sqrt(d)) V_y   (eq. 3)

    The paper writes the products without scaling or normalisation; here each
    score map is scaled by ``1/sqrt(d)`` and normalised by a softmax over its keys,
    as in the self-attention frameworks it builds on (Vaswani et al. 2017, Wang et
    al. 2018), so each of the two terms is an average of value tokens.  With
    ``residual=True`` (default) the input is added back (``X + X_hat``), so the
    module refines rather than replaces; ``residual=False`` is eqs. 2-3 alone.

    Parameters
    ----------
    channels : int
        ``C`` of both inputs.
    key_channels : int, default=None
        ``d``, the size of queries and keys; ``None`` uses ``max(1, channels // 2)``.
    residual : bool, default=True
        Add the input to the attention output.

    Notes
    -----
    Shapes: ``(B, C, D1, H1, W1), (B, C, D2, H2, W2) -> same two shapes``.

    Examples
    --------
    >>> import torch
    >>> sa = SymmetricAttention(4).eval()
    >>> x, y = torch.randn(2, 4, 1, 2, 2), torch.randn(2, 4, 1, 2, 2)
    >>> x_hat, y_hat = sa(x, y)
    >>> y_swap, x_swap = sa(y, x)
    >>> bool(torch.allclose(x_hat, x_swap)) and bool(torch.allclose(y_hat, y_swap))
    True
    """

    def __init__(self, channels: int, key_channels: int | None = None,
                 residual: bool = True) -> None:
        super().__init__()
        key_channels = max(1, channels // 2) if key_channels is None else key_channels
        self.query = nn.Linear(channels, key_channels)
        # a key bias adds the same score to every key of a query, which the softmax
        # cancels: it would be a parameter without gradient
        self.key = nn.Linear(channels, key_channels, bias=False)
        self.value = nn.Linear(channels, channels)
        self.scale = 1.0 / math.sqrt(key_channels)
        self.residual = residual

    def _attend(self, queries: torch.Tensor, keys: torch.Tensor,
                values: torch.Tensor) -> torch.Tensor:
        scores = torch.softmax(queries @ keys.transpose(1, 2) * self.scale, dim=-1)
        return scores @ values

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tokens_x = x.flatten(2).transpose(1, 2)  # (B, N_x, C)
        tokens_y = y.flatten(2).transpose(1, 2)  # (B, N_y, C)
        q_x, k_x, v_x = self.query(tokens_x), self.key(tokens_x), self.value(tokens_x)
        q_y, k_y, v_y = self.query(tokens_y), self.key(tokens_y), self.value(tokens_y)
        x_hat = self._attend(q_x, k_x, v_x) + self._attend(q_x, k_y, v_y)  # eq. (2)
        y_hat = self._attend(q_y, k_x, v_x) + self._attend(q_y, k_y, v_y)  # eq. (3)
        x_hat = x_hat.transpose(1, 2).reshape(x.shape)
        y_hat = y_hat.transpose(1, 2).reshape(y.shape)
        if self.residual:
            return x + x_hat, y + y_hat
        return x_hat, y_hat
