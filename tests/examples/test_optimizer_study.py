"""examples/optimizer_study.py (E1): a --quick run of the twelve cells."""
import pytest

from examples.optimizer_study import experiment
from tests.examples.conftest import lines_of, quick_run


@pytest.mark.slow
def test_quick_run_of_all_twelve_cells(tmp_path):
    context, runs = quick_run(experiment, tmp_path)
    assert len(runs) == 12
    plain = context.run(model="plain", optimizer="RMSprop").results
    assert plain["test_acc"] > 0.6                                     # 2k samples, 1 epoch
    adam = context.run(model="plain", optimizer="Adam").results
    assert adam["test_acc"] == adam["test_acc_train_mode"]    # no BatchNorm, no Dropout
    curves = lines_of(context.figures["loss_curves_bn_do.png"])
    assert list(curves) == ["SGD", "Momentum", "RMSprop", "Adam"]
    assert all(len(points) == 2 for points in curves.values())      # 20 steps in chunks of 10
    report = context.path.read_text()
    rmsprop = runs["model=plain,optimizer=RMSprop"]["results"]["test_acc"]     # from the log
    assert (f"| plain | RMSprop | {100 * rmsprop:.2f} | {100 * rmsprop:.2f}-{100 * rmsprop:.2f} "
            f"| 1 | 98.03 | {98.03 - 100 * rmsprop:+.2f} above | completed |") in report
    assert "Seeds per cell: 1 (seed 0) for 12 cells." in report and "training mode" in report
