"""The simulated network between the peers (SimPy's ``Cable`` example, with faults).

One-way delay plus uniform jitter, Bernoulli loss and down periods; every random draw comes
from the link's own seeded stream. A datagram is judged when it is sent: a link that goes
down while a datagram is in flight does not catch it (it left before).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

from ..config.model import LinkConfig
from ..proto.endpoint import Datagram
from .log import EventLog

if TYPE_CHECKING:
    from .node import PeerNode


def message_fields(msg: Any) -> dict[str, Any]:
    fields = getattr(msg, "fields", None)
    return fields() if callable(fields) else {"message": type(msg).__name__}


@dataclass(frozen=True, slots=True)
class Transmission:
    """One datagram put on the wire: when, by whom, and whether and when it arrived."""

    t: float
    sender: str
    dgram: Datagram
    arrival: float | None
    lost: str | None = None


class Link:
    def __init__(self, env: simpy.Environment, cfg: LinkConfig, rng: random.Random, log: EventLog):
        self.env = env
        self.rng = rng
        self.log = log
        self.delay = cfg.delay
        self.jitter = cfg.jitter
        self.loss = cfg.loss
        self.down_count = 0  # overlapping down windows / faults
        self.nodes: dict[str, PeerNode] = {}
        self.on_deliver: list[Callable[[Datagram, str], None]] = []
        self.transmissions: list[Transmission] = []
        """Every datagram sent, in order (the packet trace is written from this)."""

    @property
    def is_down(self) -> bool:
        return self.down_count > 0

    def attach(self, address: str, node: PeerNode) -> None:
        self.nodes[address] = node

    def transmit(self, dgram: Datagram, sender: str) -> None:
        now = self.env.now
        reason = None
        if self.is_down:
            reason = "link_down"
        elif self.loss and self.rng.random() < self.loss:
            reason = "loss"
        elif dgram.dst not in self.nodes:
            reason = "no_route"
        if reason is not None:
            self.transmissions.append(Transmission(now, sender, dgram, None, reason))
            self.log.emit(now, sender, "message_lost", reason=reason, **message_fields(dgram.message),
                          retransmit=dgram.retransmit, src=dgram.src, dst=dgram.dst)
            return
        delay = self.delay + (self.rng.uniform(0.0, self.jitter) if self.jitter else 0.0)
        node = self.nodes[dgram.dst]
        self.transmissions.append(Transmission(now, sender, dgram, now + delay))
        ev = self.env.timeout(delay)
        ev.callbacks.append(lambda _e: node.deliver(dgram, sender))
