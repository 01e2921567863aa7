"""The Markdown report of a benchmark run (its JSON holds the same figures and more)."""
from __future__ import annotations

QUIET_LOAD = 0.5     # a 1-minute load average above this at the start: someone else was busy
QUIET_STEAL = 0.05   # above this share of CPU time taken by other guests, say so


def number(value, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits, "-" for None."""
    return "-" if value is None else f"{value:.{digits}g}"


def spread(figures) -> str:
    """"min / **median** / max" of one framework's timings, or "-" when it did not run."""
    if figures is None:
        return "-"
    return f"{number(figures['min'])} / **{number(figures['median'])}** / {number(figures['max'])}"


def percent(figures) -> str:
    """The fraction of the GEMM peak as a percentage: "41%", "0.52%"."""
    if figures is None:
        return "-"
    value = 100 * figures["fraction_of_peak"]
    return f"{value:.0f}%" if value >= 10 else f"{value:.2g}%"


def memory_mib(figures) -> str:
    memory = (figures or {}).get("memory")
    if memory is None:
        return "-"
    if "error" in memory:
        return "failed"
    return f"{memory['epoch_mib']:.0f}"


def denormals(settings: dict) -> str:
    if settings.get("flush_denormal"):
        return "flushed to zero in the main thread (tinynet.backend.set_flush_denormal)"
    return "kept (IEEE gradual underflow)"


def freed_memory(settings: dict) -> str:
    if settings.get("freed_memory_kept"):
        return "kept by malloc for reuse, for both frameworks (tinynet.allocator.keep_freed_memory)"
    return "returned to the system as malloc decides (its default)"


def by_hand_line(row: dict) -> str:
    """The hand-written NumPy yardstick of a row (benchmarks/handwritten.py), as a sentence."""
    by_hand = row["numpy_by_hand"]["median"]
    ratios = f"tinynet / by hand {row['tinynet']['median'] / by_hand:.2f}"
    if "pytorch" in row:
        ratios += f", by hand / PyTorch {by_hand / row['pytorch']['median']:.2f}"
    return (f"\n{row['title']}, written by hand in plain NumPy (benchmarks/handwritten.py, "
            f"timed in the same rotation): {spread(row['numpy_by_hand'])} {row['unit']}; "
            f"{ratios}.")


def machine_lines(results: dict) -> list:
    m, s, gemm = results["machine"], results["settings"], results["gemm"]
    torch = f", PyTorch {m['torch']} (threads: {m['torch_threads']})" if "torch" in m else ""
    thread_settings = ", ".join(f"{name}={value}" for name, value in m["thread_variables"].items())
    if "torch" in m:
        thread_settings += ", torch.set_num_threads"
    lines = [
        f"Machine: {m['cpu_model']}, {m['cpu_count']} cores ({m['usable_cores']} usable), "
        f"{m['platform']}  ",
        f"BLAS (NumPy): {m['numpy_blas']}  ",
        f"Versions: Python {m['python']}, NumPy {m['numpy']}, tinynet {m['tinynet']}{torch}; "
        f"backend {m['backend']}  ",
        f"Threads: {s['threads']} ({thread_settings})  ",
        f"Denormals: {denormals(s)}  ",
        f"Freed memory: {freed_memory(s)}  ",
        f"Kernels: tinynet = {m.get('kernels', 'reference')} kernels (tinynet.kernels)"
        + ("; tinynet reference = the reference kernels, timed in the same rotation  "
           if s.get("reference_kernels") else "  "),
        f"GEMM peak: **{gemm['gflops_best']:.1f} GFLOP/s** (float32 {gemm['n']}x{gemm['n']}, best "
        f"of {gemm['repeats']}; median {gemm['gflops_median']:.1f})",
    ]
    if m.get("threadpools"):
        pools = "; ".join(f"{p['internal_api']} {p['version']} {p['num_threads']} threads"
                          for p in m["threadpools"])
        lines[-1] += "  "
        lines.append(f"threadpoolctl: {pools}")
    steal = m.get("cpu_steal")
    if steal is not None:
        lines[-1] += "  "
        lines.append(f"CPU steal during the run: {steal:.1%} (time the hypervisor gave to "
                     f"other virtual machines)")
    load = m.get("load_average_1min")
    if load is not None and load > QUIET_LOAD:
        lines += ["", f"**Not a quiet machine**: the 1-minute load average was {load:.2f} when "
                      f"the run started, so other work competed for the cores and these "
                      f"figures are not fit for comparison or for committing."]
    if steal is not None and steal > QUIET_STEAL:
        lines += ["", f"**Not a quiet host**: other virtual machines took {steal:.1%} of the "
                      f"CPU time during the run. Both frameworks lost time, not necessarily "
                      f"alike; ratios are more trustworthy than absolute times, and a run "
                      f"with less steal is better for committing."]
    return lines


def markdown(results: dict) -> str:
    s = results["settings"]
    lines = ["# tinynet vs PyTorch: one training epoch per model", "",
             f"Command: `{results['command']}`  ",
             f"Date: {results['date']}  ",
             *machine_lines(results), "",
             f"An epoch is {s['samples']:,} random samples (float32, MNIST's shapes); the batch-1 "
             f"row is the mean step over {s['batch1_steps']:,} steps. Each figure is min / "
             f"**median** / max over {s['repeats']} timed runs per framework, after "
             f"{s['warmup_steps']} untimed warm-up steps, the two frameworks alternating.", ""]
    if results["torch_missing"]:
        lines += [f"PyTorch left out: {results['torch_missing']}.", ""]
    header = ["model", "batch", "optimizer", "unit", "tinynet", "PyTorch", "tinynet / PyTorch",
              "tinynet reference", "reference / PyTorch", "FLOP floor", "tinynet % of peak",
              "PyTorch % of peak",
              "tinynet epoch RSS (MiB)", "PyTorch epoch RSS (MiB)"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in results["benchmarks"]:
        tinynet, torch = row["tinynet"], row.get("pytorch")
        cells = [row["title"], str(row["batch_size"]), row["optimizer"], row["unit"],
                 spread(tinynet), spread(torch), number(row["ratio"]),
                 spread(row.get("tinynet_reference")), number(row.get("ratio_reference")),
                 number(row["flop_floor"]),
                 percent(tinynet), percent(torch), memory_mib(tinynet), memory_mib(torch)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [by_hand_line(row) for row in results["benchmarks"] if "numpy_by_hand" in row]
    lines += ["", "Columns:",
              "- *tinynet / PyTorch*: ratio of the medians; below 1, tinynet is faster. "
              "*reference*: tinynet on its reference kernels (array code, "
              "TINYNET_KERNELS=reference).",
              "- *FLOP floor*: the time the model's matrix products would take at the GEMM peak "
              "(forward, weight gradients, input gradients except the first layer's; "
              "benchmarks/flops.py), in the row's unit; *% of peak* is that floor over the median.",
              "- *epoch RSS*: how far one epoch raised the process's peak resident memory above "
              "its peak after building the model, optimizer and data; each framework and model "
              "in a fresh process."]
    if results["memory_note"]:
        lines.append(f"- Memory {results['memory_note']}.")
    failures = [f"- {row['key']} in {name}: {row[name]['memory']['error']}"
                for row in results["benchmarks"] for name in results["frameworks"]
                if "error" in row[name].get("memory", {})]
    if failures:
        lines += ["", "Memory measurements that failed:", *failures]
    return "\n".join(lines) + "\n"
