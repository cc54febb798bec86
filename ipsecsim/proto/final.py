"""What is left of a peer at the end of a run, as plain data: its final state and counters.

A run's ``Result`` keeps one ``PeerFinal`` per peer instead of the live ``Endpoint``: the
summary, the checks, the reports and the packet traces read these values, never a core, so
a result can be kept, compared and sent between processes without the simulator behind it.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .sa import ChildState
from .settings import PeerSettings
from .traffic import FlowCounters

if TYPE_CHECKING:
    from .endpoint import Endpoint


@dataclass(frozen=True, slots=True)
class PeerFinal:
    name: str
    settings: PeerSettings
    """The connection's settings at the end (after any ``reconfigure`` / ``recreate``)."""
    status: dict[str, Any]
    """``Endpoint.status()`` at the end: ``status``, ``ike_sas``, ``child_sas``, ``down``."""
    esp_inbound: frozenset[str] = frozenset()
    """SPIs this end could still receive on: every CHILD SA pair not deleted, a replaced one
    included (its inbound SA is kept until it is deleted); none after a crash."""
    keylog: tuple[Any, ...] = ()
    """Key records of every SA this peer set up, in order (``proto.keylog``), for packet traces."""
    flows: dict[str, FlowCounters] = field(default_factory=dict)
    """Per flow: what this peer offered, delivered and received (copies of the data plane's counters)."""
    queued: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Per flow: bytes and packets still held in the acquire queue."""
    dropped: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    """(flow, reason) -> (bytes, packets) this peer dropped, unrounded."""
    child_counters: tuple[tuple[int, dict[str, Any]], ...] = ()
    """Per CHILD SA the engine still lists (its uid): the SA's byte and packet counters."""
    meters: dict[Any, tuple[float, float, float]] = field(default_factory=dict)
    """The data plane's traffic meters at the end: key -> (bytes, packets, time)."""

    @property
    def esp_outbound(self) -> list[str]:
        """SPIs this end sends on: its installed CHILD SAs (none after a crash)."""
        return [str(c["spi_out"]) for c in self.status["child_sas"]]


def final_state(ep: Endpoint) -> PeerFinal:
    """The plain-data state of ``ep`` now (call it once the run is over)."""
    status = copy.deepcopy(ep.status())
    inbound: frozenset[str] = frozenset()
    children = getattr(ep.engine, "child_sas", None)
    if status.get("down") != "crashed" and children is not None:
        inbound = frozenset(c.spi_in.hex() for c in children() if c.state is not ChildState.DELETED)
    counters = tuple((c.uid, dict(c.counters)) for c in children()) if children is not None else ()
    return PeerFinal(ep.name, ep.settings, status, inbound, tuple(ep.keylog),
                     {n: dataclasses.replace(c) for n, c in ep.traffic.flows.items()},
                     ep.traffic.queued(), ep.traffic.ledger.dropped(), counters,
                     {k: (m.bytes, m.packets, m.t) for k, m in ep.traffic.meters.items()})
