"""Property-based gradient checks for any layer, yours included.

Hypothesis draws the inputs (batch size from 1 up, shapes, convolution geometries), and
:func:`assert_backward_correct` checks the backward on each of them against finite differences
(:mod:`tinynet.gradcheck`), together with the rules every backward must keep (dL/dx of x's
shape and dtype, gradients that accumulate, the incoming gradient left alone). When a check
fails, hypothesis shrinks the input to the smallest one that still fails::

    from hypothesis import given
    from tinynet.testing import assert_backward_correct, batches

    @given(x=batches(features=4))
    def test_my_layer(x):
        assert_backward_correct(MyLayer(4, 3), x)

Run it with pytest like any test. ``docs/write_your_layer.md`` walks through it.
Needs hypothesis, part of tinynet's ``dev`` extra.
"""
try:
    import hypothesis  # noqa: F401
except ImportError as error:                  # pragma: no cover - depends on the install
    raise ImportError(
        "tinynet.testing draws its inputs with hypothesis, which is not installed. Install "
        "tinynet's dev extra: pip install -e \".[dev]\" (or just: pip install hypothesis)"
    ) from error

from tinynet.testing.assertions import (  # noqa: E402
    DEFAULT_ATOL,
    DEFAULT_TOLERANCE,
    assert_backward_correct,
    assert_loss_backward_correct,
)
from tinynet.testing.strategies import (  # noqa: E402
    ConvGeometry,
    batches,
    conv_geometries,
    image_batches,
    logits_and_labels,
    spread_arrays,
)

__all__ = [
    "DEFAULT_ATOL", "DEFAULT_TOLERANCE", "assert_backward_correct", "assert_loss_backward_correct",
    "ConvGeometry", "batches", "conv_geometries", "image_batches", "logits_and_labels",
    "spread_arrays",
]
