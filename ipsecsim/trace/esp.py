"""ESP data packets for a trace: tunnel mode (RFC 4303), optionally in UDP (RFC 3948), sampled.

The traffic model decides what each CHILD SA carries: for each SA direction an ordered list
of ``Segment`` (``count`` packets sent evenly in [t0, t1), built by ``inner``); a ping is a
segment of one packet. This module only encodes that: sequence numbers run 1, 2, ... across
all segments of an SA (RFC 4303 3.3.3: the sender's counter starts at 0 and the first packet
carries 1), every inner IPv4 packet is encrypted and integrity-protected with the SA's KEYMAT
by ``proto.cipher.esp_encrypt`` (which writes AES-GCM ICVs of 8, 12 or 16 octets, unlike
scapy's ``SecurityAssociation``), and bulk flows are sampled: ``Sample(first, last)`` keeps
the first and the last packets of each SA, the latter being those just before a rekey or
delete replaces it. The first packet after a gap says, in its comment, how many were left out.

For a traffic source (one SA direction, ``sa`` an ``EspSaKeys`` from ``Endpoint.keylog``)::

    segs = [Segment(10.0, 10.0, 1, icmp_echo_flow("10.101.0.10", "10.102.0.10", ident=7)),
            Segment(20.0, 80.0, 60_000, udp_flow("10.101.0.10", "10.102.0.20", 40000, 5001, 1400))]
    frames = esp_frames(packets_for(sa, segs, opts_sample(opts)), seed)

and register a ``FrameSource`` in ``trace.frames.FRAME_SOURCES`` returning those frames.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from ..proto import cipher
from ..proto.keylog import EspSaKeys
from ..proto.rng import derive_seed
from . import layers
from .frames import PROTO_ESP, PROTO_UDP, Frame, TraceError
from .keyfile import Cannot, esp_names, undecryptable_reason
from .options import TraceOptions

IPPROTO_IPV4 = 4  # ESP Next Header of a tunnel-mode inner IPv4 packet (RFC 4303 2.6)
SEQ_MAX = 0xFFFFFFFF  # without ESN the counter must not cycle (RFC 4303 3.3.3)

InnerBuilder = Callable[[int], bytes]


@dataclass(frozen=True, slots=True)
class Segment:
    """``count`` packets an SA carried, sent evenly from ``t0`` (inclusive) to ``t1``."""

    t0: float
    t1: float
    count: int
    inner: InnerBuilder
    """inner(i): the i-th (0-based, within this segment) inner IPv4 packet."""

    def time(self, i: int) -> float:
        return self.t0 + i * (self.t1 - self.t0) / self.count if self.count else self.t0


@dataclass(frozen=True, slots=True)
class Sample:
    """Which packets of an SA direction to write: the first and the last; None: every one."""

    first: int | None = 10
    last: int | None = 10

    def pick(self, total: int) -> list[int]:
        """0-based indices of the packets written, in order."""
        if self.first is None or self.last is None or self.first + self.last >= total:
            return list(range(total))
        return [*range(self.first), *range(total - self.last, total)]


def opts_sample(opts: TraceOptions) -> Sample:
    return Sample(opts.esp_first, opts.esp_last)


@dataclass(frozen=True, slots=True)
class EspPacket:
    """One ESP packet to write: the SA direction, its sequence number, the inner packet."""

    t: float
    sa: EspSaKeys
    seq: int
    inner: bytes
    comment: str | None = None


def packets_for(sa: EspSaKeys, segments: Sequence[Segment], sample: Sample, first_seq: int = 1) -> list[EspPacket]:
    """The sampled packets of one SA direction; pass all of its segments in one call, so that
    sequence numbers continue across them and "last" means the end of the SA."""
    counts = [s.count for s in segments]
    if any(c < 0 for c in counts):
        raise ValueError("a segment cannot carry a negative number of packets")
    total = sum(counts)
    if first_seq + total - 1 > SEQ_MAX:
        raise TraceError(f"ESP SA 0x{sa.spi.hex()} would carry {total} packets: a 32-bit sequence number "
                         f"cannot count them without ESN (RFC 4303 3.3.3); it must be rekeyed first")
    starts = list(itertools.accumulate(counts, initial=0))
    out, prev = [], -1
    for i in sample.pick(total):
        k = bisect.bisect_right(starts, i) - 1
        seg, j = segments[k], i - starts[k]
        note = None
        if i != prev + 1:
            note = f"sampled: {i - prev - 1} packets of this SA before this one are not in the trace"
        out.append(EspPacket(seg.time(j), sa, first_seq + i, seg.inner(j), note))
        prev = i
    return out


@lru_cache(maxsize=8)
def _iv_key(seed: int) -> bytes:
    return derive_seed(seed, "trace", "esp").to_bytes(8, "big")


def packet_iv(seed: int, sa: EspSaKeys, seq: int) -> bytes:
    """The IV of packet ``seq`` of an SA direction: a keyed hash of the scenario seed, the
    sender and SPI and the sequence number, so that it depends on nothing else the trace
    writes (sampling more packets changes no other packet's bytes). A fresh seeded stream
    per packet gives the same property at ten times the cost."""
    return hashlib.blake2b(f"{sa.src}|{sa.spi.hex()}|{seq}".encode(), key=_iv_key(seed),
                           digest_size=max(sa.encr.iv_bytes, 1)).digest()[:sa.encr.iv_bytes]


def encrypt(p: EspPacket, seed: int) -> bytes:
    """The ESP packet (SPI | Seq | IV | ciphertext | ICV) with an IV from ``packet_iv``."""
    sa = p.sa
    iv = packet_iv(seed, sa, p.seq)
    return cipher.esp_encrypt(sa.encr, sa.integ, sa.enc_key, sa.auth_key, sa.spi_int, p.seq, iv, p.inner,
                              IPPROTO_IPV4)


def esp_frames(packets: Iterable[EspPacket], seed: int) -> list[Frame]:
    """Frames of ESP packets: IP protocol 50, or UDP when the SA is encapsulated (NAT-T)."""
    out, marks = [], {}
    for p in packets:
        sa = p.sa
        if sa.spi not in marks:
            names = esp_names(sa)
            marks[sa.spi] = undecryptable_reason("ESP", names) if isinstance(names, Cannot) else None
        notes = tuple(n for n in (f"ESP SA 0x{sa.spi.hex()} seq {p.seq}", p.comment, marks[sa.spi]) if n)
        data = encrypt(p, seed)
        if sa.sport is not None and sa.dport is not None:
            out.append(Frame(p.t, sa.src, sa.dst, PROTO_UDP, data, sa.sport, sa.dport, notes, "esp"))
        else:
            out.append(Frame(p.t, sa.src, sa.dst, PROTO_ESP, data, 0, 0, notes, "esp"))
    return out


# --- inner packets (what the protected subnets send) ---------------------------------------

@lru_cache(maxsize=64)
def _pattern(n: int) -> bytes:
    return bytes((0x10 + i) & 0xFF for i in range(max(n, 0)))


def icmp_echo(src: str, dst: str, ident: int, seq: int, size: int = 84, reply: bool = False) -> bytes:
    """An IPv4 ICMP echo request (or reply) of ``size`` octets in total (RFC 792), as ping sends."""
    if size < 28:
        raise ValueError("an ICMP echo packet is at least 28 octets (IPv4 20 + ICMP 8)")
    return layers.ipv4(src, dst, layers.PROTO_ICMP, seq, layers.icmp_echo(ident, seq, _pattern(size - 28), reply))


def udp_datagram(src: str, dst: str, sport: int, dport: int, size: int, ident: int = 0) -> bytes:
    """An IPv4 UDP packet of ``size`` octets in total."""
    if size < 28:
        raise ValueError("a UDP packet is at least 28 octets (IPv4 20 + UDP 8)")
    return layers.ipv4(src, dst, layers.PROTO_UDP, ident, layers.udp(src, dst, sport, dport, _pattern(size - 28)))


_TCP_FLAGS = {"SYN": layers.TCP_FLAGS["SYN"], "SYN-ACK": layers.TCP_FLAGS["SYN"] | layers.TCP_FLAGS["ACK"],
              "ACK": layers.TCP_FLAGS["ACK"], "RST": layers.TCP_FLAGS["RST"] | layers.TCP_FLAGS["ACK"]}


def tcp_segment(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: str, data: bytes,
                ident: int = 0, md5_key: bytes | None = None) -> bytes:
    """An IPv4 TCP segment as a BGP speaker sends it (``flags``: SYN, SYN-ACK, ACK or RST, the
    names of proto.bgp.tcp; a segment with data is pushed, PSH+ACK; a reset acknowledges,
    RST+ACK); ``md5_key``: with the TCP MD5 signature option (RFC 2385)."""
    bits = _TCP_FLAGS[flags] | (layers.TCP_FLAGS["PSH"] if data else 0)
    segment = layers.tcp(src, dst, sport, dport, seq, ack, bits, data, md5_key=md5_key)
    return layers.ipv4(src, dst, layers.PROTO_TCP, ident, segment)


def icmp_echo_flow(src: str, dst: str, ident: int, size: int = 84, first_seq: int = 1,
                   reply: bool = False) -> InnerBuilder:
    """ping: the i-th packet is echo request (or reply) number ``first_seq + i``."""
    return lambda i: icmp_echo(src, dst, ident, first_seq + i, size, reply)


def udp_flow(src: str, dst: str, sport: int, dport: int, size: int) -> InnerBuilder:
    """A UDP stream of equal-sized packets (bulk traffic such as iperf)."""
    return lambda i: udp_datagram(src, dst, sport, dport, size, i)
