"""``ipsecsim verify``: tshark (Wireshark 4.0, an implementation independent of ours) decrypts
and verifies every packet of a written trace with the keys file, and says which did not.

Expected counts come from the packets themselves, read with scapy (``trace.dissect``) at the
header offsets of the RFCs: an ESP packet is one per frame (RFC 4303 2), an IKEv2 message is
encrypted when its first payload is SK, type 46 at octet 16 (RFC 7296 3.1, 3.14), an IKEv1
message when the E flag, bit 0 of octet 19, is set (RFC 2408 3.1). tshark is required: without
it these tests fail, they never skip.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, SCENARIOS
from factory import scenario_dict
from tracehelp import run_with_trace

from ipsecsim.cli import main
from ipsecsim.config.loader import deep_merge
from ipsecsim.trace import dissect

PINGS = [{"name": "ab", "kind": "ping", "from": "A", "to": "B", "start": 1, "stop": 6},
         {"name": "ba", "kind": "ping", "from": "B", "to": "A", "start": 1.5, "stop": 4.5}]


def trace(tmp: Path, version: int, name: str = "t", **extra: Any) -> tuple[Path, Path, dict[str, Any]]:
    v = {"ike": {"version": version}}
    _, pcap, keys, doc = run_with_trace(tmp, scenario_dict(v, v, traffic=PINGS, **extra), name=name)
    return pcap, keys, doc


def frames(pcap: Path) -> dict[str, list[tuple[int, dissect.Captured]]]:
    """Frame numbers (from 1) of each kind of encrypted packet, read with scapy."""
    out: dict[str, list[tuple[int, dissect.Captured]]] = {"esp": [], "ikev2": [], "ikev1": []}
    for i, c in enumerate(dissect.read(pcap), 1):
        if c.kind == "esp":
            out["esp"].append((i, c))
        elif c.kind == "ike" and c.data[17] >> 4 == 2 and c.data[16] == 46:
            out["ikev2"].append((i, c))
        elif c.kind == "ike" and c.data[17] >> 4 == 1 and c.data[19] & 1:
            out["ikev1"].append((i, c))
    return out


def verify_cli(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(["verify", *map(str, args)])
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.parametrize("version", [1, 2])
def test_a_good_trace_verifies_every_packet_written(tmp_path, capsys, version) -> None:
    pcap, keys, _ = trace(tmp_path, version)
    written = frames(pcap)
    rc, out, _ = verify_cli(capsys, pcap, "--keys", keys, "--json")
    report = json.loads(out)
    assert rc == 0 and report["ok"], out
    assert report["frames"] == len(dissect.read(pcap))
    esp = len(written["esp"])
    # 5 pings A -> B and 3 B -> A, each request and its reply in ESP
    assert esp == 2 * (5 + 3)
    ike = "ikev2" if version == 2 else "ikev1"
    assert len(written[ike]) > 0
    assert report["decryption"]["esp"] == {"packets": esp, "verified": esp, "expected_undecryptable": 0, "failed": 0}
    n = len(written[ike])
    assert report["decryption"][ike] == {"packets": n, "verified": n, "expected_undecryptable": 0, "failed": 0}
    assert report["failures"] == [] and report["expected_undecryptable"] == []


def flip(hex_text: str) -> str:
    """The key with its first octet changed (one bit)."""
    return f"{int(hex_text[:2], 16) ^ 0x01:02x}{hex_text[2:]}"


@pytest.mark.parametrize("version, section, field, why", [
    (2, "esp", "auth_key_hex", "the ICV does not verify"),
    (2, "esp", "enc_key_hex", "decrypted into garbage"),
    (2, "ikev2", "sk_ai", "integrity checksum / AEAD tag does not verify"),
    (2, "ikev2", "sk_er", "wrong SK_e"),
    (1, "ikev1", "enc_key_hex", "decrypted into garbage"),
])
def test_a_flipped_key_byte_fails_naming_each_packet(tmp_path, capsys, version, section, field, why) -> None:
    pcap, _, doc = trace(tmp_path, version)
    entry = doc[section][0]
    entry[field] = flip(entry[field])
    bad = tmp_path / "bad.keys.json"
    bad.write_text(json.dumps(doc))
    written = frames(pcap)
    if section == "esp":  # the packets of that SA: its SPI, the first 4 octets of ESP
        expected = {i for i, c in written["esp"] if c.data[:4].hex() == entry["spi"][2:]}
        assert len(expected) == 8  # 5 requests A -> B and 3 replies, or 3 requests B -> A and 5 replies
    elif field == "sk_ai":  # the initiator's messages: I flag, bit 3 of octet 19 (RFC 7296 3.1)
        expected = {i for i, c in written["ikev2"] if c.data[19] & 0x08}
    elif field == "sk_er":
        expected = {i for i, c in written["ikev2"] if not c.data[19] & 0x08}
    else:  # one phase 1 key for everything encrypted under that ISAKMP SA (RFC 2409 Appendix B)
        expected = {i for i, c in written["ikev1"] if c.data[:8].hex() == entry["icookie"]}
    assert expected
    rc, out, err = verify_cli(capsys, pcap, "--keys", bad)
    assert rc == 1 and not err
    failed = {int(m.group(1)): m.group(2) for m in re.finditer(r"^FAIL frame (\d+): (.*)$", out, re.M)}
    assert set(failed) == expected, out
    assert all(why in line for line in failed.values()), out
    if section == "esp":
        assert all(f"SPI {entry['spi']}" in line for line in failed.values())
    assert out.rstrip().endswith(f"RESULT: FAIL ({len(expected)} problem{'s' if len(expected) > 1 else ''})")


GM = {"ike": {"proposals": ["sm4-sm3-modp2048"]}, "child": {"proposals": ["chacha20poly1305"]}}


@pytest.mark.parametrize("fmt", ["pcapng", "pcap"])
def test_undecryptable_sas_are_expected_not_failed(tmp_path, capsys, fmt) -> None:
    """SM4 / HMAC-SM3 for IKE and ChaCha20-Poly1305 for ESP: no Wireshark 4.0 table has them.
    The keys file lists the SAs under ``undecryptable``; verify reports their packets as expected,
    with the reason, and passes. Classic pcap carries no packet comments: the keys file alone says so."""
    gm = deep_merge(GM, {"ike": {"version": 2}})
    _, pcap, keys, doc = run_with_trace(tmp_path, scenario_dict(gm, gm, traffic=PINGS, trace={"format": fmt}),
                                        name="gm")
    assert doc["esp"] == doc["ikev2"] == [] and len(doc["undecryptable"]) == 3
    written = frames(pcap)
    rc, out, _ = verify_cli(capsys, pcap, "--keys", keys, "--json")
    report = json.loads(out)
    assert rc == 0, out
    assert report["decryption"]["esp"] == {"packets": 16, "verified": 0, "expected_undecryptable": 16, "failed": 0}
    assert report["decryption"]["ikev2"] == {"packets": len(written["ikev2"]), "verified": 0,
                                             "expected_undecryptable": len(written["ikev2"]), "failed": 0}
    reasons = {e["protocol"]: e["reason"] for e in report["expected_undecryptable"]}
    assert "sm4" in reasons["ikev2"] and "chacha20poly1305" in reasons["esp"]
    # without the keys file's word for it, the same packets fail (pcapng: the comments still say so)
    doc["undecryptable"] = []
    bare = tmp_path / "bare.keys.json"
    bare.write_text(json.dumps(doc))
    rc, out, _ = verify_cli(capsys, pcap, "--keys", bare)
    if fmt == "pcap":
        assert rc == 1 and out.count("FAIL frame") == 16 + len(written["ikev2"]), out
        assert "no ESP SA with this SPI in the keys file" in out
    else:
        assert rc == 0 and "FAIL" not in out, out


def test_ikev1_frames_wireshark_cannot_follow_are_marked_only_in_pcapng(tmp_path, capsys) -> None:
    """Different PSKs: B encrypts with another key than the one row per cookie the table holds,
    and A's retransmitted message 5 repeats its bytes (docs/packets.md). pcapng marks those frames;
    classic pcap cannot, so there they fail, as documented."""
    src = yaml.safe_load((SCENARIOS / "ikev1-psk-mismatch.yaml").read_text())
    results = {}
    for fmt in ("pcapng", "pcap"):
        src["trace"] = {"format": fmt}
        _, pcap, keys, _ = run_with_trace(tmp_path, src, name=fmt)
        rc, out, _ = verify_cli(capsys, pcap, "--keys", keys, "--json")
        results[fmt] = (rc, json.loads(out))
    rc, ng = results["pcapng"]
    assert rc == 0 and ng["decryption"]["ikev1"]["verified"] == 1 and ng["decryption"]["ikev1"]["failed"] == 0
    rc, classic = results["pcap"]
    assert rc == 1 and classic["decryption"]["ikev1"]["failed"] == ng["decryption"]["ikev1"]["expected_undecryptable"]


def test_without_keys_only_the_dissection_is_checked(tmp_path, capsys) -> None:
    pcap, _, _ = trace(tmp_path, 2)
    rc, out, _ = verify_cli(capsys, pcap)
    assert rc == 0 and "no keys file: frames dissected, nothing decrypted" in out and "RESULT: OK" in out


def test_bad_input_is_one_line_and_status_2(tmp_path, capsys, monkeypatch) -> None:
    pcap, keys, doc = trace(tmp_path, 2)
    notjson = tmp_path / "notjson.json"
    notjson.write_text("{ not json")
    badfield = tmp_path / "badfield.json"
    doc["esp"][1]["enc_alg"] = "rot13"
    badfield.write_text(json.dumps(doc))
    cases = [
        ((tmp_path / "missing.pcapng", "--keys", keys), f"{tmp_path / 'missing.pcapng'}: no such trace file"),
        ((keys, "--keys", keys), f"{keys}: not a pcap or pcapng file"),
        ((pcap, "--keys", tmp_path / "nokeys.json"), f"{tmp_path / 'nokeys.json'}: no such keys file"),
        ((pcap, "--keys", notjson), f"{notjson}: not JSON (line 1, column 3"),
        ((pcap, "--keys", badfield), f"{badfield}: esp[1].enc_alg: 'rot13' is not one of null, aes-cbc"),
        ((pcap, "--keys", keys, "--tshark", tmp_path / "no-tshark"), "not found: install tshark (Debian/Ubuntu: "
                                                                      "sudo apt-get install tshark"),
    ]
    for args, message in cases:
        rc, out, err = verify_cli(capsys, *args)
        assert rc == 2 and out == "", (args, out)
        assert err.startswith("ipsecsim: error: ") and err.count("\n") == 1 and message in err, (args, err)
    monkeypatch.setenv("PATH", str(tmp_path))  # no tshark anywhere
    rc, _, err = verify_cli(capsys, pcap, "--keys", keys)
    assert rc == 2 and "tshark: tshark not found: install tshark" in err and err.count("\n") == 1


def test_the_command_runs_as_a_program(tmp_path) -> None:
    pcap, keys, _ = trace(tmp_path, 2)
    r = subprocess.run([sys.executable, "-m", "ipsecsim", "verify", str(pcap), "--keys", str(keys)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "ESP              16/16 decrypted and verified" in r.stdout, r.stdout + r.stderr


# --- the Wireshark files and the documented tshark lines ----------------------------------

def documented(path: Path, prefix: str) -> str:
    """The one documented command line starting with ``prefix``."""
    [line] = {ln.strip() for ln in path.read_text().splitlines() if ln.strip().startswith(prefix)}
    return line


def run_shell(line: str, cwd: Path) -> str:
    env_part, _, command = line.partition(" ")
    name, _, value = env_part.partition("=")
    assert name == "WIRESHARK_CONFIG_DIR"
    return subprocess.run(shlex.split(command), cwd=cwd, capture_output=True, text=True, check=True, timeout=120,
                          env={**os.environ, name: str(cwd / value)}).stdout


def test_the_readme_lines_show_the_walkthrough_decrypted(tmp_path, monkeypatch, capsys) -> None:
    """README 'Packets': the run command, then the tshark line, as printed there. The IKE_AUTH
    messages (RFC 7296 1.2) are encrypted with AES-GCM-16 (RFC 5282: the tag is the integrity
    check); decrypted, A's (twice: lost, then retransmitted) carry its identity west.example.com
    and B's east.example.com, the scenario's local_id of each."""
    readme = ROOT / "README.md"
    run_line = documented(readme, "ipsecsim run scenarios/ikev2-wireshark-walkthrough.yaml --pcap")
    monkeypatch.chdir(tmp_path)
    args = shlex.split(run_line)[1:]
    args[1] = str(ROOT / args[1])
    assert main(args) == 0
    err = capsys.readouterr().err
    line = documented(readme, "WIRESHARK_CONFIG_DIR=")
    assert f"decrypted: {line}" in err  # the run prints the same line
    shown = run_shell(line, tmp_path)
    sk = frames(tmp_path / "walk.pcapng")["ikev2"]
    assert len(sk) == 3  # A's IKE_AUTH request, its retransmission, B's response
    assert shown.count("Decrypted Data") == 3 and shown.count("[correct]") == 3
    assert shown.count("ID_FQDN: west.example.com") == 2 and shown.count("ID_FQDN: east.example.com") == 1
    assert "Malformed" not in shown and "incorrect" not in shown


def test_the_packets_doc_line_decrypts_esp_including_the_truncated_icvs(tmp_path, monkeypatch) -> None:
    """docs/packets.md's line on sha2-truncation-mismatch: every ESP packet decrypted with its ICV
    good, both the RFC 4868 16-octet ICVs and the quirk side's 12-octet ones (the by-hand row)."""
    line = documented(ROOT / "docs" / "packets.md", "WIRESHARK_CONFIG_DIR=S.keys.wireshark")
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(SCENARIOS / "sha2-truncation-mismatch.yaml"), "--pcap", "S.pcapng",
                 "--keys", "S.keys.json"]) == 0
    assert sorted(p.name for p in (tmp_path / "S.keys.wireshark").iterdir()) == [
        "esp_sa", "ikev1_decryption_table", "ikev2_decryption_table", "preferences"]
    shown = run_shell(line, tmp_path)
    esp = frames(tmp_path / "S.pcapng")["esp"]
    assert len(esp) == 60 and shown.count("[Good: True]") == 60 and "[Bad: True]" not in shown
    assert shown.count("Decrypted Data (160 bytes)") == 2  # IKE_AUTH request and response
