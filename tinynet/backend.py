"""The one place that knows whether arrays live on the CPU (NumPy) or a CUDA GPU (CuPy).

Every layer, loss and optimizer reads the active array module as ``backend.xp`` at call time,
so switching is one call made before the model is built::

    import tinynet
    tinynet.backend.use("cupy")      # or "numpy", the default
    tinynet.backend.seed(0)          # reproducible weights, shuffling and dropout masks

Everything that differs between NumPy and CuPy lives here and only here: moving arrays
between host and device, random numbers, strided windows (im2col), scatter-add, and
synchronisation for timing. (``set_flush_denormal``, a CPU setting, lives in
``tinynet.denormals`` and is re-exported here for the callers that know it by this name.)

Device-specific rules elsewhere, each written once: integer labels of a loss are checked on the
host and turned into a NaN loss on a GPU (``tinynet/losses.py``, ``_check_labels``); the fast
kernels (``tinynet.kernels``) run only on the NumPy backend, the reference kernels on both.

Code that runs on CuPy must stay inside CuPy's API and never convert
a device array implicitly (``float(a)``, ``numpy.asarray(a)``): tests/test_cupy_conformance.py
and the "cupy-shaped" test backend (tests/cupy_shaped.py) check both without a GPU.
The rest of tinynet never imports NumPy for array math.

Random numbers come from two seeded generators:
- a host ``numpy.random.Generator`` for weight initialisation and data shuffling, so that the
  same seed gives the same initial weights and batch order on CPU and GPU;
- a device generator for what is drawn inside the training step (dropout masks). CuPy's
  Generator lacks ``normal``/``permutation``/``choice``, so only ``random`` (uniform [0, 1))
  is used on it.
"""
from __future__ import annotations

import numpy

from tinynet.denormals import flush_denormal_enabled, set_flush_denormal  # noqa: F401

DEFAULT_DTYPE = numpy.float32

xp = numpy          # the active array module: numpy, or cupy after use("cupy")
name = "numpy"      # "numpy" or "cupy"

_host_rng = numpy.random.default_rng(0)
_device_rng = numpy.random.default_rng(0)
_seed = 0


class BackendError(RuntimeError):
    """The requested backend cannot be used here (the message says why and what to do)."""


def _import_cupy():
    try:
        import cupy
    except ImportError as exc:
        raise BackendError(
            "backend 'cupy' requested but CuPy is not installed. Install the wheel matching your "
            "CUDA driver: `pip install cupy-cuda12x` (CUDA 12.x) or `pip install cupy-cuda13x` "
            "(CUDA 13.x), or from your tinynet clone `pip install -e \".[cuda12]\"`; or use "
            "--backend numpy."
        ) from exc
    try:
        device_count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError: no driver, driver too old, ...
        raise BackendError(
            "backend 'cupy' requested and CuPy is installed, but no usable CUDA device was found "
            f"({type(exc).__name__}: {exc}). Check `nvidia-smi`, that the NVIDIA driver supports "
            "the CUDA version of your cupy-cudaXXx wheel, or use --backend numpy."
        ) from exc
    if device_count == 0:
        raise BackendError(
            "backend 'cupy' requested and CuPy is installed, but CUDA reports 0 devices. "
            "Check `nvidia-smi` and CUDA_VISIBLE_DEVICES, or use --backend numpy."
        )
    return cupy


def use(backend_name: str) -> None:
    """Select where arrays live: ``"numpy"`` (CPU, default) or ``"cupy"`` (CUDA GPU).

    Call it before building a model: parameters are created on the backend active then.
    Raises :class:`BackendError` naming what is missing (CuPy itself, or a CUDA device).
    """
    if backend_name == "numpy":
        module = numpy
    elif backend_name == "cupy":
        module = _import_cupy()
    else:
        raise ValueError(f"unknown backend {backend_name!r}: expected 'numpy' or 'cupy'")
    use_module(module, backend_name)


def use_module(module, module_name: str) -> None:
    """Make ``module`` the array module, under the name ``module_name``.

    :func:`use` calls this with NumPy or CuPy. Tests call it with a stand-in that has CuPy's
    API on top of NumPy (tests/cupy_shaped.py, named "cupy-shaped"), to run tinynet on CuPy's
    rules without a GPU. ``module`` must provide what tinynet uses of CuPy's namespace.
    """
    global xp, name, _device_rng
    xp, name = module, module_name
    _device_rng = _make_device_rng(_seed)


def _make_device_rng(seed_value: int):
    # Offset the device stream so dropout masks are not correlated with the initial weights.
    return xp.random.default_rng(seed_value + 1)


def seed(seed_value: int) -> None:
    """Reseed both generators: same seed -> same weights, batch order and dropout masks."""
    global _host_rng, _device_rng, _seed
    _seed = int(seed_value)
    _host_rng = numpy.random.default_rng(_seed)
    _device_rng = _make_device_rng(_seed)


def host_rng() -> numpy.random.Generator:
    """The seeded host generator (weight init, shuffling, splits)."""
    return _host_rng


def random_uniform(shape, dtype=DEFAULT_DTYPE):
    """Uniform [0, 1) samples drawn on the device (used for dropout masks)."""
    return _device_rng.random(shape, dtype=dtype)


def rng_state() -> dict:
    """Where both generators stand, as plain JSON-able data (for checkpoints). The device
    generator is included on NumPy only: CuPy keeps its generator's state on the GPU."""
    state = {"host": _host_rng.bit_generator.state}
    if name == "numpy":
        state["device"] = _device_rng.bit_generator.state
    return state


def set_rng_state(state: dict) -> None:
    """Put the generators back where :func:`rng_state` found them. The generators are updated
    in place, so whatever holds one (a DataLoader with ``seed=None``) follows."""
    _host_rng.bit_generator.state = state["host"]
    if name == "numpy" and "device" in state:
        _device_rng.bit_generator.state = state["device"]


# --- moving data ---------------------------------------------------------------------------

def to_device(array, dtype=None):
    """Host (or device) array -> array of the active backend, optionally cast to ``dtype``."""
    out = xp.asarray(array)
    if dtype is not None and out.dtype != dtype:
        out = out.astype(dtype)
    return out


def to_numpy(array):
    """Any array (NumPy, CuPy, Python scalar) -> NumPy array on the host, explicitly."""
    if isinstance(array, numpy.ndarray):
        return array
    get = getattr(array, "get", None)          # cupy.ndarray.get() copies device -> host
    if get is not None and not isinstance(array, numpy.generic):
        return get()
    return numpy.asarray(array)


def on_host(array) -> bool:
    """True when ``array`` is in host memory (a NumPy array or scalar), where reading its values
    is free; reading a device array's values is a device->host transfer that waits for the GPU."""
    return isinstance(array, (numpy.ndarray, numpy.generic))


def to_float(scalar) -> float:
    """A 0-d array or Python number -> Python float (one device->host transfer on CuPy)."""
    return float(to_numpy(scalar))


def synchronize() -> None:
    """Wait until queued device work has finished (CuPy is asynchronous); a no-op on NumPy."""
    if name == "cupy":
        xp.cuda.Device().synchronize()


# --- window building blocks (used by tinynet.kernels.reference) ---------------------------

def sliding_windows(x, kernel_size, stride):
    """A view of all (kh, kw) windows of ``x``: (N, C, H, W) -> (N, C, OH, OW, kh, kw). Read it
    freely; write through it only where windows do not overlap (stride >= kernel), as
    MaxPool2d's backward does, since overlapping windows share memory.

    ``OH = (H - kh) // sh + 1`` (and likewise OW). No data is copied: the view reuses x's memory
    with extra strides, which is what makes im2col a single reshape away.
    """
    kh, kw = kernel_size
    sh, sw = stride
    n, c, h, w = x.shape
    out_h, out_w = (h - kh) // sh + 1, (w - kw) // sw + 1
    s_n, s_c, s_h, s_w = x.strides
    shape = (n, c, out_h, out_w, kh, kw)
    strides = (s_n, s_c, s_h * sh, s_w * sw, s_h, s_w)
    return xp.lib.stride_tricks.as_strided(x, shape, strides)


def scatter_add(target, indices, values) -> None:
    """``target[indices] += values`` where repeated indices accumulate (unbuffered add).

    ``target[indices] += values`` alone would add only once per repeated index. NumPy and CuPy
    (>= 12) both have the unbuffered form as ``add.at``."""
    xp.add.at(target, indices, values)
