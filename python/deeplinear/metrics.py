"""Diagnostics of batches of networks (docs/science.md, Diagnostics), computed in the Rust core.

Every function takes ``weights`` laid out as for :func:`deeplinear.train` (a list of L arrays,
layer j of shape (batch, d_{j+1}, d_j), all float32 or all float64) and returns float64 arrays
with the network axis first. Networks are spread over ``threads`` (default: all cores); the GIL
is released and Ctrl-C stops a long call. A network with non-finite weights (e.g. a diverged
one) gives NaN where a decomposition is needed, without affecting the others.

The network functions (:func:`jacobian_singular_values`, :func:`jacobian_max_singular_value`,
:func:`ntk`, :func:`ntk_relative_change`, :func:`fisher_max_eigenvalue`) cover the linear chain
f(x) = α·W_L⋯W_1·x and the MLP of docs/science.md (Networks):
z_j = s_j W_j h_{j−1} + b_j, h_j = φ(z_j) for hidden layers, f(x) = α·z_L, with φ one of
``activation`` = "linear", "tanh", "relu", "erf"; s_j = 1 (``parameterization="standard"``) or
σ_w/√d_{j−1} (``"ntk"``); optional ``biases``, a list of L arrays of shape (batch, d_{j+1}).

:mod:`deeplinear.reference.metrics` has the same functions in plain NumPy.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _core, _progress
from . import kernels as _kernels
from ._validation import (
    choice,
    float_array,
    integer,
    layer_list,
    optional_integer,
    real,
    string,
    targets_array,
    threads_argument,
)
from .errors import ArgumentTypeError, InvalidValueError

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


def _biases(
    name: str, biases: Sequence[np.ndarray] | None, dtype: np.dtype
) -> list[np.ndarray] | None:
    return None if biases is None else layer_list(name, biases, dtype)


def singular_values(
    weights: Sequence[np.ndarray], alpha: float = 1.0, *, threads: int | None = None
) -> np.ndarray:
    """Singular values of the end-to-end matrix α·W_L⋯W_1 of every network.

    Returns:
        (batch, min(d_0, d_L)) float64, non-increasing along the last axis.

    Example:
        >>> import deeplinear as dl
        >>> w = dl.init.orthogonal([4, 4, 4, 4], batch=2, seed=0)  # square layers
        >>> dl.metrics.singular_values(w, alpha=dl.fanout_alpha([4, 4, 4, 4])).round(6)
        array([[1., 1., 1., 1.],
               [1., 1., 1., 1.]])
    """
    layers = layer_list("weights", weights)
    return _core.metric_singular_values(
        layers,
        alpha=real("alpha", alpha),
        threads=threads_argument(threads),
    )


def partial_product_singular_values(
    weights: Sequence[np.ndarray], i: int, j: int, *, threads: int | None = None
) -> np.ndarray:
    """Singular values of the partial product ``weights[j] @ … @ weights[i]``.

    ``i`` and ``j`` are 0-based layer indices into ``weights``, inclusive, ``i ≤ j``; negative
    values count from the end as in Python. In docs/science.md's 1-based notation this is
    W_{j+1:i+1} (Hu et al. Lemma 4.2: for orthogonal init with hidden widths m ≥ d_0, d_L,
    every proper partial product has all singular values m^{(j−i+1)/2}).

    Returns:
        (batch, min(d_i, d_{j+1})) float64, non-increasing.
    """
    layers = layer_list("weights", weights)
    depth = len(layers)
    ij = []
    for name, v in (("i", i), ("j", j)):
        k = integer(name, v, minimum=-depth)
        if k >= depth:
            raise InvalidValueError(
                f"{name}: must be a layer index in [-{depth}, {depth}), got {k}"
            )
        ij.append(k % depth)
    if ij[0] > ij[1]:
        raise InvalidValueError(
            f"i: must not come after j (layers {ij[0]} > {ij[1]}), got i={i}, j={j}"
        )
    return _core.metric_partial_product_singular_values(
        layers,
        ij[0],
        ij[1],
        threads=threads_argument(threads),
    )


def balancedness(
    weights: Sequence[np.ndarray], per_layer: bool = False, *, threads: int | None = None
) -> np.ndarray:
    """Balancedness δ = max_j ‖W_{j+1}ᵀW_{j+1} − W_jW_jᵀ‖_F (Arora et al. 2019, Def. 1).

    Args:
        per_layer: return the L−1 gaps δ_j (j = 1…L−1) instead of their maximum.

    Returns:
        (batch,) float64 (0 for a single layer), or (batch, L−1) with ``per_layer=True``.
    """
    if not isinstance(per_layer, (bool, np.bool_)):
        raise ArgumentTypeError(f"per_layer: expected a bool, got {type(per_layer).__name__}")
    layers = layer_list("weights", weights)
    gaps = _core.metric_balancedness(layers, threads=threads_argument(threads))
    if per_layer:
        return gaps
    if gaps.shape[1] == 0:
        return np.zeros(gaps.shape[0])
    out: np.ndarray = gaps.max(axis=1)
    return out


def deficiency_margin(
    weights: Sequence[np.ndarray],
    Phi: np.ndarray,
    *,
    alpha: float = 1.0,
    threads: int | None = None,
) -> np.ndarray:
    """Deficiency margin c = σ_min(Φ) − ‖α·W_{L:1} − Φ‖_F (Arora et al. 2019, Def. 2).

    Positive where the end-to-end matrix is closer to Φ than Φ is to rank deficiency.

    Args:
        Phi: target (d_L, d_0) shared by the batch, or (batch, d_L, d_0); same dtype as weights.

    Returns:
        (batch,) float64.
    """
    layers = layer_list("weights", weights)
    return _core.metric_deficiency_margin(
        layers,
        float_array("Phi", Phi, layers[0].dtype),
        alpha=real("alpha", alpha),
        threads=threads_argument(threads),
    )


def relative_weight_change(
    w0: Sequence[np.ndarray], w1: Sequence[np.ndarray], *, threads: int | None = None
) -> np.ndarray:
    """Per-layer relative change ‖W_j(1) − W_j(0)‖_F / ‖W_j(0)‖_F between two weight lists.

    Returns:
        (batch, L) float64; a layer that starts at zero gives inf (NaN if it did not move).
    """
    a = layer_list("w0", w0)
    b = layer_list("w1", w1, a[0].dtype)
    return _core.metric_relative_weight_change(a, b, threads=threads_argument(threads))


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
) -> np.ndarray:
    """Singular values of the input–output Jacobian ∂f(x)/∂x at every column x of X.

    For an MLP, J(x) = α·D_L s_L W_L ⋯ D_1 s_1 W_1 with D_l = diag φ'(z_l(x)) (D_L = I); for a
    linear net it is α·∏s_j·W_{L:1} at every input, so it equals :func:`singular_values`.

    Args:
        X: inputs (d_0, n) shared by the batch or (batch, d_0, n).
        alpha, activation, biases, parameterization, sigma_w: the network form (module doc).

    Returns:
        (batch, n, min(d_0, d_L)) float64, non-increasing along the last axis.
    """
    return _net_metric(
        "jacobian_singular_values",
        weights,
        X,
        alpha,
        activation,
        biases,
        parameterization,
        sigma_w,
        threads,
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
) -> np.ndarray:
    """Empirical neural tangent kernel Θ = J_θJ_θᵀ over the columns of X.

    J_θ is the Jacobian of the n·d_L outputs with respect to all weights (and biases, when
    given). Linear nets use the closed form Θ[(x,a),(x',b)] = α²Σ_j (W_{j−1:1}x)ᵀ(W_{j−1:1}x')
    (W_{L:j+1}W_{L:j+1}ᵀ)_{ab}; MLPs use per-sample Jacobians with respect to the
    pre-activations, never forming J_θ.

    Returns:
        (batch, n·d_L, n·d_L) float64, rows and columns indexed x·d_L + a (example-major), so
        ``theta.reshape(batch, n, d_L, n, d_L)`` separates examples and outputs.
    """
    return _net_metric(
        "ntk", weights, X, alpha, activation, biases, parameterization, sigma_w, threads
    )


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
) -> np.ndarray:
    """Relative NTK change ‖Θ(w1) − Θ(w0)‖_F / ‖Θ(w0)‖_F (Huang et al. 2021, Fig. 2).

    Args:
        w0, w1: weights before and after training, same shapes and dtype.
        biases0, biases1: their biases (both or neither).

    Returns:
        (batch,) float64.
    """
    a = layer_list("w0", w0)
    b = layer_list("w1", w1, a[0].dtype)
    dtype = a[0].dtype
    return _core.metric_ntk_relative_change(
        a,
        b,
        float_array("X", X, dtype),
        alpha=real("alpha", alpha),
        activation=string("activation", activation),
        parameterization=string("parameterization", parameterization),
        sigma_w=real("sigma_w", sigma_w),
        biases0=_biases("biases0", biases0, dtype),
        biases1=_biases("biases1", biases1, dtype),
        threads=threads_argument(threads),
    )


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
    progress: bool = False,
) -> np.ndarray:
    """Largest eigenvalue(s) of the Fisher information F = (1/n)·Σ_x J_xᵀ H_x J_x over the n
    columns x of X, J_x = ∂f(x)/∂θ.

    - ``loss="mse"``: H_x = I, so F = J_θᵀJ_θ/n, the Gauss–Newton matrix (the Fisher of the
      unit-variance Gaussian model).
    - ``loss="cross_entropy"``: H_x = diag(p) − ppᵀ with p = softmax(f(x)): the generalised
      Gauss–Newton matrix, which is the *true* Fisher of the softmax model, the expectation
      over labels drawn from the model itself. This is what Sokol & Park's code computes
      (``SmoothnessFisher``), although their text calls it the empirical Fisher, which it is not.
    - ``fisher="empirical"``: the empirical Fisher (1/n)·Σ_x ∇_θℓ_x ∇_θℓ_xᵀ at the given
      ``labels`` (Kunstner et al. 2019): H_x = g_x g_xᵀ with g_x = p − e_y (cross-entropy) or
      f(x) − y (MSE).

    Args:
        X: inputs (d_0, n) shared by the batch or (batch, d_0, n).
        alpha, activation, biases, parameterization, sigma_w: the network form (module doc).
        loss: "mse" or "cross_entropy" (needs d_L ≥ 2).
        labels: only with ``fisher="empirical"``, where they are required: integer classes
            (n,) or (batch, n) for cross-entropy, float targets (d_L, n) or (batch, d_L, n)
            for MSE. The true Fisher uses no labels, so passing them with ``fisher="true"`` is
            an error rather than silently ignored.
        k: the number of top eigenvalues, 1 ≤ k ≤ the number of parameters counted. Those past
            the rank (n·d_L, or n for the empirical Fisher) are exactly 0.
        params: "all" (weights and, when given, biases: as Sokol & Park, every parameter) or
            "weights" (the biases shape the function but are held fixed).
        method: "matrix_free": block Lanczos on v ↦ Jᵀ(H(Jv))/n, with Jv from a forward-mode
            (tangent) pass and Jᵀu from a backward pass, never forming J or a Gram (run on the
            n·d_L-dimensional side A·Aᵀ, A = H^{1/2}J/√n, when that is smaller than the
            parameter count: the same nonzero spectrum with short Lanczos vectors). Memory: one
            forward pass and one parameter-sized vector per network. "dense": form the Gram
            H^{1/2}ΘH^{1/2}/n from the NTK Θ ((n·d_L)² memory) and solve it densely;
            "lanczos": the same Gram, block Lanczos. "auto": the matrix-free route when its
            predicted time (flop counts × measured rates, see benches/fisher_crossover.py) is
            below the dense Gram route's, or the Gram would not fit in memory.
        fisher: "true" (default) or "empirical".
        progress: show a tqdm bar over the networks (computed in chunks; same result).

    The Lanczos routes stop once every returned eigenvalue's Ritz residual is ≤ 1e-10·λ_max
    (1e-5 in float32), which bounds its error by the same; block size k, so eigenvalues of
    multiplicity up to k are all found.

    Returns:
        (batch,) float64 for k = 1, else (batch, k), non-increasing. NaN for a network whose
        outputs are not finite.

    Example:
        >>> import deeplinear as dl, numpy as np
        >>> dims = [8, 32, 32, 3]
        >>> w = dl.init.gaussian(dims, batch=2, seed=0)
        >>> X = np.random.default_rng(0).standard_normal((8, 20))
        >>> lam = dl.metrics.fisher_max_eigenvalue(w, X, activation="tanh", loss="cross_entropy")
        >>> lam.shape
        (2,)
    """
    layers = layer_list("weights", weights)
    dtype = layers[0].dtype
    loss = choice("loss", loss, ("mse", "cross_entropy"))
    k = integer("k", k, minimum=1)
    inputs = float_array("X", X, dtype)
    layer_biases = _biases("biases", biases, dtype)
    targets = None if labels is None else targets_array("labels", labels, loss, dtype)
    threads = threads_argument(threads)
    label_dims = 3 if loss == "mse" else 2  # the ndim of per-network labels
    form = _form(alpha, activation, parameterization, sigma_w)

    def compute(rows: slice) -> np.ndarray:
        out: np.ndarray = _core.metric_fisher(
            _rows(layers, rows),
            _rows_if(inputs, rows, 3),
            **form,
            biases=None if layer_biases is None else _rows(layer_biases, rows),
            loss=loss,
            fisher=string("fisher", fisher),
            labels=None if targets is None else _rows_if(targets, rows, label_dims),
            k=k,
            params=string("params", params),
            method=string("method", method),
            threads=threads,
        )
        return out

    values = _each_network(compute, layers, "fisher", progress, threads)
    return values[:, 0] if k == 1 else values


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
    progress: bool = False,
) -> np.ndarray:
    """σ_max of the input–output Jacobian ∂f(x)/∂x (to the logits f = α·z_L) at every column x
    of X, by power iteration on JᵀJ.

    Each step is one forward-mode (tangent) pass, J·V, and one backward pass, Jᵀ·(J·V), with
    all n inputs iterated at once as the columns of V, so no Jacobian is formed: for networks
    too large for :func:`jacobian_singular_values` (which forms every d_L × d_0 Jacobian).
    The estimate ‖Jv‖ (v a unit vector) never exceeds σ_max and grows monotonically towards it;
    the iteration stops once no input's estimate changes by more than ``tol`` relative in a
    step (the remaining error is then about tol/(1 − (σ_2/σ_1)²)).

    Args:
        alpha, activation, biases, parameterization, sigma_w: the network form (module doc).
        iterations: the most steps (≥ 1; default 1000).
        tol: the relative change that counts as converged (≥ 0; raised to 4 ulps of the
            weights' dtype, below which the estimate only jitters).
        progress: show a tqdm bar over the networks (computed in chunks; same result).

    Returns:
        (batch, n) float64. If some inputs have not converged within ``iterations``, their
        entries are the last estimates (lower bounds of σ_max) and a RuntimeWarning says how
        many. NaN for a network whose outputs are not finite.

    Example:
        >>> import deeplinear as dl, numpy as np
        >>> w = dl.init.orthogonal([6, 16, 16, 4], batch=1, seed=0)
        >>> X = np.random.default_rng(0).standard_normal((6, 3))
        >>> s = dl.metrics.jacobian_max_singular_value(w, X, activation="tanh")
        >>> dense = dl.metrics.jacobian_singular_values(w, X, activation="tanh")[..., 0]
        >>> bool(np.allclose(s, dense))
        True
    """
    layers = layer_list("weights", weights)
    dtype = layers[0].dtype
    cap = optional_integer("iterations", iterations, minimum=1)
    inputs = float_array("X", X, dtype)
    layer_biases = _biases("biases", biases, dtype)
    threads = threads_argument(threads)
    unconverged = 0
    form = _form(alpha, activation, parameterization, sigma_w)

    def compute(rows: slice) -> np.ndarray:
        nonlocal unconverged
        chunk, missed = _core.metric_jacobian_max_singular_value(
            _rows(layers, rows),
            _rows_if(inputs, rows, 3),
            **form,
            biases=None if layer_biases is None else _rows(layer_biases, rows),
            iterations=cap,
            tol=real("tol", tol),
            threads=threads,
        )
        unconverged += missed
        out: np.ndarray = chunk
        return out

    sigma = _each_network(compute, layers, "jacobian", progress, threads)
    if unconverged:
        warnings.warn(
            f"jacobian_max_singular_value: {unconverged} of {sigma.size} inputs did not converge "
            f"to tol={tol} within {cap or 1000} iterations; their entries are the last "
            f"estimates, lower bounds of sigma_max",
            RuntimeWarning,
            stacklevel=2,
        )
    out: np.ndarray = sigma
    return out


def _form(alpha: float, activation: str, parameterization: str, sigma_w: float) -> dict[str, Any]:
    """The checked network-form keywords of the engine's metric calls."""
    return {
        "alpha": real("alpha", alpha),
        "activation": string("activation", activation),
        "parameterization": string("parameterization", parameterization),
        "sigma_w": real("sigma_w", sigma_w),
    }


def _rows(layers: list[np.ndarray], rows: slice) -> list[np.ndarray]:
    """The networks ``rows`` of per-layer arrays (all of them for the full slice)."""
    return layers if rows == slice(None) else [np.ascontiguousarray(w[rows]) for w in layers]


def _rows_if(value: np.ndarray, rows: slice, ndim: int) -> np.ndarray:
    """``value`` at the networks ``rows`` if it holds one entry per network (``ndim`` dims),
    else ``value`` (shared by every network)."""
    if rows == slice(None) or value.ndim != ndim:
        return value
    return np.ascontiguousarray(value[rows])


def _each_network(
    compute: Callable[[slice], np.ndarray],
    layers: list[np.ndarray],
    description: str,
    progress: bool,
    threads: int | None,
) -> np.ndarray:
    """``compute`` over every network: one call, or (``progress``) chunks of networks under a
    progress bar, joined along the network axis. The networks are independent, so the result
    is the same."""
    if not progress:
        return compute(slice(None))
    batch = layers[0].shape[0] if layers[0].ndim == 3 else 0
    if batch == 0:
        return compute(slice(None))
    parts = _progress.over_networks(
        lambda rows: compute(slice(int(rows[0]), int(rows[-1]) + 1)), batch, description, threads
    )
    return np.concatenate(parts, axis=0)


def _net_metric(
    quantity: str,
    weights: Sequence[np.ndarray],
    X: np.ndarray,
    alpha: float,
    activation: str,
    biases: Sequence[np.ndarray] | None,
    parameterization: str,
    sigma_w: float,
    threads: int | None,
) -> np.ndarray:
    layers = layer_list("weights", weights)
    dtype = layers[0].dtype
    return _core.metric_network(
        layers,
        float_array("X", X, dtype),
        quantity=quantity,
        alpha=real("alpha", alpha),
        activation=string("activation", activation),
        parameterization=string("parameterization", parameterization),
        sigma_w=real("sigma_w", sigma_w),
        biases=_biases("biases", biases, dtype),
        threads=threads_argument(threads),
    )


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
) -> np.ndarray:
    """Distance of each network's empirical NTK from the infinite-width NTK (Huang et al. 2021,
    Fig. 1): ‖Θ − Θ_∞ ⊗ I_{d_L}‖_F / ‖Θ_∞ ⊗ I_{d_L}‖_F on the columns of X.

    Θ is :func:`ntk` of the network and Θ_∞ is :func:`deeplinear.kernels.ntk` of a network of
    the same widths, drawn as the weights were: unit-variance entries for
    ``parameterization="ntk"`` (the default here, unlike the other functions of this module:
    e.g. :func:`deeplinear.init.gaussian` or :func:`deeplinear.init.orthogonal` with unit
    scale), N(0, σ_w²/d_in) for "standard".

    Args:
        sigma_w: the weight scale σ_w of the parameterisation.
        sigma_b: the standard deviation the biases were drawn with (0 for biases that start
            at 0); only with ``biases``.
        activation, biases, parameterization, alpha: the network form (module doc).

    Returns:
        (batch,) float64; it falls like width^{−1/2} for Gaussian and orthogonal weights.

    Example:
        >>> import deeplinear as dl, numpy as np
        >>> X = np.random.default_rng(0).standard_normal((8, 5))
        >>> w = dl.init.gaussian([8, 512, 512, 1], batch=2, seed=0)
        >>> dl.metrics.ntk_distance(w, X, sigma_w=1.0, activation="erf").shape
        (2,)
    """
    layers = layer_list("weights", weights)
    if biases is None and real("sigma_b", sigma_b) != 0.0:
        raise InvalidValueError(
            f"sigma_b: the networks have no biases (biases=None), got {sigma_b}"
        )
    theta = ntk(
        layers,
        X,
        alpha=alpha,
        activation=activation,
        biases=biases,
        parameterization=parameterization,
        sigma_w=sigma_w,
        threads=threads,
    )
    dims = [layers[0].shape[2]] + [w.shape[1] for w in layers]
    inputs = np.asarray(X)
    per_network = [inputs] if inputs.ndim == 2 else list(inputs)
    limits = [
        np.kron(
            _kernels.ntk(
                dims,
                x,
                activation=activation,
                sigma_w=sigma_w,
                sigma_b=None if biases is None else sigma_b,
                parameterization=parameterization,
                alpha=alpha,
                threads=threads,
            ),
            np.eye(dims[-1]),
        )
        for x in per_network
    ]
    limit = np.stack(limits) if len(limits) > 1 else limits[0][None]
    out: np.ndarray = np.linalg.norm(theta - limit, axis=(1, 2)) / np.linalg.norm(
        limit, axis=(1, 2)
    )
    return out
