"""An SA meter over a window of the array traffic path (sim/train.py ``Trains._meters``): the
running bytes and packets the packet path computes one packet at a time (``_Meter.settle``,
then ``+= size``), as arrays.

The general case is the same float additions in the same order (``np.cumsum`` adds
sequentially): the settle step ``rate * dt`` (0 where no time passed), then the size. A meter
with no rate (no fluid flow on its SA: the settle steps add zero, which changes no value) and
whole numbers below 2**53 (every partial sum is then exact) needs no running sum: the values
are the first plus multiples of the size, the same bits (tests/test_winorder.py compares them
with the additions)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..proto.traffic import TrafficPlane, _Meter

_EXACT = 2.0 ** 53


@dataclass(slots=True)
class MeterRun:
    """One SA meter over a window: the echo events counted on it (indices into the window's
    ordered events) and its running bytes and packets (index 0: before the first)."""

    plane: TrafficPlane
    meter: Any
    parts: list[tuple[int, int]]
    """The (flow, kind) of the events counted on it (``winorder.Groups``)."""
    child: Any = None
    direction: str = "out"
    events: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    bytes: np.ndarray = field(default_factory=lambda: np.zeros(0))
    packets: np.ndarray = field(default_factory=lambda: np.zeros(0))


def running(m: _Meter, tau: Callable[[], np.ndarray], n: int, size: int,
            sizes: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The meter's bytes and packets before its first packet and after each, for ``n``
    packets at the instants ``tau()`` (asked for only where the meter has a rate) of ``size``
    bytes each (or ``sizes``)."""
    b0, p0 = float(m.bytes), float(m.packets)
    if m.rate == 0 and m.pps == 0:
        steps = np.arange(n + 1)
        if sizes is None and b0.is_integer() and abs(b0) + float(size) * n < _EXACT:
            out_b = b0 + steps * float(size)
            out_b[0] = b0
        else:
            out_b = np.empty(n + 1)
            out_b[0], out_b[1:] = b0, (float(size) if sizes is None else sizes)
            out_b = np.cumsum(out_b)
        if p0.is_integer() and abs(p0) + n < _EXACT:
            out_p = p0 + steps.astype(np.float64)
            out_p[0] = p0
        else:
            out_p = np.empty(n + 1)
            out_p[0], out_p[1:] = p0, 1.0
            out_p = np.cumsum(out_p)
        return out_b, out_p
    dt = np.diff(np.concatenate(([m.t], tau())))
    step_b = np.where(dt > 0, m.rate * dt, 0.0)
    step_p = np.where(dt > 0, m.pps * dt, 0.0)
    seq_b = np.empty(2 * n + 1)
    seq_b[0], seq_b[1::2], seq_b[2::2] = b0, step_b, (float(size) if sizes is None else sizes)
    seq_p = np.empty(2 * n + 1)
    seq_p[0], seq_p[1::2], seq_p[2::2] = p0, step_p, 1.0
    return np.cumsum(seq_b)[0::2], np.cumsum(seq_p)[0::2]
