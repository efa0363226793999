"""Helpers shared by the test modules: problem generators, comparisons and a panic guard."""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator, Sequence

import numpy as np
import pytest
from numpy.typing import NDArray

FloatArray = NDArray[np.floating]


def random_weights(
    rng: np.random.Generator,
    dims: Sequence[int],
    batch: int,
    *,
    dtype: type = np.float64,
    scale: float = 1.0,
) -> list[FloatArray]:
    """Gaussian weights with entries N(0, scale**2 / d_in): spectral norms of order ``scale``."""
    return [
        (rng.standard_normal((batch, d_out, d_in)) * (scale / math.sqrt(d_in))).astype(dtype)
        for d_in, d_out in zip(dims[:-1], dims[1:])
    ]


def stable_lr(weights: Sequence[FloatArray], X: FloatArray, Y: FloatArray, alpha: float) -> NDArray:
    """Per-network ``1 / H`` with ``H`` an upper bound on the loss Hessian's norm at ``weights``.

    ``H = a^2 |X|^2 sum_j prod_{i!=j} |W_i|^2
    + |a| |E| |X| L (L - 1) max_{j<k} prod_{i!=j,k} |W_i|``
    (spectral norms; the first term is the Gauss-Newton part, the second the residual part).
    GD with ``lr = c / H``, ``c < 1``, is comfortably stable over the few steps the tests take.
    """
    batch = weights[0].shape[0]
    depth = len(weights)
    out = np.empty(batch)
    for b in range(batch):
        norms = [np.linalg.norm(w[b].astype(np.float64), 2) for w in weights]
        x = (X if X.ndim == 2 else X[b]).astype(np.float64)
        y = (Y if Y.ndim == 2 else Y[b]).astype(np.float64)
        prod = x
        for w in weights:
            prod = w[b].astype(np.float64) @ prod
        e_norm = np.linalg.norm(alpha * prod - y)
        x_norm = np.linalg.norm(x, 2)
        gn = sum(math.prod(norms[:j] + norms[j + 1 :]) ** 2 for j in range(depth))
        pair = 0.0
        for j in range(depth):
            for k in range(j + 1, depth):
                rest = [norms[i] for i in range(depth) if i not in (j, k)]
                pair = max(pair, math.prod(rest))
        h = alpha**2 * x_norm**2 * gn + abs(alpha) * e_norm * x_norm * depth * (depth - 1) * pair
        out[b] = 1.0 / max(h, 1e-12)
    return out


def assert_losses_close(got: NDArray, want: NDArray, rtol: float, what: str = "loss") -> None:
    """Elementwise ``|got - want| <= rtol * max(1, |want|)``; non-finite entries must agree."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    fin = np.isfinite(want)
    assert np.array_equal(np.isfinite(got), fin), f"{what}: finiteness differs\n{got}\n{want}"
    err = np.abs(got[fin] - want[fin]) / np.maximum(1.0, np.abs(want[fin]))
    worst = float(err.max()) if err.size else 0.0
    assert worst <= rtol, f"{what}: max scaled error {worst:.3g} > {rtol:g}\n{got}\n{want}"


def assert_weights_close(
    got: Sequence[NDArray], want: Sequence[NDArray], rtol: float, rows: NDArray | None = None
) -> None:
    """Per network and layer ``|got - want|_F <= rtol * max(1, |want|_F)``.

    ``rows`` (a boolean mask over the batch) restricts the check to some networks.
    """
    assert len(got) == len(want), f"{len(got)} layers != {len(want)}"
    for j, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape, f"weights[{j}]: shape {g.shape} != {w.shape}"
        assert g.dtype == w.dtype, f"weights[{j}]: dtype {g.dtype} != {w.dtype}"
        idx = range(g.shape[0]) if rows is None else np.flatnonzero(rows)
        for b in idx:
            gb, wb = g[b].astype(np.float64), w[b].astype(np.float64)
            err = np.linalg.norm(gb - wb) / max(1.0, float(np.linalg.norm(wb)))
            assert err <= rtol, f"weights[{j}][{b}]: scaled error {err:.3g} > {rtol:g}"


def assert_results_identical(a: object, b: object) -> None:
    """Two TrainResults are bit-identical (NaN == NaN)."""
    for name in ("loss", "final_loss", "steps_to_tol", "diverged"):
        x, y = getattr(a, name), getattr(b, name)
        assert np.array_equal(x, y, equal_nan=(name in ("loss", "final_loss"))), name
    wa, wb = a.weights, b.weights  # type: ignore[attr-defined]
    assert len(wa) == len(wb)
    for j, (x, y) in enumerate(zip(wa, wb)):
        assert x.dtype == y.dtype and x.shape == y.shape, f"weights[{j}]"
        assert np.array_equal(x, y, equal_nan=True), f"weights[{j}] differ"


def check_result_layout(res: object, batch: int, ncols: int, weights: Sequence[NDArray]) -> None:
    """A TrainResult has the documented field shapes and dtypes."""
    loss = np.asarray(res.loss)  # type: ignore[attr-defined]
    assert loss.shape == (batch, ncols) and loss.dtype == np.float64
    final = np.asarray(res.final_loss)  # type: ignore[attr-defined]
    assert final.shape == (batch,) and final.dtype == np.float64
    stt = np.asarray(res.steps_to_tol)  # type: ignore[attr-defined]
    assert stt.shape == (batch,) and stt.dtype == np.int64
    div = np.asarray(res.diverged)  # type: ignore[attr-defined]
    assert div.shape == (batch,) and div.dtype == np.bool_
    out_w = res.weights  # type: ignore[attr-defined]
    assert len(out_w) == len(weights)
    for w_out, w_in in zip(out_w, weights):
        assert w_out.shape == w_in.shape and w_out.dtype == w_in.dtype


@contextlib.contextmanager
def raises_clean(
    exc: type[BaseException] | tuple[type[BaseException], ...], match: str
) -> Iterator[None]:
    """Like ``pytest.raises(exc, match=...)`` but reports an escaping Rust panic explicitly.

    pyo3's ``PanicException`` derives from ``BaseException``, so ``pytest.raises(ValueError)``
    would let it through as an obscure error; here it fails the test with a clear message.
    """
    try:
        yield
    except exc as err:
        assert re.search(match, str(err)), f"message {str(err)!r} does not match {match!r}"
    except BaseException as err:
        if type(err).__name__ == "PanicException":
            pytest.fail(f"a Rust panic escaped instead of {exc}: {err!r}")
        raise
    else:
        pytest.fail(f"DID NOT RAISE {exc}")
