"""The JAX peer: what a researcher would write in JAX for the same batched GD problem.

jit + vmap over networks + lax.scan over steps, float64 (jax_enable_x64). Only imported when JAX
is installed (`pip install 'deeplinear[bench]'`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def available() -> bool:
    try:
        import jax  # noqa: F401
    except ImportError:
        return False
    return True


def make_train(
    weights: list[np.ndarray], X: np.ndarray, Y: np.ndarray, kwargs: dict[str, Any]
) -> Callable[[], Any]:
    """Return a zero-argument function running the compiled JAX training (already warmed up)."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    alpha, lr, steps = kwargs["alpha"], kwargs["lr"], kwargs["steps"]

    def loss_fn(ws, X, Y):
        h = X
        for w in ws:
            h = w @ h
        e = alpha * h - Y
        return 0.5 * jnp.sum(e * e)

    def one_network(ws, X, Y):
        def step(ws, _):
            loss, grads = jax.value_and_grad(loss_fn)(ws, X, Y)
            return [w - lr * g for w, g in zip(ws, grads, strict=True)], loss

        return jax.lax.scan(step, ws, None, length=steps)

    run = jax.jit(jax.vmap(one_network, in_axes=(0, None, None)))
    ws = [jnp.asarray(w) for w in weights]
    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)
    jax.block_until_ready(run(ws, Xj, Yj))  # compile outside the timed region

    def call():
        return jax.block_until_ready(run(ws, Xj, Yj))

    return call
