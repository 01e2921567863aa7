import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinynet import backend
from tinynet.gradcheck import check_module
from tinynet.nn.checks import ShapeError
from tinynet.kernels import reference
from tinynet.nn.conv import Conv2d
from tinynet.testing import conv_geometries


@st.composite
def conv_configs(draw, max_size=4):
    """Conv2d hyperparameters from tinynet.testing's ``conv_geometries`` (possibly non-square,
    stride > kernel, padding > kernel, an input size the kernel fits into after padding), with
    channels, a bias flag and a seed."""
    geometry = draw(conv_geometries(max_extra=max_size))
    h, w = geometry.input_size
    return dict(n=draw(st.integers(1, 3)), c_in=draw(st.integers(1, 2)),
                c_out=draw(st.integers(1, 3)), h=h, w=w, kernel=geometry.kernel_size,
                stride=geometry.stride, padding=geometry.padding, bias=draw(st.booleans()),
                seed=draw(st.integers(0, 2**16)))


def make_conv(cfg):
    return Conv2d(cfg["c_in"], cfg["c_out"], cfg["kernel"], cfg["stride"], cfg["padding"],
                  bias=cfg["bias"])


def random_input(cfg, dtype=np.float64):
    shape = (cfg["n"], cfg["c_in"], cfg["h"], cfg["w"])
    return np.random.default_rng(cfg["seed"]).standard_normal(shape).astype(dtype)


def output_hw(cfg):
    return tuple((size + 2 * p - k) // s + 1 for size, k, s, p in
                 zip((cfg["h"], cfg["w"]), cfg["kernel"], cfg["stride"], cfg["padding"]))


def torch_reference(layer, x, grad_out):
    """PyTorch's conv2d with the layer's weights: output, dx, dW, db (db None without bias)."""
    torch = pytest.importorskip("torch")
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(backend.to_numpy(layer.weight.data), requires_grad=True)
    tb = (torch.tensor(backend.to_numpy(layer.bias.data), requires_grad=True)
          if layer.bias is not None else None)
    y = torch.nn.functional.conv2d(tx, tw, tb, stride=layer.stride, padding=layer.padding)
    y.backward(torch.tensor(grad_out))
    return (y.detach().numpy(), tx.grad.numpy(), tw.grad.numpy(),
            None if tb is None else tb.grad.numpy())


# --- gradients -------------------------------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(cfg=conv_configs())
def test_conv_gradients(cfg):
    report = check_module(make_conv(cfg), random_input(cfg), seed=cfg["seed"])
    assert report.passed(1e-6), str(report)
    assert set(report.errors) == {"input", "weight"} | ({"bias"} if cfg["bias"] else set())


@settings(max_examples=25, deadline=None)
@given(cfg=conv_configs(max_size=7))
def test_conv_matches_pytorch(cfg):
    layer = make_conv(cfg).astype(np.float64)
    x = random_input(cfg)
    y = layer.forward(x)
    assert y.shape == (cfg["n"], cfg["c_out"], *output_hw(cfg))
    grad_out = np.random.default_rng(cfg["seed"] + 1).standard_normal(y.shape)
    dx = layer.backward(grad_out)
    ref_y, ref_dx, ref_dw, ref_db = torch_reference(layer, x, grad_out)
    np.testing.assert_allclose(y, ref_y, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.weight.grad, ref_dw, rtol=1e-10, atol=1e-12)
    if cfg["bias"]:
        np.testing.assert_allclose(layer.bias.grad, ref_db, rtol=1e-10, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 2), h=st.integers(3, 7), w=st.integers(3, 7),
       kh=st.integers(1, 3), kw=st.integers(1, 3), sh=st.integers(1, 3), sw=st.integers(1, 3),
       seed=st.integers(0, 2**16))
def test_col2im_is_the_adjoint_of_im2col(n, c, h, w, kh, kw, sh, sw, seed):
    # <im2col(x), G> == <x, col2im(G)> for all x, G: col2im is the transpose of im2col.
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    padding = (kh // 2, kw // 2)
    cols = reference.im2col(x, (kh, kw), (sh, sw), padding)
    grad_cols = rng.standard_normal(cols.shape)
    lhs = (cols * grad_cols).sum()
    rhs = (x * reference.col2im(grad_cols, x.shape, (kh, kw), (sh, sw), padding)).sum()
    assert abs(lhs - rhs) <= 1e-10 * (1 + abs(lhs))


# --- LeNet-size shapes, float32, backends ----------------------------------------------------

@pytest.mark.parametrize("c_in, c_out, k, padding, hw", [
    (1, 16, 5, 0, 28),    # E2 LeNet conv1
    (16, 32, 5, 0, 12),   # E2 LeNet conv2
    (1, 32, 3, 1, 28),    # E6 simple CNN conv1
    (32, 64, 3, 1, 14),   # E6 simple CNN conv2
])
def test_cnn_shapes_float32_match_pytorch(c_in, c_out, k, padding, hw, rng):
    layer = Conv2d(c_in, c_out, k, padding=padding)
    x = rng.standard_normal((64, c_in, hw, hw)).astype(np.float32)
    y = layer.forward(x)
    out = hw + 2 * padding - k + 1
    assert y.shape == (64, c_out, out, out) and y.dtype == np.float32 and y.flags.c_contiguous
    grad_out = rng.standard_normal(y.shape).astype(np.float32)
    dx = layer.backward(grad_out)
    assert dx.shape == x.shape and dx.dtype == np.float32
    assert layer.weight.grad.shape == layer.weight.shape and layer.weight.grad.dtype == np.float32
    assert layer.bias.grad.shape == (c_out,) and layer.bias.grad.dtype == np.float32
    ref_y, ref_dx, ref_dw, ref_db = torch_reference(layer, x, grad_out)
    np.testing.assert_allclose(y, ref_y, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(layer.weight.grad, ref_dw, rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(layer.bias.grad, ref_db, rtol=1e-4, atol=1e-2)


def test_conv_runs_on_each_backend(backend_name):
    host_rng = np.random.default_rng(0)
    layer = Conv2d(2, 3, (3, 2), stride=(2, 1), padding=1)
    x = host_rng.standard_normal((4, 2, 7, 6)).astype(np.float32)
    grad_out = host_rng.standard_normal((4, 3, 4, 7)).astype(np.float32)
    y = layer.forward(backend.to_device(x))
    dx = layer.backward(backend.to_device(grad_out))
    assert type(y) is type(backend.xp.zeros(1)) and y.dtype == np.float32
    ref_y, ref_dx, ref_dw, ref_db = torch_reference(layer, x, grad_out)
    np.testing.assert_allclose(backend.to_numpy(y), ref_y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(backend.to_numpy(dx), ref_dx, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(backend.to_numpy(layer.weight.grad), ref_dw, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(backend.to_numpy(layer.bias.grad), ref_db, rtol=1e-5, atol=1e-5)


def test_non_contiguous_input_gives_the_same_result(rng):
    layer = Conv2d(3, 2, 3, padding=1).astype(np.float64)
    x = rng.standard_normal((5, 6, 3, 4)).transpose(0, 2, 3, 1)    # (5, 3, 4, 6), a view
    expected = layer.forward(np.ascontiguousarray(x))
    np.testing.assert_array_equal(layer.forward(x), expected)


# --- parameters, init, bookkeeping -----------------------------------------------------------

def test_init_matches_pytorch_bounds_and_shapes():
    layer = Conv2d(16, 32, 5)
    bound = 1 / np.sqrt(16 * 5 * 5)
    assert layer.weight.shape == (32, 16, 5, 5) and layer.bias.shape == (32,)
    for p in (layer.weight.data, layer.bias.data):
        assert p.dtype == np.float32
        assert -bound <= p.min() and p.max() <= bound
    w = layer.weight.data
    assert w.min() < -0.95 * bound and w.max() > 0.95 * bound
    assert abs(w.std() - bound / np.sqrt(3)) < 2e-3     # std of U(-b, b)


def test_bias_false_has_no_bias_parameter():
    layer = Conv2d(2, 3, 2, bias=False)
    assert layer.bias is None
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    assert layer.num_parameters() == 3 * 2 * 2 * 2


def test_parameter_count_and_state_keys_match_pytorch():
    torch = pytest.importorskip("torch")
    ours, ref = Conv2d(1, 16, 5), torch.nn.Conv2d(1, 16, 5)
    assert ours.num_parameters() == sum(p.numel() for p in ref.parameters())
    state = ours.state_dict()
    assert {k: v.shape for k, v in state.items()} == {
        k: tuple(v.shape) for k, v in ref.state_dict().items()}


@pytest.mark.parametrize("args, kwargs", [
    ((1, 16, 5), {}),
    ((16, 32, 3), {"stride": 2, "padding": 1}),
    ((3, 4, (3, 2)), {"stride": (2, 1), "padding": (1, 0), "bias": False}),
])
def test_repr_matches_pytorch(args, kwargs):
    torch = pytest.importorskip("torch")
    assert repr(Conv2d(*args, **kwargs)) == repr(torch.nn.Conv2d(*args, **kwargs))


def test_gradients_accumulate_until_zero_grad(rng):
    layer = Conv2d(2, 3, 3)
    x = rng.standard_normal((2, 2, 5, 5)).astype(np.float32)
    g = np.ones((2, 3, 3, 3), np.float32)
    layer.forward(x)
    layer.backward(g)
    first_w, first_b = layer.weight.grad.copy(), layer.bias.grad.copy()
    layer.forward(x)
    layer.backward(g)
    np.testing.assert_allclose(layer.weight.grad, 2 * first_w, rtol=1e-6)
    np.testing.assert_allclose(layer.bias.grad, 2 * first_b, rtol=1e-6)
    layer.zero_grad()
    assert layer.weight.grad is None and layer.bias.grad is None


def test_backward_does_not_mutate_the_incoming_gradient(rng):
    layer = Conv2d(2, 3, 3, padding=1)
    layer.forward(rng.standard_normal((2, 2, 4, 4)).astype(np.float32))
    g = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    before = g.copy()
    layer.backward(g)
    np.testing.assert_array_equal(g, before)


# --- errors ----------------------------------------------------------------------------------

@pytest.mark.parametrize("x, error, message", [
    (np.zeros((3, 28, 28), np.float32), ShapeError,
     r"Conv2d\(3, 16, kernel_size=\(5, 5\).*expected input of shape \(N, 3, H, W\), "
     r"got \(3, 28, 28\)"),
    (np.zeros((8, 1, 28, 28), np.float32), ShapeError,
     r"expected input of shape \(N, 3, H, W\), got \(8, 1, 28, 28\)"),
    (np.zeros((0, 3, 28, 28), np.float32), ShapeError, "empty batch"),
    (np.zeros((8, 3, 28, 28), np.int64), TypeError, "floating-point input, got dtype int64"),
    (np.zeros((8, 3, 28, 28), np.float64), TypeError, "float64 does not match.*float32"),
    (np.zeros((8, 3, 4, 28), np.float32), ShapeError,
     r"Conv2d\(3, 16.*kernel \(5, 5\) is larger than the padded input \(4, 28\)"),
])
def test_bad_input_errors_name_the_layer(x, error, message):
    with pytest.raises(error, match=message):
        Conv2d(3, 16, 5).forward(x)


def test_padding_counts_when_checking_the_kernel_fits():
    layer = Conv2d(1, 1, 5, padding=1)
    assert layer.forward(np.zeros((1, 1, 3, 3), np.float32)).shape == (1, 1, 1, 1)
    with pytest.raises(ShapeError, match=r"larger than the padded input \(4, 4\) "
                                         r"\(input 2x2, padding \(1, 1\)\)"):
        layer.forward(np.zeros((1, 1, 2, 2), np.float32))


@pytest.mark.parametrize("kwargs, message", [
    (dict(kernel_size=0), r"Conv2d: kernel_size must be a positive int.*got 0"),
    (dict(kernel_size=(3, 0)), r"kernel_size must be a positive int.*got \(3, 0\)"),
    (dict(kernel_size=(3,)), r"kernel_size must be a positive int or a pair.*got \(3,\)"),
    (dict(kernel_size=2.5), r"kernel_size must be a positive int.*got 2.5"),
    (dict(kernel_size=3, stride=0), r"Conv2d: stride must be a positive int.*got 0"),
    (dict(kernel_size=3, padding=-1), r"Conv2d: padding must be a non-negative int.*got -1"),
    (dict(kernel_size=3, in_channels=0), r"Conv2d: in_channels must be a positive int, got 0"),
    (dict(kernel_size=3, out_channels=-2), r"out_channels must be a positive int, got -2"),
])
def test_invalid_hyperparameters_are_rejected(kwargs, message):
    args = dict(in_channels=1, out_channels=2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        Conv2d(**args)


def test_numpy_integer_hyperparameters_are_accepted():
    layer = Conv2d(np.int64(2), 3, np.int64(3), stride=(np.int32(1), 2))
    assert layer.kernel_size == (3, 3) and layer.stride == (1, 2) and layer.in_channels == 2
    assert all(type(v) is int for v in layer.kernel_size + layer.stride)


# --- timing (printed, never asserted: run with -s to see it) ---------------------------------

def _best_time(step, repeats=5):
    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return min(times)


@pytest.mark.parametrize("c_in, c_out, hw", [(1, 16, 28), (16, 32, 12)])
def test_print_forward_backward_time_vs_pytorch(c_in, c_out, hw, rng):
    torch = pytest.importorskip("torch")
    layer = Conv2d(c_in, c_out, 5)
    x = rng.standard_normal((64, c_in, hw, hw)).astype(np.float32)
    grad_out = rng.standard_normal((64, c_out, hw - 4, hw - 4)).astype(np.float32)

    def ours():
        layer.forward(x)
        layer.backward(grad_out)

    ref = torch.nn.Conv2d(c_in, c_out, 5)
    tx, tg = torch.from_numpy(x).requires_grad_(), torch.from_numpy(grad_out)

    def theirs():
        ref(tx).backward(tg)

    ours_ms, torch_ms = 1e3 * _best_time(ours), 1e3 * _best_time(theirs)
    print(f"\nConv2d({c_in}, {c_out}, 5) batch 64 forward+backward: tinynet {ours_ms:.2f} ms, "
          f"torch {torch_ms:.2f} ms (x{ours_ms / torch_ms:.1f})")
