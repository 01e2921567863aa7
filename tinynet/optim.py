"""Optimizers: SGD (momentum, Nesterov), RMSprop, Adam and AdamW, with torch.optim's rules.

An optimizer holds a list of Parameters (``model.parameters()``) and, after each backward,
moves every ``param.data`` against its ``param.grad``::

    optimizer = Adam(model.parameters(), lr=1e-3)
    for x, y in batches:
        optimizer.zero_grad()                 # every param.grad = None
        loss = loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        optimizer.step()                      # param.data updated in place

Defaults, update rules and the order of the floating-point operations follow torch.optim (its
single-tensor CPU code), so the same gradients give the same parameters up to rounding: about
1e-13 relative in float64 after hundreds of steps; in float32 a few units in the last place per
step, because torch's CPU kernels fuse multiply-adds (one rounding instead of two).

Each optimizer's ``_update`` creates the parameter's state at its first step and hands
everything to one kernel (``tinynet.kernels.sgd_update``, ``rmsprop_update``, ``adam_update``),
whose reference is the update rule of the class docstring in array code; the fast kernel makes
one pass over the parameter, its gradient and its state. ``param.data`` is updated in place
(so views of it stay valid) and ``param.grad`` is never written to.
"""
from __future__ import annotations

import numbers

from tinynet import backend, kernels
from tinynet.nn.module import Parameter


class Optimizer:
    """Base class: parameters, per-parameter state, ``zero_grad``, ``step``, state dicts.

    ``defaults`` holds the hyperparameters by name. They are read at every step, so changing
    one between steps (``optimizer.lr = 1e-4``, what a learning-rate schedule does) applies from
    the next step on; it plays the role of torch's single ``param_groups[0]``.

    ``state[i]`` is a dict for ``params[i]``, empty until its first update: arrays shaped like
    the parameter (momentum buffers, moment estimates) and, for RMSprop and Adam, the number of
    updates ``"step"`` it has received. Subclasses implement ``_update``.
    """

    def __init__(self, params, defaults: dict):
        if isinstance(params, Parameter) or not hasattr(params, "__iter__"):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Parameters "
                            f"(e.g. model.parameters()), got {type(params).__name__}")
        self.params = list(params)
        self._check_params()
        self.defaults = dict(defaults)
        self.state = [{} for _ in self.params]

    def _check_params(self) -> None:
        name = type(self).__name__
        if not self.params:
            raise ValueError(f"{name}: got an empty parameter list")
        for index, param in enumerate(self.params):
            if not isinstance(param, Parameter):
                raise TypeError(f"{name}: params[{index}] is a {type(param).__name__}, "
                                f"expected a Parameter (pass model.parameters())")
        if len({id(param) for param in self.params}) != len(self.params):
            raise ValueError(f"{name}: a parameter appears more than once in params")

    # --- the training-loop interface ---------------------------------------------------------

    def zero_grad(self) -> None:
        """Set every ``param.grad`` to None (torch's default ``set_to_none=True``)."""
        for param in self.params:
            param.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient, in place; the others are left alone
        (their state, including the step count, does not advance either)."""
        for index, param in enumerate(self.params):
            if param.grad is not None:
                self._update(param.data, param.grad, self.state[index])

    def _update(self, param, grad, state: dict) -> None:
        """Move ``param`` (an array, updated in place) using ``grad`` (read only) and its
        ``state``."""
        raise NotImplementedError

    # --- hyperparameters ---------------------------------------------------------------------

    @property
    def lr(self) -> float:
        """The learning rate used by the next step."""
        return self.defaults["lr"]

    @lr.setter
    def lr(self, value) -> None:
        self.defaults["lr"] = _at_least_zero(type(self).__name__, "lr", value)

    def __repr__(self):
        settings = ", ".join(f"{key}={value!r}" for key, value in self.defaults.items())
        return f"{type(self).__name__}({settings})"

    # --- checkpoints -------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """Everything needed to resume bit-identically, on the host::

            {"optimizer": "Adam",
             "defaults": {"lr": 0.001, ...},
             "state": {0: {"step": 3, "exp_avg": ndarray, ...}, 1: {...}}}

        Keys of ``"state"`` are positions in ``params`` (as in torch); parameters never updated
        have no entry. Arrays are NumPy copies, independent of the optimizer."""
        return {
            "optimizer": type(self).__name__,
            "defaults": dict(self.defaults),
            "state": {index: {key: _host_copy(value) for key, value in state.items()}
                      for index, state in enumerate(self.state) if state},
        }

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyperparameters and state saved by :meth:`state_dict` (the parameters
        themselves are restored by the model's ``load_state_dict``). Arrays are copied onto the
        active backend with each parameter's dtype. Nothing changes if the state does not fit:
        the error lists every problem."""
        name = type(self).__name__
        saved_name = state_dict.get("optimizer")
        if saved_name != name:
            raise ValueError(f"{name}: cannot load the state of a {saved_name} optimizer")
        problems = []
        defaults = dict(state_dict.get("defaults", {}))
        if set(defaults) != set(self.defaults):
            problems.append(f"hyperparameters {sorted(defaults)}, expected {sorted(self.defaults)}")
        entries = {int(index): entry for index, entry in state_dict.get("state", {}).items()}
        for index in sorted(entries):
            if not 0 <= index < len(self.params):
                problems.append(f"state for parameter {index}, but there are only "
                                f"{len(self.params)} parameters")
                continue
            expected = tuple(self.params[index].data.shape)
            for key, value in entries[index].items():
                if key != "step" and tuple(getattr(value, "shape", ())) != expected:
                    problems.append(f"state[{index}][{key!r}]: expected shape {expected}, "
                                    f"got {tuple(getattr(value, 'shape', ()))}")
        if problems:
            raise ValueError(f"{name}: state does not fit this optimizer: " + "; ".join(problems))
        self.defaults = defaults
        self.state = [{} for _ in self.params]
        for index, entry in entries.items():
            dtype = self.params[index].data.dtype
            self.state[index] = {key: int(value) if key == "step" else _device_copy(value, dtype)
                                 for key, value in entry.items()}


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and
    weight decay (torch.optim.SGD). For every parameter p with gradient grad (element-wise;
    grad and the momentum buffer b have p's shape)::

        g <- grad + weight_decay * p                   (weight decay = L2 penalty on the loss)
        b <- g                                         at the first step
        b <- momentum * b + (1 - dampening) * g        at later steps    (when momentum != 0)
        d <- g + momentum * b  if nesterov  else  b    (d = g when momentum == 0)
        p <- p - lr * d

    The momentum buffer b starts at the first gradient itself, undamped, as in torch. Nesterov
    momentum needs momentum > 0 and dampening 0.
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False):
        name = type(self).__name__
        defaults = dict(lr=_at_least_zero(name, "lr", lr),
                        momentum=_at_least_zero(name, "momentum", momentum),
                        dampening=_real(name, "dampening", dampening),
                        weight_decay=_at_least_zero(name, "weight_decay", weight_decay),
                        nesterov=bool(nesterov))
        if nesterov and (defaults["momentum"] <= 0 or defaults["dampening"] != 0):
            raise ValueError(f"{name}: nesterov=True requires momentum > 0 and dampening = 0, "
                             f"got momentum={momentum!r} and dampening={dampening!r}")
        super().__init__(params, defaults)

    def _update(self, param, grad, state):
        hp = self.defaults
        first_step = hp["momentum"] != 0 and "momentum_buffer" not in state
        if first_step:
            state["momentum_buffer"] = backend.xp.empty_like(param)
        kernels.sgd_update(param, grad, state.get("momentum_buffer"), first_step, hp["lr"],
                           hp["momentum"], hp["dampening"], hp["weight_decay"], hp["nesterov"])


class RMSprop(Optimizer):
    """RMSprop (torch.optim.RMSprop): divide the gradient by a running root-mean-square of
    recent gradients. For every parameter p with gradient grad (s, a, b start at zero;
    element-wise, every array shaped like p)::

        g   <- grad + weight_decay * p
        s   <- alpha * s + (1 - alpha) * g * g                 (mean square)
        a   <- a + (1 - alpha) * (g - a)                       (mean, only if centered)
        den <- sqrt(s - a * a) + eps  if centered  else  sqrt(s) + eps
        b   <- momentum * b + g / den;   p <- p - lr * b       if momentum > 0
        p   <- p - lr * g / den                                otherwise

    Centered RMSprop divides by an estimate of the gradient's standard deviation instead.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False):
        name = type(self).__name__
        defaults = dict(lr=_at_least_zero(name, "lr", lr),
                        alpha=_in_unit_interval(name, "alpha", alpha, include_one=True),
                        eps=_at_least_zero(name, "eps", eps),
                        weight_decay=_at_least_zero(name, "weight_decay", weight_decay),
                        momentum=_at_least_zero(name, "momentum", momentum),
                        centered=bool(centered))
        super().__init__(params, defaults)

    def _update(self, param, grad, state):
        hp = self.defaults
        if not state:
            zeros = backend.xp.zeros_like
            state.update(step=0, square_avg=zeros(param))
            if hp["momentum"] > 0:
                state["momentum_buffer"] = zeros(param)
            if hp["centered"]:
                state["grad_avg"] = zeros(param)
        state["step"] += 1
        kernels.rmsprop_update(param, grad, state["square_avg"], state.get("grad_avg"),
                               state.get("momentum_buffer"), hp["lr"], hp["alpha"], hp["eps"],
                               hp["weight_decay"], hp["momentum"])


class Adam(Optimizer):
    """Adam (torch.optim.Adam): momentum on the gradient, divided by the root of a running
    mean of its square, both bias-corrected for their zero start. For every parameter p with
    gradient grad, at its t-th update (t = 1, 2, ...; m and v start at zero; element-wise,
    every array shaped like p)::

        g <- grad + weight_decay * p                   (L2 penalty; AdamW decouples it)
        m <- beta1 * m + (1 - beta1) * g               (first moment)
        v <- beta2 * v + (1 - beta2) * g * g           (second moment; v_max <- max(v_max, v)
                                                        and v_max is used below if amsgrad)
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    eps is added after the bias correction of sqrt(v), exactly as torch does.
    """

    decoupled_weight_decay = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False):
        name = type(self).__name__
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        defaults = dict(lr=_at_least_zero(name, "lr", lr),
                        betas=(_in_unit_interval(name, "betas[0]", betas[0]),
                               _in_unit_interval(name, "betas[1]", betas[1])),
                        eps=_at_least_zero(name, "eps", eps),
                        weight_decay=_at_least_zero(name, "weight_decay", weight_decay),
                        amsgrad=bool(amsgrad))
        super().__init__(params, defaults)

    def _update(self, param, grad, state):
        hp = self.defaults
        if not state:
            zeros = backend.xp.zeros_like
            state.update(step=0, exp_avg=zeros(param), exp_avg_sq=zeros(param))
            if hp["amsgrad"]:
                state["max_exp_avg_sq"] = zeros(param)
        state["step"] += 1
        kernels.adam_update(param, grad, state["exp_avg"], state["exp_avg_sq"],
                            state.get("max_exp_avg_sq"), state["step"], hp["lr"], *hp["betas"],
                            hp["eps"], hp["weight_decay"], self.decoupled_weight_decay)


class AdamW(Adam):
    """AdamW (torch.optim.AdamW): Adam with decoupled weight decay. Instead of adding
    weight_decay * p to the gradient (which Adam then rescales per coordinate), the parameter
    is shrunk directly before the Adam step::

        p <- p * (1 - lr * weight_decay)
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    with m and v computed from the raw gradient as in :class:`Adam`. Default weight_decay 1e-2.
    """

    decoupled_weight_decay = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)


# --- hyperparameter checks (a ValueError naming the optimizer, the setting and its value) ---

def _real(optimizer: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{optimizer}: {name} must be a real number, got {value!r}")
    return float(value)


def _at_least_zero(optimizer: str, name: str, value) -> float:
    value = _real(optimizer, name, value)
    if not value >= 0.0:                      # also rejects NaN
        raise ValueError(f"{optimizer}: invalid {name}={value!r}: must be >= 0")
    return value


def _in_unit_interval(optimizer: str, name: str, value, include_one=False) -> float:
    value = _real(optimizer, name, value)
    inside = 0.0 <= value <= 1.0 if include_one else 0.0 <= value < 1.0
    if not inside:
        interval = "[0, 1]" if include_one else "[0, 1)"
        raise ValueError(f"{optimizer}: invalid {name}={value!r}: must be in {interval}")
    return value


# --- moving state between the device and the host ------------------------------------------

def _host_copy(value):
    if isinstance(value, int):
        return value
    host = backend.to_numpy(value)
    return host.copy() if host is value else host      # to_numpy copies only from a GPU


def _device_copy(value, dtype):
    device = backend.to_device(value, dtype=dtype)
    return device.copy() if device is value else device
