"""deeplinear's exceptions: one base class, and subclasses that also derive from the built-in
exception earlier code catches (``except ValueError`` keeps working).

* :class:`DeeplinearError` — base of every exception below.
* :class:`ShapeError` (also ``ValueError``) — array shapes inconsistent with each other or the call.
* :class:`InvalidValueError` (also ``ValueError``) — a value out of range, or an unknown option.
* :class:`ArgumentTypeError` (also ``TypeError``) — an argument of the wrong type or dtype.
* :class:`NoConvergenceError` (also ``numpy.linalg.LinAlgError``) — an SVD or eigensolver
  did not converge.
* :class:`OutOfMemoryError` (also ``MemoryError``) — a buffer sized by an argument cannot be
  allocated.

Example:
    >>> import deeplinear as dl, numpy as np
    >>> try:
    ...     dl.train(dl.init.gaussian([2, 3], seed=0), np.ones((2, 4)), np.ones((3, 5)),
    ...              lr=0.1, steps=1)
    ... except dl.ShapeError as err:
    ...     print(err)
    Y: expected shape 4 columns, as X, got (3, 5)
"""

from __future__ import annotations

from ._core import (
    ArgumentTypeError,
    DeeplinearError,
    InvalidValueError,
    NoConvergenceError,
    OutOfMemoryError,
    ShapeError,
)

__all__ = [
    "ArgumentTypeError",
    "DeeplinearError",
    "InvalidValueError",
    "NoConvergenceError",
    "OutOfMemoryError",
    "ShapeError",
]
