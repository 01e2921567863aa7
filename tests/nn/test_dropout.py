"""Dropout: gradient check with a fixed mask, statistics of the mask, eval identity, seeding,
dtype, and errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinynet import backend
from tinynet.gradcheck import check_module
from tinynet.nn.checks import ShapeError
from tinynet.nn.dropout import Dropout


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3),
       p=st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]), training=st.booleans(),
       seed=st.integers(0, 2**16))
def test_dropout_gradcheck_with_fixed_mask(shape, p, training, seed):
    layer = Dropout(p).train(training)
    x = np.random.default_rng(seed).standard_normal(shape)
    report = check_module(layer, x, before_forward=lambda: backend.seed(seed))
    assert report.max_error < 1e-6, str(report)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_fraction_dropped_is_p_and_expectation_is_preserved(p):
    x = np.ones((200, 500), dtype=np.float32)
    y = Dropout(p).forward(x)
    dropped = float((y == 0).mean())
    assert abs(dropped - p) < 0.01                      # std of the fraction <= 0.0016
    assert abs(float(y.mean()) - 1.0) < 0.03            # E[y] = x; std of the mean <= 0.0063
    np.testing.assert_allclose(np.unique(y), [0.0, 1 / (1 - p)], rtol=1e-6)


def test_kept_entries_are_scaled_and_mask_is_kept_for_backward():
    rng = np.random.default_rng(0)
    layer = Dropout(0.25)
    x = rng.standard_normal((64, 32)).astype(np.float32)
    y = layer.forward(x)
    kept = layer.mask != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(layer.mask[kept], 1 / 0.75, rtol=1e-6)
    np.testing.assert_allclose(y, x * kept / 0.75, rtol=1e-6)
    grad = rng.standard_normal(x.shape).astype(np.float32)
    grad_copy = grad.copy()
    np.testing.assert_allclose(layer.backward(grad), grad * kept / 0.75, rtol=1e-6)
    np.testing.assert_array_equal(grad, grad_copy)        # grad_out not mutated


def test_eval_mode_is_the_identity():
    layer = Dropout(0.5).eval()
    x = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    np.testing.assert_array_equal(layer.forward(x), x)
    np.testing.assert_array_equal(layer.backward(x), x)
    assert layer.mask is None


def test_p_zero_is_the_identity_and_p_one_zeroes_everything():
    x = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    np.testing.assert_array_equal(Dropout(0).forward(x), x)
    layer = Dropout(1.0)
    y = layer.forward(x)
    assert y.dtype == np.float32 and not np.any(y) and np.all(np.isfinite(y))
    assert not np.any(layer.backward(np.ones_like(x)))


def test_same_seed_same_mask_other_seed_other_mask():
    x = np.ones((16, 16), dtype=np.float32)
    backend.seed(3)
    first = Dropout().forward(x)
    backend.seed(3)
    again = Dropout().forward(x)
    backend.seed(4)
    other = Dropout().forward(x)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert not np.array_equal(first, Dropout().forward(x))    # consecutive calls differ


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_dtype_is_kept(dtype):
    layer = Dropout(0.3)
    x = np.ones((10, 10), dtype=dtype)
    y = layer.forward(x)
    assert y.dtype == layer.mask.dtype == layer.backward(x).dtype == dtype


def test_dropout_matches_torch_semantics():
    torch = pytest.importorskip("torch")
    x = np.full((100, 100), 2.0, dtype=np.float32)
    reference = torch.nn.Dropout(0.3)(torch.from_numpy(x)).numpy()
    ours = Dropout(0.3).forward(x)
    np.testing.assert_allclose(np.unique(ours), np.unique(reference), rtol=1e-6)
    assert abs((ours == 0).mean() - (reference == 0).mean()) < 0.03
    assert repr(Dropout(0.3)) == "Dropout(p=0.3)"


def test_dropout_runs_on_each_backend(backend_name):
    layer = Dropout(0.5)
    x = backend.xp.ones((32, 32), dtype=np.float32)
    y = layer.forward(x)
    assert type(y) is type(x) and y.dtype == np.float32
    dropped = backend.to_float((y == 0).mean())
    assert 0.3 < dropped < 0.7
    assert type(layer.backward(x)) is type(x)


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), "0.5", True])
def test_bad_p_is_a_value_error_naming_the_layer_and_value(p):
    with pytest.raises(ValueError, match=r"Dropout: p .* got " + repr(p).replace(".", r"\.")):
        Dropout(p)


@pytest.mark.parametrize("x, error", [
    (np.zeros((0, 3), dtype=np.float32), ShapeError),
    (np.zeros((2, 3), dtype=np.int64), TypeError),
])
def test_bad_input_names_the_layer(x, error):
    with pytest.raises(error, match="Dropout"):
        Dropout().forward(x)
