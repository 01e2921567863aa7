"""Issue 7, reliability, from the user's side: what happens to a training run when things go wrong.

- every bad input -> one clear error, raised by tinynet's own check (never from inside NumPy);
- eval-mode outputs do not depend on the batch size (BatchNorm, Dropout);
- a sweep goes on after a diverging run, which is recorded with its step;
- SIGTERM or Ctrl-C during a real sweep keeps every finished run, and --resume completes it;
- the same seed and config give bit-identical results, recorded with everything that made them.

The layer-by-layer details live beside each module: tests/nn/test_<layer>.py ("bad input"
tests), tests/test_losses.py (labels), tests/test_optim.py (hyperparameters),
tests/data/test_loader.py, tests/data/test_idx.py and tests/data/test_datasets.py (data files,
downloads), tests/test_train.py (divergence, reproducibility of fit), tests/test_checkpoint.py
(checkpoints), tests/test_runner.py (results log, resume, refusals, CLI flags), tests/test_losses.py
(cross-entropy finite for logits of +-1e4).
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import tinynet
from tinynet import backend
from tinynet.data import DataLoader
from tinynet.losses import CrossEntropyLoss, MSELoss
from tinynet.nn import (BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d,
                        ReLU, Sequential, Softmax)
from tinynet.optim import SGD, Adam
from tinynet.runlog import RunLog
from tinynet.runner import Group, Plan
from tinynet.train import evaluate, fit
from examples import mlp_sweep
from tests import toy_experiment
from tests.conftest import data_dir

TINYNET = Path(tinynet.__file__).parent
EXAMPLES = TINYNET.parent / "examples"


# --- every bad input -> its message ----------------------------------------------------------

def mlp():
    return Sequential(Linear(784, 32), ReLU(), Linear(32, 10))


def cnn():
    return Sequential(Conv2d(1, 4, 5), ReLU(), Flatten(), Linear(4 * 24 * 24, 10))


def images(*shape, dtype=np.float32):
    return np.random.default_rng(0).random(shape).astype(dtype)


def labels(n, high=10):
    return np.arange(n) % high


def after_forward(layer, x):
    """``layer`` after one forward pass of ``x`` (so its backward may be called)."""
    layer.forward(x)
    return layer


def after_loss(loss_fn, logits, target):
    loss_fn(logits, target)
    return loss_fn


def load_damaged_model_file(content: bytes):
    """What a user does with a file cut short or overwritten: Module.load it."""
    path = Path(tempfile.mkdtemp()) / "model.npz"
    path.write_bytes(content)
    mlp().load(path)


def read_log_with_a_line_missing_a_field():
    folder = Path(tempfile.mkdtemp())
    with RunLog(folder, "toy", {"seed": 0}, resume=False):
        pass                                                    # writes the header line
    with open(folder / "results.jsonl", "a") as log:
        log.write('{"kind": "run", "run_id": "lr=0.1-0123abcd", "config": {}}\n')
    RunLog.read(folder)


def train(model, x, y, loss_fn=None, batch_size=8, lr=1e-3, **loader_args):
    """What a user's script does: a loader, an optimizer, fit."""
    loader = DataLoader(x, y, batch_size, **loader_args)
    return fit(model, loss_fn or CrossEntropyLoss(), Adam(model.parameters(), lr=lr), loader,
               epochs=1, progress=False)


BAD_INPUTS = {
    "wrong feature count": (
        lambda: train(mlp(), images(16, 100), labels(16)), ValueError,
        r"Linear\(784, 32, bias=True\): expected input of shape \(N, 784\), got \(8, 100\)"),
    "images into an MLP, not flattened": (
        lambda: train(mlp(), images(16, 1, 28, 28), labels(16)), ValueError,
        r"Linear\(784, 32.*expected input of shape \(N, 784\), got \(8, 1, 28, 28\)"),
    "no channel axis into a Conv2d": (
        lambda: train(cnn(), images(16, 28, 28), labels(16)), ValueError,
        r"Conv2d\(1, 4, .*expected input of shape \(N, 1, H, W\), got \(8, 28, 28\)"),
    "integer pixels into a Linear": (
        lambda: train(mlp(), images(16, 784, dtype=np.uint8), labels(16)), TypeError,
        r"Linear\(784, 32.*expected a floating-point input, got dtype uint8"),
    "float64 input, float32 model": (
        lambda: train(mlp(), images(16, 784, dtype=np.float64), labels(16)), TypeError,
        r"Linear\(784, 32.*input dtype float64 does not match .* float32"),
    "labels out of range": (
        lambda: train(mlp(), images(16, 784), labels(16) + 1), ValueError,
        r"CrossEntropyLoss.*labels must be in \[0, 9\]"),
    "labels of the wrong shape": (
        lambda: train(mlp(), images(16, 784), labels(16)[:, None]), ValueError,
        r"CrossEntropyLoss.*labels of shape \(8,\).*got \(8, 1\)"),
    "class labels into MSELoss (one-hot rows expected)": (
        lambda: train(mlp(), images(16, 784), labels(16), MSELoss()), ValueError,
        r"MSELoss.*same shape, got \(8, 10\) and \(8,\)"),
    "empty batch": (
        lambda: mlp().forward(images(0, 784)), ValueError,
        r"Linear\(784, 32.*empty batch"),
    "empty dataset": (
        lambda: train(mlp(), images(0, 784), labels(0)), ValueError,
        "DataLoader: the dataset is empty"),
    "batch size larger than the dataset, drop_last=True": (
        lambda: train(mlp(), images(5, 784), labels(5), batch_size=8, drop_last=True),
        ValueError, r"batch_size 8 is larger than the dataset \(5 samples\) and drop_last=True"),
    "negative learning rate": (
        lambda: Adam(mlp().parameters(), lr=-0.01), ValueError,
        r"Adam: invalid lr=-0\.01: must be >= 0"),
    "negative learning rate, set later": (
        lambda: setattr(SGD(mlp().parameters(), lr=0.1), "lr", -1), ValueError,
        r"SGD: invalid lr=-1\.0"),
    "dropout p above 1": (
        lambda: Dropout(1.5), ValueError, r"Dropout: p \(the drop probability\) .* got 1\.5"),
    "dropout p below 0": (
        lambda: Dropout(-0.1), ValueError, r"Dropout: p .* got -0\.1"),
    "kernel larger than the padded input": (
        lambda: train(cnn(), images(16, 1, 4, 4), labels(16)), ValueError,
        r"Conv2d\(1, 4.*kernel \(5, 5\) is larger than the padded input \(4, 4\)"),
    "unknown backend": (
        lambda: backend.use("tpu"), ValueError, "unknown backend 'tpu': expected 'numpy' or "
                                                "'cupy'"),
    # --- misuse of the layer API (issue 15) ---
    "backward of a layer before any forward": (
        lambda: Linear(784, 10).backward(images(8, 10)), RuntimeError,
        r"Linear\(784, 10, bias=True\): backward called before forward; run the forward pass "
        r"first: y = layer\(x\), then layer.backward\(dL/dy\)"),
    "backward of a model before any forward": (
        lambda: mlp().backward(images(8, 10)), RuntimeError,
        r"Sequential\(\.\.\.\): backward called before forward"),
    "backward of a loss before any forward": (
        lambda: CrossEntropyLoss().backward(), RuntimeError,
        r"CrossEntropyLoss\(\): backward called before forward; run the forward pass first: "
        r"loss = loss_fn\(prediction, target\), then loss_fn.backward\(\)"),
    "gradient of the wrong shape into a layer": (
        lambda: after_forward(Linear(784, 32), images(8, 784)).backward(images(8, 10)),
        ValueError, r"Linear\(784, 32, bias=True\): backward expected a gradient of shape "
                    r"\(8, 32\) \(the shape of the forward's output\), got \(8, 10\)"),
    "gradient that would broadcast into a layer": (
        lambda: after_forward(ReLU(), images(8, 10)).backward(images(1, 10)), ValueError,
        r"ReLU\(\): backward expected a gradient of shape \(8, 10\).*got \(1, 10\)"),
    "gradient of the wrong shape into a model": (
        lambda: after_forward(mlp(), images(8, 784)).backward(images(8, 32)), ValueError,
        r"Sequential\(\.\.\.\): backward expected a gradient of shape \(8, 10\).*"
        r"got \(8, 32\)"),
    "gradient of the wrong shape into a loss": (
        lambda: after_loss(MSELoss(), images(8, 10), images(8, 10)).backward(images(8)),
        ValueError, r"MSELoss\(\): backward expected a gradient of shape \(\).*got \(8,\)"),
    "integer gradient": (
        lambda: after_forward(ReLU(), images(8, 10)).backward(np.ones((8, 10), np.int64)),
        TypeError, r"ReLU\(\): backward expected a floating-point gradient, got dtype int64"),
    "a list as a gradient": (
        lambda: after_forward(Linear(3, 2), images(1, 3)).backward([[1.0, 1.0]]), TypeError,
        r"Linear\(3, 2, bias=True\): backward expected an array \(dL/dy\), got list"),
    "a list into a layer": (
        lambda: Linear(3, 2).forward([[1.0, 2.0, 3.0]]), TypeError,
        r"Linear\(3, 2, bias=True\): expected an array, got list; convert it first, e.g. "
        r"numpy.asarray\(x, dtype='float32'\)"),
    "a list into a model": (
        lambda: mlp()([[0.0] * 784]), TypeError, r"Linear\(784, 32.*expected an array, got list"),
    "a list of labels into a loss": (
        lambda: CrossEntropyLoss()(images(2, 10), [3, 4]), TypeError,
        r"CrossEntropyLoss\(\): expected an array, got list"),
    "Softmax dim outside the input's axes": (
        lambda: Softmax(dim=2).forward(images(8, 10)), ValueError,
        r"Softmax\(dim=2\): dim=2 is outside the 2 axes of the input of shape \(8, 10\) "
        r"\(use -2\.\.1\)"),
    "Softmax dim not an int": (
        lambda: Softmax(dim=1.0), TypeError, r"Softmax: dim must be an int, got 1\.0"),
    "layer size a float": (
        lambda: Linear(784.0, 10), ValueError,
        r"Linear: in_features and out_features must be ints and must be positive, "
        r"got 784\.0 and 10"),
    "layer size a string": (
        lambda: Linear("784", 10), ValueError,
        r"Linear: in_features and out_features .* got '784' and 10"),
    "channel count a float": (
        lambda: Conv2d(1.0, 4, 3), ValueError, r"Conv2d: in_channels must be a positive int, "
                                               r"got 1\.0"),
    "feature count a bool": (
        lambda: BatchNorm1d(True), ValueError, r"BatchNorm1d: num_features must be a positive "
                                               r"int, got True"),
    "bias not True or False": (
        lambda: Linear(784, 10, bias="no"), TypeError,
        r"Linear: bias must be True or False, got 'no'"),
    "integer parameter dtype": (
        lambda: Conv2d(1, 4, 3, dtype="int32"), TypeError,
        r"Conv2d: dtype must be a floating-point dtype such as 'float32', got 'int32'"),
    "BatchNorm momentum a string": (
        lambda: BatchNorm2d(4, momentum="0.1"), ValueError,
        r"BatchNorm2d: momentum \(a number, or None\) must be in \[0, 1\], got '0.1'"),
    # --- damaged files ---
    "Module.load of random bytes": (
        lambda: load_damaged_model_file(np.random.default_rng(0).bytes(300)), ValueError,
        r"model.npz: not a model file written by Module.save \(damaged, truncated or another "
        r"format"),
    "Module.load of a truncated file": (
        lambda: load_damaged_model_file(b"PK\x03\x04 truncated"), ValueError,
        r"model.npz: not a model file written by Module.save"),
    "results log line without a field": (
        read_log_with_a_line_missing_a_field, RuntimeError,
        r"results.jsonl, line 2: a run record without history, results, status; the line is "
        r"damaged: remove it and --resume to redo that run"),
}


@pytest.mark.parametrize("make_mistake, error, message", BAD_INPUTS.values(), ids=BAD_INPUTS)
def test_every_bad_input_gets_its_message(make_mistake, error, message):
    with pytest.raises(error, match=message) as info:
        make_mistake()
    raised_in = Path(str(info.traceback[-1].path)).resolve()
    assert TINYNET in raised_in.parents, f"raised in {raised_in}, not by tinynet's own check"


@pytest.mark.parametrize("argv, message", [
    (["--backend", "tpu"], "argument --backend: invalid choice: 'tpu'"),
    (["--only", "momentum"], "no group 'momentum': choose from learning_rate, batch_size"),
    (["--epochs", "0"], "argument --epochs: must be >= 1, got 0"),
])
def test_every_bad_command_line_gets_a_one_line_error(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        mlp_sweep.experiment.main(argv + ["--out", str(tmp_path / "out")])
    assert info.value.code == 2                          # a usage error, no traceback
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err and "Traceback" not in err


def test_batch_size_larger_than_the_dataset_gives_one_short_batch():
    """As in PyTorch (drop_last=False): one batch with every sample, and training runs. With
    drop_last=True there would be no batch at all, which is an error (see above)."""
    loader = DataLoader(images(5, 784), labels(5), batch_size=64, shuffle=True)
    assert len(loader) == 1 and [int(x.shape[0]) for x, _ in loader] == [5]
    history = train(mlp(), images(5, 784), labels(5), batch_size=64)
    assert history.status == "completed" and len(history.step_loss) == 1


# --- eval mode --------------------------------------------------------------------------------

def test_eval_outputs_do_not_depend_on_the_batch_size(rng):
    """BatchNorm uses its running statistics and Dropout is the identity in eval mode, so a row
    gives the same output alone or inside a batch; in training mode it would not."""
    model = Sequential(Conv2d(1, 4, 3, padding=1), BatchNorm2d(4), ReLU(), Dropout(0.5),
                       MaxPool2d(2), Flatten(), Linear(4 * 4 * 4, 16), BatchNorm1d(16), ReLU(),
                       Dropout(0.5), Linear(16, 3))
    x = rng.standard_normal((24, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 3, 24)
    train(model, x * 2 + 1, y, batch_size=6, lr=1e-2)   # running statistics away from 0 and 1
    model.eval()
    before = model.state_dict()
    whole = model.forward(x)
    one_by_one = np.concatenate([model.forward(x[i:i + 1]) for i in range(len(x))])
    np.testing.assert_allclose(one_by_one, whole, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.forward(x[5:17]), whole[5:17], rtol=1e-5, atol=1e-6)
    for key, value in model.state_dict().items():          # eval changes no running statistic
        np.testing.assert_array_equal(value, before[key], err_msg=key)
    loss_fn = CrossEntropyLoss()
    assert evaluate(model, loss_fn, DataLoader(x, y, 1)) == pytest.approx(
        evaluate(model, loss_fn, DataLoader(x, y, 24)), rel=1e-5)

    model.train()                                           # the test can tell the difference
    assert not np.allclose(model.forward(x[:2]), model.forward(x[:6])[:2], atol=1e-3)


# --- divergence inside a sweep ----------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning",
                            "ignore:invalid value:RuntimeWarning")
def test_a_sweep_goes_on_after_a_diverging_run(tmp_path, capsys):
    plan = Plan(toy_experiment.experiment.plan.base,
                [Group("lr", vary={"lr": [0.01, 1e6, 0.02]},
                      set={"dropout": 0.0, "optimizer": "sgd"})])
    toy = replace(toy_experiment.experiment, plan=plan, report=[])
    args = ["--quiet", "--jobs", "1", "--out", str(tmp_path)]
    toy.run(args)
    records = [r for r in map(json.loads, (tmp_path / "results.jsonl").open())
               if r["kind"] == "run"]
    assert [r["config"]["lr"] for r in records] == [0.01, 1e6, 0.02]
    assert [r["status"] for r in records] == ["completed", "diverged", "completed"]
    diverged = records[1]["history"]
    assert isinstance(diverged["diverged_at_step"], int)
    assert len(records[2]["history"]["epochs"]) == 3
    assert "lr=1e+06,dropout=0,optimizer=sgd, diverged" in capsys.readouterr().out
    before = (tmp_path / "results.jsonl").read_text()
    toy.run(args + ["--resume"])                                  # --resume keeps it
    assert (tmp_path / "results.jsonl").read_text().startswith(before)
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == 1 + 1 + 3   # no runs
    # to do, so the --resume added no invocation line


# --- interruption of a real sweep process -----------------------------------------------------

needs_mnist = pytest.mark.skipif(data_dir() is None, reason="TINYNET_DATA is not set")
SWEEP = [sys.executable, str(EXAMPLES / "mlp_sweep.py"), "--quick", "--only", "width",
         "--quiet", "--epochs", "20", "--jobs", "1"]    # 0.4-1 s per run: a signal lands mid-sweep
TIMEOUT = 600                             # seconds; generous for a loaded single core


def start_sweep(out: Path, *extra):
    env = dict(os.environ, TINYNET_DATA=data_dir(), OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
    with open(out / "stdout.txt", "w") as stdout, open(out / "stderr.txt", "w") as stderr:
        return subprocess.Popen([*SWEEP, "--out", str(out / "run"), *extra], cwd=EXAMPLES.parent,
                                env=env, stdout=stdout, stderr=stderr,
                                preexec_fn=_python_handles_ctrl_c)


def _python_handles_ctrl_c():
    # A background job may inherit SIGINT ignored, and Python then keeps ignoring it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_lines(results: Path) -> list:
    return [line for line in results.read_text().splitlines() if '"kind": "run"' in line]


def wait_for_finished_runs(process, results: Path, count: int) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if results.exists() and len(run_lines(results)) >= count:
            return
        if process.poll() is not None:
            pytest.fail(f"the sweep ended with status {process.returncode} before {count} runs")
        time.sleep(0.02)
    process.kill()
    pytest.fail(f"no finished run after {TIMEOUT} s")


@needs_mnist
@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_an_interrupted_sweep_keeps_its_finished_runs_and_resumes(tmp_path, signum):
    results = tmp_path / "run" / "results.jsonl"
    process = start_sweep(tmp_path)
    wait_for_finished_runs(process, results, 1)
    process.send_signal(signum)
    assert process.wait(timeout=TIMEOUT) == 128 + signum
    kept = run_lines(results)
    assert 1 <= len(kept) < 3, "the sweep finished before the signal arrived: make it longer"
    assert all(json.loads(line)["status"] == "completed" for line in kept)
    stderr = (tmp_path / "stderr.txt").read_text()
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == (
        f"interrupted: {len(kept)} finished runs kept in {results}; the runs in progress keep "
        f"their last finished epoch. Rerun the same command with --resume to continue.")
    # no temporary file; the run in progress keeps the checkpoint of its last finished epoch
    assert {p.name for p in results.parent.iterdir()} <= {"results.jsonl", "checkpoints"}
    before = results.read_text()

    resumed = start_sweep(tmp_path, "--resume")
    assert resumed.wait(timeout=TIMEOUT) == 0, (tmp_path / "stderr.txt").read_text()
    assert results.read_text().startswith(before)             # finished runs untouched
    lines = run_lines(results)
    widths = [json.loads(line)["config"]["width"] for line in lines]
    assert sorted(widths) == [32, 64, 128]                    # every run, exactly once
    assert (results.parent / "report.md").exists()


# --- reproducibility --------------------------------------------------------------------------

def without_timings(record: dict) -> dict:
    history = dict(record["history"])
    history["epochs"] = [{key: value for key, value in epoch.items() if key != "train_seconds"}
                         for epoch in history["epochs"]]
    return {"run_id": record["run_id"], "config": record["config"], "history": history,
            "results": record["results"], "status": record["status"]}


@needs_mnist
def test_same_seed_and_config_give_bit_identical_runs_recorded_with_their_environment(
        tmp_path):
    # Two separate processes with the same environment. Bit-identity holds for the same
    # machine, library versions and BLAS thread count: a GEMM split over another number of
    # threads sums in another order, which changes the last bits.
    args = ["--quick", "--only", "width", "--quiet", "--jobs", "1", "--threads", "1",
            "--data-dir", data_dir()]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
    for name in ("here", "there"):
        subprocess.run([sys.executable, str(EXAMPLES / "mlp_sweep.py"), *args,
                        "--out", str(tmp_path / name)], check=True, capture_output=True,
                       env=env, timeout=TIMEOUT)
    here, there = ([json.loads(line) for line in run_lines(tmp_path / name / "results.jsonl")]
                   for name in ("here", "there"))
    assert len(here) == 3
    assert [without_timings(r) for r in here] == [without_timings(r) for r in there]
    for record in here:
        assert record["config"]["seed"] == 0 and record["config"]["width"] in (32, 64, 128)
        env = record["environment"]
        assert env["tinynet"] == tinynet.__version__ and env["backend"] == "numpy"
        assert env["numpy"] == np.__version__ and env["python"] and env["platform"]


@needs_mnist
@pytest.mark.parametrize("damage, message", [
    ("missing folder", "data_dir '{dir}/nowhere' is not a folder"),
    ("truncated file", "train-images-idx3-ubyte.gz"),
])
def test_data_errors_on_the_command_line_are_one_line_and_create_nothing(
        tmp_path, capsys, damage, message):
    folder = tmp_path / "data"
    (folder / "mnist").mkdir(parents=True)
    for path in Path(data_dir(), "mnist").iterdir():
        (folder / "mnist" / path.name).write_bytes(path.read_bytes())
    images = folder / "mnist" / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:100_000])
    chosen = folder / "nowhere" if damage == "missing folder" else folder
    with pytest.raises(SystemExit) as info:
        mlp_sweep.experiment.main(["--quick", "--data-dir", str(chosen),
                                   "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "Traceback" not in err and len(err.splitlines()) == 1
    assert message.format(dir=folder) in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated",
                                     np.random.default_rng(0).bytes(300)],
                         ids=["empty", "truncated zip", "random bytes"])
def test_loading_a_damaged_model_file_names_it_and_never_suggests_pickle(tmp_path, content):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="model.npz: not a model file written by Module") as info:
        mlp().load(path)
    assert "pickle" not in str(info.value)
    saved = tmp_path / "good.npz"
    mlp().save(saved)
    saved.write_bytes(saved.read_bytes()[:200])               # cut short
    with pytest.raises(ValueError, match="good.npz: not a model file"):
        mlp().load(saved)


# --- the command line of a real example, as a user runs it (issue 15) -------------------------

def run_mlp_sweep(out, *args, env=None):
    """``python examples/mlp_sweep.py --quick --out OUT ARGS``; returns the finished process."""
    return subprocess.run([sys.executable, str(EXAMPLES / "mlp_sweep.py"), "--quick", "--quiet",
                           "--out", str(out), *args], cwd=EXAMPLES.parent, capture_output=True,
                          text=True, timeout=TIMEOUT, env=env or os.environ)


def the_one_error_line(result) -> str:
    """The error of a command that should fail cleanly: exit 2, no traceback, one error line
    (besides the "tinynet: downloading ..." progress lines)."""
    lines = [line for line in result.stderr.splitlines() if not line.startswith("tinynet: ")]
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    return lines[0]


def log_header(folder, experiment="mlp_sweep"):
    """A results log holding only its header, as a finished earlier command leaves it."""
    with RunLog(folder, experiment, {"quick": True, "epochs": None, "set": {}},
                resume=False):
        pass


def test_no_data_and_no_network_is_one_line_saying_what_to_do(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "TINYNET_DATA"}
    env.update(TINYNET_CACHE=str(tmp_path / "cache"), https_proxy="http://127.0.0.1:9",
               http_proxy="http://127.0.0.1:9")           # a refused connection: fails at once
    line = the_one_error_line(run_mlp_sweep(tmp_path / "out", env=env))
    assert line.startswith("mlp_sweep.py: error: MNIST train split not found")
    assert "Download failed (no network?)" in line and "set TINYNET_DATA" in line
    assert not (tmp_path / "out").exists()


def test_quickstart_without_data_or_network_is_one_line(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "TINYNET_DATA"}
    env.update(TINYNET_CACHE=str(tmp_path / "cache"), https_proxy="http://127.0.0.1:9",
               http_proxy="http://127.0.0.1:9")
    result = subprocess.run([sys.executable, str(EXAMPLES / "quickstart.py")], env=env,
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert "MNIST train split not found" in the_one_error_line(result)


def hold_the_lock(folder):
    """Another process that has ``folder``'s results log open (a sweep in progress)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from tinynet.runlog import RunLog\n"
         "settings = {'seeds': [0], 'quick': True, 'epochs': None, 'set': {}}\n"
         "with RunLog(sys.argv[1], 'mlp_sweep', settings, resume=True):\n"
         "    print('locked', flush=True); time.sleep(120)", str(folder)],
        cwd=EXAMPLES.parent, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


@needs_mnist
def test_two_processes_on_one_out_the_second_stops_with_one_line(tmp_path):
    holder = hold_the_lock(tmp_path / "out")
    try:
        before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
        line = the_one_error_line(run_mlp_sweep(tmp_path / "out", "--resume"))
        after = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    finally:
        holder.kill()
        holder.wait()
    assert f"is in use by another tinynet process (PID {holder.pid})" in line
    assert after == before                          # the holder's log is untouched


@needs_mnist
@pytest.mark.parametrize("case, message", [
    ("--out is a file", "is a file, not a folder; choose another --out"),
    ("read-only --out", "choose another --out"),
    ("--resume of another experiment", "belongs to experiment 'lr_batch_grid', not 'mlp_sweep'"),
    ("--resume with other --epochs", "was written with epochs = None; this command has epochs = 2"),
    ("a damaged log line", "line 2: a run record without history, results, status"),
])
def test_results_log_errors_of_a_real_example_are_one_line(tmp_path, case, message):
    out, args = tmp_path / "out", ["--resume"]
    if case == "--out is a file":
        out.write_text("")
    elif case == "read-only --out":
        if os.geteuid() == 0:             # root writes anywhere a permission bit forbids it
            out = Path("/sys/tinynet-test-out")
        else:
            (tmp_path / "ro").mkdir(mode=0o500)
            out = tmp_path / "ro" / "out"
    elif case == "--resume of another experiment":
        log_header(out, experiment="lr_batch_grid")
    elif case == "--resume with other --epochs":
        log_header(out)
        args += ["--epochs", "2"]
    else:
        log_header(out)
        with open(out / "results.jsonl", "a") as log:
            log.write('{"kind": "run", "run_id": "width=32-0123abcd", "config": {}}\n')
    before = sorted(p.name for p in out.iterdir()) if out.is_dir() else None
    line = the_one_error_line(run_mlp_sweep(out, *args))
    assert line.startswith("mlp_sweep.py: error: ") and message in line
    assert (sorted(p.name for p in out.iterdir()) if out.is_dir() else None) == before
