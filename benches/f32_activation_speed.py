"""How fast float32 runs against float64 in the tanh/erf MLP steps (issue 22, target 2), and
what the activations cost inside a step.

For each MLP shape of ``shapes.py`` (M1–M3) and each activation, prints GFLOP/s of one
``dl.train`` call in float64 and in float32 and their ratio (the target is ≥ 1.9×). Then the
slice kernels alone through the private binding ``_core._activation`` (it copies the input in
and the outputs out, so these rates are lower bounds for the kernel): elements/s of
``tanh_with_slope`` and ``erf_with_slope`` on 10⁶ values, f64 and f32, and the estimated share
of a step spent in the activations, from the kernel timed on one network's layer (N × n values)
times the layers a step activates (L − 1 per network).

``--against PYTHON`` times another build too (for instance the main checkout's
``.venv/bin/python``), interleaved round by round with this one, each round in a fresh process
of each build, keeping each build's best time per case:

    python benches/f32_activation_speed.py --against /work/main/.venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

MICRO_SIZE = 1_000_000


def _train_case(shape: Any, activation: str, dtype: type, threads: int) -> tuple[Any, float]:
    import deeplinear as dl

    weights, X, Y, kwargs = shape.problem(activation, dtype)
    return (lambda: dl.train(weights, X, Y, threads=threads, **kwargs)), shape.flops_per_call


def _kernel_case(name: str, dtype: type, size: int) -> Any:
    from deeplinear import _core

    z = (np.random.default_rng(0).standard_normal(size) * 0.5).astype(dtype)
    return lambda: _core._activation(name, z)


def measure(args: argparse.Namespace) -> dict[str, float]:
    """One build's best seconds per case (a worker process)."""
    from shapes import MLP_SHAPES
    from timing import best_seconds

    seconds: dict[str, float] = {}
    for dtype in (np.float64, np.float32):
        width = np.dtype(dtype).name
        for name in args.activations:
            fn = _kernel_case(name, dtype, MICRO_SIZE)
            seconds[f"kernel {name} {width}"] = best_seconds(fn, args.inner, warm_up=True)
            for shape in MLP_SHAPES:
                if shape.name not in args.shapes:
                    continue
                fn, _ = _train_case(shape, name, dtype, args.threads)
                seconds[f"{shape.name} {name} {width}"] = best_seconds(fn, args.inner, warm_up=True)
                layer = _kernel_case(name, dtype, shape.width * shape.n)
                seconds[f"layer {shape.name} {name} {width}"] = best_seconds(layer, args.inner * 3)
    return seconds


def _print_build(label: str, seconds: dict[str, float], args: argparse.Namespace) -> None:
    from shapes import MLP_SHAPES

    print(f"\n== {label}")
    print(
        f"{'case':14} {'f64 GFLOP/s':>12} {'f32 GFLOP/s':>12} {'f32/f64':>8} "
        f"{'act. share f64':>15} {'f32':>6}"
    )
    for name in args.activations:
        for shape in MLP_SHAPES:
            if shape.name not in args.shapes:
                continue
            rates, shares = [], []
            for width in ("float64", "float32"):
                call = seconds[f"{shape.name} {name} {width}"]
                rates.append(shape.flops_per_call / call / 1e9)
                activated = shape.steps * shape.batch * (shape.depth - 1)
                shares.append(activated * seconds[f"layer {shape.name} {name} {width}"] / call)
            print(
                f"{shape.name + ' ' + name:14} {rates[0]:12.1f} {rates[1]:12.1f} "
                f"{rates[1] / rates[0]:7.2f}× {shares[0]:14.0%} {shares[1]:6.0%}"
            )
    for name in args.activations:
        per_s = [MICRO_SIZE / seconds[f"kernel {name} {w}"] / 1e6 for w in ("float64", "float32")]
        print(
            f"{name}_with_slope on 1e6 values: f64 {per_s[0]:7.1f} M/s, f32 {per_s[1]:7.1f} M/s,"
            f" f32/f64 {per_s[1] / per_s[0]:.2f}×"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", help="another build's python, timed interleaved")
    parser.add_argument("--rounds", type=int, default=3, help="fresh processes per build")
    parser.add_argument("--inner", type=int, default=3, help="timed calls per case and process")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--shapes", nargs="+", default=["M1", "M2", "M3"])
    parser.add_argument("--activations", nargs="+", default=["tanh", "erf"])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(args)))
        return
    builds = {"this build": sys.executable}
    if args.against:
        builds[f"--against {args.against}"] = args.against
    forwarded = [
        "--inner", str(args.inner), "--threads", str(args.threads),
        "--shapes", *args.shapes, "--activations", *args.activations,
    ]  # fmt: skip
    best: dict[str, dict[str, float]] = {label: {} for label in builds}
    for _ in range(args.rounds):
        for label, python in builds.items():
            command = [python, str(Path(__file__).resolve()), "--worker", *forwarded]
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            for case, s in json.loads(out.splitlines()[-1]).items():
                best[label][case] = min(best[label].get(case, float("inf")), s)
    print(f"best of {args.rounds} rounds × {args.inner} calls, {args.threads} thread(s)")
    for label, seconds in best.items():
        _print_build(f"{label} ({builds[label]})", seconds, args)


if __name__ == "__main__":
    main()
