"""λ_max of the cross-entropy Fisher (GGN) of a deep tanh network: deeplinear's matrix-free route
against JAX jvp/vjp products fed to scipy's eigsh (see fisher_vs_jax.py, which also prints both
eigenvalues). The flop count is nominal (30 Gauss–Newton products): the ratio is what counts."""

from __future__ import annotations

import itertools

import pytest

import deeplinear as dl
import jax_peer
from fisher_vs_jax import jax_route, problem
from shapes import SMOKE

DEPTH, WIDTH, N = (3, 16, 32) if SMOKE else (50, 256, 512)


@pytest.mark.parametrize("backend", ["deeplinear", "jax"])
def test_fisher_max_eigenvalue(benchmark, record, backend):
    w, bs, X = problem(DEPTH, WIDTH, N)
    dims = [X.shape[0]] + [WIDTH] * DEPTH + [10]
    flops = 30 * 8.0 * N * sum(a * b for a, b in itertools.pairwise(dims))
    if backend == "jax":
        if not jax_peer.available():
            pytest.skip("JAX not installed (pip install 'deeplinear[bench]')")
        fn = jax_route(w, bs, X)
    else:
        kw = {"activation": "tanh", "biases": bs, "loss": "cross_entropy", "method": "matrix_free"}
        fn = lambda: dl.metrics.fisher_max_eigenvalue(w, X, **kw)  # noqa: E731
    problem_name = f"Fisher λ_max L={DEPTH} N={WIDTH} n={N} tanh CE"
    record(benchmark, problem_name, backend, flops, fn, rounds=3)
