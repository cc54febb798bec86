"""Loss models of the simulated link, drawn from the link's seeded stream.

* Bernoulli: every datagram is lost with probability p.
* Gilbert-Elliott: a two-state Markov channel evaluated per datagram (good/bad), the usual
  model of bursty loss: long-run loss = (r*loss_good + p*loss_bad) / (p + r).

``survive(n)`` is the long-run probability that ``n`` datagrams sent back to back all arrive:
the fragments of one IPv4 packet, which is lost if any fragment is (RFC 791 reassembly).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any


class LossModel:
    def lost(self, rng: random.Random, now: float = 0.0) -> bool:
        raise NotImplementedError

    @property
    def mean(self) -> float:
        raise NotImplementedError

    def survive(self, n: int) -> float:
        """Probability that ``n`` consecutive datagrams all arrive (n = 1: 1 - mean)."""
        raise NotImplementedError


@dataclass
class Bernoulli(LossModel):
    p: float

    def lost(self, rng: random.Random, now: float = 0.0) -> bool:
        return self.p > 0 and rng.random() < self.p

    @property
    def mean(self) -> float:
        return self.p

    def survive(self, n: int) -> float:
        return (1.0 - self.p) ** n  # independent draws


@dataclass
class GilbertElliott(LossModel):
    p: float
    r: float
    loss_good: float = 0.0
    loss_bad: float = 1.0
    bad: bool = False

    def lost(self, rng: random.Random, now: float = 0.0) -> bool:
        if self.bad:
            self.bad = rng.random() >= self.r
        else:
            self.bad = rng.random() < self.p
        rate = self.loss_bad if self.bad else self.loss_good
        return rate > 0 and rng.random() < rate

    @property
    def mean(self) -> float:
        if self.p + self.r == 0:
            return self.loss_bad if self.bad else self.loss_good
        return (self.r * self.loss_good + self.p * self.loss_bad) / (self.p + self.r)

    def survive(self, n: int) -> float:
        # Start in the stationary distribution; before each datagram the channel moves (as in
        # ``lost``), then the datagram survives with 1 - loss of the state it is in.
        sg, sb = 1.0 - self.loss_good, 1.0 - self.loss_bad
        if self.p + self.r == 0:
            return (sb if self.bad else sg) ** n
        g, b = self.r / (self.p + self.r) * sg, self.p / (self.p + self.r) * sb
        for _ in range(n - 1):
            g, b = (g * (1 - self.p) + b * self.r) * sg, (g * self.p + b * (1 - self.r)) * sb
        return g + b


@dataclass
class TimedGilbertElliott(LossModel):
    """Gilbert-Elliott in continuous time: exponential sojourns with means ``mean_good`` and
    ``mean_bad``; the state at a datagram's send time decides its fate."""

    mean_good: float
    mean_bad: float
    loss_good: float = 0.0
    loss_bad: float = 1.0
    bad: bool = False
    until: float | None = None  # when the current sojourn ends

    def lost(self, rng: random.Random, now: float = 0.0) -> bool:
        if self.until is None:
            self.until = now + rng.expovariate(1.0 / self.mean_good)
        while self.until <= now:
            self.bad = not self.bad
            self.until += rng.expovariate(1.0 / (self.mean_bad if self.bad else self.mean_good))
        rate = self.loss_bad if self.bad else self.loss_good
        return rate > 0 and rng.random() < rate

    @property
    def mean(self) -> float:
        share = self.mean_bad / (self.mean_good + self.mean_bad)
        return share * self.loss_bad + (1 - share) * self.loss_good

    def survive(self, n: int) -> float:
        # fragments leave at one instant: all of them meet the same state
        share = self.mean_bad / (self.mean_good + self.mean_bad)
        return share * (1 - self.loss_bad) ** n + (1 - share) * (1 - self.loss_good) ** n


def make(spec: Any) -> LossModel:
    """A fresh model (own channel state) from a config value: a probability or a GE model."""
    if isinstance(spec, int | float):
        return Bernoulli(float(spec))
    if spec.mean_good is not None:
        return TimedGilbertElliott(spec.mean_good, spec.mean_bad, spec.loss_good, spec.loss_bad)
    return GilbertElliott(spec.p, spec.r, spec.loss_good, spec.loss_bad)
