"""Layers: each a small class with forward(x) and backward(grad_out) -> grad_in."""
from tinynet.nn.module import Module, Parameter, Sequential  # noqa: F401
from tinynet.nn.linear import Linear, Flatten  # noqa: F401
from tinynet.nn.activations import ReLU, Sigmoid, Tanh, Softmax  # noqa: F401
from tinynet.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm  # noqa: F401
from tinynet.nn.dropout import Dropout  # noqa: F401
from tinynet.nn.conv import Conv2d  # noqa: F401
from tinynet.nn.pooling import AvgPool2d, MaxPool2d  # noqa: F401
