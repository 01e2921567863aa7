"""Mini-batches on the device: the tinynet counterpart of ``torch.utils.data.DataLoader`` over
a ``TensorDataset`` of in-memory arrays."""
from __future__ import annotations

import numpy

from tinynet import backend


class DataLoader:
    """Iterate over ``(x_batch, y_batch)`` pairs of arrays on the active backend.

    Shapes: x (N, ...) and y (N, ...) -> batches x (B, ...), y (B, ...), with B = batch_size
    except for the last batch, which holds the N % batch_size leftover samples unless
    ``drop_last`` (as in PyTorch). ``len(loader)`` is the number of batches per epoch.

    The full arrays are moved to the device once, here; create the loader after
    ``backend.use(...)``. Without shuffling, batches are slices (views, no copy). With
    ``shuffle=True`` every epoch (every ``for`` loop over the loader) draws a new permutation
    from a host ``numpy.random.Generator`` seeded with ``seed``, so the sequence of batch orders
    is the same on NumPy and CuPy and from run to run; ``seed=None`` draws from the shared
    ``backend.host_rng()`` instead (set by ``backend.seed``). The order cannot match PyTorch's,
    whose shuffling uses torch's own random stream.

    Unlike PyTorch, ``drop_last=True`` with ``batch_size`` larger than the dataset is an error
    (PyTorch silently yields no batch at all, so training would do nothing).
    """

    def __init__(self, x, y, batch_size, shuffle=False, seed=0, drop_last=False):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, numpy.integer)):
            raise TypeError(f"DataLoader: batch_size must be an int, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        n, n_y = _length(x, "x"), _length(y, "y")
        if n != n_y:
            raise ValueError(f"DataLoader: x and y must hold the same number of samples, got "
                             f"{n} and {n_y}")
        if n == 0:
            raise ValueError("DataLoader: the dataset is empty (x and y have 0 samples)")
        if drop_last and batch_size > n:
            raise ValueError(f"DataLoader: batch_size {batch_size} is larger than the dataset "
                             f"({n} samples) and drop_last=True, so there would be no batch at "
                             f"all; lower batch_size or set drop_last=False")
        self.x = backend.to_device(x)
        self.y = backend.to_device(y)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.rng = numpy.random.default_rng(seed) if seed is not None else backend.host_rng()

    @property
    def num_samples(self) -> int:
        return self.x.shape[0]

    def __len__(self) -> int:
        full, rest = divmod(self.num_samples, self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def __iter__(self):
        stop = min(len(self) * self.batch_size, self.num_samples)
        if not self.shuffle:
            for start in range(0, stop, self.batch_size):
                end = start + self.batch_size
                yield self.x[start:end], self.y[start:end]
            return
        order = backend.to_device(self.rng.permutation(self.num_samples))
        for start in range(0, stop, self.batch_size):
            indices = order[start:start + self.batch_size]
            yield self.x[indices], self.y[indices]

    def state_dict(self) -> dict:
        """Where the shuffling stream stands (for checkpoints, taken between epochs): a loader
        given this state by :meth:`load_state_dict` draws the same permutations from there on."""
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]

    def __repr__(self):
        return (f"DataLoader(num_samples={self.num_samples}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, batches={len(self)})")


def _length(array, name) -> int:
    shape = getattr(array, "shape", None)
    if shape is None:
        raise TypeError(f"DataLoader: {name} must be an array, got {type(array).__name__}")
    if len(shape) == 0:
        raise ValueError(f"DataLoader: {name} must have a sample axis, got a 0-d array")
    return shape[0]
