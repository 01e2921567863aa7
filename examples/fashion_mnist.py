"""E6: Fashion-MNIST - learning rate, width vs depth, gradients, MLP vs CNN (docs/experiments.md).

Fashion-MNIST 60k train / 10k test (the test split serves as validation, as in the original),
pixels scaled to [0, 1], train batch 64 shuffled (seeded), test batch 1000, plain SGD,
cross-entropy. Groups (questions): q2 lr in {1, 0.1, 0.01, 0.001} for the base and deep MLP;
q3 epochs until test accuracy first reaches 85% (at most max_epochs, 150; stopped when stuck
for 5 epochs); q5 wider or deeper (20 epochs); q6 gradient norm of the first 100 steps; q7 MLP
vs CNN (20 epochs, lr 0.001). Q1.1's sample images are drawn in the report.

    python examples/fashion_mnist.py                        # every question
    python examples/fashion_mnist.py --only q3 --set max_epochs=60
"""
from tinynet.data import FASHION_MNIST_CLASSES, DataLoader
from tinynet.losses import CrossEntropyLoss
from tinynet.models import deep_cnn, mlp, simple_cnn
from tinynet.optim import SGD
from tinynet.plots import plot_curves, plot_epoch_metric, plot_images, plot_step_losses
from tinynet.report import (Column, Figure, Section, Table, Text, cells_of, mean_of, over_seeds,
                            setting, show, status_and_time)
from tinynet.runner import Data, Experiment, Group, Plan, Setup
from tinynet.train import GradientNormLogger, StopAtAccuracy, StopOnPlateau

LRS, TARGET_ACC = [1.0, 0.1, 0.01, 0.001], 0.85
MODELS = {  # name -> (builder, parameter count the specification gives)
    "base MLP": (lambda: mlp((512, 512)), 669_706),
    "deep MLP": (lambda: mlp((512, 256, 128, 64), batchnorm=True), 576_970),
    "wider base": (lambda: mlp((1024, 1024)), 1_863_690),
    "deeper base": (lambda: mlp((512, 512, 512)), 932_362),
    "wider deep": (lambda: mlp((1024, 512, 256, 128, 64), batchnorm=True), 1_505_738),
    "deeper deep": (lambda: mlp((512, 256, 128, 64, 32, 16), batchnorm=True), 579_194),
    "simple CNN": (simple_cnn, 421_642),
    "deep CNN": (deep_cnn, 858_506),
}
MLPS = ["base MLP", "deep MLP"]
# What the original reported: accuracies in %, epochs to 85% (None: never reached).
ORIGINAL = {
    "q2": {"base MLP": {1.0: 10.0, 0.1: 87.3, 0.01: 83.4, 0.001: 71.1},
           "deep MLP": {1.0: 84.1, 0.1: 86.9, 0.01: 86.0, 0.001: 87.0}},
    "q3": {"base MLP": {1.0: None, 0.1: 5, 0.01: 17, 0.001: 119},
           "deep MLP": {1.0: 9, 0.1: 3, 0.01: 1, 0.001: 4}},
    "q5": {"base MLP": 85.51, "wider base": 85.88, "deeper base": 85.51, "deep MLP": 87.13,
           "wider deep": 87.80, "deeper deep": 86.71},
    "q7": {"base MLP": 78.46, "simple CNN": 81.15, "deep MLP": 88.32, "deep CNN": 89.59},
}


def setup(config, data):
    (x_train, y_train), (x_test, y_test) = data["train"], data["test"]
    if "CNN" not in config["model"]:                     # an MLP reads the images flattened
        x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    model = MODELS[config["model"]][0]()
    callbacks, plateau = [GradientNormLogger(100)], StopOnPlateau(patience=5, min_change=0.001)
    if "stop_at_acc" in config:
        callbacks += [StopAtAccuracy(config["stop_at_acc"]), plateau]
    return Setup(model, CrossEntropyLoss(), SGD(model.parameters(), lr=config["lr"]),
                 DataLoader(x_train, y_train, config["batch_size"], shuffle=True,
                            seed=config["seed"]),
                 config.get("max_epochs", config["epochs"]), DataLoader(x_test, y_test, 1000),
                 callbacks=callbacks, measure=lambda history: {
                     "parameters": model.num_parameters(),
                     "stopped_unchanged": plateau.triggered})


def test_acc(run):
    """The test accuracy after the last epoch of a run that finished (None if it diverged)."""
    return run.final("val_acc") if run.status in ("completed", "stopped") else None


def epochs_to_target(run):
    """The first epoch whose test accuracy reached the target, else why none did (a text)."""
    reached = [e["epoch"] for e in run.history.epochs if e["val_acc"] >= TARGET_ACC]
    if reached:
        return reached[0]
    best = show(run.best("val_acc"), "pct")
    if run.status == "diverged":
        return f"never: {run.status_text}"
    if run.results.get("stopped_unchanged"):
        last = show(run.final("val_acc"), "pct")
        return f"never: stuck, {last}% after {len(run.history.epochs)} epochs (best {best}%)"
    return f"not within {run.config['max_epochs']} (best {best}%)"


def reached(run):
    epochs = epochs_to_target(run)
    return epochs if isinstance(epochs, int) else None


def missed(cell):
    """Why each run of the cell that never reached the target did not."""
    texts = [text for text in map(epochs_to_target, cell.runs) if not isinstance(text, int)]
    return "; ".join(texts) or "-"


def by_model_and_lr(question, header, get, *extra, fmt="pct"):
    """One row per model and learning rate: ``get(run)`` over the seeds, the original's."""
    return Table(cells_of(question), Column("model", setting("model")), Column("lr", setting("lr")),
                 *over_seeds(header, get, lambda cell: ORIGINAL[question][cell.config["model"]][
                     cell.config["lr"]], fmt), *extra)


def models_table(question, *extra):
    return Table(cells_of(question), Column("model", setting("model")), *extra,
                 Column("parameters", lambda cell: cell.runs[0].results.get("parameters"), "int"),
                 *over_seeds("test acc (%)", test_acc, lambda cell: ORIGINAL[question][
                     cell.config["model"]]), *status_and_time())


def accuracy_curves(question, title):
    return Figure(f"{question}_test_acc.png", lambda ctx: plot_epoch_metric(
        ctx.histories(question, setting("model")), "val_acc",
        f"E6 {title}: test accuracy per epoch", "test accuracy"), "test accuracy per epoch")


def gradient_curves(question, title):
    return Figure(f"{question}_grad_norm.png", lambda ctx: plot_curves(
        {model: (range(len(g)), g) for model, history in ctx.histories(
            question, setting("model")).items() for g in [history.extra.get("grad_norm", [])]},
        f"E6 {title}: gradient norm, first 100 steps", "step", "global gradient L2 norm"),
        "gradient norm")


def q2_figures(model):
    slug = model.split()[0]

    def runs(ctx):
        return ctx.histories("q2", lambda cell: f"lr {cell.config['lr']:g}", model=model)
    return [Figure(f"q2_{slug}_loss.png", lambda ctx: plot_step_losses(
                runs(ctx), f"E6 Q1.2 {model}: training loss per step"), f"{model} loss"),
            Figure(f"q2_{slug}_test_acc.png", lambda ctx: plot_epoch_metric(
                runs(ctx), "val_acc", f"E6 Q1.2 {model}: test accuracy", "test accuracy"))]


def samples(ctx):
    """The first training images of three different classes."""
    x, labels = ctx.data()["train"]
    first = {}
    for index, label in enumerate(labels.tolist()):
        first.setdefault(label, index)
    return [(first[label], label) for label in list(first)[:3]]


experiment = Experiment(
    name="fashion_mnist", doc=__doc__,
    title="E6: Fashion-MNIST - learning rate, width vs depth, gradients, MLP vs CNN",
    data=Data("fashion-mnist", quick={"train": 320, "test": 200}),
    plan=Plan({"model": "base MLP", "lr": 0.01, "batch_size": 64, "epochs": 10}, [
        Group("q2", vary={"model": MLPS, "lr": LRS}),
        Group("q3", vary={"model": MLPS, "lr": LRS}, pinned=("epochs",),
              set={"stop_at_acc": TARGET_ACC, "max_epochs": 150}),
        Group("q5", vary={"model": [m for m in MODELS if "CNN" not in m]}, set={"epochs": 20}),
        Group("q6", vary={"model": MLPS}, set={"epochs": 1}, pinned=("epochs",)),
        Group("q7", vary={"model": ["base MLP", "simple CNN", "deep MLP", "deep CNN"]},
              set={"lr": 0.001, "epochs": 20})]),
    quick={"epochs": 1, "max_epochs": 3},
    setup=setup,
    report=[
        Text(lambda ctx: f"Fashion-MNIST: {ctx.samples['train']:,} training images, "
                         f"{ctx.samples['test']:,} test images (the test split is the "
                         f"validation set, as in the original), pixels in [0, 1]. Plain SGD, "
                         f"cross-entropy, batch 64 shuffled with a seeded generator. "
                         f"\"Accuracy\" is test accuracy after the last epoch, in eval mode. "
                         f"Original: the original's number (\"-\": it has none)."),
        Section("Q1.1 Three training images", Text(
            "Each image is 28x28 uint8 pixels; the network sees (1, 28, 28) floats in [0, 1] "
            "(a CNN) or 784 numbers (an MLP). Classes: " + ", ".join(
                f"{i} {name}" for i, name in enumerate(FASHION_MNIST_CLASSES)) + "."),
            Figure("samples.png", lambda ctx: plot_images(
                [ctx.data()["train"][0][i, 0] for i, _ in samples(ctx)],
                [f"#{i}: {FASHION_MNIST_CLASSES[label]}" for i, label in samples(ctx)]),
                "three training images")),
        Section("Q1.2 Learning rate", by_model_and_lr("q2", "test acc (%)", test_acc,
                                                      *status_and_time()),
                *q2_figures("base MLP"), *q2_figures("deep MLP"), group="q2"),
        Section(f"Q1.3 Epochs until test accuracy first reaches {100 * TARGET_ACC:g}%",
                Text("A run stops at the target, at the cap (max_epochs), or when its test "
                     "accuracy stayed within 0.1 point for 5 epochs (stuck). The original's "
                     "base MLP never reached it at lr 1."),
                by_model_and_lr("q3", "epochs to 85%", reached,
                                Column("runs that did not reach it", missed), fmt="count"),
                group="q3"),
        Section("Q1.5 Wider or deeper (lr 0.01)",
                models_table("q5", Column("specified parameters", lambda cell: MODELS[
                    cell.config["model"]][1], "int")),
                accuracy_curves("q5", "Q1.5"), group="q5"),
        Section("Q1.6 Gradient norm over the first 100 steps (lr 0.01)",
                Text("The global L2 norm of all parameter gradients, sqrt(sum ||grad||^2), after "
                     "backward and before the update (the original called it \"mean gradient "
                     "norm\")."),
                Table(cells_of("q6"), Column("model", setting("model")),
                      *[mean_of(f"step {i}, mean", lambda run, i=i: (run.history.extra.get(
                          "grad_norm", []) + [None] * 100)[i], "num") for i in (0, 9, 99)]),
                gradient_curves("q6", "Q1.6"), group="q6"),
        Section("Q1.7 MLP vs CNN (lr 0.001)", models_table("q7"), accuracy_curves("q7", "Q1.7"),
                gradient_curves("q7", "Q1.7"), group="q7"),
        Section("Notes on the comparison", Text(
            "- **Shuffling.** The original's loaders for Q1.2-Q1.5 did not shuffle; here every "
            "training loader shuffles with a seeded generator, as Q1.7's did.\n"
            "- **Test split as validation**, as in the original: Q1.3's stopping looks at it, "
            "so these are not clean held-out estimates.\n"
            "- **Seeds** (see the header): Q1.7 ran one seed per cell. Its CNNs take by far "
            "the longest per epoch (its s/epoch column); three seeds of them did not fit the "
            "compute. The original's numbers are single runs.")),
    ],
)

if __name__ == "__main__":
    experiment.main()
