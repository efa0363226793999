"""The Fisher's top eigenvalues (every route, loss, Fisher and parameter set) and the Jacobian's
σ_max by power iteration, against the dense routes and the NumPy twins that build J_θᵀHJ_θ from
explicit Jacobians; and bad input."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deeplinear as dl
from deeplinear import metrics
from deeplinear.reference import metrics as ref
from helpers import raises_clean, random_weights

ACTIVATIONS = ["linear", "tanh", "relu", "erf"]


def rel_err(got, want) -> float:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-300))


def net(rng, dims, batch=2, bias=True, scale=1.2):
    w = random_weights(rng, dims, batch, scale=scale)
    bs = [0.3 * rng.standard_normal((batch, d)) for d in dims[1:]] if bias else None
    return w, bs


# ---------------------------------------------------------------------------------------------
# routes against each other: sizes where the block Lanczos runs (operators above 64)


@pytest.mark.parametrize(
    "activation, bias, param, loss, params",
    list(
        itertools.product(
            ACTIVATIONS, [False, True], ["standard", "ntk"], ["mse", "cross_entropy"],
            ["all", "weights"],
        )
    ),
)  # fmt: skip
def test_matrix_free_equals_the_dense_gram_route(activation, bias, param, loss, params) -> None:
    rng = np.random.default_rng(hash((activation, bias, param, loss, params)) % 2**32)
    dims = [4, 8, 8, 4]
    w, bs = net(rng, dims, bias=bias)
    X = rng.standard_normal((4, 20))  # n·d_L = 80: Lanczos, not the small-operator fallback
    kw = {
        "activation": activation,
        "biases": bs,
        "parameterization": param,
        "sigma_w": 1.3,
        "alpha": 0.9,
        "loss": loss,
        "params": params,
        "k": 2,
    }
    dense = metrics.fisher_max_eigenvalue(w, X, method="dense", **kw)
    assert dense.shape == (2, 2) and np.all(dense[:, 0] >= dense[:, 1])
    for method in ("matrix_free", "lanczos", "auto"):
        got = metrics.fisher_max_eigenvalue(w, X, method=method, **kw)
        assert rel_err(got, dense) <= 1e-8, method


def test_both_sides_of_the_matrix_free_operator() -> None:
    """Fewer parameters than outputs (Lanczos on AᵀA) and more (on AAᵀ) agree with dense."""
    rng = np.random.default_rng(1)
    for dims, n in (([2, 3, 9], 40), ([5, 30, 3], 40)):
        w, bs = net(rng, dims)
        X = rng.standard_normal((dims[0], n))
        for loss in ("mse", "cross_entropy"):
            kw = {"activation": "tanh", "biases": bs, "loss": loss, "k": 3}
            dense = metrics.fisher_max_eigenvalue(w, X, method="dense", **kw)
            free = metrics.fisher_max_eigenvalue(w, X, method="matrix_free", **kw)
            assert rel_err(free, dense) <= 1e-8


# ---------------------------------------------------------------------------------------------
# against the NumPy twin (explicit J_θ and H)


@st.composite
def fisher_problems(draw):
    depth = draw(st.integers(1, 3))
    dims = draw(st.lists(st.integers(1, 5), min_size=depth + 1, max_size=depth + 1))
    loss = draw(st.sampled_from(["mse", "cross_entropy"]))
    if loss == "cross_entropy":
        dims[-1] = max(dims[-1], 2)
    batch, n = draw(st.integers(1, 2)), draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    w, bs = net(rng, dims, batch, bias=draw(st.booleans()))
    X = (
        rng.standard_normal((dims[0], n))
        if draw(st.booleans())
        else rng.standard_normal((batch, dims[0], n))
    )
    fisher = draw(st.sampled_from(["true", "empirical"]))
    labels = None
    if fisher == "empirical":
        labels = (
            rng.integers(0, dims[-1], n)
            if loss == "cross_entropy"
            else rng.standard_normal((dims[-1], n))
        )
    params = draw(st.sampled_from(["all", "weights"]))
    counted = sum(a * b for a, b in zip(dims[:-1], dims[1:]))
    if bs is not None and params == "all":
        counted += sum(dims[1:])
    kw = {
        "activation": draw(st.sampled_from(ACTIVATIONS)),
        "biases": bs,
        "parameterization": draw(st.sampled_from(["standard", "ntk"])),
        "sigma_w": 1.1,
        "alpha": draw(st.sampled_from([1.0, -0.7])),
        "loss": loss,
        "fisher": fisher,
        "labels": labels,
        "params": params,
        "k": draw(st.integers(1, min(counted, 4))),
        "method": draw(st.sampled_from(["auto", "dense", "lanczos", "matrix_free"])),
    }
    return w, X, kw


@settings(max_examples=60)
@given(fisher_problems())
def test_fisher_matches_the_explicit_jacobian_twin(problem) -> None:
    w, X, kw = problem
    got = metrics.fisher_max_eigenvalue(w, X, **kw)
    want = ref.fisher_max_eigenvalue(w, X, **kw)
    assert got.shape == want.shape
    # Eigenvalues past the rank are 0 in the core, rounding noise in the twin.
    assert np.abs(got - want).max() <= 1e-9 * max(1.0, np.abs(want).max())


def test_multiplicities_of_an_orthogonal_linear_network_are_found() -> None:
    """An orthogonal linear chain has Fisher spectrum (1/n)·spec(Σ_j K_j) ⊗ I_{d_L}: the top
    eigenvalue repeats d_L times, which block Lanczos (block size k) finds."""
    dims = [8, 8, 8, 5]
    w = dl.init.orthogonal(dims, batch=1, seed=0)
    X = np.random.default_rng(0).standard_normal((8, 30))
    dense = metrics.fisher_max_eigenvalue(w, X, method="dense", k=6)[0]
    assert np.allclose(dense[:5], dense[0], rtol=1e-12) and dense[5] < 0.99 * dense[0]
    for method in ("lanczos", "matrix_free"):
        got = metrics.fisher_max_eigenvalue(w, X, method=method, k=6)[0]
        assert rel_err(got, dense) <= 1e-8, method


def test_eigenvalues_past_the_rank_are_zero() -> None:
    rng = np.random.default_rng(2)
    w, _ = net(rng, [3, 6, 2], batch=1, bias=False)
    X = rng.standard_normal((3, 2))  # rank ≤ n·d_L = 4, and 1·2 = 2 for the empirical Fisher
    got = metrics.fisher_max_eigenvalue(w, X, activation="tanh", k=6, method="matrix_free")[0]
    assert np.all(got[:4] > 0) and np.array_equal(got[4:], [0.0, 0.0])
    emp = metrics.fisher_max_eigenvalue(
        w, X, activation="tanh", k=3, fisher="empirical", labels=rng.standard_normal((2, 2))
    )[0]
    assert np.all(emp[:2] > 0) and emp[2] == 0.0


def test_cross_entropy_fisher_is_below_half_the_mse_one() -> None:
    """H = diag(p) − ppᵀ ⪯ I/2 (Gershgorin: λ_max(H) ≤ max 2p_i(1 − p_i) ≤ 1/2), so the GGN is
    at most half the Gauss–Newton matrix: a check independent of any twin."""
    rng = np.random.default_rng(3)
    w, bs = net(rng, [5, 12, 12, 4], batch=3)
    X = rng.standard_normal((5, 25))
    mse = metrics.fisher_max_eigenvalue(w, X, activation="tanh", biases=bs)
    ce = metrics.fisher_max_eigenvalue(w, X, activation="tanh", biases=bs, loss="cross_entropy")
    assert np.all(ce <= 0.5 * mse + 1e-12) and np.all(ce > 0)


def test_thread_count_and_batching_do_not_change_a_bit() -> None:
    rng = np.random.default_rng(4)
    w, bs = net(rng, [6, 70, 70, 3], batch=2)
    X = rng.standard_normal((6, 90))  # products larger than one block: the split is exercised
    kw = {"activation": "tanh", "biases": bs, "loss": "cross_entropy", "method": "matrix_free"}
    one = metrics.fisher_max_eigenvalue(w, X, threads=1, **kw)
    two = metrics.fisher_max_eigenvalue(w, X, threads=2, **kw)
    alone = metrics.fisher_max_eigenvalue(
        [x[1:] for x in w], X, threads=2, **{**kw, "biases": [b[1:] for b in bs]}
    )
    assert np.array_equal(one, two) and np.array_equal(one[1:], alone)
    s1 = metrics.jacobian_max_singular_value(w, X, activation="tanh", biases=bs, threads=1)
    s2 = metrics.jacobian_max_singular_value(w, X, activation="tanh", biases=bs, threads=2)
    assert np.array_equal(s1, s2)


def test_a_non_finite_network_gives_nan_and_spares_the_others() -> None:
    rng = np.random.default_rng(5)
    w, bs = net(rng, [3, 6, 3], batch=3)
    w[0][1, 0, 0] = np.inf
    X = rng.standard_normal((3, 4))
    for method in ("dense", "matrix_free"):
        got = metrics.fisher_max_eigenvalue(
            w, X, biases=bs, k=2, method=method, loss="cross_entropy"
        )
        assert np.isnan(got[1]).all() and np.isfinite(got[[0, 2]]).all()
    sigma = metrics.jacobian_max_singular_value(w, X, activation="tanh", biases=bs)
    assert np.isnan(sigma[1]).all() and np.isfinite(sigma[[0, 2]]).all()


def test_float32_agrees_with_float64() -> None:
    rng = np.random.default_rng(6)
    w, bs = net(rng, [4, 10, 10, 3], batch=2)
    X = rng.standard_normal((4, 30))
    kw = {"activation": "tanh", "loss": "cross_entropy", "method": "matrix_free"}
    want = metrics.fisher_max_eigenvalue(w, X, biases=bs, **kw)
    w32 = [x.astype(np.float32) for x in w]
    b32 = [x.astype(np.float32) for x in bs]
    got = metrics.fisher_max_eigenvalue(w32, X.astype(np.float32), biases=b32, **kw)
    assert got.dtype == np.float64 and rel_err(got, want) <= 1e-4


# ---------------------------------------------------------------------------------------------
# σ_max of the input–output Jacobian


@settings(max_examples=40)
@given(
    st.lists(st.integers(1, 6), min_size=2, max_size=4),
    st.sampled_from(ACTIVATIONS),
    st.booleans(),
    st.sampled_from(["standard", "ntk"]),
    st.integers(0, 2**32 - 1),
)
def test_power_iteration_matches_the_dense_svd(dims, activation, bias, param, seed) -> None:
    rng = np.random.default_rng(seed)
    w, bs = net(rng, dims, bias=bias)
    X = rng.standard_normal((dims[0], 5))
    kw = {"activation": activation, "biases": bs, "parameterization": param, "alpha": -0.8}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # these small problems converge
        got = metrics.jacobian_max_singular_value(w, X, iterations=20000, **kw)
    want = metrics.jacobian_singular_values(w, X, **kw)[..., 0]
    assert np.allclose(want, ref.jacobian_max_singular_value(w, X, **kw), rtol=1e-12, atol=1e-300)
    # Converged to 1e-10 relative change; with a gap ratio ρ the error is ≈ 1e-10/(1 − ρ²).
    assert np.all(got <= want * (1 + 1e-12) + 1e-300)
    assert np.abs(got - want).max() <= 1e-7 * max(np.abs(want).max(), 1e-300)


def test_power_iteration_that_stops_early_warns_and_returns_lower_bounds() -> None:
    rng = np.random.default_rng(7)
    w, bs = net(rng, [10, 20, 20, 10], batch=2)
    X = rng.standard_normal((10, 8))
    want = metrics.jacobian_singular_values(w, X, activation="tanh", biases=bs)[..., 0]
    with pytest.warns(RuntimeWarning, match=r"did not converge to tol=1e-10 within 2 iterations"):
        got = metrics.jacobian_max_singular_value(w, X, activation="tanh", biases=bs, iterations=2)
    assert np.all(got <= want * (1 + 1e-12)) and np.all(got > 0.5 * want)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loose = metrics.jacobian_max_singular_value(w, X, activation="tanh", biases=bs, tol=1e-3)
    assert np.all(loose <= want * (1 + 1e-12))


# ---------------------------------------------------------------------------------------------
# bad input

W = random_weights(np.random.default_rng(0), [3, 4, 2], 2)
X0 = np.ones((3, 5))


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: metrics.fisher_max_eigenvalue(W, X0, k=0), ValueError, "k"),
        (
            lambda: metrics.fisher_max_eigenvalue(W, X0, k=21),
            ValueError,
            r"k: must be in \[1, 20\]",
        ),
        (lambda: metrics.fisher_max_eigenvalue(W, X0, k=1.5), TypeError, "k"),
        (lambda: metrics.fisher_max_eigenvalue(W, X0, loss="hinge"), ValueError, "loss"),
        (lambda: metrics.fisher_max_eigenvalue(W, X0, params="biases"), ValueError, "params"),
        (lambda: metrics.fisher_max_eigenvalue(W, X0, method="arnoldi"), ValueError, "method"),
        (lambda: metrics.fisher_max_eigenvalue(W, X0, fisher="observed"), ValueError, "fisher"),
        (
            lambda: metrics.fisher_max_eigenvalue(
                W, X0, loss="cross_entropy", labels=np.zeros(5, int)
            ),
            ValueError,
            "labels: the true Fisher",
        ),
        (
            lambda: metrics.fisher_max_eigenvalue(W, X0, loss="cross_entropy", fisher="empirical"),
            ValueError,
            "labels: fisher='empirical' needs the class labels",
        ),
        (
            lambda: metrics.fisher_max_eigenvalue(
                W, X0, loss="cross_entropy", fisher="empirical", labels=np.zeros(4, int)
            ),
            ValueError,
            "labels",
        ),
        (
            lambda: metrics.fisher_max_eigenvalue(
                W, X0, loss="cross_entropy", fisher="empirical", labels=np.full(5, 2)
            ),
            ValueError,
            r"labels: class labels must be in \[0, 2\)",
        ),
        (
            lambda: metrics.fisher_max_eigenvalue(
                W, X0, loss="cross_entropy", fisher="empirical", labels=np.zeros(5)
            ),
            TypeError,
            "labels",
        ),
        (
            lambda: metrics.fisher_max_eigenvalue(
                W, X0, fisher="empirical", labels=np.zeros((3, 5))
            ),
            ValueError,
            "labels",
        ),
        (
            lambda: metrics.fisher_max_eigenvalue([np.ones((1, 1, 3))], X0, loss="cross_entropy"),
            ValueError,
            "loss",
        ),
        (
            lambda: metrics.jacobian_max_singular_value(W, X0, iterations=0),
            ValueError,
            "iterations",
        ),
        (lambda: metrics.jacobian_max_singular_value(W, X0, tol=-1.0), ValueError, "tol"),
        (lambda: metrics.jacobian_max_singular_value(W, X0, tol=np.nan), ValueError, "tol"),
        (lambda: metrics.jacobian_max_singular_value(W, np.ones((2, 5))), ValueError, "X"),
    ],
)
def test_bad_input_names_the_argument(call, exc, match) -> None:
    with raises_clean(exc, match):
        call()
