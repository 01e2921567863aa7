import json

import pytest

from tests.conftest import data_dir


def quick_run(experiment, out, *args):
    """``experiment`` in --quick mode, in this process; returns (report context, run records
    by label)."""
    if data_dir() is None:
        pytest.skip("TINYNET_DATA is not set")
    context = experiment.run(["--quick", "--quiet", "--jobs", "1", "--out", str(out),
                              "--data-dir", data_dir(), *args])
    lines = [json.loads(line) for line in (out / "results.jsonl").open()]
    return context, {r["label"]: r for r in lines if r["kind"] == "run"}


def lines_of(figure, panel=0) -> dict:
    """label -> y data of every line of a figure's panel."""
    return {line.get_label(): list(line.get_ydata()) for line in figure.axes[panel].get_lines()}
