"""tinynet.testing: the strategies draw what they promise, assert_backward_correct passes for
every tinynet layer and fails, naming the problem, for each rule a backward can break; and a
user's hypothesis test shrinks a batch-1 bug to a batch of one."""
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from tinynet import backend
from tinynet.losses import CrossEntropyLoss, MSELoss
from tinynet.nn import (AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Flatten,
                        LayerNorm, Linear, MaxPool2d, Module, Parameter, ReLU, Sequential,
                        Sigmoid, Softmax, Tanh)
from tinynet.testing import (ConvGeometry, assert_backward_correct, assert_loss_backward_correct,
                             batches, conv_geometries, image_batches, logits_and_labels,
                             spread_arrays)

FEW = settings(max_examples=15, deadline=None, database=None)


# --- strategies ------------------------------------------------------------------------------

@FEW
@given(x=spread_arrays(st.tuples(st.integers(1, 4), st.integers(1, 30))))
def test_spread_arrays_are_distinct_and_away_from_zero(x):
    values = np.sort(x.ravel())
    step = min(0.5, 2.0 ** np.floor(np.log2(4.0 / values.size)))
    np.testing.assert_array_equal(np.diff(values), step)      # distinct, on a binary grid
    assert np.abs(values).min() == step / 2                   # none near a kink at 0
    assert np.abs(values).max() <= 2


def test_batches_reach_a_batch_of_one_and_shrink_to_it():
    smallest = find(batches(features=3), lambda x: True)
    assert smallest.shape == (1, 3) and smallest.dtype == np.float64
    np.testing.assert_array_equal(smallest, [[-0.25, 0.25, 0.75]])   # the sorted grid


@FEW
@given(x=batches(features=(2, 3), batch_size=st.integers(2, 4), dtype=np.float32))
def test_batches_take_trailing_shapes_sizes_and_dtypes(x):
    assert x.shape[1:] == (2, 3) and 2 <= len(x) <= 4 and x.dtype == np.float32


@FEW
@given(geometry=conv_geometries(), data=st.data())
def test_conv_geometries_fit_and_match_conv2d(geometry, data):
    assert all(size >= 1 for size in geometry.output_size)
    x = data.draw(image_batches(channels=2, size=geometry.input_size))
    out = Conv2d(2, 3, **geometry.kwargs(), dtype=np.float64)(x)
    assert out.shape[2:] == geometry.output_size and out.shape[:2] == (len(x), 3)


@FEW
@given(geometry=conv_geometries(max_kernel=4, pooling=True, square=True))
def test_pooling_geometries_keep_pytorchs_padding_rule(geometry):
    kernel, padding = geometry.kernel_size, geometry.padding
    assert kernel[0] == kernel[1] and geometry.input_size[0] == geometry.input_size[1]
    assert all(p <= k // 2 for k, p in zip(kernel, padding))


def test_conv_geometry_output_size_is_pytorchs_rule():
    geometry = ConvGeometry((3, 3), (2, 2), (1, 1), (5, 6))
    assert geometry.output_size == (3, 3)


@FEW
@given(pair=logits_and_labels(classes=4))
def test_logits_and_labels(pair):
    logits, labels = pair
    assert logits.shape == (len(labels), 4) and labels.dtype == np.int64
    assert labels.min() >= 0 and labels.max() < 4


@pytest.mark.parametrize("strategy, message", [
    (lambda: batches(features=0), "features must be a positive int, got 0"),
    (lambda: batches(features=3, batch_size=0), "batch_size must be a positive int, got 0"),
    (lambda: image_batches(channels=2, size=(3, -1)), "size must be a positive int, got -1"),
    (lambda: logits_and_labels(classes=2.5), "classes must be a positive int, got 2.5"),
])
def test_bad_sizes_are_refused_by_name(strategy, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        find(strategy(), lambda x: True)


# --- every tinynet layer passes, over drawn inputs ------------------------------------------

def reseed():
    backend.seed(0)


@FEW
@given(x=batches(features=4))
def test_the_five_lines_of_the_issue_pass_for_linear(x):
    assert_backward_correct(Linear(4, 3), x)


@pytest.mark.parametrize("make", [ReLU, Sigmoid, Tanh, Flatten, lambda: Softmax(dim=1),
                                  lambda: LayerNorm(3), lambda: Linear(3, 2, bias=False)],
                         ids=["ReLU", "Sigmoid", "Tanh", "Flatten", "Softmax", "LayerNorm",
                              "Linear"])
@FEW
@given(x=batches(features=3))
def test_feature_layers(make, x):
    assert_backward_correct(make(), x)


@FEW
@given(x=batches(features=3, batch_size=st.integers(3, 6)), training=st.booleans())
def test_batchnorm1d(x, training):
    # Three samples at least: with two, xhat = +-1 whatever x is and dL/dx is rounding noise.
    assert_backward_correct(BatchNorm1d(3).train(training), x)


@FEW
@given(x=batches(features=5, batch_size=st.integers(1, 4)))
def test_dropout_with_a_reseeded_mask(x):
    assert_backward_correct(Dropout(0.3), x, before_forward=reseed)


@FEW
@given(geometry=conv_geometries(), bias=st.booleans(), data=st.data())
def test_conv2d(geometry, bias, data):
    x = data.draw(image_batches(channels=2, size=geometry.input_size))
    assert_backward_correct(Conv2d(2, 3, **geometry.kwargs(), bias=bias), x)


@pytest.mark.parametrize("pool", [MaxPool2d, AvgPool2d])
@FEW
@given(geometry=conv_geometries(pooling=True), data=st.data())
def test_pooling(pool, geometry, data):
    x = data.draw(image_batches(channels=2, size=geometry.input_size))   # no ties: max is safe
    assert_backward_correct(pool(**geometry.kwargs()), x)


@FEW
@given(x=image_batches(channels=2, size=st.integers(2, 4), batch_size=st.integers(2, 3)))
def test_a_small_cnn(x):
    h = x.shape[2]
    # The conv's bias has a true gradient of 0 (BatchNorm cancels it): it passes by atol.
    model = Sequential(Conv2d(2, 3, 3, padding=1), BatchNorm2d(3), ReLU(), Flatten(),
                       Linear(3 * h * h, 2))
    assert_backward_correct(model, x)


@FEW
@given(pair=logits_and_labels(classes=3))
def test_cross_entropy(pair):
    assert_loss_backward_correct(CrossEntropyLoss(), *pair)


@FEW
@given(prediction=batches(features=2), data=st.data())
def test_mse_with_float_targets(prediction, data):
    target = data.draw(batches(features=2, batch_size=len(prediction)))
    assert_loss_backward_correct(MSELoss(), prediction, target)


def test_the_checks_run_on_the_cupy_shaped_backend(backend_name, rng):
    assert_backward_correct(Linear(4, 3), backend.to_device(rng.standard_normal((2, 4))))


# --- a batch-1 bug, found and shrunk -------------------------------------------------------

class OneSampleShortcutLinear(Linear):
    """A one-sample fast path (an outer product instead of a GEMM) with the factor 2 of a
    botched copy: wrong only when the batch has one sample."""

    def backward(self, grad_out):
        if len(grad_out) > 1:
            return super().backward(grad_out)
        self.weight.accumulate_grad(2 * grad_out.T * self.x)        # BUG: the 2
        self.bias.accumulate_grad(grad_out.sum(axis=0))
        return grad_out @ self.weight.data


def test_a_batch_one_bug_fails_with_the_shrunk_batch_of_one():
    @settings(database=None, derandomize=True, deadline=None)
    @given(x=batches(features=4))
    def test_my_layer(x):
        assert_backward_correct(OneSampleShortcutLinear(4, 3), x)

    assert_backward_correct(OneSampleShortcutLinear(4, 3), np.ones((2, 4)) * [1, 2, 3, 4])
    with pytest.raises(AssertionError) as info:
        test_my_layer()
    message, notes = str(info.value), "\n".join(getattr(info.value, "__notes__", []))
    assert "backward of OneSampleShortcutLinear(4, 3, bias=True)" in message
    assert "input: shape (1, 4), dtype float64" in message
    assert "tolerance 1e-06" in message
    assert "weight: 3.333e-01  (max |difference|" in message and "<- wrong" in message
    assert "x=array([[-0.75, -0.25,  0.25,  0.75]])" in notes      # hypothesis's shrunk case


# --- each rule of a backward, broken once ---------------------------------------------------

class Doubling(Module):
    """y = 2 x * weight (per feature); the subclasses below break one rule each."""

    def __init__(self, features=3):
        self.weight = Parameter(np.linspace(0.5, 1.5, features).astype(np.float32))

    def forward(self, x):
        self.x = x
        return 2 * x * self.weight.data

    def backward(self, grad_out):
        self.weight.accumulate_grad((2 * grad_out * self.x).sum(axis=0))
        return 2 * grad_out * self.weight.data


class PromotesInBackward(Doubling):
    def backward(self, grad_out):
        self.weight.accumulate_grad((2 * grad_out * self.x).sum(axis=0))
        return grad_out * np.float64(2.0) * self.weight.data.astype(np.float64)


class PromotesInForward(Doubling):
    def forward(self, x):
        self.x = x
        return 2 * x * self.weight.data.astype(np.float64)


class AssignsItsGradient(Doubling):
    def backward(self, grad_out):
        self.weight.grad = (2 * grad_out * self.x).sum(axis=0)
        return 2 * grad_out * self.weight.data


class ScalesGradOutInPlace(Doubling):
    def backward(self, grad_out):
        grad_out *= 2
        self.weight.accumulate_grad((grad_out * self.x).sum(axis=0))
        return grad_out * self.weight.data


class ReturnsNothing(Doubling):
    def backward(self, grad_out):
        self.weight.accumulate_grad((2 * grad_out * self.x).sum(axis=0))


class SumsTheBatch(Doubling):
    def backward(self, grad_out):
        self.weight.accumulate_grad((2 * grad_out * self.x).sum(axis=0))
        return (2 * grad_out * self.weight.data).sum(axis=0)


class WrongSign(Doubling):
    def backward(self, grad_out):
        return -super().backward(grad_out)


X = np.arange(1.0, 7.0).reshape(2, 3)


def test_a_correct_layer_passes():
    assert_backward_correct(Doubling(), X)
    assert_backward_correct(Doubling(), X.astype(np.float32))


@pytest.mark.parametrize("layer, message", [
    (PromotesInBackward(), r"float32 input of shape \(2, 3\): backward returned dL/dx as "
                           r"float64, expected float32"),
    (PromotesInForward(), r"float32 input .*: forward returned float64, expected float32"),
    (AssignsItsGradient(), r"weight.grad is not twice that of one .*accumulate_grad"),
    (ScalesGradOutInPlace(), r"backward modified the grad_out it was given"),
    (ReturnsNothing(), r"backward returned None; it must return dL/dx"),
    (SumsTheBatch(), r"dL/dx of shape \(3,\), expected the input's shape \(2, 3\)"),
    (WrongSign(), r"backward of WrongSign\(\) disagrees .*\n.*shape \(2, 3\).*\n.*"
                  r"tolerance 1e-06.*\n +input: 1.000e\+00  \(max .*\)  <- wrong"),
], ids=lambda value: type(value).__name__ if isinstance(value, Module) else "")
def test_each_broken_rule_is_named(layer, message):
    with pytest.raises(AssertionError, match=message):
        assert_backward_correct(layer, X)


def test_the_dtype_contract_can_be_skipped_for_float64_only_layers():
    assert_backward_correct(PromotesInBackward(), X, dtypes=("float64",))


def test_the_callers_layer_is_untouched():
    layer = Doubling()
    assert_backward_correct(layer, X)
    assert layer.weight.grad is None and layer.weight.data.dtype == np.float32


def test_a_loss_that_forgets_one_over_n_fails():
    class ForgottenMean(CrossEntropyLoss):
        def backward(self, grad_out=1.0):
            return super().backward(grad_out) * len(self.target)

    logits, labels = np.linspace(-1, 1, 12).reshape(4, 3), np.array([0, 2, 1, 2])
    with pytest.raises(AssertionError, match=r"prediction: 6.000e-01 .* <- wrong"):
        assert_loss_backward_correct(ForgottenMean(), logits, labels)


def test_without_hypothesis_the_import_error_says_what_to_install():
    code = ("import sys; sys.modules['hypothesis'] = None\n"
            "try:\n    import tinynet.testing\n"
            "except ImportError as error:\n    print(error)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert 'pip install -e ".[dev]"' in out and "hypothesis" in out
