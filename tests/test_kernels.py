"""tinynet.kernels: the choice of kernels, and every fast kernel equal to its reference.

"Equal" means exactly (assert_array_equal) where both do the same floating-point operations in
the same order, which is every kernel but the softmax with cross-entropy, whose exp and sums
NumPy computes its own way: there, within float32 rounding.
"""
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinynet import backend, kernels
from tinynet.kernels import reference

numba = pytest.importorskip("numba", reason="the fast kernels need Numba: pip install -e '.[fast]'")
from tinynet.kernels import fast  # noqa: E402

DTYPES = [np.float32, np.float64]


# --- choosing the kernels --------------------------------------------------------------------

def test_use_and_active(monkeypatch):
    previous = kernels.choice()
    try:
        kernels.use("reference")
        assert kernels.active() == "reference"
        kernels.use("fast")
        assert kernels.active() == "fast"
        backend.use_module(np, "cupy-shaped")          # not NumPy: the reference runs
        assert kernels.active() == "reference"
    finally:
        backend.use("numpy")
        kernels.use(previous)
    with pytest.raises(ValueError, match="unknown kernels 'quick'"):
        kernels.use("quick")
    monkeypatch.setattr(kernels, "numba_available", lambda: False)
    with pytest.raises(kernels.KernelError, match=r"pip install 'tinynet\[fast\]'"):
        kernels.use("fast")


def run_python(code, **environment):
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **environment})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_tinynet_imports_no_numba_and_the_environment_chooses():
    code = ("import sys, tinynet, tinynet.nn, tinynet.optim, tinynet.losses, tinynet.train\n"
            "from tinynet import kernels\n"
            "print('numba' in sys.modules, kernels.choice(), kernels.active())")
    assert run_python(code, TINYNET_KERNELS="reference") == "False reference reference"
    assert run_python(code, TINYNET_KERNELS="auto") == "False auto fast"


def test_the_layers_call_the_chosen_kernels(monkeypatch):
    from tinynet.nn import ReLU
    calls = []
    monkeypatch.setattr(fast, "relu", lambda x: calls.append(kernels.choice()) or reference.relu(x))
    previous = kernels.choice()
    try:
        for choice in ("fast", "reference"):
            kernels.use(choice)
            ReLU().forward(np.ones(3, np.float32))
    finally:
        kernels.use(previous)
    assert calls == ["fast"]


# --- every fast kernel equals its reference ---------------------------------------------------

windows = st.fixed_dictionaries(dict(
    n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16)))


def draw_images(case, pool=False):
    """An input for the window kernels, or None if the windows do not fit."""
    (kh, kw), (ph, pw) = case["kernel"], case["padding"]
    if pool and (ph > kh // 2 or pw > kw // 2):
        return None
    if case["h"] + 2 * ph < kh or case["w"] + 2 * pw < kw:
        return None
    rng = np.random.default_rng(case["seed"])
    shape = (case["n"], case["c"], case["h"], case["w"])
    x = rng.standard_normal(shape).astype(case["dtype"])
    if pool:      # ties, NaN and -inf: the rules of which entry wins
        x[rng.random(shape) < 0.2] = 0.5
        x[rng.random(shape) < 0.05] = np.nan
        x[rng.random(shape) < 0.05] = -np.inf
    return x


@settings(max_examples=60, deadline=None)
@given(case=windows)
def test_im2col_and_col2im(case):
    x = draw_images(case)
    if x is None:
        return
    geometry = case["kernel"], case["stride"], case["padding"]
    cols = reference.im2col(x, *geometry)
    np.testing.assert_array_equal(fast.im2col(x, *geometry), cols)
    grad_cols = np.random.default_rng(0).standard_normal(cols.shape).astype(x.dtype)
    np.testing.assert_array_equal(fast.col2im(grad_cols, x.shape, *geometry),
                                  reference.col2im(grad_cols, x.shape, *geometry))


@settings(max_examples=60, deadline=None)
@given(case=windows)
def test_window_max_and_its_backward(case):
    x = draw_images(case, pool=True)
    if x is None:
        return
    geometry = case["kernel"], case["stride"], case["padding"]
    y, argmax = reference.window_max(x, *geometry)
    fast_y, fast_argmax = fast.window_max(x, *geometry)
    np.testing.assert_array_equal(fast_y, y)
    np.testing.assert_array_equal(fast_argmax, argmax)
    assert fast_argmax.dtype == argmax.dtype
    grad_out = np.random.default_rng(1).standard_normal(y.shape).astype(x.dtype)
    np.testing.assert_array_equal(
        fast.window_max_backward(grad_out, argmax, x.shape, *geometry),
        reference.window_max_backward(grad_out, argmax, x.shape, *geometry))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 4, 6), (1, 2, 5, 7), (3, 1, 2, 3), (2, 2, 9, 8)])
def test_the_2x2_pooling_path_equals_the_reference(shape, dtype):
    """2x2 windows at stride 2 without padding have their own fast loops: same maxima, argmax
    and gradients as the reference, odd sizes (an uncovered last row/column) and the sign of a
    zero gradient included."""
    case = dict(n=shape[0], c=shape[1], h=shape[2], w=shape[3], kernel=(2, 2), stride=(2, 2),
                padding=(0, 0), dtype=dtype, seed=sum(shape))
    x = draw_images(case, pool=True)
    geometry = (2, 2), (2, 2), (0, 0)
    y, argmax = reference.window_max(x, *geometry)
    fast_y, fast_argmax = fast.window_max(x, *geometry)
    np.testing.assert_array_equal(fast_y, y)
    np.testing.assert_array_equal(fast_argmax, argmax)
    grad_out = np.random.default_rng(2).standard_normal(y.shape).astype(dtype)
    grad_out.flat[0] = -0.0
    expected = reference.window_max_backward(grad_out, argmax, x.shape, *geometry)
    got = fast.window_max_backward(grad_out, argmax, x.shape, *geometry)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", [1, 5])
def test_linear_weight_grad(dtype, batch, rng):
    g, x = (rng.standard_normal((batch, 7)).astype(dtype),
            rng.standard_normal((batch, 4)).astype(dtype))
    np.testing.assert_array_equal(fast.linear_weight_grad(g, x),
                                  reference.linear_weight_grad(g, x))


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_and_its_backward(dtype, rng):
    x = rng.standard_normal((3, 4, 5)).astype(dtype)
    x[0, 0, :3] = [np.nan, 0.0, -0.0]
    y, mask = reference.relu(x)
    fast_y, fast_mask = fast.relu(x)
    np.testing.assert_array_equal(fast_y, y)
    np.testing.assert_array_equal(fast_mask, mask)
    grad_out = rng.standard_normal(x.shape).astype(dtype)
    grad_out[0, 1, 0] = np.nan
    np.testing.assert_array_equal(fast.relu_backward(grad_out, mask),
                                  reference.relu_backward(grad_out, mask))


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_cross_entropy(dtype, rng):
    logits = (5 * rng.standard_normal((9, 10))).astype(dtype)
    labels = rng.integers(0, 10, 9)
    loss, probs = reference.softmax_cross_entropy(logits, labels)
    fast_loss, fast_probs = fast.softmax_cross_entropy(logits, labels)
    tolerance = dict(rtol=1e-6, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-14)
    np.testing.assert_allclose(fast_probs, probs, **tolerance)
    np.testing.assert_allclose(fast_loss, loss, **tolerance)
    assert fast_loss.shape == () and fast_loss.dtype == dtype
    np.testing.assert_array_equal(fast.softmax_cross_entropy_backward(probs, labels, 1 / 9),
                                  reference.softmax_cross_entropy_backward(probs, labels, 1 / 9))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hp", [
    dict(lr=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False),
    dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01, nesterov=False),
    dict(lr=0.05, momentum=0.5, dampening=0.0, weight_decay=0.0, nesterov=True)])
def test_sgd_update(dtype, hp):
    results = []
    for module in (reference, fast):
        rng = np.random.default_rng(3)
        param = rng.standard_normal((13, 7)).astype(dtype)
        buffer = np.empty_like(param) if hp["momentum"] else None
        for step in range(4):
            grad = rng.standard_normal(param.shape).astype(dtype)
            module.sgd_update(param, grad, buffer, step == 0, *hp.values())
        results.append((param, buffer))
    for fast_value, reference_value in zip(results[1], results[0]):
        np.testing.assert_array_equal(fast_value, reference_value)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_rmsprop_update(dtype, centered, momentum):
    results = []
    for module in (reference, fast):
        rng = np.random.default_rng(4)
        param = rng.standard_normal((13, 7)).astype(dtype)
        square_avg = np.zeros_like(param)
        grad_avg = np.zeros_like(param) if centered else None
        buffer = np.zeros_like(param) if momentum else None
        for _ in range(4):
            grad = rng.standard_normal(param.shape).astype(dtype)
            module.rmsprop_update(param, grad, square_avg, grad_avg, buffer, 0.01, 0.9, 1e-8,
                                  0.01, momentum)
        results.append(param)
    np.testing.assert_array_equal(results[1], results[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("weight_decay, decoupled", [(0.0, False), (0.1, False), (0.1, True)])
@pytest.mark.parametrize("beta1", [0.9, 0.3])
def test_adam_update(dtype, amsgrad, weight_decay, decoupled, beta1):
    results = []
    for module in (reference, fast):
        rng = np.random.default_rng(5)
        param = rng.standard_normal((13, 7)).astype(dtype)
        exp_avg, exp_avg_sq = np.zeros_like(param), np.zeros_like(param)
        max_exp_avg_sq = np.zeros_like(param) if amsgrad else None
        for step in range(1, 5):
            grad = rng.standard_normal(param.shape).astype(dtype)
            module.adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, 1e-2,
                               beta1, 0.999, 1e-8, weight_decay, decoupled)
        results.append((param, exp_avg, exp_avg_sq))
    for fast_value, reference_value in zip(results[1], results[0]):
        np.testing.assert_array_equal(fast_value, reference_value)


def test_a_non_contiguous_parameter_goes_to_the_reference(rng):
    param = rng.standard_normal((6, 8)).astype(np.float32)[:, ::2]
    expected = param.copy()
    reference.sgd_update(expected, np.ones_like(expected), None, True, 0.1, 0.0, 0.0, 0.0, False)
    fast.sgd_update(param, np.ones_like(param), None, True, 0.1, 0.0, 0.0, 0.0, False)
    np.testing.assert_array_equal(param, expected)


# --- threads and denormals --------------------------------------------------------------------

@pytest.mark.skipif(not backend.set_flush_denormal(False), reason="needs x86-64 Linux (glibc)")
def test_numba_threads_follow_the_callers_denormal_setting():
    """col2im of a 1x1 kernel adds each entry to a zero pixel: 1e-38 is denormal, so it becomes
    0 in every thread when the caller flushes, and stays otherwise, each time the setting
    changes (the loop is parallel over the 64 images)."""
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    cols = np.full((1, 64 * 32 * 32), 1e-38, np.float32)
    try:
        for flush in (True, False, True, False):
            backend.set_flush_denormal(flush)
            grad = fast.col2im(cols, (64, 1, 32, 32), (1, 1), (1, 1), (0, 0))
            assert (grad == 0).all() if flush else (grad > 0).all(), flush
    finally:
        backend.set_flush_denormal(False)


def test_an_unwritable_cache_folder_costs_compile_time_not_a_crash(tmp_path):
    blocked = tmp_path / "a_file"
    blocked.write_text("not a folder")
    code = ("import numpy as np\nfrom tinynet import kernels\n"
            "y, mask = kernels.relu(np.array([-1.0, 2.0], np.float32))\n"
            "print(kernels.active(), y.tolist(), mask.tolist())")
    assert run_python(code, NUMBA_CACHE_DIR=str(blocked / "numba"), TINYNET_KERNELS="auto") == \
        "fast [0.0, 2.0] [False, True]"


def test_every_kernel_has_a_fast_version_with_the_reference_arguments():
    import inspect
    for name in kernels.NAMES:
        assert inspect.signature(getattr(fast, name)) == \
            inspect.signature(getattr(reference, name)), name
        assert getattr(kernels, name).__doc__ == getattr(reference, name).__doc__, name
