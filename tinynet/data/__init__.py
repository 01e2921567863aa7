"""Data: the IDX format, MNIST / Fashion-MNIST (find, download, verify), transforms, batching.

    from tinynet.data import load_mnist, prepare_images, train_val_split, DataLoader

    images, labels = load_mnist("train")                  # host uint8 / int64 arrays
    x = prepare_images(images, flatten=True)              # float32 (60000, 784) in [0, 1]
    (x_tr, y_tr), (x_val, y_val) = train_val_split(x, labels, 0.2, seed=0)
    for xb, yb in DataLoader(x_tr, y_tr, batch_size=64, shuffle=True, seed=0):
        ...                                               # device arrays of the active backend
"""
from tinynet.data.datasets import (
    FASHION_MNIST_CLASSES,
    ChecksumError,
    DatasetNotFoundError,
    DownloadError,
    cache_dir,
    load_dataset,
    load_fashion_mnist,
    load_mnist,
)
from tinynet.data.idx import IdxError, read_idx, write_idx
from tinynet.data.loader import DataLoader
from tinynet.data.transforms import (
    add_channel_axis,
    flatten,
    normalize,
    one_hot,
    prepare_images,
    scale_pixels,
    train_val_split,
)

__all__ = [
    "FASHION_MNIST_CLASSES", "ChecksumError", "DatasetNotFoundError", "DownloadError",
    "cache_dir", "load_dataset", "load_fashion_mnist", "load_mnist",
    "IdxError", "read_idx", "write_idx",
    "DataLoader",
    "add_channel_axis", "flatten", "normalize", "one_hot", "prepare_images", "scale_pixels",
    "train_val_split",
]
