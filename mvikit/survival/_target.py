"""The survival target: scikit-survival's structured array, validated in one place.

A survival ``y`` is the structured array ``[("event", bool), ("time", float)]`` made by
:meth:`sksurv.util.Surv.from_arrays` (scikit-survival's own datasets use other field
names, e.g. ``("Status", "Survival_in_days")``; any two-field array whose first field is
the event indicator and second the time is accepted, as in scikit-survival).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sksurv.util import Surv

from ..exceptions import SurvivalTargetError

__all__ = ["Surv", "make_survival_target", "check_survival_y"]

_HOW_TO_BUILD = (
    "Build it with mvikit.survival.Surv.from_arrays(event=..., time=...) or "
    "mvikit.survival.make_survival_target(frame, time='<column>', event='<column>')."
)


def _plain(value):
    """A numpy scalar as the Python value (so messages read 3.0, not np.float64(3.0))."""
    return value.item() if isinstance(value, np.generic) else value


def _patient(ids, position):
    """Name a patient by id when ids are known, else by row position."""
    if ids is None:
        return f"row {position}"
    return f"patient {_plain(ids[position])!r}"


def _first_bad(mask, ids, limit=3):
    positions = np.flatnonzero(mask)
    names = ", ".join(_patient(ids, p) for p in positions[:limit])
    more = f" and {positions.size - limit} more" if positions.size > limit else ""
    return f"{names}{more}"


def _check_event(event, ids, name):
    event = np.asarray(event)
    if event.dtype == bool:
        return event
    if event.dtype.kind in "iuf":
        bad = ~np.isin(event, (0, 1))
        if bad.any():
            raise SurvivalTargetError(
                f"The event indicator {name!r} must be boolean or 0/1; "
                f"{_first_bad(bad, ids)} has {_plain(event[bad][0])!r}. Code events as True/1 and "
                f"censoring as False/0."
            )
        return event.astype(bool)
    raise SurvivalTargetError(
        f"The event indicator {name!r} has dtype {event.dtype}; it must be boolean or 0/1 "
        f"(True/1 = event, False/0 = censored). {_HOW_TO_BUILD}"
    )


def _check_time(time, ids, name):
    time = np.asarray(time)
    if time.dtype.kind not in "iuf":
        raise SurvivalTargetError(
            f"The follow-up time {name!r} has dtype {time.dtype}; it must be numeric "
            f"(e.g. days or months since diagnosis). {_HOW_TO_BUILD}"
        )
    time = time.astype(float)
    if np.isnan(time).any():
        raise SurvivalTargetError(
            f"The follow-up time {name!r} is missing (NaN) for "
            f"{_first_bad(np.isnan(time), ids)}; drop these patients or fill in their "
            f"last follow-up."
        )
    if not np.isfinite(time).all():
        raise SurvivalTargetError(
            f"The follow-up time {name!r} is infinite for {_first_bad(~np.isfinite(time), ids)}; "
            f"use the last follow-up time of censored patients."
        )
    if (time <= 0).any():
        raise SurvivalTargetError(
            f"The follow-up time {name!r} must be positive; {_first_bad(time <= 0, ids)} has "
            f"{_plain(time[time <= 0][0])!r}. An event on the day of diagnosis is usually coded "
            f"as a small positive time (e.g. 0.5 day)."
        )
    return time


def check_survival_y(y, *, patient_ids=None, allow_all_censored=False):
    """Validate a survival target and return its event and time arrays.

    Parameters
    ----------
    y : structured ndarray of shape (n_patients,)
        Two fields: the event indicator (bool, or 0/1) first, then the observed time
        (time to event or to censoring; positive, finite). Made by
        :meth:`Surv.from_arrays` or :func:`make_survival_target`.
    patient_ids : array-like of shape (n_patients,), default=None
        Patient ids (usually ``X.index``) used to name patients in error messages.
    allow_all_censored : bool, default=False
        Accept a target without any event (e.g. a small test fold).

    Returns
    -------
    event : ndarray of bool, shape (n_patients,)
    time : ndarray of float, shape (n_patients,)

    Raises
    ------
    SurvivalTargetError
        If ``y`` is not a two-field structured array, a time is missing, infinite, zero
        or negative, the event indicator is not boolean/0-1, or no patient has an event.

    Examples
    --------
    >>> from mvikit.survival import Surv, check_survival_y
    >>> event, time = check_survival_y(Surv.from_arrays([True, False], [3.0, 5.0]))
    >>> event, time
    (array([ True, False]), array([3., 5.]))
    """
    if y is None:
        # scikit-learn's wording, so that generic tooling recognises a missing target
        raise SurvivalTargetError(
            f"This survival model requires y to be passed, but the target y is None. "
            f"{_HOW_TO_BUILD}"
        )
    if isinstance(y, (pd.DataFrame, pd.Series)) or not isinstance(y, np.ndarray):
        raise SurvivalTargetError(
            f"A survival target must be a structured numpy array with an event and a time "
            f"field, got {type(y).__name__}. {_HOW_TO_BUILD}"
        )
    names = y.dtype.names
    if names is None or len(names) != 2:
        got = "a plain array" if names is None else f"fields {list(names)}"
        raise SurvivalTargetError(
            f"A survival target must be a structured array with two fields (event, time), "
            f"got {got} of dtype {y.dtype} and shape {y.shape}. {_HOW_TO_BUILD}"
        )
    if y.ndim != 1:
        raise SurvivalTargetError(
            f"A survival target must be 1-dimensional, got shape {y.shape}. {_HOW_TO_BUILD}"
        )
    ids = None if patient_ids is None else np.asarray(patient_ids)
    if ids is not None and ids.shape[0] != y.shape[0]:
        raise SurvivalTargetError(
            f"The survival target has {y.shape[0]} entries but there are {ids.shape[0]} "
            f"patients; y must hold one entry per row of X, in the same order."
        )
    event = _check_event(y[names[0]], ids, names[0])
    time = _check_time(y[names[1]], ids, names[1])
    if not allow_all_censored and not event.any():
        raise SurvivalTargetError(
            f"All {event.size} patients are censored (no event in {names[0]!r}); survival "
            f"models and concordance need at least one event."
        )
    return event, time


def _as_numpy(column):
    """A column as numpy; pandas' nullable dtypes become float/bool (NaN for <NA>)."""
    if pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(column):
        return column.to_numpy(dtype=float, na_value=np.nan)
    return column.to_numpy()


def make_survival_target(frame, *, time, event):
    """Build the survival target from two columns of a patient table.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per patient, index = patient id.
    time : str
        Column with the follow-up time (time to event or to censoring), positive.
    event : str
        Column with the event indicator: boolean or 0/1 (1 = event, 0 = censored).

    Returns
    -------
    y : structured ndarray of shape (n_patients,)
        Fields ``event`` (bool) and ``time`` (float), in the row order of ``frame``.

    Raises
    ------
    KeyError
        If a column does not exist.
    SurvivalTargetError
        With the patient id, if a time is missing or not positive, or an event is not 0/1.

    Examples
    --------
    >>> import pandas as pd
    >>> from mvikit.survival import make_survival_target
    >>> table = pd.DataFrame({"pfs_months": [3.5, 12.0, 7.25], "progressed": [1, 0, 1]},
    ...                      index=["P1", "P2", "P3"])
    >>> make_survival_target(table, time="pfs_months", event="progressed")
    array([( True,  3.5 ), (False, 12.  ), ( True,  7.25)],
          dtype=[('event', '?'), ('time', '<f8')])
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}.")
    for role, column in (("time", time), ("event", event)):
        if column not in frame.columns:
            raise KeyError(
                f"{role}={column!r} is not a column of the frame; columns are "
                f"{list(frame.columns)[:10]}{' ...' if frame.shape[1] > 10 else ''}."
            )
    ids = np.asarray(frame.index)
    event_values = frame[event]
    if event_values.isna().any():
        raise SurvivalTargetError(
            f"The event indicator {event!r} is missing for "
            f"{_first_bad(event_values.isna().to_numpy(), ids)}; every patient needs 0/1."
        )
    event_array = _check_event(_as_numpy(event_values), ids, event)
    time_array = _check_time(_as_numpy(frame[time]), ids, time)
    y = Surv.from_arrays(event=event_array, time=time_array)
    check_survival_y(y, patient_ids=ids, allow_all_censored=True)
    return y
