"""The packets of a run, before layering: one ``Frame`` per IPv4 packet a peer sent.

The capture point is each sender's network interface: a datagram is captured when it leaves
its sender (``Transmission.t``), so a datagram the link then loses is in the trace too,
with a comment saying so (``TraceOptions.lost = "omit"`` leaves it out). A datagram dropped
by a frozen receiver was sent and is captured like any other.

IKE datagrams come from ``Result.transmissions``; their UDP payload is what the core
decided, asked for here and only here (lazily, when a trace is asked for) through the one
interface every message implements, ``proto.onwire.WireMessage.wire_bytes(keys, iv)``:

* an IKEv2 ``Message`` encodes itself with the sender's SK keys (``Datagram.keys``, an
  ``IkeKeys``) and an IV drawn from the trace's seeded stream; a retransmission repeats the
  bytes of the first transmission, as real daemons do (RFC 7296 2.1: a retransmitted
  message is the same message);
* an IKEv1 ``Message`` returns the bytes its sender encrypted (CBC IVs chain across a phase,
  RFC 2409 Appendix B); a ``NatKeepalive`` its single 0xFF;
* on UDP port 4500 an IKE message is preceded by the 4-octet non-ESP marker (RFC 3948 2.2,
  RFC 7296 2.23); a NAT-keepalive (the single octet 0xFF, RFC 3948 2.3) is not.

Other packet sources (ESP traffic) register a function in ``FRAME_SOURCES``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..proto.ikev1.message import Message as V1Message
from ..proto.ikev2.wire import IkeKeys
from ..proto.onwire import NAT_KEEPALIVE, WireError
from ..proto.rng import stream
from .ikev1_view import Ikev1Decryption
from .ikev1_view import marker as v1_marker
from .keyfile import Cannot, ikev1_table, ikev2_names, undecryptable_reason

if TYPE_CHECKING:
    from ..result import Result
    from .options import TraceOptions

NAT_T_PORT = 4500
NON_ESP_MARKER = bytes(4)  # RFC 3948 2.2
PROTO_UDP, PROTO_ESP = 17, 50

LOST_TEXT = {"loss": "LOST on the link (random loss)", "link_down": "LOST: the link is down",
             "no_route": "LOST: no route to the destination",
             "nat_no_mapping": "LOST at the NAT: no mapping for this port (it expired)",
             "too_big": "LOST: larger than the path MTU with DF set (a router drops it; the ICMP "
                        "fragmentation-needed never reaches the sending host)"}


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
    """The exact bytes of one IKE message as its sender put them in the UDP datagram: every
    message object implements ``proto.onwire.WireMessage`` (IKEv2 and IKEv1 messages, the
    NAT-keepalive)."""
    wire_bytes = getattr(message, "wire_bytes", None)
    if not callable(wire_bytes):
        raise TraceError(f"cannot write a {type(message).__name__}: it does not implement "
                         f"proto.onwire.WireMessage (wire_bytes)")
    try:
        return bytes(wire_bytes(keys, rng.randbytes))
    except WireError as e:
        raise TraceError(str(e)) from None


def describe(message: Any) -> str:
    notation = getattr(message, "notation", None)
    if callable(notation):
        return str(notation())
    return type(message).__name__


def peer_names(result: Result) -> dict[str, str]:
    """Address -> peer name, the NAT's public address naming the peer behind it."""
    names = {s.address: name for name, s in result.scenario.peers.items()}
    nat = result.scenario.spec.link.nat
    if nat is not None:
        names[nat.public_address] = nat.peer
    return names


def receiver_names(result: Result) -> dict[str, dict[str, str]]:
    """Per sender, address -> peer name: where peers share an address (one gateway, several
    tunnels), the sender's own remote peer."""
    names = peer_names(result)
    peers = result.scenario.peers
    return {n: {**names, peers[p].address: p} for n, p in result.scenario.spec.partner.items()}


def ike_frames(result: Result, opts: TraceOptions) -> list[Frame]:
    """Every IKE datagram of the run, in the order it was sent."""
    base = peer_names(result)
    per_sender = receiver_names(result)
    rng = stream(result.seed, "trace", "ike")
    encoded: dict[int, bytes] = {}
    marked: dict[tuple[bytes, bytes], str | None] = {}
    v1 = Ikev1Decryption(ikev1_table(result))
    out = []
    for tx in result.transmissions:
        d = tx.dgram
        data = encoded.get(id(d.message))
        if data is None:  # encode even what is omitted, so omitting never changes other packets' IVs
            data = encoded[id(d.message)] = message_bytes(d.message, d.keys, rng)
        if tx.lost is not None and opts.lost == "omit":
            continue
        names = per_sender.get(tx.sender, base)
        notes = [f"{tx.sender} → {names.get(d.dst, d.dst)}: {describe(d.message)}"]
        if d.retransmit:
            notes.append(f"retransmission {d.retransmit}")
        if getattr(tx, "nat", None):
            notes.append(str(tx.nat))
        if tx.lost is not None:
            notes.append(f"{LOST_TEXT.get(tx.lost, 'LOST: ' + tx.lost)}; never arrived at {names.get(d.dst, d.dst)}")
        if isinstance(d.message, V1Message):
            why = v1.reason(d.message, tx.sender, d.keys, data)
            if why:
                notes.append(v1_marker(why))
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
"""Every packet source of a trace: IKE datagrams, and the traffic's ESP packets (``trace.dataplane``
registers its source when it loads; ``trace.packets`` imports it)."""
