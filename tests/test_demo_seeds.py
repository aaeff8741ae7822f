"""The seed-paper sections of `mvikit demo --full`: each writes its figures and its
section, and the numbers it prints are those of its comparison objects (recomputed here
from the pooled predictions with independent implementations where one exists)."""

import io

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from mvikit._demo import DemoSettings, demo_settings, run_demo
from mvikit._demo_seeds import (
    SEED_SECTIONS,
    SeedSettings,
    check_sections,
    run_seed_section,
    survival_horizons,
)
from mvikit.cli import build_parser

#: Tiny sizes: the "demo" preset, one epoch, 2 folds.  CMIR's five centres need ~120
#: patients for every external centre to hold two patients of each class (DeLong).
TINY = SeedSettings(preset="demo", max_epochs=1, n_splits=2, cdlm_patients=40,
                    mtnet_patients=100, cmir_patients=120, dmmgnet_patients=48,
                    dmmgnet_splits=2)


def _run(name, tmp_path):
    stream = io.StringIO()
    section = run_seed_section(name, TINY, tmp_path, random_state=0, n_jobs=1, stream=stream)
    return section, stream.getvalue()


def _assert_written(section, tmp_path):
    folder = tmp_path / section.name
    for figure in section.figures:
        assert figure.parent == folder and figure.stat().st_size > 0, figure
        assert f"({section.name}/{figure.name})" in section.markdown  # linked from seeds.md
    assert (folder / "report" / "report.html").stat().st_size > 0
    # the comparison report's figures (ROC, calibration, decision curve; KM for survival)
    assert len(list((folder / "report" / "figures").glob("*.png"))) >= 3


# ------------------------------------------------------------------- settings and CLI
def test_full_demo_has_every_seed_section_and_quick_none():
    assert demo_settings(quick=False).seed_sections == SEED_SECTIONS
    assert demo_settings(quick=True).seed_sections == ()
    # the quick demo is exactly what it was: same sizes, same deep preset
    quick = demo_settings(quick=True)
    assert (quick.n_patients, quick.n_splits, quick.n_repeats, quick.deep_preset) == (
        270, 3, 1, "demo")


def test_sections_option_is_checked():
    parser = build_parser()
    assert parser.parse_args(["demo", "--sections", "cdlm,CMIR"]).sections == ("cdlm", "cmir")
    assert parser.parse_args(["demo", "--sections", "none"]).sections == ()
    assert parser.parse_args(["demo"]).sections is None
    with pytest.raises(SystemExit):
        parser.parse_args(["demo", "--sections", "cdlm,unet"])
    with pytest.raises(ValueError, match="'unet'.*cdlm, mtnet, cmir, dmmgnet"):
        check_sections(["unet"])


def test_survival_horizons_lie_before_every_folds_last_follow_up():
    from mvikit.survival import Surv

    rng = np.random.default_rng(0)
    y = Surv.from_arrays(event=rng.random(40) < 0.7, time=rng.exponential(10, 40))
    folds = [(np.arange(0, 20), np.arange(20, 40)), (np.arange(20, 40), np.arange(0, 20))]
    times = survival_horizons(y, folds)
    last = min(y["time"][:20].max(), y["time"][20:].max())
    assert len(times) >= 1 and (times < last).all()
    expected = np.quantile(y["time"][y["event"]], [0.25, 0.5, 0.75]).round(1)
    assert set(times) == set(expected[expected < last])


# ------------------------------------------------------------------- CMIR (fast)
@pytest.fixture(scope="module")
def cmir(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("cmir")
    return (*_run("cmir", tmp_path), tmp_path)


def test_cmir_section_prints_the_centre_table(cmir):
    section, printed, tmp_path = cmir
    _assert_written(section, tmp_path)
    result, table = section.results["comparison"], section.results["centres"]
    assert list(result.models) == ["S1", "M1", "Ours"]
    assert set(table["centre"]) == {"C1", "C2", "C3", "C4", "C5"}
    # one split: trained on C1 + C2 only; tested on C3-C5 and 20 % of C1 + C2
    train = set(result.splits["train_indices"].iloc[0])
    tested = result.predictions.query("model == 'S1'")
    assert not train & set(tested["position"])
    assert set(tested["centre"]) == {"C1", "C2", "C3", "C4", "C5"}
    flat = " ".join(printed.split())
    for _, row in table.iterrows():
        # the AUC of each centre is sklearn's on that centre's test predictions
        rows = result.predictions.query("model == @row.model and centre == @row.centre")
        assert row["auc"] == pytest.approx(roc_auc_score(rows["y_true"], rows["score"]))
        cell = (f"| {row['model']} | {row['centre']} | {row['n']} | {row['n_positive']} | "
                f"{row['accuracy']:.3f} ({row['accuracy_ci_low']:.3f}-"
                f"{row['accuracy_ci_high']:.3f}) | {row['auc']:.3f}")
        assert cell in flat, cell
    assert printed.strip() in section.markdown


# ------------------------------------------------------------------- run_demo wiring
@pytest.mark.slow
def test_run_demo_writes_the_requested_seed_section(tmp_path):
    settings = DemoSettings(n_patients=60, n_splits=2, n_repeats=1, deep_preset="demo",
                            radiomics=False, deep=False, seeds=TINY)
    out, stream = tmp_path / "demo", io.StringIO()
    # random_state=0: seed 3 draws an external centre with one MVI-negative patient among
    # 120, which compare_models' per-centre DeLong interval refuses
    run_demo(out, settings=settings, sections=["cmir"], random_state=0, n_jobs=1,
             stream=stream)
    seeds = (out / "seeds.md").read_text()
    assert seeds.startswith("# Seed-paper sections") and "## CMIR (seed 001)" in seeds
    assert (out / "cmir" / "report" / "report.html").exists()
    assert not (out / "cdlm").exists()
    assert "## CMIR (seed 001)" in stream.getvalue()
    assert not list(tmp_path.glob(".mvikit-demo-*"))


# ------------------------------------------------------------------- CDLM
@pytest.mark.slow
def test_cdlm_section_prints_the_head_to_head(tmp_path):
    from scipy.stats import binomtest

    from mvikit.metrics import delong_test

    section, printed = _run("cdlm", tmp_path)
    _assert_written(section, tmp_path)
    assert [f.name for f in section.figures] == ["cdlm_gradcam.png"]
    result, h2h = section.results["comparison"], section.results["head_to_head"]
    assert result.models == ["Clinical model (AFP)", "CDLM-CT", "CDLM-MRI"]
    assert result.splits["n_test"].sum() == TINY.cdlm_patients  # same 2 folds for all
    mri, ct = result.oof_predictions("CDLM-MRI"), result.oof_predictions("CDLM-CT")
    d = delong_test(mri["y_true"], mri["score"], ct["score"])
    assert (d.auc_a, d.p_value) == pytest.approx((h2h.delong.auc_a, h2h.delong.p_value))
    assert (f"AUC {d.auc_a:.3f} vs {d.auc_b:.3f}, difference {d.auc_a - d.auc_b:+.3f}, "
            f"p = {d.p_value:.3g}") in printed
    # McNemar's exact test of sensitivity: a binomial test on the discordant MVI+ patients
    events = mri["y_true"].to_numpy() == 1
    mri_hit, ct_hit = mri["y_pred"].to_numpy()[events] == 1, ct["y_pred"].to_numpy()[events] == 1
    b, c = int(np.sum(mri_hit & ~ct_hit)), int(np.sum(~mri_hit & ct_hit))
    p = binomtest(b, b + c).pvalue if b + c else 1.0
    assert h2h.mcnemar.loc["sensitivity", "p_value"] == pytest.approx(p)
    row = printed.split("McNemar")[1].split("| sensitivity")[1].split("\n")[0]
    assert f"{p:.3f}" in row
    assert result.table().to_markdown(index=False) in printed
    # the subgroup table counts every labelled patient of each level (missing values left out)
    labels = section.results["subgroups"]
    table = " ".join(printed.split("Subgroups")[1].split())
    for _, row in h2h.subgroups.iterrows():
        assert row["n"] == (labels[row["subgroup"]] == row["level"]).sum()
        assert f"| {row['subgroup']} | {row['level']} | {row['n']} | {row['events']} |" in table


# ------------------------------------------------------------------- MTnet
@pytest.mark.slow
def test_mtnet_section_prints_table_s2_risk_groups_and_dice(tmp_path):
    from lifelines.statistics import logrank_test as lifelines_logrank

    section, printed = _run("mtnet", tmp_path)
    _assert_written(section, tmp_path)
    assert [f.name for f in section.figures] == ["mtnet_km.png"]
    result, table = section.results["comparison"], section.results["table_s2"]
    assert list(table.index) == result.models and result.models[0] == "Model CR-DR"
    for name in result.models:
        oof = result.oof_predictions(name)
        assert table.loc[name, "AUC"] == pytest.approx(roc_auc_score(oof["y_true"],
                                                                     oof["score"]))
        assert f"{table.loc[name, 'AUC']:.3f}" in printed
    # the risk groups are CR-DR's held-out labels at its training-fold Youden cut-offs
    found = section.results["risk_groups"]
    oof = result.oof_predictions("Model CR-DR")
    assert (found["groups"].loc[oof.index] == np.where(oof["y_pred"] == 1, "high",
                                                       "low")).all()
    mavi = found["endpoints"]["time to MaVI"]
    high = (found["groups"] == "high").to_numpy()
    p = lifelines_logrank(mavi["time"][high], mavi["time"][~high], mavi["event"][high],
                          mavi["event"][~high]).p_value
    assert found["statistics"]["time to MaVI"]["logrank_p"] == pytest.approx(p)
    assert f"{p:.3f}" in printed.split("| time to MaVI")[1].split("\n")[0]
    dice = section.results["dice"]
    assert ((dice >= 0) & (dice <= 1)).all()
    assert f"median {dice.median():.3f}" in printed


# ------------------------------------------------------------------- DMMGNet
@pytest.mark.slow
def test_dmmgnet_section_prints_c_index_per_fold_and_km(tmp_path):
    from lifelines.utils import concordance_index

    section, printed = _run("dmmgnet", tmp_path)
    _assert_written(section, tmp_path)
    assert [f.name for f in section.figures] == ["dmmgnet_km_baseline.png",
                                                 "dmmgnet_km_dmmgnet.png"]
    result = section.results["comparison"]
    assert result.models == ["Baseline", "DMMGNet"] and result.failures.empty
    harrell = result.scores.query("metric == 'harrell_c'")
    assert len(harrell) == 2 * TINY.dmmgnet_splits
    for _, row in harrell.iterrows():
        fold = result.predictions.query("model == @row.model and fold == @row.fold")
        # lifelines' C counts a higher score as longer survival: negate the risk
        c = concordance_index(fold["time"], -fold["risk"], fold["event"])
        assert row["value"] == pytest.approx(c)
    per_fold = printed.split("Harrell's C per held-out fold")[1].split("Pooled")[0]
    for _, row in harrell.iterrows():
        assert f"{row['value']:.3f}" in per_fold
    pooled = result.summary.loc["DMMGNet"]
    assert f"| DMMGNet | {pooled['c']:.3f} | {pooled['c_low']:.3f}" in " ".join(
        printed.split())
    assert pd.notna(result.risk_groups.query("model == 'DMMGNet'")["HR"]).all()
