"""The report kit (tinynet.report): statistics of a cell over its seeds, the verdict against an
original's number, and the header's line on the seeds of every cell."""
import math

from tests.test_runner import run
from tinynet.report import (Cell, Measure, RunRecord, agreement, epochs_table, final_and_best,
                            measures,
                            over_seeds, seed_spread, seeds_line)


def cell(*accuracies, seeds=None, status="completed"):
    """A cell whose runs (seeds 0, 1, ... unless given) measured ``accuracies``."""
    seeds = range(len(accuracies)) if seeds is None else seeds
    return Cell([RunRecord({"run_id": str(s), "label": "lr=0.1" + (f",seed={s}" if s else ""),
                            "status": status, "config": {"lr": 0.1, "seed": s},
                            "results": {"acc": a}}) for s, a in zip(seeds, accuracies)])


def acc(run):
    return run.results["acc"]


def test_a_cell_has_the_mean_and_range_over_its_seeds_and_its_label_without_the_seed():
    three = cell(0.90, 0.96, 0.93)
    assert math.isclose(three.mean(acc), 0.93) and three.range(acc) == (0.90, 0.96)
    assert three.seeds == [0, 1, 2] and three.label == "lr=0.1" and three.config == {"lr": 0.1}
    assert cell(0.9, seeds=[2]).label == "lr=0.1"
    assert cell(0.5, None).range(acc) == (0.5, 0.5) and cell(None).mean(acc) is None
    assert cell(0.5, math.nan).range(acc) is None        # a NaN (a diverged loss) shows as "-"


def test_the_verdict_says_whether_the_original_lies_inside_the_seeds_range():
    columns = over_seeds("acc (%)", acc, lambda c: 95.0)
    assert [column.header for column in columns] == [
        "acc (%), mean", "min-max over seeds", "seeds", "original", "original vs our range"]
    verdict = columns[-1]
    assert verdict.cell(cell(0.94, 0.96)) == "inside"
    assert verdict.cell(cell(0.90, 0.93)) == "+2.00 above"
    assert verdict.cell(cell(0.96, 0.97)) == "-1.00 below"
    assert columns[0].cell(cell(0.94, 0.96)) == "95.00" and columns[1].cell(cell(0.9, 0.93)) == \
        "90.00-93.00"
    assert columns[2].cell(cell(0.9, 0.93, 0.95)) == "3"
    # one seed: the range is its value; no original: no verdict
    assert verdict.cell(cell(0.95)) == "inside" and columns[1].cell(cell(0.95)) == "95.00-95.00"
    assert len(over_seeds("acc (%)", acc)) == 3
    # an original's range overlaps ours or not; a loss keeps 4 decimals
    ranged = over_seeds("acc (%)", acc, lambda c: (93.4, 94.4))
    assert ranged[3].cell(cell(0.9)) == "93.40-94.40" and ranged[-1].cell(cell(0.94)) == "overlaps"
    assert ranged[-1].cell(cell(0.9, 0.92)) == "+1.40 above"
    loss = over_seeds("loss", acc, lambda c: 0.0122, fmt="num")
    assert loss[3].cell(cell(0.01)) == "0.0122" and loss[-1].cell(cell(0.01)) == "+0.0022 above"
    # judged at the decimals shown: 92.7051% shows as 92.71, so an original 92.71 is inside
    assert verdict.cell(cell(0.950049)) == "inside"
    assert over_seeds("a", acc, lambda c: 92.70)[-1].cell(cell(0.927051, 0.93)) == "-0.01 below"
    assert over_seeds("a", acc, lambda c: 92.71)[-1].cell(cell(0.927051, 0.93)) == "inside"


def test_the_agreement_sentence_counts_the_verdicts_of_a_table():
    cells = [cell(0.94, 0.96), cell(0.948), cell(0.90, 0.93), cell(0.97), cell(None)]
    assert agreement(cells, acc, lambda c: 95.0) == (
        "Of the 4 cells with an original number, it lies inside our range over the seeds for 1 "
        "and within 0.5 points of it for 1; further for 2: lr=0.1 (+2.00 above), lr=0.1 "
        "(-2.00 below).")
    assert agreement(cells[:2], acc, lambda c: 95.0).endswith("; none further.")


def test_a_table_of_measures_gives_each_row_the_statistics_of_the_one_cell():
    class Context:
        def cells(self, group):
            return [cell(0.94, 0.96)] if group == "A" else []

    table = measures("A", Measure("acc (%)", acc, 97.0), Measure("loss", acc, None, "num"))
    lines = table.render(Context())
    assert lines[2] == "| acc (%) | 95.00 | 94.00-96.00 | 2 | 97.00 | +1.00 above |"
    assert lines[3] == "| loss | 0.9500 | 0.9400-0.9600 | 2 | - | - |"
    assert measures("B", Measure("acc", acc)).render(Context())[2:] == [""]


def test_the_table_per_epoch_is_the_first_seeds_run():
    def run(seed, losses):
        return RunRecord({"run_id": str(seed), "config": {"seed": seed}, "status": "completed",
                          "history": {"epochs": [{"epoch": i + 1, "train_loss": loss}
                                                 for i, loss in enumerate(losses)],
                                      "step_loss": []}})

    class Context:
        def runs(self, group):
            return [run(0, [0.5, 0.25]), run(1, [0.7, 0.3])] if group == "A" else []

    lines = epochs_table("A", "train_loss", "val_acc").render(Context())
    assert lines[:4] == ["| epoch | train loss | val acc (%) |", "|---|---|---|",
                         "| 1 | 0.5000 | - |", "| 2 | 0.2500 | - |"]
    assert epochs_table("B", "train_loss").render(Context())[2:] == [""]


def test_the_seeds_line_says_which_cells_ran_with_fewer_seeds():
    def other(*accuracies, lr=0.2, seeds=None):
        found = cell(*accuracies, seeds=seeds)
        for record in found.runs:
            record.config["lr"] = lr
        return found
    cells = [cell(0.9, 0.9, 0.9), cell(0.9), other(0.9, 0.9, 0.9), other(0.9, seeds=[2], lr=0.3)]
    assert seeds_line({"all": cells}) == ("Seeds per cell: 3 (seeds 0, 1, 2) for 2 cells, 1 "
                                          "(seed 0) for 1 cell, 1 (seed 2) for 1 cell.")
    # several groups: each count names its groups; a cell in two groups counts once
    assert seeds_line({"a": cells[:1], "b": cells[:1] + cells[3:]}) == (
        "Seeds per cell: 3 (seeds 0, 1, 2) for 1 cell (a, b), 1 (seed 2) for 1 cell (b).")


def test_the_report_header_states_the_seeds_per_cell(tmp_path):
    run(tmp_path, "--only", "lr,short")                                           # seed 0
    run(tmp_path, "--only", "lr", "--seeds", "0,1", "--resume")      # seed 1 for lr's cells
    report = run(tmp_path, "--only", "lr,short", "--resume").path.read_text()
    assert "Seeds per cell: 2 (seeds 0, 1) for 3 cells (lr), 1 (seed 0) for 1 cell (short)." \
        in report
    assert report.index("Seeds per cell") < report.index("Machine:")


def test_the_seed_spread_sentence_names_the_widest_cells():
    cells = [cell(0.94, 0.96), cell(0.90, 0.93, 0.91), cell(0.95, 0.951), cell(0.9)]
    assert seed_spread(cells, acc, widest=1) == (
        "Over the seeds, a cell's value spans 0.10 to 3.00 points (max - min; the median cell "
        "2.00); the widest: lr=0.1 (3.00).")
    assert seed_spread([cell(0.9)], acc).startswith("Each cell ran with one seed")


def test_a_table_judged_against_the_original_says_under_it_how_many_cells_agree():
    from tinynet.report import Table
    table = Table(lambda ctx: [cell(0.94, 0.96), cell(0.90, 0.93)],
                  *over_seeds("acc (%)", acc, lambda c: 95.0))
    lines = table.render(ctx=None)
    assert lines[-2] == (
        "Over the seeds, a cell's value spans 2.00 to 3.00 points (max - min; the median cell "
        "2.00); the widest: lr=0.1 (3.00), lr=0.1 (2.00). Of the 2 cells with an original "
        "number, it lies inside our range over the seeds for 1 and within 0.5 points of it for "
        "0; further for 1: lr=0.1 (+2.00 above).")
    rows = [cell(0.94, 0.96), cell(0.90, 0.93)]                     # rows from a generator
    assert Table(lambda ctx: iter(rows), *over_seeds("acc (%)", acc, lambda c: 95.0)).render(
        ctx=None) == lines
    single = Table(lambda ctx: [cell(0.9)], *over_seeds("acc (%)", acc)).render(ctx=None)
    assert single[-1] == "" and not single[-2].startswith("Over")    # one seed, no original


def test_a_report_only_pass_leaves_the_log_alone_and_the_report_names_its_command(tmp_path):
    run(tmp_path, "--only", "lr")
    log = (tmp_path / "results.jsonl").read_text()
    report = run(tmp_path, "--only", "lr", "--resume").path.read_text()
    assert (tmp_path / "results.jsonl").read_text() == log      # no runs to do: no new line
    assert report.count("--resume") == 1 and "This report: `python " in report
    assert "--resume` (" in report.split("This report:")[1].splitlines()[0]


def test_final_and_best_says_when_a_cell_was_not_run_or_has_no_epoch():
    def run(accuracies, seed):
        return RunRecord({"run_id": str(seed), "label": "lr=0.1", "status": "completed",
                          "config": {"lr": 0.1, "seed": seed}, "history": {
                              "epochs": [{"epoch": i + 1, "val_acc": a}
                                         for i, a in enumerate(accuracies)], "step_loss": []}})
    cell = Cell([run([0.8, 0.7], 0), run([0.9, 0.75], 1)])
    assert final_and_best(cell, "val_acc") == "final 70.00-75.00%, best epoch 85.00% on average"
    assert final_and_best(None, "val_acc") == "not run"
    assert final_and_best(Cell([run([], 0)]), "val_acc") == "no finished epoch"


def test_the_seed_spread_of_counts_shows_them_as_counts():
    cells = [cell(3, 5), cell(14, 16, 15)]
    assert seed_spread(cells, acc, fmt="text") == (
        "Over the seeds, a cell's value spans 2 to 2 (max - min; the median cell 2); the widest: "
        "lr=0.1 (2), lr=0.1 (2).")


def test_a_mean_of_counts_shows_one_decimal_unless_whole():
    from tinynet.report import show
    assert [show(v, "count") for v in (117.0, 44 / 3, 3, 1500.0)] == ["117", "14.7", "3",
                                                                       "1,500"]
