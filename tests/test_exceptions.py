"""deeplinear's exception hierarchy: one base class, subclasses of the built-ins code catches."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import deeplinear as dl
from deeplinear import errors


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.ShapeError, ValueError),
        (errors.InvalidValueError, ValueError),
        (errors.ArgumentTypeError, TypeError),
        (errors.NoConvergenceError, np.linalg.LinAlgError),
        (errors.OutOfMemoryError, MemoryError),
    ],
)
def test_every_class_is_ours_and_a_builtin(cls, builtin) -> None:
    assert issubclass(cls, errors.DeeplinearError) and issubclass(cls, builtin)
    assert cls.__module__ == "deeplinear.errors" and getattr(dl, cls.__name__) is cls
    again = pickle.loads(pickle.dumps(cls("message")))  # crosses process boundaries (Dask)
    assert type(again) is cls and str(again) == "message"


def test_classes_pickle_under_dask_exception_pickling() -> None:
    """Dask's workers install tblib's exception pickling; every class must survive it."""
    tblib = pytest.importorskip("tblib.pickling_support")
    tblib.install()
    for cls in (errors.ShapeError, errors.OutOfMemoryError, errors.NoConvergenceError):
        again = pickle.loads(pickle.dumps(cls("message")))
        assert type(again) is cls and str(again) == "message"


def test_core_errors_map_to_their_class() -> None:
    w = dl.init.gaussian([2, 3], seed=0)
    with pytest.raises(errors.ShapeError, match="Y"):
        dl.train(w, np.ones((2, 4)), np.ones((3, 5)), lr=0.1, steps=1)
    with pytest.raises(errors.InvalidValueError, match="lr"):
        dl.train(w, np.ones((2, 4)), np.ones((3, 4)), lr=-1.0, steps=1)
    with pytest.raises(errors.InvalidValueError, match="activation"):
        dl.train(w, np.ones((2, 4)), np.ones((3, 4)), lr=0.1, steps=1, activation="sigmoid")


def test_python_side_checks_raise_ours_too() -> None:
    with pytest.raises(errors.ArgumentTypeError, match="dtype"):
        dl.init.gaussian([2, 3], seed=0, dtype=np.int8)
    with pytest.raises(errors.ArgumentTypeError, match="steps"):
        dl.train(dl.init.gaussian([2, 3], seed=0), None, np.ones((3, 2)), lr=0.1, steps=1.5)


def test_module_checks_raise_ours(tmp_path) -> None:
    """The checks written in dl.init, dl.metrics, dl.kernels and dl.data raise our classes too,
    so `except dl.DeeplinearError` catches every argument error of the array API."""
    w = dl.init.gaussian([2, 3, 2], seed=0)
    with pytest.raises(errors.InvalidValueError, match="i:"):
        dl.metrics.partial_product_singular_values(w, i=1, j=0)
    with pytest.raises(errors.ArgumentTypeError, match="per_layer"):
        dl.metrics.balancedness(w, per_layer="yes")
    with pytest.raises(errors.ArgumentTypeError, match="randomize"):
        dl.init.balanced([2, 3, 2], seed=0, randomize=1)
    with pytest.raises(errors.ArgumentTypeError, match="X"):
        dl.kernels.nngp(
            [2, 3, 1], np.array([["a", "b"], ["c", "d"]]), activation="relu", sigma_w=1.0
        )
    bad = tmp_path / "bad.npz"
    np.savez(bad, X=np.ones((4, 3)), y=np.ones(5))
    with pytest.raises(errors.ShapeError, match="'y'"):
        dl.data.load_npz(bad)
    with pytest.raises(errors.InvalidValueError, match="q_star"):
        dl.data.scale_to_q_star(np.ones((3, 4)), -1.0)
