"""The figures the experiments ask for, written to PNG files (no screen needed)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy  # noqa: E402

MAX_POINTS = 4000   # per curve: long runs are averaged down to this many points


def _smoothed(values, max_points=MAX_POINTS):
    """Mean over consecutive chunks so a curve has at most ``max_points`` points; returns
    (chunk centre indices, chunk means)."""
    values = numpy.asarray(values, dtype=float)
    chunk = max(1, int(numpy.ceil(len(values) / max_points)))
    usable = len(values) // chunk * chunk
    if usable == 0:
        return numpy.arange(len(values)), values
    means = values[:usable].reshape(-1, chunk).mean(axis=1)
    centres = numpy.arange(len(means)) * chunk + (chunk - 1) / 2
    return centres, means


def plot_step_losses(histories: dict, path, title: str, log_y: bool = True) -> None:
    """Loss of every learning step, one curve per run, against epochs (step / steps per epoch)
    so runs with different batch sizes share an axis. Long runs are shown as chunk means."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for label, history in histories.items():
        if not history.step_loss:
            continue
        steps, losses = _smoothed(history.step_loss)
        per_epoch = history.steps_per_epoch or len(history.step_loss)
        suffix = " (diverged)" if history.status == "diverged" else ""
        ax.plot((steps + 1) / per_epoch, losses, linewidth=0.8, label=f"{label}{suffix}")
    ax.set(xlabel="epoch", ylabel="training loss per step", title=title)
    if log_y:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_epoch_metric(histories: dict, key: str, path, title: str, ylabel: str) -> None:
    """``history.epochs[i][key]`` against the epoch number, one line per run."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, history in histories.items():
        epochs = [record["epoch"] for record in history.epochs if key in record]
        values = [record[key] for record in history.epochs if key in record]
        if values:
            ax.plot(epochs, values, marker="o", markersize=3, label=label)
    ax.set(xlabel="epoch", ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
