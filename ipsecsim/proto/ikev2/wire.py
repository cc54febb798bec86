"""IKEv2 wire format: Message <-> bytes (RFC 7296 section 3, RFC 5282 for AEAD).

The core needs exact bytes for two things: the AUTH payload signs the whole IKE_SA_INIT
message as sent (RFC 7296 2.15 "RealMessage1/2"), and packet traces must carry what a real
peer would send. The Encrypted payload is really encrypted and integrity protected with the
IKE SA's keys (RFC 7296 3.14); the IV comes from the caller's seeded stream.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass, replace
from typing import Any

from .. import cipher, onwire
from ..algorithms import Algorithm, Kind, by_id
from ..onwire import IvSource
from ..proposals import Proposal, Protocol
from ..ts import TS_IPV4_ADDR_RANGE, TrafficSelector
from . import message as _message
from .message import (
    AUTH,
    ID,
    KE,
    SA,
    TS,
    D,
    Exchange,
    Message,
    N,
    Nonce,
    Other,
    Payload,
    PayloadType,
    SaProposal,
    V,
    payload_type,
)

HEADER = struct.Struct("!8s8sBBBBII")
HEADER_LEN = HEADER.size  # 28
FLAG_I, FLAG_V, FLAG_R = 0x08, 0x10, 0x20
KEY_LENGTH_ATTR = 14
FLAG_CRITICAL = 0x80  # RFC 7296 3.2, the C bit of the generic payload header


class WireError(ValueError):
    """Bytes that are not a valid IKEv2 message, or an SK payload that does not verify."""


@dataclass(frozen=True, slots=True)
class SkKeys:
    """Keys protecting one direction of an IKE SA: SK_e? / SK_a? of the sender."""

    encr: Algorithm
    integ: Algorithm | None
    sk_e: bytes
    sk_a: bytes


@dataclass(frozen=True, slots=True)
class IkeKeys:
    """Both directions' SK keys of one IKE SA, named as Wireshark's IKEv2 decryption table
    names them (SPIi, SPIr, SK_ei, SK_er, SK_ai, SK_ar): what a packet trace needs."""

    spi_i: bytes
    spi_r: bytes
    encr: Algorithm
    integ: Algorithm | None
    sk_ei: bytes
    sk_er: bytes
    sk_ai: bytes
    sk_ar: bytes

    def sender(self, initiator: bool) -> SkKeys:
        """Keys protecting messages sent by the original initiator (``initiator``: its I flag)."""
        if initiator:
            return SkKeys(self.encr, self.integ, self.sk_ei, self.sk_ai)
        return SkKeys(self.encr, self.integ, self.sk_er, self.sk_ar)


# --- encoding -------------------------------------------------------------------------------

def _transform(alg: Algorithm, last: bool) -> bytes:
    attrs = struct.pack("!HH", 0x8000 | KEY_LENGTH_ATTR, alg.key_bits) if alg.key_length_attr else b""
    return struct.pack("!BBHBBH", 0 if last else 3, 0, 8 + len(attrs), int(alg.kind), 0, alg.ikev2_id) + attrs


def _proposal(p: SaProposal, last: bool) -> bytes:
    ts = p.proposal.transforms()
    body = b"".join(_transform(a, i == len(ts) - 1) for i, a in enumerate(ts))
    return struct.pack("!BBHBBBB", 0 if last else 2, 0, 8 + len(p.spi) + len(body), p.num,
                       int(p.protocol), len(p.spi), len(ts)) + p.spi + body


def _ts(sel: TrafficSelector) -> bytes:
    return struct.pack("!BBHHHII", TS_IPV4_ADDR_RANGE, sel.protocol, 16, sel.start_port, sel.end_port,
                       sel.start, sel.end)


def payload_body(p: Payload) -> bytes:
    """The payload after its 4-byte generic header."""
    if isinstance(p, SA):
        return b"".join(_proposal(x, i == len(p.proposals) - 1) for i, x in enumerate(p.proposals))
    if isinstance(p, KE):
        return struct.pack("!HH", p.group, 0) + p.data
    if isinstance(p, Nonce | V):
        return p.data
    if isinstance(p, Other):
        return p.body
    if isinstance(p, N):
        return struct.pack("!BBH", p.protocol, len(p.spi), p.type) + p.spi + p.data
    if isinstance(p, ID):
        return p.body
    if isinstance(p, AUTH):
        return bytes([p.method, 0, 0, 0]) + p.data
    if isinstance(p, TS):
        return bytes([len(p.selectors), 0, 0, 0]) + b"".join(_ts(s) for s in p.selectors)
    if isinstance(p, D):
        size = len(p.spis[0]) if p.spis else 0
        return struct.pack("!BBH", p.protocol, size, len(p.spis)) + b"".join(p.spis)
    raise TypeError(f"cannot encode {p!r}")


def encode_payloads(payloads: tuple[Payload, ...] | list[Payload]) -> tuple[int, bytes]:
    """(type of the first payload, chained payload bytes)."""
    out = []
    for i, p in enumerate(payloads):
        nxt = payload_type(payloads[i + 1]) if i + 1 < len(payloads) else PayloadType.NONE
        body = payload_body(p)
        flags = FLAG_CRITICAL if isinstance(p, Other) and p.critical else 0
        out.append(struct.pack("!BBH", int(nxt), flags, 4 + len(body)) + body)
    first = payload_type(payloads[0]) if payloads else PayloadType.NONE
    return int(first), b"".join(out)


def _header(msg: Message, next_payload: int, length: int) -> bytes:
    flags = (FLAG_I if msg.initiator else 0) | (FLAG_R if msg.response else 0)
    return HEADER.pack(msg.spi_i, msg.spi_r, next_payload, 0x20, int(msg.exchange), flags, msg.msg_id, length)


def encode(msg: Message, keys: SkKeys | None = None, iv: bytes | None = None,
           rng: random.Random | None = None) -> bytes:
    """The message as sent. Encrypted messages need the sender's keys and an IV (or an rng)."""
    first, inner = encode_payloads(msg.payloads)
    if not msg.encrypted:
        return _header(msg, first, HEADER_LEN + len(inner)) + inner
    if keys is None:
        raise ValueError("encrypted message needs keys")
    enc = keys.encr
    if iv is None:
        if rng is None:
            raise ValueError("encrypted message needs an IV or an rng")
        iv = rng.randbytes(enc.iv_bytes)
    plain = cipher.ikev2_pad(inner, max(enc.block_bytes, 1))
    icv_len = enc.icv_bytes if enc.aead else (keys.integ.icv_bytes if keys.integ else 0)
    if enc.aead:
        sk_len = 4 + len(iv) + len(plain) + icv_len
        hdr = _header(msg, int(PayloadType.SK), HEADER_LEN + sk_len)
        skh = struct.pack("!BBH", first, 0, sk_len)
        sealed = cipher.aead_seal(enc, keys.sk_e, iv, plain, hdr + skh)  # RFC 5282 5.1 AAD
        return hdr + skh + iv + sealed
    ct = cipher.encrypt_block(enc, keys.sk_e, iv, plain)
    sk_len = 4 + len(iv) + len(ct) + icv_len
    hdr = _header(msg, int(PayloadType.SK), HEADER_LEN + sk_len)
    data = hdr + struct.pack("!BBH", first, 0, sk_len) + iv + ct
    if keys.integ is None:
        raise ValueError("non-AEAD cipher needs an integrity algorithm")
    return data + cipher.integ_icv(keys.integ, keys.sk_a, data)


# --- decoding -------------------------------------------------------------------------------
# Bytes from a real peer (RFC 7296 3.2 and 3.3). Structure errors raise WireError (the
# responder answers INVALID_SYNTAX); what the core does not understand is kept, not refused:
# unknown payload types as ``Other`` (RFC 7296 2.5), unknown transforms make their proposal
# unacceptable (3.3.6) without failing the message, unknown notify types are just numbers.

def _parse_transforms(body: bytes, start: int, end: int, count: int) -> list[Algorithm] | None:
    """The algorithms of one proposal; None if it holds a transform type this core does not
    understand (RFC 7296 3.3.6: the proposal is then unacceptable). Transform IDs it does not
    implement are left out: they cannot be chosen."""
    algs: list[Algorithm] = []
    acceptable = True
    off = start
    for _ in range(count):
        if off + 8 > end:
            raise WireError("transform substructure runs past its proposal")
        _, _, tlen, ttype, _, tid = struct.unpack_from("!BBHBBH", body, off)
        if tlen < 8 or off + tlen > end:
            raise WireError(f"transform length {tlen} does not fit its proposal")
        keylen, aoff = 0, off + 8
        while aoff < off + tlen:
            if aoff + 4 > off + tlen:
                raise WireError("truncated transform attribute")
            atype, aval = struct.unpack_from("!HH", body, aoff)
            if atype & 0x8000:  # TV
                if atype & 0x7FFF == KEY_LENGTH_ATTR:
                    keylen = aval // 8
                aoff += 4
            else:  # TLV: RFC 7296 3.3.5 defines none, skip it
                aoff += 4 + aval
        try:
            kind = Kind(ttype)
        except ValueError:
            acceptable = False
        else:
            alg = by_id(kind, tid, keylen)
            if alg is not None:
                algs.append(alg)
        off += tlen
    if off != end:
        raise WireError("proposal length does not match its transforms")
    return algs if acceptable else None


def _parse_sa(body: bytes) -> SA:
    props, off, last = [], 0, 2
    while last != 0:
        if off + 8 > len(body):
            raise WireError("truncated proposal substructure")
        last, _, plen, num, proto, spisize, ntrans = struct.unpack_from("!BBHBBBB", body, off)
        if plen < 8 + spisize or off + plen > len(body):
            raise WireError(f"proposal length {plen} does not fit the SA payload")
        spi = body[off + 8: off + 8 + spisize]
        algs = _parse_transforms(body, off + 8 + spisize, off + plen, ntrans)
        off += plen
        try:
            protocol = Protocol(proto)
        except ValueError:
            continue  # a protocol this core does not negotiate: never chosen
        if algs is None:
            algs = []  # offers a transform type unknown here: kept (its number), never chosen
        kinds = {k: tuple(a for a in algs if a.kind is k) for k in Kind}
        props.append(SaProposal(num, spi, Proposal(protocol, kinds[Kind.ENCR], kinds[Kind.PRF],
                                                   kinds[Kind.INTEG], kinds[Kind.DH], kinds[Kind.ESN])))
    return SA(tuple(props))


_MIN_BODY = {PayloadType.SA: 8, PayloadType.KE: 4, PayloadType.N: 4, PayloadType.IDi: 4,
             PayloadType.IDr: 4, PayloadType.AUTH: 4, PayloadType.TSi: 4, PayloadType.TSr: 4,
             PayloadType.D: 4}


def _parse_payload(ptype: int, body: bytes, critical: bool) -> Payload:
    try:
        t = PayloadType(ptype)
    except ValueError:
        return Other(ptype, body, critical)
    if len(body) < _MIN_BODY.get(t, 0):
        raise WireError(f"{t.name} payload of {len(body)} octets is shorter than its fixed fields")
    if t is PayloadType.SA:
        return _parse_sa(body)
    if t is PayloadType.KE:
        return KE(struct.unpack_from("!H", body)[0], body[4:])
    if t is PayloadType.NONCE:
        return Nonce(body)
    if t is PayloadType.V:
        return V(body)
    if t is PayloadType.N:
        proto, spisize, ntype = struct.unpack_from("!BBH", body)
        if 4 + spisize > len(body):
            raise WireError("notify SPI runs past the payload")
        return N(ntype, body[4 + spisize:], proto, body[4:4 + spisize])
    if t in (PayloadType.IDi, PayloadType.IDr):
        return ID(t is PayloadType.IDi, body[0], body[4:], body[1:4])
    if t is PayloadType.AUTH:
        return AUTH(body[0], body[4:])
    if t in (PayloadType.TSi, PayloadType.TSr):
        sels, off = [], 4
        for _ in range(body[0]):
            if off + 4 > len(body):
                raise WireError("truncated traffic selector")
            ts_type, proto, slen = struct.unpack_from("!BBH", body, off)
            if slen < 8 or off + slen > len(body):
                raise WireError(f"traffic selector length {slen} does not fit its payload")
            if ts_type == TS_IPV4_ADDR_RANGE and slen == 16:
                _, _, _, sp, ep, s, e = struct.unpack_from("!BBHHHII", body, off)
                sels.append(TrafficSelector(s, e, proto, sp, ep))
            # other types (IPv6, FC) cannot match an IPv4 policy: left out (RFC 7296 3.13.1)
            off += slen
        return TS(t is PayloadType.TSi, tuple(sels))
    if t is PayloadType.D:
        proto, size, count = struct.unpack_from("!BBH", body)
        if 4 + size * count > len(body):
            raise WireError("delete payload SPIs run past the payload")
        return D(proto, tuple(body[4 + i * size: 4 + (i + 1) * size] for i in range(count)))
    if t is PayloadType.SK:
        raise WireError("an Encrypted payload must be the first and only payload of the chain")
    return Other(ptype, body, critical)  # CERT, CERTREQ, CP, EAP ...: carried, not interpreted


def decode_payloads(first: int, data: bytes) -> list[Payload]:
    out, nxt, off = [], first, 0
    while nxt != 0:
        if off + 4 > len(data):
            raise WireError("truncated payload chain")
        n, flags, length = struct.unpack_from("!BBH", data, off)
        if length < 4 or off + length > len(data):
            raise WireError(f"payload length {length} does not fit the message")
        out.append(_parse_payload(nxt, data[off + 4: off + length], bool(flags & FLAG_CRITICAL)))
        nxt, off = n, off + length
    return out


def decode(data: bytes, keys: SkKeys | None = None) -> Message:
    """Parse a message; an SK payload is verified and decrypted with the sender's ``keys``."""
    if len(data) < HEADER_LEN:
        raise WireError("shorter than an IKE header")
    spi_i, spi_r, first, ver, exch, flags, mid, length = HEADER.unpack_from(data)
    if ver >> 4 != 2:
        raise WireError(f"not IKEv2 (version 0x{ver:02x})")
    if length != len(data):
        raise WireError(f"length field {length} != {len(data)}")
    try:
        exchange = Exchange(exch)
    except ValueError:
        raise WireError(f"exchange type {exch} is not one this core takes part in") from None
    encrypted = first == PayloadType.SK
    if not encrypted:
        payloads = decode_payloads(first, data[HEADER_LEN:])
    else:
        if keys is None:
            raise WireError("encrypted message and no keys")
        inner_first, _, _sk_len = struct.unpack_from("!BBH", data, HEADER_LEN)
        enc = keys.encr
        iv_off = HEADER_LEN + 4
        iv = data[iv_off: iv_off + enc.iv_bytes]
        try:
            if enc.aead:
                plain = cipher.aead_open(enc, keys.sk_e, iv, data[iv_off + enc.iv_bytes:],
                                         data[:HEADER_LEN + 4])
            else:
                if keys.integ is None:
                    raise WireError("non-AEAD cipher needs an integrity algorithm")
                icv_len = keys.integ.icv_bytes
                body, icv = data[:-icv_len], data[-icv_len:]
                if cipher.integ_icv(keys.integ, keys.sk_a, body) != icv:
                    raise WireError("SK payload integrity check failed")
                plain = cipher.decrypt_block(enc, keys.sk_e, iv, data[iv_off + enc.iv_bytes: -icv_len])
            inner = cipher.ikev2_unpad(plain)
        except (cipher.CryptoError, ValueError) as e:
            raise WireError(f"SK payload does not decrypt: {e}") from e
        payloads = decode_payloads(inner_first, inner)
    return Message(exchange, spi_i, spi_r, mid, bool(flags & FLAG_R), bool(flags & FLAG_I),
                   tuple(payloads), encrypted, raw=data)


def sealed(msg: Message) -> Message:
    """An unencrypted message with ``raw`` set to its octets: what is sent is exactly what the
    sender's AUTH covers (RFC 7296 2.15 RealMessage1 / RealMessage2)."""
    if msg.encrypted:
        raise ValueError("an encrypted message is sealed with its IKE SA's keys when sent")
    return msg if msg.raw else replace(msg, raw=encode(msg))


def real_message(msg: Message) -> bytes:
    """The IKE_SA_INIT message as it went over the wire: RealMessage1 / RealMessage2 of RFC
    7296 2.15, the octets strongSwan keeps from ``message->get_packet()`` (5.9.8
    src/libcharon/sa/ikev2/tasks/ike_auth.c collect_my_init_data / collect_other_init_data).
    A message without octets never went over a wire: refusing it keeps AUTH from being
    computed over a re-encoding."""
    if not msg.raw:
        raise WireError(f"{msg.notation()} has no octets as sent or received")
    return msg.raw


def wire_bytes(msg: Message, keys: Any = None, iv: IvSource | None = None) -> bytes:
    """``Message.wire_bytes`` (``onwire.WireMessage``) for a message not yet in octets: the
    encoding; an encrypted message is sealed in its SK payload with ``keys`` (the IKE SA's
    ``IkeKeys``) and an IV from ``iv``."""
    if not msg.encrypted:
        return encode(msg)
    if not isinstance(keys, IkeKeys) or iv is None:
        raise onwire.WireError(f"encrypted {msg.notation()} carries no IKE SA keys")
    sk = keys.sender(msg.initiator)
    return encode(msg, sk, iv(sk.encr.iv_bytes))


_message.CODEC = wire_bytes
