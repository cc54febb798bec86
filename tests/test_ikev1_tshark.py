"""Wireshark reads our IKEv1 bytes: main/aggressive mode, quick mode and informational
messages written to a pcap (by this test, from ``Message.raw``) decrypt with tshark given
only the initiator cookie and the phase 1 encryption key (``ipsecsim verify``).

This checks the encryption, padding and IV chaining of RFC 2409 Appendix B against an
independent implementation. tshark is required: without it
these tests fail, they never skip."""

from __future__ import annotations

import ipaddress
import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from peerpair import PeerPair
from test_ikev1_phase1 import only_sa
from v1util import v1_pair


def _ipv4_udp(src: str, dst: str, port: int, payload: bytes) -> bytes:
    udp = struct.pack("!HHHH", port, port, 8 + len(payload), 0) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                      ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)
    csum = sum(struct.unpack("!10H", hdr))
    csum = (csum & 0xFFFF) + (csum >> 16)
    return hdr[:10] + struct.pack("!H", ~csum & 0xFFFF) + hdr[12:] + udp


def write_pcap(path: Path, pair: PeerPair) -> None:
    with path.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))  # LINKTYPE_RAW
        for t, _, d in pair.sent:
            pkt = _ipv4_udp(d.src, d.dst, d.sport, d.message.raw)
            f.write(struct.pack("<IIII", int(t), min(999999, round((t % 1) * 1e6)), len(pkt), len(pkt)) + pkt)


@pytest.mark.parametrize("mode, ike, esp", [
    ("main", "aes128-sha256-modp2048", "aes128-sha256"),
    ("aggressive", "aes256-sha1-modp1024", "aes256gcm16-modp1024"),
    ("main", "3des-md5-modp1536", "3des-sha1"),
])
def test_tshark_decrypts_every_encrypted_message(tmp_path: Path, mode: str, ike: str, esp: str) -> None:
    conf = {"ike": {"mode": mode, "proposals": [ike]}, "child": {"proposals": [esp]}}
    pair = v1_pair(conf, conf).run(10)
    a = pair["A"].engine
    a.delete_child(a.children[0], "test", 10)
    sa = only_sa(pair, "A")
    assert sa.keys is not None
    a.delete_isakmp(sa, "test", 10)
    pair.collect("A")
    pair.run(11)
    encrypted = sum(1 for _, _, d in pair.sent if d.message.encrypted)
    assert encrypted == (7 if mode == "main" else 6)
    write_pcap(tmp_path / "t.pcap", pair)
    (tmp_path / "k.json").write_text(json.dumps(
        {"ikev1": [{"icookie": sa.cky_i.hex(), "enc_key_hex": sa.keys.enc_key.hex()}]}))
    r = subprocess.run([sys.executable, "-m", "ipsecsim", "verify", str(tmp_path / "t.pcap"), "--keys",
                        str(tmp_path / "k.json"), "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["decryption"]["ikev1"] == {"packets": encrypted, "verified": encrypted, "expected_undecryptable": 0,
                                             "failed": 0}
