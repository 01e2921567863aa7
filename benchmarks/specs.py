"""The seven models of issue 8, each with the batch size and optimizer of its experiment.

Each model is built here in tinynet, layer by layer as in its example script (named in the
title); ``benchmarks.frameworks.to_torch`` builds the same layers in PyTorch. Inputs are
random data of MNIST's shapes: (784,) for the MLPs, (1, 28, 28) for the CNNs and for E4,
whose model starts with a Flatten.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from tinynet.nn import (BatchNorm1d, Conv2d, Dropout, Flatten, LayerNorm, Linear, MaxPool2d,
                        ReLU, Sequential)

IMAGE = (1, 28, 28)
FLAT = (784,)
NUM_CLASSES = 10


@dataclass(frozen=True)
class Spec:
    """One benchmark: a model, its input shape (without the batch axis) and its training.

    ``optimizer`` names a class that ``tinynet.optim`` and ``torch.optim`` both have, built with
    ``optimizer_kwargs`` on both sides. ``per_step``: report milliseconds per step (for batch 1,
    where a 60k-step epoch would take minutes) instead of seconds per 60k-sample epoch.
    """

    key: str
    title: str
    build: Callable[[], Sequential]
    input_shape: tuple
    batch_size: int
    optimizer: str
    optimizer_kwargs: dict = field(default_factory=dict)
    per_step: bool = False

    @property
    def unit(self) -> str:
        return "ms/step" if self.per_step else "s/epoch"

    def optimizer_label(self) -> str:
        """``"Adam(lr=0.001)"``: the optimizer as it reads in a table."""
        args = ", ".join(f"{name}={value:g}" for name, value in self.optimizer_kwargs.items())
        return f"{self.optimizer}({args})"


def mlp(*widths: int) -> Sequential:
    """784 -> widths... -> 10, a ReLU after every hidden Linear."""
    layers, fan_in = [], 784
    for width in widths:
        layers += [Linear(fan_in, width), ReLU()]
        fan_in = width
    return Sequential(*layers, Linear(fan_in, NUM_CLASSES))


def mlp_bn_dropout() -> Sequential:
    """examples/optimizer_study.py's "+BN+DO" model."""
    return Sequential(Linear(784, 500), ReLU(), BatchNorm1d(500), Dropout(0.5),
                      Linear(500, NUM_CLASSES))


def lenet() -> Sequential:
    """examples/mnist_cnn.py's build_cnn."""
    return Sequential(
        Conv2d(1, 16, 5), ReLU(), MaxPool2d(2),        # 1x28x28 -> 16x24x24 -> 16x12x12
        Conv2d(16, 32, 5), ReLU(), MaxPool2d(2),       # -> 32x8x8 -> 32x4x4
        Flatten(),                                     # -> 512
        Linear(512, 120), ReLU(), Linear(120, 84), ReLU(), Linear(84, NUM_CLASSES))


def simple_cnn() -> Sequential:
    """examples/fashion_mnist.py's simple_cnn."""
    return Sequential(
        Conv2d(1, 32, 3, padding=1), ReLU(), MaxPool2d(2),      # 1x28x28 -> 32x14x14
        Conv2d(32, 64, 3, padding=1), ReLU(), MaxPool2d(2),     # -> 64x7x7
        Flatten(), Linear(3136, 128), ReLU(), Linear(128, NUM_CLASSES))


def four_layer_mlp() -> Sequential:
    """examples/lr_batch_grid.py's build_model."""
    return Sequential(
        Flatten(),                                        # (N, 1, 28, 28) -> (N, 784)
        Linear(784, 500), ReLU(),
        Linear(500, 350), Dropout(0.5), LayerNorm(350), ReLU(),
        Linear(350, 200), ReLU(),
        Linear(200, NUM_CLASSES))


SPECS = (
    Spec("e1_mlp", "E1 MLP 784-500-10 (optimizer_study)", lambda: mlp(500), FLAT, 100,
         "Adam", {"lr": 1e-3}),
    Spec("e1_mlp_bn_do", "E1 MLP 784-500-10 +BN+Dropout (optimizer_study)", mlp_bn_dropout,
         FLAT, 100, "Adam", {"lr": 1e-3}),
    Spec("e2_lenet", "E2 LeNet CNN (mnist_cnn)", lenet, IMAGE, 64,
         "Adam", {"lr": 1e-3, "weight_decay": 1e-5}),
    Spec("e6_mlp", "E6 MLP 784-512-512-10 (fashion_mnist)", lambda: mlp(512, 512), FLAT, 64,
         "SGD", {"lr": 0.01}),
    Spec("e6_cnn", "E6 simple CNN 32/64 ch. (fashion_mnist)", simple_cnn, IMAGE, 64,
         "SGD", {"lr": 0.01}),
    Spec("e4_mlp", "E4 4-layer MLP (lr_batch_grid)", four_layer_mlp, IMAGE, 32,
         "SGD", {"lr": 0.01}),
    Spec("e3_batch1", "E3 MLP 784-128-10 at batch 1 (mlp_sweep)", lambda: mlp(128), FLAT, 1,
         "Adam", {"lr": 0.01}, per_step=True),
)


def find(keys) -> list:
    """The specs named in ``keys`` (in SPECS' order); an unknown key is a ValueError."""
    known = {spec.key: spec for spec in SPECS}
    unknown = [key for key in keys if key not in known]
    if unknown:
        raise ValueError(f"unknown model {', '.join(unknown)}: expected some of "
                         f"{', '.join(known)}")
    return [spec for spec in SPECS if spec.key in set(keys)]
