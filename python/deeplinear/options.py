"""The options of one training call as a value: every keyword of :func:`deeplinear.train` but
the arrays, type-checked, in one frozen dataclass.

:func:`deeplinear.train` keeps its flat keywords (as scikit-learn estimators do) and turns them
into one :class:`TrainOptions` with :meth:`TrainOptions.from_keywords`; the Rust binding reads
that value through its attributes into the core's own ``TrainOptions``, which checks the values
and names the argument of any error. Adding an option means: a field here (with its check in
``_CHECKS``), a keyword of :func:`deeplinear.train`, and a field of the core's options.

Example:
    >>> import deeplinear as dl
    >>> opts = dl.options.TrainOptions.from_keywords(
    ...     {"lr": dl.optim.Rates(0.1, output=0.01), "steps": 5, "optimizer": "adam"},
    ...     batch=2, depth=2, has_biases=False, has_state=False,
    ... )
    >>> opts.lr.output, opts.optimizer, opts.manifold
    (0.01, 'adam', ('euclidean',))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from . import optim
from ._validation import (
    choice,
    integer,
    optional_integer,
    real,
    seed_argument,
    string,
    threads_argument,
)
from .errors import ArgumentTypeError, InvalidValueError
from .vocabulary import ACTIVATIONS, LOSSES, MANIFOLDS, PARAMETERIZATIONS

__all__ = ["TrainOptions"]


@dataclass(frozen=True)
class TrainOptions:
    """Every option of :func:`deeplinear.train` (see there for each), type-checked: ``lr`` and
    ``weight_decay`` as :class:`deeplinear.optim.Rates` (a float or one value per network is the
    base rate; ``weight_decay`` None when there is none), ``record`` as (name, interval) pairs,
    ``manifold`` as one name or one per layer, ``data_seed`` resolved (None: the state's, or
    full batch)."""

    lr: optim.Rates
    steps: int
    alpha: float = 1.0
    tol: float | None = None
    record_every: int = 1
    threads: int | None = None
    activation: str = "linear"
    parameterization: str = "standard"
    sigma_w: float = 1.0
    record: tuple[tuple[str, int], ...] = ()
    manifold: tuple[str, ...] = ("euclidean",)
    loss: str = "mse"
    reduction: str | None = None
    optimizer: str = "gd"
    momentum: float | None = None
    nesterov: bool = False
    betas: tuple[float, float] | None = None
    eps: float | None = None
    decay: float | None = None
    centered: bool = False
    batch_size: int | None = None
    data_seed: int | tuple[int, ...] | None = None
    learn_scale: bool = False
    target_accuracy: float | None = None
    lr_schedule: optim.LrSchedule | None = None
    weight_decay: optim.Rates | None = None
    oblique_penalty: float = 0.0

    @classmethod
    def from_keywords(
        cls,
        keywords: Mapping[str, Any],
        *,
        batch: int,
        depth: int,
        has_biases: bool,
        has_state: bool,
    ) -> TrainOptions:
        """The options of a call from :func:`deeplinear.train`'s keywords (those left out take
        their defaults) for ``batch`` networks of ``depth`` layers: each checked for its type,
        and the parameter groups named by ``lr`` and ``weight_decay`` against the network's
        (:func:`deeplinear.optim.check_groups`), with the reference's messages."""
        unknown = [k for k in keywords if k not in _CHECKS]
        if unknown:
            raise ArgumentTypeError(f"train: unexpected keyword argument {unknown[0]!r}")
        checked = {k: _CHECKS[k](v) for k, v in keywords.items() if k not in _LATE}
        record_every = checked.get("record_every", 1)
        checked["record"] = _record(keywords.get("record", ()), record_every)
        lr = keywords["lr"]
        if not isinstance(lr, optim.Rates):
            lr = _learning_rate(lr)
        optim.lr_groups(lr, batch)
        weight_decay = keywords.get("weight_decay", 0.0)
        optim.weight_decay_groups(weight_decay, batch)
        manifolds = _per_layer(checked.get("manifold", ("euclidean",)), depth)
        if manifolds is not None:
            present = optim.network_groups(manifolds, has_biases, checked.get("learn_scale", False))
            optim.check_groups("lr", optim.given_groups(lr), present)
            optim.check_groups("weight_decay", optim.given_groups(weight_decay), present)
        data_seed = keywords.get("data_seed")
        return cls(
            **checked,
            lr=lr if isinstance(lr, optim.Rates) else optim.Rates(lr),
            weight_decay=_weight_decay(weight_decay),
            data_seed=_data_seed(data_seed, checked.get("batch_size"), has_state, batch),
        )

    @staticmethod
    def keywords() -> tuple[str, ...]:
        """The names of the options, as :func:`deeplinear.train` takes them."""
        return tuple(f.name for f in fields(TrainOptions))


def _learning_rate(lr: Any) -> float | tuple[float, ...]:
    """A float or one rate per network (values are checked by ``optim.lr_groups``)."""
    if isinstance(lr, np.ndarray) or (isinstance(lr, Sequence) and not isinstance(lr, str)):
        rates = np.asarray(lr, dtype=np.float64)
        if rates.ndim == 0:
            return float(rates)
        if rates.ndim != 1:
            raise InvalidValueError(
                f"lr: expected a scalar or a 1-D (batch,) array, got shape {rates.shape}"
            )
        return tuple(float(r) for r in rates)
    return real("lr", lr)


def _weight_decay(value: Any) -> optim.Rates | None:
    """None when nothing is decayed (so a call without decay runs exactly as before)."""
    if isinstance(value, optim.Rates):
        return value
    if not np.any(np.asarray(value, dtype=np.float64)):
        return None
    return optim.Rates(value)


def _schedule(value: Any) -> optim.LrSchedule | None:
    if value is not None and not isinstance(value, optim.LrSchedule):
        raise ArgumentTypeError(
            f"lr_schedule: expected None or a schedule of deeplinear.optim, got {value!r}"
        )
    return value


def _record(record: Any, record_every: int) -> tuple[tuple[str, int], ...]:
    """The requested quantities as (name, interval), duplicate-free in order."""
    if isinstance(record, Mapping):
        items = list(record.items())
    elif isinstance(record, str) or not isinstance(record, Sequence):
        raise ArgumentTypeError(
            f"record: expected a list of names such as ['accuracy'] or a mapping name -> "
            f"interval, got {record!r}"
        )
    else:
        items = [(name, None) for name in record]
    specs: dict[str, int] = {}
    for name, every in items:
        if not isinstance(name, str):
            raise ArgumentTypeError(
                f"record: expected names (str), got {type(name).__name__} {name!r}"
            )
        interval = record_every if every is None else integer(f"record[{name!r}]", every, minimum=1)
        specs.setdefault(name, interval)
    return tuple(specs.items())


def _manifold(manifold: Any) -> tuple[str, ...]:
    if isinstance(manifold, str):
        return (choice("manifold", manifold, MANIFOLDS),)
    if isinstance(manifold, Sequence) and all(isinstance(m, str) for m in manifold):
        return tuple(choice("manifold", m, MANIFOLDS) for m in manifold)
    raise ArgumentTypeError(
        f"manifold: expected {' or '.join(map(repr, MANIFOLDS))}, or a list with one per layer, "
        f"got {manifold!r}"
    )


def _per_layer(manifold: tuple[str, ...], depth: int) -> list[str] | None:
    """The manifold of each layer (None for a list of the wrong length: the core refuses it)."""
    if len(manifold) == 1:
        return list(manifold) * depth
    return list(manifold) if len(manifold) == depth else None


def _optional_real(name: str) -> Callable[[Any], float | None]:
    return lambda value: None if value is None else real(name, value)


def _betas(betas: Any) -> tuple[float, float] | None:
    if betas is None:
        return None
    if isinstance(betas, str) or not isinstance(betas, Sequence) or len(betas) != 2:
        raise ArgumentTypeError(f"betas: expected a pair (beta1, beta2), got {betas!r}")
    return real("betas[0]", betas[0]), real("betas[1]", betas[1])


def _flag(name: str) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        if not isinstance(value, (bool, np.bool_)):
            raise ArgumentTypeError(f"{name}: expected True or False, got {value!r}")
        return bool(value)

    return check


def _data_seed(
    data_seed: Any, batch_size: int | None, has_state: bool, batch: int
) -> int | tuple[int, ...] | None:
    """The data streams of the mini-batch schedule: as given; else the state's (None); else,
    with mini-batches, fresh OS entropy (kept in the returned state)."""
    if data_seed is None and (has_state or batch_size is None):
        return None
    seed = seed_argument(data_seed, batch, "data_seed")
    return seed if isinstance(seed, int) else tuple(seed)


def _reduction(value: Any) -> str | None:
    return None if value is None else choice("reduction", value, ("sum", "mean"))


def _keep(value: Any) -> Any:
    return value


#: The type check of each option (the late ones need the call's sizes: see from_keywords).
_CHECKS: dict[str, Callable[[Any], Any]] = {
    "lr": _keep,
    "steps": lambda v: integer("steps", v, minimum=0),
    "alpha": lambda v: real("alpha", v),
    "tol": _optional_real("tol"),
    "record_every": lambda v: integer("record_every", v, minimum=1),
    "threads": threads_argument,
    "activation": lambda v: choice("activation", v, ACTIVATIONS),
    "parameterization": lambda v: choice("parameterization", v, PARAMETERIZATIONS),
    "sigma_w": lambda v: real("sigma_w", v),
    "record": _keep,
    "manifold": _manifold,
    "loss": lambda v: choice("loss", v, tuple(LOSSES)),
    "reduction": _reduction,
    "optimizer": lambda v: string("optimizer", v),
    "momentum": _optional_real("momentum"),
    "nesterov": _flag("nesterov"),
    "betas": _betas,
    "eps": _optional_real("eps"),
    "decay": _optional_real("decay"),
    "centered": _flag("centered"),
    "batch_size": lambda v: optional_integer("batch_size", v, minimum=1),
    "data_seed": _keep,
    "learn_scale": _flag("learn_scale"),
    "target_accuracy": _optional_real("target_accuracy"),
    "lr_schedule": _schedule,
    "weight_decay": _keep,
    "oblique_penalty": lambda v: real("oblique_penalty", v),
}
#: Options checked in from_keywords itself, with the call's sizes.
_LATE = ("record", "lr", "weight_decay", "data_seed")

assert set(_CHECKS) == {f.name for f in fields(TrainOptions)}
