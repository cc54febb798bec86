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
from collections.abc import Callable, Mapping
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
_FIELDS: dict[type, Callable[[Any], dict[str, Any]]] = {}


def layout(cls: type) -> tuple[tuple[str, str, bool], ...]:
    """(attribute, JSON key, flattened) per field of an event kind, in declaration order."""
    found = _LAYOUT.get(cls)
    if found is None:
        found = _LAYOUT[cls] = tuple((f.name, f.name.rstrip("_"), bool(f.metadata.get("flatten")))
                                     for f in dataclasses.fields(cls))
    return found


def _fields_function(cls: type) -> Callable[[Any], dict[str, Any]]:
    """``EventKind.fields`` for ``cls``, written out field by field (as ``dataclasses`` writes
    ``__init__``): events are made by the thousand, a loop over ``dataclasses.fields`` is slow."""
    required = {f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    lines = ["def fields(self):", "    out = {}"]
    for attr, key, flat in layout(cls):
        put = f"out.update(self.{attr})" if flat else f"out[{key!r}] = self.{attr}"
        lines.append(f"    {put}" if attr in required else f"    if self.{attr} is not ABSENT: {put}")
    lines.append("    return out")
    namespace: dict[str, Any] = {"ABSENT": ABSENT}
    exec("\n".join(lines), namespace)  # the text is made above from the class's own field names
    function: Callable[[Any], dict[str, Any]] = namespace["fields"]
    return function


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
        cls = type(self)
        function = _FIELDS.get(cls)
        if function is None:
            function = _FIELDS[cls] = _fields_function(cls)
        return function(self)

    def record(self, t: float, peer: str, context: Mapping[str, Any] | None = None) -> Event:
        """The record of this event at ``peer`` at time ``t``. ``context`` holds leading fields
        this event leaves absent, filled in by whoever reports it: an engine puts its SA's
        ``ike_version``, ``spi_i`` and ``spi_r`` first (``SaEvent``)."""
        fields = self.fields()
        return Event(t, peer, self.NAME, fields if context is None else {**context, **fields})


@dataclass(frozen=True, slots=True, kw_only=True)
class SaEvent(EventKind):
    """An event of an IKE SA (IKEv2) or ISAKMP SA (IKEv1). The engine that reports it puts the
    SA's fields first in the record (``record(t, peer, {"ike_version": 2, **sa.label()})``);
    whoever knows them can also set them here."""

    ike_version: int = ABSENT
    """1 or 2."""
    spi_i: str = ABSENT
    """the IKE SA's initiator SPI (IKEv1: the cookie CKY-I), lowercase hex."""
    spi_r: str = ABSENT
    """the IKE SA's responder SPI (IKEv1: CKY-R), lowercase hex."""
