"""ESP overhead, the path MTU and fragmentation: ``proto.esp_size``, ``ipsecsim overhead``, the
link's ``too_big`` drops and fragment losses, and the tcp-mss-1300 scenario.

Expected sizes are derived by hand in the comments from RFC 4303 2 (SPI 4 + Seq 4 + IV +
payload + padding + Pad Length 1 + Next Header 1 + ICV; padding to the cipher block and a
4-octet boundary, 2.4), RFC 3602 3 (AES-CBC: 16-octet IV and block), RFC 4106 3.1 / 6 (AES-GCM:
8-octet IV, 4-octet alignment, 16-octet ICV for gcm16), RFC 2451 (3DES: 8-octet IV and block),
RFC 2404 / RFC 4868 2.3 (ICV 12 for HMAC-SHA1-96, 16 / 32 for HMAC-SHA-256-128 / 512-256),
RFC 3948 2.1 (8 more octets of UDP for NAT traversal) and RFC 791 (20-octet IPv4 header;
fragment data a multiple of 8 octets).
"""

from __future__ import annotations

import pytest
from conftest import SCENARIOS
from factory import scenario_dict
from tracehelp import run_with_trace, verify_trace

from ipsecsim.cli import main
from ipsecsim.config.loader import load_scenario
from ipsecsim.errors import ConfigError
from ipsecsim.overhead import report
from ipsecsim.proto import cipher
from ipsecsim.proto.esp_size import fragments, largest_inner, outer_size, suite
from ipsecsim.proto.proposals import Protocol, parse
from ipsecsim.sim import loss
from ipsecsim.sim.runner import simulate
from ipsecsim.trace import dissect

# (proposal, largest inner packet through MTU 1500 as ESP, as ESP in UDP), by hand:
#   aes128-sha1:   1480 for ESP; 8 + 16 + x + 12 <= 1480, x = payload + pad + 2 a multiple of 16
#                  -> x = 1440, payload 1438. NAT-T: 1472 -> x <= 1436 -> 1424 -> 1422.
#   aes256-sha512: 8 + 16 + x + 32 <= 1480 -> x = 1424 -> 1422; NAT-T x <= 1416 -> 1408 -> 1406.
#   aes128gcm16:   8 + 8 + x + 16 <= 1480, x a multiple of 4 -> 1448 -> 1446; NAT-T 1440 -> 1438.
#   3des-sha1:     8 + 8 + x + 12 <= 1480, x a multiple of 8 -> 1448 -> 1446; NAT-T x <= 1444 -> 1440 -> 1438.
HAND = [("aes128-sha1", 1438, 1422), ("aes256-sha512", 1422, 1406), ("aes128gcm16", 1446, 1438),
        ("3des-sha1", 1446, 1438)]


@pytest.mark.parametrize("proposal, plain, natt", HAND)
def test_largest_inner_packet_matches_the_rfc_arithmetic(proposal, plain, natt) -> None:
    encr, integ = suite(parse(proposal, Protocol.ESP))
    assert largest_inner(encr, integ, 1500) == plain
    assert largest_inner(encr, integ, 1500, udp_encap=True) == natt
    assert outer_size(encr, integ, plain) <= 1500 < outer_size(encr, integ, plain + 1)


def test_no_inner_packet_fits_when_the_room_is_below_an_ipv4_header() -> None:
    """aes128gcm16 at MTU 69: 69 - 20 - 8 (SPI, Seq) - 8 (IV) - 16 (ICV) = 17 octets for the
    payload + padding + 2 (a multiple of 4): 16 -> 14 octets, less than the 20-octet IPv4 header
    every inner packet starts with (RFC 791): none fits. At MTU 76: 24 -> 22 octets fit."""
    encr, integ = suite(parse("aes128gcm16", Protocol.ESP))
    assert largest_inner(encr, integ, 69) is None
    assert largest_inner(encr, integ, 76) == 22


@pytest.mark.parametrize("proposal", ["aes128-sha256", "aes256-sha512", "aes128gcm16", "aes256gcm8", "3des-sha1",
                                      "aes128ctr-sha1", "chacha20poly1305", "null-sha256", "sm4-sm3"])
@pytest.mark.parametrize("inner", [28, 84, 1339, 1340, 1341, 1500])
def test_outer_size_is_the_length_of_a_real_esp_packet(proposal, inner) -> None:
    """The formula against real encryption: the ESP packet esp_encrypt builds, + 20."""
    encr, integ = suite(parse(proposal, Protocol.ESP))
    key = bytes(encr.key_bytes + encr.salt_bytes)
    auth = bytes(integ.key_bytes) if integ is not None else b""
    packet = cipher.esp_encrypt(encr, integ, key, auth, 1, 1, bytes(encr.iv_bytes), bytes(inner), 4)
    assert outer_size(encr, integ, inner) == 20 + len(packet)
    assert outer_size(encr, integ, inner, udp_encap=True) == 28 + len(packet)


def test_sha256_96_writes_a_12_octet_icv() -> None:
    """RFC 4868 2.3: HMAC-SHA-256-128 has a 16-octet ICV; truncated to 96 bits it has 12."""
    p = parse("aes128-sha256", Protocol.ESP)
    assert outer_size(*suite(p), 1340) - outer_size(*suite(p, sha256_96=True), 1340) == 4
    assert suite(parse("aes128-sha1", Protocol.ESP), sha256_96=True)[1].name == "sha1"  # only SHA-256 changes


def test_fragment_counts() -> None:
    # 1564 octets through 1500: 1544 of data, at most (1500 - 20) // 8 * 8 = 1480 per fragment -> 2.
    assert fragments(1564, 1500) == 2
    assert fragments(1500, 1500) == 1
    # 3000 through 576: 2980 of data, 552 per fragment -> 5 x 552 = 2760, 220 left: 6 fragments.
    assert fragments(3000, 576) == 6
    # the RFC 791 minimum MTU 68: 48 octets of data per fragment
    assert fragments(116, 68) == 2 and fragments(117, 68) == 3


def test_loss_of_a_fragmented_packet() -> None:
    # Bernoulli: every fragment independently, (1 - p)^n
    assert loss.Bernoulli(0.1).survive(3) == pytest.approx(0.9 ** 3)
    # Gilbert-Elliott per datagram, loss_good 0, loss_bad 1: two fragments survive when the first
    # finds the good state (stationary r / (p + r) = 0.5 / 0.6) and the channel stays good (1 - p)
    ge = loss.GilbertElliott(p=0.1, r=0.5, loss_good=0.0, loss_bad=1.0)
    assert ge.survive(1) == pytest.approx(1 - ge.mean)
    assert ge.survive(2) == pytest.approx(0.5 / 0.6 * 0.9)
    # in time: back-to-back fragments share one state, so with loss_bad 1 the loss does not grow
    timed = loss.TimedGilbertElliott(mean_good=9.0, mean_bad=1.0)
    assert timed.survive(4) == pytest.approx(0.9)


# --- ipsecsim overhead --------------------------------------------------------------------------

def _row(lines: list[str], name: str) -> list[str]:
    return next(line for line in lines if line.startswith(name + " ")).split()


def test_overhead_table_numbers() -> None:
    lines = report(["aes128-sha1", "aes256-sha512", "aes128gcm16"], 1500, 1300)
    # columns: proposal, IV, ICV, pad unit, ESP octets, ESP max packet/MSS, NAT-T max/MSS, MSS 1300 wire ...
    assert _row(lines, "aes128-sha1")[:7] == ["aes128-sha1", "16", "12", "16", "38+0..15", "1438/1398", "1422/1382"]
    # MSS 1300 -> 1340-octet packets; aes256-sha512 in UDP: 1340 + 2 -> 1344, 8 + 16 + 1344 + 32 = 1400, + 28
    assert _row(lines, "aes256-sha512")[5:] == ["1422/1382", "1406/1366", "1420", "ok", "1428", "ok"]
    assert _row(lines, "aes128gcm16")[1:5] == ["8", "16", "4", "34+0..3"]
    assert lines[-1].startswith("MSS 1300 fits every proposal listed, with and without NAT-T: the tightest is "
                                "aes256-sha512 with NAT-T, 1428 octets on the wire, 72 to spare")


def test_overhead_default_list_shows_mss_1300_safe_for_all(capsys) -> None:
    assert main(["overhead"]) == 0
    out = capsys.readouterr().out
    for name in ("aes128-sha1", "aes128-sha256", "aes256-sha512", "aes128gcm16", "aes256gcm16", "3des-sha1",
                 "aes128-md5", "sm4-sm3"):
        assert f"\n{name} " in out
    assert "BIG" not in out and "MSS 1300 fits every proposal listed" in out


def test_overhead_says_when_an_mss_does_not_fit(capsys) -> None:
    # PPPoE-in-something path of 1400, NAT-T: aes128-sha256 needs 1340 + 2 -> 1344, 8 + 16 + 1344 + 16 + 28 = 1412
    assert main(["overhead", "--nat", "--mtu", "1400", "aes128-sha256"]) == 0
    out = capsys.readouterr().out
    assert "1412 BIG" in out and "needs 1412 octets on the wire, 12 more than the MTU" in out
    # alternatives in one proposal are every combination
    assert [r.split()[0] for r in report(["aes128-aes256-sha1-sha256"], 1500, 1300) if r.startswith("aes")] == \
        ["aes128-sha1", "aes128-sha256", "aes256-sha1", "aes256-sha256"]


@pytest.mark.parametrize("argv, fragment", [
    (["overhead", "aes128-foo"], "PROPOSAL 1 ('aes128-foo'): unknown algorithm 'foo'"),
    (["overhead", "--mtu", "40"], "--mtu: 40 is not an IPv4 MTU; allowed: 68-65535"),
    (["overhead", "--mss", "0"], "--mss: 0 is not a TCP MSS"),
    (["overhead", "aes128gcm16-sha256"], "takes no integrity algorithm"),
])
def test_overhead_bad_input_is_one_clear_error(argv, fragment, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err


# --- configuration ------------------------------------------------------------------------------

@pytest.mark.parametrize("top, path, fragment", [
    ({"link": {"mtu": 40}}, "link.mtu", "greater than or equal to 68"),
    ({"link": {"mtu": "big"}}, "link.mtu", "valid integer"),
    ({"traffic": [{"kind": "bulk", "from": "A", "to": "B", "rate": "1Mbit/s", "df": "maybe"}]},
     "traffic[0].df", "valid boolean"),
])
def test_mtu_config_errors_name_the_field(top, path, fragment) -> None:
    with pytest.raises(ConfigError) as e:
        load_scenario(scenario_dict(**top))
    assert e.value.path == path and fragment in e.value.message


def test_df_defaults_by_kind() -> None:
    sc = load_scenario(scenario_dict(traffic=[{"kind": "bulk", "from": "A", "to": "B", "rate": "1Mbit/s"},
                                              {"kind": "ping", "from": "A", "to": "B"}]))
    assert [t.dont_fragment for t in sc.config.traffic] == [True, False]
    assert sc.config.link.mtu == 1500


# --- the data plane on the link -------------------------------------------------------------------

def _run(traffic: list[dict], link: dict | None = None, **top) -> dict:
    doc = scenario_dict(traffic=traffic, link={"delay": "5ms", **(link or {})}, **top)
    return simulate(load_scenario(doc)).summary()["traffic"]["flows"]


def test_big_pings_with_df_are_dropped_and_without_are_fragmented() -> None:
    # ping size 1500 with aes128-sha256: 1564 on the wire (see the scenario); 10 pings each
    flows = _run([{"name": "df", "kind": "ping", "from": "A", "to": "B", "size": 1500, "df": True, "start": 1,
                   "stop": 11},
                  {"name": "frag", "kind": "ping", "from": "A", "to": "B", "size": 1500, "start": 1.5, "stop": 11.5}])
    assert flows["df"]["dropped_packets"] == {"too_big": 10} and flows["df"]["echo_replies"] == 0
    assert flows["frag"]["echo_replies"] == 10 and flows["frag"]["fragments"] == 20
    # the echo replies copy the request's DF bit (none) and size: fragmented too
    assert flows["frag:reply"]["fragmented_packets"] == 10 and flows["frag:reply"]["fragments"] == 20


def test_an_esp_packet_larger_than_ipv4_allows_is_dropped_at_the_sender() -> None:
    """RFC 791: Total Length is 16 bits, so no IPv4 packet exceeds 65535 octets. aes128-sha256
    (the factory's proposal) around a 65535-octet inner packet: 65535 + 2 = 65537 -> 65552
    (16-octet blocks); 20 + 8 + 16 + 65552 + 16 = 65612 > 65535: it cannot be sent, with or
    without DF. 65400 -> 65402 -> 65408; 20 + 8 + 16 + 65408 + 16 = 65468 fits, fragmented.
    Fragments at MTU 1500: (65468 - 20) / 1480 -> 45."""
    flows = _run([{"name": "max", "kind": "ping", "from": "A", "to": "B", "size": 65535, "df": False,
                   "start": 1, "stop": 11},
                  {"name": "fits", "kind": "ping", "from": "A", "to": "B", "size": 65400, "df": False,
                   "start": 1.5, "stop": 11.5}])
    assert flows["max"]["dropped_packets"] == {"too_big": 10} and flows["max"]["fragmented_packets"] == 0
    assert flows["fits"]["echo_replies"] == 10 and flows["fits"]["fragments"] == 10 * 45
    assert outer_size(*suite(parse("aes128-sha256", Protocol.ESP)), 65535) == 65612


def test_nat_traversal_udp_header_can_tip_a_packet_over_the_mtu() -> None:
    """aes128-sha1, 1430-octet packets: 1430 + 2 = 1432 -> 1440; 8 + 16 + 1440 + 12 = 1476, + 20
    = 1496 as ESP, fits; in UDP 1504, too big."""
    bulk = [{"name": "b", "kind": "bulk", "from": "B", "to": "A", "rate": "1.144Mbit/s", "packet_size": 1430,
             "start": 5, "stop": 15}]
    sha1 = {"child": {"proposals": ["aes128-sha1"]}}
    flows = simulate(load_scenario(scenario_dict(sha1, sha1, traffic=bulk))).summary()["traffic"]["flows"]
    assert flows["b"]["delivered_bytes"] == 1_430_000 and not flows["b"]["dropped_bytes"]
    doc = scenario_dict(sha1, sha1, traffic=bulk)
    doc["link"] = {"nat": {"peer": "A", "public_address": "203.0.113.5", "mapping_timeout": "30s"}}
    flows = simulate(load_scenario(doc)).summary()["traffic"]["flows"]
    assert flows["b"]["dropped_bytes"] == {"too_big": 1_430_000}  # 1000 packets/s x 10 s x 1430


def test_fluid_flow_loses_a_fragmented_packet_when_any_fragment_is_lost() -> None:
    """5 % Bernoulli loss: a packet that fits arrives with 0.95, a two-fragment one with 0.95^2."""
    traffic = [{"name": name, "kind": "bulk", "from": "A", "to": "B", "rate": "12Mbit/s", "packet_size": size,
                "df": False, "start": 1, "stop": 11} for name, size in (("small", 1000), ("big", 1500))]
    flows = _run(traffic, {"loss": 0.05})
    offered = 12e6 / 8 * 10
    assert flows["small"]["delivered_bytes"] == pytest.approx(offered * 0.95, abs=1)
    assert flows["big"]["delivered_bytes"] == pytest.approx(offered * 0.95 ** 2, abs=1)
    assert flows["big"]["dropped_bytes"]["loss"] == pytest.approx(offered * (1 - 0.95 ** 2), abs=1)


def test_discrete_packets_draw_the_loss_once_per_fragment() -> None:
    """20 % loss on ESP from A to B, two fragments each: a request is lost with 1 - 0.8^2 = 0.36."""
    traffic = [{"name": "p", "kind": "ping", "from": "A", "to": "B", "size": 1500, "interval": "10ms",
                "start": 1, "stop": 41}]
    faults = [{"at": 0, "kind": "loss", "loss": 0.2, "protocol": "esp", "direction": "A->B"}]
    flows = _run(traffic, None, duration=45, faults=faults)
    n = 4000
    assert flows["p"]["dropped_packets"].keys() == {"loss"}
    lost = flows["p"]["dropped_packets"]["loss"]
    # binomial(4000, 0.36): standard deviation sqrt(4000 x 0.36 x 0.64) = 30.4; allow 4 of them
    assert abs(lost - n * 0.36) < 4 * 30.4


# --- the shipped scenario ------------------------------------------------------------------------

MSS = SCENARIOS / "tcp-mss-1300.yaml"


def test_tcp_mss_1300_scenario(tmp_path, capsys) -> None:
    result, pcap, keys, _ = run_with_trace(tmp_path, MSS)
    flows = result.summary()["traffic"]["flows"]
    # aes128-sha256, 1500-octet packets: 1502 -> 1504, 8 + 16 + 1504 + 16 + 20 = 1564 > 1500, DF
    drop = result.first("traffic_dropped", peer="link", flow="mss-1460")
    assert drop is not None and drop.get("reason") == "too_big" and "1564 octets" in drop.get("detail")
    assert flows["mss-1460"]["delivered_bytes"] == 0
    # 1340 -> 1342 -> 1344: 1404 on the wire, fits
    assert flows["mss-1300"]["delivered_bytes"] == flows["mss-1300"]["offered_bytes"] == 67_000_000
    assert flows["no-df"]["fragments"] == 2 * flows["no-df"]["fragmented_packets"] == 100_000
    assert result.check() and all(v.passed for v in result.check())
    # the trace: ESP frames of the big flows are 1564 octets of IPv4 (+ 14 of Ethernet); the
    # too-big ones are marked lost on the path; every frame still decrypts
    caps = [c for c in dissect.read(pcap) if c.kind == "esp"]
    big = [c for c in caps if any("mss-1460" in x for x in c.comments)]
    assert big and all(len(c.ip) == 1564 and any("LOST: larger than the path MTU" in x for x in c.comments)
                       for c in big)
    assert any("cuts it into 2 IPv4 fragments" in x for c in caps for x in c.comments)
    check = verify_trace(pcap, keys)
    assert check.rc == 0, check.out
    assert main(["run", str(MSS)]) == 0
    out = capsys.readouterr().out
    assert "dropped (too_big)" in out and "PMTU black hole" in out and "DF not set" in out
