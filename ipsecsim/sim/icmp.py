"""ICMP echo between the gateways themselves (underlay probes: not IKE, not in the tunnel)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class IcmpEcho:
    flow: str
    seq: int
    reply: bool
    size: int

    def fields(self) -> dict[str, Any]:
        return {"icmp": "echo-reply" if self.reply else "echo-request", "seq": self.seq}
