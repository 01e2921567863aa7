"""Smoke tests of `python -m benchmarks.run --quick`, with and without PyTorch: the files it
writes and their structure. Nothing here asserts a timing (machines are noisy)."""
import json
import subprocess
import sys

import pytest

from benchmarks import run
from benchmarks.memory import REPO
from benchmarks.specs import SPECS
from tests.conftest import CUPY_SKIP_REASON

# --quick, made smaller still: the smoke test checks the plumbing, not the figures.
SMALL = ["--quick", "--threads", "1", "--samples", "200", "--batch1-steps", "5",
         "--gemm-size", "64"]
KEYS = [spec.key for spec in SPECS]


def run_benchmark(*args):
    return subprocess.run([sys.executable, "-m", "benchmarks.run", *args], cwd=REPO,
                          capture_output=True, text=True)


def quick_run(out, *extra):
    done = run_benchmark(*SMALL, "--out", str(out), *extra)
    assert done.returncode == 0, done.stderr
    results = json.loads((out / "results.json").read_text())
    markdown = (out / "results.md").read_text()
    assert markdown in done.stdout                     # the table is printed too
    return results, markdown


def check_common_structure(results, markdown, frameworks):
    assert results["frameworks"] == frameworks
    assert results["command"].startswith("python -m benchmarks.run --quick --threads 1 ")
    assert results["settings"]["threads"] == 1 and results["settings"]["samples"] == 200
    machine = results["machine"]
    for key in ("cpu_count", "cpu_model", "numpy", "numpy_blas", "python", "tinynet"):
        assert machine[key], key
    assert machine["thread_variables"]["OPENBLAS_NUM_THREADS"] == "1"
    assert results["gemm"]["n"] == 64 and results["gemm"]["gflops_best"] > 0
    assert [row["key"] for row in results["benchmarks"]] == KEYS
    for row in results["benchmarks"]:
        assert row["flops_per_run"] == row["flops_per_sample"]["total"] * row["samples"]
        assert row["flop_floor"] > 0
        for name in frameworks:
            figures = row[name]
            assert len(figures["seconds"]) == 1
            assert figures["min"] <= figures["median"] <= figures["max"]
            assert 0 < figures["fraction_of_peak"]
            if "--no-memory" not in results["command"]:
                assert set(figures["memory"]) == {"baseline_mib", "peak_mib", "epoch_mib"}, \
                    figures["memory"]
    batch1 = results["benchmarks"][-1]
    assert (batch1["unit"], batch1["samples"], batch1["steps"]) == ("ms/step", 5, 5)
    assert markdown.startswith("# tinynet vs PyTorch")
    assert f"Command: `{results['command']}`" in markdown
    assert "GEMM peak:" in markdown and "BLAS (NumPy):" in markdown
    table = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + len(KEYS)                 # header + one row per model
    assert all(line.count(" | ") == table[0].count(" | ") for line in table)


def test_quick_run_without_torch(tmp_path):
    results, markdown = quick_run(tmp_path, "--no-torch")
    check_common_structure(results, markdown, ["tinynet"])
    assert results["torch_missing"] == "disabled by --no-torch"
    assert "torch" not in results["machine"]
    for row in results["benchmarks"]:
        assert "pytorch" not in row and row["ratio"] is None
    assert "PyTorch left out: disabled by --no-torch." in markdown


def test_quick_run_with_torch(tmp_path):
    # Without the memory epochs: each would import PyTorch in a fresh process, seconds apiece;
    # they run in the run above (tinynet) and in tests/benchmarks/test_memory.py (PyTorch).
    pytest.importorskip("torch")
    results, markdown = quick_run(tmp_path, "--no-memory")
    check_common_structure(results, markdown, ["tinynet", "pytorch"])
    assert results["torch_missing"] is None
    assert results["machine"]["torch_threads"] == 1
    for row in results["benchmarks"]:
        assert row["ratio"] == pytest.approx(row["tinynet"]["median"] / row["pytorch"]["median"])


def test_some_models_without_memory(tmp_path):
    results, markdown = quick_run(tmp_path, "--no-torch", "--no-memory",
                                  "--models", "e3_batch1,e1_mlp")
    assert [row["key"] for row in results["benchmarks"]] == ["e1_mlp", "e3_batch1"]
    assert "memory" not in results["benchmarks"][0]["tinynet"]
    assert "Memory not measured (--no-memory)." in markdown


def test_unknown_model_is_a_usage_error():
    done = run_benchmark("--models", "e1_mlp,e9")
    assert done.returncode == 2
    assert "unknown model e9: expected some of e1_mlp" in done.stderr


@pytest.mark.skipif(CUPY_SKIP_REASON is None, reason="a GPU is usable here")
def test_gpu_backend_without_a_gpu_is_one_line_saying_why(tmp_path):
    done = run_benchmark("--quick", "--backend", "cupy", "--out", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.startswith("python -m benchmarks.run: error: backend 'cupy' requested")
    assert not (tmp_path / "results.json").exists()


def test_quick_and_full_settings():
    _, args = run.parse_args(["--quick"])
    assert run.settings_from(args)["samples"] == 1_000
    _, args = run.parse_args(["--repeats", "3"])
    settings = run.settings_from(args)
    assert (settings["samples"], settings["repeats"], settings["gemm_size"]) == (60_000, 3, 4096)
    with pytest.raises(SystemExit):
        run.parse_args(["--repeats", "0"])
