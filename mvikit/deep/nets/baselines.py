"""Baseline 3D networks compared with MD-Net (Table II of seed 000).

* ``CNN3DNet`` ("3DCNN"): the sequences stacked as input channels of one CNN.
* ``ConcatNet`` ("Concat", Nie et al. 2019): one CNN per sequence, features
  concatenated.
* ``LSTMNet`` ("LSTM", Men et al. 2019): one CNN per sequence; the per-sequence
  features are read in order by an LSTM whose last hidden state is classified.

Every CNN is MD-Net's `MRIOnlyModule`, so baselines differ from MD-Net only in how
sequences are fused.  ``n_clinical > 0`` adds *late* fusion: the clinical vector
passes one FC layer + ReLU and is concatenated to the image features before the
classifier.

Registered as ``"cnn3d"``, ``"concat"`` and ``"lstm"`` (clinical input: ``"late"``).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from ..layers import trunk_gradcam_layers
from ._registry import register_architecture
from .mdnet import MRIOnlyModule, _hidden

__all__ = ["CNN3DNet", "ConcatNet", "LSTMNet"]

Batch = Mapping[str, torch.Tensor]


class _LateFusionHead(nn.Module):
    """Classifier over image features, optionally concatenated with clinical ones."""

    def __init__(self, n_image: int, n_clinical: int, n_classes: int, width: float) -> None:
        super().__init__()
        self.clinical = None
        n_in = n_image
        if n_clinical:
            hidden = _hidden(width, 64)
            self.clinical = nn.Sequential(nn.Linear(n_clinical, hidden), nn.ReLU(inplace=True))
            n_in += hidden
        self.classifier = nn.Linear(n_in, n_classes)

    def forward(self, image: torch.Tensor,
                clinical: torch.Tensor | None) -> dict[str, torch.Tensor]:
        if self.clinical is not None:
            if clinical is None or clinical.shape[1] == 0:
                raise ValueError("This network was built with clinical late fusion and needs "
                                 "the clinical vector.")
            image = torch.cat([image, self.clinical(clinical)], dim=1)
        return {"logits": self.classifier(image), "embedding": image}


class CNN3DNet(nn.Module):
    """Sequences as channels of one 3D CNN ("3DCNN").

    Parameters
    ----------
    n_sequences : int
    n_classes : int
    n_clinical : int, default=0
        Clinical inputs for late fusion (0: images only).
    width : float, default=1.0
    feature_dim : int, default=None

    Notes
    -----
    Shapes: ``batch["volumes"] (B, S, D, H, W)`` [, ``batch["clinical"] (B, n_clinical)``]
    -> dict with
    ``logits (B, n_classes)`` and ``embedding (B, E)``.
    """

    def __init__(self, n_sequences: int, n_classes: int, n_clinical: int = 0,
                 width: float = 1.0, feature_dim: int | None = None) -> None:
        super().__init__()
        self.encoder = MRIOnlyModule(n_sequences, width, feature_dim)
        self.head = _LateFusionHead(self.encoder.feature_dim, n_clinical, n_classes, width)

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        return self.head(self.encoder(batch["volumes"]), batch.get("clinical"))


class _PerSequence(nn.Module):
    """One `MRIOnlyModule` per sequence: ``(B, S, D, H, W) -> (B, S, F)``."""

    def __init__(self, n_sequences: int, width: float, feature_dim: int | None) -> None:
        super().__init__()
        self.encoders = nn.ModuleList(MRIOnlyModule(1, width, feature_dim)
                                      for _ in range(n_sequences))
        self.feature_dim = self.encoders[0].feature_dim

    def forward(self, volumes: torch.Tensor) -> torch.Tensor:
        return torch.stack([enc(volumes[:, i:i + 1]) for i, enc in enumerate(self.encoders)],
                           dim=1)


class ConcatNet(nn.Module):
    """One CNN per sequence, features concatenated ("Concat").

    Parameters and shapes as `CNN3DNet`.
    """

    def __init__(self, n_sequences: int, n_classes: int, n_clinical: int = 0,
                 width: float = 1.0, feature_dim: int | None = None) -> None:
        super().__init__()
        self.encoders = _PerSequence(n_sequences, width, feature_dim)
        self.head = _LateFusionHead(n_sequences * self.encoders.feature_dim, n_clinical,
                                    n_classes, width)

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        return self.head(self.encoders(batch["volumes"]).flatten(1), batch.get("clinical"))


class LSTMNet(nn.Module):
    """One CNN per sequence, an LSTM over the sequence axis ("LSTM").

    Parameters and shapes as `CNN3DNet`; the LSTM's hidden size is
    ``feature_dim // 2``.
    """

    def __init__(self, n_sequences: int, n_classes: int, n_clinical: int = 0,
                 width: float = 1.0, feature_dim: int | None = None) -> None:
        super().__init__()
        self.encoders = _PerSequence(n_sequences, width, feature_dim)
        hidden = max(1, self.encoders.feature_dim // 2)
        self.lstm = nn.LSTM(self.encoders.feature_dim, hidden, batch_first=True)
        self.head = _LateFusionHead(hidden, n_clinical, n_classes, width)

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        _, (last_hidden, _) = self.lstm(self.encoders(batch["volumes"]))
        return self.head(last_hidden[-1], batch.get("clinical"))


def _builder(net: type[nn.Module]):
    def build(*, n_sequences: int, n_outputs: int, n_clinical: int = 0, width: float = 1.0,
              feature_dim: int | None = None) -> nn.Module:
        return net(n_sequences, n_outputs, n_clinical, width, feature_dim)
    build.__doc__ = f"Build `{net.__name__}` (the register's keyword signature)."
    return build


for _name, _net, _text in [
        ("cnn3d", CNN3DNet, "3DCNN: sequences as channels of one 3D CNN (MD-Net Table II)"),
        ("concat", ConcatNet, "Concat: one 3D CNN per sequence, features concatenated"),
        ("lstm", LSTMNet, "LSTM: one 3D CNN per sequence, an LSTM over the sequences")]:
    register_architecture(_name, _builder(_net), clinical="late", input_kind="cube",
                          spatial_dims=3, gradcam_layers=trunk_gradcam_layers,
                          options={"feature_dim": None}, description=_text)
