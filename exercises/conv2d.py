"""Exercise 5: the backward of Conv2d, computed with im2col.

Write ``backward`` below, then check it:

    python -m tinynet.exercises exercises/conv2d.py

The forward (written for you) copies every window of the padded input into a column of
``cols``, so the convolution is one matrix product, like a Linear layer over all windows:

    cols   (C*kh*kw, N*OH*OW)    one column per output pixel
    W_mat  (O, C*kh*kw)          the weight (O, C, kh, kw), reshaped
    Y_mat = W_mat @ cols + b     (O, N*OH*OW), then reshaped to y (N, O, OH, OW)

``backward(g)``, g = dL/dy of shape (N, O, OH, OW), in five steps:

1. lay g out like Y_mat: G of shape (O, N*OH*OW) (undo forward's last reshape/transpose);
2. dL/dW = G @ cols.T (reshaped to the weight's shape), dL/db = G summed over its columns;
3. dL/dcols = W_mat.T @ G;
4. reshape dL/dcols back to windows (N, C, OH, OW, kh, kw), undoing forward's reshape;
5. col2im: add each window's gradient back where that window came from in the padded image
   (overlapping windows add up; mind the stride), then cut the padding off.

(docs/backprop.md, section 5.) The check draws strides and paddings: a backward that only
works for stride 1 fails, with the smallest case.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tinynet.nn import Module, Parameter


def pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


class Conv2d(Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, seed=0):
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = (
            pair(kernel_size), pair(stride), pair(padding))
        kh, kw = self.kernel_size
        rng = np.random.default_rng(seed)
        bound = 1 / np.sqrt(in_channels * kh * kw)
        self.weight = Parameter(rng.uniform(-bound, bound, (out_channels, in_channels, kh, kw)))
        self.bias = Parameter(rng.uniform(-bound, bound, out_channels))

    def forward(self, x):
        n = len(x)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        self.input_shape = x.shape
        padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        windows = sliding_window_view(padded, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
        self.out_h, self.out_w = windows.shape[2:4]                # (N, C, OH, OW, kh, kw)
        self.cols = windows.transpose(1, 4, 5, 0, 2, 3).reshape(self.in_channels * kh * kw, -1)
        w_mat = self.weight.data.reshape(self.out_channels, -1)
        y_mat = w_mat @ self.cols + self.bias.data[:, None]        # (O, N*OH*OW)
        return y_mat.reshape(self.out_channels, n, self.out_h, self.out_w).transpose(1, 0, 2, 3)

    def backward(self, grad_out):
        raise NotImplementedError("exercise 5: write Conv2d.backward")
