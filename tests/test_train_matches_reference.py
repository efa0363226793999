"""The Rust training engine agrees with the NumPy reference (and with closed forms)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray

import deeplinear as dl
from deeplinear import reference as ref
from helpers import (
    assert_losses_close,
    assert_results_identical,
    assert_weights_close,
    check_result_layout,
    random_weights,
    stable_lr,
)

RTOL = {np.float64: 1e-10, np.float32: 1e-4}


@dataclass
class Problem:
    """One drawn training problem (inputs and keyword arguments of ``train``)."""

    weights: list[NDArray]
    X: NDArray
    Y: NDArray
    kwargs: dict

    @property
    def batch(self) -> int:
        return self.weights[0].shape[0]


@st.composite
def problems(draw: st.DrawFn, dtype: type = np.float64) -> Problem:
    """Small problems: depth 1..6, widths 1..9 (rectangular, tall/wide ends), batch 1..4."""
    depth = draw(st.integers(1, 6))
    dims = draw(st.lists(st.integers(1, 9), min_size=depth + 1, max_size=depth + 1))
    batch = draw(st.integers(1, 4))
    x_kind = draw(st.sampled_from(["shared", "per_network", "identity"]))
    y_kind = draw(st.sampled_from(["shared", "per_network"]))
    n = dims[0] if x_kind == "identity" else draw(st.integers(1, 12))
    alpha = draw(
        st.sampled_from([1.0, 0.5, -1.3, 0.0, dl.fanout_alpha(dims)]) | st.floats(0.2, 3.0)
    )
    scale = draw(st.floats(0.5, 1.5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    weights = random_weights(rng, dims, batch, dtype=dtype, scale=scale)
    if x_kind == "identity":
        X = np.eye(dims[0], dtype=dtype)
    elif x_kind == "shared":
        X = (rng.standard_normal((dims[0], n)) / math.sqrt(n)).astype(dtype)
    else:
        X = (rng.standard_normal((batch, dims[0], n)) / math.sqrt(n)).astype(dtype)
    y_shape = (dims[-1], n) if y_kind == "shared" else (batch, dims[-1], n)
    Y = rng.standard_normal(y_shape).astype(dtype)

    # Learning rate: a fraction of a per-network stability bound (0 allowed), scalar or per net.
    per_net = stable_lr(weights, X, Y, alpha)
    fracs = draw(
        st.lists(st.sampled_from([0.0]) | st.floats(0.01, 0.9), min_size=batch, max_size=batch)
    )
    lr: float | NDArray
    lr = float(fracs[0] * per_net.min()) if draw(st.booleans()) else np.asarray(fracs) * per_net

    steps = draw(st.integers(0, 20))
    record_every = draw(st.integers(1, 5))
    tol = None
    if draw(st.booleans()):
        loss0 = ref.loss(weights, X, Y, alpha)
        tol = float(draw(st.floats(0.05, 0.95)) * loss0.min())
    kwargs = {"lr": lr, "steps": steps, "alpha": alpha, "tol": tol, "record_every": record_every}
    return Problem(weights, X, Y, kwargs)


def _copies(p: Problem) -> tuple[list[NDArray], NDArray, NDArray, object]:
    lr = p.kwargs["lr"]
    return [w.copy() for w in p.weights], p.X.copy(), p.Y.copy(), np.copy(lr)


def _check_against_reference(p: Problem, dtype: type) -> None:
    w0, x0, y0, lr0 = _copies(p)
    got = dl.train(p.weights, p.X, p.Y, **p.kwargs)
    want = ref.train(p.weights, p.X, p.Y, **p.kwargs)

    ncols = p.kwargs["steps"] // p.kwargs["record_every"] + 1
    check_result_layout(got, p.batch, ncols, p.weights)
    rtol = RTOL[dtype]
    assert np.array_equal(got.diverged, want.diverged)
    assert np.array_equal(got.steps_to_tol, want.steps_to_tol)
    assert_losses_close(got.loss, want.loss, rtol)
    assert_losses_close(got.final_loss, want.final_loss, rtol, "final_loss")
    assert_weights_close(got.weights, want.weights, rtol, rows=~want.diverged)

    # Inputs untouched.
    for w, w_copy in zip(p.weights, w0):
        assert np.array_equal(w, w_copy)
    assert np.array_equal(p.X, x0) and np.array_equal(p.Y, y0)
    assert np.array_equal(p.kwargs["lr"], lr0)
    # The outputs are new arrays, not the inputs.
    for w_out, w_in in zip(got.weights, p.weights):
        assert not np.shares_memory(w_out, w_in)


@given(problems(np.float64))
def test_train_matches_reference_f64(p: Problem) -> None:
    _check_against_reference(p, np.float64)


@given(problems(np.float32))
def test_train_matches_reference_f32(p: Problem) -> None:
    _check_against_reference(p, np.float32)


@given(problems(np.float64))
def test_thread_count_does_not_change_results(p: Problem) -> None:
    one = dl.train(p.weights, p.X, p.Y, threads=1, **p.kwargs)
    two = dl.train(p.weights, p.X, p.Y, threads=2, **p.kwargs)
    assert_results_identical(one, two)


def test_thread_count_and_batching_bit_identical_large_batch() -> None:
    """A batch big enough to spread over threads: any thread count, any split, same bits."""
    rng = np.random.default_rng(7)
    dims = [6, 9, 5, 9, 4]
    weights = random_weights(rng, dims, 24)
    X = rng.standard_normal((6, 7)) / math.sqrt(7)
    Y = rng.standard_normal((4, 7))
    lr = 0.3 * stable_lr(weights, X, Y, 1.0)
    kw = {"lr": lr, "steps": 15, "record_every": 2}
    base = dl.train(weights, X, Y, threads=1, **kw)
    for threads in (2, 3, None):
        assert_results_identical(base, dl.train(weights, X, Y, threads=threads, **kw))
    # Splitting the batch into two calls gives the same bits as one call.
    half = [w[:10] for w in weights]
    first = dl.train(half, X, Y, lr=lr[:10], steps=15, record_every=2, threads=2)
    assert np.array_equal(first.loss, base.loss[:10])
    for a, b in zip(first.weights, base.weights):
        assert np.array_equal(a, b[:10])
    want = ref.train(weights, X, Y, **kw)
    assert_losses_close(base.loss, want.loss, 1e-10)
    assert_weights_close(base.weights, want.weights, 1e-10)


# ----------------------------------------------------------------------------------------------
# Closed forms (independent of the reference implementation)


def test_scalar_depth_one_closed_form() -> None:
    """L = 1, 1x1: w <- w - lr * a * x * (a w x - y); loss = (a w x - y)^2 / 2."""
    w0, x, y, a, lr, steps = 0.3, 1.7, -0.4, 0.8, 0.2, 12
    w, losses = w0, []
    for _ in range(steps + 1):
        e = a * w * x - y
        losses.append(0.5 * e * e)
        w = w - lr * a * x * e
    w_final = w0
    for _ in range(steps):
        w_final -= lr * a * x * (a * w_final * x - y)
    res = dl.train(
        [np.array([[[w0]]])], np.array([[x]]), np.array([[y]]), lr=lr, steps=steps, alpha=a
    )
    np.testing.assert_allclose(res.loss[0], losses, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(res.weights[0][0, 0, 0], w_final, rtol=1e-13)
    assert res.final_loss[0] == pytest.approx(losses[-1], rel=1e-13, abs=1e-15)
    assert res.steps_to_tol[0] == -1 and not res.diverged[0]


def test_scalar_depth_two_closed_form() -> None:
    """L = 2, 1x1 layers: both layers updated from the same iterate (simultaneous update)."""
    w1, w2, x, y, a, lr, steps = 0.9, -0.6, 1.1, 0.7, 1.0, 0.1, 25
    losses = []
    for t in range(steps + 1):
        e = a * w2 * w1 * x - y
        losses.append(0.5 * e * e)
        if t < steps:
            g1, g2 = a * w2 * x * e, a * w1 * x * e
            w1, w2 = w1 - lr * g1, w2 - lr * g2
    res = dl.train(
        [np.array([[[0.9]]]), np.array([[[-0.6]]])],
        np.array([[x]]),
        np.array([[y]]),
        lr=lr,
        steps=steps,
        alpha=a,
    )
    np.testing.assert_allclose(res.loss[0], losses, rtol=1e-12)
    assert res.weights[0][0, 0, 0] == pytest.approx(w1, rel=1e-12)
    assert res.weights[1][0, 0, 0] == pytest.approx(w2, rel=1e-12)


def test_target_matrix_form_matches_direct_formula() -> None:
    """X = I: loss = |a W_L...W_1 - Phi|^2 / 2 and the first step matches the gradient of
    docs/science.md."""
    rng = np.random.default_rng(3)
    dims = [5, 7, 3, 5]
    weights = random_weights(rng, dims, 2)
    phi = rng.standard_normal((5, 5))
    a, lr = 0.7, 1e-3
    res = dl.train(weights, np.eye(5), phi, lr=lr, steps=1, alpha=a)
    for b in range(2):
        w1, w2, w3 = (w[b] for w in weights)
        e = a * w3 @ w2 @ w1 - phi
        assert res.loss[b, 0] == pytest.approx(0.5 * np.sum(e**2), rel=1e-13)
        # dl/dW_j = a W_{L:j+1}^T E X^T W_{j-1:1}^T with X = I.
        grads = [a * (w3 @ w2).T @ e, a * w3.T @ e @ w1.T, a * e @ (w2 @ w1).T]
        for j, g in enumerate(grads):
            np.testing.assert_allclose(
                res.weights[j][b], weights[j][b] - lr * g, rtol=1e-12, atol=1e-14
            )


def test_loss_columns_follow_record_every() -> None:
    """Column k is the loss after k * record_every steps (steps not a multiple of it too)."""
    rng = np.random.default_rng(11)
    dims = [3, 4, 2]
    weights = random_weights(rng, dims, 3)
    X, Y = rng.standard_normal((3, 5)), rng.standard_normal((2, 5))
    lr = 0.5 * stable_lr(weights, X, Y, 1.0)
    full = dl.train(weights, X, Y, lr=lr, steps=11, record_every=1)
    sparse = dl.train(weights, X, Y, lr=lr, steps=11, record_every=4)
    assert sparse.loss.shape == (3, 3)
    assert np.array_equal(sparse.loss, full.loss[:, [0, 4, 8]])
    assert np.array_equal(sparse.final_loss, full.loss[:, 11])
    assert np.array_equal(sparse.final_loss, full.final_loss)
    for a, b in zip(sparse.weights, full.weights):
        assert np.array_equal(a, b)
    # The loss decreases under a stable step size (GD on a smooth function, lr < 1/H).
    assert np.all(np.diff(full.loss, axis=1) <= 0)


def test_steps_zero_returns_initial_state() -> None:
    rng = np.random.default_rng(5)
    weights = random_weights(rng, [2, 3, 4], 2)
    X, Y = rng.standard_normal((2, 3)), rng.standard_normal((4, 3))
    res = dl.train(weights, X, Y, lr=0.1, steps=0)
    assert res.loss.shape == (2, 1)
    np.testing.assert_allclose(res.loss[:, 0], ref.loss(weights, X, Y), rtol=1e-13)
    for a, b in zip(res.weights, weights):
        assert np.array_equal(a, b)


def test_lr_zero_keeps_weights() -> None:
    rng = np.random.default_rng(6)
    weights = random_weights(rng, [3, 3, 3], 2)
    X, Y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    res = dl.train(weights, X, Y, lr=np.array([0.0, 0.0]), steps=5)
    for a, b in zip(res.weights, weights):
        assert np.array_equal(a, b)
    assert np.all(res.loss == res.loss[:, :1])


@pytest.mark.slow
def test_train_matches_reference_wider_shapes() -> None:
    """Wider layers (blocked kernel paths) and longer runs than the property tests use."""
    rng = np.random.default_rng(2024)
    for dims, n in (([33, 64, 17, 65, 9], 40), ([128, 96, 130], 20), ([1, 70, 70, 1], 3)):
        weights = random_weights(rng, dims, 3)
        X = rng.standard_normal((dims[0], n)) / math.sqrt(n)
        Y = rng.standard_normal((dims[-1], n))
        lr = 0.4 * stable_lr(weights, X, Y, 1.0)
        got = dl.train(weights, X, Y, lr=lr, steps=60, record_every=3)
        want = ref.train(weights, X, Y, lr=lr, steps=60, record_every=3)
        assert_losses_close(got.loss, want.loss, 1e-10)
        assert_weights_close(got.weights, want.weights, 1e-10)


def test_single_large_network_thread_invariant() -> None:
    """batch = 1 with wide layers (where an engine may split one product over threads)."""
    rng = np.random.default_rng(99)
    dims = [150, 200, 180, 100]
    weights = random_weights(rng, dims, 1)
    X = rng.standard_normal((150, 64)) / 8.0
    Y = rng.standard_normal((100, 64))
    lr = float(0.4 * stable_lr(weights, X, Y, 1.0)[0])
    one = dl.train(weights, X, Y, lr=lr, steps=4, threads=1)
    two = dl.train(weights, X, Y, lr=lr, steps=4, threads=2)
    assert_results_identical(one, two)
    want = ref.train(weights, X, Y, lr=lr, steps=4)
    assert_losses_close(one.loss, want.loss, 1e-10)
    assert_weights_close(one.weights, want.weights, 1e-10)


@pytest.mark.parametrize(
    "lr",
    [
        [0.01, 0.02],
        (0.01, 0.02),
        np.array([0.01, 0.02], dtype=np.float32),
        np.float64(0.01),
        np.array(0.01),
        0.01,
        1,
    ],
    ids=["list", "tuple", "f32-array", "np-scalar", "0d-array", "float", "int"],
)
def test_lr_forms(lr: object) -> None:
    """lr may be any real scalar or any (batch,) sequence; it is used as float64 per network."""
    rng = np.random.default_rng(12)
    weights = random_weights(rng, [3, 4, 2], 2, scale=0.3)
    X, Y = rng.standard_normal((3, 5)) / 3, rng.standard_normal((2, 5))
    got = dl.train(weights, X, Y, lr=lr, steps=3)
    lr_arr = np.broadcast_to(np.asarray(lr, dtype=np.float64), (2,))
    want = ref.train(weights, X, Y, lr=lr_arr, steps=3)
    assert_losses_close(got.loss, want.loss, 1e-10)
    assert_weights_close(got.weights, want.weights, 1e-10)


def test_read_only_and_aliased_inputs() -> None:
    """Read-only arrays are accepted, and X may alias Y (nothing is written to inputs)."""
    rng = np.random.default_rng(13)
    weights = random_weights(rng, [4, 4, 4], 2)
    data = rng.standard_normal((4, 6))
    for w in weights:
        w.flags.writeable = False
    data.flags.writeable = False
    got = dl.train(weights, data, data, lr=0.05, steps=5, alpha=0.5)
    want = ref.train(weights, data, data, lr=0.05, steps=5, alpha=0.5)
    assert_losses_close(got.loss, want.loss, 1e-10)
    assert_weights_close(got.weights, want.weights, 1e-10)
    assert all(w.flags.writeable for w in got.weights)
