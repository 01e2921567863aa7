"""run_suite's order of events (no model is timed here)."""
from benchmarks import suite
from benchmarks.specs import find


def test_the_machine_is_described_before_anything_runs(monkeypatch):
    """The load average must be the machine's at the start, not the benchmark's own load."""
    events = []
    monkeypatch.setattr(suite.machine, "describe",
                        lambda torch=None: events.append("describe") or {})
    monkeypatch.setattr(suite.flops, "gemm_gflops",
                        lambda n, repeats: events.append("gemm") or {"n": n, "gflops_best": 1.0})
    monkeypatch.setattr(suite, "benchmark",
                        lambda spec, *args, **kwargs: events.append(spec.key) or {})
    settings = {"backend": "numpy", "flush_denormal": True, "use_torch": False, "memory": False,
                "threads": 1, "gemm_size": 8, "gemm_repeats": 1}
    results = suite.run_suite(find(["e1_mlp", "e6_mlp"]), settings, log=lambda text: None)
    assert events == ["describe", "gemm", "e1_mlp", "e6_mlp"]
    assert "cpu_steal" in results["machine"]
