"""dl.train on MLPs and on mini-batch cross-entropy with Adam, against JAX (jit + vmap + scan,
the same update), a Stiefel step against a Euclidean one at sokol2020's shapes, and the per-call
cost of chained short calls on S2."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import deeplinear as dl
import jax_peer
from shapes import MINIBATCH_SHAPES, MLP_SHAPES, SOKOL_SHAPES, TRAIN_SHAPES


@pytest.mark.parametrize("shape", MLP_SHAPES, ids=lambda s: s.name)
@pytest.mark.parametrize("activation", ["tanh", "erf", "linear"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("backend", ["deeplinear", "jax"])
def test_mlp(benchmark, record, shape, activation, dtype, backend):
    """Full-batch GD of MLPs with biases; linear (the same shapes with φ = identity) only in
    float64, where it shows how near the products alone come to the dgemm peak."""
    if activation == "linear" and dtype == "float32":
        pytest.skip("linear + bias is measured in float64 only")
    weights, X, Y, kwargs = shape.problem(activation, dtype=np.dtype(dtype))
    if backend == "jax":
        if not jax_peer.available():
            pytest.skip("JAX not installed (pip install 'deeplinear[bench]')")
        fn = jax_peer.make_mlp_train(weights, X, Y, kwargs)
    else:
        fn = lambda: dl.train(weights, X, Y, **kwargs)  # noqa: E731
    problem = f"{activation} MLP {shape.name}"
    name = backend if dtype == "float64" else f"{backend} f32"
    record(benchmark, problem, name, shape.flops_per_call, fn, rounds=5)


@pytest.mark.parametrize("shape", MINIBATCH_SHAPES, ids=lambda s: s.name)
@pytest.mark.parametrize("backend", ["deeplinear", "jax"])
def test_minibatch_cross_entropy_adam(benchmark, record, shape, backend):
    pytest.importorskip("sklearn")
    weights, X, y, kwargs = shape.problem()
    if backend == "jax":
        if not jax_peer.available():
            pytest.skip("JAX not installed (pip install 'deeplinear[bench]')")
        fn = jax_peer.make_minibatch_adam_train(weights, X, y, kwargs)
    else:
        fn = lambda: dl.train(weights, X, y, **kwargs)  # noqa: E731
    record(benchmark, shape.name, backend, shape.flops_per_call, fn, rounds=5)


@pytest.mark.parametrize("shape", SOKOL_SHAPES, ids=lambda s: s.name)
@pytest.mark.parametrize("manifold", ["euclidean", "stiefel"])
def test_stiefel_against_euclidean(benchmark, record, shape, manifold):
    """Riemannian Adam with the hidden layers on the Stiefel manifold (projection, QR
    retraction, transport of the first moment) against the same networks trained Euclidean."""
    pytest.importorskip("sklearn")
    shape = dataclasses.replace(shape, manifold=manifold)
    weights, X, y, kwargs = shape.problem()
    name = "deeplinear" if manifold == "euclidean" else "deeplinear Stiefel"
    fn = lambda: dl.train(weights, X, y, **kwargs)  # noqa: E731
    record(benchmark, shape.name, name, shape.flops_per_call, fn, rounds=5)


@pytest.mark.parametrize("calls", [1, 10], ids=["one 10-step call", "ten 1-step calls"])
def test_per_call_cost(benchmark, record, calls):
    """S2 trained 10 steps in one call, or in 10 one-step calls that pass the state (and the
    weights) back: the ratio of the two is the cost of a call beyond its steps."""
    shape = dataclasses.replace(next(s for s in TRAIN_SHAPES if s.name == "S2"), steps=10)
    weights, X, Y, kwargs = shape.problem()
    steps = shape.steps // calls
    kwargs = {k: v for k, v in kwargs.items() if k != "steps"}

    def chained():
        res = dl.train(weights, X, Y, steps=steps, **kwargs)
        for _ in range(calls - 1):
            res = dl.train(res.weights, X, Y, steps=steps, state=res.state, **kwargs)
        return res

    problem = "train S2, per-call cost"
    name = "deeplinear" if calls == 1 else "deeplinear, 10 calls"
    record(benchmark, problem, name, shape.flops_per_call, chained, rounds=7)
