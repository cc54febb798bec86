"""HMAC-SHA-256 truncated to 96 bits at one end only (``child.sha256_96``).

RFC 4868 2.3: HMAC-SHA-256 in ESP is truncated to 128 bits (a 16-octet ICV). Linux PF_KEY and
kernels before 2.6.33 use 96 bits (12 octets) under the same transform ID 12, and strongSwan's
swanctl.conf option children.<child>.sha256_96 installs that length for such peers. It is not
negotiated: IKE succeeds, then every ESP packet fails the receiver's integrity check (RFC 4303
3.4.4; Linux XfrmInStateProtoError). The trace writes the quirk side's 12-octet ICVs; the keys
file's ``esp`` section names RFC 4868 algorithms only, so those frames are marked, the keys file
lists the SA under ``undecryptable`` with the row Wireshark needs ("HMAC-SHA-256-96
[draft-ietf-ipsec-ciph-sha-256-00]"), and tshark given that row (in the esp_sa file written
beside the keys file, and in ``ipsecsim verify``) verifies every one of them.
"""

from __future__ import annotations

import subprocess

import pytest
import yaml
from conftest import SCENARIOS
from factory import scenario_dict
from tracehelp import run_with_trace, verify_trace

from ipsecsim.cli import main
from ipsecsim.config.loader import deep_merge, load_scenario
from ipsecsim.errors import ConfigError
from ipsecsim.proto.keylog import EspSaKeys
from ipsecsim.sim.runner import simulate
from ipsecsim.trace import dissect

SCENARIO = SCENARIOS / "sha2-truncation-mismatch.yaml"
QUIRK = {"child": {"sha256_96": True}}
PINGS = [{"name": "ab", "kind": "ping", "from": "A", "to": "B", "start": 1, "stop": 6},
         {"name": "ba", "kind": "ping", "from": "B", "to": "A", "start": 1.5, "stop": 6.5}]


def run(a: dict, b: dict, version: int = 2):
    v = {"ike": {"version": version}}
    return simulate(load_scenario(scenario_dict(deep_merge(a, v), deep_merge(b, v), traffic=PINGS)))


@pytest.mark.parametrize("version", [1, 2])
def test_one_sided_truncation_breaks_esp_both_ways(version) -> None:
    result = run(QUIRK, {}, version)
    assert result.status("A") == result.status("B") == "ipsec_sa_established"
    assert not result.select("negotiation_failed")
    flows = result.summary()["traffic"]["flows"]
    # 5 pings each way, each dropped by the receiving gateway: A's 12-octet ICVs at B, B's 16 at A
    assert flows["ab"]["dropped_packets"] == {"integrity_failed": 5} and flows["ab"]["echo_replies"] == 0
    assert flows["ba"]["dropped_packets"] == {"integrity_failed": 5} and flows["ba"]["echo_replies"] == 0
    at_b = result.first("traffic_dropped", peer="B", flow="ab")
    at_a = result.first("traffic_dropped", peer="A", flow="ba")
    assert "12-octet ICV" in at_b.get("detail") and "expects 16" in at_b.get("detail")
    assert "16-octet ICV" in at_a.get("detail") and "expects 12" in at_a.get("detail")
    # the key records: A's outbound SA says what A writes, 96 bits; B's outbound the RFC 4868 128
    sent = {p: [k.integ.name for k in result.peers[p].keylog if isinstance(k, EspSaKeys) and k.outbound]
            for p in "AB"}
    assert sent == {"A": ["sha256_96"], "B": ["sha256"]}


def test_bulk_flow_fails_in_full() -> None:
    bulk = [{"name": "b", "kind": "bulk", "from": "A", "to": "B", "rate": "8Mbit/s", "start": 1, "stop": 11}]
    flows = simulate(load_scenario(scenario_dict(QUIRK, {}, traffic=bulk))).summary()["traffic"]["flows"]
    # 1 MB/s for 10 s, all of it dropped by B
    assert flows["b"]["dropped_bytes"] == {"integrity_failed": 10_000_000} and flows["b"]["delivered_bytes"] == 0


@pytest.mark.parametrize("a, b", [({}, {}), (QUIRK, QUIRK)])
def test_agreeing_truncations_work(a, b) -> None:
    """Both RFC 4868 (128 bits), or both 96 bits (strongSwan's fix for such a peer): every ping answered."""
    flows = run(a, b).summary()["traffic"]["flows"]
    assert flows["ab"]["echo_replies"] == 5 and flows["ba"]["echo_replies"] == 5
    assert not flows["ab"]["dropped_packets"] and not flows["ba"]["dropped_packets"]


def test_only_sha256_is_truncated() -> None:
    """The option concerns HMAC-SHA-256 alone: with sha1 or AES-GCM the quirk side works."""
    for proposal in ("aes128-sha1", "aes128gcm16"):
        p = {"child": {"proposals": [proposal]}}
        flows = run({"child": {"proposals": [proposal], "sha256_96": True}}, p).summary()["traffic"]["flows"]
        assert flows["ab"]["echo_replies"] == 5, proposal


def test_sha256_96_must_be_a_boolean() -> None:
    with pytest.raises(ConfigError) as e:
        load_scenario(scenario_dict({"child": {"sha256_96": "96"}}))
    assert e.value.path == "peers.A.child.sha256_96" and "boolean" in e.value.message


def test_shipped_scenario(capsys) -> None:
    result = simulate(load_scenario(SCENARIO))
    assert all(v.passed for v in result.check())
    assert result.status("legacy") == result.status("modern") == "ipsec_sa_established"
    assert main(["run", str(SCENARIO)]) == 0
    out = capsys.readouterr().out
    assert "dropped (integrity_failed)" in out and "truncated to 96 bits" in out


def test_trace_marks_the_quirk_frames_and_wireshark_verifies_them(tmp_path) -> None:
    result, pcap, keys, doc = run_with_trace(tmp_path, SCENARIO)
    legacy, modern = (result.scenario.peers[n].address for n in ("legacy", "modern"))
    # the keys file: modern -> legacy (16-octet ICVs) in the ESP table as HMAC-SHA-256-128; legacy
    # -> modern (12-octet ICVs) only under undecryptable, with the row Wireshark takes by hand
    assert [(e["src"], e["auth_alg"]) for e in doc["esp"]] == [(modern, "hmac-sha2-256-128")]
    [u] = doc["undecryptable"]
    assert (u["src"], u["algorithm"], u["wireshark_auth_alg"]) == \
        (legacy, "sha256_96", "HMAC-SHA-256-96 [draft-ietf-ipsec-ciph-sha-256-00]")
    caps = [c for c in dissect.read(pcap) if c.kind == "esp"]
    marked = [c for c in caps if any("ESP with a row the keys file's tables cannot name" in x for x in c.comments)]
    assert {c.ip.src for c in marked} == {legacy} and len(marked) == 30
    # 84-octet pings, aes128-sha256: 84 + 2 = 86 -> 96, 8 + 16 + 96 + ICV + 20 = 152 (12-octet ICV) / 156 (16)
    assert {len(c.ip) for c in marked} == {152}
    assert {len(c.ip) for c in caps if c.ip.src == modern} == {156}
    # ipsecsim verify takes the by-hand row: all 60 ESP packets verify, the 30 12-octet ICVs included
    check = verify_trace(pcap, keys)
    assert check.rc == 0 and check.count("ESP") == (60, 60) and not check.report.expected, check.out
    # and Wireshark, given the by-hand row, verifies every ICV of that SA
    row = 'uat:esp_sa:"IPv4","{}","{}","{}","AES-CBC [RFC3602]","0x{}","{}","0x{}"'.format(
        u["src"], u["dst"], u["spi"], u["enc_key_hex"], u["wireshark_auth_alg"], u["auth_key_hex"])
    out = subprocess.run(["tshark", "-n", "-r", str(pcap), "-o", "esp.enable_encryption_decode:TRUE",
                          "-o", "esp.enable_authentication_check:TRUE", "-o", row, "-Y", f"ip.src == {legacy} && esp",
                          "-T", "fields", "-e", "esp.icv_good", "-e", "icmp.type"],
                         capture_output=True, text=True, check=True).stdout.split("\n")
    rows = [r.split("\t") for r in out if r]
    assert len(rows) == 30 and all(r == ["1", "8"] for r in rows)  # ICV good, inner ICMP echo request


def test_refusing_undecryptable_names_the_option(tmp_path, capsys) -> None:
    doc = yaml.safe_load(SCENARIO.read_text())
    doc["trace"] = {"undecryptable": "refuse"}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc))
    events = tmp_path / "e.jsonl"
    events.write_text("kept\n")
    assert main(["run", str(path), "--keys", str(tmp_path / "k.json"), "--events", str(events)]) == 2
    assert f"{path}: peers.legacy.child.sha256_96: the ESP SA" in capsys.readouterr().err
    # refused: nothing written, nothing already there lost
    assert not (tmp_path / "k.json").exists() and events.read_text() == "kept\n"
