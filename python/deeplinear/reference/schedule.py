"""The mini-batch order of ``deeplinear.train(batch_size=...)``, in plain Python integers.

Epoch ``e`` of a network with data stream ``(seed, stream)`` walks through a permutation of the
``n`` examples in slices of ``batch_size`` (the last slice of an epoch may be shorter). The
permutation is a Fisher-Yates shuffle driven by SplitMix64, keyed by ``(seed, stream, epoch)``
alone, so a step's examples depend only on the network's global step count.
"""

from __future__ import annotations

__all__ = ["batch_of_step", "epoch_order"]

_MASK = 2**64 - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _mix(z: int) -> int:
    """SplitMix64's finaliser (arithmetic mod 2**64)."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def epoch_order(seed: int, stream: int, epoch: int, n: int) -> list[int]:
    """The permutation of ``range(n)`` that epoch ``epoch`` of data stream ``(seed, stream)``
    walks through."""
    state = _mix(_mix(_mix(seed) ^ stream) ^ epoch)
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        state = (state + _GOLDEN) & _MASK
        j = (_mix(state) * (i + 1)) >> 64
        order[i], order[j] = order[j], order[i]
    return order


def batch_of_step(step: int, n: int, batch_size: int, seed: int, stream: int) -> list[int]:
    """The examples of a network's ``step``-th update (counted from 0 over all calls)."""
    per_epoch = -(-n // batch_size)
    epoch, k = divmod(step, per_epoch)
    return epoch_order(seed, stream, epoch, n)[k * batch_size : (k + 1) * batch_size]
