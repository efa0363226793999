"""The initialisation schemes (docs/science.md) beyond gaussian/orthogonal: exact structural
properties (balanced, Hu's Lemma 4.2, zas, identity), distributions, critical σ's and their
mean-field fixed point, determinism, and bad input."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deeplinear as dl
from deeplinear import reference as ref
from helpers import raises_clean

Z = 5.0  # standard errors allowed per statistical check
IMPLS = pytest.mark.parametrize("impl", [dl.init, ref.init], ids=["rust", "reference"])


def _product(ws: list[np.ndarray]) -> np.ndarray:
    """W_L ⋯ W_1 per network, (batch, d_L, d_0), in float64."""
    p = ws[0].astype(np.float64)
    for w in ws[1:]:
        p = w.astype(np.float64) @ p
    return p


def _balancedness(ws: list[np.ndarray]) -> np.ndarray:
    """max_j ‖W_{j+1}ᵀW_{j+1} − W_jW_jᵀ‖_F per network."""
    gaps = [np.zeros(ws[0].shape[0])]
    for lo, up in zip(ws[:-1], ws[1:]):
        lo, up = lo.astype(np.float64), up.astype(np.float64)
        gap = up.transpose(0, 2, 1) @ up - lo @ lo.transpose(0, 2, 1)
        gaps.append(np.linalg.norm(gap, axis=(1, 2)))
    return np.max(gaps, axis=0)


# ----------------------------------------------------------------------------------------------
# balanced (Arora et al. Procedure 1)


@st.composite
def balanced_dims(draw: st.DrawFn) -> list[int]:
    """Depth 1..5, ends 1..6, hidden widths from min(d_0, d_L) up to 8."""
    depth = draw(st.integers(1, 5))
    d_x, d_y = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    k = min(d_x, d_y)
    hidden = draw(st.lists(st.integers(k, 8), min_size=depth - 1, max_size=depth - 1))
    return [d_x, *hidden, d_y]


@IMPLS
@given(
    dims=balanced_dims(),
    batch=st.integers(1, 3),
    randomize=st.booleans(),
    scale=st.sampled_from([1e-3, 0.3, 1.0, 7.0]),
    seed=st.integers(0, 2**32 - 1),
)
@settings(max_examples=60)
def test_balanced_factors_a_given_product_exactly(
    impl: Any, dims: list[int], batch: int, randomize: bool, scale: float, seed: int
) -> None:
    """W_L⋯W_1 = A and 0-balancedness, both to 1e-10 relative to the layers' scale."""
    a = scale * np.random.default_rng(seed).standard_normal((batch, dims[-1], dims[0]))
    ws = impl.balanced(dims, batch=batch, seed=seed, product=a, randomize=randomize)
    assert [w.shape for w in ws] == [(batch, o, i) for i, o in zip(dims[:-1], dims[1:])]
    norm_a = np.linalg.norm(a, axis=(1, 2))
    err = np.linalg.norm(_product(ws) - a, axis=(1, 2))
    assert np.all(err <= 1e-10 * np.maximum(norm_a, 1e-300)), err / norm_a
    # ‖W_jW_jᵀ‖_F ≤ √k ‖A‖^{2/L}: the scale of each term of the balancedness gap.
    layer_scale = math.sqrt(min(dims[0], dims[-1])) * norm_a ** (2 / (len(dims) - 1))
    assert np.all(_balancedness(ws) <= 1e-10 * np.maximum(layer_scale, 1e-300))


@IMPLS
@given(dims=balanced_dims(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=30)
def test_balanced_sampled_product_is_balanced_and_independent_of_rotations(
    impl: Any, dims: list[int], seed: int
) -> None:
    """The end-to-end matrix is drawn first, so rotating or not gives the same product."""
    plain = impl.balanced(dims, batch=2, seed=seed, std=0.7, randomize=False)
    rotated = impl.balanced(dims, batch=2, seed=seed, std=0.7, randomize=True)
    np.testing.assert_allclose(_product(rotated), _product(plain), rtol=1e-10, atol=1e-12)
    assert np.all(_balancedness(rotated) <= 1e-10 * (1 + np.linalg.norm(_product(plain))))
    if len(dims) > 2 and dims[1] >= 2:  # the rotation O_1 really changes W_1
        assert not np.allclose(rotated[0], plain[0])


@IMPLS
def test_balanced_product_entries_are_gaussian(impl: Any) -> None:
    """Sampled A has i.i.d. N(0, std²) entries: variance within 5 standard errors."""
    std = 0.4
    ws = impl.balanced([6, 9, 9, 5], batch=400, seed=3, std=std)
    x = _product(ws).ravel()
    assert abs(x.mean()) <= Z * std / math.sqrt(x.size)
    assert abs(x.var() - std**2) <= Z * std**2 * math.sqrt(2 / x.size)


@IMPLS
def test_balanced_rejects_narrow_hidden_layer(impl: Any) -> None:
    with raises_clean(ValueError, r"dims.*hidden width >= min\(d_0, d_L\) = 3.*dims\[2\] = 2"):
        impl.balanced([4, 5, 2, 3], seed=0)


def test_balanced_bad_product_and_flags() -> None:
    with raises_clean(ValueError, r"product.*\(3, 4\)"):
        dl.init.balanced([4, 5, 3], product=np.ones((4, 3)), seed=0)
    with raises_clean(ValueError, "product.*finite"):
        dl.init.balanced([2, 2, 2], product=np.array([[1.0, np.nan], [0, 1]]), seed=0)
    with raises_clean(TypeError, "randomize"):
        dl.init.balanced([2, 2, 2], randomize="yes", seed=0)  # type: ignore[arg-type]
    with raises_clean(ValueError, "std"):
        dl.init.balanced([2, 2, 2], std=-1.0, seed=0)


def test_balanced_float32_product() -> None:
    a = np.random.default_rng(1).standard_normal((3, 5))
    ws = dl.init.balanced([5, 6, 6, 3], product=a, dtype=np.float32, seed=0)
    assert all(w.dtype == np.float32 for w in ws)
    np.testing.assert_allclose(_product(ws)[0], a, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------------------------
# orthogonal: Hu et al. Lemma 4.2


@IMPLS
@given(
    depth=st.integers(2, 6),
    d_x=st.integers(1, 5),
    d_y=st.integers(1, 5),
    extra=st.integers(0, 4),
    seed=st.integers(0, 2**32 - 1),
)
@settings(max_examples=40)
def test_orthogonal_partial_products_have_flat_spectrum(
    impl: Any, depth: int, d_x: int, d_y: int, extra: int, seed: int
) -> None:
    """With m ≥ d_x, d_y every proper partial product W_{j:i}, (i, j) ≠ (1, L), has all
    singular values equal to m^{(j−i+1)/2} (Hu, Xiao & Pennington Lemma 4.2)."""
    m = max(d_x, d_y) + extra
    dims = [d_x] + [m] * (depth - 1) + [d_y]
    ws = [w[0] for w in impl.orthogonal(dims, seed=seed)]
    for i in range(depth):
        p = np.eye(dims[i])
        for j in range(i, depth):
            p = ws[j] @ p
            if (i, j) == (0, depth - 1):
                continue
            s = np.linalg.svd(p, compute_uv=False)
            want = m ** ((j - i + 1) / 2)
            np.testing.assert_allclose(s, want, rtol=1e-10, err_msg=f"W_{{{j + 1}:{i + 1}}}")


# ----------------------------------------------------------------------------------------------
# zas, identity, near_identity


@IMPLS
@given(dims=st.lists(st.integers(1, 7), min_size=2, max_size=6), batch=st.integers(1, 3))
@settings(max_examples=30)
def test_zas_structure(impl: Any, dims: list[int], batch: int) -> None:
    """The first L−1 layers are the rectangular identity, the last is 0, so the product is 0."""
    ws = impl.zas(dims, batch=batch, seed=0)
    for j, w in enumerate(ws[:-1]):
        assert np.array_equal(w, np.broadcast_to(np.eye(dims[j + 1], dims[j]), w.shape))
    assert np.all(ws[-1] == 0)
    assert np.all(_product(ws) == 0)


@IMPLS
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_identity_structure(impl: Any, dtype: type) -> None:
    dims = [3, 5, 5, 2]
    ws = impl.identity(dims, batch=2, dtype=dtype)
    for j, w in enumerate(ws):
        assert w.dtype == dtype and w.flags.c_contiguous
        assert np.array_equal(w, np.broadcast_to(np.eye(dims[j + 1], dims[j]), w.shape))


@IMPLS
@pytest.mark.parametrize("sigma", [0.0, 0.1, 1.3])
def test_near_identity_noise_variance(impl: Any, sigma: float) -> None:
    """W − I has i.i.d. N(0, σ²/d_in) entries: variance within 5 standard errors."""
    dims = [30, 40, 40, 20]
    ws = impl.near_identity(dims, batch=20, seed=4, sigma=sigma)
    for j, w in enumerate(ws):
        noise = (w - np.eye(dims[j + 1], dims[j])).ravel()
        var = sigma**2 / dims[j]
        if sigma == 0:
            assert np.all(noise == 0)
            continue
        assert abs(noise.mean()) <= Z * math.sqrt(var / noise.size)
        assert abs(noise.var() - var) <= Z * var * math.sqrt(2 / noise.size)


# ----------------------------------------------------------------------------------------------
# xavier / he / lecun


@IMPLS
@pytest.mark.parametrize(
    "scheme, variance",
    [
        ("xavier", lambda i, o: 2 / (i + o)),
        ("he", lambda i, o: 2 / i),
        ("lecun", lambda i, o: 1 / i),
    ],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fan_scaled_variance(impl: Any, scheme: str, variance: Any, dtype: type) -> None:
    """Per layer: mean and variance within 5 standard errors of N(0, v(fan_in, fan_out))."""
    dims = [30, 50, 20, 7]
    ws = getattr(impl, scheme)(dims, batch=30, seed=11, dtype=dtype)
    for j, w in enumerate(ws):
        assert w.shape == (30, dims[j + 1], dims[j]) and w.dtype == dtype
        x = w.astype(np.float64).ravel()
        v = variance(dims[j], dims[j + 1])
        assert abs(x.mean()) <= Z * math.sqrt(v / x.size)
        assert abs(x.var() - v) <= Z * v * math.sqrt(2 / x.size), (scheme, j, x.var(), v)


# ----------------------------------------------------------------------------------------------
# critical


def test_critical_sigmas_spec_values() -> None:
    """docs/science.md, Initialisation schemes: q* = 1/64 → σ_w = 1.0151638, σ_b = 0.0021567
    (to 1e-6)."""
    for impl in (dl.init, ref.init):
        sw, sb = impl.critical_sigmas(1 / 64)
        assert abs(sw - 1.0151638) < 1e-6 and abs(sb - 0.0021567) < 1e-6, (sw, sb)


# Sokol & Park's q* list, computed with scipy.integrate.quad (research notes, 10 digits).
SOKOL_PARK = [
    (1e-4, 1.00009998, 1.1544e-06),
    (9e-4, 1.000898386, 3.1093e-05),
    (1 / 64, 1.015163785, 0.002156694987),
    (10**-0.5, 1.215779663, 0.1181843532),
    (0.5, 1.299220967, 0.1950415369),
    (8.0, 2.32870729, 2.008880379),
]


@pytest.mark.parametrize("q_star, sigma_w, sigma_b", SOKOL_PARK)
def test_critical_sigmas_table(q_star: float, sigma_w: float, sigma_b: float) -> None:
    """Rust Gauss–Hermite vs the published table (to its digits) and vs the NumPy trapezoid
    rule (to 1e-9; σ_b² = q* − σ_w²E[tanh²] loses digits to cancellation at small q*)."""
    sw, sb = dl.init.critical_sigmas(q_star)
    assert sw == pytest.approx(sigma_w, abs=2e-8)
    assert sb == pytest.approx(sigma_b, rel=1e-4, abs=1e-9)
    rsw, rsb = ref.init.critical_sigmas(q_star)
    assert sw == pytest.approx(rsw, rel=1e-12)
    assert sb == pytest.approx(rsb, rel=1e-9, abs=1e-12)


def test_critical_sigmas_define_the_fixed_point() -> None:
    """χ = σ_w² E[sech⁴(√q* h)] = 1 and q* = σ_w² E[tanh²(√q* h)] + σ_b², checked with an
    independent quadrature (scipy.integrate.quad), over q* from 1e-6 to 10."""
    integrate = pytest.importorskip("scipy.integrate")

    def expect(f: Any) -> float:
        def g(h: float) -> float:
            return float(f(h) * math.exp(-h * h / 2) / math.sqrt(2 * math.pi))

        # The Gaussian weight is below 1e-300 beyond |h| = 38.
        return float(integrate.quad(g, -38, 38, epsabs=1e-15, epsrel=1e-12, limit=400)[0])

    for q in np.geomspace(1e-6, 10, 8):
        sw, sb = dl.init.critical_sigmas(float(q))
        chi = sw**2 * expect(lambda h: 1 / math.cosh(min(math.sqrt(q) * abs(h), 300)) ** 4)
        fixed = sw**2 * expect(lambda h: math.tanh(math.sqrt(q) * h) ** 2) + sb**2
        assert chi == pytest.approx(1.0, abs=1e-10), q
        assert fixed == pytest.approx(q, rel=1e-9), q
        assert sb >= 0


def test_critical_sigmas_bad_input() -> None:
    for bad in (0.0, -1.0, math.nan, math.inf, 1e4):
        with raises_clean(ValueError, "q_star"):
            dl.init.critical_sigmas(bad)
    with raises_clean(TypeError, "q_star"):
        dl.init.critical_sigmas("1/64")  # type: ignore[arg-type]


@IMPLS
@pytest.mark.parametrize("weights", ["gaussian", "orthogonal"])
@pytest.mark.parametrize("parameterization", ["standard", "ntk"])
def test_critical_moments(impl: Any, weights: str, parameterization: str) -> None:
    """Weight entries have variance σ_w²/d_in (standard) or 1 (ntk); biases N(0, σ_b²)."""
    q = 0.5
    sw, sb = impl.critical_sigmas(q)
    dims = [40, 60, 60, 30]
    ws, bs = impl.critical(
        dims, batch=40, seed=2, q_star=q, weights=weights, parameterization=parameterization
    )
    assert [b.shape for b in bs] == [(40, d) for d in dims[1:]]
    for j, w in enumerate(ws):
        x = w.ravel()
        v = 1.0 if parameterization == "ntk" else sw**2 / dims[j]
        # Haar entries are nearly independent; 5 Gaussian standard errors is ample.
        assert abs(x.var() - v) <= Z * v * math.sqrt(2 / x.size), (j, x.var(), v)
        if weights == "orthogonal":
            d_in, d_out = dims[j], dims[j + 1]
            g = w @ w.transpose(0, 2, 1) if d_out <= d_in else w.transpose(0, 2, 1) @ w
            np.testing.assert_allclose(g[0], g[0][0, 0] * np.eye(min(d_in, d_out)), atol=1e-10)
    b = np.concatenate([v.ravel() for v in bs])
    assert abs(b.var() - sb**2) <= Z * sb**2 * math.sqrt(2 / b.size)


@pytest.mark.parametrize("q_star", [1 / 64, 0.5])
@pytest.mark.parametrize("weights", ["orthogonal", "gaussian"])
def test_deep_critical_tanh_keeps_preactivation_variance(q_star: float, weights: str) -> None:
    """Forward pass of a depth-40, width-256 tanh net at criticality: the mean squared
    pre-activation stays within 10% of q* in every layer (sampling error ~1%); a net with σ_w
    15% off the critical value drifts out of that band (the test can fail)."""
    depth, width, batch, n = 40, 256, 4, 16
    dims = [width] * (depth + 1)
    sw, sb = dl.init.critical_sigmas(q_star)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((width, n))
    # q¹ = σ_w² ‖x‖²/d_0 + σ_b² = q*: scale each input column accordingly.
    x *= np.sqrt((q_star - sb**2) / sw**2) / np.sqrt(np.mean(x**2, axis=0))

    def profile(ws: list[np.ndarray], bs: list[np.ndarray]) -> np.ndarray:
        q = np.empty(depth)
        h = np.broadcast_to(x, (batch, width, n))
        for j in range(depth):
            z = ws[j] @ h + bs[j][:, :, None]
            q[j] = np.mean(z**2)
            h = np.tanh(z)
        return q

    ws, bs = dl.init.critical(dims, batch=batch, seed=1, q_star=q_star, weights=weights)
    q = profile(ws, bs)
    assert np.all(np.abs(q / q_star - 1) < 0.1), q / q_star
    off = dl.init.mean_field(dims, batch=batch, seed=1, sigma_w=1.15 * sw, sigma_b=sb)
    assert np.max(np.abs(profile(*off) / q_star - 1)) > 0.1


def test_mean_field_and_critical_bad_input() -> None:
    with raises_clean(ValueError, "weights"):
        dl.init.critical([3, 3], weights="uniform", seed=0)
    with raises_clean(TypeError, "weights"):
        dl.init.critical([3, 3], weights=1, seed=0)  # type: ignore[arg-type]
    with raises_clean(ValueError, "parameterization"):
        dl.init.critical([3, 3], parameterization="mup", seed=0)
    with raises_clean(ValueError, "sigma_w"):
        dl.init.mean_field([3, 3], sigma_w=math.nan, sigma_b=0.0, seed=0)
    with raises_clean(ValueError, "sigma_b"):
        dl.init.mean_field([3, 3], sigma_w=1.0, sigma_b=-0.1, seed=0)
    with raises_clean(ValueError, "sigma"):
        dl.init.near_identity([3, 3], sigma=-0.1, seed=0)
    with raises_clean(ValueError, "dims"):
        dl.init.zas([3], seed=0)
    with raises_clean(ValueError, "dims"):
        dl.init.xavier([3, 0, 2], seed=0)


# ----------------------------------------------------------------------------------------------
# determinism


def _call(scheme: str, dims: list[int], **kw: Any) -> list[np.ndarray]:
    fn = getattr(dl.init, scheme)
    out = fn(dims, **kw)
    if isinstance(out, tuple):  # critical / mean_field: weights then biases
        return [*out[0], *out[1]]
    return list(out)


SCHEMES = {
    "gaussian": {},
    "orthogonal": {},
    "xavier": {},
    "he": {},
    "lecun": {},
    "identity": {},
    "near_identity": {"sigma": 0.3},
    "zas": {},
    "balanced": {"std": 0.5},
    "critical": {"q_star": 0.5},
    "mean_field": {"sigma_w": 1.2, "sigma_b": 0.1, "weights": "orthogonal"},
}


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_same_seed_same_bits_for_any_thread_count_and_batching(scheme: str, dtype: type) -> None:
    """Bit-identical for threads = 1, 2, 3; network b of a batch equals that network alone
    (seed list), and a different seed changes every random scheme."""
    dims = [5, 7, 6, 4]
    kw = dict(SCHEMES[scheme], dtype=dtype)
    base = _call(scheme, dims, batch=9, seed=123, threads=1, **kw)
    for threads in (2, 3):
        other = _call(scheme, dims, batch=9, seed=123, threads=threads, **kw)
        for a, b in zip(base, other):
            assert a.dtype == dtype and np.array_equal(a, b)
    batched = _call(scheme, dims, batch=3, seed=[7, 8, 9], threads=2, **kw)
    alone = _call(scheme, dims, batch=1, seed=[8], threads=1, **kw)
    for a, b in zip(batched, alone):
        assert np.array_equal(a[1], b[0])
    if scheme not in ("identity", "zas"):
        changed = _call(scheme, dims, batch=9, seed=124, threads=1, **kw)
        assert not all(np.array_equal(a, b) for a, b in zip(base, changed))
