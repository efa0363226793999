"""train(progress=True) runs the steps in chunks under a tqdm bar: it must return what one call
returns, bit for bit, in every mode that stops networks or keeps state."""

from __future__ import annotations

import numpy as np
import pytest

import deeplinear as dl
from deeplinear import _progress


def _assert_same(one: dl.TrainResult, chunked: dl.TrainResult) -> None:
    for a, b in zip(one.weights, chunked.weights, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(one.loss, chunked.loss)
    np.testing.assert_array_equal(one.final_loss, chunked.final_loss)
    np.testing.assert_array_equal(one.steps_to_tol, chunked.steps_to_tol)
    np.testing.assert_array_equal(one.steps_to_accuracy, chunked.steps_to_accuracy)
    np.testing.assert_array_equal(one.diverged, chunked.diverged)
    assert one.records.keys() == chunked.records.keys()
    for name in one.records:
        np.testing.assert_array_equal(one.records[name], chunked.records[name], err_msg=name)
    if one.biases is not None:
        assert chunked.biases is not None
        for a, b in zip(one.biases, chunked.biases, strict=True):
            np.testing.assert_array_equal(a, b)
    assert one.state is not None and chunked.state is not None
    np.testing.assert_array_equal(one.state.step, chunked.state.step)
    np.testing.assert_array_equal(one.state.data_seed, chunked.state.data_seed)
    assert one.state.slot_names == chunked.state.slot_names
    for a, b in zip(one.state.slots, chunked.state.slots, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of a few steps, so every test crosses many chunk boundaries."""
    monkeypatch.setattr(_progress, "CHUNK_SECONDS", 1e-6)
    monkeypatch.setattr(_progress, "MOST_UPDATES", 10**9)


def _problem(
    batch: int = 6, n: int = 24, seed: int = 0
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, list[int]]:
    dims = [5, 12, 12, 3]
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((5, n))
    Y = rng.standard_normal((3, 5)) @ X
    return dl.init.gaussian(dims, batch=batch, seed=seed), X, Y, dims


def test_full_batch_with_records_and_tol_stops(small_chunks: None) -> None:
    weights, X, Y, dims = _problem()
    # per-network rates: some networks reach the tolerance early, one diverges
    lr = np.array([1e-3, 5e-3, 2e-2, 4e-2, 1e-3, 1.0])
    options = {
        "lr": lr,
        "steps": 403,
        "alpha": dl.fanout_alpha(dims),
        "tol": 1e-1,
        "record_every": 2,
        "record": {"balancedness": 6, "singular_values": 3, "grad_norms": 2},
    }
    one = dl.train(weights, X, Y, **options)
    assert (one.steps_to_tol >= 0).any() and (one.steps_to_tol < 0).any()
    assert one.diverged.any()
    _assert_same(one, dl.train(weights, X, Y, progress=True, **options))


def test_group_rates_decay_and_schedule_follow_the_running_networks(small_chunks: None) -> None:
    # per-network group rates and weight decay must be cut to the networks still running
    weights, X, Y, dims = _problem()
    options = {
        "lr": dl.optim.Rates(
            np.array([1e-3, 5e-3, 2e-2, 4e-2, 1e-3, 1.0]), output=np.linspace(1e-3, 3e-2, 6)
        ),
        "weight_decay": np.array([0.0, 1e-3, 0.0, 1e-2, 0.1, 0.0]),
        "lr_schedule": dl.optim.warmup_cosine(300, warmup_steps=20, final=0.1),
        "steps": 301,
        "alpha": dl.fanout_alpha(dims),
        "tol": 1e-1,
    }
    one = dl.train(weights, X, Y, **options)
    assert (one.steps_to_tol >= 0).any() and (one.steps_to_tol < 0).any()
    _assert_same(one, dl.train(weights, X, Y, progress=True, **options))


def test_mini_batches_momentum_and_accuracy_stop(small_chunks: None) -> None:
    weights, X, _, dims = _problem(n=40)
    labels = np.random.default_rng(1).integers(0, 3, size=40)
    options = {
        "lr": np.linspace(0.01, 0.2, 6),
        "steps": 250,
        "alpha": dl.fanout_alpha(dims),
        "loss": "cross_entropy",
        "optimizer": "sgd",
        "momentum": 0.9,
        "batch_size": 7,
        "data_seed": 11,
        "target_accuracy": 0.9,
        "record": ["accuracy", "loss"],
        "record_every": 5,
    }
    one = dl.train(weights, X, labels, **options)
    _assert_same(one, dl.train(weights, X, labels, progress=True, **options))


def test_adam_tol_with_mini_batches_and_fresh_data_seed(small_chunks: None) -> None:
    weights, X, Y, dims = _problem()
    options = {
        "lr": 1e-2,
        "steps": 180,
        "alpha": dl.fanout_alpha(dims),
        "optimizer": "adam",
        "batch_size": 5,
        "tol": 5.0,
    }
    chunked = dl.train(weights, X, Y, progress=True, **options)
    assert chunked.state is not None
    # the data_seed drawn for data_seed=None is kept in the state: an int seed s gives
    # network b the stream (s, b), so passing s again repeats the run
    seed = int(chunked.state.data_seed[0, 0])
    np.testing.assert_array_equal(chunked.state.data_seed[:, 1], np.arange(6))
    one = dl.train(weights, X, Y, data_seed=seed, **options)
    _assert_same(one, chunked)


def test_biases_and_per_network_data(small_chunks: None) -> None:
    dims = [4, 8, 2]
    rng = np.random.default_rng(3)
    weights = dl.init.gaussian(dims, batch=3, seed=3, std=0.5)
    biases = [rng.standard_normal((3, 8)), None]
    X = rng.standard_normal((3, 4, 10))
    Y = rng.standard_normal((3, 2, 10))
    options = {
        "lr": 0.01,
        "steps": 97,
        "activation": "tanh",
        "biases": biases,
        "tol": 1.0,
        "record_every": 3,
    }
    one = dl.train(weights, X, Y, **options)
    _assert_same(one, dl.train(weights, X, Y, progress=True, **options))


def test_progress_continues_a_state(small_chunks: None) -> None:
    weights, X, Y, dims = _problem()
    options = {"lr": 1e-3, "alpha": dl.fanout_alpha(dims), "optimizer": "sgd", "momentum": 0.5}
    start = dl.train(weights, X, Y, steps=10, **options)
    one = dl.train(start.weights, X, Y, steps=50, state=start.state, **options)
    chunked = dl.train(start.weights, X, Y, steps=50, state=start.state, progress=True, **options)
    _assert_same(one, chunked)


def test_progress_bar_counts_steps(capsys: pytest.CaptureFixture[str]) -> None:
    weights, X, Y, dims = _problem()
    dl.train(weights, X, Y, lr=1e-3, steps=40, alpha=dl.fanout_alpha(dims), progress=True)
    assert "40/40" in capsys.readouterr().err


def test_progress_must_be_a_flag() -> None:
    weights, X, Y, _ = _problem()
    with pytest.raises(dl.ArgumentTypeError, match="progress"):
        dl.train(weights, X, Y, lr=1e-3, steps=4, progress="yes")


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_fisher_progress_equals_one_call(small_chunks: None, loss: str) -> None:
    dims = [6, 10, 10, 3]
    weights = dl.init.gaussian(dims, batch=5, seed=4)
    X = np.random.default_rng(4).standard_normal((5, 6, 8))  # per-network inputs
    options = {"activation": "tanh", "loss": loss, "k": 2}
    one = dl.metrics.fisher_max_eigenvalue(weights, X, **options)
    chunked = dl.metrics.fisher_max_eigenvalue(weights, X, progress=True, threads=1, **options)
    np.testing.assert_array_equal(one, chunked)
    labels = np.random.default_rng(5).integers(0, 3, size=(5, 8))
    if loss == "cross_entropy":
        options.update(fisher="empirical", labels=labels)
        one = dl.metrics.fisher_max_eigenvalue(weights, X, **options)
        chunked = dl.metrics.fisher_max_eigenvalue(weights, X, progress=True, threads=1, **options)
        np.testing.assert_array_equal(one, chunked)


def test_jacobian_progress_equals_one_call(small_chunks: None) -> None:
    weights = dl.init.orthogonal([6, 16, 16, 4], batch=5, seed=0)
    X = np.random.default_rng(0).standard_normal((6, 7))
    one = dl.metrics.jacobian_max_singular_value(weights, X, activation="tanh")
    chunked = dl.metrics.jacobian_max_singular_value(
        weights, X, activation="tanh", progress=True, threads=2
    )
    np.testing.assert_array_equal(one, chunked)


def test_jacobian_progress_warns_once_with_the_total(small_chunks: None) -> None:
    weights = dl.init.gaussian([6, 16, 16, 4], batch=4, seed=0)
    X = np.random.default_rng(0).standard_normal((6, 5))
    with pytest.warns(RuntimeWarning, match="20 of 20 inputs did not converge") as caught:
        dl.metrics.jacobian_max_singular_value(
            weights, X, iterations=1, tol=0.0, progress=True, threads=1
        )
    assert len(caught) == 1


def test_ctrl_c_in_a_chunk_stops_the_chain(small_chunks: None) -> None:
    """A KeyboardInterrupt from the engine (Ctrl-C) leaves at once; no later chunk runs."""
    calls = []
    weights, X, Y, dims = _problem()
    real_train = dl.train

    def interrupted(**arguments: object) -> dl.TrainResult:
        calls.append(arguments["steps"])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_train(**arguments)  # type: ignore[arg-type]

    arguments = {
        "weights": weights,
        "X": X,
        "Y": Y,
        "lr": 1e-3,
        "steps": 10_000,
        "alpha": dl.fanout_alpha(dims),
        "tol": None,
        "record_every": 1,
        "threads": None,
        "activation": "linear",
        "biases": None,
        "parameterization": "standard",
        "sigma_w": 1.0,
        "record": (),
        "manifold": "euclidean",
        "loss": "mse",
        "reduction": None,
        "optimizer": "gd",
        "momentum": None,
        "nesterov": False,
        "betas": None,
        "eps": None,
        "batch_size": None,
        "data_seed": None,
        "learn_scale": False,
        "eval_data": None,
        "target_accuracy": None,
        "state": None,
        "record_data": None,
        "progress": True,
    }
    with pytest.raises(KeyboardInterrupt):
        _progress.chunked_train(interrupted, arguments, {})
    assert len(calls) == 2
