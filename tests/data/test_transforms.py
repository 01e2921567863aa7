import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinynet import backend
from tinynet.data.transforms import (
    add_channel_axis,
    flatten,
    normalize,
    one_hot,
    prepare_images,
    scale_pixels,
    train_val_split,
)


def pixels(rng, shape=(6, 28, 28)):
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


def test_scale_pixels_range_and_dtype(rng):
    x = pixels(rng)
    x[0, 0, :2] = [0, 255]
    scaled = scale_pixels(x)
    assert scaled.dtype == np.float32 and scaled.shape == x.shape
    assert scaled[0, 0, 0] == 0 and scaled[0, 0, 1] == 1
    np.testing.assert_allclose(scaled, x / 255.0, rtol=1e-7)


def test_scale_pixels_rejects_floats():
    with pytest.raises(TypeError, match="already scaled"):
        scale_pixels(np.zeros((2, 2), np.float32))


def test_matches_torchvision_to_tensor_and_normalize(rng):
    """ToTensor is ``img.float().div(255)``, Normalize is ``sub(mean).div(std)``: bit for bit."""
    torch = pytest.importorskip("torch")
    x = pixels(rng)
    expected = torch.from_numpy(x).float().div(255).sub(0.1307).div(0.3081).numpy()
    np.testing.assert_array_equal(normalize(scale_pixels(x), 0.1307, 0.3081), expected)
    np.testing.assert_array_equal(prepare_images(x, 0.1307, 0.3081)[:, 0], expected)


def test_normalize_keeps_float32_and_does_not_touch_input(rng):
    x = scale_pixels(pixels(rng))
    before = x.copy()
    out = normalize(x, 0.5, 0.5)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(x, before)
    assert out.min() >= -1 and out.max() <= 1


def test_normalize_per_channel_broadcasts(rng):
    x = rng.random((4, 3, 2, 2)).astype(np.float32)
    mean, std = np.array([0.1, 0.2, 0.3])[:, None, None], np.array([1.0, 2.0, 4.0])[:, None, None]
    out = normalize(x, mean, std)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, (x - mean) / std, rtol=1e-6)


def test_normalize_rejects_raw_pixels_and_bad_std(rng):
    with pytest.raises(TypeError, match="scale_pixels"):
        normalize(pixels(rng), 0.1307, 0.3081)
    with pytest.raises(ValueError, match="std must be positive"):
        normalize(np.zeros(3, np.float32), 0.0, 0.0)


def test_flatten_and_channel_axis_are_views(rng):
    x = scale_pixels(pixels(rng))
    flat, nchw = flatten(x), add_channel_axis(x)
    assert flat.shape == (6, 784) and nchw.shape == (6, 1, 28, 28)
    assert np.shares_memory(flat, x) and np.shares_memory(nchw, x)
    np.testing.assert_array_equal(flat[2], x[2].ravel())


def test_prepare_images_layouts(rng):
    x = pixels(rng)
    assert prepare_images(x, flatten=True).shape == (6, 784)
    cnn = prepare_images(x)
    assert cnn.shape == (6, 1, 28, 28) and cnn.dtype == np.float32
    np.testing.assert_array_equal(cnn[:, 0], scale_pixels(x))


def test_prepare_images_errors(rng):
    with pytest.raises(ValueError, match="both mean and std"):
        prepare_images(pixels(rng), mean=0.5)
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        prepare_images(pixels(rng, (6, 784)))


def test_one_hot(backend_name):
    labels = backend.to_device(np.array([3, 0, 9, 3]))
    encoded = one_hot(labels, 10)
    assert isinstance(encoded, type(labels))
    host = backend.to_numpy(encoded)
    assert host.dtype == np.float32 and host.shape == (4, 10)
    np.testing.assert_array_equal(host.argmax(axis=1), [3, 0, 9, 3])
    np.testing.assert_array_equal(host.sum(axis=1), 1)


def test_one_hot_matches_torch(rng):
    torch = pytest.importorskip("torch")
    labels = rng.integers(0, 7, size=50)
    expected = torch.nn.functional.one_hot(torch.from_numpy(labels), 7).numpy()
    np.testing.assert_array_equal(one_hot(labels, 7), expected)


@pytest.mark.parametrize("labels, error, match", [
    (np.array([0, 10]), ValueError, r"0\.\.9, got values from 0 to 10"),
    (np.array([-1, 2]), ValueError, "0..9"),
    (np.zeros((2, 2), int), ValueError, r"shape \(N,\)"),
    (np.array([1.0, 2.0]), TypeError, "integer labels"),
])
def test_one_hot_errors(labels, error, match):
    with pytest.raises(error, match=match):
        one_hot(labels, 10)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 300), val_fraction=st.floats(0.01, 0.99), seed=st.integers(0, 2**32 - 1))
def test_split_is_a_partition_that_keeps_pairs(n, val_fraction, seed):
    n_val = round(n * val_fraction)
    if n_val in (0, n):
        return                                        # rejected: covered below
    x = np.arange(n, dtype=np.float32).reshape(n, 1) * np.ones((1, 3), np.float32)
    y = np.arange(n) * 7
    (x_tr, y_tr), (x_val, y_val) = train_val_split(x, y, val_fraction, seed)
    assert len(x_val) == len(y_val) == n_val and len(x_tr) == len(y_tr) == n - n_val
    ids = np.concatenate([x_tr[:, 0], x_val[:, 0]]).astype(int)
    assert sorted(ids) == list(range(n))              # every sample in exactly one part
    np.testing.assert_array_equal(np.concatenate([y_tr, y_val]), ids * 7)   # pairs kept


@pytest.mark.parametrize("val_fraction, sizes", [(0.2, (48000, 12000)), (0.15, (51000, 9000))])
def test_split_sizes_of_the_experiments(val_fraction, sizes):
    y = np.zeros(60000, np.int64)
    (x_tr, _), (x_val, _) = train_val_split(np.zeros((60000, 1), np.uint8), y, val_fraction)
    assert (len(x_tr), len(x_val)) == sizes


def test_split_is_seeded():
    x, y = np.arange(100), np.arange(100)
    first = train_val_split(x, y, 0.2, seed=0)[1][0]
    backend.seed(123)                                  # the shared generator does not matter
    np.testing.assert_array_equal(train_val_split(x, y, 0.2, seed=0)[1][0], first)
    assert not np.array_equal(train_val_split(x, y, 0.2, seed=1)[1][0], first)


def test_split_on_device_arrays(backend_name):
    x, y = backend.to_device(np.arange(10.0)), backend.to_device(np.arange(10))
    (x_tr, y_tr), (x_val, y_val) = train_val_split(x, y, 0.3, seed=0)
    assert isinstance(x_val, type(x)) and len(x_val) == 3 and len(x_tr) == 7
    np.testing.assert_array_equal(backend.to_numpy(x_val), backend.to_numpy(y_val))


@pytest.mark.parametrize("n_y, fraction, match", [
    (9, 0.2, "same length"),
    (10, 0.0, "strictly between 0 and 1"),
    (10, 1.0, "strictly between 0 and 1"),
    (10, 0.01, "both must be > 0"),
    (10, 0.99, "both must be > 0"),
])
def test_split_errors(n_y, fraction, match):
    with pytest.raises(ValueError, match=match):
        train_val_split(np.zeros(10), np.zeros(n_y), fraction, seed=0)
