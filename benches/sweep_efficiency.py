"""Where a preset's sweep spends its time, and how busy the engine keeps the cores.

Run: .venv/bin/python benches/sweep_efficiency.py STUDY [--size quick] [--threads T]
         [--task-flops F] [--rep-steps N] [--out DIR]
     (STUDY: a registered study, e.g. huang2021; or a sweep spec ``*.toml``, then only its sweep
     runs.) ``--task-flops 2e9`` restores the fixed-threshold task rule of releases before the
     automatic sizing (see :func:`deeplinear.sweep.make_tasks`).

It runs ``reproduce STUDY`` in this process (into a temporary directory unless ``--out``) with
every engine entry point wrapped by a timer, then one representative engine call per group, and
prints:

(a) the wall time and its shares, each measured by wrapping (outermost call only), not guessed:
    the sweep's engine calls (:func:`deeplinear.train` inside the sweep runner); every other
    call into the compiled core (``deeplinear._core``: the tables a study computes besides its
    sweep, Fisher and kernel diagnostics, initialisers), by function; matplotlib (every public
    function of :mod:`deeplinear.plots`); the study's tables and analysis as a whole.
(b) useful work: each network's flops over the steps it actually ran (``TrainState.step`` of
    its call, through the sweep's own flop formula :meth:`RunConfig.flops` with ``steps`` set to
    the steps run), and the effective rate = useful flops / the sweep's engine wall time, beside
    the *representative rate*: per group, one :func:`deeplinear.sweep.run_task` call on
    ``NETWORKS_PER_THREAD × T`` of its runs (or the whole group) with early stopping switched
    off (no ``tol``, no ``target_accuracy``) and every network at the group's smallest learning
    rate, so every network runs every step, timed in the same process right after the sweep;
    its step count is the group's, cut to keep the call under 1e11 flops but at least 40 steps
    (``--rep-steps N`` sets it): a call's fixed costs, such as the full-set losses before and
    after its steps (which :meth:`RunConfig.flops` does not count), then weigh about as much as
    in the sweep's calls, whose networks run tens of steps. The overall representative
    rate weighs each group's rate by its useful flops (the time the useful work would take at
    the representative rates).
(c) thread efficiency, T the engine threads of each task, W the sweep's engine wall time:

    * ``useful CPU / (T × W)``: useful CPU = Σ over networks of (steps run × CPU seconds per
      network·step of its group's representative call, whose networks all run every step).
      1.0 means every thread ran useful steps all the time. Machine load inflates W (threads
      wait for a core) and so lowers it.
    * busy fraction: the process's CPU time inside the sweep's engine calls / (T × W), and the
      same for the representative calls; their ratio (sweep / representative) cancels most of
      the load, as both are measured under it. An idle engine thread sleeps and uses no CPU.
    * model: Σ useful flops / (T × Σ makespan), the makespan of each call from scheduling its
      networks' useful flops greedily onto T threads (each free thread takes the next network,
      as the engine's work stealing does); free of load and noise. It is given for the cut the
      sweep used and for the other rule (automatic vs ``--task-flops 2e9``) on the same steps.

The machine's load distorts every wall-time figure; rerun on a quiet machine for numbers to
publish, and prefer the busy-fraction ratio and the model under load.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import heapq
import math
import statistics
import sys
import tempfile
import time
import types
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

import deeplinear.cli  # noqa: F401  (registers every study)
from deeplinear import _core, plots
from deeplinear.experiments import STUDIES, reproduction
from deeplinear.sweep import SweepSpec, grid, load_spec, run_sweep, runner
from deeplinear.sweep.executors import available_cores
from deeplinear.sweep.grid import (
    NETWORKS_PER_THREAD,
    RunConfig,
    Task,
    group_runs,
    make_tasks,
)

#: The fixed threshold of releases before the automatic sizing (the "other rule" of the model).
OLD_TASK_FLOPS = 2e9
#: Without ``--rep-steps``, a representative call runs at most this many flops (about 10 s) ...
REPRESENTATIVE_FLOPS = 1e11
#: ... unless that leaves fewer steps than this (or the group's own steps, when fewer).
REPRESENTATIVE_MIN_STEPS = 40


@dataclasses.dataclass
class Account:
    """Time inside the calls of one category."""

    wall: float = 0.0
    cpu: float = 0.0
    calls: int = 0


@dataclasses.dataclass
class EngineCall:
    """One engine call of a task: its runs in batch order, the steps each ran, its times."""

    runs: list[RunConfig]
    steps: np.ndarray
    wall: float
    cpu: float

    def useful(self) -> list[float]:
        return [useful_flops(r, s) for r, s in zip(self.runs, self.steps, strict=True)]


def useful_flops(run: RunConfig, steps: int) -> float:
    """The sweep's flop formula for ``run`` cut at the ``steps`` it actually ran."""
    return dataclasses.replace(run, steps=int(steps)).flops() if steps > 0 else 0.0


class Profile:
    """Timers on the engine, the plots, the study's tables and analysis, and the sweep runner.

    Core functions are timed under ``engine:<phase>:<name>``, phase "sweep" inside a sweep
    task's engine call, "representative" inside a representative call, else "other".
    """

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = defaultdict(Account)
        self.depth: dict[str, int] = defaultdict(int)
        self.calls: dict[str, list[EngineCall]] = {"sweep": [], "representative": []}
        self.task_phase = "sweep"  # what the runner's tasks are now
        self.phase = "other"
        self.last_call: tuple[np.ndarray, float, float] | None = None
        for fn in vars(_core).values():
            if isinstance(fn, types.BuiltinFunctionType):
                self.patch(fn, functools.partial(self.engine_category, fn.__name__))
        for name in plots.__all__:
            self.patch(getattr(plots, name), "plots")
        reproduction.measure = self.timed("tables", reproduction.measure)  # type: ignore[assignment]
        runner.train = self.traced_train(runner.train)  # type: ignore[assignment]
        runner.run_task_with_weights = self.traced_task(runner.run_task_with_weights)  # type: ignore[assignment]

    def engine_category(self, name: str) -> str:
        return f"engine:{self.phase}:{name}"

    def timed(
        self, category: str | Callable[[], str], fn: Callable[..., Any]
    ) -> Callable[..., Any]:
        """``fn`` timed under ``category`` (a name, or a function giving it at each call); a
        call inside another of its category counts once."""

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            name = category() if callable(category) else category
            if self.depth[name]:
                return fn(*args, **kwargs)
            self.depth[name] += 1
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                account = self.accounts[name]
                account.wall += time.perf_counter() - wall
                account.cpu += time.process_time() - cpu
                account.calls += 1
                self.depth[name] -= 1

        return wrapper

    def patch(self, fn: Callable[..., Any], category: str | Callable[[], str]) -> None:
        """Time ``fn`` wherever a deeplinear module binds it (its own module included, so
        later imports get the timed one too)."""
        wrapper = self.timed(category, fn)
        for module in list(sys.modules.values()):
            if isinstance(module, types.ModuleType) and module.__name__.startswith("deeplinear"):
                for name, value in list(vars(module).items()):
                    if value is fn:
                        setattr(module, name, wrapper)

    def traced_train(self, train: Callable[..., Any]) -> Callable[..., Any]:
        """The runner's dl.train: keeps the steps each network ran, and the call's times."""

        @functools.wraps(train)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.phase = self.task_phase
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                result = train(*args, **kwargs)
            finally:
                self.phase = "other"
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            self.last_call = (np.asarray(result.state.step), wall, cpu)
            return result

        return wrapper

    def traced_task(self, run_task: Callable[..., Any]) -> Callable[..., Any]:
        """The runner's task: pairs its rows (in batch order) with its engine call."""

        @functools.wraps(run_task)
        def wrapper(task: Task, threads: int | None = None) -> Any:
            self.last_call = None
            table, weights = run_task(task, threads)
            assert self.last_call is not None, "a task made no engine call"
            by_key = {r.key: r for r in task.runs}
            runs = [by_key[key] for key in table.column("key").to_pylist()]
            self.calls[self.task_phase].append(EngineCall(runs, *self.last_call))
            return table, weights

        return wrapper

    def engine(self, phase: str) -> dict[str, Account]:
        """The core functions' accounts in ``phase``, by function name."""
        prefix = f"engine:{phase}:"
        return {
            name.removeprefix(prefix): account
            for name, account in self.accounts.items()
            if name.startswith(prefix)
        }


def makespan(costs: list[float], threads: int) -> float:
    """Greedy list scheduling: each free thread takes the next network."""
    free = [0.0] * threads
    for cost in costs:
        heapq.heappush(free, heapq.heappop(free) + cost)
    return max(free)


def model_efficiency(batches: list[list[float]], threads: int) -> float:
    """Σ work / (threads × Σ makespan) over the batches (one per engine call)."""
    spans = sum(makespan(b, threads) for b in batches)
    return sum(map(sum, batches)) / (threads * spans) if spans > 0 else math.nan


def representative_task(members: list[RunConfig], threads: int, steps: int | None) -> Task:
    """Up to NETWORKS_PER_THREAD × threads runs of a group, changed to run every step: the
    group's ``steps``, or ``steps`` if given, else as many as keep the call under
    :data:`REPRESENTATIVE_FLOPS`, but at least :data:`REPRESENTATIVE_MIN_STEPS`."""
    chosen = members[: NETWORKS_PER_THREAD * threads]
    first = chosen[0]
    if steps is None:
        per_step = dataclasses.replace(first, steps=1, record="").flops() * len(chosen)
        steps = max(REPRESENTATIVE_MIN_STEPS, int(REPRESENTATIVE_FLOPS // per_step))
    changes = {
        "lr": min(r.lr for r in members),
        "tol": None,
        "target_accuracy": None,
        "steps": min(steps, first.steps),
    }
    return Task(tuple(dataclasses.replace(r, **changes) for r in chosen))


def with_task_flops(spec: SweepSpec, task_flops: float | None) -> SweepSpec:
    execution = dataclasses.replace(spec.execution, task_flops=task_flops)
    return dataclasses.replace(spec, execution=execution)


def run_target(args: argparse.Namespace, out: Path, threads: int, profile: Profile) -> SweepSpec:
    """Run the study (or the spec's sweep) into ``out`` with ``args.task_flops``."""
    if args.study.endswith(".toml"):
        spec = with_task_flops(load_spec(args.study), args.task_flops)
        run_sweep(spec, out, threads=threads, progress=False)
        return spec
    study = STUDIES[args.study]
    spec = with_task_flops(study.spec(args.size, None), args.task_flops)
    STUDIES[args.study] = dataclasses.replace(
        study,
        spec=lambda size, data: spec,
        analyse=profile.timed("analysis", study.analyse),
    )
    try:
        reproduction.reproduce(args.study, out, size=args.size, threads=threads, progress=False)
    finally:
        STUDIES[args.study] = study
    return spec


def print_shares(profile: Profile, wall: float) -> None:
    """(a): the wall time and its measured shares."""
    sweep = profile.calls["sweep"]
    rows = [
        ("whole run (sweep, tables, analysis, report)", wall),
        (f"sweep engine calls ({len(sweep)} dl.train)", sum(c.wall for c in sweep)),
        (
            "other core calls (tables, diagnostics, ...)",
            sum(a.wall for a in profile.engine("other").values()),
        ),
    ]
    labels = {
        "tables": "tables (measurements, their engine included)",
        "analysis": "analysis (its plots included)",
        "plots": "matplotlib (deeplinear.plots)",
    }
    rows += [
        (text, profile.accounts[name].wall)
        for name, text in labels.items()
        if name in profile.accounts
    ]
    print("(a) wall time and its shares (machine load distorts every wall time)")
    for label, seconds in rows:
        print(f"  {label:<46} {seconds:8.2f} s  {100 * seconds / wall:5.1f} %")
    print("  core functions, by phase (wall s, calls; Fisher and other records inside dl.train")
    print("  are not separable from the step):")
    for phase in ("sweep", "other", "representative"):
        for name, account in sorted(profile.engine(phase).items(), key=lambda kv: -kv[1].wall):
            if account.wall >= 0.002 * wall:
                print(f"    {phase:<15} {name:<30} {account.wall:8.2f} s  {account.calls:6d}")


def print_rates(
    profile: Profile, representative: dict[tuple[Any, ...], EngineCall]
) -> dict[tuple[Any, ...], float]:
    """(b): useful flops, the effective and representative rates (``representative``: the call
    of each group); returns the representative CPU seconds per network·step of each group."""
    sweep = profile.calls["sweep"]
    useful: dict[tuple[Any, ...], float] = defaultdict(float)
    for call in sweep:
        for run, flops in zip(call.runs, call.useful(), strict=True):
            useful[run.group()] += flops
    steps = np.concatenate([c.steps for c in sweep])
    full = [r.steps for c in sweep for r in c.runs]
    engine_wall = sum(c.wall for c in sweep)
    print("(b) useful work and rates")
    print(
        f"  {sum(useful.values()):.4g} useful flops over {len(steps)} networks (steps run: "
        f"median {np.median(steps):g}, mean {np.mean(steps):.3g} of {statistics.median(full):g})"
    )
    rate: dict[tuple[Any, ...], float] = {}
    cpu_per_step: dict[tuple[Any, ...], float] = {}
    for group, call in representative.items():
        first = call.runs[0]
        flops = sum(call.useful())
        rate[group] = flops / call.wall
        cpu_per_step[group] = call.cpu / max(1, int(call.steps.sum()))
        short = int(np.sum(call.steps < first.steps))
        print(
            f"  representative call, depth {first.depth} width {first.width}: {len(call.runs)} "
            f"networks × {first.steps} steps in {call.wall:.2f} s = {flops / call.wall / 1e9:.3g} "
            f"GFLOP/s" + (f" ({short} networks stopped early)" if short else "")
        )
    at_representative = sum(u / rate[g] for g, u in useful.items())
    total = sum(useful.values())
    print(
        f"  effective {total / engine_wall / 1e9:.3g} GFLOP/s (useful flops / sweep engine wall), "
        f"representative {total / at_representative / 1e9:.3g} GFLOP/s: ratio "
        f"{at_representative / engine_wall:.3f} (target ≥ 0.80)"
    )
    return cpu_per_step


def print_threads(
    profile: Profile,
    spec: SweepSpec,
    threads: int,
    task_flops: float | None,
    cpu_per_step: dict[tuple[Any, ...], float],
) -> None:
    """(c): the thread efficiencies of the docstring."""
    sweep, representative = profile.calls["sweep"], profile.calls["representative"]
    engine_wall = sum(c.wall for c in sweep)
    useful_cpu = sum(
        int(s) * cpu_per_step[r.group()]
        for c in sweep
        for r, s in zip(c.runs, c.steps, strict=True)
    )
    busy = sum(c.cpu for c in sweep) / (threads * engine_wall)
    busy_rep = sum(c.cpu for c in representative) / (threads * sum(c.wall for c in representative))
    cost = {r.key: f for c in sweep for r, f in zip(c.runs, c.useful(), strict=True)}
    used = model_efficiency([[cost[r.key] for r in c.runs] for c in sweep], threads)
    other_flops = OLD_TASK_FLOPS if task_flops is None else None
    other, calls = recut_model(spec, cost, threads, other_flops)
    other_rule = "automatic sizing" if other_flops is None else f"task_flops = {other_flops:g}"
    by_k = []
    for k in (1, 2, 4, 8, 16):
        with mock.patch.object(grid, "NETWORKS_PER_THREAD", k):
            by_k.append(f"{k}: {recut_model(spec, cost, threads, None)[0]:.3f}")
    print(f"(c) thread efficiency, T = {threads}")
    print(f"  useful CPU / (T × sweep engine wall): {useful_cpu / (threads * engine_wall):.3f}")
    print(
        f"  busy fraction: sweep {busy:.3f}, representative {busy_rep:.3f}, "
        f"ratio {busy / busy_rep:.3f} (target ≥ 0.90); sweep engine CPU "
        f"{sum(c.cpu for c in sweep):.1f} s, useful CPU {useful_cpu:.1f} s"
    )
    print(
        f"  model (steps run, greedy scheduling): this cut {used:.3f} ({len(sweep)} calls), "
        f"{other_rule} {other:.3f} ({calls} calls)"
    )
    print(f"  model, automatic sizing by networks per thread: {', '.join(by_k)}")


def recut_model(
    spec: SweepSpec, cost: dict[str, float], threads: int, task_flops: float | None
) -> tuple[float, int]:
    """The model efficiency of cutting the sweep's runs with ``task_flops``, and its calls."""
    options = dataclasses.replace(spec.execution, task_flops=task_flops)
    tasks = make_tasks(spec.runs(), options, threads=threads)
    return model_efficiency([[cost[r.key] for r in t.runs] for t in tasks], threads), len(tasks)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("study", help="a registered study, or a sweep spec .toml")
    parser.add_argument("--size", default="quick", choices=("quick", "standard", "full"))
    parser.add_argument("--threads", type=int, default=None, help="default: every core")
    parser.add_argument("--task-flops", type=float, default=None, help="default: automatic")
    parser.add_argument("--rep-steps", type=int, default=None, help="cap representative steps")
    parser.add_argument("--out", type=Path, default=None, help="default: a temporary directory")
    args = parser.parse_args()
    threads = args.threads or available_cores()
    profile = Profile()
    with tempfile.TemporaryDirectory(prefix="sweep-efficiency-") as scratch:
        start = time.perf_counter()
        spec = run_target(args, args.out or Path(scratch) / "out", threads, profile)
        wall = time.perf_counter() - start
        profile.task_phase = "representative"
        representative = {}
        for group, members in group_runs(spec.runs()).items():
            runner.run_task(representative_task(members, threads, args.rep_steps), threads)
            representative[group] = profile.calls["representative"][-1]
    rule = "automatic sizing" if args.task_flops is None else f"task_flops = {args.task_flops:g}"
    print(f"{spec.name}: {threads} engine threads a task, tasks by {rule}")
    print_shares(profile, wall)
    cpu_per_step = print_rates(profile, representative)
    print_threads(profile, spec, threads, args.task_flops, cpu_per_step)


if __name__ == "__main__":
    main()
