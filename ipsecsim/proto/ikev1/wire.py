"""ISAKMP wire format: Message <-> bytes (RFC 2408 section 3, RFC 2409 Appendix B).

The IKEv1 core needs exact bytes for three things: HASH_I / HASH_R sign the *bodies* of the
initiator's SA payload and of the ID payloads (RFC 2409 section 5, SAi_b and IDii_b), the
quick mode and informational HASHes cover the payload chain after the HASH payload with
all payload headers (RFC 2409 5.5, 5.7), and packet traces must carry what a real peer
sends. Encrypted messages are really encrypted: the payload chain, zero-padded to the
cipher block size, is CBC-encrypted with the phase 1 key and the IV the caller tracks per
exchange (RFC 2409 Appendix B); the Length field counts the padding (RFC 2408 3.1).

Only the DOI-independent structure lives here; what attributes mean is ``doi.py``'s job.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from typing import Any

from .. import cipher
from ..algorithms import Algorithm
from .message import (
    HASH,
    ID,
    KE,
    NATD,
    SA,
    D,
    Exchange,
    Message,
    N,
    Nonce,
    Other,
    Payload,
    PayloadType,
    SaProposal,
    Transform,
    V,
    payload_type,
)

HEADER = struct.Struct("!8s8sBBBBII")
HEADER_LEN = HEADER.size  # 28
VERSION = 0x10  # major 1, minor 0
FLAG_E, FLAG_C, FLAG_A = 0x01, 0x02, 0x04  # encryption, commit, authentication only
_GENERIC = struct.Struct("!BBH")


class WireError(ValueError):
    """Bytes that are not a valid ISAKMP message, or an encrypted body that does not decrypt
    to a valid payload chain (wrong key or IV)."""


@dataclass(frozen=True, slots=True)
class Header:
    cky_i: bytes
    cky_r: bytes
    next_payload: int
    exchange: int
    flags: int
    msg_id: int
    length: int

    @property
    def encrypted(self) -> bool:
        return bool(self.flags & FLAG_E)

    def fields(self) -> dict[str, Any]:
        try:
            name: object = Exchange(self.exchange).name
        except ValueError:
            name = self.exchange
        return {"ike_version": 1, "exchange": name, "msg_id": self.msg_id, "spi_i": self.cky_i.hex(),
                "spi_r": self.cky_r.hex()}


# --- attributes (RFC 2408 3.3) --------------------------------------------------------------

def encode_attrs(attrs: tuple[tuple[int, int | bytes], ...]) -> bytes:
    out = bytearray()
    for atype, value in attrs:
        if isinstance(value, int):
            if not 0 <= value <= 0xFFFF:
                raise ValueError(f"attribute {atype}: basic value {value} does not fit 16 bits")
            out += struct.pack("!HH", 0x8000 | atype, value)
        else:
            out += struct.pack("!HH", atype, len(value)) + value
    return bytes(out)


def parse_attrs(data: bytes) -> tuple[tuple[int, int | bytes], ...]:
    out: list[tuple[int, int | bytes]] = []
    off = 0
    while off < len(data):
        if off + 4 > len(data):
            raise WireError("truncated data attribute")
        atype, val = struct.unpack_from("!HH", data, off)
        if atype & 0x8000:
            out.append((atype & 0x7FFF, val))
            off += 4
        else:
            if off + 4 + val > len(data):
                raise WireError(f"attribute {atype} longer than its transform")
            out.append((atype, data[off + 4: off + 4 + val]))
            off += 4 + val
    return tuple(out)


# --- encoding -------------------------------------------------------------------------------

def _transform(t: Transform, last: bool) -> bytes:
    body = struct.pack("!BBH", t.num, t.transform_id, 0) + encode_attrs(t.attrs)
    return _GENERIC.pack(0 if last else PayloadType.T, 0, 4 + len(body)) + body


def _proposal(p: SaProposal, last: bool) -> bytes:
    trans = b"".join(_transform(t, i == len(p.transforms) - 1) for i, t in enumerate(p.transforms))
    body = struct.pack("!BBBB", p.num, p.protocol, len(p.spi), len(p.transforms)) + p.spi + trans
    return _GENERIC.pack(0 if last else PayloadType.P, 0, 4 + len(body)) + body


def payload_body(p: Payload) -> bytes:
    """The payload after its 4-byte generic header (SAi_b, IDii_b ... of RFC 2409 section 5)."""
    if isinstance(p, SA):
        return struct.pack("!II", p.doi, p.situation) + b"".join(
            _proposal(x, i == len(p.proposals) - 1) for i, x in enumerate(p.proposals))
    if isinstance(p, KE | Nonce | HASH | V | NATD):
        return p.data
    if isinstance(p, Other):
        return p.body
    if isinstance(p, ID):
        return p.body
    if isinstance(p, N):
        return struct.pack("!IBBH", p.doi, p.protocol, len(p.spi), p.type) + p.spi + p.data
    if isinstance(p, D):
        size = len(p.spis[0]) if p.spis else 0
        if any(len(s) != size for s in p.spis):
            raise ValueError("all SPIs of a delete payload have the same size")
        return struct.pack("!IBBH", p.doi, p.protocol, size, len(p.spis)) + b"".join(p.spis)
    raise TypeError(f"cannot encode {p!r}")


def encode_chain(payloads: tuple[Payload, ...] | list[Payload]) -> tuple[int, bytes, tuple[bytes, ...]]:
    """(type of the first payload, the chained payloads with generic headers, each body)."""
    out, bodies = [], []
    for i, p in enumerate(payloads):
        nxt = payload_type(payloads[i + 1]) if i + 1 < len(payloads) else PayloadType.NONE
        body = payload_body(p)
        bodies.append(body)
        out.append(_GENERIC.pack(int(nxt), 0, 4 + len(body)) + body)
    first = payload_type(payloads[0]) if payloads else PayloadType.NONE
    return int(first), b"".join(out), tuple(bodies)


def seal(msg: Message, encr: Algorithm | None = None, key: bytes = b"", iv: bytes = b"") -> Message:
    """The message with ``raw`` (its exact bytes), ``plain`` and ``bodies`` filled in.

    An encrypted message is CBC-encrypted with ``key`` and ``iv`` after zero padding to the
    block size (RFC 2409 Appendix B; the E flag is set, RFC 2408 3.1)."""
    first, chain, bodies = encode_chain(msg.payloads)
    flags = 0
    body = chain
    if msg.encrypted:
        if encr is None or not key:
            raise ValueError("an encrypted message needs the phase 1 cipher and key")
        block = max(encr.block_bytes, 1)
        body = cipher.encrypt_block(encr, key, iv, chain + bytes(-len(chain) % block))
        flags = FLAG_E
    hdr = HEADER.pack(msg.cky_i, msg.cky_r, first, VERSION, int(msg.exchange), flags, msg.msg_id,
                      HEADER_LEN + len(body))
    return replace(msg, raw=hdr + body, plain=chain, bodies=bodies)


def last_block(raw: bytes, encr: Algorithm) -> bytes:
    """The last CBC ciphertext block of an encrypted message: the next IV (RFC 2409 App. B)."""
    return raw[-encr.block_bytes:]


# --- decoding -------------------------------------------------------------------------------

def decode_header(data: bytes) -> Header:
    if len(data) < HEADER_LEN:
        raise WireError("shorter than an ISAKMP header")
    cky_i, cky_r, nxt, ver, exch, flags, mid, length = HEADER.unpack_from(data)
    if ver >> 4 != 1:
        raise WireError(f"not ISAKMP / IKEv1 (version 0x{ver:02x})")
    if length != len(data):
        raise WireError(f"length field {length} != {len(data)}")
    return Header(cky_i, cky_r, nxt, exch, flags, mid, length)


def _parse_sa(body: bytes) -> SA:
    if len(body) < 8:
        raise WireError("SA payload shorter than DOI and situation")
    doi, situation = struct.unpack_from("!II", body)
    props, off, nxt = [], 8, PayloadType.P
    while nxt != PayloadType.NONE:
        if nxt != PayloadType.P or off + 8 > len(body):
            raise WireError("malformed proposal payload")
        nxt, res, plen = _GENERIC.unpack_from(body, off)
        if res or plen < 8 or off + plen > len(body):
            raise WireError("malformed proposal payload header")
        num, proto, spisize, ntrans = struct.unpack_from("!BBBB", body, off + 4)
        spi = body[off + 8: off + 8 + spisize]
        toff, end, tnext, trans = off + 8 + spisize, off + plen, PayloadType.T, []
        for _ in range(ntrans):
            if tnext != PayloadType.T or toff + 8 > end:
                raise WireError("malformed transform payload")
            tnext, tres, tlen = _GENERIC.unpack_from(body, toff)
            if tres or tlen < 8 or toff + tlen > end:
                raise WireError("malformed transform payload header")
            tnum, tid, _ = struct.unpack_from("!BBH", body, toff + 4)
            trans.append(Transform(tnum, tid, parse_attrs(body[toff + 8: toff + tlen])))
            toff += tlen
        if tnext != PayloadType.NONE or toff != end:
            raise WireError("transform count does not match the proposal")
        props.append(SaProposal(num, proto, spi, tuple(trans)))
        off = end
    if off != len(body):
        raise WireError("bytes after the last proposal")
    return SA(tuple(props), doi, situation)


def _parse_payload(ptype: int, body: bytes) -> Payload:
    try:
        t = PayloadType(ptype)
    except ValueError:
        return Other(ptype, body)
    if t in (PayloadType.P, PayloadType.T):
        raise WireError(f"{t.name} payload outside an SA payload")
    if t is PayloadType.SA:
        return _parse_sa(body)
    if t is PayloadType.KE:
        return KE(body)
    if t is PayloadType.NONCE:
        return Nonce(body)
    if t is PayloadType.HASH:
        return HASH(body)
    if t is PayloadType.VID:
        return V(body)
    if t in (PayloadType.NAT_D, PayloadType.NAT_D_DRAFT):
        return NATD(body, int(t))
    if t is PayloadType.ID:
        if len(body) < 4:
            raise WireError("ID payload shorter than its header")
        return ID(body[0], body[4:], body[1], int.from_bytes(body[2:4], "big"))
    if t is PayloadType.N:
        if len(body) < 8 or len(body) < 8 + body[5]:
            raise WireError("notification payload shorter than its header")
        doi, proto, spisize, ntype = struct.unpack_from("!IBBH", body)
        return N(ntype, proto, body[8:8 + spisize], body[8 + spisize:], doi)
    if t is PayloadType.D:
        if len(body) < 8:
            raise WireError("delete payload shorter than its header")
        doi, proto, size, count = struct.unpack_from("!IBBH", body)
        if len(body) != 8 + size * count:
            raise WireError("delete payload length does not match its SPIs")
        return D(proto, tuple(body[8 + i * size: 8 + (i + 1) * size] for i in range(count)), doi)
    return Other(ptype, body)  # CERT, CR, SIG, CP, NAT-OA, FRAG: carried, not interpreted


def decode_chain(first: int, data: bytes) -> tuple[list[Payload], list[bytes], int]:
    """(payloads, their bodies, offset after the last payload) of a payload chain."""
    payloads, bodies, nxt, off = [], [], first, 0
    while nxt != PayloadType.NONE:
        if off + 4 > len(data):
            raise WireError("truncated payload chain")
        n, _res, length = _GENERIC.unpack_from(data, off)  # RESERVED: ignored, as strongSwan does
        if length < 4 or off + length > len(data):
            raise WireError(f"payload length {length} does not fit the message")
        body = data[off + 4: off + length]
        payloads.append(_parse_payload(nxt, body))
        bodies.append(body)
        nxt, off = n, off + length
    return payloads, bodies, off


def decode(data: bytes, encr: Algorithm | None = None, key: bytes = b"", iv: bytes = b"") -> Message:
    """Parse a message; an encrypted one is decrypted with the receiver's ``key`` and ``iv``.

    ``response`` is left False: the receiver knows from the exchange state who sent it."""
    hdr = decode_header(data)
    try:
        exchange = Exchange(hdr.exchange)
    except ValueError:
        raise WireError(f"unsupported exchange type {hdr.exchange}") from None
    body = data[HEADER_LEN:]
    if hdr.encrypted:
        if encr is None or not key:
            raise WireError("encrypted message, but no keys available")
        block = max(encr.block_bytes, 1)
        if not body or len(body) % block:
            raise WireError(f"encrypted body of {len(body)} octets is not a multiple of the {block}-octet block")
        try:
            plain = cipher.decrypt_block(encr, key, iv, body)
        except cipher.CryptoError as e:
            raise WireError(f"does not decrypt: {e}") from e
    else:
        plain = body
    payloads, bodies, end = decode_chain(hdr.next_payload, plain)
    trailing = len(plain) - end
    # Padding fills the last block, and may be a whole block: strongSwan 5.9.8 sends main mode
    # message 6 (ID 12 + HASH 36 octets, on a block boundary) with 16 octets of padding
    # (measured against charon, tests/live/test_strongswan_ikev1.py).
    if hdr.encrypted and trailing > max(encr.block_bytes, 1):  # type: ignore[union-attr]
        raise WireError(f"{trailing} octets after the last payload: more than padding")
    if not hdr.encrypted and trailing:
        raise WireError(f"{trailing} octets after the last payload")
    return Message(exchange, hdr.cky_i, hdr.cky_r, hdr.msg_id, False, tuple(payloads), hdr.encrypted,
                   raw=data, plain=plain[:end], bodies=tuple(bodies))
