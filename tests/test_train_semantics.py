"""Properties of the new training options that do not need the reference loop: gradients
against central differences, huge logits, determinism across threads, batchings and chained
calls, the mini-batch schedule, the learned Stiefel scale, and the stop rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deeplinear as dl
from deeplinear import reference as ref
from deeplinear.reference.schedule import epoch_order
from helpers import assert_results_identical

ACTIVATIONS = ["linear", "tanh", "relu", "erf"]


def _mlp(rng, dims, batch, biases=True):
    w = [rng.standard_normal((batch, o, i)) / math.sqrt(i) for i, o in zip(dims[:-1], dims[1:])]
    b = [0.3 * rng.standard_normal((batch, d)) for d in dims[1:]] if biases else None
    return w, b


@settings(max_examples=30)
@given(
    st.sampled_from(ACTIVATIONS),
    st.sampled_from(["standard", "ntk"]),
    st.sampled_from(["sum", "mean"]),
    st.integers(0, 2**32 - 1),
)
def test_cross_entropy_gradients_match_central_differences(act, param, reduction, seed) -> None:
    """The reference's cross-entropy gradients against central differences of its loss, and the
    engine's first gradient step against the reference gradients."""
    rng = np.random.default_rng(seed)
    dims = [3, 4, 3]
    w, b = _mlp(rng, dims, 1)
    X = rng.standard_normal((3, 5))
    y = rng.integers(0, 3, 5)
    kw = {"activation": act, "parameterization": param, "biases": b, "loss": "cross_entropy"}
    kw["reduction"] = reduction
    grads = ref.gradients(w, X, y, 0.8, **kw)
    bgrads = ref.bias_gradients(w, X, y, 0.8, **kw)
    h = 1e-6
    for j in range(len(w)):
        for idx in np.ndindex(w[j].shape):
            up = [v.copy() for v in w]
            down = [v.copy() for v in w]
            up[j][idx] += h
            down[j][idx] -= h
            fd = (ref.loss(up, X, y, 0.8, **kw)[0] - ref.loss(down, X, y, 0.8, **kw)[0]) / (2 * h)
            # relu has kinks: skip entries whose difference quotient straddles one.
            if act != "relu":
                assert abs(fd - grads[j][idx]) < 1e-6, (j, idx, fd, grads[j][idx])
        for k in range(dims[j + 1]):
            up = [v.copy() for v in b]
            down = [v.copy() for v in b]
            up[j][0, k] += h
            down[j][0, k] -= h
            fd = (
                ref.loss(w, X, y, 0.8, **{**kw, "biases": up})[0]
                - ref.loss(w, X, y, 0.8, **{**kw, "biases": down})[0]
            ) / (2 * h)
            if act != "relu":
                assert abs(fd - bgrads[j][0, k]) < 1e-6
    lr = 1e-3
    res = dl.train(w, X, y, lr=lr, steps=1, alpha=0.8, **kw)
    for j in range(len(w)):
        np.testing.assert_allclose((w[j] - res.weights[j]) / lr, grads[j], rtol=1e-8, atol=1e-9)
        np.testing.assert_allclose((b[j] - res.biases[j]) / lr, bgrads[j], rtol=1e-8, atol=1e-9)


def test_huge_logits_give_finite_losses_and_gradients() -> None:
    """Logits of ±1e4 (no overflow in the softmax): the losses and the update are finite and
    equal the exact value max + log Σ exp(f − max) − f_y."""
    w = [np.array([[[1e4], [-1e4], [0.0]]])]  # one layer, 1 input, 3 classes
    X = np.array([[1.0, -1.0]])
    y = np.array([1, 0])
    res = dl.train(w, X, y, lr=1e-9, steps=1, loss="cross_entropy", reduction="sum")
    # Column 0: logits (1e4, −1e4, 0), label 1: 2e4. Column 1: (−1e4, 1e4, 0), label 0: 2e4.
    assert res.loss[0, 0] == 4e4
    assert np.isfinite(res.weights[0]).all() and not res.diverged[0]
    assert res.loss[0, 0] == ref.loss(w, X, y, loss="cross_entropy", reduction="sum")[0]


def _config(kind: str) -> dict:
    """Training configurations exercised by the determinism tests."""
    return {
        "minibatch_adam_ce": {
            "loss": "cross_entropy",
            "optimizer": "adam",
            "batch_size": 4,
            "activation": "tanh",
            "record": ["batch_loss", "accuracy", "grad_norms"],
        },
        "nesterov_mse": {
            "optimizer": "sgd",
            "momentum": 0.9,
            "nesterov": True,
            "batch_size": 3,
            "activation": "erf",
            "record": {"loss": 1, "batch_loss": 2, "weight_change": 3},
        },
        "stiefel_adam_scale": {
            "loss": "cross_entropy",
            "optimizer": "adam",
            "manifold": "stiefel",
            "learn_scale": True,
            "batch_size": 5,
            "activation": "tanh",
            "record": ["batch_accuracy"],
        },
    }[kind]


def _problem(kind: str, batch: int = 4):
    rng = np.random.default_rng(11)
    dims = [5, 5, 5, 3]
    if kind.startswith("stiefel"):
        w = [dl.init.orthogonal(dims, batch=batch, seed=2)[j] / math.sqrt(5) for j in range(2)]
        w.append(dl.init.orthogonal([5, 3], batch=batch, seed=3)[0] / math.sqrt(5))
    else:
        w, _ = _mlp(rng, dims, batch, biases=False)
    X = rng.standard_normal((5, 11))
    Y = (
        rng.integers(0, 3, 11)
        if "ce" in kind or "stiefel" in kind
        else rng.standard_normal((3, 11))
    )
    return w, X, Y


@pytest.mark.parametrize("kind", ["minibatch_adam_ce", "nesterov_mse", "stiefel_adam_scale"])
def test_threads_batching_and_chained_calls_give_the_same_bits(kind: str) -> None:
    w, X, Y = _problem(kind)
    cfg = {"lr": 0.02, "data_seed": [3, 1, 4, 1], **_config(kind)}
    if "manifold" not in cfg:
        cfg["biases"] = [np.full((4, d), 0.1) for d in (5, 5, 3)]
    one = dl.train(w, X, Y, steps=10, threads=1, **cfg)
    two = dl.train(w, X, Y, steps=10, threads=2, **cfg)
    assert_results_identical(one, two)
    for name in one.records:
        assert np.array_equal(one.records[name], two.records[name], equal_nan=True)
    # Network 2 alone, with its own seed, equals network 2 of the batch.
    alone_cfg = {**cfg, "data_seed": [4]}
    if "biases" in cfg:
        alone_cfg["biases"] = [v[2:3] for v in cfg["biases"]]
    alone = dl.train([v[2:3] for v in w], X, Y, steps=10, threads=1, **alone_cfg)
    for a, b in zip(alone.weights, one.weights, strict=True):
        assert np.array_equal(a[0], b[2])
    assert np.array_equal(alone.loss[0], one.loss[2])
    # Chained: 3 + 0 + 7 steps, passing the state (data_seed from the state), equal 10 steps.
    chained_cfg = {k: v for k, v in cfg.items() if k not in ("record", "data_seed")}
    first = dl.train(w, X, Y, steps=3, data_seed=cfg["data_seed"], **chained_cfg)
    middle = dl.train(
        first.weights, X, Y, steps=0, state=first.state, **{**chained_cfg, "biases": first.biases}
    )
    last = dl.train(
        middle.weights,
        X,
        Y,
        steps=7,
        state=middle.state,
        **{**chained_cfg, "biases": middle.biases},
    )
    for a, b in zip(last.weights, one.weights, strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(last.loss[:, -1], one.loss[:, -1])
    assert np.array_equal(np.concatenate([first.loss, last.loss[:, 1:]], axis=1), one.loss)
    for name, a, b in zip(one.state.slot_names, last.state.slots, one.state.slots, strict=True):
        assert np.array_equal(a, b), name
    assert np.array_equal(last.state.step, one.state.step)
    if one.state.scales is not None:
        assert np.array_equal(last.state.scales, one.state.scales, equal_nan=True)


def test_state_is_never_modified_and_refuses_a_misfit() -> None:
    w, X, Y = _problem("minibatch_adam_ce")
    cfg = {"lr": 0.02, **_config("minibatch_adam_ce")}
    first = dl.train(w, X, Y, steps=2, data_seed=1, **cfg)
    before = [s.copy() for s in first.state.slots]
    dl.train(first.weights, X, Y, steps=2, state=first.state, **cfg)
    assert all(np.array_equal(a, b) for a, b in zip(before, first.state.slots, strict=True))
    with pytest.raises(dl.InvalidValueError, match="state"):
        dl.train(first.weights, X, Y, steps=1, state=first.state, **{**cfg, "optimizer": "gd"})
    with pytest.raises(dl.InvalidValueError, match="state"):
        dl.train(first.weights, X, Y, steps=1, state=first.state, **{**cfg, "batch_size": 2})
    with pytest.raises(dl.InvalidValueError, match="data_seed"):
        dl.train(first.weights, X, Y, steps=1, state=first.state, data_seed=2, **cfg)
    with pytest.raises(TypeError, match="state"):
        dl.train(first.weights, X, Y, steps=1, state={"step": 1}, **cfg)


def test_minibatch_steps_walk_through_each_epoch_permutation() -> None:
    """With lr = 0 the step losses are the losses of the documented slices: epoch e of network
    b takes examples epoch_order(seed, b, e, n)[k·size : (k + 1)·size]."""
    rng = np.random.default_rng(5)
    w, _ = _mlp(rng, [2, 3], 2, biases=False)
    n, size, seed = 7, 3, 99
    X = rng.standard_normal((2, n))
    Y = rng.standard_normal((3, n))
    res = dl.train(w, X, Y, lr=0.0, steps=8, batch_size=size, data_seed=seed, record=["batch_loss"])
    for b in range(2):
        for t in range(9):
            epoch, k = divmod(t, 3)
            idx = epoch_order(seed, b, epoch, n)[k * size : (k + 1) * size]
            want = ref.loss([v[b : b + 1] for v in w], X[:, idx], Y[:, idx])[0]
            assert res.records["batch_loss"][b, t] == pytest.approx(want, rel=1e-13)
    # Every epoch is a permutation; epochs differ.
    orders = [epoch_order(seed, 0, e, n) for e in range(3)]
    assert all(sorted(o) == list(range(n)) for o in orders) and orders[0] != orders[1]
    # TrainResult.loss is the full-set loss, not the batch loss.
    assert res.loss[0, 0] == pytest.approx(ref.loss(w, X, Y)[0], rel=1e-13)


def test_learned_scale_gradient_is_the_derivative_in_s() -> None:
    """W = s·Q with a trained s: one GD step moves s by −η·dℓ/ds, dℓ/ds by central differences
    of the loss of s·Q (a tanh MLP with cross-entropy)."""
    rng = np.random.default_rng(3)
    q = dl.init.orthogonal([4, 4], batch=1, seed=0)[0] / 2.0  # orthonormal
    head = rng.standard_normal((1, 3, 4)) / 2
    X = rng.standard_normal((4, 6))
    y = rng.integers(0, 3, 6)
    s0, lr, h = 1.3, 1e-4, 1e-6
    kw = {"activation": "tanh", "loss": "cross_entropy"}

    def loss_at(s: float) -> float:
        return float(ref.loss([s * q, head], X, y, **kw)[0])

    dl_ds = (loss_at(s0 + h) - loss_at(s0 - h)) / (2 * h)
    res = dl.train(
        [s0 * q, head],
        X,
        y,
        lr=lr,
        steps=1,
        manifold=["stiefel", "euclidean"],
        learn_scale=True,
        **kw,
    )
    assert res.state.scales[0, 0] == pytest.approx(s0 - lr * dl_ds, rel=1e-12, abs=1e-12)
    assert abs(dl_ds) > 1e-3  # the check is not vacuous


def test_target_accuracy_stops_on_the_minibatch_accuracy() -> None:
    """The accuracy stop rule reads the step's mini-batch (as Huang et al.): it fires at the
    first step whose batch accuracy is ≥ the target, and the network is frozen there."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 40))
    y = (X[0] > 0).astype(np.int64)  # separable: class = sign of the first input
    w = [rng.standard_normal((3, 2, 4)) * 0.01]
    res = dl.train(
        w,
        X,
        y,
        lr=1.0,
        steps=50,
        loss="cross_entropy",
        batch_size=8,
        data_seed=0,
        target_accuracy=0.9,
        record=["batch_accuracy"],
    )
    for b in range(3):
        t = res.steps_to_accuracy[b]
        acc = res.records["batch_accuracy"][b]
        assert 0 <= t < 50 and acc[t] >= 0.9 and (acc[:t] < 0.9).all()
        assert res.state.step[b] == t  # frozen: no update after the stop
        assert (acc[t:] == acc[t]).all()


def test_the_reference_continues_from_an_engine_state() -> None:
    """The state's layout is the documented one: the NumPy reference, handed the engine's state
    after 3 steps, continues to what the engine reaches in 7 (Stiefel + Adam + learned scale +
    biases + mini-batches)."""
    w, X, Y = _problem("stiefel_adam_scale")
    cfg = {"lr": 0.02, **_config("stiefel_adam_scale"), "record": ()}
    cfg["biases"] = [np.full((4, d), 0.1) for d in (5, 5, 3)]
    first = dl.train(w, X, Y, steps=3, data_seed=8, **cfg)
    rest = ref.train(
        first.weights, X, Y, steps=4, state=first.state, **{**cfg, "biases": first.biases}
    )
    whole = dl.train(w, X, Y, steps=7, data_seed=8, **cfg)
    for a, b in zip(rest.weights, whole.weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rest.state.scales, whole.state.scales, rtol=1e-12)
    for name, a, b in zip(whole.state.slot_names, rest.state.slots, whole.state.slots, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=name)
