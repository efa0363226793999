"""Plain-NumPy twins of :mod:`deeplinear.metrics`: same names, arguments and results.

Written to be obviously correct, network by network. The network functions build the
parameter Jacobian J_θ explicitly by backprop, one (example, output) pair at a time, and take
Θ = J_θJ_θᵀ and the Fisher's λ_max = σ_max(J_θ)²/n from it — a different route from the Rust
core's closed forms, which is what makes them a useful oracle.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from ..vocabulary import ACTIVATIONS, PARAMETERIZATIONS
from . import kernels

__all__ = [
    "balancedness",
    "deficiency_margin",
    "fisher_max_eigenvalue",
    "jacobian_max_singular_value",
    "jacobian_singular_values",
    "ntk",
    "ntk_distance",
    "ntk_relative_change",
    "partial_product_singular_values",
    "relative_weight_change",
    "singular_values",
]

F64 = NDArray[np.float64]


def _layers(name: str, weights: Sequence[np.ndarray]) -> list[F64]:
    if isinstance(weights, np.ndarray) or not isinstance(weights, Sequence):
        raise TypeError(f"{name} must be a list of arrays of shape (batch, d_out, d_in)")
    if len(weights) == 0:
        raise ValueError(f"{name} must contain at least one layer")
    ws = [np.asarray(w) for w in weights]
    for j, w in enumerate(ws):
        if w.dtype not in (np.float32, np.float64):
            raise TypeError(f"{name}[{j}] must be float32 or float64, got {w.dtype}")
        if w.ndim != 3 or w.size == 0:
            raise ValueError(f"{name}[{j}] must be a non-empty (batch, d_out, d_in) array")
        if j and (w.shape[0] != ws[0].shape[0] or w.shape[2] != ws[j - 1].shape[1]):
            raise ValueError(f"{name}[{j}] of shape {w.shape} does not chain with {name}[{j - 1}]")
    return [w.astype(np.float64) for w in ws]


def _product(ws: Sequence[F64]) -> F64:
    p = ws[0]
    for w in ws[1:]:
        p = w @ p
    return p


def _svdvals(a: F64) -> F64:
    if not np.all(np.isfinite(a)):
        return np.full(min(a.shape), np.nan)
    out: F64 = np.linalg.svd(a, compute_uv=False).astype(np.float64)
    return out


def singular_values(
    weights: Sequence[np.ndarray], alpha: float = 1.0, *, threads: int | None = None
) -> F64:
    """Singular values of α·W_L⋯W_1, (batch, min(d_0, d_L))."""
    ws = _layers("weights", weights)
    return np.stack(
        [abs(alpha) * _svdvals(_product([w[b] for w in ws])) for b in range(ws[0].shape[0])]
    )


def partial_product_singular_values(
    weights: Sequence[np.ndarray], i: int, j: int, *, threads: int | None = None
) -> F64:
    """Singular values of weights[j] @ … @ weights[i] (0-based, inclusive, negatives allowed)."""
    ws = _layers("weights", weights)
    depth = len(ws)
    if not (-depth <= i < depth and -depth <= j < depth):
        raise ValueError(f"i and j must be layer indices in [-{depth}, {depth}), got {i}, {j}")
    i, j = i % depth, j % depth
    if i > j:
        raise ValueError(f"i must not come after j, got {i} > {j}")
    return np.stack(
        [_svdvals(_product([w[b] for w in ws[i : j + 1]])) for b in range(ws[0].shape[0])]
    )


def balancedness(
    weights: Sequence[np.ndarray], per_layer: bool = False, *, threads: int | None = None
) -> F64:
    """max_j ‖W_{j+1}ᵀW_{j+1} − W_jW_jᵀ‖_F, (batch,), or the (batch, L−1) gaps."""
    ws = _layers("weights", weights)
    batch = ws[0].shape[0]
    gaps = np.zeros((batch, len(ws) - 1))
    for b in range(batch):
        for j in range(len(ws) - 1):
            w, nxt = ws[j][b], ws[j + 1][b]
            gaps[b, j] = np.linalg.norm(nxt.T @ nxt - w @ w.T)
    if per_layer:
        return gaps
    out: F64 = gaps.max(axis=1) if gaps.shape[1] else np.zeros(batch)
    return out


def deficiency_margin(
    weights: Sequence[np.ndarray],
    Phi: np.ndarray,
    *,
    alpha: float = 1.0,
    threads: int | None = None,
) -> F64:
    """σ_min(Φ) − ‖α·W_{L:1} − Φ‖_F, (batch,)."""
    ws = _layers("weights", weights)
    phi = np.asarray(Phi, dtype=np.float64)
    out = np.empty(ws[0].shape[0])
    for b in range(out.size):
        target = phi if phi.ndim == 2 else phi[b]
        end = alpha * _product([w[b] for w in ws])
        out[b] = np.linalg.svd(target, compute_uv=False)[-1] - np.linalg.norm(end - target)
    return out


def relative_weight_change(
    w0: Sequence[np.ndarray], w1: Sequence[np.ndarray], *, threads: int | None = None
) -> F64:
    """‖W_j(1) − W_j(0)‖_F / ‖W_j(0)‖_F, (batch, L)."""
    a, c = _layers("w0", w0), _layers("w1", w1)
    if [x.shape for x in a] != [x.shape for x in c]:
        raise ValueError("w1 must have the layer shapes of w0")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.stack(
            [
                np.linalg.norm(y - x, axis=(1, 2)) / np.linalg.norm(x, axis=(1, 2))
                for x, y in zip(a, c, strict=True)
            ],
            axis=1,
        )


# ---------------------------------------------------------------------------------------------
# network functions: per-example forward/backward, explicit parameter Jacobian

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _phi(activation: str, z: F64) -> F64:
    if activation == "linear":
        return z
    if activation == "tanh":
        return np.tanh(z)
    if activation == "relu":
        return np.maximum(z, 0.0)
    out: F64 = _erf(z)
    return out


def _dphi(activation: str, z: F64) -> F64:
    if activation == "linear":
        return np.ones_like(z)
    if activation == "tanh":
        return 1.0 - np.tanh(z) ** 2
    if activation == "relu":
        return (z > 0).astype(np.float64)
    return 2.0 / math.sqrt(math.pi) * np.exp(-(z**2))


class _Net:
    """One network of the batch: f(x) = α z_L, z_j = s_j W_j h_{j−1} + b_j, h_j = φ(z_j)."""

    def __init__(
        self,
        ws: list[F64],
        bs: list[F64 | None] | None,
        alpha: float,
        activation: str,
        parameterization: str,
        sigma_w: float,
    ) -> None:
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        if parameterization not in PARAMETERIZATIONS:
            raise ValueError(
                f"parameterization must be 'standard' or 'ntk', got {parameterization!r}"
            )
        self.ws, self.bs, self.alpha, self.act = ws, bs, alpha, activation
        self.scales = [
            1.0 if parameterization == "standard" else sigma_w / math.sqrt(w.shape[1]) for w in ws
        ]

    def has_bias(self, j: int) -> bool:
        return self.bs is not None and self.bs[j] is not None

    def bias(self, j: int) -> F64 | float:
        b = None if self.bs is None else self.bs[j]
        return 0.0 if b is None else b

    def forward(self, x: F64) -> tuple[list[F64], list[F64]]:
        """Inputs h_0…h_{L−1} of each layer and pre-activations z_1…z_L for one input."""
        hs, zs = [x], []
        for j, (w, s) in enumerate(zip(self.ws, self.scales, strict=True)):
            z = s * (w @ hs[-1]) + self.bias(j)
            zs.append(z)
            if j < len(self.ws) - 1:
                hs.append(_phi(self.act, z))
        return hs, zs

    def input_jacobian(self, x: F64) -> F64:
        """α·D_L s_L W_L ⋯ D_1 s_1 W_1 as an explicit product (D_L = I)."""
        _, zs = self.forward(x)
        jac = np.eye(x.size)
        for j, (w, s) in enumerate(zip(self.ws, self.scales, strict=True)):
            jac = s * (w @ jac)
            if j < len(self.ws) - 1:
                jac = _dphi(self.act, zs[j])[:, None] * jac
        return self.alpha * jac

    def param_jacobian(self, x: F64) -> F64:
        """Rows a: the gradient of f_a(x) with respect to all parameters, flattened (W_1, [b_1],
        W_2, …), by ordinary backprop."""
        hs, zs = self.forward(x)
        rows = []
        d_l = self.ws[-1].shape[0]
        for a in range(d_l):
            g = np.zeros(d_l)
            g[a] = self.alpha  # ∂f_a/∂z_L
            parts: list[F64] = []
            for j in range(len(self.ws) - 1, -1, -1):
                layer = [np.ravel(self.scales[j] * np.outer(g, hs[j]))]
                if self.has_bias(j):
                    layer.append(g.copy())
                parts = layer + parts
                if j > 0:
                    g = self.scales[j] * (self.ws[j].T @ g) * _dphi(self.act, zs[j - 1])
            rows.append(np.concatenate(parts))
        return np.stack(rows)


def _nets(
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray] | None,
    alpha: float,
    activation: str,
    parameterization: str,
    sigma_w: float,
    name: str = "weights",
) -> list[_Net]:
    ws = _layers(name, weights)
    bs = (
        None
        if biases is None
        else [None if v is None else np.asarray(v, np.float64) for v in biases]
    )
    return [
        _Net(
            [w[b] for w in ws],
            None if bs is None else [None if x is None else x[b] for x in bs],
            alpha,
            activation,
            parameterization,
            sigma_w,
        )
        for b in range(ws[0].shape[0])
    ]


def _columns(X: np.ndarray, b: int) -> F64:
    x = np.asarray(X, dtype=np.float64)
    return x if x.ndim == 2 else x[b]


def _full_jacobian(net: _Net, x: F64) -> F64:
    """J_θ over all columns of x: (n·d_L, #params), rows example-major."""
    return np.concatenate([net.param_jacobian(x[:, s]) for s in range(x.shape[1])])


def jacobian_singular_values(
    weights: Sequence[np.ndarray],
    X: np.ndarray,
    *,
    alpha: float = 1.0,
    activation: str = "linear",
    biases: Sequence[np.ndarray] | None = None,
    parameterization: str = "standard",
    sigma_w: float = 1.0,
    threads: int | None = None,
) -> F64:
    """Singular values of ∂f(x)/∂x at every column of X, (batch, n, min(d_0, d_L))."""
    nets = _nets(weights, biases, alpha, activation, parameterization, sigma_w)
    return np.stack(
        [
            np.stack(
                [
                    _svdvals(net.input_jacobian(_columns(X, b)[:, s]))
                    for s in range(_columns(X, b).shape[1])
                ]
            )
            for b, net in enumerate(nets)
        ]
    )


def ntk(
    weights: Sequence[np.ndarray],
    X: np.ndarray,
    *,
    alpha: float = 1.0,
    activation: str = "linear",
    biases: Sequence[np.ndarray] | None = None,
    parameterization: str = "standard",
    sigma_w: float = 1.0,
    threads: int | None = None,
) -> F64:
    """Θ = J_θJ_θᵀ, (batch, n·d_L, n·d_L), example-major."""
    nets = _nets(weights, biases, alpha, activation, parameterization, sigma_w)
    out = []
    for b, net in enumerate(nets):
        jac = _full_jacobian(net, _columns(X, b))
        out.append(jac @ jac.T)
    return np.stack(out)


def ntk_relative_change(
    w0: Sequence[np.ndarray],
    w1: Sequence[np.ndarray],
    X: np.ndarray,
    *,
    alpha: float = 1.0,
    activation: str = "linear",
    biases0: Sequence[np.ndarray] | None = None,
    biases1: Sequence[np.ndarray] | None = None,
    parameterization: str = "standard",
    sigma_w: float = 1.0,
    threads: int | None = None,
) -> F64:
    """‖Θ(w1) − Θ(w0)‖_F / ‖Θ(w0)‖_F, (batch,)."""
    kw = {
        "alpha": alpha,
        "activation": activation,
        "parameterization": parameterization,
        "sigma_w": sigma_w,
    }
    t0 = ntk(w0, X, biases=biases0, **kw)  # type: ignore[arg-type]
    t1 = ntk(w1, X, biases=biases1, **kw)  # type: ignore[arg-type]
    with np.errstate(divide="ignore", invalid="ignore"):  # Θ0 = 0 (e.g. dead ReLUs): inf/NaN
        out: F64 = np.linalg.norm(t1 - t0, axis=(1, 2)) / np.linalg.norm(t0, axis=(1, 2))
    return out


def ntk_distance(
    weights: Sequence[np.ndarray],
    X: np.ndarray,
    *,
    sigma_w: float,
    sigma_b: float = 0.0,
    activation: str = "linear",
    biases: Sequence[np.ndarray] | None = None,
    parameterization: str = "ntk",
    alpha: float = 1.0,
    threads: int | None = None,
) -> F64:
    """‖Θ − Θ_∞ ⊗ I‖_F / ‖Θ_∞ ⊗ I‖_F per network, (batch,)."""
    ws = _layers("weights", weights)
    if biases is None and sigma_b != 0.0:
        raise ValueError("sigma_b must be 0 for networks without biases")
    dims = [ws[0].shape[2]] + [w.shape[1] for w in ws]
    theta = ntk(
        weights,
        X,
        alpha=alpha,
        activation=activation,
        biases=biases,
        parameterization=parameterization,
        sigma_w=sigma_w,
    )
    out = np.empty(ws[0].shape[0])
    for b in range(out.size):
        limit = np.kron(
            kernels.ntk(
                dims,
                _columns(X, b),
                activation=activation,
                sigma_w=sigma_w,
                sigma_b=None if biases is None else sigma_b,
                parameterization=parameterization,
                alpha=alpha,
            ),
            np.eye(dims[-1]),
        )
        out[b] = np.linalg.norm(theta[b] - limit) / np.linalg.norm(limit)
    return out


def _bias_columns(net: _Net) -> NDArray[np.bool_]:
    """Which columns of :meth:`_Net.param_jacobian` belong to biases."""
    parts = []
    for j, w in enumerate(net.ws):
        parts.append(np.zeros(w.size, dtype=bool))
        if net.has_bias(j):
            parts.append(np.ones(w.shape[0], dtype=bool))
    return np.concatenate(parts)


def _softmax(f: F64) -> F64:
    e = np.exp(f - f.max())
    out: F64 = e / e.sum()
    return out


def _output_curvature(net: _Net, x: F64, loss: str, fisher: str, y: np.ndarray | None) -> F64:
    """H_x of one input: I (MSE), diag(p) − ppᵀ (cross-entropy), or g gᵀ with g = ∂ℓ/∂f
    (empirical)."""
    f = net.alpha * net.forward(x)[1][-1]
    if fisher == "true":
        if loss == "mse":
            return np.eye(f.size)
        p = _softmax(f)
        out: F64 = np.diag(p) - np.outer(p, p)
        return out
    if loss == "mse":
        g = f - np.asarray(y, dtype=np.float64)
    else:
        g = _softmax(f)
        g[int(np.asarray(y))] -= 1.0
    return np.outer(g, g)


def fisher_max_eigenvalue(
    weights: Sequence[np.ndarray],
    X: np.ndarray,
    *,
    alpha: float = 1.0,
    activation: str = "linear",
    biases: Sequence[np.ndarray] | None = None,
    parameterization: str = "standard",
    sigma_w: float = 1.0,
    loss: str = "mse",
    labels: np.ndarray | None = None,
    k: int = 1,
    params: str = "all",
    method: str = "auto",
    fisher: str = "true",
    threads: int | None = None,
) -> F64:
    """Top k eigenvalues of F = (1/n) Σ_x J_xᵀ H_x J_x from the explicit parameter Jacobians
    and output curvatures, (batch,) for k = 1 else (batch, k). ``method`` is accepted and
    ignored."""
    if method not in ("auto", "dense", "lanczos", "matrix_free"):
        raise ValueError(
            f"method must be 'auto', 'dense', 'lanczos' or 'matrix_free', got {method!r}"
        )
    if loss not in ("mse", "cross_entropy") or fisher not in ("true", "empirical"):
        raise ValueError(f"unknown loss {loss!r} or fisher {fisher!r}")
    if params not in ("all", "weights"):
        raise ValueError(f"params must be 'all' or 'weights', got {params!r}")
    if (labels is None) != (fisher == "true"):
        raise ValueError("labels are needed by fisher='empirical' and only by it")
    nets = _nets(weights, biases, alpha, activation, parameterization, sigma_w)
    out = np.empty((len(nets), k))
    for b, net in enumerate(nets):
        x = _columns(X, b)
        n = x.shape[1]
        y = None if labels is None else np.asarray(labels)
        if y is not None and y.ndim == (3 if loss == "mse" else 2):
            y = y[b]
        jac = _full_jacobian(net, x)
        if params == "weights":
            jac = jac[:, ~_bias_columns(net)]
        if not np.all(np.isfinite(jac)):
            out[b] = np.nan
            continue
        d_l = net.ws[-1].shape[0]
        fim = np.zeros((jac.shape[1], jac.shape[1]))
        for s in range(n):
            target = None if y is None else (y[:, s] if loss == "mse" else y[s])
            h = _output_curvature(net, x[:, s], loss, fisher, target)
            rows = jac[s * d_l : (s + 1) * d_l]
            fim += rows.T @ h @ rows
        if k > fim.shape[0]:
            raise ValueError(f"k must be at most the number of parameters {fim.shape[0]}, got {k}")
        out[b] = np.sort(np.linalg.eigvalsh(fim / n))[::-1][:k]
    return out[:, 0] if k == 1 else out


def jacobian_max_singular_value(
    weights: Sequence[np.ndarray],
    X: np.ndarray,
    *,
    alpha: float = 1.0,
    activation: str = "linear",
    biases: Sequence[np.ndarray] | None = None,
    parameterization: str = "standard",
    sigma_w: float = 1.0,
    iterations: int | None = None,
    tol: float = 1e-10,
    threads: int | None = None,
) -> F64:
    """σ_max of ∂f(x)/∂x at every column of X by a dense SVD, (batch, n). ``iterations`` and
    ``tol`` are accepted and ignored."""
    out: F64 = jacobian_singular_values(
        weights,
        X,
        alpha=alpha,
        activation=activation,
        biases=biases,
        parameterization=parameterization,
        sigma_w=sigma_w,
    )[..., 0]
    return out


def finite_difference_jacobian(
    f: Callable[[list[F64]], F64], params: list[F64], eps: float = 1e-6
) -> F64:
    """Central-difference Jacobian of the flattened output of ``f`` with respect to the
    flattened ``params`` (a list of arrays, perturbed in order): (#outputs, #params)."""
    cols = []
    for k, p in enumerate(params):
        for idx in np.ndindex(p.shape):
            up = [q.copy() for q in params]
            down = [q.copy() for q in params]
            up[k][idx] += eps
            down[k][idx] -= eps
            cols.append((np.ravel(f(up)) - np.ravel(f(down))) / (2 * eps))
    return np.stack(cols, axis=1)
