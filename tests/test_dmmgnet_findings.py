"""Seed 002's finding on the simulated ``tace`` cohort (slow: ``pytest -m slow``).

DMMGNet's PFS C-index exceeds the baseline's (Table 1: four CNN branches pooled and
read by an LSTM), on 8 paired folds (``RepeatedStratifiedKFold(4, 2)`` on the PFS
event, the paper's 4-fold CV repeated) of the default 270-patient cohort, CPU preset:
the 16 fits take about 35 CPU-minutes.  ``benchmarks/dmmgnet_findings.py --repeats 2``
runs the same folds (``--rows all``: the eight rows of Table 1, about 2 CPU-hours) and
prints every table; the numbers are in ``docs/guide/dmmgnet.rst``.

The simulator's truth bounds both models: on the same test folds the true progression
linear predictor (``cohort.truth["progression_lp"]``) reaches a C-index of 0.663 +-
0.024 (death also ends PFS), and its image-visible part, aggressiveness ``a``, 0.615 +-
0.026 (the systemic factor ``s`` shows in the labs, not in the images).
"""

import pytest
from sklearn.model_selection import RepeatedStratifiedKFold

from mvikit.datasets import make_hcc_cohort
from mvikit.deep import dmmgnet_models
from mvikit.model_selection import compare_survival_models
from mvikit.survival import concordance_index

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread"),
              pytest.mark.filterwarnings("ignore::mvikit.exceptions.DataWarning")]


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    # lazy volumes on disk: the full layout holds about 4.6 GB in memory otherwise
    return make_hcc_cohort(270, task="tace", sequences=("T2", "PV"), layout="full",
                           random_state=0, image_dir=tmp_path_factory.mktemp("tace"))


@pytest.fixture(scope="module")
def folds(cohort):
    return list(RepeatedStratifiedKFold(n_splits=4, n_repeats=2, random_state=0).split(
        cohort.X, cohort.survival["event"]))


@pytest.fixture(scope="module")
def c_index(cohort, folds):
    """Harrell's C per fold (rows) of the baseline, DMMGNet and the simulator's truth."""
    models = dmmgnet_models("survival", preset="cpu", random_state=0)
    result = compare_survival_models({k: models[k] for k in ("Baseline", "DMMGNet")},
                                     cohort.X, cohort.survival, cv=folds)
    harrell = result.scores[result.scores["metric"] == "harrell_c"]
    wide = harrell.pivot(index=["repeat", "fold"], columns="model", values="value")
    for key in ("progression_lp", "a"):
        truth = cohort.truth[key].to_numpy()
        wide[key] = [concordance_index(cohort.survival[test], truth[test]).c
                     for _, test in folds]
    return wide


def test_full_dmmgnet_ranks_pfs_better_than_the_baseline(c_index):
    assert len(c_index) == 8
    assert c_index["DMMGNet"].mean() > c_index["Baseline"].mean(), c_index


def test_both_models_learn_progression_but_stay_below_what_the_images_show(c_index):
    """Above chance, below the C-index of the image-visible part of the true risk."""
    assert c_index["progression_lp"].mean() == pytest.approx(0.663, abs=0.001)
    assert c_index["a"].mean() == pytest.approx(0.615, abs=0.001)
    for model in ("Baseline", "DMMGNet"):
        assert 0.5 < c_index[model].mean() < c_index["a"].mean(), c_index


_MEASURED = (
    "benchmarks/dmmgnet_findings.py --repeats 2 --rows all (these folds, CPU preset): PFS "
    "C-index Baseline 0.544 +- 0.027, DMMGNet 0.558 +- 0.048: +0.013, ahead in 5 of 8 folds, "
    "Wilcoxon p = 0.46 (SD of the paired differences 0.044). Of the modules only SGCM alone "
    "moves the C-index in 7 of 8 folds (+0.025, p = 0.039; Holm over the seven rows 0.27). The "
    "images show only the aggressiveness a of the simulator's progression risk (C-index of a "
    "on these folds 0.615, of the whole risk 0.663); the CPU preset's branches (width 1/8, "
    "56 x 56, 8 epochs, 202 training patients) follow mostly the tumour's size (C of the "
    "diameter 0.559), which leaves the graph modules little to relate")


@pytest.mark.xfail(reason=_MEASURED, strict=False)
def test_full_dmmgnet_beats_the_baseline_beyond_the_fold_spread(c_index):
    from scipy.stats import wilcoxon

    assert wilcoxon(c_index["DMMGNet"] - c_index["Baseline"]).pvalue < 0.05
