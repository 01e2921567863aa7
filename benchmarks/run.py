"""Time one training epoch of issue 8's seven models in tinynet and PyTorch, side by side.

    python -m benchmarks.run                      # full: 60k samples, 5 repeats, 4096^2 GEMM
    python -m benchmarks.run --quick              # smoke run, seconds: 1k samples, 1 repeat
    python -m benchmarks.run --threads 1 --models e1_mlp,e2_lenet
    python -m benchmarks.run --backend cupy       # tinynet on the GPU (PyTorch on CUDA)

Run it from the repository root, on a quiet machine. PyTorch is optional (``pip install
torch``): without it, or with ``--no-torch``, only tinynet is timed. Writes results.json and
results.md to ``--out`` (benchmarks/results/, or benchmarks/results/quick/ with --quick) and
prints the Markdown table. See benchmarks/README.md for what every figure means.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
from pathlib import Path

from benchmarks.threads import set_thread_count

# Nothing but the standard library and benchmarks.threads is imported up here: the thread
# count must be in the environment before NumPy (and its BLAS) or PyTorch is loaded, which
# main() does after reading --threads.

RESULTS = Path(__file__).resolve().parent / "results"
FULL = {"samples": 60_000, "repeats": 5, "warmup_steps": 20, "batch1_steps": 5_000,
        "gemm_size": 4096, "gemm_repeats": 5}
QUICK = {"samples": 1_000, "repeats": 1, "warmup_steps": 2, "batch1_steps": 50,
         "gemm_size": 256, "gemm_repeats": 3}


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny epochs, one repeat, a small GEMM: a smoke run of seconds")
    parser.add_argument("--models", default=None,
                        help="comma-separated keys (default: all): e1_mlp, e1_mlp_bn_do, "
                             "e2_lenet, e6_mlp, e6_cnn, e4_mlp, e3_batch1")
    parser.add_argument("--threads", type=int, default=usable_cores(),
                        help="BLAS/OpenMP threads for NumPy and PyTorch (default: the usable "
                             "cores, %(default)s here)")
    parser.add_argument("--backend", default="numpy", choices=("numpy", "cupy"),
                        help="tinynet's backend (default numpy)")
    parser.add_argument("--no-torch", action="store_true",
                        help="time tinynet only, as if PyTorch were not installed")
    parser.add_argument("--keep-denormals", action="store_true",
                        help="leave IEEE denormals on (default: flush them to zero in the main "
                             "thread, for both frameworks; see benchmarks/README.md)")
    parser.add_argument("--return-freed-memory", action="store_true",
                        help="leave malloc at its defaults, which give freed memory back to the "
                             "system (default: keep it for both frameworks, as runs do; see "
                             "tinynet/allocator.py)")
    parser.add_argument("--no-reference", action="store_true",
                        help="do not also time tinynet on its reference kernels (array code; "
                             "by default both kernel paths are timed in the same rotation)")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the peak-memory epochs (one fresh process per model and "
                             "framework)")
    for name, default in FULL.items():
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=None,
                            help=f"default {default:,} ({QUICK[name]:,} with --quick)")
    parser.add_argument("--out", default=None,
                        help="folder for results.json and results.md (default "
                             "benchmarks/results/, benchmarks/results/quick/ with --quick)")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    for name in FULL:
        value = getattr(args, name)
        minimum = 0 if name == "warmup_steps" else 1
        if value is not None and value < minimum:
            parser.error(f"--{name.replace('_', '-')} must be >= {minimum}, got {value}")
    return parser, args


def settings_from(args) -> dict:
    defaults = QUICK if args.quick else FULL
    settings = {name: getattr(args, name) if getattr(args, name) is not None else default
                for name, default in defaults.items()}
    settings.update(threads=args.threads, backend=args.backend, quick=args.quick,
                    use_torch=not args.no_torch, memory=not args.no_memory,
                    reference_kernels=not args.no_reference,
                    flush_denormal=not args.keep_denormals,
                    keep_freed_memory=not args.return_freed_memory)
    return settings


def write_results(results: dict, markdown: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(markdown)


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser, args = parse_args(argv)
    set_thread_count(args.threads)               # before NumPy, its BLAS and PyTorch load

    from tinynet import backend, threads
    from benchmarks import report, specs

    threads.set_threads(args.threads)            # BLAS again (at run time) and Numba's kernels
    from benchmarks.suite import run_suite

    try:
        chosen = specs.find(args.models.split(",")) if args.models else list(specs.SPECS)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        results = run_suite(chosen, settings_from(args))
    except backend.BackendError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    results["command"] = " ".join(["python -m benchmarks.run", *map(shlex.quote, argv)])
    results["date"] = datetime.datetime.now().isoformat(timespec="seconds")
    markdown = report.markdown(results)
    if args.out:
        out = Path(args.out)
    else:
        out = RESULTS / "quick" if args.quick else RESULTS
    write_results(results, markdown, out)
    print(markdown)
    print(f"written: {out / 'results.json'}, {out / 'results.md'}")


if __name__ == "__main__":
    main()
