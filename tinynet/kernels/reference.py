"""The reference kernels: each one short array code on ``backend.xp``, the algorithm as taught.

These run on CuPy (and on NumPy when the fast kernels are off); ``tinynet.kernels.fast`` holds
Numba loops computing the same things on the CPU, tested equal to these. Every function takes
and returns arrays and never keeps state: the layers and optimizers keep what they need.
"""
from __future__ import annotations

from tinynet import backend

# --- padding and window geometry --------------------------------------------------------------


def pad2d(x, padding, value=0.0):
    """(N, C, H, W) -> (N, C, H + 2*ph, W + 2*pw), the border filled with ``value``.
    Returns ``x`` itself when there is no padding (no copy)."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    n, c, h, w = x.shape
    padded = backend.xp.full((n, c, h + 2 * ph, w + 2 * pw), value, dtype=x.dtype)
    padded[:, :, ph:ph + h, pw:pw + w] = x
    return padded


def unpad2d(x, padding):
    """Strip the border added by :func:`pad2d` (a view)."""
    ph, pw = padding
    return x[:, :, ph:x.shape[2] - ph, pw:x.shape[3] - pw]


def output_hw(x_shape, kernel_size, stride, padding):
    """``(OH, OW)`` of the windows over (N, C, H, W): ``OH = (H + 2*ph - kh) // sh + 1``."""
    (h, w), (kh, kw), (sh, sw), (ph, pw) = x_shape[-2:], kernel_size, stride, padding
    return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1


# --- convolution: im2col and its adjoint ------------------------------------------------------

def im2col(x, kernel_size, stride, padding):
    """x (N, C, H, W) -> cols (C*kh*kw, N*OH*OW): every window of the zero-padded input as a
    column, rows ordered (c, i, j) like a conv weight's axes, columns ordered (n, oh, ow).

    ``sliding_windows`` is a view (N, C, OH, OW, kh, kw) of the padded input; moving its axes
    into (C, kh, kw, N, OH, OW) order and reshaping makes the one copy."""
    windows = backend.sliding_windows(pad2d(x, padding), kernel_size, stride)
    n, c, out_h, out_w, kh, kw = windows.shape
    return windows.transpose(1, 4, 5, 0, 2, 3).reshape(c * kh * kw, n * out_h * out_w)


def col2im(cols, x_shape, kernel_size, stride, padding):
    """The adjoint of :func:`im2col`: cols (C*kh*kw, N*OH*OW) -> (N, C, H, W), each pixel the
    sum of the entries of every window that contains it (windows overlap when stride < kernel).

    One add per kernel offset (i, j): the (i, j) entries of all windows are a strided slice of
    the padded image."""
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    out_h, out_w = output_hw(x_shape, kernel_size, stride, padding)
    window_grads = cols.reshape(c, kh, kw, n, out_h, out_w)
    grad = backend.xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            grad[:, :, i:i + sh * out_h:sh, j:j + sw * out_w:sw] += (
                window_grads[:, i, j].transpose(1, 0, 2, 3))
    return unpad2d(grad, padding)


# --- max pooling: the max of each window, and the routing of its gradient --------------------

def window_max(x, kernel_size, stride, padding):
    """x (N, C, H, W) -> (y, argmax), both (N, C, OH, OW): the max of each window of the
    input padded with -inf, and the index ``i*kw + j`` of the entry holding it. On ties the
    first max wins; a NaN wins over every number and the last NaN wins over the others
    (PyTorch's rules: NaN propagates).

    A running max over the kh*kw entries, each step vectorised over all windows: the index
    only grows, to the latest entry that beat the max so far."""
    xp = backend.xp
    windows = backend.sliding_windows(pad2d(x, padding, -xp.inf), kernel_size, stride)
    kh, kw = kernel_size
    best = windows[..., 0, 0].copy()
    argmax = xp.zeros(best.shape, dtype=xp.uint8 if kh * kw <= 256 else xp.int64)
    for index in range(1, kh * kw):
        candidate = windows[..., index // kw, index % kw]
        better = (candidate > best) | xp.isnan(candidate)
        best = xp.maximum(best, candidate)                  # NaN propagates
        argmax[better] = index
    return best, argmax


def window_max_backward(grad_out, argmax, x_shape, kernel_size, stride, padding):
    """dL/dx (N, C, H, W) of :func:`window_max`: y = x[argmax], so each output's gradient goes
    to the pixel its window's argmax points at, and a pixel that is the max of several
    (overlapping) windows receives the sum: a scatter-add into the padded input."""
    xp = backend.xp
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    padded_h, padded_w = h + 2 * ph, w + 2 * pw
    out_h, out_w = argmax.shape[2:]
    # Where each window's max sits in the flattened padded input: start of its (n, c) image
    # + start of its window + offset of entry argmax in the window.
    image_start = xp.arange(n * c).reshape(n, c, 1, 1) * (padded_h * padded_w)
    window_start = xp.arange(out_h).reshape(out_h, 1) * (sh * padded_w) + xp.arange(out_w) * sw
    entry_offset = (xp.arange(kh).reshape(kh, 1) * padded_w + xp.arange(kw)).reshape(-1)
    flat_index = image_start + window_start + entry_offset[argmax]
    grad = xp.zeros((n, c, padded_h, padded_w), dtype=grad_out.dtype)
    backend.scatter_add(grad.reshape(-1), flat_index.reshape(-1), grad_out.reshape(-1))
    return unpad2d(grad, padding)


# --- linear layer ------------------------------------------------------------------------------

def linear_weight_grad(grad_out, x):
    """dL/dW = g.T @ x: (N, out) and (N, in) -> (out, in), the sum over the batch of the outer
    products of each sample's output gradient and input."""
    return grad_out.T @ x


# --- element-wise: ReLU, softmax with cross-entropy --------------------------------------------

def relu(x):
    """x -> (y, mask): ``y = max(x, 0)`` (NaN stays NaN) and ``mask = x > 0``."""
    return backend.xp.maximum(x, 0), x > 0


def relu_backward(grad_out, mask):
    """dL/dx = g * (x > 0)."""
    return grad_out * mask


def softmax_cross_entropy(logits, labels):
    """logits (N, C) and integer labels (N,) in [0, C) -> (loss, probs): the mean over the batch
    of ``-log softmax(z_n)[label_n]`` as a 0-d array, and ``probs = softmax(z)`` (N, C).

    ``log softmax(z)_c = (z_c - max z) - log sum_k exp(z_k - max z)``: shifting by the max keeps
    exp() from overflowing, and the analytic log keeps tiny probabilities from becoming log(0)."""
    xp = backend.xp
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = xp.exp(shifted)
    sum_exp = exp.sum(axis=1, keepdims=True)
    loss = (xp.log(sum_exp[:, 0]) - shifted[xp.arange(len(labels)), labels]).mean()
    return loss, exp / sum_exp


def softmax_cross_entropy_backward(probs, labels, scale):
    """dL/dz = (probs - onehot(labels)) * scale; with scale = 1/N, the gradient of the mean."""
    grad = probs.copy()
    grad[backend.xp.arange(len(labels)), labels] -= 1
    grad *= scale
    return grad


# --- optimizer updates (each one step for one parameter, in place, torch.optim's order) -------

def lerp_(start, end, weight):
    """``start += weight * (end - start)`` in place, with torch.lerp_'s two formulas (the second
    is the more accurate one when weight is close to 1)."""
    if weight < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)


def sgd_update(param, grad, momentum_buffer, first_step, lr, momentum, dampening,
               weight_decay, nesterov):
    """One SGD step (see ``tinynet.optim.SGD``): ``param`` and ``momentum_buffer`` (None when
    momentum is 0) are updated in place; at the ``first_step`` the buffer becomes g itself."""
    g = grad + weight_decay * param if weight_decay != 0 else grad
    if momentum != 0:
        if first_step:
            momentum_buffer[...] = g
        else:
            momentum_buffer *= momentum
            momentum_buffer += (1 - dampening) * g
        g = g + momentum * momentum_buffer if nesterov else momentum_buffer
    param -= lr * g


def rmsprop_update(param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha, eps,
                   weight_decay, momentum):
    """One RMSprop step (see ``tinynet.optim.RMSprop``), in place; ``grad_avg`` is None unless
    centered, ``momentum_buffer`` None unless momentum > 0."""
    xp = backend.xp
    g = grad + weight_decay * param if weight_decay != 0 else grad
    square_avg *= alpha
    square_avg += (1 - alpha) * g * g
    if grad_avg is not None:
        lerp_(grad_avg, g, 1 - alpha)
        denom = xp.sqrt(square_avg - grad_avg * grad_avg) + eps
    else:
        denom = xp.sqrt(square_avg) + eps
    if momentum_buffer is not None:
        momentum_buffer *= momentum
        momentum_buffer += g / denom
        param -= lr * momentum_buffer
    else:
        param -= lr * (g / denom)


def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
                weight_decay, decoupled_weight_decay):
    """One Adam/AdamW step (see ``tinynet.optim.Adam``), in place, at update number ``step``
    (1, 2, ...); ``max_exp_avg_sq`` is None unless amsgrad."""
    xp = backend.xp
    g = grad
    if weight_decay != 0:
        if decoupled_weight_decay:
            param *= 1 - lr * weight_decay
        else:
            g = grad + weight_decay * param
    lerp_(exp_avg, g, 1 - beta1)
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * g * g
    if max_exp_avg_sq is not None:
        xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
    second_moment = exp_avg_sq if max_exp_avg_sq is None else max_exp_avg_sq
    step_size = lr / (1 - beta1 ** step)
    denom = xp.sqrt(second_moment) / (1 - beta2 ** step) ** 0.5 + eps
    param -= step_size * (exp_avg / denom)
