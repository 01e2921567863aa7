"""The seven benchmark models: the shapes and parameter counts of their experiments."""
import pytest

from benchmarks.specs import SPECS, find


def test_seven_models_in_the_issues_order():
    assert [spec.key for spec in SPECS] == ["e1_mlp", "e1_mlp_bn_do", "e2_lenet", "e6_mlp",
                                            "e6_cnn", "e4_mlp", "e3_batch1"]


@pytest.mark.parametrize("key, parameters", [
    ("e1_mlp", 784 * 500 + 500 + 500 * 10 + 10),
    ("e2_lenet", 85_822),                                     # examples/mnist_cnn.py's count
    ("e6_cnn", (32 * 9 + 32) + (64 * 32 * 9 + 64) + (3136 * 128 + 128) + (128 * 10 + 10)),
    ("e3_batch1", 784 * 128 + 128 + 128 * 10 + 10),
])
def test_parameter_counts(key, parameters):
    (spec,) = find([key])
    assert spec.build().num_parameters() == parameters


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.key)
def test_every_model_maps_its_input_to_ten_logits(spec):
    assert "(N, 10)" in spec.build().summary(spec.input_shape).splitlines()[-2]


def test_units_and_labels():
    (e1, e3) = find(["e1_mlp", "e3_batch1"])
    assert (e1.unit, e3.unit) == ("s/epoch", "ms/step")
    assert find(["e2_lenet"])[0].optimizer_label() == "Adam(lr=0.001, weight_decay=1e-05)"


def test_unknown_keys_are_named():
    with pytest.raises(ValueError, match="unknown model e9, e0: expected some of e1_mlp"):
        find(["e1_mlp", "e9", "e0"])
