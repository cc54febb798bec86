"""What a message carried by a ``Datagram`` offers a packet trace: its exact UDP payload.

Every message object the core puts in a ``Datagram`` implements ``WireMessage``:

* ``wire_bytes(keys, iv)``: the octets the sender put in the UDP datagram (without the
  non-ESP marker of port 4500, which belongs to the transport, RFC 3948 2.2). ``keys`` is
  the ``Datagram.keys`` the sender attached, ``iv(n)`` draws ``n`` octets from the trace's
  seeded stream for a cipher's IV. An IKEv2 message is encoded here, from its payloads,
  with its IKE SA's SK keys (RFC 7296 3.14); an IKEv1 message already carries the bytes its
  sender encrypted, with the IV chain of RFC 2409 Appendix B, and ignores both;
* ``notation()``: how strongSwan would log it (the packet comment).

``NatKeepalive`` is the simplest such message: the single octet 0xFF of RFC 3948 2.3.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

IvSource = Callable[[int], bytes]


class WireMessage(Protocol):
    def wire_bytes(self, keys: Any, iv: IvSource) -> bytes: ...
    def notation(self) -> str: ...


class WireError(ValueError):
    """A message that cannot be written as sent (e.g. encrypted but without its keys)."""


NAT_KEEPALIVE = b"\xff"  # RFC 3948 2.3


@dataclass(frozen=True, slots=True)
class NatKeepalive:
    """A NAT-keepalive (RFC 3948 2.3): one octet 0xFF from UDP port 4500, sent by a peer
    behind a NAT to keep the NAT's mapping alive; the receiver ignores it."""

    def wire_bytes(self, keys: Any = None, iv: IvSource | None = None) -> bytes:
        return NAT_KEEPALIVE

    def notation(self) -> str:
        return "NAT-keepalive"

    def fields(self) -> dict[str, object]:
        return {"message": "NAT-keepalive"}


@dataclass(frozen=True, slots=True)
class Datagram:
    """A UDP datagram carrying one IKE message object (the wire bytes are made on demand)."""

    src: str
    sport: int
    dst: str
    dport: int
    message: Any
    retransmit: int = 0
    """0 for a first transmission, n for the n-th retransmission of the same message."""
    keys: Any = None
    """Key material a packet trace needs to write ``message`` as sent (IKEv2: the IKE SA's
    ``ikev2.wire.IkeKeys`` for an encrypted message); a reference, never used by the core."""
