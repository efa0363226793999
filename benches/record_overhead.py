"""Cost of recording diagnostics every step on shape S2 (L=32, m=64, B=64, X = I_64).

Run: .venv/bin/python benches/record_overhead.py [--steps 10] [--repeats 7]
Prints the best and median wall time of dl.train per variant and the ratio to plain training.
"""

from __future__ import annotations

import argparse
import statistics
import time

import deeplinear as dl
from shapes import TRAIN_SHAPES

VARIANTS = {
    "plain (loss only)": [],
    "balancedness + singular_values": ["balancedness", "singular_values"],
    "+ grad_norms": ["balancedness", "singular_values", "grad_norms"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    shape = next(s for s in TRAIN_SHAPES if s.name == "S2")
    weights, X, Y, kwargs = shape.problem()
    kwargs.update(steps=args.steps, threads=args.threads)
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    dl.train(weights, X, Y, **kwargs)  # warm-up
    for _ in range(args.repeats):  # interleaved, so machine noise hits every variant alike
        for name, record in VARIANTS.items():
            start = time.perf_counter()
            dl.train(weights, X, Y, record=record, **kwargs)
            times[name].append(time.perf_counter() - start)
    base = min(times["plain (loss only)"])
    print(f"S2 L=32 m=64 B=64, {args.steps} steps, record_every=1, best/median of {args.repeats}")
    for name, ts in times.items():
        best, med = min(ts), statistics.median(ts)
        print(
            f"  {name:<32} best {best * 1e3:8.1f} ms  median {med * 1e3:8.1f} ms  "
            f"ratio {best / base:5.2f}x"
        )


if __name__ == "__main__":
    main()
