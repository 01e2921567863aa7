"""Normalisation layers: BatchNorm1d, BatchNorm2d (statistics per channel) and LayerNorm
(statistics per sample).

All three standardise the input over some axes and then apply a learnable per-feature affine map:

    xhat = (x - mean) / sqrt(var + eps)          mean, var over the normalised axes (biased var)
    y    = weight * xhat + bias

They differ only in the axes: BatchNorm averages over the batch and the spatial axes, once per
channel; LayerNorm averages over the trailing ``normalized_shape`` axes, once per sample. So the
standardisation and its backward are written once, as two functions, and shared.
"""
from __future__ import annotations

from numbers import Integral

import numpy

from tinynet import backend
from tinynet.nn.checks import (ShapeError, check_batch, check_float, check_input, flag,
                               float_dtype, positive_ints, positive_number, probability)
from tinynet.nn.module import Module, Parameter


# --- the shared math -------------------------------------------------------------------------

def standardize(x, axes, eps):
    """``xhat = (x - mean) / sqrt(var + eps)`` over ``axes``.

    Returns ``(xhat, mean, var, inv_std)``; mean, var (biased, divided by m) and
    ``inv_std = 1 / sqrt(var + eps)`` keep the reduced axes (size 1) so they broadcast against x.
    """
    xp = backend.xp
    mean = x.mean(axis=axes, keepdims=True)
    centered = x - mean
    var = (centered * centered).mean(axis=axes, keepdims=True)
    inv_std = 1.0 / xp.sqrt(var + eps)
    return centered * inv_std, mean, var, inv_std


def standardize_backward(grad_xhat, xhat, inv_std, axes):
    """dL/dx for ``xhat = (x - mean) * inv_std`` when mean and var were computed from x itself.

    With m values per group, x reaches xhat by three paths: directly (``inv_std``), through the
    mean (each x_i moves the mean by 1/m) and through the variance (dvar/dx_i = 2 (x_i - mean) / m;
    the mean's effect on var vanishes because sum(x - mean) = 0). Adding them:

        dL/dx = (inv_std / m) * (m * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))
              = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))

    with sums/means over ``axes``; the second line is what is computed.
    """
    mean_grad = grad_xhat.mean(axis=axes, keepdims=True)
    mean_grad_xhat = (grad_xhat * xhat).mean(axis=axes, keepdims=True)
    return inv_std * (grad_xhat - mean_grad - xhat * mean_grad_xhat)


# --- BatchNorm -------------------------------------------------------------------------------

class _BatchNorm(Module):
    """Batch normalisation with one mean/variance per channel (axis 1), taken over the batch axis
    and every spatial axis. BatchNorm1d and BatchNorm2d differ only in the input shapes accepted.

    PyTorch semantics:
    - ``weight`` = 1, ``bias`` = 0 (shape (C,)); absent (``None``) when ``affine=False``.
    - Buffers ``running_mean`` (zeros), ``running_var`` (ones), ``num_batches_tracked``
      (int64 0), saved under PyTorch's state-dict keys; none of them when
      ``track_running_stats=False`` (then batch statistics are used in eval mode too).
    - Training: normalise with the batch mean and the *biased* batch variance; then
      ``running = (1 - momentum) * running + momentum * batch_stat``, where the variance fed to
      ``running_var`` is the *unbiased* one, ``var * m / (m - 1)``, m = values per channel.
      ``momentum=None`` means a cumulative average (factor ``1 / num_batches_tracked``).
    - Eval: normalise with the running statistics.
    - Unlike PyTorch, ``eps`` must be > 0 (0 would divide by zero on a constant channel) and
      ``momentum`` in [0, 1] (or None); anything else is a ValueError naming the layer.

    Backward with g = dL/dy, per channel (sums over the batch and spatial axes):
        dL/dbias = sum(g),  dL/dweight = sum(g * xhat),  dxhat = g * weight
        batch statistics:   dL/dx = (inv_std / m) (m dxhat - sum(dxhat) - xhat sum(dxhat xhat))
        running statistics: dL/dx = dxhat * inv_std   (mean and var are constants: affine map)
    See :func:`standardize_backward` for the derivation of the batch-statistics case.
    """

    buffer_names = ("running_mean", "running_var", "num_batches_tracked")
    input_patterns: tuple = ()   # accepted input shapes, e.g. (("N", "C"), ("N", "C", "L"))

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 dtype=backend.DEFAULT_DTYPE):
        name = type(self).__name__
        (num_features,) = positive_ints(name, num_features=num_features)
        eps = positive_number(name, "eps", eps)
        if momentum is not None:
            momentum = probability(name, "momentum (a number, or None)", momentum)
        affine, track_running_stats = (flag(name, "affine", affine),
                                       flag(name, "track_running_stats", track_running_stats))
        dtype = float_dtype(name, dtype)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        xp = backend.xp
        self.weight = Parameter(xp.ones(num_features, dtype=dtype)) if affine else None
        self.bias = Parameter(xp.zeros(num_features, dtype=dtype)) if affine else None
        if track_running_stats:
            self.running_mean = xp.zeros(num_features, dtype=dtype)
            self.running_var = xp.ones(num_features, dtype=dtype)
            self.num_batches_tracked = xp.zeros((), dtype=numpy.int64)
        else:
            self.buffer_names = ()      # like PyTorch: no buffers, nothing saved
            self.running_mean = self.running_var = self.num_batches_tracked = None
        # kept by forward for backward
        self.xhat = None                # the standardised input, x's shape
        self.inv_std = None             # 1 / sqrt(var + eps), shape (1, C, 1, ...)
        self.used_batch_stats = None    # whether forward normalised with the batch statistics

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")

    # --- forward / backward ---------------------------------------------------------------

    def forward(self, x):
        """x (N, C, *spatial) -> y of the same shape and dtype."""
        self._check_input(x)
        axes = _channel_reduction_axes(x.ndim)
        self.used_batch_stats = self.training or not self.track_running_stats
        if self.used_batch_stats:
            if self.training:
                self._check_enough_values(x)
            self.xhat, mean, var, self.inv_std = standardize(x, axes, self.eps)
            if self.training and self.track_running_stats:
                self._update_running_stats(mean, var, values_per_channel=x.size // x.shape[1])
        else:
            mean = self._per_channel(self.running_mean, x.ndim)
            self.inv_std = 1.0 / backend.xp.sqrt(self._per_channel(self.running_var, x.ndim)
                                                 + self.eps)
            self.xhat = (x - mean) * self.inv_std
        if not self.affine:
            return self.xhat.copy()     # a fresh array: callers may modify y, xhat must survive
        return (self.xhat * self._per_channel(self.weight.data, x.ndim)
                + self._per_channel(self.bias.data, x.ndim))

    def backward(self, grad_out, input_grad=True):
        """grad_out (N, C, *spatial) -> dL/dx of the same shape (None unless ``input_grad``);
        accumulates weight/bias grads."""
        axes = _channel_reduction_axes(grad_out.ndim)
        if self.affine:
            self.weight.accumulate_grad((grad_out * self.xhat).sum(axis=axes))
            self.bias.accumulate_grad(grad_out.sum(axis=axes))
            grad_xhat = grad_out * self._per_channel(self.weight.data, grad_out.ndim)
        else:
            grad_xhat = grad_out
        if not input_grad:
            return None
        if self.used_batch_stats:
            return standardize_backward(grad_xhat, self.xhat, self.inv_std, axes)
        return grad_xhat * self.inv_std

    # --- helpers --------------------------------------------------------------------------

    def _update_running_stats(self, mean, var, values_per_channel):
        self.num_batches_tracked += 1
        if self.momentum is None:   # cumulative moving average, as in PyTorch
            factor = 1.0 / backend.to_float(self.num_batches_tracked)
        else:
            factor = self.momentum
        unbiased_var = var * (values_per_channel / (values_per_channel - 1))
        self.running_mean *= 1 - factor
        self.running_mean += factor * mean.reshape(-1)
        self.running_var *= 1 - factor
        self.running_var += factor * unbiased_var.reshape(-1)

    def _per_channel(self, vector, ndim):
        """(C,) -> (1, C, 1, ..., 1) so it broadcasts against an (N, C, *spatial) array."""
        return vector.reshape((1, self.num_features) + (1,) * (ndim - 2))

    def _state_dtype(self):
        if self.affine:
            return self.weight.data.dtype
        if self.track_running_stats:
            return self.running_mean.dtype
        return None

    def _check_input(self, x):
        if getattr(x, "shape", None) is None:
            raise TypeError(f"{self!r}: expected an array, got {type(x).__name__}")
        patterns = [tuple(self.num_features if size == "C" else size for size in pattern)
                    for pattern in self.input_patterns]
        matching = [pattern for pattern in patterns if len(pattern) == x.ndim]
        if not matching:
            expected = " or ".join("(" + ", ".join(map(str, p)) + ")" for p in patterns)
            raise ShapeError(f"{self!r}: expected input of shape {expected}, "
                             f"got {tuple(x.shape)}")
        check_input(self, x, matching[0], self._state_dtype())

    def _check_enough_values(self, x):
        values_per_channel = x.size // x.shape[1]
        if values_per_channel < 2:
            raise ValueError(
                f"{self!r}: expected more than 1 value per channel when training, got input of "
                f"shape {tuple(x.shape)} ({values_per_channel} per channel); the batch variance "
                f"of a single value is undefined. Use a larger batch or call .eval()")


def _channel_reduction_axes(ndim):
    """Every axis except the channel axis 1: (0,) for (N, C), (0, 2) for (N, C, L), ..."""
    return (0,) + tuple(range(2, ndim))


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over (N, C) or (N, C, L) input, one mean and variance per channel C
    (over N, and over L too for 3-D input). Output: same shape. See :class:`_BatchNorm`.

    Backward in training mode, per channel: the batch mean and variance depend on x, so
        dL/dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)),  dxhat = g * weight;
    in eval mode (running statistics, constants) dL/dx = dxhat * inv_std.
    """

    input_patterns = (("N", "C"), ("N", "C", "L"))


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over (N, C, H, W) images, one mean and variance per channel C over
    N, H and W (not per pixel). Output: same shape. See :class:`_BatchNorm`.

    Backward as for :class:`BatchNorm1d`, with the means over N, H and W of each channel:
    training mode dL/dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).
    """

    input_patterns = (("N", "C", "H", "W"),)


# --- LayerNorm -------------------------------------------------------------------------------

class LayerNorm(Module):
    """Layer normalisation over the trailing ``normalized_shape`` axes, one mean and variance per
    sample (no running statistics; train and eval behave the same).

    Shapes: x (*, *normalized_shape) -> y of the same shape; ``weight`` (ones) and ``bias``
    (zeros) have shape ``normalized_shape`` (``None`` when ``elementwise_affine=False``; ``bias``
    alone is ``None`` when ``bias=False``, as in PyTorch >= 2.1). Variance is the biased one.
    ``eps`` must be > 0 (ValueError otherwise; PyTorch would accept 0).

    Backward with g = dL/dy and m = prod(normalized_shape):
        dL/dbias = g summed over the leading axes,  dL/dweight = (g * xhat) likewise
        dxhat = g * weight,  dL/dx = (inv_std / m) (m dxhat - sum(dxhat) - xhat sum(dxhat xhat))
    with the inner sums over the normalised axes (derivation: :func:`standardize_backward`).
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, dtype=backend.DEFAULT_DTYPE):
        self.normalized_shape = _as_shape(normalized_shape)
        self.eps = positive_number("LayerNorm", "eps", eps)
        self.elementwise_affine = flag("LayerNorm", "elementwise_affine", elementwise_affine)
        bias, dtype = flag("LayerNorm", "bias", bias), float_dtype("LayerNorm", dtype)
        xp = backend.xp
        shape = self.normalized_shape
        self.weight = Parameter(xp.ones(shape, dtype=dtype)) if elementwise_affine else None
        self.bias = (Parameter(xp.zeros(shape, dtype=dtype))
                     if elementwise_affine and bias else None)
        self.xhat = None        # the standardised input, x's shape
        self.inv_std = None     # 1 / sqrt(var + eps), shape (*, 1, ..., 1)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")

    def forward(self, x):
        """x (*, *normalized_shape) -> y of the same shape and dtype."""
        self._check_input(x)
        self.xhat, _, _, self.inv_std = standardize(x, self._normalized_axes(), self.eps)
        if self.weight is None:
            return self.xhat.copy()     # a fresh array: callers may modify y, xhat must survive
        y = self.xhat * self.weight.data
        if self.bias is not None:
            y += self.bias.data
        return y

    def backward(self, grad_out, input_grad=True):
        """grad_out (*, *normalized_shape) -> dL/dx of the same shape (None unless
        ``input_grad``); accumulates param grads."""
        if self.weight is not None:
            per_sample = (-1,) + self.normalized_shape     # leading axes flattened into one
            self.weight.accumulate_grad((grad_out * self.xhat).reshape(per_sample).sum(axis=0))
            if self.bias is not None:
                self.bias.accumulate_grad(grad_out.reshape(per_sample).sum(axis=0))
            grad_xhat = grad_out * self.weight.data
        else:
            grad_xhat = grad_out
        if not input_grad:
            return None
        return standardize_backward(grad_xhat, self.xhat, self.inv_std, self._normalized_axes())

    def _normalized_axes(self):
        return tuple(range(-len(self.normalized_shape), 0))

    def _check_input(self, x):
        shape = getattr(x, "shape", None)
        if shape is None:
            raise TypeError(f"{self!r}: expected an array, got {type(x).__name__}")
        trailing = tuple(shape[len(shape) - len(self.normalized_shape):])
        if len(shape) < len(self.normalized_shape) or trailing != self.normalized_shape:
            expected = "(*, " + ", ".join(map(str, self.normalized_shape)) + ")"
            raise ShapeError(f"{self!r}: expected input of shape {expected}, got {tuple(shape)}")
        check_batch(self, x)
        check_float(self, x, self.weight.data.dtype if self.weight is not None else None)


def _as_shape(normalized_shape):
    """An int or a sequence of ints -> a tuple of positive Python ints (ValueError otherwise)."""
    if isinstance(normalized_shape, Integral):
        normalized_shape = (normalized_shape,)
    sizes = tuple(normalized_shape) if hasattr(normalized_shape, "__iter__") else ()
    if not sizes or any(isinstance(size, bool) or not isinstance(size, Integral) or size <= 0
                        for size in sizes):
        raise ValueError(f"LayerNorm: normalized_shape must be a positive int or a non-empty "
                         f"tuple of positive ints, got {normalized_shape!r}")
    return tuple(int(size) for size in sizes)
