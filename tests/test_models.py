"""The experiments' models: layer orders and parameter counts of the specification."""
import numpy as np
import pytest

from tinynet import backend, models


def layer_names(model):
    return [type(layer).__name__ for layer in model.layers]


@pytest.mark.parametrize("build, expected", [
    (lambda: models.mlp((512, 512)), 669_706),                                  # E6 base MLP
    (lambda: models.mlp((512, 256, 128, 64), batchnorm=True), 576_970),         # E6 deep MLP
    (lambda: models.mlp((1024, 1024)), 1_863_690),
    (lambda: models.mlp((512, 512, 512)), 932_362),
    (lambda: models.mlp((1024, 512, 256, 128, 64), batchnorm=True), 1_505_738),
    (lambda: models.mlp((512, 256, 128, 64, 32, 16), batchnorm=True), 579_194),
    (models.simple_cnn, 421_642),
    (models.deep_cnn, 858_506),
    (models.lenet, (416 + 12_832) + (61_560 + 10_164 + 850)),                   # E2: 85,822
    (models.layernorm_mlp, 392_500 + 175_350 + 700 + 70_200 + 2_010),           # E4
    (lambda: models.mlp((500,)), 784 * 500 + 500 + 5010),                       # E1 plain
])
def test_parameter_counts_of_the_specification(build, expected):
    assert build().num_parameters() == expected


def test_no_hidden_layers_is_a_true_linear_model():
    assert layer_names(models.mlp(())) == ["Linear"]
    assert models.mlp(()).num_parameters() == 784 * 10 + 10


def test_layer_orders():
    assert layer_names(models.mlp((500,), batchnorm=True, dropout=0.5)) == [
        "Linear", "ReLU", "BatchNorm1d", "Dropout", "Linear"]                     # E1 +BN+DO
    assert layer_names(models.layernorm_mlp()) == [
        "Flatten", "Linear", "ReLU", "Linear", "Dropout", "LayerNorm", "ReLU", "Linear", "ReLU",
        "Linear"]                                                                 # E4
    assert layer_names(models.sigmoid_mlp(5)) == ["Linear", "Sigmoid", "Linear", "Softmax"]
    assert "(N, 1152)" in models.deep_cnn().summary((1, 28, 28))
    assert "(N, 512)" in models.lenet().summary((1, 28, 28))


def test_the_softmax_axis_of_the_sigmoid_mlp():
    x = backend.xp.asarray(np.random.default_rng(0).standard_normal((7, 784)), dtype="float32")
    correct, buggy = models.sigmoid_mlp(100), models.sigmoid_mlp(100, softmax_dim=0)
    assert np.allclose(backend.to_numpy(correct.forward(x)).sum(axis=1), 1, atol=1e-6)
    assert np.allclose(backend.to_numpy(buggy.forward(x)).sum(axis=0), 1, atol=1e-6)


def test_the_same_seed_builds_the_same_weights():
    backend.seed(3)
    first = models.deep_cnn().state_dict()
    backend.seed(3)
    second = models.deep_cnn().state_dict()
    assert all(np.array_equal(first[key], second[key]) for key in first)
