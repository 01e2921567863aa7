"""The seven models of issue 8, each with the batch size and optimizer of its experiment.

Each model is built by the :mod:`tinynet.models` builder its experiment (named in the
title) trains; ``benchmarks.frameworks.to_torch`` builds the same layers in PyTorch. Inputs are
random data of MNIST's shapes: (784,) for the MLPs, (1, 28, 28) for the CNNs and for E4,
whose model starts with a Flatten.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from tinynet import models
from tinynet.nn import Sequential

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


SPECS = (
    Spec("e1_mlp", "E1 MLP 784-500-10 (optimizer_study)",
         lambda: models.mlp((500,)), FLAT, 100,
         "Adam", {"lr": 1e-3}),
    Spec("e1_mlp_bn_do", "E1 MLP 784-500-10 +BN+Dropout (optimizer_study)",
         lambda: models.mlp((500,), batchnorm=True, dropout=0.5), FLAT, 100,
         "Adam", {"lr": 1e-3}),
    Spec("e2_lenet", "E2 LeNet CNN (mnist_cnn)", models.lenet,
         IMAGE, 64, "Adam", {"lr": 1e-3, "weight_decay": 1e-5}),
    Spec("e6_mlp", "E6 MLP 784-512-512-10 (fashion_mnist)",
         lambda: models.mlp((512, 512)), FLAT, 64, "SGD", {"lr": 0.01}),
    Spec("e6_cnn", "E6 simple CNN 32/64 ch. (fashion_mnist)",
         models.simple_cnn, IMAGE, 64, "SGD", {"lr": 0.01}),
    Spec("e4_mlp", "E4 4-layer MLP (lr_batch_grid)",
         models.layernorm_mlp, IMAGE, 32, "SGD", {"lr": 0.01}),
    Spec("e3_batch1", "E3 MLP 784-128-10 at batch 1 (mlp_sweep)",
         lambda: models.mlp((128,)), FLAT, 1,
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
