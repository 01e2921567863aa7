import builtins
import sys

import numpy as np
import pytest

from tinynet import backend


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
    with pytest.raises(backend.BackendError, match=r"CuPy is not installed.*tinynet\[cuda12\]"):
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
