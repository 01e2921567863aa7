"""benchmarks.scaling on the toy experiment: both sweeps run, records compared, report written."""
import json
from pathlib import Path

import pytest

from benchmarks import scaling

TOY = str(Path(__file__).resolve().parents[1] / "toy_experiment.py")


@pytest.mark.slow
def test_scaling_times_both_sweeps_and_compares_their_records(tmp_path, capsys):
    scaling.main(["--script", TOY, "--quick", "--out", str(tmp_path)])
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["identical"] is True
    assert results["serial"]["jobs"] == 1 and results["parallel"]["jobs"] == 2
    assert 0 <= results["serial"]["others_share"] <= 1
    assert "Records of the 5 runs identical" in (tmp_path / "results.md").read_text()


def test_scaling_passes_the_seeds_on_to_both_sweeps(tmp_path):
    scaling.main(["--script", TOY, "--quick", "--seeds", "0,1", "--out", str(tmp_path)])
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["identical"] is True and "--seeds 0,1" in results["parallel"]["command"]
    assert "Records of the 10 runs identical" in (tmp_path / "results.md").read_text()


def test_different_records_are_reported(tmp_path):
    for name, lr in (("a", 0.1), ("b", 0.2)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.jsonl").write_text(json.dumps(
            {"kind": "run", "run_id": "x", "config": {"lr": lr}, "history": None,
             "wall_seconds": 1.0}) + "\n")
    assert scaling.comparable_records(tmp_path / "a") != scaling.comparable_records(tmp_path / "b")


def test_jobs_below_two_is_an_error(capsys):
    with pytest.raises(SystemExit):
        scaling.main(["--jobs", "1"])
    assert "--jobs must be >= 2" in capsys.readouterr().err
