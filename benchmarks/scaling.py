"""An experiment's whole sweep, run one run after another and on N worker processes, side by
side: the wall times, their ratio, and a check that both give the same records.

    python -m benchmarks.scaling                          # E3, examples/mlp_sweep.py: 1 vs 2 jobs
    python -m benchmarks.scaling --quick                  # the --quick sweeps: a smoke run
    python -m benchmarks.scaling --script examples/lr_batch_grid.py --jobs 4
    python -m benchmarks.scaling --seeds 0,1,2            # every cell with three seeds

Both sweeps give every run one BLAS and kernel thread (``--threads 1``), so their records can
be compared bit for bit. Run it on a quiet machine: another busy process takes cores from the
parallel sweep first. The report says how much CPU time other processes (and, on a virtual
machine, the hypervisor) took during each sweep. Writes ``<out>/jobs1/``, ``<out>/jobsN/``
(each a sweep's folder) and ``<out>/results.md``.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.machine import cpu_ticks, steal_fraction

OUT = Path(__file__).resolve().parent / "results" / "scaling"
IDLE = (3, 4)          # idle and iowait in /proc/stat's cpu line


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaling",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--script", default="examples/mlp_sweep.py",
                        help="the experiment script (default %(default)s)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--quick", action="store_true", help="time the --quick sweeps")
    parser.add_argument("--seeds", default=None,
                        help="passed on to both sweeps, e.g. 0,1,2 (default: the script's)")
    parser.add_argument("--out", default=None, help=f"output folder (default {OUT}, "
                                                    f"{OUT}/quick with --quick, "
                                                    f"{OUT}/seeds-0-1-2 with --seeds 0,1,2)")
    args = parser.parse_args(argv)
    if args.jobs < 2:
        parser.error(f"--jobs must be >= 2 to compare with the serial sweep, got {args.jobs}")
    return args


def timed_sweep(script: str, jobs: int, out: Path, options: list) -> dict:
    """Run one sweep in a fresh process (with the script's ``options``, e.g. ``--quick``); its
    wall time and who used the CPU meanwhile."""
    command = [sys.executable, script, "--jobs", str(jobs), "--threads", "1", "--quiet",
               "--out", str(out), *options]
    ticks, ours = cpu_ticks(), _children_cpu_seconds()
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after, ours = cpu_ticks(), _children_cpu_seconds() - ours
    result = {"command": " ".join(map(shlex.quote, ["python", *command[1:]])), "jobs": jobs,
              "wall_seconds": wall, "cpu_seconds": ours}
    if ticks is not None and after is not None:
        per_second = os.sysconf("SC_CLK_TCK")
        total = sum(after) - sum(ticks)
        busy = sum(a - b for i, (a, b) in enumerate(zip(after, ticks)) if i not in IDLE)
        result["others_share"] = max(0.0, busy / per_second - ours) * per_second / total
        result["steal_share"] = steal_fraction(ticks, after)
    return result


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def comparable_records(folder: Path) -> dict:
    """run_id -> record, without what depends on the clock or on how the run was placed."""
    records = {}
    for line in (folder / "results.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record.get("kind") != "run":
            continue
        history = dict(record["history"] or {})
        history["epochs"] = [{k: v for k, v in epoch.items() if k != "train_seconds"}
                             for epoch in history.get("epochs", [])]
        records[record["run_id"]] = {key: value for key, value in record.items()
                                     if key not in ("wall_seconds", "environment", "code")}
        records[record["run_id"]]["history"] = history
    return records


def markdown(serial: dict, parallel: dict, same: bool, count: int) -> str:
    def row(sweep):
        others = sweep.get("others_share")
        steal = sweep.get("steal_share")
        return (f"| `{sweep['command']}` | {sweep['wall_seconds']:.0f} s | "
                f"{sweep['cpu_seconds']:.0f} s | "
                f"{'-' if others is None else f'{100 * others:.1f}%'} | "
                f"{'-' if steal is None else f'{100 * steal:.1f}%'} |")

    ratio = parallel["wall_seconds"] / serial["wall_seconds"]
    return "\n".join([
        "| sweep | wall time | CPU time of the sweep | CPU taken by other processes | "
        "steal |", "|---|---|---|---|---|", row(serial), row(parallel), "",
        f"Wall time with {parallel['jobs']} jobs / serial: **{ratio:.2f}**. Records of the "
        f"{count} runs identical (all but timings and the environment): "
        f"**{'yes' if same else 'NO'}**.", ""])


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    options = (["--quick"] if args.quick else []) + (["--seeds", args.seeds] if args.seeds else [])
    out = Path(args.out) if args.out else OUT.joinpath(
        *(["quick"] if args.quick else []),
        *([f"seeds-{args.seeds.replace(',', '-')}"] if args.seeds else []))
    out.mkdir(parents=True, exist_ok=True)
    from benchmarks.machine import describe
    serial = timed_sweep(args.script, 1, out / "jobs1", options)
    parallel = timed_sweep(args.script, args.jobs, out / f"jobs{args.jobs}", options)
    first, second = (comparable_records(out / name) for name in ("jobs1", f"jobs{args.jobs}"))
    text = markdown(serial, parallel, first == second, len(first))
    machine = describe()
    header = [f"# Scaling: {args.script}", "",
              f"`python -m benchmarks.scaling {' '.join(map(shlex.quote, argv))}`"
              f" on {datetime.date.today()}: {machine['usable_cores']} usable cores, "
              f"{machine['cpu_model']}, NumPy {machine['numpy']}"
              + (f", kernels {machine['kernels']}" if "kernels" in machine else "") + ".", ""]
    (out / "results.md").write_text("\n".join(header) + text)
    (out / "results.json").write_text(json.dumps(
        {"serial": serial, "parallel": parallel, "identical": first == second,
         "machine": machine}, indent=2) + "\n")
    print("\n".join(header) + text)


if __name__ == "__main__":
    main()
