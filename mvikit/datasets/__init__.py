"""The simulated HCC cohort and cohort reading/writing."""

from ._cohort_io import load_cohort, write_cohort
from ._simulator import make_hcc_cohort

__all__ = ["make_hcc_cohort", "write_cohort", "load_cohort"]
