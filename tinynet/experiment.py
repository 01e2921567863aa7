"""What every example script shares: its command-line flags, and a results log that survives
interruption.

Each finished run is written at once to ``results.jsonl`` in the output folder (the file is
rewritten through a temporary file and a rename, so it is never half-written). ``--resume``
skips the runs already there; without it, an existing log is never overwritten. Ctrl-C or
SIGTERM during the runs ends the script with one line saying how many runs are kept.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy

import tinynet
from tinynet import backend


def add_common_arguments(parser: argparse.ArgumentParser, default_out: str) -> None:
    parser.add_argument("--backend", choices=("numpy", "cupy"), default="numpy",
                        help="where arrays live: numpy (CPU, default) or cupy (CUDA GPU)")
    parser.add_argument("--data-dir", default=None,
                        help="folder holding mnist/ and fashion-mnist/ (default: $TINYNET_DATA, "
                             "then the user cache, downloading there if needed)")
    parser.add_argument("--out", default=default_out, help=f"output folder (default {default_out})")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, split and shuffling")
    parser.add_argument("--epochs", type=int, default=None, help="override the number of epochs")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: a small subset of the data and 1 epoch")
    parser.add_argument("--resume", action="store_true",
                        help="keep the runs already in --out and do only the missing ones")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def setup_backend(parser: argparse.ArgumentParser, args) -> None:
    """Select and seed the backend, turning a missing CuPy/GPU into a one-line CLI error."""
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {args.epochs}")
    try:
        backend.use(args.backend)
    except backend.BackendError as exc:    # the flags were right: no usage text, one line
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    backend.seed(args.seed)
    backend.set_flush_denormal(True)    # a speed setting only: see its docstring


def environment() -> dict:
    """Versions and machine facts recorded with every run, so a result can be reproduced."""
    info = {"tinynet": tinynet.__version__, "backend": backend.name,
            "numpy": numpy.__version__, "python": platform.python_version(),
            "platform": platform.platform(), "cpu_count": os.cpu_count(),
            "flush_denormal": backend.flush_denormal_enabled()}
    if backend.name == "cupy":
        info["cupy"] = backend.xp.__version__
    return info


class RunLog:
    """The results of finished runs, one JSON object per line, keyed by ``run_id``."""

    def __init__(self, folder, resume: bool):
        self.folder = Path(folder)
        self.path = self.folder / "results.jsonl"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.records = self._read() if self.path.exists() else {}
        if self.records and not resume:
            sys.exit(f"{self.path} already holds {len(self.records)} finished runs: pass --resume "
                     f"to keep them and do only the missing ones, or choose another --out")

    def _read(self) -> dict:
        records = {}
        with open(self.path) as handle:
            for line_number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{self.path}, line {line_number}: not valid JSON ({exc}); "
                                     f"remove that line to resume") from exc
                records[record["run_id"]] = record
        return records

    def __contains__(self, run_id) -> bool:
        return run_id in self.records

    def add(self, record: dict) -> None:
        """Store one finished run and write the whole log atomically."""
        self.records[record["run_id"]] = record
        fd, tmp_path = tempfile.mkstemp(dir=self.folder, suffix=".jsonl.tmp")
        try:
            with os.fdopen(fd, "w") as handle:
                for each in self.records.values():
                    handle.write(json.dumps(each) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_path, self.path)
        except BaseException:
            if os.path.exists(tmp_path):
                os.remove(tmp_path)
            raise


def run_missing(log: RunLog, plan, train, label=lambda config: "") -> None:
    """Train every ``(run_id, config)`` of ``plan`` that ``log`` does not hold yet, and store each
    as soon as it finishes. ``train(config)`` returns ``(history, results)``: the run's History
    and a dict of what was measured after training (e.g. test accuracy). A diverged run is
    stored like any other (its history says where) and the next run starts.

    Ctrl-C or SIGTERM stops the run in progress (it is not stored) and exits with one line:
    the finished runs are in ``log`` already, and ``--resume`` does the rest."""
    with _exit_cleanly_on_interrupt(log):
        for key, config in plan:
            if key in log:
                continue
            print(f"{label(config) or key}: training", flush=True)
            started = time.perf_counter()
            history, results = train(config)
            log.add({"run_id": key, "config": config, "history": history.to_dict(),
                     "results": results, "wall_seconds": time.perf_counter() - started,
                     "environment": environment()})
            summary = ", ".join(f"{name} {value:.4f}" for name, value in results.items()
                                if isinstance(value, float))
            print(f"{label(config) or key}: {history.status}{', ' + summary if summary else ''}",
                  flush=True)


@contextlib.contextmanager
def _exit_cleanly_on_interrupt(log: RunLog):
    """Turn SIGTERM into KeyboardInterrupt (as Ctrl-C is), so that cleanup runs (``RunLog.add``
    removes its temporary file), then exit with one line instead of a traceback, with the
    status a shell gives a command killed by that signal (128 + signal number)."""
    received = []

    def on_sigterm(signum, frame):
        received.append(signum)
        raise KeyboardInterrupt

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, on_sigterm) if in_main_thread else None
    try:
        yield
    except KeyboardInterrupt:
        count = len(log.records)
        print(f"interrupted: {count} finished run{'' if count == 1 else 's'} kept in "
              f"{log.path}; rerun the same command with --resume to do the rest",
              file=sys.stderr, flush=True)
        raise SystemExit(128 + (received[0] if received else signal.SIGINT)) from None
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def command_line(script: str, argv) -> str:
    """The command that reproduces a report: ``python examples/<script> <arguments>``."""
    return " ".join(["python", f"examples/{script}", *map(shlex.quote, argv)])


def report_header(title: str, log: RunLog, command: str, session_seconds: float) -> list:
    """The first lines of every report.md: title, command, machine, versions and wall times."""
    env = next(iter(log.records.values()))["environment"]
    total = sum(record["wall_seconds"] for record in log.records.values())
    return [
        f"# {title}", "",
        f"Command: `{command}`  ",
        f"Machine: {env['cpu_count']} CPU cores, {env['platform']}; backend {env['backend']}, "
        f"tinynet {env['tinynet']}, numpy {env['numpy']}, Python {env['python']}.  ",
        f"Wall time: {total / 60:.1f} min summed over the {len(log.records)} runs "
        f"(training and evaluation); this invocation {session_seconds / 60:.1f} min.", "",
    ]
