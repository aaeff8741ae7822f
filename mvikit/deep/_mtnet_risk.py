"""MTnet's risk calculator (seed 004, Figure 5): one patient row in, a `RiskReport` out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ._mtnet import MTNetClassifier

__all__ = ["RiskCalculator", "RiskReport"]


@dataclass
class RiskReport:
    """One patient's MTnet risk and the numbers behind it (`RiskCalculator`).

    Attributes
    ----------
    patient : object
        The patient id.
    risk : float
        Predicted probability of future macrovascular invasion.
    group : {"low", "high"}
        ``"high"`` when ``risk >= threshold``.
    threshold : float
        The Youden cut-off of the training predictions.
    sensitivity, specificity : float
        Of the cut-off on the training patients.
    group_patients : int
        Training patients in the same risk group.
    group_event_rate : float
        Observed share of events among them.
    clinical : dict
        The clinical items the model read, as given (NaN: imputed as in training).
    imputed : list of str
        Those items that were missing.
    tumour_volume_ml : float or None
        Volume of the segmented tumour (segmenting variants).
    """

    patient: Any
    risk: float
    group: str
    threshold: float
    sensitivity: float
    specificity: float
    group_patients: int
    group_event_rate: float
    clinical: dict = field(default_factory=dict)
    imputed: list = field(default_factory=list)
    tumour_volume_ml: float | None = None

    def __str__(self) -> str:
        lines = [f"patient {self.patient}: risk of future macrovascular invasion "
                 f"{self.risk:.3f} -> {self.group} risk (cut-off {self.threshold:.3f}, "
                 f"training sensitivity {self.sensitivity:.2f}, specificity "
                 f"{self.specificity:.2f})",
                 f"  training patients in the {self.group}-risk group: {self.group_patients}, "
                 f"observed event rate {self.group_event_rate:.3f}"]
        if self.tumour_volume_ml is not None:
            lines.append(f"  segmented tumour volume: {self.tumour_volume_ml:.1f} ml")
        if self.imputed:
            lines.append(f"  imputed (missing) items: {', '.join(self.imputed)}")
        return "\n".join(lines)


@dataclass
class RiskCalculator:
    """The paper's "applet" (Figure 5): a patient row in, the risk report out.

    Built by `MTNetClassifier.risk_calculator`; call it with a dict, a Series or
    a one-row DataFrame holding the clinical items and the image cells (`Volume`
    or file paths).
    """

    model: MTNetClassifier

    def __call__(self, patient) -> RiskReport:
        model = self.model
        if isinstance(patient, pd.DataFrame):
            if len(patient) != 1:
                raise ValueError(f"the risk calculator takes one patient; got {len(patient)} "
                                 "rows. Use predict_proba for many.")
            frame = patient
        else:
            row = pd.Series(patient)
            frame = pd.DataFrame([row.to_dict()], index=[row.name if row.name is not None
                                                         else "patient"])
        pid = frame.index[0]
        risk = float(model.predict_proba(frame)[0, 1])
        group = "high" if risk >= model.threshold_ else "low"
        train = model.training_summary_
        in_group = train["group"] == group
        columns = model.risk_clinical_columns_
        values = {c: frame.iloc[0][c] if c in frame.columns else np.nan for c in columns}
        imputed = [c for c, v in values.items() if pd.isna(v)]
        volume = None
        if model._segments():
            mask = model.predict_segmentation(frame).iloc[0]
            volume = float(mask.array.sum() * np.prod(mask.spacing) / 1000.0)
        return RiskReport(
            patient=pid, risk=risk, group=group, threshold=float(model.threshold_),
            sensitivity=float(model.youden_.sensitivity),
            specificity=float(model.youden_.specificity),
            group_patients=int(in_group.sum()),
            group_event_rate=float(train.loc[in_group, "event"].mean()) if in_group.any()
            else float("nan"),
            clinical=values, imputed=imputed, tumour_volume_ml=volume)
