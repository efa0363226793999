"""Haar-orthogonal sampling (docs/science.md, Haar sampling): orthogonality, shapes, determinism
and distribution.

Statistical tests compare a sample mean with its exact expectation and allow 5 standard errors
(SE estimated from the same sample), so a correct sampler fails a single check with probability
~6e-7; the seeds are fixed and the engine is bit-reproducible, so the tests are deterministic.
Exact moments of Haar O(n) (Diaconis-Shahshahani, Rains):

* E[Tr Q^j] = 1 for even j, 0 for odd j;   Var[Tr Q^j] = j for 1 <= j <= n;
* E[(Tr Q)^(2k)] = (2k-1)!! for k <= n;
* every entry sqrt(n) Q_ij has mean 0 and variance 1 (tall/wide: sqrt(max(rows, cols)) Q_ij).

A negative control shows that the same checks reject NumPy's QR without the sign fix.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import deeplinear as dl
from deeplinear import reference as ref

Z = 5.0  # standard errors allowed per check


def _mean_check(values: np.ndarray, expected: float, label: str) -> list[str]:
    """Return a failure message if |mean - expected| > Z * SE (SE from the sample)."""
    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    se = float(values.std(ddof=1)) / math.sqrt(values.size)
    if abs(mean - expected) > Z * max(se, 1e-12):
        return [f"{label}: mean {mean:.4f}, expected {expected} (SE {se:.4f})"]
    return []


def _trace_powers(q: np.ndarray, max_power: int) -> np.ndarray:
    """Tr Q^j for j = 1..max_power, shape (max_power, N), via the eigenvalues."""
    lam = np.linalg.eigvals(q.astype(np.float64))
    return np.stack([np.real((lam**j).sum(axis=1)) for j in range(1, max_power + 1)])


def haar_square_failures(q: np.ndarray) -> list[str]:
    """Run the moment checks on N samples of n x n matrices; return the failed checks."""
    n = q.shape[-1]
    traces = _trace_powers(q, n)
    fails: list[str] = []
    for j in range(1, n + 1):
        t = traces[j - 1]
        fails += _mean_check(t, 1.0 if j % 2 == 0 else 0.0, f"E[Tr Q^{j}]")
        fails += _mean_check((t - t.mean()) ** 2, float(j), f"Var[Tr Q^{j}]")
    tr = traces[0]
    for k in range(1, min(n, 3) + 1):
        double_factorial = math.prod(range(1, 2 * k, 2))
        fails += _mean_check(tr ** (2 * k), float(double_factorial), f"E[(Tr Q)^{2 * k}]")
    return fails


def entry_failures(q: np.ndarray) -> list[str]:
    """sqrt(max(rows, cols)) * Q_ij has mean 0 and variance 1 at every position (i, j)."""
    scaled = math.sqrt(max(q.shape[-2:])) * q.astype(np.float64)
    fails: list[str] = []
    for i in range(q.shape[-2]):
        for j in range(q.shape[-1]):
            fails += _mean_check(scaled[:, i, j], 0.0, f"mean of Q[{i},{j}]")
            fails += _mean_check(scaled[:, i, j] ** 2, 1.0, f"variance of Q[{i},{j}]")
    return fails


def _unsigned_qr(n: int, batch: int, seed: int) -> np.ndarray:
    """The common bug: QR of a Gaussian without the sign fix."""
    gauss = np.random.default_rng(seed).standard_normal((batch, n, n))
    return np.linalg.qr(gauss)[0]


# ----------------------------------------------------------------------------------------------
# distribution


@pytest.mark.parametrize("n", [1, 2, 3, 10])
def test_trace_moments(n: int) -> None:
    q = dl.haar_orthogonal(n, batch=20_000, seed=12345 + n)
    fails = haar_square_failures(q)
    assert not fails, "\n".join(fails)


def test_trace_moments_float32() -> None:
    q = dl.haar_orthogonal(6, batch=20_000, seed=99, dtype=np.float32)
    assert q.dtype == np.float32
    fails = haar_square_failures(q)
    assert not fails, "\n".join(fails)


def test_negative_control_unsigned_qr_fails() -> None:
    """The checks have power: QR without the sign fix is rejected, E[Tr Q] ~ -1.8 at n = 10."""
    q = _unsigned_qr(10, 20_000, seed=1)
    fails = haar_square_failures(q)
    assert any(f.startswith("E[Tr Q^1]") for f in fails), fails
    assert float(np.trace(q, axis1=1, axis2=2).mean()) < -1.0
    assert entry_failures(q)
    # ... while the reference sampler with the sign fix passes the same checks.
    assert not haar_square_failures(ref.haar_orthogonal(10, batch=20_000, seed=1))


@pytest.mark.parametrize("n", [5, 6])
def test_eigenvalues_at_plus_and_minus_one(n: int) -> None:
    """Real eigenvalues of Haar O(n): det = +-1 with probability 1/2 each, and almost surely

    * n odd:  exactly one eigenvalue at det (so #(+1) + #(-1) = 1);
    * n even: none at +-1 when det = +1, one at +1 and one at -1 when det = -1.

    Either way E[#(+1)] = E[#(-1)] = 1/2.
    """
    q = dl.haar_orthogonal(n, batch=10_000, seed=2024 + n)
    lam = np.linalg.eigvals(q)
    plus = np.sum(np.abs(lam - 1) < 1e-8, axis=1)
    minus = np.sum(np.abs(lam + 1) < 1e-8, axis=1)
    det = np.linalg.det(q)
    np.testing.assert_allclose(np.abs(det), 1.0, atol=1e-10)
    neg = det < 0
    if n % 2 == 1:
        assert np.all(plus + minus == 1)
        assert np.array_equal(minus == 1, neg)
    else:
        assert np.array_equal(plus, neg.astype(plus.dtype))
        assert np.array_equal(minus, neg.astype(minus.dtype))
    fails = _mean_check(plus, 0.5, "E[#(+1)]") + _mean_check(minus, 0.5, "E[#(-1)]")
    assert not fails, fails


@pytest.mark.parametrize("shape", [(8, 8), (7, 3), (3, 7), (5, 1), (1, 4)])
def test_entries_mean_zero_variance_one(shape: tuple[int, int]) -> None:
    q = dl.haar_orthogonal(*shape, batch=10_000, seed=7)
    fails = entry_failures(q)
    assert not fails, "\n".join(fails[:10])


def test_one_by_one_is_a_fair_sign() -> None:
    q = dl.haar_orthogonal(1, batch=4000, seed=3)
    assert q.shape == (4000, 1, 1)
    assert np.all(np.abs(q) == 1.0)
    assert not _mean_check(q.ravel(), 0.0, "E[q]")


# ----------------------------------------------------------------------------------------------
# orthogonality, shapes, dtypes


@pytest.mark.parametrize(
    "shape",
    [(1, 1), (4, 4), (37, 37), (128, 128), (9, 2), (2, 9), (65, 64), (64, 65), (100, 1), (1, 100)],
)
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_orthonormal_columns_or_rows(shape: tuple[int, int], dtype: type, tol: float) -> None:
    rows, cols = shape
    q = dl.haar_orthogonal(rows, cols, batch=3, seed=11, dtype=dtype)
    assert q.shape == (3, rows, cols) and q.dtype == dtype and q.flags.c_contiguous
    assert np.all(np.isfinite(q))
    q64 = q.astype(np.float64)
    gram = q64.transpose(0, 2, 1) @ q64 if rows >= cols else q64 @ q64.transpose(0, 2, 1)
    err = float(np.abs(gram - np.eye(min(rows, cols))).max())
    assert err <= tol, f"max |Gram - I| = {err:.3g}"


def test_square_default_and_unbatched_shape() -> None:
    q = dl.haar_orthogonal(6, seed=1)
    assert q.shape == (6, 6) and q.dtype == np.float64 and q.flags.c_contiguous
    np.testing.assert_allclose(q.T @ q, np.eye(6), atol=1e-12)
    w = dl.haar_orthogonal(3, 5, seed=1)
    assert w.shape == (3, 5)
    np.testing.assert_allclose(w @ w.T, np.eye(3), atol=1e-12)
    t = dl.haar_orthogonal(5, 3, batch=1, seed=1)
    assert t.shape == (1, 5, 3)


# ----------------------------------------------------------------------------------------------
# determinism


def test_same_seed_same_bits_any_thread_count() -> None:
    a = dl.haar_orthogonal(12, 7, batch=64, seed=42, threads=1)
    b = dl.haar_orthogonal(12, 7, batch=64, seed=42, threads=2)
    c = dl.haar_orthogonal(12, 7, batch=64, seed=42)
    assert np.array_equal(a, b) and np.array_equal(a, c)


def test_streams_are_per_matrix() -> None:
    """Matrix b depends only on (seed, b): a smaller batch is a prefix of a bigger one."""
    big = dl.haar_orthogonal(5, batch=9, seed=8, threads=2)
    small = dl.haar_orthogonal(5, batch=4, seed=8, threads=1)
    assert np.array_equal(big[:4], small)
    assert np.array_equal(dl.haar_orthogonal(5, seed=8), big[0])
    # Matrices within a batch differ from each other.
    assert len({big[b].tobytes() for b in range(9)}) == 9


def test_different_seeds_differ() -> None:
    a = dl.haar_orthogonal(6, batch=2, seed=0)
    b = dl.haar_orthogonal(6, batch=2, seed=1)
    assert not np.array_equal(a[0], b[0]) and not np.array_equal(a[1], b[1])
    # seed=None draws fresh entropy.
    assert not np.array_equal(dl.haar_orthogonal(6), dl.haar_orthogonal(6))


def test_float32_and_float64_are_independent_outputs() -> None:
    a = dl.haar_orthogonal(8, batch=2, seed=5, dtype=np.float32)
    b = dl.haar_orthogonal(8, batch=2, seed=5, dtype=np.float64)
    assert a.dtype == np.float32 and b.dtype == np.float64
    assert a.shape == b.shape == (2, 8, 8)


# ----------------------------------------------------------------------------------------------
# the NumPy reference sampler


@pytest.mark.parametrize("shape", [(10, 10), (6, 2), (2, 6)])
def test_reference_sampler(shape: tuple[int, int]) -> None:
    q = ref.haar_orthogonal(*shape, batch=10_000, seed=3)
    assert q.shape == (10_000, *shape) and q.flags.c_contiguous
    fails = entry_failures(q)
    if shape[0] == shape[1]:
        fails += haar_square_failures(q)
    assert not fails, "\n".join(fails[:10])
    assert ref.haar_orthogonal(*shape, seed=3).shape == shape
    assert np.array_equal(
        ref.haar_orthogonal(4, batch=2, seed=9), ref.haar_orthogonal(4, batch=2, seed=9)
    )
    assert ref.haar_orthogonal(4, dtype=np.float32).dtype == np.float32


def test_single_large_matrix_thread_invariant() -> None:
    a = dl.haar_orthogonal(300, 200, seed=4, threads=1)
    b = dl.haar_orthogonal(300, 200, seed=4, threads=2)
    assert np.array_equal(a, b)
    assert float(np.abs(a.T @ a - np.eye(200)).max()) <= 1e-12


def test_per_matrix_seed_sequence() -> None:
    """A sequence of seeds gives one stream per matrix: matrix b equals a batch-1 draw."""
    q = dl.haar_orthogonal(4, batch=3, seed=[5, 6, 7])
    for b, s in enumerate((5, 6, 7)):
        assert np.array_equal(q[b], dl.haar_orthogonal(4, batch=1, seed=[s])[0])
