import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinynet import backend
from tinynet.data import DataLoader
from tinynet.losses import CrossEntropyLoss, MSELoss
from tinynet.monitor import TrainingMonitor
from tinynet.nn import Linear, ReLU, Sequential, Sigmoid
from tinynet.optim import SGD, Adam
from tinynet.train import GradientNormLogger, History, fit


def blobs(n, seed=0):
    """Three Gaussian clusters in 2-D, float32 features and integer labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    centres = np.array([[0, 4], [4, -2], [-4, -2]], np.float32)
    return centres[labels] + rng.standard_normal((n, 2)).astype(np.float32), labels


def one_step(model, x, y):
    """Forward, loss and backward by hand (what fit does before its callbacks run)."""
    loss_fn = CrossEntropyLoss()
    model.zero_grad()
    loss_fn(model(x), y)
    model.backward(loss_fn.backward())


def test_records_equal_hand_computed_statistics(rng):
    model = Sequential(Linear(3, 4, dtype=np.float64), ReLU(), Linear(4, 2, dtype=np.float64))
    monitor = TrainingMonitor(model)
    x, y = rng.standard_normal((6, 3)), rng.integers(0, 2, 6)
    one_step(model, x, y)
    monitor.record(step=7)

    w0, b0, w2, b2 = (p.data for p in model.parameters())
    hidden = x @ w0.T + b0
    outputs = {"0": hidden, "1": np.maximum(hidden, 0), "2": np.maximum(hidden, 0) @ w2.T + b2}
    stats = monitor.stats
    assert stats["step"] == [7]
    for name, output in outputs.items():
        assert stats["activation_mean"][name] == [pytest.approx(output.mean(), rel=1e-12)]
        assert stats["activation_std"][name] == [pytest.approx(output.std(), rel=1e-12)]
    norms = {name: np.sqrt((p.grad ** 2).sum()) for name, p in model.named_parameters()}
    assert set(stats["grad_norm"]) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    for name, norm in norms.items():
        assert stats["grad_norm"][name] == [pytest.approx(norm, rel=1e-12)]
    global_norm = np.sqrt(sum(n ** 2 for n in norms.values()))
    assert stats["global_grad_norm"] == [pytest.approx(global_norm, rel=1e-12)]
    assert stats["layer_types"] == {"0": "Linear", "1": "ReLU", "2": "Linear"}


def test_works_with_fit_and_samples_every_k_steps():
    x, y = blobs(200)
    model = Sequential(Linear(2, 16), ReLU(), Linear(16, 3))
    monitor = TrainingMonitor(model, every=3)
    history = fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=0.01),
                  DataLoader(x, y, batch_size=32), epochs=2, callbacks=[monitor], progress=False)
    assert len(history.step_loss) == 14                 # 7 batches x 2 epochs
    stats = history.extra["monitor"]
    assert stats is monitor.stats and stats["step"] == [0, 3, 6, 9, 12]
    series = ([stats["global_grad_norm"]] + list(stats["grad_norm"].values())
              + list(stats["activation_mean"].values()) + list(stats["activation_std"].values()))
    assert all(len(values) == 5 for values in series)
    assert all(type(value) is float and math.isfinite(value) for values in series
               for value in values)
    assert json.loads(history.to_json())["extra"]["monitor"]["step"] == [0, 3, 6, 9, 12]


def test_global_norm_is_the_one_gradient_norm_logger_records():
    x, y = blobs(96)
    model = Sequential(Linear(2, 8), ReLU(), Linear(8, 3))
    monitor, logger = TrainingMonitor(model), GradientNormLogger(max_steps=10)
    history = fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1),
                  DataLoader(x, y, batch_size=16), epochs=1, callbacks=[monitor, logger],
                  progress=False)
    assert monitor.stats["global_grad_norm"] == pytest.approx(history.extra["grad_norm"],
                                                              rel=1e-5)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**16), depth=st.integers(4, 6), width=st.sampled_from([16, 32]))
def test_deep_sigmoid_mlp_has_vanishing_gradients_in_early_layers(seed, depth, width):
    backend.seed(seed)
    layers = []
    for _ in range(depth):
        layers += [Linear(width, width, dtype=np.float64), Sigmoid()]
    model = Sequential(*layers, Linear(width, 10, dtype=np.float64))
    monitor = TrainingMonitor(model)
    data = np.random.default_rng(seed)
    one_step(model, data.standard_normal((32, width)), data.integers(0, 10, 32))
    monitor.record(step=0)
    norms = [monitor.stats["grad_norm"][f"{2 * i}.weight"][0] for i in range(depth + 1)]
    assert all(early < late for early, late in zip(norms, norms[1:])), norms
    assert norms[0] < 1e-2 * norms[-1], norms


def test_only_the_named_layers_are_watched(rng):
    model = Sequential(Linear(3, 4), Sigmoid(), Linear(4, 2))
    monitor = TrainingMonitor(model, layers=["1"])
    one_step(model, rng.standard_normal((5, 3)).astype(np.float32), rng.integers(0, 2, 5))
    monitor.record(0)
    assert list(monitor.stats["activation_mean"]) == ["1"]
    assert 0 < monitor.stats["activation_mean"]["1"][0] < 1            # a sigmoid's output
    assert len(monitor.stats["grad_norm"]) == 4                         # gradients: all of them


def test_remove_takes_the_hooks_off_and_copies_do_not_record(rng):
    model = Sequential(Linear(3, 4), ReLU())
    monitor = TrainingMonitor(model)
    x = rng.standard_normal((2, 3)).astype(np.float32)
    model.copy()(x)                              # a copy keeps the hooks but is not watched
    assert monitor.latest_output == {}
    model(x)
    assert set(monitor.latest_output) == {"0", "1"}
    monitor.remove()
    assert monitor.latest_output == {} and not any(layer._forward_hooks for layer in model.layers)
    model(x)
    assert monitor.latest_output == {}


def test_mistakes_are_named(rng):
    model = Sequential(Linear(3, 4), ReLU())
    with pytest.raises(ValueError, match="every must be a positive int, got 0"):
        TrainingMonitor(model, every=0)
    with pytest.raises(ValueError, match=r"no layer named \['5'\].*\['0', '1'\]"):
        TrainingMonitor(model, layers=["5"])
    monitor = TrainingMonitor(model)
    with pytest.raises(RuntimeError, match=r"layers \['0', '1'\] produced no output"):
        monitor.record(0)                        # no forward pass yet
    with pytest.raises(ValueError, match="another model"):
        monitor.on_after_backward(Sequential(Linear(3, 4)), 0, None)


def test_records_are_host_floats_on_every_backend(backend_name, rng):
    model = Sequential(Linear(3, 4), ReLU(), Linear(4, 2))
    monitor = TrainingMonitor(model)
    loss_fn = MSELoss()
    x = backend.to_device(rng.standard_normal((5, 3)), dtype=np.float32)
    loss_fn(model(x), backend.to_device(rng.standard_normal((5, 2)), dtype=np.float32))
    model.backward(loss_fn.backward())
    monitor.record(0)
    assert type(monitor.stats["global_grad_norm"][0]) is float
    assert all(type(values[0]) is float for values in monitor.stats["activation_std"].values())


def test_a_sampled_step_costs_one_transfer_and_the_others_none(rng, monkeypatch):
    model = Sequential(Linear(3, 4), ReLU(), Linear(4, 2))
    monitor = TrainingMonitor(model, every=2)
    transfers = []
    to_numpy = backend.to_numpy
    monkeypatch.setattr(backend, "to_numpy", lambda a: transfers.append(a) or to_numpy(a))
    history = History()
    for step in range(4):
        one_step(model, rng.standard_normal((5, 3)).astype(np.float32), rng.integers(0, 2, 5))
        transfers.clear()
        monitor.on_after_backward(model, step, history)
        assert len(transfers) == (1 if step % 2 == 0 else 0)
    assert monitor.stats["step"] == [0, 2]


def test_copying_a_watched_model_does_not_copy_the_monitor(rng):
    model = Sequential(Linear(3, 4), ReLU())
    monitor = TrainingMonitor(model)
    copy = model.copy()
    hook = copy.layers[0]._forward_hooks[0]
    assert hook is model.layers[0]._forward_hooks[0]      # the same function, same monitor
    copy(rng.standard_normal((2, 3)).astype(np.float32))
    assert monitor.latest_output == {}
