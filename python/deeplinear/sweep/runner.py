"""Running a sweep: expand, skip finished keys, submit tasks, store each as it completes.

:func:`run_task` is the unit of work (one batched :func:`deeplinear.train` call, returning an
Arrow table); it is a module-level function so process pools and Dask can pickle it. Parts are
written by the calling process as tasks complete, so workers need no shared file system and the
store has a single writer.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import datetime
import math
import sys
import time
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._core import __version__
from ..errors import ArgumentTypeError, InvalidValueError
from ..train import train
from . import store
from .executors import (
    ExecutorPlan,
    available_cores,
    check_counts,
    default_task_threads,
    resolve_executor,
)
from .grid import FIELDS, RECORDABLE, SweepSpec, Task, group_runs, make_tasks
from .recipes import (
    learning_rate,
    make_data,
    make_eval_data,
    make_probe,
    make_weights,
    per_network_options,
    shuffle_seeds,
    train_options,
)

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["SweepPlan", "SweepSummary", "estimate_seconds", "plan_sweep", "run_sweep", "run_task"]


@dataclass(frozen=True)
class TrainedWeights:
    """A task's final weights, in the order of its rows (see :func:`store.write_weights`)."""

    keys: list[str]
    weights: list[np.ndarray]
    biases: list[np.ndarray | None] | None


def run_task(task: Task, threads: int | None = None) -> pa.Table:
    """Train every run of ``task`` in one batched engine call; return its rows (see
    :func:`deeplinear.sweep.store.schema`).

    Each network gets the weights its own seed gives in a ``batch=1`` call, and the engine trains
    each network on one thread, so the rows equal direct :func:`deeplinear.train` calls bit for
    bit, whatever the batching and ``threads``.
    """
    return run_task_with_weights(task, threads)[0]


def run_task_with_weights(
    task: Task, threads: int | None = None
) -> tuple[pa.Table, TrainedWeights]:
    """:func:`run_task`, and the trained weights of its rows (for ``store_weights``)."""
    import pyarrow as pa

    threads = default_task_threads() if threads is None else threads
    start = time.perf_counter()
    first = task.runs[0]
    X, Y = make_data(first)
    initial = make_weights(task.runs, threads)
    runs = [task.runs[i] for i in initial.order]
    lrs = np.array([learning_rate(r) for r in runs], dtype=np.float64)
    options = train_options(first)
    result = train(
        initial.weights,
        X,
        Y,
        threads=threads,
        biases=initial.biases,
        data_seed=shuffle_seeds(runs),
        eval_data=make_eval_data(first),
        record_data=make_probe(first),
        **per_network_options(runs, lrs),
        **options,
    )
    wall = time.perf_counter() - start
    first_loss = result.loss[:, 0]
    final = np.asarray(result.final_loss, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rel = final / first_loss
        log_rel = np.where(result.diverged, np.inf, np.log10(rel))
    columns: dict[str, Any] = {"key": [r.key for r in runs]}
    for f in FIELDS:
        columns[f.name] = [getattr(r, f.name) for r in runs]
    count = len(runs)
    columns.update(
        lr_value=lrs,
        alpha_value=np.full(count, options["alpha"]),
        initial_loss=first_loss,
        final_loss=final,
        rel_loss=rel,
        log10_rel_loss=log_rel,
        steps_to_tol=np.asarray(result.steps_to_tol, dtype=np.int64),
        steps_to_accuracy=np.asarray(
            result.steps_to_accuracy
            if result.steps_to_accuracy is not None
            else np.full(count, -1),
            dtype=np.int64,
        ),
        diverged=np.asarray(result.diverged, dtype=bool),
        wall_time_s=np.full(count, wall / count),
        loss_curve=list(result.loss),
        **{
            f"{name}_curve": list(result.records[name])
            if name in result.records
            else [None] * count
            for name in RECORDABLE
        },
        task_id=[task.task_id] * count,
        threads=np.full(count, threads, dtype=np.int64),
        deeplinear_version=[__version__] * count,
    )
    table = pa.Table.from_pydict(columns, schema=store.schema())
    return table, TrainedWeights(columns["key"], result.weights, result.biases)


def _task_outputs(
    task: Task, threads: int | None, store_weights: bool
) -> tuple[pa.Table, TrainedWeights | None]:
    """What a worker sends back: the rows, and the weights only when they are to be stored."""
    table, weights = run_task_with_weights(task, threads)
    return table, weights if store_weights else None


@dataclass
class SweepSummary:
    """What a sweep did. :meth:`line` is the summary printed at the end.

    Attributes:
        total: runs in the grid.
        skipped: runs already in the store (``resume``).
        completed: runs computed and stored now.
        failures: runs whose task raised (not stored; a later ``resume`` retries them).
        diverged: runs computed now whose loss became non-finite.
        wall_s: wall time of the whole sweep.
        network_steps: Σ steps over the runs computed now.
        tasks: tasks run now.
        errors: one message per failed task.
        where: the executor used.
        failures_file: ``DIR/failures.jsonl``, the failed tasks with their tracebacks (None
            when no task failed).
    """

    total: int
    skipped: int = 0
    completed: int = 0
    failures: int = 0
    diverged: int = 0
    wall_s: float = 0.0
    network_steps: int = 0
    tasks: int = 0
    errors: list[str] = field(default_factory=list)
    where: str = ""
    failures_file: Path | None = None

    @property
    def throughput(self) -> float:
        """Network·steps per second of wall time (0 when nothing ran)."""
        return self.network_steps / self.wall_s if self.wall_s > 0 else 0.0

    def line(self) -> str:
        text = (
            f"runs {self.completed} done + {self.skipped} already stored / {self.total}, "
            f"failures {self.failures}, diverged {self.diverged}, tasks {self.tasks}, "
            f"wall {self.wall_s:.1f} s, {self.throughput:.3g} network·steps/s ({self.where})"
        )
        if self.failures_file is not None:
            text += f"; failed tasks and their tracebacks: {self.failures_file}"
        return text


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep would do, without doing it (``deeplinear run --dry-run``).

    Attributes:
        total: runs in the grid.
        stored: runs already in the store (skipped with ``resume``).
        pending: runs left to compute.
        groups: groups of pending runs (runs that can share a batched engine call).
        tasks: batched engine calls (one per task, each stored as one part file).
        flops: estimated floating-point operations of the pending runs.
        seconds: rough wall time of the pending runs on this machine (see
            :func:`estimate_seconds`).
        gflops: the engine rate the estimate assumes (GFLOP/s for the whole machine).
    """

    total: int
    stored: int
    pending: int
    groups: int
    tasks: int
    flops: float
    seconds: float
    gflops: float

    def line(self) -> str:
        return (
            f"runs {self.total} ({self.stored} already stored, {self.pending} to compute) in "
            f"{self.groups} groups, {self.tasks} batched engine calls, "
            f"{self.flops / 1e9:.3g} GFLOP, estimated {_duration(self.seconds)} at "
            f"{self.gflops:g} GFLOP/s (rough: the engine's rate depends on the shapes)"
        )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def plan_sweep(
    spec: SweepSpec | Mapping[str, Any],
    out: str | Path | None = None,
    *,
    threads: int | None = None,
    gflops: float | None = None,
) -> SweepPlan:
    """Plan a sweep without running it: run count, batched calls and a time estimate.

    Args:
        spec: a :class:`SweepSpec` or a spec dict (validated as :func:`run_sweep` does).
        out: the store directory, if any: runs already stored there are counted as skipped
            (as ``resume`` would). Nothing is written.
        threads: engine threads per task (default: every core), which sets the smallest task.
        gflops: the engine rate to assume, in GFLOP/s for the whole machine (default: 5 per
            available core).

    Example:
        >>> from deeplinear.sweep import plan_sweep
        >>> spec = {"axes": {"depth": [2, 4], "seed": [0, 1]},
        ...         "fixed": {"d_x": 8, "n": 8, "d_y": 2, "width": 16, "init": "gaussian",
        ...                   "steps": 100, "lr": 0.01}}
        >>> plan = plan_sweep(spec)
        >>> plan.total, plan.pending
        (4, 4)
    """
    if not isinstance(spec, SweepSpec):
        spec = SweepSpec.from_dict(spec)
    threads, _ = check_counts(threads, None)
    runs = spec.runs()
    done = store.finished_keys(out) if out is not None and Path(out).is_dir() else set()
    pending = [r for r in runs if r.key not in done]
    tasks = make_tasks(pending, spec.execution, threads=threads or available_cores())
    rate = gflops if gflops is not None else 5.0 * available_cores()
    flops = math.fsum(r.flops() for r in pending)
    return SweepPlan(
        total=len(runs),
        stored=len(runs) - len(pending),
        pending=len(pending),
        groups=len(group_runs(pending)),
        tasks=len(tasks),
        flops=flops,
        seconds=flops / (rate * 1e9),
        gflops=rate,
    )


def run_sweep(
    spec: SweepSpec | Mapping[str, Any],
    out: str | Path,
    *,
    executor: Any = None,
    resume: bool = False,
    threads: int | None = None,
    workers: int | None = None,
    progress: bool = True,
    store_weights: bool | None = None,
) -> SweepSummary:
    """Run a sweep into the store directory ``out`` and return a :class:`SweepSummary`.

    Args:
        spec: a :class:`SweepSpec` or a spec dict (validated before any work starts).
        out: store directory (created if missing). Without ``resume`` it must hold no results.
        executor: None (in-process), a ``concurrent.futures.Executor``, a ``distributed.Client``
            or a Dask scheduler address (``"tcp://host:8786"``).
        resume: skip runs already stored in ``out`` (and remove temporary files of a killed run).
        threads: engine threads per task (see :mod:`deeplinear.sweep.executors`).
        workers: run tasks in N local worker processes instead of in-process.
        progress: show a tqdm progress bar (on stderr) over runs, with an ETA.
        store_weights: also keep every run's final weights (and biases), one ``.npy`` per part
            in ``out/weights/``; read them with :func:`deeplinear.sweep.load_weights`
            (memory-mapped). They take d_{j+1}·d_j numbers per layer per run. None: the
            spec's ``[execution] store_weights`` (default false).

    Failed tasks do not stop the sweep: they are counted in ``failures`` and left out of the
    store, so a later ``resume`` retries them.

    Only one process writes a store at a time: another sweep on ``out`` raises
    :class:`~deeplinear.sweep.store.StoreLockedError`. A part that cannot be written (disk full,
    permission) raises :class:`~deeplinear.sweep.store.StoreWriteError` naming the directory;
    Ctrl-C stops the sweep at once (KeyboardInterrupt). Either way every finished run is kept
    and ``resume`` continues the sweep.
    """
    if not isinstance(spec, SweepSpec):
        spec = SweepSpec.from_dict(spec)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InvalidValueError(f"out: {out} exists and is not a directory")
    check_counts(threads, workers)
    if store_weights is None:
        store_weights = spec.execution.store_weights
    if not isinstance(store_weights, bool):
        raise ArgumentTypeError(f"store_weights: expected True or False, got {store_weights!r}")
    with store.writer_lock(out):
        return _run_locked(spec, out, executor, resume, threads, workers, progress, store_weights)


def _run_locked(
    spec: SweepSpec,
    out: Path,
    executor: Any,
    resume: bool,
    threads: int | None,
    workers: int | None,
    progress: bool,
    store_weights: bool,
) -> SweepSummary:
    """:func:`run_sweep` once it holds the store's writer lock."""
    start = time.perf_counter()
    runs = spec.runs()
    done = store.finished_keys(out)
    if done and not resume:
        raise InvalidValueError(
            f"out: {out} already holds {len(done)} finished runs; pass resume=True (--resume) to "
            "continue that sweep, or choose an empty directory"
        )
    if resume:
        store.remove_stale_temporaries(out)
    plan = resolve_executor(executor, threads=threads, workers=workers)
    out.mkdir(parents=True, exist_ok=True)
    store.write_json(out / store.SPEC_FILE, spec.to_dict())
    store.reset_failures(out)
    pending = [r for r in runs if r.key not in done]
    tasks = make_tasks(pending, spec.execution, threads=plan.threads or 1)
    summary = SweepSummary(
        total=len(runs), skipped=len(runs) - len(pending), where=plan.description
    )
    try:
        _drive(tasks, plan, out, summary, progress, store_weights)
    except BaseException:
        plan.abort()  # Ctrl-C or a failed write: stop workers now, don't wait for their tasks
        raise
    finally:
        plan.close()
        summary.wall_s = time.perf_counter() - start
    return summary


def _drive(
    tasks: list[Task],
    plan: ExecutorPlan,
    out: Path,
    summary: SweepSummary,
    progress: bool,
    store_weights: bool,
) -> None:
    """Keep up to ``plan.max_in_flight`` tasks submitted; store each as it completes (its
    weights first, when kept, so that a stored part always has them)."""
    from tqdm.auto import tqdm

    queue = list(reversed(tasks))
    in_flight: dict[cf.Future[Any], Task] = {}
    total_runs = sum(len(t.runs) for t in tasks)
    with (
        _cancel_on_exit(in_flight),
        tqdm(
            total=total_runs, unit="run", disable=not progress, file=sys.stderr, smoothing=0.1
        ) as bar,
    ):
        while queue or in_flight:
            while queue and len(in_flight) < plan.max_in_flight:
                task = queue.pop()
                future = plan.executor.submit(_task_outputs, task, plan.threads, store_weights)
                in_flight[future] = task
            finished, _ = cf.wait(list(in_flight), return_when=cf.FIRST_COMPLETED)
            for future in finished:
                task = in_flight.pop(future)
                summary.tasks += 1
                error = future.exception()
                if error is not None:
                    summary.failures += len(task.runs)
                    summary.errors.append(f"task {task.task_id}: {type(error).__name__}: {error}")
                    summary.failures_file = store.record_failure(out, _failure(task, error))
                else:
                    table, weights = future.result()
                    if weights is not None:
                        store.write_weights(
                            out, task.task_id, weights.keys, weights.weights, weights.biases
                        )
                    store.write_part(out, table, task.task_id)
                    summary.completed += len(task.runs)
                    summary.network_steps += task.network_steps()
                    summary.diverged += int(sum(table.column("diverged").to_pylist()))
                bar.update(len(task.runs))
                bar.set_postfix(diverged=summary.diverged, failed=summary.failures, refresh=False)


def _failure(task: Task, error: BaseException) -> dict[str, Any]:
    """The record of a failed task in ``DIR/failures.jsonl``: which runs, what was raised, and
    the traceback (a worker process's own traceback included, as its exception's cause)."""
    return {
        "task_id": task.task_id,
        "time": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "runs": len(task.runs),
        "keys": [r.key for r in task.runs],
        "first_run": task.runs[0].as_dict(),
        "error": type(error).__name__,
        "message": str(error),
        "traceback": "".join(traceback.format_exception(error)),
        "deeplinear_version": __version__,
    }


@contextlib.contextmanager
def _cancel_on_exit(in_flight: dict[cf.Future[Any], Task]) -> Iterator[None]:
    """Cancel the tasks still in flight when the block is left by an exception (Ctrl-C, a failed
    write), so that no executor keeps computing runs nobody will store."""
    try:
        yield
    except BaseException:
        for future in in_flight:
            future.cancel()
        raise


def estimate_seconds(spec: SweepSpec, gflops: float = 20.0) -> float:
    """Rough single-machine time of a sweep at ``gflops`` GFLOP/s (for planning only; see
    :func:`plan_sweep`, which also skips stored runs)."""
    return math.fsum(r.flops() for r in spec.runs()) / (gflops * 1e9)
