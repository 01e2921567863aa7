"""Peak memory (RSS) of one training epoch, each measured in a fresh process.

A process's peak resident memory only grows, so measuring several models or both frameworks
in one process would mix their peaks. Here every (model, framework) pair gets its own Python
process, which builds the model, optimizer and data, notes its peak RSS so far (the baseline),
trains one epoch and reports how far the peak rose above that baseline: the memory the epoch
itself needed (activations kept for backward, gradients, optimizer state, temporaries).

    python -m benchmarks.memory e1_mlp tinynet --samples 60000 --threads 2     # prints JSON

``measure`` runs exactly that and reads the JSON back. Host memory only: on a GPU the
activations live in device memory, which RSS does not see.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

from benchmarks.threads import set_thread_count

REPO = Path(__file__).resolve().parents[1]
FRAMEWORKS = ("tinynet", "pytorch")


def peak_rss_mib() -> float:
    """The peak resident set size of this process so far, in MiB.

    On Linux this is VmHWM from /proc/self/status, the high-water mark of this program's own
    memory. ``getrusage``'s ru_maxrss is not used there: Linux carries it over from the parent
    across fork + exec, so a child of a 400 MiB process would report at least 400 MiB.
    Elsewhere (macOS) ru_maxrss is all there is (in bytes there, in KiB on Linux)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10          # "VmHWM:   123456 kB"
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def load_kernels() -> None:
    """Train a tiny network (a few kB) a step with Adam and with SGD, at batch 2 and 1, so that
    tinynet's compiled kernels are loaded (from Numba's disk cache, where benchmarks.run has
    just put them) before the epoch: loading a library is not what an epoch needs, and
    PyTorch's own loading happens at import. Tiny, so that what it frees and the C allocator
    keeps cannot hide the epoch's own allocations."""
    import numpy

    from tinynet import optim
    from tinynet.losses import CrossEntropyLoss
    from tinynet.nn import Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential
    from tinynet.train import train_step

    model = Sequential(Conv2d(1, 2, 3, padding=1), ReLU(), MaxPool2d(2), Flatten(),
                       Linear(2 * 4 * 4, 3))
    x = numpy.zeros((2, 1, 8, 8), numpy.float32)
    y = numpy.zeros(2, numpy.int64)
    for optimizer in (optim.Adam(model.parameters()), optim.SGD(model.parameters(), lr=0.1)):
        for batch in (2, 1):
            train_step(model, CrossEntropyLoss(), optimizer, x[:batch], y[:batch])


def reset_peak_rss() -> None:
    """Lower the peak (VmHWM) to the current resident memory, where Linux allows it (writing
    5 to /proc/self/clear_refs, Linux >= 4.0), so that a warm-up's temporary peak (Numba
    compiling, if its cache is cold) cannot hide the epoch's own."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass


def measure(spec_key: str, framework: str, samples: int, threads: int,
            flush_denormal: bool = True, keep_freed_memory: bool = True) -> dict:
    """Run one epoch of ``spec_key`` in ``framework`` in a fresh process and return its
    ``{"baseline_mib", "peak_mib", "epoch_mib"}``, or ``{"error": ...}`` if the process failed
    (the benchmark goes on; the report shows the error)."""
    command = [sys.executable, "-m", "benchmarks.memory", spec_key, framework,
               "--samples", str(samples), "--threads", str(threads)]
    if not flush_denormal:
        command.append("--keep-denormals")
    if not keep_freed_memory:
        command.append("--return-freed-memory")
    return in_fresh_process(command)


def in_fresh_process(command: list) -> dict:
    """Run ``command`` (a benchmark module) from the repository in a process of its own and
    return the JSON of its last output line, or ``{"error": ...}`` if it failed."""
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        last_lines = " | ".join(done.stderr.strip().splitlines()[-3:])
        return {"error": f"exit code {done.returncode}: {last_lines}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a benchmark key, e.g. e1_mlp")
    parser.add_argument("framework", choices=FRAMEWORKS)
    parser.add_argument("--samples", type=int, required=True, help="samples in the epoch")
    parser.add_argument("--threads", type=int, required=True, help="BLAS / PyTorch threads")
    parser.add_argument("--keep-denormals", action="store_true", help="as benchmarks.run's")
    parser.add_argument("--return-freed-memory", action="store_true", help="as benchmarks.run's")
    args = parser.parse_args(argv)
    set_thread_count(args.threads)                         # before NumPy loads its BLAS

    from tinynet import allocator, backend, threads

    threads.set_threads(args.threads)                      # and Numba's, as benchmarks.run
    backend.set_flush_denormal(not args.keep_denormals)
    if not args.return_freed_memory:
        allocator.keep_freed_memory()                      # as benchmarks.run
    from benchmarks.frameworks import TinynetTraining, TorchTraining, random_data
    from benchmarks.specs import find

    (spec,) = find([args.model])
    x, y = random_data(spec, args.samples)
    training = TinynetTraining(spec, x, y)
    if args.framework == "pytorch":
        import torch

        torch.set_num_threads(args.threads)
        training = TorchTraining(spec, training.model, x, y)
    if args.framework == "tinynet":          # load its compiled kernels, as importing torch
        load_kernels()                       # loads PyTorch's
    reset_peak_rss()
    baseline = peak_rss_mib()
    training.run()
    peak = peak_rss_mib()
    print(json.dumps({"baseline_mib": baseline, "peak_mib": peak, "epoch_mib": peak - baseline}))


if __name__ == "__main__":
    main()
