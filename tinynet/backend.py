"""The one place that knows whether arrays live on the CPU (NumPy) or a CUDA GPU (CuPy).

Every layer, loss and optimizer reads the active array module as ``backend.xp`` at call time,
so switching is one call made before the model is built::

    import tinynet
    tinynet.backend.use("cupy")      # or "numpy", the default
    tinynet.backend.seed(0)          # reproducible weights, shuffling and dropout masks

Everything that differs between NumPy and CuPy lives here and only here: moving arrays
between host and device, random numbers, strided windows (im2col), scatter-add, and
synchronisation for timing. Code that runs on CuPy must stay inside CuPy's API and never convert
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

import ctypes
import ctypes.util
import platform
import sys

import numpy

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


# --- denormal floats on the CPU -------------------------------------------------------------

_MXCSR_OFFSET = 28                 # where glibc's x86-64 fenv_t keeps the SSE control register
_FLUSH_TO_ZERO, _DENORMALS_ARE_ZERO = 0x8000, 0x0040       # MXCSR's FTZ and DAZ bits
_FLUSH_BITS = _FLUSH_TO_ZERO | _DENORMALS_ARE_ZERO


def set_flush_denormal(mode: bool) -> bool:
    """Treat denormal float32/float64 values as zero in this thread's CPU arithmetic (True), or
    restore IEEE gradual underflow (False); like ``torch.set_flush_denormal``, off by default.
    Returns True if the setting was applied, False where it is not supported (only x86-64
    Linux with glibc is); it never affects a GPU. The example scripts turn it on.

    Why it matters: arithmetic on denormals (magnitudes below ~1.2e-38 in float32) is tens of
    times slower on x86 CPUs. Adam's first moment of a weight whose gradient stays zero (an
    input of a dead ReLU unit) decays by beta1 each step into that range, and with
    round-to-nearest it can stick there for ever (0.9 * 4 * 2**-149 rounds back up to
    4 * 2**-149), so every later step is slow. Flushed, no arithmetic sees or makes a
    denormal: it reads them as zero and writes zero instead; nothing above 1.2e-38 changes.
    It sets the SSE control register (MXCSR) of the calling thread, where NumPy's
    element-wise work runs; BLAS worker threads keep their own.
    """
    found = _floating_point_environment()
    if found is None:
        return False
    libm, environment, mxcsr = found
    mxcsr = mxcsr | _FLUSH_BITS if mode else mxcsr & ~_FLUSH_BITS
    environment[_MXCSR_OFFSET:_MXCSR_OFFSET + 4] = mxcsr.to_bytes(4, "little")
    return libm.fesetenv(environment) == 0


def flush_denormal_enabled() -> bool:
    """True when :func:`set_flush_denormal` is on in this thread."""
    found = _floating_point_environment()
    return found is not None and found[2] & _FLUSH_BITS == _FLUSH_BITS


def _floating_point_environment():
    """``(libm, fenv_t buffer, MXCSR value)`` of this thread, or None where unsupported."""
    if not (sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64")):
        return None
    libm_name = ctypes.util.find_library("m")
    if libm_name is None:
        return None
    libm = ctypes.CDLL(libm_name)
    environment = ctypes.create_string_buffer(32)       # sizeof(fenv_t) on x86-64 glibc
    if libm.fegetenv(environment) != 0:
        return None
    mxcsr = int.from_bytes(environment.raw[_MXCSR_OFFSET:_MXCSR_OFFSET + 4], "little")
    return libm, environment, mxcsr


# --- im2col / col2im building blocks -------------------------------------------------------

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
