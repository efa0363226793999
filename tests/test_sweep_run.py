"""Running sweeps: equality with direct dl.train calls, the store, resume, executors, failures."""

from __future__ import annotations

import concurrent.futures as cf
import shutil

import numpy as np
import pytest

import deeplinear as dl
from deeplinear.sweep import SweepSpec, load, recipes, registry, run_sweep, store
from deeplinear.sweep.grid import RECORDABLE
from sweep_helpers import assert_same_results, small_spec, spec_with_a_broken_recipe


def _direct(run):
    """Train one run with plain dl.init / dl.train calls, the way a user would."""
    rng = np.random.default_rng(run.data_seed)
    X = rng.standard_normal((run.d_x, run.n))
    Y = rng.standard_normal((run.d_y, run.d_x)) @ X
    dtype = np.dtype(run.dtype)
    X, Y = X.astype(dtype), Y.astype(dtype)
    dims = [run.d_x] + [run.width] * (run.depth - 1) + [run.d_y]
    make = dl.init.gaussian if run.init == "gaussian" else dl.init.orthogonal
    scale = {"std": run.init_scale} if run.init == "gaussian" else {"gain": run.init_scale}
    weights = make(dims, batch=1, seed=run.seed, dtype=dtype, **scale)
    lr = run.lr
    if run.lr_rule == "hu2020":
        lr = run.lr * run.d_y / (run.depth * np.linalg.norm(X.astype(np.float64), 2) ** 2)
    return dl.train(
        weights,
        X,
        Y,
        lr=lr,
        steps=run.steps,
        alpha=dl.fanout_alpha(dims),
        tol=run.tol,
        record_every=run.record_every,
        threads=1,
    )


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sweep_equals_direct_train_calls_bit_for_bit(tmp_path, dtype):
    spec = small_spec(dtype=dtype, tol=0.17)
    spec["axes"]["lr"] = [0.25, 0.5]
    del spec["fixed"]["lr"]
    summary = run_sweep(spec, tmp_path / "s", progress=False)
    assert summary.completed == summary.total == 32 and summary.failures == 0
    frame = load(tmp_path / "s").set_index("key")
    assert len(frame) == 32
    reached = 0
    for run in SweepSpec.from_dict(spec).runs():
        row = frame.loc[run.key]
        direct = _direct(run)
        np.testing.assert_array_equal(np.asarray(row["loss_curve"]), direct.loss[0])
        assert row["final_loss"] == direct.final_loss[0]
        assert row["initial_loss"] == direct.loss[0, 0]
        assert row["steps_to_tol"] == direct.steps_to_tol[0]
        assert row["diverged"] == direct.diverged[0]
        assert row["lr_value"] == pytest.approx(recipes.learning_rate(run), rel=1e-15)
        assert row["depth"] == run.depth and row["init"] == run.init and row["seed"] == run.seed
        reached += row["steps_to_tol"] >= 0
    assert 0 < reached < 32  # the tolerance separates the runs: steps_to_tol is really compared


def test_store_rows_hold_config_and_results(tmp_path):
    run_sweep(small_spec(), tmp_path, progress=False)
    frame = load(tmp_path)
    assert list(frame.columns) == store.schema().names
    assert frame["key"].is_monotonic_increasing and frame["key"].is_unique
    row = frame.iloc[0]
    assert len(row["loss_curve"]) == 60 // 5 + 1
    assert row["rel_loss"] == pytest.approx(row["final_loss"] / row["initial_loss"])
    assert np.isclose(row["log10_rel_loss"], np.log10(row["rel_loss"]))
    assert (frame["wall_time_s"] > 0).all()
    assert (frame["threads"] >= 1).all()
    assert frame["deeplinear_version"].iloc[0] == dl.__version__
    assert frame["tol"].isna().all()
    assert (tmp_path / "sweep.json").is_file()
    assert store.read_spec(tmp_path)["name"] == "small"
    curves = [c for c in frame.columns if c.endswith("_curve")]
    assert curves == ["loss_curve", *(f"{name}_curve" for name in RECORDABLE)]
    assert frame["balancedness_curve"].isna().all()  # not recorded
    assert list(load(tmp_path, curves=False).columns) == [c for c in frame if c not in curves]


def test_results_do_not_depend_on_chunking_or_threads(tmp_path):
    one = run_sweep(small_spec(), tmp_path / "a", progress=False, threads=1)
    spec = small_spec()
    spec["execution"] = {"task_flops": 1.0}  # one network per task
    many = run_sweep(spec, tmp_path / "b", progress=False, threads=2)
    assert one.tasks == 4 and many.tasks == 8
    assert_same_results(load(tmp_path / "a"), load(tmp_path / "b"))


def test_resume_skips_finished_keys_and_needs_the_flag(tmp_path):
    part = small_spec()
    part["axes"]["depth"] = [2]
    first = run_sweep(part, tmp_path, progress=False)
    assert first.completed == 8
    with pytest.raises(ValueError, match="already holds 8 finished runs"):
        run_sweep(small_spec(), tmp_path, progress=False)
    second = run_sweep(small_spec(), tmp_path, progress=False, resume=True)
    assert (second.skipped, second.completed, second.total) == (8, 8, 16)
    third = run_sweep(small_spec(), tmp_path, progress=False, resume=True)
    assert (third.skipped, third.completed, third.tasks) == (16, 0, 0)
    assert set(store.count_rows_by_key(tmp_path).values()) == {1}
    assert_same_results(load(tmp_path), load_fresh(tmp_path.parent / "fresh"))


def load_fresh(path):
    run_sweep(small_spec(), path, progress=False)
    return load(path)


def test_load_drops_duplicate_keys_and_ignores_temporaries(tmp_path):
    run_sweep(small_spec(), tmp_path, progress=False)
    parts = store.part_paths(tmp_path)
    shutil.copy(parts[0], parts[0].with_name("part-zzzz-copy.parquet"))
    (tmp_path / "parts" / ".part-half.parquet.123.abcd.tmp").write_bytes(b"PAR1 half a file")
    counts = store.count_rows_by_key(tmp_path)
    assert max(counts.values()) == 2 and len(counts) == 16
    frame = load(tmp_path)
    assert len(frame) == 16 and frame["key"].is_unique
    assert store.remove_stale_temporaries(tmp_path) == 1


def test_empty_and_missing_stores(tmp_path):
    assert load(tmp_path).empty
    assert list(load(tmp_path).columns) == store.schema().names
    with pytest.raises(ValueError, match="directory"):
        load(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="out: .* not a directory"):
        run_sweep(small_spec(), tmp_path / "file", progress=False)


@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_concurrent_futures_executors_match_in_process(tmp_path, kind):
    spec = small_spec()
    spec["execution"] = {"task_flops": 1.0}
    run_sweep(spec, tmp_path / "local", progress=False)
    if kind == "threads":
        with cf.ThreadPoolExecutor(max_workers=2) as pool:
            summary = run_sweep(spec, tmp_path / "pool", executor=pool, progress=False)
        assert summary.where == "ThreadPoolExecutor"
        assert (load(tmp_path / "pool")["threads"] == 1).all()
    else:
        summary = run_sweep(spec, tmp_path / "pool", workers=2, progress=False)
        assert summary.where.startswith("2 processes")
    assert summary.completed == 16
    assert_same_results(load(tmp_path / "local"), load(tmp_path / "pool"))


def test_a_failing_task_is_counted_and_retried_on_resume(tmp_path, monkeypatch):
    spec = spec_with_a_broken_recipe(monkeypatch)
    summary = run_sweep(spec, tmp_path, progress=False)
    assert summary.failures == 16 and summary.completed == 16
    assert "disk on fire" in summary.errors[0]
    assert "failures 16" in summary.line()
    assert set(load(tmp_path)["data"]) == {"teacher"}
    monkeypatch.setitem(recipes.DATA_RECIPES, "broken", registry.teacher)
    again = run_sweep(spec, tmp_path, progress=False, resume=True)
    assert (again.skipped, again.completed, again.failures) == (16, 16, 0)


def test_divergence_is_recorded_not_fatal(tmp_path):
    spec = small_spec(lr=1e3, lr_rule="constant")
    summary = run_sweep(spec, tmp_path, progress=False)
    frame = load(tmp_path)
    assert summary.diverged == int(frame["diverged"].sum()) > 0
    assert np.isinf(frame.loc[frame["diverged"], "log10_rel_loss"]).all()


def test_executor_argument_errors(tmp_path):
    with pytest.raises(TypeError, match="executor"):
        run_sweep(small_spec(), tmp_path, executor=42, progress=False)
    with pytest.raises(ValueError, match="threads"):
        run_sweep(small_spec(), tmp_path, threads=0, progress=False)
    with pytest.raises(ValueError, match="workers"):
        run_sweep(small_spec(), tmp_path, workers=2, executor=cf.ThreadPoolExecutor(1))
