"""How much arithmetic a training step needs, and how fast this machine's GEMM can do it.

Only the matrix products are counted (Linear and Conv2d); activations, pooling, normalisation,
the loss and the optimizer update are a few operations per element and are left out, as are
bias additions. A layer's forward costs MACs multiply-adds, i.e. 2 * MACs FLOPs:

    Linear(in, out), input (N, in):                 MACs = N * out * in
    Conv2d(C, K, (kh, kw)), output (N, K, OH, OW):  MACs = N * K * OH * OW * C * kh * kw

Its backward costs the same again twice: dL/dW (``g.T @ x``: the same MACs) and dL/dx
(``g @ W``: the same MACs). The first layer with parameters needs no dL/dx (its input is the
data), so a training step costs

    forward 2 * sum(MACs)  +  weight gradients 2 * sum(MACs)  +  input gradients 2 * sum(MACs
    of every layer after the first),

a little under 3x the forward ("backward ~2x forward"). For E1's MLP 784-500-10 this is
1.60 MFLOP per sample, 95.9 GFLOP per 60k-sample epoch: 0.49 s at 196 GFLOP/s.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from tinynet import backend
from tinynet.nn import Conv2d, Linear


def layer_macs(layer, output_shape) -> int:
    """Multiply-adds of ``layer``'s forward that produced ``output_shape`` (batch axis first);
    0 for layers without a matrix product."""
    outputs = 1
    for size in output_shape:
        outputs *= int(size)
    if isinstance(layer, Linear):
        return outputs * layer.in_features                   # N * out, times in each
    if isinstance(layer, Conv2d):
        kh, kw = layer.kernel_size
        return outputs * layer.in_channels * kh * kw         # N * K * OH * OW, times C * kh * kw
    return 0


@dataclass(frozen=True)
class TrainingFlops:
    """FLOPs of one training step on ONE sample, split as the module docstring explains."""

    forward: int
    weight_grads: int
    input_grads: int

    @property
    def total(self) -> int:
        return self.forward + self.weight_grads + self.input_grads


def training_flops(model, input_shape) -> TrainingFlops:
    """FLOPs to train ``model`` (a flat Sequential) on one sample of ``input_shape`` (no batch
    axis). Output shapes come from one forward pass on a zero sample in eval mode, so the
    model's training state is left alone. Costs are linear in the batch size, so a batch of B
    costs B times this."""
    was_training = model.training
    model.eval()
    try:
        x = backend.xp.zeros((1, *input_shape), dtype=backend.DEFAULT_DTYPE)
        macs = []
        for layer in model.layers:
            x = layer.forward(x)
            macs.append(layer_macs(layer, x.shape))
    finally:
        model.train(was_training)
    gemm_macs = [m for m in macs if m > 0]
    return TrainingFlops(forward=2 * sum(gemm_macs), weight_grads=2 * sum(gemm_macs),
                         input_grads=2 * sum(gemm_macs[1:]))


def gemm_gflops(n: int, repeats: int) -> dict:
    """Float32 GEMM speed of the active backend: ``a @ b`` for two n x n matrices (2 n^3 FLOPs),
    timed ``repeats`` times after one untimed product. The best run is the machine's peak."""
    xp = backend.xp
    rng = backend.host_rng()
    a, b = (backend.to_device(rng.random((n, n), dtype="float32")) for _ in range(2))
    out = a @ b                                               # warm-up (threads, kernels)
    rates = []
    for _ in range(repeats):
        backend.synchronize()
        start = time.perf_counter()
        out = xp.matmul(a, b, out=out)
        backend.synchronize()
        rates.append(2 * n ** 3 / (time.perf_counter() - start) / 1e9)
    return {"n": n, "dtype": "float32", "repeats": repeats, "gflops_best": max(rates),
            "gflops_median": statistics.median(rates)}
