"""Optimizers: hand-computed steps, agreement with torch.optim over many steps and settings,
in-place updates, skipped parameters, checkpoints that resume bit-identically, bad settings."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinynet import backend
from tinynet.nn.module import Parameter
from tinynet.optim import SGD, Adam, AdamW, Optimizer, RMSprop

pytestmark = pytest.mark.usefixtures("kernel_path")   # both kernel paths

OPTIMIZERS = [SGD, RMSprop, Adam, AdamW]

# One configuration per optimizer that exercises every branch of its update.
FULL_OPTIONS = {
    SGD: dict(lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True),
    RMSprop: dict(lr=0.01, momentum=0.5, weight_decay=0.1, centered=True),
    Adam: dict(lr=0.01, weight_decay=0.1, amsgrad=True),
    AdamW: dict(lr=0.01, weight_decay=0.1, amsgrad=True),
}

# Every optimizer with its defaults and with every option on, plus SGD's dampening branch.
OPTION_SETS = [(cls, {}) for cls in OPTIMIZERS] + list(FULL_OPTIONS.items()) + [
    (SGD, dict(lr=0.1, momentum=0.9, dampening=0.5))]
OPTION_IDS = [f"{cls.__name__}-{'-'.join(options) or 'defaults'}" for cls, options in OPTION_SETS]


def scalar_param(value=1.0):
    return Parameter(np.array([value], dtype=np.float64))


def run(optimizer, param, grads):
    """Feed ``grads`` one step at a time; return the parameter value after each step."""
    values = []
    for grad in grads:
        param.grad = np.array([grad], dtype=np.float64)
        optimizer.step()
        values.append(float(param.data[0]))
    return values


# --- hand-computed steps (float64, one scalar parameter) ---------------------------------------

def test_sgd_plain_and_weight_decay_by_hand():
    p = scalar_param(1.0)
    assert run(SGD([p], lr=0.1), p, [2.0, -1.0]) == pytest.approx([0.8, 0.9], abs=1e-15)
    p = scalar_param(1.0)   # g = 0 + 0.5 * 1 -> p = 1 - 0.1 * 0.5
    assert run(SGD([p], lr=0.1, weight_decay=0.5), p, [0.0]) == pytest.approx([0.95], abs=1e-15)


def test_sgd_momentum_by_hand():
    # b1 = g1 = 1 (no dampening at the first step), p1 = 0.9; b2 = 0.9 + 1 = 1.9, p2 = 0.71
    p = scalar_param(1.0)
    assert run(SGD([p], lr=0.1, momentum=0.9), p, [1.0, 1.0]) == pytest.approx([0.9, 0.71],
                                                                                abs=1e-15)
    # dampening 0.5: b1 = 1, p1 = 0.9; b2 = 0.9 + 0.5 = 1.4, p2 = 0.76
    p = scalar_param(1.0)
    optimizer = SGD([p], lr=0.1, momentum=0.9, dampening=0.5)
    assert run(optimizer, p, [1.0, 1.0]) == pytest.approx([0.9, 0.76], abs=1e-15)


def test_sgd_nesterov_by_hand():
    # b1 = 1, d1 = 1 + 0.9 * 1 = 1.9, p1 = 0.81; b2 = 1.9, d2 = 1 + 0.9 * 1.9 = 2.71, p2 = 0.539
    p = scalar_param(1.0)
    optimizer = SGD([p], lr=0.1, momentum=0.9, nesterov=True)
    assert run(optimizer, p, [1.0, 1.0]) == pytest.approx([0.81, 0.539], abs=1e-15)


def test_rmsprop_by_hand():
    # s1 = 0.01 * 1 = 0.01, p1 = 1 - 0.01 * 1 / sqrt(0.01) = 0.9
    # s2 = 0.99 * 0.01 + 0.01 = 0.0199, p2 = 0.9 - 0.01 / sqrt(0.0199)
    p = scalar_param(1.0)
    expected = [0.9, 0.9 - 0.01 / np.sqrt(0.0199)]
    assert run(RMSprop([p], eps=0.0), p, [1.0, 1.0]) == pytest.approx(expected, abs=1e-14)
    # centered: a1 = 0.01, denominator sqrt(0.01 - 0.0001)
    p = scalar_param(1.0)
    expected = [1 - 0.01 / np.sqrt(0.0099)]
    assert run(RMSprop([p], eps=0.0, centered=True), p, [1.0]) == pytest.approx(expected,
                                                                                abs=1e-14)
    # momentum 0.5: b1 = 1 / 0.1 = 10, p1 = 1 - 0.01 * 10 = 0.9;
    # b2 = 5 + 1 / sqrt(0.0199), p2 = 0.9 - 0.01 * b2
    p = scalar_param(1.0)
    expected = [0.9, 0.9 - 0.01 * (5 + 1 / np.sqrt(0.0199))]
    assert run(RMSprop([p], eps=0.0, momentum=0.5), p, [1.0, 1.0]) == pytest.approx(expected,
                                                                                    abs=1e-14)


def test_adam_by_hand():
    # With a constant gradient the bias-corrected moments are exactly g and g^2, so every
    # step moves by lr * g / (|g| + eps) = lr (eps = 0 here).
    p = scalar_param(1.0)
    assert run(Adam([p], lr=0.1, eps=0.0), p, [3.0, 3.0, 3.0]) == pytest.approx(
        [0.9, 0.8, 0.7], abs=1e-14)
    # Gradients 2 then 0: m2 = 0.18, v2 = 0.999 * 0.004; bias corrections 0.19 and 0.001999.
    p = scalar_param(1.0)
    m_hat, v_hat = 0.18 / 0.19, 0.999 * 0.004 / (1 - 0.999 ** 2)
    p1 = 1 - 0.1 * 2 / (2 + 1e-8)
    expected = [p1, p1 - 0.1 * m_hat / (np.sqrt(v_hat) + 1e-8)]
    assert run(Adam([p], lr=0.1), p, [2.0, 0.0]) == pytest.approx(expected, abs=1e-14)


def test_adam_weight_decay_is_added_to_the_gradient_adamw_decouples_it():
    # Adam: g = 0 + 0.5 * 1, a single step moves by lr whatever g is.
    p = scalar_param(1.0)
    assert run(Adam([p], lr=0.1, eps=0.0, weight_decay=0.5), p, [0.0]) == pytest.approx(
        [0.9], abs=1e-15)
    # AdamW: p = 1 * (1 - 0.1 * 0.5) = 0.95, then the Adam step of the raw gradient 0: none.
    p = scalar_param(1.0)
    assert run(AdamW([p], lr=0.1, weight_decay=0.5), p, [0.0]) == pytest.approx([0.95],
                                                                                abs=1e-15)
    p = scalar_param(1.0)   # and with a gradient: 0.95 - 0.1
    assert run(AdamW([p], lr=0.1, eps=0.0, weight_decay=0.5), p, [4.0]) == pytest.approx(
        [0.85], abs=1e-15)


def test_amsgrad_uses_the_largest_second_moment_by_hand():
    # Gradients 1 then 0.1: v1 = 0.001, v2 = 0.000999 + 0.00001 > v1, so max = v2 here;
    # gradients 1 then 0: v2 = 0.000999 < v1 = 0.001, amsgrad divides by sqrt(v1) instead.
    p = scalar_param(1.0)
    run(Adam([p], lr=0.1, eps=0.0, amsgrad=True), p, [1.0, 0.0])
    m2 = 0.09
    expected = 0.9 - 0.1 / (1 - 0.9 ** 2) * m2 / (np.sqrt(0.001) / np.sqrt(1 - 0.999 ** 2))
    assert float(p.data[0]) == pytest.approx(expected, abs=1e-14)


def test_defaults_are_torchs():
    p = [scalar_param()]
    assert SGD(p).defaults == dict(lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                                   nesterov=False)
    assert RMSprop(p).defaults == dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0,
                                       momentum=0.0, centered=False)
    assert Adam(p).defaults == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                                    amsgrad=False)
    assert AdamW(p).defaults == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                                     amsgrad=False)


# --- agreement with torch.optim ----------------------------------------------------------------

SHAPES = [(3, 4), (4,), (2, 1, 3)]
TOLERANCE = {np.float64: dict(rtol=1e-11, atol=1e-12),
             # torch fuses multiply-adds (one rounding, NumPy two): a few ulps per step, which
             # centered RMSprop's sqrt(s - a^2) amplifies when s and a^2 nearly cancel (seed
             # 696, alpha 0.3: 4e-6 after 13 steps; seed 740, momentum 0.9: 1.2e-5 after 6, the
             # same before and after the kernels; float64 agrees to 1e-11)
             np.float32: dict(rtol=2e-5, atol=5e-5)}

probability = st.floats(0.0, 0.99)
HYPERPARAMETERS = {
    SGD: st.fixed_dictionaries(dict(
        lr=st.sampled_from([1e-3, 0.05, 0.1]), momentum=st.sampled_from([0.0, 0.5, 0.9]),
        dampening=st.sampled_from([0.0, 0.1, 0.5]), weight_decay=st.sampled_from([0.0, 1e-2]),
        nesterov=st.booleans())).filter(
            lambda h: not h["nesterov"] or (h["momentum"] > 0 and h["dampening"] == 0)),
    RMSprop: st.fixed_dictionaries(dict(
        lr=st.sampled_from([1e-3, 1e-2]), alpha=st.sampled_from([0.99, 0.9, 0.3]),
        eps=st.sampled_from([1e-8, 1e-3]), weight_decay=st.sampled_from([0.0, 1e-2]),
        momentum=st.sampled_from([0.0, 0.9]), centered=st.booleans())),
    Adam: st.fixed_dictionaries(dict(
        lr=st.sampled_from([1e-3, 1e-2]), betas=st.tuples(probability, probability),
        eps=st.sampled_from([1e-8, 1e-3]), weight_decay=st.sampled_from([0.0, 1e-2]),
        amsgrad=st.booleans())),
}
HYPERPARAMETERS[AdamW] = HYPERPARAMETERS[Adam]


def compare_with_torch(optimizer_class, hyperparameters, dtype, seed, steps=25):
    """Same initial values and gradient sequence (some parameters without a gradient at some
    steps) through tinynet and torch.optim; compare every parameter after every step."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    initial = [rng.standard_normal(shape).astype(dtype) for shape in SHAPES]
    ours = [Parameter(value.copy()) for value in initial]
    theirs = [torch.tensor(value.copy(), requires_grad=True) for value in initial]
    optimizer = optimizer_class(ours, **hyperparameters)
    reference = getattr(torch.optim, optimizer_class.__name__)(theirs, **hyperparameters)
    for step in range(steps):
        for mine, other in zip(ours, theirs):
            has_grad = step == 0 or rng.random() < 0.8
            grad = rng.standard_normal(mine.shape).astype(dtype) if has_grad else None
            mine.grad = grad
            other.grad = None if grad is None else torch.tensor(grad)
        optimizer.step()
        reference.step()
        for index, (mine, other) in enumerate(zip(ours, theirs)):
            np.testing.assert_allclose(
                mine.data, other.detach().numpy(), **TOLERANCE[dtype],
                err_msg=f"{optimizer_class.__name__}{hyperparameters}, {dtype.__name__}: "
                        f"parameter {index} differs from torch after step {step + 1}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer_class", OPTIMIZERS)
@settings(max_examples=25, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_matches_torch(optimizer_class, dtype, data, seed):
    hyperparameters = data.draw(HYPERPARAMETERS[optimizer_class], label="hyperparameters")
    compare_with_torch(optimizer_class, hyperparameters, dtype, seed)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer_class", OPTIMIZERS)
def test_matches_torch_with_defaults_over_many_steps(optimizer_class, dtype):
    compare_with_torch(optimizer_class, {}, dtype, seed=7, steps=200)


# --- in-place updates, skipped parameters, untouched gradients ---------------------------------

def make_params(dtype=np.float32, shapes=((3, 4), (4,))):
    rng = backend.host_rng()
    return [Parameter(backend.to_device(rng.standard_normal(shape), dtype=dtype))
            for shape in shapes]


def set_grads(params, seed=0):
    rng = np.random.default_rng(seed)
    for param in params:
        param.grad = backend.to_device(rng.standard_normal(param.shape), dtype=param.data.dtype)


@pytest.mark.parametrize("optimizer_class, options", OPTION_SETS, ids=OPTION_IDS)
def test_step_updates_in_place_keeps_dtype_and_never_writes_the_gradient(optimizer_class, options,
                                                                        backend_name):
    params = make_params(np.float32)
    arrays = [param.data for param in params]
    optimizer = optimizer_class(params, **options)
    for step in range(3):
        set_grads(params, seed=step)
        grads = [backend.to_numpy(param.grad).copy() for param in params]
        before = [backend.to_numpy(param.data).copy() for param in params]
        optimizer.step()
        for param, array, grad, old in zip(params, arrays, grads, before):
            assert param.data is array
            assert param.data.dtype == np.float32
            np.testing.assert_array_equal(backend.to_numpy(param.grad), grad)
            assert not np.array_equal(backend.to_numpy(param.data), old)
    for state in optimizer.state:
        for key, value in state.items():
            assert key == "step" or value.dtype == np.float32, key


@pytest.mark.parametrize("optimizer_class, options", OPTION_SETS, ids=OPTION_IDS)
def test_parameters_without_gradient_are_skipped(optimizer_class, options):
    params = make_params(np.float64)
    optimizer = optimizer_class(params, **options)
    set_grads(params)
    optimizer.step()
    frozen = params[1].data.copy()
    frozen_state = {key: np.copy(value) for key, value in optimizer.state[1].items()}
    params[1].grad = None
    optimizer.step()
    np.testing.assert_array_equal(params[1].data, frozen)
    assert optimizer.state[1].keys() == frozen_state.keys()
    for key, value in optimizer.state[1].items():
        np.testing.assert_array_equal(value, frozen_state[key])
    if "step" in optimizer.state[0]:
        assert optimizer.state[0]["step"] == 2 and optimizer.state[1]["step"] == 1


def test_parameter_never_updated_has_no_state():
    params = make_params(np.float64)
    optimizer = Adam(params)
    params[0].grad = np.ones(params[0].shape)
    optimizer.step()
    assert optimizer.state[1] == {}
    assert list(optimizer.state_dict()["state"]) == [0]


def test_zero_grad_sets_every_grad_to_none():
    params = make_params()
    optimizer = SGD(params)
    set_grads(params)
    optimizer.zero_grad()
    assert all(param.grad is None for param in params)


def test_changing_lr_applies_from_the_next_step():
    p = scalar_param(1.0)
    optimizer = SGD([p], lr=0.1)
    optimizer.lr = 0.5
    assert run(optimizer, p, [1.0]) == pytest.approx([0.5])
    with pytest.raises(ValueError, match=r"SGD.*lr=-1\.0"):
        optimizer.lr = -1.0


# --- checkpoints -------------------------------------------------------------------------------

def train(optimizer, params, steps, seed):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        for param in params:
            param.grad = backend.to_device(rng.standard_normal(param.shape),
                                           dtype=param.data.dtype)
        optimizer.step()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("optimizer_class", OPTIMIZERS)
def test_state_dict_round_trip_resumes_bit_identically(optimizer_class, dtype, backend_name):
    params = make_params(dtype)
    optimizer = optimizer_class(params, **FULL_OPTIONS[optimizer_class])
    train(optimizer, params, steps=4, seed=1)
    saved_params = [backend.to_numpy(param.data).copy() for param in params]
    saved = optimizer.state_dict()
    train(optimizer, params, steps=5, seed=2)               # the uninterrupted run

    resumed = [Parameter(backend.to_device(value.copy())) for value in saved_params]
    restored = optimizer_class(resumed, lr=123.0)            # hyperparameters come from the save
    restored.load_state_dict(saved)
    assert restored.defaults == optimizer.defaults
    train(restored, resumed, steps=5, seed=2)
    for original, copy in zip(params, resumed):
        np.testing.assert_array_equal(backend.to_numpy(copy.data), backend.to_numpy(original.data))


@pytest.mark.parametrize("optimizer_class", OPTIMIZERS)
def test_state_dict_holds_independent_host_arrays_and_step_counts(optimizer_class):
    params = make_params(np.float32)
    optimizer = optimizer_class(params, **FULL_OPTIONS[optimizer_class])
    train(optimizer, params, steps=2, seed=0)
    saved = optimizer.state_dict()
    assert saved["optimizer"] == optimizer_class.__name__ and set(saved["state"]) == {0, 1}
    snapshot = {index: {key: np.copy(value) for key, value in entry.items()}
                for index, entry in saved["state"].items()}
    for entry in saved["state"].values():
        for key, value in entry.items():
            assert (type(value) is int) if key == "step" else isinstance(value, np.ndarray)
    if optimizer_class is not SGD:
        assert saved["state"][0]["step"] == 2
    train(optimizer, params, steps=2, seed=1)                # must not change the saved copy
    loaded = optimizer_class(params)
    loaded.load_state_dict(saved)
    train(loaded, params, steps=1, seed=3)                   # nor must loading alias it
    for index, entry in saved["state"].items():
        for key, value in entry.items():
            np.testing.assert_array_equal(value, snapshot[index][key])


def test_load_state_dict_rejects_state_that_does_not_fit():
    params = make_params(np.float64)
    adam = Adam(params)
    train(adam, params, steps=1, seed=0)
    saved = adam.state_dict()
    with pytest.raises(ValueError, match="SGD: cannot load the state of a Adam"):
        SGD(params).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"state\[0\]\['exp_avg'\]: expected shape \(4, 3\)"):
        Adam(make_params(np.float64, shapes=((4, 3), (4,)))).load_state_dict(saved)
    with pytest.raises(ValueError, match="state for parameter 1, but there are only 1"):
        Adam(params[:1]).load_state_dict(saved)
    untouched = Adam(params)
    with pytest.raises(ValueError, match="hyperparameters"):
        untouched.load_state_dict({**saved, "defaults": {"lr": 0.1}})
    assert untouched.state == [{}, {}] and untouched.defaults == Adam(params).defaults


# --- bad settings ------------------------------------------------------------------------------

@pytest.mark.parametrize("optimizer_class, kwargs, message", [
    (SGD, dict(lr=-0.1), r"SGD: invalid lr=-0\.1"),
    (SGD, dict(momentum=-0.5), r"SGD: invalid momentum=-0\.5"),
    (SGD, dict(weight_decay=-1e-4), r"SGD: invalid weight_decay=-0\.0001"),
    (SGD, dict(nesterov=True), r"SGD: nesterov=True requires momentum > 0.*momentum=0"),
    (SGD, dict(nesterov=True, momentum=0.9, dampening=0.1),
     r"SGD: nesterov=True requires .*dampening = 0.*dampening=0\.1"),
    (RMSprop, dict(lr=-1.0), r"RMSprop: invalid lr=-1\.0"),
    (RMSprop, dict(alpha=-0.1), r"RMSprop: invalid alpha=-0\.1: must be in \[0, 1\]"),
    (RMSprop, dict(alpha=1.5), r"RMSprop: invalid alpha=1\.5"),
    (RMSprop, dict(eps=-1e-8), r"RMSprop: invalid eps=-1e-08"),
    (RMSprop, dict(momentum=-0.9), r"RMSprop: invalid momentum=-0\.9"),
    (RMSprop, dict(weight_decay=-0.1), r"RMSprop: invalid weight_decay=-0\.1"),
    (Adam, dict(lr=float("nan")), r"Adam: invalid lr=nan"),
    (Adam, dict(betas=(1.0, 0.999)), r"Adam: invalid betas\[0\]=1\.0: must be in \[0, 1\)"),
    (Adam, dict(betas=(0.9, -0.1)), r"Adam: invalid betas\[1\]=-0\.1"),
    (Adam, dict(betas=(0.9,)), r"Adam: betas must be a pair"),
    (Adam, dict(eps=-1.0), r"Adam: invalid eps=-1\.0"),
    (Adam, dict(weight_decay=-0.1), r"Adam: invalid weight_decay=-0\.1"),
    (AdamW, dict(weight_decay=-0.1), r"AdamW: invalid weight_decay=-0\.1"),
    (AdamW, dict(betas=(0.9, 1.0)), r"AdamW: invalid betas\[1\]=1\.0"),
])
def test_invalid_hyperparameters_raise_naming_the_optimizer_and_value(optimizer_class, kwargs,
                                                                      message):
    with pytest.raises(ValueError, match=message):
        optimizer_class([scalar_param()], **kwargs)


def test_non_numeric_hyperparameter_raises_type_error():
    with pytest.raises(TypeError, match="Adam: lr must be a real number, got '0.1'"):
        Adam([scalar_param()], lr="0.1")


def test_bad_params_raise():
    with pytest.raises(ValueError, match="SGD: got an empty parameter list"):
        SGD([])
    with pytest.raises(TypeError, match=r"Adam: params\[1\] is a ndarray, expected a Parameter"):
        Adam([scalar_param(), np.zeros(3)])
    with pytest.raises(TypeError, match="must be an iterable of Parameters"):
        Adam(scalar_param())
    p = scalar_param()
    with pytest.raises(ValueError, match="more than once"):
        SGD([p, p])


def test_base_class_needs_an_update_rule():
    p = scalar_param()
    p.grad = np.ones(1)
    with pytest.raises(NotImplementedError):
        Optimizer([p], {"lr": 0.1}).step()


def test_repr_lists_the_hyperparameters():
    assert repr(SGD([scalar_param()], lr=0.1, momentum=0.9)) == (
        "SGD(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False)")
