import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinynet import backend
from tinynet.gradcheck import check_module
from tinynet.nn.checks import ShapeError
from tinynet.nn.pooling import AvgPool2d, MaxPool2d
from tinynet.testing import conv_geometries, spread_arrays


@st.composite
def pool_configs(draw, max_size=4):
    """Pooling hyperparameters PyTorch accepts, from tinynet.testing's ``conv_geometries``
    (padding <= kernel // 2; stride smaller than, equal to or larger than the kernel, or None;
    possibly non-square), a batch, and a tie-free input ``x`` (``spread_arrays``: the argmax of
    every window is unique and stays put under the finite-difference step)."""
    geometry = draw(conv_geometries(max_stride=4, max_extra=max_size, pooling=True))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    h, w = geometry.input_size
    return dict(n=n, c=c, h=h, w=w, kernel=geometry.kernel_size,
                stride=draw(st.one_of(st.none(), st.just(geometry.stride))),
                padding=geometry.padding, seed=draw(st.integers(0, 2**16)),
                x=draw(spread_arrays((n, c, h, w))))


def torch_reference(layer, x, grad_out):
    """PyTorch's max_pool2d / avg_pool2d with the same hyperparameters: output and dx."""
    torch = pytest.importorskip("torch")
    function = {MaxPool2d: torch.nn.functional.max_pool2d,
                AvgPool2d: torch.nn.functional.avg_pool2d}[type(layer)]
    tx = torch.tensor(x, requires_grad=True)
    y = function(tx, layer.kernel_size, layer.stride, layer.padding)
    y.backward(torch.tensor(grad_out))
    return y.detach().numpy(), tx.grad.numpy()


def assert_matches_pytorch(layer, x, seed, rtol=1e-12):
    y = layer.forward(x)
    grad_out = np.random.default_rng(seed).standard_normal(y.shape).astype(x.dtype)
    dx = layer.backward(grad_out)
    ref_y, ref_dx = torch_reference(layer, x, grad_out)
    assert y.shape == ref_y.shape and dx.shape == x.shape
    np.testing.assert_allclose(y, ref_y, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(dx, ref_dx, rtol=rtol, atol=rtol)


# --- gradients and PyTorch agreement ---------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(cfg=pool_configs())
def test_maxpool_gradients(cfg):
    layer = MaxPool2d(cfg["kernel"], cfg["stride"], cfg["padding"])
    report = check_module(layer, cfg["x"], seed=cfg["seed"])
    assert report.passed(1e-6), str(report)


@settings(max_examples=25, deadline=None)
@given(cfg=pool_configs())
def test_avgpool_gradients(cfg):
    layer = AvgPool2d(cfg["kernel"], cfg["stride"], cfg["padding"])
    x = np.random.default_rng(cfg["seed"]).standard_normal((cfg["n"], cfg["c"], cfg["h"], cfg["w"]))
    report = check_module(layer, x, seed=cfg["seed"])
    assert report.passed(1e-6), str(report)


@settings(max_examples=25, deadline=None)
@given(cfg=pool_configs(max_size=7), pool=st.sampled_from([MaxPool2d, AvgPool2d]))
def test_pools_match_pytorch(cfg, pool):
    layer = pool(cfg["kernel"], cfg["stride"], cfg["padding"])
    assert_matches_pytorch(layer, cfg["x"], cfg["seed"])


@settings(max_examples=25, deadline=None)
@given(cfg=pool_configs(max_size=7))
def test_maxpool_ties_go_to_the_first_max_like_pytorch(cfg):
    # Few distinct values: most windows hold several equal maxima (ReLU outputs do, at 0).
    shape = (cfg["n"], cfg["c"], cfg["h"], cfg["w"])
    x = np.random.default_rng(cfg["seed"]).integers(0, 3, shape).astype(np.float64)
    assert_matches_pytorch(MaxPool2d(cfg["kernel"], cfg["stride"], cfg["padding"]), x,
                           cfg["seed"])


def test_maxpool_all_equal_window_routes_to_its_first_entry():
    layer = MaxPool2d(2)
    layer.forward(np.zeros((1, 1, 2, 4)))
    dx = layer.backward(np.array([[[[1.0, 2.0]]]]))
    np.testing.assert_array_equal(dx, [[[[1, 0, 2, 0], [0, 0, 0, 0]]]])


@pytest.mark.parametrize("kernel, stride", [(2, 2), (3, 1)])
def test_maxpool_propagates_nan_like_pytorch(kernel, stride):
    x = np.arange(36.0).reshape(1, 1, 6, 6)
    x[0, 0, 1, 1] = x[0, 0, 4, 2] = x[0, 0, 4, 3] = np.nan
    assert_matches_pytorch(MaxPool2d(kernel, stride), x, seed=0)


def test_overlapping_maxpool_sums_gradients_of_a_shared_max():
    layer = MaxPool2d(3, stride=1)
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 2] = 5.0                  # the max of all four 3x3 windows
    layer.forward(x)
    dx = layer.backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    assert dx[0, 0, 1, 2] == 10.0 and np.count_nonzero(dx) == 1


def test_avgpool_counts_padding_in_the_mean():
    y = AvgPool2d(3, stride=1, padding=1).forward(np.ones((1, 1, 3, 3)))
    np.testing.assert_allclose(y[0, 0], [[4 / 9, 6 / 9, 4 / 9], [6 / 9, 1, 6 / 9],
                                         [4 / 9, 6 / 9, 4 / 9]])


def test_maxpool_padding_never_wins():
    y = MaxPool2d(3, stride=1, padding=1).forward(-np.ones((1, 1, 2, 2)))
    np.testing.assert_array_equal(y, -1)


# --- LeNet-size shapes, float32, backends ----------------------------------------------------

@pytest.mark.parametrize("pool", [MaxPool2d, AvgPool2d])
@pytest.mark.parametrize("shape", [(64, 16, 24, 24), (64, 32, 8, 8), (64, 32, 28, 28)])
def test_cnn_shapes_float32_match_pytorch(pool, shape, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    layer = pool(2)
    y = layer.forward(x)
    assert y.shape == shape[:2] + (shape[2] // 2, shape[3] // 2) and y.dtype == np.float32
    grad_out = rng.standard_normal(y.shape).astype(np.float32)
    dx = layer.backward(grad_out)
    assert dx.shape == shape and dx.dtype == np.float32
    ref_y, ref_dx = torch_reference(layer, x, grad_out)
    np.testing.assert_allclose(y, ref_y, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("pool", [MaxPool2d, AvgPool2d])
@pytest.mark.parametrize("kernel, stride, padding", [
    (2, None, 0), (3, 1, 1), ((3, 2), (1, 3), (1, 0))])
def test_pools_run_on_each_backend(backend_name, pool, kernel, stride, padding):
    x = np.random.default_rng(0).permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6).astype(np.float32)
    layer = pool(kernel, stride, padding)
    y = layer.forward(backend.to_device(x))
    grad_out = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    dx = layer.backward(backend.to_device(grad_out))
    assert type(dx) is type(backend.xp.zeros(1)) and dx.dtype == np.float32
    ref_y, ref_dx = torch_reference(layer, x, grad_out)
    np.testing.assert_allclose(backend.to_numpy(y), ref_y, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(backend.to_numpy(dx), ref_dx, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("pool", [MaxPool2d, AvgPool2d])
def test_backward_does_not_mutate_the_incoming_gradient(pool, rng):
    layer = pool(3, stride=1, padding=1)
    layer.forward(rng.standard_normal((2, 2, 4, 4)).astype(np.float32))
    g = rng.standard_normal((2, 2, 4, 4)).astype(np.float32)
    before = g.copy()
    layer.backward(g)
    np.testing.assert_array_equal(g, before)


# --- hyperparameters and errors --------------------------------------------------------------

@pytest.mark.parametrize("pool", [MaxPool2d, AvgPool2d])
def test_stride_defaults_to_the_kernel_size(pool):
    assert pool(3).stride == (3, 3)
    assert pool((2, 3)).stride == (2, 3)
    assert pool(3, stride=1).stride == (1, 1)
    assert repr(pool(2)) == f"{pool.__name__}(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"


@pytest.mark.parametrize("pool", [MaxPool2d, AvgPool2d])
@pytest.mark.parametrize("kwargs, message", [
    (dict(kernel_size=0), r"kernel_size must be a positive int.*got 0"),
    (dict(kernel_size=(2, 2, 2)), r"kernel_size must be a positive int or a pair"),
    (dict(kernel_size=2, stride=0), r"stride must be a positive int.*got 0"),
    (dict(kernel_size=2, padding=-1), r"padding must be a non-negative int.*got -1"),
    (dict(kernel_size=2, padding=2), r"padding \(2, 2\) must be at most half the kernel size "
                                     r"\(2, 2\)"),
    (dict(kernel_size=(3, 1), padding=(1, 1)), r"padding \(1, 1\) must be at most half"),
])
def test_invalid_hyperparameters_are_rejected(pool, kwargs, message):
    with pytest.raises(ValueError, match=f"{pool.__name__}: {message}"):
        pool(**kwargs)


@pytest.mark.parametrize("pool", [MaxPool2d, AvgPool2d])
@pytest.mark.parametrize("x, error, message", [
    (np.zeros((16, 24, 24), np.float32), ShapeError,
     r"expected input of shape \(N, C, H, W\), got \(16, 24, 24\)"),
    (np.zeros((0, 16, 24, 24), np.float32), ShapeError, "empty batch"),
    (np.zeros((1, 16, 24, 24), np.int64), TypeError, "floating-point input, got dtype int64"),
    (np.zeros((1, 16, 1, 24), np.float32), ShapeError,
     r"kernel \(2, 2\) is larger than the padded input \(1, 24\)"),
])
def test_bad_input_errors_name_the_layer(pool, x, error, message):
    with pytest.raises(error, match=rf"{pool.__name__}\(kernel_size=\(2, 2\).*{message}"):
        pool(2).forward(x)


def test_maxpool_with_more_than_256_window_entries(rng):
    """17x17 windows: argmax indices no longer fit the uint8 kept for small kernels."""
    x = rng.standard_normal((2, 3, 17, 34))
    layer = MaxPool2d(17)
    y = layer.forward(x)
    windows = x.reshape(2, 3, 1, 17, 2, 17).transpose(0, 1, 2, 4, 3, 5).reshape(2, 3, 1, 2, -1)
    np.testing.assert_array_equal(y, windows.max(axis=-1))
    grad = layer.backward(np.ones_like(y))
    assert grad.sum() == y.size and (grad[x == np.repeat(np.repeat(y, 17, 2), 17, 3)] == 1).all()
