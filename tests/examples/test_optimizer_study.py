"""Smoke test of examples/optimizer_study.py (E1) in --quick mode."""
import json

import pytest

from tests.conftest import data_dir
from tests.examples.conftest import load_example

study = load_example("optimizer_study")
pytestmark = pytest.mark.skipif(data_dir() is None, reason="TINYNET_DATA is not set")


def test_models_match_the_specification():
    assert study.build_model("plain").num_parameters() == 784 * 500 + 500 + 5010
    assert [type(layer).__name__ for layer in study.build_model("+BN+DO").layers] == [
        "Linear", "ReLU", "BatchNorm1d", "Dropout", "Linear"]


def test_quick_run_of_all_twelve_cells(tmp_path):
    study.main(["--quick", "--quiet", "--out", str(tmp_path), "--data-dir", data_dir()])
    records = [json.loads(line) for line in (tmp_path / "results.jsonl").open()]
    assert len(records) == 12
    by_id = {r["run_id"]: r["results"] for r in records}
    assert by_id["plain RMSprop"]["test_acc"] > 0.6          # 2k samples, 1 epoch
    # no BatchNorm or Dropout: training-mode evaluation changes nothing
    assert by_id["plain Adam"]["test_acc"] == by_id["plain Adam"]["test_acc_train_mode"]
    for model in ("plain", "bn", "bn_do"):
        assert (tmp_path / f"loss_curves_{model}.png").stat().st_size > 10_000
    report = (tmp_path / "report.md").read_text()
    assert "(78.47)" in report and "training mode" in report
