"""The event record and the base of the typed event kinds.

An event is one flat JSON object: ``t`` (simulated seconds), ``peer``, ``event`` and the
fields of that event. A core or a driver reports one as a typed kind (one frozen dataclass
per event name, ``proto.events.ike`` and ``proto.events.network``); the log keeps the
``Event`` record made from it. A record's fields are the kind's fields in declaration order,
leaving out those that are ``ABSENT`` (an event of that kind that does not carry them), so
the same run always serialises to the same bytes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class Event:
    t: float
    peer: str
    event: str
    fields: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"t": round(self.t, 6), "peer": self.peer, "event": self.event, **self.fields}

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)


class _Absent:
    """The value of a field an event does not carry (``None`` is JSON null, a real value)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"

    def __reduce__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()
"""Default of optional fields: left out of the event record."""

Values = Mapping[str, tuple[Any, ...]]
"""Closed value sets by field name."""

FLATTEN = {"flatten": True}
"""Field metadata: a mapping whose items become fields of the record, in their order."""

_LAYOUT: dict[type, tuple[tuple[str, str, bool], ...]] = {}


def layout(cls: type) -> tuple[tuple[str, str, bool], ...]:
    """(attribute, JSON key, flattened) per field of an event kind, in declaration order."""
    found = _LAYOUT.get(cls)
    if found is None:
        found = _LAYOUT[cls] = tuple((f.name, f.name.rstrip("_"), bool(f.metadata.get("flatten")))
                                     for f in dataclasses.fields(cls))
    return found


@dataclass(frozen=True, slots=True, kw_only=True)
class EventKind:
    """Base of the typed events. ``NAME`` is the public event name; ``VALUES`` the closed
    value sets worth checking (a field not listed there accepts any value); ``KEYS`` the keys
    a flattened mapping field may carry; ``SECTION`` the docs/events.md table it belongs to."""

    NAME: ClassVar[str] = ""
    SECTION: ClassVar[str] = ""
    VALUES: ClassVar[Values] = {}
    KEYS: ClassVar[tuple[str, ...]] = ()
    NUMERIC_KEYS: ClassVar[tuple[str, ...]] = ()
    """Keys of a flattened mapping whose values are numbers (or null)."""

    def fields(self) -> dict[str, Any]:
        """The event's fields as the record carries them."""
        out: dict[str, Any] = {}
        for attr, key, flat in layout(type(self)):
            value = getattr(self, attr)
            if value is ABSENT:
                continue
            if flat:
                out.update(value)
            else:
                out[key] = value
        return out

    def record(self, t: float, peer: str) -> Event:
        return Event(t, peer, self.NAME, self.fields())


@dataclass(frozen=True, slots=True, kw_only=True)
class SaEvent(EventKind):
    """An event of an IKE SA (IKEv2) or ISAKMP SA (IKEv1); the engine fills in its SA."""

    ike_version: int = ABSENT
    """1 or 2."""
    spi_i: str = ABSENT
    """the IKE SA's initiator SPI (IKEv1: the cookie CKY-I), lowercase hex."""
    spi_r: str = ABSENT
    """the IKE SA's responder SPI (IKEv1: CKY-R), lowercase hex."""

    def of_sa(self, ike_version: int, label: Mapping[str, str]) -> SaEvent:
        """This event for the SA with ``label`` (its ``spi_i`` and ``spi_r``)."""
        return dataclasses.replace(self, ike_version=ike_version, **label)
