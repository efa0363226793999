"""λ_max of the Fisher at Sokol & Park's full size: a depth-200, width-400 tanh network with
biases, CIFAR-sized inputs (d_0 = 3072), 1000 probe inputs, 10 classes, cross-entropy (the GGN
over every parameter, as their ``SmoothnessFisher``), plus σ_max of the input–output Jacobian on
their 30 examples.

Runs in a fresh process and reports the wall time and the growth of the peak resident set during
each call (what the call itself needed beyond the weights and inputs).

    .venv/bin/python benches/fisher_full_size.py           # L=200, N=400, n=1000
    .venv/bin/python benches/fisher_full_size.py 20 100 200  # smaller: depth, width, n
"""

from __future__ import annotations

import itertools
import resource
import sys
import time

import numpy as np

import deeplinear as dl


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(depth: int, width: int, n: int) -> None:
    rng = np.random.default_rng(0)
    dims = [3072] + [width] * depth + [10]
    # Sokol & Park's tanh nets sit near the edge of chaos: σ_w ≈ 1.05, small σ_b.
    w = [1.05 * rng.standard_normal((1, b, a)) / np.sqrt(a) for a, b in itertools.pairwise(dims)]
    bs = [0.05 * rng.standard_normal((1, d)) for d in dims[1:]]
    X = rng.standard_normal((3072, n))
    params = sum(a * b + b for a, b in itertools.pairwise(dims))
    kw = {"activation": "tanh", "biases": bs}
    dl.metrics.fisher_max_eigenvalue(w, X[:, :4], **kw)  # warm-up: thread pool, imports
    print(f"L={depth} N={width} n={n}: {params / 1e6:.1f} M parameters, weights "
          f"{sum(x.nbytes for x in w) / 2**20:.0f} MiB")  # fmt: skip
    before = peak_mb()
    start = time.perf_counter()
    lam = dl.metrics.fisher_max_eigenvalue(w, X, loss="cross_entropy", **kw)
    seconds = time.perf_counter() - start
    print(f"fisher_max_eigenvalue (cross-entropy, auto): {lam[0]:.6g} in {seconds:.1f} s, "
          f"peak RSS growth {peak_mb() - before:.0f} MiB")  # fmt: skip
    before = peak_mb()
    start = time.perf_counter()
    sigma = dl.metrics.jacobian_max_singular_value(w, X[:, :30], **kw)
    seconds = time.perf_counter() - start
    print(f"jacobian_max_singular_value (30 inputs): max {sigma.max():.6g} in {seconds:.1f} s, "
          f"peak RSS growth {peak_mb() - before:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]] or [200, 400, 1000]
    main(*args)
