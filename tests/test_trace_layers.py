"""The header builders of ``trace.layers`` produce exactly what scapy builds (lengths,
identification, TTL, RFC 1071 checksums), and every packet of a written trace survives a
scapy rebuild unchanged."""

from __future__ import annotations

import pytest
from conftest import SCENARIOS
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import rdpcap
from tracehelp import run_with_trace

from ipsecsim.trace import esp, layers

PAYLOADS = [b"", b"\x00" * 7, bytes(range(256)) * 6]


@pytest.mark.parametrize("payload", PAYLOADS, ids=len)
def test_ipv4_udp_ethernet_match_scapy(payload) -> None:
    ours = layers.ether("192.0.2.1", "198.51.100.2",
                        layers.ipv4("192.0.2.1", "198.51.100.2", 17, 0xBEEF,
                                    layers.udp("192.0.2.1", "198.51.100.2", 500, 4500, payload)))
    theirs = Ether(src="02:00:c0:00:02:01", dst="02:00:c6:33:64:02") / \
        IP(src="192.0.2.1", dst="198.51.100.2", id=0xBEEF, ttl=64) / UDP(sport=500, dport=4500) / Raw(payload)
    assert ours == bytes(theirs)


def test_esp_in_udp_has_a_zero_checksum_and_esp_is_protocol_50() -> None:
    data = bytes(range(40))
    ours = layers.udp("10.0.0.1", "10.0.0.2", 4500, 4500, data, with_checksum=False)
    assert ours == bytes(UDP(sport=4500, dport=4500, chksum=0) / Raw(data))  # RFC 3948 2.1
    assert layers.ipv4("10.0.0.1", "10.0.0.2", 50, 1, data) == \
        bytes(IP(src="10.0.0.1", dst="10.0.0.2", id=1, ttl=64, proto=50) / Raw(data))


@pytest.mark.parametrize(("size", "reply"), [(28, False), (84, False), (85, True), (1500, True)])
def test_inner_ping_and_udp_match_scapy(size, reply) -> None:
    data = bytes((0x10 + i) & 0xFF for i in range(size - 28))
    assert esp.icmp_echo("10.1.0.5", "10.2.0.7", 0x1234, 513, size, reply) == bytes(
        IP(src="10.1.0.5", dst="10.2.0.7", id=513, ttl=64) / ICMP(type=0 if reply else 8, id=0x1234, seq=513)
        / Raw(data))
    assert esp.udp_datagram("10.1.0.5", "10.2.0.7", 40000, 5001, size, 9) == bytes(
        IP(src="10.1.0.5", dst="10.2.0.7", id=9, ttl=64) / UDP(sport=40000, dport=5001) / Raw(data))


@pytest.mark.parametrize(("flags", "scapy_flags", "data"), [
    ("SYN", "S", b""), ("SYN-ACK", "SA", b""), ("ACK", "A", b""), ("RST", "RA", b""),
    ("ACK", "PA", b"\xff" * 16 + b"\x00\x13\x04")])  # a BGP KEEPALIVE (RFC 4271 4.4) is pushed
def test_inner_tcp_segment_matches_scapy(flags, scapy_flags, data) -> None:
    assert esp.tcp_segment("169.254.10.2", "169.254.10.1", 49152, 179, 0xFFFFFFF0, 77, flags, data, 5) == bytes(
        IP(src="169.254.10.2", dst="169.254.10.1", id=5, ttl=64)
        / TCP(sport=49152, dport=179, seq=0xFFFFFFF0, ack=77, flags=scapy_flags, window=65535) / Raw(data))


def test_every_written_packet_is_what_scapy_rebuilds(tmp_path) -> None:
    _, pcap, _, _ = run_with_trace(tmp_path, SCENARIOS / "ikev2-lossy-link.yaml")
    for p in rdpcap(str(pcap)):
        ip = p[IP]
        rebuilt = Ether(src=p.src, dst=p.dst) / IP(src=ip.src, dst=ip.dst, id=ip.id, ttl=ip.ttl) / \
            UDP(sport=ip[UDP].sport, dport=ip[UDP].dport) / Raw(bytes(ip[UDP].payload))
        assert bytes(p) == bytes(rebuilt)
