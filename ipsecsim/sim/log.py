"""The event log of one run: events in the order they happened."""

from __future__ import annotations

from typing import Any

from ..proto.events import Event


class EventLog:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def add(self, event: Event) -> None:
        self.events.append(event)

    def emit(self, t: float, peer: str, event: str, **fields: Any) -> None:
        self.events.append(Event(t, peer, event, fields))
