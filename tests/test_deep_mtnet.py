"""MTnet (seed 004): the losses, the variants, the geometry of the segmentation, the
Youden cut-off, the logistic selection inside fit, the risk calculator and bad input."""

import numpy as np
import pandas as pd
import pytest
import torch

from mvikit import Volume
from mvikit.clinical import StepwiseSelector
from mvikit.deep import MTNetClassifier, dice_coefficient, horizon_task, mtnet_models
from mvikit.deep._trainers import CohortTrainer, MultiTaskTrainer, dice_ce_loss
from mvikit.deep.nets import MTNet, get_architecture
from mvikit.exceptions import CohortError, ColumnRoleError
from mvikit.preprocessing import ClinicalPreprocessor
from mvikit.survival import Surv

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SHAPE = (16, 32, 32)
TINY = dict(cube=SHAPE, downsample=1, crop_size=SHAPE, width=0.125, max_epochs=1,
            batch_size=4, random_state=0)


def _frame(n=12, seed=0, signal=True, shape=SHAPE):
    """CT_PV volumes with a bright tumour box whose position varies, its mask, a
    clinical item carrying the label (``strong``) and two noise items."""
    rng = np.random.default_rng(seed)
    y = np.array([0, 1] * (n // 2))
    volumes, masks = [], []
    shift = (shape[1] - SHAPE[1]) // 2
    for i in range(n):
        mask = np.zeros(shape, np.uint8)
        z, r, c = 5 + i % 3, shift + 10 + i % 5, shift + 9 + i % 4
        mask[z:z + 5, r:r + 10, c:c + 12] = 1
        volumes.append(Volume(rng.normal(size=shape) + 3.0 * mask, spacing=(2.0, 0.8, 0.8)))
        masks.append(Volume(mask, spacing=(2.0, 0.8, 0.8)))
    strong = 2.5 * y + rng.normal(size=n) if signal else rng.normal(size=n)
    X = pd.DataFrame({"strong": strong, "noise": rng.normal(size=n),
                      "sex": rng.choice(["F", "M"], n), "CT_PV": volumes,
                      "tumor_mask": masks}, index=[f"p{i:02d}" for i in range(n)])
    return X, y


# ------------------------------------------------------------------ losses and Dice
def test_dice_ce_is_zero_for_a_perfect_prediction_and_dice_zero_for_disjoint_masks():
    masks = torch.zeros(2, 1, 4, 8, 8)
    masks[:, :, 1:3, 2:6, 2:6] = 1
    perfect = torch.zeros(2, 2, 4, 8, 8)
    perfect[:, 1] = 20 * (2 * masks[:, 0] - 1)
    assert float(dice_ce_loss(perfect, masks)) < 1e-3
    # the opposite prediction: Dice loss 1 (overlap 0) + a large cross-entropy
    assert float(dice_ce_loss(-perfect, masks)) > 1.0 + 10.0
    a = masks[0, 0].numpy()
    shifted = np.roll(a, 4, axis=2)
    assert dice_coefficient(a, shifted) == 0.0
    assert dice_coefficient(a, a) == 1.0
    half = a.copy()
    half[:, :, 4:] = 0  # half the tumour: 2 * 16 / (32 + 16)
    assert dice_coefficient(half, a) == pytest.approx(2 * 16 / 48)
    with pytest.raises(ValueError, match="different shapes"):
        dice_coefficient(a, a[:2])


# ------------------------------------------------------------------ the network
def test_noseg_has_no_decoder_parameters_and_no_segmentation_output():
    full = MTNet(1, 2, n_clinical=4, width=0.25)
    noseg = MTNet(1, 2, n_clinical=4, width=0.25, segmentation=False)
    decoder = {"upcat_1", "upcat_2", "upcat_3", "upcat_4", "final_conv"}
    names = {name.split(".")[0] for name, _ in noseg.named_parameters()}
    assert names.isdisjoint(decoder)
    count = sum(p.numel() for n, p in full.named_parameters() if n.split(".")[0] in decoder)
    assert count > 0
    assert (sum(p.numel() for p in full.parameters())
            == sum(p.numel() for p in noseg.parameters()) + count)
    batch = {"volumes": torch.randn(2, 1, *SHAPE), "clinical": torch.randn(2, 4)}
    assert "segmentation" not in noseg(batch)
    assert full(batch)["segmentation"].shape == (2, 2) + SHAPE
    assert get_architecture("mtnet_noseg").auxiliary == {}
    assert get_architecture("mtnet").auxiliary == {"segmentation": "dice_ce"}


def test_classification_reads_the_predicted_tumour():
    # the decoder's feedback: changing the tumour logits changes the risk
    torch.manual_seed(0)
    net = MTNet(1, 2, width=0.25).eval()
    batch = {"volumes": torch.randn(1, 1, *SHAPE)}
    with torch.no_grad():
        before = net(batch)["logits"]
        net.final_conv.bias.copy_(torch.tensor([0.0, 5.0]))
        after = net(batch)["logits"]
    assert not torch.allclose(before, after)


# ------------------------------------------------------------------ variants
def test_variants_train_the_right_terms():
    X, y = _frame()
    fits = {v: MTNetClassifier(v, **TINY).fit(X, y)
            for v in ("DR", "CR-DR", "NoSeg-CR-DR")}
    for variant, model in fits.items():
        last = model.net_.history[-1, "batches", -1]
        if variant == "NoSeg-CR-DR":
            assert type(model.net_) is CohortTrainer and "loss_segmentation" not in last
            assert not any(n.startswith("upcat") for n, _ in
                           model.net_.module_.named_parameters())
        else:
            assert isinstance(model.net_, MultiTaskTrainer)
            assert last["train_loss"] == pytest.approx(last["loss_main"]
                                                       + last["loss_segmentation"], rel=1e-5)
    assert fits["DR"].net_.module_.clinical_block is None
    assert fits["CR-DR"].clinical_columns_ == ["strong", "noise", "sex"]
    assert fits["CR-DR"].net_.module_.clinical_block.layers[0].in_features == 3
    weighted = MTNetClassifier(segmentation_weight=0.0, **TINY).fit(X, y)
    assert "loss_segmentation" not in weighted.net_.history[-1, "batches", -1]


def test_model_cr_is_an_mlp_on_the_clinical_items_and_needs_no_image():
    X, y = _frame(n=40)
    clinical = X[["strong", "noise", "sex"]]
    model = MTNetClassifier("CR", max_epochs=5, random_state=0).fit(clinical, y)
    mlp = model.clinical_model_[-1]
    assert mlp.hidden_layer_sizes == (32, 32)
    np.testing.assert_allclose(model.predict_proba(clinical),
                               model.clinical_model_.predict_proba(clinical))
    assert model.predict_proba(clinical)[:, 1][y == 1].mean() > \
        model.predict_proba(clinical)[:, 1][y == 0].mean()
    with pytest.raises(ValueError, match="no image features"):
        model.transform(clinical)
    # the image columns of a cohort frame are ignored
    full = MTNetClassifier("CR", max_epochs=5, random_state=0).fit(X, y)
    np.testing.assert_array_equal(full.predict_proba(X), model.predict_proba(clinical))
    with pytest.raises(ValueError, match="no segmentation decoder"):
        model.predict_segmentation(clinical)


def test_logistic_selection_runs_inside_fit_on_the_training_rows():
    X, y = _frame(n=60, seed=3)
    train = X.index[:48]
    model = MTNetClassifier("Logistic-CR-DR", **TINY).fit(X.loc[train], y[:48])
    design = ClinicalPreprocessor(clinical=["strong", "noise", "sex"]).set_output(
        transform="pandas").fit_transform(X.loc[train, ["strong", "noise", "sex"]])
    manual = StepwiseSelector(selection="backward", criterion="lr").fit(design, y[:48])
    assert manual.selected_features_ == ["strong"]
    assert model.selected_clinical_ == ["strong"] == model.clinical_columns_
    assert model.selector_.n_features_in_ == 3
    assert model.net_.module_.clinical_block.layers[0].in_features == 1
    assert model.risk_calculator()(X.iloc[50]).clinical == {"strong": X.iloc[50]["strong"]}


def test_mtnet_models_are_the_five_variants():
    models = mtnet_models(preset="cpu", random_state=1)
    assert [m.variant for m in models.values()] == [
        "CR-DR", "DR", "CR", "NoSeg-CR-DR", "Logistic-CR-DR"]
    assert all(m.random_state == 1 for m in models.values())


# ------------------------------------------------------------------ segmentation
class _Oracle(torch.nn.Module):
    """Segments exactly the (centre-cropped) mask of the batch."""

    def forward(self, batch):
        masks = batch["masks"][:, :1].float()
        n = masks.shape[0]
        return {"logits": torch.zeros(n, 2), "embedding": torch.zeros(n, 1),
                "segmentation": torch.cat([-20 * (2 * masks - 1), 20 * (2 * masks - 1)], 1)}


@pytest.mark.parametrize("cube, downsample", [((16, 48, 48), 1), ((16, 64, 64), (1, 2, 2))])
def test_segmentation_output_matches_the_crop(cube, downsample):
    X, y = _frame(n=8, shape=(16, 64, 64))
    crop = (16, 32, 32)  # the centre of the 48x48 cube; the whole downsampled 64x64 one
    model = MTNetClassifier("DR", **dict(TINY, cube=cube, downsample=downsample,
                                         crop_size=crop)).fit(X, y)
    out = model.net_.outputs(model._inference_data(X, with_clinical=False))
    assert out["segmentation"].shape == (8, 2) + crop
    assert model.predict_segmentation(X, space="crop").iloc[0].shape == crop
    model.net_.module_ = _Oracle()
    predicted = model.predict_segmentation(X)
    assert predicted.loc["p00"].shape == X.loc["p00", "CT_PV"].shape
    assert predicted.loc["p00"].spacing == X.loc["p00", "CT_PV"].spacing
    dice = model.segmentation_dice(X)
    # every tumour lies inside the crop: the oracle's mask comes back in image space,
    # exactly without downsampling, up to the resampled edges with it
    if downsample == 1:
        for pid in X.index:
            np.testing.assert_array_equal(predicted.loc[pid].array,
                                          X.loc[pid, "tumor_mask"].array)
        assert (dice == 1.0).all()
    else:
        assert dice.min() > 0.85
    assert (model.segmentation_dice(X, space="crop") == 1.0).all()


# ------------------------------------------------------------------ risk groups
def _brute_force_youden(y, risk):
    best, cut = -np.inf, None
    for t in np.unique(risk):  # ascending: ">=" keeps the highest of tied cut-offs
        high = risk >= t
        j = high[y == 1].mean() + (~high[y == 0]).mean() - 1
        if j >= best:
            best, cut = j, t
    return cut, best


@pytest.mark.parametrize("variant", ["CR-DR", "CR"])
def test_youden_cut_off_is_the_brute_force_argmax_on_training_predictions(variant):
    X, y = _frame(n=24, seed=5)
    frame = X if variant != "CR" else X[["strong", "noise", "sex"]]
    model = MTNetClassifier(variant, **TINY).fit(frame, y)
    risk = model.predict_proba(frame)[:, 1]
    np.testing.assert_allclose(model.training_summary_["risk"], risk, rtol=1e-6)
    cut, j = _brute_force_youden(y, risk)
    assert model.threshold_ == pytest.approx(cut, rel=1e-6)
    assert model.youden_.j == pytest.approx(j)
    groups = model.predict_risk_group(frame)
    np.testing.assert_array_equal(groups, np.where(risk >= cut, "high", "low"))


def test_risk_calculator_reports_the_risk_group_and_numbers():
    X, y = _frame(n=16, seed=2)
    model = MTNetClassifier("CR-DR", **TINY).fit(X.iloc[:12], y[:12])
    patient = X.iloc[13].copy()
    patient["noise"] = np.nan
    report = model.risk_calculator()(patient)
    one = X.iloc[[13]].copy()
    one["noise"] = np.nan
    assert report.patient == "p13"
    assert report.risk == pytest.approx(model.predict_proba(one)[0, 1], rel=1e-6)
    assert report.group == ("high" if report.risk >= model.threshold_ else "low")
    summary = model.training_summary_
    same = summary["group"] == report.group
    assert report.group_patients == same.sum()
    assert report.group_event_rate == pytest.approx(summary.loc[same, "event"].mean())
    assert report.imputed == ["noise"]
    mask = model.predict_segmentation(one).iloc[0]
    assert report.tumour_volume_ml == pytest.approx(mask.array.sum() * 2.0 * 0.8 * 0.8 / 1000)
    assert "risk of future macrovascular invasion" in str(report)


# ------------------------------------------------------------------ outcome and bad input
def test_horizon_task_excludes_and_counts_patients_censored_before_the_horizon():
    X, _ = _frame(n=6)
    survival = Surv.from_arrays(event=[1, 0, 1, 0, 0, 1], time=[3.0, 4.0, 20.0, 30.0, 8.0, 9.0])
    X_known, y_known, labels = horizon_task(X, survival, 12)
    assert list(X_known.index) == ["p00", "p02", "p03", "p05"]
    assert y_known.tolist() == [1, 0, 0, 1]
    assert labels.counts == {"events": 2, "event_free": 2, "censored_before_horizon": 2}
    with pytest.raises(ValueError, match="not before the last follow-up"):
        horizon_task(X, survival, 30)


def test_ipcw_weights_are_one_over_the_censoring_km_by_hand():
    from lifelines import KaplanMeierFitter

    rng = np.random.default_rng(3)
    n, horizon = 40, 12.0
    X, _ = _frame(n=n)
    time = rng.uniform(1, 30, n)  # distinct times: lifelines and the reverse KM agree
    event = rng.random(n) < 0.6
    survival = Surv.from_arrays(event=event, time=time)
    X_known, y_known, labels = horizon_task(X, survival, horizon, censored="ipcw")
    censored_early = ~event & (time <= horizon)
    # censored before the horizon: no label, weight 0, left out of the rows and counted
    assert labels.weights[censored_early].tolist() == [0.0] * censored_early.sum()
    assert labels.counts["censored_before_horizon"] == censored_early.sum()
    assert len(X_known) == n - censored_early.sum()
    assert not X_known.index.isin(X.index[censored_early]).any()
    # G = Kaplan-Meier of the censoring times; cases 1 / G(T-), controls 1 / G(horizon)
    km = KaplanMeierFitter().fit(time, ~event)
    at = np.minimum(time, horizon)
    left = np.where(time <= horizon, at - 1e-9, at)
    expected = 1.0 / km.survival_function_at_times(left).to_numpy()
    known = labels.mask
    assert labels.weights[known] == pytest.approx(expected[known], rel=1e-12)
    # the weighted event fraction is the Kaplan-Meier risk by the horizon
    risk = 1 - KaplanMeierFitter().fit(time, event).survival_function_at_times(horizon).item()
    w = labels.weights[known]
    assert np.sum(w * y_known) / np.sum(w) == pytest.approx(risk, rel=1e-12)
    # the default keeps weight 1
    assert horizon_task(X, survival, horizon)[2].weights[known].tolist() == [1.0] * known.sum()


def test_sample_weight_is_a_weighted_mean_of_the_classification_loss():
    from mvikit.deep.losses import focal_loss

    logits = torch.tensor([[0.2, 1.0], [1.5, -0.5], [0.0, 0.3], [2.0, 1.0]])
    target = torch.tensor([1, 0, 0, 1])
    weights = torch.tensor([1.0, 2.5, 0.0, 1.2])
    per_patient = torch.nn.functional.cross_entropy(logits, target, reduction="none")
    expected = (weights * per_patient).sum() / weights.sum()
    assert float(focal_loss(logits, target, 0.0, sample_weight=weights)) == pytest.approx(
        float(expected), rel=1e-6)
    assert float(focal_loss(logits, target, 0.0, sample_weight=torch.zeros(4))) == 0.0
    # through the trainer: the batch's sample_weight reaches the criterion
    X, y = _frame(12)
    ones = MTNetClassifier("CR-DR", **TINY).fit(X, y, sample_weight=np.ones(12))
    plain = MTNetClassifier("CR-DR", **TINY).fit(X, y)
    np.testing.assert_array_equal(ones.predict_proba(X), plain.predict_proba(X))
    uneven = MTNetClassifier("CR-DR", **TINY).fit(X, y, sample_weight=np.r_[[5.0] * 6, [0.2] * 6])
    assert not np.allclose(uneven.predict_proba(X), plain.predict_proba(X))
    net = uneven.net_
    batch = {"sample_weight": torch.tensor([0.0, 3.0])}
    # the classification term (the multi-task trainer adds the segmentation term to it)
    loss = CohortTrainer.get_loss(net, {"logits": logits[:2]}, torch.tensor([1, 0]), X=batch)
    assert float(loss) == pytest.approx(float(per_patient[1]), rel=1e-6)
    # Model CR: the MLP's own sample_weight
    cr = MTNetClassifier("CR", **TINY).fit(X, y, sample_weight=np.r_[[5.0] * 6, [0.2] * 6])
    assert not np.allclose(cr.predict_proba(X),
                           MTNetClassifier("CR", **TINY).fit(X, y).predict_proba(X))
    with pytest.raises(ValueError, match="[Nn]egative"):
        MTNetClassifier("CR", **TINY).fit(X, y, sample_weight=-np.ones(12))


def test_segmenting_variant_without_mask_column_names_the_variants():
    X, y = _frame(n=8)
    no_mask = X.drop(columns="tumor_mask")
    for variant in ("DR", "CR-DR", "Logistic-CR-DR"):
        with pytest.raises(ColumnRoleError, match=f"{variant}.*tumour mask.*NoSeg-CR-DR"):
            MTNetClassifier(variant, **TINY).fit(no_mask, y)
    # NoSeg reads volumes already cut to the cube without any mask
    model = MTNetClassifier("NoSeg-CR-DR", **TINY).fit(no_mask, y)
    assert model.predict_proba(no_mask).shape == (8, 2)


def test_empty_mask_names_the_patient():
    X, y = _frame(n=8)
    X.loc["p03", "tumor_mask"] = Volume(np.zeros(SHAPE, np.uint8))
    with pytest.raises(CohortError, match=r"'tumor_mask'.*empty.*'p03'"):
        MTNetClassifier("CR-DR", **TINY).fit(X, y)


def test_multiclass_target_is_refused():
    X, _ = _frame(n=12)
    with pytest.raises(ValueError, match="binary outcome.*horizon_task"):
        MTNetClassifier("DR", **TINY).fit(X, np.arange(12) % 3)


def test_mtnet_with_a_cox_head_trains_the_partial_likelihood_plus_segmentation():
    from mvikit.survival import DeepCoxSurvival
    from mvikit.survival._deep_cox import CoxTrainer, MultiTaskCoxTrainer

    X, _ = _frame(n=12, seed=4)
    survival = Surv.from_arrays(event=[1, 0, 1] * 4, time=np.arange(1.0, 13.0))
    cox = DeepCoxSurvival("mtnet", use_clinical=True, **TINY).fit(X, survival)
    assert type(cox.net_) is MultiTaskCoxTrainer
    last = cox.net_.history[-1, "batches", -1]
    assert last["train_loss"] == pytest.approx(last["loss_main"] + last["loss_segmentation"],
                                               rel=1e-5)
    assert cox.predict(X).shape == (12,) and 0 <= cox.score(X, survival) <= 1
    off = DeepCoxSurvival("mtnet", auxiliary_weights={"segmentation": 0.0}, **TINY).fit(
        X, survival)
    assert "loss_segmentation" not in off.net_.history[-1, "batches", -1]
    noseg = DeepCoxSurvival("mtnet_noseg", use_clinical=True, **TINY).fit(X, survival)
    assert type(noseg.net_) is CoxTrainer
    with pytest.raises(ValueError, match="auxiliary outputs"):
        DeepCoxSurvival("concat", auxiliary_weights={"segmentation": 1.0}, **TINY).fit(
            X, survival)


def test_figure_6_numbers_match_km_logrank_and_the_inverse_hazard_ratio():
    from mvikit.survival import hazard_ratio, km_summary, logrank_test, risk_group_summary

    rng = np.random.default_rng(0)
    groups = np.array(["low"] * 40 + ["high"] * 40)
    time = np.r_[rng.exponential(40, 40), rng.exponential(15, 40)]
    event = rng.random(80) < 0.8
    mavi = Surv.from_arrays(event=event, time=time)
    os_ = Surv.from_arrays(event=rng.random(80) < 0.7, time=time * 1.5 + 2)
    # the paper's direction: low against high risk
    result = risk_group_summary(groups, {"MaVI": mavi, "OS": os_}, reference="high")
    assert list(result.tests.index) == ["MaVI", "OS"]
    km = km_summary(mavi, groups)
    assert result.km.loc[("MaVI", "high"), "median"] == km.loc["high", "median"]
    assert result.tests.loc["MaVI", "p"] == pytest.approx(logrank_test(mavi, groups).p_value)
    # one binary covariate: HR(low vs high) = 1 / HR(high vs low), CI bounds swapped
    high = hazard_ratio(mavi, groups, reference="low").loc["high"]
    assert result.tests.loc["MaVI", "HR"] == pytest.approx(1 / high["HR"], rel=1e-4)
    assert result.tests.loc["MaVI", "HR lower"] == pytest.approx(1 / high["HR upper"], rel=1e-4)
    assert result.tests.loc["MaVI", "HR"] < 1
    with pytest.raises(ValueError, match="one group"):
        risk_group_summary(np.array(["low"] * 80), {"MaVI": mavi})
