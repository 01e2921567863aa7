"""Module, Parameter and Sequential: the skeleton every layer hangs on.

A layer is a small class with ``forward(x)`` and ``backward(grad_out) -> grad_in``. Whatever the
backward needs is kept from the forward in attributes named after what they hold. Parameters are
found by walking the module's attributes, in definition order, like PyTorch, so state-dict keys
(``"0.weight"``, ``"2.running_mean"``) match PyTorch's for the same architecture. A Parameter or
sub-module may also sit in a list, tuple or dict attribute (``self.weights = [Parameter(...)]``):
it is found there and named like PyTorch's ParameterList / ModuleDict entries (``"weights.0"``);
a set holding one is refused (it has no order to name it by). ``Module`` keeps no per-instance
state that needs setting up, so a layer's ``__init__`` may call ``super().__init__()`` or not.

Gradients accumulate, as in PyTorch: ``backward`` adds into ``param.grad``; ``zero_grad()`` resets
every grad to ``None`` (PyTorch's ``set_to_none=True`` default), so the first backward after it
simply stores its gradient without an extra zero-fill and add.
"""
from __future__ import annotations

import copy
import functools
import inspect
import os
import tempfile

import numpy

from tinynet import backend
from tinynet.nn.checks import NOT_RUN, backward_contract, forward_contract


class Parameter:
    """A trainable array ``data`` and its gradient ``grad`` (same shape; None until backward)."""

    __slots__ = ("data", "grad")

    def __init__(self, data):
        self.data = data
        self.grad = None

    def accumulate_grad(self, grad) -> None:
        """``grad += g`` (or store ``g`` if there is none yet). Never mutates ``g`` afterwards."""
        if self.grad is None:
            self.grad = grad
        else:
            self.grad += grad

    @property
    def shape(self):
        return self.data.shape

    def __repr__(self):
        return f"Parameter(shape={tuple(self.data.shape)}, dtype={self.data.dtype})"


class HookHandle:
    """What :meth:`Module.register_forward_hook` returns; ``remove()`` unregisters the hook."""

    def __init__(self, hooks: list, hook):
        self.hooks, self.hook = hooks, hook

    def remove(self) -> None:
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)


class Module:
    """Base class: parameter discovery, train/eval, zero_grad, state dicts, save/load, summary.

    Subclasses implement ``forward`` and ``backward`` and may list non-trainable state (such as
    BatchNorm's running statistics) in ``buffer_names`` so that it is saved and loaded too.

    The contract of every forward and backward is checked once, here, for all subclasses: the
    input is an array, ``backward`` follows a ``forward``, and ``grad_out`` has the shape of that
    forward's output; a mistake is an error naming the layer and both shapes (see
    :func:`tinynet.nn.checks.forward_contract`).
    """

    buffer_names: tuple = ()
    training = True
    _forward_output_shape = NOT_RUN     # the last forward's output shape, for backward's check

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "forward" in vars(cls):
            cls.forward = forward_contract(cls.forward)
        if "backward" in vars(cls):
            cls.backward = backward_contract(cls.backward)

    def forward(self, x):
        raise NotImplementedError

    def backward(self, grad_out, input_grad=True):
        """Accumulate dL/dparam into every parameter's ``grad`` and return dL/dx.

        ``input_grad=False`` says dL/dx is not wanted, because x is the data, not the output of
        a layer: then only the parameters' gradients are accumulated and None is returned
        (PyTorch skips the same work when the input does not require grad; for Linear and
        Conv2d it is a matrix product). Layers with parameters accept the argument; the others
        take ``backward(grad_out)`` alone, since nobody needs their backward without dL/dx."""
        raise NotImplementedError

    def __call__(self, x):
        """``forward(x)``, then every hook added by :meth:`register_forward_hook`."""
        y = self.forward(x)
        for hook in self._forward_hooks:
            hook(self, x, y)
        return y

    # --- hooks: look at what flows through a layer without changing it ----------------------

    _forward_hooks: tuple = ()      # an instance gets its own list at its first registration

    def register_forward_hook(self, hook) -> "HookHandle":
        """Call ``hook(module, x, y)`` after every ``module(x)`` (as PyTorch, with the single
        input ``x`` in place of its tuple of inputs); ``Sequential`` calls its layers this way.
        A hook looks, it must not modify ``x`` or ``y``. ``handle.remove()`` unregisters it."""
        if "_forward_hooks" not in vars(self):
            self._forward_hooks = []
        self._forward_hooks.append(hook)
        return HookHandle(self._forward_hooks, hook)

    # --- structure ------------------------------------------------------------------------

    def named_children(self):
        """Sub-modules held in attributes, directly or in a list, tuple or dict."""
        for key, value in vars(self).items():
            for name, item in _held_items(self, key, value):
                if isinstance(item, Module):
                    yield name, item

    def named_parameters(self, prefix: str = ""):
        for key, value in vars(self).items():
            for name, item in _held_items(self, key, value):
                if isinstance(item, Parameter):
                    yield prefix + name, item
        for child_name, child in self.named_children():
            yield from child.named_parameters(prefix + child_name + ".")

    def parameters(self):
        """All trainable parameters, in a fixed order (what optimizers take)."""
        return [param for _, param in self.named_parameters()]

    def named_buffers(self, prefix: str = ""):
        for key in self.buffer_names:
            yield prefix + key, getattr(self, key)
        for child_name, child in self.named_children():
            yield from child.named_buffers(prefix + child_name + ".")

    def num_parameters(self) -> int:
        return sum(int(param.data.size) for param in self.parameters())

    # --- modes and gradients ----------------------------------------------------------------

    def train(self, mode: bool = True):
        """Training mode: BatchNorm uses batch statistics, Dropout drops. Returns self."""
        self.training = mode
        for _, child in self.named_children():
            child.train(mode)
        return self

    def eval(self):
        """Evaluation mode: BatchNorm uses running statistics, Dropout is the identity."""
        return self.train(False)

    def zero_grad(self) -> None:
        for param in self.parameters():
            param.grad = None

    def astype(self, dtype):
        """Convert every parameter and floating buffer to ``dtype`` in place (e.g. float64 for
        gradient checks). Returns self."""
        for param in self.parameters():
            param.data = param.data.astype(dtype)
            param.grad = None
        for module in self._modules():
            for key in module.buffer_names:
                value = getattr(module, key)
                if backend.xp.issubdtype(value.dtype, backend.xp.floating):
                    setattr(module, key, value.astype(dtype))
        return self

    def copy(self):
        """A deep copy (parameters, buffers and mode), independent of this module."""
        return copy.deepcopy(self)

    def _modules(self):
        yield self
        for _, child in self.named_children():
            yield from child._modules()

    # --- state ------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """Hierarchical name -> host NumPy array for every parameter and buffer (PyTorch's keys)."""
        state = {key: backend.to_numpy(param.data).copy() for key, param in self.named_parameters()}
        state.update({key: backend.to_numpy(value).copy() for key, value in self.named_buffers()})
        return state

    def load_state_dict(self, state: dict) -> None:
        """Copy arrays from ``state`` into this module. Keys and shapes must match exactly;
        otherwise nothing is changed and the error lists every missing, unexpected or
        mis-shaped key."""
        params = dict(self.named_parameters())
        buffers = dict(self.named_buffers())
        expected = {key: tuple(p.data.shape) for key, p in params.items()}
        expected.update({key: tuple(b.shape) for key, b in buffers.items()})
        problems = []
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        if missing:
            problems.append(f"missing keys: {missing}")
        if unexpected:
            problems.append(f"unexpected keys: {unexpected}")
        for key in sorted(set(expected) & set(state)):
            got = tuple(numpy.shape(state[key]))
            if got != expected[key]:
                problems.append(f"{key}: expected shape {expected[key]}, got {got}")
        if problems:
            raise ValueError(
                f"state does not fit {type(self).__name__}: " + "; ".join(problems))
        for key, param in params.items():
            param.data = backend.to_device(state[key], dtype=param.data.dtype)
            param.grad = None
        for key, value in buffers.items():
            owner, attr = self._owner_of(key)
            setattr(owner, attr, backend.to_device(state[key], dtype=value.dtype))

    def _owner_of(self, dotted_key: str):
        owner_name, _, attr = dotted_key.rpartition(".")
        return dict(self._named_modules())[owner_name], attr

    def _named_modules(self, prefix: str = ""):
        yield prefix.rstrip("."), self
        for child_name, child in self.named_children():
            yield from child._named_modules(prefix + child_name + ".")

    def save(self, path) -> None:
        """Write ``state_dict()`` to an ``.npz`` file atomically (temporary file, then rename)."""
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp_path = tempfile.mkstemp(dir=folder, suffix=".npz.tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                numpy.savez(handle, **self.state_dict())
            os.replace(tmp_path, path)
        except BaseException:
            if os.path.exists(tmp_path):
                os.remove(tmp_path)
            raise

    def load(self, path) -> None:
        """Load parameters and buffers saved by :meth:`save`. A file that is not one (damaged,
        truncated, another format) is a ValueError naming it; pickled data is never loaded."""
        from tinynet.checkpoint import read_npz      # checkpoints build on modules
        self.load_state_dict(read_npz(os.fspath(path), "not a model file written by "
                                      "Module.save (damaged, truncated or another format)"))

    # --- printing ---------------------------------------------------------------------------

    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for child_name, child in children:
            lines += ["  (" + child_name + "): " + line if i == 0 else "  " + line
                      for i, line in enumerate(repr(child).splitlines())]
        return "\n".join(lines + [")"])

    def summary(self, input_shape) -> str:
        """A table of every leaf layer's output shape and parameter count, for an input of
        ``input_shape`` (without the batch axis). Runs one forward pass on zeros in eval mode."""
        was_training = self.training
        self.eval()
        rows = []
        x = backend.xp.zeros((1, *input_shape), dtype=self._dtype())
        try:
            for layer_name, layer in self._leaves():
                x = layer.forward(x)
                count = sum(int(p.data.size) for p in layer.parameters())
                rows.append((layer_name, repr(layer), ("N",) + tuple(x.shape[1:]), count))
        finally:
            self.train(was_training)
        header = ("layer", "type", "output shape", "params")
        table = [header] + [(n, t, str(s).replace("'", ""), f"{c:,}") for n, t, s, c in rows]
        widths = [max(len(row[i]) for row in table) for i in range(4)]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
        lines.insert(1, "-" * len(lines[0]))
        lines.append(f"total parameters: {self.num_parameters():,}")
        return "\n".join(lines)

    def _leaves(self, prefix: str = ""):
        children = list(self.named_children())
        if not children:
            yield prefix.rstrip(".") or type(self).__name__, self
        for child_name, child in children:
            yield from child._leaves(prefix + child_name + ".")

    def _dtype(self):
        params = self.parameters()
        return params[0].data.dtype if params else backend.DEFAULT_DTYPE


def _held_items(module, key: str, value):
    """``(name, item)`` for an attribute and, inside a list, tuple or dict, for each of its items
    (recursively: ``blocks.0``, ``heads.left.1``). Refuses a set that holds a Parameter or a
    Module, instead of skipping it: a set has no order, so its items could not be named."""
    yield key, value
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _held_items(module, f"{key}.{index}", item)
    elif isinstance(value, dict):
        for item_key, item in value.items():
            if isinstance(item, (Parameter, Module)) and (
                    not isinstance(item_key, str) or "." in item_key):
                raise TypeError(f"{type(module).__name__}.{key}: a dict holding Parameters or "
                                f"Modules needs string keys without '.', got {item_key!r}")
            yield from _held_items(module, f"{key}.{item_key}", item)
    elif isinstance(value, (set, frozenset)) and any(
            isinstance(item, (Parameter, Module)) for item in value):
        raise TypeError(f"{type(module).__name__}.{key}: Parameters or Modules in a set cannot "
                        f"be found in a fixed order; hold them in a list or a dict")


class Sequential(Module):
    """Layers applied in order. ``forward`` runs them first to last; ``backward`` last to first,
    each receiving the gradient its successor returned (the chain rule, one link per layer)."""

    def __init__(self, *layers: Module):
        for layer in layers:
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential takes Modules, got {type(layer).__name__}")
        self.layers = list(layers)

    def named_children(self):
        for index, layer in enumerate(self.layers):
            yield str(index), layer

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)            # through __call__, so forward hooks see every layer
        return x

    def backward(self, grad_out, input_grad=True):
        """The chain rule, last layer first. With ``input_grad=False`` it stops at the first
        layer that has parameters, which is told so; layers before it have nothing to learn."""
        if input_grad:
            for layer in reversed(self.layers):
                grad_out = layer.backward(grad_out)
            return grad_out
        first = next((index for index, layer in enumerate(self.layers)
                      if any(layer.named_parameters())), None)      # stops at the first one
        if first is None:
            return None
        for layer in reversed(self.layers[first + 1:]):
            grad_out = layer.backward(grad_out)
        if _takes_input_grad(type(self.layers[first])):
            return self.layers[first].backward(grad_out, input_grad=False)
        self.layers[first].backward(grad_out)    # a layer written with backward(grad_out) alone
        return None

    def __getitem__(self, index):
        return self.layers[index]

    def __len__(self):
        return len(self.layers)


@functools.lru_cache(maxsize=None)
def _takes_input_grad(layer_class) -> bool:
    """Whether a layer's ``backward`` has the ``input_grad`` argument (a layer of one's own
    may define ``backward(grad_out)`` alone; it then still works as a network's first layer)."""
    return "input_grad" in inspect.signature(layer_class.backward).parameters
