"""The figures the experiments ask for. Each function returns a matplotlib ``Figure`` (and
writes it to ``path`` if one is given), so a test can read its lines and a notebook shows it.

Figures are built with ``matplotlib.figure.Figure``, not ``pyplot``: nothing here selects a
backend or opens a window, and importing this module changes nothing in a Jupyter session
(figures still show inline there).
"""
from __future__ import annotations

import numpy
from matplotlib.figure import Figure

MAX_POINTS = 4000   # per curve: long runs are averaged down to this many points


def smoothed(values, max_points=MAX_POINTS):
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


def plot_panels(panels: list, title: str = None, path=None, width: float = 6.5) -> Figure:
    """Side-by-side panels of curves. Each panel is a dict: ``series`` ({label: (x, y)} or
    {label: (x, y, format)}, e.g. format "o" for points, "s--" for dashed squares), ``title``,
    ``xlabel``, ``ylabel``, and optionally ``log_y``."""
    fig = Figure(figsize=(width * len(panels), 4.5))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels):
        for name, (x, y, *style) in panel["series"].items():
            ax.plot(x, y, *style, linewidth=1, markersize=4, label=name)
        ax.set(xlabel=panel.get("xlabel", ""), ylabel=panel.get("ylabel", ""),
               title=panel.get("title", ""))
        if panel.get("log_y"):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        if panel["series"]:
            ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def plot_curves(series: dict, title: str, xlabel: str, ylabel: str, log_y: bool = False,
                path=None) -> Figure:
    """One panel of curves: ``series`` is {label: (x, y)} or {label: (x, y, format)}."""
    return plot_panels([{"series": series, "title": title, "xlabel": xlabel,
                         "ylabel": ylabel, "log_y": log_y}], path=path, width=7)


def plot_step_losses(histories: dict, title: str, log_y: bool = True,
                     max_points: int = MAX_POINTS, path=None) -> Figure:
    """Loss of every learning step, one curve per run, against epochs (step / steps per epoch)
    so runs with different batch sizes share an axis. Long runs are shown as the means of
    consecutive chunks, at most ``max_points`` per curve."""
    series = {}
    for name, history in histories.items():
        if history.step_loss:
            steps, losses = smoothed(history.step_loss, max_points)
            per_epoch = history.steps_per_epoch or len(history.step_loss)
            suffix = " (diverged)" if history.status == "diverged" else ""
            series[f"{name}{suffix}"] = ((steps + 1) / per_epoch, losses)
    return plot_curves(series, title, "epoch", "training loss per step", log_y, path)


def plot_epoch_metric(histories: dict, key: str, title: str, ylabel: str, path=None) -> Figure:
    """``history.epochs[i][key]`` against the epoch number, one line per run."""
    series = {}
    for name, history in histories.items():
        epochs = [record["epoch"] for record in history.epochs if key in record]
        values = [record[key] for record in history.epochs if key in record]
        if values:
            series[name] = (epochs, values, "o-")
    return plot_curves(series, title, "epoch", ylabel, path=path)


def plot_images(images: list, titles: list, columns: int = None, path=None) -> Figure:
    """2-D arrays as grey images in a grid (each with its own grey scale), with titles."""
    columns = columns or len(images)
    rows = -(-len(images) // columns)
    fig = Figure(figsize=(2.2 * columns, 2.3 * rows))
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax, image, text in zip(axes, images, titles):
        ax.imshow(image, cmap="gray")
        ax.set_title(text, fontsize=8)
    for ax in axes:
        ax.axis("off")
    return _finish(fig, path)


def plot_training_monitor(stats: dict, path=None, title: str = "") -> Figure:
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
    gradients = {f"{layer} {types.get(layer, '')}".strip(): (steps, numpy.sqrt(squares))
                 for layer, squares in layer_squares.items()}
    gradients["global"] = (steps, stats["global_grad_norm"], "k--")
    activations = {f"{layer} {types.get(layer, '')}".strip(): (steps, stds)
                   for layer, stds in stats["activation_std"].items()}
    return plot_panels([
        {"series": gradients, "title": "gradient norm per layer", "xlabel": "step",
         "ylabel": "gradient L2 norm", "log_y": True},
        {"series": activations, "title": "activation std per layer", "xlabel": "step",
         "ylabel": "std of the layer's output"},
    ], title=title, path=path, width=6)


def _finish(fig: Figure, path) -> Figure:
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
