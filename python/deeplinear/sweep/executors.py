"""Where tasks run: in-process (default), any ``concurrent.futures.Executor``, or Dask distributed.

Thread counts never oversubscribe. The engine's thread pool is sized per task:

* in-process: tasks run one at a time, each on every core this process may use;
* a process pool made here (``workers=N``): each of the N workers gets cores // N threads;
* Dask, or any other executor: a worker runs as many tasks at once as it has thread slots, so each
  task gets one core (its slot). Pass ``threads=`` to override, e.g. for Dask workers started
  with ``--nthreads 1`` on a many-core node.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._core import max_threads
from .._validation import integer, threads_argument
from ..errors import ArgumentTypeError, InvalidValueError

__all__ = [
    "ExecutorPlan",
    "InProcessExecutor",
    "available_cores",
    "check_counts",
    "default_task_threads",
    "resolve_executor",
]


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _in_dask_worker() -> bool:
    if "distributed" not in sys.modules:
        return False
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:
        return False
    return True


def default_task_threads() -> int:
    """Engine threads for a task that was given none: 1 inside a Dask worker (one per thread
    slot), otherwise every core of this process."""
    return 1 if _in_dask_worker() else available_cores()


class InProcessExecutor(cf.Executor):
    """Runs each submitted call at once in the calling thread; returns a finished future."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        future: cf.Future[Any] = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as err:
            future.set_exception(err)
        return future


@dataclass
class ExecutorPlan:
    """An executor with the settings the runner needs.

    Attributes:
        executor: where tasks are submitted.
        threads: engine threads per task (None: decided on the worker, see
            :func:`default_task_threads`).
        max_in_flight: how many tasks to keep submitted at once (bounds memory and keeps the
            progress bar honest).
        description: for the summary line.
        close: called when the sweep ends (shuts down what the plan created, nothing else).
        abort: called first when the sweep is interrupted (Ctrl-C): stops what the plan created
            without waiting for running tasks.
    """

    executor: cf.Executor
    threads: int | None
    max_in_flight: int
    description: str
    close: Callable[[], None] = field(default=lambda: None)
    abort: Callable[[], None] = field(default=lambda: None)


def check_counts(threads: Any, workers: Any) -> tuple[int | None, int | None]:
    """Validate ``threads`` (per task) and ``workers`` (local processes): each at most the
    engine's cap (4 per core available to this process, at least 64; see
    :func:`deeplinear._core.max_threads`), and so is the total, ``workers × threads``."""
    threads = threads_argument(threads)
    if workers is None:
        return threads, None
    cap = max_threads()
    workers = integer("workers", workers, minimum=1, maximum=None)
    if workers > cap:
        raise InvalidValueError(
            f"workers: must be at most {cap} (4 per core available to this process, at least "
            f"64), got {workers}"
        )
    if threads is not None and workers * threads > cap:
        raise InvalidValueError(
            f"threads: {workers} workers × {threads} threads = {workers * threads} engine "
            f"threads; at most {cap} may run on this machine (4 per core, at least 64)"
        )
    return threads, workers


def _terminate_pool(pool: cf.ProcessPoolExecutor) -> None:
    """Stop a process pool now: cancel queued tasks and kill the workers running tasks (their
    results are lost, and nothing of them was stored)."""
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14+
    if terminate is not None:
        terminate()
        return
    # Taken before shutdown, which drops the pool's table of processes.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()


def resolve_executor(
    executor: Any = None, *, threads: int | None = None, workers: int | None = None
) -> ExecutorPlan:
    """Turn the user's choice into an :class:`ExecutorPlan`.

    Args:
        executor: None (in-process), a ``concurrent.futures.Executor``, a
            ``distributed.Client``, or a Dask scheduler address such as ``"tcp://host:8786"``.
        threads: engine threads per task (default: see the module docstring).
        workers: with ``executor=None``, run N worker processes (a spawn-based process pool).
    """
    threads, workers = check_counts(threads, workers)
    if workers is not None:
        if executor is not None:
            raise InvalidValueError("workers: only for a local process pool; not with an executor")
        per_task = threads or max(1, available_cores() // workers)
        pool = cf.ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        )
        return ExecutorPlan(
            pool,
            per_task,
            2 * workers,
            f"{workers} processes × {per_task} threads",
            pool.shutdown,
            lambda: _terminate_pool(pool),
        )
    if executor is None:
        per_task = threads or available_cores()
        return ExecutorPlan(InProcessExecutor(), per_task, 1, f"in-process, {per_task} threads")
    if isinstance(executor, str):
        try:
            from distributed import Client
        except ImportError as err:
            raise InvalidValueError(
                "scheduler: Dask is not installed; pip install 'deeplinear[dask]'"
            ) from err
        client = Client(executor)  # type: ignore[no-untyped-call]
        plan = _dask_plan(client, threads)
        plan.close = client.close
        return plan
    if _is_dask_client(executor):
        return _dask_plan(executor, threads)
    if isinstance(executor, cf.Executor):
        slots = getattr(executor, "_max_workers", None)
        in_flight = 2 * slots if isinstance(slots, int) and slots > 0 else 2 * available_cores()
        return ExecutorPlan(executor, threads or 1, in_flight, type(executor).__name__)
    raise ArgumentTypeError(
        "executor: expected None, a concurrent.futures.Executor, a distributed.Client or a "
        f"scheduler address string, got {type(executor).__name__}"
    )


def _is_dask_client(obj: Any) -> bool:
    if "distributed" not in sys.modules:
        return False
    from distributed import Client

    return isinstance(obj, Client)


def _dask_plan(client: Any, threads: int | None) -> ExecutorPlan:
    slots = sum(client.nthreads().values()) or 1
    return ExecutorPlan(
        client.get_executor(),
        threads,
        2 * slots,
        f"Dask {client.scheduler.address} ({slots} worker threads)",
    )
