"""Scheduled faults as SimPy processes; each one is logged as a ``fault`` event."""

from __future__ import annotations

import simpy

from ..config.model import FaultConfig
from .link import Link
from .log import EventLog
from .node import PeerNode

UNDO = {"freeze": "unfreeze", "unfreeze": "freeze", "link_down": "link_up", "link_up": "link_down"}


def apply(kind: str, peer: str | None, nodes: dict[str, PeerNode], link: Link, log: EventLog, now: float,
          **extra: object) -> None:
    if kind == "freeze":
        nodes[peer].freeze()  # type: ignore[index]
    elif kind == "unfreeze":
        nodes[peer].unfreeze()  # type: ignore[index]
    elif kind == "link_down":
        link.down_count += 1
        link.changed()
    elif kind == "link_up":
        link.down_count = max(0, link.down_count - 1)
        link.changed()
    log.emit(now, peer or "link", "fault", kind=kind, **extra)


def run_fault(env: simpy.Environment, fault: FaultConfig, nodes: dict[str, PeerNode], link: Link,
              log: EventLog):  # type: ignore[no-untyped-def]
    yield env.timeout(fault.at)
    apply(fault.kind, fault.peer, nodes, link, log, env.now)
    if fault.duration is not None:
        yield env.timeout(fault.duration)
        apply(UNDO[fault.kind], fault.peer, nodes, link, log, env.now, undo=True)
