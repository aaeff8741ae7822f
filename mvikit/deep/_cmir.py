"""`cmir_models`: the rows of CMIR's ablation (seed 001, Table 2) for `compare_models`."""

from __future__ import annotations

from ._volume_net import VolumeNetClassifier
from .nets import CMIR_ARCHITECTURES, get_architecture

__all__ = ["cmir_models", "CMIR_ROWS"]

#: Table 2's rows and the `CMIRNet` variant of each (S1 is M1 on one phase); the
#: registered name of a variant per input is ``CMIR_ARCHITECTURES[variant][spatial_dims]``.
CMIR_ROWS = {"S1": "M1", "M1": "M1", "M2": "M2", "M3": "M3", "Ours": "Ours"}


def cmir_models(rows=tuple(CMIR_ROWS), *, ap: str = "AP", pv: str = "PV",
                single_phase: str | None = None, spatial_dims: int = 2,
                use_clinical: bool = True, **params) -> dict[str, VolumeNetClassifier]:
    """Unfitted classifiers for the rows of CMIR's ablation (Table 2), by the paper's names.

    ``"S1"``: one phase, plain ResNet18 (variant M1 on ``single_phase``);
    ``"M1"``: both phases, a plain ResNet18 each; ``"M2"``: + involution blocks
    (Inv-ResNet18); ``"M3"``: + CMAM cross-modal attention; ``"Ours"``: + SA
    localisation.  Every row reads the same inputs (the three-channel combination
    of each phase, or with ``spatial_dims=3`` the tumour cube of each phase) and,
    with ``use_clinical=True``, the same clinical late fusion: Table 2 does not
    list the clinical data as an ablated component, so the rows differ only by
    the modules it lists.

    Parameters
    ----------
    rows : sequence of {"S1", "M1", "M2", "M3", "Ours"}, default=all five
    ap, pv : str, default="AP", "PV"
        The arterial and portal-venous volume columns.
    single_phase : str, default=None
        The phase of S1; None: ``ap`` (arterial-phase hyperenhancement and the
        peritumoral arterial enhancement are the phase's MVI signs).
    spatial_dims : {2, 3}, default=2
        2: 2D networks on each phase's three largest-tumour slices (``"cmir_m1"``,
        ``"cmir_m2"``, ``"cmir_m3"``, ``"cmir"``); 3: 3D networks on each phase's
        tumour cube (``"cmir_m1_cube"``, ``"cmir_m2_cube"``, ``"cmir_m3_cube"``,
        ``"cmir_cube"``: 3D ResNet18, 3D involution with K = 3, CMAM and SA
        localisation over voxels).
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
        An unknown row, or ``spatial_dims`` other than 2 or 3.

    Examples
    --------
    >>> from mvikit.deep import cmir_models
    >>> models = cmir_models(preset="cpu", random_state=0)
    >>> {name: (m.architecture, m.volumes) for name, m in models.items()}["S1"]
    ('cmir_m1', ['AP'])
    >>> models["Ours"].architecture, models["Ours"].volumes
    ('cmir', ['AP', 'PV'])
    >>> [m.architecture for m in cmir_models(["M1", "M2"], spatial_dims=3).values()]
    ['cmir_m1_cube', 'cmir_m2_cube']
    """
    unknown = [row for row in rows if row not in CMIR_ROWS]
    if unknown:
        raise ValueError(f"Unknown CMIR row(s) {unknown}; choose from {list(CMIR_ROWS)}.")
    if spatial_dims not in (2, 3):
        raise ValueError(f"cmir_models: spatial_dims={spatial_dims!r}; choose 2 (each phase's "
                         "three largest-tumour slices, 2D networks) or 3 (each phase's tumour "
                         "cube, 3D networks).")
    models = {}
    for row, variant in CMIR_ROWS.items():
        if row not in rows:
            continue
        architecture = CMIR_ARCHITECTURES[variant][spatial_dims]
        get_architecture(architecture)  # the rows' networks come from the register
        volumes = [single_phase or ap] if row == "S1" else [ap, pv]
        models[row] = VolumeNetClassifier(architecture, volumes=volumes,
                                          use_clinical=use_clinical, **params)
    return models
