"""The skorch trainers of mvikit: one `skorch.NeuralNet` subclass per training scheme.

* `CohortTrainer` - classification (the criterion on ``logits``) over dict batches
  of cohort tensors; the base of every scheme.  It overrides only small methods
  (`train_step_single` to augment the batch, `evaluation_step` to centre-crop it,
  `infer`, `get_loss`), never ``fit``/``fit_loop``.
* `MultiTaskTrainer` - the main loss plus weighted auxiliary losses of the outputs
  an architecture declares (``auxiliary={"segmentation": "dice_ce"}``).
* `mvikit.deep._mdnet.DistillationTrainer` - MD-Net's teacher and student.
* `mvikit.survival._deep_cox.CoxTrainer` - the Cox partial likelihood with
  event-stratified batches.

Mixed precision (``precision="bfloat16"``) runs only the networks' forward passes
under `torch.autocast`; parameters, gradients and Adam's state stay float32, and
the outputs are cast back to float32 before any loss or numpy conversion.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import numpy as np
import torch
from skorch import NeuralNet
from skorch.dataset import unpack_data
from skorch.utils import to_device, to_tensor
from torch.overrides import TorchFunctionMode

from ..exceptions import TrainingError
from .augment import BatchAugmenter
from .losses import focal_loss
from .nets._registry import AUXILIARY_LOSSES, check_module_output

__all__ = ["CohortTrainer", "MultiTaskTrainer", "FocalCriterion", "PRECISIONS",
           "autocast_context"]

#: ``precision`` -> the dtype of `torch.autocast` (None: no autocast, plain float32).
PRECISIONS: dict[str, torch.dtype | None] = {"float32": None, "bfloat16": torch.bfloat16}

#: Batch entries augmented together (images, their masks); "liver_" slabs get their own draw.
_IMAGE_PAIRS = (("volumes", "masks"), ("liver_volumes", "liver_masks"))


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

    def forward(self, logits: torch.Tensor, target: torch.Tensor,
                sample_weight: torch.Tensor | None = None) -> torch.Tensor:
        return focal_loss(logits, target, self.gamma, self.weight, sample_weight)


class CohortTrainer(NeuralNet):
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
        Feed 3D volumes in channels-last 3D memory layout.
    precision : {"float32", "bfloat16"}, default="float32"
        ``"bfloat16"`` runs every forward pass (training and inference, teacher
        included) under ``torch.autocast(dtype=torch.bfloat16)``.
    architecture : str, default=None
        Name of the main module's registered architecture; when given, every output
        of ``module_`` is checked against the module contract (`check_module_output`)
        with ``n_outputs`` columns of logits and the ``auxiliary`` outputs.
    n_outputs : int, default=None
    auxiliary : dict of str to str, default=None
        The architecture's auxiliary outputs and their losses (kept as plain data so
        the trainer pickles without the register).
    """

    def __init__(self, module, criterion, *args, augmenter: BatchAugmenter | None = None,
                 augment_seed: int = 0, channels_last: bool = False,
                 precision: str = "float32", architecture: str | None = None,
                 n_outputs: int | None = None, auxiliary: dict | None = None,
                 **kwargs) -> None:
        super().__init__(module, criterion, *args, **kwargs)
        self.augmenter = augmenter
        self.augment_seed = augment_seed
        self.channels_last = channels_last
        self.precision = precision
        self.architecture = architecture
        self.n_outputs = n_outputs
        self.auxiliary = auxiliary

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
        for images, masks in _IMAGE_PAIRS:
            if images in Xi:
                volumes, labels = self.augmenter.train(Xi[images], Xi[masks].float(),
                                                       self._generator())
                Xi[images], Xi[masks] = self._layout(volumes), labels
        return Xi

    def _inference_batch(self, Xi: dict) -> dict:
        Xi = to_device(dict(Xi), self.device)
        for images, masks in _IMAGE_PAIRS:
            if images in Xi:
                Xi[images] = self._layout(self.augmenter.inference(Xi[images]))
                Xi[masks] = self.augmenter.inference(Xi[masks].float())
        return Xi

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

    def run_module(self, module: torch.nn.Module, batch: dict) -> dict[str, torch.Tensor]:
        """``module(batch)``, checking the contract when ``module`` is the main module."""
        out = module(batch)
        if self.architecture is not None and module is self.module_:
            check_module_output(out, self.architecture, self.auxiliary or {},
                                batch["volumes"].shape[0], self.n_outputs)
        return out

    def infer(self, x, **fit_params):
        return self.run_module(self.module_, to_tensor(x, device=self.device))

    # ------------------------------------------------------------------ loss
    def get_loss(self, y_pred, y_true, X=None, training=False):
        target = to_tensor(y_true, device=self.device)
        if isinstance(X, dict) and "sample_weight" in X:
            # per-patient weights travel in the batch (MTnet's IPCW horizon labels)
            loss = self.criterion_(y_pred["logits"], target, sample_weight=X["sample_weight"])
        else:
            loss = self.criterion_(y_pred["logits"], target)
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
                    out = self.run_module(module, Xi)
                for key, value in _as_float32(out).items():
                    chunks.setdefault(key, []).append(value.detach().cpu().numpy())
        return {key: np.concatenate(parts) for key, parts in chunks.items()}

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_augment_generator", None)  # a torch.Generator does not pickle
        return state


def dice_ce_loss(segmentation: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """MONAI's Dice + cross-entropy of two-class logits against a binary mask.

    ``segmentation`` ``(B, 2, D, H, W)``; ``masks`` ``(B, S, D, H, W)`` (the first
    sequence's mask is the target: all sequences share the tumour mask).
    """
    from monai.losses import DiceCELoss

    target = (masks[:, :1] > 0.5).to(segmentation.dtype)
    return DiceCELoss(to_onehot_y=True, softmax=True)(segmentation, target)


_AUXILIARY_FUNCTIONS = {"dice_ce": dice_ce_loss}


class MultiTaskTrainer(CohortTrainer):
    """`CohortTrainer` whose loss adds the architecture's auxiliary losses (internal).

    ``loss = criterion(logits, y) + sum_k weight_k * aux_k(output_k, batch[target_k])``
    with the outputs, losses and targets the architecture declares (`AUXILIARY_LOSSES`).
    The terms are recorded per batch in the history (``loss_main``,
    ``loss_segmentation``...).

    Parameters
    ----------
    auxiliary_weights : dict of str to float
        Weight of each auxiliary output (missing outputs: 1).
    """

    def __init__(self, module, criterion, *args, auxiliary_weights: dict | None = None,
                 **kwargs) -> None:
        super().__init__(module, criterion, *args, **kwargs)
        self.auxiliary_weights = auxiliary_weights

    def get_loss(self, y_pred, y_true, X=None, training=False):
        main = super().get_loss(y_pred, y_true, X=X, training=training)
        if X is None:
            return main
        total = main
        terms = {"main": main}
        weights = self.auxiliary_weights or {}
        for output, loss_name in (self.auxiliary or {}).items():
            weight = float(weights.get(output, 1.0))
            if weight == 0:
                continue
            target = X[AUXILIARY_LOSSES[loss_name]]
            terms[output] = _AUXILIARY_FUNCTIONS[loss_name](y_pred[output], target)
            total = total + weight * terms[output]
        if training:
            for name, value in terms.items():
                self.history.record_batch(f"loss_{name}", float(value.detach()))
        return self.check_finite(total)
