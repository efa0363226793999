"""deeplinear: fast batched training of deep linear networks for studying initialisation.

The hot path (gradient descent on batches of networks, Haar sampling, init schemes) runs in a
Rust engine; :mod:`deeplinear.reference` holds the same functions in plain NumPy.

Example:
    >>> import deeplinear as dl, numpy as np
    >>> dims = [8, 16, 16, 4]
    >>> weights = dl.init.orthogonal(dims, batch=4, seed=0)
    >>> X = np.random.default_rng(0).standard_normal((8, 8)); Y = np.zeros((4, 8))
    >>> result = dl.train(weights, X, Y, lr=1e-2, steps=100, alpha=dl.fanout_alpha(dims))
    >>> result.loss.shape
    (4, 101)
"""

from . import data, errors, init, kernels, metrics, optim, reference, sweep
from ._core import __version__
from .errors import (
    ArgumentTypeError,
    DeeplinearError,
    InvalidValueError,
    NoConvergenceError,
    OutOfMemoryError,
    ShapeError,
)
from .haar import haar_orthogonal
from .init import fanout_alpha
from .train import TrainResult, TrainState, train

__all__ = [
    "ArgumentTypeError",
    "DeeplinearError",
    "InvalidValueError",
    "NoConvergenceError",
    "OutOfMemoryError",
    "ShapeError",
    "TrainResult",
    "TrainState",
    "__version__",
    "data",
    "errors",
    "fanout_alpha",
    "haar_orthogonal",
    "init",
    "kernels",
    "metrics",
    "optim",
    "reference",
    "sweep",
    "train",
]
