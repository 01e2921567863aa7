"""Real-GPU tests: CuPy against NumPy on the same seeds and data, within float32 tolerance.

Skipped, with the reason, where CuPy cannot run (no CuPy, or no usable CUDA device); no GPU run
has been measured for this project yet. The gradient checks run on the GPU too, as the "cupy"
case of the ``backend_name`` fixture (tests/test_gradcheck.py, tests/test_losses.py). What can
be checked without a GPU is in tests/test_cupy_conformance.py and tests/test_cupy_shaped.py.
"""
import numpy as np
import pytest

from tests.conftest import CUPY_SKIP_REASON, data_dir
from tests.test_gradcheck import _layers
from tinynet import backend
from tinynet.data import DataLoader, load_mnist, prepare_images
from tinynet.losses import CrossEntropyLoss
from tinynet.nn import Linear, ReLU, Sequential
from tinynet.optim import Adam
from tinynet.train import fit

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(CUPY_SKIP_REASON is not None,
                                 reason=f"no GPU backend here: {CUPY_SKIP_REASON}")]

FLOAT32 = dict(rtol=1e-4, atol=1e-5)


def forward_backward(backend_name, make, x, grad_out, random):
    """Output, input gradient and parameter gradients of a fresh ``make()`` on one backend."""
    backend.use(backend_name)
    backend.seed(0)                     # the same initial weights on both (drawn on the host)
    layer = make().astype(np.float32)
    if random:
        layer.eval()                    # the device random streams differ between backends
    y = layer.forward(backend.to_device(x))
    dx = layer.backward(backend.to_device(grad_out(y.shape)))
    grads = [backend.to_numpy(p.grad) for p in layer.parameters()]
    return backend.to_numpy(y), backend.to_numpy(dx), grads


@pytest.mark.parametrize("layer_name", list(_layers()))
def test_layer_matches_numpy_in_float32(layer_name):
    make, shape, before_forward = _layers()[layer_name]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)

    def grad_out(out_shape):
        return np.random.default_rng(1).standard_normal(out_shape).astype(np.float32)

    on_cpu = forward_backward("numpy", make, x, grad_out, before_forward is not None)
    on_gpu = forward_backward("cupy", make, x, grad_out, before_forward is not None)
    for cpu, gpu in zip(on_cpu[:2] + tuple(on_cpu[2]), on_gpu[:2] + tuple(on_gpu[2])):
        np.testing.assert_allclose(gpu, cpu, **FLOAT32)


@pytest.mark.skipif(data_dir() is None, reason="TINYNET_DATA is not set (MNIST files needed)")
def test_short_mnist_run_matches_numpy():
    """One epoch on 4,000 MNIST images, same seed, weights and batch order on both backends."""
    images, labels = load_mnist("train", data_dir=data_dir())
    x, y = prepare_images(images[:5000], flatten=True), labels[:5000]
    runs = {}
    for name in ("numpy", "cupy"):
        backend.use(name)
        backend.seed(0)
        model = Sequential(Linear(784, 128), ReLU(), Linear(128, 10))
        history = fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=1e-3),
                      DataLoader(x[:4000], y[:4000], 64, shuffle=True, seed=0), epochs=1,
                      val_loader=DataLoader(x[4000:], y[4000:], 500), progress=False)
        runs[name] = history, model.state_dict()
    (cpu, cpu_state), (gpu, gpu_state) = runs["numpy"], runs["cupy"]
    np.testing.assert_allclose(gpu.step_loss[:5], cpu.step_loss[:5], rtol=1e-4)
    np.testing.assert_allclose(gpu.step_loss, cpu.step_loss, atol=5e-2)
    assert abs(gpu.last("val_acc") - cpu.last("val_acc")) <= 0.01
    for key in cpu_state:
        np.testing.assert_allclose(gpu_state[key], cpu_state[key], atol=1e-2, err_msg=key)
