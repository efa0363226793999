"""Task sizing: a group's runs are cut into tasks that keep every engine thread busy (at least
NETWORKS_PER_THREAD networks per thread when the group has them), never exceed max_networks,
partition the group exactly, and store the same results however they are cut."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deeplinear.sweep import ExecutionOptions, SweepSpec, load, make_tasks, run_sweep
from deeplinear.sweep.grid import NETWORKS_PER_THREAD, TASK_FLOPS_PER_THREAD, RunConfig
from sweep_helpers import assert_same_results, small_spec

BASE = SweepSpec.from_dict(small_spec()).runs()[0]


def group(count: int, steps: int = 60) -> list[RunConfig]:
    """``count`` runs of one group (one shape; seeds 0 … count-1)."""
    return [dataclasses.replace(BASE, seed=i, steps=steps) for i in range(count)]


def floor_and_budget(options: ExecutionOptions, threads: int) -> tuple[int, float]:
    """The floor (networks per task) and budget (flops per task) make_tasks documents."""
    if options.task_flops is None:
        return NETWORKS_PER_THREAD * threads, TASK_FLOPS_PER_THREAD * threads
    return threads, options.task_flops


@given(
    count=st.integers(1, 300),
    threads=st.integers(1, 16),
    steps=st.sampled_from([1, 60, 10**4, 10**6, 10**8]),
    task_flops=st.sampled_from([None, 1.0, 2e5, 2e9]),
    max_networks=st.integers(1, 600),
)
def test_tasks_partition_the_group_keep_threads_busy_and_respect_the_cap(
    count: int, threads: int, steps: int, task_flops: float | None, max_networks: int
) -> None:
    runs = group(count, steps)
    options = ExecutionOptions(task_flops=task_flops, max_networks=max_networks)
    tasks = make_tasks(runs, options, threads=threads)
    # An exact partition, in the group's order: no run lost or duplicated.
    assert [r for t in tasks for r in t.runs] == runs
    sizes = [len(t.runs) for t in tasks]
    assert max(sizes) <= max_networks
    floor, budget = floor_and_budget(options, threads)
    cap_forces = math.ceil(count / max_networks) > max(1, count // floor)
    if cap_forces:  # the cap wins over the floor: as few tasks as it allows, near-equal
        assert len(tasks) == math.ceil(count / max_networks)
        assert max(sizes) - min(sizes) <= 1
    else:  # at least `floor` networks per task (the whole group when it has fewer)
        assert min(sizes) >= min(floor, count)
        # As few tasks as keep each within the budget (up to one thread's rounding) ...
        assert len(tasks) <= max(1, math.ceil(count * runs[0].flops() / budget))
        # ... and not fewer, unless one more task would break the floor.
        over = [t for t in tasks if t.flops() > budget + threads * runs[0].flops()]
        assert not over or len(tasks) + 1 > count // floor


@given(count=st.integers(1, 200), threads=st.integers(1, 8))
def test_cheap_groups_are_cut_in_multiples_of_the_threads(count: int, threads: int) -> None:
    tasks = make_tasks(group(count, steps=10**6), threads=threads)
    for task in tasks[:-1]:
        assert len(task.runs) % threads == 0


def test_expensive_networks_get_four_per_thread_not_one() -> None:
    # huang2021's quick groups: 70 networks far above any task budget, on 2 threads.
    runs = group(70, steps=10**9)
    auto = make_tasks(runs, threads=2)
    assert [len(t.runs) for t in auto] == [8, 8, 10, 8, 8, 10, 8, 10]  # bounds ⌊70i/8⌋ to even
    assert all(len(t.runs) >= NETWORKS_PER_THREAD * 2 for t in auto)
    # An explicit task_flops restores the fixed threshold: one network per thread.
    fixed = make_tasks(runs, ExecutionOptions(task_flops=2e9), threads=2)
    assert [len(t.runs) for t in fixed] == [2] * 35
    # A group smaller than the floor is one task; the cap still wins.
    assert [len(t.runs) for t in make_tasks(group(5, 10**9), threads=2)] == [5]
    capped = make_tasks(runs, ExecutionOptions(max_networks=3), threads=2)
    assert max(len(t.runs) for t in capped) == 3 and len(capped) == 24


def test_cheap_networks_fill_a_task_up_to_the_budget() -> None:
    runs = group(1000, steps=60)  # ~1e4 flops each: far below the budget
    tasks = make_tasks(runs, threads=2)
    assert [len(t.runs) for t in tasks] == [500, 500]  # max_networks = 512 caps them


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, None])
def test_bad_thread_counts_are_rejected_by_name(threads: object) -> None:
    with pytest.raises(ValueError, match="threads"):
        make_tasks(group(4), threads=threads)  # type: ignore[arg-type]


def test_execution_defaults_round_trip_through_the_stored_spec() -> None:
    spec = SweepSpec.from_dict(small_spec())
    assert spec.execution.task_flops is None
    again = SweepSpec.from_dict(spec.to_dict())  # sweep.json holds task_flops = null
    assert again.execution == spec.execution
    spec = SweepSpec.from_dict({**small_spec(), "execution": {"task_flops": 3e9}})
    assert spec.execution.task_flops == 3e9


def test_results_do_not_depend_on_how_the_runs_are_cut(tmp_path) -> None:
    # Networks that stop early (tol) and others that run on: cut into one task per group of
    # 4 on 2 threads, then one network per task on 1 thread; the stored rows are identical.
    spec = small_spec(tol=1e-3, steps=200)
    run_sweep(spec, tmp_path / "auto", threads=2, progress=False)
    cut = {**spec, "execution": {"task_flops": 1.0, "max_networks": 1}}
    run_sweep(cut, tmp_path / "single", threads=1, progress=False)
    auto, single = load(tmp_path / "auto"), load(tmp_path / "single")
    assert auto["task_id"].nunique() == 4 and single["task_id"].nunique() == 16
    assert (auto["steps_to_tol"] >= 0).any() and (auto["steps_to_tol"] < 0).any()
    assert_same_results(auto, single)
