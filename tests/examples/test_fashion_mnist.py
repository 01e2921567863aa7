"""Tests of examples/fashion_mnist.py (E6): the eight models' parameter counts, the stopping
rule, and the --quick run of every question with resume."""
import json

import pytest

from tests.conftest import data_dir
from tests.examples.conftest import load_example

e6 = load_example("fashion_mnist")
needs_data = pytest.mark.skipif(data_dir() is None, reason="TINYNET_DATA is not set")


@pytest.mark.parametrize("name, expected", [
    ("base MLP", 669_706), ("deep MLP", 576_970), ("wider base", 1_863_690),
    ("deeper base", 932_362), ("wider deep", 1_505_738), ("deeper deep", 579_194),
    ("simple CNN", 421_642), ("deep CNN", 858_506)])
def test_every_model_has_the_parameter_count_of_the_specification(name, expected):
    assert e6.build_model(name).num_parameters() == expected == e6.MODELS[name][1]


def test_the_deep_cnn_flattens_128_channels_of_3x3():
    assert "(N, 1152)" in e6.build_model("deep CNN").summary((1, 28, 28))


def test_stop_when_unchanged_waits_for_patience_epochs_of_no_change():
    stop = e6.StopWhenUnchanged(patience=5, min_change=0.001)
    decisions = [stop.on_epoch_end(epoch, {"val_acc": value}, None) for epoch, value in
                 enumerate([0.3, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], start=1)]
    assert decisions == [False] * 6 + [True]
    moving = e6.StopWhenUnchanged(patience=5, min_change=0.001)
    assert not any(moving.on_epoch_end(e, {"val_acc": 0.5 + 0.002 * e}, None)
                   for e in range(1, 20))


def test_unknown_question_is_a_cli_error(capsys):
    with pytest.raises(SystemExit):
        e6.main(["--question", "q2,q4"])
    assert "unknown question(s) ['q4']" in capsys.readouterr().err


@needs_data
def test_quick_run_of_every_question_writes_results_plots_and_report(tmp_path, capsys):
    e6.main(["--quick", "--quiet", "--out", str(tmp_path), "--data-dir", data_dir()])
    records = [json.loads(line) for line in (tmp_path / "results.jsonl").open()]
    # q2 8 runs, q3 8, q5 4 more (base and deep are q2's in quick mode), q6 none more, q7 2 CNNs
    assert len(records) == 22
    assert {r["results"]["parameters"] for r in records} <= {c for _, c in e6.MODELS.values()}
    capped = [r for r in records if r["config"].get("stop_at_acc")]
    assert len(capped) == 8 and all(len(r["history"]["epochs"]) <= 3 for r in capped)
    # the gradient norm of every step up to the 100th (quick runs take 5 steps per epoch)
    assert all(len(r["history"]["extra"]["grad_norm"]) == len(r["history"]["step_loss"])
               for r in records)
    for name in ("samples.png", "q2_base_loss.png", "q2_deep_test_acc.png", "q5_test_acc.png",
                 "q6_grad_norm.png", "q7_grad_norm.png", "q7_test_acc.png"):
        assert (tmp_path / name).stat().st_size > 10_000
    report = (tmp_path / "report.md").read_text()
    for text in ("Ankle boot", "(87.3)", "at most **3 epochs**", "(119)", "| 1,863,690 |",
                 "| 858,506 |", "89.59", "did not shuffle"):
        assert text in report
    assert "image shape (28, 28)" in capsys.readouterr().out


@needs_data
def test_resume_skips_finished_runs_and_a_second_run_without_it_refuses(tmp_path):
    args = ["--quick", "--quiet", "--question", "q6", "--out", str(tmp_path),
            "--data-dir", data_dir()]
    e6.main(args)
    first = (tmp_path / "results.jsonl").read_text()
    assert len(first.splitlines()) == 2
    e6.main(args + ["--resume"])
    assert (tmp_path / "results.jsonl").read_text() == first
    with pytest.raises(SystemExit, match="pass --resume"):
        e6.main(args)
