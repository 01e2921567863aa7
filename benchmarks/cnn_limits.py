"""The measurements behind benchmarks/results/analysis.md: each kernel against its reference, one
convolution layer against PyTorch's, and whether the parallel window kernels use the second
core inside a training step.

    python -m benchmarks.cnn_limits                 # every part, about two minutes
    python -m benchmarks.cnn_limits conv threads    # some parts: kernels, conv, threads

Each figure is the median of repeated calls, in milliseconds, float32, at ``--threads`` (BLAS,
Numba and PyTorch) unless its line names another count.
"""
from __future__ import annotations

import argparse
import statistics
import time

from benchmarks.run import usable_cores
from benchmarks.threads import set_thread_count

PARTS = ("kernels", "conv", "threads")


def median_ms(function, repeats: int = 30) -> float:
    """Median wall time of ``function()`` in ms, after two untimed calls."""
    function()
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def numba_threads(count: int) -> None:
    import numba
    numba.set_num_threads(count)


def kernels_part(rng, threads: int) -> list:
    """Fast kernel against reference, on the shapes of E6's CNN and E1's Adam."""
    import numpy as np

    from tinynet import kernels
    from tinynet.kernels import fast, reference

    pool_input = rng.standard_normal((64, 32, 28, 28), dtype=np.float32)
    conv_input = rng.standard_normal((64, 32, 14, 14), dtype=np.float32)
    conv_geometry = (3, 3), (1, 1), (1, 1)
    pool_geometry = (2, 2), (2, 2), (0, 0)
    cols = reference.im2col(conv_input, *conv_geometry)
    _, argmax = reference.window_max(pool_input, *pool_geometry)
    grad_pool = rng.standard_normal(argmax.shape, dtype=np.float32)
    param, grad = (rng.standard_normal(397_510, dtype=np.float32) for _ in range(2))
    moments = [np.zeros_like(param), np.zeros_like(param)]
    cases = {
        "im2col, E6 conv2 input 64x32x14x14": lambda k: k.im2col(conv_input, *conv_geometry),
        "col2im, the same": lambda k: k.col2im(cols, conv_input.shape, *conv_geometry),
        "2x2 max pool, E6 pool1 input 64x32x28x28": lambda k: k.window_max(pool_input,
                                                                          *pool_geometry),
        "its backward": lambda k: k.window_max_backward(grad_pool, argmax, pool_input.shape,
                                                        *pool_geometry),
        "ReLU, 1.6M values": lambda k: k.relu(pool_input),
        "Adam, E1's 397,510 parameters": lambda k: k.adam_update(
            param, grad, *moments, None, 1, 1e-3, 0.9, 0.999, 1e-8, 0.0, False),
    }
    lines = ["| kernel | fast, 1 thread | fast | reference |", "|---|---|---|---|"]
    lines += [kernel_row(name, call, threads) for name, call in cases.items()]
    # The 2x2 pool's own loops against the general ones, on one thread.
    numba_threads(1)
    best, arg = np.empty(argmax.shape, np.float32), np.empty_like(argmax)
    general = median_ms(lambda: fast._window_max(pool_input, 2, 2, 2, 2, 0, 0, best, arg))
    special = median_ms(lambda: fast._window_max_2x2(pool_input, best, arg))
    grad_x = np.empty_like(pool_input)

    def general_backward():
        grad_x.fill(0)
        fast._window_max_backward(grad_pool, argmax, 2, 2, 2, 0, 0, grad_x)
    special_backward = median_ms(lambda: fast._window_max_backward_2x2(grad_pool, argmax, grad_x))
    lines.append(f"\n2x2 max pool on one thread: forward {special:.2f} ms with its own loops, "
                 f"{general:.2f} ms with the general ones; backward {special_backward:.2f} ms "
                 f"against {median_ms(general_backward):.2f} ms.")
    numba_threads(threads)
    kernels.use("auto")
    return lines


def kernel_row(name: str, call, threads: int) -> str:
    """One row: ``call(module)`` on the fast kernels at 1 and ``threads`` threads, and on the
    reference."""
    from tinynet.kernels import fast, reference

    numba_threads(1)
    one = median_ms(lambda: call(fast))
    numba_threads(threads)
    both = median_ms(lambda: call(fast))
    return f"| {name} | {one:.2f} | {both:.2f} | {median_ms(lambda: call(reference)):.2f} |"


def conv_part(rng, threads: int) -> list:
    """E6's and E2's second convolutions: PyTorch's layer, tinynet's layer, and the three matrix
    products tinynet's layer makes."""
    from benchmarks.flops import gemm_gflops

    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        torch = None
    peak = gemm_gflops(4096, 3)["gflops_best"]
    lines = [f"GEMM peak (float32 4096x4096, best of 3): {peak:.0f} GFLOP/s", "",
             "| layer | PyTorch forward | PyTorch forward+backward | tinynet forward | "
             "tinynet backward | W @ cols | G @ cols.T | W.T @ G |",
             "|---|---|---|---|---|---|---|---|"]
    layers = {"E6 conv2 32->64, 3x3, 14x14": (32, 64, 3, 1, 14),
              "E2 conv2 16->32, 5x5, 12x12": (16, 32, 5, 0, 12)}
    lines += [conv_row(name, *shape, rng=rng, torch=torch) for name, shape in layers.items()]
    return lines


def conv_row(name, c_in, c_out, k, pad, size, rng, torch) -> str:
    import numpy as np

    from tinynet.kernels import reference
    from tinynet.nn import Conv2d

    layer = Conv2d(c_in, c_out, k, padding=pad)
    x = rng.standard_normal((64, c_in, size, size), dtype=np.float32)
    y = layer.forward(x)
    g = rng.standard_normal(y.shape, dtype=np.float32)
    w_mat = layer.weight.data.reshape(c_out, -1)
    cols = reference.im2col(x, (k, k), (1, 1), (pad, pad))
    g_mat = np.ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(c_out, -1)
    products = [median_ms(lambda: w_mat @ cols), median_ms(lambda: g_mat @ cols.T),
                median_ms(lambda: w_mat.T @ g_mat)]
    flops = 2 * w_mat.size * cols.shape[1]
    torch_cells = ["-", "-"]
    if torch is not None:
        conv = torch.nn.Conv2d(c_in, c_out, k, padding=pad)
        tx, tg = torch.from_numpy(x).requires_grad_(), torch.from_numpy(g)
        forward = median_ms(lambda: conv(tx))
        torch_cells = [f"{forward:.2f} ({flops / forward / 1e6:.0f} GFLOP/s)",
                       f"{median_ms(lambda: conv(tx).backward(tg)):.2f}"]
    return (f"| {name} | " + " | ".join(torch_cells) + " | "
            f"{median_ms(lambda: layer.forward(x)):.2f} | "
            f"{median_ms(lambda: layer.backward(g)):.2f} | "
            + " | ".join(f"{ms:.2f}" for ms in products) + " |")


def threads_part(rng, threads: int) -> list:
    """The parallel window kernels at 1 and ``threads`` Numba threads: alone, right after a
    BLAS product (whose idle workers then keep spinning), and inside E6's training step."""
    import numpy as np

    from benchmarks.frameworks import TinynetTraining, random_data
    from benchmarks.specs import find

    inputs = [rng.standard_normal((64, 32, 28, 28), dtype=np.float32) for _ in range(16)]
    product = rng.standard_normal((512, 512), dtype=np.float32)
    (spec,) = find(["e6_cnn"])
    training = TinynetTraining(spec, *random_data(spec, 64 * 120))
    pool, in_step = training.model.layers[2], []
    forward = pool.forward

    def timed_forward(x):
        start = time.perf_counter()
        y = forward(x)
        in_step.append(time.perf_counter() - start)
        return y
    pool.forward = timed_forward
    lines = ["| Numba threads | 2x2 pool alone | alone, a new input each call | im2col alone | "
             "2x2 pool right after a 512x512 product | pool1 forward in a training step | "
             "E6 training step |", "|---|---|---|---|---|---|---|"]
    for count in (1, threads, 1, threads):
        lines.append(threads_row(count, inputs, product, training, in_step))
    product @ product
    cpu = time.process_time()
    time.sleep(0.2)
    lines.append(f"\nCPU time this process used while its main thread slept 0.2 s right after a "
                 f"512x512 product: {time.process_time() - cpu:.3f} s (BLAS's idle workers).")
    return lines


def threads_row(count, inputs, product, training, in_step) -> str:
    """One row of :func:`threads_part` at ``count`` Numba threads."""
    from tinynet.kernels import fast

    numba_threads(count)
    pool = (2, 2), (2, 2), (0, 0)
    time.sleep(0.3)                                 # BLAS's workers asleep
    turn = iter(range(10**9))
    alone = median_ms(lambda: fast.window_max(inputs[0], *pool))
    new = median_ms(lambda: fast.window_max(inputs[1 + next(turn) % 15], *pool))
    cols = median_ms(lambda: fast.im2col(inputs[0][:, :8], (3, 3), (1, 1), (1, 1)))
    after_product = []
    for _ in range(30):
        product @ product
        start = time.perf_counter()
        fast.window_max(inputs[0], *pool)
        after_product.append(time.perf_counter() - start)
    training.run(max_steps=20)
    in_step.clear()
    start = time.perf_counter()
    training.run(max_steps=100)
    step = 10 * (time.perf_counter() - start)
    return (f"| {count} | {alone:.2f} | {new:.2f} | {cols:.2f} | "
            f"{1000 * statistics.median(after_product):.2f} | "
            f"{1000 * statistics.median(in_step):.2f} | {step:.1f} |")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cnn_limits",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", help=f"some of {', '.join(PARTS)} (default: all)")
    parser.add_argument("--threads", type=int, default=usable_cores())
    args = parser.parse_args(argv)
    unknown = [part for part in args.parts if part not in PARTS]
    if unknown:
        parser.error(f"unknown part {', '.join(unknown)}: expected some of {', '.join(PARTS)}")
    set_thread_count(args.threads)                  # before NumPy loads its BLAS
    import numpy as np

    from tinynet import allocator, backend, threads
    threads.set_threads(args.threads)
    backend.set_flush_denormal(True)
    allocator.keep_freed_memory()
    import tinynet.kernels.fast  # noqa: F401  (Numba's thread pool: workqueue, as in training)

    rng = np.random.default_rng(0)
    parts = {"kernels": kernels_part, "conv": conv_part, "threads": threads_part}
    for name in args.parts or PARTS:
        print(f"\n## {name}\n")
        print("\n".join(parts[name](rng, args.threads)), flush=True)


if __name__ == "__main__":
    main()
