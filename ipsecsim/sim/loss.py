"""Loss models of the simulated link, drawn from the link's seeded stream.

* Bernoulli: every datagram is lost with probability p.
* Gilbert-Elliott: a two-state Markov channel evaluated per datagram (good/bad), the usual
  model of bursty loss: long-run loss = (r*loss_good + p*loss_bad) / (p + r).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any


class LossModel:
    def lost(self, rng: random.Random) -> bool:
        raise NotImplementedError

    @property
    def mean(self) -> float:
        raise NotImplementedError


@dataclass
class Bernoulli(LossModel):
    p: float

    def lost(self, rng: random.Random) -> bool:
        return self.p > 0 and rng.random() < self.p

    @property
    def mean(self) -> float:
        return self.p


@dataclass
class GilbertElliott(LossModel):
    p: float
    r: float
    loss_good: float = 0.0
    loss_bad: float = 1.0
    bad: bool = False

    def lost(self, rng: random.Random) -> bool:
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


def make(spec: Any) -> LossModel:
    """A fresh model (own channel state) from a config value: a probability or a GE model."""
    if isinstance(spec, int | float):
        return Bernoulli(float(spec))
    return GilbertElliott(spec.p, spec.r, spec.loss_good, spec.loss_bad)
