"""Divergence and early stopping: per-network, silent, and exactly as the reference defines."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import deeplinear as dl
from deeplinear import reference as ref
from helpers import assert_losses_close, assert_weights_close, random_weights, stable_lr


def _mixed_problem(dtype=np.float64):
    rng = np.random.default_rng(31)
    dims = [4, 6, 6, 3]
    weights = random_weights(rng, dims, 5, dtype=dtype)
    X = (rng.standard_normal((4, 8)) / math.sqrt(8)).astype(dtype)
    Y = rng.standard_normal((3, 8)).astype(dtype)
    safe = stable_lr(weights, X, Y, 1.0)
    # Networks 1 and 3 get absurd step sizes and must blow up; the others converge.
    lr = np.array([0.5 * safe[0], 1e6, 0.3 * safe[2], 1e3, 0.0])
    return weights, X, Y, lr


def _first_nonfinite(row: np.ndarray) -> int:
    bad = np.flatnonzero(~np.isfinite(row))
    return int(bad[0]) if bad.size else -1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_some_diverge_others_converge(dtype: type) -> None:
    weights, X, Y, lr = _mixed_problem(dtype)
    steps = 40
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning (overflow/invalid) may escape
        got = dl.train(weights, X, Y, lr=lr, steps=steps)
        want = ref.train(weights, X, Y, lr=lr, steps=steps)
    expected = np.array([False, True, False, True, False])
    assert np.array_equal(want.diverged, expected)  # the problem is set up as intended
    assert np.array_equal(got.diverged, expected)
    assert np.array_equal(got.steps_to_tol, [-1] * 5)

    ok = ~expected
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    assert_losses_close(got.loss[ok], want.loss[ok], rtol)
    assert_weights_close(got.weights, want.weights, rtol, rows=ok)
    assert np.all(np.isfinite(got.loss[ok])) and np.all(np.isfinite(got.final_loss[ok]))
    assert got.loss[0, -1] < got.loss[0, 0] and got.loss[2, -1] < got.loss[2, 0]

    for b in np.flatnonzero(expected):
        row = got.loss[b]
        t = _first_nonfinite(row)
        assert t > 0, "the initial loss is finite"
        assert t == _first_nonfinite(want.loss[b]), "diverges at the same step as the reference"
        assert np.all(np.isfinite(row[:t]))
        assert not np.any(np.isfinite(row[t:])), "every record after divergence is non-finite"
        assert not math.isfinite(got.final_loss[b])
        # The loss blows up: the last finite record is far above the start.
        assert row[t - 1] > row[0] or t == 1


def test_diverging_neighbour_does_not_change_a_network() -> None:
    """Each network's result is bit-identical whether or not it shares a batch with a diverger."""
    weights, X, Y, lr = _mixed_problem()
    batch = dl.train(weights, X, Y, lr=lr, steps=30, threads=2)
    for b in (0, 2):
        alone = dl.train([w[b : b + 1] for w in weights], X, Y, lr=lr[b : b + 1], steps=30)
        assert np.array_equal(alone.loss[0], batch.loss[b])
        for a, w in zip(alone.weights, batch.weights):
            assert np.array_equal(a[0], w[b])


def test_divergence_record_every_fills_later_columns() -> None:
    weights, X, Y, lr = _mixed_problem()
    got = dl.train(weights, X, Y, lr=lr, steps=40, record_every=3)
    want = ref.train(weights, X, Y, lr=lr, steps=40, record_every=3)
    assert got.loss.shape == (5, 14)
    assert np.array_equal(got.diverged, want.diverged)
    for b in np.flatnonzero(want.diverged):
        t = _first_nonfinite(want.loss[b])
        assert _first_nonfinite(got.loss[b]) == t
        assert not np.any(np.isfinite(got.loss[b, t:]))


def test_immediately_non_finite_start() -> None:
    """A network whose initial weights hold inf is diverged at t = 0 with a non-finite row."""
    rng = np.random.default_rng(0)
    weights = random_weights(rng, [2, 3, 2], 3)
    weights[0][1, 0, 0] = np.inf
    X, Y = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = dl.train(weights, X, Y, lr=0.01, steps=5)
    assert np.array_equal(res.diverged, [False, True, False])
    assert not np.any(np.isfinite(res.loss[1]))
    assert np.all(np.isfinite(res.loss[[0, 2]]))
    # A diverged network stops where it was: its weights are the initial ones.
    for w_out, w_in in zip(res.weights, weights):
        assert np.array_equal(w_out[1], w_in[1])


# ----------------------------------------------------------------------------------------------
# tolerance


def _converging_problem(batch: int = 4):
    rng = np.random.default_rng(8)
    dims = [3, 5, 3]
    weights = random_weights(rng, dims, batch)
    X = np.eye(3)
    Y = rng.standard_normal((3, 3))
    lr = 0.5 * stable_lr(weights, X, Y, 1.0)
    return weights, X, Y, lr


def test_tol_freezes_and_matches_reference() -> None:
    weights, X, Y, lr = _converging_problem()
    loss0 = ref.loss(weights, X, Y)
    tol = float(0.2 * loss0.min())
    got = dl.train(weights, X, Y, lr=lr, steps=200, tol=tol, record_every=2)
    want = ref.train(weights, X, Y, lr=lr, steps=200, tol=tol, record_every=2)
    assert np.all(want.steps_to_tol > 0)  # set up so that every network reaches tol
    assert np.array_equal(got.steps_to_tol, want.steps_to_tol)
    assert not np.any(got.diverged)
    assert_losses_close(got.loss, want.loss, 1e-10)
    assert_losses_close(got.final_loss, want.final_loss, 1e-10, "final_loss")
    assert_weights_close(got.weights, want.weights, 1e-10)
    for b, t in enumerate(got.steps_to_tol):
        assert got.final_loss[b] <= tol
        # Every record after the stop repeats the stopping loss.
        assert np.all(got.loss[b, t // 2 + 1 :] == got.final_loss[b])
        if t % 2 == 0:
            assert got.loss[b, t // 2] == got.final_loss[b]
        # Records before the stop are above tol (tol is reached for the first time at t).
        assert np.all(got.loss[b, : (t - 1) // 2 + 1] > tol)


def test_tol_stop_equals_training_exactly_that_many_steps() -> None:
    """Weights frozen at steps_to_tol are the weights after exactly that many steps."""
    weights, X, Y, lr = _converging_problem(batch=3)
    tol = float(0.3 * ref.loss(weights, X, Y).min())
    stopped = dl.train(weights, X, Y, lr=lr, steps=500, tol=tol)
    for b, t in enumerate(stopped.steps_to_tol):
        assert t > 0
        plain = dl.train([w[b : b + 1] for w in weights], X, Y, lr=lr[b : b + 1], steps=int(t))
        assert plain.final_loss[0] == stopped.final_loss[b]
        for a, w in zip(plain.weights, stopped.weights):
            assert np.array_equal(a[0], w[b])


def test_tol_reached_at_start_and_never() -> None:
    weights, X, Y, lr = _converging_problem(batch=2)
    loss0 = ref.loss(weights, X, Y)
    res = dl.train(weights, X, Y, lr=lr, steps=10, tol=float(loss0.max() * 1.01))
    assert np.array_equal(res.steps_to_tol, [0, 0])
    assert np.all(res.loss == res.loss[:, :1])
    for a, w in zip(res.weights, weights):
        assert np.array_equal(a, w)
    never = dl.train(weights, X, Y, lr=lr, steps=10, tol=0.0)
    assert np.array_equal(never.steps_to_tol, [-1, -1])
    assert never.steps_to_tol.dtype == np.int64


def test_exact_fit_reaches_tol_zero() -> None:
    """Zero residual at the start (Y = f(X)) satisfies tol = 0 at t = 0."""
    # Small integers: every product and sum is exact in any order (with or without FMA).
    # n ≤ d_0 so that no data reduction (a QR, exact only up to rounding) takes place.
    weights = [np.array([[[1.0, 2.0], [3.0, -1.0]]]), np.array([[[2.0, -1.0]]])]
    X = np.array([[1.0, -2.0], [3.0, 1.0]])
    Y = weights[1][0] @ weights[0][0] @ X
    res = dl.train(weights, X, Y, lr=0.1, steps=5, tol=0.0)
    assert res.steps_to_tol[0] == 0 and res.final_loss[0] == 0.0
    assert np.array_equal(res.loss, np.zeros((1, 6)))
