"""MNIST and Fashion-MNIST as NumPy arrays: find the files, download them if missing, verify them.

    images, labels = load_mnist("train")          # uint8 (60000, 28, 28), int64 (60000,)
    images, labels = load_fashion_mnist("test")   # uint8 (10000, 28, 28), int64 (10000,)

Where the files are looked for, in this order (the first folder holding both files of the
split wins; names as distributed, ``train-images-idx3-ubyte.gz`` etc., gzipped or not):

1. the ``data_dir`` argument: a folder holding ``mnist/`` and ``fashion-mnist/``, or the
   dataset's folder itself;
2. ``$TINYNET_DATA/mnist`` (or ``/fashion-mnist``);
3. the user cache, ``$TINYNET_CACHE`` or ``$XDG_CACHE_HOME/tinynet`` or ``~/.cache/tinynet``,
   then ``/mnist`` or ``/fashion-mnist``;
4. Fashion-MNIST only: ``/usr/share/datasets/fashion-mnist``, where Debian's package
   ``dataset-fashion-mnist`` installs it (``apt install dataset-fashion-mnist``).

If none has them, the missing files are downloaded into the cache from the public mirrors.

Verification. Every file is checked against the SHA-256 of its *decompressed* content, each
time it is loaded and after each download. Why decompressed: repackagers recompress the .gz
files (Debian's differ from Zalando's by a normalised gzip header), so only the content is
stable. Why every time: the file has to be decompressed to be read anyway, and hashing the
47 MB of training images costs ~40 ms next to ~250 ms of decompression, so a cache of
verification results (stamp files, which also need a writable folder) would buy little.
``verify=False`` skips it, e.g. for a subset you made yourself.

A download is written to a temporary file in the destination folder, verified, and only then
renamed over the final name, so an interrupted or corrupt download never replaces a good file.
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy

from tinynet.data.idx import IdxError, decode_idx, gunzip_if_compressed, read_idx_bytes

SPLITS = ("train", "test")
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
IMAGE_SIZE = (28, 28)
NUM_CLASSES = 10

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


class DatasetNotFoundError(FileNotFoundError):
    """Found nowhere and not downloadable; the message lists the folders searched and the fixes."""


class ChecksumError(ValueError):
    """A file's decompressed content does not have the published SHA-256."""


class DownloadError(OSError):
    """No mirror delivered a file with the expected content; the message lists every attempt."""


@dataclass(frozen=True)
class DatasetInfo:
    """What tinynet knows about one dataset: its folder name, mirrors and checksums."""
    title: str
    folder: str
    mirrors: tuple                 # base URLs, tried in order
    sha256: dict                   # file name -> SHA-256 of the decompressed file
    system_dirs: tuple = ()        # where an OS package installs the files
    system_package: str = ""       # ... and that package's name


MNIST = DatasetInfo(
    title="MNIST",
    folder="mnist",
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",        # PyTorch's mirror
             "https://storage.googleapis.com/cvdf-datasets/mnist/"),
    sha256={
        "train-images-idx3-ubyte.gz":
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte.gz":
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte.gz":
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte.gz":
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
)

FASHION_MNIST = DatasetInfo(
    title="Fashion-MNIST",
    folder="fashion-mnist",
    # Zalando's mirror; plain HTTP only (an S3 website): the SHA-256 check guards the content.
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    sha256={
        "train-images-idx3-ubyte.gz":
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte.gz":
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte.gz":
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte.gz":
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    system_dirs=("/usr/share/datasets/fashion-mnist",),
    system_package="dataset-fashion-mnist",                # Debian and derivatives
)

DATASETS = {"mnist": MNIST, "fashion-mnist": FASHION_MNIST}


# --- public entry points -------------------------------------------------------------------

def load_mnist(split="train", data_dir=None, download=True, verify=True):
    """MNIST digits: (images uint8 (N, 28, 28), labels int64 (N,)); N = 60000 train, 10000 test."""
    return load_dataset("mnist", split, data_dir, download, verify)


def load_fashion_mnist(split="train", data_dir=None, download=True, verify=True):
    """Fashion-MNIST: like :func:`load_mnist`; class names in ``FASHION_MNIST_CLASSES``."""
    return load_dataset("fashion-mnist", split, data_dir, download, verify)


def load_dataset(name, split="train", data_dir=None, download=True, verify=True):
    """``name`` "mnist" or "fashion-mnist" -> (images uint8 (N, 28, 28), labels int64 (N,)).

    Host NumPy arrays; labels are int64 like PyTorch's class targets. See the module docstring
    for where the files are looked for, the download and the verification.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}: expected one of {sorted(DATASETS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: expected 'train' or 'test'")
    info = DATASETS[name]
    image_path, label_path = find_split_files(info, split, data_dir, download)
    images = read_dataset_file(info, image_path, verify)
    labels = read_dataset_file(info, label_path, verify)
    check_pair(images, labels, image_path, label_path)
    return images, labels.astype(numpy.int64)


def cache_dir() -> Path:
    """``$TINYNET_CACHE``, else ``$XDG_CACHE_HOME/tinynet``, else ``~/.cache/tinynet``."""
    if os.environ.get("TINYNET_CACHE"):
        return Path(os.environ["TINYNET_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "tinynet"


# --- finding the files ---------------------------------------------------------------------

def candidate_dirs(info: DatasetInfo, data_dir=None) -> list:
    """The folders to search, in order, as (path, where it comes from) pairs."""
    candidates = []
    if data_dir is not None:
        data_dir = Path(data_dir).expanduser()
        if not data_dir.is_dir():
            raise FileNotFoundError(f"data_dir {str(data_dir)!r} is not a folder: pass a folder "
                                    f"holding {info.folder}/ or the {info.title} files themselves")
        candidates += [(data_dir / info.folder, "data_dir argument"),
                       (data_dir, "data_dir argument")]
    if os.environ.get("TINYNET_DATA"):
        candidates.append((Path(os.environ["TINYNET_DATA"]).expanduser() / info.folder,
                           "$TINYNET_DATA"))
    candidates.append((cache_dir() / info.folder, "user cache"))
    candidates += [(Path(path), "system package") for path in info.system_dirs]
    return candidates


def find_in(folder: Path, file_name: str):
    """``folder/file_name``, or the same name without .gz (a gunzipped copy), or None."""
    for path in (folder / file_name, folder / file_name.removesuffix(".gz")):
        if path.is_file():
            return path
    return None


def find_split_files(info: DatasetInfo, split: str, data_dir=None, download=True) -> tuple:
    """Paths of the (images, labels) files of a split: found, else downloaded into the cache."""
    file_names = SPLIT_FILES[split]
    searched = []
    for folder, origin in candidate_dirs(info, data_dir):
        paths = [find_in(folder, name) for name in file_names]
        if all(paths):
            return tuple(paths)
        missing = [name for name, path in zip(file_names, paths) if path is None]
        state = "missing " + ", ".join(missing) if folder.is_dir() else "no such folder"
        searched.append(f"{folder} ({origin}): {state}")
    if not os.environ.get("TINYNET_DATA"):
        searched.append("$TINYNET_DATA: not set")
    if not download:
        raise DatasetNotFoundError(not_found_message(info, split, searched, failure=None))
    target = cache_dir() / info.folder
    try:
        for name in file_names:
            if find_in(target, name) is None:
                download_file(info, name, target)
    except DownloadError as exc:
        raise DatasetNotFoundError(not_found_message(info, split, searched, str(exc))) from exc
    return tuple(find_in(target, name) for name in file_names)


def not_found_message(info: DatasetInfo, split: str, searched: list, failure) -> str:
    file_names = SPLIT_FILES[split]
    target = cache_dir() / info.folder
    lines = [f"{info.title} {split} split not found: need {file_names[0]} and {file_names[1]}.",
             "Searched:", *(f"  {entry}" for entry in searched)]
    if failure is None:
        lines.append("Download disabled (download=False).")
    else:
        lines += ["Download failed (no network?):", f"  {failure}"]
    lines += ["To fix, either:",
              f"  - download {', '.join(SPLIT_FILES['train'] + SPLIT_FILES['test'])} from",
              *(f"      {mirror}" for mirror in info.mirrors),
              f"    into {target} (keep the names);",
              ("  - or pass data_dir= (--data-dir in the examples) or set TINYNET_DATA to a "
               f"folder holding {info.folder}/ with those files.")]
    if info.system_package:
        lines.append(f"  - or, on Debian/Ubuntu, `sudo apt install {info.system_package}` "
                     f"(installs into {info.system_dirs[0]}).")
    return "\n".join(lines)


# --- reading and verifying -----------------------------------------------------------------

def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def expected_sha256(info: DatasetInfo, path: Path) -> str:
    name = path.name if path.name.endswith(".gz") else path.name + ".gz"
    return info.sha256[name]


def read_dataset_file(info: DatasetInfo, path: Path, verify=True) -> numpy.ndarray:
    """Read one IDX file of the dataset, checking its decompressed SHA-256 if ``verify``."""
    raw = read_idx_bytes(path)
    if verify:
        want, got = expected_sha256(info, path), sha256_hex(raw)
        if got != want:
            raise ChecksumError(
                f"{path}: checksum mismatch for {info.title}: SHA-256 of the decompressed content "
                f"is {got}, expected {want}. The file is damaged, incomplete or another dataset's: "
                f"delete it and load again (it will be downloaded), or pass verify=False if it is "
                f"a deliberate variant")
    return decode_idx(raw, source=path)


def check_pair(images, labels, image_path, label_path) -> None:
    """Shapes and label range of an (images, labels) pair, for files that were not verified."""
    if images.ndim != 3 or images.shape[1:] != IMAGE_SIZE:
        raise IdxError(f"{image_path}: expected images of shape (N, 28, 28), got {images.shape}")
    if labels.ndim != 1:
        raise IdxError(f"{label_path}: expected labels of shape (N,), got {labels.shape}")
    if len(images) != len(labels):
        raise IdxError(f"{image_path} holds {len(images)} images but {label_path} holds "
                       f"{len(labels)} labels")
    if labels.size and labels.max() >= NUM_CLASSES:
        raise IdxError(f"{label_path}: labels must lie in 0..{NUM_CLASSES - 1}, "
                       f"found {labels.max()}")


# --- downloading ---------------------------------------------------------------------------

def fetch_url(url: str, timeout: float = 60.0) -> bytes:
    """The body of ``url`` (raises urllib's URLError / HTTPError, or OSError, on failure)."""
    request = urllib.request.Request(url, headers={"User-Agent": "tinynet"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read()


def download_file(info: DatasetInfo, file_name: str, dest_dir, fetch=None) -> Path:
    """Download ``file_name`` into ``dest_dir`` from the first mirror that delivers it intact.

    ``fetch(url) -> bytes`` defaults to :func:`fetch_url` (pass a fake one to test without a
    network). The content is verified (SHA-256 of the decompressed bytes) before it is written
    to a temporary file that is then renamed over ``dest_dir/file_name``.
    """
    fetch = fetch or fetch_url
    dest = Path(dest_dir) / file_name
    want = info.sha256[file_name]
    attempts = []
    for mirror in info.mirrors:
        url = mirror + file_name
        print(f"tinynet: downloading {url}", file=sys.stderr)
        try:
            data = fetch(url)
            got = sha256_hex(gunzip_if_compressed(data, source=url))
        except (OSError, IdxError) as exc:   # URLError, HTTPError, timeouts are OSErrors
            attempts.append(f"{url}: {type(exc).__name__}: {exc}")
            continue
        if got != want:
            attempts.append(f"{url}: checksum mismatch (decompressed SHA-256 {got}, "
                            f"expected {want}); file rejected")
            continue
        write_atomically(dest, data)
        return dest
    raise DownloadError(f"could not download {file_name} into {dest.parent}:\n    "
                        + "\n    ".join(attempts))


def write_atomically(dest: Path, data: bytes) -> None:
    """Write to a temporary file next to ``dest``, then rename: readers never see a partial file."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp_name, dest)
    except BaseException:
        os.unlink(tmp_name)
        raise
