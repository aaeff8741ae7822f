"""`DeepCoxSurvival`: a 3D network trained with the Cox partial likelihood (DeepSurv-style).

The network reads the cohort frame through `mvikit.deep`'s machinery (column roles,
fold-safe clinical preprocessing, ROI crop and normalisation cached by volume, batch
augmentation) and ends in a single-output risk head; the loss is eq. (9) of DMMGNet
(seed 002), `cox_partial_likelihood_loss`. After training, Breslow's estimator on the
training risks gives the baseline hazard, so survival curves come out as for
`CoxPHSurvival`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_is_fitted
from sksurv.base import SurvivalAnalysisMixin
from sksurv.linear_model.coxph import BreslowEstimator
from sksurv.metrics import concordance_index_censored
from torch.utils.data import DataLoader, Sampler

from ..deep._base import DeepCohortEstimator, _seed
from ..deep._trainers import CohortTrainer, MultiTaskTrainer
from ..deep.nets import Architecture, get_architecture, list_architectures
from ..exceptions import TrainingError
from ..utils._validation import Integral, Interval, Real, StrOptions, fit_context
from ._partial_likelihood import CoxPartialLikelihoodLoss
from ._target import check_survival_y

__all__ = ["DeepCoxSurvival"]


class EventStratifiedBatchSampler(Sampler[list[int]]):
    """Mini-batches that each hold at least ``min_events`` events (internal).

    Every epoch, events and censored patients are shuffled separately and dealt
    round-robin into ``n_batches`` batches, so events spread evenly. ``n_batches`` is
    ``ceil(n / batch_size)``, lowered when there are too few events for
    ``min_events`` per batch (batches then grow beyond ``batch_size``) and kept
    ``<= n // 2`` (no batch of one patient, which BatchNorm cannot train on).
    """

    def __init__(self, event: np.ndarray, batch_size: int, min_events: int,
                 generator: torch.Generator) -> None:
        self.event = np.asarray(event, dtype=bool)
        n, n_events = self.event.size, int(self.event.sum())
        n_batches = math.ceil(n / batch_size)
        n_batches = min(n_batches, max(1, n_events // max(1, min_events)), max(1, n // 2))
        self.n_batches = n_batches
        self.generator = generator

    def __len__(self) -> int:
        return self.n_batches

    def _dealt(self, indices: np.ndarray, offset: int) -> list[list[int]]:
        order = indices[torch.randperm(indices.size, generator=self.generator).numpy()]
        return [order[(k - offset) % self.n_batches::self.n_batches].tolist()
                for k in range(self.n_batches)]

    def __iter__(self) -> Iterator[list[int]]:
        events = self._dealt(np.flatnonzero(self.event), 0)
        # censored patients start at the batches with fewest events, to even out sizes
        n_events = int(self.event.sum())
        censored = self._dealt(np.flatnonzero(~self.event), n_events % self.n_batches)
        for batch_events, batch_censored in zip(events, censored):
            batch = np.asarray(batch_events + batch_censored, dtype=np.int64)
            yield batch[torch.randperm(batch.size, generator=self.generator).numpy()].tolist()


class CoxTrainer(CohortTrainer):
    """`CohortTrainer` for the Cox partial likelihood: training batches come from
    `EventStratifiedBatchSampler` (the Cox training scheme).

    Parameters
    ----------
    module, criterion, **kwargs
        As `CohortTrainer`.
    min_events_per_batch : int, default=2
    """

    def __init__(self, module, criterion, *args, min_events_per_batch: int = 2,
                 **kwargs) -> None:
        super().__init__(module, criterion, *args, **kwargs)
        self.min_events_per_batch = min_events_per_batch

    def _batch_generator(self) -> torch.Generator:
        generator = self.__dict__.get("_batch_generator_")
        if generator is None:
            # a stream of its own, so batching does not shift the augmentation draws
            generator = torch.Generator().manual_seed(int(self.augment_seed) + 1)
            self.__dict__["_batch_generator_"] = generator
        return generator

    def get_iterator(self, dataset, training=False):
        if not training:
            return super().get_iterator(dataset, training=False)
        event = np.asarray(dataset.y)[:, 1] > 0.5
        sampler = EventStratifiedBatchSampler(event, self.batch_size, self.min_events_per_batch,
                                              self._batch_generator())
        return DataLoader(dataset, batch_sampler=sampler)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_batch_generator_", None)  # a torch.Generator does not pickle
        return state


class MultiTaskCoxTrainer(CoxTrainer, MultiTaskTrainer):
    """`CoxTrainer` whose loss adds the architecture's auxiliary losses (internal): the
    Cox partial likelihood + ``sum_k weight_k * aux_k`` (`MultiTaskTrainer`), with
    event-stratified batches (e.g. MTnet's segmentation, seed 004, with a Cox head)."""


class LinearClinicalSkip(torch.nn.Module):
    """Risk = image network output + a linear term of the clinical vector (internal).

    The "deep Cox with a linear clinical skip": the clinical items enter the log-hazard
    as in the linear Cox model, ``clinical @ w``, and the image network (built without
    clinical input) learns what the images add on top of them.

    Parameters
    ----------
    image : torch.nn.Module
        Network over the volumes returning ``{"logits": (B, 1), "embedding": ...}``.
    n_clinical : int
        Length of the preprocessed clinical vector.
    init : ndarray of shape (n_clinical,), default=None
        Starting weights of the linear term (default zeros).
    """

    def __init__(self, image: torch.nn.Module, n_clinical: int,
                 init: np.ndarray | None = None) -> None:
        super().__init__()
        self.image = image
        self.n_clinical = n_clinical  # its model-file recipe: LinearClinicalSkip(image, n_clinical)
        self.clinical_linear = torch.nn.Linear(n_clinical, 1, bias=False)
        with torch.no_grad():
            weights = (torch.zeros(n_clinical) if init is None
                       else torch.as_tensor(init, dtype=torch.float32))
            self.clinical_linear.weight.copy_(weights[None, :])

    def forward(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = self.image({key: value for key, value in batch.items() if key != "clinical"})
        image = out["logits"]
        linear = self.clinical_linear(batch["clinical"].to(image.dtype))
        return {**out, "logits": image + linear, "image_logits": image}


class DeepCoxSurvival(SurvivalAnalysisMixin, DeepCohortEstimator):
    """Deep Cox model: a 3D network over the cohort frame, trained on eq. (9) of DMMGNet.

    The network (any backbone of `mvikit.deep.nets`, optionally with the clinical items
    by late fusion or as a linear term added to the image risk) ends in one output, the
    log-hazard ``r(x)``; it is trained with the negative Cox partial log-likelihood.
    ``predict`` returns the risk (higher = worse), ``score`` Harrell's C, and the Breslow
    baseline hazard fitted on the training risks gives survival and cumulative-hazard
    functions.

    Parameters
    ----------
    architecture : str, default="concat"
        A registered architecture (`mvikit.deep.nets.list_architectures`; see
        `mvikit.deep.VolumeNetClassifier`) with one output, the risk:
        ``"mdnet_student"`` is MD-Net's image-only student (1 or 2 sequences, no
        clinical input); ``"mdnet_teacher"`` gates every block with the clinical vector
        and needs ``use_clinical=True``; ``"resnet18_slices"`` reads slices.
    use_clinical : bool, default=False
        Use the preprocessed clinical vector (see ``clinical_fusion``); clinical columns
        are then needed at predict time (NaN cells are imputed).
    clinical_fusion : {"late", "linear"}, default="late"
        How the clinical vector enters (with ``use_clinical=True``). ``"late"``: one FC
        layer + ReLU, concatenated to the image features before the risk head.
        ``"linear"``: a linear clinical skip, ``r(x) = clinical @ w + f(images)``, the
        image network built without clinical input (DeepSurv with a linear clinical term,
        the linear Cox model plus what the images add); not with ``"mdnet_teacher"``.
    clinical_init : {"cox", "zero"}, default="cox"
        Starting ``w`` of the linear skip: the coefficients of a ridge
        :class:`CoxPHSurvival` (``clinical_penalizer``, same ``ties``) fitted on the
        preprocessed training clinical matrix, or zeros.
    clinical_penalizer : float, default=1.0
        Penalty of that starting Cox fit (lifelines' convention, see `CoxPHSurvival`).
    clinical_lr : float, default=None
        Adam learning rate of ``w`` (None: ``lr``; ``0`` keeps ``w`` at its start).
    ties : {"breslow", "efron"}, default="breslow"
        Tied times in the loss.
    min_events_per_batch : int, default=2
        Every training batch holds at least this many events (a batch without events
        has no partial likelihood); with few events, batches grow beyond ``batch_size``.
    auxiliary_weights : dict of str to float or None, default=None
        Architectures with auxiliary outputs (``"mtnet"``, ``"unet_multitask"``: the
        tumour segmentation) train multi-task: the Cox loss plus these weights times
        the auxiliary losses (missing outputs weigh 1, 0 removes a term).
    volumes, clinical, masks, cube, downsample, crop_size, n_slices, slice_size, width, \
max_epochs, batch_size, lr, preset, lr_step, lr_gamma, weight_decay, augment, normalize, \
device, precision, random_state, verbose
        As `mvikit.deep.VolumeNetClassifier`; with ``precision="bfloat16"`` the
        network runs under bfloat16 autocast and the Cox loss gets its risks cast
        to float32. ``preset="cpu"`` (default) is a narrow net reading the 20x80x80
        cube at half the in-plane resolution (16x32x32 crops); ``"paper"`` the
        full-width one at full resolution.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained network.
    baseline_estimator_ : sksurv.linear_model.coxph.BreslowEstimator
        Breslow's baseline hazard on the (centred) training risks.
    unique_times_ : ndarray
        Time grid of the baseline (and of ``return_array=True``).
    risk_offset_ : float
        Mean raw network output on the training frame; ``predict`` subtracts it.
    image_risk_offset_ : float
        Mean image term on the training frame (linear skip only; see
        :meth:`decompose_risk`).
    clinical_cox_ : CoxPHSurvival
        The Cox fit that started the linear skip (``clinical_init="cox"`` only).
    survival_train_ : structured ndarray
        The training target (for IPCW scorers, `make_survival_scorer`).
    volume_columns_, mask_columns_, clinical_columns_ : list of str
    clinical_preprocessor_ : ClinicalPreprocessor or None
    settings_ : dict
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    See Also
    --------
    CoxPHSurvival : the linear Cox model on clinical features.
    cox_partial_likelihood_loss : the loss.

    Notes
    -----
    Training risks for the baseline are computed in evaluation mode (centre crops, no
    augmentation), as at predict time. On the CPU the same ``random_state`` gives
    bit-identical predictions.

    With the linear skip started at the Cox fit, ``max_epochs=0`` gives that Cox model's
    linear predictor plus the untrained image network's output; training then moves
    ``w`` and the image network together. :meth:`decompose_risk` tells what each term
    contributes: on the simulated cohort the clinical term carries most of the
    held-out C-index (see the user guide).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mvikit import Volume
    >>> from mvikit.survival import DeepCoxSurvival, Surv
    >>> rng = np.random.default_rng(0)
    >>> mask = np.zeros((8, 16, 16), np.uint8); mask[3:5, 6:10, 6:10] = 1
    >>> X = pd.DataFrame({"PRE": [Volume(rng.normal(size=(8, 16, 16))) for _ in range(8)],
    ...                   "tumor_mask": [Volume(mask)] * 8}, index=[f"p{i}" for i in range(8)])
    >>> y = Surv.from_arrays(event=[1, 0] * 4, time=np.arange(1.0, 9.0))
    >>> model = DeepCoxSurvival(cube=(8, 16, 16), downsample=1, crop_size=(8, 16, 16),
    ...                         width=0.0625, max_epochs=1, batch_size=4, random_state=0).fit(X, y)
    >>> model.predict(X).shape
    (8,)
    >>> bool(np.all(np.diff(model.predict_survival_function(X, return_array=True)) <= 0))
    True

    A linear clinical skip: the clinical items as in the linear Cox model, the image
    network on top.

    >>> X["age"] = rng.normal(60, 10, size=8)
    >>> skip = DeepCoxSurvival(use_clinical=True, clinical_fusion="linear", clinical=["age"],
    ...                        cube=(8, 16, 16), downsample=1, crop_size=(8, 16, 16),
    ...                        width=0.0625, max_epochs=1, batch_size=4, random_state=0).fit(X, y)
    >>> parts = skip.decompose_risk(X)
    >>> list(parts.columns), bool(np.allclose(parts.sum(axis=1), skip.predict(X), atol=1e-5))
    (['clinical', 'image'], True)
    """

    _estimator_kind = "survival"

    _parameter_constraints: dict = {
        **DeepCohortEstimator._parameter_constraints,
        "architecture": [str],  # checked against the register in fit
        "use_clinical": ["boolean"],
        "clinical_fusion": [StrOptions({"late", "linear"})],
        "clinical_init": [StrOptions({"zero", "cox"})],
        "clinical_penalizer": [Interval(Real, 0, None, closed="left")],
        "clinical_lr": [Interval(Real, 0, None, closed="left"), None],
        "ties": [StrOptions({"breslow", "efron"})],
        "min_events_per_batch": [Interval(Integral, 1, None, closed="left")],
        "auxiliary_weights": [dict, None],
    }

    def __init__(self, architecture="concat", *, use_clinical=False, clinical_fusion="late",
                 clinical_init="cox", clinical_penalizer=1.0, clinical_lr=None, ties="breslow",
                 min_events_per_batch=2, auxiliary_weights=None, volumes="auto",
                 clinical="auto", masks="auto", cube=None, downsample=None, crop_size=None,
                 n_slices=None, slice_size=None, width=None, max_epochs=None, batch_size=None,
                 lr=None, preset="cpu", lr_step=2, lr_gamma=0.9, weight_decay=0.0, augment=True,
                 normalize="zscore", device="cpu", precision="float32", random_state=None,
                 verbose=0):
        self.architecture = architecture
        self.use_clinical = use_clinical
        self.clinical_fusion = clinical_fusion
        self.clinical_init = clinical_init
        self.clinical_penalizer = clinical_penalizer
        self.clinical_lr = clinical_lr
        self.ties = ties
        self.auxiliary_weights = auxiliary_weights
        self.min_events_per_batch = min_events_per_batch
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
        spec = get_architecture(self.architecture)
        unknown = set(self.auxiliary_weights or {}) - set(spec.auxiliary)
        if unknown:
            raise ValueError(f"auxiliary_weights names {sorted(unknown)}; architecture "
                             f"{spec.name!r} has auxiliary outputs {sorted(spec.auxiliary)}.")
        return spec

    def _uses_clinical_input(self) -> bool:
        return bool(self.use_clinical)

    def _module(self, spec: Architecture, n_clinical: int,
                init: np.ndarray | None = None) -> torch.nn.Module:
        if not self._linear_skip():
            return self._build_module(spec, 1, n_clinical)
        if spec.clinical == "required":
            image_only = [n for n in list_architectures(clinical="none")
                          + list_architectures(clinical="late") if n != "unet_multitask"]
            raise ValueError(f"architecture {spec.name!r} fuses clinical data into the "
                             "network; clinical_fusion='linear' needs an image-only "
                             f"backbone ({', '.join(image_only)}).")
        return LinearClinicalSkip(self._build_module(spec, 1, 0), n_clinical, init)

    def _encode_labels(self, X: pd.DataFrame, y) -> np.ndarray:
        """The survival target as float32 ``(n, 2)``: time, event (called by the base)."""
        event, time = check_survival_y(y, patient_ids=X.index)
        if event.shape[0] != len(X):
            raise ValueError(f"X has {len(X)} patients but y has {event.shape[0]}.")
        target = np.empty(event.shape[0], dtype=[("event", bool), ("time", float)])
        target["event"], target["time"] = event, time
        self.survival_train_ = target
        return np.column_stack([time, event]).astype(np.float32)

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Crop, normalise and stack the volumes, train the network, fit the baseline.

        Parameters
        ----------
        X : pandas.DataFrame
            Cohort frame: volume columns, a tumour mask column, clinical columns (used
            with ``use_clinical=True``).
        y : structured ndarray of shape (n_patients,)
            Survival target (`Surv.from_arrays`, `make_survival_target`).

        Returns
        -------
        self : DeepCoxSurvival
        """
        data, target = self._prepare_fit(X, y)
        seed = _seed(self.random_state)
        criterion = CoxPartialLikelihoodLoss(ties=self.ties)

        init = self._clinical_init(data["clinical"].numpy(), target)

        spec = self._architecture()

        trainer, extra = CoxTrainer, {}
        if spec.auxiliary:
            trainer, extra = MultiTaskCoxTrainer, {"auxiliary_weights": self.auxiliary_weights}

        def build_net() -> CoxTrainer:
            module = self._module(spec, data["clinical"].shape[1], init)
            return trainer(module, criterion, augment_seed=seed,
                           min_events_per_batch=self.min_events_per_batch, **extra,
                           **self._cox_trainer_kwargs())

        self.net_ = self._train(build_net, data, target, seed)
        outputs = self.net_.outputs(data)
        raw = outputs["logits"][:, 0].astype(np.float64)
        self.risk_offset_ = float(raw.mean())
        if self._linear_skip():
            self.image_risk_offset_ = float(outputs["image_logits"][:, 0].mean())
        event, time = self.survival_train_["event"], self.survival_train_["time"]
        self.baseline_estimator_ = self._breslow(raw - self.risk_offset_, event, time)
        self.unique_times_ = self.baseline_estimator_.unique_times_
        return self

    def _linear_skip(self) -> bool:
        return bool(self.use_clinical) and self.clinical_fusion == "linear"

    def _clinical_init(self, clinical: np.ndarray, target: np.ndarray) -> np.ndarray | None:
        """Starting weights of the linear clinical term: a ridge Cox fit on the
        preprocessed training clinical matrix (``clinical_init="cox"``), else None."""
        if not self._linear_skip() or self.clinical_init != "cox":
            return None
        from ._cox import CoxPHSurvival
        y = np.empty(len(target), dtype=[("event", bool), ("time", float)])
        y["event"], y["time"] = target[:, 1] > 0.5, target[:, 0]
        keep = clinical.std(0) > 0  # constant columns (e.g. a dummy absent from the fold)
        cox = CoxPHSurvival(penalizer=self.clinical_penalizer, ties=self.ties).fit(
            clinical[:, keep].astype(np.float64), y)
        weights = np.zeros(clinical.shape[1])
        weights[keep] = cox.coef_
        self.clinical_cox_ = cox
        return weights

    def _cox_trainer_kwargs(self) -> dict:
        kwargs = self._trainer_kwargs(1)
        if self._linear_skip() and self.clinical_lr is not None:
            # skorch parameter group: its own Adam learning rate (0 freezes the term)
            kwargs["optimizer__param_groups"] = [("clinical_linear.*",
                                                  {"lr": self.clinical_lr})]
        return kwargs

    @staticmethod
    def _breslow(risk: np.ndarray, event: np.ndarray, time: np.ndarray) -> BreslowEstimator:
        with np.errstate(over="ignore", invalid="ignore"):
            baseline = BreslowEstimator().fit(risk, event, time)
        if not np.all(np.isfinite(baseline.cum_baseline_hazard_.y)):
            raise TrainingError(
                f"The trained network's risks span {np.ptp(risk):.3g} log-hazard units on the "
                "training patients, so exp(risk) overflows in the Breslow baseline hazard. "
                "Lower the learning rate (`lr`) or train fewer epochs."
            )
        return baseline

    def _raw_risk(self, data: dict) -> np.ndarray:
        return self.net_.outputs(data)["logits"][:, 0].astype(np.float64)

    def predict(self, X) -> np.ndarray:
        """Predicted risk (log partial hazard; higher = worse prognosis).

        Parameters
        ----------
        X : pandas.DataFrame
            Cohort frame with the volume (and mask, clinical) columns seen in fit.

        Returns
        -------
        risk : ndarray of shape (n_patients,)
            Network output minus :attr:`risk_offset_`.
        """
        check_is_fitted(self, "net_")
        data = self._inference_data(X, with_clinical=self._uses_clinical_input())
        return self._raw_risk(data) - self.risk_offset_

    def decompose_risk(self, X) -> pd.DataFrame:
        """Split the predicted risk into its clinical and image terms (linear skip only).

        Parameters
        ----------
        X : pandas.DataFrame
            Cohort frame with the volume, mask and clinical columns seen in fit.

        Returns
        -------
        pandas.DataFrame
            One row per patient, columns ``clinical`` (the linear term ``clinical @ w``)
            and ``image`` (the image network's output), each centred at its training
            mean; they sum to :meth:`predict`. Their C-indices say what each part
            contributes.
        """
        check_is_fitted(self, "net_")
        if not self._linear_skip():
            raise ValueError("decompose_risk needs the linear clinical skip: fit with "
                             "use_clinical=True, clinical_fusion='linear'.")
        data = self._inference_data(X, with_clinical=True)
        outputs = self.net_.outputs(data)
        image = outputs["image_logits"][:, 0].astype(np.float64)
        clinical = outputs["logits"][:, 0].astype(np.float64) - image
        return pd.DataFrame({
            "clinical": clinical - (self.risk_offset_ - self.image_risk_offset_),
            "image": image - self.image_risk_offset_,
        }, index=X.index)

    def predict_survival_function(self, X, return_array=False):
        """Survival functions ``S(t | x) = S0(t) ** exp(risk)`` (Breslow baseline).

        Parameters
        ----------
        X : pandas.DataFrame
        return_array : bool, default=False
            Return an array evaluated at :attr:`unique_times_` instead of functions.

        Returns
        -------
        survival : ndarray of :class:`sksurv.functions.StepFunction`, or ndarray of shape \
(n_patients, n_times)
        """
        check_is_fitted(self, "net_")
        return self._predict_survival_function(self.baseline_estimator_, self.predict(X),
                                               return_array)

    def predict_cumulative_hazard_function(self, X, return_array=False):
        """Cumulative hazard functions ``H(t | x) = H0(t) * exp(risk)`` (Breslow baseline).

        Parameters
        ----------
        X : pandas.DataFrame
        return_array : bool, default=False
            Return an array evaluated at :attr:`unique_times_` instead of functions.

        Returns
        -------
        cumulative_hazard : ndarray of :class:`sksurv.functions.StepFunction`, or ndarray \
of shape (n_patients, n_times)
        """
        check_is_fitted(self, "net_")
        return self._predict_cumulative_hazard_function(self.baseline_estimator_,
                                                        self.predict(X), return_array)

    def score(self, X, y) -> float:
        """Harrell's concordance index of :meth:`predict` (scikit-survival).

        Parameters
        ----------
        X : pandas.DataFrame
        y : structured ndarray of shape (n_patients,)

        Returns
        -------
        cindex : float
        """
        event, time = check_survival_y(y, patient_ids=getattr(X, "index", None))
        return float(concordance_index_censored(event, time, self.predict(X))[0])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = None
        tags.classifier_tags = None
        tags.target_tags.required = True
        tags.target_tags.one_d_labels = False
        return tags
