"""IKEv1 / ISAKMP messages and payloads as immutable values (RFC 2408 section 3).

The core builds these objects and ``wire.py`` turns them into the exact bytes of RFC 2408
(encrypted per RFC 2409 Appendix B where the exchange requires it). A message put on the
wire carries those bytes in ``raw``; the receiving peer decodes ``raw`` with its own keys and
never looks at the sender's payload objects.

``notation()`` renders a message the way strongSwan logs IKEv1 (with the IANA exchange
names): ``IDENTITY_PROTECTION request 0 [ SA V V ]``, ``QUICK_MODE request 2964554093
[ HASH SA No ID ID ]``, ``INFORMATIONAL request 1337 [ HASH N(INVAL_ID) ]``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from ..onwire import IvSource, WireError


class Exchange(enum.IntEnum):
    """ISAKMP exchange types (RFC 2408 3.1, RFC 2409 section 5; IANA "ISAKMP Exchange Types")."""

    IDENTITY_PROTECTION = 2  # main mode
    AGGRESSIVE = 4
    INFORMATIONAL = 5
    QUICK_MODE = 32


PHASE1_EXCHANGES = (Exchange.IDENTITY_PROTECTION, Exchange.AGGRESSIVE)


class PayloadType(enum.IntEnum):
    """ISAKMP next-payload types (RFC 2408 3.1; NAT-D from RFC 3947 3.2)."""

    NONE = 0
    SA = 1
    P = 2
    T = 3
    KE = 4
    ID = 5
    CERT = 6
    CR = 7
    HASH = 8
    SIG = 9
    NONCE = 10
    N = 11
    D = 12
    VID = 13
    CP = 14  # draft-dukes-ike-mode-cfg (XAUTH / mode config)
    NAT_D = 20
    NAT_OA = 21  # RFC 3947 5.1
    NAT_D_DRAFT = 130  # draft-ietf-ipsec-nat-t-ike-02/03, private-use number
    NAT_OA_DRAFT = 131
    FRAGMENT = 132  # Cisco IKE fragmentation, as strongSwan and Libreswan send it


class Notify(enum.IntEnum):
    """Notify message types: RFC 2408 3.14.1 (errors), RFC 2407 4.6.3 (IPsec DOI status),
    RFC 3706 (DPD)."""

    INVALID_PAYLOAD_TYPE = 1
    DOI_NOT_SUPPORTED = 2
    SITUATION_NOT_SUPPORTED = 3
    INVALID_COOKIE = 4
    INVALID_MAJOR_VERSION = 5
    INVALID_MINOR_VERSION = 6
    INVALID_EXCHANGE_TYPE = 7
    INVALID_FLAGS = 8
    INVALID_MESSAGE_ID = 9
    INVALID_PROTOCOL_ID = 10
    INVALID_SPI = 11
    INVALID_TRANSFORM_ID = 12
    ATTRIBUTES_NOT_SUPPORTED = 13
    NO_PROPOSAL_CHOSEN = 14
    BAD_PROPOSAL_SYNTAX = 15
    PAYLOAD_MALFORMED = 16
    INVALID_KEY_INFORMATION = 17
    INVALID_ID_INFORMATION = 18
    INVALID_CERT_ENCODING = 19
    INVALID_CERTIFICATE = 20
    CERT_TYPE_UNSUPPORTED = 21
    INVALID_CERT_AUTHORITY = 22
    INVALID_HASH_INFORMATION = 23
    AUTHENTICATION_FAILED = 24
    INVALID_SIGNATURE = 25
    ADDRESS_NOTIFICATION = 26
    NOTIFY_SA_LIFETIME = 27
    CERTIFICATE_UNAVAILABLE = 28
    UNSUPPORTED_EXCHANGE_TYPE = 29
    UNEQUAL_PAYLOAD_LENGTHS = 30
    CONNECTED = 16384
    RESPONDER_LIFETIME = 24576
    REPLAY_STATUS = 24577
    INITIAL_CONTACT = 24578
    R_U_THERE = 36136
    R_U_THERE_ACK = 36137

    @property
    def is_error(self) -> bool:
        return self.value < 16384


# Short names for the notation: strongSwan's (src/libcharon/encoding/payloads/notify_payload.c)
# where it has one, ipsecsim's in the same style for INVAL_PLD_TYPE and INVAL_EXCH.
NOTIFY_SHORT = {
    Notify.INVALID_PAYLOAD_TYPE: "INVAL_PLD_TYPE", Notify.NO_PROPOSAL_CHOSEN: "NO_PROP",
    Notify.ATTRIBUTES_NOT_SUPPORTED: "ATTR_UNSUP", Notify.PAYLOAD_MALFORMED: "PLD_MAL",
    Notify.INVALID_KEY_INFORMATION: "INVAL_KE", Notify.INVALID_ID_INFORMATION: "INVAL_ID",
    Notify.INVALID_HASH_INFORMATION: "INVAL_HASH", Notify.AUTHENTICATION_FAILED: "AUTH_FAILED",
    Notify.INVALID_SPI: "INVAL_SPI", Notify.INVALID_EXCHANGE_TYPE: "INVAL_EXCH",
    Notify.INITIAL_CONTACT: "INITIAL_CONTACT", Notify.R_U_THERE: "DPD", Notify.R_U_THERE_ACK: "DPD_ACK",
}


class IdType(enum.IntEnum):
    """IPsec DOI identification types (RFC 2407 4.6.2.1)."""

    ID_IPV4_ADDR = 1
    ID_FQDN = 2
    ID_USER_FQDN = 3
    ID_IPV4_ADDR_SUBNET = 4
    ID_IPV6_ADDR = 5
    ID_IPV6_ADDR_SUBNET = 6
    ID_IPV4_ADDR_RANGE = 7
    ID_KEY_ID = 11


IPSEC_DOI = 1  # RFC 2407 4.2
SIT_IDENTITY_ONLY = 1  # RFC 2407 4.2.1

# Vendor IDs sent by strongSwan and most IKEv1 daemons in the first two phase 1 messages.
VID_DPD = bytes.fromhex("afcad71368a1f1c96b8696fc77570100")  # RFC 3706 section 5.1, DPD 1.0
VID_NATT = bytes.fromhex("4a131c81070358455c5728f20e95452f")  # RFC 3947 section 3.1, MD5("RFC 3947")


@dataclass(frozen=True, slots=True)
class Transform:
    """A transform payload (RFC 2408 3.6): one complete suite, its SA attributes in wire order.

    An attribute value that is an ``int`` is encoded in the basic (TV) form, ``bytes`` in the
    variable (TLV) form (RFC 2408 3.3)."""

    num: int
    transform_id: int
    attrs: tuple[tuple[int, int | bytes], ...] = ()

    def attr(self, atype: int) -> int | bytes | None:
        for t, v in self.attrs:
            if t == atype:
                return v
        return None


@dataclass(frozen=True, slots=True)
class SaProposal:
    """A proposal payload (RFC 2408 3.5): number, protocol id, SPI and alternative transforms."""

    num: int
    protocol: int
    spi: bytes
    transforms: tuple[Transform, ...]


@dataclass(frozen=True, slots=True)
class SA:
    """Security Association payload (RFC 2408 3.4) with the IPsec DOI situation (RFC 2407 4.2)."""

    proposals: tuple[SaProposal, ...]
    doi: int = IPSEC_DOI
    situation: int = SIT_IDENTITY_ONLY


@dataclass(frozen=True, slots=True)
class KE:
    """Key Exchange payload (RFC 2408 3.7): g^x, no group field in IKEv1."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Nonce:
    data: bytes


@dataclass(frozen=True, slots=True)
class ID:
    """Identification payload with the IPsec DOI fields (RFC 2407 4.6.2)."""

    id_type: int
    data: bytes
    protocol: int = 0
    port: int = 0

    @property
    def body(self) -> bytes:
        """IDii_b / IDir_b: the payload after its generic header (RFC 2409 section 5)."""
        return bytes([self.id_type, self.protocol]) + self.port.to_bytes(2, "big") + self.data


@dataclass(frozen=True, slots=True)
class HASH:
    data: bytes


@dataclass(frozen=True, slots=True)
class N:
    """Notification payload (RFC 2408 3.14)."""

    type: int
    protocol: int = 1
    spi: bytes = b""
    data: bytes = b""
    doi: int = IPSEC_DOI

    @property
    def name(self) -> str:
        try:
            return Notify(self.type).name
        except ValueError:
            return f"NOTIFY_{self.type}"


@dataclass(frozen=True, slots=True)
class D:
    """Delete payload (RFC 2408 3.15): an ISAKMP SA (its two cookies) or IPsec SPIs."""

    protocol: int
    spis: tuple[bytes, ...]
    doi: int = IPSEC_DOI


@dataclass(frozen=True, slots=True)
class V:
    """Vendor ID payload (RFC 2408 3.16)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class NATD:
    """NAT-D payload (RFC 3947 3.2): HASH(CKY-I | CKY-R | IP | Port). ``ptype`` is 20, or 130
    from a peer that negotiated the pre-RFC drafts (draft-ietf-ipsec-nat-t-ike-02/03)."""

    data: bytes
    ptype: int = 20


@dataclass(frozen=True, slots=True)
class Other:
    """A payload the core carries but does not interpret: CERT, CR, SIG (PSK authentication
    needs none), mode config, NAT-OA, Cisco fragments, or a type it does not know. strongSwan
    5.9.8 parses such payloads as "unknown" and goes on (src/libcharon/encoding/parser.c,
    message.c parse_payloads); ISAKMP has no critical bit (RFC 2408 3.2)."""

    ptype: int
    body: bytes


Payload = SA | KE | Nonce | ID | HASH | N | D | V | NATD | Other

_PTYPE: dict[type, PayloadType] = {
    SA: PayloadType.SA, KE: PayloadType.KE, Nonce: PayloadType.NONCE, ID: PayloadType.ID,
    HASH: PayloadType.HASH, N: PayloadType.N, D: PayloadType.D, V: PayloadType.VID, NATD: PayloadType.NAT_D,
}
# strongSwan 5.9.8's short payload names (src/libcharon/encoding/payloads/payload.c).
_LABEL = {PayloadType.NONCE: "No", PayloadType.VID: "V", PayloadType.NAT_D: "NAT-D", PayloadType.CR: "CERTREQ",
          PayloadType.NAT_OA: "NAT-OA", PayloadType.NAT_D_DRAFT: "NAT-D", PayloadType.NAT_OA_DRAFT: "NAT-OA",
          PayloadType.FRAGMENT: "FRAG"}


def payload_type(p: Payload) -> int:
    if isinstance(p, Other | NATD):
        return p.ptype
    return _PTYPE[type(p)]


def payload_label(p: Payload) -> str:
    """strongSwan's notation of one payload: SA, KE, No, ID, HASH, N(INVAL_ID), D, V, NAT-D."""
    if isinstance(p, N):
        try:
            n = Notify(p.type)
        except ValueError:
            return f"N({p.type})"
        return f"N({NOTIFY_SHORT.get(n, n.name)})"
    t = payload_type(p)
    try:
        known = PayloadType(t)
    except ValueError:
        return f"UNKN({t})"
    return _LABEL.get(known, known.name)


@dataclass(frozen=True, slots=True)
class Message:
    """An ISAKMP message. For an encrypted message ``payloads`` are the decrypted payloads.

    ``response`` is not on the wire (IKEv1 has no response flag): it is set by the peer that
    builds or decodes the message, true when the sender is the responder of the exchange.
    ``raw`` is the message exactly as sent; ``plain`` the payload chain before encryption
    (without padding) and ``bodies`` each payload's body as received (SAi_b, IDii_b).
    """

    exchange: Exchange
    cky_i: bytes
    cky_r: bytes
    msg_id: int
    response: bool
    payloads: tuple[Payload, ...]
    encrypted: bool = False
    version: int = 1
    raw: bytes = field(default=b"", repr=False, compare=False)
    plain: bytes = field(default=b"", repr=False, compare=False)
    bodies: tuple[bytes, ...] = field(default=(), repr=False, compare=False)

    @property
    def spi_i(self) -> bytes:
        return self.cky_i

    @property
    def spi_r(self) -> bytes:
        return self.cky_r

    def first(self, cls: type) -> Payload | None:
        for p in self.payloads:
            if isinstance(p, cls):
                return p
        return None

    def all(self, cls: type) -> list[Payload]:
        return [p for p in self.payloads if isinstance(p, cls)]

    def body_of(self, p: Payload) -> bytes:
        """The received body of payload ``p`` (identity, not equality, is matched)."""
        for q, b in zip(self.payloads, self.bodies, strict=False):
            if q is p:
                return b
        raise ValueError("payload not in this message or message not decoded")

    def notify(self, ntype: int) -> N | None:
        for p in self.payloads:
            if isinstance(p, N) and p.type == ntype:
                return p
        return None

    def error_notify(self) -> N | None:
        for p in self.payloads:
            if isinstance(p, N) and p.type < 16384:
                return p
        return None

    def labels(self) -> list[str]:
        return [payload_label(p) for p in self.payloads]

    def fields(self) -> dict[str, Any]:
        """The message as event fields (docs/events.md)."""
        return {"ike_version": 1, "exchange": self.exchange.name, "response": self.response,
                "msg_id": self.msg_id, "payloads": self.labels(), "spi_i": self.cky_i.hex(),
                "spi_r": self.cky_r.hex()}

    def notation(self) -> str:
        kind = "response" if self.response else "request"
        return f"{self.exchange.name} {kind} {self.msg_id} [ {' '.join(self.labels())} ]"

    def wire_bytes(self, keys: Any = None, iv: IvSource | None = None) -> bytes:
        """The bytes as sent (``onwire.WireMessage``): ``raw``, already encrypted by the
        sender in its IV chain (RFC 2409 Appendix B); ``keys`` and ``iv`` are not needed."""
        if not self.raw:
            raise WireError(f"{self.notation()} was never encoded (no raw bytes)")
        return self.raw
