"""Side-by-side timings of tinynet and PyTorch (run from the repository root).

    python -m benchmarks.run                 # the suite of issue 8; see benchmarks/README.md
    python -m benchmarks.run --quick         # a smoke version that finishes in seconds

Modules: ``run`` (the command line), ``suite`` (what is timed, in which order), ``specs`` (the
seven models and their training settings), ``frameworks`` (one training epoch in tinynet and in
PyTorch, with the same weights), ``flops`` (training FLOPs per sample and the float32 GEMM
peak), ``memory`` (peak RSS of an epoch, in a fresh process), ``machine`` (what the results
were measured on), ``report`` (the Markdown table) and ``threads`` (the BLAS thread count, set
before NumPy loads). Benchmarks are run, never asserted by the unit tests.
"""
