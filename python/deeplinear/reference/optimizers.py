"""The update rules of ``deeplinear.train``, one parameter tensor at a time, in NumPy.

Each rule keeps its state as a list of arrays shaped like the parameter, updated in place: none
for "gd"; the velocity for "sgd"; the moments m and v for "adam" and "adamw"; for "rmsprop" the
squared-gradient average, then the gradient average (centered only) and the momentum buffer
(momentum > 0 only). ``apply`` is the Euclidean step (with weight decay); ``direction`` turns a
(projected) gradient into the direction of a Riemannian step.

Weight decay λ is coupled L2 (g ← g + λ·p before the rule) for gd, sgd, adam and rmsprop, and
decoupled for adamw (p ← p − η·λ·p with the pre-update p, then the Adam step; PyTorch's AdamW).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..errors import ArgumentTypeError, InvalidValueError
from ..vocabulary import OPTIMIZERS

__all__ = ["Rule", "make_rule"]


@dataclass(frozen=True)
class Rule:
    name: str
    momentum: float = 0.0
    nesterov: bool = False
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    decay: float = 0.99
    centered: bool = False

    @property
    def slot_names(self) -> tuple[str, ...]:
        if self.name == "rmsprop":
            return (
                ("square_avg",)
                + (("grad_avg",) if self.centered else ())
                + (("momentum",) if self.momentum > 0 else ())
            )
        adam = ("exp_avg", "exp_avg_sq")
        return {"gd": (), "sgd": ("momentum",), "adam": adam, "adamw": adam}[self.name]

    @property
    def first_moment(self) -> int | None:
        """The index of the slot transported (re-projected) after a Riemannian step."""
        if self.name == "rmsprop":
            return len(self.slot_names) - 1 if self.momentum > 0 else None
        return 0 if self.slot_names else None

    def direction(
        self, g: NDArray[np.floating], slots: list[NDArray[np.floating]], t: int
    ) -> NDArray[np.floating]:
        """Advance the state with gradient ``g`` at update ``t`` (1-based); the step is
        ``p - lr * direction``."""
        dt = g.dtype.type
        if self.name == "gd":
            return g
        if self.name == "sgd":
            (v,) = slots
            v[...] = dt(self.momentum) * v + g
            return g + dt(self.momentum) * v if self.nesterov else v.copy()
        if self.name == "rmsprop":
            return self._rmsprop(g, slots)
        m, v = slots
        m[...] = dt(self.beta1) * m + dt(1.0 - self.beta1) * g
        v[...] = dt(self.beta2) * v + dt(1.0 - self.beta2) * (g * g)
        m_hat = m / dt(1.0 - math.pow(self.beta1, t))
        v_hat = v / dt(1.0 - math.pow(self.beta2, t))
        out: NDArray[np.floating] = m_hat / (np.sqrt(v_hat) + dt(self.eps))
        return out

    def _rmsprop(
        self, g: NDArray[np.floating], slots: list[NDArray[np.floating]]
    ) -> NDArray[np.floating]:
        """PyTorch's RMSprop: v ← d·v + (1−d)·g²; centered ḡ ← d·ḡ + (1−d)·g and
        denom = √(v − ḡ²) + ε, else √v + ε; momentum μ: buf ← μ·buf + g/denom."""
        dt = g.dtype.type
        d = dt(self.decay)
        v = slots[0]
        v[...] = d * v + dt(1.0 - self.decay) * (g * g)
        if self.centered:
            mean = slots[1]
            mean[...] = d * mean + dt(1.0 - self.decay) * g
            denom = np.sqrt(v - mean * mean) + dt(self.eps)
        else:
            denom = np.sqrt(v) + dt(self.eps)
        if self.momentum > 0:
            buf = slots[-1]
            buf[...] = dt(self.momentum) * buf + g / denom
            return buf.copy()
        out: NDArray[np.floating] = g / denom
        return out

    def apply(
        self,
        p: NDArray[np.floating],
        g: NDArray[np.floating],
        slots: list[NDArray[np.floating]],
        lr: float,
        t: int,
        weight_decay: float = 0.0,
    ) -> None:
        """The Euclidean step ``p <- p - lr * direction(g)`` in place, ``lr`` the scheduled
        rate (a float64), with weight decay λ: coupled ``g + λ·p``, or for adamw decoupled
        ``p <- p - (lr·λ)·p`` first."""
        dt = p.dtype.type
        if weight_decay and self.name == "adamw":
            p -= dt(lr * weight_decay) * p
        elif weight_decay:
            g = g + dt(weight_decay) * p
        p -= dt(lr) * self.direction(g, slots, t)

    def new_slots(self, like: NDArray[np.floating]) -> list[NDArray[np.floating]]:
        return [np.zeros_like(like) for _ in self.slot_names]


def _unit(name: str, value: float) -> float:
    if not (math.isfinite(value) and 0.0 <= value < 1.0):
        raise InvalidValueError(f"{name} must be in [0, 1), got {value}")
    return value


def make_rule(
    optimizer: str,
    momentum: float | None,
    nesterov: bool,
    betas: tuple[float, float] | None,
    eps: float | None,
    decay: float | None = None,
    centered: bool = False,
) -> Rule:
    """Validate the optimiser options as ``deeplinear.train`` does: each option is refused by
    an optimiser that does not take it (``vocabulary.OPTIMIZERS``)."""
    if optimizer not in OPTIMIZERS:
        raise InvalidValueError(
            f"optimizer: expected one of {tuple(OPTIMIZERS)}, got {optimizer!r}"
        )
    given = {
        "momentum": momentum is not None,
        "nesterov": bool(nesterov),
        "betas": betas is not None,
        "eps": eps is not None,
        "decay": decay is not None,
        "centered": bool(centered),
    }
    for option, is_given in given.items():
        if is_given and option not in OPTIMIZERS[optimizer]:
            takers = [name for name, options in OPTIMIZERS.items() if option in options]
            raise InvalidValueError(f"{option}: an option of optimizer {' or '.join(takers)} only")
    if not isinstance(centered, (bool, np.bool_)):
        raise ArgumentTypeError(f"centered: expected True or False, got {centered!r}")
    mom = _unit("momentum", 0.0 if momentum is None else float(momentum))
    if nesterov and mom == 0.0:
        raise InvalidValueError("nesterov needs a momentum above 0")
    b1, b2 = (0.9, 0.999) if betas is None else (float(betas[0]), float(betas[1]))
    _unit("betas", b1)
    _unit("betas", b2)
    e = 1e-8 if eps is None else float(eps)
    if not (math.isfinite(e) and e > 0):
        raise InvalidValueError(f"eps must be > 0, got {eps}")
    d = _unit("decay", 0.99 if decay is None else float(decay))
    return Rule(optimizer, mom, bool(nesterov), b1, b2, e, d, bool(centered))
