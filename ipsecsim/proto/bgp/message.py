"""BGP-4 messages as octets (RFC 4271 section 4) with 4-octet AS numbers (RFC 6793).

Every message starts with the 19-octet header (16-octet marker of all ones, length, type).
OPEN (4.2) carries version 4, My Autonomous System (AS_TRANS 23456 when the AS does not fit
in two octets, RFC 6793 4.2.3), Hold Time, BGP Identifier and one optional parameter: the
4-octet AS Number capability (code 65, RFC 6793 / RFC 5492). UPDATE (4.3) carries withdrawn
prefixes, the path attributes ORIGIN, AS_PATH (one AS_SEQUENCE of 4-octet ASNs, as both
speakers announce the capability), NEXT_HOP and, if set, MULTI_EXIT_DISC, and the NLRI.
NOTIFICATION (4.5) carries error code, subcode and data; KEEPALIVE (4.4) is the header alone.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

MARKER = b"\xff" * 16
HEADER = 19
AS_TRANS = 23456  # RFC 6793 section 9
OPEN, UPDATE, NOTIFICATION, KEEPALIVE = 1, 2, 3, 4
CAP_AS4 = 65

# NOTIFICATION error codes and the subcodes used here (RFC 4271 4.5, 6.x; RFC 4486 for Cease)
ERROR_NAMES = {1: "Message Header Error", 2: "OPEN Message Error", 3: "UPDATE Message Error",
               4: "Hold Timer Expired", 5: "Finite State Machine Error", 6: "Cease"}
SUBCODE_NAMES = {(2, 1): "Unsupported Version Number", (2, 2): "Bad Peer AS", (2, 3): "Bad BGP Identifier",
                 (2, 6): "Unacceptable Hold Time", (6, 2): "Administrative Shutdown",
                 (6, 3): "Peer De-configured", (6, 4): "Administrative Reset", (6, 6): "Other Configuration Change"}


class MessageError(ValueError):
    """Octets that are not a well-formed BGP message (a Message Header Error, RFC 4271 6.1)."""


@dataclass(frozen=True, slots=True)
class Open:
    asn: int
    hold_time: int
    router_id: str
    version: int = 4


@dataclass(frozen=True, slots=True)
class Update:
    withdrawn: tuple[str, ...] = ()
    nlri: tuple[str, ...] = ()
    as_path: tuple[int, ...] = ()
    next_hop: str | None = None
    med: int | None = None
    origin: int = 0  # IGP


@dataclass(frozen=True, slots=True)
class Notification:
    code: int
    subcode: int = 0
    data: bytes = b""

    @property
    def name(self) -> str:
        sub = SUBCODE_NAMES.get((self.code, self.subcode))
        base = ERROR_NAMES.get(self.code, f"error {self.code}")
        return f"{base} / {sub}" if sub else base


@dataclass(frozen=True, slots=True)
class Keepalive:
    pass


Message = Open | Update | Notification | Keepalive


def _header(kind: int, body: bytes) -> bytes:
    return MARKER + struct.pack("!HB", HEADER + len(body), kind) + body


def _prefix(p: str) -> bytes:
    net = ipaddress.IPv4Network(p)
    n = (net.prefixlen + 7) // 8
    return bytes([net.prefixlen]) + net.network_address.packed[:n]


def _prefixes(data: bytes) -> tuple[str, ...]:
    out, i = [], 0
    while i < len(data):
        plen = data[i]
        n = (plen + 7) // 8
        if plen > 32 or i + 1 + n > len(data):
            raise MessageError("malformed prefix")
        raw = data[i + 1:i + 1 + n] + b"\x00" * (4 - n)
        out.append(str(ipaddress.IPv4Network((raw, plen))))
        i += 1 + n
    return tuple(out)


def _attr(flags: int, code: int, value: bytes) -> bytes:
    return struct.pack("!BBB", flags, code, len(value)) + value


def encode(msg: Message) -> bytes:
    if isinstance(msg, Keepalive):
        return _header(KEEPALIVE, b"")
    if isinstance(msg, Open):
        cap = struct.pack("!BBI", CAP_AS4, 4, msg.asn)
        param = struct.pack("!BB", 2, len(cap)) + cap  # parameter type 2: Capabilities (RFC 5492)
        my_as = msg.asn if msg.asn <= 0xFFFF else AS_TRANS
        body = struct.pack("!BHH4sB", msg.version, my_as, msg.hold_time,
                           ipaddress.IPv4Address(msg.router_id).packed, len(param)) + param
        return _header(OPEN, body)
    if isinstance(msg, Notification):
        return _header(NOTIFICATION, struct.pack("!BB", msg.code, msg.subcode) + msg.data)
    withdrawn = b"".join(_prefix(p) for p in msg.withdrawn)
    attrs = b""
    if msg.nlri:
        seg = struct.pack("!BB", 2, len(msg.as_path)) + b"".join(struct.pack("!I", a) for a in msg.as_path)
        attrs += _attr(0x40, 1, bytes([msg.origin])) + _attr(0x40, 2, seg)
        attrs += _attr(0x40, 3, ipaddress.IPv4Address(msg.next_hop or "0.0.0.0").packed)
        if msg.med is not None:
            attrs += _attr(0x80, 4, struct.pack("!I", msg.med))
    nlri = b"".join(_prefix(p) for p in msg.nlri)
    body = struct.pack("!H", len(withdrawn)) + withdrawn + struct.pack("!H", len(attrs)) + attrs + nlri
    return _header(UPDATE, body)


def decode(data: bytes) -> Message:
    """One message from its octets; ``MessageError`` if they are not a BGP message."""
    if len(data) < HEADER or data[:16] != MARKER:
        raise MessageError("connection not synchronised (marker)")
    length, kind = struct.unpack("!HB", data[16:19])
    if length != len(data) or length > 4096:
        raise MessageError(f"bad message length {length}")
    body = data[19:]
    try:
        if kind == KEEPALIVE:
            return Keepalive()
        if kind == NOTIFICATION:
            return Notification(body[0], body[1], bytes(body[2:]))
        if kind == OPEN:
            version, my_as, hold, rid, plen = struct.unpack("!BHH4sB", body[:10])
            asn, params, i = my_as, body[10:10 + plen], 0
            while i + 2 <= len(params):
                ptype, pl = params[i], params[i + 1]
                if ptype == 2:
                    caps, j = params[i + 2:i + 2 + pl], 0
                    while j + 2 <= len(caps):
                        code, cl = caps[j], caps[j + 1]
                        if code == CAP_AS4 and cl == 4:
                            asn = struct.unpack("!I", caps[j + 2:j + 6])[0]
                        j += 2 + cl
                i += 2 + pl
            return Open(asn, hold, str(ipaddress.IPv4Address(rid)), version)
        if kind == UPDATE:
            (wl,) = struct.unpack("!H", body[:2])
            withdrawn = _prefixes(body[2:2 + wl])
            (al,) = struct.unpack("!H", body[2 + wl:4 + wl])
            attrs, nlri = body[4 + wl:4 + wl + al], _prefixes(body[4 + wl + al:])
            as_path: tuple[int, ...] = ()
            next_hop, med, origin, i = None, None, 0, 0
            while i < len(attrs):
                flags, code = attrs[i], attrs[i + 1]
                if flags & 0x10:  # extended length
                    (al2,) = struct.unpack("!H", attrs[i + 2:i + 4])
                    value, i = attrs[i + 4:i + 4 + al2], i + 4 + al2
                else:
                    al2 = attrs[i + 2]
                    value, i = attrs[i + 3:i + 3 + al2], i + 3 + al2
                if code == 1:
                    origin = value[0]
                elif code == 2:
                    j, path = 0, []
                    while j < len(value):
                        n = value[j + 1]
                        path += [struct.unpack("!I", value[j + 2 + 4 * k:j + 6 + 4 * k])[0] for k in range(n)]
                        j += 2 + 4 * n
                    as_path = tuple(path)
                elif code == 3:
                    next_hop = str(ipaddress.IPv4Address(value))
                elif code == 4:
                    med = struct.unpack("!I", value)[0]
            return Update(withdrawn, nlri, as_path, next_hop, med, origin)
    except (IndexError, struct.error, ValueError) as e:
        raise MessageError(f"malformed message of type {kind}: {e}") from None
    raise MessageError(f"bad message type {kind}")


def type_name(msg: Message) -> str:
    return type(msg).__name__.upper()
