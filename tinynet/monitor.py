"""Watch a network train: per-layer activation statistics and per-parameter gradient norms.

What a learner (and experiments E5 and E6) wants to see while a network trains: does the signal
survive the forward pass (the mean and standard deviation of each layer's output), and does the
gradient survive the backward pass (the L2 norm of each parameter's gradient, and the global
norm over all of them)? A sigmoid stack answers "no" to the second question: its early layers
get gradients orders of magnitude smaller than its late ones (vanishing gradients).

    monitor = TrainingMonitor(model, every=10)         # sample every 10th step
    history = fit(model, loss_fn, optimizer, loader, epochs=1, callbacks=[monitor])
    monitor.stats["grad_norm"]["0.weight"]             # one host float per sampled step
    plot_training_monitor(monitor.stats, "monitor.png", "what the gradients do")

How it works: a forward hook on every leaf layer (``Module.register_forward_hook``) keeps a
reference to the layer's latest output (no copy, no arithmetic). After the backward of a
sampled step (``Callback.on_after_backward``, while the gradients are in ``param.grad``),
``record`` reduces those outputs and gradients to a few numbers on the device and brings them
to the host in one transfer. Steps that are not sampled cost one dict assignment per layer.

The global norm is the one :class:`tinynet.train.GradientNormLogger` records,
sqrt(sum_p ||grad_p||^2); this callback adds the per-layer view, sampled over a whole run.
"""
from __future__ import annotations

import math

from tinynet import backend
from tinynet.train import Callback


class TrainingMonitor(Callback):
    """Record, every ``every`` steps, per-layer activation statistics and gradient norms.

    ``model``: the network to watch (hooks are added to each of its leaf layers, or only to those
    named in ``layers``, e.g. ``("0", "2")`` in a Sequential). ``every``: the sampling interval;
    steps 0, every, 2*every, ... are recorded.

    ``stats`` (also put in ``history.extra["monitor"]`` by :func:`tinynet.train.fit`, so it is
    saved with the run) holds host floats, one per sampled step, in lists::

        "step":             [0, 10, 20, ...]
        "activation_mean":  {layer name: [...]}   mean of the layer's output (all entries)
        "activation_std":   {layer name: [...]}   its standard deviation (ddof=0)
        "grad_norm":        {parameter name: [...]}  ||grad||_2, e.g. "0.weight"
        "global_grad_norm": [...]                 sqrt(sum over parameters of ||grad||^2)
        "layer_types":      {layer name: "Linear", ...}

    Activations are those of the step's training forward pass; gradients are taken after the
    backward, before the optimizer step. Parameters without a gradient are left out.
    ``remove()`` takes the hooks off the model again.
    """

    def __init__(self, model, every: int = 1, layers=None):
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"TrainingMonitor: every must be a positive int, got {every!r}")
        self.model, self.every = model, every
        watched = dict(model._leaves())
        if layers is not None:
            unknown = [name for name in layers if name not in watched]
            if unknown:
                raise ValueError(f"TrainingMonitor: no layer named {unknown} in the model; "
                                 f"its layers are {list(watched)}")
            watched = {name: watched[name] for name in layers}
        self.layer_names = {id(layer): name for name, layer in watched.items()}
        self.latest_output = {}     # layer name -> output of its latest forward (a reference)

        def keep_output(layer, x, y):
            # A plain function, not a bound method: model.copy() deep-copies the hooks with the
            # layers, and a bound method would drag a copy of this monitor along.
            self._keep_output(layer, y)

        self.handles = [layer.register_forward_hook(keep_output) for layer in watched.values()]
        self.stats = {"step": [], "activation_mean": {name: [] for name in watched},
                      "activation_std": {name: [] for name in watched}, "grad_norm": {},
                      "global_grad_norm": [],
                      "layer_types": {name: type(layer).__name__
                                      for name, layer in watched.items()}}

    def _keep_output(self, layer, y):
        name = self.layer_names.get(id(layer))
        if name is not None:        # None: a copy of a watched layer (model.copy() keeps hooks)
            self.latest_output[name] = y

    # --- Callback interface ------------------------------------------------------------------

    def on_after_backward(self, model, step, history):
        if model is not self.model:
            raise ValueError("TrainingMonitor: fit was given another model than the one "
                             "this monitor watches")
        history.extra["monitor"] = self.stats
        if step % self.every == 0:
            self.record(step)

    # --- the measurements --------------------------------------------------------------------

    def record(self, step: int) -> None:
        """Append the statistics of the latest forward and backward as ``step``. Call it after
        ``model.backward(...)`` and before ``optimizer.step()`` (``fit`` does, every
        ``every`` steps)."""
        layer_names = list(self.stats["activation_mean"])
        missing = [name for name in layer_names if name not in self.latest_output]
        if missing:
            raise RuntimeError(f"TrainingMonitor: layers {missing} produced no output since the "
                               f"last record; layers must be called as layer(x), as "
                               f"Sequential does, for their hooks to run")
        named_grads = [(name, param.grad) for name, param in self.model.named_parameters()
                       if param.grad is not None]
        values = self._host_values([self.latest_output[name] for name in layer_names],
                                   [grad for _, grad in named_grads])
        count = len(layer_names)
        means, stds, squares = values[:count], values[count:2 * count], values[2 * count:]
        self.stats["step"].append(int(step))
        for name, mean, std in zip(layer_names, means, stds):
            self.stats["activation_mean"][name].append(mean)
            self.stats["activation_std"][name].append(std)
        for (name, _), square in zip(named_grads, squares):
            self.stats["grad_norm"].setdefault(name, []).append(math.sqrt(square))
        self.stats["global_grad_norm"].append(math.sqrt(sum(squares)))
        self.latest_output = {}     # do not keep activations alive until the next sample

    @staticmethod
    def _host_values(outputs, grads) -> list:
        """[mean of each output] + [std of each output] + [sum of squares of each grad], as
        Python floats: the reductions run on the device, then one transfer brings them back."""
        xp = backend.xp
        scalars = ([y.mean() for y in outputs] + [y.std() for y in outputs]
                   + [(g * g).sum() for g in grads])
        if not scalars:
            return []
        stacked = xp.stack([s.astype(xp.float64) for s in scalars])
        return [float(value) for value in backend.to_numpy(stacked)]

    def remove(self) -> None:
        """Take the forward hooks off the model (recorded ``stats`` stay)."""
        for handle in self.handles:
            handle.remove()
        self.handles, self.latest_output = [], {}
