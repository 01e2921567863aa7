import numpy as np
import pytest

from tinynet import backend
from tinynet.nn import Linear, ReLU, Sequential


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
