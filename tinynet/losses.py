"""Losses: cross-entropy from logits (fused with log-softmax), MSE and L1, mean-reduced like
PyTorch's defaults.

A loss is called as ``loss = loss_fn(prediction, target)``, which returns a 0-d array (kept on the
device: converting it to a Python float is the caller's choice, and costs a transfer on a GPU),
and ``loss_fn.backward()`` then returns dloss/dprediction, the gradient that starts backprop.
"""
from __future__ import annotations

from tinynet import backend, kernels
from tinynet.nn.checks import (NOT_RUN, ShapeError, backward_contract, check_batch, check_float,
                               forward_contract)


class Loss:
    """Base: ``__call__`` is ``forward``; subclasses keep what ``backward`` needs.

    As for layers, the contract is checked for every subclass: prediction and target are
    arrays, ``backward`` follows a ``forward``, and its ``grad_out`` (if given) is a number or a
    0-d array, the shape of the loss."""

    _forward_output_shape = NOT_RUN

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "forward" in vars(cls):
            cls.forward = forward_contract(cls.forward)
        if "backward" in vars(cls):
            cls.backward = backward_contract(
                cls.backward, usage="loss = loss_fn(prediction, target), then loss_fn.backward()")

    def __call__(self, prediction, target):
        return self.forward(prediction, target)

    def __repr__(self):
        return f"{type(self).__name__}()"


class CrossEntropyLoss(Loss):
    """Cross-entropy between logits (N, C) and either integer class labels (N,) in [0, C) or
    probability / one-hot targets (N, C), averaged over the batch. Equals PyTorch's
    ``nn.CrossEntropyLoss()`` for both target kinds.

        L = -(1/N) sum_n sum_c t_nc log softmax(z_n)_c          (a 0-d array)

    Backward (fused with the softmax): log softmax(z)_c = z_c - log sum_k exp(z_k), whose
    derivative along z_k is [c == k] - p_k; weighting by -t_nc and averaging, with p = softmax(z),
        dL/dz_nc = (p_nc * sum_c' t_nc' - t_nc) / N,
    which for one-hot or probability targets (rows summing to 1) is ``(p - t) / N``: the famous
    "softmax minus one-hot". Fusing avoids the softmax Jacobian and the log of tiny numbers.

    Labels outside [0, C) are a ValueError on the NumPy backend and make the loss NaN on a GPU
    (see ``_check_labels`` below). The integer-label case runs as ``kernels.softmax_cross_entropy``.
    """

    def __init__(self):
        self.probs = None
        self.target = None

    def forward(self, logits, target):
        xp = backend.xp
        _check_logits(self, logits)
        self.target = target
        if xp.issubdtype(target.dtype, xp.integer):
            _check_labels(self, target, *logits.shape)
            loss, self.probs = kernels.softmax_cross_entropy(logits, target)
            return _nan_unless_labels_in_range(self, loss, target, logits.shape[1])
        if target.shape != logits.shape:
            raise ShapeError(f"{self!r}: probability targets must have the logits' shape "
                             f"{tuple(logits.shape)}, got {tuple(target.shape)}")
        # log softmax(z) = (z - max z) - log(sum exp(z - max z)), as in the kernel.
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = xp.exp(shifted)
        sum_exp = exp.sum(axis=1, keepdims=True)
        self.probs = exp / sum_exp
        return -(target * (shifted - xp.log(sum_exp))).sum() / logits.shape[0]

    def backward(self, grad_out=1.0):
        xp = backend.xp
        n = self.probs.shape[0]
        if xp.issubdtype(self.target.dtype, xp.integer):
            return kernels.softmax_cross_entropy_backward(self.probs, self.target, grad_out / n)
        grad = self.probs * self.target.sum(axis=1, keepdims=True) - self.target
        grad *= grad_out / n
        return grad


class MSELoss(Loss):
    """Mean squared error ``L = mean((y - t)^2)`` over all elements (PyTorch's default).

    Shapes: prediction and target of the same (any) shape -> a 0-d array.
    Backward: with M = numel, L = (1/M) sum_i (y_i - t_i)^2, so ``dL/dy = 2 (y - t) / M``.
    """

    def __init__(self):
        self.diff = None

    def forward(self, prediction, target):
        _check_pair(self, prediction, target)
        self.diff = prediction - target
        return (self.diff * self.diff).mean()

    def backward(self, grad_out=1.0):
        return self.diff * (2.0 * grad_out / self.diff.size)


class L1Loss(Loss):
    """Mean absolute error ``L = mean(|y - t|)`` over all elements (PyTorch's default).

    Shapes: prediction and target of the same (any) shape -> a 0-d array.
    Backward: d|u|/du = sign(u), so ``dL/dy = sign(y - t) / numel`` (0 where y == t, the
    subgradient PyTorch picks at the kink).
    """

    def __init__(self):
        self.sign = None

    def forward(self, prediction, target):
        _check_pair(self, prediction, target)
        diff = prediction - target
        self.sign = backend.xp.sign(diff)
        return backend.xp.abs(diff).mean()

    def backward(self, grad_out=1.0):
        return self.sign * (grad_out / self.sign.size)


class ProbabilityCrossEntropyLoss(Loss):
    """Cross-entropy of probabilities, for a network that ends in a Softmax layer (E5's
    original): ``L = -(1/N) sum_n sum_c t_nc log p_nc`` for probabilities ``p`` (N, C) and
    one-hot (or probability) targets ``t`` of the same shape.

    Backward: ``dL/dp_nc = -t_nc / (N p_nc)``; the Softmax layer's own Jacobian follows.
    :class:`CrossEntropyLoss` fuses both into ``(p - t) / N`` from the logits, which is cheaper
    and more accurate. ``p`` is clamped to at least ``TINY`` inside the log (forward and
    backward alike), so a confident mistake gives a large finite loss rather than ``inf``.
    """

    TINY = 1e-30

    def __init__(self):
        self.clamped, self.target = None, None

    def forward(self, probabilities, target):
        _check_pair(self, probabilities, target)
        if probabilities.ndim != 2:
            raise ShapeError(f"{self!r}: expected probabilities of shape (N, C), got "
                             f"{tuple(probabilities.shape)}")
        self.clamped, self.target = backend.xp.maximum(probabilities, self.TINY), target
        return -(target * backend.xp.log(self.clamped)).sum() / probabilities.shape[0]

    def backward(self, grad_out=1.0):
        return self.target / self.clamped * (-grad_out / self.clamped.shape[0])


def _check_logits(loss, logits):
    if getattr(logits, "ndim", None) != 2:
        raise ShapeError(f"{loss!r}: expected logits of shape (N, C), "
                         f"got {tuple(getattr(logits, 'shape', ()))}")
    check_batch(loss, logits)
    check_float(loss, logits)


# --- labels: the one rule that differs between the host and a GPU -----------------------------
# On the host (NumPy) labels outside [0, C) are a ValueError, checked before the kernel reads
# them. On a GPU, reading them back to check would be a transfer and a wait every step, and CuPy
# wraps bad indices instead of raising; so the loss itself becomes NaN when a label is out of
# range, computed on the device, and ``fit`` stops the run as diverged at its next sync.

def _check_labels(loss, target, n, num_classes):
    if target.shape != (n,):
        raise ShapeError(f"{loss!r}: expected integer labels of shape ({n},) for logits of "
                         f"shape ({n}, {num_classes}), got {tuple(target.shape)}")
    if not backend.on_host(target):
        return      # device labels: see _nan_unless_labels_in_range
    low, high = int(target.min()), int(target.max())
    if low < 0 or high >= num_classes:
        raise ValueError(f"{loss!r}: labels must be in [0, {num_classes - 1}] for "
                         f"{num_classes} classes, got values in [{low}, {high}]")


def _nan_unless_labels_in_range(loss, loss_value, target, num_classes):
    """``loss_value``, or on a device NaN if any label is outside [0, C) (kept on the device,
    so the training loop's periodic divergence check catches it without a sync)."""
    if backend.on_host(target):
        return loss_value         # already checked by _check_labels
    in_range = ((target >= 0) & (target < num_classes)).all()
    return backend.xp.where(in_range, loss_value, backend.xp.nan)


def _check_pair(loss, prediction, target):
    check_batch(loss, prediction)
    check_float(loss, prediction)
    if target.shape != prediction.shape:
        raise ShapeError(f"{loss!r}: prediction and target must have the same shape, got "
                         f"{tuple(prediction.shape)} and {tuple(target.shape)}")
