import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinynet import backend
from tinynet.gradcheck import check_loss
from tinynet.losses import CrossEntropyLoss, L1Loss, MSELoss
from tinynet.nn.checks import ShapeError

pytestmark = pytest.mark.usefixtures("kernel_path")   # both kernel paths


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 6), c=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_cross_entropy_gradients_with_labels(n, c, seed):
    rng = np.random.default_rng(seed)
    # Unit-scale logits: with gaps of ~10 the loss is ~1e-5 and its central differences lose
    # ~6 digits to cancellation (n=1, c=2, seed=1231 at scale 3 gave 1.7e-6 for a right backward).
    logits, labels = rng.standard_normal((n, c)), rng.integers(0, c, n)
    assert check_loss(CrossEntropyLoss(), logits, labels).passed(1e-6)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 6), c=st.integers(1, 6), seed=st.integers(0, 2**16),
       unnormalised=st.booleans())
def test_cross_entropy_gradients_with_probability_targets(n, c, seed, unnormalised):
    rng = np.random.default_rng(seed)
    target = rng.random((n, c))
    if not unnormalised:
        target /= target.sum(axis=1, keepdims=True)
    assert check_loss(CrossEntropyLoss(), rng.standard_normal((n, c)), target).passed(1e-6)


@pytest.mark.parametrize("loss_type", [MSELoss, L1Loss])
@settings(max_examples=20, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), seed=st.integers(0, 2**16))
def test_regression_loss_gradients(loss_type, shape, seed):
    rng = np.random.default_rng(seed)
    prediction, target = rng.standard_normal(shape), rng.standard_normal(shape)
    assert check_loss(loss_type(), prediction, target).passed(1e-6)


def _torch_reference(torch, name, prediction, target):
    tp = torch.tensor(prediction, requires_grad=True)
    loss = getattr(torch.nn.functional, name)(tp, torch.tensor(target))
    loss.backward()
    return loss.item(), tp.grad.numpy()


@pytest.mark.parametrize("loss, name, integer_target", [
    (CrossEntropyLoss(), "cross_entropy", True), (CrossEntropyLoss(), "cross_entropy", False),
    (MSELoss(), "mse_loss", False), (L1Loss(), "l1_loss", False)])
def test_losses_match_pytorch(loss, name, integer_target, rng):
    torch = pytest.importorskip("torch")
    prediction = rng.standard_normal((8, 5)) * 2
    target = rng.integers(0, 5, 8) if integer_target else rng.random((8, 5))
    value, grad = _torch_reference(torch, name, prediction, target)
    np.testing.assert_allclose(float(loss(prediction, target)), value, rtol=1e-12)
    np.testing.assert_allclose(loss.backward(), grad, rtol=1e-10, atol=1e-15)


def test_fused_gradient_is_softmax_minus_one_hot(rng, backend_name):
    logits, labels = rng.standard_normal((4, 3)), np.array([0, 2, 1, 2])
    loss = CrossEntropyLoss()
    loss(backend.to_device(logits), backend.to_device(labels))
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(backend.to_numpy(loss.backward()),
                               (softmax - np.eye(3)[labels]) / 4, rtol=1e-12)


@pytest.mark.parametrize("loss_fn, target", [
    (CrossEntropyLoss(), np.array([0, 2, 1, 2])), (CrossEntropyLoss(), np.full((4, 3), 1 / 3)),
    (MSELoss(), np.ones((4, 3))), (L1Loss(), np.ones((4, 3)))])
def test_losses_pass_gradcheck_on_each_backend(loss_fn, target, rng, backend_name):
    report = check_loss(loss_fn, backend.to_device(rng.standard_normal((4, 3))),
                        backend.to_device(target))
    assert report.passed(1e-6), f"{loss_fn!r} on {backend_name}:\n{report}"


def test_out_of_range_labels_are_caught_on_each_backend(backend_name):
    """An error on the host; on a device a NaN loss (no per-step transfer), which fit's
    periodic divergence check turns into a stopped run."""
    logits = backend.to_device(np.zeros((4, 3), np.float32))
    labels = backend.to_device(np.array([0, 1, 2, 3]))
    if backend.on_host(labels):
        with pytest.raises(ValueError, match=r"labels must be in \[0, 2\]"):
            CrossEntropyLoss()(logits, labels)
    else:
        value = CrossEntropyLoss()(logits, labels)
        assert value.dtype == np.float32 and math.isnan(backend.to_float(value))
    in_range = CrossEntropyLoss()(logits, backend.to_device(np.array([0, 1, 2, 2])))
    assert backend.to_float(in_range) == pytest.approx(math.log(3))


@settings(max_examples=30, deadline=None)
@given(scale=st.floats(1.0, 1e4), seed=st.integers(0, 2**16))
def test_cross_entropy_finite_for_huge_logits(scale, seed):
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal((6, 10)) * scale).astype(np.float32)
    loss = CrossEntropyLoss()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value = loss(logits, rng.integers(0, 10, 6))
        grad = loss.backward()
    assert np.isfinite(value) and np.all(np.isfinite(grad)) and value.dtype == np.float32


@pytest.mark.parametrize("logits, labels, message", [
    (np.zeros((4, 3), np.float32), np.array([0, 1, 2, 3]), r"labels must be in \[0, 2\].*\[0, 3\]"),
    (np.zeros((4, 3), np.float32), np.array([0, -1, 2, 2]), r"got values in \[-1, 2\]"),
    (np.zeros((4, 3), np.float32), np.array([[0], [1], [2], [0]]), r"shape \(4,\).*got \(4, 1\)"),
    (np.zeros((4,), np.float32), np.array([0, 1, 2, 0]), r"logits of shape \(N, C\), got \(4,\)"),
    (np.zeros((0, 3), np.float32), np.array([], np.int64), "empty batch"),
    (np.zeros((4, 3), np.float32), np.zeros((4, 2), np.float32), "must have the logits' shape"),
])
def test_cross_entropy_bad_targets(logits, labels, message):
    with pytest.raises((ValueError, ShapeError), match=message):
        CrossEntropyLoss()(logits, labels)


def test_regression_losses_reject_mismatched_shapes():
    with pytest.raises(ShapeError, match=r"MSELoss.*same shape, got \(4, 10\) and \(4,\)"):
        MSELoss()(np.zeros((4, 10), np.float32), np.zeros(4, np.float32))
