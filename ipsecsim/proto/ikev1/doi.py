"""What the SA attributes and ID fields mean: RFC 2409 Appendix A and the IPsec DOI (RFC 2407).

* Phase 1 transforms (KEY_IKE) carry the class values of RFC 2409 Appendix A: Encryption
  Algorithm (1), Hash Algorithm (2), Authentication Method (3, pre-shared key = 1), Group
  Description (4), Life Type (11) / Life Duration (12) pairs and Key Length (14). The hash
  algorithm is also the PRF: HMAC over it (RFC 2409 section 5).
* IPsec ESP transforms (RFC 2407 4.4.4 transform ids) carry the RFC 2407 4.5 attributes SA
  Life Type (1) / Duration (2), Group Description (3, PFS), Encapsulation Mode (4),
  Authentication Algorithm (5), Key Length (6) and Extended Sequence Number (11, RFC 4304).
* ID payloads (RFC 2407 4.6.2): identities for phase 1, proxy identities (IDci / IDcr) as
  ID_IPV4_ADDR, ID_IPV4_ADDR_SUBNET or ID_IPV4_ADDR_RANGE with protocol and port.

Algorithm code points come from the transform registry (``ikev1_id``, ``esp_v1_id``).
"""

from __future__ import annotations

import ipaddress

from ..algorithms import ALGORITHMS, DH_BY_GROUP, Algorithm, Kind
from ..proposals import Proposal, Protocol
from ..settings import Identity
from ..ts import TrafficSelector
from .message import ID, IdType, Transform
from .sa_life import SaLife

KEY_IKE = 1  # RFC 2407 4.4.2
AUTH_PSK = 1  # RFC 2409 Appendix A, Authentication Method
LIFE_SECONDS, LIFE_KILOBYTES = 1, 2
ENCAP_TUNNEL, ENCAP_TRANSPORT = 1, 2  # RFC 2407 4.5
ENCAP_UDP_TUNNEL = 3  # RFC 3947 5.1: UDP-Encapsulated-Tunnel, when a NAT was detected

# RFC 2409 Appendix A attribute classes
P1_ENCR, P1_HASH, P1_AUTH, P1_GROUP, P1_LIFE_TYPE, P1_LIFE_DURATION, P1_KEY_LENGTH = 1, 2, 3, 4, 11, 12, 14
# RFC 2407 4.5 attribute types
P2_LIFE_TYPE, P2_LIFE_DURATION, P2_GROUP, P2_ENCAP, P2_AUTH, P2_KEY_LENGTH, P2_ESN = 1, 2, 3, 4, 5, 6, 11


class DoiError(ValueError):
    """A transform or ID this implementation cannot use (unknown algorithm, bad field)."""


def _index(kind: Kind, attr: str) -> dict[int, list[Algorithm]]:
    out: dict[int, list[Algorithm]] = {}
    for a in ALGORITHMS.values():
        code = getattr(a, attr)
        if a.kind is kind and code is not None:
            out.setdefault(code, []).append(a)
    return out


_P1_ENCR = _index(Kind.ENCR, "ikev1_id")
_P1_PRF = {a.ikev1_id: a for a in ALGORITHMS.values() if a.kind is Kind.PRF and a.ikev1_id is not None}
_ESP_ENCR = _index(Kind.ENCR, "esp_v1_id")
_ESP_AUTH = {a.esp_v1_id: a for a in ALGORITHMS.values() if a.kind is Kind.INTEG and a.esp_v1_id is not None}


def _by_key(cands: list[Algorithm], key_bits: int | None, what: str) -> Algorithm:
    for a in cands:
        if not a.key_length_attr or a.key_bits == key_bits:
            return a
    raise DoiError(f"{what}: no cipher with key length {key_bits}")


def _duration(value: int) -> int | bytes:
    """Life Duration is variable length: the basic form when it fits 16 bits (RFC 2408 3.3)."""
    return value if value <= 0xFFFF else value.to_bytes(4 if value <= 0xFFFFFFFF else 8, "big")


def life_attrs(life: SaLife, type_attr: int, dur_attr: int) -> list[tuple[int, int | bytes]]:
    out: list[tuple[int, int | bytes]] = []
    if life.seconds is not None:
        out += [(type_attr, LIFE_SECONDS), (dur_attr, _duration(life.seconds))]
    if life.kilobytes is not None:
        out += [(type_attr, LIFE_KILOBYTES), (dur_attr, _duration(life.kilobytes))]
    return out


def parse_life(t: Transform, type_attr: int, dur_attr: int) -> SaLife:
    seconds = kilobytes = None
    life_type = None
    for atype, value in t.attrs:
        if atype == type_attr:
            life_type = value
        elif atype == dur_attr:
            v = value if isinstance(value, int) else int.from_bytes(value, "big")
            if life_type == LIFE_SECONDS:
                seconds = v
            elif life_type == LIFE_KILOBYTES:
                kilobytes = v
            else:
                raise DoiError("life duration without a preceding life type")
            life_type = None
    return SaLife(seconds, kilobytes)


def _int(t: Transform, atype: int) -> int | None:
    v = t.attr(atype)
    if isinstance(v, bytes):
        return int.from_bytes(v, "big")
    return v


# --- phase 1 ----------------------------------------------------------------------------------

def phase1_transform(num: int, p: Proposal, life: SaLife) -> Transform:
    """An IKEv1 phase 1 transform for an IKE proposal (one algorithm of each kind)."""
    encr, prf, group = p.encr[0], p.prf[0], p.dh[0]
    if encr.ikev1_id is None or prf.ikev1_id is None:
        raise DoiError(f"{p} cannot be expressed in IKEv1 phase 1")
    attrs: list[tuple[int, int | bytes]] = [(P1_ENCR, encr.ikev1_id)]
    if encr.key_length_attr:
        attrs.append((P1_KEY_LENGTH, encr.key_bits))
    attrs += [(P1_HASH, prf.ikev1_id), (P1_AUTH, AUTH_PSK), (P1_GROUP, group.ikev2_id)]
    attrs += life_attrs(life, P1_LIFE_TYPE, P1_LIFE_DURATION)
    return Transform(num, KEY_IKE, tuple(attrs))


def parse_phase1(t: Transform) -> tuple[Proposal, SaLife]:
    """The IKE proposal and proposed lifetime of a phase 1 transform; DoiError if unusable."""
    if t.transform_id != KEY_IKE:
        raise DoiError(f"phase 1 transform id {t.transform_id} is not KEY_IKE")
    enc, hsh, auth, grp = (_int(t, a) for a in (P1_ENCR, P1_HASH, P1_AUTH, P1_GROUP))
    if auth != AUTH_PSK:
        raise DoiError(f"authentication method {auth} is not pre-shared key")
    if enc not in _P1_ENCR:
        raise DoiError(f"unknown encryption algorithm {enc}")
    encr = _by_key(_P1_ENCR[enc], _int(t, P1_KEY_LENGTH), f"encryption algorithm {enc}")
    prf = _P1_PRF.get(hsh)  # type: ignore[arg-type]
    if prf is None:
        raise DoiError(f"unknown hash algorithm {hsh}")
    group = DH_BY_GROUP.get(grp)  # type: ignore[arg-type]
    if group is None:
        raise DoiError(f"unknown group description {grp}")
    integ = ALGORITHMS[prf.hash]
    return (Proposal(Protocol.IKE, (encr,), (prf,), (integ,), (group,), ()),
            parse_life(t, P1_LIFE_TYPE, P1_LIFE_DURATION))


# --- phase 2 (ESP) ----------------------------------------------------------------------------

def esp_transform(num: int, p: Proposal, life: SaLife, mode: int = ENCAP_TUNNEL) -> Transform:
    """An IPsec DOI ESP transform for an ESP proposal (one algorithm of each kind)."""
    encr = p.encr[0]
    if encr.esp_v1_id is None:
        raise DoiError(f"{encr.name} has no IPsec DOI ESP transform id")
    attrs = life_attrs(life, P2_LIFE_TYPE, P2_LIFE_DURATION)
    if p.dh:
        attrs.append((P2_GROUP, p.dh[0].ikev2_id))
    attrs.append((P2_ENCAP, mode))
    if p.integ:
        if p.integ[0].esp_v1_id is None:
            raise DoiError(f"{p.integ[0].name} has no IPsec DOI authentication algorithm")
        attrs.append((P2_AUTH, p.integ[0].esp_v1_id))
    if encr.key_length_attr:
        attrs.append((P2_KEY_LENGTH, encr.key_bits))
    if p.esn and p.esn[0].name == "esn":
        attrs.append((P2_ESN, 1))
    return Transform(num, encr.esp_v1_id, tuple(attrs))


def parse_esp(t: Transform) -> tuple[Proposal, SaLife, int]:
    """(ESP proposal, proposed lifetime, encapsulation mode) of an ESP transform."""
    if t.transform_id not in _ESP_ENCR:
        raise DoiError(f"unknown ESP transform id {t.transform_id}")
    encr = _by_key(_ESP_ENCR[t.transform_id], _int(t, P2_KEY_LENGTH), f"ESP transform {t.transform_id}")
    auth = _int(t, P2_AUTH)
    integ: tuple[Algorithm, ...] = ()
    if auth is not None:
        if auth not in _ESP_AUTH:
            raise DoiError(f"unknown authentication algorithm {auth}")
        integ = (_ESP_AUTH[auth],)
    grp = _int(t, P2_GROUP)
    dh: tuple[Algorithm, ...] = ()
    if grp is not None:
        if grp not in DH_BY_GROUP:
            raise DoiError(f"unknown group description {grp}")
        dh = (DH_BY_GROUP[grp],)
    esn = ALGORITHMS["esn" if _int(t, P2_ESN) == 1 else "noesn"]
    mode = _int(t, P2_ENCAP) or ENCAP_TUNNEL
    return (Proposal(Protocol.ESP, (encr,), (), integ, dh, (esn,)), parse_life(t, P2_LIFE_TYPE, P2_LIFE_DURATION),
            mode)


# --- identities and proxy identities --------------------------------------------------------

def id_from_identity(identity: Identity) -> ID:
    """A phase 1 ID payload; protocol and port zero (RFC 2407 4.6.2)."""
    return ID(identity.id_type, identity.data)


_KINDS = {v: k for k, v in Identity.ID_TYPES.items()}


def identity_from_id(p: ID) -> Identity:
    """The identity of a phase 1 ID payload; DoiError for types or ports RFC 2407 forbids."""
    if (p.protocol, p.port) not in ((0, 0), (17, 0), (17, 500)):
        # RFC 2407 4.6.2: "the ID port and protocol fields MUST be set to zero or to UDP port 500"
        raise DoiError(f"phase 1 ID with protocol {p.protocol} port {p.port}")
    kind = _KINDS.get(p.id_type)
    if kind is None:
        raise DoiError(f"unsupported phase 1 identification type {p.id_type}")
    if kind == "ipv4":
        if len(p.data) != 4:
            raise DoiError("ID_IPV4_ADDR is not 4 octets")
        return Identity(kind, str(ipaddress.IPv4Address(p.data)))
    try:
        return Identity(kind, p.data.decode())
    except UnicodeDecodeError:
        return Identity(kind, p.data.hex())


def id_from_ts(ts: TrafficSelector) -> ID:
    """IDci / IDcr for a traffic selector: a host, a subnet, or an address range."""
    port = ts.start_port if ts.start_port == ts.end_port else 0
    start = ts.start.to_bytes(4, "big")
    if ts.start == ts.end:
        return ID(IdType.ID_IPV4_ADDR, start, ts.protocol, port)
    nets = list(ipaddress.summarize_address_range(ts.start_address, ts.end_address))
    if len(nets) == 1:
        return ID(IdType.ID_IPV4_ADDR_SUBNET, start + nets[0].netmask.packed, ts.protocol, port)
    return ID(IdType.ID_IPV4_ADDR_RANGE, start + ts.end.to_bytes(4, "big"), ts.protocol, port)


def ts_from_id(p: ID) -> TrafficSelector:
    """The traffic selector of a quick mode proxy identity; DoiError if it is none."""
    lo, hi = (0, 65535) if p.port == 0 else (p.port, p.port)
    d = p.data
    if p.id_type == IdType.ID_IPV4_ADDR and len(d) == 4:
        a = int.from_bytes(d, "big")
        return TrafficSelector(a, a, p.protocol, lo, hi)
    if p.id_type == IdType.ID_IPV4_ADDR_SUBNET and len(d) == 8:
        try:
            net = ipaddress.IPv4Network((ipaddress.IPv4Address(d[:4]), str(ipaddress.IPv4Address(d[4:]))))
        except ValueError as ex:
            raise DoiError(f"bad ID_IPV4_ADDR_SUBNET: {ex}") from None
        return TrafficSelector(int(net.network_address), int(net.broadcast_address), p.protocol, lo, hi)
    if p.id_type == IdType.ID_IPV4_ADDR_RANGE and len(d) == 8:
        s, e = int.from_bytes(d[:4], "big"), int.from_bytes(d[4:], "big")
        if s > e:
            raise DoiError("ID_IPV4_ADDR_RANGE ends before it starts")
        return TrafficSelector(s, e, p.protocol, lo, hi)
    raise DoiError(f"identification type {p.id_type} with {len(d)} octets is not an IPv4 proxy identity")
