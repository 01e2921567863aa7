"""BatchNorm1d, BatchNorm2d and LayerNorm: gradient checks (hypothesis), PyTorch comparisons,
running statistics, eval mode and input / hyperparameter errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinynet import backend
from tinynet.gradcheck import check_module
from tinynet.nn.checks import ShapeError
from tinynet.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm

GRADCHECK = settings(max_examples=25, deadline=None)


def data_rng(seed):
    # A stream independent of check_module's upstream gradient (default_rng(0)): with x equal
    # to the upstream gradient, the normalised layers' input gradient is ~0 and the check is void.
    return np.random.default_rng([seed, 7])


def eps_for(values_per_group):
    """With only two values per group, xhat = +-1 whatever x is (up to eps): dL/dx ~ eps / d^3
    is tiny and drowns in finite-difference noise. A large eps makes the check meaningful."""
    return 0.5 if values_per_group == 2 else 1e-5


def randomize(layer, rng):
    """Non-trivial weight, bias and running statistics, so every term of the backward matters."""
    if getattr(layer, "weight", None) is not None:
        layer.weight.data = rng.uniform(0.5, 2.0, layer.weight.shape)
    if getattr(layer, "bias", None) is not None:
        layer.bias.data = rng.standard_normal(layer.bias.shape)
    if getattr(layer, "running_mean", None) is not None:
        layer.running_mean = rng.standard_normal(layer.running_mean.shape)
        layer.running_var = rng.uniform(0.5, 2.0, layer.running_var.shape)
    return layer


def assert_gradcheck(layer, x, **kwargs):
    report = check_module(layer, x, **kwargs)
    assert report.max_error < 1e-6, str(report)


# --- gradient checks -----------------------------------------------------------------------

@GRADCHECK
@given(n=st.integers(2, 6), c=st.integers(1, 4), affine=st.booleans(), training=st.booleans(),
       track=st.booleans(), seed=st.integers(0, 2**16))
def test_batchnorm1d_2d_input_gradcheck(n, c, affine, training, track, seed):
    rng = data_rng(seed)
    layer = BatchNorm1d(c, eps=eps_for(n), affine=affine, track_running_stats=track)
    randomize(layer, rng).train(training)
    assert_gradcheck(layer, rng.standard_normal((n, c)) * 2 + 1)


@GRADCHECK
@given(n=st.integers(1, 3), c=st.integers(1, 3), length=st.integers(1, 5),
       affine=st.booleans(), training=st.booleans(), seed=st.integers(0, 2**16))
def test_batchnorm1d_3d_input_gradcheck(n, c, length, affine, training, seed):
    if training and n * length < 2:
        n = 2
    rng = data_rng(seed)
    layer = randomize(BatchNorm1d(c, eps=eps_for(n * length), affine=affine), rng)
    layer.train(training)
    assert_gradcheck(layer, rng.standard_normal((n, c, length)))


@GRADCHECK
@given(n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(1, 3), w=st.integers(1, 3),
       affine=st.booleans(), training=st.booleans(), track=st.booleans(),
       seed=st.integers(0, 2**16))
def test_batchnorm2d_gradcheck(n, c, h, w, affine, training, track, seed):
    if n * h * w < 2:
        n = 2
    rng = data_rng(seed)
    layer = BatchNorm2d(c, eps=eps_for(n * h * w), affine=affine, track_running_stats=track)
    randomize(layer, rng).train(training)
    assert_gradcheck(layer, rng.standard_normal((n, c, h, w)))


@GRADCHECK
@given(leading=st.lists(st.integers(1, 3), min_size=0, max_size=2),
       normalized=st.lists(st.integers(1, 4), min_size=1, max_size=2),
       affine=st.booleans(), bias=st.booleans(), seed=st.integers(0, 2**16))
def test_layernorm_gradcheck(leading, normalized, affine, bias, seed):
    rng = data_rng(seed)
    layer = LayerNorm(tuple(normalized), eps=eps_for(int(np.prod(normalized))),
                      elementwise_affine=affine, bias=bias)
    randomize(layer, rng)
    assert_gradcheck(layer, rng.standard_normal((*leading, *normalized)))


def test_gradcheck_detects_missing_mean_gradient_term():
    """The check can fail: dropping the -mean(dxhat) term of the BN backward is caught."""
    rng = data_rng(0)
    layer = randomize(BatchNorm1d(3), rng)

    class Broken(BatchNorm1d):
        def backward(self, grad_out):
            grad_xhat = grad_out * self.weight.data
            return self.inv_std * (grad_xhat - self.xhat * (grad_xhat * self.xhat).mean(axis=0))

    broken = Broken(3)
    broken.weight.data, broken.bias.data = layer.weight.data, layer.bias.data
    assert check_module(broken, rng.standard_normal((5, 3))).errors["input"] > 1e-3


# --- against PyTorch -----------------------------------------------------------------------

def torch_batchnorm(torch, ours):
    cls = {BatchNorm1d: torch.nn.BatchNorm1d, BatchNorm2d: torch.nn.BatchNorm2d}[type(ours)]
    reference = cls(ours.num_features, eps=ours.eps, momentum=ours.momentum, affine=ours.affine,
                    track_running_stats=ours.track_running_stats)
    if ours.affine:
        with torch.no_grad():
            reference.weight.copy_(torch.from_numpy(ours.weight.data))
            reference.bias.copy_(torch.from_numpy(ours.bias.data))
    return reference


BATCHNORM_CASES = [
    (BatchNorm1d, (8, 5), {}),
    (BatchNorm1d, (4, 5, 6), {}),
    (BatchNorm1d, (2, 5), {"momentum": None}),
    (BatchNorm1d, (6, 5, 3), {"affine": False}),
    (BatchNorm2d, (4, 5, 6, 7), {}),
    (BatchNorm2d, (1, 5, 3, 2), {"momentum": 0.5, "eps": 1e-3}),
    (BatchNorm2d, (3, 5, 4, 4), {"track_running_stats": False}),
    (BatchNorm2d, (3, 5, 4, 4), {"affine": False, "momentum": None}),
]


@pytest.mark.parametrize("cls, shape, kwargs", BATCHNORM_CASES)
def test_batchnorm_matches_torch_over_training_steps_and_eval(cls, shape, kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    ours = cls(shape[1], **kwargs)
    if ours.affine:
        ours.weight.data = rng.uniform(0.5, 2, shape[1]).astype(np.float32)
        ours.bias.data = rng.standard_normal(shape[1]).astype(np.float32)
    reference = torch_batchnorm(torch, ours)
    for _ in range(4):
        x = (rng.standard_normal(shape) * 3 + 2).astype(np.float32)
        grad = rng.standard_normal(shape).astype(np.float32)
        ours.zero_grad()
        y = ours.forward(x)
        dx = ours.backward(grad)
        x_t = torch.from_numpy(x).requires_grad_()
        reference.zero_grad()
        y_t = reference(x_t)
        y_t.backward(torch.from_numpy(grad))
        np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=1e-4, atol=1e-5)
        if ours.affine:
            np.testing.assert_allclose(ours.weight.grad, reference.weight.grad.numpy(),
                                       rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(ours.bias.grad, reference.bias.grad.numpy(),
                                       rtol=1e-4, atol=1e-4)
    ours_state, torch_state = ours.state_dict(), reference.state_dict()
    assert set(ours_state) == set(torch_state)
    for key, value in torch_state.items():
        assert ours_state[key].dtype == value.numpy().dtype, key
        np.testing.assert_allclose(ours_state[key], value.numpy(), rtol=1e-5, atol=1e-6)
    ours.eval()
    reference.eval()
    x = (rng.standard_normal(shape) * 3 + 2).astype(np.float32)
    grad = rng.standard_normal(shape).astype(np.float32)
    x_t = torch.from_numpy(x).requires_grad_()
    y_t = reference(x_t)
    y_t.backward(torch.from_numpy(grad))
    np.testing.assert_allclose(ours.forward(x), y_t.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.backward(grad), x_t.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_batchnorm_loads_torch_state_dict():
    torch = pytest.importorskip("torch")
    reference = torch.nn.BatchNorm2d(3)
    reference.train()
    for _ in range(3):
        reference(torch.randn(4, 3, 5, 5) * 2 + 1)
    ours = BatchNorm2d(3)
    ours.load_state_dict({key: value.numpy() for key, value in reference.state_dict().items()})
    assert int(ours.num_batches_tracked) == 3
    ours.eval()
    reference.eval()
    x = torch.randn(2, 3, 5, 5)
    np.testing.assert_allclose(ours.forward(x.numpy()), reference(x).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape, normalized, kwargs", [
    ((6, 10), 10, {}),
    ((3, 4, 5), (4, 5), {}),
    ((2, 3, 4, 5), (5,), {"eps": 1e-3}),
    ((4, 7), (7,), {"elementwise_affine": False}),
    ((4, 3, 7), (7,), {"bias": False}),
])
def test_layernorm_matches_torch(shape, normalized, kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    ours = LayerNorm(normalized, **kwargs)
    reference = torch.nn.LayerNorm(normalized, **kwargs)
    if ours.weight is not None:
        ours.weight.data = rng.uniform(0.5, 2, ours.weight.shape).astype(np.float32)
        with torch.no_grad():
            reference.weight.copy_(torch.from_numpy(ours.weight.data))
    if ours.bias is not None:
        ours.bias.data = rng.standard_normal(ours.bias.shape).astype(np.float32)
        with torch.no_grad():
            reference.bias.copy_(torch.from_numpy(ours.bias.data))
    x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    grad = rng.standard_normal(shape).astype(np.float32)
    x_t = torch.from_numpy(x).requires_grad_()
    y_t = reference(x_t)
    y_t.backward(torch.from_numpy(grad))
    np.testing.assert_allclose(ours.forward(x), y_t.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.backward(grad), x_t.grad.numpy(), rtol=1e-4, atol=1e-5)
    for name, param in ours.named_parameters():
        np.testing.assert_allclose(param.grad, getattr(reference, name).grad.numpy(),
                                   rtol=1e-4, atol=1e-4, err_msg=name)
    assert set(ours.state_dict()) == set(reference.state_dict())


# --- semantics -----------------------------------------------------------------------------

def test_batchnorm_defaults_match_pytorch():
    layer = BatchNorm2d(4)
    np.testing.assert_array_equal(layer.weight.data, np.ones(4))
    np.testing.assert_array_equal(layer.bias.data, np.zeros(4))
    np.testing.assert_array_equal(layer.running_mean, np.zeros(4))
    np.testing.assert_array_equal(layer.running_var, np.ones(4))
    assert layer.num_batches_tracked.dtype == np.int64 and layer.num_batches_tracked.shape == ()
    assert (layer.eps, layer.momentum, layer.affine, layer.track_running_stats) == \
        (1e-5, 0.1, True, True)
    assert layer.weight.data.dtype == layer.running_var.dtype == np.float32
    assert list(layer.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                        "num_batches_tracked"]


def test_batchnorm_without_affine_or_running_stats_has_no_state():
    layer = BatchNorm1d(3, affine=False, track_running_stats=False)
    assert layer.parameters() == [] and layer.state_dict() == {}
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(layer.eval().forward(x), layer.train().forward(x))


def test_batchnorm2d_statistics_are_per_channel_not_per_pixel():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((4, 3, 5, 5)) * [[[[1.0]], [[5.0]], [[0.2]]]] + 7).astype(np.float32)
    y = BatchNorm2d(3).forward(x)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, atol=1e-3)
    assert np.abs(y.mean(axis=0)).max() > 0.1     # a single pixel is not standardised


def test_running_var_uses_unbiased_variance_and_momentum():
    x = np.array([[1.0], [2.0], [4.0]], dtype=np.float32)        # var: biased 14/9, unbiased 7/3
    layer = BatchNorm1d(1, momentum=0.25)
    layer.forward(x)
    np.testing.assert_allclose(layer.running_mean, [0.75 * 0 + 0.25 * 7 / 3], rtol=1e-6)
    np.testing.assert_allclose(layer.running_var, [0.75 * 1 + 0.25 * 7 / 3], rtol=1e-6)
    assert int(layer.num_batches_tracked) == 1


def test_eval_uses_running_stats_and_is_independent_of_batch_size():
    rng = np.random.default_rng(0)
    layer = BatchNorm2d(3)
    for _ in range(5):
        layer.forward((rng.standard_normal((4, 3, 2, 2)) + 3).astype(np.float32))
    layer.eval()
    before = layer.state_dict()
    x = rng.standard_normal((6, 3, 2, 2)).astype(np.float32)
    whole = layer.forward(x)
    one_by_one = np.concatenate([layer.forward(x[i:i + 1]) for i in range(6)])
    np.testing.assert_allclose(whole, one_by_one, rtol=1e-6, atol=1e-6)
    expected = (x - layer.running_mean.reshape(1, 3, 1, 1)) / np.sqrt(
        layer.running_var.reshape(1, 3, 1, 1) + 1e-5)
    np.testing.assert_allclose(whole, expected, rtol=1e-5, atol=1e-6)
    for key, value in layer.state_dict().items():             # eval never updates statistics
        np.testing.assert_array_equal(value, before[key])


def test_training_output_depends_on_the_batch():
    rng = np.random.default_rng(0)
    layer = BatchNorm1d(2)
    x = rng.standard_normal((6, 2)).astype(np.float32)
    assert not np.allclose(layer.forward(x)[:3], layer.forward(x[:3]))


@pytest.mark.parametrize("layer, shape", [
    (BatchNorm1d(3), (4, 3)), (BatchNorm2d(3), (2, 3, 2, 2)), (LayerNorm(3), (4, 3))])
def test_dtype_kept_and_grad_out_not_mutated(layer, shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    grad = rng.standard_normal(shape).astype(np.float32)
    grad_copy = grad.copy()
    y = layer.forward(x)
    dx = layer.backward(grad)
    assert y.dtype == dx.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in layer.parameters())
    np.testing.assert_array_equal(grad, grad_copy)


def test_modifying_the_output_in_place_keeps_backward_correct():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3))
    grad = rng.standard_normal((5, 3))
    layer = BatchNorm1d(3, affine=False).astype(np.float64)
    expected = layer.forward(x), layer.backward(grad)
    y = layer.forward(x)
    y[...] = 0
    np.testing.assert_allclose(layer.backward(grad), expected[1])


def test_layernorm_normalizes_each_sample():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((4, 3, 5)) * 4 + 2).astype(np.float32)
    y = LayerNorm((3, 5)).forward(x)
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(1, 2)), 1, atol=1e-3)
    layer = LayerNorm(5)
    assert layer.normalized_shape == (5,) and layer.weight.shape == (5,)
    np.testing.assert_allclose(layer.forward(x[0]), layer.forward(x)[0], rtol=1e-6)


def test_batchnorm_runs_on_each_backend(backend_name):
    xp = backend.xp
    layer = BatchNorm2d(2)
    x = backend.to_device(np.random.default_rng(0).standard_normal((3, 2, 2, 2)), np.float32)
    y = layer.forward(x)
    dx = layer.backward(xp.ones_like(y))
    assert type(y) is type(dx) is type(x) and y.dtype == np.float32
    np.testing.assert_allclose(backend.to_numpy(dx), 0, atol=1e-5)   # d(sum of xhat)/dx = 0
    layer.eval()
    assert backend.to_numpy(layer.forward(x)).shape == (3, 2, 2, 2)
    state = layer.state_dict()
    assert all(isinstance(value, np.ndarray) for value in state.values())


# --- errors --------------------------------------------------------------------------------

@pytest.mark.parametrize("layer, shape, match", [
    (BatchNorm1d(4), (2, 3), r"BatchNorm1d\(4.*expected input of shape \(N, 4\), got \(2, 3\)"),
    (BatchNorm1d(4), (2, 3, 5), r"BatchNorm1d\(4.*\(N, 4, L\), got \(2, 3, 5\)"),
    (BatchNorm1d(4), (2, 4, 2, 2), (r"BatchNorm1d\(4.*expected input of shape \(N, 4\) or "
                                    r"\(N, 4, L\), got \(2, 4, 2, 2\)")),
    (BatchNorm2d(4), (2, 3, 5, 5), r"BatchNorm2d\(4.*\(N, 4, H, W\), got \(2, 3, 5, 5\)"),
    (BatchNorm2d(4), (2, 4, 5), r"BatchNorm2d\(4.*\(N, 4, H, W\), got \(2, 4, 5\)"),
    (BatchNorm1d(4), (0, 4), r"BatchNorm1d\(4.*empty batch"),
    (LayerNorm((3, 4)), (2, 4, 3), r"LayerNorm\(\(3, 4\).*\(\*, 3, 4\), got \(2, 4, 3\)"),
    (LayerNorm((3, 4)), (4,), r"LayerNorm\(\(3, 4\).*got \(4,\)"),
    (LayerNorm(4), (0, 4), r"LayerNorm.*empty batch"),
])
def test_wrong_input_shape_names_the_layer(layer, shape, match):
    with pytest.raises(ShapeError, match=match):
        layer.forward(np.zeros(shape, dtype=np.float32))


@pytest.mark.parametrize("layer, x", [
    (BatchNorm1d(3), np.zeros((2, 3), dtype=np.int64)),
    (BatchNorm1d(3), np.zeros((2, 3), dtype=np.float64)),
    (LayerNorm(3), np.zeros((2, 3), dtype=np.float64)),
    (BatchNorm2d(3), [[1.0]]),
])
def test_wrong_input_type_names_the_layer(layer, x):
    with pytest.raises(TypeError, match=type(layer).__name__):
        layer.forward(x)


@pytest.mark.parametrize("make, shape", [
    (BatchNorm1d, (1, 3)), (BatchNorm1d, (1, 3, 1)), (BatchNorm2d, (1, 3, 1, 1))])
def test_one_value_per_channel_in_training_is_an_error_but_fine_in_eval(make, shape):
    layer = make(3)        # a fresh layer per run: the test puts it in eval mode
    x = np.ones(shape, dtype=np.float32)
    with pytest.raises(ValueError, match=type(layer).__name__ + r".*more than 1 value per "
                                         r"channel when training"):
        layer.forward(x)
    assert int(layer.num_batches_tracked) == 0
    assert layer.eval().forward(x).shape == shape


@pytest.mark.parametrize("make, match", [
    (lambda: BatchNorm1d(0), r"BatchNorm1d: num_features .* got 0"),
    (lambda: BatchNorm2d(2.5), r"BatchNorm2d: num_features .* got 2.5"),
    (lambda: BatchNorm1d(3, eps=0), r"BatchNorm1d: eps .* got 0"),
    (lambda: BatchNorm2d(3, eps=-1e-5), r"BatchNorm2d: eps .* got -1e-05"),
    (lambda: BatchNorm1d(3, momentum=-0.1), r"BatchNorm1d: momentum .* got -0.1"),
    (lambda: BatchNorm2d(3, momentum=1.5), r"BatchNorm2d: momentum .* got 1.5"),
    (lambda: BatchNorm2d(3, momentum="0.1"), r"BatchNorm2d: momentum .* got '0.1'"),
    (lambda: LayerNorm(0), r"LayerNorm: normalized_shape .* got \(0,\)"),
    (lambda: LayerNorm(()), r"LayerNorm: normalized_shape .* got \(\)"),
    (lambda: LayerNorm(2.0), r"LayerNorm: normalized_shape .* got 2.0"),
    (lambda: LayerNorm(4, eps=float("nan")), r"LayerNorm: eps .* got nan"),
])
def test_bad_hyperparameters_raise_value_error_naming_the_layer(make, match):
    with pytest.raises(ValueError, match=match):
        make()
