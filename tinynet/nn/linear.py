"""Linear (fully connected) layer and Flatten."""
from __future__ import annotations

from tinynet import backend, kernels
from tinynet.nn.checks import ShapeError, check_batch, check_float
from tinynet.nn.init import uniform_fan_in
from tinynet.nn.module import Module, Parameter
from tinynet.nn.checks import flag, float_dtype, positive_ints


class Linear(Module):
    """``y = x @ W.T + b``.

    Shapes: x (N, in_features) -> y (N, out_features); any leading axes (*, in_features) work
    too, as in PyTorch. ``weight`` is (out_features, in_features) like PyTorch's, ``bias``
    (out_features,). Init: PyTorch's default, U(-1/sqrt(in), 1/sqrt(in)) for both.

    Backward, with g = dL/dy of shape (N, out):
        dL/dx = g @ W              (N, in)
        dL/dW = g.T @ x            (out, in)   -- a sum over the batch of outer products
        dL/db = g.sum(axis=0)      (out,)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype=backend.DEFAULT_DTYPE):
        in_features, out_features = positive_ints(
            "Linear", in_features=in_features, out_features=out_features)
        bias, dtype = flag("Linear", "bias", bias), float_dtype("Linear", dtype)
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(uniform_fan_in((out_features, in_features), in_features, dtype))
        self.bias = Parameter(uniform_fan_in((out_features,), in_features, dtype)) if bias else None
        self.x = None   # the input, kept for dL/dW

    def extra_repr(self):
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}"

    def forward(self, x):
        if getattr(x, "ndim", 0) < 1 or x.shape[-1] != self.in_features:
            raise ShapeError(f"{self!r}: expected input of shape (N, {self.in_features}), "
                             f"got {tuple(getattr(x, 'shape', ()))}")
        check_batch(self, x)
        check_float(self, x, self.weight.data.dtype)
        self.x = x
        y = x @ self.weight.data.T
        if self.bias is not None:
            y += self.bias.data
        return y

    def backward(self, grad_out, input_grad=True):
        g2d = grad_out.reshape(-1, self.out_features)            # leading axes as one batch
        x2d = self.x.reshape(-1, self.in_features)
        self.weight.accumulate_grad(kernels.linear_weight_grad(g2d, x2d))      # g.T @ x
        if self.bias is not None:
            self.bias.accumulate_grad(g2d.sum(axis=0))
        return grad_out @ self.weight.data if input_grad else None


class Flatten(Module):
    """(N, d1, d2, ...) -> (N, d1*d2*...).

    Backward: a reshape changes no value (flatten x and y and the Jacobian is the identity),
    so dL/dx is dL/dy reshaped back to x's shape (N, d1, d2, ...).
    """

    def __init__(self):
        self.input_shape = None

    def forward(self, x):
        check_batch(self, x)
        self.input_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_out):
        return grad_out.reshape(self.input_shape)
