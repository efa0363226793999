"""Bad values of the training options raise ValueError/TypeError naming the argument, in the
Rust-backed package and in the NumPy reference alike; never a panic."""

from __future__ import annotations

import numpy as np
import pytest

import deeplinear as dl
from deeplinear import reference as ref
from helpers import raises_clean

RNG = np.random.default_rng(0)
W = [0.5 * RNG.standard_normal((2, 4, 3)), 0.5 * RNG.standard_normal((2, 3, 4))]
X = RNG.standard_normal((3, 5))
LABELS = np.array([0, 2, 1, 1, 0])
Y = RNG.standard_normal((3, 5))


@pytest.fixture(params=[dl, ref], ids=["rust", "reference"])
def impl(request: pytest.FixtureRequest):
    return request.param


def _train(impl, weights=W, x=X, y=LABELS, **kwargs):
    kwargs = {"lr": 0.01, "steps": 2, "loss": "cross_entropy", **kwargs}
    return impl.train(weights, x, y, **kwargs)


@pytest.mark.parametrize(
    ("labels", "exc"),
    [
        (np.array([0, 3, 1, 1, 0]), ValueError),  # out of range (3 classes)
        (np.array([0, -1, 1, 1, 0]), ValueError),
        (np.array([0.0, 2.0, 1.0, 1.0, 0.0]), TypeError),  # not integers
        (np.array([True, False, True, True, False]), TypeError),
        (np.array([0, 1, 2, 1]), ValueError),  # wrong length
        (np.zeros((3, 5), dtype=np.int64), ValueError),  # wrong batch
        (np.zeros((2, 2, 5), dtype=np.int64), ValueError),  # wrong ndim
    ],
)
def test_bad_labels_name_Y(impl, labels, exc) -> None:
    with raises_clean(exc, "Y"):
        _train(impl, y=labels)


def test_cross_entropy_needs_two_outputs(impl) -> None:
    with raises_clean(ValueError, "loss|cross_entropy"):
        _train(impl, weights=[W[0][:, :1, :]], y=np.zeros(5, dtype=np.int64))


@pytest.mark.parametrize("batch_size", [0, -1, 6])
def test_batch_size_outside_1_to_n(impl, batch_size) -> None:
    with raises_clean(ValueError, "batch_size"):
        _train(impl, batch_size=batch_size, data_seed=0)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"optimizer": "sgd", "momentum": 1.0}, "momentum"),
        ({"optimizer": "sgd", "momentum": -0.1}, "momentum"),
        ({"optimizer": "sgd", "momentum": float("nan")}, "momentum"),
        ({"optimizer": "adam", "betas": (0.9, 1.0)}, "betas"),
        ({"optimizer": "adam", "betas": (-0.1, 0.9)}, "betas"),
        ({"optimizer": "adam", "eps": 0.0}, "eps"),
        ({"optimizer": "adam", "eps": -1e-8}, "eps"),
        ({"optimizer": "gd", "momentum": 0.9}, "momentum"),
        ({"optimizer": "adam", "nesterov": True}, "nesterov"),
        ({"optimizer": "sgd", "betas": (0.9, 0.99)}, "betas"),
        ({"optimizer": "gd", "eps": 1e-8}, "eps"),
        ({"optimizer": "sgd", "nesterov": True}, "nesterov"),  # needs a momentum
        ({"optimizer": "lion"}, "optimizer"),
        ({"loss": "hinge"}, "loss"),
        ({"reduction": "max"}, "reduction"),
    ],
)
def test_optimiser_and_loss_options(impl, kwargs, name) -> None:
    with raises_clean(ValueError, name):
        _train(impl, **kwargs)


@pytest.mark.parametrize("target", [0.0, -0.5, 1.01, float("nan")])
def test_target_accuracy_outside_0_1(impl, target) -> None:
    with raises_clean(ValueError, "target_accuracy"):
        _train(impl, target_accuracy=target)


@pytest.mark.parametrize(
    "eval_data",
    [
        (np.zeros((4, 3)), np.zeros(3, dtype=np.int64)),  # X_test rows != d_0
        (np.zeros((3, 3)), np.zeros(4, dtype=np.int64)),  # labels != columns
        (np.zeros((3, 3, 3)), np.zeros(3, dtype=np.int64)),  # batch 3 != 2
        (np.zeros((3, 3)), np.array([0, 5, 1])),  # label out of range
    ],
)
def test_eval_data_of_the_wrong_shape(impl, eval_data) -> None:
    with raises_clean(ValueError, "eval_data"):
        _train(impl, eval_data=eval_data, record=["test_loss"])


def test_eval_data_must_be_a_pair() -> None:
    with raises_clean((TypeError, ValueError), "eval_data"):
        _train(dl, eval_data=(X,))


@pytest.mark.parametrize("manifold", [["stiefel"] * 3, ["stiefel", "euclidean", "stiefel"]])
def test_manifold_list_of_the_wrong_length(impl, manifold) -> None:
    with raises_clean(ValueError, "manifold"):
        _train(impl, manifold=manifold)


def test_unknown_manifold(impl) -> None:
    with raises_clean(ValueError, "manifold"):
        _train(impl, manifold="sphere")


def test_learn_scale_without_a_stiefel_layer(impl) -> None:
    with raises_clean(ValueError, "learn_scale"):
        _train(impl, learn_scale=True)


@pytest.mark.parametrize(
    ("record", "kwargs"),
    [
        (["test_accuracy"], {}),  # no eval_data
        (["singular_values"], {"activation": "tanh"}),  # linear chains only
        (["balancedness"], {"biases": [np.zeros((2, 4)), None]}),
        (["energy"], {}),
        ({"loss": 3}, {}),  # the loss is recorded every record_every steps
    ],
)
def test_record_names(impl, record, kwargs) -> None:
    with raises_clean(ValueError, "record"):
        _train(impl, record=record, **kwargs)


def test_accuracy_of_mse_needs_two_outputs(impl) -> None:
    w = [W[0][:, :1, :]]
    with raises_clean(ValueError, "record"):
        impl.train(w, X, Y[:1], lr=0.1, steps=1, record=["accuracy"])
    with raises_clean(ValueError, "target_accuracy"):
        impl.train(w, X, Y[:1], lr=0.1, steps=1, target_accuracy=0.5)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"learn_scale": 1}, "learn_scale"),
        ({"nesterov": "yes"}, "nesterov"),
        ({"betas": 0.9}, "betas"),
        ({"record": "accuracy"}, "record"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"data_seed": "seed", "batch_size": 2}, "data_seed"),
        ({"manifold": 3}, "manifold"),
        ({"state": object()}, "state"),
    ],
)
def test_types_are_checked(kwargs, name) -> None:
    with raises_clean(TypeError, name):
        _train(dl, **kwargs)


def test_data_seed_per_network_must_match_the_batch() -> None:
    with raises_clean(ValueError, "data_seed"):
        _train(dl, batch_size=2, data_seed=[1, 2, 3])


def test_stiefel_layers_must_start_orthogonal(impl) -> None:
    with raises_clean(ValueError, r"weights\[0\]"):
        _train(impl, manifold=["stiefel", "euclidean"])
