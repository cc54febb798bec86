"""Two protocol cores wired together with explicit time: no SimPy, no scapy.

    pair = PeerPair(*two_peers())
    pair.run(until=10)
    assert pair.status("A") == "ipsec_sa_established"

Datagrams take ``delay`` seconds; ``drop`` decides per datagram whether it is lost (e.g.
``drop=lambda d, n: d.message.exchange.name == "IKE_AUTH" and n < 2`` loses the first two).
Events of both peers are collected in the order they happen. ESP traffic (proto/traffic.py)
crosses with the same delay and no loss; ``at(t, fn)`` runs ``fn(pair)`` at time ``t`` (to
offer traffic).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

from ipsecsim.proto.endpoint import Datagram, Endpoint
from ipsecsim.proto.events import Event
from ipsecsim.proto.rng import stream
from ipsecsim.proto.settings import PeerSettings


class PeerPair:
    def __init__(self, a: PeerSettings, b: PeerSettings, seed: int = 1, delay: float = 0.005,
                 drop: Callable[[Datagram, int], bool] | None = None):
        self.eps = {s.name: Endpoint(s, stream(seed, "peer", s.name)) for s in (a, b)}
        self.by_addr = {s.address: self.eps[s.name] for s in (a, b)}
        self.delay = delay
        self.drop = drop
        self.now = 0.0
        self.events: list[Event] = []
        self.sent: list[tuple[float, str, Datagram]] = []
        self.dropped: list[tuple[float, str, Datagram]] = []
        self._wire: list[tuple[float, int, Datagram]] = []
        self._seq = 0
        self._counts: dict[Any, int] = {}
        self._jobs: list[tuple[float, int, Callable[[PeerPair], None]]] = []
        for ep in self.eps.values():
            ep.start(0.0)
            self._collect(ep)

    def __getitem__(self, name: str) -> Endpoint:
        return self.eps[name]

    def _collect(self, ep: Endpoint) -> None:
        self.events += ep.take_events()
        for d in ep.take_datagrams():
            self.sent.append((self.now, ep.name, d))
            key = (type(d.message).__name__, getattr(d.message, "exchange", None), d.message.response
                   if hasattr(d.message, "response") else None)
            n = self._counts.get(key, 0)
            self._counts[key] = n + 1
            if self.drop is not None and self.drop(d, n):
                self.dropped.append((self.now, ep.name, d))
                continue
            self._seq += 1
            heapq.heappush(self._wire, (self.now + self.delay, self._seq, d))
        for t in ep.take_traffic():
            self._seq += 1
            heapq.heappush(self._wire, (self.now + self.delay, self._seq, t))

    def at(self, t: float, fn: Callable[[PeerPair], None]) -> None:
        self._seq += 1
        heapq.heappush(self._jobs, (t, self._seq, fn))

    def step(self, until: float) -> bool:
        """Process the next datagram arrival or timer at or before ``until``; False if none."""
        t_wire = self._wire[0][0] if self._wire else None
        timers = [(t, ep) for ep in self.eps.values() if (t := ep.get_timer()) is not None]
        t_timer, ep_timer = min(timers, key=lambda x: x[0]) if timers else (None, None)
        t_job = self._jobs[0][0] if self._jobs else None
        candidates = [t for t in (t_wire, t_timer, t_job) if t is not None and t <= until]
        if not candidates:
            return False
        if t_job is not None and t_job == min(candidates):
            self.now, _, fn = heapq.heappop(self._jobs)
            fn(self)
            for ep in self.eps.values():
                self._collect(ep)
            return True
        if t_wire is not None and t_wire in candidates and (t_timer is None or t_wire <= t_timer):
            self.now, _, d = heapq.heappop(self._wire)
            ep = self.by_addr.get(d.dst)
            if ep is not None:
                if isinstance(d, Datagram):
                    ep.receive(d, self.now)
                else:
                    ep.receive_traffic(d, self.now)
                self._collect(ep)
        else:
            assert ep_timer is not None and t_timer is not None
            self.now = t_timer
            ep_timer.handle_timer(self.now)
            self._collect(ep_timer)
        return True

    def collect(self, name: str) -> None:
        """Take the events and datagrams of a peer whose core was driven directly (an API call)."""
        self._collect(self.eps[name])

    def run(self, until: float) -> PeerPair:
        while self.step(until):
            pass
        self.now = until
        return self

    def status(self, name: str) -> str:
        return str(self.eps[name].status()["status"])

    def select(self, event: str, peer: str | None = None) -> list[Event]:
        return [e for e in self.events if e.event == event and (peer is None or e.peer == peer)]


def ping(pair: PeerPair, frm: str, flow: str, src: str, dst: str, every: float, start: float, stop: float,
         size: int = 84) -> None:
    """Schedule echo requests from a host behind ``frm`` (proto/traffic.Packet)."""
    import ipaddress

    from ipsecsim.proto.traffic import Packet
    s, d = int(ipaddress.IPv4Address(src)), int(ipaddress.IPv4Address(dst))
    n = round((stop - start) / every)
    for i in range(n):
        t = start + i * every
        pair.at(t, lambda p, t=t, i=i: p[frm].offer_packet(Packet(flow, s, d, size, t, every, "echo-request", i), t))
