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


def warm_up(spec, framework: str, x, y) -> None:
    """Two steps of a throwaway copy of the model: libraries load what they load at a first
    step (tinynet its compiled kernels, from Numba's disk cache; PyTorch its kernels), so that
    the measured epoch counts what training needs, not what starting a library needs."""
    from benchmarks.frameworks import TinynetTraining, TorchTraining

    training = TinynetTraining(spec, x, y)
    if framework == "pytorch":
        training = TorchTraining(spec, training.model, x, y)
    training.run(max_steps=2)


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
            flush_denormal: bool = True) -> dict:
    """Run one epoch of ``spec_key`` in ``framework`` in a fresh process and return its
    ``{"baseline_mib", "peak_mib", "epoch_mib"}``, or ``{"error": ...}`` if the process failed
    (the benchmark goes on; the report shows the error)."""
    command = [sys.executable, "-m", "benchmarks.memory", spec_key, framework,
               "--samples", str(samples), "--threads", str(threads)]
    if not flush_denormal:
        command.append("--keep-denormals")
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
    args = parser.parse_args(argv)
    set_thread_count(args.threads)                         # before NumPy loads its BLAS

    from tinynet import backend, threads

    threads.set_threads(args.threads)                      # and Numba's, as benchmarks.run
    backend.set_flush_denormal(not args.keep_denormals)
    from benchmarks.frameworks import TinynetTraining, TorchTraining, random_data
    from benchmarks.specs import find

    (spec,) = find([args.model])
    x, y = random_data(spec, args.samples)
    training = TinynetTraining(spec, x, y)
    if args.framework == "pytorch":
        import torch

        torch.set_num_threads(args.threads)
        training = TorchTraining(spec, training.model, x, y)
    warm_up(spec, args.framework, x[:2 * spec.batch_size], y[:2 * spec.batch_size])
    reset_peak_rss()
    baseline = peak_rss_mib()
    training.run()
    peak = peak_rss_mib()
    print(json.dumps({"baseline_mib": baseline, "peak_mib": peak, "epoch_mib": peak - baseline}))


if __name__ == "__main__":
    main()
