"""Sweep run fields for dl.train's per-group learning rates (``lr.manifold`` ...), weight decay,
lr schedules, RMSProp/AdamW and the Oblique manifold: grid axes, the calls they make (equal to
direct dl.train calls with dl.optim values), flat Parquet columns, resume, and config errors."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import deeplinear as dl
from deeplinear import vocabulary
from deeplinear.sweep import SweepSpec, load, load_spec, recipes, run_configs, run_sweep
from deeplinear.sweep.grid import FIELDS, make_tasks
from sweep_helpers import assert_same_results

TOML = """
name = "sokol-groups"
[axes]
lr.manifold = [1e-3, 3e-3]
lr.scales = [2e-3, 5e-3]
weight_decay = [0.0, 0.01]
[fixed]
init = "critical_orthogonal"
q_star = 0.3
depth = 3
width = 8
d_x = 64
d_y = 10
n = 24
data = "digits"
data_seed = 1
activation = "tanh"
biases = "all"
loss = "cross_entropy"
optimizer = "adam"
manifold = "stiefel_hidden"
learn_scale = true
lr.base = 2e-3
lr.biases = 1e-3
weight_decay.scales = 0.05
lr_schedule = {kind = "warmup_cosine", decay_steps = 8, warmup_steps = 2, final = 0.1}
steps = 6
record_every = 2
"""


def oblique_spec(**fixed):
    """Tanh MLPs whose hidden layers are Oblique (rows of one norm, a critical orthogonal init
    of wide layers), centred RMSProp with momentum and the non-orthogonality penalty; an axis
    over the optimiser (rmsprop, adamw) and one over the Euclidean output rate."""
    spec = {
        "name": "oblique",
        "axes": {"optimizer": ["rmsprop", "adamw"], "lr.output": [1e-3, 4e-3]},
        "fixed": {
            "init": "critical_orthogonal",
            "q_star": 0.3,
            "depth": 3,
            "width": 8,
            "d_x": 64,
            "d_y": 10,
            "n": 24,
            "data": "digits",
            "data_seed": 1,
            "activation": "tanh",
            "loss": "cross_entropy",
            "manifold": "oblique_hidden",
            "learn_scale": True,
            "oblique_penalty": 0.1,
            "lr": 2e-3,
            "weight_decay": 0.02,
            "eps": 1e-7,
            "lr_schedule": {"kind": "step_decay", "every": 3, "factor": 0.5},
            "steps": 6,
            "record_every": 2,
        },
    }
    spec["fixed"].update(fixed)
    return copy.deepcopy(spec)


def _direct(run, **overrides):
    """One run trained by a direct dl.train call, its group rates, decays and schedule written
    out by hand from the run's fields (the rest of the call as the sweep makes it)."""
    X, Y = recipes.make_data(run)
    initial = recipes.make_weights([run], threads=1)
    lr = dl.optim.Rates(
        recipes.learning_rate(run),
        manifold=run.lr_manifold,
        output=run.lr_output if run.manifold.endswith("_hidden") else None,
        biases=run.lr_biases if run.biases == "all" else None,
        scales=run.lr_scales,
    )
    weight_decay = dl.optim.Rates(
        run.weight_decay, biases=run.weight_decay_biases, scales=run.weight_decay_scales
    )
    options = recipes.train_options(run)
    options.update(overrides)
    return dl.train(
        initial.weights,
        X,
        Y,
        biases=initial.biases,
        lr=lr,
        weight_decay=weight_decay,
        threads=1,
        **options,
    )


def _assert_row_is(row, direct):
    np.testing.assert_array_equal(np.asarray(row["loss_curve"]), direct.loss[0])
    assert row["final_loss"] == direct.final_loss[0]
    assert row["diverged"] == direct.diverged[0]


def test_group_rates_decay_and_schedule_are_axes_of_a_toml_sweep(tmp_path):
    path = tmp_path / "groups.toml"
    path.write_text(TOML)
    spec = load_spec(path)
    assert spec.size == 8
    assert list(spec.axes) == ["lr_manifold", "lr_scales", "weight_decay"]
    runs = spec.runs()
    assert {r.lr_manifold for r in runs} == {1e-3, 3e-3}
    assert {(r.lr_biases, r.weight_decay_scales, r.lr_output) for r in runs} == {(1e-3, 0.05, None)}
    assert runs[0].lr_schedule == "warmup_cosine(decay_steps=8, warmup_steps=2, final=0.1)"
    assert len(make_tasks(runs)) == 1  # group rates and decays vary inside one batched call
    summary = run_sweep(spec, tmp_path / "s", progress=False)
    assert summary.completed == summary.total == 8 and summary.failures == 0
    frame = load(tmp_path / "s").set_index("key")
    # Flat columns, one per group field.
    for name in ("lr_manifold", "lr_scales", "lr_biases", "weight_decay_scales", "lr_schedule"):
        assert name in frame.columns
    assert frame["lr_output"].isna().all()
    schedule = dl.optim.warmup_cosine(8, warmup_steps=2, final=0.1)
    for run in runs:
        _assert_row_is(frame.loc[run.key], _direct(run, lr_schedule=schedule))
    # The rates matter: the four runs without decay end at four different losses.
    plain = frame[frame["weight_decay"] == 0.0]
    assert plain["final_loss"].nunique() == 4


def test_oblique_rmsprop_and_adamw_sweep_equals_direct_calls(tmp_path):
    spec = oblique_spec()
    summary = run_sweep(spec, tmp_path / "s", progress=False)
    assert summary.completed == summary.total == 4 and summary.failures == 0
    runs = SweepSpec.from_dict(spec).runs()
    assert len(make_tasks(runs)) == 2  # one call per optimiser
    options = recipes.train_options(runs[0])
    assert options["optimizer"] == "rmsprop" and "betas" not in options
    assert options["oblique_penalty"] == 0.1 and options["manifold"][-1] == "euclidean"
    frame = load(tmp_path / "s").set_index("key")
    for run in runs:
        _assert_row_is(
            frame.loc[run.key],
            _direct(run, lr_schedule=dl.optim.step_decay(3, 0.5), oblique_penalty=0.1),
        )


def test_centred_rmsprop_with_momentum_resumes_bit_for_bit(tmp_path):
    whole = oblique_spec(optimizer="rmsprop", centered=True, momentum=0.5, decay=0.9)
    del whole["axes"]["optimizer"]
    whole["axes"]["weight_decay.scales"] = [0.0, 0.1]
    del whole["fixed"]["eps"]
    part = copy.deepcopy(whole)
    part["axes"]["weight_decay.scales"] = [0.1]
    run_sweep(part, tmp_path / "resumed", progress=False)
    summary = run_sweep(whole, tmp_path / "resumed", resume=True, progress=False)
    assert summary.skipped == 2 and summary.completed == 2
    run_sweep(whole, tmp_path / "once", progress=False)
    frame = load(tmp_path / "once")
    assert_same_results(load(tmp_path / "resumed"), frame)
    assert {c.key for c in run_configs(frame)} == {r.key for r in SweepSpec.from_dict(whole).runs()}


def test_group_fields_follow_the_vocabulary():
    """One lr field per named group, one weight-decay field per group that can be decayed."""
    names = {f.name for f in FIELDS}
    named = [g for g in vocabulary.LR_GROUPS if g != "base"]
    assert {f"lr_{g}" for g in named} <= names
    assert {f"weight_decay_{g}" for g in named if g != "manifold"} <= names
    assert "weight_decay_manifold" not in names
    assert all(f.added == 4 for f in FIELDS if f.name.startswith(("lr_m", "lr_o", "weight_d")))


def test_group_rates_reach_dl_train_as_rates():
    """Runs that leave a group unset inside a call give it the value dl.train would: the run's
    η for a rate, the base decay for the output layer, no decay for biases and scales."""
    spec = oblique_spec(optimizer="adamw")
    spec["axes"] = {"lr.manifold": [None, 5e-4], "weight_decay.output": [None, 0.3]}
    spec["fixed"]["biases"] = "all"
    runs = SweepSpec.from_dict(spec).runs()
    lrs = np.array([2e-3, 2e-3, 2e-3, 2e-3])
    options = recipes.per_network_options(runs, lrs)
    assert options["lr"] == dl.optim.Rates(lrs, manifold=[2e-3, 2e-3, 5e-4, 5e-4])
    assert options["weight_decay"] == dl.optim.Rates([0.02] * 4, output=[0.02, 0.3, 0.02, 0.3])
    # Without group fields: plain per-network arrays, and no weight_decay while all are 0.
    spec = oblique_spec(optimizer="adamw", weight_decay=0.0)
    spec["axes"] = {"seed": [0, 1, 2, 3]}
    options = recipes.per_network_options(SweepSpec.from_dict(spec).runs(), lrs)
    assert isinstance(options["lr"], np.ndarray) and "weight_decay" not in options
    # A group the networks lack (the output layer of a Stiefel net) is left out of their call.
    spec = oblique_spec(optimizer="adamw")
    spec["axes"] = {"manifold": ["stiefel", "oblique_hidden"], "lr.output": [1e-3, 3e-3]}
    del spec["fixed"]["manifold"]
    stiefel, oblique = make_tasks(SweepSpec.from_dict(spec).runs())
    assert isinstance(recipes.per_network_options(stiefel.runs, lrs[:2])["lr"], np.ndarray)
    assert recipes.per_network_options(oblique.runs, lrs[:2])["lr"].output == (1e-3, 3e-3)


def test_old_sweep_files_keep_their_calls():
    """A run without any new field calls dl.train with exactly the old keywords."""
    spec = oblique_spec()
    for key in ("oblique_penalty", "weight_decay", "lr_schedule", "eps"):
        del spec["fixed"][key]
    spec["fixed"].update(manifold="stiefel_hidden", optimizer="adam")
    spec["axes"] = {"seed": [0, 1]}
    runs = SweepSpec.from_dict(spec).runs()
    options = recipes.train_options(runs[0])
    new = {"lr_schedule", "weight_decay", "oblique_penalty", "decay", "centered"}
    assert not new & set(options)
    assert set(recipes.per_network_options(runs, np.ones(2))) == {"lr"}


# --- config errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixed", "error", "needle"),
    [
        ({"lr.bogus": 0.1}, ValueError, "fixed.lr.bogus: unknown group 'bogus' of lr"),
        ({"weight_decay.manifold": 0.1}, ValueError, "unknown group 'manifold' of weight_decay"),
        ({"lr": {"scales": 0.1, "base": 1e-3}}, None, None),
        ({"lr.scales": -0.1}, ValueError, "fixed.lr.scales: must be at least 0"),
        ({"weight_decay.biases": "x"}, TypeError, "fixed.weight_decay.biases: expected a number"),
        ({"lr_scales": 0.1, "lr.scales": 0.2}, ValueError, "given twice"),
        ({"manifold": "euclidean", "lr.manifold": 0.1}, ValueError, "no run of this sweep has"),
        ({"learn_scale": False, "lr.scales": 0.1}, ValueError, "fixed.lr.scales: no run"),
        (
            {"lr_schedule": {"kind": "warmup_cosine", "decay_steps": 5, "warmup_steps": 9}},
            ValueError,
            "fixed.lr_schedule: lr_schedule.warmup_steps: the warm-up (9) is longer",
        ),
        ({"lr_schedule": {"kind": "cosine"}}, ValueError, "lr_schedule.kind: expected one of"),
        ({"lr_schedule": 3}, TypeError, "fixed.lr_schedule"),
        ({"decay": 1.0}, ValueError, "fixed.decay: must be less than 1"),
        ({"optimizer": "adam", "centered": True}, ValueError, "only with optimizer = 'rmsprop'"),
        ({"optimizer": "sgd", "eps": 1e-7}, ValueError, "fixed.eps: only with optimizer ="),
        ({"oblique_penalty": -1.0}, ValueError, "fixed.oblique_penalty: must be at least 0"),
        ({"d_x": 1, "depth": 2}, ValueError, "needs at least 2 inputs per unit"),
    ],
)
def test_bad_group_schedule_and_optimizer_fields_name_the_key(fixed, error, needle):
    spec = oblique_spec(optimizer="rmsprop")
    del spec["axes"]
    spec["fixed"].update(fixed)
    if error is None:
        assert SweepSpec.from_dict(spec).runs()[0].lr_scales == 0.1
        return
    with pytest.raises(error) as info:
        SweepSpec.from_dict(spec)
    assert needle in str(info.value)


def test_a_dotted_axis_error_names_its_toml_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(TOML.replace("lr.scales = [2e-3, 5e-3]", "lr.scales = [2e-3, -5e-3]"))
    with pytest.raises(ValueError, match=r"line 5: axes\.lr\.scales\[1\]: must be at least 0"):
        load_spec(path)


@pytest.mark.parametrize("optimizer", list(vocabulary.OPTIMIZERS))
def test_the_options_of_a_call_are_train_keywords(optimizer):
    """What a sweep passes to dl.train is among its keywords (dl.options.TrainOptions), and each
    optimiser gets its own options only."""
    spec = oblique_spec(optimizer=optimizer)
    del spec["axes"]
    del spec["fixed"]["eps"]
    run = SweepSpec.from_dict(spec).runs()[0]
    options = recipes.train_options(run)
    keywords = set(dl.options.TrainOptions.keywords())
    assert set(options) <= keywords
    assert set(recipes.per_network_options([run], np.ones(1))) <= keywords
    optimizer_options = {o for taken in vocabulary.OPTIMIZERS.values() for o in taken}
    assert set(options) & optimizer_options == set(vocabulary.OPTIMIZERS[optimizer])
