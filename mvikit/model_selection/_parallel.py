"""Nested parallelism inside `compare_models`'s (model, split) tasks.

When a comparison fans out over several workers, each (model, split) task
already occupies one worker, and every joblib call nested inside it (a random
forest's trees, the inner threshold cross-validation, a grid search) runs
sequentially in that task.  Left alone, nested calls inherit the outer backend:
under ``joblib.parallel_backend("dask")`` that is Dask itself with
``n_jobs=-1``, so every tree and every inner fold became a cluster task (about
340 tasks for 12 fits of a 16-tree forest; thousands in a realistic comparison),
and a forest's ``predict_proba``, summed by threads in the order they finish,
changed in its last bits from run to run.  Sequential nesting makes the Dask
run equal the serial run bit for bit and costs nothing in throughput: the outer
level already keeps every worker busy.

BLAS/OpenMP pools are not touched here: joblib's loky workers and Dask's nanny
(``distributed.nanny.pre-spawn-environ``) already start workers with one
thread each.
"""

from __future__ import annotations

from functools import partial

from joblib import parallel_config
from joblib.parallel import BACKENDS, get_active_backend

__all__ = ["task_runner"]


def _local_backends():
    return tuple(BACKENDS[name] for name in ("sequential", "threading", "multiprocessing", "loky")
                 if name in BACKENDS)


def _fans_out(n_jobs) -> bool:
    """Whether ``Parallel(n_jobs=n_jobs)`` in this context hands its tasks to workers.

    joblib's local backends run one job in the calling thread; a Dask (or other
    registered) backend ships tasks to its workers even when it has one.
    """
    backend, default_n_jobs = get_active_backend()
    n = backend.effective_n_jobs(default_n_jobs if n_jobs is None else n_jobs)
    return n != 1 or not isinstance(backend, _local_backends())


def _run_sequentially(function, *args, **kwargs):
    # Runs on the worker: joblib calls inside `function` see the sequential backend.
    with parallel_config(backend="sequential"):
        return function(*args, **kwargs)


def task_runner(function, n_jobs):
    """``function`` itself, or a picklable wrapper running it with nested joblib
    calls sequential when the outer ``Parallel(n_jobs)`` fans out.

    Parameters
    ----------
    function : callable
        The task body (a module-level function, so that it pickles).
    n_jobs : int or None
        The ``n_jobs`` the outer :class:`joblib.Parallel` is given.

    Returns
    -------
    callable
        Same signature and result as ``function``.

    Examples
    --------
    >>> from joblib import Parallel, delayed, parallel_backend
    >>> from joblib.parallel import get_active_backend
    >>> from mvikit.model_selection._parallel import task_runner
    >>> def nested_backend(_):
    ...     return type(get_active_backend()[0]).__name__
    >>> task_runner(nested_backend, n_jobs=1) is nested_backend
    True
    >>> with parallel_backend("threading", n_jobs=2):
    ...     run = task_runner(nested_backend, n_jobs=None)
    ...     Parallel()(delayed(run)(i) for i in range(2))
    ['SequentialBackend', 'SequentialBackend']
    """
    return partial(_run_sequentially, function) if _fans_out(n_jobs) else function
