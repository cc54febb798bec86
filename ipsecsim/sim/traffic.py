"""Traffic sources between the protected subnets, as processes on the scheduler (sim/sched.py).

* ``ping``: an ICMP echo request every ``interval`` (the seed's "long ping" keep-alive); the
  far host answers each one that arrives, so both directions carry traffic. Discrete packets:
  one by one on the packet path, a window at a time on the array path (sim/train.py).
* ``bulk``: a constant rate from ``start`` to ``stop``: one fluid flow, two events.
* ``burst``: ``rate`` for ``length`` (or until ``bytes`` are sent) every ``every``.

A source hands its traffic to the sending peer's node (``PeerNode.submit``); the peer's data
plane (proto/traffic.py) does the rest. A source whose ``from`` is an HA group hands it to the
group (sim/ha.py ``GroupSender``), which passes it to the member it makes active.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Generator, Mapping
from typing import Any, Protocol

from ..proto.events import ABSENT, TrafficStarted, TrafficStopped
from ..proto.traffic import FluidFlow, Packet
from ..spec import FlowSpec, RunSpec
from .log import EventLog
from .node import PeerNode
from .sched import Scheduler, spawn
from .train import PingTrain, Trains

__all__ = ["Sender", "start_sources"]


class Sender(Protocol):
    """Where a source hands its traffic: a peer's node, or an HA group (sim/ha.py)."""

    @property
    def name(self) -> str: ...
    def submit_packet(self, pkt: Packet) -> None: ...
    def submit_fluid(self, flow: FluidFlow, rate: float) -> None: ...


def start_sources(sched: Scheduler, cfg: RunSpec, nodes: dict[str, PeerNode], log: EventLog,
                  until: float, groups: Mapping[str, Sender] | None = None, trains: Trains | None = None) -> None:
    """Start every traffic source; with ``trains`` (the array path, sim/train.py) a ping
    sent by a gateway is a schedule moved a window at a time."""
    for t in cfg.traffic:
        sender: Sender = (groups or {}).get(t.source) or nodes[t.source]
        if trains is not None and t.kind == "ping" and isinstance(sender, PeerNode):
            _train(trains, t, t.name, sender, until)
            continue
        spawn(sched, _source(sched, t, t.name, sender, log, until))


def _train(trains: Trains, t: FlowSpec, name: str, node: PeerNode, until: float) -> None:
    src, dst = t.src, t.dst
    stop = min(t.stop, until) if t.stop is not None else until
    if t.start >= stop:
        return
    info: dict[str, Any] = {"flow": name, "kind": t.kind, "src": src, "dst": dst, "to": t.to, "df": t.dont_fragment}
    trains.add(PingTrain(trains, name, node, src, dst, int(ipaddress.IPv4Address(src)),
                         int(ipaddress.IPv4Address(dst)), t.size, t.interval, t.dont_fragment, t.start, stop, info))


def _source(sched: Scheduler, t: FlowSpec, name: str, node: Sender,
            log: EventLog, until: float) -> Generator[float, None, None]:
    src, dst = t.src, t.dst
    s_int, d_int = int(ipaddress.IPv4Address(src)), int(ipaddress.IPv4Address(dst))
    stop = min(t.stop, until) if t.stop is not None else until
    if t.start >= stop:
        return
    yield t.start
    info: dict[str, Any] = {"flow": name, "kind": t.kind, "src": src, "dst": dst, "to": t.to, "df": t.dont_fragment}
    if t.kind == "ping":
        log.emit(sched.now, node.name, TrafficStarted(**info, interval=t.interval, size=t.size))
        seq = 0
        while True:
            node.submit_packet(Packet(name, s_int, d_int, t.size, sched.now, t.interval, "echo-request", seq,
                                      t.dont_fragment))
            seq += 1
            if sched.now + t.interval >= stop - 1e-9:
                break  # no echo request is due before the stop time
            yield t.interval
        yield stop - sched.now
        log.emit(sched.now, node.name, TrafficStopped(flow=name, sent=seq))
        return
    assert t.rate is not None
    rate = t.rate / 8.0  # bytes per second
    spec = FluidFlow(name, s_int, d_int, t.packet_size, t.dont_fragment)
    log.emit(sched.now, node.name, TrafficStarted(**info, rate_bps=t.rate, packet_size=t.packet_size,
                                                  every=t.every if t.kind == "burst" else ABSENT))
    if t.kind == "bulk":
        node.submit_fluid(spec, rate)
        yield stop - sched.now
        node.submit_fluid(spec, 0.0)
        log.emit(sched.now, node.name, TrafficStopped(flow=name))
        return
    assert t.every is not None
    on = t.length if t.length is not None else (t.bytes or 0) / rate
    k = 0
    while True:
        begin = t.start + k * t.every
        if begin >= stop:
            break
        if begin > sched.now:
            yield begin - sched.now
        node.submit_fluid(spec, rate)
        yield min(on, stop - sched.now)
        node.submit_fluid(spec, 0.0)
        k += 1
    log.emit(sched.now, node.name, TrafficStopped(flow=name, bursts=k))
