"""A toy sixth architecture, defined and registered in this one file (outside the package).

The register test imports it by path and uses it in VolumeNetClassifier, DeepCoxSurvival,
gradcam and compare_models; nothing else in mvikit knows about it.
"""

from __future__ import annotations

import torch
from torch import nn

from mvikit.deep.nets import register_architecture


class ToyNet(nn.Module):
    """One 3x3x3 convolution per sequence, global average pooling, a linear head."""

    def __init__(self, n_sequences: int, n_outputs: int, n_clinical: int, channels: int):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv3d(1, channels, 3, padding=1)
                                   for _ in range(n_sequences))
        self.head = nn.Linear(n_sequences * channels + n_clinical, n_outputs)

    def forward(self, batch):
        volumes = batch["volumes"]
        maps = [torch.relu(conv(volumes[:, i:i + 1])) for i, conv in enumerate(self.convs)]
        embedding = torch.cat([m.mean(dim=(2, 3, 4)) for m in maps], dim=1)
        clinical = batch.get("clinical")
        features = embedding if clinical is None else torch.cat([embedding, clinical], dim=1)
        return {"logits": self.head(features), "embedding": embedding}


def build_toy(*, n_sequences, n_outputs, n_clinical=0, width=1.0, channels=4):
    return ToyNet(n_sequences, n_outputs, n_clinical, max(1, round(channels * width)))


def toy_gradcam_layers(module, sequences):
    return {s: f"convs.{i}" for i, s in enumerate(sequences)}


register_architecture("toy_sixth", build_toy, clinical="late", input_kind="cube",
                      spatial_dims=3, gradcam_layers=toy_gradcam_layers,
                      options={"channels": 4}, replace=True,
                      description="a test architecture registered outside the package")
