"""examples/lr_batch_grid.py (E4): the plan (grid cells are one epoch), a diverging cell, and a
--quick run of both parts."""
from dataclasses import replace

import pytest

from examples import lr_batch_grid
from examples.lr_batch_grid import BATCH_SIZES, LRS, experiment
from tests.examples.conftest import lines_of, quick_run
from tinynet.runner import Group, Plan


def test_epochs_change_part_a_only():
    cells = experiment.cells(overrides={"epochs": 3})
    assert {(group, config["epochs"]) for group, config in cells} == {("A", 3), ("B", 1)}
    assert len(cells) == 1 + len(LRS) * len(BATCH_SIZES)


@pytest.mark.slow
def test_quick_run_of_both_parts(tmp_path):
    context, runs = quick_run(experiment, tmp_path)
    assert len(runs) == 1 + 30
    steps = {run.config["batch_size"]: run.history.steps_per_epoch for run in context.runs("B")}
    assert steps == {32: 32, 64: 16, 128: 8, 256: 4, 512: 2}   # each cell at its own batch
    (part_a,) = context.runs("A")
    assert {"train_eval_acc", "test_acc"} <= set(part_a.results)
    grid = lines_of(context.figures["part_b_grid.png"])
    assert grid["batch 64"][1] == 100 * context.run("B", lr=0.1, batch_size=64).final("val_acc")
    fit = lines_of(context.figures["part_b_fit.png"])
    assert len(fit["cubic fit"]) == 200 and len(fit["mean over batch sizes"]) == len(LRS)
    report = context.path.read_text()
    assert "9.7-11.3" in report and "Cubic fit" in report and "held-out" in report
    cell = runs["lr=0.1,batch_size=64,part=B"]                      # from the log
    acc = 100 * cell["history"]["epochs"][-1]["val_acc"]
    assert (f"| 0.1 | 64 | {acc:.2f} | {acc:.2f}-{acc:.2f} | 1 | - | - | completed | 16 |"
            in report)                                     # the original trained batch 32 only
    acc = 100 * runs["lr=0.1,part=B"]["history"]["epochs"][-1]["val_acc"]
    assert (f"| 0.1 | 32 | {acc:.2f} | {acc:.2f}-{acc:.2f} | 1 | 93.40-94.40 | "
            f"{93.4 - acc:+.2f} above |") in report
    test_acc = 100 * runs["part=A"]["results"]["test_acc"]
    assert f"| MNIST test accuracy (%) | {test_acc:.2f} | {test_acc:.2f}-{test_acc:.2f} | 1 |" \
        in report


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning",
                            "ignore:invalid value:RuntimeWarning")
def test_a_diverging_cell_is_recorded_and_the_grid_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(lr_batch_grid, "LRS", (1e4, 0.1))
    monkeypatch.setattr(lr_batch_grid, "BATCH_SIZES", (64, 128))
    monkeypatch.setitem(lr_batch_grid.ORIGINAL_B, 1e4, (0.0, 0.0))
    plan = Plan(experiment.plan.base, [Group("B", vary={"lr": [1e4, 0.1], "batch_size": [64, 128]},
                                             set={"part": "B", "epochs": 1})])
    context, runs = quick_run(replace(experiment, plan=plan), tmp_path, "--only", "B")
    status = {(r.config["lr"], r.config["batch_size"]): r.status for r in context.runs("B")}
    assert status == {(1e4, 64): "diverged", (1e4, 128): "diverged",
                      (0.1, 64): "completed", (0.1, 128): "completed"}
    assert "diverged at step" in context.path.read_text()
