"""Security association records shared by IKEv1 and IKEv2 (RFC 4301 SAD entries, as kept
by the IKE daemon): the CHILD / IPsec SA pair and its lifecycle state."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from .lifetime import Expiry
from .proposals import Proposal
from .ts import TrafficSelector


class ChildState(enum.Enum):
    INSTALLED = "installed"
    REKEYING = "rekeying"
    REKEYED = "rekeyed"  # replaced; inbound kept briefly (make-before-break)
    DELETING = "deleting"
    DELETED = "deleted"


@dataclass(slots=True, eq=False)
class UdpEncap:
    """ESP in UDP (RFC 3948) after NAT traversal was negotiated: the two ends' IKE addresses
    and ports. Shared by an IKE SA and its CHILD SAs, so that when the peer's NAT mapping
    changes and the IKE SA learns the new port (RFC 7296 2.23), the ESP follows."""

    local: tuple[str, int]
    remote: tuple[str, int]


@dataclass(slots=True)
class ChildSa:
    uid: int
    ike_uid: int
    spi_in: bytes
    spi_out: bytes
    proposal: Proposal
    local_ts: tuple[TrafficSelector, ...]
    remote_ts: tuple[TrafficSelector, ...]
    initiator: bool
    """This side initiated the exchange that created the SA."""
    established_at: float
    encr_key_in: bytes = b""
    integ_key_in: bytes = b""
    encr_key_out: bytes = b""
    integ_key_out: bytes = b""
    state: ChildState = ChildState.INSTALLED
    nonces: tuple[bytes, bytes] = (b"", b"")  # (Ni, Nr) of the creating exchange
    counters: dict[str, int] = field(default_factory=lambda: {"bytes_in": 0, "bytes_out": 0,
                                                              "packets_in": 0, "packets_out": 0})
    life_time: float | None = None
    """Hard lifetime in seconds as negotiated (IKEv1 proposal attribute); None: not recorded."""
    life_bytes: int | None = None
    """Hard volume lifetime in bytes as negotiated (IKEv1 kilobytes x 1024); None: no limit."""
    life_packets: int | None = None
    """Hard packet-count lifetime (local only: IKEv1 cannot negotiate it); None: no limit."""
    outbound: bool = True
    """Its outbound SA is installed and carries traffic (a rekey responder waits for the DELETE
    of the old SA before switching; the data plane uses the newest SA with this set)."""
    expiry: Expiry | None = None
    """Soft / hard limits drawn when the SA was installed (proto.lifetime)."""
    replaces: int | None = None
    """uid of the CHILD SA this one rekeyed."""
    removed: str | None = None
    """Why the SA was deleted (``expired``, ``rekeyed``, ``deleted_by_peer`` ...)."""
    encap: UdpEncap | None = None
    """Set when its ESP travels in UDP (NAT traversal, RFC 3948); None: IP protocol 50."""

    @property
    def active(self) -> bool:
        return self.state in (ChildState.INSTALLED, ChildState.REKEYING)

    def describe(self) -> dict[str, Any]:
        return {"spi_in": self.spi_in.hex(), "spi_out": self.spi_out.hex(), "proposal": str(self.proposal),
                "local_ts": [str(s) for s in self.local_ts], "remote_ts": [str(s) for s in self.remote_ts]}
