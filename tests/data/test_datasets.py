"""Finding, verifying and downloading the datasets. The network is never used: urlopen is
replaced for every test by one that fails, and downloads are tested with fake fetch functions
serving small IDX files that the tests write themselves."""
import dataclasses
import gzip
import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from tinynet.data import datasets
from tinynet.data.datasets import (
    FASHION_MNIST_CLASSES,
    ChecksumError,
    DatasetNotFoundError,
    DownloadError,
    cache_dir,
    download_file,
    load_dataset,
    load_fashion_mnist,
    load_mnist,
)
from tinynet.data.idx import IdxError, encode_idx

from tests.conftest import data_dir

MIRRORS = ("https://mirror-a.invalid/mnist/", "https://mirror-b.invalid/mnist/")
REAL_DATA = data_dir()      # read before the fixture below hides $TINYNET_DATA


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No network, no real user cache, no TINYNET_DATA unless a test sets it."""
    def no_network(*args, **kwargs):
        raise urllib.error.URLError("network disabled in tests")
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setenv("TINYNET_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TINYNET_DATA", raising=False)


# --- small fake datasets ---------------------------------------------------------------------

def fake_split(seed, n):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8),
            rng.integers(0, 10, size=n, dtype=np.uint8))


@pytest.fixture
def fake(monkeypatch):
    """A fake MNIST (12 train, 4 test samples) registered under "mnist" with its own checksums,
    mirrors that do not exist and no system folder. ``fake.gz[name]`` holds each file's bytes."""
    arrays = {"train": fake_split(1, 12), "test": fake_split(2, 4)}
    raw = {}
    for split, (images, labels) in arrays.items():
        image_name, label_name = datasets.SPLIT_FILES[split]
        raw[image_name], raw[label_name] = encode_idx(images), encode_idx(labels)
    info = dataclasses.replace(
        datasets.MNIST, mirrors=MIRRORS, system_dirs=(),
        sha256={name: hashlib.sha256(data).hexdigest() for name, data in raw.items()})
    monkeypatch.setitem(datasets.DATASETS, "mnist", info)
    return dataclasses.make_dataclass("Fake", ["info", "arrays", "gz"])(
        info, arrays, {name: gzip.compress(data, mtime=0) for name, data in raw.items()})


def put(fake, folder, split="train", gz=True):
    """Write the split's two files of the fake dataset into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in datasets.SPLIT_FILES[split]:
        if gz:
            (folder / name).write_bytes(fake.gz[name])
        else:
            (folder / name.removesuffix(".gz")).write_bytes(gzip.decompress(fake.gz[name]))
    return folder


def assert_loaded_fake(result, fake, split="train"):
    images, labels = result
    want_images, want_labels = fake.arrays[split]
    np.testing.assert_array_equal(images, want_images)
    np.testing.assert_array_equal(labels, want_labels)
    assert images.dtype == np.uint8 and labels.dtype == np.int64


# --- real data -------------------------------------------------------------------------------

def real_root():
    if REAL_DATA is None:
        pytest.skip("TINYNET_DATA not set: no real MNIST files (see tests/conftest.py)")
    return REAL_DATA


MNIST_COUNTS = {"train": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
                "test": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]}


@pytest.mark.parametrize("split, n, first_labels, mean, std", [
    ("train", 60000, [5, 0, 4, 1, 9, 2, 1, 3, 1, 4], 0.130660, 0.308108),
    ("test", 10000, [7, 2, 1, 0, 4, 1, 4, 9, 5, 9], 0.132515, 0.310480),
])
def test_real_mnist(split, n, first_labels, mean, std):
    images, labels = load_mnist(split, data_dir=real_root())
    assert images.shape == (n, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (n,) and labels.dtype == np.int64
    assert labels[:10].tolist() == first_labels
    assert np.bincount(labels).tolist() == MNIST_COUNTS[split]
    assert images.mean() / 255 == pytest.approx(mean, abs=1e-6)
    assert images.std() / 255 == pytest.approx(std, abs=1e-6)


@pytest.mark.parametrize("split, n, first_labels", [
    ("train", 60000, [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]),
    ("test", 10000, [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]),
])
def test_real_fashion_mnist(split, n, first_labels):
    images, labels = load_fashion_mnist(split, data_dir=real_root())
    assert images.shape == (n, 28, 28) and labels.shape == (n,)
    assert labels[:10].tolist() == first_labels
    assert np.bincount(labels).tolist() == [n // 10] * 10
    if split == "train":
        assert images.mean() / 255 == pytest.approx(0.286041, abs=1e-6)


def test_real_data_found_through_the_environment(monkeypatch):
    monkeypatch.setenv("TINYNET_DATA", real_root())
    labels = load_mnist("test")[1]
    assert labels[:3].tolist() == [7, 2, 1]


def test_real_data_dir_may_be_the_dataset_folder_itself():
    labels = load_fashion_mnist("test", data_dir=os.path.join(real_root(), "fashion-mnist"))[1]
    assert labels[:3].tolist() == [9, 2, 1]


def test_the_other_datasets_files_fail_the_checksum():
    mnist_folder = os.path.join(real_root(), "mnist")
    with pytest.raises(ChecksumError, match="t10k-images-idx3-ubyte.gz: checksum mismatch for "
                                            "Fashion-MNIST"):
        load_fashion_mnist("test", data_dir=mnist_folder)


def test_fashion_mnist_class_names():
    assert FASHION_MNIST_CLASSES == ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                     "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def test_fashion_mnist_knows_the_debian_package_folder():
    assert "/usr/share/datasets/fashion-mnist" in datasets.FASHION_MNIST.system_dirs


# --- where the files are looked for --------------------------------------------------------

def test_data_dir_holding_the_dataset_folder(fake, tmp_path):
    put(fake, tmp_path / "data" / "mnist")
    assert_loaded_fake(load_mnist("train", data_dir=tmp_path / "data"), fake)


def test_data_dir_being_the_dataset_folder(fake, tmp_path):
    put(fake, tmp_path / "anything", split="test")
    assert_loaded_fake(load_mnist("test", data_dir=str(tmp_path / "anything")), fake, "test")


def test_uncompressed_files_are_found_too(fake, tmp_path):
    put(fake, tmp_path / "raw", gz=False)
    assert_loaded_fake(load_mnist(data_dir=tmp_path / "raw"), fake)


def test_search_order(fake, tmp_path, monkeypatch):
    """data_dir, then $TINYNET_DATA, then the cache, then the system folder: all four hold the
    files; each time the folder found loses a file, and the next one in line must be found."""
    folders = [tmp_path / "arg" / "mnist", tmp_path / "env" / "mnist",
               tmp_path / "cache" / "mnist", tmp_path / "system"]
    for folder in folders:
        put(fake, folder)
    monkeypatch.setenv("TINYNET_DATA", str(tmp_path / "env"))
    monkeypatch.setitem(datasets.DATASETS, "mnist",
                        dataclasses.replace(fake.info, system_dirs=(str(folders[3]),)))
    found = []
    for _ in folders:
        images_path, labels_path = datasets.find_split_files(
            datasets.DATASETS["mnist"], "train", tmp_path / "arg", download=False)
        assert labels_path.parent == images_path.parent
        found.append(images_path.parent)
        images_path.unlink()
    assert found == folders


def test_cache_location_precedence(monkeypatch, tmp_path):
    assert cache_dir() == tmp_path / "cache"                         # $TINYNET_CACHE
    monkeypatch.delenv("TINYNET_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "tinynet"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "tinynet"


def test_missing_data_dir_is_an_error(fake, tmp_path):
    with pytest.raises(FileNotFoundError, match="data_dir .*typo.* is not a folder"):
        load_mnist(data_dir=tmp_path / "typo")


def test_not_found_without_download(fake, tmp_path):
    put(fake, tmp_path / "half")
    (tmp_path / "half" / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist(data_dir=tmp_path / "half", download=False)
    message = str(info.value)
    assert "missing train-labels-idx1-ubyte.gz" in message
    assert "Download disabled" in message and MIRRORS[0] in message


@pytest.mark.parametrize("bad, error", [("split", "unknown split"), ("name", "unknown dataset")])
def test_bad_split_or_name(bad, error):
    with pytest.raises(ValueError, match=error):
        load_dataset("kmnist" if bad == "name" else "mnist", "val" if bad == "split" else "test")


# --- verification -----------------------------------------------------------------------------

def test_checksum_mismatch_names_the_file(fake, tmp_path):
    folder = put(fake, tmp_path / "d")
    other_images, _ = fake_split(99, 12)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(encode_idx(other_images)))
    with pytest.raises(ChecksumError, match="train-images-idx3-ubyte.gz: checksum mismatch"):
        load_mnist(data_dir=folder)
    images, _ = load_mnist(data_dir=folder, verify=False)        # a deliberate variant
    np.testing.assert_array_equal(images, other_images)


def test_unverified_files_are_still_checked_for_consistency(fake, tmp_path):
    folder = put(fake, tmp_path / "d")
    images, labels = fake.arrays["train"]
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(encode_idx(labels[:-1]))
    with pytest.raises(IdxError, match="12 images but .* 11 labels"):
        load_mnist(data_dir=folder, verify=False)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(encode_idx(labels + 10))
    with pytest.raises(IdxError, match="labels must lie in 0..9"):
        load_mnist(data_dir=folder, verify=False)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(encode_idx(images.reshape(12, 784)))
    with pytest.raises(IdxError, match=r"expected images of shape \(N, 28, 28\)"):
        load_mnist(data_dir=folder, verify=False)


# --- downloading ------------------------------------------------------------------------------

class FakeMirrors:
    """fetch(url) serving the fake files; ``corrupt`` maps a mirror to how it damages them."""

    def __init__(self, fake, corrupt=None):
        self.fake, self.corrupt, self.urls = fake, corrupt or {}, []

    def __call__(self, url):
        self.urls.append(url)
        mirror, name = url.rsplit("/", 1)
        data = self.fake.gz[name]
        damage = self.corrupt.get(mirror + "/")
        if damage == "truncated":
            return data[: len(data) // 2]
        if damage == "other content":
            return gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x01\x07")
        if damage == "offline":
            raise urllib.error.URLError("Temporary failure in name resolution")
        return data


def test_download_into_the_cache(fake, tmp_path, monkeypatch):
    mirrors = FakeMirrors(fake)
    monkeypatch.setattr(datasets, "fetch_url", mirrors)
    assert_loaded_fake(load_mnist("test"), fake, "test")
    assert mirrors.urls == [MIRRORS[0] + "t10k-images-idx3-ubyte.gz",
                            MIRRORS[0] + "t10k-labels-idx1-ubyte.gz"]
    cached = tmp_path / "cache" / "mnist"
    assert sorted(p.name for p in cached.iterdir()) == ["t10k-images-idx3-ubyte.gz",
                                                        "t10k-labels-idx1-ubyte.gz"]
    mirrors.urls.clear()
    assert_loaded_fake(load_mnist("test"), fake, "test")        # now from the cache
    assert mirrors.urls == []


def test_only_missing_files_are_downloaded(fake, tmp_path, monkeypatch):
    put(fake, tmp_path / "cache" / "mnist")
    (tmp_path / "cache" / "mnist" / "train-labels-idx1-ubyte.gz").unlink()
    mirrors = FakeMirrors(fake)
    monkeypatch.setattr(datasets, "fetch_url", mirrors)
    assert_loaded_fake(load_mnist("train"), fake)
    assert mirrors.urls == [MIRRORS[0] + "train-labels-idx1-ubyte.gz"]


@pytest.mark.parametrize("damage", ["truncated", "other content", "offline"])
def test_bad_first_mirror_falls_back_to_the_next(fake, tmp_path, damage):
    mirrors = FakeMirrors(fake, corrupt={MIRRORS[0]: damage})
    path = download_file(fake.info, "train-labels-idx1-ubyte.gz", tmp_path / "dl", mirrors)
    assert mirrors.urls == [m + "train-labels-idx1-ubyte.gz" for m in MIRRORS]
    assert path.read_bytes() == fake.gz["train-labels-idx1-ubyte.gz"]
    assert os.listdir(tmp_path / "dl") == ["train-labels-idx1-ubyte.gz"]     # no temp files


@pytest.mark.parametrize("damage", ["truncated", "other content"])
def test_corrupt_download_never_replaces_a_good_file(fake, tmp_path, damage):
    folder = tmp_path / "dl"
    folder.mkdir()
    good = folder / "train-images-idx3-ubyte.gz"
    good.write_bytes(fake.gz[good.name])
    mirrors = FakeMirrors(fake, corrupt={m: damage for m in MIRRORS})
    with pytest.raises(DownloadError) as info:
        download_file(fake.info, good.name, folder, mirrors)
    message = str(info.value)
    assert all(m + good.name in message for m in MIRRORS)
    assert ("corrupt gzip" if damage == "truncated" else "checksum mismatch") in message
    assert good.read_bytes() == fake.gz[good.name]
    assert os.listdir(folder) == [good.name]


def test_failed_write_leaves_no_temporary_file(fake, tmp_path, monkeypatch):
    def failing_replace(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(datasets.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        download_file(fake.info, "t10k-labels-idx1-ubyte.gz", tmp_path, FakeMirrors(fake))
    assert os.listdir(tmp_path) == []


def test_no_network_message_says_what_to_do(fake, tmp_path):
    """urlopen itself fails (the autouse fixture), as it does on a machine without network."""
    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist("train")
    message = str(info.value)
    cache = str(tmp_path / "cache" / "mnist")
    for needed in ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",   # the files
                   f"{cache} (user cache)", "$TINYNET_DATA: not set",           # where searched
                   MIRRORS[0] + "train-images-idx3-ubyte.gz", "URLError",       # what failed
                   "network disabled in tests",
                   f"into {cache}", "data_dir=", "--data-dir", "TINYNET_DATA"]:  # how to fix
        assert needed in message, f"{needed!r} missing from:\n{message}"
    assert not (tmp_path / "cache" / "mnist").exists() or not os.listdir(cache)


def test_real_mirrors_are_the_standard_ones():
    assert datasets.MNIST.mirrors[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    assert "https://storage.googleapis.com/cvdf-datasets/mnist/" in datasets.MNIST.mirrors
    assert datasets.FASHION_MNIST.mirrors == (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)


def test_fashion_mnist_message_mentions_the_debian_package(tmp_path, monkeypatch):
    info = dataclasses.replace(datasets.FASHION_MNIST, system_dirs=(str(tmp_path / "sys"),))
    monkeypatch.setitem(datasets.DATASETS, "fashion-mnist", info)
    with pytest.raises(DatasetNotFoundError, match="apt install dataset-fashion-mnist"):
        load_fashion_mnist("test", download=False)
