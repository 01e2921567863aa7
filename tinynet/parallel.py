"""Where the runs of a sweep execute: in this process, in a pool of local worker processes, or
on a Dask cluster. Every way yields the same records, as each run finishes; the driver alone
writes them to the log.

- ``workers == 1``: one after another, in this process.
- ``workers > 1``: a ``concurrent.futures`` process pool. Workers are started with ``spawn``,
  never ``fork``: a forked child of a process that has used OpenMP (Numba's parallel kernels,
  some BLAS builds) aborts or hangs. A worker that dies (killed, out of memory) breaks the
  pool; a new pool is started and the runs that were in it are retried, up to ``RETRIES``
  times each. With CuPy, worker i uses GPU i (``TINYNET_DEVICE``).
- ``cluster``: a Dask distributed ``Client`` on a scheduler address (``tcp://host:8786``), or
  ``local:N`` for a ``LocalCluster`` of N worker processes here. Dask retries the runs of a
  worker that dies. Each worker loads the data itself, from its own ``--data-dir``,
  ``$TINYNET_DATA`` or cache.

A run that raises is not retried: its record says ``status: "failed"`` with the error, and
the sweep goes on (``--resume`` tries failed runs again).
"""
from __future__ import annotations

import multiprocessing
import os
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace

RETRIES = 2


class ClusterError(RuntimeError):
    """``--cluster`` cannot be used: Dask is missing, or no scheduler answers."""


def executor(workers: int = 1, cluster: str = None):
    """Where runs will execute; connects to the cluster now, so that a wrong address stops
    the sweep before anything is written."""
    if cluster:
        return DaskRuns(cluster)
    return LocalRuns(workers)


def execute_safely(job) -> dict:
    """:func:`tinynet.runner.execute`, with an exception turned into a failed run's record."""
    from tinynet.runner import execute
    started = time.perf_counter()
    try:
        return execute(job)
    except Exception as exc:            # noqa: BLE001 - any error of a run is that run's failure
        return failed(job, f"{type(exc).__name__}: {exc}", time.perf_counter() - started,
                      traceback.format_exc())


def failed(job, error: str, seconds: float = 0.0, trace: str = None) -> dict:
    from tinynet.runner import environment
    results = {"error": error} if trace is None else {"error": error, "traceback": trace}
    return {"run_id": job.run_id, "label": job.label, "config": job.config, "status": "failed",
            "history": None, "results": results, "wall_seconds": seconds,
            "environment": environment(job.threads)}


class LocalRuns:
    """Runs in this process (one worker) or in a pool of spawned worker processes."""

    def __init__(self, workers: int):
        self.workers = workers

    def run(self, jobs: list):
        """Yield the record of every job, in the order they finish."""
        if self.workers == 1 or len(jobs) <= 1:
            for job in jobs:
                yield execute_safely(job)
        else:
            yield from self._in_pool([replace(job, progress=False) for job in jobs],
                                     min(self.workers, len(jobs)))

    def close(self) -> None:
        pass

    def _in_pool(self, jobs: list, workers: int):
        pending = {job.run_id: job for job in jobs}
        tries = dict.fromkeys(pending, 0)
        while pending:
            pool = _pool(workers)
            futures = {pool.submit(execute_safely, job): key for key, job in pending.items()}
            try:
                while futures:
                    done, _ = wait(futures, return_when=FIRST_COMPLETED)
                    for future in done:
                        key = futures.pop(future)
                        try:
                            record = future.result()
                        except BrokenProcessPool:       # a worker died: retry in a new pool
                            tries[key] += 1
                            if tries[key] > RETRIES:
                                yield failed(pending.pop(key), f"its worker process died "
                                             f"{RETRIES + 1} times (killed, or out of memory?)")
                            continue
                        del pending[key]
                        yield record
            except BaseException:
                _stop(pool)
                raise
            pool.shutdown(wait=True)


def _pool(workers: int) -> ProcessPoolExecutor:
    context = multiprocessing.get_context("spawn")
    devices = context.Queue()
    for device in range(workers):
        devices.put(device)
    return ProcessPoolExecutor(max_workers=workers, mp_context=context,
                               initializer=_take_device, initargs=(devices,))


def _take_device(devices) -> None:
    """Worker i of a pool takes device i: with CuPy, each worker has a GPU of its own."""
    os.environ["TINYNET_DEVICE"] = str(devices.get())


def _stop(pool: ProcessPoolExecutor) -> None:
    """Ctrl-C: end the workers now. A run in flight keeps the checkpoint of its last finished
    epoch (checkpoints are replaced atomically), so --resume continues it."""
    processes = list(getattr(pool, "_processes", {}).values())   # no public way to reach them
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=10)


class DaskRuns:
    """Runs on a Dask distributed cluster (``pip install -e ".[cluster]"``)."""

    def __init__(self, address: str):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise ClusterError('--cluster needs Dask distributed: pip install -e ".[cluster]"'
                               ) from None
        self.cluster = None
        if address.startswith("local:"):
            count = address.split(":", 1)[1]
            if not count.isdigit() or int(count) < 1:
                raise ClusterError(f"--cluster {address}: expected local:N, N >= 1 workers")
            self.cluster = LocalCluster(n_workers=int(count), threads_per_worker=1,
                                        processes=True, dashboard_address=None)
            address = self.cluster.scheduler_address
        try:
            self.client = Client(address, timeout="10s")
        except (OSError, TimeoutError) as exc:
            self.close()
            raise ClusterError(f"--cluster {address}: no Dask scheduler answered ({exc}); start "
                               f"one with: dask scheduler") from None

    def run(self, jobs: list):
        from dask.distributed import as_completed
        futures = [self.client.submit(execute_safely, replace(job, progress=False),
                                      key=f"tinynet-{job.run_id}", pure=False, retries=RETRIES)
                   for job in jobs]
        try:
            for future in as_completed(futures):
                yield future.result()
        except BaseException:
            self.client.cancel(futures)
            raise

    def close(self) -> None:
        if getattr(self, "client", None) is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
