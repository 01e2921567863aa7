"""MaxPool2d and AvgPool2d: a max or a mean over every (kh, kw) window of each channel.

Semantics are PyTorch's defaults: floor mode, ``stride`` defaults to ``kernel_size``, padding at
most half the kernel; MaxPool pads with -inf (padding never wins), AvgPool pads with zeros and
divides by kh*kw (``count_include_pad=True``). The window work is done by ``tinynet.kernels``.
"""
from __future__ import annotations

from tinynet import kernels
from tinynet.nn.checks import check_input
from tinynet.nn.conv import as_pair, output_size
from tinynet.nn.module import Module


class _Pool2d(Module):
    """What both pools share: hyperparameters and input checks."""

    def __init__(self, kernel_size, stride=None, padding=0):
        name = type(self).__name__
        self.kernel_size = as_pair(kernel_size, "kernel_size", name, minimum=1)
        self.stride = (self.kernel_size if stride is None
                       else as_pair(stride, "stride", name, minimum=1))
        self.padding = as_pair(padding, "padding", name, minimum=0)
        if any(p > k // 2 for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(
                f"{name}: padding {self.padding} must be at most half the kernel size "
                f"{self.kernel_size} (PyTorch's rule: padding <= kernel_size // 2)")
        self.x_shape = None   # shape of the last input, for the backward

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def _check(self, x):
        """Check x (N, C, H, W) and that the kernel fits; remember its shape."""
        check_input(self, x, ("N", "C", "H", "W"))
        output_size(self, x.shape, self.kernel_size, self.stride, self.padding)
        self.x_shape = x.shape


class MaxPool2d(_Pool2d):
    """Max over each window: x (N, C, H, W) -> y (N, C, OH, OW), OH = (H + 2*ph - kh) // sh + 1.

    The forward remembers, per output, which window entry was the max (``argmax``: the first
    one on ties, the last NaN if any, as in PyTorch). Since y = x[argmax], the backward is a
    routing: dL/dx is zero except at each window's argmax, which receives that output's
    gradient (summed, when overlapping windows pick the same pixel).
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__(kernel_size, stride, padding)
        self.argmax = None   # (N, C, OH, OW): index i*kw + j of the max entry of each window

    def forward(self, x):
        self._check(x)
        y, self.argmax = kernels.window_max(x, self.kernel_size, self.stride, self.padding)
        return y

    def backward(self, grad_out):
        return kernels.window_max_backward(grad_out, self.argmax, self.x_shape,
                                           self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    """Mean over each window: x (N, C, H, W) -> y (N, C, OH, OW), OH = (H + 2*ph - kh) // sh + 1.

    Each channel is pooled on its own, as a one-channel image: ``im2col`` of the (N*C, 1, H, W)
    input has one row per window entry and one column per window, so the mean is over its rows.
    Zero padding counts in the mean (PyTorch's default ``count_include_pad=True``). Since
    y = sum(window) / (kh*kw), each entry of a window receives dL/dy / (kh*kw); col2im sums
    these where windows overlap.
    """

    def forward(self, x):
        self._check(x)
        n, c, h, w = x.shape
        cols = kernels.im2col(x.reshape(n * c, 1, h, w), self.kernel_size, self.stride,
                              self.padding)                      # (kh*kw, N*C*OH*OW)
        out_h, out_w = output_size(self, x.shape, self.kernel_size, self.stride, self.padding)
        return cols.mean(axis=0).reshape(n, c, out_h, out_w)

    def backward(self, grad_out):
        n, c, h, w = self.x_shape
        kh, kw = self.kernel_size
        share = (grad_out / (kh * kw)).reshape(1, -1)
        grad_cols = share.repeat(kh * kw, axis=0)                # (kh*kw, N*C*OH*OW)
        grad = kernels.col2im(grad_cols, (n * c, 1, h, w), self.kernel_size, self.stride,
                              self.padding)
        return grad.reshape(self.x_shape)
