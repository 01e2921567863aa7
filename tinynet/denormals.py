"""Denormal floats on the CPU: ``set_flush_denormal``, like ``torch.set_flush_denormal``.

Arithmetic on denormals (magnitudes below ~1.2e-38 in float32) is tens of times slower on x86
CPUs, and training makes them: see :func:`set_flush_denormal`. The switch is the SSE control
register (MXCSR) of the calling thread, set through glibc's ``fegetenv``/``fesetenv``. Threads
that tinynet's fast kernels run on are told too (``tinynet.kernels.fast`` adds itself to
``followers``); BLAS's threads are not. ``tinynet.backend`` re-exports both functions.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import platform
import sys

_MXCSR_OFFSET = 28                 # where glibc's x86-64 fenv_t keeps the SSE control register
_FLUSH_TO_ZERO, _DENORMALS_ARE_ZERO = 0x8000, 0x0040       # MXCSR's FTZ and DAZ bits
_FLUSH_BITS = _FLUSH_TO_ZERO | _DENORMALS_ARE_ZERO

followers = []    # functions called after every change, to give other threads the setting


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
    found = floating_point_environment()
    if found is None:
        return False
    libm, environment, mxcsr = found
    mxcsr = mxcsr | _FLUSH_BITS if mode else mxcsr & ~_FLUSH_BITS
    environment[_MXCSR_OFFSET:_MXCSR_OFFSET + 4] = mxcsr.to_bytes(4, "little")
    applied = libm.fesetenv(environment) == 0
    for follow in followers:
        follow()
    return applied


def flush_denormal_enabled() -> bool:
    """True when :func:`set_flush_denormal` is on in this thread."""
    found = floating_point_environment()
    return found is not None and found[2] & _FLUSH_BITS == _FLUSH_BITS


def floating_point_environment():
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
