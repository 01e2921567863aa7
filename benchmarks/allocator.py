"""What keeping freed memory (tinynet/allocator.py) does to a training step: page faults, system
time and step time, in fresh processes with malloc's defaults and with the setting.

    python -m benchmarks.allocator                  # E6's CNN, tinynet and PyTorch
    python -m benchmarks.allocator e2_lenet --steps 200

Each framework and setting runs in a process of its own, since malloc's thresholds depend on
everything the process allocated before (a process that ran PyTorch first behaves differently).
"""
from __future__ import annotations

import argparse
import json
import sys

from benchmarks.memory import in_fresh_process
from benchmarks.run import usable_cores
from benchmarks.threads import set_thread_count

WARM_UP_STEPS = 20


def measure(spec_key: str, framework: str, keep: bool, steps: int, threads: int) -> dict:
    """:func:`one_process` in a fresh process, or ``{"error": ...}``."""
    command = [sys.executable, "-m", "benchmarks.allocator", spec_key, "--steps", str(steps),
               "--threads", str(threads), "--one", framework] + (["--keep"] if keep else [])
    return in_fresh_process(command)


def one_process(spec_key: str, framework: str, keep: bool, steps: int, threads: int) -> dict:
    """Train ``steps`` steps after a warm-up, in this process; the counters per step."""
    set_thread_count(threads)
    import resource
    import time

    from tinynet import allocator, backend
    from tinynet import threads as tinynet_threads
    from benchmarks.frameworks import TinynetTraining, TorchTraining, random_data
    from benchmarks.specs import find

    tinynet_threads.set_threads(threads)
    backend.set_flush_denormal(True)
    if keep:
        allocator.keep_freed_memory()
    (spec,) = find([spec_key])
    x, y = random_data(spec, spec.batch_size * (steps + WARM_UP_STEPS))
    training = TinynetTraining(spec, x, y)
    if framework == "pytorch":
        training = TorchTraining(spec, training.model, x, y)
    training.run(max_steps=WARM_UP_STEPS)
    before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    training.run(max_steps=steps)
    elapsed, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
    return {"ms_per_step": 1000 * elapsed / steps,
            "page_faults_per_step": (after.ru_minflt - before.ru_minflt) / steps,
            "system_ms_per_step": 1000 * (after.ru_stime - before.ru_stime) / steps}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.allocator",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="e6_cnn", help="a benchmarks/specs.py key")
    parser.add_argument("--steps", type=int, default=100, help="timed steps (default 100)")
    parser.add_argument("--threads", type=int, default=usable_cores())
    parser.add_argument("--one", choices=("tinynet", "pytorch"), help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one_process(args.model, args.one, args.keep, args.steps, args.threads)))
        return
    print(f"{args.model}, {args.steps} steps after {WARM_UP_STEPS}, {args.threads} threads")
    print("| framework | malloc | ms per step | page faults per step | system ms per step |")
    print("|---|---|---|---|---|")
    for framework in ("tinynet", "pytorch"):
        for keep in (False, True):
            got = measure(args.model, framework, keep, args.steps, args.threads)
            if "error" in got:
                print(f"| {framework} | - | failed: {got['error']} | | |")
                break
            setting = "freed memory kept" if keep else "defaults"
            print(f"| {framework} | {setting} | {got['ms_per_step']:.1f} | "
                  f"{got['page_faults_per_step']:.0f} | {got['system_ms_per_step']:.1f} |")


if __name__ == "__main__":
    main()
