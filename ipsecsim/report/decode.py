"""An IKE message object as a tree a reader can open: header, payloads with their fields, the
decrypted contents of an encrypted message and the keys that protect it.

Works on the message objects of ``proto.ikev2.message`` (RFC 7296 section 3) and
``proto.ikev1.message`` (RFC 2408 section 3, RFC 2409) that ``Result.transmissions`` keeps.
An encrypted message's ``payloads`` are what the SK payload (IKEv2, RFC 7296 3.14) or the
encrypted ISAKMP body (IKEv1, RFC 2409 Appendix B) carries, i.e. the decrypted contents; the
keys come from the run's key records (``trace.keyfile.records``): SK_e / SK_a per direction
for IKEv2 (RFC 7296 2.14), the IKEv1 encryption key of the initiator cookie.

A node is ``[label, value, children]``: ``value`` is a short text, ``children`` a list of
nodes (a payload's fields, a proposal's transforms).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from typing import Any

from ..proto.ikev1 import message as v1
from ..proto.ikev2 import message as v2
from ..proto.ts import TrafficSelector

Node = list[Any]

# RFC 2409 Appendix A (phase 1 attributes) and RFC 2407 4.5 (IPsec DOI SA attributes)
_V1_P1_ATTRS = {1: "Encryption Algorithm", 2: "Hash Algorithm", 3: "Authentication Method", 4: "Group Description",
                11: "Life Type", 12: "Life Duration", 14: "Key Length"}
_V1_P2_ATTRS = {1: "SA Life Type", 2: "SA Life Duration", 3: "Group Description", 4: "Encapsulation Mode",
                5: "Authentication Algorithm", 6: "Key Length"}
# attribute values (RFC 2409 Appendix A; RFC 2407 4.5; RFC 3947 5.1; RFC 4868 for SHA-2 HMAC ids)
_LIFE = {1: "seconds", 2: "kilobytes"}
_V1_P1_VALUES: dict[int, dict[int, str]] = {
    1: {1: "DES-CBC", 5: "3DES-CBC", 7: "AES-CBC"},
    2: {1: "MD5", 2: "SHA", 4: "SHA2-256", 5: "SHA2-384", 6: "SHA2-512"},
    3: {1: "pre-shared key", 3: "RSA signatures"}, 11: _LIFE}
_V1_P2_VALUES: dict[int, dict[int, str]] = {
    1: _LIFE, 4: {1: "Tunnel", 2: "Transport", 3: "UDP-Encapsulated-Tunnel", 4: "UDP-Encapsulated-Transport"},
    5: {1: "HMAC-MD5", 2: "HMAC-SHA", 5: "HMAC-SHA2-256", 6: "HMAC-SHA2-384", 7: "HMAC-SHA2-512"}}
_V2_PROTOCOL = {1: "IKE", 2: "AH", 3: "ESP"}
_V1_PROTOCOL = {1: "ISAKMP", 2: "IPSEC_AH", 3: "IPSEC_ESP", 4: "IPCOMP"}
_V2_LONG = {"SA": "Security Association", "KE": "Key Exchange", "No": "Nonce", "IDi": "Identification - Initiator",
            "IDr": "Identification - Responder", "AUTH": "Authentication", "TSi": "Traffic Selector - Initiator",
            "TSr": "Traffic Selector - Responder", "D": "Delete", "V": "Vendor ID"}
_V2_SECTIONS = {"SA": "3.3", "KE": "3.4", "IDi": "3.5", "IDr": "3.5", "AUTH": "3.8", "No": "3.9", "N": "3.10",
                "D": "3.11", "V": "3.12", "TSi": "3.13", "TSr": "3.13"}


def node(label: str, value: Any = "", children: list[Node] | None = None) -> Node:
    return [label, "" if value is None else str(value), children or []]


def hexs(b: bytes) -> str:
    return b.hex() if b else "(empty)"


def _value(v: Any) -> str:
    if isinstance(v, bytes):
        return f"{hexs(v)} ({len(v)} octets)"
    if isinstance(v, enum.Enum):
        return v.name
    if isinstance(v, TrafficSelector):
        return str(v)
    return str(v)


def _generic(p: Any) -> list[Node]:
    return [node(f.name, _value(getattr(p, f.name))) for f in dataclasses.fields(p)]


def _v2_payload(p: v2.Payload) -> Node:
    label = v2.payload_label(p)
    short = label.split("(")[0]
    title = f"{label}  ({_V2_LONG.get(short, '')}{', ' if short in _V2_LONG else ''}RFC 7296 " \
            f"{_V2_SECTIONS.get(short, '3.2')})"
    for cls, render in _V2_NODES:
        if isinstance(p, cls):
            return render(title, p)
    return node(title, "", _generic(p))


def _v2_sa(title: str, p: Any) -> Node:
    kids = []
    for sp in p.proposals:
        tr = [node(a.kind.name, f"{a.name} (id {a.ikev2_id}" + (f", {a.key_bits}-bit key" if a.key_length_attr
                                                                 else "") + ")")
              for a in sp.proposal.transforms()]
        kids.append(node(f"proposal {sp.num}", f"{_V2_PROTOCOL.get(int(sp.protocol), sp.protocol)} "
                         f"{sp.proposal}" + (f", SPI {sp.spi.hex()}" if sp.spi else ""), tr))
    return node(title, f"{len(p.proposals)} proposal(s)", kids)


def _v2_ke(title: str, p: Any) -> Node:
    return node(title, f"DH group {p.group}", [node("DH group", p.group), node("public value", _value(p.data))])


def _v2_nonce(title: str, p: Any) -> Node:
    return node(title, f"{len(p.data)} octets", [node("nonce", _value(p.data))])


def _v2_notify(title: str, p: Any) -> Node:
    kids = [node("type", f"{p.name} ({p.type})" + (" error" if p.type < 16384 else " status"))]
    if p.protocol:
        kids.append(node("protocol", _V2_PROTOCOL.get(p.protocol, p.protocol)))
    if p.spi:
        kids.append(node("SPI", p.spi.hex()))
    if p.data:
        kids.append(node("data", _value(p.data)))
    return node(title, p.name, kids)


def _v2_id(title: str, p: Any) -> Node:
    try:
        kind = v2.IdType(p.id_type).name
    except ValueError:
        kind = str(p.id_type)
    shown = _id_text(p.id_type, p.data)
    return node(title, f"{kind} {shown}", [node("ID type", kind), node("identification", shown)])


def _v2_auth(title: str, p: Any) -> Node:
    try:
        method = v2.AuthMethod(p.method).name
    except ValueError:
        method = str(p.method)
    return node(title, method, [node("method", method), node("authentication data", _value(p.data))])


def _v2_ts(title: str, p: Any) -> Node:
    return node(title, ", ".join(str(s) for s in p.selectors), [node("selector", str(s)) for s in p.selectors])


def _v2_delete(title: str, p: Any) -> Node:
    proto = _V2_PROTOCOL.get(p.protocol, p.protocol)
    return node(title, f"{proto} " + (", ".join(s.hex() for s in p.spis) or "(the IKE SA itself)"),
                [node("protocol", proto), *[node("SPI", s.hex()) for s in p.spis]])


def _v2_vendor(title: str, p: Any) -> Node:
    return node(title, p.data.hex()[:32], [node("vendor id", _value(p.data))])


_V2_NODES: tuple[tuple[type, Callable[[str, Any], Node]], ...] = (
    (v2.SA, _v2_sa), (v2.KE, _v2_ke), (v2.Nonce, _v2_nonce), (v2.N, _v2_notify), (v2.ID, _v2_id),
    (v2.AUTH, _v2_auth), (v2.TS, _v2_ts), (v2.D, _v2_delete), (v2.V, _v2_vendor))
"""Each IKEv2 payload type with the function that shows its fields (any other: all its fields)."""


def _id_text(id_type: int, data: bytes) -> str:
    import ipaddress
    if id_type == 1 and len(data) == 4:
        return str(ipaddress.IPv4Address(data))
    if id_type == 5 and len(data) == 16:
        return str(ipaddress.IPv6Address(data))
    try:
        return data.decode()
    except UnicodeDecodeError:
        return data.hex()


def _v1_transform(t: v1.Transform, protocol: int) -> Node:
    from ..proto.ikev1 import doi
    names = _V1_P1_ATTRS if protocol == 1 else _V1_P2_ATTRS
    values = _V1_P1_VALUES if protocol == 1 else _V1_P2_VALUES

    def shown(a: int, v: int | bytes) -> str:
        if isinstance(v, bytes):
            return _value(v)
        word = values.get(a, {}).get(v) or (f"MODP / ECP group {v}" if names.get(a) == "Group Description" else None)
        return f"{v} ({word})" if word else str(v)

    attrs = [node(names.get(a, f"attribute {a}"), shown(a, v)) for a, v in t.attrs]
    summary = ""
    try:
        if protocol == 1:
            prop, life = doi.parse_phase1(t)
            summary = f"{prop}, lifetime {life}"
        elif protocol == 3:
            prop, life, _mode = doi.parse_esp(t)
            summary = f"{prop}, lifetime {life}"
    except Exception:  # a transform the DOI tables do not know: its raw attributes still show
        summary = f"transform id {t.transform_id}"
    return node(f"transform {t.num}", summary, attrs)


def _v1_payload(p: v1.Payload) -> Node:
    label = v1.payload_label(p)
    title = f"{label}  (RFC 2408 3.x)"
    if isinstance(p, v1.SA):
        kids = [node(f"proposal {sp.num}", f"{_V1_PROTOCOL.get(sp.protocol, sp.protocol)}"
                     + (f", SPI {sp.spi.hex()}" if sp.spi else ""),
                     [_v1_transform(t, sp.protocol) for t in sp.transforms]) for sp in p.proposals]
        return node(label + "  (Security Association, RFC 2408 3.4)", f"{len(p.proposals)} proposal(s)", kids)
    if isinstance(p, v1.KE):
        return node(label + "  (Key Exchange, RFC 2408 3.7)", f"{len(p.data)} octets", [node("g^x", _value(p.data))])
    if isinstance(p, v1.Nonce):
        return node(label + "  (Nonce, RFC 2408 3.13)", f"{len(p.data)} octets", [node("nonce", _value(p.data))])
    if isinstance(p, v1.ID):
        from ..proto.ikev1 import doi
        try:
            shown = str(doi.ts_from_id(p)) if p.id_type in (4, 6, 7) else _id_text(p.id_type, p.data)
        except Exception:
            shown = p.data.hex()
        try:
            kind = v1.IdType(p.id_type).name
        except ValueError:
            kind = str(p.id_type)
        return node(label + "  (Identification, RFC 2407 4.6.2)", f"{kind} {shown}",
                    [node("ID type", kind), node("identification", shown), node("protocol", p.protocol),
                     node("port", p.port)])
    if isinstance(p, v1.HASH):
        return node(label + "  (Hash, RFC 2408 3.11)", f"{len(p.data)} octets", [node("hash", _value(p.data))])
    if isinstance(p, v1.N):
        name = getattr(p, "name", str(p.type))
        kids = [node("type", f"{name} ({p.type})"), node("protocol", _V1_PROTOCOL.get(p.protocol, p.protocol))]
        if p.spi:
            kids.append(node("SPI", p.spi.hex()))
        if p.data:
            kids.append(node("data", _value(p.data)))
        return node(label + "  (Notification, RFC 2408 3.14)", name, kids)
    if isinstance(p, v1.D):
        return node(label + "  (Delete, RFC 2408 3.15)", ", ".join(s.hex() for s in p.spis),
                    [node("protocol", _V1_PROTOCOL.get(p.protocol, p.protocol)), *[node("SPI", s.hex())
                                                                                  for s in p.spis]])
    if isinstance(p, v1.V):
        return node(label + "  (Vendor ID, RFC 2408 3.16)", p.data.hex()[:32], [node("vendor id", _value(p.data))])
    return node(title, "", _generic(p))


def decode(msg: Any, keys: dict[str, Any] | None = None) -> list[Node]:
    """The nodes of one message: header, payloads (inside SK{...} when encrypted) and keys."""
    out: list[Node] = []
    if isinstance(msg, v2.Message):
        kind = "response" if msg.response else "request"
        out.append(node("IKEv2 header (RFC 7296 3.1)", f"{msg.exchange.name} {kind} {msg.msg_id}", [
                            node("initiator SPI", msg.spi_i.hex()), node("responder SPI", msg.spi_r.hex()),
                            node("exchange type", f"{msg.exchange.name} ({int(msg.exchange)})"),
                            node("flags", ("I (original initiator)" if msg.initiator else "-") + ", "
                                 + ("R (response)" if msg.response else "request")),
                            node("message id", msg.msg_id)]))
        payloads = [_v2_payload(p) for p in msg.payloads]
    elif isinstance(msg, v1.Message):
        out.append(node("ISAKMP header (RFC 2408 3.1)", f"{msg.exchange.name} msg id {msg.msg_id}", [
            node("initiator cookie", msg.cky_i.hex()), node("responder cookie", msg.cky_r.hex()),
            node("exchange type", f"{msg.exchange.name} ({int(msg.exchange)})"),
            node("flags", "E (encrypted)" if msg.encrypted else "-"), node("message id", msg.msg_id)]))
        payloads = [_v1_payload(p) for p in msg.payloads]
    else:
        return [node(type(msg).__name__, "", _generic(msg) if dataclasses.is_dataclass(msg) else [])]
    if getattr(msg, "encrypted", False):
        what = "SK { ... } (RFC 7296 3.14), decrypted" if isinstance(msg, v2.Message) else \
            "encrypted body (RFC 2409 Appendix B), decrypted"
        out.append(node(what, f"{len(payloads)} payload(s) inside", payloads))
    else:
        out.extend(payloads)
    if keys:
        out.append(node("keys", keys.get("title", ""), [node(k, v) for k, v in keys.items() if k != "title"]))
    return out


class KeyBook:
    """The run's key records by IKE SA, to name the keys that protect each message."""

    def __init__(self, records: list[Any]) -> None:
        from ..proto.ikev2.wire import IkeKeys
        from ..proto.keylog import Ikev1Keys
        self.v2: dict[tuple[bytes, bytes], Any] = {}
        self.v1: dict[bytes, Any] = {}
        for r in records:
            if isinstance(r, IkeKeys):
                self.v2.setdefault((r.spi_i, r.spi_r), r)
            elif isinstance(r, Ikev1Keys):
                self.v1.setdefault(r.icookie, r)

    def for_message(self, msg: Any, dgram_keys: Any = None) -> dict[str, Any] | None:
        if not getattr(msg, "encrypted", False):
            return None
        if isinstance(msg, v2.Message):
            k = dgram_keys or self.v2.get((msg.spi_i, msg.spi_r))
            if k is None:
                return None
            side = "i" if msg.initiator else "r"
            out = {"title": f"IKE SA {k.spi_i.hex()}_i {k.spi_r.hex()}_r, sent by the original "
                   f"{'initiator' if msg.initiator else 'responder'}: SK_e{side} / SK_a{side} (RFC 7296 2.14)",
                   "encryption": k.encr.name, f"SK_e{side}": (k.sk_ei if msg.initiator else k.sk_er).hex()}
            if k.integ is not None and not k.encr.aead:
                out["integrity"] = k.integ.name
                out[f"SK_a{side}"] = (k.sk_ai if msg.initiator else k.sk_ar).hex()
            return out
        k = self.v1.get(msg.cky_i)
        if k is None:
            return None
        return {"title": f"ISAKMP SA {k.icookie.hex()} (RFC 2409 Appendix B)", "encryption": k.encr.name,
                "encryption key": k.enc_key.hex()}
