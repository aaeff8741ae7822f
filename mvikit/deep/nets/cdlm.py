"""CDLM (seed 003): one 2D ResNet18 per phase -> per-phase DL signatures -> FC fusion.

Each phase (CT: plain, arterial, portal venous; MRI: five sequences) enters its
own ResNet18 (`resnet18_trunk`, MONAI, torchvision's layout) as the three
contiguous axial slices of largest tumour area stacked as the three input
channels (the ``"slices"`` input kind).  A linear layer per phase turns the
pooled features into that phase's class logits; the *DL signature* of the
phase is their log-odds (`signature_values`).  `SignatureFusion` integrates the
signatures with the clinical and radiological factors (the ``clinical`` batch
entry, already reduced by the estimator to the selected factors).

Outputs: ``logits`` (fusion), ``embedding`` (the concatenated pooled features of
the phases), ``signatures`` ``(B, S * max(K - 1, 1))`` and ``phase_logits``
``(B, S, K)``.  `mvikit.deep.CDLMClassifier` trains it as the paper does (the
per-phase networks first, then the fusion head on out-of-fold signatures) or end
to end; `VolumeNetClassifier("cdlm")` trains it end to end on the fused logits.

Registered as ``"cdlm"`` (clinical input: ``"late"``).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from ..layers.signature_fusion import SignatureFusion, signature_values
from ._registry import register_architecture
from .resnet2d import resnet18_trunk

__all__ = ["CDLMNet"]


class CDLMNet(nn.Module):
    """Per-phase ResNet18 signatures fused with clinical factors (seed 003, Sec. 2.5).

    Parameters
    ----------
    n_sequences : int
        Phases.
    n_outputs : int
    n_clinical : int, default=0
        Clinical/radiological factors read by the fusion head.
    n_slices : int, default=3
        Slices per phase (the trunk's input channels).
    width : float, default=1.0
        MONAI's ``widen_factor`` of every trunk.
    fusion_hidden : int, default=0
        Hidden units of the fusion head (0: one linear layer).

    Examples
    --------
    >>> import torch
    >>> net = CDLMNet(3, 2, n_clinical=2, width=0.125)
    >>> out = net({"volumes": torch.randn(4, 3, 3, 32, 32), "clinical": torch.randn(4, 2)})
    >>> out["logits"].shape, out["signatures"].shape, out["phase_logits"].shape
    (torch.Size([4, 2]), torch.Size([4, 3]), torch.Size([4, 3, 2]))
    """

    def __init__(self, n_sequences: int, n_outputs: int, n_clinical: int = 0,
                 n_slices: int = 3, width: float = 1.0, fusion_hidden: int = 0) -> None:
        super().__init__()
        self.encoders = nn.ModuleList(resnet18_trunk(n_slices, width)
                                      for _ in range(n_sequences))
        features = self.encoders[0].layer4[-1].bn2.num_features
        self.signature_heads = nn.ModuleList(nn.Linear(features, n_outputs)
                                             for _ in range(n_sequences))
        per_phase = max(n_outputs - 1, 1)
        self.fusion = SignatureFusion(n_sequences * per_phase, n_clinical, n_outputs,
                                      fusion_hidden)

    def forward(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        slices = batch["volumes"]
        features = [encoder(slices[:, i]) for i, encoder in enumerate(self.encoders)]
        phase_logits = torch.stack([head(f) for head, f in zip(self.signature_heads, features)],
                                   dim=1)
        signatures = signature_values(phase_logits)
        return {"logits": self.fusion(signatures, batch.get("clinical")),
                "embedding": torch.cat(features, dim=1), "signatures": signatures,
                "phase_logits": phase_logits}


def _layer4(module: nn.Module, sequences: list[str]) -> dict[str, str]:
    return {s: f"encoders.{i}.layer4" for i, s in enumerate(sequences)}


def build_cdlm(*, n_sequences: int, n_outputs: int, n_clinical: int = 0, width: float = 1.0,
               n_slices: int = 3, fusion_hidden: int = 0) -> CDLMNet:
    """Build `CDLMNet` (the register's keyword signature)."""
    return CDLMNet(n_sequences, n_outputs, n_clinical, n_slices, width, fusion_hidden)


register_architecture(
    "cdlm", build_cdlm, clinical="late", input_kind="slices", spatial_dims=2,
    gradcam_layers=_layer4, options={"n_slices": 3, "fusion_hidden": 0},
    presets={"cpu": {"width": 0.25}, "demo": {"width": 0.125}},
    description="CDLM: 2D ResNet18 per phase -> DL signatures, FC fusion with clinical factors")
