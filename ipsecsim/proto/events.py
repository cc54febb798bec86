"""Events: what happened, when, at which peer. The vocabulary is documented in docs/events.md.

An event is one flat JSON object: ``t`` (simulated seconds), ``peer``, ``event`` and the
fields of that event. Field order is insertion order, so the same run always serialises to
the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
