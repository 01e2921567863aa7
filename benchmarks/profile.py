"""Where a tinynet training step spends its time: per layer, forward and backward, plus the loss,
the optimizer and the batch gathering.

    python -m benchmarks.profile e6_cnn                # one of benchmarks/specs.py's keys
    python -m benchmarks.profile e1_mlp --threads 1 --samples 12000

It runs ``train_step``'s work by hand, reading the clock around every piece, over ``--samples``
random samples (two passes, after a warm-up), and scales the sums to the benchmark's unit:
seconds per 60,000-sample epoch, or milliseconds per step for the batch-1 model. The clock
reads add a little to every figure; the pieces are for comparing with each other, the epoch
times of ``benchmarks.run`` are the ones to compare with PyTorch.
"""
from __future__ import annotations

import argparse
import sys
import time

from benchmarks.run import usable_cores
from benchmarks.threads import set_thread_count

EPOCH = 60_000


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a key of benchmarks/specs.py, e.g. e6_cnn")
    parser.add_argument("--threads", type=int, default=usable_cores(),
                        help="BLAS threads (default: the usable cores, as benchmarks.run)")
    parser.add_argument("--samples", type=int, default=6_000,
                        help="samples per profiled pass (default 6,000; 2 passes)")
    parser.add_argument("--return-freed-memory", action="store_true",
                        help="leave malloc at its defaults, which give freed memory back to the "
                             "system (default: keep it, as runs and benchmarks.run do)")
    return parser.parse_args(argv)


def profile(spec, samples: int) -> dict:
    """Seconds spent in each piece of the training step over two passes of ``samples``."""
    from benchmarks.frameworks import TinynetTraining, random_data

    training = TinynetTraining(spec, *random_data(spec, samples))
    training.run(max_steps=20)                                   # warm-up
    model, loss_fn, optimizer = training.model, training.loss_fn, training.optimizer
    layers = model.layers
    first = next(index for index, layer in enumerate(layers) if layer.parameters())
    seconds = {"gather the batch": 0.0, "loss forward": 0.0, "loss backward": 0.0,
               "optimizer step": 0.0}
    forward, backward = [0.0] * len(layers), [0.0] * len(layers)

    def timed(function, *args):
        start = time.perf_counter()
        result = function(*args)
        return result, time.perf_counter() - start

    for _ in range(2):
        batches = iter(training.loader)
        while True:
            try:
                (x, y), elapsed = timed(next, batches)
            except StopIteration:
                break
            seconds["gather the batch"] += elapsed
            optimizer.zero_grad()
            for index, layer in enumerate(layers):
                x, elapsed = timed(layer, x)
                forward[index] += elapsed
            _, elapsed = timed(loss_fn, x, y)
            seconds["loss forward"] += elapsed
            grad, elapsed = timed(loss_fn.backward)
            seconds["loss backward"] += elapsed
            for index in range(len(layers) - 1, first, -1):
                grad, elapsed = timed(layers[index].backward, grad)
                backward[index] += elapsed
            _, elapsed = timed(layers[first].backward, grad, False)   # input_grad=False
            backward[first] += elapsed
            _, elapsed = timed(optimizer.step)
            seconds["optimizer step"] += elapsed
    return {"layers": [repr(layer) for layer in layers], "forward": forward,
            "backward": backward, "other": seconds, "steps": 2 * len(training.loader),
            "first_with_parameters": first}


def report(spec, measured: dict, samples: int) -> str:
    if spec.per_step:
        scale, unit = 1000 / measured["steps"], "ms/step"
    else:
        scale, unit = EPOCH / (2 * samples), "s/epoch"
    total = (sum(measured["forward"]) + sum(measured["backward"])
             + sum(measured["other"].values())) * scale
    lines = [f"{spec.title}: {unit}, {measured['steps']} steps profiled", "",
             "| piece | forward | backward | share of the step |", "|---|---|---|---|"]
    for index, name in enumerate(measured["layers"]):
        fwd, bwd = measured["forward"][index] * scale, measured["backward"][index] * scale
        note = " (parameters only)" if index == measured["first_with_parameters"] else ""
        lines.append(f"| {name}{note} | {fwd:.3g} | {bwd:.3g} | {(fwd + bwd) / total:.0%} |")
    for name, value in measured["other"].items():
        lines.append(f"| {name} | {value * scale:.3g} | | {value * scale / total:.0%} |")
    lines.append(f"| **total** | | | {total:.3g} {unit} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    set_thread_count(args.threads)                  # before NumPy loads its BLAS
    from tinynet import allocator, backend, threads

    threads.set_threads(args.threads)               # and Numba's, as benchmarks.run

    from benchmarks.specs import find

    backend.set_flush_denormal(True)                # as benchmarks.run does
    if not args.return_freed_memory:
        allocator.keep_freed_memory()               # as benchmarks.run and the runner do
    (spec,) = find([args.model])
    print(report(spec, profile(spec, args.samples), args.samples))


if __name__ == "__main__":
    main()
