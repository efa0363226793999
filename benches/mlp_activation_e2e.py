"""End-to-end throughput of a tanh (or erf) MLP trained by full-batch GD: deeplinear vs JAX.

The M1 shape of issue 10 by default: L=10 layers of width 128, n=256 examples, batch 16,
inputs 64, outputs 10, biases, 6·n·Σ d_j d_{j+1} flops per network step. Prints GFLOP/s
(best of ``--repeats``). JAX (jit + vmap over networks + lax.scan over steps, float64, the
same update) is timed in the same run when it is installed.

    python benches/mlp_activation_e2e.py [--activation tanh] [--threads 1] [--steps 20]
"""

from __future__ import annotations

import argparse
import itertools
from typing import Any

import numpy as np

import deeplinear as dl
from timing import best_seconds


def problem(args: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    dims = [args.inputs] + [args.width] * (args.depth - 1) + [args.outputs]
    weights = [
        rng.standard_normal((args.batch, d_out, d_in)) / np.sqrt(d_in)
        for d_in, d_out in itertools.pairwise(dims)
    ]
    biases = [0.1 * rng.standard_normal((args.batch, d_out)) for d_out in dims[1:]]
    X = rng.standard_normal((args.inputs, args.n))
    Y = rng.standard_normal((args.outputs, args.n))
    flops = 6 * args.n * sum(a * b for a, b in itertools.pairwise(dims))
    return {"dims": dims, "weights": weights, "biases": biases, "X": X, "Y": Y, "flops": flops}


def report(who: str, activation: str, seconds: float, flops: int) -> None:
    rate = flops / seconds / 1e9
    print(f"{who:10} {activation}: {seconds * 1e3:8.1f} ms  {rate:6.1f} GFLOP/s")


def jax_call(p: dict[str, Any], args: argparse.Namespace) -> Any:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    phi = jnp.tanh if args.activation == "tanh" else jax.scipy.special.erf

    def loss_fn(params, X, Y):
        ws, bs = params
        h = X
        for j, (w, b) in enumerate(zip(ws, bs, strict=True)):
            z = w @ h + b[:, None]
            h = phi(z) if j < len(ws) - 1 else z
        e = h - Y
        return 0.5 * jnp.sum(e * e)

    def one_network(params, X, Y):
        def step(params, _):
            loss, grads = jax.value_and_grad(loss_fn)(params, X, Y)
            return jax.tree.map(lambda a, g: a - args.lr * g, params, grads), loss

        return jax.lax.scan(step, params, None, length=args.steps)

    run = jax.jit(jax.vmap(one_network, in_axes=(0, None, None)))
    params = ([jnp.asarray(w) for w in p["weights"]], [jnp.asarray(b) for b in p["biases"]])
    X, Y = jnp.asarray(p["X"]), jnp.asarray(p["Y"])
    jax.block_until_ready(run(params, X, Y))  # compile outside the timed region
    return lambda: jax.block_until_ready(run(params, X, Y))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in [("depth", 10), ("width", 128), ("n", 256), ("batch", 16)]:
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--inputs", type=int, default=64)
    parser.add_argument("--outputs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--activation", default="tanh", choices=["tanh", "erf", "relu", "linear"])
    parser.add_argument("--no-jax", action="store_true")
    args = parser.parse_args()
    p = problem(args)
    total = p["flops"] * args.batch * args.steps

    def ours() -> Any:
        return dl.train(
            p["weights"],
            p["X"],
            p["Y"],
            lr=args.lr,
            steps=args.steps,
            activation=args.activation,
            biases=p["biases"],
            threads=args.threads,
        )

    ours()  # warm up (thread pool, page faults)
    seconds = best_seconds(ours, args.repeats)
    report("deeplinear", args.activation, seconds, total)
    if args.no_jax:
        return
    try:
        call = jax_call(p, args)
    except ImportError:
        print("jax: not installed (pip install -e '.[bench]')")
        return
    seconds = best_seconds(call, args.repeats)
    report("jax", args.activation, seconds, total)


if __name__ == "__main__":
    main()
