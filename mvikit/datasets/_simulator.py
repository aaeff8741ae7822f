"""Placeholder: replaced by the simulator work."""


def make_hcc_cohort(*args, **kwargs):
    raise NotImplementedError
