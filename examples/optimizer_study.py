"""E1: update rules, BatchNorm and Dropout - 3 MLPs x 4 optimizers on MNIST (EXPERIMENTS.md, E1).

MNIST 60k train / 10k test, pixels /255, batch 100, shuffled, 5 epochs, lr 1e-3 for every
optimizer, cross-entropy. Models: plain 784-500-10; +BN (BatchNorm1d after the ReLU); +BN+DO
(and Dropout 0.5 after the BatchNorm). Optimizers: SGD, SGD momentum 0.9, RMSprop, Adam.

    python examples/optimizer_study.py                 # the 12 runs, NumPy backend
    python examples/optimizer_study.py --backend cupy
    python examples/optimizer_study.py --quick         # smoke test: 2k/1k samples, 1 epoch

Writes to --out: results.jsonl (a line per finished run), loss_curves_*.png and report.md with
the test-accuracy table next to the original's. Test accuracy is measured in eval mode; the
original tested in training mode (a bug), so that is measured too, on a copy of the model.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tinynet import backend
from tinynet.data import DataLoader, load_mnist, prepare_images
from tinynet.experiment import (RunLog, add_common_arguments, command_line, report_header,
                                run_missing, setup_backend)
from tinynet.losses import CrossEntropyLoss
from tinynet.nn import BatchNorm1d, Dropout, Linear, ReLU, Sequential
from tinynet.optim import SGD, Adam, RMSprop
from tinynet.plots import plot_step_losses
from tinynet.train import History, evaluate, fit

EPOCHS, BATCH_SIZE, LR = 5, 100, 1e-3
MODELS = ("plain", "+BN", "+BN+DO")
OPTIMIZERS = {
    "SGD": lambda params: SGD(params, lr=LR),
    "Momentum": lambda params: SGD(params, lr=LR, momentum=0.9),
    "RMSprop": lambda params: RMSprop(params, lr=LR),
    "Adam": lambda params: Adam(params, lr=LR),
}
# Test accuracy (%) the original reported (evaluated, by mistake, in training mode).
ORIGINAL = {
    "plain": {"SGD": 78.47, "Momentum": 90.62, "RMSprop": 98.03, "Adam": 97.90},
    "+BN": {"SGD": 92.71, "Momentum": 96.98, "RMSprop": 97.59, "Adam": 97.65},
    "+BN+DO": {"SGD": 90.73, "Momentum": 95.79, "RMSprop": 96.61, "Adam": 96.78},
}
QUICK_TRAIN, QUICK_TEST = 2000, 1000


def build_model(name: str) -> Sequential:
    """Linear(784,500) - ReLU - [BatchNorm1d(500)] - [Dropout(0.5)] - Linear(500,10)."""
    layers = [Linear(784, 500), ReLU()]
    if "BN" in name:
        layers.append(BatchNorm1d(500))
    if "DO" in name:
        layers.append(Dropout(0.5))
    return Sequential(*layers, Linear(500, 10))


def load_data(data_dir, quick: bool):
    train_images, train_labels = load_mnist("train", data_dir=data_dir)
    test_images, test_labels = load_mnist("test", data_dir=data_dir)
    x_train, x_test = (prepare_images(images, flatten=True)
                       for images in (train_images, test_images))
    if quick:
        return ((x_train[:QUICK_TRAIN], train_labels[:QUICK_TRAIN]),
                (x_test[:QUICK_TEST], test_labels[:QUICK_TEST]))
    return (x_train, train_labels), (x_test, test_labels)


def train_one(config: dict, data, progress: bool):
    (x_train, y_train), (x_test, y_test) = data
    backend.seed(config["seed"])
    model = build_model(config["model"])
    optimizer = OPTIMIZERS[config["optimizer"]](model.parameters())
    loss_fn = CrossEntropyLoss()
    train_loader = DataLoader(x_train, y_train, BATCH_SIZE, shuffle=True, seed=config["seed"])
    test_loader = DataLoader(x_test, y_test, BATCH_SIZE)
    history = fit(model, loss_fn, optimizer, train_loader, config["epochs"], progress=progress,
                  description=f"{config['model']} {config['optimizer']}")
    results = {}
    if history.status == "completed":
        results["test_loss"], results["test_acc"] = evaluate(model, loss_fn, test_loader)
        # The original's protocol: the model left in training mode (batch statistics, dropout).
        _, results["test_acc_train_mode"] = evaluate(model.copy(), loss_fn, test_loader,
                                                     train_mode=True)
    return history, results


def run_id(config: dict) -> str:
    return f"{config['model']} {config['optimizer']}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser, default_out="runs/optimizer_study")
    args = parser.parse_args(argv)
    setup_backend(parser, args)
    epochs = args.epochs or (1 if args.quick else EPOCHS)
    log = RunLog(args.out, resume=args.resume)
    data = load_data(args.data_dir, args.quick)
    configs = [{"model": model, "optimizer": optimizer, "epochs": epochs, "seed": args.seed,
                "quick": args.quick} for model in MODELS for optimizer in OPTIMIZERS]
    started = time.perf_counter()
    run_missing(log, [(run_id(c), c) for c in configs],
                lambda config: train_one(config, data, progress=not args.quiet))
    command = command_line("optimizer_study.py", sys.argv[1:] if argv is None else argv)
    write_report(Path(args.out), log, configs, time.perf_counter() - started, command)
    print(f"report: {Path(args.out) / 'report.md'}")


# --- report ---------------------------------------------------------------------------------

def write_report(out: Path, log: RunLog, configs, session_seconds: float, command: str):
    records = {run_id(c): log.records[run_id(c)] for c in configs}
    epochs = configs[0]["epochs"]
    lines = report_header("E1: optimizers, BatchNorm and Dropout (MLP on MNIST)", log, command,
                          session_seconds) + [
        f"MNIST 60k train / 10k test, pixels /255, batch {BATCH_SIZE}, shuffled, {epochs} "
        f"epoch(s), lr {LR} for every optimizer, cross-entropy, seed {configs[0]['seed']}.", "",
        "## Test accuracy (%), evaluated in eval mode", "",
        _table(records, "test_acc", with_original=True), "",
        "## Test accuracy (%) with the original's protocol (model left in training mode)", "",
        "The original never called `model.eval()` before testing, so BatchNorm normalised each "
        "test batch with its own statistics and Dropout stayed active. Measured the same way "
        "(on a copy of the trained model):", "",
        _table(records, "test_acc_train_mode", with_original=True), "",
        "## Training loss per step", "",
        "Means of consecutive chunks of 10 steps (the original logged every 100 steps).", "",
        *[f"![{model} loss curves]({_loss_plot_name(model)})" for model in MODELS], "",
        "## Seconds per epoch (training only)", "",
        _seconds_table(records), "",
    ]
    _plot(records, out)
    (out / "report.md").write_text("\n".join(lines) + "\n")


def _table(records, key, with_original):
    header = "| model | " + " | ".join(OPTIMIZERS) + " |"
    rows = [header, "|---" * (len(OPTIMIZERS) + 1) + "|"]
    for model in MODELS:
        cells = []
        for optimizer in OPTIMIZERS:
            record = records[f"{model} {optimizer}"]
            value = record["results"].get(key)
            cell = "diverged" if value is None else f"{100 * value:.2f}"
            if with_original:
                cell += f" ({ORIGINAL[model][optimizer]:.2f})"
            cells.append(cell)
        rows.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n\nIn brackets: the original's reported test accuracy."


def _seconds_table(records):
    rows = ["| model | " + " | ".join(OPTIMIZERS) + " |", "|---" * (len(OPTIMIZERS) + 1) + "|"]
    for model in MODELS:
        cells = []
        for optimizer in OPTIMIZERS:
            epochs = records[f"{model} {optimizer}"]["history"]["epochs"]
            cells.append(f"{sum(e['train_seconds'] for e in epochs) / max(len(epochs), 1):.2f}")
        rows.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _loss_plot_name(model: str) -> str:
    return f"loss_curves_{model.strip('+').replace('+', '_').lower()}.png"


def _plot(records, out: Path):
    """One figure per model, its four optimizers together."""
    for model in MODELS:
        histories = {optimizer: History.from_dict(records[f"{model} {optimizer}"]["history"])
                     for optimizer in OPTIMIZERS}
        steps = len(next(iter(histories.values())).step_loss)
        plot_step_losses(histories, out / _loss_plot_name(model),
                         f"E1 {model}: training loss per step", max_points=max(steps // 10, 1))


if __name__ == "__main__":
    main()
