"""PyTorch's default initialisation for Linear and Conv2d, so results compare with PyTorch's.

PyTorch initialises both weight and bias of Linear/Conv2d uniformly in ``[-b, b]`` with
``b = 1 / sqrt(fan_in)``: for the weight this is Kaiming-uniform with ``a = sqrt(5)``
(gain ``sqrt(2 / (1 + a^2)) = sqrt(1/3)``, bound ``gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in)``),
for the bias it is stated directly. ``fan_in`` is ``in_features`` for Linear and
``in_channels * kh * kw`` for Conv2d.

Values are drawn on the host from the seeded generator and then moved to the device, so the
same seed gives the same initial weights on NumPy and CuPy.
"""
from __future__ import annotations

import math

from tinynet import backend


def uniform_fan_in(shape, fan_in: int, dtype=backend.DEFAULT_DTYPE):
    """``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` of the given shape on the active device."""
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    values = backend.host_rng().uniform(-bound, bound, size=shape)
    return backend.to_device(values, dtype=dtype)
