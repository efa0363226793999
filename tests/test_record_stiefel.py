"""Diagnostics recorded inside the training loop, and Stiefel-manifold gradient descent."""

from __future__ import annotations

import numpy as np
import pytest

import deeplinear as dl
from deeplinear import metrics
from deeplinear import reference as ref
from helpers import assert_results_identical, raises_clean, random_weights, stable_lr

ALL = ["loss", "balancedness", "balancedness_per_layer", "singular_values", "grad_norms"]


def _close(got, want, rtol, what=""):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: {got.shape} != {want.shape}"
    if got.size == 0:
        return
    err = np.abs(got - want).max() / max(1.0, np.abs(want).max())
    assert err <= rtol, f"{what}: scaled error {err:.3g} > {rtol:g}"


def _problem(dims, batch=3, n=5, seed=0, identity=False):
    rng = np.random.default_rng(seed)
    w = random_weights(rng, dims, batch)
    X = np.eye(dims[0]) if identity else rng.standard_normal((dims[0], n))
    Y = rng.standard_normal((dims[-1], X.shape[1]))
    lr = 0.5 * stable_lr(w, X, Y, 0.9)
    return w, X, Y, lr


@pytest.mark.parametrize(
    "dims, identity",
    [([3, 4, 4, 2], False), ([5, 5, 5, 5], True), ([2, 3], False), ([1, 4, 1], False)],
)
def test_records_equal_metrics_on_saved_weights(dims, identity) -> None:
    w, X, Y, lr = _problem(dims, identity=identity)
    k, steps = 3, 12
    res = dl.train(w, X, Y, lr=lr, steps=steps, alpha=0.9, record=ALL, record_every=k)
    assert list(res.records) == ALL
    ncols = steps // k + 1
    current = w
    for col in range(ncols):
        # The metrics on the weights saved at step col·k, by the public functions ...
        want = {
            "balancedness": metrics.balancedness(current),
            "balancedness_per_layer": metrics.balancedness(current, per_layer=True),
            "singular_values": metrics.singular_values(current, 0.9),
            "grad_norms": np.stack(
                [np.linalg.norm(g, axis=(1, 2)) for g in ref.gradients(current, X, Y, 0.9)],
                axis=1,
            ),
        }
        for name, value in want.items():
            _close(res.records[name][:, col], value, 1e-10, f"{name}[:, {col}]")
        # ... and by the NumPy reference.
        _close(
            res.records["singular_values"][:, col], ref.metrics.singular_values(current, 0.9), 1e-10
        )
        _close(res.records["balancedness"][:, col], ref.metrics.balancedness(current), 1e-10)
        current = dl.train(current, X, Y, lr=lr, steps=k, alpha=0.9).weights
    assert np.array_equal(res.records["loss"], res.loss)
    assert res.records["singular_values"].shape == (3, ncols, min(dims[0], dims[-1]))
    assert res.records["grad_norms"].shape == (3, ncols, len(dims) - 1)


@pytest.mark.parametrize("record", [["grad_norms"], ["balancedness", "singular_values"], ALL])
def test_recording_leaves_the_trajectory_bit_identical(record) -> None:
    w, X, Y, lr = _problem([4, 6, 6, 3])
    plain = dl.train(w, X, Y, lr=lr, steps=20, alpha=0.9, record_every=4)
    recorded = dl.train(w, X, Y, lr=lr, steps=20, alpha=0.9, record_every=4, record=record)
    assert_results_identical(plain, recorded)


def test_records_match_the_reference_with_early_stops() -> None:
    """Tolerance reached at a non-recording step, divergence, and a network that runs on:
    the Rust records and the reference's agree, later columns repeating the stopping state."""
    w, X, Y, lr = _problem([3, 4, 2], batch=3)
    lrs = np.array([lr[0], 50 * lr[1], lr[2]])  # network 1 diverges
    curve = dl.train(w, X, Y, lr=lrs, steps=60, alpha=0.9).loss
    tol = float(np.sqrt(curve[0, 30] * curve[0, 31]))  # network 0 stops at step 31
    kw = {"lr": lrs, "steps": 60, "alpha": 0.9, "tol": tol, "record": ALL, "record_every": 7}
    got = dl.train(w, X, Y, **kw)
    want = ref.train(w, X, Y, **kw)
    assert got.diverged[1] and not got.diverged[0]
    assert got.steps_to_tol[0] == 31
    assert want.diverged[1] and want.steps_to_tol[0] == 31
    for name in ALL:
        a, b = got.records[name], want.records[name]
        assert a.shape == b.shape, name
        # Networks 0 and 2 agree throughout; the diverging one only before it blows up
        # (rounding differences grow without bound along a diverging trajectory).
        _close(a[[0, 2]], b[[0, 2]], 1e-9, name)
        _close(a[1, :1], b[1, :1], 1e-9, name)
        assert np.array_equal(a[1, -1], a[1, -2], equal_nan=True), name  # frozen
    stop = got.steps_to_tol[0] // 7 + 1
    assert (
        got.records["singular_values"][0, stop:] == got.records["singular_values"][0, stop]
    ).all()


def test_record_arguments_are_checked() -> None:
    w, X, Y, lr = _problem([3, 4, 2])
    with raises_clean(ValueError, "record"):
        dl.train(w, X, Y, lr=0.01, steps=1, record=["loss", "hessian"])
    with raises_clean(TypeError, "record"):
        dl.train(w, X, Y, lr=0.01, steps=1, record="balancedness")
    with raises_clean(TypeError, "record"):
        dl.train(w, X, Y, lr=0.01, steps=1, record=[1])
    with raises_clean(ValueError, "manifold"):
        dl.train(w, X, Y, lr=0.01, steps=1, manifold="sphere")
    with raises_clean(ValueError, "record"):
        ref.train(w, X, Y, lr=0.01, steps=1, record=["hessian"])
    # Duplicates are dropped, the order is kept.
    res = dl.train(w, X, Y, lr=0.01, steps=2, record=["grad_norms", "loss", "grad_norms"])
    assert list(res.records) == ["grad_norms", "loss"]


# ---------------------------------------------------------------------------------------------
# Stiefel manifold


def _orthogonality_errors(weights):
    """max over networks of ‖WᵀW/s² − I‖_max (tall/square) or ‖WWᵀ/s² − I‖_max (wide)."""
    errs = []
    for w in weights:
        for m in w:
            g = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
            s2 = np.trace(g) / g.shape[0]
            errs.append(np.abs(g / s2 - np.eye(g.shape[0])).max())
    return max(errs)


STIEFEL_DIMS = [[6, 6, 6, 6], [4, 8, 8, 3], [8, 5, 7, 2], [3, 1, 4]]


@pytest.mark.parametrize("dims", STIEFEL_DIMS, ids=str)
def test_stiefel_stays_orthogonal_every_step_and_keeps_scales(dims) -> None:
    w = dl.init.orthogonal(dims, batch=2, seed=1, gain=1.3)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((dims[0], 7)), rng.standard_normal((dims[-1], 7))
    alpha = dl.fanout_alpha(dims)
    scales = [np.linalg.norm(x, axis=(1, 2)) for x in w]
    current, losses = w, []
    for _ in range(25):
        res = dl.train(current, X, Y, lr=0.02, steps=1, alpha=alpha, manifold="stiefel")
        current = res.weights
        losses.append(res.loss[:, 0])
        assert _orthogonality_errors(current) <= 1e-10
    for s, x in zip(scales, current):
        _close(np.linalg.norm(x, axis=(1, 2)), s, 1e-12)
    assert (losses[-1] < losses[0]).all()  # it trains
    # Many steps in one call do the same as one step per call (up to rounding: each call
    # re-reads the scale s from its starting weights).
    one_call = dl.train(w, X, Y, lr=0.02, steps=25, alpha=alpha, manifold="stiefel")
    for a, b in zip(one_call.weights, current):
        _close(a, b, 1e-12)


@pytest.mark.parametrize("dims", STIEFEL_DIMS, ids=str)
def test_stiefel_matches_numpy_reference(dims) -> None:
    w = dl.init.orthogonal(dims, batch=2, seed=2)
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((dims[0], 5)), rng.standard_normal((dims[-1], 5))
    kw = {
        "lr": 0.01,
        "steps": 30,
        "alpha": dl.fanout_alpha(dims),
        "manifold": "stiefel",
        "record": ["loss", "grad_norms"],
        "record_every": 5,
    }
    got, want = dl.train(w, X, Y, **kw), ref.train(w, X, Y, **kw)
    for a, b in zip(got.weights, want.weights):
        _close(a, b, 1e-10, "weights")
    _close(got.loss, want.loss, 1e-10, "loss")
    _close(got.records["grad_norms"], want.records["grad_norms"], 1e-10, "grad_norms")
    # And the manifold step really differs from the Euclidean one.
    plain = dl.train(w, X, Y, **{**kw, "manifold": "euclidean"})
    assert not np.allclose(plain.weights[1], got.weights[1], atol=1e-6)


def test_stiefel_float32_stays_orthogonal_to_single_precision() -> None:
    dims = [5, 8, 8, 3]
    w = dl.init.orthogonal(dims, batch=2, seed=3, dtype=np.float32)
    X = np.eye(5, dtype=np.float32)
    Y = np.ones((3, 5), dtype=np.float32)
    res = dl.train(w, X, Y, lr=0.01, steps=50, alpha=dl.fanout_alpha(dims), manifold="stiefel")
    assert _orthogonality_errors([x.astype(np.float64) for x in res.weights]) < 1e-5


def test_stiefel_rejects_non_orthogonal_weights() -> None:
    dims = [3, 4, 2]
    w = dl.init.orthogonal(dims, batch=2, seed=0)
    w[1] = w[1].copy()
    w[1][1, 0, 0] += 0.1
    X, Y = np.eye(3), np.ones((2, 3))
    with raises_clean(ValueError, r"weights\[1\]"):
        dl.train(w, X, Y, lr=0.01, steps=1, manifold="stiefel")
    with raises_clean(ValueError, r"weights\[1\]"):
        ref.train(w, X, Y, lr=0.01, steps=1, manifold="stiefel")
