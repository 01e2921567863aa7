"""Exercise 3: the backward of softmax followed by cross-entropy.

Write ``backward`` below, then check it:

    python -m tinynet.exercises exercises/softmax_cross_entropy.py

Forward, for logits z of shape (N, C) and integer labels y of shape (N,):

    p = softmax(z) row by row,   L = mean over the batch of -log p[n, y[n]]   (a scalar)

``backward()`` returns dL/dz, shape (N, C). Derive it for one sample first (write -log p_y as
-z_y + log sum_j exp(z_j)), then remember the mean over the batch. (docs/backprop.md, section 3.)
"""
import numpy as np


class SoftmaxCrossEntropy:
    def forward(self, logits, labels):
        shifted = logits - logits.max(axis=1, keepdims=True)     # exp cannot overflow
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.probs = np.exp(log_probs)
        self.labels = labels
        return -log_probs[np.arange(len(labels)), labels].mean()

    __call__ = forward

    def backward(self):
        raise NotImplementedError("exercise 3: write SoftmaxCrossEntropy.backward")
