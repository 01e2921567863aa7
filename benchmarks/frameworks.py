"""One training epoch of a benchmark model, in tinynet and in PyTorch, doing the same work.

Both sides run the same loop over the same random data: draw a permutation of the samples,
then for every batch gather it (a copy), zero the gradients, forward, cross-entropy, backward,
optimizer step. Nothing else (no accuracy, no loss logging), so the figures compare the
engines, not the bookkeeping around them (``tinynet.train.fit`` adds an arg-max and a running
loss per step). The PyTorch model gets tinynet's initial weights (``to_torch``), so both train
the same network from the same point; their shuffles differ, which costs the same.

Every "epoch" here is ``run()``: one pass over the data given, or its first ``max_steps``
batches (warm-up). ``synchronize()`` waits for a GPU, so a clock read after it is honest.
"""
from __future__ import annotations

import numpy

from tinynet import backend, kernels, optim
from tinynet.data import DataLoader
from tinynet.losses import CrossEntropyLoss
from tinynet.nn import (BatchNorm1d, Conv2d, Dropout, Flatten, LayerNorm, Linear, MaxPool2d,
                        ReLU)
from tinynet.train import train_step

from benchmarks.specs import NUM_CLASSES

SEED = 0


def random_data(spec, samples: int):
    """``samples`` random inputs of the spec's shape (float32, uniform in [0, 1) like scaled
    pixels) and labels (int64 in [0, 10)), on the host. Drawn straight in their final dtype, so
    no temporary copy raises the process's peak memory before an epoch is measured."""
    rng = numpy.random.default_rng(SEED)
    x = rng.random((samples, *spec.input_shape), dtype=numpy.float32)
    y = rng.integers(0, NUM_CLASSES, size=samples, dtype=numpy.int64)
    return x, y


class TinynetTraining:
    """A tinynet model, its optimizer and a shuffling loader over ``(x, y)``. With
    ``kernel_choice="reference"`` it trains on the reference kernels (``tinynet.kernels``) and
    is named "tinynet_reference"; otherwise on the kernels chosen for the process."""

    def __init__(self, spec, x, y, kernel_choice=None):
        self.kernel_choice = kernel_choice
        self.name = "tinynet" if kernel_choice is None else f"tinynet_{kernel_choice}"
        backend.seed(SEED)
        self.model = spec.build()
        self.loss_fn = CrossEntropyLoss()
        optimizer_class = getattr(optim, spec.optimizer)
        self.optimizer = optimizer_class(self.model.parameters(), **spec.optimizer_kwargs)
        self.loader = DataLoader(x, y, spec.batch_size, shuffle=True, seed=SEED)

    def run(self, max_steps=None) -> None:
        previous = kernels.choice()
        kernels.use(self.kernel_choice or previous)
        try:
            for step, (x, y) in enumerate(self.loader):
                if step == max_steps:
                    break
                train_step(self.model, self.loss_fn, self.optimizer, x, y)
        finally:
            kernels.use(previous)

    def synchronize(self) -> None:
        backend.synchronize()


class TorchTraining:
    """The same model in PyTorch (from ``to_torch(tinynet_model)``), trained the same way."""

    name = "pytorch"

    def __init__(self, spec, tinynet_model, x, y, device: str = "cpu"):
        import torch

        self.torch, self.device = torch, torch.device(device)
        self.model = to_torch(tinynet_model).to(self.device).train()
        self.loss_fn = torch.nn.CrossEntropyLoss()
        optimizer_class = getattr(torch.optim, spec.optimizer)
        self.optimizer = optimizer_class(self.model.parameters(), **spec.optimizer_kwargs)
        self.x = torch.from_numpy(x).to(self.device)         # no copy on the CPU
        self.y = torch.from_numpy(y).to(self.device)
        self.batch_size = spec.batch_size
        self.generator = torch.Generator().manual_seed(SEED)

    def run(self, max_steps=None) -> None:
        torch, n = self.torch, self.x.shape[0]
        order = torch.randperm(n, generator=self.generator).to(self.device)
        for step, start in enumerate(range(0, n, self.batch_size)):
            if step == max_steps:
                break
            indices = order[start:start + self.batch_size]
            x, y = self.x[indices], self.y[indices]
            self.optimizer.zero_grad()
            loss = self.loss_fn(self.model(x), y)
            loss.backward()
            self.optimizer.step()

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            self.torch.cuda.synchronize()


def to_torch(model):
    """A ``torch.nn.Sequential`` with the same layers as the tinynet Sequential ``model``,
    holding a copy of its current parameters and buffers (their keys are PyTorch's already)."""
    import torch

    layers = [_torch_layer(layer) for layer in model.layers]
    torch_model = torch.nn.Sequential(*layers)
    state = {key: torch.from_numpy(value) for key, value in model.state_dict().items()}
    torch_model.load_state_dict(state)
    return torch_model


def _torch_layer(layer):
    """The PyTorch layer that computes what tinynet's ``layer`` does, same hyperparameters."""
    from torch import nn

    bias = getattr(layer, "bias", None) is not None
    if isinstance(layer, Linear):
        return nn.Linear(layer.in_features, layer.out_features, bias=bias)
    if isinstance(layer, Conv2d):
        return nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size,
                         stride=layer.stride, padding=layer.padding, bias=bias)
    if isinstance(layer, ReLU):
        return nn.ReLU()
    if isinstance(layer, MaxPool2d):
        return nn.MaxPool2d(layer.kernel_size, stride=layer.stride, padding=layer.padding)
    if isinstance(layer, Flatten):
        return nn.Flatten()
    if isinstance(layer, BatchNorm1d):
        return nn.BatchNorm1d(layer.num_features, eps=layer.eps, momentum=layer.momentum,
                              affine=layer.affine,
                              track_running_stats=layer.track_running_stats)
    if isinstance(layer, Dropout):
        return nn.Dropout(layer.p)
    if isinstance(layer, LayerNorm):
        return nn.LayerNorm(layer.normalized_shape, eps=layer.eps,
                            elementwise_affine=layer.elementwise_affine)
    raise TypeError(f"to_torch: no PyTorch counterpart written for {layer!r}; expected one of "
                    f"Linear, Conv2d, ReLU, MaxPool2d, Flatten, BatchNorm1d, Dropout, LayerNorm")
