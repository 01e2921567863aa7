"""MaxPool2d and AvgPool2d: a max or a mean over every (kh, kw) window of each channel.

Both look at the input through ``backend.sliding_windows`` (N, C, OH, OW, kh, kw), a strided
view, and reduce its last two axes. Semantics are PyTorch's defaults: floor mode, ``stride``
defaults to ``kernel_size``, padding at most half the kernel; MaxPool pads with -inf (padding
never wins), AvgPool pads with zeros and divides by kh*kw (``count_include_pad=True``).
"""
from __future__ import annotations

from tinynet import backend
from tinynet.nn.checks import check_input
from tinynet.nn.conv import as_pair, col2im, output_size, pad2d, unpad2d
from tinynet.nn.module import Module


class _Pool2d(Module):
    """What both pools share: hyperparameters, input checks, and the padded window view."""

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
        self.padded_shape = None   # shape of the padded input, for the backward

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def _windows(self, x, pad_value):
        """Check x (N, C, H, W), pad it with ``pad_value`` and view it as
        (N, C, OH, OW, kh, kw) windows."""
        check_input(self, x, ("N", "C", "H", "W"))
        output_size(self, x.shape, self.kernel_size, self.stride, self.padding)
        padded = pad2d(x, self.padding, pad_value)
        self.padded_shape = padded.shape
        return backend.sliding_windows(padded, self.kernel_size, self.stride)


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
        xp = backend.xp
        windows = self._windows(x, pad_value=-xp.inf)
        best, self.argmax = running_max(windows, nan_aware=False)
        # NaN needs an extra test per entry. Where reading the result is free (the host), pay
        # for it only when there is a NaN; on a GPU always (reading back would wait for it).
        if not backend.on_host(best) or xp.isnan(best).any():
            best, self.argmax = running_max(windows, nan_aware=True)
        return best

    def backward(self, grad_out):
        xp = backend.xp
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        grad = xp.zeros(self.padded_shape, dtype=grad_out.dtype)
        if sh >= kh and sw >= kw:
            # Windows do not overlap, so every window entry is a pixel of its own: write each
            # output's gradient through a window view of dL/dx, entry by entry (0 where the
            # entry was not the max).
            grad_windows = backend.sliding_windows(grad, self.kernel_size, self.stride)
            for index in range(kh * kw):
                xp.multiply(grad_out, self.argmax == index,
                            out=grad_windows[..., index // kw, index % kw])
        else:
            # A pixel can be the max of several windows: repeated indices must accumulate.
            flat_index = self._argmax_flat_index().reshape(-1)
            backend.scatter_add(grad.reshape(-1), flat_index, grad_out.reshape(-1))
        return unpad2d(grad, self.padding)

    def _argmax_flat_index(self):
        """(N, C, OH, OW): where each window's max sits in the flattened padded input,
        = start of its (n, c) image + start of its window + offset of entry argmax in it."""
        xp = backend.xp
        n, c, out_h, out_w = self.argmax.shape
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        padded_h, padded_w = self.padded_shape[2:]
        image_start = xp.arange(n * c).reshape(n, c, 1, 1) * (padded_h * padded_w)
        window_start = (xp.arange(out_h).reshape(out_h, 1) * (sh * padded_w)
                        + xp.arange(out_w) * sw)                               # (OH, OW)
        entry_offset = (xp.arange(kh).reshape(kh, 1) * padded_w + xp.arange(kw)).reshape(-1)
        return image_start + window_start + entry_offset[self.argmax]


def running_max(windows, nan_aware: bool):
    """(N, C, OH, OW, kh, kw) windows -> (max, argmax), both (N, C, OH, OW); argmax is the index
    i*kw + j of the max entry: the first one on ties, as in PyTorch, and with ``nan_aware`` the
    last NaN if any (without it, NaN entries are not followed: use it only when there are
    none). A running max over the kh*kw entries, each step vectorised over all windows (much
    faster than a reduction over the two tiny trailing axes), kept in place."""
    xp = backend.xp
    kh, kw = windows.shape[-2:]
    best = windows[..., 0, 0].copy()
    argmax = xp.zeros(best.shape, dtype=xp.uint8 if kh * kw <= 256 else xp.int64)
    index_if_better = xp.empty_like(argmax)
    for index in range(1, kh * kw):
        candidate = windows[..., index // kw, index % kw]
        better = candidate > best                         # ">": the first max wins ties
        if nan_aware:
            better |= xp.isnan(candidate)
        xp.maximum(best, candidate, out=best)             # NaN propagates, as in PyTorch
        xp.multiply(better, argmax.dtype.type(index),     # index where better, else 0; indices
                    out=index_if_better)
        xp.maximum(argmax, index_if_better, out=argmax)   # only grow: max = the latest index
    return best, argmax


class AvgPool2d(_Pool2d):
    """Mean over each window: x (N, C, H, W) -> y (N, C, OH, OW), OH = (H + 2*ph - kh) // sh + 1.

    Zero padding counts in the mean (PyTorch's default ``count_include_pad=True``), so every
    window divides by kh*kw. Since y = sum(window) / (kh*kw), each entry of a window receives
    dL/dy / (kh*kw); col2im sums these where windows overlap.
    """

    def forward(self, x):
        windows = self._windows(x, pad_value=0.0)
        kh, kw = self.kernel_size
        # One strided add per kernel offset (much faster than windows.mean(axis=(4, 5))).
        total = windows[..., 0, 0].copy()
        for index in range(1, kh * kw):
            total += windows[..., index // kw, index % kw]
        return total / (kh * kw)

    def backward(self, grad_out):
        kh, kw = self.kernel_size
        share = (grad_out / (kh * kw))[..., None, None]                   # (N, C, OH, OW, 1, 1)
        window_grads = backend.xp.broadcast_to(share, grad_out.shape + (kh, kw))
        return unpad2d(col2im(window_grads, self.padded_shape, self.stride), self.padding)
