import json
import subprocess
import sys

import numpy as np

from tinynet import plots
from tinynet.train import History


def monitor_stats():
    """What TrainingMonitor records for Linear-Sigmoid-Linear over 3 sampled steps, as saved
    in a history's JSON (plain lists and dicts)."""
    return json.loads(json.dumps({
        "step": [0, 10, 20],
        "activation_mean": {"0": [0.1, 0.2, 0.3], "1": [0.5, 0.5, 0.6], "2": [0.0, 0.1, 0.1]},
        "activation_std": {"0": [1.0, 0.9, 0.8], "1": [0.2, 0.2, 0.1], "2": [0.3, 0.4, 0.5]},
        "grad_norm": {"0.weight": [3.0, 3.0, 3.0], "0.bias": [4.0, 4.0, 4.0],
                      "2.weight": [1.0, 2.0, 3.0]},
        "global_grad_norm": [np.sqrt(26.0), np.sqrt(29.0), np.sqrt(34.0)],
        "layer_types": {"0": "Linear", "1": "Sigmoid", "2": "Linear"},
    }))


def lines_of(ax) -> dict:
    return {line.get_label(): line.get_ydata() for line in ax.get_lines()}


def test_plot_training_monitor_draws_layer_norms_and_activation_stds(tmp_path):
    path = tmp_path / "monitor.png"
    figure = plots.plot_training_monitor(monitor_stats(), path, "a title")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    grad_ax, act_ax = figure.axes
    lines = lines_of(grad_ax)
    assert set(lines) == {"0 Linear", "2 Linear", "global"}
    assert np.allclose(lines["0 Linear"], 5.0)            # sqrt(3^2 + 4^2): weight and bias
    assert np.allclose(lines["2 Linear"], [1, 2, 3]) and grad_ax.get_yscale() == "log"
    stds = lines_of(act_ax)
    assert set(stds) == {"0 Linear", "1 Sigmoid", "2 Linear"}
    assert np.allclose(stds["1 Sigmoid"], [0.2, 0.2, 0.1])


def test_step_losses_are_averaged_in_chunks_and_drawn_against_epochs():
    history = History(step_loss=list(range(100)), steps_per_epoch=50)
    figure = plots.plot_step_losses({"run": history}, "t", max_points=10)
    (line,) = figure.axes[0].get_lines()
    assert np.allclose(line.get_ydata(), np.arange(4.5, 100, 10))     # means of 10 steps
    assert line.get_xdata()[-1] == (94.5 + 1) / 50             # the last chunk's centre
    diverged = History(step_loss=[1.0, 2.0], status="diverged", steps_per_epoch=2)
    labels = lines_of(plots.plot_step_losses({"x": diverged}, "t").axes[0])
    assert list(labels) == ["x (diverged)"]


def test_epoch_metric_and_curves_and_images():
    history = History(epochs=[{"epoch": 1, "val_acc": 0.5}, {"epoch": 2, "val_acc": 0.7}])
    figure = plots.plot_epoch_metric({"a": history, "empty": History()}, "val_acc", "t", "y")
    assert {k: list(v) for k, v in lines_of(figure.axes[0]).items()} == {"a": [0.5, 0.7]}
    figure = plots.plot_curves({"p": ([1, 2], [3, 4], "o")}, "t", "x", "y", log_y=True)
    ax = figure.axes[0]
    assert ax.get_yscale() == "log" and ax.get_lines()[0].get_marker() == "o"
    images = plots.plot_images([np.eye(3)] * 4, ["a", "b", "c", "d"], columns=2)
    assert len(images.axes) == 4 and images.axes[3].get_title() == "d"


def test_importing_plots_leaves_matplotlibs_backend_alone():
    """In Jupyter the inline backend must survive ``import tinynet.plots``."""
    code = ("import matplotlib; matplotlib.use('svg'); import tinynet.plots, tinynet.report, "
            "tinynet.runner; print(matplotlib.get_backend())")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, env={"PATH": ""}).stdout
    assert output.strip() == "svg"
