"""Input checks shared by the layers: a bad input fails at the layer that received it, with a
message naming the layer and saying what was expected and what was given, instead of a NumPy
traceback from deep inside a matrix product."""
from __future__ import annotations

import functools
import math
import numbers

import numpy

from tinynet import backend


class ShapeError(ValueError):
    """An array has the wrong number of axes or the wrong size along one of them."""


class NotAnArrayError(TypeError):
    """A list, a number or another object was given where a layer or loss takes an array."""


def check_input(layer, x, expected_shape, dtype=None) -> None:
    """Check ``x`` against ``expected_shape``, a tuple of ints (exact sizes) and strings (names
    of free sizes, e.g. ``("N", 784)``), and that it is a non-empty floating array of ``dtype``
    (the layer's parameter dtype, when it has parameters)."""
    shape = getattr(x, "shape", None)
    if shape is None:
        raise TypeError(f"{layer!r}: expected an array, got {type(x).__name__}")
    pattern = "(" + ", ".join(str(size) for size in expected_shape) + ")"
    if len(shape) != len(expected_shape) or any(
            isinstance(want, int) and want != got for want, got in zip(expected_shape, shape)):
        raise ShapeError(f"{layer!r}: expected input of shape {pattern}, got {tuple(shape)}")
    check_batch(layer, x)
    check_float(layer, x, dtype)


def check_batch(layer, x) -> None:
    """x must have a batch axis with at least one sample, and no other axis of size 0."""
    if x.ndim == 0 or x.shape[0] == 0:
        raise ShapeError(f"{layer!r}: got an empty batch (input shape {tuple(x.shape)})")
    if x.size == 0:
        raise ShapeError(f"{layer!r}: got an empty input (shape {tuple(x.shape)}): every axis "
                         f"needs at least one entry")


def check_float(layer, x, dtype=None) -> None:
    if not backend.xp.issubdtype(x.dtype, backend.xp.floating):
        raise TypeError(
            f"{layer!r}: expected a floating-point input, got dtype {x.dtype} "
            f"(convert it first, e.g. x.astype('float32'))")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(
            f"{layer!r}: input dtype {x.dtype} does not match the layer's parameter dtype "
            f"{dtype}; convert the input (x.astype('{dtype}')) or the model (model.astype(...))")


# --- constructor arguments: one rule per kind of hyperparameter, the same in every layer -------

def is_int(value) -> bool:
    """True for Python and NumPy integers; False for bools, floats, strings and the rest."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def positive_ints(layer: str, **sizes) -> tuple:
    """The ``sizes`` (e.g. ``in_features=784``) as Python ints, or a ValueError naming the layer,
    the sizes and the values given, unless each is an int >= 1 (784.0, "784" and True are not)."""
    if all(is_int(value) and value >= 1 for value in sizes.values()):
        return tuple(int(value) for value in sizes.values())
    names = " and ".join(sizes)
    values = " and ".join(repr(value) for value in sizes.values())
    rule = "a positive int" if len(sizes) == 1 else "ints and must be positive"
    raise ValueError(f"{layer}: {names} must be {rule}, got {values}")


def probability(layer: str, name: str, value) -> float:
    """``value`` as a float in [0, 1], or a ValueError naming the layer and the argument."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"{layer}: {name} must be in [0, 1], got {value!r}")
    return float(value)


def positive_number(layer: str, name: str, value) -> float:
    """``value`` as a finite float > 0 (an ``eps``), or a ValueError naming the layer."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < math.inf:
        raise ValueError(f"{layer}: {name} must be a positive number, got {value!r}")
    return float(value)


def flag(layer: str, name: str, value) -> bool:
    """``value`` as a bool; anything but True or False (e.g. the string "no") is a TypeError."""
    if not isinstance(value, (bool, numpy.bool_)):
        raise TypeError(f"{layer}: {name} must be True or False, got {value!r}")
    return bool(value)


def float_dtype(layer: str, value):
    """``value`` (e.g. "float32", numpy.float64) as a NumPy floating dtype, else a TypeError."""
    try:
        dtype = numpy.dtype(value)
    except TypeError:
        dtype = None
    if dtype is None or value is None or dtype.kind != "f":
        raise TypeError(f"{layer}: dtype must be a floating-point dtype such as 'float32', "
                        f"got {value!r}")
    return dtype


def axis_index(layer: str, name: str, value) -> int:
    """An axis argument (``dim``) as a Python int; its range is checked against the input."""
    if not is_int(value):
        raise TypeError(f"{layer}: {name} must be an int, got {value!r}")
    return int(value)


def check_axis(layer, x, name: str, axis: int) -> None:
    """``axis`` must name one of x's axes: -x.ndim <= axis < x.ndim, as in PyTorch."""
    if not -x.ndim <= axis < x.ndim:
        raise ShapeError(f"{layer!r}: {name}={axis} is outside the {x.ndim} axes of the input "
                         f"of shape {tuple(x.shape)} (use {-x.ndim}..{x.ndim - 1})")


# --- the forward/backward contract, checked around every layer and loss ----------------------
# Module and Loss wrap each subclass's ``forward`` and ``backward`` with these (see their
# ``__init_subclass__``), so no layer repeats them: the inputs are arrays; ``backward`` comes
# after a ``forward``; its gradient has the shape of that forward's output. A few attribute
# reads per call: cheap enough for batch-1 steps.

NOT_RUN = None          # ``_forward_output_shape`` before the first forward
OMITTED = object()      # backward called without grad_out (a loss's default 1.0 applies)


def forward_contract(forward):
    """Wrap ``forward(self, *inputs)``: keep the output's shape for the backward's check, and
    when the forward fails on an input that is not an array (a list, say), raise the error
    that says so instead of the one from inside (checked only then: free when all is well)."""
    @functools.wraps(forward)
    def checked_forward(self, *inputs, **options):
        try:
            out = forward(self, *inputs, **options) if options else forward(self, *inputs)
        except NotAnArrayError:
            raise                       # already named, by the layer inside that received it
        except Exception:
            check_arrays(self, inputs)
            raise
        self._forward_output_shape = getattr(out, "shape", ())
        return out
    return checked_forward


def check_arrays(owner, inputs) -> None:
    """A NotAnArrayError naming ``owner`` if one of ``inputs`` is not an array."""
    for x in inputs:
        if not hasattr(x, "shape"):
            raise NotAnArrayError(
                f"{short_name(owner)}: expected an array, got {type(x).__name__}; convert it "
                f"first, e.g. numpy.asarray(x, dtype='float32')") from None


def backward_contract(backward, usage="y = layer(x), then layer.backward(dL/dy)"):
    """Wrap ``backward(self, grad_out, ...)``: a forward must have run, and ``grad_out`` (dL/dy)
    must be a floating array of that forward's output shape (a number for a loss's 0-d output;
    omitted, the backward's own default applies). Other arguments pass through unchanged."""
    @functools.wraps(backward)
    def checked_backward(self, grad_out=OMITTED, *args, **kwargs):
        if type(self).backward is checked_backward:      # not an inner super().backward call
            expected = self._forward_output_shape
            if expected is NOT_RUN:
                raise RuntimeError(f"{short_name(self)}: backward called before forward; run "
                                   f"the forward pass first: {usage}")
            if grad_out is not OMITTED and (getattr(grad_out, "shape", None) != expected
                                            or grad_out.dtype.kind != "f"):
                check_gradient(self, grad_out, expected)  # raises, unless a number for shape ()
        if args or kwargs:
            return backward(self, *args, **kwargs) if grad_out is OMITTED else backward(
                self, grad_out, *args, **kwargs)
        return backward(self) if grad_out is OMITTED else backward(self, grad_out)
    return checked_backward


def check_gradient(owner, grad_out, expected_shape) -> None:
    """``grad_out`` must be a floating array of ``expected_shape`` (or a number, for shape ())."""
    shape = getattr(grad_out, "shape", None)
    if shape is None:
        if not isinstance(grad_out, numbers.Real) or isinstance(grad_out, bool):
            raise TypeError(f"{short_name(owner)}: backward expected an array (dL/dy), got "
                            f"{type(grad_out).__name__}")
        shape = ()
    elif grad_out.dtype.kind != "f":
        raise TypeError(f"{short_name(owner)}: backward expected a floating-point gradient, "
                        f"got dtype {grad_out.dtype}")
    if shape != expected_shape:
        raise ShapeError(f"{short_name(owner)}: backward expected a gradient of shape "
                         f"{tuple(expected_shape)} (the shape of the forward's output), "
                         f"got {tuple(shape)}")


def short_name(owner) -> str:
    """``repr(owner)`` when it fits on one line (``Linear(784, 10, bias=True)``), else the class
    name (a Sequential's repr lists every layer)."""
    text = repr(owner)
    return text if "\n" not in text else f"{type(owner).__name__}(...)"
