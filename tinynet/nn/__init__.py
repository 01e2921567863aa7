"""Layers: each a small class with forward(x) and backward(grad_out) -> grad_in."""
from tinynet.nn.module import Module, Parameter, Sequential  # noqa: F401
from tinynet.nn.linear import Linear, Flatten  # noqa: F401
