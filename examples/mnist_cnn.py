"""E2: a small LeNet-style CNN on MNIST (docs/experiments.md, E2).

MNIST 60k/10k, pixels /255 then normalised with mean 0.1307, std 0.3081, batch 64, shuffled.
Conv2d(1,16,5) - ReLU - MaxPool2d(2) - Conv2d(16,32,5) - ReLU - MaxPool2d(2) - Flatten -
Linear(512,120) - ReLU - Linear(120,84) - ReLU - Linear(84,10); Adam lr 1e-3, weight decay 1e-5,
cross-entropy, 10 epochs.

    python examples/mnist_cnn.py                      # NumPy backend
    python examples/mnist_cnn.py --backend cupy
    python examples/mnist_cnn.py --quick              # smoke test: 2k/1k samples, 1 epoch
"""
from tinynet.data import DataLoader
from tinynet.losses import CrossEntropyLoss
from tinynet.models import lenet
from tinynet.optim import Adam
from tinynet.plots import plot_epoch_metric
from tinynet.report import (Code, Figure, Measure, Section, Text, epochs_table, final, measures,
                            value)
from tinynet.runner import Data, Experiment, Plan, Setup
from tinynet.train import evaluate

ORIGINAL = {"train_loss": 0.0122, "train_acc": 99.60, "test_acc": 99.25}   # accuracies in %


def setup(config, data):
    model, loss = lenet(), CrossEntropyLoss()

    def measure(history):
        results = {"parameters": model.num_parameters(), "summary": model.summary((1, 28, 28))}
        if history.status == "completed":
            results["test_loss"], results["test_acc"] = evaluate(
                model, loss, DataLoader(*data["test"], 1000))
        return results

    return Setup(model, loss, Adam(model.parameters(), lr=config["lr"], weight_decay=1e-5),
                 DataLoader(*data["train"], config["batch_size"], shuffle=True,
                            seed=config["seed"]),
                 config["epochs"], measure=measure)


def curve(key, title):
    return Figure(f"{key}.png", lambda ctx: plot_epoch_metric(
        {"cnn": ctx.runs()[0].history}, key, f"E2: {title} per epoch", title), title)


experiment = Experiment(
    name="mnist_cnn", title="E2: LeNet-style CNN on MNIST", doc=__doc__,
    data=Data("mnist", mean=0.1307, std=0.3081, quick={"train": 2000, "test": 1000}),
    plan=Plan({"lr": 1e-3, "batch_size": 64, "epochs": 10}),
    setup=setup,
    report=[
        Text(lambda ctx: f"Adam lr 1e-3, weight decay 1e-5, batch 64, inputs normalised with "
                         f"mean 0.1307, std 0.3081. Status: {ctx.cells()[0].status_text}. Train "
                         f"loss and accuracy are running means over each epoch (training "
                         f"mode), as the original computed them; test accuracy is measured in "
                         f"eval mode on the {ctx.samples['test']:,} test images."),
        measures(None, Measure("final train loss", final("train_loss"), ORIGINAL["train_loss"],
                               "num"),
                 Measure("final train accuracy (%)", final("train_acc"), ORIGINAL["train_acc"]),
                 Measure("test accuracy (%)", value("test_acc"), ORIGINAL["test_acc"]),
                 Measure("parameters", value("parameters"), None, "int")),
        Section("Per epoch (the first seed's run)",
                epochs_table(None, "train_loss", "train_acc", "train_seconds"),
                curve("train_loss", "train loss"), curve("train_acc", "train accuracy")),
        Section("Model", Code(lambda ctx: ctx.runs()[0].results["summary"])),
    ],
)

if __name__ == "__main__":
    experiment.main()
