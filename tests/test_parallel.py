"""Sweeps on every core and on a cluster: the records never depend on where runs execute, and
a dead worker, a failing run or Ctrl-C on the driver loses nothing (tests/toy_experiment.py)."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import toy_experiment
from tests.test_runner import comparable, records
from tinynet.parallel import ClusterError

ROOT = Path(__file__).resolve().parents[1]
toy = toy_experiment.experiment
needs_dask = pytest.mark.skipif(
    subprocess.run([sys.executable, "-c", "import dask.distributed"]).returncode != 0,
    reason='Dask is not installed (pip install -e ".[cluster]")')


def sweep(out, *args):
    toy.run(["--quiet", "--threads", "1", "--out", str(out), *args])
    return {key: comparable(record) for key, record in records(out).items()}


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    """The records of the whole toy sweep, one run after another in this process."""
    return sweep(tmp_path_factory.mktemp("serial"), "--jobs", "1")


@pytest.mark.slow
def test_two_local_workers_give_the_serial_records(tmp_path, serial):
    assert sweep(tmp_path, "--jobs", "2") == serial


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_its_run_retried(tmp_path, serial, monkeypatch):
    marker = tmp_path / "killed-once"
    monkeypatch.setenv("TOY_KILL_ONCE", str(marker))      # inherited by the spawned workers
    assert sweep(tmp_path / "out", "--jobs", "2") == serial
    assert marker.exists()                                # a worker really died


@pytest.mark.slow
def test_ctrl_c_on_the_driver_keeps_finished_runs_and_resume_completes(tmp_path, serial):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "tests.toy_experiment", "--quiet", "--jobs", "2",
               "--threads", "1", "--out", str(out)]
    driver = subprocess.Popen(command, cwd=ROOT, env=dict(os.environ, TOY_SLEEP="0.01"),
                              stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not records_exist(out, 1):
        assert time.time() < deadline and driver.poll() is None, "no run finished"
        time.sleep(0.05)
    driver.send_signal(signal.SIGINT)
    _, err = driver.communicate(timeout=120)
    assert driver.returncode == 130 and "Traceback" not in err, err
    kept = len(records(out))
    assert 1 <= kept < 5, "the sweep ended before the signal arrived: make runs slower"
    subprocess.run(command + ["--resume"], cwd=ROOT, check=True, capture_output=True,
                   timeout=300)
    assert {k: comparable(r) for k, r in records(out).items()} == serial


def records_exist(out: Path, count: int) -> bool:
    log = out / "results.jsonl"
    return log.exists() and log.read_text().count('"kind": "run"') >= count


def test_a_failed_run_is_retried_by_resume(tmp_path):
    toy.run(["--quiet", "--jobs", "1", "--out", str(tmp_path), "--only", "broken"])
    (failed,) = records(tmp_path).values()
    assert failed["status"] == "failed"
    toy.run(["--quiet", "--jobs", "1", "--out", str(tmp_path), "--only", "broken", "--resume"])
    lines = [json.loads(line) for line in (tmp_path / "results.jsonl").open()]
    assert sum(line["kind"] == "run" for line in lines) == 2       # tried again, appended


@needs_dask
@pytest.mark.slow
def test_a_local_dask_cluster_gives_the_serial_records(tmp_path, serial):
    assert sweep(tmp_path, "--cluster", "local:2") == serial


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@needs_dask
@pytest.mark.slow
def test_a_real_scheduler_and_two_workers_on_this_machine(tmp_path, serial):
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONPATH=str(ROOT))   # the workers import tests.toy_experiment
    python_m = [sys.executable, "-m"]
    processes = [subprocess.Popen([*python_m, "distributed.cli.dask_scheduler", "--host",
                                   "127.0.0.1", "--port", str(port), "--no-dashboard"],
                                  cwd=ROOT, env=env, stderr=subprocess.DEVNULL)]
    try:
        processes += [subprocess.Popen([*python_m, "distributed.cli.dask_worker", address,
                                        "--nthreads", "1", "--no-dashboard"],
                                       cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
                      for _ in range(2)]
        from dask.distributed import Client
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        assert sweep(tmp_path, "--cluster", address) == serial
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


@needs_dask
def test_a_cluster_that_does_not_answer_stops_before_anything_is_written(tmp_path):
    with pytest.raises(ClusterError, match="no Dask scheduler answered"):
        toy.run(["--out", str(tmp_path / "out"), "--cluster", f"tcp://127.0.0.1:{free_port()}"])
    assert not (tmp_path / "out").exists()


def test_without_dask_cluster_says_what_to_install(tmp_path):
    hide_dask = ("import importlib.abc, sys\n"
                 "class NoDask(importlib.abc.MetaPathFinder):\n"
                 "    def find_spec(self, name, path=None, target=None):\n"
                 "        if name.split('.')[0] in ('dask', 'distributed'):\n"
                 "            raise ModuleNotFoundError(name)\n"
                 "sys.meta_path.insert(0, NoDask())\n"
                 "from tests.toy_experiment import experiment\n"
                 f"experiment.main(['--out', {str(tmp_path / 'out')!r}, '--cluster', 'local:2'])")
    result = subprocess.run([sys.executable, "-c", hide_dask], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == ('toy.py: error: --cluster needs Dask distributed: '
                                     'pip install -e ".[cluster]"')
    assert not (tmp_path / "out").exists()


def _device_of_this_worker(wait: float) -> str:
    time.sleep(wait)                   # both workers are busy at once, so each takes one task
    return os.environ["TINYNET_DEVICE"]


@pytest.mark.slow
def test_worker_i_of_a_pool_gets_device_i():
    """With --backend cupy, worker i uses GPU i (TINYNET_DEVICE; the CuPy call itself needs a
    GPU and is not exercised here)."""
    from tinynet.parallel import _pool
    pool = _pool(2)
    try:
        devices = {future.result() for future in
                   [pool.submit(_device_of_this_worker, 2.0) for _ in range(2)]}
    finally:
        pool.shutdown()
    assert devices == {"0", "1"}
