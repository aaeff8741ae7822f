"""`plot_embedding`: 2D map of network embeddings coloured by grade (MD-Net Fig. 5)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_embedding"]


def _reduce(embeddings: np.ndarray, method: str, random_state, kwargs: dict) -> np.ndarray:
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=random_state, **kwargs).fit_transform(embeddings)
    from sklearn.manifold import TSNE

    perplexity = kwargs.get("perplexity", 30.0)
    if perplexity >= len(embeddings):
        raise ValueError(
            f"t-SNE's perplexity ({perplexity}) must be below the number of samples "
            f"({len(embeddings)}); pass a smaller perplexity=..., e.g. "
            f"perplexity={max(1, (len(embeddings) - 1) // 3)}, or method='pca'.")
    return TSNE(n_components=2, random_state=random_state, **kwargs).fit_transform(embeddings)


def plot_embedding(embeddings, labels, *, method="tsne", ax=None, random_state=None,
                   label_names=None, legend_title="grade", s=18, **tsne_kwargs):
    """Scatter a 2D t-SNE (or PCA) map of embeddings, one colour per class.

    MD-Net's Fig. 5 maps the features after the SA module
    (``MDNetClassifier.transform``) with t-SNE (van der Maaten & Hinton 2008)
    and colours them by MVI grade (M0/M1/M2): tighter, better separated class
    clusters indicate a more discriminative representation.

    Parameters
    ----------
    embeddings : array-like of shape (n_samples, n_features)
        E.g. ``clf.transform(X)`` of a fitted `mvikit.deep` estimator.
    labels : array-like of shape (n_samples,)
        Class of every sample (e.g. the true grades).
    method : {"tsne", "pca"}, default="tsne"
        ``sklearn.manifold.TSNE(n_components=2)`` or
        ``sklearn.decomposition.PCA(n_components=2)``.
    ax : matplotlib Axes, default=None
        Axes to draw on (current axes when None).
    random_state : int, RandomState or None, default=None
        Passed to TSNE/PCA (fix it for a reproducible map).
    label_names : dict, default=None
        Legend text per class (default: the class itself).
    legend_title : str, default="grade"
        Title of the legend.
    s : float, default=18
        Marker size.
    **tsne_kwargs
        Further arguments of ``TSNE`` (``perplexity``, ``init``, ...) or ``PCA``.

    Returns
    -------
    ax : matplotlib Axes
        One scatter collection per class (sorted classes), in that order.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib.pyplot as plt
    >>> from mvikit.plotting import plot_embedding
    >>> rng = np.random.default_rng(0)
    >>> Z = np.vstack([rng.normal(0, 1, (10, 5)), rng.normal(4, 1, (10, 5))])
    >>> ax = plot_embedding(Z, ["M0"] * 10 + ["M1"] * 10, method="pca")
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['M0', 'M1']
    >>> plt.close("all")
    """
    import matplotlib.pyplot as plt

    if method not in ("tsne", "pca"):
        raise ValueError(f"method must be 'tsne' or 'pca', got {method!r}.")
    Z = np.asarray(embeddings, dtype=float)
    y = np.asarray(labels)
    if Z.ndim != 2 or y.ndim != 1 or len(Z) != len(y):
        raise ValueError(f"embeddings must be (n_samples, n_features) and labels "
                         f"(n_samples,); got shapes {Z.shape} and {y.shape}.")
    if not np.all(np.isfinite(Z)):
        rows = np.flatnonzero(~np.all(np.isfinite(Z), axis=1))[:5].tolist()
        raise ValueError(f"embeddings has NaN or infinite values in rows {rows}; drop or "
                         "impute these samples first.")
    points = _reduce(Z, method, random_state, tsne_kwargs)
    ax = plt.gca() if ax is None else ax
    names = label_names or {}
    for cls in np.unique(y):
        keep = y == cls
        ax.scatter(points[keep, 0], points[keep, 1], s=s, alpha=0.85,
                   label=str(names.get(cls, cls)))
    axis_name = "t-SNE" if method == "tsne" else "PC"
    ax.set(xlabel=f"{axis_name} 1", ylabel=f"{axis_name} 2")
    ax.legend(title=legend_title, fontsize=8)
    return ax
