"""Frames -> a capture file: IPv4 / UDP / ESP headers (``layers``), written by scapy as pcapng or pcap.

* Link layer: Ethernet II with locally administered MACs derived from the IPv4 address
  (02:00:a:b:c:d, so a peer's MAC is stable across runs), or raw IPv4 (LINKTYPE_RAW).
* IPv4: TTL 64, no options, an Identification counter per sender that starts at a value
  from the trace's seeded stream; UDP checksums computed, except for ESP in UDP, which
  RFC 3948 2.1 sends with a zero checksum.
* Time: ``epoch`` + simulated time, in whole microseconds (both formats' resolution).
* pcapng: one interface per sending peer (the capture point: its network interface),
  packets flagged outbound, the section comment says what the file is and how ESP is
  sampled, each packet's comment what it is (and whether it was lost or retransmitted).
  Classic pcap has no comments: that information is in the keys file and the run's output.

scapy's IKE dissectors are not imported here (``trace.dissect`` does, for reading back).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..proto.rng import stream
from . import layers
from .frames import PROTO_UDP, Frame

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101  # raw IPv4/IPv6, no link-layer header (tcpdump.org link-layer header types)
EPB_OUTBOUND = 2  # pcapng epb_flags: direction outbound
USEC = 1_000_000


def usec(epoch: float, t: float) -> int:
    """Microseconds since 1970 of simulated time ``t``."""
    return round(epoch * USEC) + round(t * USEC)


def _writer_classes() -> tuple[type[Any], type[Any]]:
    """The pcapng and pcap writer classes (scapy is imported on first use)."""
    import struct

    from scapy.utils import PcapWriter, RawPcapNgWriter

    class NgWriter(RawPcapNgWriter):
        """scapy's pcapng writer with a section comment and named interfaces up front."""

        def __init__(self, path: str, linktype: int, interfaces: Sequence[tuple[str, str]], comment: str,
                     application: str):
            super().__init__(path)
            self.linktype = linktype
            self._ifaces = list(interfaces)
            self._comment = comment
            self._application = application

        def _option(self, code: int, value: str) -> bytes:
            data = value.encode("utf-8")
            return struct.pack(self.endian + "HH", code, len(data)) + self._add_padding(data)

        def _write_header(self, pkt: object) -> None:
            if self.header_present:
                return
            self.header_present = True
            body = self.endian_magic + struct.pack(self.endian + "HHq", 1, 0, -1)
            opts = self._option(1, self._comment) + self._option(4, self._application)  # shb_comment, shb_userappl
            opts += struct.pack(self.endian + "HH", 0, 0)
            self.f.write(self.build_block(b"\x0A\x0D\x0D\x0A", body, options=opts))
            self.interfaces2id = {}
            for i, (name, description) in enumerate(self._ifaces):
                idb = struct.pack(self.endian + "HHI", self.linktype, 0, 262144)
                iopts = self._option(2, name) + self._option(3, description)  # if_name, if_description
                iopts += struct.pack(self.endian + "HHB3x", 9, 1, 6)  # if_tsresol: 10^-6 s
                iopts += struct.pack(self.endian + "HH", 0, 0)
                self.f.write(self.build_block(struct.pack(self.endian + "I", 1), idb, options=iopts))
                self.interfaces2id[name.encode()] = i

        def write_frame(self, data: bytes, sec: Any, iface: str, comments: list[bytes]) -> None:
            """One Enhanced Packet Block: outbound on ``iface``, with packet comments."""
            self._write_packet(data, linktype=self.linktype, sec=sec, ifname=iface.encode(),
                               direction=EPB_OUTBOUND, comments=comments or None)

    return NgWriter, PcapWriter


def write(path: str | Path, frames: Sequence[Frame], *, fmt: str, link_type: str, epoch: float, seed: int,
          interfaces: dict[str, str], comment: str, application: str) -> None:
    """Write ``frames`` (already in time order). A frame is captured on its ``iface``; without
    one on the interface ``interfaces`` maps its source address to (the peer), else on one
    named by the address."""
    from scapy.utils import EDecimal

    names = dict(interfaces)
    ifaces: dict[str, str] = {}  # interface name -> first address seen on it
    for name, addr in [(n, a) for a, n in names.items()] + [(f.iface or names.get(f.src, f.src), f.src)
                                                           for f in frames]:
        ifaces.setdefault(name, addr)
    described = [(name, f"ipsecsim peer {name} ({addr}): packets as they leave its network interface")
                 for name, addr in ifaces.items()]
    linktype = LINKTYPE_ETHERNET if link_type == "ethernet" else LINKTYPE_RAW
    ng_cls, pcap_cls = _writer_classes()
    if fmt == "pcapng":
        writer = ng_cls(str(path), linktype, described, comment, application)
    else:
        writer = pcap_cls(str(path), linktype=linktype, sync=False)
    ip_ids = {addr: stream(seed, "trace", "ip-id", addr).randrange(1 << 16) for addr in {f.src for f in frames}}
    try:
        writer.write_header(None)
        for f in frames:
            ip_id = ip_ids[f.src]
            ip_ids[f.src] = (ip_id + 1) & 0xFFFF
            l4 = f.payload if f.proto != PROTO_UDP else \
                layers.udp(f.src, f.dst, f.sport, f.dport, f.payload, with_checksum=f.kind != "esp")
            pkt = layers.ipv4(f.src, f.dst, f.proto, ip_id, l4)
            if linktype == LINKTYPE_ETHERNET:
                pkt = layers.ether(f.src, f.dst, pkt)
            us = usec(epoch, f.t)
            if fmt == "pcapng":
                writer.write_frame(pkt, EDecimal(us) / USEC, f.iface or names.get(f.src, f.src),
                                   [c.encode("utf-8") for c in f.comments])
            else:
                writer.write_packet(pkt, sec=us // USEC, usec=us % USEC)
    finally:
        writer.close()
