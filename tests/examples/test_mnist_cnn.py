"""examples/mnist_cnn.py (E2): a --quick run."""
import pytest

from examples.mnist_cnn import experiment
from tests.examples.conftest import lines_of, quick_run


@pytest.mark.slow
def test_quick_run_writes_results_figures_and_report(tmp_path):
    context, runs = quick_run(experiment, tmp_path)
    (run,) = context.runs()
    assert run.status == "completed" and run.results["test_acc"] > 0.5   # 2k samples, 1 epoch
    assert lines_of(context.figures["train_loss.png"]) == {"cnn": [run.final("train_loss")]}
    assert "| parameters | 85,822 | - |" in context.path.read_text()
