from benchmarks import allocator


def test_one_process_counts_the_steps_faults_and_time():
    got = allocator.one_process("e3_batch1", "tinynet", keep=True, steps=5, threads=1)
    assert set(got) == {"ms_per_step", "page_faults_per_step", "system_ms_per_step"}
    assert got["ms_per_step"] > 0
    assert got["page_faults_per_step"] >= 0 and got["system_ms_per_step"] >= 0


def test_the_table_has_a_row_per_framework_and_setting(capsys):
    allocator.main(["e3_batch1", "--steps", "3", "--threads", "1"])
    rows = [line for line in capsys.readouterr().out.splitlines()
            if line.startswith("| tinynet") or line.startswith("| pytorch")]
    assert [row.split("|")[2].strip() for row in rows][:2] == ["defaults", "freed memory kept"]
