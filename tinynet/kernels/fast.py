"""The fast kernels: the reference kernels' algorithms as Numba loops, compiled for the CPU.

Each public function here has the name, arguments and results of the function of the same name
in ``tinynet.kernels.reference`` and is tested equal to it: exactly where both do the same
floating-point operations in the same order (the copies, the max pooling, col2im's sums, the
optimizer updates), within float32 rounding where they cannot (exp, and sums whose order NumPy
chooses). Nothing here is imported until a kernel is first called with the fast kernels on
(see ``tinynet.kernels``): importing this module imports Numba, and each loop is compiled on its
first call for the dtypes it is given, then cached on disk (``cache=True``) so that later
processes load it instead of compiling again.

Why loops are fast here: NumPy makes one pass over memory per operation, and a loop makes one
pass for the whole formula (Adam reads p, g, m, v once and writes p, m, v once); the window
kernels (im2col, col2im, max pooling) become plain nested loops instead of many short strided
NumPy rows. The window kernels are ``parallel=True``: their outer ``prange`` (over images, or
rows of cols) is spread over Numba's threads, whose number follows ``tinynet.threads``; Numba's
threads get the calling thread's floating-point settings whenever
``tinynet.denormals.set_flush_denormal`` changes them (``share_denormal_setting``). The
element-wise and optimizer loops run in the calling thread: vectorised by LLVM they are already
a single pass at memory speed, and waking threads for them cost more than it saved (tens of
microseconds per call, hundreds on a busy machine).
"""
from __future__ import annotations

import ctypes
import os

import numba
import numpy as np

# Numba's parallel loops run on the "workqueue" threading layer unless NUMBA_THREADING_LAYER
# says otherwise. Its default pick here, OpenMP, shares the process with PyTorch's own OpenMP
# runtime and BLAS's threads: measured on 2 cores, PyTorch's E1 epoch became 35 times slower
# once tinynet's kernels had run in the same process, and spinning OpenMP threads fought
# OpenBLAS's for the cores (a batch-1 step took 10 ms instead of 0.45 ms).
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"

from numba import prange

from tinynet import denormals, threads
from tinynet.kernels import reference

threads.apply_to_numba()          # Numba's thread count follows BLAS's from the start


def _compiled(parallel=False):
    """``numba.njit`` with NumPy's rules for errors (x / 0 is inf, not an exception: that is
    the reference's behaviour, and what lets LLVM vectorise the loops: Adam over 100k floats
    took 0.27 ms with Python's rules, 0.06 ms with NumPy's). Cached on disk when a cache
    folder is writable (Numba looks beside this file, then in the user's cache folder, or in
    $NUMBA_CACHE_DIR); otherwise compiled anew in each process, slower to start but working."""
    def decorate(function):
        try:
            return numba.njit(cache=True, parallel=parallel, error_model="numpy")(function)
        except RuntimeError:       # "cannot cache function ...: no locator available"
            return numba.njit(parallel=parallel, error_model="numpy")(function)
    return decorate


# --- convolution: im2col and its adjoint ------------------------------------------------------

def im2col(x, kernel_size, stride, padding):
    out_h, out_w = reference.output_hw(x.shape, kernel_size, stride, padding)
    n, c = x.shape[:2]
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    cols = np.empty((c * kh * kw, n * out_h * out_w), dtype=x.dtype)
    _im2col(np.ascontiguousarray(x), kh, kw, sh, sw, ph, pw, cols)
    return cols


@_compiled(parallel=True)
def _im2col(x, kh, kw, sh, sw, ph, pw, cols):
    """cols[(c, i, j), (n, oh, ow)] = x[n, c, oh*sh + i - ph, ow*sw + j - pw], 0 outside x."""
    n, c, h, w = x.shape
    out_h, out_w = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    for row in prange(c * kh * kw):
        channel, i, j = row // (kh * kw), row // kw % kh, row % kw
        for b in range(n):
            for oh in range(out_h):
                y = oh * sh + i - ph
                column = (b * out_h + oh) * out_w
                for ow in range(out_w):
                    x_col = ow * sw + j - pw
                    inside = 0 <= y < h and 0 <= x_col < w
                    cols[row, column + ow] = x[b, channel, y, x_col] if inside else 0


def col2im(cols, x_shape, kernel_size, stride, padding):
    grad = np.zeros(x_shape, dtype=cols.dtype)
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    _col2im(np.ascontiguousarray(cols), kh, kw, sh, sw, ph, pw, grad)
    return grad


@_compiled(parallel=True)
def _col2im(cols, kh, kw, sh, sw, ph, pw, grad):
    """grad[n, c, oh*sh + i - ph, ow*sw + j - pw] += cols[(c, i, j), (n, oh, ow)], adding
    over (i, j) in the reference's order; each image (n, c) is one thread's own."""
    n, c, h, w = grad.shape
    out_h, out_w = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    for image in prange(n * c):
        b, channel = image // c, image % c
        for i in range(kh):
            for j in range(kw):
                row = (channel * kh + i) * kw + j
                for oh in range(out_h):
                    y = oh * sh + i - ph
                    if 0 <= y < h:
                        column = (b * out_h + oh) * out_w
                        for ow in range(out_w):
                            x_col = ow * sw + j - pw
                            if 0 <= x_col < w:
                                grad[b, channel, y, x_col] += cols[row, column + ow]


# --- max pooling ------------------------------------------------------------------------------

def window_max(x, kernel_size, stride, padding):
    out_h, out_w = reference.output_hw(x.shape, kernel_size, stride, padding)
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    n, c = x.shape[:2]
    best = np.empty((n, c, out_h, out_w), dtype=x.dtype)
    argmax = np.empty((n, c, out_h, out_w), dtype=np.uint8 if kh * kw <= 256 else np.int64)
    if _is_2x2_pool(kernel_size, stride, padding):
        _window_max_2x2(np.ascontiguousarray(x), best, argmax)
    else:
        _window_max(np.ascontiguousarray(x), kh, kw, sh, sw, ph, pw, best, argmax)
    return best, argmax


def _is_2x2_pool(kernel_size, stride, padding):
    """The pooling of nearly every CNN (LeNet's, E2's, E6's): 2x2 windows at stride 2 without
    padding. Its kernels spell the four entries out, which the compiler turns into vector
    instructions: about 4 times faster forward and 2 times backward than the general loops on
    one thread (``python -m benchmarks.cnn_limits kernels``)."""
    return tuple(kernel_size) == tuple(stride) == (2, 2) and tuple(padding) == (0, 0)


@_compiled(parallel=True)
def _window_max(x, kh, kw, sh, sw, ph, pw, best, argmax):
    """For each window: the running max over its entries i*kw + j (-inf in the padding),
    taking an entry when it is the first, larger, or NaN, as the reference does. Written
    without branches (selects), which the CPU runs faster on random data."""
    n, c, h, w = x.shape
    out_h, out_w = best.shape[2:]
    for image in prange(n * c):
        b, channel = image // c, image % c
        for oh in range(out_h):
            for ow in range(out_w):
                top, left = oh * sh - ph, ow * sw - pw
                window_best, window_arg = -np.inf, 0
                for i in range(kh):
                    for j in range(kw):
                        y, x_col = top + i, left + j
                        inside = (0 <= y) & (y < h) & (0 <= x_col) & (x_col < w)
                        value = x[b, channel, y, x_col] if inside else -np.inf
                        take = (i == 0) & (j == 0) | (value > window_best) | np.isnan(value)
                        window_best = value if take else window_best
                        window_arg = i * kw + j if take else window_arg
                best[b, channel, oh, ow] = window_best
                argmax[b, channel, oh, ow] = window_arg


@_compiled(parallel=True)
def _window_max_2x2(x, best, argmax):
    """_window_max for 2x2 windows at stride 2 without padding: the same comparisons in the
    same order, the window's entries (0, 0), (0, 1), (1, 0), (1, 1) numbered 0 to 3."""
    n, c = x.shape[:2]
    out_h, out_w = best.shape[2:]
    for image in prange(n * c):
        b, channel = image // c, image % c
        for oh in range(out_h):
            for ow in range(out_w):
                window_best, window_arg = x[b, channel, 2 * oh, 2 * ow], 0
                for index in range(1, 4):
                    value = x[b, channel, 2 * oh + index // 2, 2 * ow + index % 2]
                    take = (value > window_best) | np.isnan(value)
                    window_best = value if take else window_best
                    window_arg = index if take else window_arg
                best[b, channel, oh, ow] = window_best
                argmax[b, channel, oh, ow] = window_arg


def window_max_backward(grad_out, argmax, x_shape, kernel_size, stride, padding):
    if _is_2x2_pool(kernel_size, stride, padding):
        grad = np.empty(x_shape, dtype=grad_out.dtype)
        _window_max_backward_2x2(np.ascontiguousarray(grad_out), np.ascontiguousarray(argmax),
                                 grad)
        return grad
    grad = np.zeros(x_shape, dtype=grad_out.dtype)
    kw, (sh, sw), (ph, pw) = kernel_size[1], stride, padding
    _window_max_backward(np.ascontiguousarray(grad_out),
                         np.ascontiguousarray(argmax), kw, sh, sw, ph, pw, grad)
    return grad


@_compiled(parallel=True)
def _window_max_backward(grad_out, argmax, kw, sh, sw, ph, pw, grad):
    """grad[pixel of window (oh, ow)'s argmax] += grad_out[oh, ow], in the reference's order."""
    n, c, h, w = grad.shape
    out_h, out_w = grad_out.shape[2:]
    for image in prange(n * c):
        b, channel = image // c, image % c
        for oh in range(out_h):
            for ow in range(out_w):
                index = argmax[b, channel, oh, ow]
                y, x_col = oh * sh - ph + index // kw, ow * sw - pw + index % kw
                if 0 <= y < h and 0 <= x_col < w:
                    grad[b, channel, y, x_col] += grad_out[b, channel, oh, ow]


@_compiled(parallel=True)
def _window_max_backward_2x2(grad_out, argmax, grad):
    """_window_max_backward for 2x2 windows at stride 2 without padding. They do not overlap,
    so every pixel is written once, with nothing to add: 0 + grad_out at the window's argmax
    (the reference's sum, which makes -0.0 into 0.0), 0 at its other three pixels and in the
    last row and column that no window covers when H or W is odd."""
    n, c, h, w = grad.shape
    out_h, out_w = grad_out.shape[2:]
    for image in prange(n * c):
        b, channel = image // c, image % c
        for oh in range(out_h):
            for ow in range(out_w):
                routed, index = grad_out[b, channel, oh, ow] + 0.0, argmax[b, channel, oh, ow]
                grad[b, channel, 2 * oh, 2 * ow] = routed if index == 0 else 0
                grad[b, channel, 2 * oh, 2 * ow + 1] = routed if index == 1 else 0
                grad[b, channel, 2 * oh + 1, 2 * ow] = routed if index == 2 else 0
                grad[b, channel, 2 * oh + 1, 2 * ow + 1] = routed if index == 3 else 0
            if w % 2:
                grad[b, channel, 2 * oh, w - 1] = 0
                grad[b, channel, 2 * oh + 1, w - 1] = 0
        if h % 2:
            for x_col in range(w):
                grad[b, channel, h - 1, x_col] = 0


# --- linear layer -----------------------------------------------------------------------------

def linear_weight_grad(grad_out, x):
    if len(grad_out) != 1:
        return grad_out.T @ x            # a GEMM: BLAS is as fast as it gets
    grad = np.empty((grad_out.shape[1], x.shape[1]), dtype=np.result_type(grad_out, x))
    _outer(grad_out[0], x[0], grad)      # one sample: as a GEMM with K = 1, BLAS is slow
    return grad


@_compiled()
def _outer(g, x, out):
    """out[o, i] = g[o] * x[i]."""
    for o in range(g.size):
        for i in range(x.size):
            out[o, i] = g[o] * x[i]


# --- element-wise: ReLU, softmax with cross-entropy -------------------------------------------

def relu(x):
    y = np.empty_like(x)
    mask = np.empty(x.shape, dtype=np.bool_)
    _relu(x.reshape(-1), y.reshape(-1), mask.reshape(-1))
    return y, mask


@_compiled()
def _relu(x, y, mask):
    """y = max(x, 0) as NumPy's maximum (x when x >= 0 or NaN, else 0); mask = x > 0."""
    for k in range(x.size):
        value = x[k]
        y[k] = value if value >= 0 or np.isnan(value) else 0
        mask[k] = value > 0


def relu_backward(grad_out, mask):
    grad = np.empty_like(grad_out)
    _relu_backward(np.ascontiguousarray(grad_out).reshape(-1),
                   mask.reshape(-1), grad.reshape(-1))
    return grad


@_compiled()
def _relu_backward(grad_out, mask, grad):
    """grad = grad_out * mask (a product, as the reference: NaN * 0 stays NaN)."""
    for k in range(grad.size):
        grad[k] = grad_out[k] * (1 if mask[k] else 0)


def softmax_cross_entropy(logits, labels):
    probs = np.empty_like(logits)
    loss = _softmax_cross_entropy(np.ascontiguousarray(logits), labels, probs)
    return np.asarray(loss, dtype=logits.dtype), probs


@_compiled()
def _softmax_cross_entropy(logits, labels, probs):
    """probs = softmax of each row; returns the mean of log(sum exp(z - max)) - (z_label - max)."""
    n, num_classes = logits.shape
    total = 0.0
    for r in range(n):
        top = logits[r, 0]
        for k in range(1, num_classes):
            top = max(top, logits[r, k])
        sum_exp = 0.0
        for k in range(num_classes):
            probs[r, k] = np.exp(logits[r, k] - top)
            sum_exp += probs[r, k]
        for k in range(num_classes):
            probs[r, k] /= sum_exp
        total += np.log(sum_exp) - (logits[r, labels[r]] - top)
    return total / n


def softmax_cross_entropy_backward(probs, labels, scale):
    grad = np.empty_like(probs)
    _softmax_cross_entropy_backward(probs, labels, probs.dtype.type(scale), grad)
    return grad


@_compiled()
def _softmax_cross_entropy_backward(probs, labels, scale, grad):
    """grad = (probs - onehot(labels)) * scale."""
    n, num_classes = probs.shape
    for r in range(n):
        for k in range(num_classes):
            grad[r, k] = probs[r, k]
        grad[r, labels[r]] -= 1          # one rounding to the dtype, as in the reference
        for k in range(num_classes):
            grad[r, k] *= scale


# --- optimizer updates: one pass over the parameter, its gradient and its state ---------------
# They work on flat views, so every array must be C-contiguous (tinynet allocates them so);
# anything else goes to the reference, which handles any layout.
# Scalars are cast to the parameter's dtype first, as NumPy does with Python floats, so that a
# float32 update is float32 arithmetic in the same order as the reference's.

def _contiguous(*arrays):
    return all(a is None or a.flags.c_contiguous for a in arrays)


def sgd_update(param, grad, momentum_buffer, first_step, lr, momentum, dampening,
               weight_decay, nesterov):
    if not _contiguous(param, grad, momentum_buffer):
        return reference.sgd_update(param, grad, momentum_buffer, first_step, lr, momentum,
                                    dampening, weight_decay, nesterov)
    real = param.dtype.type
    buffer = param if momentum_buffer is None else momentum_buffer     # unused when momentum 0
    _sgd(param.reshape(-1), grad.reshape(-1), buffer.reshape(-1), first_step,
         real(lr), real(momentum), real(1 - dampening), real(weight_decay), nesterov)


@_compiled()
def _sgd(p, grad, buf, first_step, lr, momentum, one_minus_dampening, weight_decay, nesterov):
    for k in range(p.size):
        g = grad[k] + weight_decay * p[k] if weight_decay != 0 else grad[k]
        if momentum != 0:
            buf[k] = g if first_step else buf[k] * momentum + one_minus_dampening * g
            g = g + momentum * buf[k] if nesterov else buf[k]
        p[k] = p[k] - lr * g


def rmsprop_update(param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha, eps,
                   weight_decay, momentum):
    if not _contiguous(param, grad, square_avg, grad_avg, momentum_buffer):
        return reference.rmsprop_update(param, grad, square_avg, grad_avg, momentum_buffer, lr,
                                        alpha, eps, weight_decay, momentum)
    real = param.dtype.type
    centered, has_momentum = grad_avg is not None, momentum_buffer is not None
    _rmsprop(param.reshape(-1), grad.reshape(-1), square_avg.reshape(-1),
             (grad_avg if centered else param).reshape(-1),
             (momentum_buffer if has_momentum else param).reshape(-1),
             centered, has_momentum, real(lr), real(alpha), real(1 - alpha),
             real(1 - (1 - alpha)), real(eps), real(weight_decay), real(momentum))


@_compiled()
def _rmsprop(p, grad, square_avg, grad_avg, buf, centered, has_momentum, lr, alpha,
             one_minus_alpha, alpha_again, eps, weight_decay, momentum):
    """alpha_again is 1 - (1 - alpha), rounded as the reference's lerp_ rounds it."""
    for k in range(p.size):
        g = grad[k] + weight_decay * p[k] if weight_decay != 0 else grad[k]
        square_avg[k] = square_avg[k] * alpha + one_minus_alpha * g * g
        if centered:
            grad_avg[k] = _lerp(grad_avg[k], g, one_minus_alpha, alpha_again)
            denom = np.sqrt(square_avg[k] - grad_avg[k] * grad_avg[k]) + eps
        else:
            denom = np.sqrt(square_avg[k]) + eps
        if has_momentum:
            buf[k] = buf[k] * momentum + g / denom
            p[k] = p[k] - lr * buf[k]
        else:
            p[k] = p[k] - lr * (g / denom)


def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
                weight_decay, decoupled_weight_decay):
    if not _contiguous(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq):
        return reference.adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr,
                                     beta1, beta2, eps, weight_decay, decoupled_weight_decay)
    real = param.dtype.type
    amsgrad = max_exp_avg_sq is not None
    decay = real(1 - lr * weight_decay) if decoupled_weight_decay else real(1)
    l2 = real(0) if decoupled_weight_decay else real(weight_decay)
    _adam(param.reshape(-1), grad.reshape(-1), exp_avg.reshape(-1),
          exp_avg_sq.reshape(-1), (max_exp_avg_sq if amsgrad else exp_avg_sq).reshape(-1),
          amsgrad, decay, l2, real(1 - beta1), real(1 - (1 - beta1)), real(beta2),
          real(1 - beta2), real(lr / (1 - beta1 ** step)), real((1 - beta2 ** step) ** 0.5),
          real(eps))


@_compiled()
def _adam(p, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, amsgrad, decay, l2, one_minus_beta1,
          beta1_again, beta2, one_minus_beta2, step_size, root_bias_correction2, eps):
    """beta1_again is 1 - (1 - beta1), rounded as the reference's lerp_ rounds it."""
    for k in range(p.size):
        if decay != 1:
            p[k] = p[k] * decay                              # AdamW's decoupled decay
        g = grad[k] + l2 * p[k] if l2 != 0 else grad[k]      # Adam's L2 penalty
        exp_avg[k] = _lerp(exp_avg[k], g, one_minus_beta1, beta1_again)
        exp_avg_sq[k] = exp_avg_sq[k] * beta2 + one_minus_beta2 * g * g
        second_moment = exp_avg_sq[k]
        if amsgrad:
            max_exp_avg_sq[k] = max(max_exp_avg_sq[k], second_moment)
            second_moment = max_exp_avg_sq[k]
        denom = np.sqrt(second_moment) / root_bias_correction2 + eps
        p[k] = p[k] - step_size * (exp_avg[k] / denom)


@_compiled()
def _lerp(start, end, weight, one_minus_weight):
    """start + weight * (end - start), with torch.lerp_'s two formulas (as reference.lerp_)."""
    if weight < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * one_minus_weight


# --- the denormal setting, shared with Numba's threads ----------------------------------------

def share_denormal_setting():
    """Give each of Numba's threads the calling thread's floating-point environment (its
    denormal setting): a parallel loop whose every iteration calls glibc's ``fesetenv``. Numba
    splits a loop's range evenly over its threads, so with a few iterations per thread every
    thread runs some. A no-op where ``tinynet.denormals`` is not supported."""
    found = denormals.floating_point_environment()
    if found is None:
        return
    libm, environment, _ = found
    if _fesetenv[0] is None:
        fesetenv = libm.fesetenv
        fesetenv.argtypes, fesetenv.restype = [ctypes.c_void_p], ctypes.c_int
        _fesetenv[0] = fesetenv
        _fesetenv[1] = numba.njit(parallel=True)(_set_environment_loop(fesetenv))
    in_use = numba.get_num_threads()
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)       # all threads, even idle ones
    _fesetenv[1](ctypes.addressof(environment), 16 * numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(in_use)


_fesetenv = [None, None]   # the ctypes function and its compiled loop (not cacheable on disk)


def _set_environment_loop(fesetenv):
    def set_environment(address, iterations):
        for _ in prange(iterations):
            fesetenv(address)
    return set_environment


denormals.followers.append(share_denormal_setting)
if denormals.flush_denormal_enabled():
    share_denormal_setting()
