import gzip
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinynet.data.idx import IdxError, decode_idx, encode_idx, read_idx, write_idx

from tests.conftest import data_dir


def images(rng, n=5, rows=4, cols=3):
    return rng.integers(0, 256, size=(n, rows, cols), dtype=np.uint8)


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(0, 6), min_size=1, max_size=4), compress=st.booleans())
def test_write_then_read_round_trips(tmp_path_factory, shape, compress):
    array = np.random.default_rng(len(shape)).integers(0, 256, size=shape, dtype=np.uint8)
    path = tmp_path_factory.mktemp("idx") / "file.idx"
    write_idx(path, array, compress=compress)
    back = read_idx(path)
    assert back.dtype == np.uint8 and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_header_layout_is_the_mnist_one(rng):
    raw = encode_idx(images(rng, n=5, rows=28, cols=28))
    assert raw[:4] == b"\x00\x00\x08\x03"                      # magic 2051
    assert struct.unpack(">IIII", raw[:16]) == (2051, 5, 28, 28)
    assert len(raw) == 16 + 5 * 28 * 28
    labels = encode_idx(np.arange(7, dtype=np.uint8))
    assert struct.unpack(">II", labels[:8]) == (2049, 7)
    assert labels[8:] == bytes(range(7))


def test_gzip_is_detected_by_content_not_name(tmp_path, rng):
    array = images(rng)
    gz_named_raw, raw_named_gz = tmp_path / "a.gz", tmp_path / "b"
    write_idx(gz_named_raw, array, compress=False)
    write_idx(raw_named_gz, array, compress=True)
    assert raw_named_gz.read_bytes()[:2] == b"\x1f\x8b"
    np.testing.assert_array_equal(read_idx(gz_named_raw), array)
    np.testing.assert_array_equal(read_idx(raw_named_gz), array)


def test_compression_defaults_to_the_file_suffix(tmp_path, rng):
    write_idx(tmp_path / "x.gz", images(rng))
    write_idx(tmp_path / "x", images(rng))
    assert (tmp_path / "x.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert (tmp_path / "x").read_bytes()[:4] == b"\x00\x00\x08\x03"


def test_gzip_output_is_reproducible(tmp_path, rng):
    array = images(rng)
    write_idx(tmp_path / "1.gz", array)
    write_idx(tmp_path / "2.gz", array)
    assert (tmp_path / "1.gz").read_bytes() == (tmp_path / "2.gz").read_bytes()


def test_result_is_a_writable_array_of_its_own(tmp_path, rng):
    write_idx(tmp_path / "x", images(rng))
    array = read_idx(tmp_path / "x")
    assert array.flags.writeable and array.flags.owndata
    array[0, 0, 0] = 7


@pytest.mark.parametrize("compress", [False, True])
def test_truncated_file_names_file_and_byte_counts(tmp_path, rng, compress):
    raw = encode_idx(images(rng, n=5, rows=4, cols=3))[:-10]     # 60 values, 50 present
    path = tmp_path / "cut.idx"
    path.write_bytes(gzip.compress(raw) if compress else raw)
    with pytest.raises(IdxError, match=r"truncated.*expected 60 bytes.*got 50") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_trailing_bytes_are_an_error(tmp_path, rng):
    path = tmp_path / "long.idx"
    path.write_bytes(encode_idx(images(rng, n=2, rows=2, cols=2)) + b"\x00\x01")
    with pytest.raises(IdxError, match=r"expected 8 bytes.*got 10"):
        read_idx(path)


@pytest.mark.parametrize("start", [
    b"<!DOCTYPE html><html>",               # an error page saved as the file
    b"\x00\x00\x0d\x01" + bytes(8),          # float32 values: not unsigned bytes
    b"\x00\x00\x08\x00" + bytes(8),          # zero dimensions
    b"\x01\x00\x08\x01" + bytes(8),          # first byte not zero
    struct.pack(">II", 0x0801, 3)[::-1] + bytes(3),   # little-endian header
])
def test_wrong_magic_number(tmp_path, start):
    path = tmp_path / "bad.idx"
    path.write_bytes(start)
    with pytest.raises(IdxError, match="wrong magic number") as info:
        read_idx(path)
    assert str(path) in str(info.value) and "2051" in str(info.value)


def test_truncated_header(tmp_path):
    path = tmp_path / "head.idx"
    path.write_bytes(b"\x00\x00\x08\x03" + struct.pack(">I", 5))    # 3 dims, only 1 size
    with pytest.raises(IdxError, match=r"truncated IDX header.*16 header bytes, got 8"):
        read_idx(path)


@pytest.mark.parametrize("content", [b"", b"\x00\x00"])
def test_too_short_for_a_magic_number(tmp_path, content):
    path = tmp_path / "tiny.idx"
    path.write_bytes(content)
    with pytest.raises(IdxError, match=f"only {len(content)} bytes"):
        read_idx(path)


def test_cut_gzip_stream_is_reported_as_corrupt_gzip(tmp_path, rng):
    data = gzip.compress(encode_idx(images(rng, n=50)))
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IdxError, match="corrupt gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_damaged_gzip_body_is_reported_as_corrupt_gzip(tmp_path, rng):
    data = bytearray(gzip.compress(encode_idx(images(rng, n=50))))
    data[len(data) // 2] ^= 0xFF                  # flips bits: zlib error or CRC mismatch
    path = tmp_path / "flipped.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(IdxError, match="corrupt gzip"):
        read_idx(path)


def test_gzip_magic_without_a_gzip_stream(tmp_path):
    path = tmp_path / "fake.gz"
    path.write_bytes(b"\x1f\x8b" + b"not really gzip")
    with pytest.raises(IdxError, match="corrupt gzip"):
        read_idx(path)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope.gz")


def test_decode_names_the_source():
    with pytest.raises(IdxError, match="^somewhere: "):
        decode_idx(b"\x00\x00\x08\x01\x00\x00\x00\x05\x01", source="somewhere")


@pytest.mark.parametrize("array, error", [
    (np.zeros((2, 2), dtype=np.int64), TypeError),
    (np.zeros((2, 2), dtype=np.float32), TypeError),
    (np.uint8(3), ValueError),
])
def test_writer_rejects_what_idx_cannot_hold(tmp_path, array, error):
    with pytest.raises(error, match="write_idx"):
        write_idx(tmp_path / "x", array)


def test_writer_accepts_non_contiguous_arrays(tmp_path, rng):
    array = images(rng, n=4, rows=6, cols=6)[:, ::2, 1::2]
    write_idx(tmp_path / "x", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "x"), array)


def test_reads_the_real_mnist_test_labels():
    root = data_dir()
    if root is None:
        pytest.skip("TINYNET_DATA not set: no real data files to read")
    labels = read_idx(f"{root}/mnist/t10k-labels-idx1-ubyte.gz")
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
