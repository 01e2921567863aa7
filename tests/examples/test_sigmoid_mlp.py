"""Tests of examples/sigmoid_mlp.py (E5): the probability cross-entropy and its gradient check,
the softmax-bug flag, best-by-val selection, and the --quick run with resume."""
import json
import math

import numpy as np
import pytest

from tests.conftest import data_dir
from tests.examples.conftest import load_example
from tinynet import backend
from tinynet.gradcheck import check_loss, check_module
from tinynet.losses import CrossEntropyLoss
from tinynet.nn import Softmax

e5 = load_example("sigmoid_mlp")
needs_data = pytest.mark.skipif(data_dir() is None, reason="TINYNET_DATA is not set")


def softmax_rows(logits):
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def test_probability_cross_entropy_passes_the_gradient_check(rng):
    probabilities = softmax_rows(rng.standard_normal((6, 4)))
    one_hot = np.eye(4)[rng.integers(0, 4, 6)]
    assert check_loss(e5.ProbabilityCrossEntropy(), probabilities, one_hot).passed(1e-6)
    soft_targets = softmax_rows(rng.standard_normal((6, 4)))
    assert check_loss(e5.ProbabilityCrossEntropy(), probabilities, soft_targets).passed(1e-6)


def test_probability_cross_entropy_of_a_softmax_equals_the_fused_loss(rng):
    logits = rng.standard_normal((5, 10))
    labels = rng.integers(0, 10, 5)
    ours = e5.ProbabilityCrossEntropy()(softmax_rows(logits), np.eye(10)[labels])
    assert float(ours) == pytest.approx(float(CrossEntropyLoss()(logits, labels)), rel=1e-12)


def test_a_zero_probability_gives_a_finite_loss():
    loss = e5.ProbabilityCrossEntropy()
    value = loss(np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]]))
    assert math.isfinite(float(value)) and np.isfinite(loss.backward()).all()


def test_the_bug_flag_puts_the_softmax_on_the_batch_axis():
    correct, buggy = e5.build_model(100, "class"), e5.build_model(100, "batch")
    assert isinstance(correct[-1], Softmax) and correct[-1].dim == 1
    assert isinstance(buggy[-1], Softmax) and buggy[-1].dim == 0
    x = backend.xp.asarray(np.random.default_rng(0).standard_normal((7, 784)), dtype="float32")
    assert np.allclose(backend.to_numpy(correct.forward(x)).sum(axis=1), 1, atol=1e-6)
    assert np.allclose(backend.to_numpy(buggy.forward(x)).sum(axis=0), 1, atol=1e-6)


def test_a_gradient_check_cannot_see_the_bug(rng):
    # What the report says: the batch-axis softmax's backward is right for its own forward.
    assert check_module(Softmax(dim=0), rng.standard_normal((5, 3))).passed(1e-6)


def test_keep_best_needs_an_improvement_above_the_threshold():
    model = e5.build_model(5)
    keep = e5.KeepBestByValidation(model, min_improvement=0.001)
    for epoch, accuracy in enumerate([0.50, 0.5005, 0.52, 0.5209, 0.51], start=1):
        keep.on_epoch_end(epoch, {"val_acc": accuracy}, None)
    assert (keep.epoch, keep.best) == (3, 0.52)
    assert set(keep.state) == {"0.weight", "0.bias", "2.weight", "2.bias"}


@needs_data
def test_quick_run_with_the_bug_shows_both_softmaxes_and_resumes(tmp_path):
    args = ["--quick", "--quiet", "--replicate-softmax-bug", "--out", str(tmp_path),
            "--data-dir", data_dir()]
    e5.main(args)
    records = [json.loads(line) for line in (tmp_path / "results.jsonl").open()]
    assert len(records) == 2 * 7
    first_loss = {r["config"]["softmax"]: [] for r in records}
    for r in records:
        first_loss[r["config"]["softmax"]].append(r["history"]["step_loss"][0])
        assert r["results"]["test_acc"] is not None and r["results"]["best_epoch"] == 1
        assert r["history"]["extra"]["sigmoid"]["step"][0] == 0
    # batch-axis softmax over 1000 samples: p ~ 1/1000, loss ~ ln 1000 = 6.9; correct ~ ln 10
    assert all(abs(loss - math.log(1000)) < 0.1 for loss in first_loss["batch"])
    assert all(loss < 3 for loss in first_loss["class"])
    weights = next(r for r in records if r["config"]["hidden"] == 100
                   and r["config"]["lr"] == 0.1 and r["config"]["softmax"] == "class")
    assert np.shape(weights["results"]["weights_kept"]) == (5, 784)
    for name in ("weights.png", "sigmoid_problems.png", "hidden_size_val_acc.png",
                 "learning_rate_train_loss.png"):
        assert (tmp_path / name).stat().st_size > 10_000
    report = (tmp_path / "report.md").read_text()
    assert "batch-axis softmax (the bug)" in report and "| 93.56 |" in report
    assert "saturated units" in report and "always-blank pixels" in report

    first = (tmp_path / "results.jsonl").read_text()
    e5.main(args + ["--resume"])
    assert (tmp_path / "results.jsonl").read_text() == first
    with pytest.raises(SystemExit, match="pass --resume"):
        e5.main(args)
