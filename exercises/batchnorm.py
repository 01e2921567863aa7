"""Exercise 4: the backward of BatchNorm (training mode, batch statistics).

Write ``backward`` below, then check it:

    python -m tinynet.exercises exercises/batchnorm.py

Forward, for x of shape (N, D), each feature (column) normalised with its batch statistics:

    mu = x.mean(0)     var = x.var(0)     s = 1 / sqrt(var + eps)
    xhat = (x - mu) * s                   y = weight * xhat + bias

``backward(g)`` adds dL/dweight and dL/dbias (shape (D,)) into the parameters' grads and
returns dL/dx, shape (N, D). The catch: mu and var are computed from x, so every x[i] reaches
the loss through every xhat[j]. (docs/backprop.md, section 4; docs/break_it.md, exercise 4.)
"""
import numpy as np

from tinynet.nn import Module, Parameter


class BatchNorm1d(Module):
    def __init__(self, num_features, eps=1e-5):
        self.eps = eps
        self.weight = Parameter(np.linspace(0.5, 1.5, num_features))   # not 1: it must matter
        self.bias = Parameter(np.zeros(num_features))

    def forward(self, x):
        mean = x.mean(axis=0)
        self.inv_std = 1 / np.sqrt(x.var(axis=0) + self.eps)
        self.xhat = (x - mean) * self.inv_std
        return self.weight.data * self.xhat + self.bias.data

    def backward(self, grad_out):
        raise NotImplementedError("exercise 4: write BatchNorm1d.backward")
