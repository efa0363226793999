"""Running a sweep: expand, skip finished keys, submit tasks, store each as it completes.

:func:`run_task` is the unit of work (one batched :func:`deeplinear.train` call, returning an
Arrow table); it is a module-level function so process pools and Dask can pickle it. Parts are
written by the calling process as tasks complete, so workers need no shared file system and the
store has a single writer.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import math
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._core import __version__
from ..errors import InvalidValueError
from ..train import train
from . import store
from .executors import check_counts, default_task_threads, resolve_executor
from .grid import FIELDS, RECORDABLE, SweepSpec, Task, make_tasks
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

__all__ = ["SweepSummary", "run_sweep", "run_task"]


def run_task(task: Task, threads: int | None = None) -> pa.Table:
    """Train every run of ``task`` in one batched engine call; return its rows (see
    :func:`deeplinear.sweep.store.schema`).

    Each network gets the weights its own seed gives in a ``batch=1`` call, and the engine trains
    each network on one thread, so the rows equal direct :func:`deeplinear.train` calls bit for
    bit, whatever the batching and ``threads``.
    """
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
    return pa.Table.from_pydict(columns, schema=store.schema())


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

    @property
    def throughput(self) -> float:
        """Network·steps per second of wall time (0 when nothing ran)."""
        return self.network_steps / self.wall_s if self.wall_s > 0 else 0.0

    def line(self) -> str:
        return (
            f"runs {self.completed} done + {self.skipped} already stored / {self.total}, "
            f"failures {self.failures}, diverged {self.diverged}, tasks {self.tasks}, "
            f"wall {self.wall_s:.1f} s, {self.throughput:.3g} network·steps/s ({self.where})"
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
    with store.writer_lock(out):
        return _run_locked(spec, out, executor, resume, threads, workers, progress)


def _run_locked(
    spec: SweepSpec,
    out: Path,
    executor: Any,
    resume: bool,
    threads: int | None,
    workers: int | None,
    progress: bool,
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
    pending = [r for r in runs if r.key not in done]
    tasks = make_tasks(pending, spec.execution, min_networks=plan.threads or 1)
    summary = SweepSummary(
        total=len(runs), skipped=len(runs) - len(pending), where=plan.description
    )
    try:
        _drive(tasks, plan.executor, plan.threads, plan.max_in_flight, out, summary, progress)
    except BaseException:
        plan.abort()  # Ctrl-C or a failed write: stop workers now, don't wait for their tasks
        raise
    finally:
        plan.close()
        summary.wall_s = time.perf_counter() - start
    return summary


def _drive(
    tasks: list[Task],
    executor: cf.Executor,
    threads: int | None,
    max_in_flight: int,
    out: Path,
    summary: SweepSummary,
    progress: bool,
) -> None:
    """Keep up to ``max_in_flight`` tasks submitted; store each as it completes."""
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
            while queue and len(in_flight) < max_in_flight:
                task = queue.pop()
                in_flight[executor.submit(run_task, task, threads)] = task
            finished, _ = cf.wait(list(in_flight), return_when=cf.FIRST_COMPLETED)
            for future in finished:
                task = in_flight.pop(future)
                summary.tasks += 1
                error = future.exception()
                if error is not None:
                    summary.failures += len(task.runs)
                    summary.errors.append(f"task {task.task_id}: {type(error).__name__}: {error}")
                else:
                    table = future.result()
                    store.write_part(out, table, task.task_id)
                    summary.completed += len(task.runs)
                    summary.network_steps += task.network_steps()
                    summary.diverged += int(sum(table.column("diverged").to_pylist()))
                bar.update(len(task.runs))
                bar.set_postfix(diverged=summary.diverged, failed=summary.failures, refresh=False)


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
    """Rough single-machine time of a sweep at ``gflops`` GFLOP/s (for planning only)."""
    return math.fsum(r.flops() for r in spec.runs()) / (gflops * 1e9)
