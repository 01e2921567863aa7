"""How many threads a run's arithmetic may use: NumPy's BLAS (matrix products) and tinynet's
compiled kernels, set together, so that runs side by side never oversubscribe the cores.

    from tinynet import threads
    threads.set_threads(1)          # this process: BLAS and compiled kernels on one thread each
    threads.current()               # 1

The count matters for results, not only for speed: a matrix product split over another number
of threads adds its partial sums in another order, so a run is bit-identical only to a run with
the same thread count. The runner sets it per run and records it.

BLAS reads its environment variables once, when NumPy loads; changing them later has no effect.
``set_threads`` uses threadpoolctl, which changes the count of the loaded library at run time.
"""
from __future__ import annotations

import os
import sys

_state = {"threads": None}


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), which may be fewer than the
    machine's (``os.cpu_count()``) under a batch system or ``taskset``."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def set_threads(count: int) -> None:
    """Let BLAS and the compiled kernels use ``count`` threads in this process from now on."""
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError(f"set_threads: count must be a positive integer, got {count!r}")
    from threadpoolctl import threadpool_limits
    threadpool_limits(limits=count)      # every BLAS/OpenMP library loaded in this process
    _state["threads"] = count
    apply_to_numba()


def current() -> int:
    """The count set by :func:`set_threads`, or else the usable cores (the libraries' default)."""
    return _state["threads"] or usable_cores()


def apply_to_numba() -> None:
    """Give Numba's parallel kernels the current count, if Numba is loaded (the kernels call
    this when they load it, so the order of imports does not matter)."""
    if "numba" not in sys.modules or _state["threads"] is None:
        return
    import numba
    numba.set_num_threads(min(_state["threads"], numba.config.NUMBA_NUM_THREADS))
