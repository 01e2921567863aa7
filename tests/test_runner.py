"""The runner, once, on a toy experiment (tests/toy_experiment.py): plans and run ids, the
command line, resume between runs and inside a run, and every refusal."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import toy_experiment
from tinynet.runlog import LogError
from tinynet.runner import ExperimentError, Group, Plan, config_hash, label, run_id

ROOT = Path(__file__).resolve().parents[1]
toy = toy_experiment.experiment


def run(out, *args, jobs=1):
    """The toy experiment's command, in this process; returns the report context."""
    return toy.run(["--quiet", "--out", str(out), "--jobs", str(jobs), "--threads", "1",
                    *args])


def records(out) -> dict:
    lines = [json.loads(line) for line in (Path(out) / "results.jsonl").open()]
    return {r["run_id"]: r for r in lines if r["kind"] == "run"}


def comparable(record: dict) -> dict:
    """A record without what depends on the clock."""
    history = dict(record["history"],
                   epochs=[{k: v for k, v in e.items() if k != "train_seconds"}
                           for e in record["history"]["epochs"]])
    return {key: value for key, value in dict(record, history=history).items()
            if key not in ("wall_seconds", "environment", "code")}


# --- plans and run ids ----------------------------------------------------------------------

def test_run_ids_are_a_readable_label_and_a_stable_hash_of_the_configuration():
    base = {"lr": 0.01, "width": 16, "seed": 0, "quick": False}
    config = dict(base, lr=0.001)
    assert label(config, base) == "lr=0.001" and label(base, base) == "base"
    assert run_id(config, base) == f"lr=0.001-{config_hash(config)}"
    assert config_hash(config) == config_hash(dict(reversed(config.items())))   # key order
    assert config_hash(config) != config_hash(dict(config, seed=1))
    spaced = {"model": "base MLP"}
    assert run_id(spaced, {}) == f"model=base_MLP-{config_hash(spaced)}"


def test_a_configuration_shared_by_two_groups_is_one_run():
    cells = toy.cells()
    configs = [json.dumps(config, sort_keys=True) for _, config in cells]
    assert len(cells) == 3 + 2 + 1 and len(set(configs)) == 5    # the base is in lr and width


def test_overrides_change_every_cell_except_pinned_settings_and_optional_groups_wait():
    cells = dict(toy.cells(overrides={"epochs": 7}))
    assert cells["short"]["epochs"] == 1 and cells["lr"]["epochs"] == 7
    assert "broken" not in {group for group, _ in toy.cells()}
    assert {group for group, _ in toy.cells(only=["broken"])} == {"broken"}
    assert [config["epochs"] for _, config in toy.cells(quick=True)][0] == 1
    with pytest.raises(ExperimentError, match="--set momentum: not a setting of toy"):
        toy.cells(overrides={"momentum": 0.9})
    with pytest.raises(ExperimentError, match="no group 'nope': choose from lr, width"):
        toy.cells(only=["nope"])


def test_an_override_only_changes_cells_that_have_the_setting():
    plan = Plan({"lr": 1.0, "epochs": 3}, [Group("a"), Group("capped", set={"cap": 9})])
    cells = [group.configs(plan.base, {"cap": 4}) for group in plan.groups]
    assert cells == [[{"lr": 1.0, "epochs": 3}], [{"lr": 1.0, "epochs": 3, "cap": 4}]]


def test_list_prints_the_plan_and_touches_nothing(tmp_path, capsys):
    assert run(tmp_path / "out", "--list") is None
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 6 and printed[0].startswith("lr: lr=0.003-")
    assert not (tmp_path / "out").exists()


# --- a sweep, its log and its report ---------------------------------------------------------

def test_a_sweep_logs_every_run_once_and_reports_them(tmp_path, capsys):
    context = run(tmp_path)
    found = records(tmp_path)
    assert len(found) == 5 and {r["status"] for r in found.values()} == {"completed"}
    assert all(r["environment"]["threads"] == 1 for r in found.values())
    assert all(set(r["code"]) == {"commit", "clean"} for r in found.values())
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("[1/5] lr=0.003, completed, train_acc") and lines[0].endswith(" s")
    report = context.path.read_text()
    assert report.startswith("# A toy experiment") and "| lr | val acc (%) |" in report
    invocation = json.loads((tmp_path / "results.jsonl").read_text().splitlines()[1])
    assert invocation["kind"] == "invocation" and "--out" in invocation["command"]
    assert "commit" in invocation["code"]
    # the figure's data are the runs' val accuracies, one line per learning rate
    lines = context.figures["lr_val_acc.png"].axes[0].get_lines()
    by_label = {line.get_label(): list(line.get_ydata()) for line in lines}
    lr_runs = [r for r in found.values() if r["label"] in by_label]
    assert len(lr_runs) == 3 and all(
        by_label[r["label"]] == [e["val_acc"] for e in r["history"]["epochs"]] for r in lr_runs)
    assert not (tmp_path / "checkpoints").exists()        # finished runs keep no checkpoint


def test_resume_does_only_the_missing_runs_and_appends_them(tmp_path, capsys):
    run(tmp_path, "--only", "lr")
    before = (tmp_path / "results.jsonl").read_bytes()
    run(tmp_path, "--resume")
    assert "resuming" in capsys.readouterr().out
    after = (tmp_path / "results.jsonl").read_bytes()
    assert after.startswith(before) and len(records(tmp_path)) == 5   # appended, not rewritten
    full = tmp_path / "full"
    run(full)
    assert {k: comparable(r) for k, r in records(tmp_path).items()} == {
        k: comparable(r) for k, r in records(full).items()}


def test_step_losses_are_stored_compactly_and_read_back_exactly(tmp_path):
    context = run(tmp_path, "--only", "short")
    (record,) = records(tmp_path).values()
    assert set(record["history"]["step_loss"]) == {"float32_base64"}
    losses = context.runs("short")[0].history.step_loss
    assert len(losses) == 15 and all(isinstance(x, float) for x in losses)


def test_a_failing_run_is_recorded_and_the_sweep_goes_on(tmp_path, capsys):
    run(tmp_path, "--only", "broken,short")
    found = {r["label"].split("-")[0]: r for r in records(tmp_path).values()}
    failed = next(r for r in found.values() if r["status"] == "failed")
    assert failed["results"]["error"] == "ValueError: this configuration fails on purpose"
    assert {r["status"] for r in found.values()} == {"failed", "completed"}
    assert "fails on purpose" in capsys.readouterr().out


# --- resume inside a run ----------------------------------------------------------------------

def test_an_interrupted_run_continues_from_its_last_epoch_bit_identically(tmp_path, monkeypatch,
                                                                          capsys):
    monkeypatch.setenv("TOY_INTERRUPT_AT", "2")
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, "--only", "width")
    assert "interrupted: 0 finished runs kept" in capsys.readouterr().err
    (checkpoint,) = (tmp_path / "checkpoints").iterdir()      # epoch 1 of the first run
    monkeypatch.delenv("TOY_INTERRUPT_AT")
    run(tmp_path, "--only", "width", "--resume")
    assert "1 continue from a checkpoint" in capsys.readouterr().out
    assert not checkpoint.exists()
    reference = tmp_path / "reference"
    run(reference, "--only", "width")
    ours, theirs = records(tmp_path), records(reference)
    assert {k: comparable(r) for k, r in ours.items()} == {
        k: comparable(r) for k, r in theirs.items()}
    assert len({r["results"]["weights"] for r in ours.values()}) == 2     # really two models


@pytest.mark.slow
def test_ctrl_c_on_the_command_line_keeps_finished_epochs_and_resume_completes(tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "tests.toy_experiment", "--quiet", "--jobs", "1",
               "--threads", "1", "--only", "width", "--out", str(out)]
    process = subprocess.Popen(command, cwd=ROOT, env=dict(os.environ, TOY_SLEEP="0.02"),
                               stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (out / "checkpoints").exists() or not any((out / "checkpoints").iterdir()):
        assert time.time() < deadline and process.poll() is None
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "rerun the same command with --resume" in err.lower()
    assert "Traceback" not in err
    subprocess.run(command + ["--resume"], cwd=ROOT, check=True, capture_output=True)
    run(tmp_path / "reference", "--only", "width")
    assert {k: comparable(r) for k, r in records(out).items()} == {
        k: comparable(r) for k, r in records(tmp_path / "reference").items()}


# --- refusals -----------------------------------------------------------------------------------

def test_a_second_process_on_the_same_folder_stops_at_once_naming_the_holder(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from tinynet.runlog import RunLog\n"
         "settings = {'seeds': [0], 'quick': False, 'epochs': None, 'set': {}}\n"
         "with RunLog(sys.argv[1], 'toy', settings, resume=True):\n"
         "    print('locked', flush=True); time.sleep(60)", str(tmp_path)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(LogError, match=f"in use by another tinynet process \\(PID "
                                           f"{holder.pid}\\)"):
            run(tmp_path, "--resume")
    finally:
        holder.kill()
        holder.wait()
    run(tmp_path, "--resume", "--only", "short")          # the kernel released the lock


def test_resume_refuses_a_log_of_another_experiment_or_setting(tmp_path):
    run(tmp_path, "--only", "short")
    with pytest.raises(LogError, match="written with quick = False"):
        run(tmp_path, "--resume", "--quick")
    with pytest.raises(LogError, match="epochs = None; this command has epochs = 2"):
        run(tmp_path, "--resume", "--epochs", "2")
    with pytest.raises(LogError, match="already holds 1 finished runs: pass --resume"):
        run(tmp_path)
    log = tmp_path / "results.jsonl"
    log.write_text(log.read_text().replace('"experiment": "toy"', '"experiment": "mlp_sweep"'))
    with pytest.raises(LogError, match="belongs to experiment 'mlp_sweep', not 'toy'"):
        run(tmp_path, "--resume")


def test_out_must_be_a_writable_folder_and_nothing_is_created_on_failure(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(LogError, match="is a file, not a folder"):
        run(a_file)
    if os.geteuid() == 0:             # root writes anywhere a permission bit forbids it
        read_only = Path("/sys/tinynet-test-out")
    else:
        read_only = tmp_path / "ro"
        read_only.mkdir(mode=0o500)
    with pytest.raises(LogError, match="not writable|cannot be created"):
        run(read_only / "out")
    with pytest.raises(ExperimentError):
        run(tmp_path / "new", "--set", "nonsense=1")
    assert not (tmp_path / "new").exists()


def test_damaged_log_lines(tmp_path):
    run(tmp_path, "--only", "short")
    log = tmp_path / "results.jsonl"
    good = log.read_text()
    log.write_text(good + '{"kind": "run", "run_id": "x"')           # cut short by a crash
    run(tmp_path, "--resume")
    assert log.read_text().startswith(good) and len(records(tmp_path)) == 5
    log.write_text(good + '{"kind": "run", "run_id": "x", "config": {}}\n')
    with pytest.raises(LogError, match="line 4: a run record without history, results, status"):
        run(tmp_path, "--resume")
    log.write_text(good + "not json\n")
    with pytest.raises(LogError, match="line 4: not valid JSON"):
        run(tmp_path, "--resume")


@pytest.mark.parametrize("args, message", [
    (["--epochs", "0"], "argument --epochs: must be >= 1, got 0"),
    (["--set", "lr"], "argument --set: expected KEY=VALUE, got 'lr'"),
    (["--only", "nope"], "no group 'nope': choose from lr, width, short, broken"),
    (["--set", "momentum=0.9"], "--set momentum: not a setting of toy"),
])
def test_command_line_errors_are_one_line_and_exit_2(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as info:
        toy.main(["--out", str(tmp_path / "out"), *args])
    err = capsys.readouterr().err
    assert info.value.code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_help_names_every_flag_and_the_specification(capsys):
    with pytest.raises(SystemExit) as info:
        toy.main(["--help"])
    text = capsys.readouterr().out
    assert info.value.code == 0
    for flag in ("--backend", "--out", "--resume", "--only", "--set", "--jobs", "--cluster",
                 "--threads", "docs/experiments.md"):
        assert flag in text


def test_the_readmes_declaration_runs_as_shown(capsys):
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    (block,) = [b for b in blocks if "Experiment(" in b]
    namespace = {"__doc__": "My sweep.", "__name__": "readme"}
    exec(compile(block, "README.md", "exec"), namespace)
    experiment = namespace["experiment"]
    assert len(experiment.cells()) == 6
    assert experiment.run(["--list"]) is None
    assert len(capsys.readouterr().out.splitlines()) == 6


def test_several_seeds_run_every_cell_once_per_seed_and_the_report_spans_them(tmp_path):
    context = run(tmp_path, "--only", "lr", "--seeds", "0,1")
    found = records(tmp_path)
    assert sorted(r["label"] for r in found.values()) == [
        "base", "base,seed=1", "lr=0.003", "lr=0.003,seed=1", "lr=0.1", "lr=0.1,seed=1"]
    cells = context.cells("lr")
    assert [cell.seeds for cell in cells] == [[0, 1]] * 3
    accuracies = [r.final("val_acc") for r in cells[0].runs]
    assert cells[0].mean(lambda r: r.final("val_acc")) == sum(accuracies) / 2
    assert cells[0].range(lambda r: r.final("val_acc")) == (min(accuracies), max(accuracies))
    with pytest.raises(ExperimentError, match="give --seed or --seeds, not both"):
        run(tmp_path / "other", "--seed", "1", "--seeds", "0,1")


def test_resuming_with_more_seeds_runs_only_the_new_ones_and_the_report_shows_them_all(tmp_path):
    run(tmp_path, "--only", "lr")                                     # seed 0
    first = records(tmp_path)
    context = run(tmp_path, "--only", "lr", "--seeds", "0,2", "--resume")
    found = records(tmp_path)
    assert len(found) == 6 and {k: found[k] for k in first} == first  # seed 0 not run again
    assert [cell.seeds for cell in context.cells("lr")] == [[0, 2]] * 3
    context = run(tmp_path, "--only", "lr", "--resume")               # a seed-0 command
    assert [cell.seeds for cell in context.cells("lr")] == [[0, 2]] * 3   # reports them all


def test_set_values_must_have_the_plans_types():
    assert dict(toy.cells(overrides={"lr": 1}))["lr"]["lr"] == 1.0       # an int for a float
    with pytest.raises(ExperimentError, match=r"--set lr='abc': expected a value of type "
                                              r"float, like the plan's lr = 0.01"):
        toy.cells(overrides={"lr": "abc"})
    with pytest.raises(ExperimentError, match="--set width=2.5: expected a value of type int"):
        toy.cells(overrides={"width": 2.5})


def test_failed_runs_are_listed_in_the_report_header_not_in_its_tables(tmp_path):
    context = run(tmp_path, "--only", "broken,lr")
    assert list(context.failed.values())[0].status == "failed"
    assert all(run.status != "failed" for run in context.runs())
    assert "**Failed runs**" in context.path.read_text()


def test_parallel_sweeps_start_the_longest_runs_first():
    from tinynet.runner import estimated_steps
    assert estimated_steps({"epochs": 10, "batch_size": 1}) > estimated_steps(
        {"epochs": 10, "batch_size": 64}) > estimated_steps({"epochs": 1, "batch_size": 64})
    assert estimated_steps({"max_epochs": 150, "epochs": 10, "batch_size": 64}) == 150 / 64
    assert estimated_steps({"model": "x"}) == 1.0
