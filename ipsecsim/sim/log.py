"""The event log of one run: events in the order they happened.

Listeners (``subscribe``) see every event as it is logged; an HA controller (sim/ha.py)
reacts to its members' events this way instead of polling.
"""

from __future__ import annotations

from collections.abc import Callable

from ..proto.events import Event, EventKind


class EventLog:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.listeners: list[Callable[[Event], None]] = []

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        self.listeners.append(listener)

    def add(self, event: Event) -> None:
        self.events.append(event)
        for listener in self.listeners:
            listener(event)

    def emit(self, t: float, peer: str, event: EventKind) -> None:
        """Log ``event`` (a typed event of ``proto.events``) at ``peer`` at time ``t``."""
        self.add(event.record(t, peer))
