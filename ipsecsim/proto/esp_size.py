"""How large a tunnel-mode ESP packet is on the wire, and what the path MTU does with it.

An inner IPv4 packet of ``inner`` octets leaves a gateway as

    outer IPv4 header (20, RFC 791)
    [UDP header (8) when NAT traversal put ESP in UDP, RFC 3948 2.1]
    SPI (4) | Sequence Number (4) | IV | inner | Padding | Pad Length (1) | Next Header (1) | ICV

(RFC 4303 2; ``proto.cipher.esp_overhead`` counts the ESP part). The IV is 16 octets for
AES-CBC (RFC 3602 3), 8 for AES-CTR / AES-GCM / ChaCha20-Poly1305 (RFC 3686 3, RFC 4106 3.1,
RFC 7634 2), 8 for 3DES / DES (RFC 2451, RFC 2405); the padding fills whole cipher blocks and
ends on a 4-octet boundary (RFC 4303 2.4); the ICV is the integrity algorithm's truncated HMAC
(12 octets for HMAC-MD5-96 / HMAC-SHA1-96, 16 / 24 / 32 for HMAC-SHA-256-128 / 384-192 /
512-256, RFC 4868 2.3) or the AEAD tag (RFC 4106 6: 8, 12 or 16).

SHA-256 truncation: RFC 4868 2.3 truncates HMAC-SHA-256 to 128 bits. Linux's PF_KEY interface
(and kernels before 2.6.33, which had no way to set it) truncates to 96 bits, the length of
draft-ietf-ipsec-ciph-sha-256-00, under the same transform ID, so IKE agrees on "sha256" while
the two kernels write and expect ICVs of different length. strongSwan's swanctl.conf option
``children.<child>.sha256_96`` installs the 96-bit variant for peers that need it; with
``sha256_96`` set, this side's ESP uses the registry's ``sha256_96`` algorithm (12-octet ICV).

Path MTU: a packet larger than the path MTU is dropped when its Don't Fragment bit is set (the
outer header copies the inner DF bit, RFC 4301 8.1 "copy", the Linux default); otherwise it is
fragmented after ESP processing (RFC 4303 3.3.4) into IPv4 fragments whose data, except the
last, is a multiple of 8 octets (RFC 791).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from .algorithms import ALGORITHMS, Algorithm
from .cipher import esp_overhead
from .proposals import Proposal

if TYPE_CHECKING:
    from .traffic import EspFluid, EspPacket

IPV4_HEADER: Final = 20  # RFC 791, without options
IPV4_MAX: Final = 65535  # RFC 791: the largest Total Length
UDP_HEADER: Final = 8  # RFC 768; ESP in UDP, RFC 3948 2.1
TCP_HEADER: Final = 20  # RFC 9293, without options: MSS = inner packet - 40
ETHERNET_MTU: Final = 1500  # RFC 894: the largest Ethernet II payload, the usual path MTU
MIN_MTU: Final = 68  # RFC 791: every IPv4 module forwards 68 octets without fragmenting


def esp_integ(integ: Algorithm | None, sha256_96: bool = False) -> Algorithm | None:
    """The integrity algorithm as this side's kernel applies it: HMAC-SHA-256 truncated to 96
    bits when ``sha256_96`` is set (see the module docstring), otherwise ``integ`` itself."""
    if sha256_96 and integ is not None and integ.name == "sha256":
        return ALGORITHMS["sha256_96"]
    return integ


def suite(proposal: Proposal, sha256_96: bool = False) -> tuple[Algorithm, Algorithm | None]:
    """(cipher, integrity) of a negotiated ESP proposal as this side writes and checks it."""
    integ = proposal.integ[0] if proposal.integ and not proposal.aead else None
    return proposal.encr[0], esp_integ(integ, sha256_96)


def integrity_text(encr: Algorithm, integ: Algorithm | None) -> str:
    """What protects an SA's packets, in words (for drop explanations)."""
    if integ is None:
        return encr.description
    if integ.name == "sha256":
        return "HMAC-SHA-256 truncated to 128 bits, RFC 4868 2.3"
    if integ.name == "sha256_96":
        return "HMAC-SHA-256 truncated to 96 bits, sha256_96"
    return integ.description


def icv_bytes(encr: Algorithm, integ: Algorithm | None) -> int:
    """Octets of the ICV: the AEAD tag, the truncated HMAC, or 0 (RFC 4303 2.8)."""
    if encr.aead:
        return encr.icv_bytes
    return integ.icv_bytes if integ is not None else 0


def outer_size(encr: Algorithm, integ: Algorithm | None, inner: int, udp_encap: bool = False) -> int:
    """The IPv4 packet that carries an ``inner``-octet packet in tunnel-mode ESP."""
    return IPV4_HEADER + (UDP_HEADER if udp_encap else 0) + esp_overhead(encr, integ, inner) + inner


def fragments(outer: int, mtu: int) -> int:
    """Into how many IPv4 fragments a path with this MTU cuts an ``outer``-octet packet
    (1: it fits). Each fragment repeats the 20-octet header; the data of all but the last is a
    multiple of 8 octets (RFC 791)."""
    if outer <= mtu:
        return 1
    per = (mtu - IPV4_HEADER) // 8 * 8
    if per <= 0:
        raise ValueError(f"an MTU of {mtu} octets cannot carry IPv4 fragments")
    data = outer - IPV4_HEADER
    return -(-data // per)


def largest_inner(encr: Algorithm, integ: Algorithm | None, mtu: int, udp_encap: bool = False) -> int | None:
    """The largest inner packet whose ESP packet fits ``mtu`` unfragmented; None if none does
    (an inner IPv4 packet has at least its 20-octet header)."""
    inner = mtu - IPV4_HEADER - (UDP_HEADER if udp_encap else 0)  # an upper bound: ESP adds at least 8
    while inner >= IPV4_HEADER:
        if outer_size(encr, integ, inner, udp_encap) <= mtu:
            return inner
        inner -= 1
    return None


# --- what the path MTU does to ESP (sim/mtu.py) ---------------------------------------------

def too_big(item: EspPacket | EspFluid, mtu: int) -> bool:
    return item.outer > IPV4_MAX or (item.df and item.outer > mtu)


def fragment_count(item: EspPacket | EspFluid, mtu: int) -> int:
    """IPv4 fragments one ESP packet of ``item`` becomes on the path (1: it fits)."""
    return fragments(item.outer, mtu) if item.outer else 1


def fragment_totals(esp: Iterable[Any], fluids: Iterable[tuple[float, str, EspFluid]], mtu: int,
                    end: float) -> dict[str, list[float]]:
    """flow -> [ESP packets fragmented, fragments], from ``Result.esp`` (``EspSent`` records)
    and ``Result.fluids`` (fluid states in time order) of a run that lasted until ``end``."""
    out: dict[str, list[float]] = {}
    for rec in esp:
        item: EspPacket = rec.packet
        n = fragment_count(item, mtu)
        if n > 1 and not too_big(item, mtu):
            tot = out.setdefault(item.packet.flow, [0.0, 0.0])
            tot[0] += 1
            tot[1] += n
    current: dict[tuple[str, str], tuple[float, EspFluid]] = {}

    def close(key: tuple[str, str], t: float) -> None:
        prev = current.pop(key, None)
        if prev is None:
            return
        t0, msg = prev
        n = fragment_count(msg, mtu)
        if n > 1 and not too_big(msg, mtu) and msg.pps > 0 and t > t0:
            tot = out.setdefault(msg.flow, [0.0, 0.0])
            tot[0] += msg.pps * (t - t0)
            tot[1] += msg.pps * (t - t0) * n

    for t, sender, msg in fluids:
        close((sender, msg.flow), t)
        current[(sender, msg.flow)] = (t, msg)
    for key in list(current):
        close(key, end)
    return out
