"""Sweeps you can plan and audit: --dry-run, failures.jsonl, stored weights, the xarray view."""

from __future__ import annotations

import json

import numpy as np
import pytest

import deeplinear as dl
from deeplinear.cli import main
from deeplinear.sweep import (
    SweepSpec,
    load,
    load_weights,
    plan_sweep,
    read_failures,
    recipes,
    registry,
    run_sweep,
    to_xarray,
)
from deeplinear.sweep.grid import Task, make_tasks
from deeplinear.sweep.runner import run_task_with_weights
from sweep_helpers import small_spec, spec_with_a_broken_recipe


def _toml(spec: dict) -> str:
    """A small spec dict (str/number values, one level of tables) as TOML."""

    def value(v: object) -> str:
        return json.dumps(v) if not isinstance(v, bool) else str(v).lower()

    lines = [f"name = {value(spec['name'])}"]
    for table in ("axes", "fixed", "execution"):
        if table in spec:
            lines.append(f"[{table}]")
            for key, v in spec[table].items():
                shown = "[" + ", ".join(map(value, v)) + "]" if isinstance(v, list) else value(v)
                lines.append(f"{key} = {shown}")
    return "\n".join(lines) + "\n"


def test_plan_counts_runs_tasks_and_flops_without_running(tmp_path):
    spec = small_spec()
    spec["execution"] = {"task_flops": 1.0, "max_networks": 1}
    plan = plan_sweep(spec, tmp_path / "nothing", threads=1, gflops=2.0)
    runs = SweepSpec.from_dict(spec).runs()
    assert (plan.total, plan.stored, plan.pending) == (16, 0, 16)
    assert plan.tasks == 16  # one network per task
    assert plan.groups == 4  # depth × width: the shapes that can share a call
    expected = sum(r.flops() for r in runs)
    assert plan.flops == pytest.approx(expected)
    assert plan.seconds == pytest.approx(expected / 2e9)
    assert not (tmp_path / "nothing").exists()  # planning writes nothing
    assert "16 batched engine calls" in plan.line()


def test_plan_skips_stored_runs_as_resume_would(tmp_path):
    spec = small_spec()
    run_sweep({**spec, "axes": {**spec["axes"], "seed": [3]}}, tmp_path, progress=False)
    plan = plan_sweep(spec, tmp_path)
    assert (plan.total, plan.stored, plan.pending) == (16, 8, 8)
    pending = [r for r in SweepSpec.from_dict(spec).runs() if r.seed == 11]
    assert plan.tasks == len(make_tasks(pending, SweepSpec.from_dict(spec).execution))


def test_cli_dry_run_prints_the_plan_and_runs_nothing(tmp_path, capsys):
    config = tmp_path / "grid.toml"
    config.write_text(_toml(small_spec()), encoding="utf-8")
    out = tmp_path / "store"
    assert main(["run", str(config), "--out", str(out), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "runs 16 (0 already stored, 16 to compute)" in printed
    assert "batched engine calls" in printed and "estimated" in printed
    assert not out.exists()


def test_cli_reproduce_dry_run_plans_every_study(tmp_path, capsys):
    from deeplinear.experiments import STUDIES

    assert main(["reproduce", "all", "--quick", "--out", str(tmp_path), "--dry-run"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in printed] == sorted(STUDIES)
    assert not any(tmp_path.iterdir())


def test_failed_tasks_are_kept_in_failures_jsonl(tmp_path, monkeypatch, capsys):
    spec = spec_with_a_broken_recipe(monkeypatch)
    summary = run_sweep(spec, tmp_path, progress=False)
    assert summary.failures_file == tmp_path / "failures.jsonl"
    assert str(summary.failures_file) in summary.line()
    failures = read_failures(tmp_path)
    assert len(failures) == len(summary.errors) >= 1
    assert sum(f["runs"] for f in failures) == summary.failures == 16
    first = failures[0]
    assert first["error"] == "RuntimeError" and first["message"] == "disk on fire"
    assert "Traceback" in first["traceback"] and "broken" in first["traceback"]
    assert first["first_run"]["data"] == "broken"
    stored = set(load(tmp_path)["key"])
    assert not stored & {key for f in failures for key in f["keys"]}
    # a resumed run retries them; the log then holds only that run's failures (none)
    monkeypatch.setitem(recipes.DATA_RECIPES, "broken", registry.teacher)
    again = run_sweep(spec, tmp_path, progress=False, resume=True)
    assert again.failures == 0 and again.failures_file is None
    assert read_failures(tmp_path) == []


def test_cli_points_to_the_failures_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(
        recipes.DATA_RECIPES, "broken", lambda request: (_ for _ in ()).throw(ValueError("bad"))
    )
    spec = small_spec()
    spec["axes"]["data"] = ["broken"]
    config = tmp_path / "grid.toml"
    config.write_text(_toml(spec), encoding="utf-8")
    assert main(["run", str(config), "--out", str(tmp_path / "s"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"tracebacks of every failed task: {tmp_path / 's' / 'failures.jsonl'}" in err


@pytest.mark.parametrize("from_spec", [True, False])
def test_stored_weights_equal_a_direct_train_and_are_memory_mapped(tmp_path, from_spec):
    spec = small_spec(steps=20)
    spec["axes"] = {"depth": [2, 3], "seed": [3, 11]}
    spec["fixed"]["width"] = 6
    spec["fixed"]["init"] = "gaussian"
    spec["execution"] = {"task_flops": 1.0, "store_weights": from_spec}
    run_sweep(spec, tmp_path, progress=False, store_weights=None if from_spec else True)
    parts = sorted((tmp_path / "parts").glob("part-*.parquet"))
    files = sorted((tmp_path / "weights").glob("part-*.npy"))
    assert [p.stem for p in parts] == [f.stem for f in files]  # one file per part
    frame = load(tmp_path)
    stored = load_weights(tmp_path)
    assert set(stored) == set(frame["key"])
    runs = {r.key: r for r in SweepSpec.from_dict(spec).runs()}
    for key, (weights, biases) in stored.items():
        assert isinstance(weights[0], np.memmap) and not weights[0].flags.writeable
        assert biases == [None] * runs[key].depth
        # the same run trained alone (a batch of one equals its row of a batch, bit for bit)
        _, alone = run_task_with_weights(Task((runs[key],)), threads=1)
        assert len(weights) == runs[key].depth
        for a, b in zip(weights, alone.weights, strict=True):
            np.testing.assert_array_equal(a, b[0])
    subset = list(frame["key"][:2])
    assert set(load_weights(tmp_path, subset)) == set(subset)


def test_weights_are_not_stored_by_default(tmp_path):
    run_sweep(small_spec(steps=5), tmp_path, progress=False)
    assert not (tmp_path / "weights").exists()
    assert load_weights(tmp_path) == {}


def test_store_weights_must_be_a_bool():
    spec = small_spec()
    spec["execution"] = {"store_weights": "yes"}
    with pytest.raises(dl.ArgumentTypeError, match="store_weights"):
        SweepSpec.from_dict(spec)


def test_to_xarray_labels_the_axes_and_steps(tmp_path):
    spec = small_spec(record="balancedness:10")
    run_sweep(spec, tmp_path, progress=False)
    frame = load(tmp_path)
    ds = to_xarray(frame)
    assert list(ds["loss"].dims) == ["depth", "width", "init", "seed", "step"]
    assert list(ds["final_loss"].dims) == ["depth", "width", "init", "seed"]
    assert ds.sizes["step"] == 13 and list(ds["step"].values[:3]) == [0, 5, 10]
    assert ds.attrs["steps"] == 60 and ds.attrs["d_x"] == 7
    for row in frame.itertuples():
        point = {"depth": row.depth, "width": row.width, "init": row.init, "seed": row.seed}
        np.testing.assert_array_equal(ds["loss"].sel(point).values, row.loss_curve)
        assert float(ds["final_loss"].sel(point)) == row.final_loss
        balancedness = ds["balancedness"].sel(point)
        np.testing.assert_array_equal(
            balancedness.sel(step=[0, 10, 20, 30, 40, 50, 60]).values, row.balancedness_curve
        )
        assert np.isnan(balancedness.sel(step=5))  # not recorded at that step
    medians = ds["loss"].median("seed")
    assert medians.dims == ("depth", "width", "init", "step")


def test_to_xarray_refuses_axes_that_do_not_identify_runs(tmp_path):
    run_sweep(small_spec(steps=5), tmp_path, progress=False)
    with pytest.raises(dl.InvalidValueError, match="do not identify each run"):
        to_xarray(load(tmp_path), axes=["depth", "width"])
    with pytest.raises(dl.InvalidValueError, match="no column"):
        to_xarray(load(tmp_path), axes=["colour"])


def test_to_xarray_without_xarray_says_how_to_install(tmp_path, monkeypatch):
    import sys

    run_sweep(small_spec(steps=5), tmp_path, progress=False)
    monkeypatch.setitem(sys.modules, "xarray", None)
    with pytest.raises(ModuleNotFoundError, match="pip install xarray"):
        to_xarray(load(tmp_path))
