"""The engine's group rates, lr schedules, weight decay, RMSProp, AdamW and Oblique layers keep
the engine's own guarantees: chained calls (``state=``) continue a schedule and every buffer bit
for bit; thread counts and batchings give the same bits; a constant schedule and equal group
rates change no bit of an old call; every bad value is a typed error naming its argument (never
a Rust panic); and ``dl.train``'s flat keywords become one ``deeplinear.options.TrainOptions``
value. (The engine-vs-reference comparisons are in test_train_options.py, test_optim.py and
test_oblique.py.)"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import deeplinear as dl
from deeplinear import errors, optim
from deeplinear.options import TrainOptions
from helpers import assert_results_identical, raises_clean

DIMS = [4, 6, 5, 3]
BATCH = 4


def unit_rows(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
    w = rng.standard_normal(shape)
    return scale * w / np.linalg.norm(w, axis=-1, keepdims=True)


def problem(seed: int = 0, dtype: Any = np.float64) -> tuple[list[np.ndarray], list[Any], Any, Any]:
    """A 3-layer tanh net with biases: layer 0 Oblique (rows of norm 1.3), layer 1 Stiefel,
    layer 2 Euclidean; mini-batches of a 10-example set."""
    rng = np.random.default_rng(seed)
    w0 = unit_rows(rng, (BATCH, DIMS[1], DIMS[0]), 1.3)
    w1 = 0.8 * dl.init.orthogonal(DIMS[1:3], batch=BATCH, seed=seed)[0]
    w2 = rng.standard_normal((BATCH, DIMS[3], DIMS[2])) / 3
    biases = [0.1 * rng.standard_normal((BATCH, d)) for d in DIMS[1:]]
    X = rng.standard_normal((DIMS[0], 10))
    Y = rng.standard_normal((DIMS[3], 10))
    cast = [w.astype(dtype) for w in (w0, w1, w2)]
    return cast, [b.astype(dtype) for b in biases], X.astype(dtype), Y.astype(dtype)


#: Every new feature at once, per optimiser.
FEATURES: dict[str, dict[str, Any]] = {
    "rmsprop": {
        "optimizer": "rmsprop",
        "momentum": 0.5,
        "centered": True,
        "decay": 0.9,
        "weight_decay": optim.Rates(0.01, biases=0.02, scales=[0.0, 0.1, 0.2, 0.3]),
        "lr": optim.Rates([1e-3, 2e-3, 3e-3, 4e-3], manifold=5e-3, output=1e-3, scales=2e-3),
        "lr_schedule": optim.warmup_cosine(7, warmup_steps=2, final=0.1),
    },
    "adamw": {
        "optimizer": "adamw",
        "weight_decay": optim.Rates(0.05, scales=0.1),
        "lr": optim.Rates(0.01, manifold=0.005, biases=0.02),
        "lr_schedule": optim.step_decay(3, 0.5),
    },
    "sgd": {
        "optimizer": "sgd",
        "momentum": 0.9,
        "nesterov": True,
        "weight_decay": 0.01,
        "lr": 0.02,
        "lr_schedule": optim.exponential_decay(0.9, every=2),
    },
}


def kwargs_of(name: str) -> dict[str, Any]:
    return {
        "activation": "tanh",
        "manifold": ["oblique", "stiefel", "euclidean"],
        "learn_scale": True,
        "oblique_penalty": 0.3,
        "batch_size": 3,
        "data_seed": 11,
        **FEATURES[name],
    }


@pytest.mark.parametrize("name", sorted(FEATURES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_chained_calls_continue_schedules_and_buffers_bit_for_bit(name: str, dtype: Any) -> None:
    w, b, X, Y = problem(1, dtype)
    kw = kwargs_of(name)
    whole = dl.train(w, X, Y, biases=b, steps=7, **kw)
    first = dl.train(w, X, Y, biases=b, steps=3, **kw)
    rest = dl.train(
        first.weights,
        X,
        Y,
        biases=first.biases,
        steps=4,
        state=first.state,
        **{k: v for k, v in kw.items() if k != "data_seed"},
    )
    for j, (got, want) in enumerate(zip(rest.weights, whole.weights, strict=True)):
        assert np.array_equal(got, want), f"weights[{j}]"
    for j, (got, want) in enumerate(zip(rest.biases or [], whole.biases or [], strict=True)):
        assert np.array_equal(got, want), f"biases[{j}]"
    assert np.array_equal(rest.loss[:, -1], whole.loss[:, -1])
    assert rest.state is not None and whole.state is not None
    assert rest.state.slot_names == whole.state.slot_names
    for slot, got, want in zip(rest.state.slot_names, rest.state.slots, whole.state.slots):
        assert np.array_equal(got, want), slot
    assert np.array_equal(rest.state.scales, whole.state.scales, equal_nan=True)
    assert whole.state.optimizer == name
    # The schedule and decay moved something: not a run that stood still.
    assert not np.array_equal(whole.weights[2], w[2])


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_threads_and_batching_give_the_same_bits(name: str) -> None:
    w, b, X, Y = problem(2)
    kw = kwargs_of(name)
    kw["data_seed"] = [5, 6, 7, 8]
    one = dl.train(w, X, Y, biases=b, steps=5, threads=1, **kw)
    many = dl.train(w, X, Y, biases=b, steps=5, threads=3, **kw)
    assert_results_identical(one, many)
    # Network 2 alone, with its own rates (per-network entries sliced) and seed.
    alone_kw = dict(kw, data_seed=[7])
    for key in ("lr", "weight_decay"):
        value = kw[key]
        if isinstance(value, optim.Rates):
            picked = {
                g: (v[2:3] if isinstance(v, tuple) else v)
                for g in ("manifold", "output", "biases", "scales")
                if (v := getattr(value, g)) is not None
            }
            base = value.base[2:3] if isinstance(value.base, tuple) else value.base
            alone_kw[key] = optim.Rates(base, **picked)
    alone = dl.train(
        [x[2:3] for x in w], X, Y, biases=[x[2:3] for x in b], steps=5, threads=1, **alone_kw
    )
    for j, (got, want) in enumerate(zip(alone.weights, one.weights, strict=True)):
        assert np.array_equal(got[0], want[2]), f"weights[{j}]"


@pytest.mark.parametrize("optimizer", ["gd", "sgd", "adam"])
def test_constant_schedule_zero_decay_and_equal_groups_change_no_bit(optimizer: str) -> None:
    rng = np.random.default_rng(3)
    w = [rng.standard_normal((BATCH, 6, 5)) / 3, rng.standard_normal((BATCH, 3, 6)) / 3]
    X, Y = rng.standard_normal((5, 10)), rng.standard_normal((3, 10))
    base = dl.train(w, X, Y, lr=0.01, steps=6, optimizer=optimizer)
    same = dl.train(
        w,
        X,
        Y,
        lr=optim.Rates(0.01, output=0.01),
        steps=6,
        optimizer=optimizer,
        lr_schedule=optim.constant(),
        weight_decay=0.0,
    )
    assert_results_identical(base, same)


def test_the_schedule_is_evaluated_at_each_networks_own_step() -> None:
    # Plain GD on one 1x1 layer with l = w^2/2: update t is w <- w - lr*f(t)*w. A call
    # continuing from a state 4 updates in takes the factor f(4) = 0.5 first, not f(0) = 1.
    w = [np.array([[[0.5]]])]
    X, Y = np.ones((1, 1)), np.zeros((1, 1))
    sched = optim.step_decay(4, 0.5)
    first = dl.train(w, X, Y, lr=0.1, steps=4, lr_schedule=sched)
    w4 = float(first.weights[0][0, 0, 0])
    assert np.isclose(w4, 0.5 * 0.9**4, rtol=1e-15)
    nxt = dl.train(first.weights, X, Y, lr=0.1, steps=1, lr_schedule=sched, state=first.state)
    assert float(nxt.weights[0][0, 0, 0]) == w4 - 0.1 * 0.5 * w4


def test_flat_keywords_become_one_options_value() -> None:
    opts = TrainOptions.from_keywords(
        {
            "lr": [0.1, 0.2],
            "steps": 3,
            "weight_decay": 0.01,
            "optimizer": "rmsprop",
            "centered": True,
            "record": {"loss": 1, "accuracy": 2},
            "manifold": "oblique",
        },
        batch=2,
        depth=2,
        has_biases=False,
        has_state=False,
    )
    assert opts.lr == optim.Rates([0.1, 0.2])
    assert opts.weight_decay == optim.Rates(0.01)
    assert opts.record == (("loss", 1), ("accuracy", 2))
    assert opts.manifold == ("oblique",)
    assert opts.lr_schedule is None and opts.centered and opts.decay is None
    no_decay = TrainOptions.from_keywords(
        {"lr": 0.1, "steps": 1, "weight_decay": [0.0, 0.0]},
        batch=2,
        depth=1,
        has_biases=False,
        has_state=False,
    )
    assert no_decay.weight_decay is None
    # Every option of dl.train is a field of the value, and nothing else.
    import inspect

    arrays = {"weights", "X", "Y", "biases", "eval_data", "state", "record_data"}
    params = set(inspect.signature(dl.train).parameters) - arrays
    assert params == set(TrainOptions.keywords())


def bad_calls() -> list[tuple[dict[str, Any], type[Exception], str]]:
    return [
        ({"lr": optim.Rates(0.1, manifold=0.1)}, errors.InvalidValueError, r"lr\.manifold"),
        ({"lr": optim.Rates(0.1, biases=0.1)}, errors.InvalidValueError, r"lr\.biases"),
        ({"lr": optim.Rates(0.1, scales=0.1)}, errors.InvalidValueError, r"lr\.scales"),
        ({"lr": optim.Rates(0.1, output=[0.1, float("nan")])}, ValueError, r"lr\.output"),
        ({"lr": optim.Rates(0.1, output=[0.1])}, ValueError, r"lr\.output"),
        ({"weight_decay": -0.1}, ValueError, "weight_decay"),
        ({"weight_decay": optim.Rates(0.1, manifold=0.1)}, ValueError, r"weight_decay\.manifold"),
        ({"lr_schedule": "cosine"}, errors.ArgumentTypeError, "lr_schedule"),
        ({"optimizer": "rmsprop", "decay": 1.0}, errors.InvalidValueError, "decay"),
        ({"optimizer": "rmsprop", "decay": -0.1}, errors.InvalidValueError, "decay"),
        ({"optimizer": "adam", "decay": 0.9}, errors.InvalidValueError, "decay"),
        ({"optimizer": "adam", "centered": True}, errors.InvalidValueError, "centered"),
        ({"optimizer": "rmsprop", "eps": 0.0}, errors.InvalidValueError, "eps"),
        ({"centered": 1}, errors.ArgumentTypeError, "centered"),
        ({"oblique_penalty": 0.1}, errors.InvalidValueError, "oblique_penalty"),
        ({"oblique_penalty": "x"}, errors.ArgumentTypeError, "oblique_penalty"),
        ({"manifold": "oblique", "oblique_penalty": -1.0}, ValueError, "oblique_penalty"),
        ({"manifold": "oblique", "oblique_penalty": float("inf")}, ValueError, "oblique_penalty"),
        ({"learn_scale": True}, errors.InvalidValueError, "learn_scale"),
    ]


@pytest.mark.parametrize(("extra", "error", "match"), bad_calls())
def test_bad_options_are_typed_errors_naming_the_argument(
    extra: dict[str, Any], error: type[Exception], match: str
) -> None:
    rng = np.random.default_rng(0)
    w = [unit_rows(rng, (2, 3, 4)), unit_rows(rng, (2, 2, 3))]
    X, Y = rng.standard_normal((4, 5)), rng.standard_normal((2, 5))
    with raises_clean(error, match):
        dl.train(w, X, Y, **{"lr": 0.1, "steps": 2, **extra})


def test_oblique_layers_must_start_on_the_manifold_and_hold_a_sphere() -> None:
    rng = np.random.default_rng(0)
    good = unit_rows(rng, (2, 3, 4))
    off = good.copy()
    off[1, 2] *= 1.5  # one row of network 1 off the common norm
    tail = unit_rows(rng, (2, 2, 3))
    X, Y = rng.standard_normal((4, 5)), rng.standard_normal((2, 5))
    with raises_clean(errors.InvalidValueError, r"weights\[0\].*oblique"):
        dl.train([off, tail], X, Y, lr=0.1, steps=1, manifold="oblique")
    # A layer with one input per unit cannot hold a sphere of more than two points.
    thin = [unit_rows(rng, (2, 3, 1)), unit_rows(rng, (2, 2, 3))]
    with raises_clean(errors.InvalidValueError, r"weights\[0\].*oblique"):
        dl.train(thin, X[:1], Y, lr=0.1, steps=1, manifold="oblique")
    # Euclidean there, Oblique where it fits: fine; every row keeps its norm.
    res = dl.train(thin, X[:1], Y, lr=0.1, steps=3, manifold=["euclidean", "oblique"])
    norms = np.linalg.norm(res.weights[1], axis=-1)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-14)
