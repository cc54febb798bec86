"""Retransmission schedules as pure arithmetic.

The exponential schedule is strongSwan's (docs.strongswan.org "Retransmission"): after the
n-th transmission (n = 1 .. tries+1) a peer waits ``timeout * base**(n-1)`` (capped at
``limit`` when set, shortened by up to ``jitter`` percent at random), then retransmits; after
the wait following the last retransmission it gives up. Without cap and jitter the give-up
time is the geometric sum ``timeout * (base**(tries+1) - 1) / (base - 1)``; strongSwan's
defaults 4 s / 1.8 / 5 tries give 165 s.

Vendors with a fixed schedule (e.g. 15 s between IKEv1 retransmissions) are expressed as an
explicit list of waits: ``waits=(15, 15, 15)`` sends three times and gives up 45 s after the
first transmission. A schedule is data, never code.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from . import timers


@dataclass(frozen=True, slots=True)
class RetransmitSchedule:
    timeout: float = 4.0
    """Wait after the first transmission, seconds."""
    base: float = 1.8
    """Factor applied to the wait after each retransmission."""
    tries: int = 5
    """Number of retransmissions (not counting the first transmission)."""
    limit: float | None = None
    """Upper bound of a single wait (strongSwan ``retransmit_limit``)."""
    jitter: float = 0.0
    """Percent by which each wait is randomly shortened (strongSwan ``retransmit_jitter``)."""
    waits: tuple[float, ...] | None = None
    """Explicit waits after each transmission; overrides timeout/base/tries when given."""
    rule: str = "exact"
    """Vendor arithmetic (``proto.timers``): ``strongswan`` computes each wait in whole
    milliseconds as task_manager_v2.c ``retransmit()`` does (``limit`` in whole seconds,
    ``jitter`` a whole percentage of at most 20)."""

    @property
    def transmissions(self) -> int:
        """How many times a request is sent in all (first transmission + retransmissions)."""
        return len(self.waits) if self.waits is not None else self.tries + 1

    def nominal_wait(self, n: int) -> float:
        """Wait after transmission ``n`` (1-based), before jitter."""
        if not 1 <= n <= self.transmissions:
            raise ValueError(f"transmission {n} outside 1..{self.transmissions}")
        if self.waits is not None:
            return float(self.waits[n - 1])
        if self.rule == "strongswan":
            return timers.strongswan_retransmit_ms(self.timeout, self.base, n, self.limit) / 1000.0
        w = self.timeout * self.base ** (n - 1)
        return min(w, self.limit) if self.limit is not None else w

    def wait(self, n: int, rng: random.Random | None = None) -> float:
        """Wait after transmission ``n``, with jitter drawn from ``rng`` when configured."""
        w = self.nominal_wait(n)
        if self.rule == "strongswan" and self.waits is None:
            ms = round(w * 1000.0)
            return (timers.strongswan_retransmit_jitter(ms, self.jitter, rng) if rng is not None else ms) / 1000.0
        if self.jitter and rng is not None:
            w -= w * (self.jitter / 100.0) * rng.random()
        return w

    def send_offsets(self) -> list[float]:
        """Nominal times of every transmission, relative to the first one."""
        out, t = [], 0.0
        for n in range(1, self.transmissions + 1):
            out.append(t)
            t += self.nominal_wait(n)
        return out

    def give_up_after(self) -> float:
        """Nominal time from the first transmission until the sender gives up."""
        return sum(self.nominal_wait(n) for n in range(1, self.transmissions + 1))
