import builtins
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests import cupy_api, cupy_shaped
from tests.conftest import CUPY_SKIP_REASON
from tinynet import backend

ROOT = Path(__file__).resolve().parents[1]
CUPY_INSTALLED = cupy_api.installed_cupy() is not None
NO_DEVICE = CUPY_INSTALLED and CUPY_SKIP_REASON is not None
needs_cupy_without_gpu = pytest.mark.skipif(
    not NO_DEVICE, reason="needs CuPy installed on a machine without a usable GPU "
                          "(pip install cupy-cuda12x installs here; CI has it)")


def test_numpy_is_the_default():
    assert backend.xp is np and backend.name == "numpy"


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown backend 'torch'.*'numpy' or 'cupy'"):
        backend.use("torch")


def test_cupy_missing_says_what_to_install(monkeypatch):
    real_import = builtins.__import__

    def no_cupy(name, *args, **kwargs):
        if name == "cupy" or name.startswith("cupy."):
            raise ImportError("No module named 'cupy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "cupy", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_cupy)
    with pytest.raises(backend.BackendError, match=r"not installed.*pip install cupy-cuda12x"):
        backend.use("cupy")
    assert backend.name == "numpy"


def test_cupy_without_device_says_check_the_driver(monkeypatch):
    class FakeRuntime:
        @staticmethod
        def getDeviceCount():
            raise RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")

    fake_cupy = type(sys)("cupy")
    fake_cupy.cuda = type(sys)("cupy.cuda")
    fake_cupy.cuda.runtime = FakeRuntime
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy)
    with pytest.raises(backend.BackendError, match="no usable CUDA device.*nvidia-smi"):
        backend.use("cupy")
    assert backend.xp is np


def test_seed_makes_host_and_device_draws_reproducible():
    backend.seed(7)
    a = backend.host_rng().uniform(size=5), backend.random_uniform((3,))
    backend.seed(7)
    b = backend.host_rng().uniform(size=5), backend.random_uniform((3,))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[1].dtype == np.float32


def test_to_device_and_back_round_trips_and_casts():
    host = np.arange(6, dtype=np.float64).reshape(2, 3)
    device = backend.to_device(host, dtype=np.float32)
    assert device.dtype == np.float32
    np.testing.assert_array_equal(backend.to_numpy(device), host)
    assert backend.to_float(np.float32(2.5)) == 2.5


def test_sliding_windows_match_explicit_windows(rng):
    x = rng.standard_normal((2, 3, 7, 6))
    windows = backend.sliding_windows(x, (3, 2), (2, 1))
    assert windows.shape == (2, 3, 3, 5, 3, 2)
    for i in range(3):
        for j in range(5):
            np.testing.assert_array_equal(windows[:, :, i, j], x[:, :, 2 * i:2 * i + 3, j:j + 2])


def test_scatter_add_accumulates_repeated_indices():
    target = np.zeros(4)
    backend.scatter_add(target, np.array([0, 2, 2, 3]), np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(target, [1, 0, 5, 4])


def test_use_module_installs_another_array_module_under_its_name():
    backend.use_module(cupy_shaped.xp, "cupy-shaped")
    assert backend.xp is cupy_shaped.xp and backend.name == "cupy-shaped"
    assert isinstance(backend.random_uniform((2,)), cupy_shaped.xp.ndarray)
    backend.use("numpy")
    assert backend.xp is np


# --- selection errors for real: a fresh interpreter, the real import system, real CuPy --------

# Makes ``import cupy`` fail exactly as it does where CuPy is not installed.
HIDE_CUPY = """
import importlib.abc, sys
class NoCupy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "cupy" or name.startswith("cupy."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NoCupy())
"""


def run_python(*args, code=None, cwd=ROOT):
    """Run ``python args...`` (or ``python -c code``) in a fresh interpreter."""
    command = [sys.executable] + (["-c", code] if code else list(args))
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


def run_example_without_cupy(script, *args):
    return run_python(code=HIDE_CUPY + f"import runpy, sys; sys.argv = {[script, *args]!r}; "
                                       f"runpy.run_path({script!r}, run_name='__main__')")


def test_without_cupy_use_says_what_to_install():
    result = run_python(code=HIDE_CUPY + "from tinynet import backend; backend.use('cupy')")
    assert "BackendError: backend 'cupy' requested but CuPy is not installed" in result.stderr
    assert "pip install cupy-cuda12x" in result.stderr and "cupy-cuda13x" in result.stderr
    assert "tinynet[" not in result.stderr        # another project has that name on PyPI


def test_example_cli_without_cupy_fails_at_start_with_one_line(tmp_path):
    result = run_example_without_cupy("examples/mlp_sweep.py", "--backend", "cupy", "--quick",
                                      "--out", str(tmp_path))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("mlp_sweep.py: error: backend 'cupy' requested but CuPy is "
                                    "not installed. Install the wheel matching your CUDA driver")
    assert list(tmp_path.iterdir()) == []          # failed before doing anything


@needs_cupy_without_gpu
def test_with_cupy_but_no_gpu_use_says_check_the_driver():
    with pytest.raises(backend.BackendError, match=r"CuPy is installed, but no usable CUDA "
                       r"device was found \(CUDARuntimeError: .*\)\. Check `nvidia-smi`"):
        backend.use("cupy")
    assert backend.name == "numpy"


@needs_cupy_without_gpu
def test_example_cli_with_cupy_but_no_gpu_fails_at_start_with_one_line(tmp_path):
    """The command a user types, unchanged."""
    result = run_python("examples/mlp_sweep.py", "--backend", "cupy", "--quick", "--out",
                        str(tmp_path))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("mlp_sweep.py: error: backend 'cupy' requested and CuPy is "
                                    "installed, but no usable CUDA device was found")
    assert "nvidia-smi" in result.stderr and list(tmp_path.iterdir()) == []


@pytest.mark.skipif(CUPY_SKIP_REASON is None, reason="a GPU is present: the benchmark would run")
def test_gpu_benchmark_without_a_gpu_exits_with_one_line():
    result = run_python("benchmarks/gpu_epoch.py")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("gpu_epoch: nothing to time here: backend 'cupy' requested")
    assert result.stderr.count("\n") == 1


# --- flushing denormals -----------------------------------------------------------------------

FLUSH_SUPPORTED = backend.set_flush_denormal(False)
needs_flush_support = pytest.mark.skipif(not FLUSH_SUPPORTED,
                                         reason="set_flush_denormal needs x86-64 Linux (glibc)")
DENORMAL = np.float32(1e-39)          # below float32's smallest normal number, ~1.18e-38


@needs_flush_support
def test_flush_denormal_turns_denormal_arithmetic_into_zeros_and_back():
    values = np.full(4, DENORMAL, dtype=np.float32)
    assert (values * np.float32(1) == DENORMAL).all() and not backend.flush_denormal_enabled()
    assert backend.set_flush_denormal(True) and backend.flush_denormal_enabled()
    assert (values * np.float32(1) == 0).all()
    assert (np.full(4, np.float32(2e-38)) * np.float32(1) == np.float32(2e-38)).all()  # normal
    assert backend.set_flush_denormal(False) and not backend.flush_denormal_enabled()
    assert (values * np.float32(1) == DENORMAL).all()


@needs_flush_support
@pytest.mark.parametrize("flush", [False, True])
def test_adam_moment_of_a_zero_gradient_sticks_at_a_denormal_unless_flushed(flush):
    """The case set_flush_denormal's docstring describes: m decays by beta1 each step."""
    from tinynet.nn import Parameter
    from tinynet.optim import Adam

    param = Parameter(np.ones(16, dtype=np.float32))
    optimizer = Adam([param])
    param.grad = np.full(16, 1e-3, dtype=np.float32)
    optimizer.step()
    param.grad = np.zeros(16, dtype=np.float32)          # from now on, a dead unit's weight
    backend.set_flush_denormal(flush)
    for _ in range(1500):                                 # 0.9**1500 ~ 1e-69: far below float32
        optimizer.step()
    backend.set_flush_denormal(False)
    exp_avg = optimizer.state[0]["exp_avg"]
    denormal = (exp_avg != 0) & (np.abs(exp_avg) < np.finfo(np.float32).tiny)
    assert denormal.all() != flush       # stuck at denormals, or none at all when flushed
