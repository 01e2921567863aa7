"""Hypothesis strategies for what layer tests draw: input batches, images, conv geometries.

Every array these strategies draw has **distinct entries, none near zero**. A finite difference
with step eps straddles a kink (ReLU at 0, |x| at 0) or a tie (the max of a window, when two
entries are equal) whenever an entry is within eps of it, and then reports a large "error"
that is not a bug. Here the entries of an array of n values are a shuffle of the grid

    (k + 1/2 - n // 2) * step,  k = 0 .. n-1,

with ``step`` the largest power of 2 up to min(1/2, 2 * scale / n) (exact in binary, short to
print). So they lie in [-scale, scale], no two are closer than ``step`` and none is closer to 0
than ``step / 2`` (both >= scale / (2 n), far above eps = 1e-6). Hypothesis draws the shuffle;
a failing case shrinks towards the smallest shape and the sorted grid, easy to read.

Sizes may be given as numbers or as strategies (``st.integers(1, 3)``), so a test can fix what
its layer needs and let hypothesis draw the rest. The batch size is drawn from 1 up by default:
bugs that only show for one sample (a squeezed axis, a sum over the wrong axis) are found.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy
from hypothesis import strategies as st

DEFAULT_BATCH_SIZES = st.integers(1, 5)


def _drawn(draw, value):
    """``value`` itself, or a draw from it if it is a strategy."""
    return draw(value) if isinstance(value, st.SearchStrategy) else value


def _check_size(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value < 1:
        raise ValueError(f"tinynet.testing: {name} must be a positive int, got {value!r}")
    return int(value)


def _as_shape(name, value):
    """An int or a tuple of ints as a tuple of positive ints."""
    sizes = value if isinstance(value, tuple) else (value,)
    return tuple(_check_size(name, size) for size in sizes)


@st.composite
def spread_arrays(draw, shape, dtype=numpy.float64, scale: float = 2.0):
    """Arrays of ``shape`` (a tuple, or a strategy of tuples) with distinct entries, none near
    zero, in about [-scale, scale] (see the module docstring)."""
    shape = _as_shape("shape", _drawn(draw, shape))
    size = math.prod(shape)
    order = numpy.array(draw(st.permutations(range(size))), dtype=numpy.float64)
    step = 2.0 ** math.floor(math.log2(min(0.5, 2.0 * scale / size)))
    values = (order + 0.5 - size // 2) * step
    return values.reshape(shape).astype(dtype)


@st.composite
def batches(draw, features, batch_size=DEFAULT_BATCH_SIZES, dtype=numpy.float64):
    """Input batches of shape (N, features) for a layer like Linear; ``features`` may also be a
    tuple, for (N, *features). N is drawn from ``batch_size`` (1 to 5 by default)."""
    features = _as_shape("features", _drawn(draw, features))
    n = _check_size("batch_size", _drawn(draw, batch_size))
    return draw(spread_arrays((n, *features), dtype))


@st.composite
def image_batches(draw, channels, size, batch_size=DEFAULT_BATCH_SIZES, dtype=numpy.float64):
    """Image batches of shape (N, C, H, W) for Conv2d and pooling; ``size`` is H = W, or (H, W)
    (numbers or strategies), e.g. ``geometry.input_size`` of :func:`conv_geometries`."""
    channels = _check_size("channels", _drawn(draw, channels))
    size = _drawn(draw, size)
    height, width = _as_shape("size", size if isinstance(size, tuple) else (size, size))
    n = _check_size("batch_size", _drawn(draw, batch_size))
    return draw(spread_arrays((n, channels, height, width), dtype))


@dataclass(frozen=True)
class ConvGeometry:
    """A kernel / stride / padding combination and an input size (H, W) it fits: the padded
    input is at least as large as the kernel, so the output has at least one pixel."""
    kernel_size: tuple
    stride: tuple
    padding: tuple
    input_size: tuple

    @property
    def output_size(self) -> tuple:
        """(OH, OW), with OH = (H + 2 padding - kernel) // stride + 1 (PyTorch's rule)."""
        return tuple((size + 2 * pad - kernel) // step + 1 for size, kernel, step, pad
                     in zip(self.input_size, self.kernel_size, self.stride, self.padding))

    def kwargs(self) -> dict:
        """The layer's keyword arguments: ``Conv2d(c_in, c_out, **geometry.kwargs())``."""
        return dict(kernel_size=self.kernel_size, stride=self.stride, padding=self.padding)


@st.composite
def conv_geometries(draw, max_kernel: int = 3, max_stride: int = 3, max_padding: int = 2,
                    max_extra: int = 4, square: bool = False, pooling: bool = False):
    """Conv2d (or pooling) geometries that fit: kernel 1..max_kernel, stride 1..max_stride
    (smaller, equal or larger than the kernel), padding 0..max_padding, and an input size from
    the smallest the kernel fits up to ``max_extra`` more. ``pooling=True`` keeps padding <=
    kernel // 2, as PyTorch's pooling layers require; ``square=True`` draws one size per pair."""
    def pair(values):
        first = draw(values)
        return (first, first) if square else (first, draw(values))

    kernel = pair(st.integers(1, max_kernel))
    stride = pair(st.integers(1, max_stride))
    padding = tuple(draw(st.integers(0, min(max_padding, k // 2) if pooling else max_padding))
                    for k in (kernel[:1] if square else kernel))
    padding = padding * 2 if square else padding
    extra = pair(st.integers(0, max_extra))
    size = tuple(max(1, k - 2 * p) + e for k, p, e in zip(kernel, padding, extra))
    return ConvGeometry(kernel, stride, padding, size)


@st.composite
def logits_and_labels(draw, classes, batch_size=DEFAULT_BATCH_SIZES, dtype=numpy.float64):
    """``(logits, labels)`` for a classification loss: logits (N, classes) drawn like
    :func:`batches`, labels (N,) int64 in [0, classes)."""
    classes = _check_size("classes", _drawn(draw, classes))
    logits = draw(batches(classes, batch_size, dtype))
    labels = draw(st.lists(st.integers(0, classes - 1), min_size=len(logits),
                           max_size=len(logits)))
    return logits, numpy.array(labels, dtype=numpy.int64)
