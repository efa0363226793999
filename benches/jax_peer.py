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


def make_mlp_train(
    weights: list[np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    kwargs: dict[str, Any],
) -> Callable[[], Any]:
    """The same full-batch GD of MLPs with biases (tanh, erf or linear) in JAX: jit + vmap +
    scan, in the dtype of the arrays given (float32 stays float32)."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    lr, steps = kwargs["lr"], kwargs["steps"]
    phi = {
        "tanh": jnp.tanh,
        "erf": jax.scipy.special.erf,
        "linear": lambda z: z,
    }[kwargs["activation"]]
    depth = len(weights)

    def loss_fn(params, X, Y):
        ws, bs = params
        h = X
        for j in range(depth):
            z = ws[j] @ h + bs[j][:, None]
            h = phi(z) if j < depth - 1 else z
        e = h - Y
        return 0.5 * jnp.sum(e * e)

    def one_network(params, X, Y):
        def step(params, _):
            loss, grads = jax.value_and_grad(loss_fn)(params, X, Y)
            return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads), loss

        return jax.lax.scan(step, params, None, length=steps)

    run = jax.jit(jax.vmap(one_network, in_axes=(0, None, None)))
    params = ([jnp.asarray(w) for w in weights], [jnp.asarray(b) for b in kwargs["biases"]])
    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)
    jax.block_until_ready(run(params, Xj, Yj))

    def call():
        return jax.block_until_ready(run(params, Xj, Yj))

    return call


def make_minibatch_adam_train(
    weights: list[np.ndarray],
    X: np.ndarray,
    labels: np.ndarray,
    kwargs: dict[str, Any],
) -> Callable[[], Any]:
    """The same mini-batch Adam on the softmax cross-entropy of a tanh MLP in JAX: the batches
    are index arrays gathered inside the scan, Adam written out (β = (0.9, 0.999), ε = 1e-8).

    Like the deeplinear call it is compared with (``record_every = steps``), it also returns the
    loss on the whole training set before and after training: the same outputs for the same
    work."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    lr, steps, size = kwargs["lr"], kwargs["steps"], kwargs["batch_size"]
    depth, batch, n = len(weights), weights[0].shape[0], X.shape[1]
    rng = np.random.default_rng(0)
    per_epoch = -(-n // size)
    # Full batches only (drop each epoch's short tail) so the scan has one static shape.
    order = np.stack(
        [
            np.concatenate([rng.permutation(n)[: (per_epoch - 1) * size] for _ in range(steps)])[
                : steps * size
            ].reshape(steps, size)
            for _ in range(batch)
        ]
    )

    def loss_fn(params, x, y):
        ws, bs = params
        h = x
        for j in range(depth):
            z = ws[j] @ h + bs[j][:, None]
            h = jnp.tanh(z) if j < depth - 1 else z
        logp = jax.nn.log_softmax(h, axis=0)
        return -jnp.mean(logp[y, jnp.arange(y.shape[0])])

    def one_network(params, idx, X, labels):
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)

        def step(carry, inputs):
            params, m, v = carry
            t, batch_idx = inputs
            grads = jax.grad(loss_fn)(params, X[:, batch_idx], labels[batch_idx])
            m = jax.tree_util.tree_map(lambda m, g: 0.9 * m + 0.1 * g, m, grads)
            v = jax.tree_util.tree_map(lambda v, g: 0.999 * v + 0.001 * g * g, v, grads)
            c1, c2 = 1 - 0.9**t, 1 - 0.999**t
            params = jax.tree_util.tree_map(
                lambda p, m, v: p - lr * (m / c1) / (jnp.sqrt(v / c2) + 1e-8), params, m, v
            )
            return (params, m, v), None

        ts = jnp.arange(1, steps + 1, dtype=jnp.float64)
        trained = jax.lax.scan(step, (params, zeros, zeros), (ts, idx))[0][0]
        return trained, loss_fn(params, X, labels), loss_fn(trained, X, labels)

    run = jax.jit(jax.vmap(one_network, in_axes=(0, 0, None, None)))
    params = ([jnp.asarray(w) for w in weights], [jnp.asarray(b) for b in kwargs["biases"]])
    idx, Xj, yj = jnp.asarray(order), jnp.asarray(X), jnp.asarray(labels)
    jax.block_until_ready(run(params, idx, Xj, yj))

    def call():
        return jax.block_until_ready(run(params, idx, Xj, yj))

    return call
