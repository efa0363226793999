"""Sweep specs: expansion, stable keys, grouping into tasks, and config errors."""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from deeplinear.cli import main
from deeplinear.sweep import ExecutionOptions, SweepSpec, load_spec, make_tasks, run_key
from deeplinear.sweep.grid import FIELDS, RunConfig, group_runs
from sweep_helpers import small_spec

# --- expansion -------------------------------------------------------------------------------


def test_expansion_is_the_product_in_axis_order():
    spec = SweepSpec.from_dict(small_spec())
    runs = spec.runs()
    assert spec.size == len(runs) == 16
    combos = [(r.depth, r.width, r.init, r.seed) for r in runs]
    assert combos[:3] == [(2, 6, "gaussian", 3), (2, 6, "gaussian", 11), (2, 6, "orthogonal", 3)]
    assert len(set(combos)) == 16
    assert all(r.d_x == 7 and r.steps == 60 and r.lr == 0.5 for r in runs)
    assert runs[0].dims == [7, 6, 3]
    assert runs[-1].dims == [7, 10, 10, 10, 3]


def test_defaults_are_resolved_into_the_config():
    spec = small_spec()
    del spec["fixed"]["record_every"]
    spec["fixed"]["steps"] = 1000
    run = SweepSpec.from_dict(spec).runs()[0]
    assert run.record_every == 10  # about 100 points
    assert run.tol is None and run.dtype == "float64" and run.data == "teacher"
    assert run.init_scale == 1.0 and run.data_seed == 0


# --- keys ------------------------------------------------------------------------------------


def _config(**changes):
    base = SweepSpec.from_dict(small_spec()).runs()[0]
    return dataclasses.replace(base, **changes)


def test_key_is_a_pinned_stable_hash():
    # A key must never change between versions: stores on disk are resumed by key.
    key = _config().key
    assert key == run_key(_config())
    assert len(key) == 20 and int(key, 16) >= 0
    code = (
        "from deeplinear.sweep import SweepSpec; import sweep_helpers as h;"
        "print(SweepSpec.from_dict(h.small_spec()).runs()[0].key)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent,
        env={"PYTHONHASHSEED": "123", "PATH": ""},
    )
    assert out.stdout.strip() == key
    canonical = (
        '{"alpha":1.0,"alpha_rule":"fanout","d_x":7,"d_y":3,"data":"teacher","data_seed":0,'
        '"depth":2,"dtype":"float64","init":"gaussian","init_scale":1.0,"key_version":1,'
        '"lr":0.5,"lr_rule":"hu2020","n":5,"record_every":5,"seed":3,"steps":60,"tol":null,'
        '"width":6}'
    )
    assert key == hashlib.sha256(canonical.encode()).hexdigest()[:20] == "81724bc66d4f2f2411e1"


@pytest.mark.parametrize(
    "field", [f.name for f in FIELDS if f.kind in ("int", "float", "optional_float")]
)
def test_changing_any_numeric_field_changes_the_key(field):
    groups = [
        f.name
        for f in FIELDS
        if f.kind == "optional_float" and f.name.startswith(("lr_", "weight_decay_"))
    ]
    base = _config(tol=1e-3, target_accuracy=0.25, **dict.fromkeys(groups, 0.1))
    value = getattr(base, field)
    changed = dataclasses.replace(
        base, **{field: value + 1 if isinstance(value, int) else value * 2 + 1}
    )
    assert changed.key != base.key


def test_choice_fields_change_the_key():
    base = _config()
    assert dataclasses.replace(base, init="orthogonal").key != base.key
    assert dataclasses.replace(base, dtype="float32").key != base.key
    assert dataclasses.replace(base, lr_rule="constant").key != base.key


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tol_rule", "above_optimum"),
        ("record", "balancedness"),
        ("data_file", "/data/ethanol.npz"),
        ("data_sha256", "ab" * 32),
    ],
)
def test_fields_added_later_key_only_when_set(field, value):
    """A field added after key version 1 leaves every existing key unchanged at its default
    (the pinned key above still holds), and changes the key once it is set."""
    spec = next(f for f in FIELDS if f.name == field)
    assert spec.added > 1
    base = _config()
    assert getattr(base, field) == spec.default
    assert dataclasses.replace(base, **{field: value}).key != base.key


def test_every_field_has_one_definition():
    """The run-field table is the RunConfig dataclass: adding a field is one attribute."""
    assert [f.name for f in FIELDS] == [f.name for f in dataclasses.fields(RunConfig)]
    assert all(f.doc for f in FIELDS)
    grouped = {f.name for f in FIELDS if f.group}
    assert {"depth", "width", "steps", "data", "tol", "tol_rule", "record"} <= grouped
    assert not grouped & {"init", "init_scale", "seed", "lr", "lr_rule"}


def test_names_and_string_fields_are_validated():
    ok = SweepSpec.from_dict(small_spec(record=" balancedness ", data_file="x.npz"))
    run = ok.runs()[0]
    assert run.record == "balancedness" and run.recorded == ["balancedness"]
    assert run.data_file == "x.npz"
    assert SweepSpec.from_dict(small_spec(record="")).runs()[0].recorded == []
    with pytest.raises(ValueError, match=r"fixed\.record: expected names among"):
        SweepSpec.from_dict(small_spec(record="balancedness,curvature"))
    with pytest.raises(ValueError, match="repeated names"):
        SweepSpec.from_dict(small_spec(record="balancedness,balancedness"))
    with pytest.raises(TypeError, match=r"fixed\.data_file: expected a string"):
        SweepSpec.from_dict(small_spec(data_file=3))
    with pytest.raises(ValueError, match=r"fixed\.tol_rule: expected one of"):
        SweepSpec.from_dict(small_spec(tol_rule="relative"))


def test_flops_count_the_reduced_data():
    """The engine reduces n > d_x examples to d_x columns, so the estimate does too."""
    wide = SweepSpec.from_dict(small_spec(n=500)).runs()[0]
    narrow = SweepSpec.from_dict(small_spec(n=7)).runs()[0]
    assert wide.flops() == narrow.flops() > 0


def test_key_ignores_how_the_spec_was_written():
    a = small_spec()
    b = small_spec()
    b["fixed"]["lr"] = 0.5  # same
    b["fixed"] = dict(reversed(list(b["fixed"].items())))
    b["axes"] = {"seed": [3, 11], **{k: v for k, v in b["axes"].items() if k != "seed"}}
    c = small_spec(steps=60)
    c["fixed"]["data_seed"] = 0  # the default, written out
    c["fixed"]["lr"] = 1 / 2
    keys = [{r.key for r in SweepSpec.from_dict(s).runs()} for s in (a, b, c)]
    assert keys[0] == keys[1] == keys[2]
    assert len(keys[0]) == 16
    d = small_spec(lr=1)
    e = small_spec(lr=1.0)
    assert {r.key for r in SweepSpec.from_dict(d).runs()} == {
        r.key for r in SweepSpec.from_dict(e).runs()
    }


# --- grouping and tasks ----------------------------------------------------------------------


def test_runs_group_by_shape_and_data_only():
    runs = SweepSpec.from_dict(small_spec()).runs()
    groups = group_runs(runs)
    assert len(groups) == 4  # depth × width; init and seed share a batch
    for members in groups.values():
        assert len(members) == 4
        assert len({tuple(r.dims) for r in members}) == 1
        assert {r.init for r in members} == {"gaussian", "orthogonal"}
    spec = small_spec()
    spec["axes"]["steps"] = [10, 20]
    del spec["fixed"]["steps"]
    assert len(group_runs(SweepSpec.from_dict(spec).runs())) == 8


def test_tasks_cover_every_run_once_and_respect_limits():
    runs = SweepSpec.from_dict(small_spec()).runs()
    for options, threads in [
        (ExecutionOptions(), 1),
        (ExecutionOptions(max_networks=3), 1),
        (ExecutionOptions(task_flops=1.0), 1),
        (ExecutionOptions(task_flops=1.0), 2),
    ]:
        tasks = make_tasks(runs, options, threads=threads)
        keys = [r.key for t in tasks for r in t.runs]
        assert sorted(keys) == sorted(r.key for r in runs)
        for task in tasks:
            assert len({r.group() for r in task.runs}) == 1
            assert len(task.runs) <= options.max_networks
            assert len(task.runs) >= min(threads, options.max_networks)
    assert len(make_tasks(runs)) == 4  # each group of 4 tiny networks is one task
    assert len(make_tasks(runs, ExecutionOptions(task_flops=1.0))) == 16
    assert len(make_tasks(runs, ExecutionOptions(task_flops=1.0), threads=2)) == 8
    ids = [t.task_id for t in make_tasks(runs, ExecutionOptions(task_flops=1.0))]
    assert len(set(ids)) == len(ids)


def test_run_config_fields_match_the_field_table():
    assert [f.name for f in dataclasses.fields(RunConfig)] == [f.name for f in FIELDS]


# --- config errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "error", "needle"),
    [
        (lambda s: s["fixed"].update(stepz=3), ValueError, "fixed.stepz: unknown key"),
        (lambda s: s["axes"].update(widht=[3]), ValueError, "did you mean 'width'"),
        (lambda s: s.update(axis={}), ValueError, "axis: unknown top-level key"),
        (lambda s: s["fixed"].update(steps="10"), TypeError, "fixed.steps: expected an integer"),
        (lambda s: s["fixed"].update(lr=True), TypeError, "fixed.lr: expected a number"),
        (lambda s: s["axes"].update(width=[]), ValueError, "axes.width: empty axis"),
        (
            lambda s: s["axes"].update(width=[4, -3]),
            ValueError,
            "axes.width[1]: must be at least 1",
        ),
        (lambda s: s["axes"].update(width=8), TypeError, "axes.width: expected a list"),
        (lambda s: s["axes"].update(init=["glorot"]), ValueError, "axes.init[0]: expected one of"),
        (lambda s: s["fixed"].update(lr=0.0), ValueError, "fixed.lr: must be greater than 0"),
        (lambda s: s["fixed"].update(lr=float("nan")), ValueError, "fixed.lr: must be finite"),
        (
            lambda s: s["fixed"].update(depth=3),
            ValueError,
            "fixed.depth: is both fixed and an axis",
        ),
        (lambda s: s["fixed"].pop("d_x"), ValueError, "missing required field(s) d_x"),
        (lambda s: s["axes"].update(seed=[1, 1]), ValueError, "axes.seed: repeated values"),
        (lambda s: s.update(execution={"task_flops": -1}), ValueError, "execution.task_flops"),
        (lambda s: s.update(execution={"chunk": 1}), ValueError, "execution.chunk: unknown key"),
        (lambda s: s.update(fixed=[1]), TypeError, "fixed: expected a table"),
    ],
)
def test_malformed_specs_name_the_key(mutate, error, needle):
    spec = small_spec()
    mutate(spec)
    with pytest.raises(error) as info:
        SweepSpec.from_dict(spec)
    assert needle in str(info.value)


GOOD_TOML = """\
name = "toml-sweep"

[axes]
depth = [2, 3]
width = [5]
init = ["gaussian", "orthogonal"]

[fixed]
d_x = 4
n = 3
d_y = 2
steps = 10
lr = 0.5
lr_rule = "hu2020"
alpha_rule = "fanout"
"""


def test_toml_round_trip(tmp_path):
    path = tmp_path / "sweep.toml"
    path.write_text(GOOD_TOML)
    spec = load_spec(path)
    assert spec.name == "toml-sweep" and spec.size == 4
    assert SweepSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(
    ("text", "error", "needles"),
    [
        (GOOD_TOML.replace("steps = 10", "stepz = 10"), ValueError, ["line 12", "fixed.stepz"]),
        (
            GOOD_TOML.replace("width = [5]", "width = [5, -2]"),
            ValueError,
            ["line 5", "axes.width[1]"],
        ),
        (GOOD_TOML.replace("width = [5]", "width = []"), ValueError, ["line 5", "empty axis"]),
        (
            GOOD_TOML.replace("n = 3", 'n = "3"'),
            TypeError,
            ["line 10", "fixed.n: expected an integer"],
        ),
        (GOOD_TOML.replace("d_y = 2", "d_y = = 2"), ValueError, ["malformed TOML", "line 11"]),
        (GOOD_TOML.replace("[fixed]", "[fixed"), ValueError, ["malformed TOML", "line 8"]),
    ],
)
def test_toml_errors_name_key_and_line(tmp_path, text, error, needles):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(error) as info:
        load_spec(path)
    message = str(info.value)
    assert str(path) in message
    for needle in needles:
        assert needle in message


def test_cli_reports_config_errors_before_any_work(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(GOOD_TOML.replace("width = [5]", "width = [5, -2]"))
    out = tmp_path / "store"
    assert main(["run", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "deeplinear run: error:" in err and "axes.width[1]: must be at least 1" in err
    assert not out.exists()
    assert main(["run", str(tmp_path / "missing.toml"), "--out", str(out)]) == 2
    assert "cannot read" in capsys.readouterr().err
