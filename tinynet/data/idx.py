"""The IDX file format of MNIST and Fashion-MNIST: read (gzipped or raw) and write.

An IDX file is a tiny header followed by the raw values, row-major::

    bytes 0-1   0x00 0x00
    byte  2     type of the values: 0x08 = unsigned byte (the only type MNIST uses)
    byte  3     number of dimensions, d (3 for images, 1 for labels)
    then        d big-endian uint32 sizes (images: count, rows, columns; labels: count)
    then        prod(sizes) values, one byte each

Read as a big-endian uint32, the first four bytes are the "magic number": 2051 (0x00000803)
for images and 2049 (0x00000801) for labels. The distributed files are gzip-compressed;
:func:`read_idx` tells the two apart by the first bytes of the file (gzip starts with
0x1f 0x8b), not by its name.

Everything here is host-side NumPy: files are read once, then moved to the device by the
loader.
"""
from __future__ import annotations

import gzip
import math
import os
import struct
import zlib

import numpy

GZIP_MAGIC = b"\x1f\x8b"
UBYTE_TYPE = 0x08
IMAGES_MAGIC = 0x00000803   # 2051: unsigned bytes, 3 dimensions
LABELS_MAGIC = 0x00000801   # 2049: unsigned bytes, 1 dimension


class IdxError(ValueError):
    """A file is not a valid IDX file (or not a valid gzip of one); the message names the file."""


def read_idx(path) -> numpy.ndarray:
    """Read an IDX file, gzipped or not, into a uint8 array of the shape stored in its header.

    Raises :class:`IdxError` naming the file and the problem (corrupt gzip, wrong magic number,
    truncated or over-long data), and FileNotFoundError if the file does not exist.
    """
    return decode_idx(read_idx_bytes(path), source=path)


def read_idx_bytes(path) -> bytes:
    """The decompressed content of an IDX file (gunzipped if it starts with the gzip magic)."""
    with open(path, "rb") as f:
        data = f.read()
    return gunzip_if_compressed(data, source=path)


def gunzip_if_compressed(data: bytes, source="<bytes>") -> bytes:
    """Decompress ``data`` if it is gzip (detected by its first two bytes), else return it as is."""
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:   # BadGzipFile is an OSError
        raise IdxError(f"{source}: corrupt gzip data ({exc}); the file is damaged or was only "
                       f"partly downloaded - delete it and download it again") from exc


def decode_idx(raw: bytes, source="<bytes>") -> numpy.ndarray:
    """Decompressed IDX bytes -> uint8 array, after checking the header against the payload.

    The array owns a writable copy of the values (not a read-only view of ``raw``).
    """
    shape = parse_header(raw, source)
    header_size = 4 + 4 * len(shape)
    expected = math.prod(shape)
    got = len(raw) - header_size
    if got < expected:
        raise IdxError(f"{source}: truncated IDX data: the header promises shape {shape}, i.e. "
                       f"expected {expected} bytes of values, got {got}")
    if got > expected:
        raise IdxError(f"{source}: IDX data too long: the header promises shape {shape}, i.e. "
                       f"expected {expected} bytes of values, got {got} ({got - expected} extra)")
    values = numpy.frombuffer(raw, dtype=numpy.uint8, count=expected, offset=header_size)
    return values.reshape(shape).copy()


def parse_header(raw: bytes, source="<bytes>") -> tuple:
    """Check the magic number and return the shape stored in the header of IDX bytes."""
    if len(raw) < 4:
        raise IdxError(f"{source}: not an IDX file: only {len(raw)} bytes, expected at least a "
                       f"4-byte magic number")
    (magic,) = struct.unpack(">I", raw[:4])
    zeros, value_type, ndim = magic >> 16, (magic >> 8) & 0xFF, magic & 0xFF
    if zeros != 0 or value_type != UBYTE_TYPE or ndim == 0:
        raise IdxError(
            f"{source}: wrong magic number 0x{magic:08x} (first bytes {raw[:4]!r}); expected "
            f"0x{IMAGES_MAGIC:08x} ({IMAGES_MAGIC}, images) or 0x{LABELS_MAGIC:08x} "
            f"({LABELS_MAGIC}, labels): two zero bytes, type 0x08 (unsigned byte), then the "
            f"number of dimensions. Not an IDX file of unsigned bytes (an HTML error page "
            f"saved by a failed download looks like this too)")
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise IdxError(f"{source}: truncated IDX header: {ndim} dimensions need {header_size} "
                       f"header bytes, got {len(raw)}")
    return struct.unpack(f">{ndim}I", raw[4:header_size])


def encode_idx(array) -> bytes:
    """A uint8 array (at least 1-D) -> the bytes of an uncompressed IDX file."""
    array = numpy.asarray(array)
    if array.dtype != numpy.uint8:
        raise TypeError(f"write_idx: expected a uint8 array, got dtype {array.dtype} "
                        f"(convert it first, e.g. array.astype('uint8'))")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"write_idx: expected an array with 1 to 255 dimensions, got "
                         f"shape {array.shape}")
    header = struct.pack(f">I{array.ndim}I", (UBYTE_TYPE << 8) | array.ndim, *array.shape)
    return header + numpy.ascontiguousarray(array).tobytes()


def write_idx(path, array, compress=None) -> None:
    """Write a uint8 array as an IDX file; gzip it if ``compress`` (default: path ends in .gz).

    The gzip stream stores no file name and a zero timestamp (like ``gzip -n``), so writing the
    same array twice gives identical bytes.
    """
    raw = encode_idx(array)
    if compress is None:
        compress = os.fspath(path).endswith(".gz")
    if compress:
        raw = gzip.compress(raw, mtime=0)
    with open(path, "wb") as f:
        f.write(raw)
