"""Freed memory kept for the next training step: two settings of glibc's ``malloc``.

A training step allocates and frees the same large arrays at every step (E6's CNN: the im2col
matrix of its second convolution and that matrix's gradient, 14 MB each, and every activation
and gradient). By default glibc gives memory back to the system when more than
``M_TRIM_THRESHOLD`` bytes are free at the top of its heap, and serves blocks above
``M_MMAP_THRESHOLD`` with fresh mappings that are unmapped when freed (both thresholds adapt
to the program, the second up to 32 MiB). Memory given back is paid for again at the next
step: the kernel maps it in page by page at the first touch, zeroing every 4 KiB page.

Measured on E6's CNN at two threads, each case in a fresh process (``python -m
benchmarks.allocator``): 1,191 page faults and 6.3 ms of system time per 27.6 ms step with
malloc's defaults; with freed memory kept, no page faults and 24.7 ms per step. PyTorch
allocates through the same ``malloc`` and gains too (16.7 ms to 15.3 ms). How much a process
faults depends on what it allocated before: E2's LeNet, with smaller arrays, faulted 282
times per step and ran no faster with the setting (9.5 and 9.9 ms, within the noise).

:func:`keep_freed_memory` sets both thresholds, once per process: the runner does it for every
run, and the benchmarks for both frameworks. The price is that memory freed at the end of a
step stays with the process (its peak, which every step reaches again) instead of returning
to the system. Only glibc has these settings; elsewhere the function does nothing.
"""
from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3     # mallopt's parameter numbers (glibc malloc.h)
LARGEST_MMAP_THRESHOLD = 32 * 2**20             # glibc's maximum on 64-bit systems
TRIM_THRESHOLD = 2**30                          # keep up to 1 GiB free at the heap's top

def keep_freed_memory() -> bool:
    """Ask glibc's ``malloc`` to keep freed memory for reuse instead of giving it back to the
    system: blocks up to 32 MiB come from its heap, and up to 1 GiB of free memory at the top
    of the heap stays mapped. Returns True if applied, False where there is no glibc."""
    mallopt = _glibc_mallopt()
    if mallopt is None:
        return False
    return (mallopt(M_MMAP_THRESHOLD, LARGEST_MMAP_THRESHOLD) == 1
            and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1)


def _glibc_mallopt():
    """glibc's ``mallopt(int, int) -> int`` (1 on success), or None without glibc."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        if not hasattr(libc, "gnu_get_libc_version"):       # musl and others: not glibc
            return None
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt
