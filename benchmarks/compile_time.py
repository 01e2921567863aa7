"""How long the fast kernels take to compile: the first training steps of a small CNN with
Adam, SGD and RMSprop in a fresh process with an empty Numba cache, then again in a second
process that finds the cache.

    python -m benchmarks.compile_time
"""
import os
import subprocess
import sys
import tempfile

STEPS = """
import time
t0 = time.perf_counter()
import numpy as np
from tinynet import kernels
from tinynet.losses import CrossEntropyLoss
from tinynet.nn import Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential
from tinynet.optim import SGD, Adam, RMSprop
from tinynet.train import train_step
imported = time.perf_counter() - t0
started = time.perf_counter()
for optimizer in (Adam, SGD, RMSprop):
    model = Sequential(Conv2d(1, 4, 3), ReLU(), MaxPool2d(2), Flatten(), Linear(676, 10))
    x = np.random.default_rng(0).standard_normal((8, 1, 28, 28)).astype("float32")
    train_step(model, CrossEntropyLoss(), optimizer(model.parameters(), lr=0.01), x,
               np.arange(8) % 10)
print(f"kernels {kernels.active()}: import {imported:.2f} s, first steps "
      f"{time.perf_counter() - started:.2f} s")
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        for label in ("empty cache", "cached"):
            output = subprocess.run([sys.executable, "-c", STEPS], capture_output=True,
                                    text=True, check=True,
                                    env={**os.environ, "NUMBA_CACHE_DIR": cache})
            print(f"{label}: {output.stdout.strip()}")


if __name__ == "__main__":
    main()
