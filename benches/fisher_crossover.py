"""Where the matrix-free Fisher route overtakes the dense Gram route: the measurement behind
``method="auto"`` of :func:`deeplinear.metrics.fisher_max_eigenvalue`.

Times both routes (one tanh network, cross-entropy, d_L = 10, biases) over widths, depths and
probe sizes, and divides each time by the route's flop count as the core's cost model counts it
(``gram_flops`` and ``matrix_free_flops`` in rust/core/src/metrics/fisher.rs, the latter for
MATRIX_FREE_STEPS Lanczos steps). The ratio of the two effective rates is what the rule needs:
the matrix-free route wins when its flops / its rate < the Gram's flops / the Gram's rate.

    .venv/bin/python benches/fisher_crossover.py
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

import deeplinear as dl
from timing import best_seconds

D_OUT = 10
MATRIX_FREE_STEPS = 30  # as in the core's cost model


def gram_flops(dims: list[int], n: int, r: int) -> float:
    big = n * dims[-1]
    layers = sum(a * b for a, b in itertools.pairwise(dims))
    return 2.0 * big * layers + 2.0 * big * big * sum(dims[1:]) + 4.0 * (n * r) ** 3


def matrix_free_flops(dims: list[int], n: int) -> float:
    layers = sum(a * b for a, b in itertools.pairwise(dims))
    return 8.0 * n * layers * MATRIX_FREE_STEPS


def main() -> None:
    rng = np.random.default_rng(0)
    print("| width | depth | n | Gram s | matrix-free s | Gram GFLOP/s | matrix-free GFLOP/s* |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    ratios = []
    for width, depth, n in itertools.product((32, 128), (2, 8), (16, 64, 128, 256)):
        dims = [16] + [width] * depth + [D_OUT]
        w = [1.1 * rng.standard_normal((1, b, a)) / np.sqrt(a) for a, b in itertools.pairwise(dims)]
        bs = [0.05 * rng.standard_normal((1, d)) for d in dims[1:]]
        X = rng.standard_normal((16, n))
        kw = {"activation": "tanh", "biases": bs, "loss": "cross_entropy"}
        fisher = functools.partial(dl.metrics.fisher_max_eigenvalue, w, X, **kw)
        t_gram = best_seconds(functools.partial(fisher, method="dense"), 2)
        t_free = best_seconds(functools.partial(fisher, method="matrix_free"), 2)
        rate_gram = gram_flops(dims, n, D_OUT) / t_gram / 1e9
        rate_free = matrix_free_flops(dims, n) / t_free / 1e9
        ratios.append(rate_free / rate_gram)
        print(
            f"| {width} | {depth} | {n} | {t_gram:.4f} | {t_free:.4f} | {rate_gram:.2f} "
            f"| {rate_free:.2f} |",
            flush=True,
        )
    print(
        f"\n*per {MATRIX_FREE_STEPS} Lanczos steps. Rate ratio matrix-free/Gram: median "
        f"{np.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f})"
    )


if __name__ == "__main__":
    main()
