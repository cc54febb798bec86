"""The outcome of one run: the events, each peer's final state and the summary."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .proto.endpoint import Endpoint
from .proto.events import Event

if TYPE_CHECKING:
    from .config.loader import Scenario


@dataclass
class Result:
    scenario: Scenario
    seed: int
    duration: float
    events: list[Event]
    endpoints: dict[str, Endpoint]
    transmissions: list[Any] = field(default_factory=list)
    """Every datagram put on the wire (``sim.link.Transmission``), for packet traces."""

    def select(self, event: str | None = None, peer: str | None = None, **fields: Any) -> list[Event]:
        """Events matching a name, a peer and field values."""
        return [e for e in self.events
                if (event is None or e.event == event) and (peer is None or e.peer == peer)
                and all(e.fields.get(k) == v for k, v in fields.items())]

    def first(self, event: str, peer: str | None = None, **fields: Any) -> Event | None:
        found = self.select(event, peer, **fields)
        return found[0] if found else None

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def status(self, peer: str) -> str:
        return str(self.endpoints[peer].status()["status"])

    def summary(self) -> dict[str, Any]:
        from .trace.summary import summarize
        return summarize(self)
