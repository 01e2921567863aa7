"""How many threads NumPy's BLAS (and PyTorch) may use, set before either is imported.

OpenBLAS, MKL and OpenMP read their thread count from the environment once, when the library
is loaded; changing these variables after ``import numpy`` has no effect. This module imports
nothing but ``os`` so that it can be used first.
"""
from __future__ import annotations

import os

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def set_thread_count(threads: int) -> None:
    """Put ``threads`` in every variable of THREAD_VARIABLES (this process and its children)."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
