"""benchmarks.cnn_limits runs and prints its tables (the kernels part: a few seconds)."""
import pytest

from benchmarks import cnn_limits


def test_the_kernels_part_prints_a_row_per_kernel(capsys):
    cnn_limits.main(["kernels", "--threads", "1"])
    out = capsys.readouterr().out
    for kernel in ("im2col", "col2im", "2x2 max pool", "its backward", "ReLU", "Adam"):
        assert f"| {kernel}" in out
    assert "2x2 max pool on one thread" in out


def test_an_unknown_part_is_refused():
    with pytest.raises(SystemExit):
        cnn_limits.main(["convolutions"])
