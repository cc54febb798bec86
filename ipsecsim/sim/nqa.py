"""Path health probes (Huawei connection monitor NQA, Alibaba VcoHealthCheck) as processes on
the scheduler (sim/sched.py).

Every ``interval`` the peer sends an ICMP echo from ``source`` to ``destination``; a probe not
answered when the next one is due is lost. After ``retries`` losses in a row the path is
``down``; the first answered probe brings it ``up`` again. With ``policy: revoke_route`` the
peer withdraws its route to the remote subnets while the path is down (Alibaba: the route
the VPN gateway advertised is revoked), so user traffic is dropped with reason
``route_revoked`` even if the tunnel itself is fine.

Probes between the protected subnets travel inside the tunnel through the peer's data plane,
so a broken tunnel fails them even when IKE is healthy; gateway-to-gateway probes (Huawei's
type ``gateway``) travel outside it and only see the network and the far gateway.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Generator, Sequence
from typing import Protocol

from ..proto.events import NqaProbeLost, NqaProbeSent, NqaState, RouteRestored, RouteRevoked
from ..proto.traffic import Packet
from ..spec import NqaSpec, RunSpec
from .log import EventLog
from .node import PeerNode
from .sched import Scheduler, spawn


class Protected(Protocol):
    """The subnets a peer's policy protects (``spec.Subnets``)."""

    @property
    def local_subnets(self) -> Sequence[str]: ...
    @property
    def remote_subnets(self) -> Sequence[str]: ...


def probe_path(cfg: NqaSpec, peer: Protected) -> str:
    """``tunnel`` if the probe's addresses are covered by the peer's policy, else ``underlay``."""
    if cfg.path != "auto":
        return cfg.path
    src, dst = ipaddress.IPv4Address(cfg.source), ipaddress.IPv4Address(cfg.destination)
    local = any(src in ipaddress.IPv4Network(n) for n in peer.local_subnets)
    remote = any(dst in ipaddress.IPv4Network(n) for n in peer.remote_subnets)
    return "tunnel" if local and remote else "underlay"


def run_nqa(sched: Scheduler, node: PeerNode, cfg: NqaSpec, path: str, log: EventLog,
            until: float) -> Generator[float, None, None]:
    flow = f"nqa:{node.name}"
    src, dst = int(ipaddress.IPv4Address(cfg.source)), int(ipaddress.IPv4Address(cfg.destination))
    state: str | None = None
    lost = 0
    seq = 0
    if cfg.start:
        yield cfg.start
    while sched.now < until:
        if node.down:  # a hung or crashed gateway probes nothing
            yield cfg.interval
            continue
        log.emit(sched.now, node.name, NqaProbeSent(seq=seq, destination=cfg.destination, path=path))
        if path == "tunnel":
            node.submit_packet(Packet(flow, src, dst, cfg.size, sched.now, cfg.interval, "echo-request", seq))
        else:
            node.icmp.send(flow, seq, cfg.size, cfg.destination)
        yield cfg.interval
        if path == "tunnel":
            answered = node.ep.traffic.counters(flow).last_reply_seq >= seq
        else:
            answered = node.icmp.replies.get(flow, -1) >= seq
        if answered:
            lost = 0
            if state != "up":
                was_down = state == "down"
                state = "up"
                log.emit(sched.now, node.name, NqaState(state="up", reason=f"probe {seq} answered"))
                if was_down and cfg.policy == "revoke_route":
                    node.revoke_route(False)
                    log.emit(sched.now, node.name, RouteRestored(destination=cfg.destination))
        else:
            lost += 1
            log.emit(sched.now, node.name, NqaProbeLost(seq=seq, consecutive=lost))
            if lost >= cfg.retries and state != "down":
                state = "down"
                log.emit(sched.now, node.name, NqaState(
                    state="down", reason=f"{lost} probes in a row unanswered ({cfg.retries} x {cfg.interval:g} s)"))
                if cfg.policy == "revoke_route":
                    node.revoke_route(True)
                    log.emit(sched.now, node.name, RouteRevoked(destination=cfg.destination))
        seq += 1


def start_probes(sched: Scheduler, spec: RunSpec, nodes: dict[str, PeerNode], log: EventLog,
                 until: float) -> None:
    for name, nqa in spec.nqa.items():
        spawn(sched, run_nqa(sched, nodes[name], nqa, probe_path(nqa, spec.subnets[name]), log, until))
