"""E1: update rules, BatchNorm and Dropout - 3 MLPs x 4 optimizers on MNIST (docs/experiments.md).

MNIST 60k train / 10k test, pixels /255, batch 100, shuffled, 5 epochs, lr 1e-3 for every
optimizer, cross-entropy. Models: plain 784-500-10; +BN (BatchNorm1d after the ReLU); +BN+DO
(and Dropout 0.5 after the BatchNorm). Optimizers: SGD, SGD momentum 0.9, RMSprop, Adam.
Test accuracy is measured in eval mode; the original tested in training mode (a bug), so that
is measured too, on a copy of the model.

    python examples/optimizer_study.py                 # the 12 runs, on every core
    python examples/optimizer_study.py --backend cupy
    python examples/optimizer_study.py --quick         # smoke test: 2k/1k samples, 1 epoch
"""
from tinynet.data import DataLoader
from tinynet.losses import CrossEntropyLoss
from tinynet.models import mlp
from tinynet.optim import SGD, Adam, RMSprop
from tinynet.plots import plot_step_losses
from tinynet.report import (Column, Figure, Section, Table, Text, cells_of, over_seeds, setting,
                            status_and_time, value)
from tinynet.runner import Data, Experiment, Group, Plan, Setup
from tinynet.train import evaluate

MODELS = {"plain": {}, "+BN": {"batchnorm": True}, "+BN+DO": {"batchnorm": True, "dropout": 0.5}}
OPTIMIZERS = {"SGD": (SGD, {}), "Momentum": (SGD, {"momentum": 0.9}), "RMSprop": (RMSprop, {}),
              "Adam": (Adam, {})}
# Test accuracy (%) the original reported (evaluated, by mistake, in training mode).
ORIGINAL = {
    "plain": {"SGD": 78.47, "Momentum": 90.62, "RMSprop": 98.03, "Adam": 97.90},
    "+BN": {"SGD": 92.71, "Momentum": 96.98, "RMSprop": 97.59, "Adam": 97.65},
    "+BN+DO": {"SGD": 90.73, "Momentum": 95.79, "RMSprop": 96.61, "Adam": 96.78},
}


def setup(config, data):
    model = mlp((500,), **MODELS[config["model"]])
    optimizer, options = OPTIMIZERS[config["optimizer"]]
    loss = CrossEntropyLoss()
    test = DataLoader(*data["test"], config["batch_size"])

    def measure(history):
        if history.status != "completed":
            return {}
        test_loss, test_acc = evaluate(model, loss, test)
        # The original's protocol: the model left in training mode (batch statistics, dropout).
        _, train_mode_acc = evaluate(model.copy(), loss, test, train_mode=True)
        return {"test_loss": test_loss, "test_acc": test_acc,
                "test_acc_train_mode": train_mode_acc}

    return Setup(model, loss, optimizer(model.parameters(), lr=config["lr"], **options),
                 DataLoader(*data["train"], config["batch_size"], shuffle=True,
                            seed=config["seed"]),
                 config["epochs"], measure=measure)


def accuracy_table(key, *extra):
    """One row per model and optimizer: the test accuracy over the seeds, the original's."""
    return Table(cells_of("grid"), Column("model", setting("model")),
                 Column("optimizer", setting("optimizer")),
                 *over_seeds("test acc (%)", value(key), lambda cell: ORIGINAL[
                     cell.config["model"]][cell.config["optimizer"]]), *extra)


def loss_figure(model):
    def draw(ctx):
        runs = ctx.histories("grid", lambda cell: cell.config["optimizer"], model=model)
        steps = max((len(h.step_loss) for h in runs.values()), default=10)
        return plot_step_losses(runs, f"E1 {model}: training loss per step",
                                max_points=max(steps // 10, 1))
    slug = model.strip("+").replace("+", "_").lower()
    return Figure(f"loss_curves_{slug}.png", draw, f"{model} loss curves")


experiment = Experiment(
    name="optimizer_study", title="E1: optimizers, BatchNorm and Dropout (MLP on MNIST)",
    doc=__doc__, data=Data("mnist", flatten=True, quick={"train": 2000, "test": 1000}),
    plan=Plan({"lr": 1e-3, "batch_size": 100, "epochs": 5},
              [Group("grid", vary={"model": list(MODELS), "optimizer": list(OPTIMIZERS)})]),
    setup=setup,
    report=[
        Text(lambda ctx: f"MNIST {ctx.samples['train']:,} train / {ctx.samples['test']:,} "
                         f"test, pixels /255, batch 100, shuffled, lr 1e-3 for every "
                         f"optimizer, cross-entropy. Original: the original's test "
                         f"accuracy (%), measured in training mode. Time: training only."),
        Section("Test accuracy (%), evaluated in eval mode",
                accuracy_table("test_acc", *status_and_time())),
        Section("Test accuracy (%) with the original's protocol (model left in training mode)",
                Text("The original never called `model.eval()` before testing, so BatchNorm "
                     "normalised each test batch with its own statistics and Dropout stayed "
                     "active. Measured the same way (on a copy of the trained model):"),
                accuracy_table("test_acc_train_mode")),
        Section("Training loss per step",
                Text("Means of consecutive chunks of 10 steps (the original logged every 100 "
                     "steps)."),
                *[loss_figure(model) for model in MODELS]),
    ],
)

if __name__ == "__main__":
    experiment.main()
