"""`plot_cam` and `plot_embedding`: the drawn data equal the chosen slices / sklearn's maps."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.manifold import TSNE  # noqa: E402

from mvikit import Volume  # noqa: E402
from mvikit.plotting import plot_cam, plot_embedding  # noqa: E402


@pytest.fixture
def scene():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(7, 12, 10))
    cam = np.zeros(image.shape)
    cam[5, 2:5, 6:9] = 3.0  # maximum on slice 5
    cam[1, 6, 2] = 1.0
    mask = np.zeros(image.shape, np.uint8)
    mask[1:4, 3:9, 2:6] = 1  # bbox middle: d 2, h 5, w 3
    return image, cam, mask


def test_plot_cam_draws_the_chosen_slices(scene):
    image, cam, mask = scene
    fig, axes = plt.subplots(1, 3)
    out = plot_cam(Volume(image, spacing=(3.0, 0.5, 0.5)), cam, mask, ax=axes,
                   views=("axial", "coronal", "sagittal"), slices="mask")
    assert list(out) == list(axes)
    expected = [(image[2], cam[2], mask[2]), (image[:, 5], cam[:, 5], mask[:, 5]),
                (image[:, :, 3], cam[:, :, 3], mask[:, :, 3])]
    for ax, (img, heat, _) in zip(axes, expected):
        np.testing.assert_array_equal(ax.images[0].get_array(), img)
        drawn = ax.images[1].get_array()
        np.testing.assert_array_equal(drawn.mask, heat <= 0)  # zeros left transparent
        np.testing.assert_array_equal(drawn.filled(0.0), heat)
        assert ax.images[1].get_alpha() == 0.4
        assert ax.images[1].get_clim() == (0.0, 3.0)  # 0 .. maximum over the volume
    assert [a.get_title() for a in axes] == ["axial 2", "coronal 5", "sagittal 3"]
    # the contour is drawn, on the mask's edge (level 0.5 of the binary slice)
    assert len(axes[0].collections) == 1
    vertices = np.vstack([p.vertices for p in axes[0].collections[0].get_paths()])
    rows, cols = vertices[:, 1], vertices[:, 0]
    np.testing.assert_allclose([rows.min(), rows.max(), cols.min(), cols.max()],
                               [2.5, 8.5, 1.5, 5.5])
    # physical aspect: coronal rows are 3 mm, columns 0.5 mm
    assert axes[1].get_aspect() == pytest.approx(6.0)
    assert axes[0].get_aspect() == pytest.approx(1.0)


@pytest.mark.parametrize("slices, expected", [("middle", [3]), ("max", [5]), (-1, [6]),
                                              ([0, 4], [0, 4])])
def test_plot_cam_slice_choices(scene, slices, expected):
    image, cam, _ = scene
    out = plot_cam(image, cam, slices=slices, title=False, threshold=None)
    axes = [out] if isinstance(out, plt.Axes) else list(out)
    assert len(axes) == len(expected)
    for ax, k in zip(axes, expected):
        np.testing.assert_array_equal(ax.images[0].get_array(), image[k])
        np.testing.assert_array_equal(np.ma.getdata(ax.images[1].get_array()), cam[k])
        assert not np.ma.is_masked(ax.images[1].get_array())
        assert len(ax.collections) == 0 and ax.get_title() == ""


def test_plot_cam_errors(scene):
    image, cam, mask = scene
    with pytest.raises(ValueError, match=r"`cam` has shape \(7, 12, 9\) but the image has"):
        plot_cam(image, cam[:, :, :9])
    with pytest.raises(ValueError, match="draws 2 panel"):
        plot_cam(image, cam, slices=[1, 2], ax=plt.gca())
    with pytest.raises(ValueError, match="needs a non-empty `mask`"):
        plot_cam(image, cam, slices="mask")
    with pytest.raises(ValueError, match="outside the axial axis of length 7"):
        plot_cam(image, cam, slices=7)
    with pytest.raises(ValueError, match="views must be among"):
        plot_cam(image, cam, views="oblique")


@pytest.fixture
def one_thread():
    """t-SNE's OpenMP threads spin on oversubscribed shared cores (20 s vs 0.3 s)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@pytest.fixture
def embedding():
    rng = np.random.default_rng(1)
    Z = np.vstack([rng.normal(m, 1.0, (12, 6)) for m in (0.0, 3.0, 6.0)])
    y = np.repeat(["M0", "M1", "M2"], 12)
    return Z, y


def test_plot_embedding_tsne_equals_sklearn(embedding, one_thread):
    Z, y = embedding
    _, ax = plt.subplots()
    out = plot_embedding(Z, y, ax=ax, random_state=0, perplexity=8)
    assert out is ax
    expected = TSNE(n_components=2, random_state=0, perplexity=8).fit_transform(Z)
    assert len(ax.collections) == 3
    for collection, cls in zip(ax.collections, ["M0", "M1", "M2"]):
        np.testing.assert_allclose(collection.get_offsets(), expected[y == cls], rtol=1e-6)
        assert collection.get_label() == cls
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["M0", "M1", "M2"]
    assert legend.get_title().get_text() == "grade"
    assert ax.get_xlabel() == "t-SNE 1"


def test_plot_embedding_pca_and_names(embedding):
    Z, y = embedding
    ax = plot_embedding(Z, y, method="pca", label_names={"M0": "no MVI"}, legend_title="MVI")
    expected = PCA(n_components=2).fit_transform(Z)
    np.testing.assert_allclose(ax.collections[0].get_offsets(), expected[:12], atol=1e-10)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["no MVI", "M1", "M2"]
    assert ax.get_xlabel() == "PC 1"


def test_plot_embedding_errors(embedding):
    Z, y = embedding
    with pytest.raises(ValueError, match=r"perplexity \(30.0\) must be below the number of "
                                         r"samples \(10\)"):
        plot_embedding(Z[:10], y[:10])
    with pytest.raises(ValueError, match="got shapes"):
        plot_embedding(Z, y[:5], method="pca")
    bad = Z.copy()
    bad[4, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite values in rows \[4\]"):
        plot_embedding(bad, y, method="pca")
    with pytest.raises(ValueError, match="method must be"):
        plot_embedding(Z, y, method="umap")
