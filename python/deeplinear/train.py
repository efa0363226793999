"""Batched training of deep linear networks and narrow MLPs, in Rust: one engine for every
network form, loss, optimiser, data schedule, manifold, stop rule and recorded quantity."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _core, optim
from ._validation import float_array, targets_array
from .errors import ArgumentTypeError, InvalidValueError
from .options import TrainOptions
from .vocabulary import LOSSES, OPTIMIZERS, PROBE_RECORDABLE, RECORDABLE

#: The keywords of :func:`train` that are options (all but the arrays and the state).
_OPTIONS = frozenset(TrainOptions.keywords())

__all__ = [
    "LOSSES",
    "OPTIMIZERS",
    "PROBE_RECORDABLE",
    "RECORDABLE",
    "TrainResult",
    "TrainState",
    "train",
]


@dataclass(frozen=True)
class TrainState:
    """Where a call left its networks: pass it back as ``train(..., state=...)`` to continue.

    A chain of calls that pass the state on equals one long call bit for bit (weights, losses,
    optimiser buffers, mini-batch order). The state is never modified; every call returns a
    new one.

    Attributes:
        optimizer: the optimiser it belongs to (one of :data:`OPTIMIZERS`).
        step: (batch,) int64, updates done so far by each network (the position in the
            mini-batch schedule, and Adam's step count).
        data_seed: (batch, 2) uint64, each network's data stream (seed, stream index).
        batch_size: the mini-batch size it was trained with (None: full batch).
        n: the number of training examples.
        scales: (batch, L) the scale s of each Stiefel or Oblique layer (W = s·Q; trained
            with ``learn_scale``), NaN for Euclidean layers; None without manifold layers.
        slots: the optimiser's buffers, named in ``slot_names`` ("momentum:weights[0]",
            "exp_avg:biases[2]", "exp_avg_sq:scales", …), each shaped like its parameter.
        slot_names: the name of each buffer in ``slots``.
    """

    optimizer: str
    step: np.ndarray
    data_seed: np.ndarray
    batch_size: int | None
    n: int
    scales: np.ndarray | None
    slots: tuple[np.ndarray, ...]
    slot_names: tuple[str, ...]

    @property
    def buffers(self) -> dict[str, np.ndarray]:
        """The optimiser's buffers by name."""
        return dict(zip(self.slot_names, self.slots, strict=True))


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` returns. All arrays are new; the inputs are never modified.

    Attributes:
        weights: the trained layers, same shapes and dtype as the input weights.
        loss: (batch, steps // record_every + 1) float64; column k is the loss on the full
            training set after k·record_every steps, column 0 the initial loss. Once a network
            stops (tolerance or accuracy reached, or diverged) its later columns repeat the loss
            it stopped at.
        final_loss: (batch,) the full-training-set loss when each network stopped.
        steps_to_tol: (batch,) int64, the first step whose loss is ≤ tol, or -1.
        diverged: (batch,) bool, True where the step loss became non-finite (the network was
            frozen).
        record_every: the recording interval of ``loss``.
        biases: the trained biases (new arrays, None for layers without one) when ``biases``
            was passed to :func:`train`, else None.
        records: the quantities asked for with ``record=``, by name (see :data:`RECORDABLE`
            for their shapes). Column k of a quantity recorded every e steps is taken at step
            k·e, before that step's update; after a network stops, its later columns repeat
            the state it stopped in.
        steps_to_accuracy: (batch,) int64, the first step whose (mini-)batch accuracy is
            ≥ ``target_accuracy``, or -1.
        state: where the networks stopped (optimiser buffers, step counts, data order,
            manifold scales); pass it to the next call to continue.
    """

    weights: list[np.ndarray]
    loss: np.ndarray
    final_loss: np.ndarray
    steps_to_tol: np.ndarray
    diverged: np.ndarray
    record_every: int = 1
    biases: list[np.ndarray | None] | None = None
    records: dict[str, np.ndarray] = field(default_factory=dict)
    steps_to_accuracy: np.ndarray | None = None
    state: TrainState | None = None

    @property
    def recorded_steps(self) -> np.ndarray:
        """The step number of each column of :attr:`loss`."""
        return np.arange(self.loss.shape[1]) * self.record_every


def _biases(biases: Any, depth: int, dtype: np.dtype) -> list[np.ndarray | None] | None:
    if biases is None:
        return None
    if isinstance(biases, np.ndarray) or not isinstance(biases, Sequence):
        raise ArgumentTypeError(
            "biases: expected None or a list of per-layer arrays (batch, d_out) or None"
        )
    if len(biases) != depth:
        raise InvalidValueError(
            f"biases: expected one entry per layer ({depth}), got {len(biases)}"
        )
    return [
        None if b is None else float_array(f"biases[{j}]", b, dtype) for j, b in enumerate(biases)
    ]


def _eval_data(eval_data: Any, loss: str, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray] | None:
    if eval_data is None:
        return None
    if isinstance(eval_data, (str, np.ndarray)) or not isinstance(eval_data, Sequence):
        raise ArgumentTypeError(f"eval_data: expected a pair (X_test, Y_test), got {eval_data!r}")
    if len(eval_data) != 2:
        raise InvalidValueError(
            f"eval_data: expected a pair (X_test, Y_test), got {len(eval_data)}"
        )
    return (
        float_array("eval_data[0] (X_test)", eval_data[0], dtype),
        targets_array("eval_data[1] (Y_test)", eval_data[1], loss, dtype),
    )


def _record_data(
    record_data: Any, loss: str, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray | None] | None:
    if record_data is None:
        return None
    if isinstance(record_data, np.ndarray):
        return float_array("record_data (X_probe)", record_data, dtype), None
    if isinstance(record_data, str) or not isinstance(record_data, Sequence):
        raise ArgumentTypeError(
            f"record_data: expected X_probe or a pair (X_probe, Y_probe), got {record_data!r}"
        )
    if len(record_data) != 2:
        raise InvalidValueError(
            f"record_data: expected a pair (X_probe, Y_probe), got {len(record_data)} items"
        )
    x, y = record_data
    return (
        float_array("record_data[0] (X_probe)", x, dtype),
        None if y is None else targets_array("record_data[1] (Y_probe)", y, loss, dtype),
    )


def train(
    weights: Sequence[np.ndarray],
    X: np.ndarray | None,
    Y: np.ndarray,
    *,
    lr: float | Sequence[float] | np.ndarray | optim.Rates,
    steps: int,
    alpha: float = 1.0,
    tol: float | None = None,
    record_every: int = 1,
    threads: int | None = None,
    activation: str = "linear",
    biases: Sequence[np.ndarray | None] | None = None,
    parameterization: str = "standard",
    sigma_w: float = 1.0,
    record: Sequence[str] | Mapping[str, int] = (),
    manifold: str | Sequence[str] = "euclidean",
    loss: str = "mse",
    reduction: str | None = None,
    optimizer: str = "gd",
    momentum: float | None = None,
    nesterov: bool = False,
    betas: tuple[float, float] | None = None,
    eps: float | None = None,
    batch_size: int | None = None,
    data_seed: int | Sequence[int] | None = None,
    learn_scale: bool = False,
    eval_data: tuple[np.ndarray, np.ndarray] | None = None,
    target_accuracy: float | None = None,
    state: TrainState | None = None,
    record_data: np.ndarray | tuple[np.ndarray, np.ndarray | None] | None = None,
    lr_schedule: optim.LrSchedule | None = None,
    weight_decay: float | Sequence[float] | np.ndarray | optim.Rates = 0.0,
    decay: float | None = None,
    centered: bool = False,
    oblique_penalty: float = 0.0,
) -> TrainResult:
    r"""Train a batch of deep networks.

    The network is z_j = s_j·W_j·h_{j−1} + b_j with h_0 = X, h_j = φ(z_j) for hidden layers and
    output f = α·z_L; with the defaults (linear, no biases, standard) it is the deep linear
    chain f(X) = α·W_L⋯W_1·X. Each step takes the step's examples (all n, or a mini-batch),
    computes the loss and its gradient by backprop, and updates all layers (and biases) from the
    same iterate. The whole loop runs in Rust without the GIL; networks are spread over threads
    and each is trained by one thread with its own data order, so results are bit-identical for
    any ``threads`` and any batching of the same networks.

    With the defaults this is full-batch gradient descent on ℓ = ½‖f − Y‖_F² (a plain sum over
    examples). For linear chains (linear, standard, no biases) with that loss and full batches,
    when n > d_0 the data are reduced exactly (thin QR of Xᵀ) to d_0 columns, so the step cost
    does not grow with n; the constant ½‖Y(I − QQᵀ)‖² is added back, so every reported loss (and
    ``tol``) refers to the full problem.

    Args:
        weights: L arrays, layer j of shape (batch, d_{j+1}, d_j), all float32 or all float64
            (the dtype of the call). Not modified.
        X: inputs (d_0, n) shared by the batch, or (batch, d_0, n) per network; or None for
            the identity I_{d_0} (the target-matrix form, n = d_0), which skips the first
            product instead of multiplying by I.
        Y: targets. loss="mse": (d_L, n) or (batch, d_L, n), the weights' dtype.
            loss="cross_entropy": integer class labels in [0, d_L), (n,) or (batch, n), any
            integer dtype.
        lr: learning rate η, a float or one per network (batch,), or
            :class:`deeplinear.optim.Rates`: one rate per parameter group (``manifold``: the
            Stiefel/Oblique weights; ``output``: the last layer's weights when Euclidean;
            ``biases``; ``scales``: the learned scales; ``base``: every other weight), each a
            float or one per network; a group left as None takes ``base``. Naming a group the
            network lacks is an error. Finite and ≥ 0.
        steps: number of updates (≥ 0).
        alpha: output scale α (see :func:`deeplinear.fanout_alpha`).
        tol: stop a network (and record ``steps_to_tol``) once its step loss is ≤ tol (the
            mini-batch loss with ``batch_size``).
        record_every: record the loss every this many steps (≥ 1).
        threads: worker threads (default: all cores).
        activation: φ of the hidden layers: "linear", "tanh", "relu" or "erf" (the output
            layer is always linear).
        biases: None (no biases), or one entry per layer: an array (batch, d_{j+1}) trained
            along with the weights, or None for a layer without a bias. Not modified.
        parameterization: "standard" (s = 1) or "ntk" (each layer scaled by
            s = sigma_w/√fan_in, for unit-variance weights).
        sigma_w: σ_w of the NTK scale; ignored in standard parameterisation. Finite.
        record: quantities recorded inside the Rust loop (see :data:`RECORDABLE`): a list of
            names, each recorded every ``record_every`` steps, or a mapping name → interval.
            Returned in ``TrainResult.records``. Recording never changes the trajectory. With
            mini-batches, "loss" and "accuracy" cost one extra pass over the training set at
            each recorded step (as does ``TrainResult.final_loss`` at the stop); "test_loss" and
            "test_accuracy" one pass over ``eval_data``.
        manifold: "euclidean", "stiefel" or "oblique", or a list with one per layer. A Stiefel layer
            stays scaled-orthogonal (WᵀW = s²I, or WWᵀ = s²I if wide; it must start so, e.g.
            :func:`deeplinear.init.orthogonal`): the gradient G is projected to the tangent
            space, G − W·sym(WᵀG)/s² (wide: G − sym(GWᵀ)·W/s²), the optimiser turns it into a
            direction d, and W − η·d is retracted with the sign-fixed QR (W ← s·qf(·), wide
            s·qf(·ᵀ)ᵀ). Momentum and Adam keep their moments for the projected gradient and
            re-project the first moment onto the new tangent space after each step, as geoopt's
            RiemannianAdam (Sokol & Park 2020). An Oblique layer keeps every row (a unit's
            incoming weights) of one norm s (it must start so, and needs d_in ≥ 2): the
            gradient is projected row-wise, g_i − (g_i·w_i/s²)·w_i, and each row moves along
            its sphere's geodesic (the exponential map); the first moments are re-projected
            likewise. Biases stay Euclidean. RMSProp keeps its averages for the projected
            gradient as Adam does.
        loss: "mse" (½‖f_i − y_i‖² per example) or "cross_entropy" (−log softmax(f_i)_{y_i}
            per example, computed with the max shift so that large logits never overflow;
            needs d_L ≥ 2).
        reduction: how the per-example losses of a step (or a whole set) are combined: "sum",
            "mean", or None for the loss's default (mse: "sum", cross_entropy: "mean").
        optimizer: "gd" (W ← W − ηG), "sgd" (heavy ball in PyTorch's convention:
            v ← βv + G, W ← W − ηv; with ``nesterov`` W ← W − η(G + βv)) or "adam"
            (W ← W − η·m̂/(√v̂ + ε) with bias-corrected moments, Kingma & Ba), "adamw" (Adam
            with decoupled weight decay, PyTorch's AdamW) or "rmsprop" (PyTorch's convention:
            v ← d·v + (1 − d)·G², W ← W − η·G/(√v + ε); with ``centered`` the running mean ḡ
            of G is subtracted, √(v − ḡ²); with ``momentum`` μ, b ← μ·b + G/(√v + ε),
            W ← W − η·b).
        momentum: β of "sgd" (or μ of "rmsprop"), in [0, 1) (default 0).
        nesterov: Nesterov momentum (needs momentum > 0). Only with optimizer="sgd".
        betas: (β₁, β₂) of "adam" and "adamw", each in [0, 1) (default (0.9, 0.999)).
        eps: ε of "adam", "adamw" and "rmsprop", > 0 (default 1e-8).
        batch_size: None (every step uses all n examples) or b in [1, n]: each epoch walks
            through a fresh permutation of the n examples in slices of b; the last slice of an
            epoch may be shorter. The loss and gradient of a step are those of its slice.
        data_seed: the mini-batch order: an int (network b uses stream b of it) or one seed per
            network, as ``seed`` in :mod:`deeplinear.init` — a network trained alone with its own
            seed equals the same network trained in a batch. None: the state's, else fresh
            entropy (kept in ``TrainResult.state``).
        learn_scale: each Stiefel or Oblique layer W = s·Q also trains its scale s (Sokol & Park's
            ``scaling``) by the optimiser's Euclidean rule, with ∂ℓ/∂s = ⟨G, Q⟩ (at the
            ``scales`` group's rate). Needs a Stiefel or Oblique layer.
        eval_data: held-out data (X_test, Y_test), shaped like X and Y, for the "test_loss"
            and "test_accuracy" records.
        target_accuracy: stop a network (and record ``steps_to_accuracy``) once the accuracy
            of its step's (mini-)batch is ≥ this, in (0, 1] (as Huang et al. time SGD).
            Accuracy is argmax f vs the label, or vs argmax Y for one-hot MSE targets.
        state: a :class:`TrainState` from an earlier call on these networks (its result's
            weights): training continues where it stopped, bit for bit. It must fit the call
            (optimizer, number of networks, batch_size, shapes).
        record_data: the fixed probe set of the diagnostics of the network function
            (:data:`PROBE_RECORDABLE`): X_probe, or a pair (X_probe, Y_probe), X_probe shaped
            like X ((d_0, m) or (batch, d_0, m)) and Y_probe like Y (its m targets). Y_probe is
            needed by "empirical_fisher_max_eigenvalue" only (validated whenever given). Each
            recorded value equals the :mod:`deeplinear.metrics` function at that iterate's
            weights, with the call's network form, α and loss; a diagnostic that fails (no
            convergence) records NaN. These are expensive (a Fisher eigenvalue costs dozens
            of passes over the probe set): give them a long interval, e.g.
            ``record={"loss": 1, "fisher_max_eigenvalue": 100}``.
        lr_schedule: None (constant) or a schedule of :mod:`deeplinear.optim`
            (``constant``, ``step_decay``, ``exponential_decay``, ``warmup_cosine``, with
            optax's definitions): every group's rate is multiplied by its factor f(t) at the
            network's own 0-based update count t, counted over chained calls (``state``), so
            a chain continues the schedule bit for bit.
        weight_decay: λ, a float or one per network, or :class:`deeplinear.optim.Rates`
            per group. Coupled L2 (λ·W added to the gradient) for "gd", "sgd", "adam" and
            "rmsprop"; decoupled for "adamw" (W ← W − η·f(t)·λ·W before the Adam step). A
            float decays the Euclidean weights (``base`` and ``output``); biases and scales
            only when named in ``Rates``; the orthonormal factor of a manifold layer never
            (decay its learned scale with ``scales=``).
        decay: d of "rmsprop", in [0, 1) (default 0.99).
        centered: centred RMSProp (only with optimizer="rmsprop").
        oblique_penalty: ω ≥ 0: adds ω·‖QQᵀ − I‖²_F (QᵀQ for tall layers) of each Oblique
            layer's Q to the loss it trains on (Sokol & Park's Oblique nets); the recorded
            losses do not include it. Needs an Oblique layer.

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
    keywords = {k: v for k, v in locals().items() if k in _OPTIONS}
    if isinstance(weights, np.ndarray) or not isinstance(weights, Sequence):
        raise ArgumentTypeError("weights: expected a list of per-layer arrays (batch, d_out, d_in)")
    if len(weights) == 0:
        raise InvalidValueError("weights: needs at least one layer, got an empty list")
    first = float_array("weights[0]", weights[0])
    layers = [first] + [
        float_array(f"weights[{j}]", w, first.dtype) for j, w in enumerate(weights) if j > 0
    ]
    if state is not None and not isinstance(state, TrainState):
        raise ArgumentTypeError(f"state: expected a TrainState, got {type(state).__name__}")
    bias_arrays = _biases(biases, len(layers), first.dtype)
    options = TrainOptions.from_keywords(
        keywords,
        batch=first.shape[0] if first.ndim else 0,
        depth=len(layers),
        has_biases=bias_arrays is not None and any(b is not None for b in bias_arrays),
        has_state=state is not None,
    )
    out = _core.train(
        layers,
        None if X is None else float_array("X", X, first.dtype),
        targets_array("Y", Y, options.loss, first.dtype),
        options,
        biases=bias_arrays,
        eval_data=_eval_data(eval_data, options.loss, first.dtype),
        state=state,
        record_data=_record_data(record_data, options.loss, first.dtype),
    )
    recorded = dict(out.records)
    raw = out.state
    return TrainResult(
        weights=list(out.weights),
        loss=out.loss,
        final_loss=out.final_loss,
        steps_to_tol=out.steps_to_tol,
        diverged=out.diverged,
        record_every=options.record_every,
        biases=None if biases is None else list(out.biases),
        records={
            name: out.loss if name == "loss" else recorded[name] for name, _ in options.record
        },
        steps_to_accuracy=out.steps_to_accuracy,
        state=TrainState(
            optimizer=raw.optimizer,
            step=raw.step,
            data_seed=raw.data_seed,
            batch_size=raw.batch_size,
            n=raw.n,
            scales=raw.scales,
            slots=tuple(raw.slots),
            slot_names=tuple(raw.slot_names),
        ),
    )
