"""Infinite-width kernels (dl.kernels) and the NTK distance (dl.metrics.ntk_distance).

Oracles: the NumPy twins in dl.reference.kernels (closed forms, and a tensor Gauss–Hermite rule
that does not share the core's polar quadrature), Monte Carlo estimates over wide random
networks built with dl.init, and the width^{-1/2} convergence of the empirical NTK.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import deeplinear as dl
from deeplinear import reference as ref
from helpers import raises_clean

ACTIVATIONS = ["linear", "relu", "erf", "tanh"]
CLOSED = ["linear", "relu", "erf"]


def _inputs(rng: np.random.Generator, d0: int, n: int, q: float = 1.0) -> np.ndarray:
    """n random inputs of dimension d0, scaled so that ‖x‖²/d0 = q (variance σ_w²q at layer 1)."""
    x = rng.standard_normal((d0, n))
    return x * np.sqrt(q * d0 / (x * x).sum(axis=0))


def _forward(
    weights: list[np.ndarray],
    biases: list[np.ndarray] | None,
    X: np.ndarray,
    activation: str,
    scales: list[float],
) -> np.ndarray:
    """Outputs f(X) of every network, (batch, d_L, n): z_j = s_j W_j h + b_j, h = φ(z)."""
    phi = {
        "linear": lambda z: z,
        "relu": lambda z: np.maximum(z, 0.0),
        "erf": np.vectorize(math.erf, otypes=[np.float64]),
        "tanh": np.tanh,
    }[activation]
    h = np.broadcast_to(X, (weights[0].shape[0], *X.shape))
    for j, (w, s) in enumerate(zip(weights, scales)):
        z = s * (w @ h) + (0.0 if biases is None else biases[j][:, :, None])
        h = phi(z) if j < len(weights) - 1 else z
    return h


def _kernel_args(draw: st.DrawFn) -> dict:
    return {
        "sigma_w": draw(st.floats(0.3, 1.8)),
        "sigma_b": draw(st.one_of(st.none(), st.floats(0.0, 0.8))),
        "parameterization": draw(st.sampled_from(["ntk", "standard"])),
        "alpha": draw(st.floats(-2.0, 2.0)),
    }


@st.composite
def problems(draw: st.DrawFn) -> tuple[list[int], np.ndarray, np.ndarray | None, dict]:
    """Random depths (1..4), widths (1..6, odd ones included), 1..5 inputs, with or without X2."""
    depth = draw(st.integers(1, 4))
    dims = [draw(st.integers(1, 6)) for _ in range(depth + 1)]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = _inputs(rng, dims[0], draw(st.integers(1, 5)), q=draw(st.floats(0.2, 1.0)))
    X2 = (
        _inputs(rng, dims[0], draw(st.integers(1, 4)), q=draw(st.floats(0.2, 1.0)))
        if draw(st.booleans())
        else None
    )
    return dims, X, X2, _kernel_args(draw)


def _entry_scale(kernel, dims, X, X2, **kw) -> float:
    """The size entries of a kernel matrix are measured against: max √(K(x,x) K(x',x')), which
    bounds every |K(x,x')| (the kernels are positive semi-definite). Scaling by the largest
    entry instead fails where every entry cancels to ~0 (relu with x' = −x gives exactly 0 in
    one route and 1e-17 in the other)."""
    kx = np.diag(kernel(dims, X, **kw))
    kx2 = kx if X2 is None else np.diag(kernel(dims, X2, **kw))
    return max(float(np.outer(np.sqrt(np.abs(kx)), np.sqrt(np.abs(kx2))).max()), 1e-300)


# ---------------------------------------------------------------------------------------------
# against the NumPy twins


@pytest.mark.parametrize("activation", CLOSED)
@given(problem=problems())
def test_closed_forms_match_reference(activation, problem) -> None:
    dims, X, X2, kw = problem
    for name in ("nngp", "ntk"):
        got = getattr(dl.kernels, name)(dims, X, X2, activation=activation, **kw)
        want = getattr(ref.kernels, name)(dims, X, X2, activation=activation, **kw)
        n2 = X.shape[1] if X2 is None else X2.shape[1]
        assert got.shape == (X.shape[1], n2) and got.dtype == np.float64
        scale = _entry_scale(getattr(ref.kernels, name), dims, X, X2, activation=activation, **kw)
        assert np.abs(got - want).max() <= 1e-12 * scale, (name, got, want)


@settings(max_examples=30)  # the reference's 200 × 200 rule costs ~0.4 s per example
@given(problem=problems())
def test_tanh_matches_high_order_reference_quadrature(problem) -> None:
    """The core's polar rule against 200 × 200 Gauss–Hermite nodes; variances stay below ~2.4
    (inputs with ‖x‖²/d_0 ≤ 1, σ_w ≤ 1.3, σ_b ≤ 0.8), where that rule is accurate to ~1e-11."""
    dims, X, X2, kw = problem
    kw["sigma_w"] = min(kw["sigma_w"], 1.3)
    for name in ("nngp", "ntk"):
        got = getattr(dl.kernels, name)(dims, X, X2, activation="tanh", **kw)
        want = getattr(ref.kernels, name)(dims, X, X2, activation="tanh", **kw)
        # the diagonal from the core: the reference's 200 × 200 rule would triple the cost
        scale = _entry_scale(getattr(dl.kernels, name), dims, X, X2, activation="tanh", **kw)
        assert np.abs(got - want).max() <= 1e-9 * scale, (name, got, want)


@pytest.mark.parametrize("activation", CLOSED)
@given(problem=problems())
def test_quadrature_matches_closed_forms(activation, problem) -> None:
    """The quadrature route for linear, relu and erf against their closed forms, to 1e-8
    (relative to the largest entry); variances here reach ~5. Inputs in general position: see
    the collinear test below for relu."""
    dims, X, X2, kw = problem
    assume(activation != "relu" or dims[0] > 1)
    for name in ("nngp", "ntk"):
        f = getattr(dl.kernels, name)
        quad = f(dims, 2 * X, X2, activation=activation, method="quadrature", **kw)
        exact = f(dims, 2 * X, X2, activation=activation, method="closed_form", **kw)
        scale = _entry_scale(f, dims, 2 * X, X2, activation=activation, method="closed_form", **kw)
        assert np.abs(quad - exact).max() <= 1e-8 * scale, (name, quad, exact)


def test_relu_collinear_inputs() -> None:
    """Collinear inputs keep ρ = 1 in every relu layer (E = √(ab)/2, E' = 1/2), where the
    derivative kernel (π − arccos ρ)/(2π) turns a relative error δ of the other terms into √δ:
    the closed form (ρ snapped to ±1 within 4ε) matches the recursion by hand to 1e-14, the
    quadrature (whose sums carry δ ~ 1e-15) to 1e-6. Opposite inputs (ρ = −1) give E = E' = 0."""
    x, x2 = np.array([[2.0]]), np.array([[1.4, 0.3]])
    sw, depth = 0.7, 6
    dims = [1] * (depth + 1)
    want = []
    for y in x2[0]:
        a, b, theta = sw**2 * 4.0, sw**2 * y * y, sw**2 * 2.0 * y
        for _ in range(depth - 1):
            e = math.sqrt(a * b) / 2
            theta = sw**2 * e + sw**2 * 0.5 * theta
            a, b = sw**2 * a / 2, sw**2 * b / 2
        want.append(theta)
    for method, rtol in (("closed_form", 1e-14), ("quadrature", 1e-6)):
        got = dl.kernels.ntk(dims, x, x2, activation="relu", sigma_w=sw, method=method)
        np.testing.assert_allclose(got[0], want, rtol=rtol)
        opposite = dl.kernels.ntk([1, 1, 1], x, -x2, activation="relu", sigma_w=sw, method=method)
        assert np.all(opposite == 0.0), opposite


def test_odd_shapes_and_symmetry() -> None:
    rng = np.random.default_rng(3)
    for dims in ([1, 1], [1, 5], [3, 1, 1], [1, 2, 3, 4]):
        X = rng.standard_normal((dims[0], 4))
        for activation in ACTIVATIONS:
            k = dl.kernels.ntk(dims, X, activation=activation, sigma_w=1.1, sigma_b=0.2)
            assert k.shape == (4, 4)
            assert np.array_equal(k, k.T)
            one = dl.kernels.nngp(dims, X[:, :1], activation=activation, sigma_w=1.1)
            assert one.shape == (1, 1) and one[0, 0] > 0
            want = ref.kernels.nngp(dims, X[:, :1], activation=activation, sigma_w=1.1)
            assert abs(one[0, 0] - want[0, 0]) <= 1e-10 * want[0, 0]


def test_independent_of_threads_and_dtype() -> None:
    rng = np.random.default_rng(4)
    X = rng.standard_normal((6, 30))
    for activation in ("relu", "tanh"):
        kw = {"activation": activation, "sigma_w": 1.3, "sigma_b": 0.1}
        one = dl.kernels.ntk([6, 8, 8, 2], X, threads=1, **kw)
        two = dl.kernels.ntk([6, 8, 8, 2], X, threads=2, **kw)
        assert np.array_equal(one, two)
        single = dl.kernels.ntk([6, 8, 8, 2], X.astype(np.float32), **kw)
        want = dl.kernels.ntk([6, 8, 8, 2], X.astype(np.float32).astype(np.float64), **kw)
        assert np.array_equal(single, want)
    ints = dl.kernels.nngp([2, 3, 1], [[1, 0], [0, 2]], activation="relu", sigma_w=1.0)
    assert np.allclose(
        ints, dl.kernels.nngp([2, 3, 1], np.diag([1.0, 2.0]), activation="relu", sigma_w=1.0)
    )


def test_relu_critical_known_values() -> None:
    """relu, σ_w² = 2, no biases: Σ(x, x) = 2‖x‖²/d_0 at every layer and the NTK diagonal is
    L·Σ; for orthogonal inputs of equal norm the first hidden layer gives ρ = 1/π (Cho & Saul)."""
    X = np.eye(3) * 2.0
    depth = 5
    dims = [3] + [7] * (depth - 1) + [1]
    k = dl.kernels.nngp(dims, X, activation="relu", sigma_w=math.sqrt(2))
    t = dl.kernels.ntk(dims, X, activation="relu", sigma_w=math.sqrt(2))
    q = 2 * 4 / 3
    np.testing.assert_allclose(np.diag(k), q, rtol=1e-14)
    np.testing.assert_allclose(np.diag(t), depth * q, rtol=1e-14)
    k2 = dl.kernels.nngp([3, 7, 1], X, activation="relu", sigma_w=math.sqrt(2))
    np.testing.assert_allclose(k2[0, 1], q / math.pi, rtol=1e-14)


# ---------------------------------------------------------------------------------------------
# against Monte Carlo over wide random networks


def _mc_check(samples: np.ndarray, want: np.ndarray, k: float = 4.0) -> None:
    """Per entry: |mean − want| ≤ k standard errors of the mean over the networks (axis 0)."""
    mean = samples.mean(axis=0)
    se = samples.std(axis=0, ddof=1) / math.sqrt(samples.shape[0])
    z = np.abs(mean - want) / se
    assert np.all(z <= k), f"max |z| = {z.max():.2f}\nmean\n{mean}\nwant\n{want}\nse\n{se}"


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_nngp_closed_forms_match_wide_networks(activation) -> None:
    """64 Gaussian networks [6, 1024, 1024, 256] in the NTK parameterisation with biases: the
    per-network covariance of the outputs, averaged over the 256 output units, against the
    NNGP. Tolerance: 4 standard errors over the networks (finite-width bias ~1/1024 ≪ 1 s.e.).
    """
    rng = np.random.default_rng(5)
    dims, batch, sw, sb = [6, 1024, 1024, 256], 64, 1.4, 0.5
    X = _inputs(rng, 6, 5)
    w = dl.init.gaussian(dims, batch=batch, seed=11)
    b = [sb * rng.standard_normal((batch, d)) for d in dims[1:]]
    scales = [sw / math.sqrt(d) for d in dims[:-1]]
    f = _forward(w, b, X, activation, scales)
    per_net = np.einsum("bax,bay->bxy", f, f) / dims[-1]
    want = dl.kernels.nngp(dims, X, activation=activation, sigma_w=sw, sigma_b=sb)
    _mc_check(per_net, want)
    # The rule can fail: the same data reject a kernel without the bias variance.
    wrong = dl.kernels.nngp(dims, X, activation=activation, sigma_w=sw)
    with pytest.raises(AssertionError):
        _mc_check(per_net, wrong)


@pytest.mark.parametrize(
    ("activation", "param"), [("relu", "ntk"), ("erf", "ntk"), ("erf", "standard")]
)
def test_ntk_matches_wide_networks(activation, param) -> None:
    """32 networks [5, 1024, 1024, 2] with biases: the empirical NTK (dl.metrics.ntk), output
    blocks averaged, against the infinite-width NTK ⊗ I. In the standard parameterisation the
    weights are N(0, σ_w²/d_in) and the limit carries the fan-ins of dims. 4 standard errors."""
    rng = np.random.default_rng(6)
    dims, batch, sw, sb = [5, 1024, 1024, 2], 32, 1.3, 0.4
    X = _inputs(rng, 5, 4)
    w = dl.init.gaussian(dims, batch=batch, seed=12)
    if param == "standard":
        w = [layer * (sw / math.sqrt(layer.shape[2])) for layer in w]
    b = [sb * rng.standard_normal((batch, d)) for d in dims[1:]]
    kw = {"activation": activation, "sigma_w": sw, "parameterization": param}
    theta = dl.metrics.ntk(w, X, biases=b, **kw).reshape(batch, 4, 2, 4, 2)
    per_net = theta.diagonal(axis1=2, axis2=4).mean(axis=-1)
    want = dl.kernels.ntk(dims, X, sigma_b=sb, **kw)
    _mc_check(per_net, want)
    # Off-diagonal output blocks vanish in the limit (K ⊗ I): mean within 4 s.e. of 0.
    _mc_check(theta[:, :, 0, :, 1], np.zeros((4, 4)))
    wrong = dl.kernels.ntk(dims, X, sigma_b=None, **kw)
    with pytest.raises(AssertionError):
        _mc_check(per_net, wrong)


# ---------------------------------------------------------------------------------------------
# ntk_distance


def test_ntk_distance_matches_reference() -> None:
    rng = np.random.default_rng(7)
    dims = [3, 5, 4, 2]
    X = rng.standard_normal((3, 4))
    w = dl.init.gaussian(dims, batch=3, seed=1)
    b = [0.3 * rng.standard_normal((3, d)) for d in dims[1:]]
    for activation in ACTIVATIONS:
        for param in ("ntk", "standard"):
            kw = {"sigma_w": 1.2, "activation": activation, "parameterization": param}
            got = dl.metrics.ntk_distance(w, X, biases=b, sigma_b=0.3, **kw)
            want = ref.metrics.ntk_distance(w, X, biases=b, sigma_b=0.3, **kw)
            np.testing.assert_allclose(got, want, rtol=1e-9)
            got = dl.metrics.ntk_distance(w, X, **kw)
            want = ref.metrics.ntk_distance(w, X, **kw)
            np.testing.assert_allclose(got, want, rtol=1e-9)
    # Per-network inputs: each network against its own limit.
    X3 = rng.standard_normal((3, 3, 4))
    per = dl.metrics.ntk_distance(w, X3, sigma_w=1.2, activation="erf")
    each = [
        dl.metrics.ntk_distance(
            [layer[i : i + 1] for layer in w], X3[i], sigma_w=1.2, activation="erf"
        )[0]
        for i in range(3)
    ]
    np.testing.assert_allclose(per, each, rtol=1e-12)


def _distance_slope(
    activation: str, init: str, batch: int, widths: list[int]
) -> tuple[float, list[float]]:
    """Log-log slope of the mean NTK distance over widths (3 hidden layers, NTK
    parameterisation, 20 inputs in 16 dimensions, σ_w = 1.5)."""
    X = _inputs(np.random.default_rng(8), 16, 20)
    sampler = dl.init.gaussian if init == "gaussian" else dl.init.orthogonal
    means = []
    for m in widths:
        w = sampler([16, m, m, m, 1], batch=batch, seed=m)
        means.append(
            float(dl.metrics.ntk_distance(w, X, sigma_w=1.5, activation=activation).mean())
        )
    slope = float(np.polyfit(np.log(widths), np.log(means), 1)[0])
    return slope, means


@pytest.mark.parametrize("init", ["gaussian", "orthogonal"])
@pytest.mark.parametrize("activation", ["erf", "relu"])
def test_ntk_distance_falls_like_inverse_sqrt_width(activation, init) -> None:
    """Huang et al. Fig. 1: Gaussian and orthogonal networks both approach the same
    infinite-width NTK, the distance falling like width^{−1/2}: fitted log-log slope over widths
    64…1024 (8 networks each) in −0.5 ± 0.15, and the distance at width 1024 below 0.15."""
    slope, means = _distance_slope(activation, init, 8, [64, 128, 256, 512, 1024])
    assert -0.65 <= slope <= -0.35, (slope, means)
    assert means[-1] < 0.15, means


@pytest.mark.slow
@pytest.mark.parametrize("init", ["gaussian", "orthogonal"])
@pytest.mark.parametrize("activation", ["erf", "relu", "tanh"])
def test_ntk_distance_slope_full(activation, init) -> None:
    """The same fit with 32 networks per width and widths 64…2048."""
    slope, means = _distance_slope(activation, init, 32, [64, 128, 256, 512, 1024, 2048])
    assert -0.65 <= slope <= -0.35, (slope, means)


# ---------------------------------------------------------------------------------------------
# bad input

X4 = np.ones((3, 4))
GOOD = {"activation": "relu", "sigma_w": 1.0}


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (
            lambda: dl.kernels.ntk([3, 2], X4, activation="gelu", sigma_w=1.0),
            ValueError,
            "activation",
        ),
        (lambda: dl.kernels.ntk([3, 2], X4, activation=3, sigma_w=1.0), TypeError, "activation"),
        (lambda: dl.kernels.ntk([4, 2], X4, **GOOD), ValueError, r"X: expected shape \(4, n\)"),
        (lambda: dl.kernels.ntk([3, 2], X4, np.ones((2, 2)), **GOOD), ValueError, "X2"),
        (lambda: dl.kernels.ntk([3, 2], np.ones(3), **GOOD), ValueError, "X"),
        (lambda: dl.kernels.ntk([3, 2], np.ones((3, 0)), **GOOD), ValueError, "X"),
        (lambda: dl.kernels.ntk([3, 2], X4 * np.nan, **GOOD), ValueError, "X: must be finite"),
        (
            lambda: dl.kernels.ntk([3, 2], X4 * 1e200, **GOOD),
            ValueError,
            "X: column 0 is too large",
        ),
        (lambda: dl.kernels.ntk([3, 2], X4.astype(complex), **GOOD), TypeError, "X"),
        (lambda: dl.kernels.ntk([3], X4, **GOOD), ValueError, "dims"),
        (lambda: dl.kernels.ntk([3, 0, 2], X4, **GOOD), ValueError, "dims"),
        (lambda: dl.kernels.ntk([3, -1], X4, **GOOD), ValueError, r"dims\[1\]"),
        (lambda: dl.kernels.ntk("32", X4, **GOOD), TypeError, "dims"),
        (
            lambda: dl.kernels.ntk([3, 2], X4, activation="relu", sigma_w=-1.0),
            ValueError,
            "sigma_w",
        ),
        (
            lambda: dl.kernels.ntk([3, 2], X4, activation="relu", sigma_w=math.inf),
            ValueError,
            "sigma_w",
        ),
        (lambda: dl.kernels.ntk([3, 2], X4, sigma_b=-0.1, **GOOD), ValueError, "sigma_b"),
        (lambda: dl.kernels.ntk([3, 2], X4, sigma_b=math.nan, **GOOD), ValueError, "sigma_b"),
        (lambda: dl.kernels.ntk([3, 2], X4, sigma_b="0.1", **GOOD), TypeError, "sigma_b"),
        (lambda: dl.kernels.ntk([3, 2], X4, alpha=math.nan, **GOOD), ValueError, "alpha"),
        (
            lambda: dl.kernels.ntk([3, 2], X4, parameterization="mup", **GOOD),
            ValueError,
            "parameterization",
        ),
        (lambda: dl.kernels.ntk([3, 2], X4, method="exact", **GOOD), ValueError, "method"),
        (
            lambda: dl.kernels.ntk(
                [3, 2], X4, activation="tanh", sigma_w=1.0, method="closed_form"
            ),
            ValueError,
            "method",
        ),
        (lambda: dl.kernels.ntk([3, 2], X4, threads=0, **GOOD), ValueError, "threads"),
        (lambda: dl.kernels.nngp([3, 2], X4, activation="relu"), TypeError, "sigma_w"),
        (
            lambda: dl.metrics.ntk_distance(
                dl.init.gaussian([3, 2], seed=0), X4, sigma_w=1.0, sigma_b=0.2
            ),
            ValueError,
            "sigma_b",
        ),
        (
            lambda: dl.metrics.ntk_distance(
                dl.init.gaussian([3, 2], seed=0), np.ones((2, 4)), sigma_w=1.0
            ),
            ValueError,
            "X",
        ),
    ],
)
def test_bad_input_names_the_argument(call, exc, match) -> None:
    with raises_clean(exc, match):
        call()


def test_reference_rejects_bad_input() -> None:
    for kw in (
        {"activation": "gelu", "sigma_w": 1.0},
        {"activation": "relu", "sigma_w": -1.0},
        {"activation": "relu", "sigma_w": 1.0, "sigma_b": -1.0},
        {"activation": "tanh", "sigma_w": 1.0, "method": "closed_form"},
    ):
        with pytest.raises(ValueError):
            ref.kernels.ntk([3, 2], X4, **kw)
    with pytest.raises(ValueError):
        ref.kernels.ntk([4, 2], X4, **GOOD)
