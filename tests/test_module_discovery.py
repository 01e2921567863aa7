"""The rules a learner meets when writing a layer (docs/write_your_layer.md), as tests of
``tinynet.nn.module``: parameters and sub-modules are found wherever a layer keeps them (an
attribute, a list, a tuple, a dict), never silently skipped; ``super().__init__()`` is optional.

(Kept outside tests/nn, which another branch is rewriting; the lead may move it there.)"""
import numpy as np
import pytest

from tinynet.gradcheck import check_module
from tinynet.nn import Linear, Module, Parameter, ReLU, Sequential


class PolynomialFeatures(Module):
    """``y = sum_k c_k x^k`` per feature, its coefficients held in a list of Parameters."""

    def __init__(self, degree, features):
        self.coefficients = [Parameter(np.full(features, 0.5 + k)) for k in range(degree + 1)]

    def forward(self, x):
        self.x = x
        return sum(c.data * x ** k for k, c in enumerate(self.coefficients))

    def backward(self, grad_out):
        for k, c in enumerate(self.coefficients):
            c.accumulate_grad((grad_out * self.x ** k).sum(axis=0))
        return grad_out * sum(k * c.data * self.x ** (k - 1)
                              for k, c in enumerate(self.coefficients) if k > 0)


class TwoBranches(Module):
    """Sub-modules in a dict and a list, each with parameters."""

    def __init__(self):
        super().__init__()                  # allowed, as in PyTorch; not required
        self.branches = {"left": Linear(3, 2), "right": Linear(3, 2)}
        self.tail = [ReLU(), Linear(2, 1)]

    def forward(self, x):
        y = self.branches["left"](x) + self.branches["right"](x)
        for layer in self.tail:
            y = layer(y)
        return y

    def backward(self, grad_out):
        for layer in reversed(self.tail):
            grad_out = layer.backward(grad_out)
        return self.branches["left"].backward(grad_out) + self.branches["right"].backward(grad_out)


def test_parameters_in_a_list_are_found_and_named_like_a_parameter_list():
    layer = PolynomialFeatures(degree=2, features=3)
    assert [name for name, _ in layer.named_parameters()] == [
        "coefficients.0", "coefficients.1", "coefficients.2"]
    assert layer.num_parameters() == 9


def test_parameters_in_a_list_are_gradient_checked():
    x = np.random.default_rng(0).standard_normal((4, 3))
    report = check_module(PolynomialFeatures(degree=2, features=3), x)
    assert list(report.errors) == ["input", "coefficients.0", "coefficients.1", "coefficients.2"]
    assert report.passed(1e-6), str(report)


def test_a_forgotten_gradient_in_a_list_is_caught():
    class ForgetsTheLastCoefficient(PolynomialFeatures):
        def backward(self, grad_out):
            grad_x = super().backward(grad_out)
            self.coefficients[-1].grad = None          # as if the loop stopped one short
            return grad_x

    x = np.random.default_rng(0).standard_normal((4, 3))
    report = check_module(ForgetsTheLastCoefficient(degree=2, features=3), x)
    assert report.errors["coefficients.2"] == 1.0 and report.errors["coefficients.1"] < 1e-6


def test_sub_modules_in_dicts_and_lists_are_children():
    model = TwoBranches()
    assert [name for name, _ in model.named_children()] == [
        "branches.left", "branches.right", "tail.0", "tail.1"]
    assert [name for name, _ in model.named_parameters()] == [
        "branches.left.weight", "branches.left.bias", "branches.right.weight",
        "branches.right.bias", "tail.1.weight", "tail.1.bias"]
    model.eval()
    assert not model.branches["left"].training and not model.tail[1].training
    report = check_module(model, np.random.default_rng(1).standard_normal((5, 3)))
    assert report.passed(1e-6), str(report)


def test_state_dict_round_trip_through_containers(tmp_path):
    model = TwoBranches()
    model.save(tmp_path / "model.npz")
    other = TwoBranches()
    other.load(tmp_path / "model.npz")
    np.testing.assert_array_equal(other.tail[1].weight.data, model.tail[1].weight.data)


def test_buffers_of_a_module_in_a_list_are_saved_and_loaded(tmp_path):
    from tinynet.nn import BatchNorm1d

    class Holder(Module):
        def __init__(self):
            self.norms = [BatchNorm1d(2)]

    model = Holder()
    model.norms[0].running_mean = np.array([1.0, 2.0], dtype=np.float32)
    assert "norms.0.running_mean" in model.state_dict()
    model.save(tmp_path / "holder.npz")
    other = Holder()
    other.load(tmp_path / "holder.npz")
    np.testing.assert_array_equal(other.norms[0].running_mean, [1.0, 2.0])


def test_a_set_of_parameters_is_refused_by_name():
    class SetHolder(Module):
        def __init__(self):
            self.weights = {Parameter(np.ones(2)), Parameter(np.zeros(2))}

    with pytest.raises(TypeError, match=r"SetHolder\.weights: .*in a set.*list or a dict"):
        SetHolder().parameters()


def test_a_dict_of_parameters_needs_plain_string_keys():
    class BadKeys(Module):
        def __init__(self):
            self.weights = {1: Parameter(np.ones(2))}

    with pytest.raises(TypeError, match=r"BadKeys\.weights: .*string keys.*got 1"):
        BadKeys().parameters()


def test_super_init_is_optional():
    class WithoutSuper(Module):
        def __init__(self):
            self.weight = Parameter(np.ones(2))

    class WithSuper(Module):
        def __init__(self):
            super().__init__()
            self.weight = Parameter(np.ones(2))

    for layer in (WithoutSuper(), WithSuper()):
        assert layer.training and len(layer.parameters()) == 1
        layer.forward = lambda x: x
        seen = []
        layer.register_forward_hook(lambda module, x, y, seen=seen: seen.append(y))
        layer(np.ones(1))
        assert len(seen) == 1


def test_sequential_naming_is_unchanged():
    model = Sequential(Linear(2, 2), ReLU(), Linear(2, 1))
    assert [name for name, _ in model.named_parameters()] == [
        "0.weight", "0.bias", "2.weight", "2.bias"]


def test_a_layer_with_only_forward_and_backward_trains_as_a_first_layer():
    # The training step asks the first layer for less than a full backward (no dL/dx of the
    # data); a layer that implements only `backward` must still get its gradients there.
    from tinynet.losses import CrossEntropyLoss
    from tinynet.optim import SGD
    from tinynet.train import train_step

    class Scale(Module):
        def __init__(self, features):
            self.weight = Parameter(np.ones(features))

        def forward(self, x):
            self.x = x
            return x * self.weight.data

        def backward(self, grad_out):
            self.weight.accumulate_grad((grad_out * self.x).sum(axis=0))
            return grad_out * self.weight.data

    model = Sequential(Scale(3), Linear(3, 2, dtype=np.float64))
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 3)), rng.integers(0, 2, 8)
    train_step(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), x, y)
    assert model[0].weight.grad is not None and not np.allclose(model[0].weight.data, 1.0)
