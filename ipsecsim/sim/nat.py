"""A NAPT between the peers (RFC 3022), behaving as RFC 4787 describes a NAT for UDP.

* Endpoint-independent mapping (REQ-1): one mapping per inside (address, port), whatever
  the destination; its outside port is drawn from the NAT's seeded stream in 1024-65535
  (REQ-3: no port overloading), never one it has used before, so a mapping made after an
  expiry has a new port (as most NATs do; the peer outside sees the change).
* Refresh (REQ-6): only outbound packets refresh a mapping; a mapping expires
  ``mapping_timeout`` after its last outbound packet (a fluid flow going out keeps it alive
  while it runs). Inbound packets to an expired or unknown mapping are dropped
  (``nat_no_mapping``).
* Filtering: endpoint-independent (RFC 4787 REQ-8 allows it): a live mapping accepts
  packets from anyone.
* ESP (IP protocol 50) has no ports to translate (RFC 3715 2.2): outbound it leaves with
  the public address, inbound it is dropped, unless ``esp_passthrough`` maps it by address
  as "IPsec passthrough" NATs do (one inside host, same timeout).

Every mapping's birth and death is an event of the peer ``link`` (``nat_mapping_created``,
``nat_mapping_expired``), at the exact instant; ``on_change`` tells the link to re-judge its
fluid flows whenever the set of live mappings changes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from ..proto.events import NatMappingCreated, NatMappingExpired
from ..spec import NatSpec
from .log import EventLog
from .sched import Scheduler

UDP, ESP = 17, 50
_EPS = 1e-9


@dataclass(eq=False)
class Mapping:
    inside: tuple[str, int]
    """Inside address and port (port 0 for ESP passthrough)."""
    proto: int
    port: int
    """Outside port (0 for ESP passthrough)."""
    created: float
    last_out: float
    active: int = 0
    """Outbound fluid flows keeping it alive right now."""
    alive: bool = True
    pending: bool = False
    """An expiry check is scheduled (one at a time; it re-arms itself after a refresh)."""

    def expires(self, timeout: float) -> float | None:
        return None if self.active else self.last_out + timeout


def endpoint(addr: str, port: int) -> str:
    return f"{addr}:{port}" if port else addr


class Nat:
    def __init__(self, sched: Scheduler, cfg: NatSpec, inside_address: str, rng: random.Random,
                 log: EventLog, on_change: Callable[[], None]):
        self.sched = sched
        self.cfg = cfg
        self.peer = cfg.peer
        self.inside_address = inside_address
        self.public = cfg.public_address
        self.timeout = cfg.mapping_timeout
        self.rng = rng
        self.log = log
        self.on_change = on_change
        self.by_inside: dict[tuple[int, str, int], Mapping] = {}
        self.by_port: dict[tuple[int, int], Mapping] = {}
        self.used: set[int] = set()

    # --- translation ----------------------------------------------------------------------
    def outbound(self, src: str, sport: int | None, proto: int, fluid: int = 0) -> tuple[str, int | None]:
        """Translate an outbound packet's source; ``fluid`` +1/-1 when a fluid flow starts or
        stops going out through it. Returns the (address, port) it leaves with."""
        now = self.sched.now
        if proto == ESP and not self.cfg.esp_passthrough:
            return self.public, None
        key = (proto, src, sport or 0)
        m = self.by_inside.get(key)
        if m is not None and not self._live(m):
            m = None
        if m is None:
            m = self._create(src, sport or 0, proto)
        m.last_out = now
        m.active = max(0, m.active + fluid)
        if m.active == 0:
            self._arm(m)
        return self.public, (m.port if proto == UDP else sport)

    def inbound(self, dport: int | None, proto: int) -> tuple[str, int | None] | None:
        """The inside (address, port) of a packet to the public address, or None: no live
        mapping. Only looks: a mapping dies at its expiry timer or when the inside sends again."""
        m = self.by_port.get((proto, (dport or 0) if proto == UDP else 0))
        if m is None or not self._alive(m):
            return None
        return m.inside[0], (m.inside[1] if proto == UDP else dport)

    def describe(self, src: str, sport: int | None, out: tuple[str, int | None]) -> str:
        return f"NAT {endpoint(src, sport or 0)} → {endpoint(out[0], out[1] or 0)}"

    # --- mappings -------------------------------------------------------------------------
    def _create(self, addr: str, port: int, proto: int) -> Mapping:
        now = self.sched.now
        outside = 0
        if proto == UDP:
            while True:
                outside = self.rng.randrange(1024, 65536)
                if outside not in self.used:
                    break
            self.used.add(outside)
        m = Mapping((addr, port), proto, outside, now, now)
        self.by_inside[(proto, addr, port)] = m
        self.by_port[(proto, outside)] = m
        self.log.emit(now, "link", NatMappingCreated(inside=endpoint(addr, port),
                                                     outside=endpoint(self.public, outside),
                                                     protocol="udp" if proto == UDP else "esp"))
        self.on_change()
        return m

    def _alive(self, m: Mapping) -> bool:
        due = m.expires(self.timeout)
        return m.alive and (due is None or self.sched.now < due - _EPS)

    def _live(self, m: Mapping) -> bool:
        """Whether ``m`` still lives now; an idle one past its timeout dies here."""
        if m.alive and not self._alive(m):
            self._expire(m)
        return m.alive

    def _arm(self, m: Mapping) -> None:
        due = m.expires(self.timeout)
        if due is None or m.pending or not m.alive:
            return
        m.pending = True
        self.sched.call_at(due, self._on_timer, m)

    def _on_timer(self, m: Mapping) -> None:
        m.pending = False
        if self._live(m):
            self._arm(m)  # refreshed meanwhile: check again at the new expiry

    def _expire(self, m: Mapping) -> None:
        m.alive = False
        if self.by_inside.get((m.proto, *m.inside)) is m:
            del self.by_inside[(m.proto, *m.inside)]
        if self.by_port.get((m.proto, m.port)) is m:
            del self.by_port[(m.proto, m.port)]
        self.log.emit(self.sched.now, "link", NatMappingExpired(
            inside=endpoint(*m.inside), outside=endpoint(self.public, m.port),
            protocol="udp" if m.proto == UDP else "esp", idle=round(self.sched.now - m.last_out, 6)))
        self.on_change()
