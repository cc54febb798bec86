"""Scheduled faults as processes on the scheduler (sim/sched.py ``spawn``); each one is logged as a ``fault`` event.

Timed faults (``duration``) are undone at the end of their window: freeze -> unfreeze,
crash -> restart, link_down -> link up, loss / delay -> the link's own values again. A link
fault applies everywhere, one way (``direction: A->B``) or on the path between two peers
only (``between: [A, B]``, both ways).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import asdict
from typing import Any

from ..proto.events import ABSENT, Fault
from ..proto.settings import PeerSettings
from ..spec import FaultSpec
from . import loss as lossmod
from .link import Link, Override
from .log import EventLog
from .node import PeerNode
from .sched import Scheduler

UNDO = {"freeze": "unfreeze", "crash": "restart", "link_down": "link_up"}


def _describe(f: FaultSpec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if f.direction:
        out["direction"] = f.direction.replace(" ", "")
    if f.between:
        out["between"] = list(f.between)
    if f.protocol != "all":
        out["protocol"] = f.protocol
    if f.loss is not None:
        out["loss"] = f.loss if isinstance(f.loss, float) else asdict(f.loss)
    for k in ("delay", "jitter", "address", "duration", "inbound", "receive_buffer"):
        if getattr(f, k) is not None:
            out[k] = getattr(f, k)
    if f.set is not None:
        out["set"] = f.set
    return out


def run_fault(sched: Scheduler, fault: FaultSpec, nodes: dict[str, PeerNode], link: Link,
              log: EventLog, settings: PeerSettings | None = None) -> Generator[float, None, None]:
    if fault.at > 0:
        yield fault.at
    kind, node = fault.kind, nodes.get(fault.peer or "")
    override: Override | None = None
    if kind == "freeze":
        node.freeze(fault.inbound == "queue", fault.receive_buffer)  # type: ignore[union-attr]
    elif kind == "unfreeze":
        node.unfreeze()  # type: ignore[union-attr]
    elif kind == "crash":
        node.crash()  # type: ignore[union-attr]
    elif kind in ("link_down", "loss", "delay"):
        override = Override(fault.ends, fault.protocol, down=kind == "link_down",
                            loss=lossmod.make(fault.loss) if fault.loss is not None else None,
                            delay=fault.delay, jitter=fault.jitter, pair=fault.pair)
        link.overrides.append(override)
        link.changed()
    elif kind == "link_up":
        downs = [o for o in link.overrides if o.down and o.ends == fault.ends and o.protocol == fault.protocol
                 and o.pair == fault.pair]
        if downs:
            link.overrides.remove(downs[-1])
            link.changed()
    elif kind == "reconfigure":
        assert settings is not None
        node.reconfigure(settings)  # type: ignore[union-attr]
    elif kind == "address":
        node.change_address(fault.address)  # type: ignore[union-attr,arg-type]
    log.emit(sched.now, fault.peer or "link", Fault(kind=kind, **_describe(fault)))
    if kind == "restart":
        node.restart(reboot=True)  # type: ignore[union-attr]  # after the fault event: its messages follow it
    elif kind == "recreate":
        node.recreate(settings)  # type: ignore[union-attr]
    if fault.duration is None:
        return
    yield fault.duration
    # The end of the window undoes the fault unless another fault already did (a link_up, an
    # unfreeze, a restart): then there is nothing left to undo and no event.
    if override is not None:
        if override in link.overrides:
            link.overrides.remove(override)
            link.changed()
            log.emit(sched.now, fault.peer or "link", Fault(kind=UNDO.get(kind, kind), undo=True,
                                                            between=list(fault.between) if fault.between else ABSENT))
        return
    assert node is not None
    if (kind == "freeze" and not node.frozen) or (kind == "crash" and not node.crashed):
        return
    log.emit(sched.now, fault.peer or "link", Fault(kind=UNDO[kind], undo=True))
    if kind == "freeze":
        node.unfreeze()
    elif kind == "crash":
        node.restart(reboot=True)
