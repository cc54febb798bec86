"""The simulated traffic in packet traces: every ping as a real tunnel-mode ESP packet (ICMP
echo inside, RFC 4303 / RFC 792), bulk flows sampled, sequence numbers running per SA as the
data plane counted them (RFC 4303 3.3.3), all decrypted and verified by tshark (ipsecsim verify).

tshark is required: without it these tests fail, they never skip.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict

import pytest
from conftest import SCENARIOS
from factory import scenario_dict
from scapy.layers.inet import IP, UDP
from tracehelp import run_with_trace, tshark_fields, verify_trace

from ipsecsim.config.loader import load_scenario
from ipsecsim.errors import ConfigError
from ipsecsim.sim.runner import simulate
from ipsecsim.trace import dissect
from ipsecsim.trace.options import TraceOptions
from ipsecsim.trace.packets import write_trace

TRAFFIC_SCENARIOS = ["rekey-by-time", "rekey-20gb", "long-ping-keepalive", "on-traffic-start", "lifetime-mismatch",
                     "pfs-mismatch-at-rekey", "rekey-collision"]


def opened(pcap, doc) -> list[tuple[dissect.Captured, int, bytes]]:
    """Every ESP packet of a trace with its sequence number and decrypted inner packet."""
    rows = {(e["src"], int(e["spi"], 16)): e for e in doc["esp"]}
    out = []
    for c in dissect.read(pcap):
        if c.kind == "esp":
            seq, inner = dissect.open_esp(c, rows[(c.ip.src, int.from_bytes(c.data[:4], "big"))])
            out.append((c, seq, inner))
    return out


@pytest.mark.parametrize("name", TRAFFIC_SCENARIOS)
def test_traffic_scenario_esp_decrypts_in_wireshark(tmp_path, name) -> None:
    result, pcap, keys, _ = run_with_trace(tmp_path, SCENARIOS / f"{name}.yaml")
    check = verify_trace(pcap, keys)
    assert check.rc == 0, check.out
    esp = check.protocols()["esp"]
    assert esp > 0 and check.count("ESP") == (esp, esp)
    # Every ping request and reply that went on the wire is in the trace, inside ESP.
    assert check.protocols().get("icmp", 0) == len(result.esp)
    if name == "rekey-by-time":
        # a ping every 1 s from t = 1 s; the run ends at 5 h = 18000 s: requests at 1 .. 17999 s,
        # each answered
        assert esp == 2 * 17999


def test_pings_are_real_echoes_numbered_per_sa(tmp_path) -> None:
    """lifetime-mismatch: a ping every 10 s from t = 1 s for 3 h (requests at 1, 11, ..., 10791 s:
    1080 of them, each answered), across the CHILD SA rekeys B starts every 20 min. Each is an
    84-octet ICMP echo (20 IP + 8 ICMP + 56 data) between the first hosts of the protected
    subnets, request n leaving at 1 + 10 (n - 1) s."""
    result, pcap, keys, _ = run_with_trace(tmp_path, SCENARIOS / "lifetime-mismatch.yaml")
    rows = tshark_fields(pcap, keys, ["frame.time_relative", "ip.src", "ip.dst", "ip.len", "esp.spi",
                                      "esp.sequence", "icmp.type", "icmp.seq"])
    esp = [r for r in rows if r[4]]
    assert len(esp) == 2 * 1080
    per_sa: dict[tuple[str, str], list[int]] = defaultdict(list)
    requests = []
    for t, src, dst, length, spi, seq, icmp_type, icmp_seq in esp:
        outer_src, inner_src = src.split(",")
        assert length.split(",")[1] == "84"
        if icmp_type == "8":
            assert (outer_src, inner_src, dst.split(",")[1]) == ("10.99.0.1", "10.101.0.1", "10.102.0.1")
            requests.append((float(t), int(icmp_seq)))
        else:
            assert icmp_type == "0" and (outer_src, inner_src) == ("10.99.0.2", "10.102.0.1")
        per_sa[(outer_src, spi)].append(int(seq))
    assert [n for _, n in requests] == list(range(1, 1081))
    # frame.time_relative counts from the first frame, A's IKE_SA_INIT, which leaves when A's
    # MODP-2048 key is made (docs/cpu.md, strongswan-5.9.8: 7.1 ms)
    assert all(abs(t - (1 + 10 * (n - 1) - 0.0071)) < 1e-6 for t, n in requests)
    # RFC 4303 3.3.3: each SA direction counts from 1, one by one; a rekey starts a new SA at 1.
    for seqs in per_sa.values():
        assert seqs == list(range(1, len(seqs) + 1))
    rekeys = len(result.select("child_sa_rekeyed", peer="A"))
    assert rekeys >= 8 and len(per_sa) == 2 * (rekeys + 1)


def test_bulk_is_sampled_around_each_volume_rekey(tmp_path) -> None:
    """rekey-20gb: 1 Gbit/s of 1400-octet packets from 10 s to 600 s. Each SA direction is written
    as its first and last 10 packets; the last one's sequence number is the SA's packet count
    when traffic moved to the new SA (bytes_out of child_sa_rekeyed / 1400, RFC 4303 3.3.3)."""
    result, pcap, _, doc = run_with_trace(tmp_path, SCENARIOS / "rekey-20gb.yaml")
    packets = opened(pcap, doc)
    per_sa: dict[int, list[int]] = defaultdict(list)
    for c, seq, inner in packets:
        ip = IP(inner)
        assert ip.len == 1400 and UDP in ip and ip[UDP].dport == 5201
        per_sa[int.from_bytes(c.data[:4], "big")].append(seq)
    rekeyed = result.select("child_sa_rekeyed", peer="cloud")
    assert len(per_sa) == len(rekeyed) + 1
    for ev in rekeyed:
        seqs = per_sa[int(ev.get("old_spi_out"), 16)]
        last = math.floor(ev.get("bytes_out") / 1400)
        assert seqs == [*range(1, 11), *range(last - 9, last + 1)]
    # The first packet after the gap says how many of this SA's packets are not in the trace.
    gap = [c for c, seq, _ in packets if seq > 10 and any("sampled:" in x for x in c.comments)]
    assert len(gap) == len(rekeyed) + 1
    for c in gap:
        seq = int.from_bytes(c.data[4:8], "big")
        left = int(re.search(r"sampled: ([\d,]+)", " ".join(c.comments)).group(1).replace(",", ""))
        assert left == seq - 11


def test_summary_line_says_how_much_bulk_was_left_out(tmp_path, capsys) -> None:
    from ipsecsim.cli import main
    pcap = tmp_path / "b.pcapng"
    assert main(["run", str(SCENARIOS / "rekey-20gb.yaml"), "--pcap", str(pcap)]) == 0
    line = next(x for x in capsys.readouterr().err.splitlines() if x.startswith("pcap:"))
    m = re.search(r"bulk is sampled: ([\d,]+) of ([\d,]+) bulk packets written, ([\d,]+) left out", line)
    assert m, line
    written, total, left = (int(g.replace(",", "")) for g in m.groups())
    # 590 s at 1e9/8 bytes/s in 1400-octet packets; each SA's count is whole packets (5 SAs).
    ideal = 590 * 1e9 / 8 / 1400
    assert ideal - 5 <= total <= ideal and written == 5 * 20 and left == total - written
    # the pcapng section comment (Wireshark: Statistics > Capture File Properties) says it too
    assert f"{written:,} of {total:,} bulk packets written, {left:,} left out".encode() in pcap.read_bytes()


def test_esp_all_refuses_to_write_millions_of_bulk_packets(tmp_path) -> None:
    sc = load_scenario(SCENARIOS / "rekey-20gb.yaml")
    result = simulate(sc, duration=30.0)
    with pytest.raises(ConfigError, match=r"trace\.esp.*'all' would write"):
        write_trace(result, TraceOptions(tmp_path / "x.pcapng", esp_first=None, esp_last=None))


def test_lost_pings_are_captured_at_the_sender_and_marked(tmp_path) -> None:
    """long-ping-keepalive: the link is down from 50 to 70 min; the pings sent meanwhile leave
    the branch (captured at its interface) and never arrive."""
    result, pcap, _, _ = run_with_trace(tmp_path, SCENARIOS / "long-ping-keepalive.yaml")
    lost = [c for c in dissect.read(pcap) if c.kind == "esp" and any("LOST: the link is down" in x for x in c.comments)]
    assert lost and all(3000 <= float(c.time) - 1704067200 < 4200 for c in lost)
    assert len(lost) == sum(1 for r in result.esp if r.lost == "link_down")
    written = sum(1 for c in dissect.read(pcap) if c.kind == "esp")
    _, pcap2, _, _ = run_with_trace(tmp_path, SCENARIOS / "long-ping-keepalive.yaml", name="omit", lost="omit")
    assert sum(1 for c in dissect.read(pcap2) if c.kind == "esp") == written - len(lost)


def test_same_seed_same_esp_bytes(tmp_path) -> None:
    doc = scenario_dict(duration="40s")
    doc["traffic"] = [{"kind": "ping", "from": "A", "to": "B", "interval": "2s", "start": "1s"},
                      {"kind": "bulk", "from": "B", "to": "A", "rate": "10Mbit/s", "start": "5s", "stop": "30s"}]
    _, p1, _, _ = run_with_trace(tmp_path, doc, name="one")
    _, p2, _, _ = run_with_trace(tmp_path, doc, name="two")
    assert p1.read_bytes() == p2.read_bytes()
    check = verify_trace(p1, tmp_path / "one.keys.json")
    assert check.rc == 0 and check.count("ESP")[0] == 2 * 20 + 20, check.out
