"""Fitted models with a summary show it in Jupyter (mimebundle first, as Jupyter asks)."""

import numpy as np
import pandas as pd

from mvikit.clinical import NomogramClassifier
from mvikit.survival import CoxPHSurvival


def test_fitted_models_show_their_summary_in_the_mimebundle(rossi):
    X, y = rossi
    unfitted = CoxPHSurvival()._repr_mimebundle_()
    assert "events" not in unfitted.get("text/html", "")  # scikit-learn's diagram
    cox = CoxPHSurvival().fit(X, y)
    bundle = cox._repr_mimebundle_()
    assert bundle["text/html"] == cox._repr_html_()
    assert "432 patients, 114 events" in bundle["text/html"] and "0.6843" in bundle["text/html"]
    assert bundle["text/plain"] == repr(cox)

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"afp": rng.lognormal(3, 1, 80), "size": rng.normal(5, 2, 80)})
    label = (frame["size"] + rng.normal(0, 2, 80) > 5).astype(int)
    nomogram = NomogramClassifier(selection=None).fit(frame, label)
    html = nomogram._repr_mimebundle_()["text/html"]
    assert "NomogramClassifier" in html and "selected" in html
