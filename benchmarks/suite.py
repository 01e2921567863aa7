"""The benchmark itself: the GEMM peak, then every model timed in tinynet and PyTorch.

For each model both frameworks are built on the same random data, PyTorch with tinynet's
initial weights; each trains ``warmup_steps`` untimed steps, then the two alternate timed
epochs ``repeats`` times (tinynet, PyTorch, tinynet, ...), so a slow spell of the machine hits
both. Figures are per epoch of ``samples`` samples (seconds), or per step for a ``per_step``
model (milliseconds), as min / median / max over the repeats. The E1 MLP has a third
contestant on the NumPy backend, the same network written by hand in plain NumPy
(benchmarks/handwritten.py), timed in the same rotation.
"""
from __future__ import annotations

import gc
import math
import statistics
import sys
import time
from dataclasses import asdict

from tinynet import allocator, backend, kernels

from benchmarks import flops, machine, memory
from benchmarks.frameworks import TinynetTraining, TorchTraining, random_data
from benchmarks.handwritten import HandwrittenMLP


def load_torch(threads: int, device: str):
    """``(torch, None)``, with ``threads`` intra-op threads, or ``(None, why_not)``."""
    try:
        import torch
    except ImportError:
        return None, "PyTorch is not installed (pip install torch)"
    if device == "cuda" and not torch.cuda.is_available():
        return None, "PyTorch has no CUDA device here, so there is nothing to compare the GPU with"
    torch.set_num_threads(threads)
    return torch, None


def time_epoch(training) -> float:
    """Seconds for one ``training.run()``, the clock read only once the device is done."""
    gc.collect()
    training.synchronize()
    start = time.perf_counter()
    training.run()
    training.synchronize()
    return time.perf_counter() - start


def summarize(seconds: list, scale: float, flops_per_run: int, peak_gflops: float) -> dict:
    """min / median / max of the timed runs in the reported unit (``seconds * scale``), with
    the arithmetic rate at the median and its fraction of the GEMM peak."""
    values = [s * scale for s in seconds]
    gflops = flops_per_run / statistics.median(seconds) / 1e9
    return {"seconds": seconds, "min": min(values), "median": statistics.median(values),
            "max": max(values), "gflops": gflops, "fraction_of_peak": gflops / peak_gflops}


def benchmark(spec, settings: dict, torch, peak_gflops: float, log=print) -> dict:
    """Time one model in tinynet (and PyTorch if ``torch``); see the module docstring."""
    samples = settings["batch1_steps"] * spec.batch_size if spec.per_step \
        else settings["samples"]
    steps = math.ceil(samples / spec.batch_size)
    x, y = random_data(spec, samples)
    tinynet_training = TinynetTraining(spec, x, y)
    per_sample = flops.training_flops(tinynet_training.model, spec.input_shape)
    trainings = [tinynet_training]
    if torch is not None:       # built before tinynet trains a step: the same initial weights
        trainings.append(TorchTraining(spec, tinynet_training.model, x, y,
                                       settings["torch_device"]))
    if settings.get("reference_kernels") and settings["backend"] == "numpy":
        trainings.append(TinynetTraining(spec, x, y, kernel_choice="reference"))
    if spec.key == "e1_mlp" and settings["backend"] == "numpy":   # the yardstick: NumPy by hand
        trainings.append(HandwrittenMLP(tinynet_training.model, x, y, spec.batch_size,
                                        **spec.optimizer_kwargs))
    for training in trainings:
        training.run(max_steps=settings["warmup_steps"])
        training.synchronize()
    seconds = {training.name: [] for training in trainings}
    for _ in range(settings["repeats"]):
        for training in trainings:
            seconds[training.name].append(time_epoch(training))

    # The reported unit: seconds per epoch, or milliseconds per step.
    scale = 1000 / steps if spec.per_step else 1
    flops_per_run = per_sample.total * samples
    row = {"key": spec.key, "title": spec.title, "batch_size": spec.batch_size,
           "optimizer": spec.optimizer_label(), "unit": spec.unit, "samples": samples,
           "steps": steps, "flops_per_sample": dict(asdict(per_sample), total=per_sample.total),
           "flops_per_run": flops_per_run,
           "flop_floor": flops_per_run / (peak_gflops * 1e9) * scale}
    for name, timed in seconds.items():
        row[name] = summarize(timed, scale, flops_per_run, peak_gflops)
    row["ratio"] = (row["tinynet"]["median"] / row["pytorch"]["median"]
                    if "pytorch" in row else None)
    row["ratio_reference"] = (row["tinynet_reference"]["median"] / row["pytorch"]["median"]
                              if "pytorch" in row and "tinynet_reference" in row else None)
    log(f"{spec.key}: " + ", ".join(f"{name} {row[name]['median']:.4g} {spec.unit}"
                                     for name in seconds))
    return row


def add_memory(row: dict, spec, settings: dict, frameworks) -> None:
    """Peak RSS of one epoch per framework, each in a fresh process (benchmarks.memory)."""
    for name in frameworks:
        row[name]["memory"] = memory.measure(spec.key, name, row["samples"],
                                             settings["threads"], settings["flush_denormal"],
                                             settings.get("keep_freed_memory", True))


def run_suite(specs, settings: dict, log=print) -> dict:
    """Everything the report needs, as JSON-able data. ``settings``: threads, backend, samples,
    repeats, warmup_steps, batch1_steps, gemm_size, gemm_repeats, use_torch, memory."""
    backend.use(settings["backend"])
    backend.seed(0)
    # One thread's setting, shared by both frameworks: their element-wise work runs in it.
    flushing = backend.set_flush_denormal(settings["flush_denormal"])
    kept = settings.get("keep_freed_memory", True) and allocator.keep_freed_memory()  # both
    settings = dict(settings, torch_device="cuda" if settings["backend"] == "cupy" else "cpu",
                    flush_denormal=settings["flush_denormal"] and flushing,
                    freed_memory_kept=kept)
    torch, torch_missing = (load_torch(settings["threads"], settings["torch_device"])
                            if settings["use_torch"] else (None, "disabled by --no-torch"))
    if torch_missing:
        print(f"PyTorch left out: {torch_missing}", file=sys.stderr)
    described = machine.describe(torch)      # now: its load average must not include ours
    described["kernels"] = kernels.active()
    ticks_at_start = machine.cpu_ticks()
    gemm = flops.gemm_gflops(settings["gemm_size"], settings["gemm_repeats"])
    log(f"float32 GEMM {gemm['n']}x{gemm['n']}: {gemm['gflops_best']:.1f} GFLOP/s (best)")
    frameworks = ["tinynet"] + (["pytorch"] if torch is not None else [])
    measure_memory = settings["memory"] and settings["backend"] == "numpy"
    rows = []
    for spec in specs:
        row = benchmark(spec, settings, torch, gemm["gflops_best"], log)
        if measure_memory:
            add_memory(row, spec, settings, frameworks)
        rows.append(row)
    memory_note = None
    if not settings["memory"]:
        memory_note = "not measured (--no-memory)"
    elif not measure_memory:
        memory_note = "not measured on a GPU: RSS is host memory, the activations are on the device"
    described["cpu_steal"] = machine.steal_fraction(ticks_at_start, machine.cpu_ticks())
    return {"machine": described, "settings": settings, "frameworks": frameworks,
            "torch_missing": torch_missing, "memory_note": memory_note, "gemm": gemm,
            "benchmarks": rows}
