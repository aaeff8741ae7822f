"""`MDNetClassifier`: MD-Net's teacher-student distillation (seed 000) over cohort frames."""

from __future__ import annotations

from numbers import Real as RealNumber

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_is_fitted
from skorch.utils import to_tensor

from ..utils._validation import Integral, Interval, Real, StrOptions, fit_context
from ._base import DeepCohortClassifier, _seed, _seeded_torch
from ._crossfit import TEACHER_KEYS, check_crossfit, crossfit_teacher_outputs
from ._trainers import CohortTrainer
from .losses import MDNetLoss, focal_loss
from .nets._registry import Architecture, ArchitectureBuilder, get_architecture

__all__ = ["MDNetClassifier"]

#: Which distillation terms each ``distillation`` setting keeps.
_DISTILLATION_TERMS = {
    "full": {"class_kd", "feature_kd"},  # MD-Net, eqs. (4)-(5)
    "hinton": {"class_kd"},              # "KD_ours": Hinton et al. 2015 with MD-Net's modules
    "sp": {"sp"},                        # "SP_ours": Tung & Mori 2019 with MD-Net's modules
    "none": set(),                       # the student alone ("S-..." rows of Table III)
}


class DistillationTrainer(CohortTrainer):
    """`CohortTrainer` with a second module, the teacher (internal): MD-Net's scheme.

    ``phase`` is ``"joint"`` (Algorithm 1: teacher and student updated together
    by eq. 6), ``"teacher"`` (teacher alone, focal loss), ``"student"`` (frozen
    teacher, distillation into the student) or ``"offline"`` (no teacher module:
    the teacher's outputs are batch entries ``"teacher_logits"``,
    ``"teacher_features"``, ``"teacher_embedding"``, e.g. cross-fitted ones).
    """

    def __init__(self, module, criterion, *args, teacher=None, phase="joint",
                 clinical_binary=(), **kwargs) -> None:
        super().__init__(module, criterion, *args, **kwargs)
        self.teacher = teacher
        self.phase = phase
        self.clinical_binary = clinical_binary

    def initialize_module(self):
        super().initialize_module()
        if self.teacher is not None:
            # configured like skorch's own module: teacher__<param> reaches its __init__
            self.teacher_ = self.initialized_instance(self.teacher,
                                                      self.get_params_for("teacher"))
        return self

    def _teacher_forward(self, x: dict) -> dict[str, torch.Tensor]:
        return self.teacher_(x)

    def infer(self, x, **fit_params):
        x = to_tensor(x, device=self.device)
        if self.module_.training and self.phase == "offline":
            teacher = {key: x[f"teacher_{key}"] for key in TEACHER_KEYS}
            return {"student": super().infer(x), "teacher": teacher}
        if not self.module_.training or self.teacher is None:
            return {"student": super().infer(x)}
        if self.phase == "teacher":
            return {"teacher": self._teacher_forward(x)}
        if self.phase == "student":
            self.teacher_.eval()  # frozen: BatchNorm statistics stay those of pre-training
            with torch.no_grad():
                teacher = self._teacher_forward(x)
        else:
            teacher = self._teacher_forward(x)
        return {"student": super().infer(x), "teacher": teacher}

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_true = to_tensor(y_true, device=self.device)
        loss = self.criterion_
        if "student" not in y_pred:  # teacher pre-training
            return self.check_finite(focal_loss(y_pred["teacher"]["logits"], y_true,
                                                loss.gamma, loss.class_weight))
        if not training:
            return self.check_finite(focal_loss(y_pred["student"]["logits"], y_true,
                                                loss.gamma, loss.class_weight))
        binary = torch.as_tensor(self.clinical_binary, dtype=torch.bool, device=self.device)
        terms = loss(y_pred["student"], y_pred.get("teacher"), y_true,
                     X.get("clinical_target"), binary, train_teacher=self.phase == "joint")
        for name, value in terms.items():
            if name != "total":
                self.history.record_batch(f"loss_{name}", float(value.detach()))
        return self.check_finite(terms["total"])


class MDNetClassifier(DeepCohortClassifier):
    """MD-Net: a clinical+MRI teacher distilled into an MRI-only student.

    Zhang et al., IEEE TBME 2025 (seed 000).  The teacher reads PRE and HBP
    through MRI-clinical-fusion modules (clinical vector gating every conv block,
    eq. 1) and a symmetric-attention (SA) module (eqs. 2-3); the student reads the
    same images through MRI-only modules and SA, and also regresses the clinical
    items from its image features.  Training minimises eq. (6)::

        L = L_T^s + L_S^s + L_clinical + L_class^d + L_feature^d

    (focal losses of teacher and student, clinical regression, class-level KL
    distillation eq. 4, feature-level KL distillation eq. 5), each term with a
    weight here.  ``fit`` needs the clinical columns; ``predict``,
    ``predict_proba``, ``decision_function`` and ``transform`` use the student
    and need only the volume (and mask) columns: clinical columns may be absent
    or NaN, with identical results.

    Parameters
    ----------
    distillation : {"full", "hinton", "sp", "none"}, default="full"
        Distillation terms: ``"full"`` = class-level (eq. 4) + feature-level
        (eq. 5), MD-Net; ``"hinton"`` = class-level only ("KD_ours" of Table II);
        ``"sp"`` = similarity-preserving KD of the embeddings, Tung & Mori 2019
        ("SP_ours"); ``"none"`` = no teacher at all (the student alone).
    teacher_training : {"joint", "pretrain", "crossfit"}, default="joint"
        ``"joint"``: teacher and student updated together each step
        (Algorithm 1).  ``"pretrain"``: the teacher is trained alone first
        (``max_epochs``), then frozen while the student trains (``max_epochs``).
        ``"crossfit"``: honest soft labels -- ``n_teachers`` teachers, each trained
        alone (focal loss, ``max_epochs``) on the other ``n_teachers - 1`` parts of
        the training patients (stratified), give every training patient the
        logits, features and embedding of a teacher that never saw it; the
        student then distils from these fixed out-of-fold outputs.  Costs
        ``n_teachers`` teacher fits on ``(n_teachers - 1) / n_teachers`` of the
        rows (about ``n_teachers - 1`` times a teacher trained on all) plus the
        student alone; ``n_jobs`` trains the teachers in parallel processes.
        ``teacher_predict_proba`` then averages the ``n_teachers`` teachers'
        probabilities (no teacher is refitted on all rows).  The clinical
        preprocessing is fitted once on all training rows (unsupervised).
    n_teachers : int, default=5
        Teachers of ``teacher_training="crossfit"`` (at least 2; at most the
        smallest class count).
    n_jobs : int or None, default=None
        Parallel teacher fits with ``"crossfit"`` (joblib processes).
    focal_gamma : float, default=2.0
        Focusing parameter of both focal losses.
    teacher_weight, student_weight : float, default=1.0
        Weights of ``L_T^s`` and ``L_S^s``.
    clinical_weight : float, default=1.0
        Weight of the clinical-regression loss; 0 removes the regression head
        ("ours-w/o-clinical-pred-loss").
    class_kd_weight : float, default=1.0
        Weight of eq. (4).
    feature_kd_weights : float, dict or None, default=None
        Weights of the per-sequence terms of eq. (5): None = 1 for every
        sequence (the paper's ``beta1 = 1``); a float for all; or
        ``{sequence: weight}`` (missing sequences 1).  The paper's ``beta1`` is
        the weight of PRE: ``{"PRE": beta1}``.
    kd_temperature : float, default=1.0
        Temperature of eq. (4); the term is multiplied by ``T^2``.
    feature_kd_temperature : float, default=1.0
        Temperature of the softmax over feature entries in eq. (5).
    sp_weight : float, default=3000.0
        Weight of the SP term with ``distillation="sp"`` (Tung & Mori's CIFAR
        setting).
    teacher_width : float, default=None
        Channel multiplier of the teacher (None: ``width``).
    class_weight, volumes, clinical, masks, cube, downsample, crop_size, n_slices, slice_size, \
width, max_epochs, batch_size, lr, preset, lr_step, lr_gamma, weight_decay, augment, \
normalize, device, precision, random_state, verbose
        As in `VolumeNetClassifier`; with ``precision="bfloat16"`` the teacher's and
        the student's forward passes both run under bfloat16 autocast.
        ``preset="paper"`` gives width 1, crops 16x64x64 of the 20x80x80 cube,
        80 epochs, batch 16, Adam 3e-4 decayed by 0.9 every 2 epochs (Sec. III-F).

    Attributes
    ----------
    classes_ : ndarray
    volume_columns_, mask_columns_, clinical_columns_ : list of str
    clinical_preprocessor_ : ClinicalPreprocessor
        Imputes, scales and one-hot encodes the clinical columns for the teacher
        (fitted on the training rows only).
    clinical_targets_ : pandas.DataFrame
        The regression head's items (``clinical_preprocessor_.feature_map_``):
        numeric items are standardised, binary and one-hot items are 0/1.
    settings_ : dict
    net_ : skorch.NeuralNet
        ``net_.module_`` is the student, ``net_.teacher_`` the teacher (None with
        ``distillation="none"`` and ``"crossfit"``); ``net_.history`` records every
        loss term per batch (``loss_student``, ``loss_class_kd``, ...).
    teachers_ : list of skorch.NeuralNet
        ``teacher_training="crossfit"`` only: the ``n_teachers`` teachers.
    teacher_part_ : ndarray of shape (n_training_patients,)
        ``"crossfit"`` only: which teacher did *not* train on each training row (its
        out-of-fold teacher).
    teacher_oof_proba_ : ndarray of shape (n_training_patients, n_classes)
        ``"crossfit"`` only: the out-of-fold teacher probabilities the student was
        distilled from (their AUC is an honest estimate of the teacher's).
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    See Also
    --------
    VolumeNetClassifier : the image baselines and the teacher alone.
    mdnet_ablation_models : the configurations of Tables II-IV.

    Notes
    -----
    Feature-level distillation compares, per sequence, the student's and the
    teacher's SA-refined feature vectors turned into distributions by a softmax
    over their entries.  All distillation terms detach the teacher.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mvikit import Volume
    >>> from mvikit.deep import MDNetClassifier
    >>> rng = np.random.default_rng(0)
    >>> mask = np.zeros((8, 16, 16), np.uint8); mask[3:5, 6:10, 6:10] = 1
    >>> X = pd.DataFrame({
    ...     "AFP": rng.lognormal(3, 1, 8), "HBV": [True, False] * 4,
    ...     "PRE": [Volume(rng.normal(size=(8, 16, 16))) for _ in range(8)],
    ...     "HBP": [Volume(rng.normal(size=(8, 16, 16))) for _ in range(8)],
    ...     "tumor_mask": [Volume(mask)] * 8}, index=[f"p{i}" for i in range(8)])
    >>> y = np.array(["M0", "M1"] * 4)
    >>> clf = MDNetClassifier(cube=(8, 16, 16), downsample=1, crop_size=(8, 16, 16), width=0.0625,
    ...                       max_epochs=1, batch_size=4, random_state=0).fit(X, y)
    >>> images_only = X[["PRE", "HBP", "tumor_mask"]]
    >>> bool(np.array_equal(clf.predict_proba(images_only), clf.predict_proba(X)))
    True
    >>> clf.predict_clinical(images_only).columns.tolist()
    ['AFP', 'HBV']
    """

    _parameter_constraints: dict = {
        **DeepCohortClassifier._parameter_constraints,
        "distillation": [StrOptions(set(_DISTILLATION_TERMS))],
        "teacher_training": [StrOptions({"joint", "pretrain", "crossfit"})],
        "n_teachers": [Interval(Integral, 2, None, closed="left")],
        "n_jobs": [Integral, None],
        "focal_gamma": [Interval(Real, 0, None, closed="left")],
        "teacher_weight": [Interval(Real, 0, None, closed="left")],
        "student_weight": [Interval(Real, 0, None, closed="left")],
        "clinical_weight": [Interval(Real, 0, None, closed="left")],
        "class_kd_weight": [Interval(Real, 0, None, closed="left")],
        "feature_kd_weights": [Interval(Real, 0, None, closed="left"), dict, None],
        "kd_temperature": [Interval(Real, 0, None, closed="neither")],
        "feature_kd_temperature": [Interval(Real, 0, None, closed="neither")],
        "sp_weight": [Interval(Real, 0, None, closed="left")],
        "teacher_width": [Interval(Real, 0, None, closed="neither"), None],
    }

    def __init__(self, *, distillation="full", teacher_training="joint", n_teachers=5,
                 n_jobs=None, focal_gamma=2.0,
                 teacher_weight=1.0, student_weight=1.0, clinical_weight=1.0,
                 class_kd_weight=1.0, feature_kd_weights=None, kd_temperature=1.0,
                 feature_kd_temperature=1.0, sp_weight=3000.0, teacher_width=None,
                 class_weight=None, volumes="auto", clinical="auto", masks="auto", cube=None,
                 downsample=None, crop_size=None, n_slices=None, slice_size=None, width=None,
                 max_epochs=None, batch_size=None, lr=None, preset="cpu", lr_step=2,
                 lr_gamma=0.9, weight_decay=0.0, augment=True, normalize="zscore",
                 device="cpu", precision="float32", random_state=None, verbose=0):
        self.distillation = distillation
        self.teacher_training = teacher_training
        self.n_teachers = n_teachers
        self.n_jobs = n_jobs
        self.focal_gamma = focal_gamma
        self.teacher_weight = teacher_weight
        self.student_weight = student_weight
        self.clinical_weight = clinical_weight
        self.class_kd_weight = class_kd_weight
        self.feature_kd_weights = feature_kd_weights
        self.kd_temperature = kd_temperature
        self.feature_kd_temperature = feature_kd_temperature
        self.sp_weight = sp_weight
        self.teacher_width = teacher_width
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

    # ------------------------------------------------------------ settings
    def _architecture(self) -> Architecture:
        return get_architecture("mdnet_student")

    def _uses_teacher(self) -> bool:
        return self.distillation != "none"

    def _uses_clinical_input(self) -> bool:
        return self._uses_teacher() or self.clinical_weight > 0

    def _feature_weights(self) -> tuple[float, ...]:
        weights = self.feature_kd_weights
        if weights is None:
            return (1.0,) * len(self.volume_columns_)
        if isinstance(weights, RealNumber):
            return (float(weights),) * len(self.volume_columns_)
        unknown = set(weights) - set(self.volume_columns_)
        if unknown:
            raise ValueError(f"feature_kd_weights names {sorted(unknown)}, which are not volume "
                             f"columns ({self.volume_columns_}).")
        return tuple(float(weights.get(c, 1.0)) for c in self.volume_columns_)

    def _criterion(self, class_weight: torch.Tensor | None) -> MDNetLoss:
        terms = _DISTILLATION_TERMS[self.distillation]
        return MDNetLoss(
            gamma=self.focal_gamma, class_weight=class_weight,
            teacher_weight=self.teacher_weight, student_weight=self.student_weight,
            clinical_weight=self.clinical_weight,
            class_kd_weight=self.class_kd_weight if "class_kd" in terms else 0.0,
            feature_kd_weights=(self._feature_weights() if "feature_kd" in terms
                                else (0.0,) * len(self.volume_columns_)),
            sp_weight=self.sp_weight if "sp" in terms else 0.0,
            kd_temperature=self.kd_temperature,
            feature_kd_temperature=self.feature_kd_temperature)

    # ------------------------------------------------------ clinical targets
    def _clinical_targets(self, X: pd.DataFrame) -> np.ndarray:
        """The preprocessed clinical items with NaN where the source cell is missing."""
        values = self.tensorizer_.clinical_matrix(X).astype(np.float32)
        missing = X[self.clinical_columns_].isna()
        for j, column in enumerate(self.clinical_targets_["column"]):
            values[missing[column].to_numpy(), j] = np.nan
        return values

    # ---------------------------------------------------------------- fit
    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train teacher and student (Algorithm 1 of MD-Net).

        Parameters
        ----------
        X : pandas.DataFrame
            Cohort frame with clinical columns, volume columns (PRE and HBP in
            the paper) and a tumour mask column.
        y : array-like of shape (n_patients,)
            Class labels (e.g. M0/M1/M2, or binary MVI).

        Returns
        -------
        self : MDNetClassifier
        """
        if self.teacher_training == "crossfit" and not self._uses_teacher():
            raise ValueError("teacher_training='crossfit' trains teachers to distil from, but "
                             "distillation='none' uses no teacher: choose distillation='full', "
                             "'hinton' or 'sp', or teacher_training='joint'.")
        data, y_encoded = self._prepare_fit(X, y)
        if self.clinical_preprocessor_ is not None:
            self.clinical_targets_ = self.clinical_preprocessor_.feature_map_[
                ["feature", "column", "kind", "log", "center", "scale"]].copy()
            data["clinical_target"] = torch.from_numpy(self._clinical_targets(X))
        else:
            self.clinical_targets_ = None
        seed = _seed(self.random_state)
        criterion = self._criterion(self._class_weight_tensor(y_encoded))
        if self._crossfit():
            self._fit_crossfit_teachers(data, y_encoded, seed)
        self.net_ = self._train(lambda: self._build_net(data, criterion, seed), data,
                                y_encoded, seed)
        if self._uses_teacher() and self.teacher_training == "pretrain":
            self._train_frozen_teacher_phase(data, y_encoded, seed)
        return self

    def _build_net(self, data: dict, criterion: MDNetLoss, seed: int) -> DistillationTrainer:
        n_classes = len(self.classes_)
        n_targets = 0
        if self.clinical_weight > 0:
            n_targets = data["clinical_target"].shape[1]
        spec = self._architecture()
        student = self._build_module(spec, n_classes, 0, n_clinical_targets=n_targets)
        teacher, teacher_params = None, {}
        if self._uses_teacher() and not self._crossfit():
            # built by skorch's initialize_module through the register, so that
            # teacher__<param> settings reach it
            teacher = ArchitectureBuilder("mdnet_teacher")
            width = self.settings_["width"] if self.teacher_width is None else self.teacher_width
            teacher_params = {"teacher__n_clinical": data["clinical"].shape[1],
                              "teacher__n_sequences": len(self.volume_columns_),
                              "teacher__n_outputs": n_classes, "teacher__width": width}
        binary = ()
        if self.clinical_targets_ is not None:
            binary = tuple(bool(k != "numeric") for k in self.clinical_targets_["kind"])
        phase = {"pretrain": "teacher", "crossfit": "offline"}.get(self.teacher_training,
                                                                   "joint")
        if not self._uses_teacher():
            phase = "joint"
        return DistillationTrainer(student, criterion, teacher=teacher, phase=phase,
                                   clinical_binary=binary, augment_seed=seed,
                                   **teacher_params, **self._trainer_kwargs(n_classes))

    def _crossfit(self) -> bool:
        return self._uses_teacher() and self.teacher_training == "crossfit"

    def _fit_crossfit_teachers(self, data: dict, y: np.ndarray, seed: int) -> None:
        """``teacher_training="crossfit"``: out-of-fold teacher outputs into ``data``."""
        check_crossfit(self.n_teachers, y, self.classes_, type(self).__name__)
        outputs, self.teachers_, self.teacher_part_ = crossfit_teacher_outputs(
            self, data, y, seed)
        data.update(outputs)
        self.teacher_oof_proba_ = torch.softmax(outputs["teacher_logits"].double(),
                                                dim=1).numpy()

    def _train_frozen_teacher_phase(self, data: dict, y: np.ndarray, seed: int) -> None:
        """Second phase of ``teacher_training="pretrain"``: freeze the teacher, restart
        the optimiser and its schedule, train the student with distillation."""
        self.net_.phase = "student"
        for parameter in self.net_.teacher_.parameters():
            parameter.requires_grad_(False)
        with _seeded_torch(seed + 1, self.device):
            self.net_.initialize_optimizer()
            for group in self.net_.optimizer_.param_groups:
                # skorch resumes the StepLR schedule at the epoch count of the history;
                # torch needs the starting rate of a resumed schedule
                group["initial_lr"] = group["lr"]
            self.net_.partial_fit(data, y)

    # ------------------------------------------------------------ predict
    def _student_outputs(self, X) -> dict[str, np.ndarray]:
        check_is_fitted(self, "net_")
        # the student never reads clinical data: an empty clinical block is passed
        return self.net_.outputs(self._inference_data(X, with_clinical=False))

    def teacher_predict_proba(self, X) -> np.ndarray:
        """Class probabilities of the teacher (needs the clinical columns).

        Parameters
        ----------
        X : pandas.DataFrame
            Cohort frame with the clinical and volume columns seen in fit
            (missing clinical cells are imputed).

        Returns
        -------
        ndarray of shape (n_patients, n_classes)
        """
        check_is_fitted(self, "net_")
        data = self._inference_data(X, with_clinical=True)
        if self._crossfit():
            probas = [torch.softmax(torch.from_numpy(t.outputs(data)["logits"]).double(), dim=1)
                      for t in self.teachers_]
            return torch.stack(probas).mean(dim=0).numpy()
        if self.net_.teacher is None:
            raise AttributeError("This MDNetClassifier has no teacher "
                                 "(distillation='none').")
        logits = torch.from_numpy(self.net_.outputs(data, self.net_.teacher_)["logits"])
        return torch.softmax(logits.double(), dim=1).numpy()

    def predict_clinical(self, X) -> pd.DataFrame:
        """The clinical items predicted from the images by the student's regression head.

        Numeric items are returned in their original units (the preprocessing's
        scaling, and log when it logged the column, inverted); binary items as
        the probability of True/1; one-hot items (``"<column>_<category>"``) as
        the probability of that category.

        Parameters
        ----------
        X : pandas.DataFrame
            Cohort frame with the volume (and mask) columns; clinical columns are
            not needed.

        Returns
        -------
        pandas.DataFrame of shape (n_patients, n_items), indexed like ``X``
        """
        check_is_fitted(self, "net_")
        if self.clinical_weight == 0:
            raise AttributeError("This MDNetClassifier has no clinical-regression head "
                                 "(clinical_weight=0).")
        raw = self._student_outputs(X)["clinical"].astype(np.float64)
        targets = self.clinical_targets_
        out = {}
        for j, row in enumerate(targets.itertuples(index=False)):
            if row.kind == "numeric":
                value = raw[:, j] * row.scale + row.center
                out[row.feature] = np.exp(value) if row.log else value
            else:
                out[row.feature] = 1.0 / (1.0 + np.exp(-raw[:, j]))
        return pd.DataFrame(out, index=X.index)
