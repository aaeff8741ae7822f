"""The architecture register: one name -> one builder and the facts the estimators need.

Every network mvikit trains is found here, so a new architecture is one file: a
module class, a builder with the shared keyword signature, and one
`register_architecture` call.  The estimators (`VolumeNetClassifier`,
`mvikit.survival.DeepCoxSurvival`), `gradcam`, `mdnet_ablation_models` and the
``architecture`` parameter read the register instead of lists of their own.

The module contract (checked on every forward pass by the trainers)::

    module(batch) -> {"logits": (B, n_outputs), "embedding": (B, E), ...}

``batch`` is a dict of tensors made by `mvikit.deep.CohortTensorizer`:
``"volumes"`` and ``"masks"`` ``(B, S, D, H, W)`` (for 2D input kinds ``D`` is
the stack of ``n_slices`` slices), ``"clinical"`` ``(B, C)`` and, for the
``"liver_tumor"`` input kind, ``"liver_volumes"`` and ``"liver_masks"``.  A Cox
model reads ``logits[:, 0]`` as the log-hazard.  Auxiliary outputs declared in
``auxiliary`` (e.g. ``"segmentation"``: ``(B, S or 1, D, H, W)`` logits of the
tumour mask) are trained by the multi-task scheme with the loss named there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from ...exceptions import MvikitError

__all__ = ["Architecture", "ArchitectureBuilder", "ArchitectureContractError",
           "get_architecture", "list_architectures", "register_architecture",
           "check_module_output", "build_record", "CLINICAL_ROLES", "INPUT_KINDS",
           "AUXILIARY_LOSSES"]

#: How an architecture reads the clinical vector: never ("none"), optionally by late
#: fusion ("late", with ``use_clinical=True``) or always ("required").
CLINICAL_ROLES = ("none", "late", "required")
#: What the cohort-to-tensor stage makes for it (see `CohortTensorizer`).
INPUT_KINDS = ("cube", "slices", "liver_tumor")
#: Losses of auxiliary outputs and the batch entry each is compared with.
AUXILIARY_LOSSES = {"dice_ce": "masks"}
#: Attribute of every module `Architecture.build` returns: ``{"architecture": name,
#: "kwargs": the builder's keyword arguments}``, so that a model file can rebuild the
#: network from the register and load its weights (`mvikit.study.save_model`).
BUILD_RECORD = "_mvikit_build"

GradCAMLayers = Callable[[nn.Module, list[str]], dict[str, str]]


class ArchitectureContractError(MvikitError, TypeError):
    """A registered module's output breaks the module contract (a missing key, a wrong
    shape), or a registration is malformed."""


@dataclass(frozen=True)
class Architecture:
    """A registered architecture: its builder and declared facts.

    Attributes
    ----------
    name : str
        The value of the estimators' ``architecture`` parameter.
    builder : callable
        ``builder(*, n_sequences, n_outputs, n_clinical, width, **options) -> nn.Module``.
    clinical : {"none", "late", "required"}
        How the module reads ``batch["clinical"]``.
    input_kind : {"cube", "slices", "liver_tumor"}
        The tensors the cohort-to-tensor stage makes for it.
    spatial_dims : {2, 3}
        2: the module convolves slices (``D`` of the batch is a channel-like stack).
    gradcam_layers : callable
        ``gradcam_layers(module, sequences) -> {sequence: module name}``, the layer
        whose output `gradcam` explains for each sequence.
    sequences : tuple of (int, int or None)
        Smallest and largest number of volume columns it accepts.
    auxiliary : dict of str to str
        Auxiliary outputs and their loss (a key of `AUXILIARY_LOSSES`).
    options : dict
        Default values of the builder's own keyword options.
    presets : dict of str to dict
        Per estimator preset (``"cpu"``, ``"paper"``...), settings that differ from
        the estimators' presets (e.g. ``{"cpu": {"slice_size": 64}}``).
    description : str
        One line for listings.
    """

    name: str
    builder: Callable[..., nn.Module]
    clinical: str
    input_kind: str
    spatial_dims: int
    gradcam_layers: GradCAMLayers
    sequences: tuple[int, int | None] = (1, None)
    auxiliary: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    description: str = ""

    def build(self, *, n_sequences: int, n_outputs: int, n_clinical: int = 0,
              width: float = 1.0, **options: Any) -> nn.Module:
        """Check the inputs against the declared facts and call the builder."""
        low, high = self.sequences
        if n_sequences < low or (high is not None and n_sequences > high):
            span = f"{low}" if low == high else f"{low} to {high if high else 'any number'}"
            about = f" ({self.description})" if self.description else ""
            raise ValueError(f"architecture {self.name!r}{about} takes {span} volume column(s); "
                             f"got {n_sequences}. Pass volumes=[...] with that many sequences.")
        if self.clinical == "none" and n_clinical:
            raise ValueError(f"architecture {self.name!r} reads images only: set "
                             "use_clinical=False, or choose an architecture with clinical "
                             f"input ({', '.join(list_architectures(clinical='late'))}).")
        if self.clinical == "required" and not n_clinical:
            raise ValueError(f"architecture {self.name!r} fuses clinical data into the network: "
                             "set use_clinical=True (and give clinical columns).")
        unknown = set(options) - set(self.options)
        if unknown:
            raise TypeError(f"architecture {self.name!r} has no option(s) {sorted(unknown)}; "
                            f"its options are {sorted(self.options)}.")
        kwargs = {"n_sequences": n_sequences, "n_outputs": n_outputs, "n_clinical": n_clinical,
                  "width": width, **self.options, **options}
        module = self.builder(**kwargs)
        object.__setattr__(module, BUILD_RECORD, {"architecture": self.name, "kwargs": kwargs})
        return module


def build_record(module: nn.Module) -> dict | None:
    """How `Architecture.build` made ``module``: ``{"architecture", "kwargs"}``, or None.

    Examples
    --------
    >>> from mvikit.deep.nets import build_record, get_architecture
    >>> net = get_architecture("cnn3d").build(n_sequences=2, n_outputs=2, width=0.0625)
    >>> build_record(net)["architecture"], build_record(net)["kwargs"]["n_sequences"]
    ('cnn3d', 2)
    """
    return getattr(module, BUILD_RECORD, None)


class ArchitectureBuilder:
    """``ArchitectureBuilder(name)(**kwargs)`` is ``get_architecture(name).build(**kwargs)``.

    A builder for skorch's callable components (MD-Net's ``teacher``) that pickles
    and that a model file stores as the architecture's name.

    Examples
    --------
    >>> from mvikit.deep.nets import ArchitectureBuilder
    >>> net = ArchitectureBuilder("cnn3d")(n_sequences=1, n_outputs=2, width=0.0625)
    >>> type(net).__name__
    'CNN3DNet'
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, **kwargs: Any) -> nn.Module:
        return get_architecture(self.name).build(**kwargs)

    def __repr__(self) -> str:
        return f"ArchitectureBuilder({self.name!r})"


_REGISTER: dict[str, Architecture] = {}


def register_architecture(name: str, builder: Callable[..., nn.Module], *, clinical: str,
                          input_kind: str = "cube", spatial_dims: int = 3,
                          gradcam_layers: GradCAMLayers, sequences=(1, None),
                          auxiliary: Mapping[str, str] | None = None,
                          options: Mapping[str, Any] | None = None,
                          presets: Mapping[str, Mapping[str, Any]] | None = None,
                          description: str = "", replace: bool = False) -> Architecture:
    """Register a network under ``name`` for every mvikit deep estimator.

    Parameters
    ----------
    name : str
        The ``architecture=`` value.
    builder : callable
        ``builder(*, n_sequences, n_outputs, n_clinical, width, **options)``
        returning an ``nn.Module`` whose ``forward(batch)`` returns a dict with
        ``"logits"`` and ``"embedding"`` (see the module docstring).
    clinical : {"none", "late", "required"}
        ``"late"``: ``n_clinical`` may be 0 (images only) or more.
    input_kind : {"cube", "slices", "liver_tumor"}, default="cube"
    spatial_dims : {2, 3}, default=3
    gradcam_layers : callable
        ``(module, sequences) -> {sequence: module name}``.
    sequences : tuple of (int, int or None), default=(1, None)
    auxiliary : dict, default=None
        ``{output name: loss name}`` of auxiliary outputs (``"dice_ce"``).
    options : dict, default=None
        The builder's own keyword options and their defaults.
    presets : dict, default=None
        Settings per estimator preset that differ from the estimators' presets.
    description : str, default=""
    replace : bool, default=False
        Allow replacing an architecture of the same name.

    Returns
    -------
    Architecture

    Examples
    --------
    >>> import torch
    >>> from mvikit.deep.nets import get_architecture, register_architecture
    >>> class Mean(torch.nn.Module):
    ...     def __init__(self, n_outputs):
    ...         super().__init__()
    ...         self.head = torch.nn.Linear(1, n_outputs)
    ...     def forward(self, batch):
    ...         embedding = batch["volumes"].mean(dim=(1, 2, 3, 4))[:, None]
    ...         return {"logits": self.head(embedding), "embedding": embedding}
    >>> spec = register_architecture(
    ...     "doc_mean", lambda *, n_sequences, n_outputs, n_clinical, width: Mean(n_outputs),
    ...     clinical="none", gradcam_layers=lambda module, sequences: {}, replace=True)
    >>> net = get_architecture("doc_mean").build(n_sequences=2, n_outputs=3)
    >>> net({"volumes": torch.zeros(4, 2, 2, 3, 3)})["logits"].shape
    torch.Size([4, 3])
    """
    if not isinstance(name, str) or not name:
        raise ArchitectureContractError(f"An architecture name is a non-empty str; got {name!r}.")
    if name in _REGISTER and not replace:
        raise ArchitectureContractError(
            f"architecture {name!r} is already registered; pass replace=True to replace it.")
    checks = {"clinical": (clinical, CLINICAL_ROLES), "input_kind": (input_kind, INPUT_KINDS),
              "spatial_dims": (spatial_dims, (2, 3))}
    for key, (value, allowed) in checks.items():
        if value not in allowed:
            raise ArchitectureContractError(f"register_architecture({name!r}): {key}={value!r} "
                                            f"is not one of {allowed}.")
    auxiliary = dict(auxiliary or {})
    unknown = {loss for loss in auxiliary.values() if loss not in AUXILIARY_LOSSES}
    if unknown:
        raise ArchitectureContractError(f"register_architecture({name!r}): auxiliary losses "
                                        f"{sorted(unknown)} unknown; use {list(AUXILIARY_LOSSES)}.")
    spec = Architecture(name=name, builder=builder, clinical=clinical, input_kind=input_kind,
                        spatial_dims=spatial_dims, gradcam_layers=gradcam_layers,
                        sequences=tuple(sequences), auxiliary=auxiliary,
                        options=dict(options or {}), presets=dict(presets or {}),
                        description=description)
    _REGISTER[name] = spec
    return spec


def _ensure_builtin() -> None:
    # the built-in architectures register themselves when their modules are imported
    from . import baselines, cdlm, cmir, dmmgnet, mdnet, mtnet, multitask, resnet2d  # noqa: F401


def get_architecture(name: str) -> Architecture:
    """The registered `Architecture` called ``name``.

    Raises
    ------
    ValueError
        Naming the registered architectures when ``name`` is not one of them.

    Examples
    --------
    >>> from mvikit.deep.nets import get_architecture
    >>> get_architecture("concat").input_kind
    'cube'
    """
    _ensure_builtin()
    try:
        return _REGISTER[name]
    except (KeyError, TypeError):
        raise ValueError(f"Unknown architecture {name!r}; registered: "
                         f"{', '.join(sorted(_REGISTER))}. Register your own with "
                         "mvikit.deep.nets.register_architecture.") from None


def list_architectures(**facts: Any) -> list[str]:
    """Names of the registered architectures, optionally those with given facts.

    Examples
    --------
    >>> from mvikit.deep.nets import list_architectures
    >>> "mdnet_teacher" in list_architectures(clinical="required")
    True
    >>> "resnet18_slices" in list_architectures(input_kind="slices", spatial_dims=2)
    True
    """
    _ensure_builtin()
    return sorted(name for name, spec in _REGISTER.items()
                  if all(getattr(spec, key) == value for key, value in facts.items()))


def check_module_output(output: Any, name: str, auxiliary: Mapping[str, str], batch_size: int,
                        n_outputs: int) -> None:
    """Raise `ArchitectureContractError` when ``output`` breaks the module contract.

    Parameters
    ----------
    output : object
        What ``module(batch)`` returned.
    name : str
        The architecture's name (for the message).
    auxiliary : dict
        Its declared auxiliary outputs.
    batch_size, n_outputs : int
        Expected ``logits`` shape.
    """
    if not isinstance(output, Mapping):
        raise ArchitectureContractError(
            f"architecture {name!r}: forward(batch) must return a dict with 'logits' and "
            f"'embedding'; got {type(output).__name__}.")
    required = ("logits", "embedding", *auxiliary)
    missing = [key for key in required if key not in output]
    if missing:
        raise ArchitectureContractError(
            f"architecture {name!r}: forward(batch) returned keys {sorted(output)}; missing "
            f"{missing}. Return {{'logits': (B, n_outputs), 'embedding': (B, E)"
            f"{''.join(f', {k!r}: ...' for k in auxiliary)}}}.")
    logits = output["logits"]
    if tuple(logits.shape) != (batch_size, n_outputs):
        raise ArchitectureContractError(
            f"architecture {name!r}: 'logits' has shape {tuple(logits.shape)}, expected "
            f"({batch_size}, {n_outputs}).")
    if output["embedding"].dim() != 2 or output["embedding"].shape[0] != batch_size:
        raise ArchitectureContractError(
            f"architecture {name!r}: 'embedding' has shape {tuple(output['embedding'].shape)}, "
            f"expected ({batch_size}, E).")
