"""ESP packets for CHILD SAs negotiated by a real simulated IKEv2 exchange: synthetic ping
and bulk flows encrypted with the KEYMAT, written to a trace, decrypted by tshark (via
ipsecsim verify) and by scapy's ``SecurityAssociation``.

These synthetic flows exercise every ESP suite through ``trace.esp`` directly; the simulated
traffic of the shipped scenarios is checked in test_trace_traffic.py.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from factory import scenario_dict
from tracehelp import verify_trace

from ipsecsim.config.loader import load_scenario
from ipsecsim.proto.keylog import EspSaKeys
from ipsecsim.sim.runner import simulate
from ipsecsim.trace import dissect, esp, keyfile, pcap
from ipsecsim.trace.frames import TraceError, ike_frames
from ipsecsim.trace.options import TraceOptions
from ipsecsim.trace.packets import collect_frames

SUITES = ["aes128-sha256", "aes256-sha512", "aes192-sha384", "aes128-sha1", "aes128ctr-sha256", "aes256ctr-sha1",
          "aes128gcm8", "aes192gcm12", "aes256gcm16", "3des-sha1", "des-md5", "null-sha256"]
HOST_A, HOST_B = "10.101.0.10", "10.102.0.10"


def negotiate(child: str, seed: int = 1):
    sc = load_scenario(scenario_dict({"ike": {"proposals": ["aes128-sha256-ecp256"]}, "child": {"proposals": [child]}},
                                     {"ike": {"proposals": ["aes128-sha256-ecp256"]}, "child": {"proposals": [child]}},
                                     seed=seed))
    result = simulate(sc)
    assert result.status("A") == "ipsec_sa_established"
    out, inb = (k for k in result.peers["A"].keylog if isinstance(k, EspSaKeys))
    return result, out, inb


def flows(out: EspSaKeys, inb: EspSaKeys, t0: float = 1.0) -> tuple[list[esp.Segment], list[esp.Segment]]:
    """Three pings (A -> B requests, B -> A replies 5 ms later) and a 60 s bulk UDP flow A -> B."""
    pings = [esp.Segment(t0 + i, t0 + i, 1, esp.icmp_echo_flow(HOST_A, HOST_B, ident=7, first_seq=i + 1))
             for i in range(3)]
    bulk = esp.Segment(t0 + 5, t0 + 65, 100_000, esp.udp_flow(HOST_A, HOST_B, 40000, 5001, 1400))
    replies = [esp.Segment(t0 + i + 0.005, t0 + i + 0.005, 1,
                           esp.icmp_echo_flow(HOST_B, HOST_A, ident=7, first_seq=i + 1, reply=True)) for i in range(3)]
    return [*pings, bulk], replies


def esp_source(out: EspSaKeys, inb: EspSaKeys, t0: float = 1.0):
    def source(result, opts):
        a, b = flows(out, inb, t0)
        sample = esp.opts_sample(opts)
        return esp.esp_frames(esp.packets_for(out, a, sample) + esp.packets_for(inb, b, sample), result.seed)
    return source


def test_every_suite_decrypts_in_wireshark(tmp_path) -> None:
    """One trace with a negotiation and flows per ESP suite (one with NAT-T UDP encapsulation):
    tshark must verify every ICV (HMAC or AEAD tag) and find no malformed frame."""
    frames, doc = [], {"ikev2": [], "esp": [], "ikev1": [], "undecryptable": []}
    opts = TraceOptions(esp_first=3, esp_last=3)
    expected_esp = 0
    for i, suite in enumerate(SUITES):
        result, out, inb = negotiate(suite, seed=100 + i)
        if suite == "aes256gcm16":  # RFC 3948: ESP in UDP 4500, no non-ESP marker
            out, inb = (dataclasses.replace(k, sport=4500, dport=4500) for k in (out, inb))
        shift = 100.0 * i
        for f in collect_frames(result, opts, [ike_frames, esp_source(out, inb)]):
            frames.append(dataclasses.replace(f, t=f.t + shift))
        for k, v in keyfile.build(result).items():
            doc[k] += v
        expected_esp += 6 + 3  # A -> B: the first 3 (the pings) and last 3 of 100,003 packets; B -> A: 3 replies
    assert not doc["undecryptable"]
    path, keys = tmp_path / "esp.pcapng", tmp_path / "esp.keys.json"
    pcap.write(path, frames, fmt="pcapng", link_type="ethernet", epoch=0.0, seed=1,
               interfaces={"10.99.0.1": "A", "10.99.0.2": "B"}, comment="ESP suites", application="test")
    keys.write_text(json.dumps(doc))
    check = verify_trace(path, keys)
    assert check.rc == 0, check.out
    assert check.count("ESP") == (expected_esp, expected_esp)
    assert check.count("IKEv2 SK") == (2 * len(SUITES), 2 * len(SUITES))
    assert check.protocols()["icmp"] == 6 * len(SUITES)  # the decrypted inner pings


@pytest.mark.parametrize("suite", SUITES)
def test_scapy_decrypts_what_we_wrote(tmp_path, suite) -> None:
    """Read back with scapy, opened with the keys file: inner packets, SPIs and sequence numbers."""
    result, out, inb = negotiate(suite)
    opts = TraceOptions(tmp_path / "t.pcapng", tmp_path / "k.json", esp_first=3, esp_last=3)
    from ipsecsim.trace.packets import write_trace
    write_trace(result, opts, [ike_frames, esp_source(out, inb)])
    doc = json.loads(opts.keys.read_text())
    entries = {int(e["spi"], 16): e for e in doc["esp"]}
    got = [(c.ip.src, *dissect.open_esp(c, entries[int.from_bytes(c.data[:4], "big")]))
           for c in dissect.read(opts.pcap) if c.kind == "esp"]
    a_to_b = [(seq, inner) for src, seq, inner in got if src == "10.99.0.1"]
    b_to_a = [(seq, inner) for src, seq, inner in got if src == "10.99.0.2"]
    # RFC 4303 3.3.3: the first packet on an SA carries 1; the count runs on across the flows.
    assert [s for s, _ in a_to_b] == [1, 2, 3, 100_001, 100_002, 100_003]  # 3 pings, then the bulk tail
    assert [s for s, _ in b_to_a] == [1, 2, 3]
    assert a_to_b[0][1] == esp.icmp_echo(HOST_A, HOST_B, 7, 1)
    assert b_to_a[2][1] == esp.icmp_echo(HOST_B, HOST_A, 7, 3, reply=True)
    assert a_to_b[-1][1] == esp.udp_datagram(HOST_A, HOST_B, 40000, 5001, 1400, 99_999)


def test_keys_file_esp_entries_use_the_receivers_spi(tmp_path) -> None:
    """RFC 4303 2.1: the SPI of an SA is chosen by its receiver, so packets A -> B carry the
    SPI B announced (B's inbound SPI); the key entry names the outer addresses."""
    result, _, _ = negotiate("aes128-sha256")
    doc = keyfile.build(result)
    b_in = result.first("child_sa_established", peer="B").get("spi_in")
    a_in = result.first("child_sa_established", peer="A").get("spi_in")
    rows = {(e["src"], e["dst"]): e for e in doc["esp"]}
    assert rows[("10.99.0.1", "10.99.0.2")]["spi"] == f"0x{b_in}"
    assert rows[("10.99.0.2", "10.99.0.1")]["spi"] == f"0x{a_in}"
    assert all(e["enc_alg"] == "aes-cbc" and e["auth_alg"] == "hmac-sha2-256-128" for e in doc["esp"])
    assert len(doc["esp"]) == 2  # both peers log the pair; each direction appears once


@pytest.mark.parametrize(("suite", "icv"), [("aes128gcm8", 8), ("aes128gcm12", 12), ("aes128gcm16", 16)])
def test_gcm_icv_has_the_negotiated_length(suite, icv) -> None:
    """RFC 4106 6: ESP = SPI(4) | Seq(4) | IV(8) | ciphertext | ICV(8, 12 or 16). An 84-octet
    ping plus Pad Length and Next Header, padded to 4 octets, is 88 octets of ciphertext."""
    _, out, _ = negotiate(suite)
    p = esp.packets_for(out, [esp.Segment(1, 1, 1, esp.icmp_echo_flow(HOST_A, HOST_B, 1))], esp.Sample())[0]
    assert len(esp.encrypt(p, seed=1)) == 4 + 4 + 8 + 88 + icv


def test_sampling_keeps_the_first_and_last_packets_and_says_so() -> None:
    _, out, _ = negotiate("aes128-sha256")
    segs = [esp.Segment(10.0, 20.0, 10, esp.udp_flow(HOST_A, HOST_B, 1, 2, 100))]
    pkts = esp.packets_for(out, segs, esp.Sample(first=3, last=2))
    assert [p.seq for p in pkts] == [1, 2, 3, 9, 10]
    assert [p.t for p in pkts] == [10.0, 11.0, 12.0, 18.0, 19.0]  # 10 packets evenly over 10 s
    assert pkts[3].comment == "sampled: 5 packets of this SA before this one are not in the trace"
    assert [p.comment for p in pkts if p is not pkts[3]] == [None] * 4
    assert [p.seq for p in esp.packets_for(out, segs, esp.Sample(None, None))] == list(range(1, 11))
    assert len(esp.packets_for(out, segs, esp.Sample(first=6, last=6))) == 10  # overlap: each once


def test_sequence_numbers_cannot_wrap_without_esn() -> None:
    _, out, _ = negotiate("aes128-sha256")
    segs = [esp.Segment(0.0, 1.0, 1 << 32, esp.udp_flow(HOST_A, HOST_B, 1, 2, 100))]
    with pytest.raises(TraceError, match=r"RFC 4303 3\.3\.3"):
        esp.packets_for(out, segs, esp.Sample())
