"""Explaining MD-Net: 3D Grad-CAM heatmaps (Fig. 6) and a t-SNE of the student's features (Fig. 5).

Trains a small (CPU-size) MD-Net on a simulated cohort, then

* computes Grad-CAM (Selvaraju et al. 2017) of the student's predicted class for
  held-out patients, per sequence, maps it back onto the original image grid
  and overlays it on the slice through the tumour with the tumour contour;
* maps the student's features after the SA module (``transform``) of all
  patients to 2D with t-SNE, coloured by MVI grade.

Writes ``explain_cam.png`` and ``explain_tsne.png`` into a temporary folder
(or the folder given as the first argument).  Quick (< 1 minute on 2 cores); the
network is far below the paper's size, so the maps are coarse.
"""

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from mvikit.datasets import make_hcc_cohort  # noqa: E402
from mvikit.deep import MDNetClassifier, gradcam  # noqa: E402
from mvikit.plotting import plot_cam, plot_embedding  # noqa: E402

torch.set_num_threads(1)  # small networks on shared cores: one thread is fastest
out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
out.mkdir(parents=True, exist_ok=True)

cohort = make_hcc_cohort(n_patients=72, random_state=0)
X, y = cohort.X, np.asarray(cohort.y)
train = np.arange(len(X)) % 4 != 0
# the demo preset: the paper's 20x80x80 cube at half the in-plane resolution, 16x32x32 crops
mdnet = MDNetClassifier(preset="demo", max_epochs=5, random_state=0).fit(X[train], y[train])

# --- Grad-CAM of the predicted class, three held-out patients, both sequences
test = X[~train].iloc[:3]
cam = gradcam(mdnet, test)                      # student; cam["HBP"]: (3, 16, 32, 32)
on_images = cam.to_volumes()                    # Volume cells on the original grids
print("explained layers:", cam.layers)
print("explained classes:", dict(zip(test.index, cam.target.tolist())))
sequences = cohort.volume_columns               # ["PRE", "HBP"]
fig, axes = plt.subplots(len(test), len(sequences), figsize=(3.4 * len(sequences),
                                                             3.2 * len(test)), squeeze=False)
for i, pid in enumerate(test.index):
    for j, seq in enumerate(sequences):
        plot_cam(test.loc[pid, seq], on_images.loc[pid, seq], test.loc[pid, "tumor_mask"],
                 ax=axes[i, j], slices="mask", title=False)
        axes[i, j].set_title(f"{pid} {seq}: predicted {cam.target[i]}", fontsize=8)
fig.tight_layout()
fig.savefig(out / "explain_cam.png", dpi=110)

# --- t-SNE of the features after the SA module, coloured by grade
embeddings = mdnet.transform(X[cohort.volume_columns + cohort.mask_columns])
fig, ax = plt.subplots(figsize=(4.5, 4))
with threadpool_limits(1):  # t-SNE's OpenMP threads spin on busy shared cores
    plot_embedding(embeddings, y, ax=ax, random_state=0, perplexity=20)
ax.set_title("MD-Net student features (t-SNE)")
fig.tight_layout()
fig.savefig(out / "explain_tsne.png", dpi=110)
print("figures written to", out)
