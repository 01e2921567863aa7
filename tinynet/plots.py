"""The figures the experiments ask for, written to PNG files (no screen needed)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy

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


def plot_step_losses(histories: dict, path, title: str, log_y: bool = True,
                     max_points: int = MAX_POINTS) -> None:
    """Loss of every learning step, one curve per run, against epochs (step / steps per epoch)
    so runs with different batch sizes share an axis. Long runs are shown as the means of
    consecutive chunks, at most ``max_points`` per curve."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for label, history in histories.items():
        if not history.step_loss:
            continue
        steps, losses = _smoothed(history.step_loss, max_points)
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


def plot_training_monitor(stats: dict, path, title: str) -> None:
    """What :class:`tinynet.monitor.TrainingMonitor` recorded (its ``stats``, or
    ``history.extra["monitor"]``), in two panels against the training step:

    - left: the gradient L2 norm of each layer that has parameters (sqrt of the sum of its
      parameters' squared norms; log scale) and, dashed, the global norm over all parameters.
      Vanishing gradients show as early layers' curves far below the late ones';
    - right: the standard deviation of each layer's output (activations that collapse or
      saturate show as a std near 0, or stuck near a sigmoid's limit).
    """
    steps = numpy.asarray(stats["step"], dtype=float)
    types = stats.get("layer_types", {})
    layer_squares = {}
    for param_name, norms in stats["grad_norm"].items():
        layer = param_name.rsplit(".", 1)[0] if "." in param_name else param_name
        layer_squares[layer] = layer_squares.get(layer, 0.0) + numpy.square(norms)
    fig, (grad_ax, act_ax) = plt.subplots(1, 2, figsize=(12, 4.5))
    colours = plt.get_cmap("viridis")      # dark = first layer, light = last: depth reads at once
    for index, (layer, squares) in enumerate(layer_squares.items()):
        label = f"{layer} {types.get(layer, '')}".strip()
        grad_ax.plot(steps, numpy.sqrt(squares), linewidth=1, label=label,
                     color=colours(index / max(1, len(layer_squares) - 1)))
    grad_ax.plot(steps, stats["global_grad_norm"], "k--", linewidth=1, label="global")
    grad_ax.set(xlabel="step", ylabel="gradient L2 norm", yscale="log",
                title="gradient norm per layer")
    for index, (layer, stds) in enumerate(stats["activation_std"].items()):
        label = f"{layer} {types.get(layer, '')}".strip()
        act_ax.plot(steps, stds, linewidth=1, label=label,
                    color=colours(index / max(1, len(stats["activation_std"]) - 1)))
    act_ax.set(xlabel="step", ylabel="std of the layer's output",
               title="activation std per layer")
    for ax in (grad_ax, act_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
