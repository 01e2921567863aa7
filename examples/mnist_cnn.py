"""E2: a small LeNet-style CNN on MNIST (EXPERIMENTS.md, E2).

MNIST 60k/10k, pixels /255 then normalised with mean 0.1307, std 0.3081, batch 64, shuffled.
Conv2d(1,16,5) - ReLU - MaxPool2d(2) - Conv2d(16,32,5) - ReLU - MaxPool2d(2) - Flatten -
Linear(512,120) - ReLU - Linear(120,84) - ReLU - Linear(84,10); Adam lr 1e-3, weight decay 1e-5,
cross-entropy, 10 epochs.

    python examples/mnist_cnn.py                      # NumPy backend
    python examples/mnist_cnn.py --backend cupy
    python examples/mnist_cnn.py --quick              # smoke test: 2k/1k samples, 1 epoch

Writes to --out: results.jsonl, train_loss.png, train_acc.png and report.md (train loss and
accuracy per epoch, test accuracy, parameter count, seconds per epoch, next to the original's).
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
from tinynet.nn import Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential
from tinynet.optim import Adam
from tinynet.plots import plot_epoch_metric
from tinynet.train import History, evaluate, fit

EPOCHS, BATCH_SIZE, MEAN, STD = 10, 64, 0.1307, 0.3081
ORIGINAL = {"train_loss": 0.0122, "train_acc": 0.9960, "test_acc": 0.9925}
QUICK_TRAIN, QUICK_TEST = 2000, 1000


def build_cnn() -> Sequential:
    return Sequential(
        Conv2d(1, 16, 5), ReLU(), MaxPool2d(2),        # 1x28x28 -> 16x24x24 -> 16x12x12
        Conv2d(16, 32, 5), ReLU(), MaxPool2d(2),       # -> 32x8x8 -> 32x4x4
        Flatten(),                                     # -> 512
        Linear(512, 120), ReLU(), Linear(120, 84), ReLU(), Linear(84, 10))


def load_data(data_dir, quick: bool):
    (train_images, train_labels), (test_images, test_labels) = (
        load_mnist(split, data_dir=data_dir) for split in ("train", "test"))
    x_train, x_test = (prepare_images(images, MEAN, STD) for images in (train_images, test_images))
    if quick:
        return ((x_train[:QUICK_TRAIN], train_labels[:QUICK_TRAIN]),
                (x_test[:QUICK_TEST], test_labels[:QUICK_TEST]))
    return (x_train, train_labels), (x_test, test_labels)


def train(config: dict, data, progress: bool):
    (x_train, y_train), (x_test, y_test) = data
    backend.seed(config["seed"])
    model = build_cnn()
    loss_fn = CrossEntropyLoss()
    optimizer = Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
    train_loader = DataLoader(x_train, y_train, BATCH_SIZE, shuffle=True, seed=config["seed"])
    history = fit(model, loss_fn, optimizer, train_loader, config["epochs"], progress=progress,
                  description="E2 CNN")
    results = {"parameters": model.num_parameters(), "summary": model.summary((1, 28, 28))}
    if history.status == "completed":
        results["test_loss"], results["test_acc"] = evaluate(
            model, loss_fn, DataLoader(x_test, y_test, 1000))
    return history, results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser, default_out="runs/mnist_cnn")
    args = parser.parse_args(argv)
    setup_backend(parser, args)
    config = {"epochs": args.epochs or (1 if args.quick else EPOCHS), "seed": args.seed,
              "quick": args.quick}
    log = RunLog(args.out, resume=args.resume)
    data = load_data(args.data_dir, args.quick)
    started = time.perf_counter()
    run_missing(log, [("cnn", config)], lambda c: train(c, data, progress=not args.quiet))
    command = command_line("mnist_cnn.py", sys.argv[1:] if argv is None else argv)
    write_report(Path(args.out), log.records["cnn"], log, time.perf_counter() - started, command)
    print(f"report: {Path(args.out) / 'report.md'}")


def write_report(out: Path, record: dict, log: RunLog, session_seconds: float, command: str):
    history, results = History.from_dict(record["history"]), record["results"]
    plots = {"cnn": history}
    plot_epoch_metric(plots, "train_loss", out / "train_loss.png", "E2: training loss per epoch",
                      "train loss (running mean over the epoch)")
    plot_epoch_metric(plots, "train_acc", out / "train_acc.png",
                      "E2: training accuracy per epoch", "train accuracy")
    rows = ["| epoch | train loss | train acc (%) | seconds |", "|---|---|---|---|"]
    rows += [f"| {e['epoch']} | {e['train_loss']:.4f} | {100 * e['train_acc']:.2f} | "
             f"{e['train_seconds']:.1f} |" for e in history.epochs]
    last = history.epochs[-1] if history.epochs else {}
    test = results.get("test_acc")
    lines = report_header("E2: LeNet-style CNN on MNIST", log, command, session_seconds) + [
        f"Adam lr 1e-3, weight decay 1e-5, batch {BATCH_SIZE}, {record['config']['epochs']} "
        f"epoch(s), inputs normalised with mean {MEAN}, std {STD}; seed "
        f"{record['config']['seed']}. Status: {history.status}.", "",
        "| | tinynet | original |", "|---|---|---|",
        f"| final train loss | {last.get('train_loss', float('nan')):.4f} | "
        f"{ORIGINAL['train_loss']} |",
        f"| final train accuracy (%) | {100 * last.get('train_acc', float('nan')):.2f} | "
        f"{100 * ORIGINAL['train_acc']:.2f} |",
        f"| test accuracy (%) | {'-' if test is None else f'{100 * test:.2f}'} | "
        f"{100 * ORIGINAL['test_acc']:.2f} |",
        f"| parameters | {results['parameters']:,} | - |", "",
        "Train loss and accuracy are running means over each epoch (training mode), as the "
        "original computed them; test accuracy is measured in eval mode on the 10k test set.", "",
        "## Per epoch", "", *rows, "",
        "![train loss](train_loss.png) ![train accuracy](train_acc.png)", "",
        "## Model", "", "```", results["summary"], "```",
    ]
    (out / "report.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
