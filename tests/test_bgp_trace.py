"""BGP inside the tunnels in packet traces: each segment of a session is a real IPv4 + TCP
packet between the tunnel's inner addresses, carrying the BGP message's octets, inside ESP;
tshark decrypts the ESP with the keys file and dissects TCP and BGP.

Expected values come from the scenario files (AS numbers, hold times, advertised prefixes),
RFC 4271 (OPEN 4.2, UPDATE 4.3, KEEPALIVE 4.4: the 19-octet header alone, NOTIFICATION 4.5 and
its codes: 2/2 Bad Peer AS 6.2, 4/0 Hold Timer Expired 6.5), RFC 6793 (the 4-octet AS
capability, code 65) and RFC 9293 (port 179 at the listening end, the TCP checksum).

tshark is required: without it these tests fail, they never skip.
"""

from __future__ import annotations

import itertools

from conftest import SCENARIOS
from tracehelp import run_with_trace, tshark_fields, verify_trace

FIELDS = ["frame.time_relative", "ip.src", "ip.dst", "tcp.srcport", "tcp.dstport", "tcp.checksum.status",
          "bgp.type", "bgp.length", "bgp.open.version", "bgp.open.myas", "bgp.open.holdtime",
          "bgp.open.identifier", "bgp.cap.type", "bgp.notify.major_error", "bgp.notify.minor_error_open",
          "bgp.notify.minor_error_expired", "bgp.nlri_prefix", "bgp.update.path_attribute.next_hop",
          "bgp.update.path_attribute.as_path_segment.as4"]


def bgp_rows(pcap, keys) -> list[dict[str, str]]:
    """One dict per BGP message tshark dissected inside ESP (inner addresses only)."""
    rows = tshark_fields(pcap, keys, FIELDS, options=["tcp.check_checksum:TRUE"], display_filter="bgp")
    out = []
    for r in rows:
        d = dict(zip(FIELDS, r, strict=True))
        outer_src, inner_src = d["ip.src"].split(",")
        d["outer"], d["src"], d["dst"] = outer_src, inner_src, d["ip.dst"].split(",")[1]
        out.append(d)
    return out


def test_bad_peer_as_session_is_decrypted_as_bgp(tmp_path) -> None:
    """bgp-bad-peer-as: customer-1 is configured for peer AS 64513 but cloud-1 says 64512."""
    result, pcap, keys, _ = run_with_trace(tmp_path, SCENARIOS / "bgp-bad-peer-as.yaml")
    check = verify_trace(pcap, keys)
    assert check.rc == 0, check.out
    esp = check.protocols()["esp"]
    assert check.count("ESP") == (esp, esp)
    rows = bgp_rows(pcap, keys)
    assert rows and check.protocols()["bgp"] == len(rows)
    for r in rows:
        assert r["tcp.checksum.status"] == "1"  # tshark: checksum good
        # the session runs between the inner addresses of each tunnel, to port 179 at the passive end
        assert {r["src"], r["dst"]} in ({"169.254.10.1", "169.254.10.2"}, {"169.254.20.1", "169.254.20.2"})
        assert "179" in (r["tcp.srcport"], r["tcp.dstport"])
        assert r["outer"] in ("47.21.0.1", "47.21.0.2", "47.42.0.1", "47.42.0.2")
    opens = [r for r in rows if r["bgp.type"] == "1"]
    first = {(r["src"]): r for r in reversed(opens)}
    # OPEN (RFC 4271 4.2): version 4, My AS, Hold Time and BGP Identifier from the scenario
    # (router_id defaults to local_address), the 4-octet AS capability (RFC 6793, code 65)
    c1 = first["169.254.10.2"]
    assert (c1["bgp.open.version"], c1["bgp.open.myas"], c1["bgp.open.holdtime"], c1["bgp.open.identifier"]) == (
        "4", "65000", "30", "169.254.10.2")
    assert "65" in c1["bgp.cap.type"].split(",")
    cloud1 = first["169.254.10.1"]
    assert (cloud1["bgp.open.myas"], cloud1["bgp.open.holdtime"]) == ("64512", "30")
    # customer-1 expects AS 64513: NOTIFICATION 2/2 Bad Peer AS (RFC 4271 6.2) to cloud-1
    notes = [r for r in rows if r["bgp.type"] == "3"]
    assert notes and all((r["src"], r["bgp.notify.major_error"], r["bgp.notify.minor_error_open"]) ==
                         ("169.254.10.2", "2", "2") for r in notes)
    # tunnel 2 comes up: KEEPALIVEs are the 19-octet header alone (RFC 4271 4.4) ...
    keepalives = [r for r in rows if r["bgp.type"] == "4"]
    assert keepalives and all(r["bgp.length"] == "19" for r in keepalives)
    assert any(r["src"] == "169.254.20.2" for r in keepalives) and any(r["src"] == "169.254.20.1" for r in keepalives)
    # ... and each end's UPDATE carries its advertised prefix, its own AS and its address as next hop
    updates = {r["src"]: r for r in rows if r["bgp.type"] == "2"}
    assert (updates["169.254.20.2"]["bgp.nlri_prefix"], updates["169.254.20.2"]["bgp.update.path_attribute.next_hop"],
            updates["169.254.20.2"]["bgp.update.path_attribute.as_path_segment.as4"]) == (
        "192.168.0.0", "169.254.20.2", "65000")
    assert (updates["169.254.20.1"]["bgp.nlri_prefix"],
            updates["169.254.20.1"]["bgp.update.path_attribute.as_path_segment.as4"]) == ("10.0.0.0", "64512")
    assert "169.254.10.1" not in updates  # the refused session never gets to UPDATE
    # every message the sessions sent is in the trace (no TCP retransmission in this run)
    sent = {k: sum(result.bgp[p]["messages"]["sent"][k] for p in result.bgp) for k in ("OPEN", "UPDATE",
                                                                                          "NOTIFICATION", "KEEPALIVE")}
    assert sum(result.bgp[p]["tcp"]["retransmissions"] for p in result.bgp) == 0
    assert (len(opens), len(updates), len(notes), len(keepalives)) == (
        sent["OPEN"], sent["UPDATE"], sent["NOTIFICATION"], sent["KEEPALIVE"])


def test_hold_timer_notification_is_in_the_trace(tmp_path) -> None:
    """bgp-dual-tunnel-hold-timer: tunnel 1's path fails at 60 s; customer-1's hold timer
    expires at 80.10 s (the scenario's arithmetic) and it sends NOTIFICATION 4/0 (RFC 4271 6.5),
    which the failed path loses: it is captured at the sender."""
    _result, pcap, keys, _ = run_with_trace(tmp_path, SCENARIOS / "bgp-dual-tunnel-hold-timer.yaml")
    rows = bgp_rows(pcap, keys)
    notes = [r for r in rows if r["bgp.type"] == "3"]
    hold = [(round(float(r["frame.time_relative"]), 6), r["src"]) for r in notes
            if (r["bgp.notify.major_error"], r["bgp.notify.minor_error_expired"]) == ("4", "0")]
    assert (80.1, "169.254.10.2") in hold and (80.09, "169.254.10.1") in hold
    # after the path is back the session is opened again: a second OPEN from customer-1 at 148.10 s + 20 ms
    opens = [round(float(r["frame.time_relative"]), 6) for r in rows if r["bgp.type"] == "1" and
             r["src"] == "169.254.10.2"]
    assert opens[0] < 1 and 148.12 in opens


def test_bfd_control_packets_are_in_the_trace(tmp_path) -> None:
    """bgp-bfd-vs-hold-timer-vs-dpd: BFD Control packets (RFC 5880 4.1) in UDP to port 3784 with
    TTL 255 (RFC 5881 4, 5) inside the tunnel's ESP: Desired Min TX 1 s while not Up (6.8.3), the
    configured 300 ms once Up, with a Poll answered by a Final (6.5), Detect Mult 3."""
    _result, pcap, keys, _ = run_with_trace(tmp_path, SCENARIOS / "bgp-bfd-vs-hold-timer-vs-dpd.yaml")
    check = verify_trace(pcap, keys)
    assert check.rc == 0, check.out
    fields = ["frame.time_relative", "ip.src", "ip.ttl", "udp.dstport", "bfd.version", "bfd.sta",
              "bfd.detect_time_multiplier", "bfd.desired_min_tx_interval", "bfd.flags.p", "bfd.flags.f"]
    rows = tshark_fields(pcap, keys, fields, display_filter="bfd && ip.src == 169.254.10.1")
    assert rows
    by_time = {round(float(r[0]), 6): r for r in rows}
    for r in rows:
        assert r[2].split(",")[1] == "255" and r[3].split(",")[-1] == "3784"
        assert (r[4], r[6]) == ("1", "3")
    # Down at 1 s, Init at 2 s, both at the slow rate; Up from 2.3 s with a Poll, the Final at 2.31 s
    assert (by_time[1.0][5], by_time[1.0][7]) == ("0x01", "1000000")
    assert (by_time[2.0][5], by_time[2.0][7]) == ("0x02", "1000000")
    assert (by_time[2.3][5], by_time[2.3][7], by_time[2.3][8]) == ("0x03", "300000", "1")
    assert by_time[2.31][9] == "1"
    up = sorted(t for t in by_time if 3 <= t < 59.95)
    assert all(abs(b - a - 0.3) < 1e-6 for a, b in itertools.pairwise(up))


def test_same_seed_same_bgp_and_bfd_bytes(tmp_path) -> None:
    _, p1, _, _ = run_with_trace(tmp_path, SCENARIOS / "bgp-bfd-vs-hold-timer-vs-dpd.yaml", name="one")
    _, p2, _, _ = run_with_trace(tmp_path, SCENARIOS / "bgp-bfd-vs-hold-timer-vs-dpd.yaml", name="two")
    assert p1.read_bytes() == p2.read_bytes()


def test_tcp_md5_signature_option_is_rfc_2385(tmp_path) -> None:
    """With auth_key on both ends of tunnel 2 every segment carries the TCP MD5 signature option
    (RFC 2385 3.0: kind 19, length 18) whose digest is the MD5 of the pseudo-header, the fixed
    TCP header with a zero checksum, the data and the key (2.0); the session still comes up."""
    import hashlib
    import struct

    import yaml

    from ipsecsim.trace import dissect

    doc = yaml.safe_load((SCENARIOS / "bgp-bad-peer-as.yaml").read_text())
    for peer in ("cloud-2", "customer-2"):
        doc["peers"][peer]["bgp"]["auth_key"] = "s3cret"
    result, pcap, keys, kdoc = run_with_trace(tmp_path, doc)
    assert result.bgp["cloud-2"]["state"] == "Established"
    rows = {(e["src"], int(e["spi"], 16)): e for e in kdoc["esp"]}
    checked = 0
    for c in dissect.read(pcap):
        if c.kind != "esp":
            continue
        _seq, inner = dissect.open_esp(c, rows[(c.ip.src, int.from_bytes(c.data[:4], "big"))])
        if inner[9] != 6 or inner[12:15] != bytes([169, 254, 20]):
            continue
        tcp = inner[20:]
        offset = (tcp[12] >> 4) * 4
        assert offset == 40 and tcp[20:24] == b"\x01\x01\x13\x12"  # NOP NOP kind 19 length 18
        pseudo = inner[12:20] + struct.pack("!BBH", 0, 6, len(tcp))
        fixed = tcp[:16] + b"\x00\x00" + tcp[18:20]
        assert tcp[24:40] == hashlib.md5(pseudo + fixed + tcp[offset:] + b"s3cret").digest()
        checked += 1
    assert checked >= 10
    md5 = tshark_fields(pcap, keys, ["ip.src", "tcp.options.md5.digest"], display_filter="tcp.options.md5")
    assert len(md5) == checked and all(r[0].split(",")[1].startswith("169.254.20.") for r in md5)
