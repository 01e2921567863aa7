"""Conv2d by im2col, plus the hyperparameter helpers the pooling layers share.

im2col turns a convolution into one matrix product. Every (kh, kw) window of the padded input is
a column of ``cols``; the weight, flattened to a (C_out, C_in*kh*kw) matrix, multiplies all of
them at once:

    cols   (C_in*kh*kw, N*OH*OW)    one column per output pixel: kernels.im2col(x, ...)
    W_mat  (C_out, C_in*kh*kw)      weight.reshape(C_out, -1), no copy
    Y_mat = W_mat @ cols  (C_out, N*OH*OW)  -> reshape and move C_out after N: (N, C_out, OH, OW)

The rows of ``cols`` are ordered (c, i, j) like the weight's axes, so ``W_mat`` is a free
reshape. col2im (``kernels.col2im``) is the adjoint of im2col: windows overlap when
stride < kernel, so each input pixel receives the sum of the gradients of every window it
was part of. Both live in ``tinynet.kernels`` (the reference in array code, a fast one compiled).
"""
from __future__ import annotations

from tinynet import backend, kernels
from tinynet.nn.checks import (ShapeError, check_input, flag, float_dtype, is_int,
                               positive_ints)
from tinynet.nn.init import uniform_fan_in
from tinynet.nn.module import Module, Parameter


# --- helpers shared with pooling.py ------------------------------------------------------

def as_pair(value, what: str, layer: str, minimum: int) -> tuple:
    """``3`` -> ``(3, 3)``; ``(3, 5)`` stays. Raises ValueError (naming ``layer`` and ``what``)
    unless both entries are ints >= ``minimum``."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2 or not all(is_int(v) and v >= minimum for v in pair):
        kind = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{layer}: {what} must be a {kind} int or a pair of them, "
                         f"got {value!r}")
    return int(pair[0]), int(pair[1])


def output_size(layer, x_shape, kernel_size, stride, padding) -> tuple:
    """``(OH, OW)`` with ``OH = (H + 2*ph - kh) // sh + 1`` (PyTorch's floor mode). Raises
    ShapeError, naming the layer and the sizes, when the kernel does not fit the padded input."""
    h, w = x_shape[-2:]
    padded_h, padded_w = h + 2 * padding[0], w + 2 * padding[1]
    if kernel_size[0] > padded_h or kernel_size[1] > padded_w:
        raise ShapeError(
            f"{layer!r}: kernel {tuple(kernel_size)} is larger than the padded input "
            f"({padded_h}, {padded_w}) (input {h}x{w}, padding {tuple(padding)})")
    out_h = (padded_h - kernel_size[0]) // stride[0] + 1
    out_w = (padded_w - kernel_size[1]) // stride[1] + 1
    return out_h, out_w


# --- the layer ---------------------------------------------------------------------------

class Conv2d(Module):
    """2-D convolution (cross-correlation, as in PyTorch), computed as one matrix product.

    Shapes: x (N, C_in, H, W) -> y (N, C_out, OH, OW), ``OH = (H + 2*ph - kh) // sh + 1``.
    ``weight`` (C_out, C_in, kh, kw) and ``bias`` (C_out,) as in PyTorch; init: PyTorch's
    default U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = C_in*kh*kw. ``kernel_size``,
    ``stride`` and ``padding`` take an int or an (h, w) pair; padding is with zeros.

    Forward:  y[n, o, p] = sum_k W_mat[o, k] * cols[k, (n, p)] + b[o]   (p an output pixel).
    Backward, with G = dL/dy laid out like Y_mat (C_out, N*OH*OW):
        dL/dW_mat = G @ cols.T                  (each weight sums over every window it saw)
        dL/db     = G.sum(axis=1)
        dL/dcols  = W_mat.T @ G                 then col2im sums the windows back into
        dL/dx     = col2im(dL/dcols) without the padding border.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 bias: bool = True, dtype=backend.DEFAULT_DTYPE):
        (self.in_channels,) = positive_ints("Conv2d", in_channels=in_channels)
        (self.out_channels,) = positive_ints("Conv2d", out_channels=out_channels)
        bias, dtype = flag("Conv2d", "bias", bias), float_dtype("Conv2d", dtype)
        self.kernel_size = kh, kw = as_pair(kernel_size, "kernel_size", "Conv2d", minimum=1)
        self.stride = as_pair(stride, "stride", "Conv2d", minimum=1)
        self.padding = as_pair(padding, "padding", "Conv2d", minimum=0)
        fan_in = self.in_channels * kh * kw
        self.weight = Parameter(
            uniform_fan_in((self.out_channels, self.in_channels, kh, kw), fan_in, dtype))
        self.bias = Parameter(uniform_fan_in((self.out_channels,), fan_in, dtype)) if bias else None
        self.cols = None          # im2col matrix of the last input, for dL/dW
        self.x_shape = None       # shape of the last input, for col2im

    def extra_repr(self):
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        return text + ("" if self.bias is not None else ", bias=False")

    def forward(self, x):
        check_input(self, x, ("N", self.in_channels, "H", "W"), self.weight.data.dtype)
        out_h, out_w = output_size(self, x.shape, self.kernel_size, self.stride, self.padding)
        self.x_shape = x.shape
        self.cols = kernels.im2col(x, self.kernel_size, self.stride, self.padding)
        y_mat = self.weight.data.reshape(self.out_channels, -1) @ self.cols
        if self.bias is not None:
            y_mat += self.bias.data[:, None]
        y = y_mat.reshape(self.out_channels, x.shape[0], out_h, out_w).transpose(1, 0, 2, 3)
        return backend.xp.ascontiguousarray(y)

    def backward(self, grad_out, input_grad=True):
        grad_mat = grad_out.transpose(1, 0, 2, 3).reshape(self.out_channels, -1)  # like Y_mat
        self.weight.accumulate_grad((grad_mat @ self.cols.T).reshape(self.weight.data.shape))
        if self.bias is not None:
            self.bias.accumulate_grad(grad_mat.sum(axis=1))
        if not input_grad:
            return None
        grad_cols = self.weight.data.reshape(self.out_channels, -1).T @ grad_mat
        return kernels.col2im(grad_cols, self.x_shape, self.kernel_size, self.stride,
                              self.padding)
