"""CuPy API checks (no GPU code executed): the CuPy-shaped test backend itself, and what a
training step costs in device<->host transfers when it runs under CuPy's rules.

The backend (tests/cupy_shaped.py) is NumPy underneath; these tests show that it refuses what
real CuPy lacks or refuses, and then use its transfer counter to pin down that a training step
moves nothing to the host and ``fit`` moves only the scalars it reports.
"""
import math

import numpy as np
import pytest

from tests import cupy_shaped
from tests.cupy_shaped import ImplicitTransferError, MixedArraysError
from tinynet import backend, kernels
from tinynet.data import DataLoader
from tinynet.losses import CrossEntropyLoss, L1Loss, MSELoss
from tinynet.nn import (BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Flatten, LayerNorm, Linear,
                        MaxPool2d, ReLU, Sequential, Tanh)
from tinynet.optim import SGD, Adam, AdamW, RMSprop
from tinynet.train import GradientNormLogger, evaluate, fit, train_step

pytestmark = pytest.mark.cupy_api


@pytest.fixture
def xp():
    cupy_shaped.activate()
    backend.seed(0)
    return backend.xp


# --- the backend refuses what CuPy does not have -------------------------------------------

@pytest.mark.parametrize("name", ["errstate", "vecdot", "seterr"])
def test_names_cupy_lacks_are_attribute_errors(xp, name):
    with pytest.raises(AttributeError, match=f"no attribute '{name}'"):
        getattr(xp, name)


@pytest.mark.parametrize("method", ["normal", "permutation", "choice", "shuffle"])
def test_the_device_generator_has_only_cupys_methods(xp, method):
    generator = xp.random.default_rng(0)
    with pytest.raises(AttributeError, match=f"Generator' object has no attribute '{method}'"):
        getattr(generator, method)
    assert generator.random((2, 3), dtype=np.float32).dtype == np.float32


def test_keywords_cupy_lacks_are_type_errors(xp):
    a = xp.ones((2, 3), dtype=np.float32)
    with pytest.raises(TypeError, match="cupy.sum has no keyword argument where"):
        xp.sum(a, where=a > 0)
    with pytest.raises(TypeError, match="cupy.ndarray.sum has no keyword argument where"):
        a.sum(where=a > 0)
    with pytest.raises(TypeError, match="cupy.maximum has no keyword argument where"):
        xp.maximum(a, 0, where=a > 0)
    with pytest.raises(TypeError, match="as_strided has no keyword argument writeable"):
        xp.lib.stride_tricks.as_strided(a, (2,), (4,), writeable=False)


# --- device arrays stay on the device --------------------------------------------------------

@pytest.mark.parametrize("convert", [
    float, int, bool, np.asarray, np.exp, lambda a: a.item(), lambda a: a.tolist(),
    lambda a: f"{a:.3f}", lambda a: np.concatenate([a, a]),
], ids=["float", "int", "bool", "numpy.asarray", "numpy ufunc", "item", "tolist", "format",
        "numpy function"])
def test_implicit_conversion_to_the_host_is_refused(xp, convert):
    a = xp.ones((1,), dtype=np.float32)
    refused = TypeError if convert is np.exp else ImplicitTransferError   # ufuncs: NumPy says
    with pytest.raises(refused):
        convert(a)


@pytest.mark.parametrize("mix", [
    lambda a, h: a + h, lambda a, h: h + a, lambda a, h: a * h, lambda a, h: a @ h.reshape(2, 1),
    lambda a, h: a[h.astype(int)], lambda a, h: a.__setitem__(0, h), lambda a, h: xp_stack(a, h),
], ids=["device + host", "host + device", "device * host", "matmul", "host index",
        "assign host", "function argument"])
def test_device_and_host_arrays_do_not_mix(xp, mix):
    a, host = xp.ones((2,), dtype=np.float32), np.ones(2, np.float32)
    with pytest.raises(MixedArraysError, match="NumPy \\(host\\) array"):
        mix(a, host)


def xp_stack(a, host):
    return backend.xp.stack([a, host])


def test_numbers_and_numpy_scalars_mix_fine(xp):
    a = xp.ones((2,), dtype=np.float32)
    b = (2 * a + 1.5) * np.float32(2) - a / 4
    assert isinstance(b, xp.ndarray) and b.dtype == np.float32
    np.testing.assert_array_equal(backend.to_numpy(b), [6.75, 6.75])


def test_integer_array_indices_wrap_around_like_cupy(xp):
    a = backend.to_device(np.arange(5.0))
    picked = a[backend.to_device(np.array([0, 5, -1, 7]))]
    np.testing.assert_array_equal(backend.to_numpy(picked), [0, 0, 4, 2])


def test_transfers_are_counted_in_both_directions(xp):
    with cupy_shaped.counting() as transfers:
        a = backend.to_device(np.arange(6.0))
        b = backend.to_device(a)                   # already on the device: no transfer
        backend.to_numpy(a * 2)
        backend.to_float(b.sum())
    assert (transfers.to_device, transfers.to_host) == (1, 2)
    assert transfers.log[0] == ("to_device", (6,), "float64")


def test_use_module_is_undone_by_use():
    cupy_shaped.activate()
    assert backend.name == "cupy-shaped" and backend.xp is cupy_shaped.xp
    backend.use("numpy")
    assert backend.name == "numpy" and backend.xp is np


def test_results_equal_the_numpy_backends_exactly():
    """The arithmetic underneath is NumPy's: any difference would be the emulation's fault.
    (NumPy runs the reference kernels here, as CuPy does: the fast ones round differently.)"""
    x = np.random.default_rng(0).standard_normal((40, 6)).astype(np.float32)

    def step_losses():
        backend.seed(3)
        model = _mlp()          # with Dropout: the device random stream must match too
        return fit(model, CrossEntropyLoss(), Adam(model.parameters()),
                   DataLoader(x, np.arange(40) % 3, 8, shuffle=True), 2, progress=False).step_loss

    previous = kernels.choice()
    kernels.use("reference")
    try:
        on_numpy = step_losses()
        cupy_shaped.activate()
        assert step_losses() == on_numpy
    finally:
        kernels.use(previous)


# --- what training moves to the host -------------------------------------------------------

def _mlp():
    return Sequential(Linear(6, 16), BatchNorm1d(16), ReLU(), Dropout(0.2), Linear(16, 16),
                      LayerNorm(16), Tanh(), Linear(16, 3))


def _cnn():
    return Sequential(Conv2d(1, 4, 3, padding=1), BatchNorm2d(4), ReLU(), MaxPool2d(2),
                      Flatten(), Linear(16, 3))


@pytest.mark.parametrize("make_model, shape", [(_mlp, (8, 6)), (_cnn, (8, 1, 4, 4))],
                         ids=["mlp", "cnn"])
@pytest.mark.parametrize("optimizer_class", [SGD, RMSprop, Adam, AdamW])
def test_a_training_step_moves_nothing_to_the_host(xp, make_model, shape, optimizer_class):
    """forward, loss, backward, update: all on the device, no transfer either way."""
    host_rng = np.random.default_rng(0)
    x = backend.to_device(host_rng.standard_normal(shape), dtype=np.float32)
    y = backend.to_device(host_rng.integers(0, 3, shape[0]))
    model = make_model()
    optimizer = optimizer_class(model.parameters(), lr=0.01, momentum=0.9) \
        if optimizer_class in (SGD, RMSprop) else optimizer_class(model.parameters())
    with cupy_shaped.counting() as transfers:
        for _ in range(3):
            loss, output = train_step(model, CrossEntropyLoss(), optimizer, x, y)
    assert transfers.log == []
    assert isinstance(loss, xp.ndarray) and isinstance(output, xp.ndarray)


@pytest.mark.parametrize("loss_fn, one_hot", [(CrossEntropyLoss(), False),
                                              (MSELoss(), True), (L1Loss(), True)])
def test_fit_moves_only_the_scalars_it_reports(xp, loss_fn, one_hot):
    """Per epoch: one stacked transfer of step losses every ``sync_every`` steps, the train
    loss and accuracy, the validation loss and accuracy (two scalars each), and the new
    shuffling order going to the device. Nothing per step."""
    host_rng = np.random.default_rng(0)
    x = host_rng.standard_normal((100, 6)).astype(np.float32)
    labels = host_rng.integers(0, 3, 100)
    y = np.eye(3, dtype=np.float32)[labels] if one_hot else labels
    train, val = DataLoader(x, y, 16, shuffle=True), DataLoader(x, y, 50)
    model = _mlp()
    epochs, sync_every, steps = 2, 3, len(train)              # 7 steps per epoch
    with cupy_shaped.counting() as transfers:
        history = fit(model, loss_fn, Adam(model.parameters()), train, epochs, val,
                      progress=False, sync_every=sync_every)
    assert history.status == "completed" and len(history.step_loss) == epochs * steps
    step_loss_syncs = math.ceil(steps / sync_every)
    assert transfers.to_host == epochs * (step_loss_syncs + 2 + 2)
    assert transfers.to_device == epochs                       # the shuffled order
    assert [shape for direction, shape, _ in transfers.log if direction == "to_host"
            and shape != ()] == [(sync_every,)] * 2 + [(1,)] + [(sync_every,)] * 2 + [(1,)]


def test_evaluate_moves_two_scalars(xp):
    x = np.random.default_rng(0).standard_normal((30, 6)).astype(np.float32)
    loader, model = DataLoader(x, np.arange(30) % 3, 8), _mlp()
    with cupy_shaped.counting() as transfers:
        evaluate(model, CrossEntropyLoss(), loader)
    assert (transfers.to_host, transfers.to_device) == (2, 0)


def test_gradient_norm_logger_moves_one_scalar_per_logged_step(xp):
    x = np.random.default_rng(0).standard_normal((32, 6)).astype(np.float32)
    loader = DataLoader(x, np.arange(32) % 3, 8)
    model = _mlp()
    with cupy_shaped.counting() as transfers:
        history = fit(model, CrossEntropyLoss(), Adam(model.parameters()), loader, 1,
                      callbacks=[GradientNormLogger(max_steps=2)], progress=False)
    assert len(history.extra["grad_norm"]) == 2
    assert transfers.to_host == 2 + 1 + 2        # 2 norms, 1 loss sync, train loss and acc


def test_out_of_range_labels_stop_fit_without_a_per_step_check(xp):
    """On a device the label check is folded into the loss (NaN), so the periodic sync sees it."""
    x = np.random.default_rng(0).standard_normal((32, 6)).astype(np.float32)
    labels = np.arange(32) % 3
    labels[20] = 3                                # class 3 of 3: out of range
    model = _mlp()
    with cupy_shaped.counting() as transfers:
        history = fit(model, CrossEntropyLoss(), Adam(model.parameters()),
                      DataLoader(x, labels, 8), 1, progress=False, sync_every=2)
    assert history.status == "diverged" and history.diverged_at_step == 2
    assert transfers.to_host == 2                 # the two loss syncs, nothing per step
