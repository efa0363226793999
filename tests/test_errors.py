"""Bad input raises ValueError/TypeError naming the argument, before any work; never a panic.

Unusual but valid layouts (Fortran order, strided views) are accepted and give the same bits.
Every check runs against the Rust-backed package and the NumPy reference alike.
"""

from __future__ import annotations

import numpy as np
import pytest

import deeplinear as dl
from deeplinear import reference as ref
from helpers import assert_results_identical, raises_clean


def _problem(batch: int = 2, dims: tuple[int, ...] = (3, 4, 2), n: int = 5, dtype=np.float64):
    rng = np.random.default_rng(0)
    weights = [
        (0.5 * rng.standard_normal((batch, d_out, d_in))).astype(dtype)
        for d_in, d_out in zip(dims[:-1], dims[1:])
    ]
    X = rng.standard_normal((dims[0], n)).astype(dtype)
    Y = rng.standard_normal((dims[-1], n)).astype(dtype)
    return weights, X, Y


@pytest.fixture(params=[dl, ref], ids=["rust", "reference"])
def impl(request: pytest.FixtureRequest):
    """The implementation under test: ``deeplinear`` or ``deeplinear.reference``."""
    return request.param


def _train(impl, **overrides):
    weights, X, Y = _problem()
    kwargs = {"weights": weights, "X": X, "Y": Y, "lr": 0.01, "steps": 3}
    kwargs.update(overrides)
    w, x, y = kwargs.pop("weights"), kwargs.pop("X"), kwargs.pop("Y")
    return impl.train(w, x, y, **kwargs)


W, X0, Y0 = _problem()


# ----------------------------------------------------------------------------------------------
# train: shapes


def test_layers_that_do_not_chain(impl) -> None:
    bad = [W[0], np.zeros((2, 2, 3))]  # d_in 3 != previous d_out 4
    with raises_clean(ValueError, "weights"):
        _train(impl, weights=bad)


def test_weights_not_3d(impl) -> None:
    with raises_clean(ValueError, "weights"):
        _train(impl, weights=[W[0][0], W[1][0]])


def test_empty_weight_list(impl) -> None:
    with raises_clean(ValueError, "weights"):
        _train(impl, weights=[])


@pytest.mark.parametrize("shape", [(2, 0, 3), (0, 4, 3), (2, 4, 0)])
def test_zero_size_weights(impl, shape: tuple[int, int, int]) -> None:
    with raises_clean(ValueError, "weights"):
        _train(impl, weights=[np.zeros(shape), *W[1:]] if shape[1] == 4 else [np.zeros(shape)])


def test_X_rows_mismatch(impl) -> None:
    with raises_clean(ValueError, "X"):
        _train(impl, X=np.zeros((4, 5)))


def test_Y_rows_mismatch(impl) -> None:
    with raises_clean(ValueError, "Y"):
        _train(impl, Y=np.zeros((3, 5)))


def test_X_Y_column_mismatch(impl) -> None:
    with raises_clean(ValueError, "X|Y"):
        _train(impl, Y=np.zeros((2, 6)))


@pytest.mark.parametrize("ndim", [1, 4])
def test_X_wrong_ndim(impl, ndim: int) -> None:
    with raises_clean(ValueError, "X"):
        _train(impl, X=np.zeros((3,) if ndim == 1 else (1, 2, 3, 5)))


def test_batch_mismatch_between_layers(impl) -> None:
    with raises_clean(ValueError, "weights"):
        _train(impl, weights=[W[0], np.zeros((3, 2, 4))])


def test_batch_mismatch_X(impl) -> None:
    with raises_clean(ValueError, "X"):
        _train(impl, X=np.zeros((3, 3, 5)))


def test_batch_mismatch_Y(impl) -> None:
    with raises_clean(ValueError, "Y"):
        _train(impl, Y=np.zeros((5, 2, 5)))


@pytest.mark.parametrize("lr", [np.array([0.1, 0.1, 0.1]), np.array([0.1]), np.zeros((2, 1))])
def test_batch_mismatch_lr(impl, lr: np.ndarray) -> None:
    with raises_clean(ValueError, "lr"):
        _train(impl, lr=lr)


def test_zero_columns_never_panics(impl) -> None:
    """n = 0 is degenerate: either a clean ValueError naming X/Y or a valid (zero-loss) result."""
    try:
        res = _train(impl, X=np.zeros((3, 0)), Y=np.zeros((2, 0)))
    except ValueError as err:
        assert "X" in str(err) or "Y" in str(err)
    except BaseException as err:
        pytest.fail(f"unexpected {type(err).__name__}: {err}")
    else:
        assert np.all(res.loss == 0)


# ----------------------------------------------------------------------------------------------
# train: dtypes


def test_mixed_weight_dtypes(impl) -> None:
    with raises_clean(TypeError, "weights|dtype"):
        _train(impl, weights=[W[0], W[1].astype(np.float32)])


def test_X_dtype_differs_from_weights(impl) -> None:
    with raises_clean(TypeError, "X|dtype"):
        _train(impl, X=X0.astype(np.float32))


def test_Y_dtype_differs_from_weights(impl) -> None:
    w32 = [w.astype(np.float32) for w in W]
    with raises_clean(TypeError, "Y|dtype"):
        _train(impl, weights=w32, X=X0.astype(np.float32), Y=Y0)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.complex128, np.float16, np.bool_])
def test_unsupported_weight_dtype(impl, dtype: type) -> None:
    with raises_clean(TypeError, "weights|dtype"):
        _train(impl, weights=[w.astype(dtype) for w in W], X=X0.astype(dtype), Y=Y0.astype(dtype))


# ----------------------------------------------------------------------------------------------
# train: hyper-parameters


@pytest.mark.parametrize(
    "lr",
    [
        float("nan"),
        float("inf"),
        -0.1,
        np.array([0.1, np.nan]),
        np.array([0.1, -1.0]),
        np.array([np.inf, 0.1]),
    ],
)
def test_bad_lr(impl, lr) -> None:
    with raises_clean(ValueError, "lr"):
        _train(impl, lr=lr)


def test_negative_steps(impl) -> None:
    with raises_clean((ValueError, OverflowError), "steps"):
        _train(impl, steps=-1)


@pytest.mark.parametrize("record_every", [0, -2])
def test_bad_record_every(impl, record_every: int) -> None:
    with raises_clean((ValueError, OverflowError), "record_every"):
        _train(impl, record_every=record_every)


@pytest.mark.parametrize("tol", [-1e-3, float("nan"), float("inf")])
def test_bad_tol(impl, tol: float) -> None:
    with raises_clean(ValueError, "tol"):
        _train(impl, tol=tol)


@pytest.mark.parametrize("alpha", [float("nan"), float("inf"), -float("inf")])
def test_bad_alpha(impl, alpha: float) -> None:
    with raises_clean(ValueError, "alpha"):
        _train(impl, alpha=alpha)


@pytest.mark.parametrize("threads", [0, -1])
def test_bad_threads_train(impl, threads: int) -> None:
    with raises_clean((ValueError, OverflowError), "threads"):
        _train(impl, threads=threads)


def test_bad_input_does_not_touch_inputs(impl) -> None:
    weights, X, Y = _problem()
    copies = [w.copy() for w in weights]
    with raises_clean(ValueError, "lr"):
        impl.train(weights, X, Y, lr=-1.0, steps=3)
    assert all(np.array_equal(a, b) for a, b in zip(weights, copies))


# ----------------------------------------------------------------------------------------------
# haar and init


@pytest.mark.parametrize("rows", [0, -3])
def test_haar_bad_rows(impl, rows: int) -> None:
    with raises_clean((ValueError, OverflowError), "rows"):
        impl.haar_orthogonal(rows)


def test_haar_bad_cols(impl) -> None:
    with raises_clean((ValueError, OverflowError), "cols"):
        impl.haar_orthogonal(3, 0)


def test_haar_bad_batch(impl) -> None:
    with raises_clean((ValueError, OverflowError), "batch"):
        impl.haar_orthogonal(3, batch=0)


def test_haar_negative_seed(impl) -> None:
    with raises_clean((ValueError, OverflowError), "seed"):
        impl.haar_orthogonal(3, seed=-1)


def test_haar_bad_dtype(impl) -> None:
    with raises_clean(TypeError, "dtype"):
        impl.haar_orthogonal(3, dtype=np.int64)


def test_haar_bad_threads(impl) -> None:
    with raises_clean((ValueError, OverflowError), "threads"):
        impl.haar_orthogonal(3, threads=0)


@pytest.mark.parametrize("scheme", ["gaussian", "orthogonal"])
@pytest.mark.parametrize("dims", [[], [3], [3, 0, 2], [0, 2]])
def test_init_bad_dims(impl, scheme: str, dims: list[int]) -> None:
    with raises_clean((ValueError, OverflowError), "dims"):
        getattr(impl.init, scheme)(dims, seed=0)


@pytest.mark.parametrize("scheme", ["gaussian", "orthogonal"])
def test_init_negative_seed(impl, scheme: str) -> None:
    with raises_clean((ValueError, OverflowError), "seed"):
        getattr(impl.init, scheme)([2, 2], seed=-5)


@pytest.mark.parametrize("scheme", ["gaussian", "orthogonal"])
def test_init_bad_batch(impl, scheme: str) -> None:
    with raises_clean((ValueError, OverflowError), "batch"):
        getattr(impl.init, scheme)([2, 2], batch=0)


@pytest.mark.parametrize("kwargs", [{"std": -1.0}, {"std": float("nan")}])
def test_gaussian_bad_std(impl, kwargs: dict) -> None:
    with raises_clean(ValueError, "std"):
        impl.init.gaussian([2, 2], **kwargs)


@pytest.mark.parametrize("kwargs", [{"gain": -1.0}, {"gain": float("inf")}])
def test_orthogonal_bad_gain(impl, kwargs: dict) -> None:
    with raises_clean(ValueError, "gain"):
        impl.init.orthogonal([2, 2], **kwargs)


@pytest.mark.parametrize("scheme", ["gaussian", "orthogonal"])
def test_init_bad_threads(impl, scheme: str) -> None:
    with raises_clean((ValueError, OverflowError), "threads"):
        getattr(impl.init, scheme)([2, 2], threads=0)


# ----------------------------------------------------------------------------------------------
# unusual layouts are accepted


def _layout_variants(a: np.ndarray) -> list[np.ndarray]:
    """The same values as Fortran order, a strided view and a negative-stride view."""
    fortran = np.asfortranarray(a)
    big = np.zeros((*a.shape[:-1], 2 * a.shape[-1]), dtype=a.dtype)
    big[..., ::2] = a
    strided = big[..., ::2]
    flipped = np.flip(np.flip(a, axis=-2).copy(), axis=-2)
    out = [fortran, strided, flipped]
    for v in out:
        assert np.array_equal(v, a)
    assert not fortran.flags.c_contiguous or a.ndim < 2 or min(a.shape) == 1
    assert not strided.flags.c_contiguous
    return out


@pytest.mark.parametrize("variant", [0, 1, 2], ids=["fortran", "strided", "negative-stride"])
@pytest.mark.parametrize("per_network_data", [False, True])
def test_non_contiguous_inputs_accepted(impl, variant: int, per_network_data: bool) -> None:
    rng = np.random.default_rng(1)
    dims = (3, 4, 2)
    weights = [0.4 * rng.standard_normal((2, o, i)) for i, o in zip(dims[:-1], dims[1:])]
    if per_network_data:
        X, Y = rng.standard_normal((2, 3, 5)), rng.standard_normal((2, 2, 5))
    else:
        X, Y = rng.standard_normal((3, 5)), rng.standard_normal((2, 5))
    lr = np.array([0.05, 0.02])
    kw = {"lr": lr, "steps": 6, "alpha": 0.9, "record_every": 2}
    base = impl.train(weights, X, Y, **kw)
    odd_w = [_layout_variants(w)[variant] for w in weights]
    odd_x = _layout_variants(X)[variant]
    odd_y = _layout_variants(Y)[variant]
    odd_lr = _layout_variants(np.stack([lr, lr]))[variant][0]
    assert_results_identical(base, impl.train(odd_w, odd_x, odd_y, **{**kw, "lr": odd_lr}))
    # A transposed view of a (n, d) array is a valid (d, n) X.
    x_view = np.ascontiguousarray(X.swapaxes(-1, -2)).swapaxes(-1, -2)
    assert np.array_equal(x_view, X) and not x_view.flags.c_contiguous
    assert_results_identical(base, impl.train(weights, x_view, Y, **kw))


def test_output_arrays_are_c_contiguous_for_fortran_input(impl) -> None:
    weights, X, Y = _problem()
    res = impl.train(
        [np.asfortranarray(w) for w in weights], np.asfortranarray(X), Y, lr=0.01, steps=2
    )
    assert all(w.flags.c_contiguous and w.flags.writeable for w in res.weights)
