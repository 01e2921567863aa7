"""Time one training epoch of E3's base MLP on the GPU (CuPy) and on the CPU (NumPy).

    python benchmarks/gpu_epoch.py                   # MNIST from --data-dir / $TINYNET_DATA
    python benchmarks/gpu_epoch.py --repeats 5

The model and data are examples/mlp_sweep.py's base run: 784-128-10 MLP (ReLU), Adam lr 0.01,
batch 64, cross-entropy, on the 48,000 training images of MNIST's seeded 80/20 split, i.e. 750
steps per epoch through ``tinynet.train.fit``. Each backend first trains one untimed epoch
(CuPy compiles its kernels on first use), then ``--repeats`` timed ones; the clock is read
after ``backend.synchronize()``, because CuPy returns before the GPU has finished.

Where CuPy cannot run (not installed, or no usable CUDA device) it exits at once with one line
saying why. CuPy's memory pool keeps freed device memory for reuse, so ``nvidia-smi`` shows
the pool's peak, not what is in use.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

from tinynet import backend
from tinynet.data import DataLoader, load_mnist, prepare_images, train_val_split
from tinynet.losses import CrossEntropyLoss
from tinynet.nn import Linear, ReLU, Sequential
from tinynet.optim import Adam
from tinynet.train import fit


def epoch_seconds(backend_name: str, x_train, y_train, repeats: int) -> list:
    """Seconds per epoch on ``backend_name``: one warm-up epoch, then ``repeats`` timed ones."""
    backend.use(backend_name)
    backend.seed(0)
    model = Sequential(Linear(784, 128), ReLU(), Linear(128, 10))
    loader = DataLoader(x_train, y_train, batch_size=64, shuffle=True, seed=0)
    optimizer, loss_fn = Adam(model.parameters(), lr=0.01), CrossEntropyLoss()
    seconds = []
    for _ in range(repeats + 1):
        backend.synchronize()
        start = time.perf_counter()
        fit(model, loss_fn, optimizer, loader, epochs=1, progress=False)
        backend.synchronize()
        seconds.append(time.perf_counter() - start)
    return seconds[1:]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="folder holding mnist/")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per backend")
    args = parser.parse_args(argv)
    try:
        backend.use("cupy")
    except backend.BackendError as exc:
        sys.exit(f"gpu_epoch: nothing to time here: {exc}")
    images, labels = load_mnist("train", data_dir=args.data_dir)
    (x_train, y_train), _ = train_val_split(prepare_images(images, flatten=True), labels, 0.2,
                                            seed=0)
    results = {name: statistics.median(epoch_seconds(name, x_train, y_train, args.repeats))
               for name in ("numpy", "cupy")}
    print(f"one epoch of E3's base MLP ({len(x_train):,} images, batch 64), median of "
          f"{args.repeats}; CuPy {backend.xp.__version__}:")
    for name, seconds in results.items():
        print(f"  {name:<6} {seconds:8.3f} s")
    print(f"  GPU / CPU time ratio: {results['cupy'] / results['numpy']:.3f}")


if __name__ == "__main__":
    main()
