"""λ_max of the cross-entropy Fisher (GGN) of one deep tanh network: deeplinear's matrix-free
route against the obvious JAX route, in the same run.

The JAX route is what a researcher would write: the Gauss–Newton product v ↦ Jᵀ(H(Jv))/n over
the flattened parameters, J·v by ``jax.jvp`` and Jᵀ·u by ``jax.vjp`` of the logits, H the softmax
Hessian diag(p) − ppᵀ, the product jit-compiled and fed to ``scipy.sparse.linalg.eigsh`` (ARPACK,
k = 1, which="LA") with the same relative tolerance as deeplinear's Lanczos (1e-10: ARPACK stops
when every Ritz residual is ≤ tol·|θ|, deeplinear when it is ≤ tol·θ_max). float64, biases
counted, compile time excluded.

    .venv/bin/pip install 'jax[cpu]'
    .venv/bin/python benches/fisher_vs_jax.py            # L=50, N=256, n=512 (the issue's size)
    .venv/bin/python benches/fisher_vs_jax.py 10 64 128  # smaller: depth, width, n
"""

from __future__ import annotations

import itertools
import sys
import time

import numpy as np

import deeplinear as dl

D_IN, D_OUT, TOL = 256, 10, 1e-10


def problem(depth: int, width: int, n: int):
    rng = np.random.default_rng(0)
    dims = [D_IN] + [width] * depth + [D_OUT]
    # Near the tanh edge of chaos: σ_w = 1.05, σ_b = 0.05.
    w = [1.05 * rng.standard_normal((1, b, a)) / np.sqrt(a) for a, b in itertools.pairwise(dims)]
    bs = [0.05 * rng.standard_normal((1, d)) for d in dims[1:]]
    return w, bs, rng.standard_normal((D_IN, n))


def jax_route(w, bs, X):
    import jax
    import jax.numpy as jnp
    from jax.flatten_util import ravel_pytree
    from scipy.sparse.linalg import LinearOperator, eigsh

    jax.config.update("jax_enable_x64", True)
    params = [(jnp.asarray(a[0]), jnp.asarray(b[0])) for a, b in zip(w, bs, strict=True)]
    flat, unravel = ravel_pytree(params)
    x = jnp.asarray(X)
    n = X.shape[1]

    def logits(theta, x):
        h = x
        layers = unravel(theta)
        for j, (a, b) in enumerate(layers):
            z = a @ h + b[:, None]
            h = jnp.tanh(z) if j < len(layers) - 1 else z
        return h

    # The parameters and inputs are arguments, not closure constants, so XLA compiles the
    # products instead of constant-folding them.
    @jax.jit
    def ggn_product(theta, x, v):
        f, jv = jax.jvp(lambda t: logits(t, x), (theta,), (v,))
        p = jax.nn.softmax(f, axis=0)
        hjv = p * jv - p * jnp.sum(p * jv, axis=0, keepdims=True)
        _, pull = jax.vjp(lambda t: logits(t, x), theta)
        return pull(hjv / n)[0]

    ggn_product(flat, x, flat).block_until_ready()  # compile outside the timed region
    size = flat.size
    op = LinearOperator(
        (size, size),
        matvec=lambda v: np.asarray(ggn_product(flat, x, jnp.asarray(v))),
        dtype=np.float64,
    )
    start = np.random.default_rng(1).standard_normal(size)

    def run() -> float:
        return float(eigsh(op, k=1, which="LA", tol=TOL, v0=start, return_eigenvectors=False)[0])

    return run


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main(depth: int, width: int, n: int) -> None:
    w, bs, X = problem(depth, width, n)
    kw = {"activation": "tanh", "biases": bs, "loss": "cross_entropy"}
    dl.metrics.fisher_max_eigenvalue(w, X[:, :8], **kw)  # warm-up: thread pool
    ours, t_ours = timed(lambda: dl.metrics.fisher_max_eigenvalue(w, X, method="matrix_free", **kw))
    auto, t_auto = timed(lambda: dl.metrics.fisher_max_eigenvalue(w, X, **kw))
    print(f"L={depth} N={width} n={n} tanh cross-entropy, biases, float64")
    print(f"deeplinear matrix_free: λ_max = {ours[0]:.12g} in {t_ours:.2f} s")
    print(f"deeplinear auto:        λ_max = {auto[0]:.12g} in {t_auto:.2f} s")
    try:
        run = jax_route(w, bs, X)
    except ImportError:
        print("JAX is not installed: .venv/bin/pip install 'jax[cpu]'")
        return
    theirs, t_theirs = timed(run)
    print(f"JAX jvp/vjp + eigsh:    λ_max = {theirs:.12g} in {t_theirs:.2f} s")
    print(f"relative difference {abs(theirs - ours[0]) / ours[0]:.1e}; "
          f"speed-up of deeplinear: {t_theirs / t_ours:.2f}x")  # fmt: skip


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]] or [50, 256, 512]
    main(*args)
