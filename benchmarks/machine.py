"""What a benchmark ran on: cores, CPU, BLAS, thread settings, versions and load.

A timing means little without these: the same code is 2x apart between OpenBLAS builds or
thread counts, and any other busy process skews every figure (hence the load average). On a
virtual machine the host's other guests take CPU time too, which no load average shows: the
kernel counts it as "steal", and the run reports its share.
"""
from __future__ import annotations

import os
import platform

import numpy

from tinynet.runner import environment

from benchmarks.threads import THREAD_VARIABLES


def describe(torch_module=None) -> dict:
    """Machine facts and versions as plain JSON-able data; ``torch_module`` when it is used."""
    info = environment()                       # tinynet, backend, numpy, python, platform, cores
    info["cpu_model"] = _cpu_model()
    info["usable_cores"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else os.cpu_count()
    info["thread_variables"] = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    info["numpy_blas"] = numpy_blas()
    info["threadpools"] = threadpools()
    if hasattr(os, "getloadavg"):
        info["load_average_1min"] = os.getloadavg()[0]
    if torch_module is not None:
        info["torch"] = torch_module.__version__
        info["torch_threads"] = torch_module.get_num_threads()
    return info


def cpu_ticks():
    """The machine's CPU time counters (clock ticks since boot, all cores) from /proc/stat's
    first line: user, nice, system, idle, iowait, irq, softirq, steal. None where there is
    no /proc/stat (not Linux)."""
    try:
        with open("/proc/stat") as handle:
            fields = handle.readline().split()
    except OSError:
        return None
    if len(fields) < 9 or fields[0] != "cpu":
        return None
    return [int(value) for value in fields[1:9]]


def steal_fraction(before, after):
    """The share of the CPU time between two :func:`cpu_ticks` readings that the hypervisor
    gave to other virtual machines (None if unknown). 0 on a machine of one's own."""
    if before is None or after is None:
        return None
    elapsed = sum(after) - sum(before)
    return (after[7] - before[7]) / elapsed if elapsed > 0 else None


def numpy_blas() -> str:
    """The BLAS NumPy was built with, e.g. "scipy-openblas 0.3.31 (OpenBLAS ... Haswell ...)"."""
    try:
        config = numpy.show_config(mode="dicts")          # NumPy >= 1.26
        blas = config["Build Dependencies"]["blas"]
    except (TypeError, KeyError):
        return "unknown (numpy.show_config() has no dict mode here)"
    text = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    detail = blas.get("openblas configuration")
    return f"{text} ({detail})" if detail else text


def threadpools():
    """threadpoolctl's view of the loaded BLAS/OpenMP libraries and their thread counts, or
    None when threadpoolctl is not installed (it is optional)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    keys = ("internal_api", "version", "num_threads", "threading_layer", "architecture")
    return [{key: pool.get(key) for key in keys} for pool in threadpool_info()]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
