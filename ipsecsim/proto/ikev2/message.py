"""IKEv2 messages and payloads as immutable values (RFC 7296 section 3).

The core exchanges these objects; ``wire.py`` turns them into the exact bytes of RFC 7296
(for the AUTH computation and for packet traces). ``notation()`` renders a message the way
strongSwan logs it: ``IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) ]``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..onwire import IvSource, WireError
from ..proposals import Proposal, Protocol
from ..ts import TrafficSelector
from . import notify_names

CODEC: Callable[[Message, Any, IvSource | None], bytes] | None = None
"""How ``Message.wire_bytes`` encodes: ``wire.wire_bytes``, installed when the codec module
loads (the package imports it first). The codec depends on the messages, not the reverse."""


class Exchange(enum.IntEnum):
    """IKEv2 exchange types (RFC 7296 3.1)."""

    IKE_SA_INIT = 34
    IKE_AUTH = 35
    CREATE_CHILD_SA = 36
    INFORMATIONAL = 37


class PayloadType(enum.IntEnum):
    """IKEv2 payload types (RFC 7296 3.2; IANA "IKEv2 Payload Types")."""

    NONE = 0
    SA = 33
    KE = 34
    IDi = 35
    IDr = 36
    CERT = 37
    CERTREQ = 38
    AUTH = 39
    NONCE = 40
    N = 41
    D = 42
    V = 43
    TSi = 44
    TSr = 45
    SK = 46
    CP = 47
    EAP = 48
    GSPM = 49  # RFC 6467
    IDg = 50  # RFC 9838 (G-IKEv2), with GSA and KD
    GSA = 51
    KD = 52
    SKF = 53  # RFC 7383 Encrypted Fragment


# strongSwan 5.9.8's short names of the payloads the core does not interpret
# (src/libcharon/encoding/payloads/payload.c payload_type_short_names).
OTHER_LABEL = {PayloadType.CERT: "CERT", PayloadType.CERTREQ: "CERTREQ", PayloadType.CP: "CP",
               PayloadType.EAP: "EAP", PayloadType.GSPM: "GSPM", PayloadType.IDg: "IDg",
               PayloadType.GSA: "GSA", PayloadType.KD: "KD", PayloadType.SKF: "EF"}


class Notify(enum.IntEnum):
    """Notify message types used by ipsecsim (RFC 7296 3.10.1, RFC 7383, RFC 7427)."""

    UNSUPPORTED_CRITICAL_PAYLOAD = 1
    INVALID_IKE_SPI = 4
    INVALID_MAJOR_VERSION = 5
    INVALID_SYNTAX = 7
    INVALID_MESSAGE_ID = 9
    INVALID_SPI = 11
    NO_PROPOSAL_CHOSEN = 14
    INVALID_KE_PAYLOAD = 17
    AUTHENTICATION_FAILED = 24
    SINGLE_PAIR_REQUIRED = 34
    NO_ADDITIONAL_SAS = 35
    INTERNAL_ADDRESS_FAILURE = 36
    FAILED_CP_REQUIRED = 37
    TS_UNACCEPTABLE = 38
    INVALID_SELECTORS = 39
    TEMPORARY_FAILURE = 43
    CHILD_SA_NOT_FOUND = 44
    INITIAL_CONTACT = 16384
    SET_WINDOW_SIZE = 16385
    ADDITIONAL_TS_POSSIBLE = 16386
    IPCOMP_SUPPORTED = 16387
    NAT_DETECTION_SOURCE_IP = 16388
    NAT_DETECTION_DESTINATION_IP = 16389
    COOKIE = 16390
    USE_TRANSPORT_MODE = 16391
    REKEY_SA = 16393
    ESP_TFC_PADDING_NOT_SUPPORTED = 16394
    NON_FIRST_FRAGMENTS_ALSO = 16395
    FRAGMENTATION_SUPPORTED = 16430
    SIGNATURE_HASH_ALGORITHMS = 16431

    @property
    def is_error(self) -> bool:
        return self.value < 16384


# strongSwan's short names for the notation (notify_names.STRONGSWAN, strongSwan 5.9.8
# src/libcharon/encoding/payloads/notify_payload.c).
NOTIFY_SHORT = {n: notify_names.STRONGSWAN[n.value] for n in Notify if n.value in notify_names.STRONGSWAN}


class IdType(enum.IntEnum):
    """Identification types (RFC 7296 3.5)."""

    ID_IPV4_ADDR = 1
    ID_FQDN = 2
    ID_RFC822_ADDR = 3
    ID_IPV6_ADDR = 5
    ID_KEY_ID = 11


class AuthMethod(enum.IntEnum):
    """Authentication methods (RFC 7296 3.8)."""

    RSA_SIGNATURE = 1
    SHARED_KEY_MIC = 2
    DSS_SIGNATURE = 3


@dataclass(frozen=True, slots=True)
class SaProposal:
    """One proposal substructure: number, protocol, SPI and transforms (RFC 7296 3.3.1)."""

    num: int
    spi: bytes
    proposal: Proposal

    @property
    def protocol(self) -> Protocol:
        return self.proposal.protocol


@dataclass(frozen=True, slots=True)
class SA:
    proposals: tuple[SaProposal, ...]


@dataclass(frozen=True, slots=True)
class KE:
    group: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Nonce:
    data: bytes


@dataclass(frozen=True, slots=True)
class N:
    type: int
    data: bytes = b""
    protocol: int = 0
    spi: bytes = b""

    @property
    def name(self) -> str:
        """The core's name of the type, else IANA's, else NOTIFY_<number> (never assigned)."""
        try:
            return Notify(self.type).name
        except ValueError:
            return notify_names.name(self.type) or f"NOTIFY_{self.type}"


@dataclass(frozen=True, slots=True)
class ID:
    initiator: bool
    id_type: int
    data: bytes
    reserved: bytes = bytes(3)
    """The three RESERVED octets as received (sent as zero, RFC 7296 3.5): they are part of
    IDi' / IDr' and so of the AUTH input (strongSwan 5.9.8 ike_auth.c get_reserved_id_bytes)."""

    @property
    def body(self) -> bytes:
        """ID payload body after the generic header as sent or received: the input of RFC 7296
        2.15 MACedIDFor* (IDi' / IDr')."""
        return bytes([self.id_type]) + self.reserved + self.data


@dataclass(frozen=True, slots=True)
class AUTH:
    method: int
    data: bytes


@dataclass(frozen=True, slots=True)
class TS:
    initiator: bool
    selectors: tuple[TrafficSelector, ...]


@dataclass(frozen=True, slots=True)
class D:
    protocol: int
    spis: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class V:
    data: bytes


@dataclass(frozen=True, slots=True)
class Other:
    """A payload the core carries but does not interpret: CERT, CERTREQ, CP, EAP ... of RFC 7296
    (accepted and ignored: PSK authentication needs none of them) or a type it does not know.
    RFC 7296 2.5: an unknown payload is skipped unless its critical bit is set; then a request
    is answered with UNSUPPORTED_CRITICAL_PAYLOAD and a response is dropped."""

    ptype: int
    body: bytes
    critical: bool = False

    @property
    def unsupported_critical(self) -> bool:
        """Critical and of a type not in the IANA registry (the bit is ignored on known types)."""
        return self.critical and self.ptype not in _KNOWN_TYPES


_KNOWN_TYPES = frozenset(int(t) for t in PayloadType) - {0}

Payload = SA | KE | Nonce | N | ID | AUTH | TS | D | V | Other


def payload_type(p: Payload) -> int:
    if isinstance(p, Other):
        return p.ptype
    if isinstance(p, ID):
        return PayloadType.IDi if p.initiator else PayloadType.IDr
    if isinstance(p, TS):
        return PayloadType.TSi if p.initiator else PayloadType.TSr
    return _PTYPE[type(p)]


_PTYPE: dict[type, PayloadType] = {SA: PayloadType.SA, KE: PayloadType.KE, Nonce: PayloadType.NONCE,
                                   N: PayloadType.N, AUTH: PayloadType.AUTH, D: PayloadType.D,
                                   V: PayloadType.V}


def payload_label(p: Payload) -> str:
    """strongSwan's notation of one payload: SA, KE, No, N(NATD_S_IP), IDi, TSr, D, V, CERTREQ,
    CP ...; a notify type by strongSwan's short name, IANA's name, or its number
    (``notify_names.label``); a payload of unknown type as UNKN(type)."""
    cls = type(p)
    fixed = _LABEL.get(cls)
    if fixed is not None:
        return fixed
    if cls is N:
        ntype = p.type  # type: ignore[union-attr]
        label = _NOTIFY_LABEL.get(ntype)
        if label is None:
            label = _NOTIFY_LABEL[ntype] = f"N({notify_names.label(ntype)})"
        return label
    if cls is TS or cls is ID:
        return _SIDED_LABEL[cls, p.initiator]  # type: ignore[union-attr]
    return _payload_label(p)


def _payload_label(p: Payload) -> str:
    if isinstance(p, N):
        return f"N({notify_names.label(p.type)})"
    if isinstance(p, Nonce):
        return "No"
    if isinstance(p, Other):
        known = OTHER_LABEL.get(PayloadType(p.ptype)) if p.ptype in _KNOWN_TYPES else None
        return known or f"UNKN({p.ptype})"
    return PayloadType(payload_type(p)).name


# The labels of the payload classes whose label depends on nothing else (``_payload_label``
# gives the same): events show every message's payloads, a look-up per payload is enough.
_LABEL: dict[type, str] = {**{cls: PayloadType(t).name for cls, t in _PTYPE.items()}, Nonce: "No"}
del _LABEL[N]
_SIDED_LABEL: dict[tuple[type, bool], str] = {
    (ID, True): PayloadType.IDi.name, (ID, False): PayloadType.IDr.name,
    (TS, True): PayloadType.TSi.name, (TS, False): PayloadType.TSr.name}
_NOTIFY_LABEL: dict[int, str] = {}
"""``N(...)`` by notify type, filled as types are met (``notify_names`` is a fixed table)."""


@dataclass(frozen=True, slots=True)
class Message:
    """An IKEv2 message. ``payloads`` of an encrypted message are those inside SK{...}."""

    exchange: Exchange
    spi_i: bytes
    spi_r: bytes
    msg_id: int
    response: bool
    initiator: bool
    """The I flag: set when the sender is the original initiator of the IKE SA."""
    payloads: tuple[Payload, ...]
    encrypted: bool = False

    version: int = 2
    raw: bytes = field(default=b"", repr=False, compare=False)
    """The message exactly as sent or received (``wire.sealed`` / ``wire.decode``); empty for
    a message that was built but never put in octets. RFC 7296 2.15 signs these octets
    (RealMessage1 / RealMessage2), never a re-encoding: decoding then encoding need not give
    the same bytes (transform order, reserved octets, payload order are the sender's)."""

    def answer(self, payloads: list[Payload] | tuple[Payload, ...], initiator: bool) -> Message:
        """The response to this request carrying ``payloads`` (``initiator``: the I flag of the
        side answering); encrypted but for IKE_SA_INIT."""
        return Message(self.exchange, self.spi_i, self.spi_r, self.msg_id, True, initiator, tuple(payloads),
                       self.exchange is not Exchange.IKE_SA_INIT)

    def first(self, cls: type) -> Payload | None:
        for p in self.payloads:
            if isinstance(p, cls):
                return p
        return None

    def notifies(self) -> list[N]:
        return [p for p in self.payloads if isinstance(p, N)]

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

    def unsupported_critical(self) -> int | None:
        """The type of the first payload the core does not know whose critical bit is set
        (RFC 7296 2.5), or None."""
        for p in self.payloads:
            if isinstance(p, Other) and p.unsupported_critical:
                return p.ptype
        return None

    def labels(self) -> list[str]:
        return [payload_label(p) for p in self.payloads]

    def fields(self) -> dict[str, Any]:
        """The message as event fields (docs/events.md)."""
        return {"ike_version": 2, "exchange": self.exchange.name, "response": self.response,
                "msg_id": self.msg_id, "payloads": self.labels(), "spi_i": self.spi_i.hex(),
                "spi_r": self.spi_r.hex()}

    def notation(self) -> str:
        kind = "response" if self.response else "request"
        return f"{self.exchange.name} {kind} {self.msg_id} [ {' '.join(self.labels())} ]"

    def wire_bytes(self, keys: Any = None, iv: IvSource | None = None) -> bytes:
        """The exact RFC 7296 bytes (``onwire.WireMessage``): ``raw`` when the message was put
        in octets already (sent or received), else the encoding; an encrypted message is
        sealed in its SK payload with ``keys`` (the IKE SA's ``wire.IkeKeys``) and an IV from
        ``iv``."""
        if self.raw:
            return self.raw
        if CODEC is None:
            raise WireError("the IKEv2 codec (proto.ikev2.wire) is not loaded")
        return CODEC(self, keys, iv)
