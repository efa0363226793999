"""Network forms (docs/science.md, Networks): activations, biases, NTK parameterisation,
X = identity, and exact data reduction. The reference's gradients are checked against finite
differences, the engine against the reference."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

import deeplinear as dl
from deeplinear import reference as ref
from helpers import (
    assert_losses_close,
    assert_results_identical,
    assert_weights_close,
    check_result_layout,
    raises_clean,
    random_weights,
    stable_lr,
)

ACTIVATIONS = ["linear", "tanh", "relu", "erf"]
PARAMETERIZATIONS = ["standard", "ntk"]
RTOL = {np.float64: 1e-10, np.float32: 1e-4}


@dataclass
class Net:
    """A drawn network and data: keyword arguments for ``train``/``loss``/``gradients``."""

    weights: list[NDArray]
    X: NDArray | None
    Y: NDArray
    form: dict[str, Any]  # activation, biases, parameterization, sigma_w

    @property
    def batch(self) -> int:
        return self.weights[0].shape[0]


@st.composite
def nets(draw: st.DrawFn, dtype: type = np.float64, max_width: int = 6) -> Net:
    """Depth 1..4, widths 1..max_width, batch 1..3, any activation/parameterisation, biases on
    a random subset of layers (or none), X shared / per network / None (identity)."""
    depth = draw(st.integers(1, 4))
    dims = draw(st.lists(st.integers(1, max_width), min_size=depth + 1, max_size=depth + 1))
    batch = draw(st.integers(1, 3))
    activation = draw(st.sampled_from(ACTIVATIONS))
    parameterization = draw(st.sampled_from(PARAMETERIZATIONS))
    sigma_w = draw(st.sampled_from([1.0, 0.7, 1.6]))
    x_kind = draw(st.sampled_from(["shared", "per_network", "identity"]))
    n = dims[0] if x_kind == "identity" else draw(st.integers(1, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if parameterization == "ntk":  # unit-variance weights; the forward pass scales them
        weights = [rng.standard_normal((batch, o, i)).astype(dtype) for i, o in zip(dims, dims[1:])]
    else:
        weights = random_weights(rng, dims, batch, dtype=dtype, scale=1.2)
    bias_mask = draw(st.none() | st.lists(st.booleans(), min_size=depth, max_size=depth))
    biases = None
    if bias_mask is not None:
        biases = [
            (0.5 * rng.standard_normal((batch, dims[j + 1]))).astype(dtype) if on else None
            for j, on in enumerate(bias_mask)
        ]
    if x_kind == "identity":
        X = None
    elif x_kind == "shared":
        X = rng.standard_normal((dims[0], n)).astype(dtype)
    else:
        X = rng.standard_normal((batch, dims[0], n)).astype(dtype)
    Y = rng.standard_normal((dims[-1], n)).astype(dtype)
    form = {
        "activation": activation,
        "biases": biases,
        "parameterization": parameterization,
        "sigma_w": sigma_w,
    }
    return Net(weights, X, Y, form)


def _with(net: Net, **changes: Any) -> dict[str, Any]:
    return {**net.form, **changes}


# ----------------------------------------------------------------------------------------------
# gradients


def _min_abs_hidden_preactivation(net: Net) -> NDArray:
    """Per network, min |z_j| over the hidden layers (where ReLU has its kink)."""
    scales = [
        1.0 if net.form["parameterization"] == "standard" else net.form["sigma_w"] / math.sqrt(d)
        for d in (w.shape[2] for w in net.weights)
    ]
    out = np.full(net.batch, np.inf)
    for b in range(net.batch):
        h = (
            np.eye(net.weights[0].shape[2])
            if net.X is None
            else (net.X if net.X.ndim == 2 else net.X[b])
        )
        for j, w in enumerate(net.weights[:-1]):
            z = scales[j] * w[b] @ h
            if net.form["biases"] is not None and net.form["biases"][j] is not None:
                z = z + net.form["biases"][j][b][:, None]
            out[b] = min(out[b], float(np.abs(z).min()))
            h = np.maximum(z, 0)
    return out


@given(net=nets(max_width=4), alpha=st.sampled_from([1.0, -0.6, 1.7]))
@settings(max_examples=60)
def test_reference_gradients_match_central_differences(net: Net, alpha: float) -> None:
    """Weights and biases, every activation and parameterisation: central differences with
    h = 1e-6 agree with backprop to 1e-6 (O(h²) + O(eps/h) ≈ 1e-9). ReLU networks with a hidden
    pre-activation within 1e-4 of its kink are skipped (a dead unit has z = 0 exactly, where
    the difference quotient is a one-sided average, not the derivative)."""
    h = 1e-6
    smooth = np.ones(net.batch, dtype=bool)
    if net.form["activation"] == "relu":
        smooth = _min_abs_hidden_preactivation(net) > 1e-4
    grads = ref.gradients(net.weights, net.X, net.Y, alpha, **net.form)
    bgrads = ref.bias_gradients(net.weights, net.X, net.Y, alpha, **net.form)

    def loss(weights: list[NDArray], biases: list[NDArray | None] | None) -> NDArray:
        return ref.loss(weights, net.X, net.Y, alpha, **_with(net, biases=biases))

    for j, w in enumerate(net.weights):
        for r in range(w.shape[1]):
            for c in range(w.shape[2]):
                plus = [v.copy() for v in net.weights]
                minus = [v.copy() for v in net.weights]
                plus[j][:, r, c] += h
                minus[j][:, r, c] -= h
                fd = (loss(plus, net.form["biases"]) - loss(minus, net.form["biases"])) / (2 * h)
                scale = np.maximum(1.0, np.abs(grads[j]).max(axis=(1, 2)))
                ok = np.abs(fd - grads[j][:, r, c]) <= 1e-6 * scale
                assert np.all(ok | ~smooth), (j, r, c)
    biases = net.form["biases"] or [None] * len(net.weights)
    full = [
        np.zeros((net.batch, w.shape[1])) if b is None else b for b, w in zip(biases, net.weights)
    ]
    for j, b in enumerate(full):
        for r in range(b.shape[1]):
            plus = [v.copy() for v in full]
            minus = [v.copy() for v in full]
            plus[j][:, r] += h
            minus[j][:, r] -= h
            fd = (loss(net.weights, plus) - loss(net.weights, minus)) / (2 * h)
            scale = np.maximum(1.0, np.abs(bgrads[j]).max(axis=1))
            ok = np.abs(fd - bgrads[j][:, r]) <= 1e-6 * scale
            assert np.all(ok | ~smooth), (j, r)


@given(net=nets(), alpha=st.sampled_from([1.0, 0.4, -1.2]))
@settings(max_examples=60)
def test_engine_first_step_recovers_reference_gradient(net: Net, alpha: float) -> None:
    """One engine step: (θ_0 − θ_1)/lr equals the reference gradient to 1e-8 (weights, biases)."""
    lr = np.linspace(1e-3, 2e-3, net.batch)
    res = dl.train(net.weights, net.X, net.Y, lr=lr, steps=1, alpha=alpha, **net.form)
    np.testing.assert_allclose(
        res.loss[:, 0], ref.loss(net.weights, net.X, net.Y, alpha, **net.form), rtol=1e-12
    )
    grads = ref.gradients(net.weights, net.X, net.Y, alpha, **net.form)
    bgrads = ref.bias_gradients(net.weights, net.X, net.Y, alpha, **net.form)
    pairs = list(zip(net.weights, res.weights, grads))
    if net.form["biases"] is not None:
        assert res.biases is not None and len(res.biases) == len(net.weights)
        for b0, b1, g in zip(net.form["biases"], res.biases, bgrads):
            assert (b0 is None) == (b1 is None)
            if b0 is not None:
                pairs.append((b0, b1, g))
    else:
        assert res.biases is None
    for before, after, g in pairs:
        for b in range(net.batch):
            recovered = (before[b] - after[b]) / lr[b]
            err = np.linalg.norm(recovered - g[b]) / max(np.linalg.norm(g[b]), 1e-3)
            assert err <= 1e-8, err


# ----------------------------------------------------------------------------------------------
# engine vs reference over whole runs


def _check_run(net: Net, dtype: type, draw_kwargs: dict[str, Any]) -> None:
    weights0 = [w.copy() for w in net.weights]
    biases0 = (
        None
        if net.form["biases"] is None
        else [None if b is None else b.copy() for b in net.form["biases"]]
    )
    got = dl.train(net.weights, net.X, net.Y, **draw_kwargs, **net.form)
    want = ref.train(net.weights, net.X, net.Y, **draw_kwargs, **net.form)
    ncols = draw_kwargs["steps"] // draw_kwargs["record_every"] + 1
    check_result_layout(got, net.batch, ncols, net.weights)
    rtol = RTOL[dtype]
    assert np.array_equal(got.diverged, want.diverged)
    assert np.array_equal(got.steps_to_tol, want.steps_to_tol)
    assert_losses_close(got.loss, want.loss, rtol)
    assert_weights_close(got.weights, want.weights, rtol, rows=~want.diverged)
    if net.form["biases"] is not None:
        assert got.biases is not None and want.biases is not None
        for j, (g, w) in enumerate(zip(got.biases, want.biases)):
            assert (g is None) == (w is None)
            if g is not None:
                assert g.shape == w.shape and g.dtype == w.dtype
                assert_weights_close([g[:, :, None]], [w[:, :, None]], rtol, rows=~want.diverged)
    for w, w0 in zip(net.weights, weights0):  # inputs untouched
        assert np.array_equal(w, w0)
    if biases0 is not None:
        for b, b0 in zip(net.form["biases"], biases0):
            assert (b is None and b0 is None) or np.array_equal(b, b0)


@st.composite
def runs(draw: st.DrawFn, dtype: type) -> tuple[Net, dict[str, Any]]:
    net = draw(nets(dtype=dtype))
    steps = draw(st.integers(0, 12))
    record_every = draw(st.integers(1, 4))
    alpha = draw(st.sampled_from([1.0, 0.5, -1.1]))
    # A fraction of the linear network's stability bound at the scaled weights s_j W_j: the
    # activations' slopes are ≤ 1 (erf: 1.13), so a fraction ≤ 0.3 keeps GD out of the
    # chaotic, diverging regime where rounding differences grow without bound.
    scaled = [
        w.astype(np.float64)
        * (
            1.0
            if net.form["parameterization"] == "standard"
            else net.form["sigma_w"] / math.sqrt(w.shape[2])
        )
        for w in net.weights
    ]
    x = np.eye(net.weights[0].shape[2]) if net.X is None else net.X.astype(np.float64)
    bound = float(stable_lr(scaled, x, net.Y.astype(np.float64), alpha).min())
    lr = draw(st.sampled_from([0.0, 0.01, 0.1, 0.3])) * bound
    tol = None
    if draw(st.booleans()):
        loss0 = ref.loss(net.weights, net.X, net.Y, **net.form)
        tol = float(draw(st.floats(0.3, 0.99)) * loss0.min())
    kwargs = {"lr": lr, "steps": steps, "record_every": record_every, "tol": tol, "alpha": alpha}
    return net, kwargs


@given(runs(np.float64))
@settings(max_examples=80)
def test_train_matches_reference_every_form_f64(run: tuple[Net, dict[str, Any]]) -> None:
    _check_run(*run[:1], np.float64, run[1])


@given(runs(np.float32))
@settings(max_examples=40)
def test_train_matches_reference_every_form_f32(run: tuple[Net, dict[str, Any]]) -> None:
    _check_run(*run[:1], np.float32, run[1])


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("parameterization", PARAMETERIZATIONS)
def test_every_form_longer_run_matches_reference(activation: str, parameterization: str) -> None:
    """Each activation × parameterisation over 40 steps at moderate width, with biases."""
    rng = np.random.default_rng(hash((activation, parameterization)) % 2**32)
    dims = [7, 16, 12, 3]
    if parameterization == "ntk":
        weights = [rng.standard_normal((3, o, i)) for i, o in zip(dims, dims[1:])]
    else:
        weights = random_weights(rng, dims, 3)
    biases = [0.1 * rng.standard_normal((3, d)) for d in dims[1:]]
    X, Y = rng.standard_normal((7, 10)), rng.standard_normal((3, 10))
    kw = {
        "lr": 0.01,
        "steps": 40,
        "record_every": 5,
        "activation": activation,
        "parameterization": parameterization,
        "sigma_w": 1.3,
        "biases": biases,
    }
    got, want = dl.train(weights, X, Y, **kw), ref.train(weights, X, Y, **kw)
    assert_losses_close(got.loss, want.loss, 1e-10)
    assert_weights_close(got.weights, want.weights, 1e-10)
    assert got.loss[0, -1] < got.loss[0, 0]  # it trains


@given(nets())
@settings(max_examples=40)
def test_thread_count_does_not_change_bits(net: Net) -> None:
    kw = {"lr": 0.02, "steps": 6, "record_every": 2}
    one = dl.train(net.weights, net.X, net.Y, threads=1, **kw, **net.form)
    two = dl.train(net.weights, net.X, net.Y, threads=2, **kw, **net.form)
    assert_results_identical(one, two)
    if net.form["biases"] is not None:
        for a, b in zip(one.biases or [], two.biases or []):
            assert (a is None and b is None) or np.array_equal(a, b)


# ----------------------------------------------------------------------------------------------
# X = None (identity) and data reduction


@given(nets())
@settings(max_examples=40)
def test_explicit_identity_input_takes_the_identity_path(net: Net) -> None:
    """An X that is exactly I (shared or per network) is detected and trained as X = None,
    bit for bit; an X one rounding step away from I takes the product path and agrees with
    both to rounding, so the two paths check each other."""
    d_0 = net.weights[0].shape[2]
    Y = net.Y[:, :1].repeat(d_0, axis=1) if net.Y.shape[1] != d_0 else net.Y
    kw = {"lr": 0.02, "steps": 5, **net.form}
    implicit = dl.train(net.weights, None, Y, **kw)
    # A net that blows up within 5 steps amplifies one rounding step beyond any tolerance;
    # the bit-identity checks below still run on it, the 1e-12 agreement only on tame nets.
    tame = bool(np.all(implicit.final_loss < 1e6))
    eye = np.eye(d_0, dtype=net.weights[0].dtype)
    assert_results_identical(implicit, dl.train(net.weights, eye, Y, **kw))
    per_network = np.repeat(eye[None], net.batch, axis=0)
    assert_results_identical(implicit, dl.train(net.weights, per_network, Y, **kw))
    assume(tame)
    almost = eye.copy()
    almost[0, 0] = np.nextafter(almost[0, 0], 2.0)
    product_path = dl.train(net.weights, almost, Y, **kw)
    assert_losses_close(implicit.loss, product_path.loss, 1e-12)
    assert_weights_close(implicit.weights, product_path.weights, 1e-12)


def test_identity_detection_needs_every_network_to_have_identity_input() -> None:
    """Per-network X with one non-identity member is trained as given, matching the reference."""
    rng = np.random.default_rng(2)
    dims = [3, 4, 2]
    weights = random_weights(rng, dims, 2, scale=0.7)
    X = np.stack([np.eye(3), rng.standard_normal((3, 3))])
    Y = rng.standard_normal((2, 3))
    kw = {"lr": 0.05, "steps": 8}
    got, want = dl.train(weights, X, Y, **kw), ref.train(weights, X, Y, **kw)
    assert_losses_close(got.loss, want.loss, 1e-10)
    assert_weights_close(got.weights, want.weights, 1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("x_batched", [False, True])
@pytest.mark.parametrize("y_batched", [False, True])
def test_data_reduction_reports_the_unreduced_loss(
    dtype: type, x_batched: bool, y_batched: bool
) -> None:
    """n = 200 ≫ d_0 = 5: the engine trains on 5 reduced columns; every recorded loss equals
    the reference's (unreduced) loss to 1e-10 relative (f64), and the trained weights agree.
    Y has a component outside the row space of X, so the constant offset is large."""
    rng = np.random.default_rng(5)
    batch, dims, n = 3, [5, 8, 8, 2], 200
    weights = random_weights(rng, dims, batch, dtype=dtype, scale=0.8)
    x_shape = (batch, 5, n) if x_batched else (5, n)
    y_shape = (batch, 2, n) if y_batched else (2, n)
    X = (rng.standard_normal(x_shape) / math.sqrt(n)).astype(dtype)
    Y = rng.standard_normal(y_shape).astype(dtype)
    kw = {"lr": 0.05, "steps": 60, "record_every": 3, "alpha": 0.9}
    got, want = dl.train(weights, X, Y, **kw), ref.train(weights, X, Y, **kw)
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    rel = np.abs(got.loss - want.loss) / np.abs(want.loss)
    assert rel.max() <= rtol, rel.max()
    assert_weights_close(got.weights, want.weights, 1e-9 if dtype == np.float64 else 1e-4)
    assert want.loss[:, -1].min() > 0.5 * want.loss[:, 0].max() * 0.5  # the offset dominates
    # tol refers to the unreduced loss too: put it between two steps of network 1, away from
    # every loss value (a tie would be decided by rounding).
    every = ref.train(weights, X, Y, **{**kw, "record_every": 1}).loss
    tol = float(0.5 * (every[1, 30] + every[1, 31]))
    assert np.min(np.abs(every - tol)) > 1e-7 * tol
    got_t = dl.train(weights, X, Y, tol=tol, **kw)
    want_t = ref.train(weights, X, Y, tol=tol, **kw)
    assert np.array_equal(got_t.steps_to_tol, want_t.steps_to_tol)
    assert (got_t.steps_to_tol >= 0).any()


def test_data_reduction_makes_step_cost_independent_of_n() -> None:
    """100k examples on a 4-input net: the call reduces the data once, then each step costs as
    with 4 columns (the NumPy reference would need ~1e10 flops here)."""
    rng = np.random.default_rng(0)
    n = 100_000
    X = rng.standard_normal((4, n)) / math.sqrt(n)
    W = rng.standard_normal((2, 4))
    Y = W @ X + 0.01 * rng.standard_normal((2, n)) / math.sqrt(n)
    weights = dl.init.orthogonal([4, 16, 16, 2], batch=2, seed=0)
    res = dl.train(weights, X, Y, lr=0.05, steps=5000, alpha=dl.fanout_alpha([4, 16, 16, 2]))
    # Least-squares optimum: the loss approaches ½‖Y(I − X⁺X)‖², the offset.
    resid = Y - (Y @ np.linalg.pinv(X)) @ X
    floor = 0.5 * float(np.sum(resid**2))
    assert np.all(res.final_loss >= floor * (1 - 1e-9))
    assert np.all(res.final_loss <= floor * 1.01)


# ----------------------------------------------------------------------------------------------
# bad input


@pytest.fixture(params=[dl, ref], ids=["rust", "reference"])
def impl(request: pytest.FixtureRequest) -> Any:
    return request.param


def _small() -> tuple[list[NDArray], NDArray, NDArray]:
    rng = np.random.default_rng(0)
    return random_weights(rng, [3, 4, 2], 2), rng.standard_normal((3, 5)), np.zeros((2, 5))


def test_bad_activation_and_parameterization(impl: Any) -> None:
    w, X, Y = _small()
    with raises_clean(ValueError, "activation"):
        impl.train(w, X, Y, lr=0.1, steps=1, activation="sigmoid")
    with raises_clean(ValueError, "parameterization"):
        impl.train(w, X, Y, lr=0.1, steps=1, parameterization="mup")
    with raises_clean(ValueError, "sigma_w"):
        impl.train(w, X, Y, lr=0.1, steps=1, parameterization="ntk", sigma_w=math.inf)


def test_bad_biases(impl: Any) -> None:
    w, X, Y = _small()
    with raises_clean(ValueError, "biases"):
        impl.train(w, X, Y, lr=0.1, steps=1, biases=[np.zeros((2, 4))])
    with raises_clean(ValueError, r"biases\[1\]"):
        impl.train(w, X, Y, lr=0.1, steps=1, biases=[None, np.zeros((2, 3))])
    with raises_clean(TypeError, r"biases\[0\]"):
        impl.train(w, X, Y, lr=0.1, steps=1, biases=[np.zeros((2, 4), np.float32), None])


def test_rust_specific_type_errors() -> None:
    w, X, Y = _small()
    with raises_clean(TypeError, "activation"):
        dl.train(w, X, Y, lr=0.1, steps=1, activation=None)  # type: ignore[arg-type]
    with raises_clean(TypeError, "biases"):
        dl.train(w, X, Y, lr=0.1, steps=1, biases=np.zeros((2, 2, 4)))  # type: ignore[arg-type]
    with raises_clean(TypeError, "sigma_w"):
        dl.train(w, X, Y, lr=0.1, steps=1, sigma_w="1")  # type: ignore[arg-type]


def test_x_none_needs_d0_columns(impl: Any) -> None:
    w, _, _ = _small()
    with raises_clean(ValueError, "Y"):
        impl.train(w, None, np.zeros((2, 5)), lr=0.1, steps=1)
