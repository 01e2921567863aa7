"""Checkpoints: everything needed to continue training where it stopped, in one ``.npz`` file.

    save_checkpoint("run.npz", model, optimizer, train_loader, epoch=3)
    ...                                    # later, perhaps in another process:
    model, optimizer, train_loader = build()          # fresh objects, same architecture
    info = load_checkpoint("run.npz", model, optimizer, train_loader)     # {"epoch": 3}
    fit(model, loss_fn, optimizer, train_loader, epochs=10 - info["epoch"])

On the NumPy backend, training continued from a checkpoint taken between epochs is
bit-identical to training without the break: same step losses, same final parameters.
A checkpoint holds

- the model's parameters and buffers (BatchNorm's running statistics), under ``model/<key>``
  with the keys of :meth:`Module.state_dict` (``model/0.weight``);
- the optimizer's class, hyperparameters and per-parameter state (Adam's moments and step
  counts, momentum buffers), under ``optimizer/<parameter index>/<name>``;
- where the random streams stand: the loader's shuffling generator and the backend's
  generators. On CuPy the device generator (dropout masks) lives on the GPU and is not saved,
  so after a resume there the dropout masks differ from an uninterrupted run;
- whatever keywords the caller passes (epoch, step, ...), returned by :func:`load_checkpoint`.

It is a plain ``.npz`` (``numpy.load`` opens it without pickle): the arrays above plus one JSON
string, ``meta``. It is written to a temporary file in the same folder and renamed over the
target, so an interruption never leaves a half-written file in place of a good checkpoint.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile

import numpy

import tinynet
from tinynet import backend

FORMAT = "tinynet-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint cannot be read, or does not fit the objects it is loaded into."""


def save_checkpoint(path, model, optimizer=None, loader=None, callbacks=(), **info) -> None:
    """Write ``model`` (and ``optimizer``, ``loader``, the state of ``callbacks`` if given) to
    ``path`` atomically. ``info``: JSON-able values to keep with them, e.g. ``epoch=3``."""
    arrays = {f"model/{key}": value for key, value in model.state_dict().items()}
    meta = {"format": FORMAT, "version": VERSION, "tinynet": tinynet.__version__,
            "backend": backend.name, "rng": backend.rng_state(), "info": info}
    if optimizer is not None:
        state = optimizer.state_dict()
        meta["optimizer"] = {"name": state["optimizer"], "defaults": state["defaults"]}
        for index, entry in state["state"].items():
            arrays.update({f"optimizer/{index}/{name}": numpy.asarray(value)
                           for name, value in entry.items()})
    if loader is not None:
        meta["loader"] = loader.state_dict()
    meta["callbacks"] = [_split_state(callback.state_dict(), f"callbacks/{index}", arrays)
                         for index, callback in enumerate(callbacks)]
    arrays["meta"] = numpy.array(json.dumps(meta))     # not JSON-able: fails before writing
    _write_atomically(os.fspath(path), arrays)


def load_checkpoint(path, model, optimizer=None, loader=None, callbacks=()) -> dict:
    """Restore what :func:`save_checkpoint` wrote into ``model`` (and ``optimizer``, ``loader``,
    ``callbacks`` if given), and the backend's random generators; return the saved ``info``.

    If the checkpoint does not fit (another architecture, another optimizer), nothing is
    changed and the :class:`CheckpointError` lists every mismatched key and shape.
    """
    path = os.fspath(path)
    arrays, meta = _read(path)
    for part, wanted in (("optimizer", optimizer), ("loader", loader)):
        if wanted is not None and part not in meta:
            raise CheckpointError(f"{path}: holds no {part} state (it was saved without one); "
                                  f"load it without passing a {part}")
    saved_model = {key[len("model/"):]: value for key, value in arrays.items()
                   if key.startswith("model/")}
    try:
        model_before = model.state_dict()
        model.load_state_dict(saved_model)       # checks every key and shape before changing
        if optimizer is not None:
            try:
                optimizer.load_state_dict(_optimizer_state(meta["optimizer"], arrays))
            except ValueError:
                model.load_state_dict(model_before)
                raise
    except ValueError as exc:
        raise CheckpointError(f"{path}: the checkpoint does not fit: {exc}") from None
    if loader is not None:
        loader.load_state_dict(meta["loader"])
    saved_callbacks = meta.get("callbacks", [])
    if len(saved_callbacks) != len(callbacks):
        raise CheckpointError(f"{path}: holds the state of {len(saved_callbacks)} callbacks, "
                              f"{len(callbacks)} given")
    for callback, (index, state) in zip(callbacks, enumerate(saved_callbacks)):
        callback.load_state_dict(_join_state(state, f"callbacks/{index}", arrays))
    backend.set_rng_state(meta["rng"])
    return meta["info"]


def _split_state(state: dict, prefix: str, arrays: dict) -> dict:
    """Move a callback state's arrays (and dicts of arrays, like a model's state) into
    ``arrays`` under ``prefix``; return the JSON part, which names where each went."""
    json_part = {}
    for name, value in state.items():
        if isinstance(value, dict) and value and all(hasattr(v, "shape") for v in value.values()):
            arrays.update({f"{prefix}/{name}/{key}": backend.to_numpy(v)
                           for key, v in value.items()})
            json_part[name] = {"arrays": sorted(value)}
        elif hasattr(value, "shape"):
            arrays[f"{prefix}/{name}"] = backend.to_numpy(value)
            json_part[name] = {"array": True}
        else:
            json_part[name] = {"value": value}
    return json_part


def _join_state(json_part: dict, prefix: str, arrays: dict) -> dict:
    """The inverse of :func:`_split_state`."""
    state = {}
    for name, entry in json_part.items():
        if "arrays" in entry:
            state[name] = {key: arrays[f"{prefix}/{name}/{key}"] for key in entry["arrays"]}
        elif "array" in entry:
            state[name] = arrays[f"{prefix}/{name}"]
        else:
            state[name] = entry["value"]
    return state


def _optimizer_state(saved: dict, arrays: dict) -> dict:
    """Rebuild the nested dict of ``Optimizer.state_dict()`` from the flat archive keys."""
    state = {}
    for key, value in arrays.items():
        if key.startswith("optimizer/"):
            _, index, name = key.split("/")
            state.setdefault(int(index), {})[name] = value
    defaults = {key: tuple(value) if isinstance(value, list) else value   # JSON made tuples lists
                for key, value in saved["defaults"].items()}
    return {"optimizer": saved["name"], "defaults": defaults, "state": state}


def read_npz(path, what: str, error=ValueError) -> dict:
    """Every array of the ``.npz`` file ``path``, never unpickling anything. A file that cannot
    be read (damaged, truncated, another format) raises ``error`` with ``path: what``."""
    try:
        with numpy.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise error(f"{path}: {what} ({type(exc).__name__})") from None


def _read(path: str):
    """The archive's arrays and its decoded ``meta``, or a CheckpointError saying what is wrong."""
    arrays = read_npz(path, "not a readable .npz file, probably truncated or corrupt",
                      CheckpointError)
    if "meta" not in arrays:
        raise CheckpointError(f"{path}: not a tinynet checkpoint (no 'meta' entry); a file "
                              f"written by Module.save loads with model.load(path)")
    meta = json.loads(str(arrays.pop("meta")))
    if meta.get("format") != FORMAT or meta.get("version", 0) > VERSION:
        raise CheckpointError(f"{path}: format {meta.get('format')!r} version "
                              f"{meta.get('version')!r}; this tinynet reads {FORMAT!r} up to "
                              f"version {VERSION}")
    return arrays, meta


def _write_atomically(path: str, arrays: dict) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp_path = tempfile.mkstemp(dir=folder, suffix=".npz.tmp")
    os.chmod(tmp_path, 0o666 & ~_umask())    # mkstemp makes it private; readable like the rest
    try:
        with os.fdopen(fd, "wb") as handle:
            numpy.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
