"""The training loop every example shares: one step, an evaluation pass, and ``fit``.

    history = fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=1e-3),
                  train_loader, epochs=5, val_loader=val_loader)
    history.epochs[-1]["val_acc"]        # accuracy on the validation set after the last epoch

One training step is the whole of backprop in four lines (see :func:`train_step`). ``fit``
adds bookkeeping around it: the loss of every step, per-epoch train loss/accuracy (running
averages over the epoch, measured in training mode, as the original notebooks did) and
validation loss/accuracy (a separate pass in eval mode), a progress bar, callbacks, and
divergence handling: when the loss becomes NaN or infinite the run stops cleanly and its
history says ``status == "diverged"`` and at which step.

Device-to-host transfers are batched: step losses stay on the device and are brought to the
host together every ``sync_every`` steps (one transfer, which also checks for divergence).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field

from tqdm.auto import tqdm

from tinynet import backend


@dataclass
class History:
    """What a run produced: ``step_loss`` (loss of every optimisation step), ``epochs`` (one dict
    per epoch: epoch, train_loss, train_acc, train_seconds, val_loss, val_acc), ``status``
    ("completed", "diverged" or "stopped" by a callback), ``diverged_at_step`` and
    ``steps_per_epoch`` (to plot step losses against epochs)."""

    step_loss: list = field(default_factory=list)
    epochs: list = field(default_factory=list)
    status: str = "completed"
    diverged_at_step: int = None
    steps_per_epoch: int = None
    extra: dict = field(default_factory=dict)   # what callbacks record (e.g. gradient norms)

    def last(self, key: str, default=None):
        """The most recent epoch's value of ``key`` (e.g. "val_acc")."""
        return self.epochs[-1].get(key, default) if self.epochs else default

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


class Callback:
    """Hooks into :func:`fit`; override what you need. ``on_epoch_end`` returning True stops
    training (the history's status becomes "stopped").

    A callback that remembers something across epochs returns it from ``state_dict`` (JSON
    values, arrays, or dicts of arrays) and takes it back in ``load_state_dict``, so that a
    run resumed from a checkpoint continues exactly as if it had never stopped."""

    def on_after_backward(self, model, step: int, history: History) -> None:
        """Called after backward, before the optimizer step: gradients are in ``param.grad``."""

    def on_epoch_end(self, epoch: int, record: dict, history: History) -> bool:
        return False

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""


class GradientNormLogger(Callback):
    """Records the global L2 norm of all parameter gradients, sqrt(sum_p ||grad_p||^2), for the
    first ``max_steps`` steps into ``history.extra["grad_norm"]`` (E6 Q1.6's gradient curve)."""

    def __init__(self, max_steps: int = 100):
        self.max_steps = max_steps

    def on_after_backward(self, model, step, history):
        if step >= self.max_steps:
            return
        squares = sum((p.grad * p.grad).sum() for p in model.parameters() if p.grad is not None)
        history.extra.setdefault("grad_norm", []).append(math.sqrt(backend.to_float(squares)))


class StopAtAccuracy(Callback):
    """Stops training once ``record[metric] >= target`` (e.g. val_acc >= 0.85)."""

    def __init__(self, target: float, metric: str = "val_acc"):
        self.target, self.metric = target, metric

    def on_epoch_end(self, epoch, record, history):
        value = record.get(self.metric)
        return value is not None and value >= self.target


class StopOnPlateau(Callback):
    """Stops a run whose ``metric`` has not changed for ``patience`` epochs: the last
    ``patience + 1`` values all lie within ``min_change`` of each other. ``triggered`` says
    whether it stopped the run."""

    def __init__(self, patience: int, min_change: float, metric: str = "val_acc"):
        self.patience, self.min_change, self.metric = patience, min_change, metric
        self.values, self.triggered = [], False

    def on_epoch_end(self, epoch, record, history):
        self.values.append(record[self.metric])
        recent = self.values[-(self.patience + 1):]
        self.triggered = (len(recent) == self.patience + 1
                          and max(recent) - min(recent) <= self.min_change)
        return self.triggered

    def state_dict(self):
        return {"values": list(self.values), "triggered": self.triggered}

    def load_state_dict(self, state):
        self.values, self.triggered = list(state["values"]), bool(state["triggered"])


class KeepBest(Callback):
    """Keeps a copy of the model's state whenever ``metric`` beats the best so far by more than
    ``min_improvement``; ``state``, ``best`` and ``epoch`` then describe the kept model
    (``state`` is None until the first epoch ends)."""

    def __init__(self, model, min_improvement: float = 0.0, metric: str = "val_acc"):
        self.model, self.min_improvement, self.metric = model, min_improvement, metric
        self.best, self.epoch, self.state = -math.inf, None, None

    def on_epoch_end(self, epoch, record, history):
        if record[self.metric] > self.best + self.min_improvement:
            self.best, self.epoch, self.state = record[self.metric], epoch, self.model.state_dict()
        return False

    def state_dict(self):
        return {"best": self.best, "epoch": self.epoch, "state": self.state}

    def load_state_dict(self, state):
        self.best, self.epoch, self.state = state["best"], state["epoch"], state["state"]


def train_step(model, loss_fn, optimizer, x, y, after_backward=None):
    """One step of gradient descent; returns (loss, model output), both still on the device.

    forward -> loss -> backward (the loss's gradient flows back through every layer, each
    leaving dL/dparam in its parameters' ``.grad``) -> update. ``after_backward()``, if given,
    runs between backward and update, while the gradients are there to look at.
    """
    optimizer.zero_grad()
    output = model.forward(x)
    loss = loss_fn(output, y)
    model.backward(loss_fn.backward(), input_grad=False)   # dL/d(data) is never needed
    if after_backward is not None:
        after_backward()
    optimizer.step()
    return loss, output


def count_correct(output, y):
    """Number of rows whose arg-max class equals the label (``y`` labels, or one-hot rows)."""
    labels = y.argmax(axis=1) if y.ndim == 2 else y
    return (output.argmax(axis=1) == labels).sum()


def evaluate(model, loss_fn, loader, train_mode: bool = False):
    """Mean loss and accuracy over ``loader`` in eval mode (the model's mode is restored).

    The loss is averaged per sample, so a last partial batch counts by its size.
    ``train_mode=True`` evaluates in training mode instead (BatchNorm uses the batch's
    statistics and updates its running ones, Dropout drops): a common bug, useful only to
    reproduce results that had it; pass a copy of the model (``model.copy()``).
    """
    was_training = model.training
    model.train(train_mode)
    total_loss, correct, seen = 0.0, 0, 0
    try:
        for x, y in loader:
            output = model.forward(x)
            n = int(x.shape[0])
            total_loss = total_loss + loss_fn(output, y) * n
            correct = correct + count_correct(output, y)
            seen += n
    finally:
        model.train(was_training)
    if seen == 0:
        raise ValueError("evaluate: the loader yielded no batches")
    return backend.to_float(total_loss) / seen, backend.to_float(correct) / seen


def fit(model, loss_fn, optimizer, train_loader, epochs: int, val_loader=None,
        callbacks=(), progress: bool = True, sync_every: int = 200,
        description: str = "", history: History = None) -> History:
    """Train until ``epochs`` epochs are done and return the :class:`History`.

    ``progress``: show a tqdm bar (it is hidden anyway when stderr is not a terminal).
    ``sync_every``: steps between device->host transfers of the step losses (and checks for
    divergence); the step at which a NaN/inf loss first appeared is exact regardless.
    ``history``: the history of the epochs already done, to continue a run restored from a
    checkpoint (:mod:`tinynet.checkpoint`); training starts at the epoch after its last.
    """
    if epochs < 1:
        raise ValueError(f"fit: epochs must be >= 1, got {epochs}")
    steps_per_epoch = len(train_loader)
    history = history if history is not None else History(steps_per_epoch=steps_per_epoch)
    done = len(history.epochs)
    bar = tqdm(total=epochs * steps_per_epoch, initial=done * steps_per_epoch,
               desc=description or "training", unit="step", disable=not progress or None,
               leave=False, dynamic_ncols=True)
    try:
        for epoch in range(done + 1, epochs + 1):
            record = _train_epoch(model, loss_fn, optimizer, train_loader, callbacks, history,
                                  bar, sync_every)
            if record is None:
                break                        # diverged: the history says at which step
            record = {"epoch": epoch, **record}
            if val_loader is not None:
                record["val_loss"], record["val_acc"] = evaluate(model, loss_fn, val_loader)
            history.epochs.append(record)
            bar.set_postfix_str(_short_metrics(record), refresh=False)
            stops = [callback.on_epoch_end(epoch, record, history) for callback in callbacks]
            if any(stops):                   # every callback sees every epoch, then stop
                history.status = "stopped"
                break
    finally:
        bar.close()
    return history


def _short_metrics(record: dict) -> str:
    """The epoch's key metric for the progress bar, short enough to fit 80 columns."""
    key = "val_acc" if "val_acc" in record else "train_acc"
    return f"{key.split('_')[0]} {100 * record[key]:.1f}%"


def _train_epoch(model, loss_fn, optimizer, loader, callbacks, history, bar, sync_every):
    """One pass over ``loader``: the running train loss and accuracy of the epoch, or None if
    the loss diverged. Step losses wait on the device and reach ``history`` every
    ``sync_every`` steps; the running sums stay on the device until the epoch ends."""
    model.train()
    start = time.perf_counter()
    pending, loss_sum, correct, seen = [], 0.0, 0, 0
    for x, y in loader:
        step = len(history.step_loss) + len(pending)
        hook = _after_backward_hook(callbacks, model, step, history)
        loss, output = train_step(model, loss_fn, optimizer, x, y, hook)
        n = int(x.shape[0])
        loss_sum = loss_sum + loss * n
        correct = correct + count_correct(output, y)
        seen += n
        pending.append(loss)
        bar.update(1)
        if len(pending) >= sync_every:
            if _flush_losses(pending, history):
                return None
            pending = []
    if pending and _flush_losses(pending, history):
        return None
    return {"train_loss": backend.to_float(loss_sum) / seen,
            "train_acc": backend.to_float(correct) / seen,
            "train_seconds": time.perf_counter() - start}


def _after_backward_hook(callbacks, model, step, history):
    if not callbacks:
        return None
    return lambda: [callback.on_after_backward(model, step, history) for callback in callbacks]


def _flush_losses(pending, history) -> bool:
    """Move pending step losses to the host (one transfer) and append them to the history;
    at the first NaN/inf, mark the run diverged at that step. Returns True if it diverged."""
    values = backend.to_numpy(backend.xp.stack(pending)).astype(float).tolist()
    first_step = len(history.step_loss)
    for offset, value in enumerate(values):
        if not math.isfinite(value):
            history.step_loss.extend(values[:offset + 1])
            history.status, history.diverged_at_step = "diverged", first_step + offset
            return True
    history.step_loss.extend(values)
    return False
