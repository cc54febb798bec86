"""The packets of a run, before layering: one ``Frame`` per IPv4 packet a peer sent.

The capture point is each sender's network interface: a datagram is captured when it leaves
its sender (``Transmission.t``), so a datagram the link then loses is in the trace too,
with a comment saying so (``TraceOptions.lost = "omit"`` leaves it out). A datagram dropped
by a frozen receiver was sent and is captured like any other.

IKE datagrams come from ``Result.transmissions``; their UDP payload is what the core
decided, encoded here and only here (lazily, when a trace is asked for):

* an IKEv2 ``Message`` is encoded by ``proto.ikev2.wire.encode`` with the sender's SK keys
  (``Datagram.keys``, an ``IkeKeys``) and an IV drawn from the trace's seeded stream; a
  retransmission repeats the bytes of the first transmission, as real daemons do
  (RFC 7296 2.1: a retransmitted message is the same message);
* any other message object must carry its exact wire bytes in a ``wire`` attribute
  (IKEv1 messages, which chain CBC IVs across a phase; a NAT-keepalive's single 0xFF);
* on UDP port 4500 an IKE message is preceded by the 4-octet non-ESP marker (RFC 3948 2.2,
  RFC 7296 2.23); a NAT-keepalive (the single octet 0xFF, RFC 3948 2.3) is not.

Other packet sources (ESP traffic) register a function in ``FRAME_SOURCES``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..proto.ikev2.message import Message
from ..proto.ikev2.wire import IkeKeys, encode
from ..proto.rng import stream
from .keyfile import Cannot, ikev2_names, undecryptable_reason

if TYPE_CHECKING:
    from ..result import Result
    from .options import TraceOptions

NAT_T_PORT = 4500
NON_ESP_MARKER = bytes(4)  # RFC 3948 2.2
NAT_KEEPALIVE = b"\xff"  # RFC 3948 2.3
PROTO_UDP, PROTO_ESP = 17, 50

LOST_TEXT = {"loss": "LOST on the link (random loss)", "link_down": "LOST: the link is down",
             "no_route": "LOST: no route to the destination"}


class TraceError(ValueError):
    """A message the trace cannot write faithfully."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One IPv4 packet as captured at its sender."""

    t: float
    """Simulated seconds."""
    src: str
    dst: str
    proto: int
    """17 (UDP, ``payload`` is the UDP payload) or 50 (ESP, ``payload`` is the ESP packet)."""
    payload: bytes
    sport: int = 0
    dport: int = 0
    comments: tuple[str, ...] = field(default=())
    kind: str = "ike"
    """What it carries, for the summary line: ike, esp, keepalive."""
    iface: str | None = None
    """Capture interface: the sending peer's name; None: the peer that owns ``src``."""


FrameSource = Callable[["Result", "TraceOptions"], Iterable[Frame]]


def udp_payload(message_bytes: bytes, sport: int, dport: int) -> bytes:
    """Add the non-ESP marker to an IKE message on port 4500 (RFC 3948 2.2)."""
    if NAT_T_PORT in (sport, dport) and message_bytes != NAT_KEEPALIVE:
        return NON_ESP_MARKER + message_bytes
    return message_bytes


def message_bytes(message: Any, keys: Any, rng: random.Random) -> bytes:
    """The exact bytes of one IKE message as its sender put them in the UDP datagram."""
    if isinstance(message, Message):
        if not message.encrypted:
            return encode(message)
        if not isinstance(keys, IkeKeys):
            raise TraceError(f"encrypted {message.notation()} carries no IKE SA keys")
        sk = keys.sender(message.initiator)
        return encode(message, sk, rng.randbytes(sk.encr.iv_bytes))
    wire = getattr(message, "wire", None)
    if isinstance(wire, bytes | bytearray):
        return bytes(wire)
    raise TraceError(f"cannot write a {type(message).__name__}: it is not an IKEv2 Message and has no "
                     f"'wire' bytes")


def describe(message: Any) -> str:
    notation = getattr(message, "notation", None)
    if callable(notation):
        return str(notation())
    return type(message).__name__


def ike_frames(result: Result, opts: TraceOptions) -> list[Frame]:
    """Every IKE datagram of the run, in the order it was sent."""
    names = {s.address: name for name, s in result.scenario.peers.items()}
    rng = stream(result.seed, "trace", "ike")
    encoded: dict[int, bytes] = {}
    marked: dict[tuple[bytes, bytes], str | None] = {}
    out = []
    for tx in result.transmissions:
        d = tx.dgram
        data = encoded.get(id(d.message))
        if data is None:  # encode even what is omitted, so omitting never changes other packets' IVs
            data = encoded[id(d.message)] = message_bytes(d.message, d.keys, rng)
        if tx.lost is not None and opts.lost == "omit":
            continue
        notes = [f"{tx.sender} → {names.get(d.dst, d.dst)}: {describe(d.message)}"]
        if d.retransmit:
            notes.append(f"retransmission {d.retransmit}")
        if tx.lost is not None:
            notes.append(f"{LOST_TEXT.get(tx.lost, 'LOST: ' + tx.lost)}; never arrived at {names.get(d.dst, d.dst)}")
        if isinstance(d.keys, IkeKeys):
            k = (d.keys.spi_i, d.keys.spi_r)
            if k not in marked:
                algs = ikev2_names(d.keys)
                marked[k] = undecryptable_reason("SK payload", algs) if isinstance(algs, Cannot) else None
            if marked[k]:
                notes.append(str(marked[k]))
        kind = "keepalive" if data == NAT_KEEPALIVE else "ike"
        out.append(Frame(tx.t, d.src, d.dst, PROTO_UDP, udp_payload(data, d.sport, d.dport), d.sport, d.dport,
                         tuple(notes), kind, tx.sender))
    return out


FRAME_SOURCES: list[FrameSource] = [ike_frames]
"""Every packet source of a trace; ESP traffic appends its own (see ``trace.esp``)."""
