"""tinynet.allocator: freed memory kept by glibc's malloc, so that a training step does not
fault its arrays' pages back in at every step."""
import ctypes
import sys

import pytest

from benchmarks.allocator import measure
from tinynet import allocator

GLIBC = sys.platform.startswith("linux") and hasattr(ctypes.CDLL(None), "gnu_get_libc_version")


def faults_per_step(keep: bool) -> float:
    """Page faults per step of E6's CNN in a fresh process (benchmarks.allocator)."""
    return measure("e6_cnn", "tinynet", keep, steps=10, threads=1)["page_faults_per_step"]


@pytest.mark.skipif(not GLIBC, reason="the malloc settings are glibc's")
def test_kept_memory_is_not_faulted_in_again_at_every_step():
    default, kept = faults_per_step(keep=False), faults_per_step(keep=True)
    assert default > 100            # the problem: each step maps its big arrays in again
    assert kept < default / 10


@pytest.mark.skipif(not GLIBC, reason="the malloc settings are glibc's")
def test_keep_freed_memory_reports_that_it_applied():
    assert allocator.keep_freed_memory() is True


def test_without_glibc_it_does_nothing(monkeypatch):
    monkeypatch.setattr(allocator, "_glibc_mallopt", lambda: None)
    assert allocator.keep_freed_memory() is False
