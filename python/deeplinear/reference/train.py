"""Full-batch gradient descent on batches of deep networks, in plain NumPy (docs/science.md,
Networks).

This is the oracle that the Rust engine is tested against.  It loops over networks, then over
steps, and does ordinary backprop; nothing is fused or vectorised across the batch, and the data
are never reduced (X is always used as given, the identity included).

Model: ``z_j = s_j W_j h_{j-1} + b_j``, ``h_0 = X``, ``h_j = phi(z_j)`` for hidden layers,
``f = alpha * z_L``; loss ``0.5 * ||f - Y||_F**2`` (a plain sum, no ``1/n``).  With the defaults
(linear, no biases, standard: ``s_j = 1``) this is ``f = alpha * W_L ... W_1 X``.
"""

from __future__ import annotations

import math
import operator
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import optim
from ..errors import ArgumentTypeError, InvalidValueError
from ..vocabulary import (
    ACTIVATIONS,
    LINEAR_ONLY_RECORDABLE,
    MANIFOLDS,
    PARAMETERIZATIONS,
    PROBE_RECORDABLE,
    RECORDABLE,
)
from . import metrics, oblique, stiefel
from .losses import accuracy_count, loss_and_signal
from .lr_schedules import lr_factor
from .optimizers import Rule, make_rule
from .schedule import batch_of_step

__all__ = [
    "TrainResult",
    "TrainState",
    "bias_gradients",
    "fanout_alpha",
    "gradients",
    "loss",
    "train",
]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@dataclass(frozen=True)
class TrainResult:
    """Outcome of :func:`train` for a batch of ``B`` networks.

    Attributes
    ----------
    weights:
        Final weights, one new array (B, d_{j+1}, d_j) per layer, in the input dtype.
    loss:
        (B, steps // record_every + 1) float64; column ``k`` is the loss at step
        ``k * record_every`` (column 0 is the initial loss).  After a network stops early
        (divergence or tolerance) its remaining columns hold the loss at which it stopped.
    final_loss:
        (B,) float64, the loss at which each network stopped.
    steps_to_tol:
        (B,) int64, the first step with ``loss <= tol``; -1 where never reached (or tol is None).
    diverged:
        (B,) bool, True where the loss became non-finite.
    record_every:
        The recording interval.
    biases:
        The trained biases (None for layers without one) if biases were given, else None.
    """

    weights: list[NDArray[np.floating]]
    loss: NDArray[np.float64]
    final_loss: NDArray[np.float64]
    steps_to_tol: NDArray[np.int64]
    diverged: NDArray[np.bool_]
    record_every: int = 1
    biases: list[NDArray[np.floating] | None] | None = None
    records: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    steps_to_accuracy: NDArray[np.int64] | None = None
    state: TrainState | None = None


def fanout_alpha(dims: Sequence[int]) -> float:
    """Hu et al.'s output scale ``alpha = (prod_{j>=1} dims[j]) ** -0.5``."""
    ds = [operator.index(d) for d in dims]
    if len(ds) < 2:
        raise ValueError(f"dims must have at least 2 entries, got {ds!r}")
    if any(d < 1 for d in ds):
        raise ValueError(f"dims must all be >= 1, got {ds!r}")
    return 1.0 / math.sqrt(math.prod(ds[1:]))


# --------------------------------------------------------------------------------------------
# validation


@dataclass(frozen=True)
class _Problem:
    """Validated, copied inputs of a training problem."""

    weights: list[NDArray[np.floating]]  # each (B, d_{j+1}, d_j), private copies
    X: NDArray[np.floating]  # (d_0, n) or (B, d_0, n); the identity when X was None
    Y: NDArray[Any]  # (d_L, n) or (B, d_L, n); cross-entropy: int64 labels (n,) or (B, n)
    batch: int
    dtype: np.dtype[np.floating]
    biases: list[NDArray[np.floating] | None] | None = None  # each (B, d_{j+1}), private copies


def _check_array(a: ArrayLike, name: str) -> NDArray[np.floating]:
    arr = np.asarray(a)
    if arr.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {arr.dtype}")
    return arr


def _check_labels(Y: ArrayLike, name: str, batch: int, n: int, classes: int) -> NDArray[np.int64]:
    """Integer class labels in [0, classes): (n,) shared or (batch, n)."""
    ya: NDArray[Any] = np.asarray(Y)
    if ya.dtype.kind not in "iu":
        raise TypeError(f"{name}: loss='cross_entropy' needs integer labels, got dtype {ya.dtype}")
    if ya.shape not in ((n,), (batch, n)):
        raise ValueError(f"{name}: labels must have shape ({n},) or ({batch}, {n}), got {ya.shape}")
    if ya.size and (ya.min() < 0 or ya.max() >= classes):
        raise ValueError(f"{name}: labels must be in [0, {classes}), got {ya.min()}..{ya.max()}")
    return np.array(ya, dtype=np.int64, order="C", copy=True)


def _check_problem(
    weights: Sequence[ArrayLike],
    X: ArrayLike | None,
    Y: ArrayLike,
    biases: Sequence[ArrayLike | None] | None = None,
    labels: bool = False,
) -> _Problem:
    if isinstance(weights, np.ndarray) or not isinstance(weights, Sequence):
        raise TypeError("weights must be a list of arrays of shape (batch, d_{j+1}, d_j)")
    if len(weights) == 0:
        raise ValueError("weights must contain at least one layer, got an empty list")
    ws = [_check_array(w, f"weights[{j}]") for j, w in enumerate(weights)]
    dtype = ws[0].dtype
    for j, w in enumerate(ws):
        if w.dtype != dtype:
            raise TypeError(f"weights[{j}] has dtype {w.dtype} but weights[0] has dtype {dtype}")
        if w.ndim != 3:
            raise ValueError(f"weights[{j}] must be 3-D (batch, d_out, d_in), got shape {w.shape}")
        if w.size == 0:
            raise ValueError(f"weights[{j}] must have no zero-size axis, got shape {w.shape}")
    batch = ws[0].shape[0]
    for j, w in enumerate(ws):
        if w.shape[0] != batch:
            raise ValueError(f"weights[{j}] has batch size {w.shape[0]} but weights[0] has {batch}")
        if j > 0 and w.shape[2] != ws[j - 1].shape[1]:
            raise ValueError(
                f"weights do not chain: weights[{j}] has shape {w.shape} (d_in={w.shape[2]}) "
                f"but weights[{j - 1}] has d_out={ws[j - 1].shape[1]}"
            )
    d_in, d_out = ws[0].shape[2], ws[-1].shape[1]
    xa = np.eye(d_in, dtype=dtype) if X is None else _check_array(X, "X")
    if xa.dtype != dtype:
        raise TypeError(f"X has dtype {xa.dtype} but weights have dtype {dtype}")
    ya: NDArray[Any]
    if labels:
        if d_out < 2:
            raise ValueError(f"loss: 'cross_entropy' needs d_L >= 2 outputs, got {d_out}")
        ya = _check_labels(Y, "Y", batch, xa.shape[-1], d_out)
        checked: tuple[tuple[str, NDArray[Any], int], ...] = (("X", xa, d_in),)
    else:
        ya = _check_array(Y, "Y")
        if ya.dtype != dtype:
            raise TypeError(f"Y has dtype {ya.dtype} but weights have dtype {dtype}")
        checked = (("X", xa, d_in), ("Y", ya, d_out))
    for name, arr, rows in checked:
        if arr.ndim not in (2, 3):
            raise ValueError(f"{name} must be 2-D or 3-D, got shape {arr.shape}")
        if arr.ndim == 3 and arr.shape[0] != batch:
            raise ValueError(
                f"{name} has batch size {arr.shape[0]} but weights have batch size {batch}"
            )
        if arr.shape[-2] != rows:
            raise ValueError(f"{name} must have {rows} rows, got shape {arr.shape}")
        if arr.shape[-1] == 0:
            raise ValueError(f"{name} must have at least one column, got shape {arr.shape}")
    if not labels and xa.shape[-1] != ya.shape[-1]:
        raise ValueError(
            f"X and Y must have the same number of columns, got {xa.shape} and {ya.shape}"
        )
    bs: list[NDArray[np.floating] | None] | None = None
    if biases is not None:
        if isinstance(biases, np.ndarray) or not isinstance(biases, Sequence):
            raise TypeError("biases must be None or a list of arrays (batch, d_out) or None")
        if len(biases) != len(ws):
            raise ValueError(f"biases must have one entry per layer ({len(ws)}), got {len(biases)}")
        bs = []
        for j, b in enumerate(biases):
            if b is None:
                bs.append(None)
                continue
            ba = _check_array(b, f"biases[{j}]")
            if ba.dtype != dtype:
                raise TypeError(f"biases[{j}] has dtype {ba.dtype} but weights have dtype {dtype}")
            if ba.shape != (batch, ws[j].shape[1]):
                raise ValueError(
                    f"biases[{j}] must have shape {(batch, ws[j].shape[1])}, got {ba.shape}"
                )
            bs.append(np.array(ba, order="C", copy=True))
    return _Problem(
        weights=[np.array(w, dtype=dtype, order="C", copy=True) for w in ws],
        X=np.array(xa, order="C", copy=True),
        Y=np.array(ya, order="C", copy=True),
        batch=batch,
        dtype=dtype,
        biases=bs,
    )


_erf = np.frompyfunc(math.erf, 1, 1)


@dataclass(frozen=True)
class _Form:
    """Activation and per-layer scales ``s_j`` of a network."""

    activation: str
    scales: list[float]


def _check_form(
    activation: str, parameterization: str, sigma_w: float, dims_in: Sequence[int]
) -> _Form:
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    if not isinstance(parameterization, str) or parameterization not in PARAMETERIZATIONS:
        raise ValueError(f"parameterization must be 'standard' or 'ntk', got {parameterization!r}")
    sw = _check_scalar(sigma_w, "sigma_w")
    if parameterization == "standard":
        return _Form(activation, [1.0] * len(dims_in))
    return _Form(activation, [sw / math.sqrt(d) for d in dims_in])


def _phi(z: NDArray[np.floating], activation: str) -> NDArray[np.floating]:
    out: NDArray[np.floating]
    if activation == "linear":
        out = z
    elif activation == "tanh":
        out = np.tanh(z)
    elif activation == "relu":
        out = np.maximum(z, 0)
    else:  # erf of each entry, in float64 (math.erf), rounded to the dtype
        out = np.asarray(_erf(z.astype(np.float64)), dtype=np.float64).astype(z.dtype)
    return out


def _phi_prime(z: NDArray[np.floating], activation: str) -> NDArray[np.floating]:
    if activation == "linear":
        return np.ones_like(z)
    if activation == "tanh":
        t = np.tanh(z)
        out: NDArray[np.floating] = 1 - t * t
        return out
    if activation == "relu":
        return (z > 0).astype(z.dtype)
    return (2 / math.sqrt(math.pi) * np.exp(-(z * z))).astype(z.dtype)


def _check_scalar(value: float, name: str, *, nonnegative: bool = False) -> float:
    fvalue = float(value)
    if not math.isfinite(fvalue) or (nonnegative and fvalue < 0):
        cond = "finite and >= 0" if nonnegative else "finite"
        raise ValueError(f"{name} must be {cond}, got {value!r}")
    return fvalue


def _check_int(value: int, name: str, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    ivalue = operator.index(value)
    if ivalue < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {ivalue}")
    return ivalue


def _check_manifolds(manifold: str | Sequence[str], depth: int) -> list[str]:
    manifolds = [manifold] if isinstance(manifold, str) else list(manifold)
    manifolds = manifolds * depth if len(manifolds) == 1 else manifolds
    if len(manifolds) != depth or any(m not in MANIFOLDS for m in manifolds):
        raise InvalidValueError(f"manifold: expected one of {MANIFOLDS} or one per layer ({depth})")
    return manifolds


def _check_schedule(lr_schedule: Any) -> optim.LrSchedule | None:
    if lr_schedule is not None and not isinstance(lr_schedule, optim.LrSchedule):
        raise ArgumentTypeError(
            f"lr_schedule: expected None or a schedule of deeplinear.optim, got {lr_schedule!r}"
        )
    return lr_schedule


# --------------------------------------------------------------------------------------------
# single-network kernels (2-D arrays)


def _forward(
    ws: Sequence[NDArray[np.floating]],
    x: NDArray[np.floating],
    bs: Sequence[NDArray[np.floating] | None] | None = None,
    form: _Form | None = None,
) -> tuple[list[NDArray[np.floating]], list[NDArray[np.floating]]]:
    """Return ``([h_0, ..., h_L], [z_1, ..., z_L])``: ``h_0 = x``,
    ``z_j = s_j W_j h_{j-1} + b_j``, ``h_j = phi(z_j)`` for ``j < L`` and ``h_L = z_L``."""
    depth = len(ws)
    activation = "linear" if form is None else form.activation
    hs = [x]
    zs = []
    for j, w in enumerate(ws):
        z = w @ hs[-1]
        if form is not None and form.scales[j] != 1.0:
            z = w.dtype.type(form.scales[j]) * z
        if bs is not None and bs[j] is not None:
            z = z + bs[j][:, np.newaxis]  # type: ignore[index]
        zs.append(z)
        hs.append(_phi(z, activation) if j < depth - 1 else z)
    return hs, zs


def _backward(
    ws: Sequence[NDArray[np.floating]],
    hs: Sequence[NDArray[np.floating]],
    zs: Sequence[NDArray[np.floating]],
    delta: NDArray[np.floating],
    form: _Form | None = None,
) -> tuple[list[NDArray[np.floating]], list[NDArray[np.floating]]]:
    """Gradients ``(dl/dW_j, dl/db_j)`` by backprop from ``delta = dl/dz_L``.

    For ``j = L..1``: ``grad W_j = s_j delta h_{j-1}^T``, ``grad b_j = delta 1``, then
    ``delta <- phi'(z_{j-1}) * (s_j W_j^T delta)`` (old ``W_j``).
    """
    grads: list[NDArray[np.floating]] = [np.empty(0)] * len(ws)
    bgrads: list[NDArray[np.floating]] = [np.empty(0)] * len(ws)
    for j in range(len(ws) - 1, -1, -1):
        s = ws[j].dtype.type(1.0 if form is None else form.scales[j])
        grads[j] = s * (delta @ hs[j].T)
        bgrads[j] = delta.sum(axis=1)
        if j > 0:
            delta = s * (ws[j].T @ delta)
            if form is not None and form.activation != "linear":
                delta = delta * _phi_prime(zs[j - 1], form.activation)
    return grads, bgrads


def _check_loss(loss: str, reduction: str | None) -> tuple[str, str]:
    if loss not in ("mse", "cross_entropy"):
        raise ValueError(f"loss must be 'mse' or 'cross_entropy', got {loss!r}")
    if reduction is None:
        reduction = "sum" if loss == "mse" else "mean"
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be None, 'sum' or 'mean', got {reduction!r}")
    return loss, reduction


def _scale(reduction: str, examples: int) -> float:
    return 1.0 if reduction == "sum" else 1.0 / examples


# --------------------------------------------------------------------------------------------
# public functions


def _network(
    p: _Problem, b: int
) -> tuple[
    list[NDArray[np.floating]],
    list[NDArray[np.floating] | None] | None,
    NDArray[np.floating],
    NDArray[Any],
]:
    """Views of network ``b``'s weights, biases, X and Y (or labels)."""
    ws = [w[b] for w in p.weights]
    bs = None if p.biases is None else [None if v is None else v[b] for v in p.biases]
    x = p.X if p.X.ndim == 2 else p.X[b]
    shared_y = p.Y.ndim == (1 if p.Y.dtype == np.int64 else 2)
    y = p.Y if shared_y else p.Y[b]
    return ws, bs, x, y


def _all_gradients(
    weights: Sequence[ArrayLike],
    X: ArrayLike | None,
    Y: ArrayLike,
    alpha: float,
    activation: str,
    biases: Sequence[ArrayLike | None] | None,
    parameterization: str,
    sigma_w: float,
    loss: str,
    reduction: str | None,
) -> tuple[list[NDArray[np.floating]], list[NDArray[np.floating]]]:
    kind, red = _check_loss(loss, reduction)
    p = _check_problem(weights, X, Y, biases, labels=kind == "cross_entropy")
    form = _check_form(activation, parameterization, sigma_w, [w.shape[2] for w in p.weights])
    a = _check_scalar(alpha, "alpha")
    out = [np.empty_like(w) for w in p.weights]
    bout = [np.empty((p.batch, w.shape[1]), dtype=p.dtype) for w in p.weights]
    with np.errstate(over="ignore", invalid="ignore"):
        for b in range(p.batch):
            ws, bs, x, y = _network(p, b)
            hs, zs = _forward(ws, x, bs, form)
            _, delta = loss_and_signal(kind, hs[-1], y, a, _scale(red, x.shape[1]))
            grads, bgrads = _backward(ws, hs, zs, delta, form)
            for j, (gj, bj) in enumerate(zip(grads, bgrads, strict=True)):
                out[j][b] = gj
                bout[j][b] = bj
    return out, bout


def loss(
    weights: Sequence[ArrayLike],
    X: ArrayLike | None,
    Y: ArrayLike,
    alpha: float = 1.0,
    *,
    activation: str = "linear",
    biases: Sequence[ArrayLike | None] | None = None,
    parameterization: str = "standard",
    sigma_w: float = 1.0,
    loss: str = "mse",
    reduction: str | None = None,
) -> NDArray[np.float64]:
    """The loss of every network on all its examples (see :func:`train`); (batch,)."""
    kind, red = _check_loss(loss, reduction)
    p = _check_problem(weights, X, Y, biases, labels=kind == "cross_entropy")
    form = _check_form(activation, parameterization, sigma_w, [w.shape[2] for w in p.weights])
    a = _check_scalar(alpha, "alpha")
    out = np.empty(p.batch, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        for b in range(p.batch):
            ws, bs, x, y = _network(p, b)
            raw, _ = loss_and_signal(kind, _forward(ws, x, bs, form)[0][-1], y, a, 1.0)
            out[b] = _scale(red, x.shape[1]) * raw
    return out


def gradients(
    weights: Sequence[ArrayLike],
    X: ArrayLike | None,
    Y: ArrayLike,
    alpha: float = 1.0,
    *,
    activation: str = "linear",
    biases: Sequence[ArrayLike | None] | None = None,
    parameterization: str = "standard",
    sigma_w: float = 1.0,
    loss: str = "mse",
    reduction: str | None = None,
) -> list[NDArray[np.floating]]:
    """Gradients ``dl/dW_j`` of every network; same shapes and dtype as ``weights``."""
    return _all_gradients(
        weights, X, Y, alpha, activation, biases, parameterization, sigma_w, loss, reduction
    )[0]


def bias_gradients(
    weights: Sequence[ArrayLike],
    X: ArrayLike | None,
    Y: ArrayLike,
    alpha: float = 1.0,
    *,
    activation: str = "linear",
    biases: Sequence[ArrayLike | None] | None = None,
    parameterization: str = "standard",
    sigma_w: float = 1.0,
    loss: str = "mse",
    reduction: str | None = None,
) -> list[NDArray[np.floating]]:
    """Gradients ``dl/db_j`` of every network, (batch, d_{j+1}) per layer (zero biases if None).

    The gradient does not depend on whether a layer has a bias; an absent bias counts as 0.
    """
    return _all_gradients(
        weights, X, Y, alpha, activation, biases, parameterization, sigma_w, loss, reduction
    )[1]


@dataclass(frozen=True)
class TrainState:
    """Where :func:`train` left its networks (the same fields as ``deeplinear.TrainState``,
    which it accepts too): step counts, data streams, Stiefel scales, optimiser buffers."""

    optimizer: str
    step: NDArray[np.int64]
    data_seed: NDArray[np.uint64]
    batch_size: int | None
    n: int
    scales: NDArray[np.floating] | None
    slots: tuple[NDArray[np.floating], ...]
    slot_names: tuple[str, ...]


Floats = NDArray[np.floating]


def _record_specs(record: object, every: int) -> dict[str, int]:
    """Each recorded quantity with its interval; the loss is always recorded, first."""
    if isinstance(record, Mapping):
        items = list(record.items())
    elif isinstance(record, str) or not isinstance(record, Sequence):
        raise TypeError(
            f"record must be a list of names or a mapping name -> every, got {record!r}"
        )
    else:
        items = [(name, None) for name in record]
    specs: dict[str, int] = {"loss": every}
    for name, k in items:
        if name not in RECORDABLE:
            raise ValueError(
                f"record: unknown quantity {name!r}; expected some of {tuple(RECORDABLE)}"
            )
        interval = every if k is None else _check_int(k, f"record[{name!r}]", 1)
        if name == "loss" and interval != every:
            raise ValueError("record: 'loss' is recorded every record_every steps")
        specs.setdefault(name, interval)
    return specs


def _widths(name: str, dims: Sequence[int]) -> tuple[int, ...]:
    depth = len(dims) - 1
    return {
        "grad_norms": (depth,),
        "weight_change": (depth,),
        "balancedness_per_layer": (depth - 1,),
        "singular_values": (min(dims[0], dims[-1]),),
    }.get(name, ())


def _data_streams(data_seed: object, batch: int) -> list[tuple[int, int]]:
    """(seed, stream) of each network: an int seeds streams 0..batch-1, a list one per net."""
    if isinstance(data_seed, (int, np.integer)) and not isinstance(data_seed, bool):
        return [(int(data_seed), b) for b in range(batch)]
    seeds = [int(s) for s in np.asarray(data_seed).ravel()]
    if len(seeds) != batch:
        raise ValueError(f"data_seed: expected one seed per network ({batch}), got {len(seeds)}")
    return [(s, 0) for s in seeds]


@dataclass
class _Call:
    """A validated call: the problem and every option, resolved."""

    p: _Problem
    test: _Problem | None
    form: _Form
    kind: str
    reduction: str
    alpha: float
    lrs: dict[str, NDArray[np.float64]]  # group -> (batch,) rates
    decays: dict[str, NDArray[np.float64]]  # group -> (batch,) weight decays
    schedule: optim.LrSchedule | None
    penalty: float  # the Oblique non-orthogonality penalty ω
    steps: int
    every: int
    tol: float | None
    target: float | None
    rule: Rule
    specs: dict[str, int]
    manifolds: list[str]
    learn_scale: bool
    batch_size: int | None
    streams: list[tuple[int, int]]
    tensors: list[str]  # state order: weights[j], biases[j] present, scales
    bias_layers: list[int]
    state: Any
    # The form as the metrics take it, and the probe set (X_probe, Y_probe or None).
    form_args: dict[str, Any] = field(default_factory=dict)
    probe: tuple[Floats, NDArray[Any] | None] | None = None

    @property
    def slot_names(self) -> tuple[str, ...]:
        return tuple(f"{slot}:{t}" for slot in self.rule.slot_names for t in self.tensors)

    def measure(
        self, ws: list[Floats], bs: list[Floats | None] | None, x: Floats, y: NDArray[Any]
    ) -> tuple[float, float]:
        """Loss (as reduced) and accuracy of one network on all columns of (x, y)."""
        z = _forward(ws, x, bs, self.form)[0][-1]
        raw, _ = loss_and_signal(self.kind, z, y, self.alpha, 1.0)
        m = x.shape[1]
        return _scale(self.reduction, m) * raw, accuracy_count(self.kind, z, y, self.alpha) / m


def _check_call(
    weights: Sequence[ArrayLike],
    X: ArrayLike | None,
    Y: ArrayLike,
    biases: Sequence[ArrayLike | None] | None,
    options: dict[str, Any],
) -> _Call:
    o = options
    kind, red = _check_loss(o["loss"], o["reduction"])
    labels = kind == "cross_entropy"
    p = _check_problem(weights, X, Y, biases, labels=labels)
    dims = [p.weights[0].shape[2]] + [w.shape[1] for w in p.weights]
    depth, n = len(p.weights), p.X.shape[-1]
    form = _check_form(o["activation"], o["parameterization"], o["sigma_w"], dims[:-1])
    if o["threads"] is not None:
        _check_int(o["threads"], "threads", 1)  # validated like the engine, otherwise ignored
    every = _check_int(o["record_every"], "record_every", 1)
    specs = _record_specs(o["record"], every)
    has_bias = p.biases is not None and any(v is not None for v in p.biases)
    linear_chain = o["activation"] == "linear" and o["parameterization"] == "standard"
    for name in specs:
        if name in LINEAR_ONLY_RECORDABLE and not (linear_chain and not has_bias):
            raise ValueError(f"record: {name!r} is a diagnostic of linear chains")
        if name.startswith("test_") and o["eval_data"] is None:
            raise ValueError(f"record: {name!r} needs eval_data")
        if "accuracy" in name and not labels and dims[-1] < 2:
            raise ValueError(f"record: {name!r} needs d_L >= 2 with loss='mse'")
    probe = None
    if o["record_data"] is not None:
        rd = o["record_data"]
        x_probe, y_probe = (rd, None) if isinstance(rd, np.ndarray) else rd
        x_probe = _check_array(x_probe, "record_data[0] (X_probe)")
        if x_probe.ndim not in (2, 3) or x_probe.shape[-2] != dims[0]:
            raise ValueError(
                f"record_data[0] (X_probe): expected ({dims[0]}, m), got {x_probe.shape}"
            )
        if y_probe is not None:
            m = x_probe.shape[-1]
            if labels:
                y_probe = _check_labels(y_probe, "record_data[1] (Y_probe)", p.batch, m, dims[-1])
            elif np.shape(y_probe)[-2:] != (dims[-1], m):
                raise ValueError(f"record_data[1] (Y_probe): expected ({dims[-1]}, {m})")
        probe = (x_probe, None if y_probe is None else np.asarray(y_probe))
        if not any(name in PROBE_RECORDABLE for name in specs):
            raise ValueError("record_data: is given but no recorded quantity uses it")
    for name in specs:
        if name in PROBE_RECORDABLE and probe is None:
            raise ValueError(f"record: {name!r} needs record_data")
        if name == "empirical_fisher_max_eigenvalue" and probe is not None and probe[1] is None:
            raise ValueError("record_data: 'empirical_fisher_max_eigenvalue' needs Y_probe")
    target = o["target_accuracy"]
    if target is not None:
        target = _check_scalar(target, "target_accuracy")
        if not 0 < target <= 1:
            raise ValueError(f"target_accuracy must be in (0, 1], got {target}")
        if not labels and dims[-1] < 2:
            raise ValueError("target_accuracy needs d_L >= 2 with loss='mse'")
    manifolds = _check_manifolds(o["manifold"], depth)
    curved = any(m != "euclidean" for m in manifolds)
    if o["learn_scale"] and not curved:
        raise InvalidValueError("learn_scale: needs a layer with manifold='stiefel' or 'oblique'")
    penalty = _check_scalar(o["oblique_penalty"], "oblique_penalty", nonnegative=True)
    if penalty > 0 and "oblique" not in manifolds:
        raise InvalidValueError("oblique_penalty: needs a layer with manifold='oblique'")
    lrs = optim.lr_groups(o["lr"], p.batch)
    decays = optim.weight_decay_groups(o["weight_decay"], p.batch)
    present = optim.network_groups(manifolds, has_bias, bool(o["learn_scale"]))
    optim.check_groups("lr", optim.given_groups(o["lr"]), present)
    optim.check_groups("weight_decay", optim.given_groups(o["weight_decay"]), present)
    batch_size = o["batch_size"]
    if batch_size is not None:
        batch_size = _check_int(batch_size, "batch_size", 1)
        if batch_size > n:
            raise ValueError(f"batch_size must be in [1, {n}], got {batch_size}")
    state = o["state"]
    if o["data_seed"] is not None:
        streams = _data_streams(o["data_seed"], p.batch)
    elif state is not None:
        streams = [(int(s), int(t)) for s, t in np.asarray(state.data_seed)]
    elif batch_size is not None:
        streams = _data_streams(secrets.randbits(64), p.batch)
    else:
        streams = [(0, 0)] * p.batch
    test = None
    if o["eval_data"] is not None:
        x_test, y_test = o["eval_data"]
        try:
            test = _check_problem(p.weights, x_test, y_test, None, labels=labels)
        except (TypeError, ValueError) as err:
            raise type(err)(f"eval_data: (X_test, Y_test): {err}") from err
    bias_layers = [j for j in range(depth) if p.biases is not None and p.biases[j] is not None]
    tensors = [f"weights[{j}]" for j in range(depth)] + [f"biases[{j}]" for j in bias_layers]
    if o["learn_scale"]:
        tensors.append("scales")
    call = _Call(
        p=p,
        test=test,
        form=form,
        kind=kind,
        reduction=red,
        alpha=_check_scalar(o["alpha"], "alpha"),
        lrs=lrs,
        decays=decays,
        schedule=_check_schedule(o["lr_schedule"]),
        penalty=penalty,
        steps=_check_int(o["steps"], "steps", 0),
        every=every,
        tol=None if o["tol"] is None else _check_scalar(o["tol"], "tol", nonnegative=True),
        target=target,
        rule=make_rule(
            o["optimizer"],
            o["momentum"],
            o["nesterov"],
            o["betas"],
            o["eps"],
            o["decay"],
            o["centered"],
        ),
        specs=specs,
        manifolds=manifolds,
        learn_scale=bool(o["learn_scale"]),
        batch_size=batch_size,
        streams=streams,
        tensors=tensors,
        bias_layers=bias_layers,
        state=state,
        form_args={
            "activation": o["activation"],
            "parameterization": o["parameterization"],
            "sigma_w": o["sigma_w"],
        },
        probe=probe,
    )
    if state is not None and (
        state.optimizer != o["optimizer"] or tuple(state.slot_names) != call.slot_names
    ):
        raise ValueError("state: does not fit this call")
    return call


@dataclass
class _Iterate:
    """What the recorder reads at an iterate."""

    whole: tuple[float, float] | None  # loss and accuracy on the whole training set
    tested: tuple[float, float] | None  # and on eval_data
    step_loss: float
    step_acc: float
    grads: list[Floats]
    ws: list[Floats]
    w0: list[Floats]
    alpha: float
    # For the probe diagnostics: the call, the network, its biases now and at the start.
    call: _Call | None = None
    b: int = 0
    bs: list[Floats | None] | None = None
    b0: list[Floats | None] | None = None

    def probe_value(self, name: str) -> float:
        """A probe diagnostic: the metric function at this iterate's parameters."""
        c = self.call
        assert c is not None and c.probe is not None
        x, y = c.probe
        x = x if x.ndim == 2 else x[self.b]
        if y is not None and y.ndim == (2 if c.kind == "cross_entropy" else 3):
            y = y[self.b]

        def one(layers: Sequence[Floats | None] | None) -> Any:
            return None if layers is None else [None if v is None else v[None] for v in layers]

        kw: dict[str, Any] = {"alpha": self.alpha, **c.form_args}
        ws, bs = one(self.ws), one(self.bs)
        if name == "ntk_relative_change":
            got = metrics.ntk_relative_change(
                one(self.w0), ws, x, biases0=one(self.b0), biases1=bs, **kw
            )
            return float(got[0])
        if name == "jacobian_max_singular_value":
            return float(metrics.jacobian_max_singular_value(ws, x, biases=bs, **kw).max())
        empirical = name == "empirical_fisher_max_eigenvalue"
        return float(
            metrics.fisher_max_eigenvalue(
                ws,
                x,
                biases=bs,
                loss=c.kind,
                fisher="empirical" if empirical else "true",
                labels=y if empirical else None,
                params="weights" if name == "fisher_max_eigenvalue_weights" else "all",
                **kw,
            )[0]
        )

    def value(self, name: str) -> Any:
        """Quantity ``name`` at this iterate."""
        if name in PROBE_RECORDABLE:
            return self.probe_value(name)
        one = [w[None] for w in self.ws]
        if name in ("loss", "accuracy"):
            assert self.whole is not None
            return self.whole[name == "accuracy"]
        if name in ("test_loss", "test_accuracy"):
            assert self.tested is not None
            return self.tested[name == "test_accuracy"]
        if name == "batch_loss":
            return self.step_loss
        if name == "batch_accuracy":
            return self.step_acc
        if name == "grad_norms":
            return [np.linalg.norm(g.astype(np.float64)) for g in self.grads]
        if name == "weight_change":
            return [
                np.linalg.norm((w - v).astype(np.float64)) / np.linalg.norm(v.astype(np.float64))
                for w, v in zip(self.ws, self.w0, strict=True)
            ]
        if name == "balancedness":
            return metrics.balancedness(one)[0]
        if name == "balancedness_per_layer":
            return metrics.balancedness(one, True)[0]
        return metrics.singular_values(one, self.alpha)[0]


@dataclass
class _Outcome:
    final_loss: float
    steps_to_tol: int
    steps_to_accuracy: int
    diverged: bool
    step: int  # updates done in total
    scales: list[float]
    slots: list[list[Floats]]  # per tensor, the rule's buffers


def _train_network(c: _Call, b: int, records: dict[str, NDArray[np.float64]]) -> _Outcome:
    """Train network b of the call in place (its views of the private copies); write its rows
    of ``records``."""
    p, depth = c.p, len(c.p.weights)
    ws, bs, x, y = _network(p, b)
    labels = c.kind == "cross_entropy"
    n = x.shape[1]
    w0 = [w.copy() for w in ws]
    b0 = None if bs is None else [None if v is None else v.copy() for v in bs]
    rates = {group: float(r[b]) for group, r in c.lrs.items()}
    decays = {group: float(r[b]) for group, r in c.decays.items()}
    weight_groups = [
        "manifold" if m != "euclidean" else "output" if j == depth - 1 else "base"
        for j, m in enumerate(c.manifolds)
    ]
    seed, stream = c.streams[b]
    start = 0 if c.state is None else int(c.state.step[b])
    dtype = p.dtype.type
    # The rule's state per tensor (weights, biases present, learned scales) and the scales.
    scale_param = np.zeros(depth, dtype=p.dtype)
    params: list[Floats] = list(ws) + [bs[j] for j in c.bias_layers]  # type: ignore[index,misc]
    if c.learn_scale:
        params.append(scale_param)
    slots = [c.rule.new_slots(q) for q in params]
    if c.state is not None:
        given = dict(zip(c.state.slot_names, c.state.slots, strict=True))
        for k, slot in enumerate(c.rule.slot_names):
            for i, name in enumerate(c.tensors):
                slots[i][k][...] = given[f"{slot}:{name}"][b]
    scales = [math.nan] * depth
    for j in range(depth):
        if c.manifolds[j] != "euclidean":  # checks the layer is on its manifold
            scale_of = (
                stiefel.orthogonal_scale if c.manifolds[j] == "stiefel" else oblique.row_scale
            )
            s = scale_of(ws[j], f"weights[{j}]")
            scales[j] = float(dtype(s if c.state is None else c.state.scales[b, j]))
    test = None if c.test is None else _network(c.test, b)[2:]

    for t in range(c.steps + 1):
        global_step = start + t
        due = {name for name, k in c.specs.items() if t % k == 0}
        whole = None
        if c.batch_size is not None and due & {"loss", "accuracy"}:
            whole = c.measure(ws, bs, x, y)
        tested = None
        if test is not None and due & {"test_loss", "test_accuracy"}:
            tested = c.measure(ws, bs, *test)
        if c.batch_size is None:
            idx = list(range(n))
        else:
            idx = batch_of_step(global_step, n, c.batch_size, seed, stream)
        xb, yb = x[:, idx], (y[idx] if labels else y[:, idx])
        hs, zs = _forward(ws, xb, bs, c.form)
        scale = _scale(c.reduction, len(idx))
        raw, delta = loss_and_signal(c.kind, hs[-1], yb, c.alpha, scale)
        step_loss = scale * raw
        step_acc = accuracy_count(c.kind, hs[-1], yb, c.alpha) / len(idx)
        if c.batch_size is None:
            whole = (step_loss, step_acc)
        grads, bgrads = _backward(ws, hs, zs, delta, c.form)

        it = _Iterate(
            whole, tested, step_loss, step_acc, grads, ws, w0, c.alpha, call=c, b=b, bs=bs, b0=b0
        )
        for name in due:
            records[name][b, t // c.specs[name]] = it.value(name)
        diverged = not math.isfinite(step_loss)
        reached_tol = not diverged and c.tol is not None and step_loss <= c.tol
        reached_acc = not diverged and c.target is not None and step_acc >= c.target
        if diverged or reached_tol or reached_acc or t == c.steps:
            # The stopping state fills its column (unless recorded at t) and every later one.
            if it.whole is None:
                it.whole = c.measure(ws, bs, x, y)
            if it.tested is None and test is not None:
                it.tested = c.measure(ws, bs, *test)
            for name, k in c.specs.items():
                col, row = -(-t // k), records[name][b]
                if col < row.shape[0]:
                    if t % k != 0:
                        row[col] = it.value(name)
                    row[col + 1 :] = row[col]
            return _Outcome(
                final_loss=it.whole[0],
                steps_to_tol=t if reached_tol else -1,
                steps_to_accuracy=t if reached_acc else -1,
                diverged=diverged,
                step=global_step,
                scales=scales,
                slots=slots,
            )
        # One update of every parameter from this iterate (the rule's count is 1-based), each
        # at its group's rate times the schedule's factor at the network's update count.
        update = global_step + 1
        factor = lr_factor(c.schedule, global_step)
        eta = {group: rate * factor for group, rate in rates.items()}
        for j in range(depth):
            group = weight_groups[j]
            if c.manifolds[j] == "euclidean":
                c.rule.apply(ws[j], grads[j], slots[j], eta[group], update, decays[group])
                continue
            s = new_s = scales[j]
            if c.learn_scale:
                # W = s·Q: dl/ds = <G, Q> = <G, W>/s (the data loss only: the penalty depends
                # on Q alone), a Euclidean step of the rule at the scales' rate and decay.
                ds = float(np.sum(grads[j].astype(np.float64) * ws[j].astype(np.float64))) / s
                scale_param[j] = s
                scale_slots = [v[j : j + 1] for v in slots[-1]]
                c.rule.apply(
                    scale_param[j : j + 1],
                    np.array([ds], p.dtype),
                    scale_slots,
                    eta["scales"],
                    update,
                    decays["scales"],
                )
                new_s = float(scale_param[j])
            moments = slots[j]

            def direction(xi: Floats, moments: list[Floats] = moments, t: int = update) -> Floats:
                return c.rule.direction(xi, moments, t)

            first = None if c.rule.first_moment is None else moments[c.rule.first_moment]
            g = grads[j]
            if c.manifolds[j] == "stiefel":
                step = stiefel.riemannian_step
            else:
                step = oblique.riemannian_step
                if c.penalty > 0:
                    g = g + dtype(c.penalty) * oblique.penalty_gradient(ws[j], s)
            ws[j][...] = step(ws[j], g, eta[group], s, new_s, direction, first)
            scales[j] = new_s
        for i, j in enumerate(c.bias_layers):
            bias: Floats = bs[j]  # type: ignore[index,assignment]
            c.rule.apply(bias, bgrads[j], slots[depth + i], eta["biases"], update, decays["biases"])
    raise AssertionError("the loop returns at t == steps")


def train(
    weights: Sequence[ArrayLike],
    X: ArrayLike | None,
    Y: ArrayLike,
    *,
    lr: float | ArrayLike | optim.Rates,
    steps: int,
    alpha: float = 1.0,
    tol: float | None = None,
    record_every: int = 1,
    threads: int | None = None,
    activation: str = "linear",
    biases: Sequence[ArrayLike | None] | None = None,
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
    eval_data: tuple[ArrayLike, ArrayLike] | None = None,
    target_accuracy: float | None = None,
    state: Any = None,
    record_data: Any = None,
    lr_schedule: optim.LrSchedule | None = None,
    weight_decay: float | ArrayLike | optim.Rates = 0.0,
    decay: float | None = None,
    centered: bool = False,
    oblique_penalty: float = 0.0,
) -> TrainResult:
    """Train every network of the batch, independently, with the same rules as
    ``deeplinear.train`` (see there for every argument).

    For each network and ``t = 0, 1, ..., steps``: take the step's examples (all of them, or
    the slice of the epoch's permutation that the network's global step count points to), run
    the forward pass and compute the loss, its output signal and the batch accuracy; record what
    is due at ``t`` (whole-set loss and accuracy by an extra pass when the step used a
    mini-batch; the test set by a pass over ``eval_data``); stop if the step loss is not finite
    (diverged), ``<= tol``, the step accuracy is ``>= target_accuracy``, or ``t == steps``;
    otherwise backprop and update every parameter from this iterate, each at its group's rate
    (``lr``, :mod:`deeplinear.optim`) times the schedule's factor f(global step): Euclidean
    layers and biases by the optimiser's rule (with its weight decay), Stiefel layers by
    :func:`stiefel.riemannian_step` and Oblique layers by :func:`oblique.riemannian_step` (the
    penalty's gradient added), each after the scale's own Euclidean step when
    ``learn_scale``. On a stop, each recorded
    quantity's column holding the stopping step, and every later one, get the stopping state.
    ``threads`` is validated and ignored.
    """
    options = dict(locals())
    c = _check_call(weights, X, Y, biases, options)
    p = c.p
    dims = [p.weights[0].shape[2]] + [w.shape[1] for w in p.weights]
    records = {
        name: np.full((p.batch, c.steps // k + 1, *_widths(name, dims)), np.nan)
        for name, k in c.specs.items()
    }
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        outcomes = [_train_network(c, b, records) for b in range(p.batch)]
    depth = len(p.weights)
    slot_names = c.slot_names
    stacked = [
        np.stack([o.slots[i][k] for o in outcomes])
        for k in range(len(c.rule.slot_names))
        for i in range(len(c.tensors))
    ]
    curved = any(m != "euclidean" for m in c.manifolds)
    return TrainResult(
        weights=p.weights,
        loss=records["loss"],
        final_loss=np.array([o.final_loss for o in outcomes], dtype=np.float64),
        steps_to_tol=np.array([o.steps_to_tol for o in outcomes], dtype=np.int64),
        diverged=np.array([o.diverged for o in outcomes], dtype=np.bool_),
        record_every=c.every,
        biases=p.biases,
        records={name: records[name] for name in dict.fromkeys(record)},
        steps_to_accuracy=np.array([o.steps_to_accuracy for o in outcomes], dtype=np.int64),
        state=TrainState(
            optimizer=optimizer,
            step=np.array([o.step for o in outcomes], dtype=np.int64),
            data_seed=np.array(c.streams, dtype=np.uint64).reshape(p.batch, 2),
            batch_size=c.batch_size,
            n=p.X.shape[-1],
            scales=np.array([o.scales for o in outcomes], dtype=p.dtype).reshape(p.batch, depth)
            if curved
            else None,
            slots=tuple(stacked),
            slot_names=slot_names,
        ),
    )
