"""The skorch base of mvikit's deep estimators: cohort frame in, tensors to the net.

Two layers, so that each library's contract holds:

* `CohortNet` is a `skorch.NeuralNet` that receives the dict batch
  ``{"volumes": (B, S, D, H, W), "masks": (B, S, D, H, W), "clinical": (B, C)}``.
  It overrides only small methods (`train_step_single` to augment the batch,
  `evaluation_step` to centre-crop it, `infer`, `get_loss`), never
  ``fit``/``fit_loop``.
* `CohortNetEstimator` is the scikit-learn estimator users see (the deep
  classifiers through `CohortNetClassifier`, which adds labels, ``predict_proba``
  and friends; `mvikit.survival.DeepCoxSurvival` directly).  Its ``__init__``
  only stores parameters; ``fit`` resolves the column roles, fits the clinical
  preprocessing on the training rows only (fold-safe), crops and normalises every
  volume once (through `mvikit.imaging.ROICropper` and `IntensityNormalizer`,
  whose results are cached by `Volume.cache_key`), stacks them into one float32
  tensor and hands it to a fresh `CohortNet`.

Mixed precision (``precision="bfloat16"``) runs only the networks' forward passes
under `torch.autocast`; parameters, gradients and Adam's state stay float32, and
the outputs are cast back to float32 before any loss or numpy conversion.
"""

from __future__ import annotations

import logging
from abc import ABCMeta, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import TransformerTags, check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from skorch.callbacks import LRScheduler
from skorch.dataset import unpack_data
from skorch.utils import to_device, to_tensor
from torch.overrides import TorchFunctionMode

from ..exceptions import CohortError, ColumnRoleError, TrainingError
from ..utils._roles import check_cohort_frame, mask_column_for, resolve_columns
from ..utils._validation import Integral, Interval, Real, StrOptions
from .augment import BatchAugmenter
from .losses import focal_loss

__all__ = ["CohortNet", "CohortNetClassifier", "CohortNetEstimator", "PRECISIONS", "PRESETS",
           "autocast_context"]

logger = logging.getLogger(__name__)

#: Settings filled in by ``preset`` when the matching parameter is None.
#: "paper": MD-Net Sec. III-F (width 1, 16x64x64 crops of the 20x80x80 cube, 80
#: epochs, batch 16, Adam 3e-4).
#: "cpu": the paper's field of view (the 20x80x80 cube, 16x64x64 crops) at half
#: the in-plane resolution (``downsample=(1, 2, 2)``: the network sees 16x32x32)
#: and a narrow net that trains on the default 270-patient simulated cohort in
#: about a CPU-minute (see benchmarks/bench_deep.py).
#: "demo": the quick command-line demo (``mvikit demo --quick``): the cpu preset's
#: field of view, 3 epochs, about 12 CPU-seconds per MD-Net fit on 180 patients.
#: ``channels_last`` is not a parameter: it feeds the batches to the network in
#: torch's channels-last 3D layout, which oneDNN's CPU convolutions run
#: faster: 1.3-1.7x for the narrow presets, 1.13x for the paper-size step
#: (float32 and bfloat16 alike; benchmarks/bench_deep.py; not measured on a GPU).
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"width": 1.0, "cube": (20, 80, 80), "downsample": (1, 1, 1),
              "crop_size": (16, 64, 64), "max_epochs": 80, "batch_size": 16, "lr": 3e-4,
              "channels_last": True},
    "cpu": {"width": 0.0625, "cube": (20, 80, 80), "downsample": (1, 2, 2),
            "crop_size": (16, 32, 32), "max_epochs": 10, "batch_size": 16, "lr": 1e-3,
            "channels_last": True},
    "demo": {"width": 0.0625, "cube": (20, 80, 80), "downsample": (1, 2, 2),
             "crop_size": (16, 32, 32), "max_epochs": 3, "batch_size": 16, "lr": 2e-3,
             "channels_last": True},
}
_PRESET_KEYS = ("width", "cube", "downsample", "crop_size", "max_epochs", "batch_size", "lr")

#: ``precision`` -> the dtype of `torch.autocast` (None: no autocast, plain float32).
PRECISIONS: dict[str, torch.dtype | None] = {"float32": None, "bfloat16": torch.bfloat16}


class _Float32SmallConv3d(TorchFunctionMode):
    """Run in float32 every 3D convolution whose input is smaller than its kernel
    along some axis (used under CPU bfloat16 autocast).

    The last block of every MD-Net trunk sees a depth-2 input (16 slices pooled
    three times).  For that shape the CPU bfloat16 weight-gradient kernel of
    oneDNN 3.12 (``jit_bf16:avx512_core_bf16``, torch 2.13) returns garbage
    (relative errors of 1 to 1e22, inf, different on every call), while the
    forward pass and the input gradient are right.  These convolutions are the
    smallest of the network, so float32 costs little there.
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.conv3d and len(args) >= 2 and any(
                size < k for size, k in zip(args[0].shape[2:], args[1].shape[2:])):
            with torch.autocast("cpu", enabled=False):
                args = [a.float() if isinstance(a, torch.Tensor) else a for a in args]
                return func(*args, **kwargs)
        return func(*args, **kwargs)


@contextmanager
def autocast_context(precision: str, device: str | torch.device) -> Iterator[None]:
    """The context the deep estimators run their forward passes in (internal).

    ``"float32"``: none.  ``"bfloat16"``: `torch.autocast` on ``device``'s type,
    plus, on the CPU, `_Float32SmallConv3d`.
    """
    dtype = PRECISIONS[precision]
    if dtype is None:
        yield
        return
    device_type = torch.device(device).type
    guard = _Float32SmallConv3d() if device_type == "cpu" else nullcontext()
    with torch.autocast(device_type=device_type, dtype=dtype), guard:
        yield


def _as_float32(out: Any) -> Any:
    """Cast the reduced-precision tensors of a (nested) network output to float32."""
    if isinstance(out, torch.Tensor):
        return out.float() if out.dtype in (torch.bfloat16, torch.float16) else out
    if isinstance(out, dict):
        return {key: _as_float32(value) for key, value in out.items()}
    if isinstance(out, (list, tuple)):
        return type(out)(_as_float32(value) for value in out)
    return out


class FocalCriterion(torch.nn.Module):
    """`focal_loss` as a module (skorch's ``criterion``); ``gamma=0`` is cross-entropy."""

    def __init__(self, gamma: float = 0.0, weight: torch.Tensor | None = None) -> None:
        super().__init__()
        self.gamma = gamma
        self.register_buffer("weight", weight)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return focal_loss(logits, target, self.gamma, self.weight)


class CohortNet(NeuralNet):
    """A `skorch.NeuralNet` over dict batches of cohort tensors (internal).

    Parameters
    ----------
    module, criterion, **kwargs
        As `skorch.NeuralNet`.
    augmenter : BatchAugmenter
        Random crop + augmentation of training batches, centre crop otherwise.
    augment_seed : int, default=0
        Seed of the augmentation's random generator.
    channels_last : bool, default=False
        Feed the volumes in channels-last 3D memory layout.
    precision : {"float32", "bfloat16"}, default="float32"
        ``"bfloat16"`` runs every forward pass (training and inference, teacher
        included) under ``torch.autocast(dtype=torch.bfloat16)``.
    """

    def __init__(self, module, criterion, *args, augmenter: BatchAugmenter | None = None,
                 augment_seed: int = 0, channels_last: bool = False,
                 precision: str = "float32", **kwargs) -> None:
        super().__init__(module, criterion, *args, **kwargs)
        self.augmenter = augmenter
        self.augment_seed = augment_seed
        self.channels_last = channels_last
        self.precision = precision

    # --------------------------------------------------------------- batches
    def _generator(self) -> torch.Generator:
        generator = self.__dict__.get("_augment_generator")
        if generator is None:
            generator = torch.Generator().manual_seed(int(self.augment_seed))
            self.__dict__["_augment_generator"] = generator
        return generator

    def _layout(self, volumes: torch.Tensor) -> torch.Tensor:
        # a channels-last input makes every convolution after it channels-last too
        if self.channels_last:
            return volumes.contiguous(memory_format=torch.channels_last_3d)
        return volumes

    def _training_batch(self, Xi: dict) -> dict:
        Xi = to_device(dict(Xi), self.device)
        volumes, masks = self.augmenter.train(Xi["volumes"], Xi["masks"].float(),
                                              self._generator())
        return {**Xi, "volumes": self._layout(volumes), "masks": masks}

    def _inference_batch(self, Xi: dict) -> dict:
        Xi = to_device(dict(Xi), self.device)
        return {**Xi, "volumes": self._layout(self.augmenter.inference(Xi["volumes"])),
                "masks": self.augmenter.inference(Xi["masks"].float())}

    # ------------------------------------------------------------- forward
    def autocast(self) -> AbstractContextManager:
        """`torch.autocast` for ``precision`` on this net's device (a no-op for float32)."""
        return autocast_context(self.precision, self.device)

    def _forward(self, Xi: dict, **fit_params) -> Any:
        # only the forward pass runs under autocast (torch's advice: backward outside);
        # the loss then sees float32 outputs, as the Cox and focal losses need
        with self.autocast():
            y_pred = self.infer(Xi, **fit_params)
        return _as_float32(y_pred)

    def train_step_single(self, batch, **fit_params):
        # skorch's step (infer, get_loss, backward) on an augmented batch, the
        # forward pass through `_forward`
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        Xi = self._training_batch(Xi)
        y_pred = self._forward(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def evaluation_step(self, batch, training=False):
        self.check_is_fitted()
        Xi, _ = unpack_data(batch)
        Xi = self._inference_batch(Xi)
        with torch.set_grad_enabled(training):
            self._set_training(training)
            return self._forward(Xi)

    def infer(self, x, **fit_params):
        x = to_tensor(x, device=self.device)
        return self.module_(volumes=x["volumes"], masks=x["masks"], clinical=x["clinical"])

    # ------------------------------------------------------------------ loss
    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = self.criterion_(y_pred["logits"], to_tensor(y_true, device=self.device))
        return self.check_finite(loss)

    def check_finite(self, loss: torch.Tensor) -> torch.Tensor:
        """Raise `TrainingError` naming the epoch when the loss is NaN or infinite."""
        if not torch.isfinite(loss.detach()).all():
            epoch = len(self.history) if self.history else 0
            raise TrainingError(
                f"The training loss became {float(loss.detach())} in epoch {epoch}. Lower the "
                "learning rate (`lr`), check the input volumes for extreme values, or use "
                "normalize='zscore'."
            )
        return loss

    def outputs(self, X: dict, module: torch.nn.Module | None = None) -> dict[str, np.ndarray]:
        """Run ``module`` (default the main module) in eval mode over ``X`` (centre
        crops) and return every output concatenated over batches, as float32 numpy."""
        module = self.module_ if module is None else module
        self._set_training(False)
        module.eval()
        chunks: dict[str, list] = {}
        with torch.no_grad():
            for batch in self.get_iterator(self.get_dataset(X), training=False):
                Xi = self._inference_batch(unpack_data(batch)[0])
                with self.autocast():
                    out = module(volumes=Xi["volumes"], masks=Xi["masks"],
                                 clinical=Xi["clinical"])
                for key, value in _as_float32(out).items():
                    chunks.setdefault(key, []).append(value.detach().cpu().numpy())
        return {key: np.concatenate(parts) for key, parts in chunks.items()}

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_augment_generator", None)  # a torch.Generator does not pickle
        return state


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


class CohortNetEstimator(BaseEstimator, metaclass=ABCMeta):
    """Shared machinery of the deep estimators over cohort frames (not public).

    Neither a classifier nor a regressor: `CohortNetClassifier` adds the class
    labels and outputs, `mvikit.survival.DeepCoxSurvival` a survival target and
    risks.  Subclasses define ``__init__`` (storing parameters),
    ``_parameter_constraints``, ``_uses_clinical_input``, ``_encode_labels`` and
    ``fit``.
    """

    _parameter_constraints: dict = {
        "volumes": [StrOptions({"auto"}), list, tuple, str],
        "clinical": [StrOptions({"auto"}), list, tuple, None],
        "masks": [StrOptions({"auto"}), list, tuple, None],
        "cube": ["array-like", None],
        "downsample": [Interval(Integral, 1, None, closed="left"), "array-like", None],
        "crop_size": ["array-like", None],
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

    @abstractmethod
    def _uses_clinical_input(self) -> bool:
        """Whether the network reads the clinical vector (fit and predict)."""

    @abstractmethod
    def _encode_labels(self, X: pd.DataFrame, y) -> np.ndarray:
        """Check ``y`` against ``X`` and return the training target as numpy."""

    # ------------------------------------------------------------ settings
    def _settings(self) -> dict[str, Any]:
        """Preset values, overridden by every explicitly given (non-None) parameter."""
        # only the parameter-backed keys: layout flags such as ``channels_last`` stay in PRESETS
        settings = {key: PRESETS[self.preset][key] for key in _PRESET_KEYS}
        for key in _PRESET_KEYS:
            if getattr(self, key) is not None:
                settings[key] = getattr(self, key)
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

    def _augmenter(self) -> BatchAugmenter:
        crop = self.settings_["crop_size"]
        if self.augment:
            return BatchAugmenter(crop)
        return BatchAugmenter(crop, flip=False, rotation=0.0, scale=0.0, translation=0.0,
                              intensity=0.0)

    # --------------------------------------------------------------- data
    def _resolve_columns(self, X: pd.DataFrame) -> None:
        roles = resolve_columns(X, clinical=self.clinical, volumes=self.volumes,
                                masks=self.masks)
        if not roles.volumes:
            raise ColumnRoleError(
                f"{type(self).__name__} found no volume column in X (columns: "
                f"{list(X.columns)[:12]}). Add volume columns (Volume cells) or name them "
                "with volumes=[...]."
            )
        self.volume_columns_ = list(roles.volumes)
        self.mask_columns_ = list(roles.masks)
        self.clinical_columns_ = list(roles.clinical)

    def _check_volume_columns(self, X: pd.DataFrame) -> None:
        needed = self.volume_columns_ + self.mask_columns_
        missing = [c for c in needed if c not in X.columns]
        if missing:
            raise ColumnRoleError(
                f"{type(self).__name__} was fitted with volume/mask columns {needed}; X lacks "
                f"{missing}. Pass a cohort frame with these columns."
            )
        for column in needed:
            absent = X[column].isna()
            if absent.any():
                ids = ", ".join(map(repr, X.index[absent][:5]))
                raise CohortError(
                    f"Column {column!r} has no volume for patient(s) {ids}. Every patient needs "
                    "every sequence and mask: drop these patients or fill the cells."
                )

    def _cube_frame(self, X: pd.DataFrame) -> pd.DataFrame:
        """The volume and mask columns of ``X`` cropped to the cube around the tumour
        and downsampled by ``downsample`` (not normalised); each cell keeps its
        physical geometry, which is how `mvikit.deep.gradcam` maps network-space
        maps back to the images."""
        from ..imaging import ROICropper, VolumeDownsampler

        self._check_volume_columns(X)
        frame = X[self.volume_columns_ + self.mask_columns_]
        columns = {"volumes": self.volume_columns_, "masks": self.mask_columns_}
        if self.mask_columns_:
            frame = ROICropper(size=self.settings_["cube"], **columns).fit_transform(frame)
        if self.settings_["downsample"] != (1, 1, 1):
            frame = VolumeDownsampler(self.settings_["downsample"], **columns).fit_transform(frame)
        return frame

    def _volume_tensors(self, X: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor]:
        """Crop around the tumour, normalise, stack: ``(N, S, D, H, W)`` float32
        volumes and uint8 masks."""
        from ..imaging import IntensityNormalizer

        frame = self._cube_frame(X)
        columns = {"volumes": self.volume_columns_, "masks": self.mask_columns_}
        if self.normalize is not None:
            region = "roi" if self.mask_columns_ else "image"
            frame = IntensityNormalizer(self.normalize, region=region,
                                        **columns).fit_transform(frame)
        volumes = self._stack(frame, self.volume_columns_, np.float32)
        if self.mask_columns_:
            mask_cols = [mask_column_for(c, self.mask_columns_) for c in self.volume_columns_]
            masks = self._stack(frame, mask_cols, np.uint8)
        else:
            masks = np.zeros(volumes.shape, np.uint8)
        return torch.from_numpy(volumes), torch.from_numpy(masks)

    def _stack(self, frame: pd.DataFrame, columns: list, dtype) -> np.ndarray:
        cube = self.settings_["grid"]
        out = np.empty((len(frame), len(columns)) + cube, dtype=dtype)
        for j, column in enumerate(columns):
            for i, (pid, cell) in enumerate(frame[column].items()):
                array = cell.array if hasattr(cell, "array") else np.asarray(cell)
                if array.shape != cube:
                    raise CohortError(
                        f"patient {pid!r}, column {column!r}: volume of shape {array.shape}, "
                        f"expected the cube {cube}. Add a tumour mask column (the cube is "
                        "cropped around it) or set `cube` to the volumes' shape (and "
                        "`downsample=1`)."
                    )
                out[i, j] = array
        return out

    def _clinical_matrix(self, X: pd.DataFrame) -> np.ndarray:
        missing = [c for c in self.clinical_columns_ if c not in X.columns]
        if missing:
            raise ColumnRoleError(
                f"{type(self).__name__} uses the clinical columns it was fitted with; X lacks "
                f"{missing[:10]}{' ...' if len(missing) > 10 else ''}. Pass them (NaN cells "
                "are imputed)."
            )
        return self.clinical_preprocessor_.transform(X[self.clinical_columns_]).astype(
            np.float32)

    def _fit_clinical(self, X: pd.DataFrame) -> np.ndarray:
        from ..preprocessing import ClinicalPreprocessor

        if not self.clinical_columns_:
            raise ColumnRoleError(
                f"{type(self).__name__} needs clinical columns to fit, but X has none (or "
                "clinical=None). Add the clinical columns or name them with clinical=[...]."
            )
        self.clinical_preprocessor_ = ClinicalPreprocessor(clinical=self.clinical_columns_)
        self.clinical_preprocessor_.fit(X[self.clinical_columns_])
        return self._clinical_matrix(X)

    def _net_kwargs(self) -> dict[str, Any]:
        """Settings shared by every `CohortNet` (optimiser, schedule, device, ...)."""
        s = self.settings_
        return {
            "optimizer": torch.optim.Adam,
            "lr": s["lr"],
            "optimizer__weight_decay": self.weight_decay,
            "max_epochs": s["max_epochs"],
            "batch_size": s["batch_size"],
            "iterator_train__shuffle": True,
            "train_split": None,
            "callbacks": [("lr_scheduler", LRScheduler(policy=torch.optim.lr_scheduler.StepLR,
                                                       step_size=self.lr_step,
                                                       gamma=self.lr_gamma))],
            "device": self.device,
            "verbose": int(self.verbose),
            "augmenter": self._augmenter(),
            "channels_last": bool(PRESETS[self.preset].get("channels_last", False)),
            "precision": self.precision,
        }

    # ---------------------------------------------------------------- fit
    def _prepare_fit(self, X, y) -> tuple[dict, np.ndarray]:
        """Validate, resolve columns, encode the target, fit clinical preprocessing and
        build the training tensors."""
        X = check_cohort_frame(X)
        self.settings_ = self._settings()
        self._resolve_columns(X)
        y_encoded = self._encode_labels(X, y)
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        if self._uses_clinical_input():
            clinical = self._fit_clinical(X)
        else:
            self.clinical_preprocessor_ = None
            clinical = np.zeros((len(X), 0), np.float32)
        volumes, masks = self._volume_tensors(X)
        data = {"volumes": volumes, "masks": masks, "clinical": torch.from_numpy(clinical)}
        return data, y_encoded

    def _train(self, build_net: Callable[[], CohortNet], data: dict, y: np.ndarray,
               seed: int) -> CohortNet:
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
        X = check_cohort_frame(X)
        volumes, masks = self._volume_tensors(X)
        if with_clinical:
            clinical = torch.from_numpy(self._clinical_matrix(X))
        else:
            clinical = torch.zeros((len(X), 0))
        return {"volumes": volumes, "masks": masks, "clinical": clinical}

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


class CohortNetClassifier(ClassifierMixin, CohortNetEstimator):
    """`CohortNetEstimator` for class labels (not public): ``classes_``,
    ``class_weight``, ``predict``, ``predict_proba``, ``decision_function`` and
    accuracy ``score``; base of `VolumeNetClassifier` and `MDNetClassifier`."""

    _parameter_constraints: dict = {
        **CohortNetEstimator._parameter_constraints,
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
