"""Learning rates per parameter group and learning-rate schedules, as values for
:func:`deeplinear.train` (and :func:`deeplinear.reference.train`).

``train(lr=...)`` takes a float, one value per network, or :class:`Rates`: a base rate and one
rate per parameter group (``vocabulary.LR_GROUPS``), each a float or one value per network, so
one batched call can try many combinations. ``train(weight_decay=...)`` takes the same shapes.
``train(lr_schedule=...)`` takes an :class:`LrSchedule` made by :func:`constant`,
:func:`step_decay`, :func:`exponential_decay` or :func:`warmup_cosine`: a factor f(t) of the
network's 0-based update count t that multiplies every group's rate.

Example:
    >>> import deeplinear as dl
    >>> rates = dl.optim.Rates(1e-4, manifold=1.3e-5, scales=9.8e-5)
    >>> rates.given()
    ('manifold', 'scales')
    >>> {group: float(r[0]) for group, r in rates.resolve(1).items()}["biases"]
    0.0001
    >>> dl.optim.warmup_cosine(1000, warmup_steps=100)
    LrSchedule(kind='warmup_cosine', params=(1000.0, 100.0, 0.0))
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from .errors import ArgumentTypeError, InvalidValueError
from .vocabulary import LR_GROUPS, LR_SCHEDULES

__all__ = [
    "LrSchedule",
    "Rates",
    "check_groups",
    "constant",
    "exponential_decay",
    "given_groups",
    "lr_groups",
    "network_groups",
    "schedule_from_mapping",
    "step_decay",
    "warmup_cosine",
    "weight_decay_groups",
]

#: One group's rate: a float, or one value per network.
Rate = float | Sequence[float] | np.ndarray

_GROUPS = tuple(LR_GROUPS)
_NAMED = _GROUPS[1:]  # every group but "base"


def _entry(name: str, value: Any) -> float | tuple[float, ...]:
    """A group's rate as a float or a tuple of floats (one per network); types only."""
    if isinstance(value, (bool, np.bool_)):
        raise ArgumentTypeError(f"{name}: expected a real number or one per network, got {value!r}")
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise ArgumentTypeError(
            f"{name}: expected a real number or one per network, got {type(value).__name__} "
            f"{value!r}"
        )
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise ArgumentTypeError(
            f"{name}: expected real numbers (one per network), got dtype {arr.dtype}"
        )
    if arr.ndim != 1:
        raise InvalidValueError(
            f"{name}: expected a real number or a 1-D (batch,) array, one per network, got "
            f"shape {arr.shape}"
        )
    return tuple(float(v) for v in arr)


def _per_network(name: str, value: float | tuple[float, ...], batch: int) -> np.ndarray:
    """A rate as float64 (batch,), checked finite and >= 0."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(batch, float(arr))
    elif arr.shape != (batch,):
        raise InvalidValueError(
            f"{name}: expected a number or one per network ({batch}), got {arr.shape[0]} values"
        )
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        raise InvalidValueError(
            f"{name}: must be finite and >= 0, got {float(arr[np.argmax(bad)])!r}"
        )
    return arr


@dataclass(frozen=True)
class Rates:
    """A learning rate (or weight decay) per parameter group.

    The groups (``vocabulary.LR_GROUPS``): ``manifold`` (the weights of Stiefel and Oblique
    layers), ``output`` (the last layer's weights when Euclidean), ``biases``, ``scales`` (the
    learned scales of Stiefel and Oblique layers) and ``base`` (every other Euclidean weight).
    Each is a float or one value per network ((batch,)); as ``lr``, a group left as None takes
    ``base`` (PyTorch's parameter-group defaults). Naming a group the network lacks is an error.
    Per-network entries are kept as tuples, so a ``Rates`` compares and hashes by value.

    Example (Sokol & Park's three Adam rates: Euclidean, manifold, scales):
        >>> import deeplinear as dl
        >>> rates = dl.optim.Rates(1e-4, manifold=1.3e-5, scales=9.8e-5)
        >>> rates.manifold, rates.output
        (1.3e-05, None)
        >>> dl.optim.Rates(0.1, biases=[0.1, 0.2]).biases
        (0.1, 0.2)
    """

    base: float | tuple[float, ...]
    manifold: float | tuple[float, ...] | None = None
    output: float | tuple[float, ...] | None = None
    biases: float | tuple[float, ...] | None = None
    scales: float | tuple[float, ...] | None = None

    def __init__(
        self,
        base: Rate,
        *,
        manifold: Rate | None = None,
        output: Rate | None = None,
        biases: Rate | None = None,
        scales: Rate | None = None,
    ) -> None:
        given = {"manifold": manifold, "output": output, "biases": biases, "scales": scales}
        object.__setattr__(self, "base", _entry("Rates.base", base))
        for group, value in given.items():
            entry = None if value is None else _entry(f"Rates.{group}", value)
            object.__setattr__(self, group, entry)

    @classmethod
    def from_mapping(cls, rates: Mapping[str, Any]) -> Rates:
        """``Rates`` from ``{group: rate}``; ``base`` is required, an unknown group an error.

        Example:
            >>> import deeplinear as dl
            >>> dl.optim.Rates.from_mapping({"base": 0.1, "scales": 0.01}).given()
            ('scales',)
        """
        if not isinstance(rates, Mapping):
            raise ArgumentTypeError(f"rates: expected a mapping group -> rate, got {rates!r}")
        unknown = [k for k in rates if k not in _GROUPS]
        if unknown:
            raise InvalidValueError(
                f"rates: unknown group {unknown[0]!r}; expected some of {_GROUPS}"
            )
        if "base" not in rates:
            raise InvalidValueError(
                f"rates: needs 'base' (the rate of every group not named), got {dict(rates)!r}"
            )
        return cls(rates["base"], **{k: v for k, v in rates.items() if k != "base"})

    def given(self) -> tuple[str, ...]:
        """The groups explicitly set (not None), in ``vocabulary.LR_GROUPS`` order."""
        return tuple(g for g in _NAMED if getattr(self, g) is not None)

    def resolve(self, batch: int, name: str = "lr") -> dict[str, np.ndarray]:
        """Every group's rate as float64 (batch,), None taking ``base``; each checked finite
        and >= 0 (errors name e.g. ``lr.manifold``)."""
        base = _per_network(f"{name}.base", self.base, batch)
        out = {"base": base}
        for group in _NAMED:
            value = getattr(self, group)
            out[group] = (
                base.copy() if value is None else _per_network(f"{name}.{group}", value, batch)
            )
        return out


def lr_groups(lr: Any, batch: int) -> dict[str, np.ndarray]:
    """``train(lr=...)`` as every group's rate, float64 (batch,): a float or one value per
    network sets them all; :class:`Rates` as :meth:`Rates.resolve`."""
    if isinstance(lr, Rates):
        return lr.resolve(batch, "lr")
    rate = _per_network("lr", _entry("lr", lr), batch)
    return {group: rate.copy() for group in _GROUPS}


def weight_decay_groups(weight_decay: Any, batch: int) -> dict[str, np.ndarray]:
    """``train(weight_decay=...)`` as every group's λ, float64 (batch,).

    A float (or one per network) decays the Euclidean weights (``base`` and ``output``) only.
    As :class:`Rates`, ``output`` left as None takes ``base``; ``biases`` and ``scales`` are
    decayed only when named; ``manifold`` is refused (the orthonormal factor is never decayed:
    decay a Stiefel or Oblique layer through ``scales=``).
    """
    if isinstance(weight_decay, Rates):
        if weight_decay.manifold is not None:
            raise InvalidValueError(
                "weight_decay.manifold: the orthonormal factor of a Stiefel or Oblique layer is "
                "never decayed; decay its learned scale with scales="
            )
        out = weight_decay.resolve(batch, "weight_decay")
        for group in ("manifold", "biases", "scales"):
            if getattr(weight_decay, group) is None:
                out[group] = np.zeros(batch)
        return out
    decay = _per_network("weight_decay", _entry("weight_decay", weight_decay), batch)
    zero = np.zeros(batch)
    return {
        "base": decay,
        "manifold": zero,
        "output": decay.copy(),
        "biases": zero.copy(),
        "scales": zero.copy(),
    }


def given_groups(value: Any) -> tuple[str, ...]:
    """The groups a ``lr``/``weight_decay`` value names explicitly (() for a plain rate)."""
    return value.given() if isinstance(value, Rates) else ()


def network_groups(manifolds: Sequence[str], has_biases: bool, learn_scale: bool) -> set[str]:
    """The groups a network has, from its per-layer manifolds (one per layer), whether any
    layer has a bias, and ``learn_scale``."""
    curved = [m != "euclidean" for m in manifolds]
    groups = {"base"}
    if any(curved):
        groups.add("manifold")
    if not curved[-1]:
        groups.add("output")
    if has_biases:
        groups.add("biases")
    if learn_scale and any(curved):
        groups.add("scales")
    return groups


def check_groups(argument: str, given: Collection[str], present: Collection[str]) -> None:
    """Refuse a rate for a group the network lacks: an error naming ``argument.group``."""
    for group in given:
        if group not in present:
            raise InvalidValueError(
                f"{argument}.{group}: the network has nothing in group {group!r} "
                f"({LR_GROUPS[group]}); it has {tuple(g for g in _GROUPS if g in present)}"
            )


# --------------------------------------------------------------------------------------------
# learning-rate schedules


def _count(name: str, value: Any, minimum: int) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ArgumentTypeError(
            f"{name}: expected an integer, got {type(value).__name__} {value!r}"
        )
    number = float(value)
    if not number.is_integer():
        raise ArgumentTypeError(f"{name}: expected an integer, got {value!r}")
    if number < minimum:
        raise InvalidValueError(f"{name}: must be at least {minimum}, got {int(number)}")
    if number > 2**53:
        raise InvalidValueError(f"{name}: must be at most 2**53, got {int(number)}")
    return number


def _real(name: str, value: Any, *, positive: bool = False) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ArgumentTypeError(
            f"{name}: expected a real number, got {type(value).__name__} {value!r}"
        )
    number = float(value)
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        bound = "> 0" if positive else ">= 0"
        raise InvalidValueError(f"{name}: must be finite and {bound}, got {value!r}")
    return number


def _checked_params(kind: str, params: Sequence[Any]) -> tuple[float, ...]:
    """The parameters of a ``kind`` schedule, validated (errors name e.g.
    ``lr_schedule.every``)."""
    names = LR_SCHEDULES[kind]
    if len(params) != len(names):
        raise InvalidValueError(
            f"lr_schedule: {kind!r} takes {len(names)} parameters {names}, got {len(params)}"
        )
    got = dict(zip(names, params, strict=True))
    n = {k: f"lr_schedule.{k}" for k in names}
    if kind == "constant":
        return ()
    if kind == "step_decay":
        return (_count(n["every"], got["every"], 1), _real(n["factor"], got["factor"]))
    if kind == "exponential_decay":
        return (_real(n["rate"], got["rate"], positive=True), _count(n["every"], got["every"], 1))
    decay_steps = _count(n["decay_steps"], got["decay_steps"], 1)
    warmup = _count(n["warmup_steps"], got["warmup_steps"], 0)
    if warmup > decay_steps:
        raise InvalidValueError(
            f"lr_schedule.warmup_steps: the warm-up ({int(warmup)}) is longer than the "
            f"schedule's horizon decay_steps ({int(decay_steps)})"
        )
    return (decay_steps, warmup, _real(n["final"], got["final"]))


@dataclass(frozen=True)
class LrSchedule:
    """A learning-rate schedule as data: ``kind`` (one of ``vocabulary.LR_SCHEDULES``) and its
    ``params`` in that list's order. The engine evaluates the factor f(t) at each network's own
    update count t (0-based, over every chained call), and multiplies every group's rate by it.
    Make one with :func:`constant`, :func:`step_decay`, :func:`exponential_decay` or
    :func:`warmup_cosine`; direct construction is validated the same way.
    """

    kind: str
    params: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or self.kind not in LR_SCHEDULES:
            raise InvalidValueError(
                f"lr_schedule: unknown kind {self.kind!r}; expected one of {tuple(LR_SCHEDULES)}"
            )
        if isinstance(self.params, (str, bytes)) or not isinstance(self.params, Sequence):
            raise ArgumentTypeError(f"lr_schedule: params must be a tuple, got {self.params!r}")
        object.__setattr__(self, "params", _checked_params(self.kind, self.params))

    def as_mapping(self) -> dict[str, Any]:
        """``{"kind": ..., <parameter>: value, ...}``, as :func:`schedule_from_mapping` reads
        (counts as ints)."""
        out: dict[str, Any] = {"kind": self.kind}
        for name, value in zip(LR_SCHEDULES[self.kind], self.params, strict=True):
            out[name] = int(value) if name in ("every", "decay_steps", "warmup_steps") else value
        return out


def constant() -> LrSchedule:
    """f(t) = 1 (the default, as ``lr_schedule=None``; optax.constant_schedule)."""
    return LrSchedule("constant", ())


def step_decay(every: int, factor: float) -> LrSchedule:
    """f(t) = factor ** floor(t / every): the rate is multiplied by ``factor`` every ``every``
    updates (optax.exponential_decay with staircase=True, transition_steps=every,
    decay_rate=factor; PyTorch's StepLR).

    Example:
        >>> import deeplinear as dl
        >>> dl.optim.step_decay(100, 0.5)
        LrSchedule(kind='step_decay', params=(100.0, 0.5))
    """
    return LrSchedule("step_decay", (every, factor))


def exponential_decay(rate: float, every: int = 1) -> LrSchedule:
    """f(t) = rate ** (t / every), smoothly (optax.exponential_decay with init_value=1,
    transition_steps=every, decay_rate=rate, staircase=False).

    Example:
        >>> import deeplinear as dl
        >>> dl.optim.exponential_decay(0.99)
        LrSchedule(kind='exponential_decay', params=(0.99, 1.0))
    """
    return LrSchedule("exponential_decay", (rate, every))


def warmup_cosine(decay_steps: int, warmup_steps: int = 0, final: float = 0.0) -> LrSchedule:
    """A linear warm-up from 0 to 1 over ``warmup_steps`` updates, then a cosine decay to
    ``final`` at update ``decay_steps`` (the horizon, warm-up included), constant after.

    This is optax.warmup_cosine_decay_schedule(init_value=0, peak_value=1,
    warmup_steps=warmup_steps, decay_steps=decay_steps, end_value=final, exponent=1)
    (optax.schedules): for t < warmup_steps, f(t) = t / warmup_steps; else, with
    p = min(t − warmup_steps, decay_steps − warmup_steps) / (decay_steps − warmup_steps),
    f(t) = final + (1 − final)·(1 + cos(π·p))/2 (f = final when decay_steps == warmup_steps).
    A warm-up longer than the horizon is an error.

    Example:
        >>> import deeplinear as dl
        >>> dl.optim.warmup_cosine(1000, warmup_steps=100, final=0.1).params
        (1000.0, 100.0, 0.1)
    """
    return LrSchedule("warmup_cosine", (decay_steps, warmup_steps, final))


def schedule_from_mapping(spec: Mapping[str, Any], name: str = "lr_schedule") -> LrSchedule:
    """An :class:`LrSchedule` from ``{"kind": ..., <parameter>: value}`` (a sweep's TOML table
    such as ``{kind = "step_decay", every = 100, factor = 0.5}``); parameters left out take
    their constructor defaults; unknown keys are errors naming ``name``.

    Example:
        >>> import deeplinear as dl
        >>> dl.optim.schedule_from_mapping({"kind": "warmup_cosine", "decay_steps": 50})
        LrSchedule(kind='warmup_cosine', params=(50.0, 0.0, 0.0))
    """
    if not isinstance(spec, Mapping):
        raise ArgumentTypeError(
            f'{name}: expected a table such as {{kind = "step_decay", every = 100, '
            f"factor = 0.5}}, got {spec!r}"
        )
    kind = spec.get("kind")
    if not isinstance(kind, str) or kind not in LR_SCHEDULES:
        raise InvalidValueError(f"{name}.kind: expected one of {tuple(LR_SCHEDULES)}, got {kind!r}")
    names = LR_SCHEDULES[kind]
    unknown = [k for k in spec if k != "kind" and k not in names]
    if unknown:
        raise InvalidValueError(
            f"{name}.{unknown[0]}: not a parameter of {kind!r}; it takes {names}"
        )
    factory = _FACTORIES[kind]
    try:
        return factory(**{k: v for k, v in spec.items() if k != "kind"})
    except TypeError as err:  # a required parameter left out
        if isinstance(err, ArgumentTypeError):
            raise
        raise InvalidValueError(f"{name}: {kind!r} needs {names}, got {dict(spec)!r}") from err


_FACTORIES: dict[str, Callable[..., LrSchedule]] = {
    "constant": constant,
    "step_decay": step_decay,
    "exponential_decay": exponential_decay,
    "warmup_cosine": warmup_cosine,
}

assert set(_FACTORIES) == set(LR_SCHEDULES)
assert tuple(f.name for f in fields(Rates)) == _GROUPS
