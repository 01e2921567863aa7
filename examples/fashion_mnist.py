"""E6: Fashion-MNIST - learning rate, width vs depth, gradients, MLP vs CNN (EXPERIMENTS.md, E6).

Fashion-MNIST 60k train / 10k test (the test split serves as validation, as in the original),
pixels scaled to [0, 1], train batch 64 shuffled (seeded), test batch 1000, plain SGD,
cross-entropy. Questions (``--question``, comma-separated, default all):

- q1: three training images of different classes with their names, and the image shape;
- q2: lr in {1, 0.1, 0.01, 0.001}, 10 epochs, base MLP and deep MLP: loss curves, accuracy table;
- q3: epochs until test accuracy first reaches 85% at each lr (capped by --max-epochs; a run
  whose accuracy has not changed for 5 epochs is stopped);
- q5: base vs wider vs deeper (both families), 20 epochs, lr 0.01, with parameter counts;
- q6: global gradient norm of the first 100 steps at lr 0.01, base and deep MLP;
- q7: MLP vs CNN, 20 epochs, lr 0.001: accuracy, parameter count, gradient-norm curves.

    python examples/fashion_mnist.py                        # every question, NumPy backend
    python examples/fashion_mnist.py --question q2,q3       # some of them
    python examples/fashion_mnist.py --question q3 --max-epochs 60
    python examples/fashion_mnist.py --backend cupy
    python examples/fashion_mnist.py --quick                # smoke test: 320/200 images

Writes to --out: results.jsonl (a line per finished run; a run shared by two questions is
trained once), samples.png, q2_*.png, q5_test_acc.png, q6_grad_norm.png, q7_*.png, report.md.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt

from tinynet import backend
from tinynet.data import FASHION_MNIST_CLASSES, DataLoader, load_fashion_mnist, prepare_images
from tinynet.experiment import (RunLog, add_common_arguments, command_line, report_header,
                                run_missing, setup_backend)
from tinynet.losses import CrossEntropyLoss
from tinynet.nn import (BatchNorm1d, BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU,
                        Sequential)
from tinynet.optim import SGD
from tinynet.plots import plot_epoch_metric, plot_step_losses   # also selects a file backend
from tinynet.train import Callback, GradientNormLogger, History, StopAtAccuracy, fit

QUESTIONS = ("q1", "q2", "q3", "q5", "q6", "q7")
BATCH_SIZE, TEST_BATCH_SIZE, GRAD_STEPS = 64, 1000, 100
LRS = (1.0, 0.1, 0.01, 0.001)
TARGET_ACC, PATIENCE, MIN_CHANGE = 0.85, 5, 0.001
EPOCHS = {"q2": 10, "q5": 20, "q7": 20}
DEFAULT_MAX_EPOCHS = 150    # the original needed 119 epochs for the base MLP at lr 0.001


def mlp(widths) -> Sequential:
    """784 -> widths[0] -> ... -> 10, each hidden Linear followed by ReLU."""
    layers, fan_in = [], 784
    for width in widths:
        layers += [Linear(fan_in, width), ReLU()]
        fan_in = width
    return Sequential(*layers, Linear(fan_in, 10))


def bn_mlp(widths, in_features: int = 784) -> Sequential:
    """in_features -> widths... -> 10, each hidden Linear followed by ReLU then BatchNorm1d."""
    layers, fan_in = [], in_features
    for width in widths:
        layers += [Linear(fan_in, width), ReLU(), BatchNorm1d(width)]
        fan_in = width
    return Sequential(*layers, Linear(fan_in, 10))


def simple_cnn() -> Sequential:
    return Sequential(
        Conv2d(1, 32, 3, padding=1), ReLU(), MaxPool2d(2),      # 1x28x28 -> 32x14x14
        Conv2d(32, 64, 3, padding=1), ReLU(), MaxPool2d(2),     # -> 64x7x7
        Flatten(), Linear(3136, 128), ReLU(), Linear(128, 10))


def deep_cnn() -> Sequential:
    layers, channels_in = [], 1
    for channels in (32, 64, 128):                              # 28 -> 14 -> 7 -> 3
        layers += [Conv2d(channels_in, channels, 3, padding=1), ReLU(), BatchNorm2d(channels),
                   MaxPool2d(2)]
        channels_in = channels
    head = bn_mlp((512, 256, 128, 64), in_features=128 * 3 * 3)
    return Sequential(*layers, Flatten(), *head.layers)


# name -> (builder, parameter count given in EXPERIMENTS.md)
MODELS = {
    "base MLP": (lambda: mlp((512, 512)), 669_706),
    "deep MLP": (lambda: bn_mlp((512, 256, 128, 64)), 576_970),
    "wider base": (lambda: mlp((1024, 1024)), 1_863_690),
    "deeper base": (lambda: mlp((512, 512, 512)), 932_362),
    "wider deep": (lambda: bn_mlp((1024, 512, 256, 128, 64)), 1_505_738),
    "deeper deep": (lambda: bn_mlp((512, 256, 128, 64, 32, 16)), 579_194),
    "simple CNN": (simple_cnn, 421_642),
    "deep CNN": (deep_cnn, 858_506),
}
CNNS = ("simple CNN", "deep CNN")
Q5_MODELS = ("base MLP", "wider base", "deeper base", "deep MLP", "wider deep", "deeper deep")
Q7_MODELS = ("base MLP", "simple CNN", "deep MLP", "deep CNN")

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
QUICK_TRAIN, QUICK_TEST, QUICK_MAX_EPOCHS = 320, 200, 3


def build_model(name: str) -> Sequential:
    return MODELS[name][0]()


class StopWhenUnchanged(Callback):
    """Stops a run whose ``metric`` has not changed for ``patience`` epochs: the last
    ``patience + 1`` values all lie within ``min_change`` of each other."""

    def __init__(self, patience: int, min_change: float, metric: str = "val_acc"):
        self.patience, self.min_change, self.metric = patience, min_change, metric
        self.values, self.triggered = [], False

    def on_epoch_end(self, epoch, record, history):
        self.values.append(record[self.metric])
        recent = self.values[-(self.patience + 1):]
        self.triggered = (len(recent) == self.patience + 1
                          and max(recent) - min(recent) <= self.min_change)
        return self.triggered


def load_data(data_dir, quick: bool):
    """Train and test images as (N, 1, 28, 28) float32 in [0, 1] (an MLP reads them flattened,
    through a view), integer labels, and the raw training images for q1."""
    (train_images, train_labels), (test_images, test_labels) = (
        load_fashion_mnist(split, data_dir=data_dir) for split in ("train", "test"))
    train, test = ((prepare_images(images), labels) for images, labels in
                   ((train_images, train_labels), (test_images, test_labels)))
    if quick:
        train, test = (train[0][:QUICK_TRAIN], train[1][:QUICK_TRAIN]), (
            test[0][:QUICK_TEST], test[1][:QUICK_TEST])
    return train, test, (train_images, train_labels)


def train_one(config: dict, data, progress: bool):
    (x_train, y_train), (x_test, y_test), _ = data
    if config["model"] not in CNNS:
        x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    backend.seed(config["seed"])
    model = build_model(config["model"])
    callbacks = [GradientNormLogger(GRAD_STEPS)]
    unchanged = None
    if config.get("stop_at_acc"):
        unchanged = StopWhenUnchanged(PATIENCE, MIN_CHANGE)
        callbacks += [StopAtAccuracy(config["stop_at_acc"]), unchanged]
    history = fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=config["lr"]),
                  DataLoader(x_train, y_train, BATCH_SIZE, shuffle=True, seed=config["seed"]),
                  config["epochs"], DataLoader(x_test, y_test, TEST_BATCH_SIZE),
                  callbacks=callbacks, progress=progress, description=run_id(config))
    results = {"parameters": model.num_parameters()}
    if unchanged is not None:
        results["stopped_unchanged"] = unchanged.triggered
    return history, results


def run_id(config: dict) -> str:
    text = f"{config['model']} lr={config['lr']:g} "
    if config.get("stop_at_acc"):
        return text + f"until {100 * config['stop_at_acc']:g}% (cap {config['epochs']} epochs)"
    return text + f"{config['epochs']} epochs"


def planned_runs(questions, epochs_override, max_epochs: int, seed: int, quick: bool) -> dict:
    """question -> list of configs (the same config in two questions is one run)."""
    def config(model, lr, epochs, **extra):
        return dict(model=model, lr=lr, epochs=epochs, seed=seed, quick=quick, **extra)

    def epochs(question):
        return epochs_override or (1 if quick else EPOCHS[question])

    plan = {"q1": []}
    plan["q2"] = [config(m, lr, epochs("q2")) for m in ("base MLP", "deep MLP") for lr in LRS]
    plan["q3"] = [config(m, lr, max_epochs, stop_at_acc=TARGET_ACC)
                  for m in ("base MLP", "deep MLP") for lr in LRS]
    plan["q5"] = [config(m, 0.01, epochs("q5")) for m in Q5_MODELS]
    plan["q6"] = [config(m, 0.01, 1) for m in ("base MLP", "deep MLP")]   # 1 epoch > 100 steps
    plan["q7"] = [config(m, 0.001, epochs("q7")) for m in Q7_MODELS]
    return {question: plan[question] for question in questions}


def parse_questions(text: str):
    chosen = QUESTIONS if text == "all" else tuple(part.strip() for part in text.split(","))
    unknown = [q for q in chosen if q not in QUESTIONS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown question(s) {unknown}: choose from {', '.join(QUESTIONS)} or all")
    return tuple(q for q in QUESTIONS if q in chosen)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser, default_out="runs/fashion_mnist")
    parser.add_argument("--question", type=parse_questions, default=QUESTIONS,
                        help=f"comma-separated questions among {','.join(QUESTIONS)}, or all "
                             f"(default). --epochs overrides q2, q5 and q7")
    parser.add_argument("--max-epochs", type=int, default=None,
                        help=f"q3: cap on the epochs of a run that has not reached "
                             f"{100 * TARGET_ACC:g}%% (default {DEFAULT_MAX_EPOCHS}; "
                             f"{QUICK_MAX_EPOCHS} with --quick)")
    args = parser.parse_args(argv)
    setup_backend(parser, args)
    if args.max_epochs is not None and args.max_epochs < 1:
        parser.error(f"--max-epochs must be >= 1, got {args.max_epochs}")
    max_epochs = args.max_epochs or (QUICK_MAX_EPOCHS if args.quick else DEFAULT_MAX_EPOCHS)
    log = RunLog(args.out, resume=args.resume)
    data = load_data(args.data_dir, args.quick)
    plan = planned_runs(args.question, args.epochs, max_epochs, args.seed, args.quick)
    started = time.perf_counter()
    unique = {run_id(c): c for configs in plan.values() for c in configs}
    run_missing(log, unique.items(),
                lambda config: train_one(config, data, progress=not args.quiet))
    command = command_line("fashion_mnist.py", sys.argv[1:] if argv is None else argv)
    write_report(Path(args.out), log, plan, data, time.perf_counter() - started, command)
    print(f"report: {Path(args.out) / 'report.md'}")


# --- report ---------------------------------------------------------------------------------

def write_report(out: Path, log: RunLog, plan: dict, data, session_seconds: float,
                 command: str):
    (x_train, _), (x_test, _), _ = data
    title = "E6: Fashion-MNIST - learning rate, width vs depth, gradients, MLP vs CNN"
    if log.records:
        lines = report_header(title, log, command, session_seconds)
    else:
        lines = [f"# {title}", "", f"Command: `{command}`", ""]
    lines += [
        f"Fashion-MNIST: {len(x_train):,} training images, {len(x_test):,} test images (the "
        f"test split is the validation set, as in the original), pixels scaled to [0, 1]. "
        f"Plain SGD, cross-entropy, train batch {BATCH_SIZE} shuffled with a seeded "
        f"generator, test batch {TEST_BATCH_SIZE}; every run starts from the seed's initial "
        f"weights. \"Accuracy\" below is test accuracy after the last epoch, in eval mode.", "",
    ]
    sections = {"q1": _q1, "q2": _q2, "q3": _q3, "q5": _q5, "q6": _q6, "q7": _q7}
    for question, configs in plan.items():
        records = {run_id(c): log.records[run_id(c)] for c in configs}
        lines += sections[question](out, configs, records, data)
    lines += NOTES
    (out / "report.md").write_text("\n".join(lines) + "\n")


def _history(records, config) -> History:
    return History.from_dict(records[run_id(config)]["history"])


def _q1(out, configs, records, data) -> list:
    _, _, (images, labels) = data
    chosen, seen = [], set()
    for index, label in enumerate(labels):
        if int(label) not in seen:
            chosen.append(index)
            seen.add(int(label))
        if len(chosen) == 3:
            break
    fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.9))
    for ax, index in zip(axes, chosen):
        ax.imshow(images[index], cmap="gray")
        ax.set_title(f"#{index}: {FASHION_MNIST_CLASSES[int(labels[index])]} "
                     f"({int(labels[index])})", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out / "samples.png", dpi=110)
    plt.close(fig)
    shape = tuple(images[chosen[0]].shape)
    print(f"q1: image shape {shape} (uint8); network input (1, 28, 28) for a CNN, 784 "
          f"flattened for an MLP")
    names = ", ".join(f"#{i} {FASHION_MNIST_CLASSES[int(labels[i])]}" for i in chosen)
    return [
        "## Q1.1 Three training images", "",
        f"The first training images of three different classes: {names}. Each image is "
        f"{shape[0]}x{shape[1]} uint8 pixels, shape {shape}; the network sees it as a "
        f"(1, 28, 28) float array in [0, 1] (a CNN) or 784 numbers (an MLP). Classes: "
        + ", ".join(f"{i} {name}" for i, name in enumerate(FASHION_MNIST_CLASSES)) + ".", "",
        "![three training images](samples.png)", "",
    ]


def _q2(out, configs, records, data) -> list:
    rows = ["| model | " + " | ".join(f"lr {lr:g}" for lr in LRS) + " |",
            "|---" * (len(LRS) + 1) + "|"]
    images = []
    for model in ("base MLP", "deep MLP"):
        mine = [c for c in configs if c["model"] == model]
        rows.append(f"| {model} | " + " | ".join(
            f"{_final_acc(records[run_id(c)])} ({ORIGINAL['q2'][model][c['lr']]:.1f})"
            for c in mine) + " |")
        histories = {f"lr {c['lr']:g}": _history(records, c) for c in mine}
        slug = model.split()[0]
        plot_step_losses(histories, out / f"q2_{slug}_loss.png",
                         f"E6 Q1.2 {model}: training loss per step")
        plot_epoch_metric(histories, "val_acc", out / f"q2_{slug}_test_acc.png",
                          f"E6 Q1.2 {model}: test accuracy per epoch", "test accuracy")
        images += [f"![{model} loss](q2_{slug}_loss.png)",
                   f"![{model} test accuracy](q2_{slug}_test_acc.png)"]
    return [
        f"## Q1.2 Learning rate ({configs[0]['epochs']} epoch(s))", "",
        "Test accuracy (%) after the last epoch; in brackets the original's.", "",
        *rows, "", *images, "",
    ]


def _q3(out, configs, records, data) -> list:
    cap = configs[0]["epochs"]
    rows = ["| model | " + " | ".join(f"lr {lr:g}" for lr in LRS) + " |",
            "|---" * (len(LRS) + 1) + "|"]
    for model in ("base MLP", "deep MLP"):
        cells = []
        for c in (c for c in configs if c["model"] == model):
            original = ORIGINAL["q3"][model][c["lr"]]
            cells.append(f"{_epochs_to_target(records[run_id(c)], cap)} "
                         f"({'N/A' if original is None else original})")
        rows.append(f"| {model} | " + " | ".join(cells) + " |")
    return [
        f"## Q1.3 Epochs until test accuracy first reaches {100 * TARGET_ACC:g}%", "",
        f"Each run trains until its test accuracy reaches {100 * TARGET_ACC:g}%, for at most "
        f"**{cap} epochs** (the cap, `--max-epochs`); a run whose test accuracy has stayed "
        f"within {100 * MIN_CHANGE:g} point for {PATIENCE} epochs (the last {PATIENCE + 1} "
        f"values) is stopped as stuck. In brackets the original's epochs (N/A: never "
        f"reached).", "",
        *rows, "",
    ]


def _q5(out, configs, records, data) -> list:
    rows = ["| model | layers | parameters | parameters in EXPERIMENTS.md | test acc (%) | "
            "original (%) | s/epoch |", "|---|---|---|---|---|---|---|"]
    histories = {}
    for c in configs:
        record = records[run_id(c)]
        histories[c["model"]] = _history(records, c)
        rows.append(f"| {c['model']} | {_architecture(c['model'])} | "
                    f"{record['results']['parameters']:,} | {MODELS[c['model']][1]:,} | "
                    f"{_final_acc(record)} | {ORIGINAL['q5'][c['model']]:.2f} | "
                    f"{_seconds_per_epoch(record)} |")
    plot_epoch_metric(histories, "val_acc", out / "q5_test_acc.png",
                      "E6 Q1.5: test accuracy per epoch (SGD lr 0.01)", "test accuracy")
    return [
        f"## Q1.5 Wider or deeper ({configs[0]['epochs']} epoch(s), lr 0.01)", "",
        *rows, "", "![test accuracy per epoch](q5_test_acc.png)", "",
    ]


def _q6(out, configs, records, data) -> list:
    histories = {c["model"]: _history(records, c) for c in configs}
    _plot_grad_norms(histories, out / "q6_grad_norm.png",
                     "E6 Q1.6: gradient norm, first 100 steps (SGD lr 0.01)")
    rows = ["| model | step 0 | step 9 | step 99 | mean over the steps |", "|---|---|---|---|---|"]
    for model, history in histories.items():
        norms = history.extra.get("grad_norm", [])
        rows.append(f"| {model} | " + " | ".join(
            f"{norms[i]:.3f}" if i < len(norms) else "-" for i in (0, 9, 99)) +
            f" | {sum(norms) / max(len(norms), 1):.3f} |")
    return [
        "## Q1.6 Gradient norm over the first 100 steps (lr 0.01)", "",
        "The global L2 norm of all parameter gradients, sqrt(sum over parameters of "
        "||grad||^2), at each step (the original labelled it \"mean gradient norm\"), recorded "
        "by `GradientNormLogger` after backward and before the update.", "",
        *rows, "", "![gradient norm](q6_grad_norm.png)", "",
    ]


def _q7(out, configs, records, data) -> list:
    rows = ["| model | parameters | test acc (%) | original (%) | s/epoch |",
            "|---|---|---|---|---|"]
    histories = {}
    for c in configs:
        record = records[run_id(c)]
        histories[c["model"]] = _history(records, c)
        rows.append(f"| {c['model']} | {record['results']['parameters']:,} | "
                    f"{_final_acc(record)} | {ORIGINAL['q7'][c['model']]:.2f} | "
                    f"{_seconds_per_epoch(record)} |")
    plot_epoch_metric(histories, "val_acc", out / "q7_test_acc.png",
                      "E6 Q1.7: test accuracy per epoch (SGD lr 0.001)", "test accuracy")
    _plot_grad_norms(histories, out / "q7_grad_norm.png",
                     "E6 Q1.7: gradient norm, first 100 steps (SGD lr 0.001)")
    return [
        f"## Q1.7 MLP vs CNN ({configs[0]['epochs']} epoch(s), lr 0.001)", "",
        *rows, "", "![test accuracy per epoch](q7_test_acc.png) "
                   "![gradient norm](q7_grad_norm.png)", "",
    ]


def _plot_grad_norms(histories: dict, path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, history in histories.items():
        norms = history.extra.get("grad_norm", [])
        ax.plot(range(len(norms)), norms, label=label)
    ax.set(xlabel="step", ylabel="global gradient L2 norm", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _final_acc(record) -> str:
    epochs, status = record["history"]["epochs"], record["history"]["status"]
    if status == "diverged":
        return f"diverged at step {record['history']['diverged_at_step']}"
    return f"{100 * epochs[-1]['val_acc']:.2f}" if epochs else "-"


def _epochs_to_target(record, cap: int) -> str:
    history = record["history"]
    for epoch in history["epochs"]:
        if epoch["val_acc"] >= TARGET_ACC:
            return str(epoch["epoch"])
    if history["status"] == "diverged":
        return f"never: diverged at step {history['diverged_at_step']}"
    best = max((e["val_acc"] for e in history["epochs"]), default=0.0)
    if record["results"].get("stopped_unchanged"):
        return f"never: stuck at {100 * best:.1f}% after {len(history['epochs'])} epochs"
    return f"not within {cap} (best {100 * best:.1f}%)"


def _seconds_per_epoch(record) -> str:
    epochs = record["history"]["epochs"]
    return f"{sum(e['train_seconds'] for e in epochs) / max(len(epochs), 1):.1f}"


def _architecture(name: str) -> str:
    model = build_model(name)
    widths = [str(layer.out_features) for layer in model.layers if isinstance(layer, Linear)]
    norm = " (ReLU+BatchNorm1d)" if any(isinstance(layer, BatchNorm1d)
                                        for layer in model.layers) else " (ReLU)"
    return "784-" + "-".join(widths) + norm


NOTES = [
    "## Notes on the comparison", "",
    "- **Shuffling.** The original's training loaders for Q1.2-Q1.5 did not shuffle (every "
    "epoch saw the images in the same order); here every training loader shuffles with a "
    "seeded generator, as Q1.7's already did.",
    "- **Test split as validation**, as in the original: the numbers are test accuracies, and "
    "Q1.3's stopping looks at them, so they are not a clean held-out estimate.",
    "- Single runs from one seed; the original's numbers carry seed noise of about +-0.3 point "
    "for converged runs and several points for slow or unstable ones (lr 0.001, lr >= 0.1).",
]


if __name__ == "__main__":
    main()
