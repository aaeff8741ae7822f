"""From a hospital export to a paper: Table 1, frozen-model validation and
recalibration, safe model files with a model card."""

from ._table_one import TableOneResult, table_one

__all__ = ["TableOneResult", "table_one"]
