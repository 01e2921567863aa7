"""Finite-difference gradient checks: the proof that a hand-written backward is right.

The idea (as in CS231n's ``gradient_check.py``): turn a layer with a vector output into a scalar
by contracting it with a fixed random upstream gradient ``g``,

    L(x, params) = sum(forward(x) * g),

so ``backward(g)`` must return exactly dL/dx and leave dL/dparam in every ``param.grad``. The
numerical estimate of each entry is the central difference

    dL/dx_i ~ (L(x + eps e_i) - L(x - eps e_i)) / (2 eps),

whose truncation error is O(eps^2), plus a rounding error of about 1e-16 / eps (the two values
of L are exact to ~1e-16 of their size, and their difference is divided by 2 eps): ~1e-10 at
the default eps = 1e-6. ``array`` is perturbed in place, so the closure must read that very
array (a copy never sees the perturbation, and the "gradient" comes out all zeros).
Everything runs in float64 (float32 has only ~7 digits, so its differences drown in
rounding); the comparison is the relative error

    ||analytic - numeric|| / (||analytic|| + ||numeric||),

which is ~1e-10 for a correct backward in float64 and ~1e-1 or worse for a wrong one.
One caveat: a gradient that is exactly zero in theory (a bias followed by BatchNorm, whose
mean subtraction cancels it) compares rounding noise with rounding noise and reports an error
near 1; look at the magnitudes (``numerical_gradient``) before blaming the backward.

Typical use, from a test or a notebook::

    from tinynet.gradcheck import check_module
    report = check_module(Linear(4, 3), x)   # x of shape (N, 4)
    print(report)                            # relative error per input / parameter
    assert report.max_error < 1e-6
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy

from tinynet import backend

DEFAULT_EPS = 1e-6
UPSTREAM_STREAM = 0x6A4D


@dataclass
class GradcheckReport:
    """Relative error of the analytic gradient of each checked array ("input", "weight", ...),
    and in ``abs_errors`` the largest absolute difference ``max |analytic - numeric|``."""
    errors: dict = field(default_factory=dict)
    abs_errors: dict = field(default_factory=dict)

    def add(self, name: str, analytic, numeric) -> None:
        """Record the relative and the largest absolute error of one gradient."""
        self.errors[name] = relative_error(analytic, numeric)
        difference = numpy.abs(backend.to_numpy(analytic) - backend.to_numpy(numeric))
        self.abs_errors[name] = float(difference.max()) if difference.size else 0.0

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=0.0)

    def passed(self, tolerance: float = 1e-6) -> bool:
        return self.max_error < tolerance

    def __str__(self):
        return "\n".join(f"{name:>24}: relative error {error:.3e}"
                         for name, error in self.errors.items())


def relative_error(analytic, numeric) -> float:
    """``||a - n|| / (||a|| + ||n||)``, 0 when both are exactly zero."""
    a = numpy.asarray(backend.to_numpy(analytic), dtype=numpy.float64)
    n = numpy.asarray(backend.to_numpy(numeric), dtype=numpy.float64)
    denominator = numpy.linalg.norm(a) + numpy.linalg.norm(n)
    return 0.0 if denominator == 0 else float(numpy.linalg.norm(a - n) / denominator)


def numerical_gradient(f, array, eps: float = DEFAULT_EPS):
    """Central-difference gradient of the scalar function ``f()`` with respect to ``array``.

    ``array`` is perturbed in place one entry at a time (and restored), so ``f`` must read it
    afresh on each call. Returns a host float64 array of ``array``'s shape.
    """
    grad = numpy.zeros(array.shape, dtype=numpy.float64)
    flat = array.reshape(-1)          # a view: writing into it perturbs ``array``
    for i in range(flat.size):        # a loop is fine here: this is a test, not a hot path
        original = backend.to_float(flat[i])
        flat[i] = original + eps
        f_plus = float(backend.to_numpy(f()))
        flat[i] = original - eps
        f_minus = float(backend.to_numpy(f()))
        flat[i] = original
        grad.reshape(-1)[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def _float64_copy(module):
    return module.copy().astype(numpy.float64)


def check_module(module, x, eps: float = DEFAULT_EPS, seed: int = 0,
                 before_forward=None) -> GradcheckReport:
    """Check ``module.backward`` against finite differences at input ``x``.

    Works on a float64 copy of the module, so the caller's module is untouched (train/eval
    mode is kept). ``before_forward`` is called before every forward pass; pass e.g.
    ``lambda: backend.seed(0)`` to make a random layer (Dropout) draw the same mask each time.
    Returns the relative error for the input gradient and every parameter gradient.
    """
    module = _float64_copy(module)
    x = backend.to_device(x, dtype=numpy.float64).copy()
    # The upstream gradient has a random stream of its own: drawn from default_rng(seed) it
    # would equal an input drawn the same way, and e.g. BatchNorm's input gradient along its
    # own normalised input is exactly zero, which would leave nothing to check.
    upstream = backend.to_device(numpy.random.default_rng([seed, UPSTREAM_STREAM]).standard_normal(
        _output_shape(module, x, before_forward)))

    def loss():
        if before_forward is not None:
            before_forward()
        return (module.forward(x) * upstream).sum()

    loss()
    module.zero_grad()
    grad_x = module.backward(upstream.copy())
    report = GradcheckReport()
    report.add("input", grad_x, numerical_gradient(loss, x, eps))
    for name, param in module.named_parameters():
        analytic = param.grad if param.grad is not None else backend.xp.zeros_like(param.data)
        report.add(name, analytic, numerical_gradient(loss, param.data, eps))
    return report


def _output_shape(module, x, before_forward):
    if before_forward is not None:
        before_forward()
    return tuple(module.forward(x).shape)


def check_loss(loss_fn, prediction, target, eps: float = DEFAULT_EPS) -> GradcheckReport:
    """Check ``loss_fn.backward()`` (dL/dprediction of the scalar loss) by finite differences."""
    prediction = backend.to_device(prediction, dtype=numpy.float64).copy()
    if backend.xp.issubdtype(backend.xp.asarray(target).dtype, backend.xp.floating):
        target = backend.to_device(target, dtype=numpy.float64)
    else:
        target = backend.to_device(target)

    def loss():
        return loss_fn.forward(prediction, target)

    loss()
    analytic = loss_fn.backward()
    report = GradcheckReport()
    report.add("prediction", analytic, numerical_gradient(loss, prediction, eps))
    return report
