"""Dropout: randomly zero activations during training (inverted dropout, as in PyTorch)."""
from __future__ import annotations

import numpy

from tinynet import backend
from tinynet.nn.checks import check_batch, check_float, probability
from tinynet.nn.module import Module


class Dropout(Module):
    """Zero each entry with probability ``p`` in training; the identity in eval mode.

    Shapes: x (N, *) -> y of the same shape and dtype.

    ``p`` is the probability to DROP (PyTorch's meaning; default 0.5). Dropout is *inverted*:
    kept entries are scaled by ``1 / (1 - p)`` during training, so ``E[y] = x`` and evaluation
    needs no rescaling. As in PyTorch, ``p = 0`` is the identity and ``p = 1`` is allowed and
    zeroes everything (no division by zero); p outside [0, 1] is a ValueError.

    The random mask comes from ``backend.random_uniform`` (the seeded device generator), so
    ``backend.seed(s)`` fixes it. Forward keeps ``mask`` = keep/(1 - p) (already scaled, x's
    dtype; ``None`` when nothing was dropped).

    Backward: y = x * mask elementwise, so dL/dx = dL/dy * mask (the identity in eval mode).
    """

    def __init__(self, p: float = 0.5):
        self.p = probability("Dropout", "p (the drop probability)", p)
        self.mask = None    # keep / (1 - p), x's shape and dtype; None when forward was identity

    def extra_repr(self):
        return f"p={self.p}"

    def forward(self, x):
        check_batch(self, x)
        check_float(self, x)
        if not self.training or self.p == 0:
            self.mask = None
            return x
        scale = 0.0 if self.p == 1 else 1.0 / (1.0 - self.p)
        uniform = backend.random_uniform(x.shape, dtype=_uniform_dtype(x.dtype))
        # one comparison and one multiply: bool * (x's dtype scalar) -> x's dtype
        self.mask = (uniform >= self.p) * x.dtype.type(scale)
        return x * self.mask

    def backward(self, grad_out):
        if self.mask is None:
            return grad_out
        return grad_out * self.mask


def _uniform_dtype(dtype):
    """The generators draw float32 or float64 only; narrower floats draw float32."""
    return dtype if dtype in (numpy.float32, numpy.float64) else numpy.float32
