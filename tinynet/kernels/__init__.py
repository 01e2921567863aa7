"""Kernels: the array computations where a training step spends its time, each under one name.

Layers and optimizers call these instead of spelling the computation out, so that they read as
their algorithm while the speed lives here. Every kernel has two implementations with the same
arguments and results:

- ``tinynet.kernels.reference``: short array code on ``backend.xp``, the algorithm as taught
  (docs/backprop.md quotes it). It runs on NumPy and on CuPy.
- ``tinynet.kernels.fast``: the same algorithm as Numba loops compiled for the CPU (one pass over
  memory instead of one per NumPy operation), tested equal to the reference. Used on the NumPy
  backend when Numba is installed (``pip install "tinynet[fast]"``).

Which one runs::

    from tinynet import kernels
    kernels.use("reference")     # force the reference: for learning, and for debugging
    kernels.use("fast")          # the compiled kernels (an error if Numba is not installed)
    kernels.use("auto")          # the default: fast when Numba is importable
    kernels.active()             # "fast" or "reference": what runs now, on this backend

The environment variable ``TINYNET_KERNELS`` (``auto``, ``fast`` or ``reference``) sets the
starting choice. Importing tinynet imports neither Numba nor the fast module; the first kernel
call on the fast path does, and each kernel is compiled at its first call (then cached on
disk, see ``tinynet.kernels.fast``). On CuPy the reference always runs.
"""
from __future__ import annotations

import functools
import importlib.util
import os

import numpy

from tinynet import backend
from tinynet.kernels import reference

CHOICES = ("auto", "fast", "reference")
_state = {"choice": "auto", "fast_module": None}


class KernelError(RuntimeError):
    """The requested kernels cannot be used here (the message says why and what to do)."""


def numba_available() -> bool:
    """True when Numba can be imported (checked without importing it)."""
    return importlib.util.find_spec("numba") is not None


def use(choice: str) -> None:
    """Choose the kernels: ``"auto"`` (fast when Numba is installed), ``"fast"`` or
    ``"reference"``. ``"fast"`` without Numba is a :class:`KernelError`."""
    if choice not in CHOICES:
        raise ValueError(f"unknown kernels {choice!r}: expected one of {', '.join(CHOICES)}")
    if choice == "fast" and not numba_available():
        raise KernelError("kernels 'fast' requested but Numba is not installed: "
                          "pip install 'tinynet[fast]' (or numba), or use 'reference'")
    _state["choice"] = choice


def choice() -> str:
    """What :func:`use` (or ``TINYNET_KERNELS``) last chose: "auto", "fast" or "reference"."""
    return _state["choice"]


def active() -> str:
    """The kernels that run now: "fast" on the NumPy backend when chosen (or "auto" and Numba is
    installed), otherwise "reference"."""
    chosen = _state["choice"]
    if backend.name == "numpy" and (chosen == "fast" or chosen == "auto" and _numba_found()):
        return "fast"
    return "reference"


def _fast_module():
    """tinynet.kernels.fast, imported at the first fast call (this imports Numba)."""
    if _state["fast_module"] is None:
        from tinynet.kernels import fast
        _state["fast_module"] = fast
    return _state["fast_module"]


def _kernel(reference_function):
    """The public kernel of this name: the fast version when :func:`active` says so and the
    arrays are float32 or float64 (what the loops are compiled for; float16 runs the
    reference), else the reference. The choice is made at every call, so ``use`` takes effect
    at once."""
    name = reference_function.__name__

    @functools.wraps(reference_function)
    def kernel(*args):
        if active() == "fast" and getattr(args[0], "dtype", None) in FAST_DTYPES:
            return getattr(_fast_module(), name)(*args)
        return reference_function(*args)
    return kernel


FAST_DTYPES = (numpy.dtype("float32"), numpy.dtype("float64"))


@functools.lru_cache(maxsize=None)
def _numba_found() -> bool:
    """numba_available(), asked once per process (it searches sys.path)."""
    return numba_available()


im2col = _kernel(reference.im2col)
col2im = _kernel(reference.col2im)
window_max = _kernel(reference.window_max)
window_max_backward = _kernel(reference.window_max_backward)
linear_weight_grad = _kernel(reference.linear_weight_grad)
relu = _kernel(reference.relu)
relu_backward = _kernel(reference.relu_backward)
softmax_cross_entropy = _kernel(reference.softmax_cross_entropy)
softmax_cross_entropy_backward = _kernel(reference.softmax_cross_entropy_backward)
sgd_update = _kernel(reference.sgd_update)
rmsprop_update = _kernel(reference.rmsprop_update)
adam_update = _kernel(reference.adam_update)

NAMES = ("im2col", "col2im", "window_max", "window_max_backward", "linear_weight_grad", "relu",
         "relu_backward", "softmax_cross_entropy", "softmax_cross_entropy_backward",
         "sgd_update", "rmsprop_update", "adam_update")

use(os.environ.get("TINYNET_KERNELS", "auto"))
