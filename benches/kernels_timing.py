"""Timing of the infinite-width kernels (dl.kernels) against their NumPy twins, in one run.

    .venv/bin/python benches/kernels_timing.py [--n 1000] [--depth 10] [--small 40]

n inputs (all n² pairs, symmetric), `depth` weight layers of width 512, 64 input dimensions with
‖x‖²/d_0 = 1, σ_w = 1.3, σ_b = 0.1, NTK parameterisation; the NTK (which also computes the
NNGP). Routes: closed forms (relu, erf), Mehler's series (tanh; erf with method="quadrature")
and the polar rule (relu with method="quadrature"). The NumPy twins run the full size for the
closed forms; their tanh quadrature (200 × 200 Gauss–Hermite nodes per pair and layer) runs on
`small` inputs and is also scaled to n² pairs (marked "scaled"). Prints a Markdown table:
seconds, pairs per second, and the ratio to the NumPy twin.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

import numpy as np

import deeplinear as dl
from deeplinear import reference
from timing import best_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--depth", type=int, default=10)
    parser.add_argument("--small", type=int, default=40)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    d0 = 64
    dims = [d0] + [512] * (args.depth - 1) + [1]

    def inputs(n: int) -> np.ndarray:
        x = rng.standard_normal((d0, n))
        return x * np.sqrt(d0 / (x * x).sum(axis=0))

    X, Xs = inputs(args.n), inputs(args.small)
    kw = {"sigma_w": 1.3, "sigma_b": 0.1}
    rows: list[tuple[str, str, int, float]] = []

    def run(label: str, backend: str, x: np.ndarray, fn: Callable[[], object], rounds: int) -> None:
        seconds = best_seconds(fn, rounds)
        rows.append((label, backend, x.shape[1], seconds))
        print(f"  {label:<28} {backend:<26} n={x.shape[1]:<5} {seconds:9.3f} s", flush=True)

    cores = os.cpu_count() or 1
    twin = reference.kernels.ntk
    cases = [
        ("relu", "auto", "closed form"),
        ("erf", "auto", "closed form"),
        ("tanh", "auto", "series"),
        ("erf", "quadrature", "series"),
        ("relu", "quadrature", "polar rule"),
    ]
    for activation, method, route in cases:
        label = f"{activation}, {route}"

        def ours(x: np.ndarray, threads: int, a: str = activation, m: str = method) -> None:
            dl.kernels.ntk(dims, x, activation=a, method=m, threads=threads, **kw)

        slow = route == "polar rule"
        for threads in (cores,) if method == "quadrature" else (cores, 1):
            backend = f"deeplinear, {threads} thread{'s' if threads > 1 else ''}"
            run(label, backend, X, lambda t=threads: ours(X, t), rounds=1 if slow else 3)
        if route == "closed form":
            run(label, "NumPy twin", X, lambda a=activation: twin(dims, X, activation=a, **kw), 3)
        if activation == "tanh":
            run(label, f"deeplinear, {cores} threads", Xs, lambda: ours(Xs, cores), 3)
            run(label, "NumPy twin", Xs, lambda: twin(dims, Xs, activation="tanh", **kw), 1)

    print()
    print(
        f"n = {args.n} inputs ({args.n**2:.0e} pairs), depth {args.depth}, NTK, "
        f"{os.cpu_count()} cores"
    )
    print()
    print("| kernel | backend | inputs | seconds | pairs/s | NumPy twin / deeplinear |")
    print("|---|---|---|---|---|---|")
    twin = {(label, n): s for label, backend, n, s in rows if backend == "NumPy twin"}
    for label, backend, n, seconds in rows:
        ratio = twin.get((label, n))
        cell = f"{ratio / seconds:.1f}" if ratio is not None and backend != "NumPy twin" else ""
        print(f"| {label} | {backend} | {n} | {seconds:.3g} | {n * n / seconds:.3g} | {cell} |")
        if backend == "NumPy twin" and n != args.n:
            scaled = seconds * (args.n / n) ** 2
            rate = args.n**2 / scaled
            print(f"| {label} | NumPy twin (scaled) | {args.n} | {scaled:.3g} | {rate:.3g} | |")


if __name__ == "__main__":
    main()
