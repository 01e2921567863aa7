"""The results log of an experiment: ``results.jsonl`` in its output folder, one JSON object a
line, written by one process at a time and only ever appended to.

    {"kind": "log", "format": "tinynet-results", "version": 2, "experiment": "mlp_sweep",
     "settings": {"seed": 0, "quick": false, "epochs": null, "set": {}}}     # first line
    {"kind": "invocation", "command": "python mlp_sweep.py", "code": {"commit": ...}, ...}
    {"kind": "run", "run_id": "lr=0.001-3fa2b9c1", "config": {...}, "history": {...}, ...}

- **One writer.** Opening a log takes an exclusive lock (``flock`` on the folder, with the
  owner's PID in ``.owner``); a second process on the same folder stops at once, naming that PID.
- **Never rewritten.** A finished run is appended as one line and flushed to disk before the
  next run starts, so an interruption loses at most the run in progress. A line cut short by a
  crash (the last one, with no newline) is dropped when the log is opened again.
- **Compact.** Per-step losses are stored as base64 float32 (the values are float32 already),
  not as decimal text: a batch-1 run's 480,000 losses take 2.6 MB instead of 9.
- **Refusals.** Without ``resume``, a folder that already holds runs is refused. With it, a log
  written by another experiment, or with another quick / epochs / --set, is refused,
  naming the field that differs.
"""
from __future__ import annotations

import base64
import errno
import fcntl
import json
import os
import tempfile
from pathlib import Path

import numpy

FORMAT, VERSION = "tinynet-results", 2
LOG_NAME, OWNER_NAME = "results.jsonl", ".owner"
RUN_FIELDS = ("run_id", "config", "history", "results", "status")


class LogError(RuntimeError):
    """The output folder or its log cannot be used as asked; the message says why and what to
    do. Nothing has been written when it is raised."""


def check_output_folder(folder) -> Path:
    """``folder`` as a Path, after checking that it is (or can be created as) a writable
    folder. Creates nothing."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise LogError(f"--out {folder}: is a file, not a folder; choose another --out")
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise LogError(f"--out {folder}: {existing} is a file, so the folder cannot be created")
    try:                                   # try it: permissions alone do not tell (root, a
        with tempfile.TemporaryFile(dir=existing):     # read-only file system)
            pass
    except OSError as exc:
        what = "is not writable" if existing == folder else f"cannot be created in {existing}"
        raise LogError(f"--out {folder}: {what} ({exc.strerror}); choose another --out"
                       ) from None
    return folder


class RunLog:
    """An open results log. Use as a context manager: the lock is held until it closes.

    ``records``: run_id -> record of every finished run; ``invocations``: every command that
    wrote to this log, oldest first.
    """

    def __init__(self, folder, experiment: str, settings: dict, resume: bool):
        self.folder = check_output_folder(folder)
        self.path = self.folder / LOG_NAME
        self.experiment, self.settings, self.resume = experiment, settings, resume
        self.records, self.invocations = {}, []
        self._lock_fd = None
        self._created_folder = False

    # --- opening and closing ------------------------------------------------------------

    def __enter__(self) -> "RunLog":
        self._created_folder = not self.folder.exists()
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self._lock()
            if self.path.exists():
                self._read()
            if self.records and not self.resume:
                raise LogError(
                    f"{self.path} already holds {len(self.records)} finished runs: pass "
                    f"--resume to keep them and do only the missing ones, or choose another --out")
            if not self.path.exists():
                self._append({"kind": "log", "format": FORMAT, "version": VERSION,
                              "experiment": self.experiment, "settings": self.settings})
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Release the lock; remove the folder again if this log created it and nothing
        was written into it."""
        if self._lock_fd is not None:
            (self.folder / OWNER_NAME).unlink(missing_ok=True)
            os.close(self._lock_fd)             # closing the descriptor releases the lock
            self._lock_fd = None
        if self._created_folder and self.folder.exists() and not any(self.folder.iterdir()):
            self.folder.rmdir()

    def _lock(self) -> None:
        """Lock the folder itself (``flock`` on its descriptor: the kernel releases it when the
        process ends, however it ends), and leave our PID in ``.owner`` for the message a
        second process gets."""
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            owner = self.folder / OWNER_NAME
            holder = owner.read_text().strip() if owner.exists() else "unknown"
            raise LogError(f"{self.folder} is in use by another tinynet process (PID {holder}); "
                           f"wait for it to finish or choose another --out") from None
        self._lock_fd = fd
        (self.folder / OWNER_NAME).write_text(f"{os.getpid()}\n")

    # --- reading -------------------------------------------------------------------------

    def _read(self, repair: bool = True) -> None:
        lines = self.path.read_bytes().split(b"\n")
        if lines and lines[-1] and not _is_json(lines[-1]):
            if repair:
                self._drop_torn_last_line(len(lines[-1]))
            lines = lines[:-1]
        for number, line in enumerate(lines, 1):
            if line.strip():
                self._take(number, _parse(self.path, number, line))

    def _drop_torn_last_line(self, length: int) -> None:
        """A crash while appending leaves a last line without its newline: cut it off."""
        with open(self.path, "r+b") as handle:
            handle.truncate(os.path.getsize(self.path) - length)

    def _take(self, number: int, entry: dict) -> None:
        where = f"{self.path}, line {number}"
        kind = entry.get("kind")
        if number == 1 or kind == "log":
            self._check_header(where, entry)
        elif kind == "invocation":
            self.invocations.append(entry)
        elif kind == "run":
            missing = [name for name in RUN_FIELDS if name not in entry]
            if missing:
                raise LogError(f"{where}: a run record without {', '.join(missing)}; the line "
                               f"is damaged: remove it and --resume to redo that run")
            self.records[entry["run_id"]] = entry
        else:
            raise LogError(f"{where}: unknown entry kind {kind!r}; not a tinynet results log?")

    def _check_header(self, where: str, header: dict) -> None:
        if header.get("format") != FORMAT:
            raise LogError(f"{where}: not a tinynet results log (written by an older tinynet, "
                           f"or another program); choose another --out")
        if header.get("experiment") != self.experiment:
            raise LogError(f"{self.path} belongs to experiment {header.get('experiment')!r}, "
                           f"not {self.experiment!r}: choose another --out")
        for name, value in self.settings.items():
            theirs = header.get("settings", {}).get(name)
            if theirs != value:
                raise LogError(f"{self.path} was written with {name} = {theirs!r}; this command "
                               f"has {name} = {value!r}. Resume with the same {name}, or choose "
                               f"another --out")

    @classmethod
    def read(cls, folder) -> "RunLog":
        """The log in ``folder``, read without locking or checking its settings (for reports
        and tests): its ``records`` and ``invocations``."""
        log = cls(folder, experiment=None, settings={}, resume=True)
        log._check_header = lambda where, header: None
        if log.path.exists():
            log._read(repair=False)
        return log

    # --- writing -------------------------------------------------------------------------

    def add_invocation(self, entry: dict) -> None:
        entry = {"kind": "invocation", **entry}
        self.invocations.append(entry)
        self._append(entry)

    def add(self, record: dict) -> None:
        """Append one finished run and make sure it is on disk before returning."""
        missing = [name for name in RUN_FIELDS if name not in record]
        if missing:
            raise ValueError(f"RunLog.add: the record lacks {', '.join(missing)}")
        record = {"kind": "run", **record}
        self._append(record)
        self.records[record["run_id"]] = record

    def _append(self, entry: dict) -> None:
        line = json.dumps(entry, allow_nan=True) + "\n"      # json.dumps fails before writing
        with open(self.path, "a") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def __contains__(self, run_id) -> bool:
        return run_id in self.records


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def _parse(path, number: int, line: bytes) -> dict:
    try:
        entry = json.loads(line)
    except ValueError as exc:
        raise LogError(f"{path}, line {number}: not valid JSON ({exc}); remove that line and "
                       f"--resume to redo that run") from None
    if not isinstance(entry, dict):
        raise LogError(f"{path}, line {number}: expected a JSON object, got "
                       f"{type(entry).__name__}")
    return entry


# --- compact float lists ---------------------------------------------------------------------

def pack_floats(values) -> dict:
    """A list of float32-representable numbers as base64 of their float32 bytes."""
    array = numpy.asarray(values, dtype="<f4")
    return {"float32_base64": base64.b64encode(array.tobytes()).decode("ascii")}


def unpack_floats(packed) -> list:
    """The inverse of :func:`pack_floats` (a plain list passes through unchanged)."""
    if isinstance(packed, list):
        return packed
    raw = base64.b64decode(packed["float32_base64"])
    return numpy.frombuffer(raw, dtype="<f4").astype(float).tolist()
