"""examples/fashion_mnist.py (E6): the plan, epochs to the target, and a --quick run."""
import pytest

from examples.fashion_mnist import MODELS, epochs_to_target, experiment
from tests.examples.conftest import lines_of, quick_run
from tinynet.report import RunRecord


@pytest.mark.parametrize("name", MODELS)
def test_every_model_has_the_parameter_count_of_the_specification(name):
    build, expected = MODELS[name]
    assert build().num_parameters() == expected


def record(epochs, status="stopped", stuck=False):
    return RunRecord({"run_id": "x", "config": {"max_epochs": 9}, "status": status,
                      "results": {"stopped_unchanged": stuck},
                      "history": {"epochs": [{"epoch": i + 1, "val_acc": a}
                                             for i, a in enumerate(epochs)], "step_loss": []}})


def test_epochs_to_target():
    assert epochs_to_target(record([0.5, 0.86, 0.9])) == 2
    stuck = record([0.119, 0.1, 0.1, 0.1, 0.1, 0.1], stuck=True)     # ends below its best
    assert epochs_to_target(stuck) == "never: stuck, 10.00% after 6 epochs (best 11.90%)"
    assert epochs_to_target(record([0.5] * 9, "completed")) == "not within 9 (best 50.00%)"


def test_the_cap_of_q3_is_a_setting_and_epochs_do_not_change_it():
    cells = dict(experiment.cells(only=["q3", "q6"], overrides={"epochs": 4, "max_epochs": 60}))
    assert cells["q3"]["max_epochs"] == 60 and cells["q6"]["epochs"] == 1


@pytest.mark.slow
def test_quick_run_of_every_question(tmp_path):
    context, runs = quick_run(experiment, tmp_path)
    # q2 8 runs, q3 8, q5 4 more (base and deep are q2's in quick mode), q6 none more, q7 2 CNNs
    assert len(runs) == 22
    assert {r["results"]["parameters"] for r in runs.values()} <= {c for _, c in MODELS.values()}
    assert all(len(run.history.epochs) <= 3 for run in context.runs("q3"))
    norms = lines_of(context.figures["q7_grad_norm.png"])
    assert norms["deep CNN"] == context.run("q7", model="deep CNN").history.extra["grad_norm"]
    assert len(context.figures["samples.png"].axes) == 3
    report = context.path.read_text()
    for text in ("Ankle boot", "| 87.30 |", "not within 3", "| 119 |", "| 1,863,690 |", "89.59"):
        assert text in report
    acc = 100 * runs["model=deep CNN,lr=0.001"]["history"]["epochs"][-1]["val_acc"]
    assert (f"| deep CNN | 858,506 | {acc:.2f} | {acc:.2f}-{acc:.2f} | 1 | 89.59 | "
            f"{89.59 - acc:+.2f} above | completed |") in report                # from the log
