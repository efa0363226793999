"""Oblique layers, in the engine and the NumPy reference alike: rows stay on their sphere at
every step, the step is the great circle of its tangent vector, the penalty's gradient is its
derivative (central differences), and a Stiefel layer that is square and orthogonal is also an
Oblique one (the scale found alike)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import deeplinear as dl
from deeplinear import optim
from deeplinear import reference as ref
from deeplinear.reference import oblique


@pytest.fixture(params=[dl, ref], ids=["rust", "reference"])
def impl(request: pytest.FixtureRequest) -> Any:
    """The Rust-backed dl.train, or its NumPy twin."""
    return request.param


def unit_rows(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
    w = rng.standard_normal(shape)
    return scale * w / np.linalg.norm(w, axis=-1, keepdims=True)


def test_exp_map_follows_the_great_circle() -> None:
    # Row (2, 0) on the sphere of radius 2, moved by v = (0, 2θ): angle θ, (2cos θ, 2sin θ);
    # row (0, 1, 0) of radius 1 by (0, 0, 0): unchanged. Learned scale 3 rescales the result.
    theta = 0.7
    w = np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    v = np.array([[0.0, 2 * theta, 0.0], [0.0, 0.0, 0.0]])
    got = oblique.exp_map(w, v, 2.0, 2.0)
    np.testing.assert_allclose(got[0], [2 * math.cos(theta), 2 * math.sin(theta), 0.0], atol=1e-15)
    np.testing.assert_array_equal(got[1], w[1])
    np.testing.assert_allclose(oblique.exp_map(w, v, 2.0, 3.0), 1.5 * got, rtol=1e-15)
    # A full turn (θ = 2π) comes back; half a turn lands on the antipode.
    back = oblique.exp_map(w[:1], np.array([[0.0, 0.0, 2 * 2 * math.pi]]), 2.0, 2.0)
    np.testing.assert_allclose(back, w[:1], atol=1e-14)
    anti = oblique.exp_map(w[:1], np.array([[0.0, 0.0, 2 * math.pi]]), 2.0, 2.0)
    np.testing.assert_allclose(anti, -w[:1], atol=1e-14)


def test_one_gd_step_of_a_unit_row_is_the_geodesic_of_its_projected_gradient(impl: Any) -> None:
    # One unit w = (cos a, sin a) · s fitted to x = e_1, y = 0: ℓ = ½(w·x)², G = (w·x)·x.
    # ξ = G − (G·w)w/s², and the step rotates w by θ = η‖ξ‖/s away from ξ.
    s, a, eta = 1.5, 0.4, 0.3
    w = s * np.array([math.cos(a), math.sin(a)])
    g = (w @ np.array([1.0, 0.0])) * np.array([1.0, 0.0])
    xi = g - (g @ w) / s**2 * w
    theta = eta * np.linalg.norm(xi) / s
    want = math.cos(theta) * w - s * math.sin(theta) * xi / np.linalg.norm(xi)
    res = impl.train([w[None, None]], np.array([[1.0], [0.0]]), np.zeros((1, 1)), lr=eta,
                    steps=1, manifold="oblique")  # fmt: skip
    np.testing.assert_allclose(res.weights[0][0, 0], want, rtol=1e-14)
    # The point moved by angle θ along its circle of radius s.
    assert np.linalg.norm(res.weights[0]) == pytest.approx(s, rel=1e-15)
    assert math.acos(res.weights[0][0, 0] @ w / s**2) == pytest.approx(theta, rel=1e-12)


@pytest.mark.parametrize("shape", [(3, 5), (4, 4), (5, 3)])
def test_penalty_gradient_matches_central_differences(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(1)
    s = 1.7
    w = unit_rows(rng, shape, s)
    grad = oblique.penalty_gradient(w, s)
    h = 1e-6
    numeric = np.zeros_like(w)
    for idx in np.ndindex(*shape):
        up, down = w.copy(), w.copy()
        up[idx] += h
        down[idx] -= h
        numeric[idx] = (oblique.penalty(up, s) - oblique.penalty(down, s)) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)
    assert oblique.penalty(w, s) > 0.1  # random rows are far from orthogonal


def test_penalty_vanishes_on_orthogonal_rows_and_columns() -> None:
    q = np.linalg.qr(np.random.default_rng(2).standard_normal((4, 4)))[0]
    for w in (q, q[:3], q[:, :3]):  # square, wide (orthonormal rows), tall
        scaled = 2.0 * w / np.linalg.norm(w, axis=1, keepdims=True)
        s = oblique.row_scale(scaled)
        assert s == pytest.approx(2.0)
        if w.shape[0] <= w.shape[1]:  # rows orthonormal: QQᵀ = I
            assert oblique.penalty(scaled, s) == pytest.approx(0.0, abs=1e-24)
            np.testing.assert_allclose(oblique.penalty_gradient(scaled, s), 0.0, atol=1e-14)


@pytest.mark.parametrize("optimizer", ["gd", "sgd", "adam", "adamw", "rmsprop"])
@pytest.mark.parametrize("dims", [(3, 2), (2, 4, 3), (5, 5)])
def test_rows_keep_their_norm_at_every_step(
    impl: Any, optimizer: str, dims: tuple[int, ...]
) -> None:
    rng = np.random.default_rng(3)
    batch = 2
    weights = [unit_rows(rng, (batch, dims[j + 1], dims[j]), 1.3) for j in range(len(dims) - 1)]
    x = rng.standard_normal((dims[0], 6))
    y = rng.standard_normal((dims[-1], 6))
    extra = {"momentum": 0.9} if optimizer in ("sgd", "rmsprop") else {}
    state = None
    for _ in range(5):
        res = impl.train(weights, x, y, lr=0.05, steps=1, manifold="oblique", optimizer=optimizer,
                        oblique_penalty=0.1, state=state, **extra)  # fmt: skip
        for w in res.weights:
            np.testing.assert_allclose(np.linalg.norm(w, axis=-1), 1.3, rtol=1e-13)
        assert not np.allclose(res.weights[0], weights[0])  # it did move
        weights, state = res.weights, res.state
    # A first moment lies in the tangent space: every row orthogonal to its weights.
    if optimizer != "gd":
        moment = state.slots[state.slot_names.index(
            ("momentum" if optimizer in ("sgd", "rmsprop") else "exp_avg") + ":weights[0]"
        )]  # fmt: skip
        np.testing.assert_allclose(np.sum(moment * weights[0], axis=-1), 0.0, atol=1e-12)


def test_learned_scale_keeps_rows_of_one_common_norm(impl: Any) -> None:
    rng = np.random.default_rng(4)
    weights = [unit_rows(rng, (2, 3, 4), 0.8), rng.standard_normal((2, 2, 3))]
    x, y = rng.standard_normal((4, 5)), rng.standard_normal((2, 5))
    res = impl.train(weights, x, y, lr=optim.Rates(0.05, scales=0.02), steps=6, learn_scale=True,
                    manifold=["oblique", "euclidean"], optimizer="adam")  # fmt: skip
    norms = np.linalg.norm(res.weights[0], axis=-1)
    scales = res.state.scales[:, 0]
    assert not np.allclose(scales, 0.8)  # the scale was trained
    np.testing.assert_allclose(norms, scales[:, None] * np.ones((1, 3)), rtol=1e-13)


def test_penalty_pulls_rows_towards_orthogonal_and_stays_out_of_the_loss(impl: Any) -> None:
    rng = np.random.default_rng(5)
    w = unit_rows(rng, (1, 3, 3))
    x, y = rng.standard_normal((3, 4)), np.zeros((3, 4))
    plain = impl.train([w], x, y, lr=0.0, steps=3, manifold="oblique")
    # With lr 0 the penalty cannot act: the recorded loss is the data loss alone either way.
    np.testing.assert_array_equal(
        impl.train([w], x, y, lr=0.0, steps=3, manifold="oblique", oblique_penalty=5.0).loss,
        plain.loss,
    )
    # With a tiny data term the penalty drives QQᵀ towards I.
    far = impl.train([w], x, 1e-3 * y, lr=0.02, steps=200, manifold="oblique", alpha=1e-3,
                    oblique_penalty=1.0)  # fmt: skip
    before = oblique.penalty(w[0], 1.0)
    after = oblique.penalty(far.weights[0][0], 1.0)
    assert after < 1e-3 * before


def test_orthogonal_square_layer_is_on_both_manifolds() -> None:
    q = np.linalg.qr(np.random.default_rng(6).standard_normal((3, 3)))[0]
    assert oblique.row_scale(2 * q) == pytest.approx(ref.stiefel.orthogonal_scale(2 * q))


def _penalty_by_hand(w: np.ndarray, s: float) -> float:
    """‖QQᵀ − I‖²_F (‖QᵀQ − I‖²_F if tall) of Q = w/s, written out here."""
    q = w / s
    gram = q.T @ q if q.shape[0] > q.shape[1] else q @ q.T
    return float(np.sum((gram - np.eye(len(gram))) ** 2))


@pytest.mark.parametrize("shape", [(3, 5), (4, 4), (5, 3)])
def test_a_small_penalty_step_follows_the_projected_central_difference_gradient(
    impl: Any, shape: tuple[int, int]
) -> None:
    """With zero data the loss has no gradient, so one tiny gd step moves W by −η·ξ (to
    O(η²)), ξ the row-wise projection of ω·∇‖QQᵀ − I‖² taken by central differences."""
    rng = np.random.default_rng(7)
    s, omega, eta, h = 1.7, 0.3, 1e-7, 1e-6
    w = unit_rows(rng, shape, s)
    numeric = np.zeros_like(w)
    for idx in np.ndindex(*shape):
        up, down = w.copy(), w.copy()
        up[idx] += h
        down[idx] -= h
        numeric[idx] = omega * (_penalty_by_hand(up, s) - _penalty_by_hand(down, s)) / (2 * h)
    xi = numeric - np.sum(numeric * w, axis=1, keepdims=True) / s**2 * w
    x, y = np.zeros((shape[1], 2)), np.zeros((shape[0], 2))
    res = impl.train([w[None]], x, y, lr=eta, steps=1, manifold="oblique", oblique_penalty=omega)
    moved = (res.weights[0][0] - w) / eta
    np.testing.assert_allclose(moved, -xi, rtol=1e-5, atol=1e-7 * np.abs(xi).max())
    np.testing.assert_allclose(np.linalg.norm(res.weights[0][0], axis=1), s, rtol=1e-14)
