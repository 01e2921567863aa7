"""tinynet.allocator: freed memory kept by glibc's malloc, so that a training step does not
fault its arrays' pages back in at every step."""
import ctypes
import subprocess
import sys
import textwrap

import pytest

from tinynet import allocator

GLIBC = sys.platform.startswith("linux") and hasattr(ctypes.CDLL(None), "gnu_get_libc_version")

# Ten training steps of E6's CNN after three warm-up steps; prints the page faults per step.
STEPS = textwrap.dedent("""
    import resource, sys
    import numpy as np
    from tinynet import allocator, losses, models, optim, threads
    from tinynet.train import train_step
    threads.set_threads(1)
    if sys.argv[1] == "keep":
        assert allocator.keep_freed_memory()
    model = models.simple_cnn()
    loss, optimizer = losses.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.01)
    x = np.random.default_rng(0).standard_normal((64, 1, 28, 28)).astype(np.float32)
    y = np.arange(64) % 10
    for _ in range(3):
        train_step(model, loss, optimizer, x, y)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        train_step(model, loss, optimizer, x, y)
    print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
""")


def faults_per_step(mode: str) -> float:
    done = subprocess.run([sys.executable, "-c", STEPS, mode], capture_output=True, text=True,
                          check=True)
    return float(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not GLIBC, reason="the malloc settings are glibc's")
def test_kept_memory_is_not_faulted_in_again_at_every_step():
    default, kept = faults_per_step("default"), faults_per_step("keep")
    assert default > 100            # the problem: each step maps its big arrays in again
    assert kept < default / 10


@pytest.mark.skipif(not GLIBC, reason="the malloc settings are glibc's")
def test_keep_freed_memory_reports_that_it_applied():
    assert allocator.keep_freed_memory() is True
    assert allocator.freed_memory_kept()


def test_without_glibc_it_does_nothing(monkeypatch):
    monkeypatch.setattr(allocator, "_glibc_mallopt", lambda: None)
    assert allocator.keep_freed_memory() is False
