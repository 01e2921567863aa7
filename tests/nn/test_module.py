import numpy as np
import pytest

from tinynet import backend
from tinynet.nn import Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential


def mlp():
    return Sequential(Linear(4, 8), ReLU(), Linear(8, 3))


def test_parameters_and_keys_follow_pytorch_naming():
    model = mlp()
    assert [name for name, _ in model.named_parameters()] == [
        "0.weight", "0.bias", "2.weight", "2.bias"]
    assert model.num_parameters() == 4 * 8 + 8 + 8 * 3 + 3


def test_state_dict_keys_match_pytorch_sequential():
    torch = pytest.importorskip("torch")
    ref = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    assert list(mlp().state_dict()) == list(ref.state_dict())


def test_save_and_load_round_trip(tmp_path, backend_name):
    backend.seed(1)
    model = mlp()
    model.save(tmp_path / "m.npz")
    backend.seed(2)
    other = mlp()
    other.load(tmp_path / "m.npz")
    for (key, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=key)
    assert other[0].weight.data.dtype == np.float32
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]   # no temporary file left behind


def test_loading_another_architecture_lists_every_mismatch():
    state = mlp().state_dict()
    wider = Sequential(Linear(4, 16), ReLU(), Linear(16, 3), ReLU(), Linear(3, 3))
    with pytest.raises(ValueError) as info:
        wider.load_state_dict(state)
    message = str(info.value)
    assert "missing keys: ['4.bias', '4.weight']" in message
    assert "0.weight: expected shape (16, 4), got (8, 4)" in message
    before = wider[0].weight.data.copy()
    np.testing.assert_array_equal(wider[0].weight.data, before)  # nothing changed


def test_train_eval_propagates_to_children():
    model = mlp()
    model.eval()
    assert not any(layer.training for layer in model.layers)
    model.train()
    assert all(layer.training for layer in model.layers)


def test_summary_lists_shapes_and_parameter_counts(backend_name):
    text = Sequential(Linear(784, 500), ReLU(), Linear(500, 10)).summary((784,))
    assert "(N, 500)" in text and "392,500" in text and "total parameters: 397,510" in text


def test_sequential_rejects_non_modules():
    with pytest.raises(TypeError, match="Sequential takes Modules, got function"):
        Sequential(lambda x: x)


def test_repr_shows_the_structure():
    assert repr(mlp()).splitlines()[1] == "  (0): Linear(4, 8, bias=True)"


def test_forward_hooks_see_every_layer_of_a_sequential_and_can_be_removed():
    model = mlp()
    seen = []
    handles = [layer.register_forward_hook(lambda m, x, y: seen.append((m, x.shape, y.shape)))
               for layer in model.layers]
    x = np.ones((2, 4), np.float32)
    y = model.forward(x)
    assert [m for m, _, _ in seen] == model.layers
    assert seen[0][1:] == ((2, 4), (2, 8)) and seen[-1][2] == y.shape
    handles[0].remove()
    handles[0].remove()                   # removing twice is harmless
    seen.clear()
    model(x)
    assert [m for m, _, _ in seen] == model.layers[1:]


def test_forward_hooks_are_per_instance_and_do_not_change_outputs():
    hooked, plain = Linear(4, 8), Linear(4, 8)
    hooked.register_forward_hook(lambda m, x, y: None)
    assert not plain._forward_hooks
    x = np.ones((2, 4), np.float32)
    assert np.array_equal(Sequential(hooked)(x), hooked.forward(x))


# --- backward(input_grad=False): the backward of a network whose input is data -----------

def _conv_net():
    return Sequential(Flatten(), Linear(2 * 6 * 6, 72), ReLU(), Unflatten72(),
                      Conv2d(2, 3, 3, padding=1), ReLU(), Flatten(), Linear(3 * 6 * 6, 4))


class Unflatten72(Module):
    """(N, 72) -> (N, 2, 6, 6), so that a Conv2d can follow a Linear in these tests."""

    def forward(self, x):
        return x.reshape(-1, 2, 6, 6)

    def backward(self, grad_out):
        return grad_out.reshape(-1, 72)


@pytest.mark.parametrize("build, shape", [
    (lambda: Sequential(Linear(5, 4), ReLU(), Linear(4, 3)), (7, 5)),
    (lambda: Sequential(Conv2d(2, 3, 3), ReLU(), MaxPool2d(2), Flatten(), Linear(3 * 2 * 2, 4)),
     (3, 2, 6, 6)),
    (_conv_net, (3, 2, 6, 6)),
])
def test_backward_without_input_grad_leaves_the_same_parameter_gradients(build, shape, rng):
    x = rng.standard_normal(shape)
    full, params_only = build().astype(np.float64), build().astype(np.float64)
    params_only.load_state_dict(full.state_dict())
    grad = rng.standard_normal(full.forward(x).shape)
    full.backward(grad)
    params_only.forward(x)
    assert params_only.backward(grad, input_grad=False) is None
    for (name, a), (_, b) in zip(full.named_parameters(), params_only.named_parameters()):
        np.testing.assert_allclose(b.grad, a.grad, rtol=1e-12, err_msg=name)


def test_backward_without_input_grad_skips_the_layers_before_the_first_parameter(rng):
    class Untouchable(Module):
        def forward(self, x):
            return x

        def backward(self, grad_out):
            raise AssertionError("a layer before the first parameter got a backward")

    model = Sequential(Untouchable(), Flatten(), Linear(6, 2)).astype(np.float64)
    model.forward(rng.standard_normal((4, 2, 3)))
    assert model.backward(np.ones((4, 2)), input_grad=False) is None
    assert model[2].weight.grad.shape == (2, 6)
    no_parameters = Sequential(Untouchable(), ReLU())
    no_parameters.forward(np.ones((4, 2)))
    assert no_parameters.backward(np.ones((4, 2)), input_grad=False) is None

