import argparse
import json

import pytest

from tinynet import backend
from tinynet.experiment import RunLog, add_common_arguments, environment, setup_backend


def test_run_log_keeps_finished_runs_and_refuses_to_overwrite(tmp_path):
    log = RunLog(tmp_path, resume=False)
    log.add({"run_id": "a", "value": 1})
    log.add({"run_id": "b", "value": 2})
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert [json.loads(line)["run_id"] for line in lines] == ["a", "b"]
    assert "a" in RunLog(tmp_path, resume=True)
    with pytest.raises(SystemExit, match="already holds 2 finished runs: pass --resume"):
        RunLog(tmp_path, resume=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.jsonl"]  # no temp files


def test_run_log_names_a_corrupt_line(tmp_path):
    (tmp_path / "results.jsonl").write_text('{"run_id": "a"}\n{"run_id": \n')
    with pytest.raises(ValueError, match="results.jsonl, line 2: not valid JSON"):
        RunLog(tmp_path, resume=True)


def test_environment_records_versions():
    info = environment()
    assert info["backend"] == "numpy" and info["tinynet"] and info["numpy"]


def test_examples_flush_denormals_and_record_it():
    parser = argparse.ArgumentParser()
    add_common_arguments(parser, default_out="runs/x")
    supported = backend.set_flush_denormal(False)     # off, as by default (and in PyTorch)
    assert environment()["flush_denormal"] is False
    setup_backend(parser, parser.parse_args([]))
    assert environment()["flush_denormal"] is supported


def test_unknown_backend_and_bad_epochs_are_cli_errors(capsys):
    parser = argparse.ArgumentParser()
    add_common_arguments(parser, default_out="runs/x")
    with pytest.raises(SystemExit):
        parser.parse_args(["--backend", "tpu"])
    assert "invalid choice: 'tpu'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        setup_backend(parser, parser.parse_args(["--epochs", "0"]))
    assert "--epochs must be >= 1, got 0" in capsys.readouterr().err


def test_missing_gpu_backend_is_one_clear_cli_error(capsys, monkeypatch):
    def unavailable(name):
        raise backend.BackendError("backend 'cupy' requested but CuPy is not installed.")
    monkeypatch.setattr(backend, "use", unavailable)
    parser = argparse.ArgumentParser()
    add_common_arguments(parser, default_out="runs/x")
    with pytest.raises(SystemExit):
        setup_backend(parser, parser.parse_args(["--backend", "cupy"]))
    assert "CuPy is not installed" in capsys.readouterr().err
