"""examples/mnist_cnn.py (E2): a --quick run with two seeds."""
import pytest

from examples.mnist_cnn import experiment
from tests.examples.conftest import lines_of, quick_run


@pytest.mark.slow
def test_quick_run_writes_results_figures_and_report(tmp_path):
    context, runs = quick_run(experiment, tmp_path, "--seeds", "0,1")
    first, second = context.runs()
    assert first.status == "completed" and first.results["test_acc"] > 0.5   # 2k, 1 epoch
    assert lines_of(context.figures["train_loss.png"]) == {"cnn": [first.final("train_loss")]}
    tests = [run["results"]["test_acc"] for run in runs.values()]            # from the log
    assert len(tests) == 2
    low, high = 100 * min(tests), 100 * max(tests)
    report = context.path.read_text()
    assert (f"| test accuracy (%) | {50 * sum(tests):.2f} | {low:.2f}-{high:.2f} | 2 | 99.25 | "
            f"{99.25 - high:+.2f} above |") in report
    assert "| parameters | 85,822 | 85,822-85,822 | 2 | - | - |" in report
    assert "Seeds per cell: 2 (seeds 0, 1) for 1 cell." in report
