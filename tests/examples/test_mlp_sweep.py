"""Smoke tests of examples/mlp_sweep.py (E3) in --quick mode: every study, resume, report."""
import json

import pytest

from tests import cupy_shaped
from tests.conftest import data_dir
from tests.examples.conftest import load_example
from tinynet import backend

sweep = load_example("mlp_sweep")
pytestmark = pytest.mark.skipif(data_dir() is None, reason="TINYNET_DATA is not set")


def test_build_mlp_zero_hidden_layers_is_a_true_linear_model():
    assert sweep.build_mlp(0, 128).num_parameters() == 784 * 10 + 10
    assert sweep.build_mlp(2, 32).num_parameters() == (784 * 32 + 32) + (32 * 32 + 32) + 330


def test_quick_sweep_of_every_study_writes_results_plots_and_report(tmp_path):
    sweep.main(["--quick", "--quiet", "--out", str(tmp_path), "--data-dir", data_dir()])
    records = [json.loads(line) for line in (tmp_path / "results.jsonl").open()]
    # 16 cells in five studies, the base configuration shared by all five: 12 distinct runs
    assert len(records) == 12
    assert all(r["history"]["status"] in ("completed", "diverged") for r in records)
    base = next(r for r in records if r["config"]["lr"] == 0.01 and r["config"]["batch_size"] == 64
                and r["config"]["hidden_layers"] == 1 and r["config"]["width"] == 128
                and r["config"]["loss"] == "cross_entropy")
    assert base["history"]["epochs"][0]["val_acc"] > 0.8    # 2k samples, 1 epoch
    for study in sweep.STUDIES:
        for kind in ("step_loss", "train_acc", "val_acc"):
            assert (tmp_path / f"{study}_{kind}.png").stat().st_size > 10_000
    report = (tmp_path / "report.md").read_text()
    assert "| 0.001 |" in report and "| not run |" in report and "true linear model" in report


def test_resume_skips_finished_runs_and_a_second_run_without_it_refuses(tmp_path):
    args = ["--quick", "--quiet", "--study", "width", "--out", str(tmp_path),
            "--data-dir", data_dir()]
    sweep.main(args)
    first = (tmp_path / "results.jsonl").read_text()
    sweep.main(args + ["--resume"])
    assert (tmp_path / "results.jsonl").read_text() == first   # nothing redone or duplicated
    with pytest.raises(SystemExit, match="pass --resume"):
        sweep.main(args)


def test_unknown_study_is_a_cli_error(capsys):
    with pytest.raises(SystemExit):
        sweep.main(["--study", "momentum"])
    assert "invalid choice: 'momentum'" in capsys.readouterr().err


@pytest.mark.cupy_api
def test_the_cupy_path_needs_no_implicit_host_conversion(tmp_path, monkeypatch):
    """CuPy API checks (no GPU code executed): ``--backend cupy`` with the CuPy-shaped backend
    standing in for CuPy. Training, metrics, the results log, plots and the report must get
    every value from the device explicitly (an implicit conversion raises there)."""
    use = backend.use
    monkeypatch.setattr(backend, "use",
                        lambda name: cupy_shaped.activate() if name == "cupy" else use(name))
    sweep.main(["--backend", "cupy", "--quick", "--quiet", "--study", "loss", "--out",
                str(tmp_path), "--data-dir", data_dir()])
    records = [json.loads(line) for line in (tmp_path / "results.jsonl").open()]
    assert len(records) == 3 and {r["environment"]["backend"] for r in records} == {"cupy-shaped"}
    assert all(r["history"]["epochs"] for r in records)
    assert (tmp_path / "loss_val_acc.png").stat().st_size > 10_000
    assert "| cross_entropy |" in (tmp_path / "report.md").read_text()


@pytest.mark.parametrize("script", ["mlp_sweep", "optimizer_study", "mnist_cnn",
                                    "lr_batch_grid", "sigmoid_mlp", "fashion_mnist"])
def test_every_example_prints_its_help(script, capsys):
    with pytest.raises(SystemExit) as info:
        load_example(script).main(["--help"])
    assert info.value.code == 0 and "--backend" in capsys.readouterr().out
