"""Smoke test of examples/mnist_cnn.py (E2) in --quick mode."""
import json

import pytest

from tests.conftest import data_dir
from tests.examples.conftest import load_example

cnn = load_example("mnist_cnn")
pytestmark = pytest.mark.skipif(data_dir() is None, reason="TINYNET_DATA is not set")


def test_cnn_shapes_and_parameter_count():
    model = cnn.build_cnn()
    assert "(N, 512)" in model.summary((1, 28, 28))
    assert model.num_parameters() == (416 + 12_832) + (61_560 + 10_164 + 850)


def test_quick_run_writes_results_plots_and_report(tmp_path):
    cnn.main(["--quick", "--quiet", "--out", str(tmp_path), "--data-dir", data_dir()])
    (record,) = [json.loads(line) for line in (tmp_path / "results.jsonl").open()]
    assert record["history"]["status"] == "completed"
    assert record["results"]["test_acc"] > 0.5               # 2k samples, 1 epoch
    for name in ("train_loss.png", "train_acc.png"):
        assert (tmp_path / name).stat().st_size > 10_000
    assert "| parameters | 85,822 |" in (tmp_path / "report.md").read_text()
