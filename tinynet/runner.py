"""Experiments as declarations: what an experiment is, and everything it takes to run one.

An example script says what its experiment is and nothing else:

    experiment = Experiment(
        name="mlp_sweep", title="E3: one factor at a time", doc=__doc__,
        data=Data("mnist", flatten=True, val_fraction=0.2),
        plan=Plan(base={"lr": 0.01, "batch_size": 64, "epochs": 10},
                  groups=[Group("learning_rate", vary={"lr": [0.001, 0.01, 0.1]}),
                          Group("batch_size", vary={"batch_size": [16, 64, 256]})]),
        setup=setup,                 # config, datasets -> Setup(model, loss, optimizer, ...)
        report=[...],                # tinynet.report parts: sections, tables, figures
    )
    if __name__ == "__main__":
        experiment.main()

The runner owns the rest, once for every experiment: the command line (the same flags for
all), the cells of the plan and their run ids, quick mode, seeding, thread counts, the results
log (:mod:`tinynet.runlog`), per-epoch checkpoints and resuming, progress, parallel runs and
the report (:mod:`tinynet.report`).

Run ids read like ``lr=0.001-3fa2b9c1``: the settings that differ from the plan's base, then
the first 8 hex digits of the SHA-256 of the canonical configuration (sorted-key JSON). The
same configuration in two groups (E3's base appears in all five studies) is one run.

Library functions raise exceptions; only :meth:`Experiment.main` turns the expected ones into
one line on stderr and an exit status.
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import inspect
import itertools
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy
from tqdm.auto import tqdm

import tinynet
from tinynet import allocator, backend, parallel, threads
from tinynet.checkpoint import load_checkpoint, save_checkpoint
from tinynet.data import load_dataset, prepare_images, train_val_split
from tinynet.data import ChecksumError, DatasetNotFoundError, DownloadError, IdxError
from tinynet.data.datasets import DATASETS, find_split_files
from tinynet.runlog import LogError, RunLog, check_output_folder, pack_floats, unpack_floats
from tinynet.train import Callback, History, fit

SPEC_PAGE = "docs/experiments.md"


class ExperimentError(ValueError):
    """A command or declaration that cannot be run as given; the message says what to change."""


# --- what an experiment is ------------------------------------------------------------------

@dataclass(frozen=True)
class Data:
    """The datasets a run trains and evaluates on, as ``{name: (x, y)}``.

    ``dataset``: "mnist" or "fashion-mnist". Pixels are scaled to [0, 1], then normalised with
    ``mean`` and ``std`` if given; ``flatten`` gives (N, 784) rows, else (N, 1, 28, 28) images.
    ``val_fraction``: split the training set at random (seeded with the run's seed) into
    "train" and "val". ``test``: also load the official test split as "test".
    ``quick``: sample counts per dataset in quick mode (the first ones of each).
    """

    dataset: str = "mnist"
    mean: float = None
    std: float = None
    flatten: bool = False
    val_fraction: float = None
    test: bool = True
    quick: dict = field(default_factory=lambda: {"train": 2000, "val": 500, "test": 1000})

    def load(self, data_dir=None, seed: int = 0, quick: bool = False) -> dict:
        def prepared(split):
            images, labels = _verified_files(self.dataset, split, data_dir)
            return prepare_images(images, self.mean, self.std, flatten=self.flatten), labels

        sets = {"train": prepared("train")}
        if self.val_fraction is not None:
            sets["train"], sets["val"] = train_val_split(*sets["train"], self.val_fraction,
                                                         seed=seed)
        if self.test:
            sets["test"] = prepared("test")
        if quick:
            sets = {name: (x[:self.quick[name]], y[:self.quick[name]])
                    for name, (x, y) in sets.items()}
        return sets

    def describe(self, data_dir=None) -> dict:
        """Find and verify the files (downloading them if needed), before anything is
        written, and say where they are with their SHA-256, for the report."""
        info = DATASETS[self.dataset]
        files = {}
        for split in ("train", "test") if self.test else ("train",):
            _verified_files(self.dataset, split, data_dir)            # checks the SHA-256
            for path in find_split_files(info, split, data_dir, download=False):
                files[str(path)] = info.sha256[path.name if path.name in info.sha256
                                               else path.name + ".gz"]
        return {"dataset": self.dataset, "files": files}


@functools.lru_cache(maxsize=4)
def _verified_files(dataset: str, split: str, data_dir) -> tuple:
    """A split's images and labels, read and checked once per process: the driver's check
    before a sweep is also the data of its in-process runs (callers never change them)."""
    return load_dataset(dataset, split, data_dir=data_dir)


@dataclass(frozen=True)
class Group:
    """A set of cells: the product of the values in ``vary``, with ``set`` applied to each.
    ``--epochs`` / ``--set`` change the settings a cell has, except its ``pinned`` ones (E4's
    grid cells are one epoch by design). ``optional``: run only when named in ``--only``."""

    name: str
    vary: dict = field(default_factory=dict)
    set: dict = field(default_factory=dict)
    pinned: tuple = ()
    optional: bool = False

    def configs(self, base: dict, overrides: dict) -> list:
        keys = list(self.vary)
        cells = []
        for values in itertools.product(*self.vary.values()):
            config = {**base, **self.set, **dict(zip(keys, values))}
            config.update({key: value for key, value in overrides.items()
                           if key in config and key not in self.pinned})
            cells.append(config)
        return cells


@dataclass(frozen=True)
class Plan:
    """The base configuration and the groups of cells that vary it."""

    base: dict
    groups: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "groups", tuple(self.groups) or (Group("all"),))

    def group(self, name: str) -> Group:
        for group in self.groups:
            if group.name == name:
                return group
        raise ExperimentError(f"no group {name!r}: choose from {self.group_names()}")

    def group_names(self) -> str:
        return ", ".join(group.name for group in self.groups)


@dataclass
class Setup:
    """What one configuration trains: built by the experiment's ``setup(config, datasets)``,
    after the runner has seeded the backend with the configuration's seed.

    ``measure(history)``, if given, runs after training and returns a dict of what was measured
    (e.g. test accuracy); it sees whatever ``setup`` kept in its closure."""

    model: object
    loss: object
    optimizer: object
    train_loader: object
    epochs: int
    val_loader: object = None
    callbacks: list = field(default_factory=list)
    measure: Callable = None


@dataclass(frozen=True)
class Experiment:
    """One experiment, declared: see the module docstring. ``quick`` holds the configuration
    changes of ``--quick`` (default: one epoch); ``report`` is a list of
    :mod:`tinynet.report` parts."""

    name: str
    title: str
    doc: str
    data: Data
    plan: Plan
    setup: Callable
    report: list = ()
    quick: dict = field(default_factory=lambda: {"epochs": 1})

    def main(self, argv=None) -> None:
        """The command line: parse, run, report; expected errors end as one line on stderr
        and exit status 2, Ctrl-C or SIGTERM with status 130 (finished runs are kept)."""
        parser = command_line_parser(self)
        try:
            self.run(argv, parser)
        except KeyboardInterrupt:     # the status a shell gives a command killed by the signal
            raise SystemExit(128 + _sigterm_as_interrupt.received) from None
        except EXPECTED_ERRORS as exc:
            parser.exit(2, f"{parser.prog}: error: {_one_line(exc)}\n")

    def run(self, argv=None, parser=None):
        """Run the command ``argv`` (the script's arguments) and return the report's
        :class:`tinynet.report.Context` (None with ``--list``). Raises on errors."""
        parser = parser or command_line_parser(self)
        argv = sys.argv[1:] if argv is None else list(argv)
        return Sweep(self, parser.parse_args(argv), argv).run()

    def overrides(self, overrides=None, quick: bool = False) -> dict:
        """The settings changed for every run: ``--quick``'s, then the command line's."""
        return {**(self.quick if quick else {}), **(overrides or {})}

    def cells(self, only=(), overrides=None, seeds=(0,), quick: bool = False) -> list:
        """``(group name, config)`` of every run, in plan order: each cell once per seed."""
        overrides = {key: self._checked(key, value)
                     for key, value in self.overrides(overrides, quick).items()}
        groups = [self.plan.group(name) for name in only] if only else [
            group for group in self.plan.groups if not group.optional]
        return [(group.name, {**config, "seed": seed, "quick": quick})
                for group in groups for config in group.configs(self.plan.base, overrides)
                for seed in seeds]

    def _checked(self, key: str, value):
        """``value`` for setting ``key``, if it has the type of the plan's values (an int
        where the plan has floats becomes a float)."""
        examples = [self.plan.base[key]] if key in self.plan.base else []
        for group in self.plan.groups:
            examples += [group.set[key]] if key in group.set else list(group.vary.get(key, []))
        if not examples:
            raise ExperimentError(f"--set {key}: not a setting of {self.name}; settings: "
                                  f"{', '.join(sorted(self.plan.base))}")
        example = next((e for e in examples if e is not None), None)
        if isinstance(example, float) and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if example is not None and type(value) is not type(example):
            raise ExperimentError(f"--set {key}={value!r}: expected a value of type "
                                  f"{type(example).__name__}, like the plan's {key} = "
                                  f"{example!r}")
        return value


EXPECTED_ERRORS = (ExperimentError, LogError, DatasetNotFoundError, ChecksumError, IdxError,
                   DownloadError, backend.BackendError, parallel.ClusterError,
                   FileNotFoundError, PermissionError)


def one_line_errors(prog: str) -> None:
    """For a script that is not an :class:`Experiment` (the quickstart): its expected errors
    (no data, a damaged file, no GPU) end as one line on stderr and exit status 2; any other
    exception keeps its traceback, as a bug should."""
    def hook(kind, error, trace):
        if issubclass(kind, EXPECTED_ERRORS):
            print(f"{prog}: error: {_one_line(error)}", file=sys.stderr)
            sys.stderr.flush()
            os._exit(2)                   # an excepthook cannot choose the exit status
        default(kind, error, trace)

    default = sys.excepthook
    sys.excepthook = hook


def _one_line(exc: BaseException) -> str:
    """An error message on one line (a data error lists the folders it searched): its lines
    joined by "; ", or by a space after a line that already ends a clause ("Searched:")."""
    text = ""
    for line in (line.strip() for line in str(exc).splitlines()):
        if line:
            text += ("" if not text else " " if text[-1] in ":;,." else "; ") + line
    return text


# --- run ids --------------------------------------------------------------------------------

def canonical(config: dict) -> str:
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


def config_hash(config: dict) -> str:
    return hashlib.sha256(canonical(config).encode()).hexdigest()[:8]


def label(config: dict, base: dict) -> str:
    """The settings of ``config`` that differ from ``base``, e.g. ``lr=0.001,batch_size=16``
    (``base`` when none do), then the seed unless it is 0, the default. A run's label (and id)
    is the same whichever seeds the command ran, so ``--seeds 0,1,2 --resume`` adds seeds 1
    and 2 to a log of seed-0 runs without running seed 0 again."""
    changed = [f"{key}={_short(value)}" for key, value in config.items()
               if key not in ("seed", "quick") and base.get(key, _MISSING) != value]
    text = ",".join(changed) or "base"
    return f"{text},seed={config['seed']}" if config.get("seed", 0) != 0 else text


def run_id(config: dict, base: dict) -> str:
    return f"{label(config, base)}-{config_hash(config)}".replace(" ", "_").replace("/", "_")


_MISSING = object()


def _short(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# --- the command line -----------------------------------------------------------------------

def command_line_parser(experiment: Experiment) -> argparse.ArgumentParser:
    """The same flags for every experiment (generated here, once)."""
    cores = threads.usable_cores()
    parser = _OneLineParser(
        prog=f"{experiment.name}.py", description=experiment.doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"Groups: {experiment.plan.group_names()}. The experiment's specification: "
               f"{SPEC_PAGE}.")
    add = parser.add_argument
    add("--backend", choices=("numpy", "cupy"), default="numpy",
        help="where arrays live: numpy (CPU, default) or cupy (CUDA GPU)")
    add("--data-dir", default=None,
        help="folder holding mnist/ and fashion-mnist/ (default: $TINYNET_DATA, then the user "
             "cache, downloading there if needed)")
    add("--out", default=f"runs/{experiment.name}",
        help="output folder: results.jsonl, checkpoints, figures, report.md "
             "(default %(default)s)")
    add("--seed", type=int, default=None,
        help="seed of weights, split and shuffling (default 0)")
    add("--seeds", type=_seed_list, default=None, metavar="N[,N]",
        help="run every cell once per seed, e.g. --seeds 0,1,2 (the report shows the mean "
             "and the range over the seeds)")
    add("--epochs", type=_positive_int, default=None,
        help="override the number of epochs of every run (not where the plan pins it)")
    add("--set", action="append", default=[], metavar="KEY=VALUE", type=_key_value,
        help="override a setting of every run, e.g. --set lr=0.05 (repeatable)")
    add("--only", type=_names, default=(), metavar="GROUP[,GROUP]",
        help="run only these groups of the plan (default: all but the optional ones)")
    add("--list", action="store_true", help="print the runs of the plan and exit")
    add("--quick", action="store_true",
        help="smoke test: a small subset of the data and 1 epoch")
    add("--resume", action="store_true",
        help="keep the runs already in --out, continue an interrupted run from its last "
             "finished epoch, and do the missing ones")
    add("--jobs", type=_positive_int, default=None,
        help=f"runs side by side, each in its own process (default: the usable cores, {cores} "
             f"here; 1 runs them one after another in this process)")
    add("--threads", type=_positive_int, default=None,
        help="BLAS and kernel threads per run (default: cores / jobs); results are "
             "bit-identical only between runs with the same thread count")
    add("--cluster", default=None, metavar="ADDRESS",
        help="run on a Dask cluster: a scheduler address (tcp://host:8786) or local:N for N "
             "worker processes on this machine (needs pip install -e \".[cluster]\")")
    add("--quiet", action="store_true", help="no progress bars")
    return parser


class _OneLineParser(argparse.ArgumentParser):
    """A flag error is one line, like every other expected error (no usage block)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (--help lists the flags)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _key_value(text: str):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value                     # a bare word: a string setting


def _seed_list(text: str) -> tuple:
    try:
        seeds = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas, got "
                                         f"{text!r}") from None
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"a seed appears twice in {text!r}")
    return seeds


def _names(text: str) -> tuple:
    return tuple(part.strip() for part in text.split(",") if part.strip())


# --- one run (in this process or in a worker) -----------------------------------------------

@dataclass
class Job:
    """Everything a process needs to do one run and return its record."""

    run_id: str
    label: str
    config: dict
    data: Data
    setup: Callable
    data_dir: str = None
    backend: str = "numpy"
    threads: int = 1
    checkpoint: str = None           # path of the run's checkpoint (None: no checkpoints)
    progress: bool = False
    code: dict = None                # the driver's commit of tinynet, recorded with the run


class _CheckpointEachEpoch(Callback):
    """Saves everything a resumed run needs at the end of every epoch (it runs after the
    experiment's own callbacks, so their state of this epoch is in it)."""

    def __init__(self, path, setup: Setup, started: float, seconds_before: float):
        self.path, self.setup = path, setup
        self.started, self.seconds_before = started, seconds_before

    def on_epoch_end(self, epoch, record, history):
        save_checkpoint(self.path, self.setup.model, self.setup.optimizer,
                        self.setup.train_loader, callbacks=self.setup.callbacks,
                        history=_packed_history(history),
                        wall_seconds=self.seconds_before + time.perf_counter() - self.started)
        return False


_DATA_CACHE = {}


def _datasets(job: Job) -> dict:
    """A worker loads each dataset once and keeps it for the runs that follow."""
    key = (repr(job.data), job.data_dir, job.config["seed"], job.config["quick"], backend.name)
    if key not in _DATA_CACHE:
        _DATA_CACHE.clear()
        _DATA_CACHE[key] = job.data.load(job.data_dir, job.config["seed"], job.config["quick"])
    return _DATA_CACHE[key]


def execute(job: Job) -> dict:
    """Do one run (continuing it from its checkpoint if there is one) and return its record."""
    if backend.name != job.backend:
        backend.use(job.backend)
    if job.backend == "cupy" and os.environ.get("TINYNET_DEVICE"):    # a pool's worker i
        backend.xp.cuda.Device(int(os.environ["TINYNET_DEVICE"])).use()
    threads.set_threads(job.threads)
    backend.set_flush_denormal(True)           # a speed setting only: see its docstring
    allocator.keep_freed_memory()              # no page faults at every step: see its module
    datasets = _datasets(job)
    backend.seed(job.config["seed"])
    setup = job.setup(dict(job.config), datasets)
    history, seconds_before = None, 0.0
    checkpoint = Path(job.checkpoint) if job.checkpoint else None
    if checkpoint is not None and checkpoint.exists():
        info = load_checkpoint(checkpoint, setup.model, setup.optimizer, setup.train_loader,
                               callbacks=setup.callbacks)
        history, seconds_before = unpacked_history(info["history"]), info["wall_seconds"]
    started = time.perf_counter()
    callbacks = list(setup.callbacks)
    if checkpoint is not None:
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        callbacks.append(_CheckpointEachEpoch(checkpoint, setup, started, seconds_before))
    with numpy.errstate(over="ignore", invalid="ignore"):    # a diverging run is reported
        history = fit(setup.model, setup.loss, setup.optimizer, setup.train_loader,  # by fit
                      setup.epochs, setup.val_loader, callbacks=callbacks,
                      progress=job.progress, description=job.label[:22], history=history)
    results = setup.measure(history) if setup.measure is not None else {}
    return {"run_id": job.run_id, "label": job.label, "config": job.config,
            "status": history.status, "history": _packed_history(history),
            "results": results,
            "wall_seconds": seconds_before + time.perf_counter() - started,
            "environment": environment(job.threads), "code": job.code}


def _packed_history(history: History) -> dict:
    data = history.to_dict()
    data["step_loss"] = pack_floats(data["step_loss"])
    return data


def unpacked_history(data: dict) -> History:
    """The :class:`History` of a record or checkpoint (step losses stored packed)."""
    return History.from_dict({**data, "step_loss": unpack_floats(data["step_loss"])})


def environment(thread_count: int = None) -> dict:
    """Versions and machine facts recorded with every run, so that it can be reproduced."""
    info = {"tinynet": tinynet.__version__, "backend": backend.name,
            "numpy": numpy.__version__, "python": platform.python_version(),
            "platform": platform.platform(), "cpu_count": os.cpu_count(),
            "threads": thread_count or threads.current(),
            "flush_denormal": backend.flush_denormal_enabled()}
    kernels = sys.modules.get("tinynet.kernels")
    if kernels is not None and hasattr(kernels, "active"):
        info["kernels"] = kernels.active()
    if backend.name == "cupy":
        info["cupy"] = backend.xp.__version__
    return info


def code_version() -> dict:
    """The git commit of the tinynet source that runs, and whether its tree was clean
    (``None`` outside a git checkout)."""
    folder = Path(tinynet.__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"],
                                capture_output=True, text=True, timeout=10)
        status = subprocess.run(["git", "-C", str(folder), "status", "--porcelain",
                                 "--untracked-files=no"], capture_output=True, text=True,
                                timeout=10)
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "clean": None}
    if commit.returncode != 0:
        return {"commit": None, "clean": None}
    return {"commit": commit.stdout.strip(), "clean": status.stdout.strip() == ""}


# --- a sweep: every missing run of one command -----------------------------------------------

class Sweep:
    """One invocation of an experiment: checks everything that can be checked before any run
    trains, then runs what is missing, one record at a time into the log, and writes the
    report."""

    def __init__(self, experiment: Experiment, options, argv=()):
        self.experiment, self.options = experiment, options
        self.command = " ".join(["python", _script_of(experiment), *map(shlex.quote, argv)])
        overrides = dict(options.set)
        if options.epochs is not None:
            overrides["epochs"] = options.epochs
        self.overrides = overrides
        if options.seed is not None and options.seeds is not None:
            raise ExperimentError("give --seed or --seeds, not both")
        self.seeds = options.seeds or (0 if options.seed is None else options.seed,)
        self.cells = experiment.cells(options.only, overrides, self.seeds, options.quick)
        base = {**experiment.plan.base, **experiment.overrides(overrides, options.quick)}
        self.ids = [run_id(config, base) for _, config in self.cells]
        self.labels = [label(config, base) for _, config in self.cells]
        self.out = Path(options.out)
        self.jobs = options.jobs or threads.usable_cores()
        self.threads = options.threads or (1 if options.cluster else
                                           max(1, threads.usable_cores() // self.jobs))

    def settings(self) -> dict:
        """What a resumed log must have been written with. Not the seeds: a log may hold
        several (``--seeds 0,1,2 --only lr --resume`` adds seeds to one group's cells)."""
        return {"quick": self.options.quick,
                "epochs": self.options.epochs, "set": dict(self.options.set)}

    def run(self) -> None:
        options = self.options
        if options.list:
            for (group, _), key in zip(self.cells, self.ids):
                print(f"{group}: {key}")
            return
        check_output_folder(self.out)
        backend.use(options.backend)               # a missing CuPy or GPU: stop here
        self.data_info = self._data_info()
        runs = parallel.executor(self.jobs, options.cluster)     # a wrong --cluster: here
        try:
            with RunLog(self.out, self.experiment.name, self.settings(), options.resume) as log:
                self._run_missing(log, runs)
        finally:
            runs.close()
        from tinynet.report import write_report    # the report layer sits above the runner
        context = write_report(self.experiment, self, self.out)
        print(f"report: {context.path}")
        return context

    def _data_info(self):
        """Where the data is, checked before anything is written. On a cluster the workers
        load their own copies, so the driver may have none."""
        try:
            return self.experiment.data.describe(self.options.data_dir)
        except DatasetNotFoundError:
            if self.options.cluster:
                return None
            raise

    def _run_missing(self, log: RunLog, runs) -> None:
        unique = dict(zip(self.ids, (config for _, config in self.cells)))
        todo = [key for key in unique if key not in log or log.records[key]["status"] == "failed"]
        if self.options.resume:
            partial = [key for key in todo if self._checkpoint(key).exists()]
            print(f"resuming {log.path}: {len(unique) - len(todo)} of {len(unique)} runs done, "
                  f"{len(todo)} to do" + (f" ({len(partial)} continue from a checkpoint)"
                                          if partial else ""), flush=True)
        if not todo:             # nothing to run: the log is unchanged, only the report is new
            return
        code = code_version()
        log.add_invocation({"command": self.command, "started": time.strftime("%Y-%m-%d %H:%M"),
                            "code": code, "data": self.data_info,
                            "seeds": list(self.seeds), "jobs": self.jobs, "threads": self.threads,
                            "runs": len(todo)})
        labels = dict(zip(self.ids, self.labels))
        jobs = [Job(key, labels[key], unique[key], self.experiment.data, self.experiment.setup,
                    self.options.data_dir, self.options.backend, self.threads,
                    str(self._checkpoint(key)), progress=not self.options.quiet, code=code)
                for key in todo]
        if self.jobs > 1 or self.options.cluster:      # the longest first: the last to end is
            jobs = sorted(jobs, key=lambda job: -estimated_steps(job.config))   # a short one
        bar = tqdm(total=len(jobs), desc="runs", unit="run", disable=self.options.quiet or None,
                   dynamic_ncols=True)
        try:
            with _sigterm_as_interrupt():
                for done, record in enumerate(runs.run(jobs), 1):
                    log.add(record)
                    self._checkpoint(record["run_id"]).unlink(missing_ok=True)
                    bar.update(1)
                    tqdm.write(f"[{done}/{len(jobs)}] {summary(record)}")
                    if record["status"] == "failed" and "traceback" in record["results"]:
                        tqdm.write(record["results"]["traceback"], file=sys.stderr)
        except KeyboardInterrupt:
            print(f"interrupted: {len(log.records)} finished runs kept in {log.path}; the "
                  f"runs in progress keep their last finished epoch. Rerun the same command "
                  f"with --resume to continue.", file=sys.stderr, flush=True)
            raise
        finally:
            bar.close()
            _remove_empty(self.out / "checkpoints")

    def _checkpoint(self, key: str) -> Path:
        return self.out / "checkpoints" / f"{key}.npz"


def estimated_steps(config: dict) -> float:
    """How long a run is, roughly, for starting the longest first on several workers: its
    epochs (``max_epochs`` where a run may stop early) over its batch size."""
    epochs = config.get("max_epochs", config.get("epochs", 1))
    batch_size = config.get("batch_size", 1)
    numbers = all(isinstance(v, (int, float)) for v in (epochs, batch_size))
    return epochs / batch_size if numbers and batch_size else 0.0


def _script_of(experiment: Experiment) -> str:
    """The file that declares ``experiment``, relative to the current folder if inside it."""
    try:
        path = Path(inspect.getfile(experiment.setup)).resolve()
    except TypeError:
        return f"{experiment.name}.py"
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def summary(record: dict) -> str:
    """One line per finished run: its label, status and key metrics."""
    epochs = (record.get("history") or {}).get("epochs")     # the step losses stay packed
    parts = [record.get("label", record["run_id"]), record["status"]]
    if record["status"] == "failed":
        parts.append(record["results"].get("error", ""))
    elif epochs:
        last = epochs[-1]
        parts += [f"{key} {100 * last[key]:.2f}%" for key in ("train_acc", "val_acc")
                  if key in last]
    parts += [f"{key} {100 * value:.2f}%" for key, value in record["results"].items()
              if key.endswith("_acc") and isinstance(value, float)]
    parts.append(f"{record['wall_seconds']:.0f} s")
    return ", ".join(str(part) for part in parts if part != "")


def _remove_empty(folder: Path) -> None:
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


class _sigterm_as_interrupt:
    """SIGTERM (a batch system stopping the job) handled as Ctrl-C: finished runs are kept.
    ``received`` is the signal that stopped the sweep (SIGINT unless SIGTERM arrived)."""

    received = signal.SIGINT

    def __enter__(self):
        _sigterm_as_interrupt.received = signal.SIGINT
        self.previous = signal.signal(signal.SIGTERM, self._raise)
        return self

    def __exit__(self, *exc_info):
        signal.signal(signal.SIGTERM, self.previous)

    @staticmethod
    def _raise(signum, frame):
        _sigterm_as_interrupt.received = signum
        raise KeyboardInterrupt
