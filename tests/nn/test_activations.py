import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinynet.gradcheck import check_module
from tinynet.nn import ReLU, Sigmoid, Softmax, Tanh

shapes = st.lists(st.integers(1, 4), min_size=1, max_size=4)


@pytest.mark.parametrize("layer_type", [ReLU, Sigmoid, Tanh])
@settings(max_examples=15, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_elementwise_gradients(layer_type, shape, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    assert check_module(layer_type(), x, seed=seed).passed(1e-6)


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=2, max_size=4),
       dim=st.integers(-1, 1), seed=st.integers(0, 2**16))
def test_softmax_jacobian_vector_backward(shape, dim, seed):
    x = np.random.default_rng(seed).standard_normal(shape) * 3
    assert check_module(Softmax(dim=dim), x, seed=seed).passed(1e-6)


@pytest.mark.parametrize("layer, torch_name", [
    (ReLU(), "relu"), (Sigmoid(), "sigmoid"), (Tanh(), "tanh"), (Softmax(dim=1), "softmax")])
def test_activations_match_pytorch(layer, torch_name, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((5, 7)) * 4
    g = rng.standard_normal((5, 7))
    tx = torch.tensor(x, requires_grad=True)
    fn = getattr(torch, torch_name)
    out = fn(tx, dim=1) if torch_name == "softmax" else fn(tx)
    out.backward(torch.from_numpy(g))
    np.testing.assert_allclose(layer.forward(x), out.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(layer.backward(g), tx.grad.numpy(), rtol=1e-10, atol=1e-15)


@settings(max_examples=30, deadline=None)
@given(scale=st.floats(1.0, 1e4), seed=st.integers(0, 2**16))
def test_sigmoid_and_softmax_stay_finite_for_huge_inputs(scale, seed):
    x = (np.random.default_rng(seed).standard_normal((4, 5)) * scale).astype(np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = Sigmoid().forward(x)
        p = Softmax().forward(x)
    assert np.all((s >= 0) & (s <= 1)) and np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)


def test_activations_keep_float32():
    x = np.ones((2, 3), np.float32)
    for layer in (ReLU(), Sigmoid(), Tanh(), Softmax()):
        assert layer.forward(x).dtype == np.float32
        assert layer.backward(x).dtype == np.float32


def test_integer_input_is_rejected_by_name():
    with pytest.raises(TypeError, match="ReLU.*floating-point"):
        ReLU().forward(np.ones((2, 3), np.int32))
