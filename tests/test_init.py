"""Initialisation schemes (docs/science.md, Initialisation schemes): shapes, dtypes, layout,
distributions and determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deeplinear as dl
from deeplinear import reference as ref

Z = 5.0  # standard errors allowed per statistical check

DIMS = [7, 5, 12, 1, 3]  # wide, tall, width-1 bottleneck, tall


@pytest.mark.parametrize("scheme", ["gaussian", "orthogonal"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shapes_dtype_layout(scheme: str, dtype: type) -> None:
    ws = getattr(dl.init, scheme)(DIMS, batch=3, seed=0, dtype=dtype)
    assert isinstance(ws, list) and len(ws) == len(DIMS) - 1
    for j, w in enumerate(ws):
        assert isinstance(w, np.ndarray)
        assert w.shape == (3, DIMS[j + 1], DIMS[j])
        assert w.dtype == dtype
        assert w.flags.c_contiguous
        assert np.all(np.isfinite(w))
    # Default batch is 1.
    ws1 = getattr(dl.init, scheme)([2, 3], seed=0)
    assert ws1[0].shape == (1, 3, 2) and ws1[0].dtype == np.float64


@pytest.mark.parametrize("impl", [dl.init, ref.init], ids=["rust", "reference"])
@pytest.mark.parametrize("std", [1.0, 0.37, 2.5])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gaussian_moments(impl, std: float, dtype: type) -> None:
    """Entries are i.i.d. N(0, std^2): mean, variance and kurtosis within 5 SE.

    With N draws of N(0, s^2): SE(mean) = s/sqrt(N), SE(var) = s^2 sqrt(2/N), and the sample
    kurtosis has SE ~ sqrt(24/N) (it is 3 for a Gaussian, 1.8 for a uniform distribution).
    """
    ws = impl.gaussian([40, 50, 30], batch=12, seed=17, std=std, dtype=dtype)
    for w in ws:
        x = w.astype(np.float64).ravel()
        n = x.size
        assert abs(x.mean()) <= Z * std / math.sqrt(n)
        assert abs(x.var() - std**2) <= Z * std**2 * math.sqrt(2 / n)
        kurt = float(np.mean(x**4) / x.var() ** 2)
        assert abs(kurt - 3.0) <= Z * math.sqrt(24 / n)


def test_gaussian_std_zero_gives_zeros() -> None:
    ws = dl.init.gaussian([3, 4], batch=2, seed=1, std=0.0)
    assert np.all(ws[0] == 0)


@pytest.mark.parametrize("impl", [dl.init, ref.init], ids=["rust", "reference"])
@pytest.mark.parametrize("gain", [1.0, 0.5, 1.7])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_orthogonal_gram(impl, gain: float, dtype: type, tol: float) -> None:
    """W^T W = gain^2 max(d_out, d_in) I (tall) and W W^T = gain^2 max(d_out, d_in) I (wide)."""
    dims = [6, 9, 9, 4, 1, 5]
    ws = impl.orthogonal(dims, batch=4, seed=3, gain=gain, dtype=dtype)
    for j, w in enumerate(ws):
        d_in, d_out = dims[j], dims[j + 1]
        w64 = w.astype(np.float64)
        gram = w64.transpose(0, 2, 1) @ w64 if d_out >= d_in else w64 @ w64.transpose(0, 2, 1)
        scale = gain**2 * max(d_in, d_out)
        err = float(np.abs(gram / scale - np.eye(min(d_in, d_out))).max())
        assert err <= tol, f"layer {j}: relative Gram error {err:.3g}"


def test_orthogonal_is_haar() -> None:
    """Square orthogonal layers are Haar (sign-fixed): E[Tr Q] = 0, E[Tr Q^2] = 1, Var[Tr Q] = 1."""
    n, batch = 8, 8000
    (w,) = dl.init.orthogonal([n, n], batch=batch, seed=5)
    q = w / math.sqrt(n)
    tr = np.trace(q, axis1=1, axis2=2)
    tr2 = np.einsum("bij,bji->b", q, q)
    assert abs(tr.mean()) <= Z * tr.std() / math.sqrt(batch)
    assert abs(tr2.mean() - 1) <= Z * tr2.std() / math.sqrt(batch)
    assert abs(tr.var() - 1) <= Z * ((tr - tr.mean()) ** 2).std() / math.sqrt(batch)


@pytest.mark.parametrize("scheme", ["gaussian", "orthogonal"])
def test_networks_have_distinct_streams(scheme: str) -> None:
    ws = getattr(dl.init, scheme)([4, 4, 4], batch=6, seed=9)
    for w in ws:
        assert len({w[b].tobytes() for b in range(6)}) == 6
    # Layers of one network differ too (the stream advances through the layers).
    assert not np.array_equal(ws[0][0], ws[1][0])


@pytest.mark.parametrize("scheme", ["gaussian", "orthogonal"])
def test_reproducible_across_threads_and_batching(scheme: str) -> None:
    fn = getattr(dl.init, scheme)
    dims = [5, 8, 3]
    a = fn(dims, batch=40, seed=123, threads=1)
    b = fn(dims, batch=40, seed=123, threads=2)
    c = fn(dims, batch=40, seed=123)
    for x, y, z in zip(a, b, c):
        assert np.array_equal(x, y) and np.array_equal(x, z)
    # Network b's weights depend only on (seed, b): a smaller batch is a prefix.
    small = fn(dims, batch=7, seed=123, threads=2)
    for x, y in zip(a, small):
        assert np.array_equal(x[:7], y)


@pytest.mark.parametrize("scheme", ["gaussian", "orthogonal"])
def test_different_seeds_differ(scheme: str) -> None:
    fn = getattr(dl.init, scheme)
    a = fn([3, 3], batch=2, seed=1)[0]
    b = fn([3, 3], batch=2, seed=2)[0]
    assert not np.array_equal(a, b)
    assert not np.array_equal(fn([3, 3])[0], fn([3, 3])[0])  # seed=None: fresh entropy


@pytest.mark.parametrize(
    "dims, expected",
    [
        ([7, 16, 16, 4], 1 / 32),  # 16 * 16 * 4 = 1024
        ([3, 1], 1.0),
        ([1024, 10], 10**-0.5),
        ([1, 2, 3, 4, 5], (2 * 3 * 4 * 5) ** -0.5),
    ],
)
def test_fanout_alpha(dims: list[int], expected: float) -> None:
    assert dl.fanout_alpha(dims) == pytest.approx(expected, rel=1e-15)
    assert ref.fanout_alpha(dims) == pytest.approx(expected, rel=1e-15)
    assert isinstance(dl.fanout_alpha(dims), float)


def test_fanout_alpha_matches_hu_formula() -> None:
    """Hu et al.: alpha = (m^(L-1) d_y)^(-1/2) for hidden width m, depth L, output d_y."""
    m, depth, d_x, d_y = 16, 6, 32, 4
    dims = [d_x] + [m] * (depth - 1) + [d_y]
    assert dl.fanout_alpha(dims) == pytest.approx((m ** (depth - 1) * d_y) ** -0.5, rel=1e-14)


def test_reference_init_shapes_and_gram() -> None:
    ws = ref.init.gaussian(DIMS, batch=2, seed=0, std=0.5, dtype=np.float32)
    assert [w.shape for w in ws] == [(2, DIMS[j + 1], DIMS[j]) for j in range(len(DIMS) - 1)]
    assert all(w.dtype == np.float32 and w.flags.c_contiguous for w in ws)
    a = ref.init.orthogonal(DIMS, batch=2, seed=4)
    b = ref.init.orthogonal(DIMS, batch=2, seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
