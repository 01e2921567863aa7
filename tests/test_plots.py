import json

import numpy as np
import pytest

from tinynet import plots


@pytest.fixture
def kept_figures(monkeypatch):
    """The figures the plot functions close, kept open so a test can look at their lines."""
    figures = []
    monkeypatch.setattr(plots.plt, "close", figures.append)
    yield figures
    monkeypatch.undo()
    plots.plt.close("all")


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


def test_plot_training_monitor_draws_layer_norms_and_activation_stds(tmp_path, kept_figures):
    path = tmp_path / "monitor.png"
    plots.plot_training_monitor(monitor_stats(), path, "a title")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    grad_ax, act_ax = kept_figures[0].axes
    lines = {line.get_label(): line.get_ydata() for line in grad_ax.get_lines()}
    assert set(lines) == {"0 Linear", "2 Linear", "global"}
    assert np.allclose(lines["0 Linear"], 5.0)            # sqrt(3^2 + 4^2): weight and bias
    assert np.allclose(lines["2 Linear"], [1, 2, 3]) and grad_ax.get_yscale() == "log"
    stds = {line.get_label(): line.get_ydata() for line in act_ax.get_lines()}
    assert set(stds) == {"0 Linear", "1 Sigmoid", "2 Linear"}
    assert np.allclose(stds["1 Sigmoid"], [0.2, 0.2, 0.1])
