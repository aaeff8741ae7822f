"""The scikit-learn base of mvikit's deep estimators: cohort frame in, a trained network out.

`DeepCohortEstimator` is what users see through its subclasses (the deep
classifiers through `DeepCohortClassifier`, which adds labels, ``predict_proba``
and friends; `mvikit.survival.DeepCoxSurvival` directly).  Its ``__init__`` only
stores parameters; ``fit`` looks the architecture up in the register
(`mvikit.deep.nets.get_architecture`), resolves the settings (preset, the
architecture's preset, explicit parameters), fits a `CohortTensorizer` (column roles,
fold-safe clinical preprocessing, input geometry) on the training rows, and trains
the network with the trainer of its scheme (`mvikit.deep._trainers`).

The parameters every deep estimator shares are declared once here
(`SHARED_PARAMETERS`, `SHARED_CONSTRAINTS`); each estimator still lists them in its
``__init__`` (scikit-learn reads parameters from the signature), and a test checks
that every deep estimator exposes the same names and defaults.
"""

from __future__ import annotations

import logging
from abc import ABCMeta, abstractmethod
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import TransformerTags, check_random_state
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import LRScheduler

from ..utils._roles import check_cohort_frame
from ..utils._validation import Integral, Interval, Real, StrOptions
from ._tensorizer import CohortTensorizer
from ._trainers import PRECISIONS, CohortTrainer, autocast_context
from .augment import BatchAugmenter
from .nets._registry import Architecture

__all__ = ["DeepCohortClassifier", "DeepCohortEstimator", "PRECISIONS", "PRESETS",
           "SHARED_CONSTRAINTS", "SHARED_PARAMETERS", "autocast_context"]

logger = logging.getLogger(__name__)

#: Settings filled in by ``preset`` when the matching parameter is None (an
#: architecture may change some for its own input, see `Architecture.presets`).
#: "paper": MD-Net Sec. III-F (width 1, 16x64x64 crops of the 20x80x80 cube, 80
#: epochs, batch 16, Adam 3e-4); slice inputs at 224x224 (ResNet18's ImageNet size).
#: "cpu": the paper's field of view (the 20x80x80 cube, 16x64x64 crops) at half
#: the in-plane resolution (``downsample=(1, 2, 2)``: the network sees 16x32x32)
#: and a narrow net that trains on the default 270-patient simulated cohort in
#: about a CPU-minute (see benchmarks/bench_deep.py); slices at 64x64.
#: "demo": the quick command-line demo (``mvikit demo --quick``): the cpu preset's
#: field of view, 3 epochs, about 12 CPU-seconds per MD-Net fit on 180 patients.
#: ``channels_last`` is not a parameter: it feeds the batches to the network in
#: torch's channels-last 3D layout, which oneDNN's CPU convolutions run
#: faster: 1.3-1.7x for the narrow presets, 1.13x for the paper-size step
#: (float32 and bfloat16 alike; benchmarks/bench_deep.py; not measured on a GPU).
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"width": 1.0, "cube": (20, 80, 80), "downsample": (1, 1, 1),
              "crop_size": (16, 64, 64), "n_slices": 3, "slice_size": 224, "max_epochs": 80,
              "batch_size": 16, "lr": 3e-4, "channels_last": True},
    "cpu": {"width": 0.0625, "cube": (20, 80, 80), "downsample": (1, 2, 2),
            "crop_size": (16, 32, 32), "n_slices": 3, "slice_size": 64, "max_epochs": 10,
            "batch_size": 16, "lr": 1e-3, "channels_last": True},
    "demo": {"width": 0.0625, "cube": (20, 80, 80), "downsample": (1, 2, 2),
             "crop_size": (16, 32, 32), "n_slices": 3, "slice_size": 64, "max_epochs": 3,
             "batch_size": 16, "lr": 2e-3, "channels_last": True},
}
_PRESET_KEYS = ("width", "cube", "downsample", "crop_size", "n_slices", "slice_size",
                "max_epochs", "batch_size", "lr")

#: Parameters (and defaults) of every deep estimator, after its own.
SHARED_PARAMETERS: dict[str, Any] = {
    "volumes": "auto", "clinical": "auto", "masks": "auto", "cube": None, "downsample": None,
    "crop_size": None, "n_slices": None, "slice_size": None, "width": None,
    "max_epochs": None, "batch_size": None, "lr": None, "preset": "cpu", "lr_step": 2,
    "lr_gamma": 0.9, "weight_decay": 0.0, "augment": True, "normalize": "zscore",
    "device": "cpu", "precision": "float32", "random_state": None, "verbose": 0,
}

SHARED_CONSTRAINTS: dict[str, list] = {
    "volumes": [StrOptions({"auto"}), list, tuple, str],
    "clinical": [StrOptions({"auto"}), list, tuple, None],
    "masks": [StrOptions({"auto"}), list, tuple, None],
    "cube": ["array-like", None],
    "downsample": [Interval(Integral, 1, None, closed="left"), "array-like", None],
    "crop_size": ["array-like", None],
    "n_slices": [Interval(Integral, 1, None, closed="left"), None],
    "slice_size": [Interval(Integral, 4, None, closed="left"), None],
    "width": [Interval(Real, 0, None, closed="neither"), None],
    "max_epochs": [Interval(Integral, 0, None, closed="left"), None],
    "batch_size": [Interval(Integral, 1, None, closed="left"), None],
    "lr": [Interval(Real, 0, None, closed="neither"), None],
    "preset": [StrOptions(set(PRESETS))],
    "lr_step": [Interval(Integral, 1, None, closed="left")],
    "lr_gamma": [Interval(Real, 0, 1, closed="right")],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "augment": ["boolean"],
    "normalize": [StrOptions({"zscore", "percentile"}), None],
    "device": [str],
    "precision": [StrOptions(set(PRECISIONS))],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}


def _seed(random_state) -> int:
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


@contextmanager
def _seeded_torch(seed: int, device: str):
    """Seed torch inside a forked RNG state, so fitting leaves the caller's RNG alone."""
    devices = []
    if str(device).startswith("cuda") and torch.cuda.is_available():
        devices = [torch.device(device).index or 0]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _tensorizer_attribute(name: str, doc: str) -> property:
    def get(self):
        return getattr(self.tensorizer_, name)
    return property(get, doc=doc)


class DeepCohortEstimator(BaseEstimator, metaclass=ABCMeta):
    """Shared machinery of the deep estimators over cohort frames (not public).

    Neither a classifier nor a regressor: `DeepCohortClassifier` adds the class
    labels and outputs, `mvikit.survival.DeepCoxSurvival` a survival target and
    risks.  Subclasses define ``__init__`` (storing parameters),
    ``_parameter_constraints``, ``_architecture``, ``_uses_clinical_input``,
    ``_encode_labels`` and ``fit``.
    """

    _parameter_constraints: dict = dict(SHARED_CONSTRAINTS)

    volume_columns_ = _tensorizer_attribute("volume_columns_", "Volume columns, in order.")
    mask_columns_ = _tensorizer_attribute("mask_columns_", "Mask columns.")
    clinical_columns_ = _tensorizer_attribute("clinical_columns_", "Clinical columns.")
    clinical_preprocessor_ = _tensorizer_attribute(
        "clinical_preprocessor_", "The ClinicalPreprocessor fitted on the training rows, or None.")

    @abstractmethod
    def _architecture(self) -> Architecture:
        """The registered architecture of the (main) network."""

    @abstractmethod
    def _uses_clinical_input(self) -> bool:
        """Whether the network reads the clinical vector (fit and predict)."""

    @abstractmethod
    def _encode_labels(self, X: pd.DataFrame, y) -> np.ndarray:
        """Check ``y`` against ``X`` and return the training target as numpy."""

    # ------------------------------------------------------------ settings
    def _settings(self, spec: Architecture) -> dict[str, Any]:
        """Preset values, then the architecture's preset, overridden by every explicitly
        given (non-None) parameter."""
        # only the parameter-backed keys: layout flags such as ``channels_last`` stay in PRESETS
        settings = {key: PRESETS[self.preset][key] for key in _PRESET_KEYS}
        settings.update(spec.presets.get(self.preset, {}))
        for key in _PRESET_KEYS:
            if getattr(self, key) is not None:
                settings[key] = getattr(self, key)
        if spec.input_kind != "cube":
            grid = (int(settings["n_slices"]), int(settings["slice_size"]),
                    int(settings["slice_size"]))
            settings.update(grid=grid, crop_size=grid)
            return settings
        settings["crop_size"] = tuple(int(s) for s in settings["crop_size"])
        cube = tuple(int(s) for s in settings["cube"])
        if len(cube) != 3 or len(settings["crop_size"]) != 3:
            raise ValueError(f"{type(self).__name__}: `cube` and `crop_size` need 3 sizes "
                             f"(D, H, W); got cube={settings['cube']!r}, crop_size="
                             f"{settings['crop_size']!r}.")
        factors = self._downsample_factors(settings["downsample"])
        if any(c % f for c, f in zip(cube, factors)):
            raise ValueError(
                f"{type(self).__name__}: cube={cube} is not a whole number of "
                f"downsample={factors} blocks on every axis. Choose a cube divisible by the "
                "factors (the cpu preset: cube (20, 80, 80), downsample (1, 2, 2)).")
        grid = tuple(c // f for c, f in zip(cube, factors))
        if any(c > g for c, g in zip(settings["crop_size"], grid)):
            raise ValueError(
                f"{type(self).__name__}: crop_size={settings['crop_size']} is larger than the "
                f"cube={cube} downsampled by {factors} = {grid} it is cropped from. Use a crop "
                "no larger than that on every axis (the paper crops 16x64x64 out of 20x80x80)."
            )
        settings.update(cube=cube, downsample=factors, grid=grid)
        return settings

    def _downsample_factors(self, value) -> tuple[int, int, int]:
        from ..imaging._downsample import downsample_factors

        try:
            return downsample_factors(value)
        except ValueError as error:
            raise ValueError(f"{type(self).__name__}: {error}") from None

    def _augmenter(self, spec: Architecture) -> BatchAugmenter:
        crop = self.settings_["crop_size"]
        if self.augment:
            return BatchAugmenter(crop, spatial_dims=spec.spatial_dims)
        return BatchAugmenter(crop, flip=False, rotation=0.0, scale=0.0, translation=0.0,
                              intensity=0.0, spatial_dims=spec.spatial_dims)

    def _trainer_kwargs(self, n_outputs: int) -> dict[str, Any]:
        """Settings shared by every trainer (optimiser, schedule, device, the
        architecture's contract for ``n_outputs`` logits...)."""
        s = self.settings_
        spec = self._architecture()
        return {
            "optimizer": torch.optim.Adam,
            "lr": s["lr"],
            "optimizer__weight_decay": self.weight_decay,
            "max_epochs": s["max_epochs"],
            "batch_size": s["batch_size"],
            "iterator_train__shuffle": True,
            "train_split": None,
            "callbacks": [("lr_scheduler", self._lr_scheduler(s.get("lr_schedule")))],
            "device": self.device,
            "verbose": int(self.verbose),
            "augmenter": self._augmenter(spec),
            "channels_last": (spec.spatial_dims == 3
                              and bool(PRESETS[self.preset].get("channels_last", False))),
            "precision": self.precision,
            "architecture": spec.name,
            "n_outputs": n_outputs,
            "auxiliary": dict(spec.auxiliary),
        }

    def _lr_scheduler(self, schedule: dict | None) -> LRScheduler:
        """StepLR (``lr_step``, ``lr_gamma``), or the schedule an architecture's preset
        names (``{"policy": "plateau", "factor", "patience", "monitor"}``:
        `torch.optim.lr_scheduler.ReduceLROnPlateau` on a history key, e.g. the epoch's
        training loss)."""
        if not schedule or schedule.get("policy") == "step":
            return LRScheduler(policy=torch.optim.lr_scheduler.StepLR, step_size=self.lr_step,
                               gamma=self.lr_gamma)
        if schedule.get("policy") != "plateau":
            raise ValueError(f"Unknown learning-rate schedule {schedule!r}; an architecture's "
                             "preset may name {'policy': 'plateau', ...} or 'step'.")
        return LRScheduler(policy=torch.optim.lr_scheduler.ReduceLROnPlateau,
                           monitor=schedule.get("monitor", "train_loss"),
                           factor=schedule.get("factor", self.lr_gamma),
                           patience=schedule.get("patience", 0))

    def _build_module(self, spec: Architecture, n_outputs: int, n_clinical: int,
                      **options) -> torch.nn.Module:
        return spec.build(n_sequences=len(self.volume_columns_), n_outputs=n_outputs,
                          n_clinical=n_clinical, width=self.settings_["width"], **options)

    # ---------------------------------------------------------------- fit
    def _prepare_fit(self, X, y, *, clinical=None) -> tuple[dict, np.ndarray]:
        """Validate, fit the tensorizer, encode the target and build the training tensors.

        ``clinical`` overrides the ``clinical`` parameter (columns chosen inside fit,
        e.g. by MTnet's backward logistic selection)."""
        X = check_cohort_frame(X)
        spec = self._architecture()
        self.settings_ = self._settings(spec)
        s = self.settings_
        self.tensorizer_ = CohortTensorizer(
            input_kind=spec.input_kind, volumes=self.volumes,
            clinical=self.clinical if clinical is None else clinical,
            masks=self.masks, use_clinical=self._uses_clinical_input(),
            cube=s.get("cube"), downsample=s.get("downsample"), n_slices=s["n_slices"],
            slice_size=s["slice_size"], normalize=self.normalize,
        ).fit(X, owner=type(self).__name__)
        y_encoded = self._encode_labels(X, y)
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self.tensorizer_.transform(X), y_encoded

    def _train(self, build_net: Callable[[], CohortTrainer], data: dict, y: np.ndarray,
               seed: int) -> CohortTrainer:
        """Build the net and train it under one torch seed (initial weights,
        shuffling and augmentation all follow ``random_state``)."""
        with _seeded_torch(seed, self.device):
            net = build_net()
            if len(y) % net.batch_size == 1:
                # a last batch of one patient gives BatchNorm a degenerate estimate
                net.set_params(iterator_train__drop_last=True)
            net.fit(data, y)
        return net

    # ------------------------------------------------------------ predict
    def _inference_data(self, X, *, with_clinical: bool) -> dict:
        check_is_fitted(self, "net_")
        return self.tensorizer_.transform(X, clinical=with_clinical)

    def _student_outputs(self, X) -> dict[str, np.ndarray]:
        data = self._inference_data(X, with_clinical=self._uses_clinical_input())
        return self.net_.outputs(data)

    def transform(self, X) -> np.ndarray:
        """Embeddings: the image features the classifier reads (for t-SNE, Fig. 5).

        Parameters
        ----------
        X : pandas.DataFrame

        Returns
        -------
        ndarray of shape (n_patients, n_embedding)
        """
        check_is_fitted(self, "net_")
        return self._student_outputs(X)["embedding"]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # ``transform`` returns embeddings (float32), so scikit-learn sees a transformer too
        tags.transformer_tags = TransformerTags(preserves_dtype=[])
        tags.non_deterministic = str(self.device).startswith("cuda")
        tags.input_tags.allow_nan = True
        return tags


class DeepCohortClassifier(ClassifierMixin, DeepCohortEstimator):
    """`DeepCohortEstimator` for class labels (not public): ``classes_``,
    ``class_weight``, ``predict``, ``predict_proba``, ``decision_function`` and
    accuracy ``score``; base of `VolumeNetClassifier` and `MDNetClassifier`."""

    _parameter_constraints: dict = {
        **DeepCohortEstimator._parameter_constraints,
        "class_weight": [StrOptions({"balanced"}), dict, None],
    }

    def _encode_labels(self, X: pd.DataFrame, y) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(f"y must be 1-D with one label per patient ({len(X)}); got shape "
                             f"{y.shape}.")
        if pd.isna(pd.Series(y)).any():
            ids = ", ".join(map(repr, X.index[pd.isna(pd.Series(y)).to_numpy()][:5]))
            raise ValueError(f"y is missing for patient(s) {ids}; drop them before fitting.")
        kind = type_of_target(y)
        if kind not in ("binary", "multiclass"):
            raise ValueError(
                f"{type(self).__name__} is a classifier: y must hold class labels, but its type "
                f"is {kind!r} ({len(np.unique(y))} distinct values among {len(y)} patients). "
                "Use a survival estimator for times, or discretise y into classes.")
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes in y; got only "
                f"{self.classes_.tolist()}. Check the labels (or the fold split)."
            )
        return encoder.transform(y).astype(np.int64)

    def _class_weight_tensor(self, y_encoded: np.ndarray) -> torch.Tensor | None:
        if self.class_weight is None:
            return None
        n_classes = len(self.classes_)
        if self.class_weight == "balanced":
            counts = np.bincount(y_encoded, minlength=n_classes)
            weights = len(y_encoded) / (n_classes * np.maximum(counts, 1))
        else:
            unknown = set(self.class_weight) - set(self.classes_.tolist())
            if unknown:
                raise ValueError(f"class_weight names classes {sorted(unknown)} not in y "
                                 f"({self.classes_.tolist()}).")
            weights = np.array([float(self.class_weight.get(c, 1.0)) for c in self.classes_])
        return torch.as_tensor(weights, dtype=torch.float32)

    def decision_function(self, X) -> np.ndarray:
        """Class scores (logits) of the network.

        Parameters
        ----------
        X : pandas.DataFrame
            Cohort frame with the volume (and mask) columns seen in fit.

        Returns
        -------
        ndarray of shape (n_patients,) for two classes (the log-odds of
        ``classes_[1]``), else (n_patients, n_classes).
        """
        check_is_fitted(self, "net_")
        logits = self._student_outputs(X)["logits"]
        if logits.shape[1] == 2:
            return logits[:, 1] - logits[:, 0]
        return logits

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (softmax of the logits), columns in ``classes_`` order.

        Parameters
        ----------
        X : pandas.DataFrame
            Cohort frame with the volume (and mask) columns seen in fit.

        Returns
        -------
        ndarray of shape (n_patients, n_classes)
        """
        check_is_fitted(self, "net_")
        logits = torch.from_numpy(self._student_outputs(X)["logits"])
        return torch.softmax(logits.double(), dim=1).numpy()

    def predict(self, X) -> np.ndarray:
        """Most probable class of each patient.

        Parameters
        ----------
        X : pandas.DataFrame

        Returns
        -------
        ndarray of shape (n_patients,)
        """
        check_is_fitted(self, "net_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
