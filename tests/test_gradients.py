"""Gradients: the reference's backprop against finite differences and the closed form of
docs/science.md, and the Rust engine's first step against the reference gradient."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import deeplinear as dl
from deeplinear import reference as ref
from helpers import random_weights

dims_strategy = st.integers(1, 4).flatmap(
    lambda depth: st.lists(st.integers(1, 4), min_size=depth + 1, max_size=depth + 1)
)


def _problem(seed: int, dims: list[int], batch: int, n: int, shared: bool):
    rng = np.random.default_rng(seed)
    weights = random_weights(rng, dims, batch)
    x_shape = (dims[0], n) if shared else (batch, dims[0], n)
    y_shape = (dims[-1], n) if shared else (batch, dims[-1], n)
    return weights, rng.standard_normal(x_shape), rng.standard_normal(y_shape)


# The random problems both reference-gradient checks run on.
given_problems = given(
    dims=dims_strategy,
    batch=st.integers(1, 3),
    n=st.integers(1, 5),
    shared=st.booleans(),
    alpha=st.sampled_from([1.0, -0.7, 2.5]),
    seed=st.integers(0, 2**32 - 1),
)


@given_problems
def test_reference_gradients_match_central_differences(
    dims: list[int], batch: int, n: int, shared: bool, alpha: float, seed: int
) -> None:
    """Central differences of ``ref.loss`` (f64, step 1e-6): error O(h^2) + O(eps/h) ~ 1e-9."""
    weights, X, Y = _problem(seed, dims, batch, n, shared)
    grads = ref.gradients(weights, X, Y, alpha)
    h = 1e-6
    for j, w in enumerate(weights):
        assert grads[j].shape == w.shape and grads[j].dtype == w.dtype
        fd = np.empty_like(w)
        for r in range(w.shape[1]):
            for c in range(w.shape[2]):
                # Perturb entry (r, c) of every network at once: networks are independent.
                plus = [v.copy() for v in weights]
                minus = [v.copy() for v in weights]
                plus[j][:, r, c] += h
                minus[j][:, r, c] -= h
                fd[:, r, c] = (ref.loss(plus, X, Y, alpha) - ref.loss(minus, X, Y, alpha)) / (2 * h)
        for b in range(batch):
            scale = max(1.0, float(np.abs(grads[j][b]).max()))
            err = float(np.abs(fd[b] - grads[j][b]).max()) / scale
            assert err <= 1e-6, f"layer {j} network {b}: finite-difference error {err:.3g}"


def _chain(mats: list[np.ndarray], size: int) -> np.ndarray:
    """Product mats[-1] @ ... @ mats[0]; identity of ``size`` when empty."""
    out = np.eye(size)
    for m in mats:
        out = m @ out
    return out


@given_problems
def test_reference_gradients_match_closed_form(
    dims: list[int], batch: int, n: int, shared: bool, alpha: float, seed: int
) -> None:
    """dl/dW_j = a W_{L:j+1}^T E X^T W_{j-1:1}^T with E = a W_{L:1} X - Y (docs/science.md,
    Networks)."""
    weights, X, Y = _problem(seed, dims, batch, n, shared)
    grads = ref.gradients(weights, X, Y, alpha)
    depth = len(weights)
    for b in range(batch):
        ws = [w[b] for w in weights]
        x = X if X.ndim == 2 else X[b]
        y = Y if Y.ndim == 2 else Y[b]
        e = alpha * _chain(ws, dims[0]) @ x - y
        for j in range(depth):
            above = _chain(ws[j + 1 :], dims[j + 1])  # W_{L:j+1}
            below = _chain(ws[:j], dims[0])  # W_{j-1:1}
            want = alpha * above.T @ e @ x.T @ below.T
            np.testing.assert_allclose(grads[j][b], want, rtol=1e-11, atol=1e-12)
        assert math.isclose(ref.loss(weights, X, Y, alpha)[b], 0.5 * np.sum(e**2), rel_tol=1e-12)


@given(
    dims=st.integers(1, 5).flatmap(
        lambda depth: st.lists(st.integers(1, 8), min_size=depth + 1, max_size=depth + 1)
    ),
    batch=st.integers(1, 4),
    n=st.integers(1, 9),
    shared=st.booleans(),
    alpha=st.sampled_from([1.0, 0.3, -1.5]),
    seed=st.integers(0, 2**32 - 1),
)
def test_engine_first_step_recovers_gradient(
    dims: list[int], batch: int, n: int, shared: bool, alpha: float, seed: int
) -> None:
    """One step of ``dl.train``: (W0 - W1) / lr equals ``ref.gradients`` to 1e-8 relative."""
    weights, X, Y = _problem(seed, dims, batch, n, shared)
    lr = np.linspace(1e-3, 2e-3, batch)
    res = dl.train(weights, X, Y, lr=lr, steps=1, alpha=alpha)
    grads = ref.gradients(weights, X, Y, alpha)
    np.testing.assert_allclose(res.loss[:, 0], ref.loss(weights, X, Y, alpha), rtol=1e-12)
    for j, (w0, w1, g) in enumerate(zip(weights, res.weights, grads)):
        for b in range(batch):
            recovered = (w0[b] - w1[b]) / lr[b]
            err = np.linalg.norm(recovered - g[b]) / max(np.linalg.norm(g[b]), 1e-3)
            assert err <= 1e-8, f"layer {j} network {b}: relative error {err:.3g}"
