"""Placeholder: replaced by the cohort I/O work."""


def write_cohort(*args, **kwargs):
    raise NotImplementedError


def load_cohort(*args, **kwargs):
    raise NotImplementedError
