"""Argument checks shared by the public functions.

Type and dtype problems are caught here (:class:`~deeplinear.errors.ArgumentTypeError`, a
TypeError); value ranges and shapes are mostly checked by the Rust core, which names the argument
in its :class:`~deeplinear.errors.InvalidValueError` or :class:`~deeplinear.errors.ShapeError`
(both ValueErrors). Either way the message names the argument.
"""

from __future__ import annotations

import numbers
import secrets
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _core
from .errors import ArgumentTypeError, InvalidValueError, OutOfMemoryError

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
MAX_SEED = 2**64 - 1
#: The largest count or size the core takes (isize::MAX; no buffer can hold more bytes).
MAX_INT = 2**63 - 1


def float_dtype(dtype: Any) -> np.dtype:
    """Return ``dtype`` as a NumPy float32/float64 dtype or raise TypeError."""
    try:
        resolved = np.dtype(dtype)
    except TypeError as err:
        raise ArgumentTypeError(f"dtype: expected float32 or float64, got {dtype!r}") from err
    if resolved not in FLOAT_DTYPES:
        raise ArgumentTypeError(f"dtype: expected float32 or float64, got {resolved}")
    return np.dtype(np.float32) if resolved == np.float32 else np.dtype(np.float64)


def integer(name: str, value: Any, *, minimum: int, maximum: int | None = MAX_INT) -> int:
    """Return ``value`` as an int in [``minimum``, ``maximum``]; TypeError for non-integers,
    ValueError out of range (``maximum=None``: no upper bound)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ArgumentTypeError(
            f"{name}: expected an integer, got {type(value).__name__} {value!r}"
        )
    number = int(value)
    if number < minimum:
        raise InvalidValueError(f"{name}: must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise InvalidValueError(f"{name}: must be at most {maximum}, got {number}")
    return number


def optional_integer(name: str, value: Any, *, minimum: int) -> int | None:
    return None if value is None else integer(name, value, minimum=minimum)


def size(name: str, value: Any, *, minimum: int) -> int:
    """A dimension or batch size: as :func:`integer`, but one too large to address is
    MemoryError (as the core raises for sizes whose buffers cannot be allocated)."""
    number = integer(name, value, minimum=minimum, maximum=None)
    if number > MAX_INT:
        raise OutOfMemoryError(
            f"{name}: the requested size overflows the address space, got {number}"
        )
    return number


def threads_argument(threads: Any) -> int | None:
    """``threads``: None (every core) or 1 ..= the engine's cap, 4 per core available to this
    process and at least 64 (more threads only contend for the cores, and thousands take
    seconds to minutes to start)."""
    if threads is None:
        return None
    cap = _core.max_threads()
    number = integer("threads", threads, minimum=1, maximum=None)
    if number > cap:
        raise InvalidValueError(
            f"threads: must be at most {cap} (4 per core available to this process, at least "
            f"64), got {number}"
        )
    return number


def real(name: str, value: Any) -> float:
    """Return ``value`` as a float (range checks happen in the core)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentTypeError(
            f"{name}: expected a real number, got {type(value).__name__} {value!r}"
        )
    return float(value)


def _seed_from_numpy(value: Any) -> int | None:
    """A NumPy ``SeedSequence`` or ``Generator`` as one 64-bit seed, or None for other values:
    ``int(ss.generate_state(1, np.uint64)[0])`` for a SeedSequence; for a Generator, one draw
    ``int(rng.integers(2**64, dtype=np.uint64))`` (which advances it)."""
    if isinstance(value, np.random.SeedSequence):
        return int(value.generate_state(1, dtype=np.uint64)[0])
    if isinstance(value, np.random.Generator):
        return int(value.integers(0, 2**64, dtype=np.uint64))
    return None


def seed_argument(seed: Any, batch: int, name: str = "seed") -> int | list[int]:
    """Normalise a seed (the mapping is documented in :mod:`deeplinear.init`, "Seeds"):

    * None: fresh 64-bit OS entropy;
    * an int in [0, 2**64): networks 0..batch-1 use streams 0..batch-1 of it;
    * a NumPy ``SeedSequence`` or ``Generator``: one 64-bit int drawn from it, used as an int;
    * a sequence of ``batch`` ints, SeedSequences (e.g. ``ss.spawn(batch)``) or Generators: one
      seed per network (each mapped as above), each on stream 0.
    """
    if seed is None:
        return secrets.randbits(64)
    drawn = _seed_from_numpy(seed)
    if drawn is not None:
        return drawn
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        value = int(seed)
        if not 0 <= value <= MAX_SEED:
            raise InvalidValueError(f"{name}: must be in [0, 2**64), got {value}")
        return value
    if isinstance(seed, (Sequence, np.ndarray)) and not isinstance(seed, str):
        items = list(seed) if isinstance(seed, Sequence) else np.asarray(seed).ravel().tolist()
        seeds = []
        for item in items:
            from_numpy = _seed_from_numpy(item)
            if from_numpy is None:
                from_numpy = integer(name, item, minimum=0, maximum=None)
                if from_numpy > MAX_SEED:
                    raise InvalidValueError(f"{name}: every seed must be below 2**64")
            seeds.append(from_numpy)
        if len(seeds) != batch:
            raise InvalidValueError(
                f"{name}: expected one seed per network ({batch}), got {len(seeds)}"
            )
        return seeds
    raise ArgumentTypeError(
        f"{name}: expected None, an int, a numpy SeedSequence or Generator, or a sequence of "
        f"ints or SeedSequences, got {type(seed).__name__}"
    )


def dims_argument(dims: Any) -> list[int]:
    """Layer widths [d_0, ..., d_L] as a list of ints (sizes are checked by the core)."""
    if isinstance(dims, (str, bytes)) or not isinstance(dims, (Sequence, np.ndarray)):
        raise ArgumentTypeError(
            f"dims: expected a sequence of layer widths, got {type(dims).__name__}"
        )
    return [size(f"dims[{j}]", d, minimum=0) for j, d in enumerate(list(dims))]


def float_array(name: str, value: Any, dtype: np.dtype | None = None) -> np.ndarray:
    """Return a C-contiguous float array. Non-contiguous and Fortran-ordered inputs are copied.

    With ``dtype`` given, the array must already have it (no silent casts between precisions).
    """
    if not isinstance(value, np.ndarray):
        value = np.asarray(value)
        if value.dtype.kind in "iub" and dtype is not None:
            value = value.astype(dtype)
    if value.dtype not in FLOAT_DTYPES:
        raise ArgumentTypeError(
            f"{name}: expected a float32 or float64 array, got dtype {value.dtype}"
        )
    if dtype is not None and value.dtype != dtype:
        raise ArgumentTypeError(
            f"{name}: has dtype {value.dtype} but the weights are {dtype}; "
            "convert it explicitly (mixed precision is not supported)"
        )
    return np.ascontiguousarray(value)


def layer_list(name: str, value: Any, dtype: np.dtype | None = None) -> list[np.ndarray]:
    """A non-empty list of per-layer float arrays sharing one dtype (that of the first, or
    ``dtype`` when given); each C-contiguous. Shapes are checked by the core."""
    if isinstance(value, np.ndarray) or not isinstance(value, Sequence) or isinstance(value, str):
        raise ArgumentTypeError(
            f"{name}: expected a list of per-layer arrays, got {type(value).__name__}"
        )
    if len(value) == 0:
        raise InvalidValueError(f"{name}: needs at least one layer, got an empty list")
    first = float_array(f"{name}[0]", value[0], dtype)
    return [first] + [float_array(f"{name}[{j}]", w, first.dtype) for j, w in enumerate(value) if j]


def string(name: str, value: Any) -> str:
    """Return ``value`` if it is a str (its allowed values are checked by the core)."""
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{name}: expected a string, got {type(value).__name__} {value!r}")
    return value


def choice(name: str, value: Any, options: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``options``; TypeError if not a str, else ValueError."""
    if not isinstance(value, str):
        raise ArgumentTypeError(
            f"{name}: expected one of {', '.join(map(repr, options))}, got {value!r}"
        )
    if value not in options:
        raise InvalidValueError(
            f"{name}: expected one of {', '.join(map(repr, options))}, got {value!r}"
        )
    return value


def labels_array(name: str, value: Any) -> np.ndarray:
    """Class labels as a C-contiguous int64 array (ranges and shapes are checked by the core)."""
    labels = np.asarray(value)
    if labels.dtype.kind not in "iu":
        raise ArgumentTypeError(
            f"{name}: loss='cross_entropy' needs integer class labels, got dtype {labels.dtype}"
        )
    if labels.dtype == np.uint64 and labels.size and int(labels.max()) > np.iinfo(np.int64).max:
        raise InvalidValueError(f"{name}: class label {int(labels.max())} is out of range")
    return np.ascontiguousarray(labels, dtype=np.int64)


def targets_array(name: str, value: Any, loss: str, dtype: np.dtype) -> np.ndarray:
    """Targets of ``loss``: class labels for "cross_entropy", float values of ``dtype`` else."""
    return labels_array(name, value) if loss == "cross_entropy" else float_array(name, value, dtype)
