"""Full-batch gradient descent on batches of deep networks, in plain NumPy (SPEC §1).

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._hooks import Hooks

__all__ = ["TrainResult", "bias_gradients", "fanout_alpha", "gradients", "loss", "train"]

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
    Y: NDArray[np.floating]  # (d_L, n) or (B, d_L, n)
    batch: int
    dtype: np.dtype[np.floating]
    biases: list[NDArray[np.floating] | None] | None = None  # each (B, d_{j+1}), private copies


def _check_array(a: ArrayLike, name: str) -> NDArray[np.floating]:
    arr = np.asarray(a)
    if arr.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {arr.dtype}")
    return arr


def _check_problem(
    weights: Sequence[ArrayLike],
    X: ArrayLike | None,
    Y: ArrayLike,
    biases: Sequence[ArrayLike | None] | None = None,
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
    ya = _check_array(Y, "Y")
    if xa.dtype != dtype:
        raise TypeError(f"X has dtype {xa.dtype} but weights have dtype {dtype}")
    if ya.dtype != dtype:
        raise TypeError(f"Y has dtype {ya.dtype} but weights have dtype {dtype}")
    for name, arr, rows in (("X", xa, d_in), ("Y", ya, d_out)):
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
    if xa.shape[-1] != ya.shape[-1]:
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


_ACTIVATIONS = ("linear", "tanh", "relu", "erf")
_erf = np.frompyfunc(math.erf, 1, 1)


@dataclass(frozen=True)
class _Form:
    """Activation and per-layer scales ``s_j`` of a network."""

    activation: str
    scales: list[float]


def _check_form(
    activation: str, parameterization: str, sigma_w: float, dims_in: Sequence[int]
) -> _Form:
    if not isinstance(activation, str) or activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {activation!r}")
    if not isinstance(parameterization, str) or parameterization not in ("standard", "ntk"):
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


def _check_lr(lr: float | ArrayLike, batch: int) -> NDArray[np.float64]:
    arr = np.asarray(lr, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(batch, float(arr))
    elif arr.shape != (batch,):
        raise ValueError(f"lr must be a scalar or have shape ({batch},), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"lr must be finite and >= 0, got {lr!r}")
    return arr


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


def _residual(
    hs: Sequence[NDArray[np.floating]], y: NDArray[np.floating], alpha: np.floating
) -> NDArray[np.floating]:
    """``E = alpha * h_L - Y`` in the weights' dtype."""
    e: NDArray[np.floating] = alpha * hs[-1] - y
    return e


def _loss_of(e: NDArray[np.floating]) -> float:
    """``0.5 * ||E||_F**2``, accumulated in float64."""
    return float(0.5 * np.sum(e.astype(np.float64) ** 2))


def _weight_gradients(
    ws: Sequence[NDArray[np.floating]],
    hs: Sequence[NDArray[np.floating]],
    zs: Sequence[NDArray[np.floating]],
    e: NDArray[np.floating],
    alpha: np.floating,
    form: _Form | None = None,
) -> list[NDArray[np.floating]]:
    """Only the weight gradients of :func:`_backward` (what the diagnostics hooks need)."""
    return _backward(ws, hs, zs, e, alpha, form)[0]


def _backward(
    ws: Sequence[NDArray[np.floating]],
    hs: Sequence[NDArray[np.floating]],
    zs: Sequence[NDArray[np.floating]],
    e: NDArray[np.floating],
    alpha: np.floating,
    form: _Form | None = None,
) -> tuple[list[NDArray[np.floating]], list[NDArray[np.floating]]]:
    """Gradients ``(dl/dW_j, dl/db_j)`` by backprop.

    ``delta = alpha E``; for ``j = L..1``: ``grad W_j = s_j delta h_{j-1}^T``,
    ``grad b_j = delta 1``, then ``delta <- phi'(z_{j-1}) * (s_j W_j^T delta)`` (old ``W_j``).
    """
    grads: list[NDArray[np.floating]] = [np.empty(0)] * len(ws)
    bgrads: list[NDArray[np.floating]] = [np.empty(0)] * len(ws)
    delta = alpha * e
    for j in range(len(ws) - 1, -1, -1):
        s = ws[j].dtype.type(1.0 if form is None else form.scales[j])
        grads[j] = s * (delta @ hs[j].T)
        bgrads[j] = delta.sum(axis=1)
        if j > 0:
            delta = s * (ws[j].T @ delta)
            if form is not None and form.activation != "linear":
                delta = delta * _phi_prime(zs[j - 1], form.activation)
    return grads, bgrads


# --------------------------------------------------------------------------------------------
# public functions


def _network(
    p: _Problem, b: int
) -> tuple[
    list[NDArray[np.floating]],
    list[NDArray[np.floating] | None] | None,
    NDArray[np.floating],
    NDArray[np.floating],
]:
    """Views of network ``b``'s weights, biases, X and Y."""
    ws = [w[b] for w in p.weights]
    bs = None if p.biases is None else [None if v is None else v[b] for v in p.biases]
    x = p.X if p.X.ndim == 2 else p.X[b]
    y = p.Y if p.Y.ndim == 2 else p.Y[b]
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
) -> tuple[list[NDArray[np.floating]], list[NDArray[np.floating]]]:
    p = _check_problem(weights, X, Y, biases)
    form = _check_form(activation, parameterization, sigma_w, [w.shape[2] for w in p.weights])
    a = p.dtype.type(_check_scalar(alpha, "alpha"))
    out = [np.empty_like(w) for w in p.weights]
    bout = [np.empty((p.batch, w.shape[1]), dtype=p.dtype) for w in p.weights]
    with np.errstate(over="ignore", invalid="ignore"):
        for b in range(p.batch):
            ws, bs, x, y = _network(p, b)
            hs, zs = _forward(ws, x, bs, form)
            grads, bgrads = _backward(ws, hs, zs, _residual(hs, y, a), a, form)
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
) -> NDArray[np.float64]:
    """Loss ``0.5 * ||f - Y||_F**2`` of every network (see :func:`train` for ``f``); (batch,)."""
    p = _check_problem(weights, X, Y, biases)
    form = _check_form(activation, parameterization, sigma_w, [w.shape[2] for w in p.weights])
    a = p.dtype.type(_check_scalar(alpha, "alpha"))
    out = np.empty(p.batch, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        for b in range(p.batch):
            ws, bs, x, y = _network(p, b)
            out[b] = _loss_of(_residual(_forward(ws, x, bs, form)[0], y, a))
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
) -> list[NDArray[np.floating]]:
    """Gradients ``dl/dW_j`` of every network; same shapes and dtype as ``weights``."""
    return _all_gradients(weights, X, Y, alpha, activation, biases, parameterization, sigma_w)[0]


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
) -> list[NDArray[np.floating]]:
    """Gradients ``dl/db_j`` of every network, (batch, d_{j+1}) per layer (zero biases if None).

    The gradient does not depend on whether a layer has a bias; an absent bias counts as 0.
    """
    return _all_gradients(weights, X, Y, alpha, activation, biases, parameterization, sigma_w)[1]


def train(
    weights: Sequence[ArrayLike],
    X: ArrayLike,
    Y: ArrayLike,
    *,
    lr: float | ArrayLike,
    steps: int,
    alpha: float = 1.0,
    tol: float | None = None,
    record_every: int = 1,
    threads: int | None = None,
    activation: str = "linear",
    biases: Sequence[ArrayLike | None] | None = None,
    parameterization: str = "standard",
    sigma_w: float = 1.0,
    record: Sequence[str] = (),
    manifold: str = "euclidean",
) -> TrainResult:
    """Full-batch gradient descent on every network of the batch, independently.

    Parameters
    ----------
    weights:
        List of L arrays, layer j of shape (B, d_{j+1}, d_j), all float32 or all float64.
        Not modified.
    X, Y:
        Inputs (d_0, n) and targets (d_L, n) shared by all networks, or per network
        (B, d_0, n) / (B, d_L, n); same dtype as the weights.  Not modified.  ``X=None`` is
        the identity of size d_0 (multiplied explicitly here).
    lr:
        Step size, a scalar or one per network (B,); finite and >= 0.
    steps:
        Maximum number of GD steps (>= 0).
    alpha:
        Output scale of ``f = alpha W_L ... W_1 X``.
    tol:
        Stop a network once its loss is ``<= tol`` (``None``: never).
    record_every:
        Record the loss every this many steps (>= 1).
    threads:
        Accepted for signature compatibility with ``deeplinear.train`` (None or >= 1); ignored.
    activation:
        Hidden-layer nonlinearity: "linear", "tanh", "relu" or "erf".
    biases:
        None, or one entry per layer: (B, d_{j+1}) trained biases, or None for no bias.
    parameterization, sigma_w:
        "standard" (``s_j = 1``) or "ntk" (``s_j = sigma_w / sqrt(d_{j-1})``).
    record:
        Diagnostics recorded at the same iterates as the loss (see ``deeplinear.train``),
        computed with :mod:`deeplinear.reference.metrics`.
    manifold:
        ``"euclidean"`` or ``"stiefel"`` (:mod:`deeplinear.reference.stiefel`).

    Notes
    -----
    For each network and ``t = 0, 1, ..., steps``: compute the loss at the current weights and
    record it if ``t % record_every == 0``.  If it is not finite the network is marked diverged
    and stops; else if ``tol`` is set and ``loss <= tol`` it stops with ``steps_to_tol = t``;
    else if ``t == steps`` it stops; else one GD step updates all layers from the same iterate.
    On an early stop the remaining loss columns are filled with the stopping loss.
    """
    p = _check_problem(weights, X, Y, biases)
    form = _check_form(activation, parameterization, sigma_w, [w.shape[2] for w in p.weights])
    lrs = _check_lr(lr, p.batch)
    nsteps = _check_int(steps, "steps", 0)
    every = _check_int(record_every, "record_every", 1)
    a = p.dtype.type(_check_scalar(alpha, "alpha"))
    tol_f = None if tol is None else _check_scalar(tol, "tol", nonnegative=True)
    if threads is not None:
        _check_int(threads, "threads", 1)  # validated like the engine, otherwise ignored
    hooks = Hooks(record, manifold, p.weights, float(a), nsteps // every + 1, every)

    ncols = nsteps // every + 1
    loss_rec = np.full((p.batch, ncols), np.nan, dtype=np.float64)
    final_loss = np.full(p.batch, np.nan, dtype=np.float64)
    steps_to_tol = np.full(p.batch, -1, dtype=np.int64)
    diverged = np.zeros(p.batch, dtype=np.bool_)

    with np.errstate(over="ignore", invalid="ignore"):
        for b in range(p.batch):
            # Views into the private copies, updated in place.
            ws, bs, x, y = _network(p, b)
            eta = p.dtype.type(lrs[b])
            for t in range(nsteps + 1):
                hs, zs = _forward(ws, x, bs, form)
                e = _residual(hs, y, a)
                loss_t = _loss_of(e)
                weight_grads = partial(_weight_gradients, ws, hs, zs, e, a, form)
                if t % every == 0:
                    loss_rec[b, t // every] = loss_t
                    hooks.record(b, t // every, ws, weight_grads)
                if not math.isfinite(loss_t):
                    diverged[b] = True
                    hooks.finish(b, t, ws, weight_grads)
                    loss_rec[b, t // every + 1 :] = loss_t
                    final_loss[b] = loss_t
                    break
                if tol_f is not None and loss_t <= tol_f:
                    hooks.finish(b, t, ws, weight_grads)
                    steps_to_tol[b] = t
                    loss_rec[b, t // every + 1 :] = loss_t
                    final_loss[b] = loss_t
                    break
                if t == nsteps:
                    hooks.finish(b, t, ws, weight_grads)
                    final_loss[b] = loss_t
                    break
                grads, bgrads = _backward(ws, hs, zs, e, a, form)
                hooks.update(b, ws, grads, eta)
                if bs is not None:
                    for bias, g in zip(bs, bgrads, strict=True):
                        if bias is not None:
                            bias -= eta * g

    return TrainResult(
        weights=p.weights,
        loss=loss_rec,
        final_loss=final_loss,
        steps_to_tol=steps_to_tol,
        diverged=diverged,
        record_every=every,
        biases=p.biases,
        records=hooks.results(loss_rec),
    )
