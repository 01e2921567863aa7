import numpy as np
import pytest

from tinynet.gradcheck import check_module, numerical_gradient, relative_error
from tinynet.nn import Linear, Module


def test_numerical_gradient_of_a_known_function():
    x = np.array([1.0, -2.0, 3.0])
    grad = numerical_gradient(lambda: (x ** 3).sum(), x)
    np.testing.assert_allclose(grad, 3 * x ** 2, rtol=1e-8)
    np.testing.assert_array_equal(x, [1.0, -2.0, 3.0])   # restored after perturbation


def test_relative_error_is_zero_for_equal_and_large_for_different():
    assert relative_error(np.ones(3), np.ones(3)) == 0.0
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.ones(3), -np.ones(3)) == 1.0


class WrongTransposeLinear(Linear):
    """A plausible bug: the input gradient uses W.T instead of W (only runs when square)."""

    def backward(self, grad_out):
        super().backward(grad_out)
        return grad_out @ self.weight.data.T


class ForgottenBiasGrad(Linear):
    def backward(self, grad_out):
        self.weight.accumulate_grad(grad_out.T @ self.x)
        return grad_out @ self.weight.data


def test_gradcheck_catches_a_wrong_backward(rng):
    x = rng.standard_normal((3, 4))
    assert check_module(Linear(4, 4), x).passed()
    report = check_module(WrongTransposeLinear(4, 4), x)
    assert report.errors["input"] > 1e-2 and report.errors["weight"] < 1e-6
    assert check_module(ForgottenBiasGrad(4, 2), x).errors["bias"] == 1.0


def test_gradcheck_leaves_the_callers_module_untouched(rng):
    layer = Linear(4, 2)
    before = layer.weight.data.copy()
    check_module(layer, rng.standard_normal((2, 4)))
    assert layer.weight.data.dtype == np.float32 and layer.weight.grad is None
    np.testing.assert_array_equal(layer.weight.data, before)


def test_gradcheck_works_for_a_parameterless_module(rng):
    class Square(Module):
        def forward(self, x):
            self.x = x
            return x * x

        def backward(self, grad_out):
            return 2 * self.x * grad_out

    report = check_module(Square(), rng.standard_normal((2, 3)))
    assert list(report.errors) == ["input"] and report.passed()


# --- every layer, on every backend ------------------------------------------------------------

def _layers():
    from tinynet import backend
    from tinynet.nn import (AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Flatten,
                            LayerNorm, MaxPool2d, ReLU, Sequential, Sigmoid, Softmax, Tanh)

    def reseed():
        backend.seed(0)

    return {
        "Linear": (lambda: Linear(4, 3), (2, 4), None),
        "Conv2d": (lambda: Conv2d(2, 3, 3, stride=2, padding=1), (2, 2, 5, 5), None),
        "MaxPool2d": (lambda: MaxPool2d(2), (2, 2, 4, 4), None),
        "AvgPool2d": (lambda: AvgPool2d(3, stride=1, padding=1), (1, 2, 4, 4), None),
        "BatchNorm1d": (lambda: BatchNorm1d(3), (4, 3), None),
        "BatchNorm2d": (lambda: BatchNorm2d(2), (2, 2, 3, 3), None),
        "LayerNorm": (lambda: LayerNorm(4), (3, 4), None),
        "Dropout": (lambda: Dropout(0.3), (4, 5), reseed),
        "Flatten": (Flatten, (2, 2, 3), None),
        "ReLU": (ReLU, (3, 4), None),
        "Sigmoid": (Sigmoid, (3, 4), None),
        "Tanh": (Tanh, (3, 4), None),
        "Softmax": (Softmax, (3, 4), None),
        "small CNN": (lambda: Sequential(
            Conv2d(1, 2, 3, padding=1, bias=False), BatchNorm2d(2), ReLU(), MaxPool2d(2),
            Flatten(), Linear(8, 5), Dropout(0.2), LayerNorm(5), Tanh(), Linear(5, 3)),
            (3, 1, 4, 4), reseed),
    }


@pytest.mark.parametrize("layer_name", list(_layers()))
def test_every_layer_passes_gradcheck_on_each_backend(layer_name, backend_name):
    # tinynet.testing's check: the values in float64, and the rules of a backward (dtypes
    # kept in float32 and float64, gradients accumulated, grad_out untouched) on each backend.
    from tinynet import backend
    from tinynet.testing import assert_backward_correct
    make, shape, before_forward = _layers()[layer_name]
    x = backend.to_device(np.random.default_rng(0).standard_normal(shape))
    assert_backward_correct(make(), x, before_forward=before_forward)


def test_reports_keep_the_largest_absolute_difference(rng):
    report = check_module(ForgottenBiasGrad(4, 2), rng.standard_normal((3, 4)))
    assert list(report.abs_errors) == list(report.errors)
    assert report.abs_errors["bias"] > 1e-1 and report.abs_errors["weight"] < 1e-8
