"""The E1 MLP written by hand in plain NumPy: the yardstick for what NumPy itself can do.

Issue 8 cites a 60-line hand-written NumPy MLP (784-500-10, float32, fused softmax-CE, Adam,
batch 100) that trained an epoch in 0.66x PyTorch's time on the issue author's machine. This
is such a script, written for speed rather than for reading: no layers, no checks, every
temporary reused, Adam in 11 passes that overwrite the gradient as they go. Whatever tinynet
loses against it is the cost of being a library; whatever it loses against PyTorch is NumPy's
(one pass over memory per operation, where PyTorch fuses).

It trains the tinynet model's initial weights on the same loop as ``frameworks.py``: draw a
permutation, then gather each batch, forward, loss gradient, backward, Adam (PyTorch's update,
the bias corrections folded into scalars). ``tests/benchmarks/test_handwritten.py`` checks
that a step gives the same weights as tinynet's.
"""
from __future__ import annotations

import numpy

from benchmarks.frameworks import SEED


class HandwrittenMLP:
    """One hidden ReLU layer, cross-entropy on the logits, Adam; ``run`` is one epoch."""

    name = "numpy_by_hand"

    def __init__(self, tinynet_model, x, y, batch_size: int, lr: float):
        first, second = tinynet_model.layers[0], tinynet_model.layers[2]
        self.params = [first.weight.data.copy(), first.bias.data.copy(),
                       second.weight.data.copy(), second.bias.data.copy()]
        self.exp_avg = [numpy.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [numpy.zeros_like(p) for p in self.params]
        self.x, self.y, self.batch_size, self.lr = x, y, batch_size, lr
        self.steps = 0
        self.rng = numpy.random.default_rng(SEED)

    def run(self, max_steps=None) -> None:
        order = self.rng.permutation(len(self.x))
        for step, start in enumerate(range(0, len(self.x), self.batch_size)):
            if step == max_steps:
                break
            batch = order[start:start + self.batch_size]
            self.train_step(self.x[batch], self.y[batch])

    def train_step(self, x, y) -> None:
        w1, b1, w2, b2 = self.params
        hidden = x @ w1.T
        hidden += b1
        numpy.maximum(hidden, 0, out=hidden)
        logits = hidden @ w2.T
        logits += b2
        # softmax minus one-hot, over the batch size: dL/dlogits, in place
        logits -= logits.max(axis=1, keepdims=True)
        numpy.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        logits[numpy.arange(len(y)), y] -= 1
        logits /= len(y)
        grad_hidden = logits @ w2
        grad_hidden *= hidden > 0
        grads = [grad_hidden.T @ x, grad_hidden.sum(axis=0), logits.T @ hidden, logits.sum(axis=0)]
        self.adam(grads)

    def adam(self, grads, beta1=0.9, beta2=0.999, eps=1e-8) -> None:
        self.steps += 1
        root_c2 = (1 - beta2 ** self.steps) ** 0.5
        step_size = self.lr / (1 - beta1 ** self.steps) * root_c2
        for param, grad, m, v in zip(self.params, grads, self.exp_avg, self.exp_avg_sq):
            m *= beta1
            grad *= 1 - beta1
            m += grad                               # m = beta1 m + (1 - beta1) g
            v *= beta2
            grad *= grad
            grad *= (1 - beta2) / (1 - beta1) ** 2
            v += grad                               # v = beta2 v + (1 - beta2) g^2
            denom = numpy.sqrt(v, out=grad)
            denom += eps * root_c2
            numpy.divide(m, denom, out=denom)
            denom *= step_size
            param -= denom

    def synchronize(self) -> None:
        pass
