"""The README's 20-line example: an MLP on MNIST, 3 epochs of Adam, test accuracy.

    python examples/quickstart.py   # MNIST from $TINYNET_DATA or the cache (else downloaded)
"""
import argparse

from tinynet.runner import one_line_errors

argparse.ArgumentParser(description=__doc__).parse_args()    # --help; it takes no arguments
one_line_errors("quickstart.py")                             # no data: one line, not a trace

import tinynet
from tinynet.data import DataLoader, load_mnist, prepare_images
from tinynet.losses import CrossEntropyLoss
from tinynet.nn import Linear, ReLU, Sequential
from tinynet.optim import Adam
from tinynet.train import evaluate, fit

tinynet.backend.use("numpy")          # or "cupy"
tinynet.backend.seed(0)               # weights, shuffling, dropout masks

images, labels = load_mnist("train")
test_images, test_labels = load_mnist("test")
train = DataLoader(prepare_images(images, flatten=True), labels, batch_size=64, shuffle=True)
test = DataLoader(prepare_images(test_images, flatten=True), test_labels, batch_size=1000)

model = Sequential(Linear(784, 128), ReLU(), Linear(128, 10))
print(model.summary((784,)))
history = fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=1e-3), train, epochs=3)
loss, accuracy = evaluate(model, CrossEntropyLoss(), test)
print(f"test accuracy {accuracy:.2%}")
