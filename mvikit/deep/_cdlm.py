"""`CDLMClassifier`: the combined deep-learning model of seed 003 (CE-CT vs EOB-MRI).

Seed 003, Sec. 2.5: per phase a ResNet18 on the three contiguous axial slices of
largest tumour area produces a single-phase "DL signature"; fully connected layers
integrate the signatures with the clinical and radiological factors chosen by
univariable then multivariable logistic regression.  Here everything that learns
from labels runs inside ``fit``, so under cross-validation it is repeated on every
training fold:

1. factor selection: `mvikit.preprocessing.ClinicalPreprocessor` then
   `mvikit.clinical.StepwiseSelector` (univariable screen, backward Wald
   elimination) on the training rows;
2. the per-phase networks (``"cdlm"`` architecture, one independent ResNet18 and
   linear signature layer per phase, each trained on its own cross-entropy);
3. the fusion head (`SignatureFusion`), trained on *out-of-fold* signatures:
   ``inner_cv`` inner folds each train the per-phase networks on the other inner
   folds and give the signatures of their own rows; the final per-phase networks
   are then trained on all training rows and the head, fitted on the out-of-fold
   signatures, is put on top of them (cross-fitting, so the head never weighs
   signatures of patients the networks memorised).

``training="end_to_end"`` trains networks and head together instead (fusion
cross-entropy plus ``signature_weight`` times the mean per-phase cross-entropy).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted
from skorch.utils import to_tensor

from ..exceptions import MvikitError
from ..utils._roles import check_cohort_frame, resolve_columns
from ..utils._validation import Integral, Interval, Real, StrOptions, fit_context
from ._base import DeepCohortClassifier, _seed
from ._tensorizer import CohortTensorizer
from ._trainers import CohortTrainer, FocalCriterion
from .layers.signature_fusion import fit_signature_fusion
from .nets._registry import Architecture, get_architecture

__all__ = ["CDLMClassifier", "CDLM_PHASES", "PretrainedWeightsError", "load_resnet18_weights"]

#: The phases of each modality, in the seed's order.  CT: plain, arterial and portal
#: venous phases.  MRI: the paper's five EOB-MRI sequences are arterial, portal venous,
#: transitional phase, T2WI and hepatobiliary phase; the simulator has no
#: transitional phase, and its T1 pre-contrast sequence ``"PRE"`` takes that place.
CDLM_PHASES: dict[str, tuple[str, ...]] = {
    "ct": ("CT_PLAIN", "CT_AP", "CT_PV"),
    "mri": ("AP", "PV", "PRE", "T2", "HBP"),
}

#: torchvision's ResNet18 keys absent from the trunk (the ImageNet classifier).
_TORCHVISION_HEAD = ("fc.weight", "fc.bias")
_LAYOUT_HINT = ("torchvision's ResNet18 layout: the keys of "
                "torchvision.models.resnet18().state_dict() ('conv1.weight', 'bn1.weight', ..., "
                "'layer1.0.conv1.weight', ..., 'layer4.1.bn2.running_var', optionally 'fc.weight' "
                "and 'fc.bias'), with its shapes (3 input channels, width=1)")


class PretrainedWeightsError(MvikitError, ValueError):
    """A ``pretrained_weights`` file is not a ResNet18 state dict in torchvision's layout."""


def load_resnet18_weights(path, trunk: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Read a torchvision-layout ResNet18 state dict and check it against ``trunk``.

    Nothing is downloaded: ``path`` is a local file written by ``torch.save`` (e.g.
    of ``torchvision.models.resnet18(weights="IMAGENET1K_V1").state_dict()``).

    Parameters
    ----------
    path : str or path-like
    trunk : torch.nn.Module
        The ResNet18 trunk the weights are meant for (`resnet18_trunk`).

    Returns
    -------
    dict of str to Tensor
        The state dict without the classification layer (``fc.*``).

    Raises
    ------
    PretrainedWeightsError
        Naming the first key (in the file's order) that is not in the layout, else
        the first key of the layout the file lacks, else the first key whose shape
        differs, and the expected layout.
    """
    path = Path(path)
    if not path.is_file():
        raise PretrainedWeightsError(f"pretrained_weights={str(path)!r} is not a file. Save a "
                                     f"state dict with torch.save in {_LAYOUT_HINT}.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # unpickling errors have many types
        raise PretrainedWeightsError(f"{str(path)!r} could not be read as a torch state dict "
                                     f"({error}). Expected {_LAYOUT_HINT}.") from None
    if not isinstance(state, Mapping):
        raise PretrainedWeightsError(f"{str(path)!r} holds a {type(state).__name__}, not a "
                                     f"state dict. Expected {_LAYOUT_HINT}.")
    expected = trunk.state_dict()
    state = {k: v for k, v in state.items() if k not in _TORCHVISION_HEAD}
    unknown = [k for k in state if k not in expected]
    if unknown:
        raise PretrainedWeightsError(
            f"{str(path)!r}: key {unknown[0]!r} is not in the expected layout "
            f"({len(unknown)} such key(s)). Expected {_LAYOUT_HINT}.")
    # torchvision's older checkpoints have no BatchNorm counters
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    if missing:
        raise PretrainedWeightsError(f"{str(path)!r} lacks key {missing[0]!r} ({len(missing)} "
                                     f"missing). Expected {_LAYOUT_HINT}.")
    for key, value in state.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise PretrainedWeightsError(
                f"{str(path)!r}: key {key!r} has shape {tuple(value.shape)}, the network "
                f"{tuple(expected[key].shape)}. ImageNet weights fit width=1 and n_slices=3; "
                f"expected {_LAYOUT_HINT}.")
    return state


class CDLMTrainer(CohortTrainer):
    """`CohortTrainer` for CDLM's two stages (internal).

    ``stage="signatures"``: the sum over phases of each phase's loss on its own
    logits (the phases' parameters are disjoint, so this trains each phase's
    network on its own loss); ``stage="end_to_end"``: the fusion loss plus
    ``signature_weight`` times the mean phase loss.
    """

    def __init__(self, module, criterion, *args, stage: str = "signatures",
                 signature_weight: float = 1.0, **kwargs) -> None:
        super().__init__(module, criterion, *args, **kwargs)
        self.stage = stage
        self.signature_weight = signature_weight

    def get_loss(self, y_pred, y_true, X=None, training=False):
        target = to_tensor(y_true, device=self.device)
        phase_logits = y_pred["phase_logits"]
        phase_loss = sum(self.criterion_(phase_logits[:, s], target)
                         for s in range(phase_logits.shape[1]))
        if self.stage == "signatures":
            return self.check_finite(phase_loss)
        fusion = self.criterion_(y_pred["logits"], target)
        if training:
            self.history.record_batch("loss_fusion", float(fusion.detach()))
        return self.check_finite(fusion + self.signature_weight * phase_loss
                                 / phase_logits.shape[1])


class CDLMClassifier(DeepCohortClassifier):
    """CDLM: per-phase 2D ResNet18 DL signatures fused with selected clinical factors.

    Seed 003's combined deep-learning model (Sec. 2.5; CDLM-CE-CT and
    CDLM-EOB-MRI of Table 3) for a binary target (MVI).  Per phase, the three
    contiguous axial slices of largest tumour area (a square box containing the
    whole tumour, resized to ``slice_size``) are the three input channels of a 2D
    ResNet18 (MONAI, torchvision's layout) whose linear output is the phase's DL
    signature; fully connected layers fuse the signatures with the clinical and
    radiological factors selected, on the training rows, by univariable then
    multivariable logistic regression.

    Parameters
    ----------
    training : {"cross_fit", "end_to_end"}, default="cross_fit"
        ``"cross_fit"`` (the paper's order): the per-phase networks first, then
        the fusion head on out-of-fold signatures (``inner_cv`` inner folds).
        ``"end_to_end"``: networks and fusion head trained together.
    inner_cv : int, default=3
        Inner folds of the cross-fitting (stratified; fewer when a class has fewer
        patients).  Costs ``inner_cv`` extra trainings of the per-phase networks.
    factors : {"select", "all"} or None, default="select"
        Clinical/radiological factors of the fusion head, among the ``clinical``
        columns: ``"select"``: chosen by `mvikit.clinical.StepwiseSelector`
        (``selection``, ``alpha_enter``, ``alpha_remove``) on the training rows
        (none when nothing passes); ``"all"``: every one; None: signatures only
        (the "fusion DL model" of Table 3).
    selection : {"backward", "forward", "both", "univariable"}, default="backward"
        Multivariable step after the univariable screen.
    alpha_enter, alpha_remove : float, default=0.05
        Screen/entry and removal p-values of the selection (Wald tests).
    fusion_hidden : int, default=0
        Hidden units of the fusion head; 0 is one fully connected layer (a
        logistic model on the standardised signatures and the factors).
    fusion_alpha : float, default=0.01
        L2 penalty of the fusion head's weights (``training="cross_fit"``).
    signature_weight : float, default=1.0
        Weight of the mean per-phase loss with ``training="end_to_end"``.
    pretrained_weights : str, path-like or None, default=None
        A local file holding a ResNet18 state dict in torchvision's layout (e.g.
        ImageNet weights saved with ``torch.save``), loaded into every phase's
        trunk before training; needs ``width=1`` and ``n_slices=3``.  None:
        random initialisation.  Nothing is ever downloaded.
    class_weight : "balanced", dict or None, default=None
        Class weights of the networks' losses.
    volumes : "auto", str or list of str, default="auto"
        The phases (volume columns), e.g. ``CDLM_PHASES["ct"]`` (``CT_PLAIN``,
        ``CT_AP``, ``CT_PV``) or ``CDLM_PHASES["mri"]``.
    clinical : "auto", list of str or None, default="auto"
        Candidate clinical and radiological factors.
    masks, cube, downsample, crop_size, n_slices, slice_size, width, max_epochs, \
batch_size, lr, preset, lr_step, lr_gamma, weight_decay, augment, normalize, \
device, precision, random_state, verbose
        As `VolumeNetClassifier` (``cube``, ``downsample`` and ``crop_size`` are
        not used by slice inputs).  Presets for ``"cdlm"``: ``"cpu"``: 64x64
        slices (the simulated tumour box is about that size at native
        resolution), width 0.25, 10 epochs, lr 1e-3; ``"paper"``: 224x224, width 1
        (ResNet18 itself), 80 epochs, batch 16, Adam 3e-4 (the paper states
        neither epochs nor optimiser; these are mvikit's paper-size defaults).

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    selected_factors_ : list of str
        Clinical columns read by the fusion head.
    factor_selector_ : StepwiseSelector or None
        The fitted selection (``factors="select"``), with ``univariable_summary_``
        and ``selection_path_``.
    oof_signatures_ : pandas.DataFrame or None
        Out-of-fold signatures of the training rows, the fusion head's input
        (``training="cross_fit"``).
    signature_columns_ : list of str
        Names of the signature columns (one per phase).
    net_ : skorch.NeuralNet
        The per-phase networks and the fusion head (``net_.module_``).
    tensorizer_, settings_, volume_columns_, mask_columns_, clinical_columns_, \
clinical_preprocessor_, n_features_in_, feature_names_in_
        As `VolumeNetClassifier`.

    See Also
    --------
    cdlm_models : Table 3's models for `compare_models`.
    VolumeNetClassifier : ``"resnet18_slices"`` is one phase's signature network.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mvikit import Volume
    >>> from mvikit.deep import CDLMClassifier
    >>> rng = np.random.default_rng(0)
    >>> mask = np.zeros((8, 16, 16), np.uint8); mask[2:6, 5:11, 5:11] = 1
    >>> y = np.array([0, 1] * 8)
    >>> X = pd.DataFrame({
    ...     "afp": rng.normal(size=16) + 1.5 * y, "age": rng.normal(size=16),
    ...     "CT_AP": [Volume(rng.normal(size=(8, 16, 16))) for _ in range(16)],
    ...     "CT_PV": [Volume(rng.normal(size=(8, 16, 16))) for _ in range(16)],
    ...     "tumor_mask": [Volume(mask)] * 16}, index=[f"p{i}" for i in range(16)])
    >>> clf = CDLMClassifier(slice_size=16, width=0.0625, max_epochs=1, batch_size=4,
    ...                      inner_cv=2, random_state=0).fit(X, y)
    >>> clf.selected_factors_, clf.signature_columns_
    (['afp'], ['CT_AP', 'CT_PV'])
    >>> clf.predict_proba(X).shape, clf.signatures(X).shape
    ((16, 2), (16, 2))
    """

    _parameter_constraints: dict = {
        **DeepCohortClassifier._parameter_constraints,
        "training": [StrOptions({"cross_fit", "end_to_end"})],
        "inner_cv": [Interval(Integral, 2, None, closed="left")],
        "factors": [StrOptions({"select", "all"}), None],
        "selection": [StrOptions({"backward", "forward", "both", "univariable"})],
        "alpha_enter": [Interval(Real, 0, 1, closed="right")],
        "alpha_remove": [Interval(Real, 0, 1, closed="right")],
        "fusion_hidden": [Interval(Integral, 0, None, closed="left")],
        "fusion_alpha": [Interval(Real, 0, None, closed="left")],
        "signature_weight": [Interval(Real, 0, None, closed="left")],
        "pretrained_weights": [str, Path, None],
    }

    def __init__(self, *, training="cross_fit", inner_cv=3, factors="select",
                 selection="backward", alpha_enter=0.05, alpha_remove=0.05, fusion_hidden=0,
                 fusion_alpha=0.01, signature_weight=1.0, pretrained_weights=None,
                 class_weight=None, volumes="auto", clinical="auto", masks="auto", cube=None,
                 downsample=None, crop_size=None, n_slices=None, slice_size=None, width=None,
                 max_epochs=None, batch_size=None, lr=None, preset="cpu", lr_step=2,
                 lr_gamma=0.9, weight_decay=0.0, augment=True, normalize="zscore",
                 device="cpu", precision="float32", random_state=None, verbose=0):
        self.training = training
        self.inner_cv = inner_cv
        self.factors = factors
        self.selection = selection
        self.alpha_enter = alpha_enter
        self.alpha_remove = alpha_remove
        self.fusion_hidden = fusion_hidden
        self.fusion_alpha = fusion_alpha
        self.signature_weight = signature_weight
        self.pretrained_weights = pretrained_weights
        self.class_weight = class_weight
        self.volumes = volumes
        self.clinical = clinical
        self.masks = masks
        self.cube = cube
        self.downsample = downsample
        self.crop_size = crop_size
        self.n_slices = n_slices
        self.slice_size = slice_size
        self.width = width
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.preset = preset
        self.lr_step = lr_step
        self.lr_gamma = lr_gamma
        self.weight_decay = weight_decay
        self.augment = augment
        self.normalize = normalize
        self.device = device
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose

    def _architecture(self) -> Architecture:
        return get_architecture("cdlm")

    def _uses_clinical_input(self) -> bool:
        return bool(getattr(self, "selected_factors_", []))

    # ------------------------------------------------------------ factors
    def _select_factors(self, X: pd.DataFrame, y: np.ndarray) -> list[str]:
        """Factor columns of the fusion head, chosen on the training rows only."""
        from ..clinical import StepwiseSelector
        from ..clinical._selection import EmptySelectionError
        from ..preprocessing import ClinicalPreprocessor

        self.factor_selector_ = None
        if self.factors is None:
            return []
        roles = resolve_columns(X, clinical=self.clinical, volumes=self.volumes,
                                masks=self.masks)
        candidates = list(roles.clinical)
        if self.factors == "all" or not candidates:
            return candidates
        design = ClinicalPreprocessor(clinical=candidates).set_output(
            transform="pandas").fit_transform(X[candidates])
        selector = StepwiseSelector(selection=self.selection, alpha_enter=self.alpha_enter,
                                    alpha_remove=self.alpha_remove)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # separation/convergence of screened models
                selector.fit(design, y)
        except EmptySelectionError:
            return []  # nothing passes: the head reads the signatures alone
        self.factor_selector_ = selector
        return [c for c in candidates if c in set(selector.selected_variables_)]

    # ------------------------------------------------------------ training
    def _pretrained_state(self, n_slices: int):
        if self.pretrained_weights is None:
            return None
        from .nets.resnet2d import resnet18_trunk

        return load_resnet18_weights(self.pretrained_weights,
                                     resnet18_trunk(n_slices, self.settings_["width"]))

    def _train_stage(self, data: dict, y: np.ndarray, seed: int, stage: str,
                     weights) -> CDLMTrainer:
        spec = self._architecture()
        n_classes = len(self.classes_)
        criterion = FocalCriterion(0.0, self._class_weight_tensor(y))

        def build_net() -> CDLMTrainer:
            module = self._build_module(spec, n_classes, data["clinical"].shape[1],
                                        n_slices=self.settings_["n_slices"],
                                        fusion_hidden=self.fusion_hidden)
            if weights is not None:
                for encoder in module.encoders:
                    encoder.load_state_dict(weights, strict=False)
            return CDLMTrainer(module, criterion, augment_seed=seed, stage=stage,
                               signature_weight=self.signature_weight,
                               **self._trainer_kwargs(n_classes))

        return self._train(build_net, data, y, seed)

    def _cross_fit(self, data: dict, y: np.ndarray, seed: int, weights) -> np.ndarray:
        """Out-of-fold signatures of the training rows (inner stratified folds)."""
        n_splits = min(int(self.inner_cv), int(np.bincount(y).min()))
        if n_splits < 2:
            raise ValueError(f"{type(self).__name__}: cross-fitting needs at least 2 patients "
                             "of each class; use training='end_to_end' for so few.")
        folds = StratifiedKFold(n_splits, shuffle=True, random_state=seed % (2 ** 31))
        oof = None
        for k, (train, test) in enumerate(folds.split(np.zeros(len(y)), y)):
            part = {key: value[torch.as_tensor(train)] for key, value in data.items()}
            net = self._train_stage(part, y[train], seed + 1 + k, "signatures", weights)
            rest = {key: value[torch.as_tensor(test)] for key, value in data.items()}
            signatures = net.outputs(rest)["signatures"]
            if oof is None:
                oof = np.zeros((len(y), signatures.shape[1]), np.float32)
            oof[test] = signatures
        return oof

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Select factors, train the per-phase networks and the fusion head.

        Parameters
        ----------
        X : pandas.DataFrame
            Cohort frame: one volume column per phase, a tumour mask column and
            the candidate clinical/radiological columns.
        y : array-like of shape (n_patients,)
            Binary labels.

        Returns
        -------
        self : CDLMClassifier
        """
        X = check_cohort_frame(X)
        spec = self._architecture()
        self.settings_ = s = self._settings(spec)
        y_encoded = self._encode_labels(X, y)
        if len(self.classes_) != 2:
            raise ValueError(f"{type(self).__name__} predicts a binary target (MVI present or "
                             f"not); y has classes {self.classes_.tolist()}. Binarise y (e.g. "
                             "MVI = grade > M0).")
        self.selected_factors_ = self._select_factors(X, y_encoded)
        self.tensorizer_ = CohortTensorizer(
            input_kind=spec.input_kind, volumes=self.volumes,
            clinical=self.selected_factors_ or None, masks=self.masks,
            use_clinical=bool(self.selected_factors_), n_slices=s["n_slices"],
            slice_size=s["slice_size"], normalize=self.normalize,
        ).fit(X, owner=type(self).__name__)
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.signature_columns_ = list(self.volume_columns_)
        data = self.tensorizer_.transform(X)
        weights = self._pretrained_state(int(s["n_slices"]))
        seed = _seed(self.random_state)
        self.oof_signatures_ = None
        if self.training == "end_to_end":
            self.net_ = self._train_stage(data, y_encoded, seed, "end_to_end", weights)
            return self
        oof = self._cross_fit(data, y_encoded, seed, weights)
        self.net_ = self._train_stage(data, y_encoded, seed, "signatures", weights)
        fit_signature_fusion(self.net_.module_.fusion, oof, data["clinical"].numpy(),
                             y_encoded, alpha=self.fusion_alpha, seed=seed)
        self.oof_signatures_ = pd.DataFrame(oof, index=X.index, columns=self.signature_columns_)
        return self

    def signatures(self, X) -> pd.DataFrame:
        """The DL signature of each phase (log-odds of ``classes_[1]``) per patient.

        Parameters
        ----------
        X : pandas.DataFrame
            Cohort frame with the phase and mask columns seen in fit.

        Returns
        -------
        pandas.DataFrame
            Rows ``X.index``, one column per phase.
        """
        check_is_fitted(self, "net_")
        values = self._student_outputs(X)["signatures"]
        return pd.DataFrame(values, index=check_cohort_frame(X).index,
                            columns=self.signature_columns_)
