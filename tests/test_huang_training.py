"""Huang et al. 2021's training experiments (:mod:`deeplinear.experiments.huang2021_training`):
the τ definitions against the engine, the paper's squared loss by hand, the checks on synthetic
frames built to hold, to fail and to be undecidable, and a tiny end-to-end run."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import deeplinear as dl
from deeplinear.experiments import huang2021_training as ht
from deeplinear.experiments.rules import decide_all

#: A tiny size: two parity panels, an SGD run and a width line, seconds on one core.
TINY = ht.Grid(
    parity=(ht.PANEL_AB.scaled(8, 20, 5), replace(ht.PANEL_CD.scaled(6, 20, 5), depth=2)),
    sgd=replace(ht.SGD_AB.scaled(8, 12, 4, batch_size=32), depth=2),
    rmsprop=replace(ht.RMSPROP_CD.scaled(8, 12, 4, batch_size=32), depth=2),
    seeds=(0, 1, 2),
    line=ht.Line(
        widths=(4, 8), lrs=(0.1, 0.02), seeds=(0, 1, 2), batch_size=32, n=128, cap=12, depth=3
    ),
    n=48,
    n_test=32,
    sgd_n=128,
)


def test_tau_is_the_first_column_strictly_above_the_target() -> None:
    accuracy = np.array([[0.1, 0.25, 0.26, 0.9], [0.3, 0.1, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25]])
    assert ht.tau_from_accuracy(accuracy).tolist() == [2, 0, -1]


def test_width_line_train_tau_is_the_engines_steps_to_accuracy() -> None:
    """The chunked run's train τ equals one long call stopped by target_accuracy > 25 %."""
    line = TINY.line
    split = ht._split(None, line.n, 64)
    width, lr = 8, 0.1
    train_tau, test_tau, diverged = ht._line_taus(line, width, lr, "orthogonal", split, 0)
    dims = [64, *([width] * line.depth), 10]
    weights, biases = ht._nets(dims, "orthogonal", line.seeds, ht.LINE_SIGMA_W2, ht.LINE_SIGMA_B2)
    options = {
        "biases": biases,
        "lr": lr,
        "steps": line.cap,
        "activation": "tanh",
        "loss": "cross_entropy",
        "optimizer": "sgd",
        "batch_size": line.batch_size,
        "data_seed": list(line.seeds),
    }
    engine = dl.train(
        weights,
        split.X.astype(np.float32),
        split.y,
        **options,
        target_accuracy=float(np.nextafter(0.25, 1.0)),
    )
    assert not diverged.any()
    assert train_tau.tolist() == engine.steps_to_accuracy.tolist()
    # The test τ by hand: test accuracy after every step of one long call.
    long = dl.train(
        weights,
        split.X.astype(np.float32),
        split.y,
        **options,
        eval_data=(split.X_test.astype(np.float32), split.y_test),
        record=["test_accuracy"],
    )
    accuracy = long.records["test_accuracy"]
    expected = [next((k for k, a in enumerate(row) if a > 0.25), -1) for row in accuracy]
    found = test_tau.tolist()
    # The chunked run stops once every net has both τ: compare where it ran that far.
    assert all(f == e for f, e in zip(found, expected, strict=True) if f >= 0)


def _forward(weights, biases, X):
    h = X
    for j, (w, b) in enumerate(zip(weights, biases, strict=True)):
        z = w @ h + b[:, None]
        h = np.tanh(z) if j < len(weights) - 1 else z
    return h


def test_parity_loss_is_the_papers_squared_loss() -> None:
    """Step 0 of train_loss is mean over examples of Σ over classes (y − f)² (no ½), and one
    GD step with the paper's η is W ← W − η ∂(paper loss)/∂W."""
    grid = replace(TINY, parity=(replace(TINY.parity[0], steps=1, record_every=1),), seeds=(3,))
    table = ht.parity_table(grid)
    row = table[table["init"] == "gaussian"].iloc[0]
    split = ht._split(None, grid.n, grid.n_test)
    setup = grid.parity[0]
    dims = [64, *([setup.width] * setup.depth), 10]
    weights, biases = ht._nets(dims, "gaussian", (3,), setup.sigma_w2, setup.sigma_b2)
    w = [a[0].astype(np.float64) for a in weights]
    b = [a[0].astype(np.float64) for a in biases]
    Y = dl.data.one_hot(split.y, 10)
    f = _forward(w, b, split.X)
    paper = float(np.mean(np.sum((Y - f) ** 2, axis=0)))
    assert row["train_loss"][0] == pytest.approx(paper, rel=1e-4)
    # After one step at the paper's η the loss falls by about η‖∇ℓ_paper‖² (first order), so a
    # step twice too large or too small would be caught: check against a finite difference.
    eps = 1e-4
    grad_first = np.zeros_like(w[-1])
    for i in range(grad_first.shape[0]):
        for k in range(0, grad_first.shape[1], max(1, grad_first.shape[1] // 3)):
            wp = [a.copy() for a in w]
            wp[-1][i, k] += eps
            fp = _forward(wp, b, split.X)
            grad_first[i, k] = (np.mean(np.sum((Y - fp) ** 2, axis=0)) - paper) / eps
    trained = dl.train(
        weights,
        split.X.astype(np.float32),
        dl.data.one_hot(split.y, 10).astype(np.float32),
        biases=biases,
        lr=2.0 * setup.lr,
        steps=1,
        activation="tanh",
        reduction="mean",
    )
    moved = (w[-1] - trained.weights[-1][0].astype(np.float64)) / setup.lr
    mask = grad_first != 0
    assert np.allclose(moved[mask], grad_first[mask], rtol=2e-2, atol=2e-3)


# --- checks on synthetic frames -------------------------------------------------------------


def _parity_frame(orthogonal_factor: float, final: float = 0.1, seeds: int = 5) -> pd.DataFrame:
    """Curves per init and seed: Gaussian's loss falls from 4 to ``final``, orthogonal's is
    ``orthogonal_factor`` times it; accuracies rise alike."""
    rng = np.random.default_rng(0)
    steps = np.linspace(0.0, 1.0, 11)
    rows = []
    for panel in ("a, b", "c, d"):
        for kind in ht.INITS:
            factor = 1.0 if kind == "gaussian" else orthogonal_factor
            for seed in range(seeds):
                loss = 4.0 * (final / 4.0) ** steps * factor * (1 + 0.01 * rng.standard_normal())
                accuracy = np.clip(0.1 + 0.9 * steps / factor, 0, 1)
                rows.append(
                    {
                        "panel": panel,
                        "init": kind,
                        "seed": seed,
                        "steps": 100,
                        "width": 8,
                        "lr": 1e-3,
                        "train_loss": loss,
                        "train_accuracy": accuracy,
                        "test_loss": loss,
                        "test_accuracy": 0.8 * accuracy,
                    }
                )
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("factor", "final", "expected"),
    [(1.0, 0.1, "reproduced"), (0.5, 0.1, "not reproduced"), (1.0, 3.9, "inconclusive")],
)
def test_parity_checks(factor: float, final: float, expected: str) -> None:
    frames = ht.sources({"parity": _parity_frame(factor, final), "sgd": _parity_frame(1.0)})
    for check in ht.PARITY_CHECKS:
        assert check.decide(frames[check.source]).verdict == expected


def _change_frame(slopes: tuple[float, ...], orthogonal_shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for kind in ht.INITS:
        for width in (16, 32, 64, 128, 256, 512):
            for seed in range(3):
                row = {"init": kind, "width": width, "seed": seed}
                for j, slope in enumerate(slopes):
                    s = slope + (orthogonal_shift if kind == "orthogonal" else 0.0)
                    row[f"weight_change_{j + 1}"] = width**s * (1 + 0.02 * rng.standard_normal())
                rows.append(row)
    return pd.DataFrame(rows)


def test_weight_change_checks() -> None:
    paper = _change_frame((-0.5, -1.0, -1.0, -0.5))
    found = [c.verdict for c in decide_all(ht.WEIGHT_CHECKS, {"kernel_change": paper})]
    assert found == ["reproduced", "reproduced"]
    flat = _change_frame((0.0, 0.0, 0.0, 0.0), orthogonal_shift=-0.5)
    found = [c.verdict for c in decide_all(ht.WEIGHT_CHECKS, {"kernel_change": flat})]
    assert found == ["not reproduced", "not reproduced"]


def _line_frame(gaussian: float, orthogonal: float) -> pd.DataFrame:
    """τ per init around the given value (−1: never) on a 2 × 2 line with 4 seeds."""

    def tau(v: float, s: int, extra: int) -> int:
        return -1 if v < 0 else int(v * (1 + 0.1 * s)) + extra

    rows = [
        {
            "depth": 50,
            "width": w,
            "lr": lr,
            "init": kind,
            "seed": s,
            "cap": 100,
            "tau_train": tau(v, s, 0),
            "tau_test": tau(v, s, 1),
        }
        for w in (16, 32)
        for lr in (0.1, 0.01)
        for kind, v in (("gaussian", gaussian), ("orthogonal", orthogonal))
        for s in range(4)
    ]
    return pd.DataFrame(rows)


def test_width_line_checks() -> None:
    faster = decide_all(ht.WIDTH_LINE_CHECKS, {"width_line": _line_frame(60, 20)})
    assert [c.verdict for c in faster] == ["reproduced", "reproduced"]
    slower = decide_all(ht.WIDTH_LINE_CHECKS, {"width_line": _line_frame(20, 60)})
    assert [c.verdict for c in slower] == ["not reproduced", "not reproduced"]
    never = decide_all(ht.WIDTH_LINE_CHECKS, {"width_line": _line_frame(-1, -1)})
    assert never[0].verdict == "inconclusive"  # orthogonal never got there: not testable


def test_tiny_end_to_end(tmp_path) -> None:
    """Every table, claim, figure and section at a tiny size; the tables are seed-level."""
    import deeplinear.experiments.huang2021 as huang

    tables = {m.name: m.compute() for m in ht.measurements_for(TINY)}
    tables["kernel_change"] = huang.kernel_change_table(
        replace(huang.QUICK, change_widths=(8, 16, 32), change_seeds=(0, 1), change_steps=5)
    )
    assert set(tables["parity"]["panel"]) == {"a, b", "c, d"}
    assert tables["parity"].groupby(["panel", "init"]).size().eq(3).all()
    assert (tables["width_line"]["tau_train"] >= -1).all()
    claims = ht.claims(tables)
    assert len(claims) == len(ht.CHECKS)
    assert all(c.rule and c.interval for c in claims)
    paths = ht.figures(tables, tmp_path)
    assert all(p.stat().st_size > 10_000 for p in paths)
    text = "\n".join(body for _, body in ht.sections(tables))
    assert "0.038 / 0.035" in text  # the paper's numbers beside ours
    assert ht.observations(tables)


def test_quick_sizes_are_stated() -> None:
    assert ht.QUICK.parity[0].lr * ht.QUICK.parity[0].width == pytest.approx(1e-3 * 400)
    assert ht.FULL.parity[0].width == 400 and ht.FULL.parity[1].width == 800
    assert math.isclose(ht.FULL.sgd.lr, 1e-3) and ht.FULL.sgd.batch_size == 1000


def test_a_data_file_is_split_as_the_paper(tmp_path) -> None:
    """Pixels / 255, the first n to train; its own test set if it has one, else the examples
    after the first n."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (40, 4, 4, 3), dtype=np.uint8)
    with_test = tmp_path / "with_test.npz"
    np.savez(with_test, X=X, y=np.arange(40) % 10, X_test=X[:12], y_test=np.arange(12) % 10)
    split = ht._split(with_test, 16, 8)
    assert split.X.shape == (48, 16) and split.X_test.shape == (48, 8)
    assert split.X.max() <= 1.0 and np.allclose(split.X_test * 255, X[:8].reshape(8, -1).T)
    without = tmp_path / "without.npz"
    np.savez(without, X=X, y=np.arange(40) % 10)
    split = ht._split(without, 16, 100)
    assert (
        split.X_test.shape == (48, 24)
        and split.y_test.tolist() == (np.arange(16, 40) % 10).tolist()
    )
    with pytest.raises(dl.DeeplinearError, match="no test set"):
        ht._split(without, 40, 8)


def test_the_rmsprop_panel_runs_only_where_the_engine_has_rmsprop() -> None:
    grid = replace(TINY, rmsprop=replace(TINY.rmsprop.scaled(8, 12, 4, batch_size=32), depth=2))
    table = ht.sgd_table(grid)
    panels = set(table["panel"])
    if ht.has_rmsprop():
        assert panels == {ht.SGD_AB.panel, ht.RMSPROP_CD.panel}
        rms = table[table["panel"] == ht.RMSPROP_CD.panel]
        assert rms["lr"].iloc[0] == pytest.approx(1e-5 * 1600 / 8)
        assert ht.RMSPROP_CHECK in ht.CHECKS
    else:
        assert panels == {ht.SGD_AB.panel}
        assert ht.RMSPROP_CHECK not in ht.CHECKS
        tables = {"parity": ht.parity_table(TINY), "sgd": table}
        tables["width_line"] = _line_frame(20, 10)
        tables["width_line"][["batch_size", "n", "n_test"]] = [32, 128, 64]
        tables["kernel_change"] = _change_frame((-0.5, -1.0, -1.0, -0.5))
        text = "\n".join(body for _, body in ht.sections(tables))
        assert "not run: needs rmsprop (issue 17)" in text
