"""Conv2d by im2col, plus the window helpers the pooling layers share.

im2col turns a convolution into one matrix product. Every (kh, kw) window of the padded input is
a column of ``cols``; the weight, flattened to a (C_out, C_in*kh*kw) matrix, multiplies all of
them at once:

    cols   (C_in*kh*kw, N*OH*OW)    one column per output pixel (a copy of the window view)
    W_mat  (C_out, C_in*kh*kw)      weight.reshape(C_out, -1), no copy
    Y_mat = W_mat @ cols  (C_out, N*OH*OW)  -> reshape and move C_out after N: (N, C_out, OH, OW)

The rows of ``cols`` are ordered (c, i, j) like the weight's axes, so ``W_mat`` is a free
reshape. Its columns are ordered (n, oh, ow), so the gradient's col2im adds contiguous
(OH, OW) blocks. col2im is the adjoint of im2col: windows overlap when stride < kernel, so
each input pixel receives the sum of the gradients of every window it was part of.
"""
from __future__ import annotations

import numbers

from tinynet import backend
from tinynet.nn.checks import ShapeError, check_input
from tinynet.nn.init import uniform_fan_in
from tinynet.nn.module import Module, Parameter
from tinynet.nn.checks import flag, float_dtype, positive_ints


# --- helpers shared with pooling.py ------------------------------------------------------

def is_int(value) -> bool:
    """True for Python and NumPy integers, False for bools, floats and everything else."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def as_pair(value, what: str, layer: str, minimum: int) -> tuple:
    """``3`` -> ``(3, 3)``; ``(3, 5)`` stays. Raises ValueError (naming ``layer`` and ``what``)
    unless both entries are ints >= ``minimum``."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2 or not all(is_int(v) and v >= minimum for v in pair):
        kind = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{layer}: {what} must be a {kind} int or a pair of them, "
                         f"got {value!r}")
    return int(pair[0]), int(pair[1])


def pad2d(x, padding, value=0.0):
    """(N, C, H, W) -> (N, C, H + 2*ph, W + 2*pw), the border filled with ``value``.
    Returns ``x`` itself when there is no padding (no copy)."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    n, c, h, w = x.shape
    padded = backend.xp.full((n, c, h + 2 * ph, w + 2 * pw), value, dtype=x.dtype)
    padded[:, :, ph:ph + h, pw:pw + w] = x
    return padded


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


def col2im(window_grads, padded_shape, stride):
    """The adjoint of ``backend.sliding_windows``: sum window gradients back into the image.

    ``window_grads`` (N, C, OH, OW, kh, kw) holds dL/d(window entry); the result (N, C, Hp, Wp)
    holds, at each pixel, the sum over all windows that contain it. One vectorised add per
    kernel offset (i, j): the (i, j) entries of all windows form a strided slice of the image.
    """
    kh, kw = window_grads.shape[-2:]
    out_h, out_w = window_grads.shape[2:4]
    sh, sw = stride
    grad = backend.xp.zeros(padded_shape, dtype=window_grads.dtype)
    for i in range(kh):
        for j in range(kw):
            grad[:, :, i:i + sh * out_h:sh, j:j + sw * out_w:sw] += window_grads[..., i, j]
    return grad


def unpad2d(x, padding):
    """Strip the border added by :func:`pad2d` (a view)."""
    ph, pw = padding
    return x[:, :, ph:x.shape[2] - ph, pw:x.shape[3] - pw]


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
        self.padded_shape = None  # shape of the padded input, for col2im

    def extra_repr(self):
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        return text + ("" if self.bias is not None else ", bias=False")

    def forward(self, x):
        check_input(self, x, ("N", self.in_channels, "H", "W"), self.weight.data.dtype)
        out_h, out_w = output_size(self, x.shape, self.kernel_size, self.stride, self.padding)
        padded = pad2d(x, self.padding)
        self.padded_shape = padded.shape
        self.cols = self._im2col(padded)
        y_mat = self.weight.data.reshape(self.out_channels, -1) @ self.cols
        if self.bias is not None:
            y_mat += self.bias.data[:, None]
        y = y_mat.reshape(self.out_channels, x.shape[0], out_h, out_w).transpose(1, 0, 2, 3)
        return backend.xp.ascontiguousarray(y)

    def _im2col(self, padded):
        """(N, C, Hp, Wp) -> cols (C*kh*kw, N*OH*OW): rows (c, i, j), columns (n, oh, ow)."""
        windows = backend.sliding_windows(padded, self.kernel_size, self.stride)
        c, kh, kw = self.in_channels, *self.kernel_size
        return windows.transpose(1, 4, 5, 0, 2, 3).reshape(c * kh * kw, -1)   # the one copy

    def backward(self, grad_out):
        grad_mat = self._grad_mat(grad_out)
        self._accumulate_param_grads(grad_mat)              # dL/dW and dL/db
        n, _, out_h, out_w = grad_out.shape
        w_mat = self.weight.data.reshape(self.out_channels, -1)
        grad_cols = w_mat.T @ grad_mat                       # (C*kh*kw, N*OH*OW)
        c, kh, kw = self.in_channels, *self.kernel_size
        window_grads = grad_cols.reshape(c, kh, kw, n, out_h, out_w).transpose(3, 0, 4, 5, 1, 2)
        grad_padded = col2im(window_grads, self.padded_shape, self.stride)
        return unpad2d(grad_padded, self.padding)

    def backward_params(self, grad_out):
        self._accumulate_param_grads(self._grad_mat(grad_out))

    def _grad_mat(self, grad_out):
        """dL/dy (N, C_out, OH, OW) laid out like Y_mat: (C_out, N*OH*OW)."""
        return grad_out.transpose(1, 0, 2, 3).reshape(self.out_channels, -1)

    def _accumulate_param_grads(self, grad_mat):
        self.weight.accumulate_grad((grad_mat @ self.cols.T).reshape(self.weight.data.shape))
        if self.bias is not None:
            self.bias.accumulate_grad(grad_mat.sum(axis=1))
