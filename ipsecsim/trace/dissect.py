"""Reading a trace back with scapy: IKE and ESP packets parsed, SK payloads and ESP opened.

The only module that imports scapy's IKE dissectors. ``scapy.contrib.ikev2`` rebinds UDP
port 500 from ISAKMP to IKEv2 for the whole process (its ``IKEv2`` class hands IKEv1
messages, version 0x10, back to ``ISAKMP``), so nothing else may rely on port bindings:
here UDP payloads are dissected explicitly, after the non-ESP marker of port 4500
(RFC 3948 2.2) is removed.

Used by the round-trip tests and available to users (``python -c`` in a notebook): every
written packet is read back, and opened with the keys of the keys file, independently of
the in-memory SA objects: the SK payload with the entry's SK_e / SK_a (RFC 7296 3.14,
RFC 5282), ESP with scapy's ``SecurityAssociation`` where scapy implements the suite, and
with ``proto.cipher`` for AES-GCM with an 8 or 12 octet ICV (scapy always uses 16).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scapy.contrib.ikev2 import IKEv2, IKEv2_Encrypted
from scapy.layers.inet import IP, UDP
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.layers.isakmp import ISAKMP
from scapy.packet import Packet
from scapy.utils import rdpcap

from ..proto import cipher
from ..proto.algorithms import ALGORITHMS, Algorithm
from ..proto.onwire import NAT_KEEPALIVE
from .frames import NAT_T_PORT, NON_ESP_MARKER, PROTO_ESP, PROTO_UDP
from .keyfile import INTEG_NAMES

__all__ = ["ISAKMP", "Captured", "esp_algorithms", "ike", "ikev2_algorithms", "open_esp", "open_sk",
           "payload_types", "read"]

IKE_HEADER = 28
_INTEG_BY_NAME = {v: k for k, v in INTEG_NAMES.items()}
_SCAPY_AUTH = {"md5": "HMAC-MD5-96", "sha1": "HMAC-SHA1-96", "sha256": "SHA2-256-128", "sha384": "SHA2-384-192",
               "sha512": "SHA2-512-256"}
_SCAPY_CRYPT = {"aes-cbc": "AES-CBC", "aes-ctr": "AES-CTR", "3des": "3DES", "des": "DES", "null": "NULL"}


@dataclass(frozen=True)
class Captured:
    """One packet of a trace, as scapy reads it."""

    time: Any
    """Seconds since 1970 (scapy's EDecimal)."""
    comments: tuple[str, ...]
    ip: Packet
    kind: str
    """ike, esp or keepalive."""
    data: bytes
    """The IKE message (without the non-ESP marker) or the ESP packet (SPI onwards)."""
    marker: bool = False
    """A non-ESP marker preceded the IKE message (UDP 4500)."""


def read(path: str | Path) -> list[Captured]:
    out = []
    for p in rdpcap(str(path)):
        ip = p[IP]
        comments = tuple(c.decode() if isinstance(c, bytes) else str(c) for c in (getattr(p, "comments", None) or ()))
        if ip.proto == PROTO_ESP:
            out.append(Captured(p.time, comments, ip, "esp", bytes(ip.payload)))
            continue
        if ip.proto != PROTO_UDP:
            raise ValueError(f"unexpected IP protocol {ip.proto}")
        udp = ip[UDP]
        payload = bytes(udp.payload)
        if NAT_T_PORT in (udp.sport, udp.dport):
            if payload == NAT_KEEPALIVE:
                out.append(Captured(p.time, comments, ip, "keepalive", payload))
            elif payload[:4] == NON_ESP_MARKER:
                out.append(Captured(p.time, comments, ip, "ike", payload[4:], True))
            else:
                out.append(Captured(p.time, comments, ip, "esp", payload))
        else:
            out.append(Captured(p.time, comments, ip, "ike", payload))
    return out


def ike(data: bytes) -> Packet:
    """scapy's IKEv2 packet, or its ISAKMP packet for an IKEv1 message (version 0x10)."""
    return IKEv2(data)


def payload_types(pkt: Packet) -> list[int]:
    """The payload chain of an IKEv2 packet: each layer's type, from the header's Next Payload."""
    types, layer, nxt = [], pkt, pkt.next_payload
    while nxt:
        types.append(int(nxt))
        layer = layer.payload
        if layer is None or not hasattr(layer, "next_payload"):
            break
        nxt = layer.next_payload
        if isinstance(layer, IKEv2_Encrypted):
            break
    return types


def _registry(cipher_name: str, key_bytes: int, icv: int = 0) -> Algorithm:
    for a in ALGORITHMS.values():
        if a.kind.name == "ENCR" and a.cipher == cipher_name and a.key_bytes == key_bytes and a.icv_bytes == icv:
            return a
    raise ValueError(f"no {cipher_name} cipher with a {key_bytes}-octet key")


def _encr(name: str, key_with_salt: bytes, salt: int) -> Algorithm:
    if name.startswith("aes-gcm-"):
        return _registry("aes-gcm", len(key_with_salt) - salt, int(name.rsplit("-", 1)[1]))
    base = {"aes-cbc": "aes-cbc", "aes-ctr": "aes-ctr", "3des": "3des", "3des-cbc": "3des", "des-cbc": "des",
            "null": "null"}[name]
    return _registry(base, len(key_with_salt) - (salt if base == "aes-ctr" else 0))


def ikev2_algorithms(entry: dict[str, str]) -> tuple[Algorithm, Algorithm | None]:
    """Our registry's (encr, integ) for an ``ikev2`` keys-file entry."""
    sk_e = bytes.fromhex(entry["sk_ei"])
    encr = _encr(entry["enc_alg"], sk_e, 4)
    integ = None if entry["integ_alg"] == "none" else ALGORITHMS[_INTEG_BY_NAME[entry["integ_alg"]]]
    return encr, integ


def esp_algorithms(entry: dict[str, str]) -> tuple[Algorithm, Algorithm | None]:
    """Our registry's (encr, integ) for an ``esp`` keys-file entry."""
    encr = _encr(entry["enc_alg"], bytes.fromhex(entry["enc_key_hex"]), 4)
    integ = None if entry["auth_alg"] == "null" else ALGORITHMS[_INTEG_BY_NAME[entry["auth_alg"]]]
    return encr, integ


def open_sk(data: bytes, entry: dict[str, str]) -> Packet:
    """Verify and decrypt the Encrypted payload of an IKEv2 message with a keys-file entry;
    the inner payloads parsed by scapy, under the message's own (cleartext) header."""
    hdr = IKEv2(data)
    sk = hdr[IKEv2_Encrypted]
    initiator = bool(int(hdr.flags) & 0x08)
    encr, integ = ikev2_algorithms(entry)
    key = bytes.fromhex(entry["sk_ei" if initiator else "sk_er"])
    body = bytes(sk.load)
    iv = body[:encr.iv_bytes]
    if encr.aead:
        plain = cipher.aead_open(encr, key, iv, body[encr.iv_bytes:], data[:IKE_HEADER + 4])
    else:
        assert integ is not None
        auth = bytes.fromhex(entry["sk_ai" if initiator else "sk_ar"])
        if cipher.integ_icv(integ, auth, data[:-integ.icv_bytes]) != data[-integ.icv_bytes:]:
            raise cipher.CryptoError("SK payload integrity checksum does not verify")
        plain = cipher.decrypt_block(encr, key, iv, body[encr.iv_bytes:len(body) - integ.icv_bytes])
    inner = cipher.ikev2_unpad(plain)
    first = int(sk.next_payload)
    header = data[:16] + bytes([first]) + data[17:24] + struct.pack("!I", IKE_HEADER + len(inner))
    return IKEv2(header + inner)


def open_esp(c: Captured, entry: dict[str, str]) -> tuple[int, bytes]:
    """(sequence number, inner packet) of an ESP packet, decrypted with a keys-file entry."""
    encr, integ = esp_algorithms(entry)
    key, auth = bytes.fromhex(entry["enc_key_hex"]), bytes.fromhex(entry["auth_key_hex"])
    if encr.aead and encr.icv_bytes != 16:  # scapy's SecurityAssociation writes and checks 16-octet tags only
        _, seq, inner, _nh = cipher.esp_decrypt(encr, integ, key, auth, c.data)
        return seq, inner
    crypt = "AES-GCM" if encr.cipher == "aes-gcm" else _SCAPY_CRYPT[encr.cipher]
    sa = SecurityAssociation(ESP, spi=int.from_bytes(c.data[:4], "big"), crypt_algo=crypt, crypt_key=key,
                             auth_algo=_SCAPY_AUTH[integ.name] if integ else None, auth_key=auth or None,
                             tunnel_header=IP(src=c.ip.src, dst=c.ip.dst))
    outer = IP(src=c.ip.src, dst=c.ip.dst, proto=PROTO_ESP) / ESP(c.data)
    inner = sa.decrypt(IP(bytes(outer)))
    return int.from_bytes(c.data[4:8], "big"), bytes(inner)
