import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinynet import backend
from tinynet.data.loader import DataLoader


def dataset(n, features=3):
    """x row i is (i, i, i) and y[i] = 10 i, so every batch says which samples it holds."""
    x = np.repeat(np.arange(n, dtype=np.float32)[:, None], features, axis=1)
    return x, np.arange(n, dtype=np.int64) * 10


def epoch(loader):
    """One pass as host arrays: list of (sample ids, labels) per batch."""
    batches = []
    for xb, yb in loader:
        xb, yb = backend.to_numpy(xb), backend.to_numpy(yb)
        assert len(xb) == len(yb)
        np.testing.assert_array_equal(yb, xb[:, 0] * 10)        # x and y stay paired
        batches.append(xb[:, 0].astype(int))
    return batches


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 60), batch_size=st.integers(1, 70), shuffle=st.booleans(),
       drop_last=st.booleans())
def test_each_epoch_covers_every_sample_once(n, batch_size, shuffle, drop_last):
    if drop_last and batch_size > n:
        return                                                  # an error, tested below
    loader = DataLoader(*dataset(n), batch_size, shuffle=shuffle, seed=n, drop_last=drop_last)
    for _ in range(2):
        batches = epoch(loader)
        assert len(batches) == len(loader)
        sizes = [len(b) for b in batches]
        full, rest = divmod(n, batch_size)
        expected_sizes = [batch_size] * full + ([rest] if rest and not drop_last else [])
        assert sizes == expected_sizes
        seen = np.concatenate(batches)
        assert len(set(seen.tolist())) == len(seen)             # no sample twice
        if not drop_last:
            assert sorted(seen.tolist()) == list(range(n))       # and none missing


def test_last_partial_batch_and_len():
    loader = DataLoader(*dataset(10), batch_size=4)
    assert len(loader) == 3
    assert [b.tolist() for b in epoch(loader)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    dropping = DataLoader(*dataset(10), batch_size=4, drop_last=True)
    assert len(dropping) == 2
    assert [b.tolist() for b in epoch(dropping)] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(DataLoader(*dataset(8), batch_size=4)) == 2
    assert len(DataLoader(*dataset(3), batch_size=100)) == 1      # one short batch, like PyTorch


def test_len_matches_torch():
    torch = pytest.importorskip("torch")
    for n, batch_size, drop_last in [(10, 3, False), (10, 3, True), (9, 3, True), (5, 7, False)]:
        tensors = torch.utils.data.TensorDataset(torch.zeros(n), torch.zeros(n))
        ours = DataLoader(np.zeros(n), np.zeros(n), batch_size, drop_last=drop_last)
        theirs = torch.utils.data.DataLoader(tensors, batch_size, drop_last=drop_last)
        assert len(ours) == len(theirs)
        assert [len(b[0]) for b in ours] == [len(b[0]) for b in theirs]


def test_without_shuffle_batches_are_views_in_order():
    x, y = dataset(10)
    loader = DataLoader(x, y, batch_size=4)
    assert loader.x is x                     # already a host array: moved (i.e. kept) as is
    for xb, yb in loader:
        assert np.shares_memory(xb, x) and np.shares_memory(yb, y)


def test_shuffle_order_is_seeded_and_changes_every_epoch():
    same_seed_a, same_seed_b, other_seed = (
        np.concatenate(epoch(DataLoader(*dataset(50), 8, shuffle=True, seed=seed)))
        for seed in (0, 0, 1))
    np.testing.assert_array_equal(same_seed_a, same_seed_b)
    assert not np.array_equal(same_seed_a, other_seed)

    loader = DataLoader(*dataset(50), 8, shuffle=True, seed=0)
    first, second = np.concatenate(epoch(loader)), np.concatenate(epoch(loader))
    assert not np.array_equal(first, second)
    assert not np.array_equal(first, np.arange(50))

    replay = DataLoader(*dataset(50), 8, shuffle=True, seed=0)
    np.testing.assert_array_equal(np.concatenate(epoch(replay)), first)
    np.testing.assert_array_equal(np.concatenate(epoch(replay)), second)


def test_order_is_the_host_permutation_on_every_backend(backend_name):
    """The permutation is drawn on the host, so NumPy and CuPy see the same batches."""
    loader = DataLoader(*dataset(23), 5, shuffle=True, seed=7)
    rng = np.random.default_rng(7)
    for _ in range(2):
        expected = rng.permutation(23)
        batches = list(loader)
        assert all(isinstance(xb, backend.xp.ndarray) for xb, _ in batches)
        got = np.concatenate([backend.to_numpy(xb)[:, 0] for xb, _ in batches]).astype(int)
        np.testing.assert_array_equal(got, expected)


def test_data_moves_to_the_device_once(backend_name, monkeypatch):
    calls = []
    to_device = backend.to_device
    monkeypatch.setattr(backend, "to_device", lambda a, *args: calls.append(a) or to_device(a))
    loader = DataLoader(*dataset(20), 4, shuffle=False)
    assert len(calls) == 2 and isinstance(loader.x, backend.xp.ndarray)
    for _ in range(3):
        epoch(loader)
    assert len(calls) == 2


def test_seed_none_uses_the_backend_generator():
    backend.seed(5)
    first = np.concatenate(epoch(DataLoader(*dataset(30), 7, shuffle=True, seed=None)))
    backend.seed(5)
    again = np.concatenate(epoch(DataLoader(*dataset(30), 7, shuffle=True, seed=None)))
    np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(batch_size=0), ValueError, "batch_size must be >= 1, got 0"),
    (dict(batch_size=-3), ValueError, "batch_size must be >= 1"),
    (dict(batch_size=2.0), TypeError, "batch_size must be an int"),
    (dict(batch_size=True), TypeError, "batch_size must be an int"),
    (dict(batch_size=11, drop_last=True), ValueError, "larger than the dataset .10 samples."),
    (dict(batch_size=4, y=np.zeros(9)), ValueError, "same number of samples, got 10 and 9"),
    (dict(batch_size=4, x=np.zeros((0, 3)), y=np.zeros(0)), ValueError, "empty"),
    (dict(batch_size=4, x=np.float32(1)), ValueError, "sample axis"),
    (dict(batch_size=4, y=[1, 2]), TypeError, "y must be an array"),
])
def test_errors(kwargs, error, match):
    x, y = dataset(10)
    kwargs = {"x": x, "y": y, **kwargs}
    with pytest.raises(error, match=match):
        DataLoader(kwargs.pop("x"), kwargs.pop("y"), **kwargs)


def test_repr():
    assert repr(DataLoader(*dataset(10), 4, shuffle=True)) == (
        "DataLoader(num_samples=10, batch_size=4, shuffle=True, drop_last=False, batches=3)")
