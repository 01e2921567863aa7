"""The two sides of a benchmark train the same model the same way."""
import numpy as np
import pytest

from benchmarks.frameworks import TinynetTraining, TorchTraining, random_data, to_torch
from benchmarks.specs import SPECS, find
from tinynet import backend
from tinynet.nn import Sequential, Sigmoid


def test_random_data_has_the_specs_shapes_and_dtypes():
    x, y = random_data(find(["e2_lenet"])[0], 10)
    assert x.shape == (10, 1, 28, 28) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() < 1
    assert y.shape == (10,) and y.dtype == np.int64 and set(y) <= set(range(10))


def test_tinynet_training_stops_after_max_steps():
    spec = find(["e1_mlp"])[0]
    training = TinynetTraining(spec, *random_data(spec, 1000))        # 10 batches of 100
    before = training.model.state_dict()["0.weight"]
    training.run(max_steps=0)
    assert np.array_equal(training.model.state_dict()["0.weight"], before)
    training.run(max_steps=2)
    assert training.optimizer.state[0]["step"] == 2


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.key)
def test_pytorch_model_computes_what_tinynet_computes(spec):
    torch = pytest.importorskip("torch")
    model = spec.build().eval()
    x, _ = random_data(spec, 4)
    expected = backend.to_numpy(model.forward(x))
    got = to_torch(model).eval()(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("key", ["e1_mlp", "e2_lenet", "e6_mlp", "e3_batch1"])
def test_one_training_step_gives_both_the_same_gradients_and_weights(key):
    """Without dropout and with the same first batch (no shuffle), one step on each side gives
    the same gradients (same model and loss) and the same weights (same optimizer and
    hyperparameters). Adam's first step is about lr * sign(grad), so where a gradient is
    tiny its rounding shows in the update: weights are compared to a small fraction of lr."""
    pytest.importorskip("torch")
    spec = find([key])[0]
    x, y = random_data(spec, spec.batch_size)           # one batch: a permutation of it
    tinynet_side = TinynetTraining(spec, x, y)
    torch_side = TorchTraining(spec, tinynet_side.model, x, y)
    tinynet_side.run()
    torch_side.run()
    tinynet_params = dict(tinynet_side.model.named_parameters())
    lr = spec.optimizer_kwargs["lr"]
    for name, param in torch_side.model.named_parameters():
        np.testing.assert_allclose(param.grad.numpy(), tinynet_params[name].grad,
                                   rtol=1e-3, atol=1e-6, err_msg=f"{name}.grad")
        np.testing.assert_allclose(param.detach().numpy(), tinynet_params[name].data,
                                   rtol=0, atol=0.05 * lr, err_msg=name)


def test_a_layer_without_a_pytorch_counterpart_is_named():
    pytest.importorskip("torch")
    with pytest.raises(TypeError, match=r"to_torch: no PyTorch counterpart written for Sigmoid"):
        to_torch(Sequential(Sigmoid()))
