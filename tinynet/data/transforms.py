"""Turning uint8 images and integer labels into network inputs and targets.

Each function is one vectorized expression over the whole dataset, meant to run once on the
host before the arrays go to the device (they also accept device arrays: the array module is
taken from the input). Outputs are float32 unless said otherwise, and the pixel arithmetic
follows torchvision's ``ToTensor`` (divide by 255) and ``Normalize`` (subtract mean, divide by
std) so the same inputs reach the network as in the PyTorch originals.
"""
from __future__ import annotations

import numpy

from tinynet import backend

FLOAT = numpy.float32


def array_module(array):
    """NumPy for host arrays, the active backend's module for device arrays."""
    return numpy if isinstance(array, (numpy.ndarray, numpy.generic)) else backend.xp


def scale_pixels(images):
    """uint8 pixels 0..255 -> float32 in [0, 1] (``x / 255``, as torchvision's ToTensor).

    Any shape; returns a new array.
    """
    if numpy.issubdtype(images.dtype, numpy.floating):
        raise TypeError(f"scale_pixels: expected integer pixels 0..255, got dtype {images.dtype} "
                        f"(already scaled?)")
    scaled = images.astype(FLOAT)
    scaled /= FLOAT(255)
    return scaled


def normalize(x, mean, std):
    """``(x - mean) / std`` in the dtype of ``x`` (as torchvision's Normalize). Any shape.

    ``x`` must already be floating point: normalising raw 0..255 pixels with MNIST's mean
    0.1307 is a classic silent bug, so integer input is an error (call :func:`scale_pixels`).
    """
    if not numpy.issubdtype(x.dtype, numpy.floating):
        raise TypeError(f"normalize: expected floating-point input (pixels scaled to [0, 1] by "
                        f"scale_pixels), got dtype {x.dtype}")
    if numpy.any(numpy.asarray(std) <= 0):
        raise ValueError(f"normalize: std must be positive, got {std}")
    xp = array_module(x)
    out = x - xp.asarray(mean, dtype=x.dtype)
    out /= xp.asarray(std, dtype=x.dtype)
    return out


def flatten(images):
    """(N, d1, d2, ...) -> (N, d1*d2*...): a view when the input is contiguous."""
    return images.reshape(images.shape[0], -1)


def add_channel_axis(images):
    """(N, H, W) -> (N, 1, H, W), the NCHW layout convolutions expect (a view)."""
    return images[:, None]


def one_hot(labels, num_classes=10, dtype=FLOAT):
    """Integer labels (N,) -> one-hot rows (N, num_classes) of ``dtype`` (float32 by default).

    Row i is all zeros except a 1 in column ``labels[i]`` (``torch.nn.functional.one_hot``,
    but float so it can be used as a regression target for MSE / L1).
    """
    xp = array_module(labels)
    if labels.ndim != 1:
        raise ValueError(f"one_hot: expected labels of shape (N,), got {labels.shape}")
    if not numpy.issubdtype(labels.dtype, numpy.integer):
        raise TypeError(f"one_hot: expected integer labels, got dtype {labels.dtype}")
    if labels.size:     # one explicit transfer of two numbers for device labels
        low, high = int(backend.to_numpy(labels.min())), int(backend.to_numpy(labels.max()))
        if low < 0 or high >= num_classes:
            raise ValueError(f"one_hot: labels must lie in 0..{num_classes - 1}, got values "
                             f"from {low} to {high}")
    encoded = xp.zeros((labels.shape[0], num_classes), dtype=dtype)
    encoded[xp.arange(labels.shape[0]), labels] = 1
    return encoded


def prepare_images(images, mean=None, std=None, flatten=False):
    """uint8 images (N, H, W) -> float32 network input, the one call every example makes.

    Scales to [0, 1]; then, if ``mean`` and ``std`` are given, normalises; then returns
    (N, H*W) for an MLP (``flatten=True``) or (N, 1, H, W) for a CNN.
    Examples: E1 ``prepare_images(x, flatten=True)``; E2 ``prepare_images(x, 0.1307, 0.3081)``.
    """
    if (mean is None) != (std is None):
        raise ValueError("prepare_images: give both mean and std, or neither")
    if images.ndim != 3:
        raise ValueError(f"prepare_images: expected images of shape (N, H, W), got {images.shape}")
    x = scale_pixels(images)
    if mean is not None:
        x = normalize(x, mean, std)
    return x.reshape(x.shape[0], -1) if flatten else add_channel_axis(x)


def train_val_split(x, y, val_fraction, seed=0):
    """Split a dataset at random into ``(x_train, y_train), (x_val, y_val)``, reproducibly.

    ``round(N * val_fraction)`` samples go to validation (E3: 0.2 of 60k = 12k; E5: 0.15 = 9k),
    chosen by a permutation from ``numpy.random.default_rng(seed)`` - a generator of its own,
    so the split does not depend on anything else drawn before it, and the same seed gives the
    same split on every machine and backend. (It cannot match ``torch.utils.data.random_split``
    sample for sample: the random streams differ.) Both parts keep the input's order of axes;
    they are copies, not views.
    """
    n = len(x)
    if len(y) != n:
        raise ValueError(f"train_val_split: x and y must have the same length, "
                         f"got {n} and {len(y)}")
    if not 0 < val_fraction < 1:
        raise ValueError(f"train_val_split: val_fraction must lie strictly between 0 and 1, "
                         f"got {val_fraction}")
    n_val = int(round(n * val_fraction))
    if n_val == 0 or n_val == n:
        raise ValueError(f"train_val_split: val_fraction {val_fraction} of {n} samples leaves "
                         f"{n - n_val} for training and {n_val} for validation; both must be > 0")
    order = numpy.random.default_rng(seed).permutation(n)
    train_idx, val_idx = order[:n - n_val], order[n - n_val:]
    return (_take(x, train_idx), _take(y, train_idx)), (_take(x, val_idx), _take(y, val_idx))


def _take(array, host_indices):
    """``array[host_indices]`` along axis 0, moving the indices to the device if needed."""
    if array_module(array) is not numpy:
        host_indices = backend.to_device(host_indices)
    return array[host_indices]
