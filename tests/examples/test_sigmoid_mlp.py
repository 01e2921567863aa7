"""examples/sigmoid_mlp.py (E5): the sigmoid statistics callback, and a --quick run of both
softmaxes."""
import math

import numpy as np
import pytest

from examples.sigmoid_mlp import WEIGHT_UNITS, experiment
from tests.examples.conftest import lines_of, quick_run


def test_fourteen_runs_half_of_them_with_the_bug():
    softmax = [config["softmax"] for _, config in experiment.cells()]
    assert softmax.count("class") == softmax.count("batch") == 7


@pytest.mark.slow
def test_quick_run_shows_both_softmaxes(tmp_path):
    context, runs = quick_run(experiment, tmp_path)
    assert len(runs) == 14
    for run in context.runs():
        assert run.results["test_acc"] is not None and run.results["best_epoch"] == 1
        assert run.history.extra["sigmoid"]["step"][0] == 0
        first = run.history.step_loss[0]
        if run.config["softmax"] == "batch":          # p ~ 1/1000: loss ~ ln 1000 = 6.9
            assert abs(first - math.log(1000)) < 0.1
        else:
            assert first < 3
    weights = context.run(None, hidden=100, lr=0.1, softmax="class")
    assert np.shape(weights.results["weights_kept"]) == (len(WEIGHT_UNITS), 784)
    saturation = lines_of(context.figures["sigmoid_problems.png"])
    assert saturation["hidden=1"] == context.run("hidden_size", hidden=1).history.extra[
        "sigmoid"]["saturated"]
    assert len(context.figures["weights.png"].axes) == 2 * 2 * len(WEIGHT_UNITS)
    report = context.path.read_text()
    test_acc = 100 * runs["lr=0.1,softmax=batch"]["results"]["test_acc"]         # from the log
    assert (f"| 100 | 0.1 | batch-axis softmax (the bug) | {test_acc:.2f} | {test_acc:.2f}-"
            f"{test_acc:.2f} | 1 | 93.56 | {93.56 - test_acc:+.2f} above | 1 |") in report
    assert "| 100 | 0.1 | correct |" in report
