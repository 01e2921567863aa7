"""Shared fixtures: every test starts on the NumPy backend with a fixed seed; tests that take the
``backend_name`` fixture run once per backend: "numpy"; "cupy-shaped", CuPy API checks (no GPU
code executed: NumPy arithmetic under CuPy's API and transfer rules, tests/cupy_shaped.py); and
"cupy", a real GPU, skipped with the reason when there is none."""
import os

import numpy as np
import pytest

from tests import cupy_shaped
from tinynet import backend, kernels


def _cupy_unavailable_reason():
    try:
        backend.use("cupy")
    except backend.BackendError as exc:
        return str(exc).split(".")[0]
    finally:
        backend.use("numpy")
    return None


CUPY_SKIP_REASON = _cupy_unavailable_reason()


@pytest.fixture(autouse=True)
def _fresh_backend():
    backend.use("numpy")
    backend.seed(0)
    yield
    backend.use("numpy")
    backend.set_flush_denormal(False)   # the examples turn it on; it is the thread's state


@pytest.fixture(params=["numpy", pytest.param(cupy_shaped.NAME, marks=pytest.mark.cupy_api),
                        pytest.param("cupy", marks=pytest.mark.gpu)])
def backend_name(request):
    """Run the test on each backend; CuPy is skipped (with the reason) where it cannot run.
    "cupy-shaped" runs everywhere: CuPy API checks (no GPU code executed)."""
    if request.param == "cupy" and CUPY_SKIP_REASON:
        pytest.skip(f"no GPU backend here: {CUPY_SKIP_REASON}")
    if request.param == cupy_shaped.NAME:
        cupy_shaped.activate()
    else:
        backend.use(request.param)
    backend.seed(0)
    return request.param


@pytest.fixture(params=["fast", "reference"])
def kernel_path(request):
    """Run the test once per kernel path (tinynet.kernels): "fast" (Numba; skipped with the
    reason when Numba is not installed) and "reference" (array code). On a CuPy backend both
    run the reference, as tinynet does."""
    if request.param == "fast" and not kernels.numba_available():
        pytest.skip("fast kernels need Numba: pip install -e '.[fast]'")
    previous = kernels.choice()
    kernels.use(request.param)
    yield request.param
    kernels.use(previous)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def data_dir():
    """The folder holding mnist/ and fashion-mnist/ (set by .ci/run), or None."""
    path = os.environ.get("TINYNET_DATA")
    return path if path and os.path.isdir(path) else None
