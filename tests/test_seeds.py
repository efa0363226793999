"""Seeds: ints, sequences of ints, NumPy SeedSequences and Generators map to the documented ints
(deeplinear.init, "Seeds"), and a seed drawn for None is returned so the run can be repeated."""

from __future__ import annotations

import numpy as np
import pytest

import deeplinear as dl

DIMS = [3, 5, 2]


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("make", [dl.init.gaussian, dl.init.orthogonal])
def test_seed_sequence_maps_to_its_first_64_bit_word(make):
    ss = np.random.SeedSequence(2024)
    word = int(np.random.SeedSequence(2024).generate_state(1, dtype=np.uint64)[0])
    assert _same(make(DIMS, batch=3, seed=ss), make(DIMS, batch=3, seed=word))


def test_generator_maps_to_one_draw_and_advances():
    rng = np.random.default_rng(7)
    twin = np.random.default_rng(7)
    first = dl.init.gaussian(DIMS, batch=2, seed=rng)
    assert _same(
        first, dl.init.gaussian(DIMS, batch=2, seed=int(twin.integers(2**64, dtype=np.uint64)))
    )
    second = dl.init.gaussian(DIMS, batch=2, seed=rng)  # the generator moved on
    assert not _same(first, second)


def test_a_sequence_of_seed_sequences_gives_one_seed_per_network():
    children = np.random.SeedSequence(5).spawn(3)
    words = [int(c.generate_state(1, dtype=np.uint64)[0]) for c in children]
    batch = dl.init.gaussian(DIMS, batch=3, seed=np.random.SeedSequence(5).spawn(3))
    assert _same(batch, dl.init.gaussian(DIMS, batch=3, seed=words))
    # and network b alone, seeded with its own word, equals its row of the batch
    alone = dl.init.gaussian(DIMS, batch=1, seed=[words[1]])
    assert _same([w[1:2] for w in batch], alone)


def test_haar_and_data_seed_take_the_same_forms():
    ss_word = int(np.random.SeedSequence(9).generate_state(1, dtype=np.uint64)[0])
    np.testing.assert_array_equal(
        dl.haar_orthogonal(4, batch=2, seed=np.random.SeedSequence(9)),
        dl.haar_orthogonal(4, batch=2, seed=ss_word),
    )
    w = dl.init.gaussian(DIMS, batch=2, seed=0)
    X, Y = np.ones((3, 8)), np.ones((2, 8))
    options = {"lr": 0.01, "steps": 6, "batch_size": 3}
    by_sequence = dl.train(w, X, Y, data_seed=np.random.SeedSequence(9), **options)
    by_int = dl.train(w, X, Y, data_seed=ss_word, **options)
    np.testing.assert_array_equal(by_sequence.loss, by_int.loss)
    assert by_sequence.data_seed == ss_word


def test_unseeded_training_returns_the_seed_it_drew():
    w = dl.init.gaussian(DIMS, batch=3, seed=0)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3, 9))
    Y = rng.standard_normal((2, 9))
    options = {"lr": 0.05, "steps": 30, "batch_size": 2}
    first = dl.train(w, X, Y, **options)
    other = dl.train(w, X, Y, **options)
    assert isinstance(first.data_seed, int) and first.data_seed != other.data_seed
    assert not np.array_equal(first.loss, other.loss)  # fresh entropy: another order
    again = dl.train(w, X, Y, data_seed=first.data_seed, **options)
    np.testing.assert_array_equal(first.loss, again.loss)
    per_network = dl.train(w, X, Y, data_seed=[4, 5, 6], **options)
    assert per_network.data_seed == [4, 5, 6]
    assert dl.train(w, X, Y, lr=0.05, steps=3).data_seed is None  # full batch draws nothing


def test_bad_seeds_are_refused_with_their_name():
    with pytest.raises(dl.ArgumentTypeError, match="seed: expected None, an int, a numpy"):
        dl.init.gaussian(DIMS, seed=1.5)
    with pytest.raises(dl.InvalidValueError, match="seed"):
        dl.init.gaussian(DIMS, batch=2, seed=np.random.SeedSequence(1).spawn(3))
    with pytest.raises(dl.InvalidValueError, match="seed"):
        dl.init.gaussian(DIMS, seed=-1)
