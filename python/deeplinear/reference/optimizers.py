"""The update rules of ``deeplinear.train``, one parameter tensor at a time, in NumPy.

Each rule keeps its state as a list of arrays shaped like the parameter (none for "gd", the
velocity for "sgd", the moments m and v for "adam"), updated in place. ``apply`` is the Euclidean
step; ``direction`` turns a (projected) gradient into the direction of a Riemannian step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Rule", "make_rule"]


@dataclass(frozen=True)
class Rule:
    name: str
    momentum: float = 0.0
    nesterov: bool = False
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    @property
    def slot_names(self) -> tuple[str, ...]:
        return {"gd": (), "sgd": ("momentum",), "adam": ("exp_avg", "exp_avg_sq")}[self.name]

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
        m, v = slots
        m[...] = dt(self.beta1) * m + dt(1.0 - self.beta1) * g
        v[...] = dt(self.beta2) * v + dt(1.0 - self.beta2) * (g * g)
        m_hat = m / dt(1.0 - math.pow(self.beta1, t))
        v_hat = v / dt(1.0 - math.pow(self.beta2, t))
        out: NDArray[np.floating] = m_hat / (np.sqrt(v_hat) + dt(self.eps))
        return out

    def apply(
        self,
        p: NDArray[np.floating],
        g: NDArray[np.floating],
        slots: list[NDArray[np.floating]],
        lr: float,
        t: int,
    ) -> None:
        """The Euclidean step ``p <- p - lr * direction(g)``, in place."""
        p -= p.dtype.type(lr) * self.direction(g, slots, t)

    def new_slots(self, like: NDArray[np.floating]) -> list[NDArray[np.floating]]:
        return [np.zeros_like(like) for _ in self.slot_names]


def make_rule(
    optimizer: str,
    momentum: float | None,
    nesterov: bool,
    betas: tuple[float, float] | None,
    eps: float | None,
) -> Rule:
    """Validate the optimiser options as ``deeplinear.train`` does."""
    if optimizer not in ("gd", "sgd", "adam"):
        raise ValueError(f"optimizer: expected 'gd', 'sgd' or 'adam', got {optimizer!r}")
    if optimizer != "sgd" and (momentum is not None or nesterov):
        raise ValueError(f"{'momentum' if momentum is not None else 'nesterov'}: sgd only")
    if optimizer != "adam" and (betas is not None or eps is not None):
        raise ValueError(f"{'betas' if betas is not None else 'eps'}: adam only")
    mom = 0.0 if momentum is None else float(momentum)
    if not 0.0 <= mom < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {mom}")
    if nesterov and mom == 0.0:
        raise ValueError("nesterov needs a momentum above 0")
    b1, b2 = (0.9, 0.999) if betas is None else (float(betas[0]), float(betas[1]))
    if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
        raise ValueError(f"betas must be in [0, 1), got {betas}")
    e = 1e-8 if eps is None else float(eps)
    if not (math.isfinite(e) and e > 0):
        raise ValueError(f"eps must be > 0, got {eps}")
    return Rule(optimizer, mom, bool(nesterov), b1, b2, e)
