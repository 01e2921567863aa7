"""Fuzzing every layer and loss as a careless user would (issue 15): arbitrary constructor
arguments, then forward and backward with arrays of arbitrary shape, dtype and values.

Whatever goes wrong must be one of tinynet's own named errors (a ValueError, TypeError or
RuntimeError raised by a check inside tinynet, naming the layer), never an AttributeError,
KeyError or IndexError, nor an error from inside NumPy. NaN and inf values are allowed through,
as in PyTorch (they propagate; NumPy's warnings about them are silenced here).
"""
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinynet
from tinynet import losses, nn

TINYNET = Path(tinynet.__file__).parent
FUZZ = settings(max_examples=100, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])

anything = st.one_of(st.integers(-2, 5), st.floats(-2, 5), st.floats(allow_nan=True),
                     st.text(max_size=2), st.none(), st.booleans(),
                     st.tuples(st.integers(-1, 4), st.integers(-1, 4)))
size = st.one_of(st.integers(1, 4), anything)
dtypes = st.just(np.float32) | st.sampled_from([np.float64, np.float16, np.int64, np.uint8,
                                               np.bool_, np.complex64])
dtype_arg = st.sampled_from(["float32", "float64", np.float16, "int32", None, "nonsense", 3])

LAYERS = {
    "Linear": st.builds(nn.Linear, size, size, bias=anything | st.booleans(), dtype=dtype_arg),
    "Flatten": st.builds(nn.Flatten),
    "ReLU": st.builds(nn.ReLU),
    "Sigmoid": st.builds(nn.Sigmoid),
    "Tanh": st.builds(nn.Tanh),
    "Softmax": st.builds(nn.Softmax, dim=st.integers(-4, 4) | anything),
    "Dropout": st.builds(nn.Dropout, st.floats(0, 1) | anything),
    "BatchNorm1d": st.builds(nn.BatchNorm1d, size, eps=st.floats(1e-6, 1) | anything,
                             momentum=st.floats(0, 1) | anything, affine=st.booleans() | anything),
    "BatchNorm2d": st.builds(nn.BatchNorm2d, size),
    "LayerNorm": st.builds(nn.LayerNorm, st.integers(1, 4) | anything,
                           elementwise_affine=st.booleans() | anything),
    "Conv2d": st.builds(nn.Conv2d, size, size, size, stride=size,
                        padding=st.integers(0, 2) | anything, bias=st.booleans() | anything),
    "MaxPool2d": st.builds(nn.MaxPool2d, size, stride=st.none() | size, padding=anything),
    "AvgPool2d": st.builds(nn.AvgPool2d, size, stride=st.none() | size, padding=anything),
}
LOSSES = [losses.CrossEntropyLoss, losses.MSELoss, losses.L1Loss,
          losses.ProbabilityCrossEntropyLoss]


@st.composite
def arrays(draw, shape=None):
    """An array of any small shape (empty axes too), any dtype, values with NaN and inf."""
    if shape is None:
        shape = tuple(draw(st.lists(st.integers(0, 4), max_size=4)))
    values = draw(st.sampled_from([0.5, -3.0, np.nan, np.inf, 200.0, 1.0]))
    base = np.random.default_rng(draw(st.integers(0, 9))).standard_normal(shape) + values
    with np.errstate(all="ignore"):                     # NaN cast to an integer dtype
        return base.astype(draw(dtypes))


def named_error_or_success(action):
    """Run ``action``; a failure must be a ValueError/TypeError/RuntimeError raised in tinynet."""
    try:
        with np.errstate(all="ignore"):
            return action(), None
    except (ValueError, TypeError, RuntimeError) as exc:
        frame = exc.__traceback__
        while frame.tb_next is not None:
            frame = frame.tb_next
        raised_in = Path(frame.tb_frame.f_code.co_filename).resolve()
        assert TINYNET in raised_in.parents, f"{exc!r} raised in {raised_in}"
        return None, exc


@pytest.mark.parametrize("name", LAYERS)
@FUZZ
@given(data=st.data())
def test_every_layer_fails_only_with_named_errors(name, data):
    layer, error = named_error_or_success(lambda: data.draw(LAYERS[name]))
    if layer is None:
        assert name in str(error)
        return
    layer.train(data.draw(st.booleans()))
    y, error = named_error_or_success(lambda: layer.forward(data.draw(arrays())))
    if y is None:
        return
    right_shape = data.draw(st.booleans())
    grad = data.draw(arrays(y.shape if right_shape else None))
    named_error_or_success(lambda: layer.backward(grad))


@pytest.mark.parametrize("loss_class", LOSSES, ids=lambda c: c.__name__)
@FUZZ
@given(data=st.data())
def test_every_loss_fails_only_with_named_errors(loss_class, data):
    loss_fn = loss_class()
    prediction = data.draw(arrays())
    target = data.draw(arrays(prediction.shape if data.draw(st.booleans()) else None))
    if data.draw(st.booleans()):       # integer labels, in range or not
        target = np.random.default_rng(0).integers(-1, 4, size=prediction.shape[:1])
    value, _ = named_error_or_success(lambda: loss_fn(prediction, target))
    if value is None:
        return
    grad = data.draw(st.none() | st.floats(allow_nan=True) | arrays())
    named_error_or_success(lambda: loss_fn.backward() if grad is None else loss_fn.backward(grad))
