import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinynet import backend
from tinynet.gradcheck import check_module
from tinynet.nn import Flatten, Linear
from tinynet.nn.checks import ShapeError


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 4), fan_in=st.integers(1, 6), fan_out=st.integers(1, 5),
       bias=st.booleans(), seed=st.integers(0, 2**16))
def test_linear_gradients(n, fan_in, fan_out, bias, seed):
    x = np.random.default_rng(seed).standard_normal((n, fan_in))
    report = check_module(Linear(fan_in, fan_out, bias=bias), x, seed=seed)
    assert report.passed(1e-6), str(report)


def test_linear_accepts_leading_axes_like_pytorch(rng):
    report = check_module(Linear(3, 2), rng.standard_normal((2, 4, 3)))
    assert report.passed(1e-6), str(report)


@settings(max_examples=10, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=2, max_size=4), seed=st.integers(0, 2**16))
def test_flatten_gradients(shape, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    assert check_module(Flatten(), x).passed(1e-6)
    assert Flatten().forward(x).shape == (shape[0], int(np.prod(shape[1:])))


def test_linear_init_matches_pytorch_bounds():
    backend.seed(0)
    layer = Linear(784, 500)
    bound = 1 / np.sqrt(784)
    for p in (layer.weight.data, layer.bias.data):
        assert p.dtype == np.float32
        assert -bound <= p.min() < -0.95 * bound and 0.95 * bound < p.max() <= bound
    assert abs(layer.weight.data.std() - bound / np.sqrt(3)) < 1e-3   # std of U(-b, b)


def test_same_seed_same_weights():
    backend.seed(3)
    a = Linear(5, 4).weight.data
    backend.seed(3)
    np.testing.assert_array_equal(a, Linear(5, 4).weight.data)


def test_linear_matches_pytorch(rng):
    torch = pytest.importorskip("torch")
    layer = Linear(6, 3).astype(np.float64)
    ref = torch.nn.Linear(6, 3).double()
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(layer.weight.data))
        ref.bias.copy_(torch.from_numpy(layer.bias.data))
    x = rng.standard_normal((4, 6))
    g = rng.standard_normal((4, 3))
    tx = torch.tensor(x, requires_grad=True)
    ref(tx).backward(torch.from_numpy(g))
    np.testing.assert_allclose(layer.forward(x), ref(tx).detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.backward(g), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.weight.grad, ref.weight.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, ref.bias.grad.numpy(), rtol=1e-12)


def test_gradients_accumulate_until_zero_grad(rng, backend_name):
    layer = Linear(3, 2)
    x = backend.to_device(rng.standard_normal((4, 3)), np.float32)
    g = backend.xp.ones((4, 2), dtype=np.float32)
    layer.forward(x)
    layer.backward(g)
    first = backend.to_numpy(layer.weight.grad).copy()
    layer.forward(x)
    layer.backward(g)
    np.testing.assert_allclose(backend.to_numpy(layer.weight.grad), 2 * first, rtol=1e-6)
    layer.zero_grad()
    assert layer.weight.grad is None


def test_backward_does_not_mutate_the_incoming_gradient(rng):
    layer = Linear(3, 2)
    g = np.ones((4, 2), np.float32)
    layer.forward(rng.standard_normal((4, 3)).astype(np.float32))
    layer.backward(g)
    np.testing.assert_array_equal(g, 1)


@pytest.mark.parametrize("x, error, message", [
    (np.zeros((8, 100), np.float32), ShapeError,
     r"Linear\(784, 10.*expected input of shape \(N, 784\), got \(8, 100\)"),
    (np.zeros((0, 784), np.float32), ShapeError, "empty batch"),
    (np.zeros((8, 784), np.int64), TypeError, "floating-point input, got dtype int64"),
    (np.zeros((8, 784), np.float64), TypeError, "float64 does not match.*float32"),
])
def test_linear_bad_input_errors_name_the_layer(x, error, message):
    with pytest.raises(error, match=message):
        Linear(784, 10).forward(x)


def test_linear_rejects_nonpositive_sizes():
    with pytest.raises(ValueError, match="must be positive, got 0 and 3"):
        Linear(0, 3)


@pytest.mark.parametrize("batch", [1, 3])
def test_linear_weight_gradient_is_the_sum_of_outer_products(batch, rng):
    """The fast kernel computes batch 1 as an outer product; both give g.T @ x."""
    layer = Linear(5, 4, dtype=np.float64)
    x, g = rng.standard_normal((batch, 5)), rng.standard_normal((batch, 4))
    layer.forward(x)
    assert layer.backward(g, input_grad=False) is None
    np.testing.assert_allclose(layer.weight.grad, sum(np.outer(g[n], x[n]) for n in range(batch)),
                               rtol=1e-12)
