"""`cmir_models`: the rows of CMIR's ablation (seed 001, Table 2) for `compare_models`."""

from __future__ import annotations

from ._volume_net import VolumeNetClassifier
from .nets import get_architecture

__all__ = ["cmir_models", "CMIR_ROWS"]

#: Table 2's rows and the registered architecture of each (S1 is M1 on one phase).
CMIR_ROWS = {"S1": "cmir_m1", "M1": "cmir_m1", "M2": "cmir_m2", "M3": "cmir_m3",
             "Ours": "cmir"}


def cmir_models(rows=tuple(CMIR_ROWS), *, ap: str = "AP", pv: str = "PV",
                single_phase: str | None = None, spatial_dims: int = 2,
                use_clinical: bool = True, **params) -> dict[str, VolumeNetClassifier]:
    """Unfitted classifiers for the rows of CMIR's ablation (Table 2), by the paper's names.

    ``"S1"``: one phase, plain ResNet18 (``"cmir_m1"`` on ``single_phase``);
    ``"M1"``: both phases, a plain ResNet18 each; ``"M2"``: + involution blocks
    (Inv-ResNet18); ``"M3"``: + CMAM cross-modal attention; ``"Ours"``: + SA
    localisation.  Every row reads the same inputs (the three-channel combination
    of each phase) and, with ``use_clinical=True``, the same clinical late fusion:
    Table 2 does not list the clinical data as an ablated component, so the rows
    differ only by the modules it lists.

    Parameters
    ----------
    rows : sequence of {"S1", "M1", "M2", "M3", "Ours"}, default=all five
    ap, pv : str, default="AP", "PV"
        The arterial and portal-venous volume columns.
    single_phase : str, default=None
        The phase of S1; None: ``ap`` (arterial-phase hyperenhancement and the
        peritumoral arterial enhancement are the phase's MVI signs).
    spatial_dims : {2, 3}, default=2
        2: slices (``"cmir_m1"`` ...); 3: "Ours" becomes ``"cmir_cube"`` (the
        other rows have no registered 3D network and raise).
    use_clinical : bool, default=True
        Clinical late fusion in every row.
    **params
        Passed to every `VolumeNetClassifier` (``preset="cpu"``,
        ``random_state=0``, ``max_epochs=...``).

    Returns
    -------
    dict
        ``{row name: VolumeNetClassifier}`` in Table 2's order.

    Raises
    ------
    ValueError
        An unknown row, or a 3D row other than "Ours".

    Examples
    --------
    >>> from mvikit.deep import cmir_models
    >>> models = cmir_models(preset="cpu", random_state=0)
    >>> {name: (m.architecture, m.volumes) for name, m in models.items()}["S1"]
    ('cmir_m1', ['AP'])
    >>> models["Ours"].architecture, models["Ours"].volumes
    ('cmir', ['AP', 'PV'])
    """
    unknown = [row for row in rows if row not in CMIR_ROWS]
    if unknown:
        raise ValueError(f"Unknown CMIR row(s) {unknown}; choose from {list(CMIR_ROWS)}.")
    models = {}
    for row in CMIR_ROWS:
        if row not in rows:
            continue
        architecture = CMIR_ROWS[row]
        if spatial_dims == 3:
            if row != "Ours":
                raise ValueError(f"CMIR row {row!r} has no registered 3D network; with "
                                 "spatial_dims=3 ask for rows=['Ours'] ('cmir_cube').")
            architecture = "cmir_cube"
        get_architecture(architecture)  # the rows' networks come from the register
        volumes = [single_phase or ap] if row == "S1" else [ap, pv]
        models[row] = VolumeNetClassifier(architecture, volumes=volumes,
                                          use_clinical=use_clinical, **params)
    return models
