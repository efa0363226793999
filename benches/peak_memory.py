"""Peak memory of one dl.train call against the size of the weights, for S1-S4.

Each shape runs in a fresh process: the growth of the peak resident set during the call is what
the call itself needed (its output weights, per-worker working copies and per-network scratch).
Run: cd benches && ../.venv/bin/python peak_memory.py
"""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import resource, sys
sys.path.insert(0, ".")
import deeplinear as dl
from shapes import TRAIN_SHAPES
shape = next(s for s in TRAIN_SHAPES if s.name == sys.argv[1])
small = dl.init.orthogonal([4, 4, 4], batch=2, seed=0)
dl.train(small, None, small[0][0], lr=0.1, steps=2)  # warm-up: thread pools, lazy imports
weights, X, Y, kwargs = shape.problem()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
dl.train(weights, X, Y, **kwargs)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(sum(w.nbytes for w in weights), (after - before) * 1024)
"""


def main() -> None:
    print("| shape | weights (MB) | peak growth during a call (MB) | ratio |")
    print("|---|---:|---:|---:|")
    for name in ("S1", "S2", "S3", "S4"):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, name], capture_output=True, text=True, check=True
        )
        weights, growth = map(int, out.stdout.split())
        print(f"| {name} | {weights / 1e6:.1f} | {growth / 1e6:.1f} | {growth / weights:.2f} |")


if __name__ == "__main__":
    main()
