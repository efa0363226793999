"""Plain-NumPy reference implementation of deeplinear's public functions.

Written to be obviously correct rather than fast: it is the oracle of the test-suite and the
baseline of the benchmarks, and is never imported by the fast path.  Random streams are NumPy's
and do not match the Rust engine's; only the distributions agree.
"""

from __future__ import annotations

from . import init, kernels, losses, lr_schedules, metrics, oblique, optimizers, schedule, stiefel
from .haar import haar_orthogonal
from .lr_schedules import lr_factor
from .train import TrainResult, TrainState, bias_gradients, fanout_alpha, gradients, loss, train

__all__ = [
    "TrainResult",
    "TrainState",
    "bias_gradients",
    "fanout_alpha",
    "gradients",
    "haar_orthogonal",
    "init",
    "kernels",
    "loss",
    "losses",
    "lr_factor",
    "lr_schedules",
    "metrics",
    "oblique",
    "optimizers",
    "schedule",
    "stiefel",
    "train",
]
