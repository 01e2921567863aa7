"""Peak memory: the high-water mark this process reaches, and the fresh-process measurement."""
import subprocess
import sys

import pytest

from benchmarks.memory import REPO, measure


def test_peak_rss_rises_by_what_is_allocated_and_touched():
    # In a fresh process: this one's peak may already lie above anything allocated here.
    code = ("import numpy; from benchmarks.memory import peak_rss_mib; before = peak_rss_mib(); "
            "block = numpy.ones(96 * 2**20 // 8); after = peak_rss_mib(); del block; "
            "print(before, after, peak_rss_mib())")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, check=True)
    before, after, after_free = map(float, done.stdout.split())
    assert 90 < after - before < 110              # 96 MiB, every page written
    assert after_free > after - 2                 # a peak does not come down (the kernel's
                                                  # RSS counters lag by a few pages)


def test_measure_runs_an_epoch_in_a_fresh_process():
    result = measure("e1_mlp", "tinynet", samples=300, threads=1)
    assert set(result) == {"baseline_mib", "peak_mib", "epoch_mib"}, result
    # a fresh process, not a copy of this one with its peak (pytest holds much more)
    assert 0 <= result["epoch_mib"] < result["baseline_mib"] < 1000


def test_measure_runs_a_pytorch_epoch_too():
    pytest.importorskip("torch")
    result = measure("e2_lenet", "pytorch", samples=128, threads=1)
    assert result["epoch_mib"] >= 0 and result["peak_mib"] >= result["baseline_mib"], result


def test_a_failing_process_is_reported_not_raised():
    result = measure("no_such_model", "tinynet", samples=10, threads=1)
    assert "unknown model no_such_model" in result["error"]
