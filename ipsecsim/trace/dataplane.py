"""The simulated traffic as ESP packets: every ping, and a sample of every bulk flow.

What the data plane put on the wire (``Result.esp``: discrete packets with the sequence
number the sending SA gave them; ``Result.fluids``: the states of fluid flows) becomes
tunnel-mode ESP (RFC 4303) encrypted with the CHILD SA's KEYMAT (``trace.esp.encrypt``),
in UDP when NAT traversal put the SA there (RFC 3948: the ports of the wire record):

* a ping is an IPv4 ICMP echo request (or the far host's reply) of the configured size
  between the two hosts (RFC 792; ICMP identifier from the flow name, sequence from 1);
* a BGP session's segment (sim/bgp.py) is an IPv4 TCP segment between the tunnel's inner
  addresses with its sequence and acknowledgment numbers, flags and the BGP message's octets
  (proto/bgp/message.py), so Wireshark dissects OPEN, UPDATE, NOTIFICATION and KEEPALIVE
  once the ESP is decrypted; a session with ``auth_key`` signs each segment with the TCP MD5
  option (RFC 2385) computed with the sender's key;
* a BFD Control packet (RFC 5880 4.1) of such a session is an IPv4 UDP datagram to port 3784
  with TTL 255 (RFC 5881 4, 5);
* a bulk flow carries IPv4 UDP datagrams of its ``packet_size`` to port 5201 (iperf3's)
  from port 49152 + its index. A fluid has no packets, only a rate: packet ``m`` of a flow
  on an SA leaves when the flow's packet count on that SA reaches ``m``. Only a sample is
  written: the first and last ``trace.esp`` packets of each SA direction (the last ones are
  those just before a rekey or delete moved the flow on); the first packet after a gap
  says how many were left out, and ``omitted`` counts them for the summary line.

Sequence numbers continue per SA direction across everything it carried (RFC 4303 3.3.3).
A discrete packet keeps the number the data plane gave it (its SA's packet counter, which
counts the fluid packets too); fluid packets take the other numbers in time order. With
several bulk flows on one SA at once, their packets interleave by each flow's own count.
"""

from __future__ import annotations

import heapq
import ipaddress
import math
import zlib
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..proto.bgp.bfd import Datagram as BfdDatagram
from ..proto.bgp.message import MessageError, decode, type_name
from ..proto.bgp.tcp import Segment as TcpSegment
from ..proto.esp_size import fragment_count, too_big
from ..proto.keylog import EspSaKeys
from . import esp, layers
from .esp import EspPacket as TracePacket
from .frames import FRAME_SOURCES, LOST_TEXT, PROTO_ESP, PROTO_UDP, Frame, TraceError
from .keyfile import Cannot, as_sent, esp_names, undecryptable_reason

if TYPE_CHECKING:
    from ..proto.traffic import EspFluid
    from ..proto.traffic import EspPacket as WirePacket
    from ..result import Result
    from .options import TraceOptions

BULK_DPORT, BULK_SPORT = 5201, 49152  # iperf3's server port; the first dynamic port (RFC 6335)
ALL_LIMIT = 1_000_000
"""``trace.esp: all`` refuses to write more bulk packets than this (a 1 Gbit/s minute is 5.4 M)."""


@dataclass(frozen=True, slots=True)
class FlowInfo:
    src: str
    dst: str
    size: int
    index: int


def flow_table(result: Result) -> dict[str, FlowInfo]:
    """Flow name -> hosts, packet size and index, for every configured flow and its replies."""
    out = {}
    for i, t in enumerate(result.scenario.spec.traffic):
        src, dst, name = t.src, t.dst, t.name
        size = t.size if t.kind == "ping" else t.packet_size
        out[name] = FlowInfo(src, dst, size, i)
        out[name + ":reply"] = FlowInfo(dst, src, size, i)
    return out


@dataclass(frozen=True, slots=True)
class Run:
    """A fluid flow on one SA direction from ``t0`` to ``t1`` at ``pps`` packets/s; the flow
    had sent ``c0`` packets (a real number) on this SA before."""

    t0: float
    t1: float
    pps: float
    c0: float
    msg: EspFluid

    @property
    def count(self) -> int:
        return math.floor(self.c0 + self.pps * (self.t1 - self.t0)) - math.floor(self.c0)

    def time(self, j: int) -> float:
        """When the ``j``-th (0-based) packet of this run leaves."""
        return self.t0 + (math.floor(self.c0) + j + 1 - self.c0) / self.pps

    def number(self, j: int) -> int:
        """The flow's own packet number on this SA (0-based)."""
        return math.floor(self.c0) + j


@dataclass
class SaDirection:
    """Everything one SA direction carried: discrete packets and fluid runs."""

    sender: str
    spi: bytes
    discrete: list[Any] = field(default_factory=list)
    """``sim.link.EspSent`` records."""
    runs: list[Run] = field(default_factory=list)

    @property
    def fluid_total(self) -> int:
        return sum(r.count for r in self.runs)

    def fluid_seq(self, k: int, taken: list[int]) -> int:
        """Sequence number of the k-th (1-based) fluid packet: the k-th number not taken by a
        discrete packet."""
        m = k
        while True:
            c = bisect_right(taken, m)
            if m - c == k and (c == 0 or taken[c - 1] != m):
                return m
            m = k + c


def directions(result: Result) -> dict[tuple[str, bytes], SaDirection]:
    """Every SA direction that carried traffic, keyed by (sender, SPI), in first-use order."""
    out: dict[tuple[str, bytes], SaDirection] = {}

    def get(sender: str, spi: bytes) -> SaDirection:
        d = out.get((sender, spi))
        if d is None:
            d = out[(sender, spi)] = SaDirection(sender, spi)
        return d

    for rec in result.esp:
        get(rec.sender, rec.packet.spi).discrete.append(rec)
    current: dict[tuple[str, str], tuple[float, EspFluid]] = {}
    counts: dict[tuple[str, str, bytes], float] = {}

    def close(key: tuple[str, str], t: float) -> None:
        prev = current.pop(key, None)
        if prev is None or prev[1].pps <= 0 or t <= prev[0]:
            return
        t0, msg = prev
        ck = (key[0], msg.flow, msg.spi)
        c0 = counts.get(ck, 0.0)
        get(key[0], msg.spi).runs.append(Run(t0, t, msg.pps, c0, msg))
        counts[ck] = c0 + msg.pps * (t - t0)

    for t, sender, msg in result.fluids:
        close((sender, msg.flow), t)
        current[(sender, msg.flow)] = (t, msg)
    for key in list(current):
        close(key, result.duration)
    return out


@dataclass(frozen=True, slots=True)
class Planned:
    """One ESP packet to write: what it carries, who sent it where, and its fate."""

    packet: TracePacket
    sender: str
    src: str
    dst: str
    ports: tuple[int, int] | None
    """UDP source and destination port (ESP in UDP, RFC 3948); None: IP protocol 50."""
    lost: str | None = None


@dataclass
class Plan:
    """What the trace writes of the traffic, before encryption."""

    packets: list[Planned]
    bulk_total: int = 0
    bulk_written: int = 0

    @property
    def omitted(self) -> int:
        return self.bulk_total - self.bulk_written


def _sa_keys(result: Result) -> dict[tuple[str, bytes], EspSaKeys]:
    """Each SA direction's keys and algorithms as its sender installed them (``keyfile.as_sent``)."""
    out: dict[tuple[str, bytes], EspSaKeys] = {}
    for log in as_sent([list(final.keylog) for final in result.peers.values()]):
        for r in log:
            if isinstance(r, EspSaKeys):
                out.setdefault((r.src, r.spi), r)
    return out


def _picks(d: SaDirection, first: int | None, last: int | None) -> Iterator[tuple[int, float, Run, int]]:
    """(fluid index k 1-based, time, run, j) of the fluid packets to write, in time order."""
    runs = sorted(d.runs, key=lambda r: r.t0)
    total = d.fluid_total
    if first is None or last is None or first + last >= total:
        merged = heapq.merge(*[[(r.time(j), i, j) for j in range(r.count)] for i, r in enumerate(runs)])
        for k, (t, i, j) in enumerate(merged, 1):
            yield k, t, runs[i], j
        return
    head = sorted((r.time(j), i, j) for i, r in enumerate(runs) for j in range(min(first, r.count)))[:first]
    tail = sorted((r.time(j), i, j) for i, r in enumerate(runs)
                  for j in range(max(0, r.count - last), r.count))[-last:] if last else []
    for k, (t, i, j) in enumerate(head, 1):
        yield k, t, runs[i], j
    for k, (t, i, j) in enumerate(tail, total - len(tail) + 1):
        yield k, t, runs[i], j


def plan(result: Result, opts: TraceOptions) -> Plan:
    """The ESP packets of the run's traffic to write, with their sequence numbers."""
    flows = flow_table(result)
    keys = _sa_keys(result)
    md5 = md5_keys(result)
    mtu = result.scenario.spec.link.mtu
    out = Plan([])
    for d in directions(result).values():
        taken = sorted(rec.packet.esp_seq for rec in d.discrete)
        total = d.fluid_total
        out.bulk_total += total
        if opts.esp_all and total > ALL_LIMIT:
            raise ConfigError(result.scenario.spec.file, "trace.esp",
                              f"'all' would write {total:,} bulk ESP packets of one SA; sample them with "
                              f"{{first: N, last: N}} instead")
        for rec in d.discrete:
            w: WirePacket = rec.packet
            sa = _keys_for(keys, w.src, w.spi)
            inner = _inner_discrete(w, flows, md5)
            note = _with_mtu(_discrete_note(w, flows), w, mtu)
            out.packets.append(Planned(TracePacket(rec.t, sa, w.esp_seq, inner, note), d.sender, w.src, w.dst,
                                       _ports(w.sport, w.dport), rec.lost))
        prev = 0
        for k, t, run, j in _picks(d, opts.esp_first, opts.esp_last):
            m = run.msg
            info = flows.get(m.flow)
            if info is None:
                raise TraceError(f"ESP of an unknown flow {m.flow!r}")
            n = run.number(j)
            inner = esp.udp_datagram(info.src, info.dst, BULK_SPORT + info.index, BULK_DPORT, info.size, n)
            note = f"{m.flow}: bulk packet {n + 1} of the flow on this SA"
            if k != prev + 1:
                note += f"; sampled: {k - prev - 1:,} bulk packets of this SA before this one are not in the trace"
            prev = k
            packet = TracePacket(t, _keys_for(keys, m.src, m.spi), d.fluid_seq(k, taken), inner,
                                 _with_mtu(note, m, mtu))
            out.packets.append(Planned(packet, d.sender, m.src, m.dst, _ports(m.sport, m.dport),
                                       "too_big" if too_big(m, mtu) else None))
            out.bulk_written += 1
    return out


def bulk_counts(result: Result, opts: TraceOptions) -> tuple[int, int]:
    """(bulk ESP packets the run's fluid flows carried, how many of them the trace writes)."""
    total = written = 0
    for d in directions(result).values():
        n = d.fluid_total
        total += n
        written += n if opts.esp_first is None or opts.esp_last is None else min(n, opts.esp_first + opts.esp_last)
    return total, written


def _with_mtu(note: str, w: WirePacket | EspFluid, mtu: int) -> str:
    """The note, and what the path MTU does to this ESP packet when it does not fit."""
    n = fragment_count(w, mtu)
    if n == 1:
        return note
    if w.df:
        return f"{note}; {w.outer} octets on the wire, above the path MTU {mtu}, DF set"
    return f"{note}; {w.outer} octets on the wire: the path (MTU {mtu}) cuts it into {n} IPv4 fragments"


def _ports(sport: int | None, dport: int | None) -> tuple[int, int] | None:
    return (sport, dport) if sport is not None and dport is not None else None


def _keys_for(keys: dict[tuple[str, bytes], EspSaKeys], src: str, spi: bytes) -> EspSaKeys:
    sa = keys.get((src, spi))
    if sa is None:
        raise TraceError(f"ESP on SPI 0x{spi.hex()} from {src}, but no SA with those keys was logged")
    return sa


@lru_cache(maxsize=1024)
def _host(addr: int) -> str:
    return str(ipaddress.IPv4Address(addr))


def _ident(flow: str) -> int:
    return zlib.crc32(flow.removesuffix(":reply").encode()) & 0xFFFF


def md5_keys(result: Result) -> dict[str, bytes]:
    """A BGP speaker's inner address -> its TCP MD5 key (``bgp.auth_key``), for RFC 2385 options."""
    return {b.session.local_ip: b.session.auth_key.encode() for b in result.scenario.spec.bgp.values()
            if b.session.auth_key is not None}


def _inner_discrete(w: WirePacket, flows: dict[str, FlowInfo], md5: dict[str, bytes]) -> bytes:
    p = w.packet
    if p.kind == "bgp" and isinstance(p.payload, TcpSegment):
        g = p.payload  # a BGP session's segment between the tunnel's inner addresses (sim/bgp.py)
        key = md5.get(g.src) if g.auth is not None else None
        return esp.tcp_segment(g.src, g.dst, g.sport, g.dport, g.seq, g.ack, g.flags, g.data, w.esp_seq, key)
    if p.kind == "bgp" and isinstance(p.payload, BfdDatagram):
        d = p.payload  # a BFD Control packet, single hop: TTL 255 (RFC 5881 5)
        datagram = layers.udp(d.src, d.dst, d.sport, d.dport, d.data)
        return layers.ipv4(d.src, d.dst, layers.PROTO_UDP, w.esp_seq, datagram, ttl=255)
    if p.kind in ("echo-request", "echo-reply"):
        return esp.icmp_echo(_host(p.src), _host(p.dst), _ident(p.flow), p.seq + 1, p.size, p.kind == "echo-reply")
    info = flows.get(p.flow)
    index = info.index if info is not None else 0
    return esp.udp_datagram(_host(p.src), _host(p.dst), BULK_SPORT + index, BULK_DPORT, p.size, p.seq)


def _bgp_note(p: Any) -> str:
    g: TcpSegment = p.payload
    what = g.flags
    if g.data:
        try:
            what = f"BGP {type_name(decode(g.data))}"
        except MessageError as e:
            what = f"{len(g.data)} octets that are not a BGP message ({e})"
    note = f"{p.flow}: {what} {g.src}:{g.sport} → {g.dst}:{g.dport}"
    if g.retransmit:
        note += f" (TCP retransmission {g.retransmit})"
    return note


def _discrete_note(w: WirePacket, flows: dict[str, FlowInfo]) -> str:
    p = w.packet
    if p.kind == "bgp" and isinstance(p.payload, TcpSegment):
        return _bgp_note(p)
    if p.kind == "bgp" and isinstance(p.payload, BfdDatagram):
        d = p.payload
        return f"{p.flow}: BFD Control {d.src}:{d.sport} → {d.dst}:{d.dport}"
    if p.kind == "echo-request":
        return f"{p.flow}: ICMP echo request {p.seq + 1} {_host(p.src)} → {_host(p.dst)}, {p.size} B"
    if p.kind == "echo-reply":
        return f"{p.flow.removesuffix(':reply')}: ICMP echo reply {p.seq + 1} {_host(p.src)} → {_host(p.dst)}"
    return f"{p.flow}: {p.size} B {_host(p.src)} → {_host(p.dst)}"


def traffic_frames(result: Result, opts: TraceOptions) -> list[Frame]:
    """``FrameSource`` of the traffic's ESP packets (registered in ``frames.FRAME_SOURCES``)."""
    part = result.scenario.spec.partner
    out: list[Frame] = []
    marks: dict[bytes, str | None] = {}
    for pl in plan(result, opts).packets:
        if pl.lost is not None and opts.lost == "omit":
            continue
        p, sa, sender = pl.packet, pl.packet.sa, pl.sender
        if sa.spi not in marks:
            algs = esp_names(sa)
            marks[sa.spi] = undecryptable_reason("ESP", algs) if isinstance(algs, Cannot) else None
        receiver = part.get(sender, "?")
        notes = [f"{sender} → {receiver}: ESP SA 0x{sa.spi.hex()} seq {p.seq}"]
        notes += [n for n in (p.comment, marks[sa.spi]) if n]
        if pl.lost is not None:
            notes.append(f"{LOST_TEXT.get(pl.lost, 'LOST: ' + pl.lost)}; never arrived at {receiver}")
        data = esp.encrypt(p, result.seed)
        if pl.ports is not None:
            out.append(Frame(p.t, pl.src, pl.dst, PROTO_UDP, data, *pl.ports, tuple(notes), "esp", sender))
        else:
            out.append(Frame(p.t, pl.src, pl.dst, PROTO_ESP, data, 0, 0, tuple(notes), "esp", sender))
    return out


FRAME_SOURCES.append(traffic_frames)
