#!/usr/bin/env bash
# One script for a machine with a CUDA GPU: what the CPU-only machines of this project cannot
# check. Prints one line per check; takes a few minutes. Run from the repository root, after
#   pip install -e ".[dev,cuda12]"      (or cuda13; see the README's "Backends and the GPU")
set -uo pipefail
cd "$(dirname "$0")/.."
export MPLBACKEND=Agg
status=0

line() { printf '%-48s %s\n' "$1" "$2"; }

# 1. The GPU tests: CuPy against NumPy per layer, a short MNIST run, gradient checks on CuPy.
if out=$(python -m pytest -q -m gpu 2>&1); then
  line "pytest -m gpu" "ok: $(echo "$out" | tail -n 1)"
else
  line "pytest -m gpu" "FAILED: $(echo "$out" | tail -n 1)"; status=1
fi

# 2. The reference kernels on CuPy against the same kernels on NumPy (fused GPU kernels do
#    not exist yet: when they do, compare them here too).
python - <<'PY' || status=1
import numpy as np
from tinynet import backend
from tinynet.kernels import reference

rng = np.random.default_rng(0)
x = rng.standard_normal((8, 4, 12, 12)).astype(np.float32)
host = {"im2col": reference.im2col(x, (3, 3), (1, 1), (1, 1)),
        "window_max": reference.window_max(x, (2, 2), (2, 2), (0, 0))[0],
        "relu": reference.relu(x)[0]}
backend.use("cupy")
device_x = backend.to_device(x)
device = {"im2col": reference.im2col(device_x, (3, 3), (1, 1), (1, 1)),
          "window_max": reference.window_max(device_x, (2, 2), (2, 2), (0, 0))[0],
          "relu": reference.relu(device_x)[0]}
for name in host:
    same = np.allclose(backend.to_numpy(device[name]), host[name], rtol=1e-6, atol=1e-6)
    print(f"{'kernel ' + name + ' on CuPy vs NumPy':<48} {'ok' if same else 'DIFFERENT'}")
    if not same:
        raise SystemExit(1)
PY

# 3. E3's base MLP, one epoch on CuPy and on NumPy (benchmarks/gpu_epoch.py).
if out=$(python benchmarks/gpu_epoch.py 2>&1); then
  line "E3 base, one epoch, CuPy vs NumPy" "$(echo "$out" | tail -n 1)"
else
  line "E3 base, one epoch, CuPy vs NumPy" "FAILED: $(echo "$out" | tail -n 1)"; status=1
fi
exit $status
