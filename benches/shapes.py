"""The benchmark problems of DESIGN.md "Performance targets" and their flop counts."""

from __future__ import annotations

import dataclasses
import itertools
import os
from dataclasses import dataclass

import numpy as np

import deeplinear as dl


@dataclass(frozen=True)
class TrainShape:
    """A batch of B square deep linear nets (depth L, width m) on X = I_m, so n = m."""

    name: str
    depth: int
    width: int
    batch: int
    # Steps per timed call: enough that deeplinear's call takes ≥ ~0.1 s, so the fixed cost of a
    # call (fresh output pages: 67 MB on S2, ~20 ms on 2 cores) is a small part of it, as in a
    # real sweep of 10²–10⁴ steps. `make bench` also reports S2 at 3 steps per call.
    steps: int

    @property
    def flops_per_call(self) -> float:
        # B·(3L−1)·2·m³ per batched step (forward L products, backward 2L−1).
        return self.steps * self.batch * (3 * self.depth - 1) * 2.0 * self.width**3

    def chained_floor(self, calls: int) -> float:
        """The least time `calls` chained calls of steps/calls steps each can take, over one
        call of all the steps, counted in products: every call reports the loss after its last
        update, which costs one forward pass more than a step's. With X = I the engine skips
        the first product: a forward pass is L − 1 products, a backward pass 2L − 2."""
        forward, backward = self.depth - 1, 2 * self.depth - 2
        per_call = self.steps // calls
        chained = calls * ((per_call + 1) * forward + per_call * backward)
        return chained / ((self.steps + 1) * forward + self.steps * backward)

    def problem(self, dtype=np.float64):
        dims = [self.width] * (self.depth + 1)
        weights = dl.init.orthogonal(dims, batch=self.batch, seed=0, dtype=dtype)
        X = np.eye(self.width, dtype=dtype)
        Y = np.random.default_rng(1).standard_normal((self.width, self.width)).astype(dtype)
        # A small step keeps every network finite, so all of them do the full work.
        kwargs = {
            "lr": 1e-4,
            "steps": self.steps,
            "alpha": dl.fanout_alpha(dims),
            "record_every": 1,
        }
        return weights, X, Y, kwargs


TRAIN_SHAPES = [
    TrainShape("S1", depth=8, width=16, batch=256, steps=100),
    TrainShape("S2", depth=32, width=64, batch=64, steps=10),
    TrainShape("S3", depth=8, width=256, batch=4, steps=5),
    TrainShape("S4", depth=128, width=32, batch=64, steps=10),
]


@dataclass(frozen=True)
class HaarShape:
    n: int
    batch: int

    @property
    def name(self) -> str:
        return f"haar n={self.n} x{self.batch}"

    @property
    def flops_per_call(self) -> float:
        # Householder QR (4/3 n³) plus forming Q explicitly (4/3 n³), per matrix.
        return self.batch * 8.0 / 3.0 * self.n**3


HAAR_SHAPES = [HaarShape(16, 1000), HaarShape(64, 200), HaarShape(256, 20)]


def mlp_dims(depth: int, width: int) -> list[int]:
    """64 inputs, L layers of width N, the last one 10 outputs (digits' sizes)."""
    return [64] + [width] * (depth - 1) + [10]


def mlp_step_flops(dims: list[int], examples: int) -> float:
    """6·n·Σ d_j d_{j+1}: one network's step (forward 2, backward 4 per weight and example)."""
    return 6.0 * examples * sum(a * b for a, b in itertools.pairwise(dims))


@dataclass(frozen=True)
class MlpShape:
    """A batch of B MLPs with biases: 64 inputs, L layers of width N (the last one 10 outputs),
    on n examples, full-batch GD on the MSE (the issue's M1–M3)."""

    name: str
    depth: int
    width: int
    n: int
    batch: int
    steps: int

    @property
    def dims(self) -> list[int]:
        return mlp_dims(self.depth, self.width)

    @property
    def flops_per_call(self) -> float:
        return self.steps * self.batch * mlp_step_flops(self.dims, self.n)

    def problem(self, activation: str, dtype=np.float64):
        rng = np.random.default_rng(0)
        weights, biases = dl.init.critical(
            self.dims, batch=self.batch, seed=0, q_star=1 / 64, weights="gaussian", dtype=dtype
        )
        X = (rng.standard_normal((64, self.n)) / 8).astype(dtype)  # mean x² ≈ q*
        Y = rng.standard_normal((10, self.n)).astype(dtype)
        kwargs = {
            "lr": 1e-4,
            "steps": self.steps,
            "activation": activation,
            "biases": biases,
        }
        return weights, X, Y, kwargs


MLP_SHAPES = [
    MlpShape("M1", depth=10, width=128, n=256, batch=16, steps=10),
    MlpShape("M2", depth=50, width=256, n=512, batch=4, steps=3),
    MlpShape("M3", depth=4, width=64, n=128, batch=64, steps=20),
]


@dataclass(frozen=True)
class MinibatchShape:
    """Adam on the softmax cross-entropy of digits (1797 × 64, 10 classes): a tanh MLP with
    biases, L layers of width N, mini-batches of `size`, critical orthogonal init (q* = 1/64).
    With `manifold="stiefel"` the hidden layers (all but the first and the last) are trained on
    the Stiefel manifold with learned scales, as sokol2020's "stiefel_hidden" nets."""

    name: str
    depth: int
    width: int
    size: int
    batch: int
    steps: int
    manifold: str = "euclidean"

    @property
    def dims(self) -> list[int]:
        return mlp_dims(self.depth, self.width)

    @property
    def flops_per_call(self) -> float:
        return self.steps * self.batch * mlp_step_flops(self.dims, self.size)

    @property
    def stiefel_extra_flops_per_call(self) -> float:
        """What Riemannian Adam adds to a Stiefel call's Euclidean work on its N × N hidden
        layers, per layer and step: the gradient's tangent projection W·sym(WᵀG) and the first
        moment's transport after the retraction (2 products each, 4N³), and the Cholesky QR
        retraction (the Gram's lower triangle N³, the Cholesky N³/3, the triangular solve N³)."""
        per_layer = (4 + 4 + 1 + 1 / 3 + 1) * self.width**3
        return self.steps * self.batch * (self.depth - 2) * per_layer

    def problem(self):
        from sklearn.datasets import load_digits

        digits = load_digits()
        X = np.ascontiguousarray((digits.data / 16.0).T)
        y = digits.target.astype(np.int64)
        weights, biases = dl.init.critical(self.dims, batch=self.batch, seed=0, q_star=1 / 64)
        kwargs = {
            "lr": 1e-3,
            "steps": self.steps,
            "activation": "tanh",
            "biases": biases,
            "loss": "cross_entropy",
            "optimizer": "adam",
            "batch_size": self.size,
            "data_seed": 0,
            # The loss on the whole training set only at the start and the end: with
            # mini-batches each recorded loss is an extra pass over all 1797 examples.
            "record_every": self.steps,
        }
        if self.manifold != "euclidean":
            hidden = [self.manifold] * (self.depth - 2)
            kwargs.update(manifold=["euclidean", *hidden, "euclidean"], learn_scale=True)
        return weights, X, y, kwargs


MINIBATCH_SHAPES = [
    MinibatchShape("digits CE Adam", depth=20, width=256, size=256, batch=4, steps=20)
]

#: sokol2020's training networks and calls (the quick and standard grids: 150 steps, 10 epochs
#: of 15 batches, the full-set loss at both ends). The flops counted are the Euclidean step's,
#: so a Stiefel row's GFLOP/s is Euclidean-equivalent.
SOKOL_SHAPES = [
    MinibatchShape("sokol2020 training", depth=30, width=64, size=100, batch=4, steps=150),
]

# DEEPLINEAR_BENCH_SMOKE=1 shrinks every problem to seconds in all: the test suite runs the whole
# benchmark suite that way, to check that it still runs (the numbers mean nothing then).
SMOKE = bool(os.environ.get("DEEPLINEAR_BENCH_SMOKE"))
if SMOKE:
    TRAIN_SHAPES = [dataclasses.replace(s, batch=2, steps=1) for s in TRAIN_SHAPES]
    HAAR_SHAPES = [dataclasses.replace(s, batch=2) for s in HAAR_SHAPES]
    MLP_SHAPES = [dataclasses.replace(s, batch=2, steps=1) for s in MLP_SHAPES]
    MINIBATCH_SHAPES = [dataclasses.replace(s, batch=1, steps=2) for s in MINIBATCH_SHAPES]
    SOKOL_SHAPES = [dataclasses.replace(s, batch=1, steps=2) for s in SOKOL_SHAPES]
