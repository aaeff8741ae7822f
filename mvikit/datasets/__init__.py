"""The simulated HCC cohort and cohort reading/writing."""

from ._cohort_io import load_cohort, write_cohort
from ._paired import make_paired_cohort
from ._simulator import make_hcc_cohort

__all__ = ["make_hcc_cohort", "make_paired_cohort", "write_cohort", "load_cohort"]
