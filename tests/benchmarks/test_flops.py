"""FLOP counts checked against sums done by hand, and the GEMM measurement's output."""
import pytest

from benchmarks.flops import gemm_gflops, layer_macs, training_flops
from tinynet.nn import Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential


def test_linear_macs_are_batch_times_in_times_out():
    assert layer_macs(Linear(784, 500), (100, 500)) == 100 * 784 * 500


def test_conv2d_macs_are_outputs_times_window_volume():
    # output 16 x 24 x 24 per sample; each output value is a dot product over 1 x 5 x 5 inputs
    assert layer_macs(Conv2d(1, 16, 5), (2, 16, 24, 24)) == 2 * 16 * 24 * 24 * 25
    # stride 2, padding 1 on 9x9: 5x5 outputs, each over 3 x 3 x 3 inputs
    assert layer_macs(Conv2d(3, 8, 3, stride=2, padding=1), (1, 8, 5, 5)) == 8 * 25 * 27


def test_layers_without_a_matrix_product_count_nothing():
    for layer in (ReLU(), MaxPool2d(2), Flatten()):
        assert layer_macs(layer, (4, 3, 8, 8)) == 0


def test_mlp_training_flops_by_hand():
    # 784-500-10: forward MACs 392,000 + 5,000; the first layer needs no input gradient.
    counted = training_flops(Sequential(Linear(784, 500), ReLU(), Linear(500, 10)), (784,))
    assert counted.forward == 2 * (392_000 + 5_000)
    assert counted.weight_grads == 2 * (392_000 + 5_000)
    assert counted.input_grads == 2 * 5_000
    assert counted.total == 1_598_000
    # issue 8: the E1 MLP's 60k-sample epoch takes about 0.5 s at 196 GFLOP/s
    assert counted.total * 60_000 / 196e9 == pytest.approx(0.489, abs=1e-3)


def test_cnn_training_flops_by_hand():
    # Conv2d(1,16,5) on 28x28 -> 16x24x24: 230,400 MACs; -> 2x2 max pool -> 16x12x12 = 2304
    # -> Linear(2304, 10): 23,040 MACs.
    model = Sequential(Conv2d(1, 16, 5), ReLU(), MaxPool2d(2), Flatten(), Linear(2304, 10))
    counted = training_flops(model, (1, 28, 28))
    assert counted.forward == 2 * (230_400 + 23_040)
    assert counted.weight_grads == 2 * (230_400 + 23_040)
    assert counted.input_grads == 2 * 23_040


def test_counting_leaves_the_training_mode_alone():
    model = Sequential(Linear(4, 3))
    training_flops(model, (4,))
    assert model.training
    training_flops(model.eval(), (4,))
    assert not model.training


def test_gemm_measurement_reports_best_and_median():
    result = gemm_gflops(32, repeats=3)
    assert result["n"] == 32 and result["repeats"] == 3 and result["dtype"] == "float32"
    assert result["gflops_best"] >= result["gflops_median"] > 0
