"""CDLM (seed 003): CT against MRI on the same simulated patients.

Per phase a 2D ResNet18 on the three largest-tumour slices gives a deep-learning
signature; CDLM fuses the signatures with clinical and radiological factors selected
inside each training fold.  This script compares CDLM-CT with CDLM-MRI and the AFP
clinical model on the same folds of one paired cohort (paired DeLong, McNemar at
training-fold thresholds, decision curves, subgroups), draws a Grad-CAM map on the
slices CDLM-MRI read, and splits the patients into risk groups for PFS and OS.

Small and fast (the "demo" preset, 150 patients); see benchmarks/cdlm_findings.py for
the full-size comparison.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from mvikit.datasets import make_paired_cohort  # noqa: E402
from mvikit.deep import cdlm_models, gradcam  # noqa: E402
from mvikit.model_selection import compare_models, head_to_head, subgroup_labels  # noqa: E402
from mvikit.plotting import plot_cam  # noqa: E402
from mvikit.survival import Surv, risk_group_summary  # noqa: E402

pair = make_paired_cohort(150, random_state=0)
X, y = pair.X, np.asarray(pair.y)
print(f"{len(y)} patients imaged by MRI ({', '.join(pair.mri_sequences)}) and CT "
      f"({', '.join(pair.ct_sequences)}); MVI prevalence {y.mean():.2f}")

params = dict(preset="demo", random_state=0)
ct, mri = cdlm_models("ct", **params), cdlm_models("mri", **params)
models = {"Clinical model": ct["Clinical model"], "CDLM-CT": ct["CDLM"],
          "CDLM-MRI": mri["CDLM"]}
result = compare_models(models, X, y, cv=3, random_state=0, scoring=["auc"],
                        threshold_cv="train")
print(result.table().to_string(index=False))

h2h = head_to_head(result, "CDLM-MRI", "CDLM-CT", subgroups=subgroup_labels(X))
d = h2h.delong
print(f"\nCDLM-MRI {d.auc_a:.3f} vs CDLM-CT {d.auc_b:.3f}: paired DeLong p = {d.p_value:.3f}")
print(h2h.auc.round(3).to_string())
print("McNemar at training-fold thresholds:\n" + h2h.mcnemar.round(3).to_string())
print(h2h.subgroups[["subgroup", "level", "n", "auc CDLM-MRI", "auc CDLM-CT"]].round(3)
      .to_string(index=False))

# one CDLM-MRI fitted on all patients: its factors, signatures and an attention map
cdlm = mri["CDLM"].fit(X, y)
print("\nfactors selected on all patients:", cdlm.selected_factors_)
print(cdlm.signatures(X).head(3).round(2).to_string())
patient = X.index[int(np.argmax(cdlm.predict_proba(X)[:, 1]))]
cam = gradcam(cdlm, X.loc[[patient]])
plot_cam(cam.inputs["AP"][0], cam["AP"][0], slices=[0, 1, 2])
plt.savefig("cdlm_gradcam.png", dpi=80)
print(f"Grad-CAM of patient {patient} (arterial phase) written to cdlm_gradcam.png")

# prognosis: risk groups from the out-of-fold CDLM-MRI labels (training-fold thresholds)
oof = result.oof_predictions("CDLM-MRI")
outcomes = pair.outcomes.loc[oof.index]
endpoints = {"PFS": Surv.from_arrays(outcomes["pfs_event"].astype(bool), outcomes["pfs_time"]),
             "OS": Surv.from_arrays(outcomes["os_event"].astype(bool), outcomes["os_time"])}
prognosis = risk_group_summary(oof["y_pred"], endpoints, score=oof["score"])
print(prognosis.table().to_string(index=False))
