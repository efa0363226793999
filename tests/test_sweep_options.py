"""Sweep run fields for the training options of dl.train (MLPs, losses, optimisers,
mini-batches, manifolds, held-out data, stop rules): equality with direct calls, data
preparation, batching, resume, old stores, and config errors."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pyarrow.parquet as pq
import pytest

import deeplinear as dl
from deeplinear.sweep import SweepSpec, load, recipes, run_configs, run_sweep, store
from deeplinear.sweep.grid import FIELDS, make_tasks
from sweep_helpers import assert_same_results, small_spec


def mlp_spec(**fixed):
    """Critical and mean-field tanh MLPs on digits with cross-entropy, Adam on mini-batches,
    hidden layers on the Stiefel manifold with learned scales, a held-out set and a target
    accuracy: 2 inits × 2 lrs × 2 seeds."""
    spec = {
        "name": "mlp",
        "axes": {
            "init": ["critical_orthogonal", "mean_field_orthogonal"],
            "lr": [1e-3, 3e-3],
            "seed": [0, 5],
        },
        "fixed": {
            "depth": 3,
            "width": 16,
            "d_x": 64,
            "d_y": 10,
            "n": 90,
            "n_test": 30,
            "data": "digits",
            "data_seed": 2,
            "activation": "tanh",
            "biases": "all",
            "sigma_w": 1.1,
            "sigma_b": 0.05,
            "q_star": 0.3,
            "loss": "cross_entropy",
            "optimizer": "adam",
            "beta1": 0.8,
            "eps": 1e-7,
            "batch_size": 32,
            "manifold": "stiefel_hidden",
            "learn_scale": True,
            "steps": 25,
            "record_every": 5,
            "record": "accuracy, test_accuracy:10, batch_loss, fisher_max_eigenvalue:10, "
            "jacobian_max_singular_value:25",
            "record_probe": 8,
            "target_accuracy": 0.6,
        },
    }
    spec["fixed"].update(fixed)
    return copy.deepcopy(spec)


def _direct(run):
    """One run trained by plain dl.init / dl.train calls (data from the recipe)."""
    X, Y = recipes.make_data(run)
    held = recipes.make_eval_data(run)
    kind = run.init.rsplit("_", 1)[1]
    if run.init.startswith("critical"):
        w, b = dl.init.critical(
            run.dims,
            seed=[run.seed],
            q_star=run.q_star,
            weights=kind,
            parameterization=run.parameterization,
        )
    else:
        w, b = dl.init.mean_field(
            run.dims,
            seed=[run.seed],
            sigma_w=run.sigma_w,
            sigma_b=run.sigma_b,
            weights=kind,
            parameterization=run.parameterization,
        )
    options = {}
    if run.optimizer == "adam":
        options = {"betas": (run.beta1, run.beta2), "eps": run.eps}
    elif run.optimizer == "sgd":
        options = {"momentum": run.momentum, "nesterov": run.nesterov}
    probe = None  # the first record_probe held-out examples, when a probe quantity is recorded
    if any(
        name in ("fisher_max_eigenvalue", "jacobian_max_singular_value") for name in run.recorded
    ):
        probe = (held[0][:, : run.record_probe], held[1][..., : run.record_probe])
    manifold = (
        ["stiefel"] * (run.depth - 1) + ["euclidean"]
        if run.manifold == "stiefel_hidden"
        else run.manifold
    )
    return dl.train(
        w,
        X,
        Y,
        biases=b if run.biases == "all" else None,
        lr=run.lr,
        steps=run.steps,
        record_every=run.record_every,
        record=dict(run.record_intervals),
        activation=run.activation,
        parameterization=run.parameterization,
        sigma_w=run.sigmas()[0],
        loss=run.loss,
        reduction=None if run.reduction == "default" else run.reduction,
        optimizer=run.optimizer,
        batch_size=run.batch_size or None,
        data_seed=[run.seed if run.shuffle_seed is None else run.shuffle_seed],
        manifold=manifold,
        learn_scale=run.learn_scale and run.manifold != "euclidean",
        eval_data=held,
        record_data=probe,
        target_accuracy=run.target_accuracy,
        threads=1,
        **options,
    )


def _assert_row_is(row, direct):
    np.testing.assert_array_equal(np.asarray(row["loss_curve"]), direct.loss[0])
    assert row["final_loss"] == direct.final_loss[0]
    assert row["steps_to_accuracy"] == direct.steps_to_accuracy[0]
    assert row["diverged"] == direct.diverged[0]
    for name, values in direct.records.items():
        if name != "loss":
            np.testing.assert_array_equal(np.asarray(row[f"{name}_curve"]), values[0])


@pytest.mark.parametrize(
    "changes",
    [
        {},
        # NTK parameterisation (σ_w of the mean-field init scales the layers), SGD with
        # Nesterov momentum, a shuffle seed of its own, full-batch MSE on one-hot targets.
        {
            "parameterization": "ntk",
            "optimizer": "sgd",
            "momentum": 0.5,
            "nesterov": True,
            "beta1": 0.9,
            "eps": 1e-8,
            "shuffle_seed": 9,
            "manifold": "euclidean",  # learn_scale stays on: Euclidean nets have no scales
            "loss": "mse",
            "reduction": "mean",
            "record": "test_loss, batch_accuracy",
        },
    ],
)
def test_mlp_sweep_equals_direct_train_calls_bit_for_bit(tmp_path, changes):
    spec = mlp_spec(**changes)
    summary = run_sweep(spec, tmp_path / "s", progress=False)
    assert summary.completed == summary.total == 8 and summary.failures == 0
    # One batched call for the grid (per-network lr and seeds); with NTK scales the two inits'
    # σ_w differ (critical: from q*), so they take one call each.
    runs = SweepSpec.from_dict(spec).runs()
    assert len(make_tasks(runs)) == (2 if changes else 1)
    frame = load(tmp_path / "s").set_index("key")
    for run in runs:
        _assert_row_is(frame.loc[run.key], _direct(run))
    reached = frame["steps_to_accuracy"]
    assert (reached >= -1).all()


def test_critical_ntk_runs_group_by_their_sigma_w():
    """Runs differ in q* (critical init, NTK scales): the σ_w of the layers differs, so they
    cannot share a call; in standard parameterisation they can."""
    spec = mlp_spec(manifold="euclidean", learn_scale=False)
    spec["fixed"]["init"] = "critical_orthogonal"
    spec["axes"] = {"q_star": [0.01, 0.3], "seed": [0, 1]}
    spec["fixed"]["lr"] = 1e-3
    del spec["fixed"]["q_star"]
    assert len(make_tasks(SweepSpec.from_dict(spec).runs())) == 1
    spec["fixed"]["parameterization"] = "ntk"
    assert len(make_tasks(SweepSpec.from_dict(spec).runs())) == 2


def test_held_out_split_labels_and_input_scale():
    spec = mlp_spec(input_scale="q_star")
    run = SweepSpec.from_dict(spec).runs()[0]
    X, y = recipes.make_data(run)
    X_test, y_test = recipes.make_eval_data(run)
    assert X.shape == (64, 90) and X_test.shape == (64, 30)
    assert y.dtype == np.int64 and y.shape == (90,) and y_test.shape == (30,)
    # Unscaled, the two parts are the recipe's 120 examples, disjoint, in the recipe's order.
    plain = dataclasses.replace(run, input_scale="none")
    X_u, y_u = recipes.make_data(plain)
    X_test_u, y_test_u = recipes.make_eval_data(plain)
    raw, one_hot = recipes.make_data(dataclasses.replace(plain, n=120, n_test=0, loss="mse"))
    columns = [tuple(c) for c in raw.T]
    positions = [columns.index(tuple(c)) for c in np.concatenate([X_u, X_test_u], axis=1).T]
    assert sorted(positions) == list(range(120))
    assert positions[:90] == sorted(positions[:90]) and positions[90:] == sorted(positions[90:])
    np.testing.assert_array_equal(np.concatenate([y_u, y_test_u]), one_hot.argmax(0)[positions])
    np.testing.assert_array_equal(y, y_u)
    # input_scale = "q_star": the mean squared training input is q*, both parts scaled alike.
    factor = np.sqrt(run.q_star / np.mean(X_u**2))
    np.testing.assert_allclose(X, X_u * factor, rtol=1e-15)
    np.testing.assert_allclose(X_test, X_test_u * factor, rtol=1e-15)
    assert np.mean(X**2) == pytest.approx(run.q_star, rel=1e-12)
    assert recipes.make_eval_data(dataclasses.replace(run, n_test=0)) is None
    # Another data seed gives another split.
    other = recipes.make_eval_data(dataclasses.replace(run, data_seed=3))[0]
    assert other.shape == X_test.shape and not np.array_equal(other, X_test)


def test_cross_entropy_needs_a_classification_recipe(tmp_path):
    spec = small_spec(loss="cross_entropy", activation="tanh")
    summary = run_sweep(spec, tmp_path, progress=False)
    assert summary.failures == summary.total
    assert "needs a classification recipe" in summary.errors[0]


def test_resume_after_part_of_an_mlp_sweep_equals_one_run(tmp_path):
    whole = mlp_spec()
    part = copy.deepcopy(whole)
    part["axes"]["lr"] = [1e-3]
    run_sweep(part, tmp_path / "resumed", progress=False)
    summary = run_sweep(whole, tmp_path / "resumed", resume=True, progress=False)
    assert summary.skipped == 4 and summary.completed == 4
    run_sweep(whole, tmp_path / "once", progress=False)
    frame = load(tmp_path / "once")
    assert_same_results(load(tmp_path / "resumed"), frame)
    # The stored config columns give back every run (bools, optional ints, names included).
    assert {c.key for c in run_configs(frame)} == {r.key for r in SweepSpec.from_dict(whole).runs()}
    assert set(frame["key"]) == {c.key for c in run_configs(frame)}


def test_a_store_written_before_the_new_fields_loads_with_their_defaults(tmp_path):
    """Parts that lack the new columns (written by an older version) read as the defaults,
    keep their keys, and resume without recomputing anything."""
    spec = small_spec()
    run_sweep(spec, tmp_path, progress=False)
    added = [f.name for f in FIELDS if f.added >= 3] + ["steps_to_accuracy"]
    added += [c for c in store.schema().names if c.endswith("_curve") and c != "loss_curve"]
    for path in store.part_paths(tmp_path):
        table = pq.read_table(path)
        pq.write_table(table.drop_columns(added), path)
    frame = load(tmp_path)
    assert len(frame) == 16
    for f in FIELDS:
        if f.added >= 3 and f.default is not None:
            assert (frame[f.name] == f.default).all(), f.name
    assert frame["shuffle_seed"].isna().all() and frame["target_accuracy"].isna().all()
    assert frame["learn_scale"].dtype == bool and frame["batch_size"].dtype == np.int64
    summary = run_sweep(spec, tmp_path, resume=True, progress=False)
    assert summary.skipped == 16 and summary.completed == 0


# --- config errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "error", "needle"),
    [
        ({"momentum": 1.0}, ValueError, "fixed.momentum: must be less than 1"),
        ({"beta2": -0.1}, ValueError, "fixed.beta2: must be at least 0"),
        ({"eps": 0.0}, ValueError, "fixed.eps: must be greater than 0"),
        ({"target_accuracy": 1.5}, ValueError, "fixed.target_accuracy: must be at most 1"),
        ({"target_accuracy": 0.0}, ValueError, "fixed.target_accuracy: must be greater than 0"),
        ({"learn_scale": 1}, TypeError, "fixed.learn_scale: expected true or false"),
        ({"shuffle_seed": 1.5}, TypeError, "fixed.shuffle_seed: expected an integer"),
        ({"shuffle_seed": -1}, ValueError, "fixed.shuffle_seed: must be at least 0"),
        ({"optimizer": "lion"}, ValueError, "fixed.optimizer: expected one of"),
        ({"manifold": "hyperbolic"}, ValueError, "fixed.manifold: expected one of"),
        ({"record": "test_accuracy:0"}, ValueError, "must be an integer ≥ 1"),
        ({"record": "accuracy:5, accuracy"}, ValueError, "repeated names"),
        ({"momentum": 0.9}, ValueError, "fixed.momentum: only with optimizer = 'sgd'"),
        (
            {"optimizer": "sgd", "nesterov": True, "beta1": 0.9, "eps": 1e-8},
            ValueError,
            "fixed.nesterov: needs momentum > 0",
        ),
        ({"optimizer": "gd"}, ValueError, "fixed.beta1: only with optimizer = 'adam'"),
        ({"batch_size": 91}, ValueError, "fixed.batch_size: must be at most n = 90"),
        ({"d_y": 1, "data": "teacher"}, ValueError, "fixed.loss: 'cross_entropy' needs d_y ≥ 2"),
        (
            {"n_test": 0, "record_probe": 0, "record": "test_accuracy"},
            ValueError,
            "fixed.record: 'test_accuracy' needs held-out examples",
        ),
        ({"record": "balancedness"}, ValueError, "'balancedness' is defined for linear chains"),
        ({"record_probe": 31}, ValueError, "fixed.record_probe: must be at most n_test = 30"),
        (
            {"record_probe": 0},
            ValueError,
            "fixed.record: 'fisher_max_eigenvalue' needs a probe set (record_probe > 0",
        ),
    ],
)
def test_conflicting_options_name_the_key(changes, error, needle):
    spec = mlp_spec(**changes)
    with pytest.raises(error) as info:
        SweepSpec.from_dict(spec)
    assert needle in str(info.value)


def test_conflicts_on_an_axis_name_the_axis_and_the_toml_line(tmp_path):
    from deeplinear.sweep import load_spec

    text = """\
[axes]
optimizer = ["sgd", "adam"]
momentum = [0.0, 0.9]
[fixed]
depth = 2
width = 4
d_x = 3
n = 4
d_y = 2
steps = 1
lr = 0.1
init = "gaussian"
"""
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError) as info:
        load_spec(path)
    assert (
        "line 3: axes.momentum: only with optimizer = 'sgd' or 'rmsprop', got optimizer = 'adam'"
        in str(info.value)
    )
    path.write_text(text.replace('["sgd", "adam"]', '["sgd"]'))
    assert load_spec(path).size == 2


def test_record_intervals_are_canonical_and_enter_the_key():
    base = SweepSpec.from_dict(mlp_spec(record=" accuracy ,test_accuracy : 10 ")).runs()[0]
    assert base.record == "accuracy,test_accuracy:10"
    assert base.record_intervals == [("accuracy", 5), ("test_accuracy", 10)]
    assert base.recorded == ["accuracy", "test_accuracy"]
    other = SweepSpec.from_dict(mlp_spec(record="accuracy,test_accuracy:20")).runs()[0]
    assert other.key != base.key


def test_flops_count_mini_batches_and_recorded_passes():
    run = SweepSpec.from_dict(mlp_spec(record="")).runs()[0]
    per_example = 64 * 16 + 16 * 16 + 16 * 10
    assert run.flops() == 6.0 * per_example * 32 * 25
    recorded = dataclasses.replace(run, record="test_accuracy:5")
    assert recorded.flops() == run.flops() + 2.0 * per_example * 30 * 6
    # A full-batch linear chain on the squared loss counts its reduced data (n ≤ d_x).
    chain = SweepSpec.from_dict(small_spec(n=50)).runs()[0]
    assert chain.flops() == 6.0 * (7 * 6 + 6 * 3) * 7 * 60


def test_the_readme_sweep_files_are_valid_specs(tmp_path):
    """Every TOML block of the README's Sweeps section loads as a spec."""
    import re
    from pathlib import Path

    from deeplinear.sweep import load_spec

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Sweeps", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```toml\n(.*?)```", section, re.S)
    assert len(blocks) == 3
    for i, block in enumerate(blocks):
        path = tmp_path / f"readme{i}.toml"
        path.write_text(block, encoding="utf-8")
        assert load_spec(path).size > 0
