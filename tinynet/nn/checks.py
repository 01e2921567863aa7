"""Input checks shared by the layers: a bad input fails at the layer that received it, with a
message naming the layer and saying what was expected and what was given, instead of a NumPy
traceback from deep inside a matrix product."""
from __future__ import annotations

from tinynet import backend


class ShapeError(ValueError):
    """An array has the wrong number of axes or the wrong size along one of them."""


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
    if x.ndim == 0 or x.shape[0] == 0:
        raise ShapeError(f"{layer!r}: got an empty batch (input shape {tuple(x.shape)})")


def check_float(layer, x, dtype=None) -> None:
    if not backend.xp.issubdtype(x.dtype, backend.xp.floating):
        raise TypeError(
            f"{layer!r}: expected a floating-point input, got dtype {x.dtype} "
            f"(convert it first, e.g. x.astype('float32'))")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(
            f"{layer!r}: input dtype {x.dtype} does not match the layer's parameter dtype "
            f"{dtype}; convert the input (x.astype('{dtype}')) or the model (model.astype(...))")
