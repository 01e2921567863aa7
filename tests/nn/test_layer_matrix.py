"""Every layer declared once, run over backend x kernels x dtype x shapes.

A ``LayerCase`` says how to build the layer from sizes drawn by hypothesis, how to draw an input
away from kinks and ties (where a gradient is not defined and PyTorch and tinynet may pick
different subgradients), and how to build the same layer in PyTorch. Each case then runs:

- a float64 gradient check with the rules of a backward (tinynet.testing), on NumPy;
- against PyTorch, same weights, same input and upstream gradient: the output, dL/dx and every
  dL/dparam, in float32 and float64, on every backend of the ``backend_name`` fixture;

and, through tests/nn/conftest.py, on both kernel paths (fast and reference).
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinynet import backend
from tinynet.testing import assert_backward_correct, spread_arrays
from tinynet.nn import (AvgPool2d, BatchNorm2d, Conv2d, LayerNorm, Linear, MaxPool2d, ReLU,
                        Sigmoid, Tanh)

TOLERANCE = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}


@dataclass
class LayerCase:
    name: str
    sizes: st.SearchStrategy            # -> dict of sizes
    build: Callable                     # sizes -> tinynet layer (float32)
    input_shape: Callable               # sizes -> shape of x
    torch_build: Callable               # (torch.nn, sizes) -> the PyTorch layer


image = dict(n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(4, 8), w=st.integers(4, 8))
pool = st.fixed_dictionaries(dict(**image, k=st.integers(1, 3), s=st.integers(1, 3),
                                  p=st.integers(0, 1))).filter(lambda d: d["p"] <= d["k"] // 2)

CASES = [
    LayerCase("Linear",
              st.fixed_dictionaries(dict(n=st.integers(1, 5), i=st.integers(1, 6),
                                         o=st.integers(1, 6))),
              lambda d: Linear(d["i"], d["o"]), lambda d: (d["n"], d["i"]),
              lambda nn, d: nn.Linear(d["i"], d["o"])),
    LayerCase("Conv2d",
              st.fixed_dictionaries(dict(**image, o=st.integers(1, 3), k=st.integers(1, 3),
                                         s=st.integers(1, 2), p=st.integers(0, 1))),
              lambda d: Conv2d(d["c"], d["o"], d["k"], stride=d["s"], padding=d["p"]),
              lambda d: (d["n"], d["c"], d["h"], d["w"]),
              lambda nn, d: nn.Conv2d(d["c"], d["o"], d["k"], stride=d["s"], padding=d["p"])),
    LayerCase("MaxPool2d", pool,
              lambda d: MaxPool2d(d["k"], stride=d["s"], padding=d["p"]),
              lambda d: (d["n"], d["c"], d["h"], d["w"]),
              lambda nn, d: nn.MaxPool2d(d["k"], stride=d["s"], padding=d["p"])),
    LayerCase("AvgPool2d", pool,
              lambda d: AvgPool2d(d["k"], stride=d["s"], padding=d["p"]),
              lambda d: (d["n"], d["c"], d["h"], d["w"]),
              lambda nn, d: nn.AvgPool2d(d["k"], stride=d["s"], padding=d["p"])),
    LayerCase("ReLU", st.fixed_dictionaries(dict(n=st.integers(1, 4), f=st.integers(1, 9))),
              lambda d: ReLU(), lambda d: (d["n"], d["f"]), lambda nn, d: nn.ReLU()),
    LayerCase("Sigmoid", st.fixed_dictionaries(dict(n=st.integers(1, 4), f=st.integers(1, 9))),
              lambda d: Sigmoid(), lambda d: (d["n"], d["f"]), lambda nn, d: nn.Sigmoid()),
    LayerCase("Tanh", st.fixed_dictionaries(dict(n=st.integers(1, 4), f=st.integers(1, 9))),
              lambda d: Tanh(), lambda d: (d["n"], d["f"]), lambda nn, d: nn.Tanh()),
    LayerCase("BatchNorm2d", st.fixed_dictionaries(image).filter(lambda d: d["n"] > 1),
              lambda d: BatchNorm2d(d["c"]), lambda d: (d["n"], d["c"], d["h"], d["w"]),
              lambda nn, d: nn.BatchNorm2d(d["c"])),
    LayerCase("LayerNorm", st.fixed_dictionaries(dict(n=st.integers(1, 4), f=st.integers(3, 9))),
              lambda d: LayerNorm(d["f"]), lambda d: (d["n"], d["f"]),
              lambda nn, d: nn.LayerNorm(d["f"])),
]
IDS = [case.name for case in CASES]


def draw_input(case, sizes, data):
    """An input away from kinks and ties (tinynet.testing's ``spread_arrays``: distinct values,
    none near 0), where every layer's gradient is defined and PyTorch picks the same one."""
    return data.draw(spread_arrays(case.input_shape(sizes)), label="x")


@pytest.mark.parametrize("case", CASES, ids=IDS)
@settings(max_examples=8, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_gradient_check_float64(case, data, seed):
    sizes = data.draw(case.sizes, label="sizes")
    assert_backward_correct(case.build(sizes), draw_input(case, sizes, data), seed=seed)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=IDS)
@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_matches_pytorch(case, dtype, data, seed, backend_name):
    torch = pytest.importorskip("torch")
    sizes = data.draw(case.sizes, label="sizes")
    x = draw_input(case, sizes, data).astype(dtype)
    normal = np.random.default_rng(seed).standard_normal
    layer = case.build(sizes).astype(dtype)
    theirs = case.torch_build(torch.nn, sizes).to(getattr(torch, np.dtype(dtype).name))
    theirs.load_state_dict({key: torch.from_numpy(np.array(backend.to_numpy(value)))
                            for key, value in layer.state_dict().items()})
    y = layer.forward(backend.to_device(x))
    grad_out = normal(y.shape).astype(dtype)
    dx = layer.backward(backend.to_device(grad_out))
    x_torch = torch.from_numpy(x).requires_grad_(True)
    y_torch = theirs(x_torch)
    y_torch.backward(torch.from_numpy(grad_out))
    where = f"{case.name} {sizes} {np.dtype(dtype).name} on {backend_name}"
    np.testing.assert_allclose(backend.to_numpy(y), y_torch.detach().numpy(),
                               **TOLERANCE[dtype], err_msg=f"{where}: output")
    np.testing.assert_allclose(backend.to_numpy(dx), x_torch.grad.numpy(),
                               **TOLERANCE[dtype], err_msg=f"{where}: dL/dx")
    torch_params = dict(theirs.named_parameters())
    for name, param in layer.named_parameters():
        np.testing.assert_allclose(backend.to_numpy(param.grad), torch_params[name].grad.numpy(),
                                   **TOLERANCE[dtype], err_msg=f"{where}: dL/d{name}")
