"""A toy experiment for the runner's tests: synthetic data (no files), a tiny MLP, seconds per
sweep. Importable by worker processes (``tests.toy_experiment``), and runnable as
``python -m tests.toy_experiment`` like an example script.

Faults are switched on through environment variables, so that worker processes see them too:
``TOY_INTERRUPT_AT=k`` raises KeyboardInterrupt at the end of epoch k (before that epoch's
checkpoint), ``TOY_KILL_ONCE=path`` kills the worker process in the middle of its first run's
second epoch unless ``path`` exists (and creates it), ``TOY_SLEEP=s`` sleeps s seconds per
step.
"""
import hashlib
import os
import signal
import time
from dataclasses import dataclass

import numpy

from tinynet import backend
from tinynet.data import DataLoader
from tinynet.losses import CrossEntropyLoss
from tinynet.models import mlp
from tinynet.optim import SGD, Adam
from tinynet.plots import plot_epoch_metric
from tinynet.report import Column, Figure, Section, Table, runs_of, setting
from tinynet.runner import Data, Experiment, Group, Plan, Setup
from tinynet.train import Callback, KeepBest


@dataclass(frozen=True)
class ToyData(Data):
    """Ten Gaussian blobs in 20 dimensions: 300 training and 100 validation samples."""

    dataset: str = "toy"

    def load(self, data_dir=None, seed=0, quick=False):
        rng = numpy.random.default_rng(1000 + seed)
        centres = rng.standard_normal((10, 20)).astype("float32") * 2

        def draw(n):
            labels = rng.integers(0, 10, n)
            x = centres[labels] + rng.standard_normal((n, 20)).astype("float32")
            return x, labels

        count = 100 if quick else 300
        return {"train": draw(count), "val": draw(count // 3)}

    def describe(self, data_dir=None):
        return {"dataset": "toy", "files": {}}


class Faults(Callback):
    """The faults the tests switch on (see the module docstring)."""

    def on_after_backward(self, model, step, history):
        time.sleep(float(os.environ.get("TOY_SLEEP", 0)))
        marker = os.environ.get("TOY_KILL_ONCE")
        if marker and len(history.epochs) == 1 and not os.path.exists(marker):
            open(marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)

    def on_epoch_end(self, epoch, record, history):
        if os.environ.get("TOY_INTERRUPT_AT") == str(epoch):
            raise KeyboardInterrupt
        return False


def weights_digest(model) -> str:
    state = model.state_dict()
    digest = hashlib.sha256()
    for key in sorted(state):
        digest.update(numpy.ascontiguousarray(backend.to_numpy(state[key])).tobytes())
    return digest.hexdigest()


def setup(config, data):
    if config.get("fail"):
        raise ValueError("this configuration fails on purpose")
    model = mlp((config["width"],), in_features=20, dropout=config["dropout"])
    keep_best = KeepBest(model)
    optimizer = {"adam": Adam, "sgd": SGD}[config["optimizer"]]
    return Setup(model, CrossEntropyLoss(), optimizer(model.parameters(), lr=config["lr"]),
                 DataLoader(*data["train"], config["batch_size"], shuffle=True,
                            seed=config["seed"]),
                 config["epochs"], DataLoader(*data["val"], 50),
                 callbacks=[keep_best, Faults()],
                 measure=lambda history: {"weights": weights_digest(model),
                                          "best_epoch": keep_best.epoch})


experiment = Experiment(
    name="toy", title="A toy experiment", doc=__doc__, data=ToyData(),
    plan=Plan({"lr": 0.01, "width": 16, "dropout": 0.2, "optimizer": "adam", "batch_size": 20,
               "epochs": 3}, [
        Group("lr", vary={"lr": [0.003, 0.01, 0.1]}),
        Group("width", vary={"width": [8, 16]}),
        Group("short", vary={"width": [4]}, set={"epochs": 1}, pinned=("epochs",)),
        Group("broken", set={"fail": True}, optional=True)]),
    setup=setup,
    report=[Section("Learning rate",
                    Table(runs_of("lr"), Column("lr", setting("lr")),
                          Column("val acc (%)", lambda run: run.final("val_acc"), "pct")),
                    Figure("lr_val_acc.png", lambda ctx: plot_epoch_metric(
                        {run.label: run.history for run in ctx.runs("lr")}, "val_acc",
                        "val accuracy", "val accuracy")),
                    group="lr")],
)

if __name__ == "__main__":
    experiment.main()
