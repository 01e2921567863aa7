"""Smoke tests of examples/lr_batch_grid.py (E4) in --quick mode: both parts, a diverging
cell, resume."""
import json

import pytest

from tests.conftest import data_dir
from tests.examples.conftest import load_example

grid = load_example("lr_batch_grid")
needs_data = pytest.mark.skipif(data_dir() is None, reason="TINYNET_DATA is not set")


def test_model_matches_the_specification():
    model = grid.build_model()
    assert [type(layer).__name__ for layer in model.layers] == [
        "Flatten", "Linear", "ReLU", "Linear", "Dropout", "LayerNorm", "ReLU", "Linear", "ReLU",
        "Linear"]
    assert model.num_parameters() == (392_500 + 175_350 + 700 + 70_200 + 2_010)


@needs_data
def test_quick_run_of_both_parts_writes_results_plots_and_report(tmp_path):
    grid.main(["--quick", "--quiet", "--out", str(tmp_path), "--data-dir", data_dir()])
    records = {r["run_id"]: r for r in map(json.loads, (tmp_path / "results.jsonl").open())}
    assert len(records) == 1 + 30
    cells = [r for r in records.values() if r["config"]["part"] == "B"]
    assert {(r["config"]["lr"], r["config"]["batch_size"]) for r in cells} == {
        (lr, b) for lr in grid.GRID_LRS for b in grid.GRID_BATCH_SIZES}
    # every cell is one epoch at its own batch size (the original kept batch 32 everywhere)
    assert {r["config"]["batch_size"]: r["history"]["steps_per_epoch"] for r in cells} == {
        32: 32, 64: 16, 128: 8, 256: 4, 512: 2}
    part_a = records["A lr=0.01 batch=32"]
    assert {"train_eval_acc", "test_acc"} <= set(part_a["results"])
    for name in ("part_a_loss.png", "part_a_acc.png", "part_b_grid.png", "part_b_fit.png"):
        assert (tmp_path / name).stat().st_size > 10_000
    report = (tmp_path / "report.md").read_text()
    assert "held-out" in report and "9.7-11.3" in report and "Cubic fit" in report
    assert "all batch 32" in report and "fewer updates" in report


@needs_data
@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning",
                            "ignore:invalid value:RuntimeWarning")
def test_a_diverging_cell_is_recorded_and_the_grid_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(grid, "GRID_LRS", (1e4, 0.1))
    monkeypatch.setattr(grid, "GRID_BATCH_SIZES", (64, 128))
    monkeypatch.setitem(grid.ORIGINAL_B, 1e4, (0.0, 0.0))
    grid.main(["--quick", "--quiet", "--part", "B", "--out", str(tmp_path),
               "--data-dir", data_dir()])
    records = [json.loads(line) for line in (tmp_path / "results.jsonl").open()]
    status = {(r["config"]["lr"], r["config"]["batch_size"]): r["history"]["status"]
              for r in records}
    assert status == {(1e4, 64): "diverged", (1e4, 128): "diverged",
                      (0.1, 64): "completed", (0.1, 128): "completed"}
    assert "(diverged)" in (tmp_path / "report.md").read_text()


@needs_data
def test_resume_skips_finished_runs_and_a_second_run_without_it_refuses(tmp_path):
    args = ["--quick", "--quiet", "--part", "A", "--out", str(tmp_path), "--data-dir", data_dir()]
    grid.main(args)
    first = (tmp_path / "results.jsonl").read_text()
    grid.main(args + ["--resume"])
    assert (tmp_path / "results.jsonl").read_text() == first
    with pytest.raises(SystemExit, match="pass --resume"):
        grid.main(args)
