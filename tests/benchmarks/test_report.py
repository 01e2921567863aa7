"""The Markdown report, from a hand-made results dict (no benchmark is run here)."""
from benchmarks.report import markdown, number, percent


def figures(median, memory=None):
    result = {"min": median * 0.9, "median": median, "max": median * 1.2,
              "fraction_of_peak": 0.25}
    if memory is not None:
        result["memory"] = memory
    return result


def results(load=0.1, torch=True, steal=None):
    row = {"title": "E1 MLP", "batch_size": 100, "optimizer": "Adam(lr=0.001)", "key": "e1_mlp",
           "unit": "s/epoch", "flop_floor": 0.489, "ratio": 0.5 if torch else None,
           "tinynet": figures(1.0, {"epoch_mib": 12.4})}
    if torch:
        row["pytorch"] = figures(2.0, {"error": "exit code 1: MemoryError"})
    machine = {"cpu_model": "a CPU", "cpu_count": 2, "usable_cores": 2, "platform": "Linux",
               "numpy_blas": "openblas", "python": "3.11", "numpy": "2.4", "tinynet": "0.1",
               "backend": "numpy", "thread_variables": {"OPENBLAS_NUM_THREADS": "2"},
               "threadpools": None, "load_average_1min": load, "cpu_steal": steal}
    if torch:
        machine.update(torch="2.13", torch_threads=2)
    return {"command": "python -m benchmarks.run", "date": "today", "machine": machine,
            "settings": {"threads": 2, "samples": 60_000, "batch1_steps": 5_000, "repeats": 5,
                         "warmup_steps": 20},
            "gemm": {"n": 4096, "repeats": 5, "gflops_best": 196.04, "gflops_median": 190.0},
            "frameworks": ["tinynet", "pytorch"] if torch else ["tinynet"],
            "torch_missing": None if torch else "disabled by --no-torch", "memory_note": None,
            "benchmarks": [row]}


def test_a_row_holds_every_column():
    text = markdown(results())
    row = next(line for line in text.splitlines() if line.startswith("| E1 MLP"))
    assert row == ("| E1 MLP | 100 | Adam(lr=0.001) | s/epoch | 0.9 / **1** / 1.2 | "
                   "1.8 / **2** / 2.4 | 0.5 | - | - | 0.489 | 25% | 25% | 12 | failed |")
    assert "GEMM peak: **196.0 GFLOP/s** (float32 4096x4096, best of 5; median 190.0)" in text
    assert "PyTorch 2.13 (threads: 2)" in text


def test_the_reference_kernels_have_columns_of_their_own():
    data = results()
    data["settings"]["reference_kernels"] = True
    data["machine"]["kernels"] = "fast"
    data["benchmarks"][0].update(tinynet_reference=figures(1.5), ratio_reference=0.75)
    text = markdown(data)
    row = next(line for line in text.splitlines() if line.startswith("| E1 MLP"))
    assert "| 0.5 | 1.35 / **1.5** / 1.8 | 0.75 |" in row
    assert "Kernels: tinynet = fast kernels" in text


def test_failed_memory_measurements_are_listed_under_the_table():
    assert "- e1_mlp in pytorch: exit code 1: MemoryError" in markdown(results())


def test_a_busy_machine_is_flagged():
    assert "Not a quiet machine" not in markdown(results(load=0.1))
    assert "**Not a quiet machine**: the 1-minute load average was 3.00" in \
        markdown(results(load=3.0))


def test_cpu_steal_is_stated_and_a_busy_host_is_flagged():
    assert "CPU steal" not in markdown(results(steal=None))          # not Linux: unknown
    quiet = markdown(results(steal=0.004))
    assert "CPU steal during the run: 0.4%" in quiet and "Not a quiet host" not in quiet
    assert "**Not a quiet host**: other virtual machines took 23.0% of the CPU time" in \
        markdown(results(steal=0.23))


def test_hand_written_yardstick_is_a_line_under_the_table():
    data = results()
    data["benchmarks"][0]["numpy_by_hand"] = figures(0.8)
    assert ("E1 MLP, written by hand in plain NumPy (benchmarks/handwritten.py, timed in the "
            "same rotation): 0.72 / **0.8** / 0.96 s/epoch; tinynet / by hand 1.25, "
            "by hand / PyTorch 0.40.") in markdown(data)


def test_without_torch_its_columns_are_dashes_and_the_reason_is_given():
    text = markdown(results(torch=False))
    assert "PyTorch left out: disabled by --no-torch." in text
    row = next(line for line in text.splitlines() if line.startswith("| E1 MLP"))
    assert row.endswith("| 0.9 / **1** / 1.2 | - | - | - | - | 0.489 | 25% | - | 12 | - |")


def test_number_formats():
    assert (number(None), number(0.123456), number(1234.5)) == ("-", "0.123", "1.23e+03")
    assert [percent({"fraction_of_peak": f}) for f in (0.4123, 0.095, 0.0052, 1.5)] == \
        ["41%", "9.5%", "0.52%", "150%"]
