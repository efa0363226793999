"""dl.metrics against the NumPy reference, the identities of docs/science.md (Diagnostics), and
bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deeplinear as dl
from deeplinear import metrics
from deeplinear.reference import gradients as ref_gradients
from deeplinear.reference import metrics as ref
from helpers import raises_clean, random_weights

ACTIVATIONS = ["linear", "tanh", "relu", "erf"]


def assert_close(got, want, rtol: float, what: str = "") -> None:
    """|got − want| ≤ rtol·max(1, max|want|) elementwise; NaNs and infinities must coincide
    (e.g. the relative NTK change of a ReLU net whose units are all dead is inf in both)."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert np.array_equal(np.isnan(got), np.isnan(want)), f"{what}: NaNs differ"
    assert np.array_equal(got[np.isinf(want)], want[np.isinf(want)]), f"{what}: infinities differ"
    finite = np.isfinite(want)
    if not finite.any():
        return
    scale = max(1.0, float(np.abs(want[finite]).max()))
    err = float(np.abs(got[finite] - want[finite]).max())
    assert err <= rtol * scale, f"{what}: error {err:.3g} > {rtol:g}·{scale:.3g}"


@st.composite
def problems(draw, max_depth: int = 4, max_width: int = 6):
    """Random small networks, including depth 1, width 1 and rectangular layers."""
    depth = draw(st.integers(1, max_depth))
    dims = draw(st.lists(st.integers(1, max_width), min_size=depth + 1, max_size=depth + 1))
    batch = draw(st.integers(1, 3))
    n = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    weights = random_weights(rng, dims, batch)
    X = rng.standard_normal((dims[0], n))
    return dims, weights, X, rng


def _tol(dims, base: float = 1e-10) -> float:
    return base * sum(dims) * len(dims)


# ---------------------------------------------------------------------------------------------
# cross-checks against the reference


@given(problems(), st.floats(-3, 3))
def test_singular_values_match_reference(problem, alpha) -> None:
    dims, w, _, _ = problem
    assert_close(metrics.singular_values(w, alpha), ref.singular_values(w, alpha), _tol(dims))


@given(problems(), st.data())
def test_partial_products_match_reference(problem, data) -> None:
    dims, w, _, _ = problem
    depth = len(w)
    i = data.draw(st.integers(0, depth - 1))
    j = data.draw(st.integers(i, depth - 1))
    got = metrics.partial_product_singular_values(w, i, j)
    assert_close(got, ref.partial_product_singular_values(w, i, j), _tol(dims))
    # Negative indices count from the end.
    assert np.array_equal(got, metrics.partial_product_singular_values(w, i - depth, j - depth))


@given(problems())
def test_balancedness_matches_reference(problem) -> None:
    dims, w, _, _ = problem
    assert_close(metrics.balancedness(w), ref.balancedness(w), _tol(dims))
    got = metrics.balancedness(w, per_layer=True)
    assert got.shape == (w[0].shape[0], len(w) - 1)
    assert_close(got, ref.balancedness(w, per_layer=True), _tol(dims))


@given(problems(), st.booleans())
def test_deficiency_margin_matches_reference(problem, shared) -> None:
    dims, w, _, rng = problem
    batch = w[0].shape[0]
    shape = (dims[-1], dims[0]) if shared else (batch, dims[-1], dims[0])
    phi = rng.standard_normal(shape)
    got = metrics.deficiency_margin(w, phi, alpha=0.5)
    assert_close(got, ref.deficiency_margin(w, phi, alpha=0.5), _tol(dims))


@given(problems())
def test_relative_weight_change_matches_reference(problem) -> None:
    dims, w, _, rng = problem
    w1 = [x + 0.1 * rng.standard_normal(x.shape) for x in w]
    got = metrics.relative_weight_change(w, w1)
    assert got.shape == (w[0].shape[0], len(w))
    assert_close(got, ref.relative_weight_change(w, w1), _tol(dims))


@settings(max_examples=40)
@given(
    problems(max_depth=3, max_width=5),
    st.sampled_from(ACTIVATIONS),
    st.booleans(),
    st.sampled_from(["standard", "ntk"]),
)
def test_network_functions_match_reference(problem, activation, with_biases, param) -> None:
    dims, w, X, rng = problem
    batch = w[0].shape[0]
    biases = [rng.standard_normal((batch, d)) * 0.3 for d in dims[1:]] if with_biases else None
    kw = {
        "alpha": 0.8,
        "activation": activation,
        "biases": biases,
        "parameterization": param,
        "sigma_w": 1.3,
    }
    tol = _tol(dims, 1e-9)
    assert_close(
        metrics.jacobian_singular_values(w, X, **kw),
        ref.jacobian_singular_values(w, X, **kw),
        tol,
        "jacobian",
    )
    theta = metrics.ntk(w, X, **kw)
    assert_close(theta, ref.ntk(w, X, **kw), tol, "ntk")
    assert theta.shape == (batch, X.shape[1] * dims[-1], X.shape[1] * dims[-1])
    assert_close(
        metrics.fisher_max_eigenvalue(w, X, **kw),
        ref.fisher_max_eigenvalue(w, X, **kw),
        tol,
        "fisher",
    )
    w1 = [x + 0.05 * rng.standard_normal(x.shape) for x in w]
    kw2 = {k: v for k, v in kw.items() if k != "biases"}
    got = metrics.ntk_relative_change(w, w1, X, biases0=biases, biases1=biases, **kw2)
    want = ref.ntk_relative_change(w, w1, X, biases0=biases, biases1=biases, **kw2)
    assert_close(got, want, tol, "ntk change")


def test_per_network_data_and_float32() -> None:
    rng = np.random.default_rng(3)
    dims = [3, 4, 2]
    w = random_weights(rng, dims, 2)
    X = rng.standard_normal((2, 3, 5))  # per-network inputs
    kw = {"activation": "tanh"}
    assert_close(metrics.ntk(w, X, **kw), ref.ntk(w, X, **kw), 1e-10)
    w32 = [x.astype(np.float32) for x in w]
    got = metrics.jacobian_singular_values(w32, X.astype(np.float32), **kw)
    assert got.dtype == np.float64
    assert_close(got, ref.jacobian_singular_values(w, X, **kw), 1e-5)
    assert_close(metrics.singular_values(w32), ref.singular_values(w), 1e-5)


def test_lanczos_matches_dense() -> None:
    rng = np.random.default_rng(5)
    dims = [6, 16, 16, 4]
    w = random_weights(rng, dims, 2)
    X = rng.standard_normal((6, 30))  # Gram of size 120 > 80: Lanczos really runs
    dense = metrics.fisher_max_eigenvalue(w, X, activation="tanh", method="dense")
    lanczos = metrics.fisher_max_eigenvalue(w, X, activation="tanh", method="lanczos")
    assert_close(lanczos, dense, 1e-9)
    assert_close(metrics.fisher_max_eigenvalue(w, X, activation="tanh"), dense, 1e-9)


def test_non_finite_network_gives_nan_and_spares_the_others() -> None:
    rng = np.random.default_rng(0)
    w = random_weights(rng, [3, 4, 2], 3)
    w[0][1, 0, 0] = np.nan
    sv = metrics.singular_values(w)
    assert np.isnan(sv[1]).all() and np.isfinite(sv[[0, 2]]).all()
    assert_close(sv[[0, 2]], ref.singular_values([x[[0, 2]] for x in w]), 1e-12)
    assert np.isnan(metrics.fisher_max_eigenvalue(w, rng.standard_normal((3, 2)))[1])


# ---------------------------------------------------------------------------------------------
# identities (docs/science.md, Diagnostics)


def balanced_weights(rng, dims, batch):
    """Arora et al.'s Procedure 1 (docs/science.md, Initialisation schemes) in NumPy: A = UΣVᵀ,
    W_1 = Σ^{1/L}Vᵀ, middle W_j = Σ^{1/L}, W_L = UΣ^{1/L}, zero-padded; then each hidden layer j
    is rotated by a Haar O_j (W_j ← O_jW_j, W_{j+1} ← W_{j+1}O_jᵀ). Exactly 0-balanced, with
    W_{L:1} = A."""
    depth = len(dims) - 1
    out = [np.zeros((batch, dims[j + 1], dims[j])) for j in range(depth)]
    targets = []
    for b in range(batch):
        a = rng.standard_normal((dims[-1], dims[0]))
        targets.append(a)
        u, s, vt = np.linalg.svd(a, full_matrices=False)
        root = np.diag(s ** (1.0 / depth))
        layers = []
        for j in range(depth):
            core = root
            if j == 0:
                core = core @ vt
            if j == depth - 1:
                core = u @ core
            w = np.zeros((dims[j + 1], dims[j]))
            w[: core.shape[0], : core.shape[1]] = core
            layers.append(w)
        for j in range(depth - 1):
            o = dl.reference.haar_orthogonal(dims[j + 1], seed=int(rng.integers(2**32)))
            layers[j] = o @ layers[j]
            layers[j + 1] = layers[j + 1] @ o.T
        for j in range(depth):
            out[j][b] = layers[j]
    return out, np.stack(targets)


@pytest.mark.parametrize("dims", [[3, 5, 5, 2], [4, 4, 4, 4, 4], [2, 6, 3], [5, 5]])
def test_balancedness_zero_after_balanced_init(dims) -> None:
    rng = np.random.default_rng(1)
    w, targets = balanced_weights(rng, dims, 3)
    assert metrics.balancedness(w).max() < 1e-13
    # The construction is right: the end-to-end matrix is the sampled A.
    assert_close(metrics.singular_values(w), ref.singular_values([targets]), 1e-12)
    if len(dims) > 2:  # and the test can fail: a random net is far from balanced
        assert metrics.balancedness(random_weights(rng, dims, 1)).max() > 1e-2


@pytest.mark.parametrize("balanced", [True, False])
def test_one_step_balancedness_change(balanced) -> None:
    """After one GD step D_j = W_{j+1}ᵀW_{j+1} − W_jW_jᵀ changes by exactly
    η²(G_{j+1}ᵀG_{j+1} − G_jG_jᵀ)."""
    rng = np.random.default_rng(2)
    dims = [4, 5, 5, 3]
    w = balanced_weights(rng, dims, 2)[0] if balanced else random_weights(rng, dims, 2)
    X, Y = rng.standard_normal((4, 6)), rng.standard_normal((3, 6))
    lr = 0.05
    grads = ref_gradients(w, X, Y, alpha=0.9)
    w1 = dl.train(w, X, Y, lr=lr, steps=1, alpha=0.9).weights
    want_norms = np.zeros((2, len(dims) - 2))
    for b in range(2):
        for j in range(len(dims) - 2):
            gap0 = w[j + 1][b].T @ w[j + 1][b] - w[j][b] @ w[j][b].T
            gap1 = w1[j + 1][b].T @ w1[j + 1][b] - w1[j][b] @ w1[j][b].T
            g, g_next = grads[j][b], grads[j + 1][b]
            predicted = lr**2 * (g_next.T @ g_next - g @ g.T)
            assert np.abs(gap1 - gap0 - predicted).max() <= 1e-10
            want_norms[b, j] = np.linalg.norm(gap0 + predicted)
    assert_close(metrics.balancedness(w1, per_layer=True), want_norms, 1e-10)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_ntk_nonzero_spectrum_is_n_times_fisher(activation) -> None:
    rng = np.random.default_rng(4)
    dims = [3, 4, 2]
    w = random_weights(rng, dims, 1)
    biases = [rng.standard_normal((1, d)) * 0.2 for d in dims[1:]]
    X = rng.standard_normal((3, 5))
    n = X.shape[1]
    theta = metrics.ntk(w, X, activation=activation, biases=biases)[0]
    net = ref._nets(w, biases, 1.0, activation, "standard", 1.0)[0]
    jac = ref._full_jacobian(net, X)
    fisher = jac.T @ jac / n
    ev_theta = np.sort(np.linalg.eigvalsh(theta))[::-1]
    ev_fisher = np.sort(np.linalg.eigvalsh(fisher))[::-1]
    r = min(ev_theta.size, ev_fisher.size)
    assert_close(ev_theta[:r], n * ev_fisher[:r], 1e-10)
    assert_close(
        metrics.fisher_max_eigenvalue(w, X, activation=activation, biases=biases),
        [ev_fisher[0]],
        1e-10,
    )


@pytest.mark.parametrize("dims", [[3, 4, 4, 2], [2, 2], [1, 3, 1], [4, 2, 5]])
def test_linear_ntk_equals_finite_difference_jjt(dims) -> None:
    rng = np.random.default_rng(6)
    w = random_weights(rng, dims, 1)
    X = rng.standard_normal((dims[0], 3))
    alpha = 0.7

    def f(params):
        out = X
        for p in params:
            out = p @ out
        return (alpha * out).T  # (n, d_L): row-major flattening is example-major

    jac = ref.finite_difference_jacobian(f, [x[0] for x in w])
    theta = metrics.ntk(w, X, alpha=alpha)[0]
    assert_close(theta, jac @ jac.T, 1e-7)


@given(problems())
def test_linear_jacobian_singular_values_equal_singular_values(problem) -> None:
    dims, w, X, _ = problem
    jsv = metrics.jacobian_singular_values(w, X, alpha=-1.5)
    sv = metrics.singular_values(w, -1.5)
    assert jsv.shape == (w[0].shape[0], X.shape[1], min(dims[0], dims[-1]))
    assert_close(jsv, np.broadcast_to(sv[:, None, :], jsv.shape), _tol(dims))


def test_hu_lemma_partial_products_of_orthogonal_init() -> None:
    m, dims = 16, [4, 16, 16, 16, 3]
    w = dl.init.orthogonal(dims, batch=2, seed=0)
    for i, j in [(1, 2), (1, 3), (2, 2)]:
        sv = metrics.partial_product_singular_values(w, i, j)
        assert_close(sv, np.full_like(sv, m ** ((j - i + 1) / 2)), 1e-12)


# ---------------------------------------------------------------------------------------------
# bad input

W = random_weights(np.random.default_rng(0), [3, 4, 2], 2)
X0 = np.ones((3, 2))


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: metrics.singular_values(W[0]), TypeError, "weights"),
        (lambda: metrics.singular_values([]), ValueError, "weights"),
        (lambda: metrics.singular_values([W[0], np.zeros((2, 2, 3))]), ValueError, r"weights\[1\]"),
        (lambda: metrics.singular_values(W, alpha=math.inf), ValueError, "alpha"),
        (lambda: metrics.singular_values(W, alpha="1"), TypeError, "alpha"),
        (lambda: metrics.singular_values([W[0].astype(np.int64)]), TypeError, r"weights\[0\]"),
        (
            lambda: metrics.singular_values([W[0], W[1].astype(np.float32)]),
            TypeError,
            r"weights\[1\]",
        ),
        (lambda: metrics.partial_product_singular_values(W, 0, 2), ValueError, "j"),
        (lambda: metrics.partial_product_singular_values(W, 1, 0), ValueError, "i"),
        (lambda: metrics.partial_product_singular_values(W, 0.5, 1), TypeError, "i"),
        (lambda: metrics.balancedness(W, per_layer="yes"), TypeError, "per_layer"),
        (lambda: metrics.deficiency_margin(W, np.ones((3, 2))), ValueError, "Phi"),
        (lambda: metrics.deficiency_margin(W, np.ones((5, 2, 3))), ValueError, "Phi"),
        (lambda: metrics.relative_weight_change(W, W[:1]), ValueError, "w1"),
        (lambda: metrics.jacobian_singular_values(W, np.ones((4, 2))), ValueError, "X"),
        (lambda: metrics.ntk(W, X0, activation="sigmoid"), ValueError, "activation"),
        (lambda: metrics.ntk(W, X0, activation=3), TypeError, "activation"),
        (lambda: metrics.ntk(W, X0, parameterization="mup"), ValueError, "parameterization"),
        (
            lambda: metrics.ntk(W, X0, sigma_w=math.nan, parameterization="ntk"),
            ValueError,
            "sigma_w",
        ),
        (lambda: metrics.ntk(W, X0, biases=[np.ones((2, 4))]), ValueError, "biases"),
        (
            lambda: metrics.ntk(W, X0, biases=[np.ones((2, 4)), np.ones((2, 3))]),
            ValueError,
            r"biases\[1\]",
        ),
        (
            lambda: metrics.ntk_relative_change(
                W, W, X0, biases0=[np.ones((2, 4)), np.ones((2, 2))]
            ),
            ValueError,
            "biases1",
        ),
        (lambda: metrics.fisher_max_eigenvalue(W, X0, method="power"), ValueError, "method"),
        (lambda: metrics.fisher_max_eigenvalue(W, X0, threads=0), ValueError, "threads"),
    ],
)
def test_bad_input_names_the_argument(call, exc, match) -> None:
    with raises_clean(exc, match):
        call()
