"""examples/mlp_sweep.py (E3): the plan, and a --quick run checked on its records and figures."""
import pytest

from examples.mlp_sweep import STUDIES, experiment
from tests.examples.conftest import lines_of, quick_run


def test_sixteen_cells_in_five_studies_are_twelve_runs():
    cells = experiment.cells()
    assert len(cells) == 16 and len({str(sorted(c.items())) for _, c in cells}) == 12


@pytest.mark.slow
def test_quick_sweep_of_every_study(tmp_path):
    context, runs = quick_run(experiment, tmp_path)
    assert len(runs) == 12 and {r["status"] for r in runs.values()} <= {"completed", "diverged"}
    assert context.runs("learning_rate")[1].final("val_acc") > 0.8      # the base: 2k, 1 epoch
    for study, (factor, values) in STUDIES.items():
        curves = lines_of(context.figures[f"{study}_val_acc.png"])
        assert list(curves) == [f"{factor}={value}" for value in values]
        for run in context.runs(study):
            assert curves[f"{factor}={run.config[factor]}"] == [run.final("val_acc")]
    batch_one = lines_of(context.figures["batch_size_step_loss.png"])["batch_size=1"]
    assert len(batch_one) == 2000            # one point per step: 2,000 samples at batch 1
    report = context.path.read_text()
    assert "Smoke run" in report and "2,000 train, 500 val" in report
    assert "| 0.001 | 97.40 |" not in report and "true linear model" in report
    acc = 100 * runs["lr=0.001"]["history"]["epochs"][-1]["val_acc"]             # from the log
    assert f"| 0.001 | {acc:.2f} | {acc:.2f}-{acc:.2f} | 1 | 97.40 |" in report
