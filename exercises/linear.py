"""Exercise 1: the backward of a Linear layer.

Write ``backward`` below, then check it:

    python -m tinynet.exercises exercises/linear.py

Forward, for x of shape (N, in_features):  y = x @ W.T + b,  y of shape (N, out_features),
with W of shape (out_features, in_features) as in PyTorch. ``backward(g)`` gets g = dL/dy,
shape (N, out_features), and must

- add dL/dW (shape of W) into ``self.weight.grad`` and dL/db (shape of b) into
  ``self.bias.grad``, with ``param.accumulate_grad(...)``;
- return dL/dx, of x's shape.

Hint: write y[n, k] = sum_i x[n, i] W[k, i] + b[k] and sum over what each variable does not
carry. Each gradient has the shape of what it differentiates. (docs/backprop.md, section 1.)
"""
import numpy as np

from tinynet.nn import Module, Parameter


class Linear(Module):
    def __init__(self, in_features, out_features, seed=0):
        rng = np.random.default_rng(seed)
        bound = 1 / np.sqrt(in_features)
        self.weight = Parameter(rng.uniform(-bound, bound, (out_features, in_features)))
        self.bias = Parameter(rng.uniform(-bound, bound, out_features))

    def forward(self, x):
        self.x = x                                   # the backward needs it for dL/dW
        return x @ self.weight.data.T + self.bias.data

    def backward(self, grad_out):
        raise NotImplementedError("exercise 1: write Linear.backward")
