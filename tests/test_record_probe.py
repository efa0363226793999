"""Diagnostics recorded on a probe set during training (``record_data``) equal the metric
functions applied to the weights saved at those steps, and the NumPy twin's records; bad input."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import deeplinear as dl
from deeplinear import metrics
from deeplinear.reference import train as ref_train
from helpers import raises_clean, random_weights

PROBE = importlib.import_module("deeplinear.train").PROBE_RECORDABLE


def problem(loss: str, seed: int = 0, batch: int = 2):
    rng = np.random.default_rng(seed)
    dims = [4, 7, 7, 3]
    w = random_weights(rng, dims, batch, scale=1.3)
    biases = [0.2 * rng.standard_normal((batch, d)) for d in dims[1:]]
    X = rng.standard_normal((4, 16))
    Xp = rng.standard_normal((batch, 4, 6))  # a per-network probe set
    if loss == "cross_entropy":
        Y, Yp = rng.integers(0, 3, 16), rng.integers(0, 3, (batch, 6))
    else:
        Y, Yp = rng.standard_normal((3, 16)), rng.standard_normal((batch, 3, 6))
    return w, biases, X, Y, Xp, Yp


def metric_at(name, weights, biases, w0, b0, Xp, Yp, loss, form):
    kw = {"biases": biases, **form}
    if name == "ntk_relative_change":
        return metrics.ntk_relative_change(w0, weights, Xp, biases0=b0, biases1=biases, **form)
    if name == "jacobian_max_singular_value":
        return metrics.jacobian_max_singular_value(weights, Xp, **kw).max(axis=1)
    empirical = name == "empirical_fisher_max_eigenvalue"
    return metrics.fisher_max_eigenvalue(
        weights,
        Xp,
        loss=loss,
        fisher="empirical" if empirical else "true",
        labels=Yp if empirical else None,
        params="weights" if name.endswith("_weights") else "all",
        **kw,
    )


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
@pytest.mark.parametrize("batch_size", [None, 5])
def test_records_equal_the_metrics_at_the_saved_weights(loss, batch_size) -> None:
    w, biases, X, Y, Xp, Yp = problem(loss)
    form = {"activation": "tanh", "parameterization": "ntk", "sigma_w": 1.2, "alpha": 0.9}
    common = {
        "lr": 0.05,
        "biases": biases,
        "loss": loss,
        "batch_size": batch_size,
        "data_seed": 3 if batch_size else None,
        **form,
    }
    every = 2
    record = {"loss": 1, **dict.fromkeys(PROBE, every)}
    full = dl.train(w, X, Y, steps=6, record=record, record_data=(Xp, Yp), **common)
    assert all(full.records[name].shape == (2, 4) for name in PROBE)
    # Chained calls with state= reproduce the trajectory; the metrics at each segment's end
    # are the recorded columns.
    weights, bs, state = w, biases, None
    for col in range(1, 4):
        seg = dl.train(weights, X, Y, steps=every, state=state, **{**common, "biases": bs})
        weights, bs, state = seg.weights, seg.biases, seg.state
        for name in PROBE:
            want = metric_at(name, weights, bs, w, biases, Xp, Yp, loss, form)
            got = full.records[name][:, col]
            # The recorder runs the metric functions' code on the same parameters.
            assert np.array_equal(got, want), (name, col, got, want)
    assert np.array_equal(full.records["ntk_relative_change"][:, 0], [0.0, 0.0])


def test_records_match_the_numpy_twin_with_per_layer_biases() -> None:
    w, biases, X, Y, Xp, Yp = problem("cross_entropy", seed=1)
    biases[1] = None  # a layer without a bias
    kw = {
        "lr": 0.1,
        "steps": 5,
        "activation": "erf",
        "biases": biases,
        "loss": "cross_entropy",
        "record": dict.fromkeys(PROBE, 2),
        "record_data": (Xp, Yp),
    }
    got = dl.train(w, X, Y, **kw)
    want = ref_train(w, X, Y, **kw)
    for name in PROBE:
        g, r = got.records[name], want.records[name]
        assert np.abs(g - r).max() <= 1e-9 * np.abs(r).max(), name


def test_probe_quantities_after_a_divergence_hold_the_stopping_state() -> None:
    w, biases, X, Y, Xp, _ = problem("mse", seed=2)
    record = {"fisher_max_eigenvalue": 1, "jacobian_max_singular_value": 1}
    res = dl.train(
        w, X, Y, lr=[0.001, 1.0], steps=20, biases=biases, record=record, record_data=Xp
    )  # network 1 diverges within a few steps at this rate
    assert res.diverged[1] and not res.diverged[0]
    stop = int(np.argmax(~np.isfinite(res.loss[1])))
    for name in record:
        assert np.all(np.isfinite(res.records[name][0])), name
        later = res.records[name][1, stop:]
        assert np.all(later == later[0]) or np.all(np.isnan(later)), name


W = random_weights(np.random.default_rng(0), [3, 4, 2], 2)
X0, Y0 = np.ones((3, 5)), np.ones((2, 5))
Xp0 = np.ones((3, 4))


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"record": ["fisher_max_eigenvalue"]}, ValueError, "record: .*needs record_data"),
        ({"record_data": Xp0}, ValueError, "record_data: is given, but no recorded quantity"),
        (
            {"record": ["jacobian_max_singular_value"], "record_data": np.ones((4, 4))},
            ValueError,
            r"record_data\[0\] \(X_probe\)",
        ),
        (
            {"record": ["ntk_relative_change"], "record_data": np.ones((3, 3, 4))},
            ValueError,
            r"record_data\[0\] \(X_probe\)",
        ),
        (
            {"record": ["empirical_fisher_max_eigenvalue"], "record_data": (Xp0, None)},
            ValueError,
            "record_data: .*needs the probe set's targets",
        ),
        (
            {"record": ["empirical_fisher_max_eigenvalue"], "record_data": (Xp0, np.ones((2, 3)))},
            ValueError,
            r"record_data\[1\] \(Y_probe\)",
        ),
        ({"record": ["fisher_max_eigenvalue"], "record_data": (Xp0,)}, ValueError, "record_data"),
        ({"record": ["fisher_max_eigenvalue"], "record_data": "X"}, TypeError, "record_data"),
    ],
)
def test_bad_record_data_names_the_argument(kwargs, exc, match) -> None:
    with raises_clean(exc, match):
        dl.train(W, X0, Y0, lr=0.1, steps=2, **kwargs)
