"""`plot_cam`: a heatmap over an image's slices with the tumour contour (MD-Net Fig. 6,
seed 003's attention maps)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_cam"]

#: view name -> array axis sliced, and the (rows, columns) spacing indices of the slice
_VIEWS = {"axial": (0, (1, 2)), "coronal": (1, (0, 2)), "sagittal": (2, (0, 1))}


def _array_and_spacing(value, name: str):
    if value is None:
        return None, None
    if hasattr(value, "array") and hasattr(value, "spacing"):
        return np.asarray(value.array), tuple(value.spacing)
    array = np.asarray(value)
    if array.ndim == 2:  # one slice (a 2D network's input): a volume of one slice
        array = array[None]
    if array.ndim != 3:
        raise ValueError(f"`{name}` must be a 2D (H, W) or 3D (D, H, W) Volume or array; got "
                         f"shape {array.shape}.")
    return array, None


def _slice_index(spec, view: str, image: np.ndarray, cam: np.ndarray,
                 mask: np.ndarray | None) -> int:
    axis = _VIEWS[view][0]
    n = image.shape[axis]
    if spec == "middle":
        return n // 2
    other = tuple(a for a in range(3) if a != axis)
    if spec == "mask":
        if mask is None or not mask.any():
            raise ValueError('slices="mask" needs a non-empty `mask` (the tumour mask).')
        present = np.flatnonzero(np.any(mask, axis=other))
        return int((present[0] + present[-1]) // 2)
    if spec == "max":
        return int(np.argmax(cam.max(axis=other)))
    index = int(spec)
    if not -n <= index < n:
        raise ValueError(f"slice {index} is outside the {view} axis of length {n}.")
    return index % n


def _panels(slices, views, image, cam, mask) -> list[tuple[str, int]]:
    if isinstance(views, str):
        views = (views,)
    unknown = [v for v in views if v not in _VIEWS]
    if unknown:
        raise ValueError(f"views must be among {list(_VIEWS)}; got {unknown}.")
    specs = slices if isinstance(slices, (list, tuple, np.ndarray)) else [slices]
    return [(view, _slice_index(s, view, image, cam, mask)) for view in views for s in specs]


def _take(array: np.ndarray, view: str, index: int) -> np.ndarray:
    return np.take(array, index, axis=_VIEWS[view][0])


def _axes_list(ax, n: int):
    import matplotlib.pyplot as plt

    if ax is None:
        _, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.4), squeeze=False)
        return list(axes.ravel())
    axes = list(np.ravel(np.asarray(ax, dtype=object)))
    if len(axes) != n:
        raise ValueError(f"plot_cam draws {n} panel(s) (views x slices) but got {len(axes)} "
                         "Axes; pass as many Axes, or ax=None.")
    return axes


def plot_cam(volume, cam, mask=None, *, ax=None, slices="middle", views=("axial",),
             alpha=0.4, cmap="jet", image_cmap="gray", vmax=None, threshold=0.0,
             contour_color="lime", title=True, colorbar=False):
    """Overlay a class-activation map on slices of an image, with the tumour contour.

    Draws, per panel, the image slice in grey, the heatmap on top (transparency
    ``alpha``, colour scale from 0 to the heatmap's maximum over the volume;
    voxels at or below ``threshold`` left transparent, so a map that is zero
    outside the network's crop does not tint the whole image) and the contour
    of the mask at 0.5.  Never calls ``plt.show``.

    Parameters
    ----------
    volume : Volume or ndarray of shape (D, H, W) or (H, W)
        The image (e.g. a cohort cell, or ``GradCAMResult.inputs[seq][i]``: for
        slice networks such as CDLM, the stack of input slices); a 2D array is
        one axial slice.
    cam : Volume or ndarray of shape (D, H, W) or (H, W)
        The heatmap on the same grid (``gradcam(...).to_volumes()`` for an image
        cell, ``gradcam(...)[seq][i]`` for the network's crop).
    mask : Volume or ndarray of shape (D, H, W) or (H, W), default=None
        Tumour mask whose contour is drawn.
    ax : matplotlib Axes or sequence of Axes, default=None
        One Axes per panel (``len(views) * len(slices)``); None makes a new
        figure with one row of panels.
    slices : {"middle", "mask", "max"}, int or list, default="middle"
        Slice of each view: the middle of the array, the middle of the mask's
        bounding box, the slice holding the heatmap's maximum, an index, or a
        list of these (one panel each).
    views : str or sequence of {"axial", "coronal", "sagittal"}, default=("axial",)
        Planes: axial slices ``array[k]``, coronal ``array[:, k]``, sagittal
        ``array[:, :, k]`` (coronal/sagittal drawn with slice 0 at the bottom).
    alpha : float, default=0.4
        Opacity of the heatmap.
    cmap, image_cmap : str, default="jet", "gray"
        Colour maps of the heatmap and the image.
    vmax : float, default=None
        Top of the heatmap's colour scale (None: its maximum over the volume).
    threshold : float or None, default=0.0
        Heatmap values ``<= threshold`` are not drawn (None: draw all).
    contour_color : str, default="lime"
        Colour of the mask contour.
    title : bool, default=True
        Title each panel with its view and slice.
    colorbar : bool, default=False
        Add a colour bar of the heatmap to the last panel.

    Returns
    -------
    axes : Axes or ndarray of Axes
        The single Axes for one panel, else an array of Axes.

    See Also
    --------
    mvikit.deep.gradcam : the 3D Grad-CAM heatmaps.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib.pyplot as plt
    >>> from mvikit.plotting import plot_cam
    >>> image = np.random.default_rng(0).normal(size=(6, 16, 16))
    >>> cam = np.zeros((6, 16, 16)); cam[2:4, 4:9, 4:9] = 1.0
    >>> mask = (cam > 0).astype(np.uint8)
    >>> axes = plot_cam(image, cam, mask, views=("axial", "coronal"), slices="mask")
    >>> [a.get_title() for a in axes]
    ['axial 2', 'coronal 6']
    >>> np.array_equal(axes[0].images[0].get_array(), image[2])
    True
    >>> plt.close("all")
    """
    image, spacing = _array_and_spacing(volume, "volume")
    heat, _ = _array_and_spacing(cam, "cam")
    mask_array, _ = _array_and_spacing(mask, "mask")
    for name, other in (("cam", heat), ("mask", mask_array)):
        if other is not None and other.shape != image.shape:
            raise ValueError(
                f"`{name}` has shape {other.shape} but the image has {image.shape}: pass both "
                "on one grid (gradcam(...).to_volumes() for image cells, "
                "gradcam(...).inputs for the network's crops).")
    panels = _panels(slices, views, image, heat, mask_array)
    axes = _axes_list(ax, len(panels))
    top = float(heat.max()) if vmax is None else float(vmax)
    top = top if top > 0 else 1.0
    spacing = spacing or (1.0, 1.0, 1.0)
    for axis, (view, index) in zip(axes, panels):
        rows, cols = _VIEWS[view][1]
        options = {"aspect": spacing[rows] / spacing[cols],
                   "origin": "upper" if view == "axial" else "lower",
                   "interpolation": "nearest"}
        axis.imshow(_take(image, view, index), cmap=image_cmap, **options)
        heat_slice = _take(heat, view, index)
        if threshold is not None:
            heat_slice = np.ma.masked_less_equal(heat_slice, threshold)
        shown = axis.imshow(heat_slice, cmap=cmap, alpha=alpha, vmin=0.0, vmax=top, **options)
        if mask_array is not None and _take(mask_array, view, index).any():
            # no `origin` here: contour's own origin handling shifts it half a voxel
            # off imshow's pixel centres; data coordinates already match
            axis.contour((_take(mask_array, view, index) > 0).astype(float), levels=[0.5],
                         colors=[contour_color], linewidths=1.2)
        if title:
            axis.set_title(f"{view} {index}")
        axis.set_axis_off()
    if colorbar:
        axes[-1].figure.colorbar(shown, ax=axes[-1], fraction=0.046, pad=0.04)
    return axes[0] if len(axes) == 1 else np.asarray(axes, dtype=object)
