"""The simulated network between the peers (SimPy's ``Cable`` example, with faults).

One-way delay plus uniform jitter, loss (Bernoulli or Gilbert-Elliott, per direction) and
down periods; loss and delay can be changed for a window, one way or both, by faults. Every
random draw comes from the link's own seeded stream. A datagram is judged when it is sent: a
link that goes down while a datagram is in flight does not catch it (it left before).

Peers are attached by address; a peer that changes its source address (multi-exit link
switch) is attached under the new address too, so answers can reach it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

from ..config.model import LinkConfig
from ..proto.endpoint import Datagram
from . import loss as lossmod
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


@dataclass
class Override:
    """A fault window changing the link in one direction (or both when ``ends`` is None)."""

    ends: tuple[str, str] | None
    loss: lossmod.LossModel | None = None
    delay: float | None = None
    jitter: float | None = None
    down: bool = False

    def applies(self, src: str, dst: str) -> bool:
        return self.ends is None or self.ends == (src, dst)


class Link:
    def __init__(self, env: simpy.Environment, cfg: LinkConfig, rng: random.Random, log: EventLog):
        self.env = env
        self.rng = rng
        self.log = log
        self.delay = cfg.delay
        self.jitter = cfg.jitter
        self._loss_spec = cfg.loss
        self._loss: dict[tuple[str, str], lossmod.LossModel] = {}
        self.overrides: list[Override] = []
        self.nodes: dict[str, PeerNode] = {}
        self.on_deliver: list[Callable[[Datagram, str], None]] = []
        self.transmissions: list[Transmission] = []
        """Every datagram sent, in order (the packet trace is written from this)."""

    def attach(self, address: str, node: PeerNode) -> None:
        self.nodes[address] = node

    def is_down(self, src: str, dst: str) -> bool:
        return any(o.down and o.applies(src, dst) for o in self.overrides)

    def _override(self, attr: str, src: str, dst: str) -> Any:
        for o in reversed(self.overrides):
            value = getattr(o, attr)
            if value is not None and o.applies(src, dst):
                return value
        return None

    def _lost(self, src: str, dst: str) -> bool:
        model = self._override("loss", src, dst)
        if model is None:
            model = self._loss.get((src, dst))
            if model is None:
                model = self._loss[(src, dst)] = lossmod.make(self._loss_spec)
        return model.lost(self.rng)

    def transmit(self, dgram: Datagram, sender: str) -> None:
        now = self.env.now
        node = self.nodes.get(dgram.dst)
        receiver = node.name if node is not None else "?"
        reason = None
        if node is None:
            reason = "no_route"
        elif self.is_down(sender, receiver):
            reason = "link_down"
        elif self._lost(sender, receiver):
            reason = "loss"
        if reason is not None:
            self.transmissions.append(Transmission(now, sender, dgram, None, reason))
            self.log.emit(now, sender, "message_lost", reason=reason, **message_fields(dgram.message),
                          retransmit=dgram.retransmit, src=dgram.src, dst=dgram.dst)
            return
        assert node is not None
        delay = self._override("delay", sender, receiver)
        jitter = self._override("jitter", sender, receiver)
        delay = self.delay if delay is None else delay
        jitter = self.jitter if jitter is None else jitter
        if jitter:
            delay += self.rng.uniform(0.0, jitter)
        self.transmissions.append(Transmission(now, sender, dgram, now + delay))
        ev = self.env.timeout(delay)
        ev.callbacks.append(lambda _e: node.deliver(dgram, sender))
