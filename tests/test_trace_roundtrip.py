"""Round trip: every packet written is read back by scapy, its SK payload verified and
decrypted with the keys of the keys file, and found to be the message the core sent.

Header flags per RFC 7296 3.1 (I = 0x08 from the original initiator, R = 0x20 on
responses), the Encrypted payload per 3.14, timestamps = epoch + simulated send time,
lost datagrams captured at the sender.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace

import pytest
from conftest import SCENARIOS
from tracehelp import run_with_trace

from ipsecsim.proto.ikev2 import message as M
from ipsecsim.proto.ikev2.message import Message, payload_type
from ipsecsim.trace import dissect
from ipsecsim.trace.frames import NON_ESP_MARKER

EPOCH_2024 = 1704067200  # 2024-01-01T00:00:00Z, the documented default epoch


def _layers(pkt):  # the payload chain as scapy layers
    out, layer = [], pkt.payload
    while layer is not None and layer.__class__.__name__ != "NoPayload":
        out.append(layer)
        layer = layer.payload
    return out


def _chain(layer):  # a proposal or transform substructure chain
    out = []
    while layer is not None and layer.__class__.__name__ not in ("NoPayload", "Raw"):
        out.append(layer)
        layer = layer.payload
    return out


def assert_same(layer, p: M.Payload) -> None:
    """scapy's view of one payload equals the core's payload object."""
    if isinstance(p, M.SA):
        props = _chain(layer.prop)
        assert len(props) == len(p.proposals)
        for sp, ours in zip(props, p.proposals, strict=True):
            assert (sp.proposal, sp.proto, bytes(sp.SPI)) == (ours.num, int(ours.protocol), ours.spi)
            got = [(t.transform_type, t.transform_id, t.key_length if t.length > 8 else None) for t in _chain(sp.trans)]
            want = [(int(a.kind), a.ikev2_id, a.key_bits if a.key_length_attr else None)
                    for a in ours.proposal.transforms()]
            assert got == want
    elif isinstance(p, M.KE):
        assert (layer.group, bytes(layer.ke)) == (p.group, p.data)
    elif isinstance(p, M.Nonce):
        assert bytes(layer.nonce) == p.data
    elif isinstance(p, M.N):
        assert (layer.type, bytes(layer.SPI), bytes(layer.notify)) == (p.type, p.spi, p.data)
    elif isinstance(p, M.ID):
        want = str(ipaddress.IPv4Address(p.data)) if p.id_type == 1 else p.data
        got = layer.ID if p.id_type == 1 else bytes(layer.ID)
        assert (layer.IDtype, got) == (p.id_type, want)
    elif isinstance(p, M.AUTH):
        assert (layer.auth_type, bytes(layer.load)) == (p.method, p.data)
    elif isinstance(p, M.TS):
        got = [(t.starting_address_v4, t.ending_address_v4, t.start_port, t.end_port, t.IP_protocol_ID)
               for t in layer.traffic_selector]
        want = [(str(ipaddress.IPv4Address(s.start)), str(ipaddress.IPv4Address(s.end)), s.start_port, s.end_port,
                 s.protocol) for s in p.selectors]
        assert got == want
    elif isinstance(p, M.D):
        assert (layer.proto, [bytes(s) for s in layer.SPI]) == (p.protocol, list(p.spis))
    else:
        raise AssertionError(f"unexpected payload {p!r}")


def check_roundtrip(result, pcap, doc) -> int:
    caps = dissect.read(pcap)
    assert len(caps) == len(result.transmissions)
    entries = {(e["spi_i"], e["spi_r"]): e for e in doc["ikev2"]}
    opened = 0
    for c, tx in zip(caps, result.transmissions, strict=True):
        d, msg = tx.dgram, tx.dgram.message
        assert isinstance(msg, Message)
        assert (c.ip.src, c.ip.dst, c.ip.sport, c.ip.dport) == (d.src, d.dst, d.sport, d.dport)
        assert int(c.time * 1_000_000) == EPOCH_2024 * 1_000_000 + round(tx.t * 1_000_000)  # whole microseconds
        pkt = dissect.ike(c.data)
        flags = (0x08 if msg.initiator else 0) | (0x20 if msg.response else 0)
        assert (bytes(pkt.init_SPI), bytes(pkt.resp_SPI), pkt.exch_type, pkt.id, int(pkt.flags), pkt.version) == \
            (msg.spi_i, msg.spi_r, int(msg.exchange), msg.msg_id, flags, 0x20)
        assert pkt.length == len(c.data)
        if msg.encrypted:
            assert dissect.payload_types(pkt) == [46]
            inner = dissect.open_sk(c.data, entries[(msg.spi_i.hex(), msg.spi_r.hex())])
            opened += 1
        else:
            inner = pkt
        assert dissect.payload_types(inner) == [int(payload_type(p)) for p in msg.payloads]
        for layer, p in zip(_layers(inner), msg.payloads, strict=True):
            assert_same(layer, p)
        if tx.lost is not None:
            assert any("LOST" in x for x in c.comments)
        if d.retransmit:
            assert f"retransmission {d.retransmit}" in c.comments
    return opened


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("ikev2-*.yaml")), ids=lambda p: p.stem)
def test_every_packet_reads_back_as_the_message_sent(tmp_path, path) -> None:
    result, pcap, _, doc = run_with_trace(tmp_path, path, epoch=float(EPOCH_2024))
    encrypted = sum(1 for tx in result.transmissions if tx.dgram.message.encrypted)
    assert check_roundtrip(result, pcap, doc) == encrypted


@pytest.mark.parametrize("ike", ["aes256gcm16-prfsha384-ecp384", "aes128gcm8-prfsha256-curve25519",
                                 "aes192gcm12-prfsha256-ecp256", "aes128ctr-sha256-ecp256", "3des-sha1-ecp256",
                                 "aes256-sha512-ecp256", "aes192-sha384-ecp256", "aes128-md5-ecp256"])
def test_sk_payload_round_trip_for_each_cipher(tmp_path, ike) -> None:
    from factory import scenario_dict
    sc = scenario_dict({"ike": {"proposals": [ike]}}, {"ike": {"proposals": [ike]}})
    result, pcap, _, doc = run_with_trace(tmp_path, sc)
    assert result.status("A") == "ipsec_sa_established"
    assert check_roundtrip(result, pcap, doc) == 2


def test_a_retransmission_repeats_the_bytes_of_the_first_transmission(tmp_path) -> None:
    """RFC 7296 2.1: a retransmitted request is the same message; a responder answers a
    retransmitted request with the same (cached) response."""
    result, pcap, _, _ = run_with_trace(tmp_path, SCENARIOS / "ikev2-lossy-link.yaml")
    caps = dissect.read(pcap)
    first: dict[int, bytes] = {}
    retransmissions = 0
    for c, tx in zip(caps, result.transmissions, strict=True):
        key = id(tx.dgram.message)
        if tx.dgram.retransmit:
            retransmissions += 1
            assert c.data == first[key]
        else:
            first.setdefault(key, c.data)
    assert retransmissions >= 2


def test_lost_datagrams_can_be_omitted(tmp_path) -> None:
    result, pcap, _, _ = run_with_trace(tmp_path, SCENARIOS / "ikev2-lossy-link.yaml", lost="omit")
    lost = sum(1 for tx in result.transmissions if tx.lost)
    assert lost > 0
    caps = dissect.read(pcap)
    assert len(caps) == len(result.transmissions) - lost
    assert not any("LOST" in x for c in caps for x in c.comments)


def test_ike_on_port_4500_carries_the_non_esp_marker(tmp_path) -> None:
    """RFC 3948 2.2 / RFC 7296 2.23: IKE on UDP 4500 is preceded by four zero octets."""
    from factory import scenario_dict

    from ipsecsim.config.loader import Scenario, load_scenario
    from ipsecsim.sim.runner import simulate
    from ipsecsim.trace.options import TraceOptions
    from ipsecsim.trace.packets import write_trace
    sc = load_scenario(scenario_dict())
    sc = Scenario(sc.config, sc.file, {n: replace(s, port=4500, remote_port=4500) for n, s in sc.peers.items()})
    result = simulate(sc)
    pcap, keys = tmp_path / "natt.pcapng", tmp_path / "natt.keys.json"
    write_trace(result, TraceOptions(pcap, keys))
    caps = dissect.read(pcap)
    assert len(caps) == 4 and all(c.marker and c.ip.sport == c.ip.dport == 4500 for c in caps)
    raw = [bytes(c.ip.payload)[8:] for c in caps]  # after the UDP header
    assert all(r[:4] == NON_ESP_MARKER and r[4:] == c.data for r, c in zip(raw, caps, strict=True))
