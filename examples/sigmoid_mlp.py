"""E5: a two-layer sigmoid network on MNIST - width, learning rate, weights (docs/experiments.md).

MNIST 60k training images scaled to [0, 1] and normalised with mean 0.1307, std 0.3081, seeded
85/15 split (51k train / 9k val), 10k test. Model: Linear(784,H) - Sigmoid - Linear(H,10) -
Softmax, trained with plain SGD on the cross-entropy of the softmax PROBABILITIES against one-hot
targets, batch 1000, 35 epochs. After every epoch the val accuracy is measured; the model with
the best val accuracy (kept only on an improvement > 0.001, i.e. 0.1 point) is tested.

Studies: H in {1, 5, 100, 200} at lr 1e-4; lr in {1e-6, 1e-3, 0.1} at H=100; the groups *_bug
repeat them with the original's softmax over the BATCH axis (Softmax(dim=0)).

    python examples/sigmoid_mlp.py                     # the 14 runs
    python examples/sigmoid_mlp.py --only hidden_size,learning_rate   # correct softmax only
"""
import math

import numpy    # host-side analysis of the stored weights for the report

from tinynet import backend
from tinynet.data import DataLoader, one_hot
from tinynet.losses import ProbabilityCrossEntropyLoss
from tinynet.models import sigmoid_mlp
from tinynet.optim import SGD
from tinynet.plots import plot_epoch_metric, plot_images, plot_panels
from tinynet.report import (Column, Figure, Section, Table, Text, cells_of, final, mean_of,
                            over_seeds, setting, value)
from tinynet.runner import Data, Experiment, Group, Plan, Setup
from tinynet.train import Callback, KeepBest, evaluate

STUDIES = {"hidden_size": ("hidden", [1, 5, 100, 200], {"lr": 1e-4}),
           "learning_rate": ("lr", [1e-6, 1e-3, 0.1], {"hidden": 100})}
SOFTMAX_DIM = {"class": 1, "batch": 0}     # "batch" is the original's bug
# Test accuracy (%) the original reported (with the batch-axis softmax), by (hidden, lr).
ORIGINAL = {(1, 1e-4): 18.29, (5, 1e-4): 27.85, (100, 1e-4): 25.09, (200, 1e-4): 35.56,
            (100, 1e-6): 9.82, (100, 1e-3): 72.03, (100, 0.1): 93.56}
WEIGHT_RUN, WEIGHT_UNITS = {"hidden": 100, "lr": 0.1}, [0, 5, 10, 15, 20]
SATURATED = 0.05    # a sigmoid output below 0.05 or above 0.95 counts as saturated
METRICS = {"train_acc": "train accuracy (running)", "val_acc": "val accuracy",
           "train_loss": "train loss (running mean)", "val_loss": "val loss"}


class SigmoidProblems(Callback):
    """Every ``every`` steps, into ``history.extra["sigmoid"]``: the saturated fraction, mean
    slope y(1 - y), mean output y and ||dL/dW|| of both Linear layers."""

    KEYS = ("saturated", "mean_slope", "mean_output", "grad_norm_first", "grad_norm_second")

    def __init__(self, every: int = 5):
        self.every = every

    def on_after_backward(self, model, step, history):
        if step % self.every:
            return
        xp, y = backend.xp, model[1].out                # the Sigmoid's output, (N, H)
        saturated = ((y < SATURATED) | (y > 1 - SATURATED)).mean()
        norms = [xp.sqrt((model[i].weight.grad ** 2).sum()) for i in (0, 2)]
        values = backend.to_numpy(xp.stack([saturated, (y * (1 - y)).mean(), y.mean(), *norms]))
        stats = history.extra.setdefault("sigmoid", {key: [] for key in ("step", *self.KEYS)})
        stats["step"].append(step)
        for key, number in zip(self.KEYS, values):
            stats[key].append(float(number))


def setup(config, data):
    model = sigmoid_mlp(config["hidden"], SOFTMAX_DIM[config["softmax"]])
    initial = backend.to_numpy(model[0].weight.data).copy()
    loss, keep_best = ProbabilityCrossEntropyLoss(), KeepBest(model, min_improvement=0.001)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (
        (x, one_hot(y)) for x, y in (data["train"], data["val"], data["test"]))

    def measure(history):
        results = {"best_epoch": keep_best.epoch,
                   "best_val_acc": None if keep_best.state is None else keep_best.best}
        if keep_best.state is not None:
            model.load_state_dict(keep_best.state)
            results["test_loss"], results["test_acc"] = evaluate(
                model, loss, DataLoader(x_test, y_test, config["batch_size"]))
        if all(config[key] == value for key, value in WEIGHT_RUN.items()):
            results["weights_initial"] = initial[WEIGHT_UNITS].tolist()
            results["weights_kept"] = backend.to_numpy(model[0].weight.data)[WEIGHT_UNITS].tolist()
        return results

    return Setup(model, loss, SGD(model.parameters(), lr=config["lr"]),
                 DataLoader(x_train, y_train, config["batch_size"], shuffle=True,
                            seed=config["seed"]),
                 config["epochs"], DataLoader(x_val, y_val, config["batch_size"]),
                 callbacks=[keep_best, SigmoidProblems()], measure=measure)


def groups():
    for suffix, softmax in (("", "class"), ("_bug", "batch")):
        for study, (factor, values, fixed) in STUDIES.items():
            yield Group(study + suffix, vary={factor: values}, set={**fixed, "softmax": softmax})


def accuracy_cells(ctx):
    """The cells of each study, each correct-softmax cell followed by its bug twin."""
    for study, (factor, values, _) in STUDIES.items():
        cells = ctx.cells(study) + ctx.cells(study + "_bug")
        yield from sorted(cells, key=lambda cell, f=factor, v=values: v.index(cell.config[f]))


def original(cell):
    """The original's test accuracy, beside our cells with its bug (the batch-axis softmax)."""
    config = cell.config
    return ORIGINAL[config["hidden"], config["lr"]] if config["softmax"] == "batch" else None


def curves(study):
    return [Figure(f"{study}_{metric}.png", lambda ctx, metric=metric, name=name: plot_epoch_metric(
        {**ctx.histories(study), **ctx.histories(study + "_bug")},
        metric, f"E5 {study}: {name}", name)) for metric, name in METRICS.items()]


def sigmoid_figure(ctx):
    runs = [(name, history.extra["sigmoid"]) for study in STUDIES
            for name, history in ctx.histories(study).items() if history.extra.get("sigmoid")]
    panel = {"xlabel": "step"}
    return plot_panels([
        {**panel, "title": "saturated hidden units", "ylabel": "fraction",
         "series": {name: (s["step"], s["saturated"]) for name, s in runs}},
        {**panel, "title": "mean sigmoid slope y(1-y) (max 0.25)", "ylabel": "mean y(1-y)",
         "series": {name: (s["step"], s["mean_slope"]) for name, s in runs}},
        {**panel, "title": "gradient norm of W1", "ylabel": "L2 norm", "log_y": True,
         "series": {name: (s["step"], s["grad_norm_first"]) for name, s in runs}},
    ], width=5)


def sigmoid_rows(ctx):
    for study in STUDIES:
        for name, history in ctx.histories(study).items():
            stats = history.extra.get("sigmoid", {"step": []})
            for index in sorted({0, len(stats["step"]) - 1} - {-1}):
                yield name, {key: values[index] for key, values in stats.items()}


def weight_runs(ctx):
    found = [ctx.run(None, softmax=softmax, **WEIGHT_RUN) for softmax in SOFTMAX_DIM]
    return [run for run in found if run is not None and "weights_kept" in run.results]


def weights_figure(ctx):
    images, titles = [], []
    for run in weight_runs(ctx):
        kept, start = (numpy.asarray(run.results[k]) for k in ("weights_kept", "weights_initial"))
        for what, rows in (("weights", kept), ("change", kept - start)):
            images += [row.reshape(28, 28) for row in rows]
            titles += [f"unit {u} {what} ({run.config['softmax']})" for u in WEIGHT_UNITS]
    return plot_images(images, titles, columns=len(WEIGHT_UNITS)) if images else None


def weight_rows(ctx):
    x = numpy.concatenate([backend.to_numpy(ctx.data()[name][0]) for name in ("train", "val")])
    blank = x.max(axis=0) == x.min()                 # pixels that are 0 in every image
    for run in weight_runs(ctx):
        change = numpy.asarray(run.results["weights_kept"]) - run.results["weights_initial"]
        for unit, row in zip(WEIGHT_UNITS, change):
            yield run.config["softmax"], unit, row[blank].std(), row[~blank].std(), blank.sum()


experiment = Experiment(
    name="sigmoid_mlp", title="E5: a two-layer sigmoid network on MNIST", doc=__doc__,
    data=Data("mnist", mean=0.1307, std=0.3081, flatten=True, val_fraction=0.15,
              quick={"train": 2000, "val": 1000, "test": 1000}),
    plan=Plan({"hidden": 100, "lr": 1e-4, "softmax": "class", "batch_size": 1000, "epochs": 35},
              list(groups())),
    setup=setup,
    report=[
        Text("Linear(784,H) - Sigmoid - Linear(H,10) - Softmax, cross-entropy on the softmax "
             "probabilities against one-hot targets, plain SGD, batch 1000. The model kept is "
             "the one with the best val accuracy (an improvement must exceed 0.001, i.e. 0.1 "
             "point); its test accuracy is reported, with the epoch it was kept at. Original: "
             "the original's test accuracy, which had the batch-axis softmax (the bug)."),
        Section("Test accuracy (%) of the kept model", Table(
            accuracy_cells, Column("hidden", setting("hidden")), Column("lr", setting("lr")),
            Column("softmax", lambda cell: {"class": "correct", "batch": "batch-axis softmax "
                                            "(the bug)"}[cell.config["softmax"]]),
            *over_seeds("test acc (%)", value("test_acc"), original),
            Column("epoch kept, per seed", lambda cell: ", ".join(
                map(str, cell.values(value("best_epoch"))))))),
        Section("The original's softmax bug", Text(
            "The original normalised exp(z) over the batch axis (each class column of a batch "
            "of 1000 sums to 1) instead of over the classes. Every probability is then about "
            f"1/1000, so the loss starts near ln(1000) = {math.log(1000):.2f} instead of "
            f"ln(10) = {math.log(10):.2f}, and cannot go below about ln(100) = "
            f"{math.log(100):.2f} (the ~100 samples of a class in a batch share their "
            "column's total of 1). A gradient check passes for `Softmax(dim=0)` too: its "
            "backward is right for the function its forward computes. Only a test of the "
            "forward against what was meant (rows sum to 1) catches the bug."),
            Table(cells_of(), Column("cell", lambda cell: cell.label),
                  mean_of("loss at step 0, mean", lambda run: run.history.step_loss[0], "num"),
                  mean_of("final train loss, mean", final("train_loss"), "num"),
                  *over_seeds("final val acc (%)", final("val_acc")))),
        *[Section(f"{study.replace('_', ' ')}: curves", *curves(study)) for study in STUDIES],
        Section("Sigmoid's problems, measured", Text(
            "Sampled every 5 steps (correct softmax); first and last sample of the first "
            "seed's run of each cell. "
            "Saturated: output below 0.05 or above 0.95. Every gradient reaching W1 is scaled "
            "by the slope y(1-y) <= 0.25 (vanishing gradients); outputs lie in (0, 1), not "
            "zero-centred, so a sample's gradients into one unit share a sign (zig-zag "
            "updates)."),
            Table(sigmoid_rows, Column("run", lambda r: r[0]),
                  Column("step", lambda r: r[1]["step"]),
                  Column("saturated (%)", lambda r: r[1]["saturated"], "pct"),
                  Column("mean slope", lambda r: r[1]["mean_slope"], "num"),
                  Column("mean output", lambda r: r[1]["mean_output"], "num"),
                  Column("norm dL/dW1", lambda r: f"{r[1]['grad_norm_first']:.2e}"),
                  Column("norm dL/dW2", lambda r: f"{r[1]['grad_norm_second']:.2e}")),
            Figure("sigmoid_problems.png", sigmoid_figure, "saturation, slope, gradient norm")),
        Section("First-layer weights after H=100, lr 0.1", Text(
            "Units 0, 5, 10, 15, 20 of the kept model, each row of W1 as a 28x28 image, and "
            "its change from the initial weights. Pixels blank in every training image equal "
            "(0 - 0.1307) / 0.3081 in every input, so all their weights of a unit get the same "
            "gradient and move together, like a second bias, keeping their random initial "
            "pattern; strokes appear only where digits put ink. The spread of the change over "
            "both kinds of pixels measures it:"),
            Table(weight_rows, Column("softmax", lambda r: r[0]), Column("unit", lambda r: r[1]),
                  Column("std of the change, blank pixels", lambda r: f"{r[2]:.2e}"),
                  Column("other pixels", lambda r: f"{r[3]:.2e}"),
                  Column("blank pixels", lambda r: r[4], "int")),
            Figure("weights.png", weights_figure, "first-layer weights")),
    ],
)

if __name__ == "__main__":
    experiment.main()
