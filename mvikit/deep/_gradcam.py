"""Grad-CAM for the 3D networks of mvikit (MD-Net Fig. 6, seed 003's attention maps).

Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
Gradient-based Localization", ICCV 2017, eqs. (1)-(2), in 3D::

    alpha_k^c = 1/Z sum_{d,h,w} d y^c / d A^k_{dhw}          (eq. 1, Z = D*H*W)
    L^c       = ReLU( sum_k alpha_k^c A^k )                    (eq. 2)

with ``y^c`` the score of class ``c`` *before* the softmax (the logit) and
``A^k`` the k-th channel of a convolutional feature map.  ``L^c`` is upsampled
trilinearly to the network's input crop and, through the crop's physical
origin, placed back into the original image grid.  For 2D networks over slabs of
slices (the ``"slices"`` input kinds) the map is 2D: it is upsampled bilinearly,
given to every slice of the slab, and resampled onto the image through the
slab's geometry.  The layers explained by default are those the architecture
declares in the register (`Architecture.gradcam_layers`).  MD-Net's Fig. 6 used
M3D-CAM (Gotkowski et al. 2021), a 3D Grad-CAM implementation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ..exceptions import GeometryMismatchError
from ..imaging import Volume, as_volume
from ..imaging._crop import physical_origin
from ..utils._roles import check_cohort_frame
from .nets._registry import Architecture, get_architecture

__all__ = ["gradcam", "GradCAMResult"]


@dataclass
class GradCAMResult:
    """Grad-CAM heatmaps of a fitted mvikit network, per patient and sequence.

    Returned by `gradcam`; not built by hand.

    Attributes
    ----------
    maps : dict of str to ndarray of shape (n_patients, d, h, w)
        Heatmap of each sequence in the network's input crop (``crop_size``).
        A network whose sequences share one branch (``"cnn3d"``) gives every
        sequence the same map.
    index : pandas.Index
        Patient ids, the rows of every array.
    target : ndarray of shape (n_patients,)
        The class label explained for each patient.
    logits : ndarray of shape (n_patients, n_classes)
        The network's class scores (identical to the estimator's, eval mode).
    layers : dict of str to str
        The module whose output is ``A`` for each sequence.
    inputs : dict of str to ndarray of shape (n_patients, d, h, w)
        The preprocessed (cropped, normalised) images the network read.
    crop_volumes : pandas.DataFrame
        Per patient (rows) and sequence (columns) an empty-voxel `Volume`
        carrying the geometry of the input crop (its physical origin).
    image_volumes : pandas.DataFrame
        The original image `Volume` of every cell.
    """

    maps: dict[str, np.ndarray]
    index: pd.Index
    target: np.ndarray
    logits: np.ndarray
    layers: dict[str, str]
    inputs: dict[str, np.ndarray]
    crop_volumes: pd.DataFrame = field(repr=False)
    image_volumes: pd.DataFrame = field(repr=False)

    def __getitem__(self, sequence: str) -> np.ndarray:
        return self.maps[sequence]

    def to_volumes(self, space: str = "image") -> pd.DataFrame:
        """The heatmaps as a frame of `Volume` cells (rows: patients, columns: sequences).

        Parameters
        ----------
        space : {"image", "crop"}, default="image"
            ``"image"``: on the grid of the original image (spacing, origin,
            direction), zero outside the network's crop; ``"crop"``: the crop
            itself, with the crop's physical origin (``to_sitk`` overlays the
            image either way).

        Returns
        -------
        pandas.DataFrame of Volume
        """
        if space not in ("image", "crop"):
            raise ValueError(f"space must be 'image' or 'crop', got {space!r}.")
        columns = {}
        for sequence, maps in self.maps.items():
            cells = []
            for i, pid in enumerate(self.index):
                crop = self.crop_volumes.at[pid, sequence].with_array(maps[i])
                if space == "image":
                    crop = _paste(crop, self.image_volumes.at[pid, sequence], pid, sequence)
                cells.append(crop)
            columns[sequence] = cells
        return pd.DataFrame(columns, index=self.index)


def _paste(crop: Volume, image: Volume, pid: Any, sequence: str) -> Volume:
    """Place ``crop`` into a zero volume on ``image``'s grid.

    Crops made by `ROICropper` share the image's spacing and direction and start
    at a whole voxel, so the map is copied voxel for voxel; any other geometry is
    resampled (linear interpolation, zero outside) with SimpleITK.
    """
    direction = np.asarray(image.direction).reshape(3, 3)
    # voxel index (d, h, w) of the crop's first voxel in the image: invert
    # origin + direction @ (index_xyz * spacing_xyz)
    offset = direction.T @ (np.asarray(crop.origin) - np.asarray(image.origin))
    start = (offset / np.asarray(image.spacing[::-1]))[::-1]
    aligned = (np.allclose(crop.spacing, image.spacing, rtol=1e-6)
               and np.allclose(crop.direction, image.direction, atol=1e-6)
               and np.allclose(start, np.round(start), atol=1e-3))
    if not aligned:
        return _resample_onto(crop, image)
    start = np.round(start).astype(int)
    out = np.zeros(image.shape, dtype=crop.array.dtype)
    lo = np.maximum(start, 0)
    hi = np.minimum(start + np.asarray(crop.shape), image.shape)
    if np.any(hi <= lo):
        raise GeometryMismatchError(
            f"patient {pid!r}, column {sequence!r}: the network's crop does not overlap the "
            "image. Pass the same cohort frame (the same image cells) as to gradcam."
        )
    target = tuple(slice(a, b) for a, b in zip(lo, hi))
    source = tuple(slice(a - s, b - s) for a, b, s in zip(lo, hi, start))
    out[target] = crop.array[source]
    return image.with_array(out)


def _resample_onto(crop: Volume, image: Volume) -> Volume:
    import SimpleITK as sitk

    moving = sitk.Cast(crop.to_sitk(), sitk.sitkFloat64)
    resampled = sitk.Resample(moving, image.to_sitk(), sitk.Transform(), sitk.sitkLinear, 0.0,
                              sitk.sitkFloat64)
    return image.with_array(sitk.GetArrayFromImage(resampled).astype(crop.array.dtype))


# ------------------------------------------------------------------ layers
def _resolve_layers(module: nn.Module, spec: Architecture, sequences: list[str],
                    layer) -> dict[str, str]:
    if layer is None:
        layers = dict(spec.gradcam_layers(module, sequences))
        if set(layers) != set(sequences):
            raise ValueError(f"architecture {spec.name!r} declares Grad-CAM layers for "
                             f"{sorted(layers)}, not for every sequence ({sequences}); pass "
                             "layer={sequence: module name}.")
        return layers
    if isinstance(layer, str):
        layer = {s: layer for s in sequences}
    if not isinstance(layer, Mapping):
        raise TypeError("layer must be None, a module name or a dict {sequence: module name}; "
                        f"got {type(layer).__name__}.")
    unknown = set(layer) - set(sequences)
    if unknown:
        raise ValueError(f"layer names sequences {sorted(unknown)} that are not volume columns "
                         f"of the estimator ({sequences}).")
    names = dict(module.named_modules())
    for name in layer.values():
        if name not in names:
            convs = [n for n, m in names.items()
                     if isinstance(m, (nn.Conv2d, nn.Conv3d))][-4:]
            raise ValueError(f"{type(module).__name__} has no module {name!r}; module names "
                             f"end like {convs} (see module.named_modules()).")
    return dict(layer)


# ------------------------------------------------------------------ targets
def _target_indices(target, classes: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Class indices to explain: the predicted class, one label/index for all
    patients, or one label per patient."""
    if target is None:
        return predicted
    values = np.atleast_1d(np.asarray(target, dtype=object))
    if values.size not in (1, len(predicted)):
        raise ValueError(f"target has {values.size} values for {len(predicted)} patients; "
                         "give one class for all or one per patient.")
    known = list(classes.tolist())
    index = []
    for value in values:
        if value in known:  # a label wins over an index when labels are ints
            index.append(known.index(value))
        elif isinstance(value, (int, np.integer)) and 0 <= value < len(known):
            index.append(int(value))
        else:
            raise ValueError(f"target {value!r} is neither a class label ({known}) nor a "
                             f"class index (0..{len(known) - 1}).")
    return np.broadcast_to(np.asarray(index, dtype=np.int64), predicted.shape).copy()


# ------------------------------------------------------------------ core
def _gradcam_batch(module: nn.Module, batch: dict[str, torch.Tensor],
                   layers: list[str], target: torch.Tensor | None
                   ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """Eq. (1)-(2) for one batch: ``{layer: (B, d', h', w')}`` at feature-map
    resolution, the logits and the explained class indices.

    The gradient is taken with ``torch.autograd.grad`` with respect to the saved
    activations only, so no parameter's ``.grad`` is touched.  In eval mode the
    patients of a batch do not interact, so one backward pass through the sum of
    the explained logits gives every patient its own gradient.
    """
    activations: dict[str, torch.Tensor] = {}

    def keeper(name: str):
        def hook(_module, _inputs, output):
            if not (isinstance(output, torch.Tensor) and output.dim() in (4, 5)):
                raise ValueError(f"Layer {name!r} outputs {type(output).__name__} "
                                 f"{getattr(output, 'shape', '')}; Grad-CAM needs a module "
                                 "whose output is a (B, C, D, H, W) or (B, C, H, W) feature "
                                 "map.")
            activations[name] = output
        return hook

    handles = [module.get_submodule(name).register_forward_hook(keeper(name))
               for name in layers]
    try:
        # the input requires grad so every activation does, even of frozen modules
        volumes = batch["volumes"].detach().requires_grad_(True)
        logits = module({**batch, "volumes": volumes})["logits"]
    finally:
        for handle in handles:
            handle.remove()
    if target is None:
        target = logits.detach().argmax(dim=1)
    score = logits.gather(1, target[:, None]).sum()  # y^c of each patient
    grads = torch.autograd.grad(score, [activations[n] for n in layers], allow_unused=True)
    maps = {}
    for name, grad in zip(layers, grads):
        a = activations[name]
        if grad is None:
            grad = torch.zeros_like(a)  # the class score does not depend on this layer
        alpha = grad.mean(dim=tuple(range(2, a.dim())), keepdim=True)  # eq. (1)
        maps[name] = torch.relu((alpha * a).sum(dim=1)).detach()  # eq. (2)
    return maps, logits.detach(), target


def _upsample(maps: torch.Tensor, size: tuple[int, int, int]) -> torch.Tensor:
    """``(B, d', h', w')`` -> ``(B, *size)`` trilinearly; a 2D map ``(B, h', w')`` is
    upsampled bilinearly in-plane and given to every slice of the stack."""
    if maps.dim() == 3:
        plane = F.interpolate(maps[:, None], size=size[1:], mode="bilinear",
                              align_corners=False)[:, 0]
        return plane[:, None].expand(-1, size[0], -1, -1).contiguous()
    return F.interpolate(maps[:, None], size=size, mode="trilinear", align_corners=False)[:, 0]


def _network(estimator, model: str) -> tuple[nn.Module, Architecture, bool]:
    """The module to explain, its architecture and whether it reads the clinical vector."""
    from ._mdnet import MDNetClassifier

    if model not in ("student", "teacher"):
        raise ValueError(f"model must be 'student' or 'teacher', got {model!r}.")
    if isinstance(estimator, MDNetClassifier):
        if model == "student":
            return estimator.net_.module_, estimator._architecture(), False
        if estimator.net_.teacher is None:
            raise ValueError("This MDNetClassifier has no teacher (distillation='none'); use "
                             "model='student'.")
        return estimator.net_.teacher_, get_architecture("mdnet_teacher"), True
    if model == "teacher":
        raise ValueError(f"model='teacher' applies to MDNetClassifier only, not "
                         f"{type(estimator).__name__}.")
    return (estimator.net_.module_, estimator._architecture(),
            estimator._uses_clinical_input())


@torch.enable_grad()
def _run(net, module: nn.Module, data: dict, layers: dict[str, str], target) -> tuple:
    names = list(dict.fromkeys(layers.values()))
    crop = tuple(net.augmenter.crop_size)
    n = data["volumes"].shape[0]
    parts: dict[str, list] = {name: [] for name in names}
    logits, targets = [], []
    for start in range(0, n, int(net.batch_size)):
        stop = min(start + int(net.batch_size), n)
        batch = net._inference_batch({k: v[start:stop] for k, v in data.items()})
        t = None if target is None else torch.as_tensor(target[start:stop], device=net.device)
        maps, out, used = _gradcam_batch(module, batch, names, t)
        for name in names:
            parts[name].append(_upsample(maps[name], crop).cpu())
        logits.append(out.cpu())
        targets.append(used.cpu())
    maps = {name: torch.cat(p).numpy() for name, p in parts.items()}
    return maps, torch.cat(logits).numpy(), torch.cat(targets).numpy()


def _crop_geometry(estimator, X: pd.DataFrame) -> pd.DataFrame:
    """Per patient and sequence, a Volume on the grid of the network's input crop:
    the tensorizer's grid (the downsampled cube, or the slab), then its centre crop."""
    geometry = estimator.tensorizer_.geometry(X)
    grid = np.asarray(estimator.settings_["grid"])
    crop = np.asarray(estimator.net_.augmenter.crop_size)
    start = (grid - crop) // 2  # as mvikit.deep.augment.center_crop
    return pd.DataFrame({
        column: [Volume(np.zeros((1, 1, 1), np.uint8), spacing=cell.spacing,
                        origin=physical_origin(cell, start), direction=cell.direction)
                 for cell in geometry[column]]
        for column in geometry.columns}, index=geometry.index)


def gradcam(estimator, X, target=None, layer=None, *, model: str = "student"
            ) -> GradCAMResult:
    """3D Grad-CAM heatmaps of a fitted mvikit network for every patient and sequence.

    Selvaraju et al. (ICCV 2017): the feature maps ``A^k`` of a convolutional
    layer are weighted by the spatial mean of the gradient of the class score,
    ``alpha_k = mean(d y_c / d A^k)``, summed and rectified,
    ``ReLU(sum_k alpha_k A^k)``, then upsampled (trilinear) to the network's
    input crop.  The network runs in eval mode (as in ``predict``); no parameter
    or gradient of the estimator is changed.

    Parameters
    ----------
    estimator : VolumeNetClassifier or MDNetClassifier
        Fitted; any architecture.
    X : pandas.DataFrame
        Cohort frame with the volume and mask columns seen in fit (and the
        clinical columns when the explained network reads them).
    target : class label, class index, array-like or None, default=None
        Class explained: None explains each patient's predicted class; one
        label (an element of ``classes_``; else an index into it) for all
        patients, or one label per patient.
    layer : str, dict or None, default=None
        Module (a name from ``module.named_modules()``) whose output is ``A``:
        None takes, for each sequence, the last convolution block of its branch
        (ReLU output before the block's pooling); a str applies one module to
        every sequence; ``{sequence: name}`` names one per sequence.
    model : {"student", "teacher"}, default="student"
        For `MDNetClassifier`: explain the image-only student or the
        clinical+MRI teacher (which needs the clinical columns).

    Returns
    -------
    GradCAMResult
        ``.maps[sequence]`` is ``(n_patients, d, h, w)`` in the input crop;
        ``.to_volumes()`` gives a frame of `Volume` on the original image grids
        (zero outside the crop), ``.to_volumes("crop")`` the crops.

    References
    ----------
    R. R. Selvaraju et al., "Grad-CAM: Visual explanations from deep networks via
    gradient-based localization", ICCV 2017, pp. 618-626.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mvikit import Volume
    >>> from mvikit.deep import VolumeNetClassifier, gradcam
    >>> rng = np.random.default_rng(0)
    >>> mask = np.zeros((8, 16, 16), np.uint8); mask[3:5, 6:10, 6:10] = 1
    >>> X = pd.DataFrame({
    ...     "PRE": [Volume(rng.normal(size=(8, 16, 16))) for _ in range(6)],
    ...     "HBP": [Volume(rng.normal(size=(8, 16, 16))) for _ in range(6)],
    ...     "tumor_mask": [Volume(mask)] * 6}, index=[f"p{i}" for i in range(6)])
    >>> clf = VolumeNetClassifier(cube=(8, 12, 12), downsample=1, crop_size=(8, 8, 8), width=0.0625,
    ...                           max_epochs=1, batch_size=3, random_state=0)
    >>> clf = clf.fit(X, [0, 1] * 3)
    >>> cam = gradcam(clf, X)
    >>> cam["HBP"].shape, bool((cam["HBP"] >= 0).all())
    ((6, 8, 8, 8), True)
    >>> volumes = cam.to_volumes()
    >>> volumes.loc["p0", "HBP"].shape
    (8, 16, 16)
    >>> bool(np.allclose(volumes.loc["p0", "HBP"].array.sum(), cam["HBP"][0].sum(), rtol=1e-5))
    True
    """
    check_is_fitted(estimator, "net_")
    X = check_cohort_frame(X)
    module, spec, with_clinical = _network(estimator, model)
    sequences = list(estimator.volume_columns_)
    layers = _resolve_layers(module, spec, sequences, layer)
    data = estimator._inference_data(X, with_clinical=with_clinical)
    if target is not None:
        # resolved against classes_ before running (predicted = placeholder)
        target = _target_indices(target, estimator.classes_, np.zeros(len(X), np.int64))
    was_training = module.training
    module.eval()
    try:
        maps, logits, used = _run(estimator.net_, module, data, layers, target)
    finally:
        module.train(was_training)
    inputs = estimator.net_.augmenter.inference(data["volumes"]).numpy()
    image_volumes = pd.DataFrame(
        {s: [as_volume(c, patient_id=p, column=s) for p, c in X[s].items()] for s in sequences},
        index=X.index)
    return GradCAMResult(
        maps={s: maps[layers[s]] for s in sequences}, index=X.index,
        target=estimator.classes_[used], logits=logits, layers=layers,
        inputs={s: inputs[:, j] for j, s in enumerate(sequences)},
        crop_volumes=_crop_geometry(estimator, X), image_volumes=image_volumes)
