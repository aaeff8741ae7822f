"""MD-Net: MRI-only and MRI-clinical-fusion modules, teacher and student networks.

Zhang et al., "Modality-Aware Distillation Network for Microvascular Invasion
Prediction of Hepatocellular Carcinoma From MRI Images", IEEE TBME 2025 (seed 000).

Layout used here (the paper leaves the placement of the SA module relative to the
pooling open): each sequence goes through four convolutional blocks; the two last
feature maps are refined by one `SymmetricAttention` (tokens = voxels of the maps);
each refined map is pooled (global average || global max) and, in the MRI-only
module, projected by one FC layer to the feature ``Z`` (512-d at ``width=1``).  The
per-sequence features ``Z_pre, Z_hbp`` are what feature-level distillation (eq. 5)
compares, and their concatenation ``Z`` (the "features after the SA module" of the
paper's t-SNE, Fig. 5) feeds the classifier and the clinical-regression head.
With one sequence there is nothing to attend to and SA is skipped.

Registered as ``"mdnet_student"`` (images only) and ``"mdnet_teacher"`` (clinical
input required).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from ..layers import (
    ClinicalGates,
    ConvTrunk3d,
    SymmetricAttention,
    channel_gate,
    global_avg_max_pool,
    scaled_channels,
    trunk_gradcam_layers,
)
from ._registry import register_architecture

__all__ = ["MRIOnlyModule", "MRIClinicalFusionModule", "TeacherNet", "StudentNet"]


def _hidden(width: float, base: int = 256) -> int:
    return scaled_channels((base,), width)[0]


class MRIOnlyModule(nn.Module):
    """MD-Net's MRI-only module (Fig. 3b): four conv blocks, pooling, one FC.

    Parameters
    ----------
    in_channels : int, default=1
    width : float, default=1.0
        Channel multiplier (channels 64/128/256/256 at 1).
    feature_dim : int, default=None
        Output size; ``None`` gives ``2 * last channels`` (512 at ``width=1``).

    Notes
    -----
    Shapes: ``feature_map``: ``(B, in_channels, D, H, W) -> (B, C4, D/16, H/16, W/16)``;
    ``embed``: ``(B, C4, d, h, w) -> (B, feature_dim)``; ``forward`` chains both.
    """

    def __init__(self, in_channels: int = 1, width: float = 1.0,
                 feature_dim: int | None = None) -> None:
        super().__init__()
        self.trunk = ConvTrunk3d(in_channels, width)
        pooled = 2 * self.trunk.out_channels
        self.feature_dim = pooled if feature_dim is None else feature_dim
        self.fc = nn.Linear(pooled, self.feature_dim)

    @property
    def map_channels(self) -> int:
        return self.trunk.out_channels

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x)

    def embed(self, feature_map: torch.Tensor) -> torch.Tensor:
        return self.fc(global_avg_max_pool(feature_map))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(self.feature_map(x))


class MRIClinicalFusionModule(nn.Module):
    """MD-Net's MRI-clinical-fusion module (Fig. 3a, eq. 1).

    The clinical vector passes through four FC layers (`ClinicalGates`); the k-th
    output multiplies, channel-wise, the feature map of the k-th conv block before it
    enters the next block.  The last gated map is pooled (average || max), giving
    ``2 * C4`` features (512 at ``width=1``, as in the paper); a linear projection is
    added only when another ``feature_dim`` is asked for.

    Parameters
    ----------
    n_clinical : int
        Length of the clinical vector.
    in_channels : int, default=1
    width : float, default=1.0
    feature_dim : int, default=None

    Notes
    -----
    Shapes: ``feature_map``: ``(B, in_channels, D, H, W), (B, n_clinical) -> (B, C4, d, h, w)``;
    ``embed``: ``(B, C4, d, h, w) -> (B, feature_dim)``.
    """

    def __init__(self, n_clinical: int, in_channels: int = 1, width: float = 1.0,
                 feature_dim: int | None = None) -> None:
        super().__init__()
        self.trunk = ConvTrunk3d(in_channels, width)
        self.gates = ClinicalGates(n_clinical, self.trunk.channels)
        pooled = 2 * self.trunk.out_channels
        self.feature_dim = pooled if feature_dim is None else feature_dim
        self.projection = None if self.feature_dim == pooled else nn.Linear(pooled,
                                                                            self.feature_dim)

    @property
    def map_channels(self) -> int:
        return self.trunk.out_channels

    def feature_map(self, x: torch.Tensor, clinical: torch.Tensor) -> torch.Tensor:
        for block, gate in zip(self.trunk.blocks, self.gates(clinical)):
            x = channel_gate(block(x), gate)  # eq. (1)
        return x

    def embed(self, feature_map: torch.Tensor) -> torch.Tensor:
        pooled = global_avg_max_pool(feature_map)
        return pooled if self.projection is None else self.projection(pooled)

    def forward(self, x: torch.Tensor, clinical: torch.Tensor) -> torch.Tensor:
        return self.embed(self.feature_map(x, clinical))


def _check_sequences(n_sequences: int) -> None:
    if n_sequences not in (1, 2):
        raise ValueError(f"MD-Net takes one or two sequences (e.g. PRE and HBP); got "
                         f"{n_sequences}. Pass two volume columns, as in the paper.")


def _sequence_features(maps: list[torch.Tensor], encoders: nn.ModuleList,
                       attention: SymmetricAttention | None) -> torch.Tensor:
    """Refine the maps with SA (two sequences) and embed each: ``(B, S, F)``."""
    if attention is not None:
        maps = list(attention(maps[0], maps[1]))
    return torch.stack([enc.embed(m) for enc, m in zip(encoders, maps)], dim=1)


class StudentNet(nn.Module):
    """MD-Net's student: MRI-only modules + SA + FC, and a clinical-regression head.

    Parameters
    ----------
    n_sequences : int, default=2
        1 or 2 (PRE and HBP in the paper).
    n_classes : int, default=3
    n_clinical_targets : int, default=0
        Outputs of the clinical-regression head (Sec. III-D, two FC layers);
        0 disables the head.
    width : float, default=1.0
    feature_dim : int, default=None
        Per-sequence feature size (512 at ``width=1``).

    Notes
    -----
    Shapes: ``batch["volumes"] (B, S, D, H, W)`` -> dict with ``logits (B, n_classes)``,
    ``features (B, S, F)``, ``embedding (B, S*F)`` and, with a head,
    ``clinical (B, n_clinical_targets)``.  Other batch entries are ignored: the
    student sees images only.
    """

    def __init__(self, n_sequences: int = 2, n_classes: int = 3, n_clinical_targets: int = 0,
                 width: float = 1.0, feature_dim: int | None = None) -> None:
        super().__init__()
        _check_sequences(n_sequences)
        self.encoders = nn.ModuleList(MRIOnlyModule(1, width, feature_dim)
                                      for _ in range(n_sequences))
        channels, features = self.encoders[0].map_channels, self.encoders[0].feature_dim
        self.attention = SymmetricAttention(channels) if n_sequences == 2 else None
        self.classifier = nn.Linear(n_sequences * features, n_classes)
        self.clinical_head = None
        if n_clinical_targets:
            hidden = _hidden(width)
            self.clinical_head = nn.Sequential(
                nn.Linear(n_sequences * features, hidden), nn.ReLU(inplace=True),
                nn.Linear(hidden, n_clinical_targets))

    def forward(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        volumes = batch["volumes"]
        maps = [enc.feature_map(volumes[:, i:i + 1]) for i, enc in enumerate(self.encoders)]
        features = _sequence_features(maps, self.encoders, self.attention)
        embedding = features.flatten(1)
        out = {"logits": self.classifier(embedding), "features": features,
               "embedding": embedding}
        if self.clinical_head is not None:
            out["clinical"] = self.clinical_head(embedding)
        return out


class TeacherNet(nn.Module):
    """MD-Net's teacher: MRI-clinical-fusion modules + SA + two FC layers.

    Parameters
    ----------
    n_clinical : int
        Length of the preprocessed clinical vector.
    n_sequences : int, default=2
    n_classes : int, default=3
    width : float, default=1.0
    feature_dim : int, default=None

    Notes
    -----
    Shapes: ``batch["volumes"] (B, S, D, H, W), batch["clinical"] (B, n_clinical)`` -> dict
    with
    ``logits (B, n_classes)``, ``features (B, S, F)``, ``embedding (B, S*F)``.
    """

    def __init__(self, n_clinical: int, n_sequences: int = 2, n_classes: int = 3,
                 width: float = 1.0, feature_dim: int | None = None) -> None:
        super().__init__()
        _check_sequences(n_sequences)
        self.encoders = nn.ModuleList(MRIClinicalFusionModule(n_clinical, 1, width, feature_dim)
                                      for _ in range(n_sequences))
        channels, features = self.encoders[0].map_channels, self.encoders[0].feature_dim
        self.attention = SymmetricAttention(channels) if n_sequences == 2 else None
        hidden = _hidden(width)
        self.classifier = nn.Sequential(
            nn.Linear(n_sequences * features, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, n_classes))

    def forward(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        volumes, clinical = batch["volumes"], batch.get("clinical")
        if clinical is None or clinical.shape[1] == 0:
            raise ValueError("The MD-Net teacher needs the clinical vector.")
        maps = [enc.feature_map(volumes[:, i:i + 1], clinical)
                for i, enc in enumerate(self.encoders)]
        features = _sequence_features(maps, self.encoders, self.attention)
        embedding = features.flatten(1)
        return {"logits": self.classifier(embedding), "features": features,
                "embedding": embedding}


def build_student(*, n_sequences: int, n_outputs: int, n_clinical: int = 0, width: float = 1.0,
                  n_clinical_targets: int = 0, feature_dim: int | None = None) -> StudentNet:
    """Build `StudentNet` (the register's keyword signature)."""
    return StudentNet(n_sequences, n_outputs, n_clinical_targets, width, feature_dim)


def build_teacher(*, n_sequences: int, n_outputs: int, n_clinical: int, width: float = 1.0,
                  feature_dim: int | None = None) -> TeacherNet:
    """Build `TeacherNet` (the register's keyword signature)."""
    return TeacherNet(n_clinical, n_sequences, n_outputs, width, feature_dim)


register_architecture(
    "mdnet_student", build_student, clinical="none", input_kind="cube", spatial_dims=3,
    gradcam_layers=trunk_gradcam_layers, sequences=(1, 2),
    options={"n_clinical_targets": 0, "feature_dim": None},
    description="MD-Net student: MRI-only modules + symmetric attention (seed 000)")
register_architecture(
    "mdnet_teacher", build_teacher, clinical="required", input_kind="cube", spatial_dims=3,
    gradcam_layers=trunk_gradcam_layers, sequences=(1, 2), options={"feature_dim": None},
    description="MD-Net teacher: MRI-clinical-fusion modules (eq. 1) + symmetric attention")
