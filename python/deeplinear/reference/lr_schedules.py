"""The learning-rate schedules of ``deeplinear.train(lr_schedule=...)``: the factor f(t) of a
network's 0-based update count t, in plain Python floats (the definitions of optax.schedules).

* ``constant``: f(t) = 1;
* ``step_decay(every, factor)``: f(t) = factor ** floor(t / every);
* ``exponential_decay(rate, every)``: f(t) = rate ** (t / every) (optax, staircase=False);
* ``warmup_cosine(decay_steps, warmup_steps, final)`` (optax.warmup_cosine_decay_schedule with
  init_value=0, peak_value=1, end_value=final): t / warmup_steps during the warm-up, then
  final + (1 − final)·(1 + cos(π·p))/2 with p = min(t − warmup_steps, decay_steps −
  warmup_steps)/(decay_steps − warmup_steps) (final itself when decay_steps == warmup_steps).
"""

from __future__ import annotations

import math

from ..optim import LrSchedule

__all__ = ["lr_factor"]


def lr_factor(schedule: LrSchedule | None, t: int) -> float:
    """f(t) of ``schedule`` (None: constant) at the 0-based update count ``t``."""
    if schedule is None or schedule.kind == "constant":
        return 1.0
    if schedule.kind == "step_decay":
        every, factor = schedule.params
        return float(factor ** (t // int(every)))
    if schedule.kind == "exponential_decay":
        rate, every = schedule.params
        return float(rate ** (t / every))
    decay_steps, warmup, final = schedule.params
    if t < warmup:
        return t / warmup
    if decay_steps == warmup:
        return final
    p = min(t - warmup, decay_steps - warmup) / (decay_steps - warmup)
    return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * p))
