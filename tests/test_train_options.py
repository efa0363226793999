"""Every option of the one training engine against the NumPy reference, with hypothesis.

Drawn runs cover depth 1, width 1 and rectangular layers, every activation, biases on and off,
both parameterisations, shared and per-network data, both losses and reductions, every
optimiser, mini-batches that do and do not divide n, Stiefel layers (all or some, wide and
tall, with and without a learned scale), recorded quantities with their own intervals, evaluation
data and the stop rules. The ``extras`` runs add learning rates per parameter group (floats and
per-network values), every lr schedule, coupled and decoupled weight decay (per group too),
RMSProp (centred, with momentum), AdamW and Oblique layers (learned scale, penalty). f64 must
agree to 1e-10, f32 to 1e-4 (relative to max(1, |value|)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

import deeplinear as dl
from deeplinear import reference as ref
from helpers import assert_losses_close, assert_weights_close

RTOL = {np.float64: 1e-10, np.float32: 1e-4}
ACTIVATIONS = ["linear", "tanh", "relu", "erf"]


@dataclass
class Run:
    """One drawn call: its arrays and keyword arguments."""

    weights: list[NDArray]
    X: NDArray | None
    Y: NDArray
    kwargs: dict[str, Any]

    def train(self, impl: Any, **overrides: Any) -> Any:
        return impl.train(self.weights, self.X, self.Y, **{**self.kwargs, **overrides})


def orthonormal(rng: np.random.Generator, shape: tuple[int, int, int], dtype: type) -> NDArray:
    """A batch of matrices with orthonormal columns (tall) or rows (wide)."""
    batch, rows, cols = shape
    out = np.empty(shape)
    for b in range(batch):
        q, _ = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
        out[b] = q if rows >= cols else q.T
    return out.astype(dtype)


def unit_rows(rng: np.random.Generator, shape: tuple[int, int, int], dtype: type) -> NDArray:
    """A batch of matrices whose rows have unit norm (a start on the Oblique manifold)."""
    w = rng.standard_normal(shape)
    return (w / np.linalg.norm(w, axis=-1, keepdims=True)).astype(dtype)


#: Learning-rate schedules drawn by :func:`runs` with ``extras``: every kind, warm-ups that do
#: and do not reach the horizon within the drawn steps, and the horizon equal to the warm-up.
SCHEDULES = [
    None,
    dl.optim.constant(),
    dl.optim.step_decay(2, 0.5),
    dl.optim.step_decay(1, 0.0),
    dl.optim.exponential_decay(0.8),
    dl.optim.exponential_decay(0.9, every=2),
    dl.optim.warmup_cosine(4, warmup_steps=2, final=0.1),
    dl.optim.warmup_cosine(3),
    dl.optim.warmup_cosine(2, warmup_steps=2, final=0.5),
]
#: The rates drawn for each optimiser: small enough that every network stays finite.
RATES = {
    "gd": [0.0, 0.003, 0.02],
    "sgd": [0.0, 0.003, 0.02],
    "adam": [0.003, 0.01],
    "adamw": [0.003, 0.01],
    "rmsprop": [0.001, 0.003],
}


def group_values(draw: st.DrawFn, choices: list[float], batch: int) -> Any:
    """One group's rate or decay: a float, or one per network."""
    if draw(st.booleans()):
        return draw(st.sampled_from(choices))
    return draw(st.lists(st.sampled_from(choices), min_size=batch, max_size=batch))


@st.composite
def runs(
    draw: st.DrawFn, dtype: type = np.float64, curved: bool | None = None, extras: bool = False
) -> Run:
    """A drawn call. ``curved``: whether some layer is on a manifold (None: drawn).
    ``extras``: also draw group rates (``dl.optim.Rates``), lr schedules, weight decay,
    RMSProp/AdamW and Oblique layers with their penalty."""
    depth = draw(st.integers(1, 3))
    loss = draw(st.sampled_from(["mse", "cross_entropy"]))
    dims = draw(st.lists(st.integers(1, 5), min_size=depth + 1, max_size=depth + 1))
    if loss == "cross_entropy" or draw(st.booleans()):
        dims[-1] = max(dims[-1], 2)  # classes (accuracy of MSE needs d_L >= 2 too)
    batch = draw(st.integers(1, 3))
    identity = loss == "mse" and draw(st.integers(0, 4)) == 0
    n = dims[0] if identity else draw(st.integers(1, 7))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    activation = draw(st.sampled_from(ACTIVATIONS))
    parameterization = draw(st.sampled_from(["standard", "ntk"]))
    use_curved = draw(st.booleans()) if curved is None else curved
    manifold: Any = "euclidean"
    layers = ["euclidean"] * depth
    if use_curved:
        kinds = ["stiefel", "oblique"] if extras else ["stiefel"]
        layers_on = draw(st.lists(st.booleans(), min_size=depth, max_size=depth))
        layers_on[draw(st.integers(0, depth - 1))] = True
        for j, on in enumerate(layers_on):
            if on:  # an Oblique layer needs 2 inputs per unit
                layers[j] = draw(st.sampled_from(kinds)) if dims[j] >= 2 else "stiefel"
        manifold = layers[0] if len(set(layers)) == 1 else layers
    weights = []
    for j in range(depth):
        shape = (batch, dims[j + 1], dims[j])
        if layers[j] != "euclidean":
            start = orthonormal if layers[j] == "stiefel" else unit_rows
            w = start(rng, shape, dtype) * draw(st.sampled_from([1.0, 0.7, 1.3]))
        elif parameterization == "ntk":
            w = rng.standard_normal(shape)
        else:
            w = rng.standard_normal(shape) / math.sqrt(dims[j])
        weights.append(w.astype(dtype))
    biases = None
    if draw(st.booleans()):
        biases = [
            None
            if draw(st.integers(0, 3)) == 0
            else (0.2 * rng.standard_normal((batch, d))).astype(dtype)
            for d in dims[1:]
        ]

    X: NDArray | None
    if identity:
        X = None if draw(st.booleans()) else np.eye(dims[0], dtype=dtype)
    elif draw(st.booleans()):
        X = rng.standard_normal((dims[0], n)).astype(dtype)
    else:
        X = rng.standard_normal((batch, dims[0], n)).astype(dtype)
    shared_y = draw(st.booleans())
    if loss == "cross_entropy":
        Y = rng.integers(0, dims[-1], size=(n,) if shared_y else (batch, n))
        Y = Y.astype(draw(st.sampled_from([np.int64, np.int32, np.uint8])))
    else:
        Y = rng.standard_normal((dims[-1], n) if shared_y else (batch, dims[-1], n)).astype(dtype)

    optimizer = draw(st.sampled_from(list(RATES) if extras else ["gd", "sgd", "adam"]))
    kwargs: dict[str, Any] = {
        "steps": draw(st.integers(0, 6)),
        "record_every": draw(st.integers(1, 3)),
        "alpha": draw(st.sampled_from([1.0, 0.7, -1.1])),
        "activation": activation,
        "parameterization": parameterization,
        "sigma_w": draw(st.sampled_from([1.0, 1.3])),
        "biases": biases,
        "loss": loss,
        "reduction": draw(st.sampled_from([None, "sum", "mean"])),
        "optimizer": optimizer,
        "manifold": manifold,
        # Small steps: the networks stay finite and every comparison is meaningful.
        "lr": 0.01 if optimizer in ("adam", "adamw") else draw(st.sampled_from(RATES["gd"])),
    }
    if optimizer == "sgd":
        kwargs["momentum"] = draw(st.sampled_from([0.0, 0.5, 0.9]))
        kwargs["nesterov"] = kwargs["momentum"] > 0 and draw(st.booleans())
    if optimizer in ("adam", "adamw") and draw(st.booleans()):
        kwargs["betas"] = (0.8, 0.95)
        kwargs["eps"] = 1e-6
    if optimizer == "rmsprop":
        kwargs["lr"] = draw(st.sampled_from(RATES["rmsprop"]))
        kwargs["momentum"] = draw(st.sampled_from([None, 0.0, 0.5]))
        kwargs["centered"] = draw(st.booleans())
        kwargs["decay"] = draw(st.sampled_from([None, 0.9]))
        kwargs["eps"] = draw(st.sampled_from([None, 1e-6]))
    if use_curved:
        kwargs["learn_scale"] = draw(st.booleans())
    if extras:
        has_biases = biases is not None and any(v is not None for v in biases)
        present = dl.optim.network_groups(layers, has_biases, kwargs.get("learn_scale", False))
        rates = RATES[optimizer]
        named = draw(st.lists(st.sampled_from(sorted(present - {"base"})), unique=True))
        if named or draw(st.booleans()):
            base = group_values(draw, rates, batch)
            groups = {group: group_values(draw, rates, batch) for group in named}
            kwargs["lr"] = dl.optim.Rates(base, **groups)
        kwargs["lr_schedule"] = draw(st.sampled_from(SCHEDULES))
        decayed = sorted(present & {"output", "biases", "scales"})
        decay_groups = draw(st.lists(st.sampled_from(decayed), unique=True)) if decayed else []
        decay = group_values(draw, [0.0, 0.1, 0.5], batch)
        if decay_groups:
            kwargs["weight_decay"] = dl.optim.Rates(
                decay, **{g: group_values(draw, [0.0, 0.3], batch) for g in decay_groups}
            )
        elif draw(st.booleans()):
            kwargs["weight_decay"] = decay
        if "oblique" in layers:
            kwargs["oblique_penalty"] = draw(st.sampled_from([0.0, 0.1, 1.0]))
    if draw(st.booleans()):
        kwargs["batch_size"] = draw(st.integers(1, n))
        kwargs["data_seed"] = (
            draw(st.integers(0, 2**64 - 1))
            if draw(st.booleans())
            else draw(st.lists(st.integers(0, 2**20), min_size=batch, max_size=batch))
        )
    classes = dims[-1] >= 2  # accuracy reads classes as argmax over d_L >= 2 outputs
    names = ["batch_loss", "grad_norms", "weight_change"]
    if classes:
        names += ["accuracy", "batch_accuracy"]
    if activation == "linear" and parameterization == "standard" and biases is None:
        names += ["balancedness", "balancedness_per_layer", "singular_values"]
    if draw(st.booleans()):
        n_test = draw(st.integers(1, 5))
        X_test = rng.standard_normal((dims[0], n_test)).astype(dtype)
        Y_test = (
            rng.integers(0, dims[-1], size=n_test)
            if loss == "cross_entropy"
            else rng.standard_normal((dims[-1], n_test)).astype(dtype)
        )
        kwargs["eval_data"] = (X_test, Y_test)
        names += ["test_loss", "test_accuracy"] if classes else ["test_loss"]
    chosen = draw(st.lists(st.sampled_from(names), unique=True, max_size=4))
    if draw(st.booleans()):
        kwargs["record"] = {name: draw(st.integers(1, 4)) for name in chosen}
    else:
        kwargs["record"] = chosen
    if dtype == np.float64 and classes and draw(st.booleans()):
        kwargs["target_accuracy"] = draw(st.sampled_from([0.3, 0.6, 1.0]))
    return Run(weights, X, Y, kwargs)


def check_against_reference(run: Run, dtype: type) -> None:
    inputs = [w.copy() for w in run.weights]
    got = run.train(dl)
    want = run.train(ref)
    rtol = RTOL[dtype]
    assert np.array_equal(got.diverged, want.diverged)
    assert np.array_equal(got.steps_to_tol, want.steps_to_tol)
    assert np.array_equal(got.steps_to_accuracy, want.steps_to_accuracy)
    assert_losses_close(got.loss, want.loss, rtol)
    assert_losses_close(got.final_loss, want.final_loss, rtol, "final_loss")
    assert_weights_close(got.weights, want.weights, rtol)
    if run.kwargs["biases"] is not None:
        for g, w in zip(got.biases, want.biases, strict=True):
            assert (g is None) == (w is None)
            if g is not None:
                assert_losses_close(g, w, rtol, "biases")
    assert list(got.records) == list(want.records)
    for name in got.records:
        assert_losses_close(got.records[name], want.records[name], rtol, name)
    assert np.array_equal(got.state.step, want.state.step)
    assert np.array_equal(got.state.data_seed, want.state.data_seed)
    assert got.state.slot_names == want.state.slot_names
    for name, a, b in zip(got.state.slot_names, got.state.slots, want.state.slots, strict=True):
        assert_losses_close(a, b, rtol, name)
    if want.state.scales is not None:
        assert_losses_close(got.state.scales, want.state.scales, rtol, "scales")
    for w, w0 in zip(run.weights, inputs, strict=True):
        assert np.array_equal(w, w0)  # inputs are never modified


@given(runs(np.float64))
def test_every_option_matches_the_reference_f64(run: Run) -> None:
    check_against_reference(run, np.float64)


@settings(max_examples=50)
@given(runs(np.float32))
def test_every_option_matches_the_reference_f32(run: Run) -> None:
    check_against_reference(run, np.float32)


@settings(max_examples=40)
@given(runs(np.float64, curved=True))
def test_stiefel_runs_match_the_reference(run: Run) -> None:
    check_against_reference(run, np.float64)


@given(runs(np.float64, extras=True))
def test_group_rates_schedules_decay_and_every_rule_match_the_reference_f64(run: Run) -> None:
    check_against_reference(run, np.float64)


@settings(max_examples=50)
@given(runs(np.float32, extras=True))
def test_group_rates_schedules_decay_and_every_rule_match_the_reference_f32(run: Run) -> None:
    check_against_reference(run, np.float32)


@settings(max_examples=60)
@given(runs(np.float64, curved=True, extras=True))
def test_oblique_and_stiefel_runs_with_every_rule_match_the_reference(run: Run) -> None:
    check_against_reference(run, np.float64)


@pytest.mark.parametrize("shape", [(7, 3), (3, 7), (5, 5)])
@pytest.mark.parametrize("learn_scale", [False, True])
def test_stiefel_adam_wide_and_tall_stays_scaled_orthogonal_every_step(shape, learn_scale):
    """Stiefel + Adam on a tanh MLP with a tall, wide or square hidden layer: after every step
    (chained one-step calls, which equal one long call) each Stiefel layer is s·(orthonormal)
    to 1e-12, with s the state's scale; the trajectory equals the reference's."""
    rows, cols = shape
    dims = [cols, rows, 4]
    rng = np.random.default_rng(7)
    weights = [orthonormal(rng, (2, rows, cols), np.float64) * 1.2]
    weights.append(rng.standard_normal((2, 4, rows)) / math.sqrt(rows))
    X = rng.standard_normal((cols, 9))
    labels = rng.integers(0, 4, 9)
    kwargs = {
        "lr": 0.05,
        "activation": "tanh",
        "loss": "cross_entropy",
        "optimizer": "adam",
        "manifold": ["stiefel", "euclidean"],
        "learn_scale": learn_scale,
        "batch_size": 4,
        "data_seed": 3,
        "biases": [np.zeros((2, d)) for d in dims[1:]],
    }
    res = dl.train(weights, X, labels, steps=0, **kwargs)
    for _ in range(8):
        res = dl.train(
            res.weights, X, labels, steps=1, state=res.state, **{**kwargs, "biases": res.biases}
        )
        w = res.weights[0]
        for b in range(2):
            s = res.state.scales[b, 0]
            gram = w[b].T @ w[b] if rows >= cols else w[b] @ w[b].T
            assert np.abs(gram / s**2 - np.eye(min(rows, cols))).max() < 1e-12
        if learn_scale:
            assert not np.allclose(res.state.scales[:, 0], 1.2)
        else:
            assert np.allclose(res.state.scales[:, 0], 1.2, rtol=1e-14)
    long = dl.train(weights, X, labels, steps=8, **kwargs)
    want = ref.train(weights, X, labels, steps=8, **kwargs)
    for a, b, c in zip(res.weights, long.weights, want.weights, strict=True):
        assert np.array_equal(a, b)
        np.testing.assert_allclose(b, c, rtol=1e-10, atol=1e-12)
    assert np.array_equal(res.state.scales, long.state.scales, equal_nan=True)
