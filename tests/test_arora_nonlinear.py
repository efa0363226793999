"""Arora et al. 2019, Fig. 2 (d) (:mod:`deeplinear.experiments.arora2019_nonlinear`): the inits
the table uses, its checks on synthetic frames built to hold and to fail, and a tiny run."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from deeplinear.experiments import arora2019_nonlinear as an
from deeplinear.experiments.rules import decide_all

TINY = an.Grid(stds=(0.1, 1.0, 10.0), seeds=(0, 1, 2), n=300, steps=20)


def test_balanced_weights_multiply_to_the_drawn_end_to_end_matrix() -> None:
    """Procedure 1 ignoring the ReLUs: W3·W2·W1 is the Gaussian end-to-end matrix A (its
    entries have std ``std``), and the layers are balanced."""
    dims = [64, *an.HIDDEN, 10]
    weights = an._weights("balanced", dims, 0.5, tuple(range(40)))
    product = np.einsum("bij,bjk,bkl->bil", *(w.astype(np.float64) for w in weights[::-1]))
    assert product.shape == (40, 10, 64)
    assert abs(product.std() - 0.5) < 0.02
    for lower, upper in zip(weights[:-1], weights[1:], strict=False):
        gap = np.einsum("bji,bjk->bik", upper, upper) - np.einsum("bij,bkj->bik", lower, lower)
        assert np.abs(gap).max() < 1e-4
    gaussian = an._weights("gaussian", dims, 0.5, (0,))
    assert abs(float(gaussian[0].std()) - 0.5) < 0.02


def _frame(gaussian: list[float], balanced: list[float], seeds: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    stds = [0.01, 0.1, 1.0, 10.0][: len(gaussian)]
    rows = [
        {
            "init": kind,
            "std": std,
            "seed": s,
            "final_loss": v * (1 + 0.02 * rng.standard_normal()) if math.isfinite(v) else v,
        }
        for kind, values in (("gaussian", gaussian), ("balanced", balanced))
        for std, v in zip(stds, values, strict=True)
        for s in range(seeds)
    ]
    return pd.DataFrame(rows)


def test_checks_hold_when_balanced_is_lower_and_trains_at_more_stds() -> None:
    frame = _frame([2.3, 1.5, 0.3, math.inf], [1.0, 0.5, 0.2, 0.3])
    assert [c.verdict for c in decide_all(an.CHECKS, {"nonlinear": frame})] == [
        "reproduced",
        "reproduced",
    ]


def test_checks_fail_when_gaussian_is_lower_and_trains_at_more_stds() -> None:
    frame = _frame([0.5, 0.3, 0.2, 0.4], [2.3, 2.3, 0.3, 2.0])
    assert [c.verdict for c in decide_all(an.CHECKS, {"nonlinear": frame})] == [
        "not reproduced",
        "not reproduced",
    ]


def test_tiny_run(tmp_path) -> None:
    (measurement,) = an.measurements("quick")
    assert measurement.params["lr"] == 0.01 and measurement.params["batch"] == 100
    table = an.loss_table(TINY)
    assert len(table) == 2 * len(TINY.stds) * len(TINY.seeds)
    assert table["n"].iloc[0] == 300 and (table["record_every"] == 2).all()
    # The loss at step 0 is the whole training set's mean cross-entropy: by hand in NumPy.
    row = table[(table["init"] == "balanced") & (table["std"] == 1.0)].iloc[1]
    assert row["final_loss"] == row["loss_curve"][-1]
    X, y, _ = an._data(TINY, None)
    weights = an._weights("balanced", [64, *an.HIDDEN, 10], 1.0, TINY.seeds)
    h = X
    for j, w in enumerate(weights):
        h = w[1].astype(np.float64) @ h
        h = np.maximum(h, 0.0) if j < len(weights) - 1 else h
    shifted = h - h.max(axis=0)
    loss = float(np.mean(np.log(np.exp(shifted).sum(axis=0)) - shifted[y, np.arange(y.size)]))
    assert math.isclose(row["loss_curve"][0], loss, rel_tol=1e-4)
    claims = an.claims({"nonlinear": table})
    assert len(claims) == 2 and all(c.rule for c in claims)
    (path,) = an.figures({"nonlinear": table}, tmp_path)
    assert path.stat().st_size > 10_000
    assert "median loss balanced" in an.sections({"nonlinear": table})[0][1]
