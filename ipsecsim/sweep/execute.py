"""Where the runs of a sweep execute: this process, local worker processes, or a dask cluster.

Every executor runs the same ``worker.Task`` objects (or, with ``fn``, any picklable tasks and
function: a fleet's shards, fleet/run.py) and hands each finished task's rows to
``done`` as soon as it finishes (in completion order; the sweep sorts rows by cell and run
before it writes them), so the results do not depend on the executor, the number of workers
or the order in which tasks finish.

* ``local`` (default): a ``concurrent.futures.ProcessPoolExecutor`` with ``jobs`` processes
  (default: every core); ``jobs == 1`` runs in this process.
* ``dask``: ``dask.distributed`` - a ``Client`` on ``scheduler`` (``tcp://HOST:8786``), or a
  ``LocalCluster`` of ``jobs`` single-threaded worker processes when no scheduler is given;
  or an existing ``Client`` passed in (tests).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import ConfigError
from .worker import Task, run_task

Done = Callable[[list[dict[str, Any]]], None]
Fn = Callable[[Any], list[dict[str, Any]]]


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def run_inline(tasks: Sequence[Task], done: Done, fn: Fn = run_task) -> None:
    for t in tasks:
        done(fn(t))


def run_local(tasks: Sequence[Task], done: Done, jobs: int, fn: Fn = run_task) -> None:
    if jobs <= 1 or len(tasks) <= 1:
        run_inline(tasks, done, fn)
        return
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    pool = ProcessPoolExecutor(max_workers=jobs)
    try:
        pending = {pool.submit(fn, t) for t in tasks}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                done(f.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run_dask(tasks: Sequence[Task], done: Done, jobs: int, scheduler: str | None = None,
             client: Any = None, fn: Fn = run_task) -> None:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ConfigError(None, "--executor", "dask needs dask.distributed: pip install 'ipsecsim[sweep]'") from None
    own: list[Any] = []
    if client is None:
        if scheduler:
            try:
                client = Client(scheduler, timeout="10s")
            except (OSError, TimeoutError) as e:
                raise ConfigError(None, "--scheduler", f"cannot reach the dask scheduler {scheduler}: {e}") from None
        else:
            cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            client = Client(cluster)
            own.append(cluster)
        own.insert(0, client)
    try:
        futures = client.map(fn, list(tasks), pure=False)
        for fut in as_completed(futures):
            done(fut.result())
    finally:
        for thing in own:
            thing.close()


def run(tasks: Sequence[Any], done: Done, executor: str = "local", jobs: int | None = None,
        scheduler: str | None = None, client: Any = None, fn: Fn = run_task) -> None:
    jobs = jobs or default_jobs()
    if executor == "dask" or scheduler or client is not None:
        run_dask(tasks, done, jobs, scheduler, client, fn)
    elif executor == "local":
        run_local(tasks, done, jobs, fn)
    else:
        raise ConfigError(None, "--executor", f"{executor!r} is not an executor; allowed: local, dask")
