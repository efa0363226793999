"""The Huang et al. 2021 and Sokol & Park 2020 presets end to end: reduced grids in the default
run, the whole quick grids (and the separation of the inits on the quick Huang grid) marked
slow; their tables are stored once and read back on a rerun."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from deeplinear.cli import main
from deeplinear.experiments import huang2021, huang2021_training, reproduce, sokol2020
from deeplinear.experiments.reproduction import table_path
from deeplinear.sweep import SweepSpec, load, run_sweep
from test_presets import REDUCED, _claims, _is_png, reduced  # noqa: F401 (fixture)


def test_reproduce_huang2021_reduced_end_to_end(tmp_path, reduced):  # noqa: F811
    result = reproduce("huang2021", tmp_path, progress=False)
    report = result.report.read_text()
    assert [c for c, _ in _claims(report)] == [c.claim for c in result.analysis.claims]
    assert len(result.analysis.claims) == 6 + len(huang2021_training.CHECKS)
    assert result.analysis.headline.name == "tau_heatmaps.png"
    for figure in result.analysis.figures:
        assert _is_png(figure)
    assert "## How each verdict is decided" in report and "(a) NTK distance" in report
    frame = load(tmp_path)
    grid = REDUCED["huang2021"]
    assert len(frame) == len(grid.depths) * len(grid.lrs) * 2 * len(grid.seeds)
    assert (frame["steps"] == grid.epochs * grid.n // grid.batch_size).all()
    assert (frame["target_accuracy"] > 0.25).all() and (frame["target_accuracy"] < 0.2501).all()
    tau = result.analysis.findings["tau"]
    assert set(tau.columns) == {"gaussian", "orthogonal", "ratio"}
    # Every network starts below 25 % (10 classes); at depth 50 and width 16 every orthogonal
    # net gets there within the cap (the Gaussian ones do not: depth/width is 3).
    assert (frame["steps_to_accuracy"] != 0).all()
    orthogonal = frame[frame["init"] == "mean_field_orthogonal"]
    assert (orthogonal["steps_to_accuracy"] > 0).all()
    for name in ("kernel_distance", "kernel_change"):
        assert len(list((tmp_path / "tables").glob(f"{name}-*.parquet"))) == 1


def test_preset_tables_are_read_back_and_recomputed_when_damaged(tmp_path, reduced, monkeypatch):  # noqa: F811
    reproduce("huang2021", tmp_path, progress=False)
    paths = [table_path(tmp_path, m) for m in huang2021.measurements("quick")]
    before = [p.read_bytes() for p in paths]
    original = huang2021.kernel_distance_table
    calls = []

    def counted(grid):
        calls.append(grid)
        return original(grid)

    monkeypatch.setattr(huang2021, "kernel_distance_table", counted)
    result = reproduce("huang2021", tmp_path, progress=False)
    assert result.summary.completed == 0 and calls == []  # stored: read back
    assert [p.read_bytes() for p in paths] == before
    paths[0].write_bytes(b"not parquet")  # damaged: computed again, to the same table
    reproduce("huang2021", tmp_path, progress=False)
    assert len(calls) == 1
    assert load_table(paths[0]).equals(load_table_bytes(before[0], tmp_path))
    # A changed grid is another table (its parameters name the file).
    monkeypatch.setitem(
        huang2021.GRIDS, "quick", dataclasses.replace(REDUCED["huang2021"], kernel_seeds=(0,))
    )
    reproduce("huang2021", tmp_path, progress=False)
    assert len(list((tmp_path / "tables").glob("kernel_distance-*.parquet"))) == 2


def load_table(path):
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pandas().drop(columns="wall_time_s")


def load_table_bytes(data, where):
    path = where / "copy.parquet"
    path.write_bytes(data)
    return load_table(path)


def test_huang2021_kernel_tables_measure_what_they_say():
    grid = REDUCED["huang2021"]
    distances = huang2021.kernel_distance_table(grid)
    assert len(distances) == 2 * len(grid.kernel_widths) * len(grid.kernel_seeds)
    medians = distances.groupby(["init", "width"])["distance"].median()
    for init in ("gaussian", "orthogonal"):
        assert medians[(init, 128)] < medians[(init, 8)]  # converges with width
    changes = huang2021.kernel_change_table(grid)
    assert not changes["diverged"].any() and (changes["loss_ratio"] < 1).all()
    assert changes["lr"].nunique() == 1 and 0 < changes["lr"].iloc[0] < 1
    assert {"weight_change_1", "weight_change_4"} <= set(changes.columns)


def test_reproduce_sokol2020_reduced_end_to_end(tmp_path, reduced):  # noqa: F811
    result = reproduce("sokol2020", tmp_path, progress=False)
    report = result.report.read_text()
    assert [c for c, _ in _claims(report)] == [c.claim for c in result.analysis.claims]
    assert result.analysis.headline.name == "fisher_vs_jacobian.png"
    for figure in result.analysis.figures:
        assert _is_png(figure)
    assert "## Choices" in report and "Criticality table" in report
    verdicts = {c.claim: c.verdict for c in result.analysis.claims}
    assert verdicts["Critical (σ_w, σ_b) for the six q*"] == "reproduced"
    frame = load(tmp_path)
    assert set(frame["manifold"]) == set(sokol2020.MANIFOLDS)
    assert (frame["input_scale"] == "q_star").all() and frame["learn_scale"].all()
    grid = REDUCED["sokol2020"]
    assert "The rate search: chosen rates beside the paper's" in report
    # The search: every candidate of every (net, q*) cell, scored on the validation split.
    import pyarrow.parquet as pq

    search = pq.read_table(next((tmp_path / "tables").glob("search-*.parquet"))).to_pandas()
    per_cell = {m: len(sokol2020.candidates(grid, m)) for m in sokol2020.MANIFOLDS}
    assert per_cell == {"euclidean": 2, "stiefel_hidden": 2, "oblique_hidden": 2}
    assert len(search) == 2 * sum(per_cell.values())
    assert search["validation_accuracy"].between(0, 1).all()
    # The retrained cells run at the candidate with the best validation accuracy.
    tuned = pq.read_table(next((tmp_path / "tables").glob("tuned-*.parquet"))).to_pandas()
    assert len(tuned) == 2 * len(sokol2020.MANIFOLDS) * len(grid.seeds)
    for (manifold, q), part in search.groupby(["manifold", "q_star"]):
        ranked = part.sort_values(["validation_accuracy", "train_loss"], ascending=[False, True])
        top = ranked.iloc[0]
        runs = tuned[(tuned["manifold"] == manifold) & (tuned["q_star"] == q)]
        assert len(runs) == len(grid.seeds) and (runs["lr"] == top["lr"]).all()
        if manifold != "euclidean":
            assert (runs["lr_manifold"] == top["lr_manifold"]).all()
        if manifold == "oblique_hidden":
            assert (runs["oblique_penalty"] == top["oblique_penalty"]).all()
        assert (runs["n"] == grid.n).all()  # retrained on the whole training set
    per_epoch = grid.n // grid.batch_size
    for curve in frame["batch_loss_curve"]:
        assert len(curve) == grid.epochs * per_epoch + 1
    for curve in frame["test_accuracy_curve"]:
        assert len(curve) == grid.epochs + 1 and min(curve) >= 0 and max(curve) <= 1
    at_init = next((tmp_path / "tables").glob("at_init-*.parquet"))
    table = pq.read_table(at_init).to_pandas()
    assert len(table) == (len(sokol2020.Q_STARS) + 1) * len(grid.init_seeds)
    curvature = [c for c in table.columns if c.startswith(("fisher_", "jacobian_"))]
    assert len(curvature) == 6 and (table[curvature] > 0).all().all()
    # Counting the biases can only add curvature: λ_max over all parameters ≥ weights only.
    for loss in ("cross_entropy", "mse"):
        assert (table[f"fisher_{loss}_all"] >= table[f"fisher_{loss}_weights"] * (1 - 1e-9)).all()


def test_huang2021_full_is_the_papers_grid(tmp_path):
    full = huang2021.spec("full")
    assert full.fixed["width"] == 400 and full.axes["depth"] == (50, 100, 200)
    assert len(full.axes["seed"]) == 20 and min(full.axes["lr"]) == pytest.approx(10**-3.8)
    assert max(full.axes["lr"]) == pytest.approx(10**-0.8)
    X = np.random.default_rng(0).integers(0, 256, (2000, 32, 32, 3), dtype=np.uint8)
    path = tmp_path / "cifar.npz"
    np.savez(path, X=X, y=np.arange(2000) % 10)
    with_data = huang2021.spec("full", path)
    assert with_data.fixed["data"] == "npz_pixels" and with_data.fixed["batch_size"] == 1000
    assert with_data.fixed["n"] == 2000 and with_data.fixed["steps"] == 20 * 2
    run = with_data.runs()[0]
    from deeplinear.sweep.recipes import make_data

    X_run, y_run = make_data(dataclasses.replace(run, n=1000))
    assert X_run.shape == (3072, 1000) and X_run.max() <= 1.0 and y_run.dtype == np.int64


def test_sokol2020_full_is_the_papers_networks(tmp_path):
    full = sokol2020.spec("full")
    assert full.fixed["depth"] == 200 and full.fixed["width"] == 400
    assert full.axes["q_star"] == (9e-4, 1 / 64)
    assert full.axes["manifold"] == ("euclidean", "stiefel_hidden", "oblique_hidden")
    assert full.fixed["oblique_penalty"] == pytest.approx(7.1e-4)
    rng = np.random.default_rng(0)
    path = tmp_path / "cifar.npz"
    np.savez(
        path,
        X=rng.integers(0, 256, (1000, 32, 32, 3), dtype=np.uint8),
        y=np.arange(1000) % 10,
        X_test=rng.integers(0, 256, (200, 32, 32, 3), dtype=np.uint8),
        y_test=np.arange(200) % 10,
    )
    with_data = sokol2020.spec("full", path)
    assert with_data.fixed["data"] == "npz_cifar10" and with_data.fixed["n_test"] == 200
    from deeplinear.sweep.recipes import make_eval_data

    X_test, _ = make_eval_data(with_data.runs()[0])
    assert X_test.shape == (3072, 200)
    assert np.mean(X_test**2) == pytest.approx(9e-4, rel=0.2)  # scaled for q* like the train set
    no_test = tmp_path / "no_test.npz"
    np.savez(no_test, X=rng.integers(0, 256, (100, 8)), y=np.arange(100) % 10)
    with pytest.raises(ValueError, match="needs integer class labels and a test set"):
        sokol2020.spec("full", no_test)


# --- the whole quick grids ----------------------------------------------------------------


#: "Deep" and "large η" cells of the quick Huang grid: where the paper's gap is widest.
DEEP = 100
LARGE_LR = 0.039


@pytest.mark.slow
def test_quick_huang_grid_separates_the_inits(tmp_path):
    """τ_gaussian / τ_orthogonal > 1 in the median over the deep (L ≥ 100), large-η
    (η ≥ 0.04) cells of the quick grid, trained on exactly the quick grid's runs."""
    spec = huang2021.spec("quick").to_dict()
    spec["axes"]["depth"] = [d for d in spec["axes"]["depth"] if d >= DEEP]
    spec["axes"]["lr"] = [lr for lr in spec["axes"]["lr"] if lr >= LARGE_LR]
    assert len(spec["axes"]["depth"]) >= 2 and len(spec["axes"]["lr"]) >= 3
    keys = {r.key for r in huang2021.spec("quick").runs()}
    assert {r.key for r in SweepSpec.from_dict(spec).runs()} <= keys  # the quick grid's runs
    run_sweep(spec, tmp_path, progress=False)
    table = huang2021.tau_table(load(tmp_path))
    ratios = table["ratio"].to_numpy()
    assert not np.isnan(ratios).any()  # orthogonal got there in every cell
    assert np.median(ratios) > 1, table


@pytest.mark.slow
def test_reproduce_huang2021_quick(tmp_path):
    """The whole quick grid (a few minutes on 2 cores)."""
    result = reproduce("huang2021", tmp_path, progress=False)
    assert result.summary.failures == 0 and len(result.analysis.claims) == 6 + len(
        huang2021_training.CHECKS
    )
    verdicts = {c.claim: c.verdict for c in result.analysis.claims}
    assert verdicts[huang2021.FASTER.claim] in ("reproduced", "inconclusive")
    slopes = result.analysis.findings["distance_slopes"]
    assert all(-0.8 < s < -0.3 for s in slopes.values())
    for figure in result.analysis.figures:
        assert _is_png(figure)


@pytest.mark.slow
def test_reproduce_sokol2020_quick(tmp_path, capsys):
    """The whole quick grid through the CLI (a couple of minutes on 2 cores)."""
    assert main(["reproduce", "sokol2020", "--quick", "--out", str(tmp_path), "--no-progress"]) == 0
    report = (tmp_path / "report.md").read_text()
    assert len(_claims(report)) == len(sokol2020.CHECKS) and "## Choices" in report
    frame = load(tmp_path)
    assert len(frame) == 3 * 2 * len(sokol2020.QUICK.lrs) * len(sokol2020.QUICK.seeds)
    assert not frame["diverged"].any()
    for name in (
        "fisher_vs_jacobian",
        "fisher_vs_q",
        "training_loss",
        "test_accuracy",
        "fisher_during_training",
    ):
        assert _is_png(tmp_path / "figures" / f"{name}.png")
    at_init = next((tmp_path / "tables").glob("at_init-*.parquet"))
    assert at_init.is_file()
    assert math.isfinite(float(np.median(frame["final_loss"])))
