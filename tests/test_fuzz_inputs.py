"""Issue 12, "Done when": a generated campaign of malformed inputs.

Every public entry point below receives hundreds of malformed frames, volumes,
files, targets and score vectors.  Each input must end in one of two clean
outcomes:

* an mvikit error (a subclass of `MvikitError`) whose message names the
  column, the patient, the parameter or the file concerned; or
* a `DataWarning`/`MvikitWarning` naming it, the result being usable.

Any other exception type ("other") or a result without an error or a warning
("silent") fails the test; the counts are printed (run with ``-s``) and are
the numbers reported on the issue.
"""

from __future__ import annotations

import itertools
import warnings
from collections import Counter

import numpy as np
import pandas as pd

from mvikit import Volume
from mvikit.exceptions import MvikitError, MvikitWarning

IDS = [f"P-{i:03d}" for i in range(24)]
Y = np.array([0, 1] * 12)
P = np.clip(0.5 + 0.3 * (Y - 0.5) + np.linspace(-0.2, 0.2, 24), 0.01, 0.99)


def classify(call, names):
    """``"error"``, ``"warning"``, ``"other"`` or ``"silent"`` for one malformed input."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            call()
        except MvikitError as exc:
            return "error" if _names_one(str(exc), names) else f"other: unnamed {exc}"
        except Exception as exc:  # noqa: BLE001 - the campaign counts every other kind
            return f"other: {type(exc).__name__}: {exc}"
    ours = [str(w.message) for w in caught if issubclass(w.category, MvikitWarning)]
    if any(_names_one(m, names) for m in ours):
        return "warning"
    return "silent"


def _names_one(message: str, names) -> bool:
    return any(str(n) in message for n in names)


def run(cases):
    """Classify every ``(label, call, names)`` case; return the tally and the failures."""
    tally, failures = Counter(), []
    for label, call, names in cases:
        outcome = classify(call, names)
        kind = outcome.split(":")[0]
        tally[kind] += 1
        if kind not in ("error", "warning"):
            failures.append(f"{label}: {outcome}")
    return tally, failures


def check(cases, family):
    tally, failures = run(cases)
    print(f"\n[fuzz {family}] tried {sum(tally.values())}: clean errors {tally['error']}, "
          f"documented warnings {tally['warning']}, other exceptions {tally['other']}, "
          f"silent {tally['silent']}")
    assert not failures, "\n".join(failures[:40])
    return tally


# ----------------------------------------------------------------------- metrics
def _malformed_scores(rng):
    """(label, y, score, names): malformed outcome/score pairs, pandas and plain."""
    ids = pd.Index(IDS)
    y, p = pd.Series(Y, index=ids), pd.Series(P, index=ids)
    out = []
    for bad in (np.nan, np.inf, -np.inf):
        for pos in (0, 7, 23):
            s = p.copy()
            s.iloc[pos] = bad
            out.append((f"score {bad} at {pos}", y, s, [IDS[pos]]))
            out.append((f"array score {bad} at {pos}", Y, s.to_numpy(), [f"position {pos}"]))
    for pos in (0, 11):
        t = y.astype(float)
        t.iloc[pos] = np.nan
        out.append((f"y NaN at {pos}", t, p, [IDS[pos]]))
    out.append(("one class", pd.Series(1, index=ids), p, ["y_true"]))
    out.append(("length", Y[:-3], P, ["y_score", "y_prob", "y_score_or_pred", "p_old", "pred_a"]))
    out.append(("reversed other ids", y, pd.Series(P, index=[f"Q{i}" for i in range(24)]),
                ["P-000", "Q0"]))
    out.append(("missing id", y, p.drop(IDS[5]), [IDS[5]]))
    out.append(("duplicate ids", y, pd.Series(P, index=[IDS[0]] * 24), [IDS[0]]))
    out.append(("text scores", Y, np.array(["a"] * 24), ["y_score", "y_prob", "numeric",
                                                         "y_score_or_pred", "p_old", "pred_a"]))
    out.append(("2-D scores", Y, np.ones((24, 3)), ["y_score", "y_prob", "shape", "p_old",
                                                     "y_score_or_pred", "pred_a"]))
    out.append(("empty", np.array([]), np.array([]), ["empty", "y_true"]))
    out.append(("three classes", np.arange(24) % 3, P, ["classes", "binary"]))
    out.append(("None id", pd.Series(Y, index=[*IDS[:-1], None]), P, ["row 23"]))
    noise = rng.permutation(24)
    out.append(("permuted ids", y, pd.Series(P, index=ids[noise]).rename(
        {ids[noise[0]]: "ZZ"}), ["ZZ"]))
    return out


def _metric_calls():
    from mvikit import metrics as m

    return {
        "roc_auc_ci": lambda y, s: m.roc_auc_ci(y, s),
        "delong_test": lambda y, s: m.delong_test(y, s, P),
        "calibration_stats": lambda y, s: m.calibration_stats(y, s),
        "calibration_curve": lambda y, s: m.calibration_curve(y, s, n_bins=4),
        "hosmer_lemeshow": lambda y, s: m.hosmer_lemeshow(y, s, n_groups=4),
        "decision_curve": lambda y, s: m.decision_curve(y, s, thresholds=[0.2, 0.5]),
        "threshold_metrics": lambda y, s: m.threshold_metrics(y, s, threshold=0.5),
        "youden_threshold": lambda y, s: m.youden_threshold(y, s),
        "nri": lambda y, s: m.nri(y, s, P, cutoffs=[0.3, 0.6]),
        "idi": lambda y, s: m.idi(y, s, P),
        "mcnemar_test": lambda y, s: m.mcnemar_test(y, s, Y),
    }


def test_fuzz_metrics():
    rng = np.random.default_rng(0)
    cases = []
    for (name, metric), (label, y, s, names) in itertools.product(
            _metric_calls().items(), _malformed_scores(rng)):
        cases.append((f"{name}: {label}", lambda metric=metric, y=y, s=s: metric(y, s),
                      [*names, "y_score", "y_prob", "y_true"] if label in (
                          "one class", "empty", "three classes") else
                      [*names, "pred_a"] if name == "mcnemar_test" else names))
    from mvikit.metrics import (
        calibration_stats,
        hosmer_lemeshow,
        kappa,
        roc_auc_ci,
        youden_threshold,
    )

    # degenerate but well-formed inputs: a warning or an error naming the cause
    tiny_y, tiny_p = np.array([0, 1, 0, 1]), np.array([0.2, 0.8, 0.3, 0.7])
    cases += [
        ("youden constant scores", lambda: youden_threshold(Y, np.full(24, 0.3)),
         ["constant"]),
        ("auc one event", lambda: roc_auc_ci([0, 0, 0, 1], [0.1, 0.2, 0.3, 0.4]),
         ["events"]),
        ("calibration separated", lambda: calibration_stats(tiny_y, tiny_p), ["separat"]),
        ("hosmer tiny", lambda: hosmer_lemeshow(tiny_y, tiny_p, n_groups=10), ["group"]),
        ("kappa constant rater", lambda: kappa(Y, np.zeros(24, int)), ["y2", "kappa"]),
        ("probabilities > 1", lambda: calibration_stats(Y, P + 1), ["positions 0"]),
    ]
    tally = check(cases, "metrics")
    assert sum(tally.values()) >= 250


# ------------------------------------------------------------------ clinical frames
def _frame(n=24):
    rng = np.random.default_rng(1)
    return pd.DataFrame({
        "afp": rng.lognormal(3, 1, n), "size": rng.normal(4, 1, n),
        "hbv": np.where(np.arange(n) % 3 == 0, "yes", "no"), "age": rng.normal(60, 8, n),
    }, index=IDS[:n])


def _malformed_frames():
    X = _frame()
    out = []
    for column in ("afp", "size", "age"):
        for pos, bad, what in ((3, np.inf, "inf"), (9, -np.inf, "-inf"), (4, 1e308, "1e308"),
                               (5, -1e308, "-1e308")):
            Z = X.copy()
            Z.iloc[pos, Z.columns.get_loc(column)] = bad
            out.append((f"{column} {what}", Z, [column]))
        Z = X.copy()
        Z[column] = Z[column].map(lambda v: f"{v:.2f}".replace(".", ","))
        out.append((f"{column} decimal comma text", Z, [column]))
        Z = X.copy()
        Z[column] = Z[column].map(lambda v: f"{v:.1f} y")
        out.append((f"{column} unit text", Z, [column]))
        Z = X.copy()
        Z[column] = Z[column].astype(str)
        out.append((f"{column} numbers as text", Z, [column]))
        Z = X.copy().astype({column: object})
        Z.iloc[::4, Z.columns.get_loc(column)] = "<5"
        out.append((f"{column} '<5' cells", Z, [column]))
        Z = X.copy()
        Z[column] = np.nan
        out.append((f"{column} all missing", Z, [column]))
        Z = X.copy()
        Z[column] = pd.date_range("2020-01-01", periods=len(Z))
        out.append((f"{column} dates", Z, [column]))
        Z = X.copy()
        Z[column] = [f"20{10 + i % 9}-0{1 + i % 9}-1{i % 9}" for i in range(len(Z))]
        out.append((f"{column} date text", Z, [column]))
        Z = X.copy().astype({column: object})
        Z.iloc[2, Z.columns.get_loc(column)] = 1 + 2j
        out.append((f"{column} complex cell", Z, [column]))
    for spelling in ("Yes", "yes ", " YES", "no ", "NO"):
        Z = X.copy()
        Z.iloc[1, Z.columns.get_loc("hbv")] = spelling
        out.append((f"hbv spelling {spelling!r}", Z, ["hbv"]))
    for bad_id in (None, np.nan, "", "   "):
        Z = X.copy()
        Z.index = [*IDS[:5], bad_id, *IDS[6:24]]
        out.append((f"id {bad_id!r}", Z, ["row 5"]))
    Z = X.copy()
    Z.index = [IDS[0]] * 2 + IDS[2:24]
    out.append(("duplicate id", Z, [IDS[0]]))
    return out


def test_fuzz_clinical_frames():
    from sklearn.pipeline import make_pipeline

    from mvikit.clinical import NomogramClassifier
    from mvikit.preprocessing import ClinicalPreprocessor

    y = pd.Series(Y, index=IDS)
    cases = []
    for label, Z, names in _malformed_frames():
        cases.append((f"preprocessor: {label}",
                      lambda Z=Z: ClinicalPreprocessor().fit_transform(Z), names))
        cases.append((f"nomogram pipeline: {label}", lambda Z=Z: make_pipeline(
            ClinicalPreprocessor(), NomogramClassifier(selection=None)).fit(
                Z, y if Z.index.is_unique and Z.index.notna().all() else Y), names))
        if label.startswith("hbv"):
            continue  # the numeric frame below has no hbv column
        numeric = Z.drop(columns="hbv")
        cases.append((f"nomogram on numbers: {label}", lambda Z=numeric: NomogramClassifier(
            selection=None).fit(Z, Y), names))
    tally = check(cases, "clinical frames")
    assert sum(tally.values()) >= 120


# -------------------------------------------------------------------------- targets
def _malformed_targets():
    rng = np.random.default_rng(2)
    ids = pd.Index(IDS)
    return [
        ("continuous", rng.normal(size=24), ["continuous"]),
        ("one per patient", np.arange(24), ["y "]),
        ("multi-output", np.column_stack([Y, Y]), ["multi", "y "]),
        ("NaN label", np.where(np.arange(24) == 6, np.nan, Y), [IDS[6], "position 6"]),
        ("None label", pd.Series([*Y[:-1].tolist(), None], index=ids, dtype=object), [IDS[23]]),
        ("other ids", pd.Series(Y, index=[f"X{i}" for i in range(24)]), ["X0", "P-000"]),
        ("short", Y[:20], ["20", "24"]),
    ]


def test_fuzz_targets():
    from mvikit.clinical import NomogramClassifier, StepwiseSelector
    from mvikit.radiomics import MRMRSelector, RadScore, UnivariateFilter

    X = _frame().drop(columns="hbv")
    estimators = {
        "NomogramClassifier": lambda: NomogramClassifier(selection=None),
        "StepwiseSelector": lambda: StepwiseSelector(),
        "RadScore": lambda: RadScore(cv=3),
        "UnivariateFilter": lambda: UnivariateFilter(),
        "MRMRSelector": lambda: MRMRSelector(n_features=2),
    }
    cases = []
    for (name, make), (label, y, names) in itertools.product(estimators.items(),
                                                               _malformed_targets()):
        cases.append((f"{name}: {label}", lambda make=make, y=y: make().fit(X, y),
                      [*names, name]))
    tally = check(cases, "targets")
    assert sum(tally.values()) >= 30


# -------------------------------------------------------------------------- volumes
def _bad_volume_calls():
    cube = np.zeros((4, 5, 6))
    out = []
    for label, data in [("empty", np.zeros((0, 5, 6))), ("2-D", np.zeros((5, 6))),
                        ("4-D", np.zeros((2, 3, 4, 5))), ("complex", cube.astype(complex)),
                        ("strings", np.full((2, 2, 2), "x")), ("objects", cube.astype(object)),
                        ("ragged", [[[1, 2]], [[1]]])]:
        out.append((f"data {label}", lambda data=data: Volume(data),
                    ["volume", "Volume", "array", "3D"]))
    for label, kw in [
        ("direction NaN", {"direction": (np.nan, 0, 0, 0, 1, 0, 0, 0, 1)}),
        ("direction singular", {"direction": (0,) * 9}),
        ("direction scaled", {"direction": (2, 0, 0, 0, 2, 0, 0, 0, 2)}),
        ("direction sheared", {"direction": (1, 0.5, 0, 0, 1, 0, 0, 0, 1)}),
        ("direction 4 values", {"direction": (1, 0, 0, 1)}),
        ("direction text", {"direction": "identity"}),
        ("spacing zero", {"spacing": (0, 1, 1)}),
        ("spacing negative", {"spacing": (1, -1, 1)}),
        ("spacing NaN", {"spacing": (1, np.nan, 1)}),
        ("spacing 2 values", {"spacing": (1, 1)}),
        ("origin inf", {"origin": (0, np.inf, 0)}),
        ("origin text", {"origin": ("a", "b", "c")}),
    ]:
        out.append((label, lambda kw=kw: Volume(cube, **kw),
                    ["direction", "spacing", "origin"]))
    return out


def _mask_pairs():
    image = Volume(np.random.default_rng(3).random((4, 8, 8)), spacing=(3, 1, 1),
                   origin=(10, 20, 30))
    good = np.zeros((4, 8, 8), np.uint8)
    good[1:3, 2:5, 2:5] = 1
    out = []
    for label, mask in [
        ("shifted origin", Volume(good, spacing=(3, 1, 1), origin=(10, 20, 33))),
        ("mirrored", Volume(good, spacing=(3, 1, 1), origin=(10, 20, 30),
                            direction=(-1, 0, 0, 0, 1, 0, 0, 0, 1))),
        ("rotated", Volume(good, spacing=(3, 1, 1), origin=(10, 20, 30),
                           direction=(0, 1, 0, -1, 0, 0, 0, 0, 1))),
        ("spacing", Volume(good, spacing=(2, 1, 1), origin=(10, 20, 30))),
        ("shape", Volume(good[:, :7], spacing=(3, 1, 1), origin=(10, 20, 30))),
        ("negative labels", image.with_array(good.astype(np.int8) - 1)),
        ("NaN labels", image.with_array(np.where(good, 1.0, np.nan))),
        ("empty", image.with_array(np.zeros_like(good))),
    ]:
        out.append((label, image, mask))
    return out


def test_fuzz_volumes_and_masks():
    from mvikit.imaging import (
        IntensityNormalizer,
        PeritumoralShell,
        ROICropper,
        validate_cohort,
    )

    cases = list(_bad_volume_calls())
    for label, image, mask in _mask_pairs():
        X = pd.DataFrame({"HBP": [image], "tumor_mask": [mask]}, index=["P-777"])
        transforms = {
            "validate_cohort": lambda X=X: validate_cohort(X, read_voxels=True),
            "ROICropper": lambda X=X: ROICropper(size=(2, 2, 2)).fit_transform(X),
            "PeritumoralShell": lambda X=X: PeritumoralShell(2.0).fit_transform(X),
            "IntensityNormalizer": lambda X=X: IntensityNormalizer(region="tumor")
            .fit_transform(X),
        }
        for name, call in transforms.items():
            cases.append((f"{name}: mask {label}", call, ["P-777"]))
    tally = check(cases, "volumes")
    assert sum(tally.values()) >= 50


# ---------------------------------------------------------------------------- files
def test_fuzz_files(tmp_path):
    from mvikit.datasets import load_cohort
    from mvikit.imaging import validate_cohort, write_image

    image = Volume(np.random.default_rng(4).random((4, 6, 6)).astype(np.float32) + 1)
    cases = []
    for k, (suffix, keep) in enumerate(itertools.product((".nii.gz", ".nii"),
                                                         (0.3, 0.6, 0.9, 0.99))):
        path = write_image(image, tmp_path / f"cut{k}{suffix}")
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])
        X = pd.DataFrame({"HBP": [str(path)]}, index=["P-555"])
        cases.append((f"truncated {path.name}",
                      lambda X=X: validate_cohort(X, read_voxels=True), [path.name]))
    for k, suffix in enumerate((".nii.gz", ".nii")):
        array = image.array.copy()
        array[1, 2, 3] = np.nan
        path = write_image(image.with_array(array), tmp_path / f"nan{k}{suffix}")
        X = pd.DataFrame({"HBP": [str(path)]}, index=["P-556"])
        cases.append((f"NaN voxel {path.name}",
                      lambda X=X: validate_cohort(X, read_voxels=True), ["P-556"]))
    for k, content in enumerate((b"", b"not an image", b"\x1f\x8b garbage")):
        path = tmp_path / f"junk{k}.nii.gz"
        path.write_bytes(content)
        X = pd.DataFrame({"HBP": [str(path)]}, index=["P-557"])
        cases.append((f"junk file {k}", lambda X=X: validate_cohort(X), [path.name]))
    X = pd.DataFrame({"HBP": [str(tmp_path / "absent.nii.gz")]}, index=["P-558"])
    cases.append(("absent file", lambda: validate_cohort(X), ["absent.nii.gz"]))
    csvs = {
        "empty": ("", ["empty"]),
        "header only, no id column": ("a,b\n1,2\n", ["patient_id"]),
        "blank id": ("patient_id,age\nP1,60\n,70\n", ["line(s) 3"]),
        "duplicate id": ("patient_id,age\nP1,60\nP1,70\n", ["P1"]),
        "leading zeros kept": ("patient_id,age\n007,60\n007,70\n", ["007"]),
        "missing image": ("patient_id,T2\nP1,nothere.nii.gz\n", ["P1"]),
    }
    for k, (label, (text, names)) in enumerate(csvs.items()):
        path = tmp_path / f"study{k}.csv"
        path.write_text(text)
        cases.append((f"csv {label}", lambda path=path: load_cohort(path), names))
    tally = check(cases, "files")
    assert sum(tally.values()) >= 20


def test_fuzz_compare_models():
    from sklearn.linear_model import LogisticRegression

    from mvikit.model_selection import compare_models

    X = _frame().drop(columns="hbv")
    models = {"a": LogisticRegression(), "b": LogisticRegression(C=0.1)}
    y = pd.Series(Y, index=IDS)
    cases = [
        ("y other ids", lambda: compare_models(models, X, y.rename(lambda i: i + "x"), cv=3),
         ["P-000x", "P-000"]),
        ("y missing patient", lambda: compare_models(models, X, y.drop(IDS[4]), cv=3),
         [IDS[4]]),
        ("y NaN", lambda: compare_models(models, X, y.where(y.index != IDS[2]), cv=3),
         [IDS[2]]),
        ("y one class", lambda: compare_models(models, X, y * 0, cv=3), ["one class"]),
    ]
    check(cases, "compare_models")



# ------------------------------------------------------------------ risk calculator
def test_fuzz_risk_calculator():
    from sklearn.pipeline import make_pipeline

    from mvikit.clinical import Nomogram, NomogramClassifier
    from mvikit.preprocessing import ClinicalPreprocessor

    X = _frame()
    y = (np.log(X["afp"]) + X["size"] > np.median(np.log(X["afp"]) + X["size"])).astype(int)
    model = make_pipeline(ClinicalPreprocessor(log_transform=["afp"]),
                          NomogramClassifier(selection=None)).fit(X, y)
    risk = Nomogram.from_estimator(model).risk_calculator()
    good = {"afp": 20.0, "size": 4.0, "hbv": "yes", "age": 60.0}
    cases = []
    for key in good:
        for wrong in (key.upper(), key + " ", key[:-1], "x" + key):
            row = {**{k: v for k, v in good.items() if k != key}, wrong: good[key]}
            cases.append((f"misspelt {wrong!r}", lambda row=row: risk(row), [repr(wrong)]))
        row = {k: v for k, v in good.items() if k != key}
        cases.append((f"absent {key!r}", lambda row=row: risk(row), [key]))
    for value in (0.0, -5.0):
        cases.append((f"afp {value}", lambda v=value: risk({**good, "afp": v}), ["afp"]))
    for value in ("12,5", "high", None):
        cases.append((f"size {value!r}", lambda v=value: risk({**good, "size": v}),
                      ["size"]))
    cases.append(("hbv unseen level", lambda: risk({**good, "hbv": "maybe"}), ["hbv"]))
    tally = check(cases, "risk calculator")
    assert sum(tally.values()) >= 20
