"""GFLOP/s of dl.train on S1–S4 with whichever deeplinear this Python imports: run it with two
builds' interpreters alternately to compare them in one session (best of `rounds` calls each).

    .venv/bin/python benches/train_gflops.py 9
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import deeplinear as dl
from shapes import TRAIN_SHAPES
from timing import best_seconds


def main(rounds: int) -> None:
    for shape in TRAIN_SHAPES:
        weights, X, Y, kwargs = shape.problem()
        seconds = best_seconds(lambda: dl.train(weights, X, Y, **kwargs), rounds, warm_up=True)  # noqa: B023
        print(f"{shape.name} {shape.flops_per_call / seconds / 1e9:7.2f} GFLOP/s", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
