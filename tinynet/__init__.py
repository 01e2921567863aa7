"""tinynet: a from-scratch neural-network engine with hand-written backprop on NumPy or CuPy."""
__version__ = "0.1.0"

from tinynet import backend  # noqa: F401
