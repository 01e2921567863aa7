"""Element-wise activations (ReLU, Sigmoid, Tanh) and Softmax.

Each keeps exactly what its backward needs: ReLU the mask of positive inputs, Sigmoid/Tanh/Softmax
their own output (their derivatives are cheapest written in terms of the output).
"""
from __future__ import annotations

from tinynet import backend, kernels
from tinynet.nn.checks import check_batch, check_float
from tinynet.nn.module import Module
from tinynet.nn.checks import axis_index, check_axis


class ReLU(Module):
    """``y = max(x, 0)``. Any shape in, same shape out.

    Backward: dy/dx is 1 where x > 0 and 0 elsewhere (0 at x == 0, as PyTorch), so
    ``dL/dx = g * (x > 0)``.
    """

    def __init__(self):
        self.mask = None    # x > 0, from the forward

    def forward(self, x):
        check_float(self, x)
        y, self.mask = kernels.relu(x)        # max(x, 0) (NaN stays NaN, as in PyTorch), x > 0
        return y

    def backward(self, grad_out):
        return kernels.relu_backward(grad_out, self.mask)       # g * mask


class Sigmoid(Module):
    """``y = 1 / (1 + exp(-x))``, computed as ``0.5 * (1 + tanh(x / 2))``, which is the same
    function but never overflows for large |x|. Any shape.

    Backward: dy/dx = y (1 - y), so ``dL/dx = g * y * (1 - y)``.
    """

    def __init__(self):
        self.out = None

    def forward(self, x):
        check_float(self, x)
        xp = backend.xp
        y = xp.tanh(x * 0.5)
        y += 1
        y *= 0.5
        self.out = y
        return y

    def backward(self, grad_out):
        y = self.out
        return grad_out * y * (1 - y)


class Tanh(Module):
    """``y = tanh(x)``. Any shape. Backward: dy/dx = 1 - y^2, so ``dL/dx = g * (1 - y^2)``."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        check_float(self, x)
        self.out = backend.xp.tanh(x)
        return self.out

    def backward(self, grad_out):
        return grad_out * (1 - self.out * self.out)


class Softmax(Module):
    """``y_i = exp(x_i) / sum_j exp(x_j)`` along axis ``dim`` (default 1: the class axis of an
    (N, C) or (N, C, H, W) input). Shifted by the max first, so it never overflows.

    Backward (Jacobian-vector product): dy_i/dx_j = y_i (delta_ij - y_j), hence
        dL/dx_j = sum_i g_i y_i (delta_ij - y_j) = y_j (g_j - sum_i g_i y_i).

    For training a classifier prefer raw logits + CrossEntropyLoss, whose fused backward is
    simpler and more accurate; this layer is for when probabilities are the output.
    """

    def __init__(self, dim: int = 1):
        self.dim = axis_index("Softmax", "dim", dim)
        self.out = None

    def extra_repr(self):
        return f"dim={self.dim}"

    def forward(self, x):
        check_batch(self, x)
        check_float(self, x)
        check_axis(self, x, "dim", self.dim)
        xp = backend.xp
        shifted = x - x.max(axis=self.dim, keepdims=True)
        exp = xp.exp(shifted)
        exp /= exp.sum(axis=self.dim, keepdims=True)
        self.out = exp
        return exp

    def backward(self, grad_out):
        y = self.out
        return y * (grad_out - (grad_out * y).sum(axis=self.dim, keepdims=True))
