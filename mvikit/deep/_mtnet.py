"""`MTNetClassifier`: MTnet (seed 004) and its four comparison models, as one estimator.

Fu et al. predict *future* macrovascular invasion (MaVI) of hepatocellular
carcinoma from the portal-venous CT, clinical factors and radiological
characteristics with a multi-task UNet (`mvikit.deep.nets.MTNet`) and compare
five models (Sec. 2.7, Figure 4, Tables S2-S6):

=====================  ============================================================
variant                what it is here
=====================  ============================================================
``"DR"``               the image block alone (UNet encoder + decoder, no clinical
                       block): deep-learning radiomics
``"CR"``               the clinical/radiological block alone: two FC layers and an
                       output layer on the preprocessed clinical vector, a plain
                       multilayer perceptron with no image input.  It is trained
                       by scikit-learn's `MLPClassifier` (ReLU, Adam), not by the
                       deep machinery: it needs no image column and no tumour mask
``"CR-DR"``            the whole MTnet: image block, clinical block, fusion block
``"NoSeg-CR-DR"``      CR-DR without the decoder (no decoder parameters, no
                       segmentation loss)
``"Logistic-CR-DR"``   CR-DR whose clinical block reads only the clinical items kept
                       by backward logistic selection (likelihood-ratio test, SPSS
                       "Backward: LR") run inside ``fit`` on the training rows
=====================  ============================================================

The segmenting variants (DR, CR-DR, Logistic-CR-DR) need a tumour mask column:
it is the segmentation target and centres the cube.  NoSeg-CR-DR uses the mask
only to centre the cube (volumes already cut to the cube need none); CR needs no
image at all.

After training, the Youden cut-off of the training predictions (the paper's
0.157) splits patients into low and high risk (`predict_risk_group`;
`mvikit.survival.risk_group_summary` with ``reference="high"`` gives the Figure 6
numbers); `risk_calculator` turns the fitted model into the paper's "applet".
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from ..exceptions import CohortError, ColumnRoleError
from ..imaging import as_volume
from ..utils._roles import check_cohort_frame, mask_column_for, resolve_columns
from ..utils._validation import Integral, Interval, Real, StrOptions, fit_context
from ._base import DeepCohortClassifier, _seed
from ._dice import dice_coefficient
from ._mtnet_risk import RiskCalculator
from ._trainers import CohortTrainer, FocalCriterion, MultiTaskTrainer
from .nets._registry import Architecture, get_architecture

__all__ = ["MTNetClassifier", "MTNET_VARIANTS", "mtnet_models"]

#: The five models of seed 004, in the paper's order.
MTNET_VARIANTS = ("DR", "CR", "CR-DR", "NoSeg-CR-DR", "Logistic-CR-DR")
#: Variants whose network segments the tumour (they need a tumour mask column).
SEGMENTING_VARIANTS = ("DR", "CR-DR", "Logistic-CR-DR")


def _patients(ids) -> str:
    ids = list(ids)
    shown = ", ".join(map(repr, ids[:5]))
    return shown + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")


def _clinical_or_network(name: str, clinical):
    """A prediction method of `MTNetClassifier`: Model CR calls ``clinical(self, X)``
    (its scikit-learn pipeline), the image variants the network's method of the base
    class, whose docstring it keeps."""
    network = getattr(DeepCohortClassifier, name)

    @functools.wraps(network)
    def method(self, X):
        check_is_fitted(self, "threshold_")
        if self.clinical_model_ is None:
            return network(self, X)
        return clinical(self, check_cohort_frame(X))

    return method


def _clinical_proba(model, X: pd.DataFrame) -> np.ndarray:
    return model.clinical_model_.predict_proba(X[model.risk_clinical_columns_])


def _clinical_log_odds(model, X: pd.DataFrame) -> np.ndarray:
    p = np.clip(_clinical_proba(model, X)[:, 1], 1e-15, 1 - 1e-15)
    return np.log(p) - np.log1p(-p)


def _no_image_features(model, X: pd.DataFrame):
    raise ValueError("Model CR has no image features; transform applies to the image "
                     "variants.")


def _most_probable(model, X: pd.DataFrame) -> np.ndarray:
    # at probability 0.5, not at the Youden cut-off (that is predict_risk_group)
    return model.classes_[np.argmax(model.predict_proba(X), axis=1)]


class MTNetClassifier(DeepCohortClassifier):
    """MTnet (seed 004): multi-task UNet + clinical block + fusion, and its variants.

    Parameters
    ----------
    variant : {"DR", "CR", "CR-DR", "NoSeg-CR-DR", "Logistic-CR-DR"}, default="CR-DR"
        Which of the paper's five models (see the module docstring): image only,
        clinical only (an MLP), both, both without the segmentation decoder, both
        with the clinical items chosen by backward logistic selection in ``fit``.
    segmentation_weight : float, default=1.0
        Weight of the Dice + cross-entropy loss of the segmentation (segmenting
        variants); 0 trains the decoder through the classification loss only.
    clinical_hidden : int, default=32
        Units of the two clinical layers and of the fusion layer (and of the two
        hidden layers of Model CR).
    selection_alpha : float, default=0.05
        Logistic-CR-DR: significance of the univariable screen and of the
        backward likelihood-ratio steps.
    class_weight : "balanced", dict or None, default=None
        Class weights of the classification loss.
    volumes, clinical, masks, cube, downsample, crop_size, n_slices, slice_size, width, \
max_epochs, batch_size, lr, preset, lr_step, lr_gamma, weight_decay, augment, normalize, \
device, precision, random_state, verbose
        As `VolumeNetClassifier`.  ``volumes``: the paper reads ``CT_PV`` alone;
        every volume column becomes an input channel.  ``preset="cpu"`` reads the
        20x80x80 cube at half the in-plane resolution (16x32x32 crops) with a
        quarter-width UNet (8-64 features); ``"paper"`` the full-width UNet
        (32-256 features) on 16x64x64 crops.  Model CR uses ``max_epochs`` (the
        MLP's passes, x20), ``lr``, ``batch_size``, ``weight_decay`` (its L2
        ``alpha``, at least 1e-4) and ``random_state``.

    Attributes
    ----------
    classes_ : ndarray
        The two class labels (the second is the event).
    threshold_ : float
        Youden cut-off of the training predictions (high risk: ``risk >= threshold_``).
    youden_ : YoudenResult
        The cut-off with its training sensitivity, specificity and J.
    training_summary_ : pandas.DataFrame
        Per training patient: ``risk``, ``event`` (0/1) and ``group``.
    selected_clinical_ : list of str or None
        Logistic-CR-DR: the clinical columns kept by the selection.
    selector_ : StepwiseSelector or None
        Logistic-CR-DR: the fitted selection (its path and univariable table).
    clinical_model_ : sklearn.pipeline.Pipeline or None
        Model CR: the fitted preprocessing + MLP.
    net_ : skorch.NeuralNet
        The trained network (image variants).
    tensorizer_, settings_, volume_columns_, mask_columns_, clinical_columns_
        As `VolumeNetClassifier` (image variants).
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    See Also
    --------
    mtnet_models : the five variants for `compare_models`.
    horizon_task : future macrovascular invasion as a horizon classification.
    mvikit.deep.nets.MTNet : the network.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mvikit import Volume
    >>> from mvikit.deep import MTNetClassifier
    >>> rng = np.random.default_rng(0)
    >>> mask = np.zeros((16, 32, 32), np.uint8); mask[6:10, 12:20, 12:20] = 1
    >>> X = pd.DataFrame({
    ...     "age": rng.normal(60, 8, 8), "afp": rng.lognormal(3, 1, 8),
    ...     "CT_PV": [Volume(rng.normal(size=(16, 32, 32))) for _ in range(8)],
    ...     "tumor_mask": [Volume(mask)] * 8}, index=[f"p{i}" for i in range(8)])
    >>> y = np.array([0, 1] * 4)
    >>> model = MTNetClassifier(cube=(16, 32, 32), downsample=1, crop_size=(16, 32, 32),
    ...                         width=0.125, max_epochs=1, batch_size=4,
    ...                         random_state=0).fit(X, y)
    >>> model.predict_proba(X).shape, model.predict_risk_group(X).shape
    ((8, 2), (8,))
    >>> model.predict_segmentation(X).loc["p0"].shape
    (16, 32, 32)
    """

    _parameter_constraints: dict = {
        **DeepCohortClassifier._parameter_constraints,
        "variant": [StrOptions(set(MTNET_VARIANTS))],
        "segmentation_weight": [Interval(Real, 0, None, closed="left")],
        "clinical_hidden": [Interval(Integral, 1, None, closed="left")],
        "selection_alpha": [Interval(Real, 0, 1, closed="right")],
    }

    def __init__(self, variant="CR-DR", *, segmentation_weight=1.0, clinical_hidden=32,
                 selection_alpha=0.05, class_weight=None, volumes="auto", clinical="auto",
                 masks="auto", cube=None, downsample=None, crop_size=None, n_slices=None,
                 slice_size=None, width=None, max_epochs=None, batch_size=None, lr=None,
                 preset="cpu", lr_step=2, lr_gamma=0.9, weight_decay=0.0, augment=True,
                 normalize="zscore", device="cpu", precision="float32", random_state=None,
                 verbose=0):
        self.variant = variant
        self.segmentation_weight = segmentation_weight
        self.clinical_hidden = clinical_hidden
        self.selection_alpha = selection_alpha
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

    # ------------------------------------------------------------ the variant
    def _architecture(self) -> Architecture:
        return get_architecture("mtnet_noseg" if self.variant == "NoSeg-CR-DR" else "mtnet")

    def _uses_clinical_input(self) -> bool:
        return self.variant != "DR"

    def _segments(self) -> bool:
        return self.variant in SEGMENTING_VARIANTS

    # -------------------------------------------------------------------- fit
    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the variant and choose the Youden cut-off on its training predictions.

        Parameters
        ----------
        X : pandas.DataFrame
            Cohort frame: the volume column(s) (``CT_PV``), a tumour mask column
            (segmenting variants), the clinical columns (all but Model DR).
        y : array-like of shape (n_patients,)
            Binary labels (e.g. macrovascular invasion within a horizon,
            `horizon_task`).
        sample_weight : array-like of shape (n_patients,), default=None
            Non-negative weight of each patient in the classification loss (a
            weighted mean, as class weights: ``sum w_i l_i / sum w_i`` per batch;
            Model CR: the MLP's ``sample_weight``), e.g. the inverse-probability-
            of-censoring weights of ``horizon_task(..., censored="ipcw")``.  None:
            every patient 1.  The segmentation loss, the backward selection of
            Logistic-CR-DR and the Youden cut-off stay unweighted.

        Returns
        -------
        self : MTNetClassifier
        """
        X = check_cohort_frame(X)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                                 ensure_non_negative=True)
        self.selected_clinical_ = self.selector_ = self.clinical_model_ = None
        if self.variant == "CR":
            y_encoded = self._fit_clinical_only(X, y, sample_weight)
            risk = self.clinical_model_.predict_proba(X[self.risk_clinical_columns_])[:, 1]
        else:
            y_encoded, risk = self._fit_network(X, y, sample_weight)
        self._fit_threshold(X, y_encoded, risk)
        return self

    def _check_binary(self) -> None:
        if len(self.classes_) != 2:
            raise ValueError(f"MTNetClassifier predicts a binary outcome (macrovascular "
                             f"invasion within a horizon); y has {len(self.classes_)} classes "
                             f"{self.classes_.tolist()}. Use horizon_task to make the labels.")

    def _fit_clinical_only(self, X: pd.DataFrame, y, sample_weight) -> np.ndarray:
        from sklearn.neural_network import MLPClassifier
        from sklearn.pipeline import make_pipeline

        from ..preprocessing import ClinicalPreprocessor

        y_encoded = self._encode_labels(X, y)
        self._check_binary()
        columns = self._clinical_columns(X)
        s = self._settings(self._architecture())
        self.settings_ = s
        mlp = MLPClassifier(hidden_layer_sizes=(self.clinical_hidden, self.clinical_hidden),
                            alpha=max(float(self.weight_decay), 1e-4),
                            batch_size=int(s["batch_size"]), learning_rate_init=float(s["lr"]),
                            max_iter=max(1, 20 * int(s["max_epochs"])),
                            random_state=_seed(self.random_state))
        with warnings.catch_warnings():
            # a fixed number of passes, as the networks' epochs: no convergence warning
            from sklearn.exceptions import ConvergenceWarning
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.clinical_model_ = make_pipeline(ClinicalPreprocessor(clinical=columns),
                                                 mlp)
            weights = ({} if sample_weight is None
                       else {"mlpclassifier__sample_weight": sample_weight})
            self.clinical_model_.fit(X[columns], y_encoded, **weights)
        self.risk_clinical_columns_ = columns
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return y_encoded

    def _clinical_columns(self, X: pd.DataFrame) -> list[str]:
        roles = resolve_columns(X, clinical=self.clinical, volumes=self.volumes,
                                masks=self.masks)
        if not roles.clinical:
            raise ColumnRoleError(
                f"MTNetClassifier(variant={self.variant!r}) reads the clinical and "
                "radiological items, but X has no clinical column (or clinical=None). Add "
                "them, name them with clinical=[...], or use variant='DR' (image only).")
        return list(roles.clinical)

    def _check_masks(self, X: pd.DataFrame) -> None:
        """Segmenting variants need a non-empty tumour mask for every patient."""
        roles = resolve_columns(X, clinical=self.clinical, volumes=self.volumes,
                                masks=self.masks)
        if not self._segments():
            return
        if not roles.masks:
            raise ColumnRoleError(
                f"MTNetClassifier(variant={self.variant!r}) segments the tumour and needs a "
                f"tumour mask column ('tumor_mask' or '<SEQ>_mask'); X has none (columns: "
                f"{list(X.columns)[:12]}). Add the manual tumour masks, or use "
                "variant='NoSeg-CR-DR' (no segmentation; volumes already cut to `cube`) or "
                "'CR' (no images).")
        for volume in roles.volumes:
            column = mask_column_for(volume, list(roles.masks))
            empty = [pid for pid, cell in X[column].items()
                     if cell is not None and not (isinstance(cell, float) and np.isnan(cell))
                     and not np.any(as_volume(cell, patient_id=pid, column=column).array)]
            if empty:
                raise CohortError(
                    f"Column {column!r}: the tumour mask is empty for patient(s) "
                    f"{_patients(empty)}. MTnet learns to segment the tumour from these masks "
                    "and centres the cube on them: draw the tumour, or drop these patients.")

    def _select_clinical(self, X: pd.DataFrame, y_encoded: np.ndarray) -> list[str]:
        """Backward logistic selection (LR test) on the training rows -> clinical columns."""
        from ..clinical import StepwiseSelector
        from ..clinical._selection import EmptySelectionError
        from ..preprocessing import ClinicalPreprocessor

        columns = self._clinical_columns(X)
        pre = ClinicalPreprocessor(clinical=columns).set_output(transform="pandas")
        design = pre.fit_transform(X[columns])
        self.selector_ = StepwiseSelector(selection="backward", criterion="lr",
                                          alpha_enter=self.selection_alpha,
                                          alpha_remove=self.selection_alpha)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # separation notes of the intermediate fits
                self.selector_.fit(design, y_encoded)
            features = list(self.selector_.selected_features_)
        except EmptySelectionError:
            # nothing significant in this fold: keep the single most significant item
            table = StepwiseSelector(selection="univariable", screen=False).fit(
                design, y_encoded).univariable_summary_
            features = [str(table["p"].astype(float).idxmin())]
            warnings.warn(f"MTNetClassifier(variant='Logistic-CR-DR'): the backward selection "
                          f"kept no clinical item at alpha={self.selection_alpha}; the clinical "
                          f"block reads the most significant one, {features[0]!r}.",
                          UserWarning, stacklevel=3)
        return [c for c in columns if any(f == c or f.startswith(f"{c}=")
                                          or f == f"{c}_missing" for f in features)]

    def _fit_network(self, X: pd.DataFrame, y, sample_weight) -> tuple[np.ndarray, np.ndarray]:
        self._check_masks(X)
        clinical = None
        if self.variant == "Logistic-CR-DR":
            y_check = self._encode_labels(X, y)
            self._check_binary()
            clinical = self.selected_clinical_ = self._select_clinical(X, y_check)
        elif self._uses_clinical_input():
            self._clinical_columns(X)  # a clear error before the images are cropped
        spec = self._architecture()
        data, y_encoded = self._prepare_fit(X, y, clinical=clinical)
        if sample_weight is not None:  # read per batch by CohortTrainer.get_loss
            data["sample_weight"] = sample_weight.astype(np.float32)
        self._check_binary()
        self.risk_clinical_columns_ = (list(self.clinical_columns_)
                                       if self._uses_clinical_input() else [])
        seed = _seed(self.random_state)
        criterion = FocalCriterion(0.0, self._class_weight_tensor(y_encoded))
        extra, trainer = {}, CohortTrainer
        if spec.auxiliary:
            trainer = MultiTaskTrainer
            extra = {"auxiliary_weights": {"segmentation": float(self.segmentation_weight)}}

        def build_net() -> CohortTrainer:
            module = self._build_module(spec, 2, data["clinical"].shape[1],
                                        clinical_hidden=int(self.clinical_hidden))
            return trainer(module, criterion, augment_seed=seed, **extra,
                           **self._trainer_kwargs(2))

        self.net_ = self._train(build_net, data, y_encoded, seed)
        logits = torch.from_numpy(self.net_.outputs(data)["logits"]).double()
        return y_encoded, torch.softmax(logits, dim=1)[:, 1].numpy()

    def _fit_threshold(self, X: pd.DataFrame, y_encoded: np.ndarray, risk: np.ndarray) -> None:
        from ..metrics import youden_threshold

        self.youden_ = youden_threshold(y_encoded, risk)
        self.threshold_ = float(self.youden_.threshold)
        self.training_summary_ = pd.DataFrame(
            {"risk": risk, "event": y_encoded,
             "group": np.where(risk >= self.threshold_, "high", "low")}, index=X.index)

    # ---------------------------------------------------------------- predict
    def _fitted(self) -> None:
        check_is_fitted(self, "threshold_")

    # Model CR answers from its clinical pipeline, the image variants from the network
    predict_proba = _clinical_or_network("predict_proba", _clinical_proba)
    decision_function = _clinical_or_network("decision_function", _clinical_log_odds)
    transform = _clinical_or_network("transform", _no_image_features)
    predict = _clinical_or_network("predict", _most_probable)

    def predict_risk_group(self, X) -> np.ndarray:
        """``"high"`` where the risk reaches the training Youden cut-off, else ``"low"``.

        Parameters
        ----------
        X : pandas.DataFrame

        Returns
        -------
        ndarray of str, shape (n_patients,)
        """
        self._fitted()
        return np.where(self.predict_proba(X)[:, 1] >= self.threshold_, "high", "low")

    def predict_segmentation(self, X, *, space="image") -> pd.Series:
        """The tumour segmented by the decoder, as binary masks.

        The network segments its input crop (the centre crop of the, possibly
        downsampled, cube); the tumour probability is placed back on each
        patient's image grid through the tensorizer's geometry (resampled
        linearly where the cube was downsampled) and thresholded at 0.5.

        Parameters
        ----------
        X : pandas.DataFrame
            Cohort frame with the volume and mask columns seen in fit.
        space : {"image", "crop"}, default="image"
            ``"image"``: masks on the grid of the first volume column (zero outside
            the crop); ``"crop"``: the network's input crop with its geometry.

        Returns
        -------
        pandas.Series of Volume (uint8), indexed by patient.
        """
        from ._gradcam import _crop_geometry, _paste

        self._fitted()
        if not self._segments():
            raise ValueError(f"variant {self.variant!r} has no segmentation decoder; "
                             f"predict_segmentation needs one of {SEGMENTING_VARIANTS}.")
        if space not in ("image", "crop"):
            raise ValueError(f"space must be 'image' or 'crop', got {space!r}.")
        X = check_cohort_frame(X)
        logits = torch.from_numpy(self._student_outputs(X)["segmentation"])
        tumour = torch.softmax(logits.double(), dim=1)[:, 1].float().numpy()
        column = self.volume_columns_[0]
        crops = _crop_geometry(self, X)[column]
        cells = []
        for i, pid in enumerate(X.index):
            crop = crops.loc[pid].with_array(tumour[i])
            if space == "image":
                image = as_volume(X.at[pid, column], patient_id=pid, column=column)
                crop = _paste(crop, image, pid, column)
            cells.append(crop.with_array((crop.array >= 0.5).astype(np.uint8)))
        return pd.Series(cells, index=X.index, name="predicted_tumor_mask")

    def segmentation_dice(self, X, *, space="image") -> pd.Series:
        """Dice of the predicted tumour against the tumour mask column of ``X``.

        Parameters
        ----------
        X : pandas.DataFrame
        space : {"image", "crop"}, default="image"
            ``"image"``: on the image grid (tumour outside the network's crop
            counts as missed); ``"crop"``: inside the crop, against the mask the
            network was trained on.

        Returns
        -------
        pandas.Series of float, indexed by patient.
        """
        X = check_cohort_frame(X)
        predicted = self.predict_segmentation(X, space=space)
        if space == "crop":
            data = self._inference_data(X, with_clinical=False)
            truth = self.net_.augmenter.inference(data["masks"].float())[:, 0].numpy()
            values = [dice_coefficient(p, t) for p, t in zip(predicted, truth)]
        else:
            column = mask_column_for(self.volume_columns_[0], self.mask_columns_)
            values = [dice_coefficient(predicted.loc[pid],
                                       as_volume(X.at[pid, column], patient_id=pid,
                                                 column=column)) for pid in X.index]
        return pd.Series(values, index=X.index, name="dice")

    def risk_calculator(self) -> RiskCalculator:
        """The paper's applet: a patient row -> risk, group and the numbers behind them.

        Returns
        -------
        RiskCalculator
            ``calculator(patient)`` with a dict, Series or one-row DataFrame
            (clinical items + image cells or paths) returns a `RiskReport`.
        """
        self._fitted()
        return RiskCalculator(self)


def mtnet_models(**params) -> dict[str, MTNetClassifier]:
    """The five models of seed 004 (Model CR-DR first, the reference) for `compare_models`.

    Parameters
    ----------
    **params
        Passed to every `MTNetClassifier` (``preset``, ``random_state``,
        ``max_epochs``...).

    Returns
    -------
    dict of str to MTNetClassifier
        ``"Model CR-DR"``, ``"Model DR"``, ``"Model CR"``, ``"Model NoSeg-CR-DR"``,
        ``"Model Logistic-CR-DR"``.

    Examples
    --------
    >>> from mvikit.deep import mtnet_models
    >>> list(mtnet_models(random_state=0))
    ['Model CR-DR', 'Model DR', 'Model CR', 'Model NoSeg-CR-DR', 'Model Logistic-CR-DR']
    """
    order = ("CR-DR", "DR", "CR", "NoSeg-CR-DR", "Logistic-CR-DR")
    return {f"Model {v}": MTNetClassifier(v, **params) for v in order}
