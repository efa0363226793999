"""Sweeps: run grids of thousands of trainings, keep every result safe, move to a cluster.

A sweep spec (dict or TOML; see :mod:`deeplinear.sweep.grid`) expands into runs with stable keys;
their ``init`` and ``data`` names come from :mod:`deeplinear.sweep.registry`;
runs of the same shape are trained together in batched engine calls, cut into tasks; each
finished task becomes one Parquet part file in the store directory.

Example:
    >>> import deeplinear as dl
    >>> spec = {
    ...     "axes": {"depth": [2, 8], "width": [16], "init": ["gaussian", "orthogonal"]},
    ...     "fixed": {"d_x": 8, "n": 4, "d_y": 2, "steps": 50, "lr": 0.5, "lr_rule": "hu2020",
    ...               "alpha_rule": "fanout"},
    ... }
    >>> summary = dl.sweep.run_sweep(spec, "results/example", progress=False)  # doctest: +SKIP
    >>> frame = dl.sweep.load("results/example")  # doctest: +SKIP
"""

from .executors import InProcessExecutor, resolve_executor
from .frames import log10_ratio_at, run_configs, steps_to_ratio
from .grid import ExecutionOptions, RunConfig, SweepSpec, Task, load_spec, make_tasks, run_key
from .labelled import to_xarray
from .runner import SweepPlan, SweepSummary, plan_sweep, run_sweep, run_task
from .store import finished_keys, load, load_weights, read_failures, read_spec

__all__ = [
    "ExecutionOptions",
    "InProcessExecutor",
    "RunConfig",
    "SweepPlan",
    "SweepSpec",
    "SweepSummary",
    "Task",
    "finished_keys",
    "load",
    "load_spec",
    "load_weights",
    "log10_ratio_at",
    "make_tasks",
    "plan_sweep",
    "read_failures",
    "read_spec",
    "resolve_executor",
    "run_configs",
    "run_key",
    "run_sweep",
    "run_task",
    "steps_to_ratio",
    "to_xarray",
]
