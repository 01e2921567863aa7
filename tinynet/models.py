"""The models the experiments train, built in one place (the examples, the benchmarks and the
tests all call these).

Layer order matters twice: it is the architecture, and, since every layer draws its initial
weights from the backend's generator as it is built, it fixes which weights a seed gives.

    mlp((128,))                          # 784 -> 128 -> ReLU -> 10              (E3, E6)
    mlp((500,), batchnorm=True)          # 784 -> 500 -> ReLU -> BatchNorm -> 10 (E1, E6)
    lenet()                              # E2's LeNet-style CNN
"""
from __future__ import annotations

from tinynet.nn import (BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Flatten, LayerNorm, Linear,
                        MaxPool2d, ReLU, Sequential, Sigmoid, Softmax)

PIXELS, CLASSES = 28 * 28, 10


def mlp(widths=(), in_features: int = PIXELS, batchnorm: bool = False,
        dropout: float = 0.0) -> Sequential:
    """in_features -> widths[0] -> ... -> 10. Each hidden layer is Linear then ReLU, then
    BatchNorm1d if ``batchnorm``, then Dropout(``dropout``) if it is not 0. No hidden layers
    (``widths=()``) is a linear model, Linear(in_features, 10)."""
    layers, fan_in = [], in_features
    for width in widths:
        layers += [Linear(fan_in, width), ReLU()]
        if batchnorm:
            layers.append(BatchNorm1d(width))
        if dropout:
            layers.append(Dropout(dropout))
        fan_in = width
    return Sequential(*layers, Linear(fan_in, CLASSES))


def sigmoid_mlp(hidden: int, softmax_dim: int = 1) -> Sequential:
    """E5: Linear(784, hidden) - Sigmoid - Linear(hidden, 10) - Softmax over ``softmax_dim``
    (1, the classes; 0, the batch, reproduces the original's bug)."""
    return Sequential(Linear(PIXELS, hidden), Sigmoid(), Linear(hidden, CLASSES),
                      Softmax(dim=softmax_dim))


def layernorm_mlp() -> Sequential:
    """E4's four-layer MLP on (N, 1, 28, 28) images, with Dropout and LayerNorm where the
    original put them (between the second Linear and its ReLU)."""
    return Sequential(
        Flatten(),
        Linear(PIXELS, 500), ReLU(),
        Linear(500, 350), Dropout(0.5), LayerNorm(350), ReLU(),
        Linear(350, 200), ReLU(),
        Linear(200, CLASSES))


def lenet() -> Sequential:
    """E2's LeNet-style CNN on (N, 1, 28, 28)."""
    return Sequential(
        Conv2d(1, 16, 5), ReLU(), MaxPool2d(2),        # -> 16x24x24 -> 16x12x12
        Conv2d(16, 32, 5), ReLU(), MaxPool2d(2),       # -> 32x8x8 -> 32x4x4
        Flatten(),                                     # -> 512
        Linear(512, 120), ReLU(), Linear(120, 84), ReLU(), Linear(84, CLASSES))


def simple_cnn() -> Sequential:
    """E6's simple CNN: two 3x3 convolutions (32, 64 channels), each with ReLU and 2x2 max pool,
    then 3136 -> 128 -> 10."""
    return Sequential(
        Conv2d(1, 32, 3, padding=1), ReLU(), MaxPool2d(2),      # -> 32x14x14
        Conv2d(32, 64, 3, padding=1), ReLU(), MaxPool2d(2),     # -> 64x7x7
        Flatten(), Linear(3136, 128), ReLU(), Linear(128, CLASSES))


def deep_cnn() -> Sequential:
    """E6's deep CNN: three blocks Conv2d 3x3 - ReLU - BatchNorm2d - MaxPool2d(2) with 32, 64,
    128 channels (28 -> 14 -> 7 -> 3), then the deep MLP head 1152-512-256-128-64-10 with
    BatchNorm1d after every hidden ReLU."""
    layers, channels_in = [], 1
    for channels in (32, 64, 128):
        layers += [Conv2d(channels_in, channels, 3, padding=1), ReLU(), BatchNorm2d(channels),
                   MaxPool2d(2)]
        channels_in = channels
    head = mlp((512, 256, 128, 64), in_features=128 * 3 * 3, batchnorm=True)
    return Sequential(*layers, Flatten(), *head.layers)
