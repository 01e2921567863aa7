"""The report kit: an experiment's report declared as parts, rendered to ``report.md``.

    report = [
        Text("Base: Adam lr 0.01, batch 64."),
        Section("learning rate",
                Table(cells_of("learning_rate"),
                      Column("lr", setting("lr")),
                      *over_seeds("final val acc (%)", final("val_acc"),
                                  lambda cell: ORIGINAL_LR[cell.config["lr"]])),
                Figure("lr_val_acc.png", lambda ctx: plot_epoch_metric(
                    ctx.histories("learning_rate"), ...)),
                group="learning_rate"),
    ]

A table's rows are usually cells: a configuration with its runs over the seeds of
``--seeds``. Its columns show the mean over the seeds, their min-max range, how many seeds ran,
the original's number and whether that lies inside our range (:func:`over_seeds`); with one
seed the range is that run's value. Under such a table the report says, computed from its rows,
how far apart the seeds landed (:func:`seed_spread`) and how many cells agree with the
original (:func:`agreement`), so that no sentence has to be written by hand about either.
Figures plot the first seed's run of each cell.

Every report starts with the same header (title, a smoke-run warning in quick mode, the
command of every invocation that wrote to the log with the commit of its code, the seeds per
cell, the machine, versions, the data files and their SHA-256, wall time). A value of ``None``
shows as "-".
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tinynet.runlog import RunLog
from tinynet.runner import canonical, code_version, unpacked_history
from tinynet.train import History


class RunRecord:
    """Typed access to one record of the results log."""

    def __init__(self, record: dict):
        self.record = record
        self.run_id, self.config = record["run_id"], record["config"]
        self.label, self.status = record.get("label", self.run_id), record["status"]
        self.results = record.get("results") or {}
        self.environment = record.get("environment", {})
        self.wall_seconds = record.get("wall_seconds", 0.0)
        self._history = None

    @property
    def history(self) -> History:
        if self._history is None:
            self._history = unpacked_history({"step_loss": [],
                                              **(self.record.get("history") or {})})
        return self._history

    def final(self, key: str):
        """``key``'s value after the last epoch (None if no epoch finished)."""
        return self.history.last(key)

    def best(self, key: str):
        values = [epoch[key] for epoch in self.history.epochs if key in epoch]
        return max(values) if values else None

    def value(self, key: str):
        """A measured result (``results[key]``), else the last epoch's value."""
        return self.results[key] if key in self.results else self.final(key)

    @property
    def seconds_per_epoch(self):
        epochs = self.history.epochs
        return sum(e["train_seconds"] for e in epochs) / len(epochs) if epochs else None

    @property
    def status_text(self) -> str:
        if self.status == "diverged":
            return f"diverged at step {self.history.diverged_at_step}"
        if self.status == "failed":
            return f"failed: {self.results.get('error', '')}"
        return self.status


@dataclass
class Cell:
    """The runs of one configuration, one per seed: ``config`` (without the seed) and the
    statistics of a value over the seeds."""

    runs: list

    @property
    def config(self) -> dict:
        return {k: v for k, v in self.runs[0].config.items() if k != "seed"}

    @property
    def seeds(self) -> list:
        return [run.config.get("seed") for run in self.runs]

    @property
    def label(self) -> str:
        """The runs' label without the seed: ``lr=0.1`` for ``lr=0.1,seed=2``."""
        first = self.runs[0]
        return first.label.removesuffix(f",seed={first.config.get('seed')}")

    @property
    def status_text(self) -> str:
        """Each status of the runs once: "completed", "completed, diverged at step 40"."""
        return ", ".join(sorted({run.status_text for run in self.runs}))

    def values(self, get: Callable) -> list:
        """``get(run)`` of every run that has the value (None: it has not)."""
        return [value for value in map(get, self.runs) if value is not None]

    def mean(self, get: Callable):
        values = self.values(get)
        return sum(values) / len(values) if values else None

    def range(self, get: Callable):
        """(min, max) over the seeds; None if no run has the value or one is NaN."""
        values = self.values(get)
        if not values or any(math.isnan(value) for value in values):
            return None
        return min(values), max(values)


def without_seed(config: dict) -> str:
    """A cell's key: its configuration without the seed."""
    return canonical({key: value for key, value in config.items() if key != "seed"})


def has_settings(config: dict, settings: dict) -> bool:
    """Whether ``config`` has every value of ``settings`` (e.g. ``{"lr": 0.1}``)."""
    return all(config.get(key) == value for key, value in settings.items())


class Context:
    """What report parts see: the runs in the log of this sweep's cells (with every seed the
    log holds for them, not only the seeds of this command), the data, and the output folder."""

    def __init__(self, experiment, sweep, log: RunLog, out: Path):
        self.experiment, self.sweep, self.log, self.out = experiment, sweep, log, out
        self.quick = sweep.options.quick
        self.groups = dict.fromkeys(group for group, _ in sweep.cells)   # in plan order
        self._by_group, self.failed = {}, {}
        seeds_of_cell = {}
        for key, record in sorted(log.records.items(), key=lambda item: item[1]["config"].get(
                "seed", 0)):
            seeds_of_cell.setdefault(without_seed(record["config"]), []).append(key)
        for group, config in sweep.cells:
            for key in seeds_of_cell.get(without_seed(config), []):
                run = RunRecord(log.records[key])
                if run.status == "failed":     # no history: listed in the header, not tabled
                    self.failed[key] = run
                else:
                    self._by_group.setdefault(group, {})[key] = run
        self._data = None
        self.figures = {}              # file name -> the matplotlib Figure drawn for it
        self.path = out / "report.md"

    def runs(self, group: str = None) -> list:
        """The finished runs of ``group`` (of every group if None), in plan order."""
        if group is not None:
            return list(self._by_group.get(group, {}).values())
        unique = {}
        for runs in self._by_group.values():
            unique.update(runs)
        return list(unique.values())

    def cells(self, group: str = None) -> list:
        """The finished runs of ``group`` gathered by cell (one run per seed), in plan order."""
        cells = {}
        for run in self.runs(group):
            key = without_seed(run.config)
            cells.setdefault(key, Cell([])).runs.append(run)
        return list(cells.values())

    def histories(self, group: str = None, name=lambda cell: cell.label, **settings) -> dict:
        """``{name(cell): history}`` of the first seed's run of each cell of ``group`` whose
        configuration has ``settings``: what a figure plots, one curve per cell."""
        return {name(cell): cell.runs[0].history for cell in self.cells(group)
                if has_settings(cell.config, settings)}

    def cell(self, group: str = None, **settings):
        """The first cell of ``group`` whose configuration has ``settings``, or None."""
        return next((cell for cell in self.cells(group)
                     if has_settings(cell.config, settings)), None)

    def run(self, group: str = None, **settings):
        """The first run of ``group`` whose configuration has ``settings``, or None."""
        return next((run for run in self.runs(group) if has_settings(run.config, settings)),
                    None)

    def data(self) -> dict:
        """The datasets, as a run saw them (loaded on first use)."""
        if self._data is None:
            options = self.sweep.options
            self._data = self.experiment.data.load(options.data_dir, self.sweep.seeds[0],
                                                   self.quick)
        return self._data

    @property
    def samples(self) -> dict:
        return {name: len(y) for name, (_, y) in self.data().items()}


# --- parts ----------------------------------------------------------------------------------

@dataclass
class Text:
    """A paragraph: a string, or a function of the context that returns one."""

    text: object

    def render(self, ctx: Context) -> list:
        return [self.text(ctx) if callable(self.text) else self.text, ""]


@dataclass
class Code(Text):
    """A block shown verbatim (in a fenced code block)."""

    def render(self, ctx: Context) -> list:
        return ["```", *Text.render(self, ctx)[:1], "```", ""]


@dataclass
class Column:
    """A table column: ``get(row)`` gives the value, ``fmt`` shows it: "pct" (a fraction shown
    in %), "num" (4 decimals), "s" (seconds, 1 decimal), "int", "count" (a mean of counts: 1
    decimal unless whole), "text", or a function.
    ``summary(rows)``, if given, is a sentence printed under the table (e.g. how many rows
    agree with the original)."""

    header: str
    get: Callable
    fmt: object = "text"
    summary: Callable = None

    def cell(self, row) -> str:
        return show(self.get(row), self.fmt)


@dataclass
class Table:
    """Rows from ``rows(ctx)`` (usually :class:`RunRecord` objects), one column per
    :class:`Column`."""

    rows: Callable
    columns: list

    def __init__(self, rows, *columns):
        self.rows, self.columns = rows, list(columns)

    def render(self, ctx: Context) -> list:
        rows = list(self.rows(ctx) if callable(self.rows) else self.rows)   # read twice
        lines = ["| " + " | ".join(column.header for column in self.columns) + " |",
                 "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(column.cell(row) for column in self.columns) + " |"
                  for row in rows]
        summaries = [text for column in self.columns if column.summary
                     for text in [column.summary(rows)] if text]
        return [*lines, "", *([" ".join(summaries), ""] if summaries else [])]


@dataclass
class Figure:
    """A figure drawn by ``draw(ctx)`` (a function returning a matplotlib Figure, see
    :mod:`tinynet.plots`), written to ``file`` in the output folder and shown in the report."""

    file: str
    draw: Callable
    caption: str = ""

    def render(self, ctx: Context) -> list:
        figure = self.draw(ctx)
        if figure is None:
            return []
        figure.savefig(ctx.out / self.file, dpi=110)
        ctx.figures[self.file] = figure
        return [f"![{self.caption or self.file}]({self.file})", ""]


@dataclass
class Section:
    """A titled part of the report; with ``group``, shown only when that group was run."""

    title: object
    parts: list = field(default_factory=list)
    group: str = None

    def __init__(self, title, *parts, group=None):
        self.title, self.parts, self.group = title, list(parts), group

    def render(self, ctx: Context) -> list:
        if self.group is not None and self.group not in ctx.groups:
            return []
        title = self.title(ctx) if callable(self.title) else self.title
        lines = [f"## {title}", ""]
        for part in self.parts:
            lines += part.render(ctx)
        return lines


# --- helpers for declarations ---------------------------------------------------------------

def runs_of(group: str = None) -> Callable:
    """Rows: the finished runs of a group, in plan order."""
    return lambda ctx: ctx.runs(group)


def setting(key: str) -> Callable:
    return lambda run: run.config.get(key)


def final(key: str) -> Callable:
    return lambda run: run.final(key)


def value(key: str) -> Callable:
    return lambda run: run.value(key)


def over_seeds(header: str, get: Callable, original: Callable = None, fmt="pct") -> list:
    """Columns for :class:`Cell` rows: the mean of ``get(run)`` over the seeds, their min-max
    range and how many seeds ran; with ``original`` (a function of the cell), also the
    original's number and a verdict (see :func:`verdict`). With one seed the range is that
    run's value."""
    columns = [Column(f"{header}, mean", lambda cell: cell.mean(get), fmt),
               Column("min-max over seeds", lambda cell: spread(cell, get, fmt),
                      summary=lambda cells: seed_spread(cells, get, fmt, quiet=True)),
               Column("seeds", lambda cell: len(cell.runs))]
    if original is None:
        return columns
    return [*columns,
            Column("original", lambda cell: show_original(original(cell), fmt)),
            Column("original vs our range", lambda cell: verdict(cell, get, original(cell), fmt),
                   summary=lambda cells: agreement(cells, get, original, fmt))]


def mean_of(header: str, get: Callable, fmt="pct") -> Column:
    """A column for :class:`Cell` rows: the mean of ``get(run)`` over the seeds."""
    return Column(header, lambda cell: cell.mean(get), fmt)


def status_and_time(per: str = "epoch") -> list:
    """Two columns for :class:`Cell` rows: each status of the runs, and their mean time in
    seconds per epoch of training (``per="epoch"``) or per run, evaluation included ("run")."""
    time = (mean_of("s/epoch", lambda run: run.seconds_per_epoch, "s") if per == "epoch" else
            mean_of("time per run (s)", lambda run: run.wall_seconds, "s"))
    return [Column("status", lambda cell: cell.status_text), time]


EPOCH_COLUMNS = {"train_loss": ("train loss", "num"), "train_acc": ("train acc (%)", "pct"),
                 "val_loss": ("val loss", "num"), "val_acc": ("val acc (%)", "pct"),
                 "train_seconds": ("seconds", "s")}


def epochs_table(group: str, *keys: str) -> Table:
    """The values ``keys`` (see ``EPOCH_COLUMNS``) after each epoch of the first seed's run of
    ``group`` (of any group if None): a table of one run, like a figure's curves."""
    return Table(lambda ctx: ctx.runs(group)[0].history.epochs if ctx.runs(group) else [],
                 Column("epoch", lambda epoch: epoch["epoch"]),
                 *[Column(EPOCH_COLUMNS[key][0], lambda epoch, key=key: epoch.get(key),
                          EPOCH_COLUMNS[key][1]) for key in keys])


@dataclass
class Measure:
    """A quantity of a single cell, for :func:`measures`: ``get(run)`` gives our value, the
    original's number (or None) is in the unit shown (percent for "pct")."""

    what: str
    get: Callable
    original: float = None
    fmt: str = "pct"


def measures(group: str, *rows: Measure) -> Table:
    """A table with one row per :class:`Measure` of the (only) cell of ``group``: its mean over
    the seeds, min-max range, seeds, the original's number and the verdict."""
    def lines(ctx):
        cells = ctx.cells(group)
        return [(cells[0], row) for row in rows] if cells else []

    return Table(lines, Column("", lambda r: r[1].what),
                 Column("mean over seeds", lambda r: show(r[0].mean(r[1].get), r[1].fmt)),
                 Column("min-max over seeds", lambda r: spread(r[0], r[1].get, r[1].fmt)),
                 Column("seeds", lambda r: len(r[0].runs)),
                 Column("original", lambda r: show_original(r[1].original, r[1].fmt)),
                 Column("original vs our range",
                        lambda r: verdict(r[0], r[1].get, r[1].original, r[1].fmt)))


def spread(cell: Cell, get: Callable, fmt="pct") -> str:
    """The min-max range of ``get(run)`` over the cell's seeds, e.g. "97.12-97.48"."""
    span = cell.range(get)
    return "-" if span is None else f"{show(span[0], fmt)}-{show(span[1], fmt)}"


DECIMALS = {"pct": 2, "2f": 2, "num": 4}     # decimals a format shows


def distance(cell: Cell, get: Callable, original, fmt="pct"):
    """How far the original's number lies outside the range of ``get(run)`` over the seeds, in
    the unit shown (points of percent for "pct"): 0.0 inside (or overlapping, for an original
    (low, high) range), positive above, negative below; None without a value or an original.
    Both sides are rounded to the decimals shown first, so the verdict agrees with the table."""
    span = cell.range(get)
    if span is None or original is None:
        return None
    scale, decimals = (100 if fmt == "pct" else 1), DECIMALS.get(fmt, 12)
    low, high = (round(scale * value, decimals) for value in span)
    theirs_low, theirs_high = (round(value, decimals) for value in (
        original if isinstance(original, tuple) else (original, original)))
    if theirs_high < low:
        return round(theirs_high - low, decimals)
    if theirs_low > high:
        return round(theirs_low - high, decimals)
    return 0.0


def verdict(cell: Cell, get: Callable, original, fmt="pct") -> str:
    """Where the original's number lies against the range of ``get(run)`` over the seeds:
    "inside", or how far outside ("+1.20 above", "-0.40 below"). ``original`` is in the unit
    shown (percent for "pct"); a (low, high) range of the original's "overlaps" ours or not."""
    gap = distance(cell, get, original, fmt)
    if gap is None:
        return "-"
    if gap == 0:
        return "overlaps" if isinstance(original, tuple) else "inside"
    digits = f"+.{DECIMALS[fmt]}f" if fmt in DECIMALS else "+g"
    return f"{gap:{digits}} {'above' if gap > 0 else 'below'}"


def short_labels(cells: list) -> list:
    """Each cell named by the settings that differ between the cells (``lr=0.1,batch_size=64``
    where the table also has other lrs and batch sizes), or by its label if none do."""
    configs = [cell.config for cell in cells]
    keys = [key for key in dict.fromkeys(k for config in configs for k in config)
            if len({repr(config.get(key)) for config in configs}) > 1]
    return [",".join(f"{key}={config.get(key)}" for key in keys) or cell.label
            for cell, config in zip(cells, configs)]


def agreement(cells: list, get: Callable, original: Callable, fmt="pct", near=None) -> str:
    """One sentence that counts the verdicts of a table: of the cells with an original number,
    how many it lies inside of our range over the seeds, how many within ``near`` of it (by
    default half a point for percentages, else nothing), and which lie further, with their
    distances. "" when no cell has an original number."""
    near = (0.5 if fmt == "pct" else 0) if near is None else near
    gaps = [(cell, distance(cell, get, original(cell), fmt)) for cell in cells]
    gaps = [(cell, gap) for cell, gap in gaps if gap is not None]
    if not gaps:
        return ""
    inside = sum(gap == 0 for _, gap in gaps)
    close = sum(0 < abs(gap) <= near for _, gap in gaps)
    names = short_labels([cell for cell, _ in gaps])
    far = [f"{name} ({verdict(cell, get, original(cell), fmt)})"
           for name, (cell, gap) in zip(names, gaps) if abs(gap) > near]
    unit = " points" if fmt == "pct" else ""
    text = (f"Of the {len(gaps)} cells with an original number, it lies inside our range over "
            f"the seeds for {inside}" + (f" and within {near:g}{unit} of it for {close}"
                                         if near else ""))
    return text + (f"; further for {len(far)}: {', '.join(far)}." if far else "; none further.")


def seed_spread(cells: list, get: Callable, fmt="pct", widest=2, quiet=False) -> str:
    """One sentence on the seed noise of a table: how far apart the seeds of a cell land
    (max - min of ``get(run)``, in the unit shown), from the closest cell to the widest, the
    median cell, and the ``widest`` cells by name. With one seed per cell: a sentence saying
    so, or "" if ``quiet``."""
    scale = 100 if fmt == "pct" else 1
    widths = sorted(((scale * (span[1] - span[0]), name) for cell, name in zip(
        cells, short_labels(cells)) if len(cell.runs) > 1 and (span := cell.range(get))
        is not None), reverse=True)
    if not widths:
        return "" if quiet else "Each cell ran with one seed: the tables show no seed noise."
    form = f".{DECIMALS[fmt]}f" if fmt in DECIMALS else "g"       # counts (epochs) as they are
    unit = " points" if fmt == "pct" else ""
    median = widths[len(widths) // 2][0]
    named = ", ".join(f"{label} ({width:{form}})" for width, label in widths[:widest])
    return (f"Over the seeds, a cell's value spans {widths[-1][0]:{form}} to "
            f"{widths[0][0]:{form}}{unit} (max - min; the median cell {median:{form}}); the "
            f"widest: {named}.")


def final_and_best(cell: Cell, key: str) -> str:
    """"final 69.93-72.82%, best epoch 80.27% on average": how the last epoch's ``key`` (a
    fraction) over the seeds compares with the best epoch's, for runs that do not settle.
    "not run" for a cell the sweep left out (``--only``)."""
    if cell is None:
        return "not run"
    span, best = cell.range(final(key)), cell.mean(lambda run: run.best(key))
    if span is None or best is None:
        return "no finished epoch"
    low, high = span
    return f"final {100 * low:.2f}-{100 * high:.2f}%, best epoch {100 * best:.2f}% on average"


def show_original(value, fmt="pct") -> str:
    """The original's number (or (low, high) range), given in the unit shown: percent for
    "pct", so shown with 2 decimals."""
    fmt = "2f" if fmt == "pct" else fmt
    if isinstance(value, tuple):
        return f"{show(value[0], fmt)}-{show(value[1], fmt)}"
    return show(value, fmt)


def cells_of(group: str = None) -> Callable:
    """Rows: the cells of a group (their runs over every seed), in plan order."""
    return lambda ctx: ctx.cells(group)


def show(value, fmt="text") -> str:
    """A value as a table cell; None (and NaN) show as "-"."""
    if value is None or isinstance(value, float) and math.isnan(value):
        return "-"
    if callable(fmt):
        return fmt(value)
    if fmt == "pct":
        return f"{100 * value:.2f}"
    if fmt == "num":
        return f"{value:.4f}"
    if fmt == "s":
        return f"{value:.1f}"
    if fmt == "2f":
        return f"{value:.2f}"
    if fmt == "int":
        return f"{value:,.0f}"
    if fmt == "count":                       # a count, or a mean of counts: "117", "14.7"
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    return f"{value:g}" if isinstance(value, float) else str(value)


# --- the report ------------------------------------------------------------------------------

def write_report(experiment, sweep, out) -> Context:
    """Render ``experiment.report`` from the log in ``out`` to ``out/report.md``; return the
    context, whose ``figures`` hold what was drawn (tests read their lines)."""
    ctx = Context(experiment, sweep, RunLog.read(out), Path(out))
    lines = header(ctx)
    for part in experiment.report:
        lines += part.render(ctx)
    ctx.path.write_text("\n".join(lines).rstrip("\n") + "\n")
    return ctx


def header(ctx: Context) -> list:
    """Title, smoke-run warning, commands with their commits, seeds per cell, machine, data,
    wall time."""
    experiment, runs = ctx.experiment, ctx.runs()
    lines = [f"# {experiment.title}", ""]
    if ctx.quick:
        counts = ", ".join(f"{count:,} {name}" for name, count in ctx.samples.items())
        changes = ", ".join(f"{key} {value}" for key, value in experiment.quick.items())
        lines += [f"**Smoke run (`--quick`): {counts} samples; {changes}. These numbers check "
                  f"that the code runs; they are not results.**", ""]
    lines += ["Commands (every invocation that wrote to this log):", ""]
    for entry in ctx.log.invocations:
        lines.append(f"- `{entry['command']}` ({entry.get('started', '?')}, commit "
                     f"{commit_text(entry.get('code'))}; runs to do {entry.get('runs', '?')}, "
                     f"jobs {entry.get('jobs', 1)}, threads per run {entry.get('threads', '?')})")
    lines += ["", f"This report: `{ctx.sweep.command}` ({time.strftime('%Y-%m-%d %H:%M')}, "
                  f"commit {commit_text(code_version())}).", ""]
    commits = {}
    for run in runs:
        name = commit_text(run.record.get("code"))
        commits[name] = commits.get(name, 0) + 1
    if commits:
        lines += ["Code of the runs: " + "; ".join(f"{count} run{'s' * (count != 1)} at commit "
                                                 f"{name}" for name, count in commits.items())
                  + ".", ""]
    if runs:
        lines += [seeds_line({group: ctx.cells(group) for group in ctx.groups}), ""]
        env = runs[0].environment
        total = sum(run.wall_seconds for run in runs)
        lines += [f"Machine: {env.get('cpu_count')} CPU cores, {env.get('platform')}; backend "
                  f"{env.get('backend')}, tinynet {env.get('tinynet')}, NumPy "
                  f"{env.get('numpy')}, Python {env.get('python')}"
                  + (f", kernels {env['kernels']}" if "kernels" in env else "") + ".  ",
                  f"Wall time: {total / 60:.1f} min summed over the {len(runs)} runs "
                  f"(training and evaluation).  "]
    if ctx.failed:
        lines += ["**Failed runs** (not in the tables; `--resume` tries them again): "
                  + "; ".join(f"{run.label}: {run.results.get('error', '?')}"
                              for run in ctx.failed.values()) + ".", ""]
    data = next((entry["data"] for entry in reversed(ctx.log.invocations)
                 if entry.get("data")), None)
    if data and data["files"]:
        files = ", ".join(f"`{Path(path).name}` ({sha[:12]}...)"
                          for path, sha in data["files"].items())
        folder = Path(next(iter(data["files"]))).parent
        lines.append(f"Data: {data['dataset']} from `{folder}`: {files} (SHA-256 of the "
                     f"decompressed files, verified on loading).")
    return [*lines, ""]


def commit_text(code) -> str:
    """``"1a2b3c4d5e"`` or ``"1a2b3c4d5e with uncommitted changes"``: the commit of a
    :func:`tinynet.runner.code_version` (None or no commit: "unknown")."""
    code = code or {}
    dirty = " with uncommitted changes" if code.get("clean") is False else ""
    return (code.get("commit") or "unknown")[:10] + dirty


def seeds_line(cells_by_group: dict) -> str:
    """How many seeds the cells ran with, the most first, so that a report says which cells
    ran with fewer, and in which groups when they differ: "Seeds per cell: 3 (seeds 0, 1, 2)
    for 10 cells (q2, q6), 1 (seed 0) for 18 cells (q3, q5, q7).". A cell in several groups
    counts once."""
    cells, groups = {}, {}
    for group, group_cells in cells_by_group.items():
        for cell in group_cells:
            seeds = tuple(cell.seeds)
            cells.setdefault(seeds, {})[without_seed(cell.config)] = cell
            groups.setdefault(seeds, {})[group] = None
    named = len(cells) > 1 and len(cells_by_group) > 1
    parts = [f"{len(seeds)} (seed{'s' * (len(seeds) > 1)} {', '.join(map(str, seeds))}) for "
             f"{len(found)} cell{'s' * (len(found) != 1)}"
             + (f" ({', '.join(map(str, groups[seeds]))})" if named else "")
             for seeds, found in sorted(cells.items(), key=lambda item: -len(item[0]))]
    return "Seeds per cell: " + ", ".join(parts) + "."
