"""The simulated network between the peers (SimPy's ``Cable`` example, with faults).

One-way delay plus uniform jitter, Bernoulli loss and down periods; every random draw comes
from the link's own seeded stream. A datagram is judged when it is sent: a link that goes
down while a datagram is in flight does not catch it (it left before).

ESP traffic crosses the same link: a packet is lost like a datagram (``traffic_dropped``
with reason ``loss`` or ``link_down``, peer ``link``); a fluid flow loses the loss fraction of
its rate continuously and all of it while the link is down, and arrives after the one-way
delay (no jitter: a fluid has no packet order to disturb).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

from ..config.model import LinkConfig
from ..proto.endpoint import Datagram
from ..proto.traffic import DropLedger, EspFluid, EspPacket
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
        self.esp: list[tuple[float, str, EspPacket, float | None]] = []
        """Every discrete ESP packet sent: (time, sender, packet, arrival or None if lost)."""
        self.ledger = DropLedger(lambda f: self.log.emit(self.env.now, "link", "traffic_dropped", **f))
        self.fluids: dict[tuple[str, str], EspFluid] = {}
        """The current state of every fluid flow on the wire, by (sender, flow)."""

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

    # --- ESP traffic ------------------------------------------------------------------------
    def transmit_traffic(self, item: EspPacket | EspFluid, sender: str) -> None:
        if isinstance(item, EspFluid):
            self._fluid(item, sender)
            return
        now = self.env.now
        pkt = item.packet
        node = self.nodes.get(item.dst)
        reason = "link_down" if self.is_down else ("loss" if self.loss and self.rng.random() < self.loss else None)
        if node is None:
            reason = "no_route"
        if reason is not None:
            self.esp.append((now, sender, item, None))
            self.ledger.packet(pkt.flow, reason, pkt.t0, pkt.span, pkt.size)
            return
        self.ledger.passed(pkt.flow)
        delay = self.delay + (self.rng.uniform(0.0, self.jitter) if self.jitter else 0.0)
        self.esp.append((now, sender, item, now + delay))
        ev = self.env.timeout(delay)
        ev.callbacks.append(lambda _e: node.deliver_traffic(item))

    def _fluid(self, msg: EspFluid, sender: str) -> None:
        key = (sender, msg.flow)
        old = self.fluids.get(key)
        self._judge(old, 0.0)  # close what the old state was losing
        self.fluids[key] = msg
        self._judge(msg, 1.0)
        self._forward(msg)

    def _judge(self, msg: EspFluid | None, on: float) -> None:
        """Account the drops of ``msg`` at this stage from now (on=1) or stop them (on=0)."""
        if msg is None or msg.rate <= 0:
            return
        now = self.env.now
        if self.is_down:
            self.ledger.fluid(msg.flow, "link_down", now, msg.rate * on, msg.pps * on)
        elif self.loss:
            self.ledger.fluid(msg.flow, "loss", now, msg.rate * self.loss * on, msg.pps * self.loss * on)

    def _forward(self, msg: EspFluid) -> None:
        node = self.nodes.get(msg.dst)
        if node is None:
            return
        k = 0.0 if self.is_down else 1.0 - self.loss
        out = EspFluid(msg.flow, msg.spi, msg.rate * k, msg.pps * k, self.env.now, msg.src, msg.dst)
        ev = self.env.timeout(self.delay)
        ev.callbacks.append(lambda _e: node.deliver_traffic(out))

    def changed(self) -> None:
        """The link went down or came back: every fluid flow on it changes its fate."""
        was_down = not self.is_down  # called after the change
        for msg in self.fluids.values():
            if msg.rate <= 0:
                continue
            now = self.env.now
            if was_down:
                self.ledger.fluid(msg.flow, "link_down", now, 0.0, 0.0)
            elif self.loss:
                self.ledger.fluid(msg.flow, "loss", now, 0.0, 0.0)
            self._judge(msg, 1.0)
            self._forward(msg)

    def finish(self) -> None:
        self.ledger.finish(self.env.now)
