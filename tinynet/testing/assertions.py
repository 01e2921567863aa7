"""``assert_backward_correct``: one call that proves a layer's backward, or says what is wrong.

It checks, in this order, and stops at the first rule broken:

1. the contract of ``backward(grad_out)``, once in float32 and once in float64: it returns
   dL/dx of the input's shape and dtype, leaves each ``param.grad`` with its parameter's shape
   and dtype (a float32 layer whose backward promotes to float64 fails here, although a
   float64 gradient check cannot see it), does not modify ``grad_out``, and *adds* into
   ``param.grad``: two backward passes give twice the gradient of one, as in PyTorch;
2. the values: the relative error of dL/dx and of every dL/dparam against central
   differences in float64 (:func:`tinynet.gradcheck.check_module`) is below ``tolerance``.
   A gradient that is zero in theory (a bias just before BatchNorm, a loss at its minimum)
   compares rounding noise with rounding noise, whose relative error is ~1; it passes when
   no entry differs by more than ``atol`` (1e-7: finite-difference noise is ~1e-10).

The AssertionError names the layer, the input's shape and dtype, each array's relative error
and the tolerance, so that the shrunk example hypothesis reports is all a reader needs.
"""
from __future__ import annotations

import numpy

from tinynet import backend
from tinynet.gradcheck import DEFAULT_EPS, check_loss, check_module, relative_error

DEFAULT_TOLERANCE = 1e-6      # a correct backward scores ~1e-10 in float64, a wrong one ~1e-1
DEFAULT_ATOL = 1e-7           # below it, a difference is finite-difference noise (~1e-10)
DTYPES = ("float32", "float64")
ACCUMULATION_TOLERANCE = 1e-5  # float32 rounding; assigning instead of adding gives 1/3


def assert_backward_correct(layer, x, tolerance: float = DEFAULT_TOLERANCE, *,
                            atol: float = DEFAULT_ATOL, eps: float = DEFAULT_EPS, seed: int = 0,
                            before_forward=None, dtypes=DTYPES) -> None:
    """Raise AssertionError unless ``layer.backward`` is the gradient of ``layer.forward``
    at ``x`` (for the input and every parameter), and keeps the rules of a backward.

    ``layer`` is not changed (the checks run on copies). ``before_forward`` is called before
    every forward pass, e.g. ``lambda: backend.seed(0)`` for Dropout; ``seed`` picks the
    random upstream gradient; ``dtypes`` are those whose contract is checked (``()`` skips it).
    """
    for dtype in dtypes:
        _check_contract(layer, x, numpy.dtype(dtype), before_forward)
    report = check_module(layer, x, eps=eps, seed=seed, before_forward=before_forward)
    if _wrong(report, tolerance, atol):
        raise AssertionError(_values_message(f"backward of {layer!r}", x, report, tolerance,
                                             atol))


def assert_loss_backward_correct(loss_fn, prediction, target,
                                 tolerance: float = DEFAULT_TOLERANCE, *,
                                 atol: float = DEFAULT_ATOL, eps: float = DEFAULT_EPS) -> None:
    """Raise AssertionError unless ``loss_fn.backward()`` is dL/dprediction of the scalar
    ``loss_fn(prediction, target)``, in float64, and keeps prediction's shape and dtype."""
    for dtype in DTYPES:
        _check_loss_contract(loss_fn, prediction, target, numpy.dtype(dtype))
    report = check_loss(loss_fn, prediction, target, eps=eps)
    if _wrong(report, tolerance, atol):
        raise AssertionError(_values_message(f"backward of {_name(loss_fn)}", prediction,
                                             report, tolerance, atol))


# --- the contract --------------------------------------------------------------------------

def _check_contract(layer, x, dtype, before_forward) -> None:
    """Shapes, dtypes, an untouched grad_out and accumulating gradients, at ``dtype``."""
    layer = layer.copy().astype(dtype)
    x = backend.to_device(x, dtype=dtype)
    where = f"{layer!r} on a {dtype} input of shape {tuple(x.shape)}"

    output = _forward(layer, x, before_forward)
    _expect(output.dtype == dtype, f"{where}: forward returned {output.dtype}, expected "
            f"{dtype} (allocate with the input's dtype, e.g. xp.zeros_like(x))")
    grad_out = backend.to_device(
        numpy.random.default_rng(1).standard_normal(tuple(output.shape)), dtype=dtype)
    grad_out_before = grad_out.copy()
    layer.zero_grad()
    grad_x = layer.backward(grad_out)

    _expect(grad_x is not None, f"{where}: backward returned None; it must return dL/dx")
    _expect(tuple(grad_x.shape) == tuple(x.shape), f"{where}: backward returned dL/dx of "
            f"shape {tuple(grad_x.shape)}, expected the input's shape {tuple(x.shape)}")
    _expect(grad_x.dtype == dtype, f"{where}: backward returned dL/dx as {grad_x.dtype}, "
            f"expected {dtype} (a float64 constant or buffer promotes the result)")
    _expect(numpy.array_equal(backend.to_numpy(grad_out), backend.to_numpy(grad_out_before)),
            f"{where}: backward modified the "
            f"grad_out it was given (compute into a new array, e.g. g = grad_out * mask)")
    first = {}
    for name, param in layer.named_parameters():
        if param.grad is None:
            continue        # no gradient at all: the value check reports it, with its error
        _expect(tuple(param.grad.shape) == tuple(param.data.shape), f"{where}: {name}.grad "
                f"has shape {tuple(param.grad.shape)}, expected {tuple(param.data.shape)}")
        _expect(param.grad.dtype == dtype,
                f"{where}: {name}.grad is {param.grad.dtype}, expected {dtype}")
        first[name] = param.grad.copy()

    _forward(layer, x, before_forward)
    layer.backward(grad_out)
    for name, param in layer.named_parameters():
        if name in first:
            error = relative_error(param.grad, 2 * first[name])
            _expect(error < ACCUMULATION_TOLERANCE, f"{where}: after two backward passes "
                    f"{name}.grad is not twice that of one (relative error {error:.2e}); "
                    f"backward must add into it, param.accumulate_grad(g), not assign it")


def _check_loss_contract(loss_fn, prediction, target, dtype) -> None:
    prediction = backend.to_device(prediction, dtype=dtype)
    where = f"{_name(loss_fn)} on a {dtype} prediction of shape {tuple(prediction.shape)}"
    floating_target = numpy.issubdtype(numpy.asarray(backend.to_numpy(target)).dtype,
                                       numpy.floating)
    loss_fn(prediction, backend.to_device(target, dtype=dtype if floating_target else None))
    grad = loss_fn.backward()
    _expect(grad is not None, f"{where}: backward returned None; it must return dL/dprediction")
    _expect(tuple(grad.shape) == tuple(prediction.shape), f"{where}: backward returned shape "
            f"{tuple(grad.shape)}, expected the prediction's {tuple(prediction.shape)}")
    _expect(grad.dtype == dtype, f"{where}: backward returned {grad.dtype}, expected {dtype}")


def _name(thing) -> str:
    """``repr(thing)`` when its class defines one (every Module), else ``ClassName()``:
    the default ``<... object at 0x7f...>`` would differ from run to run."""
    if type(thing).__repr__ is object.__repr__:
        return f"{type(thing).__name__}()"
    return repr(thing)


def _forward(layer, x, before_forward):
    if before_forward is not None:
        before_forward()
    return layer.forward(x)


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


# --- the message ---------------------------------------------------------------------------

def _wrong(report, tolerance, atol) -> list:
    """Names of the gradients off by more than ``tolerance`` (relative) and ``atol``."""
    return [name for name, error in report.errors.items()
            if error >= tolerance and report.abs_errors[name] >= atol]


def _values_message(what, x, report, tolerance, atol) -> str:
    wrong = _wrong(report, tolerance, atol)
    lines = [f"{what} disagrees with finite differences",
             f"  input: shape {tuple(x.shape)}, dtype {x.dtype} (checked in float64)",
             f"  relative error of each gradient (tolerance {tolerance:.0e}; "
             f"max |difference| below {atol:.0e} passes):"]
    for name, error in report.errors.items():
        flag = "  <- wrong" if name in wrong else ""
        lines.append(f"    {name:>12}: {error:.3e}  (max |difference| "
                     f"{report.abs_errors[name]:.1e}){flag}")
    lines.append("  (exactly 1: a sign error or a gradient never computed; a round number like "
                 "(N-1)/(N+1): a missing factor such as 1/N)")
    return "\n".join(lines)
