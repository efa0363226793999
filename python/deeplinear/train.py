"""Batched full-batch gradient descent on deep linear networks (and narrow MLPs), in Rust."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _core
from ._validation import choice, float_array, integer, real, string, threads_argument

__all__ = ["RECORDABLE", "TrainResult", "train"]

#: The diagnostics ``train(record=...)`` can record, with the shape of each array in
#: ``TrainResult.records`` (R = steps // record_every + 1 recorded columns).
RECORDABLE = {
    "loss": "(batch, R): the loss, as TrainResult.loss",
    "balancedness": "(batch, R): max_j ‖W_{j+1}ᵀW_{j+1} − W_jW_jᵀ‖_F (0 for one layer)",
    "balancedness_per_layer": "(batch, R, L−1): the per-layer gaps",
    "singular_values": "(batch, R, min(d_0, d_L)): singular values of α·W_{L:1}, non-increasing",
    "grad_norms": "(batch, R, L): ‖∂ℓ/∂W_j‖_F (Euclidean gradient) at the recorded iterate",
}


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` returns. All arrays are new; the inputs are never modified.

    Attributes:
        weights: the trained layers, same shapes and dtype as the input weights.
        loss: (batch, steps // record_every + 1) float64; column k is the loss after
            k·record_every steps, column 0 the initial loss. Once a network stops (tolerance
            reached or diverged) its later columns repeat its last loss.
        final_loss: (batch,) loss when each network stopped (after ``steps`` steps at most).
        steps_to_tol: (batch,) int64, the first step at which loss ≤ tol, or -1.
        diverged: (batch,) bool, True where the loss became non-finite (the network was frozen).
        record_every: the recording interval the losses were taken with.
        biases: the trained biases (new arrays, None for layers without one) when ``biases``
            was passed to :func:`train`, else None.
        records: the diagnostics asked for with ``record=``, by name (see :data:`RECORDABLE`
            for their shapes). Column k of each is taken at the same iterate as ``loss[:, k]``
            (after k·record_every steps, before that step's update); after a network stops,
            its later columns repeat the state it stopped in, as for the loss.
    """

    weights: list[np.ndarray]
    loss: np.ndarray
    final_loss: np.ndarray
    steps_to_tol: np.ndarray
    diverged: np.ndarray
    record_every: int = 1
    biases: list[np.ndarray | None] | None = None
    records: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def recorded_steps(self) -> np.ndarray:
        """The step number of each column of :attr:`loss`."""
        return np.arange(self.loss.shape[1]) * self.record_every


def _learning_rate(lr: Any) -> float | list[float]:
    if isinstance(lr, np.ndarray) or (isinstance(lr, Sequence) and not isinstance(lr, str)):
        rates = np.asarray(lr, dtype=np.float64)
        if rates.ndim == 0:
            return float(rates)
        if rates.ndim != 1:
            raise ValueError(
                f"lr: expected a scalar or a 1-D (batch,) array, got shape {rates.shape}"
            )
        return [float(r) for r in rates]
    return real("lr", lr)


ACTIVATIONS = ("linear", "tanh", "relu", "erf")
PARAMETERIZATIONS = ("standard", "ntk")


def _biases(biases: Any, depth: int, dtype: np.dtype) -> list[np.ndarray | None] | None:
    if biases is None:
        return None
    if isinstance(biases, np.ndarray) or not isinstance(biases, Sequence):
        raise TypeError(
            "biases: expected None or a list of per-layer arrays (batch, d_out) or None"
        )
    if len(biases) != depth:
        raise ValueError(f"biases: expected one entry per layer ({depth}), got {len(biases)}")
    return [
        None if b is None else float_array(f"biases[{j}]", b, dtype) for j, b in enumerate(biases)
    ]


def train(
    weights: Sequence[np.ndarray],
    X: np.ndarray | None,
    Y: np.ndarray,
    *,
    lr: float | Sequence[float] | np.ndarray,
    steps: int,
    alpha: float = 1.0,
    tol: float | None = None,
    record_every: int = 1,
    threads: int | None = None,
    activation: str = "linear",
    biases: Sequence[np.ndarray | None] | None = None,
    parameterization: str = "standard",
    sigma_w: float = 1.0,
    record: Sequence[str] = (),
    manifold: str = "euclidean",
) -> TrainResult:
    r"""Train a batch of deep networks by full-batch gradient descent.

    The network is z_j = s_j·W_j·h_{j−1} + b_j with h_0 = X, h_j = φ(z_j) for hidden layers and
    output f = α·z_L; with the defaults (linear, no biases, standard) it is the deep linear
    chain f(X) = α·W_L⋯W_1·X. Minimises ℓ = ½‖f − Y‖_F² (a plain sum over examples) with
    W_j ← W_j − lr·∂ℓ/∂W_j (and b_j likewise) for all layers from the same iterate. The whole
    loop runs in Rust without the GIL; networks are spread over threads and each is trained by
    one thread, so results are bit-identical for any ``threads``.

    Linear networks without biases in standard parameterisation take the fused fast path. There,
    when n > d_0 the data are reduced exactly (thin QR of Xᵀ) to d_0 columns, so the step cost
    does not grow with n; the constant ½‖Y(I − QQᵀ)‖² is added back, so every reported loss (and
    ``tol``) refers to the full problem.

    Args:
        weights: L arrays, layer j of shape (batch, d_{j+1}, d_j), all float32 or all float64.
        X: inputs (d_0, n) shared by the batch, or (batch, d_0, n) per network; or None for
            the identity I_{d_0} (the target-matrix form ℓ = ½‖α W_L⋯W_1 − Y‖², n = d_0),
            which skips the first product instead of multiplying by I.
        Y: targets (d_L, n) or (batch, d_L, n), same dtype as the weights.
        lr: learning rate, a float or one per network (batch,). Finite and ≥ 0.
        steps: number of gradient steps (≥ 0).
        alpha: output scale α (see :func:`deeplinear.fanout_alpha`).
        tol: stop a network (and record ``steps_to_tol``) once its loss is ≤ tol.
        record_every: record the loss every this many steps (≥ 1).
        threads: worker threads (default: all cores).
        activation: φ of the hidden layers: "linear", "tanh", "relu" or "erf" (the output
            layer is always linear).
        biases: None (no biases), or one entry per layer: an array (batch, d_{j+1}) trained
            along with the weights, or None for a layer without a bias. Not modified.
        parameterization: "standard" (s = 1) or "ntk" (each layer scaled by
            s = sigma_w/√fan_in, for unit-variance weights such as ``dl.init.gaussian(dims)``
            or ``dl.init.critical(..., parameterization="ntk")``).
        sigma_w: σ_w of the NTK scale; ignored in standard parameterisation. Finite.
        record: diagnostics to record every ``record_every`` steps inside the Rust loop, any of
            :data:`RECORDABLE` ("loss", "balancedness", "balancedness_per_layer",
            "singular_values", "grad_norms"); returned in ``TrainResult.records``. Recording
            never changes the trajectory (bit-identical weights and losses).
        manifold: "euclidean" (plain GD) or "stiefel": Riemannian GD on scaled-orthogonal layers
            (Sokol & Park 2020). Each layer keeps its initial scale s (WᵀW = s²I, or WWᵀ = s²I if
            wide); the gradient G is projected to the tangent space, G − W·sym(WᵀG)/s² (wide:
            G − sym(GWᵀ)·W/s²), a step is taken, and the result is retracted with the sign-fixed
            QR (W ← s·qf(Y), wide: s·qf(Yᵀ)ᵀ). The weights must start scaled-orthogonal (e.g.
            :func:`deeplinear.init.orthogonal`).

    Returns:
        A :class:`TrainResult`. A network whose loss becomes non-finite is flagged in
        ``diverged`` and frozen; the others carry on.

    Example:
        >>> import deeplinear as dl, numpy as np
        >>> dims = [4, 8, 8, 2]
        >>> w = dl.init.orthogonal(dims, batch=3, seed=0)
        >>> X = np.eye(4); Y = np.ones((2, 4))
        >>> res = dl.train(w, X, Y, lr=0.05, steps=200, alpha=dl.fanout_alpha(dims))
        >>> bool((res.final_loss < res.loss[:, 0]).all())
        True
    """
    if isinstance(weights, np.ndarray) or not isinstance(weights, Sequence):
        raise TypeError("weights: expected a list of per-layer arrays (batch, d_out, d_in)")
    if len(weights) == 0:
        raise ValueError("weights: needs at least one layer, got an empty list")
    first = float_array("weights[0]", weights[0])
    layers = [first] + [
        float_array(f"weights[{j}]", w, first.dtype) for j, w in enumerate(weights) if j > 0
    ]
    steps = integer("steps", steps, minimum=0)
    record_every = integer("record_every", record_every, minimum=1)
    names = _record_names(record)
    out = _core.train(
        layers,
        None if X is None else float_array("X", X, first.dtype),
        float_array("Y", Y, first.dtype),
        lr=_learning_rate(lr),
        steps=steps,
        alpha=real("alpha", alpha),
        tol=None if tol is None else real("tol", tol),
        record_every=record_every,
        dtype=first.dtype.name,
        threads=threads_argument(threads),
        biases=_biases(biases, len(layers), first.dtype),
        activation=choice("activation", activation, ACTIVATIONS),
        parameterization=choice("parameterization", parameterization, PARAMETERIZATIONS),
        sigma_w=real("sigma_w", sigma_w),
        record=names,
        manifold=string("manifold", manifold),
    )
    records: dict[str, np.ndarray] = {}
    for name in names:  # in the order asked for
        records[name] = out["loss"] if name == "loss" else out["records"][name]
    out["records"] = records
    return TrainResult(record_every=record_every, **out)


def _record_names(record: Any) -> list[str]:
    """The requested diagnostics as a duplicate-free list of names (checked by the core)."""
    if isinstance(record, str) or not isinstance(record, Sequence):
        raise TypeError(
            f"record: expected a list of names such as ['balancedness'], got {record!r}"
        )
    names: list[str] = []
    for name in record:
        if not isinstance(name, str):
            raise TypeError(f"record: expected names (str), got {type(name).__name__} {name!r}")
        if name not in names:
            names.append(name)
    return names
