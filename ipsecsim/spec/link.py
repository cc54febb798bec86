"""The network of a run: the link (delay, jitter, loss, outage windows, MTU), its NAT and the
scheduled faults, with the values config/link.py, config/nat.py and config/model.py
validated (sim/link.py, sim/nat.py, sim/faults.py run them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class GilbertElliottSpec:
    """Bursty loss: a two-state channel moving per datagram (``p``, ``r``) or in time
    (``mean_good``, ``mean_bad``); the fields in the order of the scenario's ``loss`` mapping."""

    model: str
    p: float | None
    r: float | None
    mean_good: float | None
    mean_bad: float | None
    loss_good: float
    loss_bad: float


LossSpec = float | GilbertElliottSpec
"""A loss probability (Bernoulli) or a Gilbert-Elliott channel."""


@dataclass(frozen=True, slots=True)
class NatSpec:
    """A NAPT in front of one peer (config/nat.py)."""

    peer: str
    public_address: str
    mapping_timeout: float
    esp_passthrough: bool


@dataclass(frozen=True, slots=True)
class LinkSpec:
    delay: float
    jitter: float
    loss: LossSpec
    down: tuple[tuple[float, float], ...]
    """Windows (start, end) in which the link drops everything."""
    nat: NatSpec | None
    mtu: int


@dataclass(frozen=True)
class FaultSpec:
    """One scheduled fault (config/model.py ``FaultConfig``: the kinds and what each field means)."""

    at: float
    kind: str
    peer: str | None = None
    duration: float | None = None
    direction: str | None = None
    ends: tuple[str, str] | None = None
    """``direction`` as (from, to)."""
    between: tuple[str, str] | None = None
    protocol: str = "all"
    loss: LossSpec | None = None
    delay: float | None = None
    jitter: float | None = None
    set: dict[str, Any] | None = None
    address: str | None = None
    inbound: str | None = None
    receive_buffer: int | None = None

    @property
    def pair(self) -> frozenset[str] | None:
        """The two peers of a ``between`` fault (the path between them, both ways)."""
        return frozenset(self.between) if self.between else None
