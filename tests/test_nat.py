"""NAT and NAT traversal: the NAT of ``link.nat`` (RFC 4787 behaviour), IKEv2 NAT-T (RFC 7296
2.23), IKEv1 NAT-T (RFC 3947), ESP in UDP and keepalives (RFC 3948), and the two shipped
NAT scenarios checked against the documents."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import SCENARIOS
from factory import scenario_dict
from tracehelp import run_with_trace, verify_trace

from ipsecsim.config.loader import load_scenario
from ipsecsim.errors import ConfigError
from ipsecsim.proto.ikev1 import doi
from ipsecsim.proto.ikev1.message import SA as V1SA
from ipsecsim.proto.ikev1.message import VID_NATT, V
from ipsecsim.proto.ikev1.message import Message as V1Message
from ipsecsim.proto.ikev2.message import Message, Notify
from ipsecsim.proto.onwire import NatKeepalive
from ipsecsim.result import Result
from ipsecsim.sim.runner import simulate
from ipsecsim.trace import dissect

NAT = {"peer": "A", "public_address": "203.0.113.5", "mapping_timeout": "30s"}
INSIDE, PUBLIC, OUTSIDE = "10.99.0.1", "203.0.113.5", "10.99.0.2"


def nat_run(a: dict[str, Any] | None = None, b: dict[str, Any] | None = None, nat: dict[str, Any] | None = None,
            traffic: list[dict[str, Any]] | None = None, **top: Any) -> Result:
    doc = scenario_dict(a, b, **top)
    doc["link"] = {"nat": {**NAT, **(nat or {})}}
    doc["traffic"] = traffic or []
    return simulate(load_scenario(doc))


def sent_by(result: Result, peer: str) -> list[Any]:
    return [tx for tx in result.transmissions if tx.sender == peer]


# --- configuration -----------------------------------------------------------------------------

@pytest.mark.parametrize("nat, b, path, fragment", [
    ({"peer": "C"}, {}, "link.nat.peer", "'C' is not a peer"),
    ({"public_address": OUTSIDE}, {}, "link.nat.public_address", "is peer B's own address"),
    ({}, {"remote_address": INSIDE}, "peers.B.remote_address", "reached at link.nat.public_address 203.0.113.5"),
    ({"public_address": "203.0.113"}, {}, "link.nat.public_address", "invalid IPv4 address"),
    ({"mapping_timeout": "0s"}, {}, "link.nat.mapping_timeout", "greater than 0"),
    ({"timeout": "30s"}, {}, "link.nat.timeout", "allowed: peer, public_address, mapping_timeout, esp_passthrough"),
])
def test_nat_config_errors_name_the_field(nat, b, path, fragment) -> None:
    doc = scenario_dict(None, b)
    doc["link"] = {"nat": {**NAT, **nat}}
    with pytest.raises(ConfigError) as e:
        load_scenario(doc)
    assert e.value.path == path and fragment in e.value.message


@pytest.mark.parametrize("peer, path", [({"nat_keepalive": "-1s"}, "peers.A.nat_keepalive"),
                                        ({"nat_traversal": "perhaps"}, "peers.A.nat_traversal")])
def test_peer_nat_settings_are_validated(peer, path) -> None:
    with pytest.raises(ConfigError) as e:
        load_scenario(scenario_dict(peer))
    assert e.value.path == path


def test_the_outside_peer_reaches_the_inside_one_at_the_public_address() -> None:
    doc = scenario_dict()
    doc["link"] = {"nat": NAT}
    sc = load_scenario(doc)
    assert sc.peers["B"].remote_address == PUBLIC and sc.peers["A"].remote_address == OUTSIDE
    assert sc.config.link.nat is not None and sc.config.link.nat.mapping_timeout == 30.0
    doc["link"] = {"nat": {"peer": "A", "public_address": PUBLIC}}
    assert load_scenario(doc).config.link.nat.mapping_timeout == 300.0  # type: ignore[union-attr] # RFC 4787 REQ-5c


def test_profiles_give_a_sourced_or_assumed_keepalive() -> None:
    from ipsecsim.config import profiles
    for name in profiles.names():
        s = profiles.load(name).settings["nat_keepalive"]
        assert s.value == "20s"
        assert s.assumption == (name != "strongswan"), name  # only strongSwan documents 20 s (charon.keep_alive)


def test_alibaba_enable_nat_traversal_maps_to_the_peer(tmp_path) -> None:
    import json
    doc = json.loads((SCENARIOS / "vendor" / "alibaba-describe.json").read_text())
    doc["EnableNatTraversal"] = False
    for t in doc.get("TunnelOptionsSpecification", {}).get("TunnelOptions", []):
        t["EnableNatTraversal"] = "false"
    (tmp_path / "a.json").write_text(json.dumps(doc))
    from ipsecsim.config.importers import import_file
    assert import_file(tmp_path / "a.json", "alibaba", None).peer["nat_traversal"] is False


# --- the NAT ----------------------------------------------------------------------------------

def test_nat_rewrites_source_per_inside_port_and_maps_back() -> None:
    """RFC 4787 REQ-1: one mapping per inside (address, port); 500 and 4500 get different ports."""
    result = nat_run(duration=10)
    made = result.select("nat_mapping_created", peer="link")
    assert [e.get("inside") for e in made] == [f"{INSIDE}:500", f"{INSIDE}:4500"]
    ports = [int(e.get("outside").split(":")[1]) for e in made]
    assert len(set(ports)) == 2 and all(1024 <= p <= 65535 for p in ports)
    # B sees A's datagrams from the public address and mapped ports; its answers go there
    received = [e for e in result.select("message_received", peer="B")]
    assert {e.get("src") for e in received} == {PUBLIC}
    assert all(tx.dgram.dst == PUBLIC and tx.dgram.dport in ports for tx in sent_by(result, "B"))
    assert result.status("A") == result.status("B") == "ipsec_sa_established"


def test_only_outbound_packets_refresh_a_mapping_and_a_new_one_gets_a_new_port() -> None:
    """RFC 4787 REQ-6: outbound refresh only. B pings A for 100 s: A's echo replies refresh the
    4500 mapping, B's requests would not. With A's keepalives off and B silent, the mapping dies
    30 s after A's last reply; A's next packet makes a mapping with a new port."""
    result = nat_run({"nat_keepalive": 0, "dpd": {"delay": "90s"}}, duration=200,
                     traffic=[{"kind": "ping", "from": "B", "to": "A", "interval": "1s", "start": "1s",
                               "stop": "50s"}])
    expired = result.select("nat_mapping_expired", peer="link", inside=f"{INSIDE}:4500")
    # the last echo reply leaves A when the request of 49 s arrives (5 ms one-way delay); the
    # mapping lives until 30 s after that outbound packet, B's later datagrams do not count
    last_reply = max(r.t for r in result.esp if r.sender == "A")
    assert expired[0].t == pytest.approx(last_reply + 30.0)
    ports = [e.get("outside") for e in result.select("nat_mapping_created", inside=f"{INSIDE}:4500")]
    assert len(ports) == len(set(ports)) >= 2


def test_inbound_to_an_expired_mapping_is_dropped_with_nat_no_mapping() -> None:
    result = nat_run({"nat_keepalive": 0}, duration=60,
                     traffic=[{"kind": "ping", "from": "B", "to": "A", "interval": "1s", "start": "40s",
                               "stop": "45s"}])
    drop = result.first("traffic_dropped", peer="link")
    assert drop is not None and drop.get("reason") == "nat_no_mapping" and drop.get("packets") == 5
    assert all(r.lost == "nat_no_mapping" for r in result.esp)


def test_bulk_into_a_dead_mapping_is_dropped_until_the_outside_peer_follows() -> None:
    """A 10 Mbit/s flow from B to A (1400-octet packets) does not refresh A's mapping (RFC 4787
    REQ-6). With keepalives off, the 4500 mapping made by IKE_AUTH at 10 ms dies at 30.01 s.
    The flow kept A's DPD quiet while it arrived (swanctl.conf dpd_delay: ESP counts). A's
    check job (strongSwan ike_sa.c send_dpd) runs every 60 s from A's establishment at 20 ms:
    at 60.02 s the last ESP (30.015 s) is diff = 60 - 30 = 30 whole seconds old, so it runs
    again 60 - 30 = 30 s later, at 90.02 s: diff = 90 - 30 = 60, a probe, which makes a new
    mapping; B moves the flow to it 5 ms later (RFC 7296 2.23): 90.025 - 30.01 = 60.015 s of
    the flow dropped at the NAT, one event."""
    result = nat_run({"nat_keepalive": 0, "dpd": {"delay": "60s"}}, duration=100,
                     traffic=[{"kind": "bulk", "from": "B", "to": "A", "rate": "10Mbit/s", "start": "5s"}])
    drops = result.select("traffic_dropped", peer="link")
    assert len(drops) == 1
    d = drops[0]
    assert (d.get("reason"), d.get("start"), d.get("end")) == ("nat_no_mapping", 30.01, 90.025)
    assert d.get("packets") == round(60.015 * 10e6 / 8 / 1400)  # 53584.8 packets of 1400 B
    assert result.first("dpd_probe_sent", "A").t == pytest.approx(90.02)


def test_without_nat_traversal_ike_works_but_esp_cannot_come_back() -> None:
    """nat_traversal off (Alibaba EnableNatTraversal: false): no NAT-D, no float; IKE on UDP 500
    passes the NAPT, but plain ESP (IP protocol 50) has no port to map (RFC 3715 2.2): A's
    requests leave, B's replies are dropped at the NAT. With esp_passthrough they pass."""
    ping = [{"kind": "ping", "from": "A", "to": "B", "interval": "1s", "start": "1s", "stop": "4s"}]
    result = nat_run({"nat_traversal": False}, duration=10, traffic=ping)
    init = sent_by(result, "A")[0].dgram.message
    assert isinstance(init, Message) and init.notify(Notify.NAT_DETECTION_SOURCE_IP) is None
    assert not result.select("nat_detected") and not result.select("nat_t_floated")
    assert {tx.dgram.sport for tx in sent_by(result, "A")} == {500}
    assert all(r.packet.sport is None for r in result.esp)  # protocol 50
    assert result.status("A") == "ipsec_sa_established"
    assert result.first("traffic_dropped", peer="link", reason="nat_no_mapping", flow="ping-1:reply") is not None
    passthrough = nat_run({"nat_traversal": False}, nat={"esp_passthrough": True}, duration=10, traffic=ping)
    assert not passthrough.select("traffic_dropped")
    assert [e.get("protocol") for e in passthrough.select("nat_mapping_created")] == ["udp", "esp"]


# --- IKEv2 NAT-T -------------------------------------------------------------------------------

def test_ikev2_floats_to_4500_and_puts_esp_in_udp() -> None:
    """RFC 7296 2.23: after IKE_SA_INIT on 500 the initiator behind the NAT sends IKE_AUTH and
    everything after from 4500 to 4500; RFC 3948: ESP in UDP between the same ports."""
    result = nat_run(duration=10, traffic=[{"kind": "ping", "from": "A", "to": "B", "interval": "1s",
                                            "start": "1s", "stop": "3s"}])
    a = sent_by(result, "A")
    assert (a[0].dgram.sport, a[0].dgram.dport) == (500, 500)
    assert all((tx.dgram.sport, tx.dgram.dport) == (4500, 4500) for tx in a[1:])
    assert all(r.packet.sport == 4500 for r in result.esp)
    # B answers where the 4500 datagrams came from: the second mapping's port
    port = int(result.select("nat_mapping_created")[1].get("outside").split(":")[1])
    assert all((r.packet.dst, r.packet.dport) == (PUBLIC, port) for r in result.esp if r.sender == "B")
    assert not result.select("peer_address_updated")


def test_keepalives_only_from_the_natted_side_and_only_when_idle() -> None:
    """RFC 3948 2.3, strongSwan send_keepalive: after nat_keepalive seconds without sending."""
    result = nat_run({"nat_keepalive": "15s"}, duration=100,
                     traffic=[{"kind": "ping", "from": "A", "to": "B", "interval": "1s", "start": "1s",
                               "stop": "20s"}])
    times = result.times("nat_keepalive_sent", peer="A")
    assert times == pytest.approx([34.0, 49.0, 64.0, 79.0, 94.0])  # last ping 19 s, then every 15 s
    assert not result.select("nat_keepalive_sent", peer="B")
    keepalives = [tx for tx in result.transmissions if isinstance(tx.dgram.message, NatKeepalive)]
    assert len(keepalives) == 5 and all(tx.dgram.sport == tx.dgram.dport == 4500 for tx in keepalives)
    assert not result.select("nat_mapping_expired", inside=f"{INSIDE}:4500")
    assert not result.select("message_ignored", peer="B")  # the receiver ignores them silently


def test_rekeyed_sas_stay_in_udp() -> None:
    """CHILD SA and IKE SA rekeys behind the NAT: the new SAs use the floated ports too."""
    result = nat_run({"child": {"rekey_time": "20s"}, "ike": {"rekey_time": "30s"}}, duration=70,
                     traffic=[{"kind": "ping", "from": "A", "to": "B", "interval": "1s", "start": "1s"}])
    assert result.select("child_sa_rekeyed", peer="A") and result.select("ike_sa_rekeyed", peer="A")
    assert all(r.packet.sport == 4500 and r.lost is None for r in result.esp)
    assert all(tx.dgram.sport == 4500 for tx in sent_by(result, "A")[1:])
    assert not result.select("traffic_dropped")


def test_nat_traces_decrypt(tmp_path) -> None:
    """ESP in UDP 4500 (zero checksum, no marker), IKE on 4500 behind the non-ESP marker, and the
    one-octet keepalives: tshark decodes all and decrypts every SK payload and ESP packet."""
    doc = scenario_dict({"child": {"rekey_time": "20s"}, "nat_keepalive": "10s"}, duration=60)
    doc["link"] = {"nat": NAT}
    doc["traffic"] = [{"kind": "ping", "from": "A", "to": "B", "interval": "1s", "start": "1s", "stop": "30s"},
                      {"kind": "bulk", "from": "B", "to": "A", "rate": "1Mbit/s", "start": "5s", "stop": "45s"}]
    result, pcap, keys, _ = run_with_trace(tmp_path, doc)
    check = verify_trace(pcap, keys)
    assert check.rc == 0, check.out
    # the first and last 10 bulk packets of each of B's outbound SAs: A rekeys every 18-20 s
    # (rekey_time 20 s, strongSwan rand_time = life_time 110 % - rekey_time), so 5-45 s spans three
    bulk = 20 * 3
    esp = len(result.esp) + bulk
    assert check.count("ESP") == (esp, esp) and check.protocols()["udpencap"] == len(result.transmissions) - 2 + esp
    caps = dissect.read(pcap)
    assert [c.marker for c in caps if c.kind == "ike"][:2] == [False, False]  # IKE_SA_INIT on 500
    assert all(c.marker for c in caps if c.kind == "ike" and c.ip.sport == 4500)
    keep = [c for c in caps if c.kind == "keepalive"]
    assert keep and all(c.data == b"\xff" and c.ip.dport == 4500 for c in keep)
    assert all(int(c.ip["UDP"].chksum) == 0 for c in caps if c.kind == "esp")  # RFC 3948 2.1
    assert any("NAT 10.99.0.1:4500 → 203.0.113.5:" in " ".join(c.comments) for c in caps)


# --- IKEv1 NAT-T (RFC 3947) ----------------------------------------------------------------------

V1 = {"ike": {"version": 1}}


@pytest.mark.parametrize("mode, floated_at", [("main", 5), ("aggressive", 3)])
def test_ikev1_nat_d_and_float(mode, floated_at) -> None:
    """RFC 3947: NAT-D in main mode messages 3 and 4 (aggressive 2 and 3), float to 4500 with
    the ID (main mode message 5, aggressive mode message 3); quick mode proposes
    UDP-Encapsulated-Tunnel (3)."""
    conf = {"ike": {"version": 1, "mode": mode}}
    result = nat_run(conf, conf, duration=10)
    p1 = [tx for tx in result.transmissions
          if isinstance(tx.dgram.message, V1Message) and tx.dgram.message.msg_id == 0]
    assert [tx.dgram.sport for tx in p1] == [500] * (floated_at - 1) + [4500] * (len(p1) - floated_at + 1)
    natd = [i + 1 for i, tx in enumerate(p1) if "NAT-D" in tx.dgram.message.labels()]
    assert natd == ([3, 4] if mode == "main" else [2, 3])
    assert result.first("nat_t_floated", peer="A") and result.first("nat_t_floated", peer="B")
    qm1 = next(tx.dgram.message for tx in result.transmissions
               if isinstance(tx.dgram.message, V1Message) and tx.dgram.message.exchange.name == "QUICK_MODE")
    sa = qm1.first(V1SA)
    assert all(doi.parse_esp(t)[2] == doi.ENCAP_UDP_TUNNEL for p in sa.proposals for t in p.transforms)
    assert result.status("A") == result.status("B") == "ipsec_sa_established"
    # the ESP key records carry the UDP ports: each side sends from 4500 (RFC 3948)
    out = [k for final in result.peers.values() for k in final.keylog
           if getattr(k, "src", None) == final.settings.address]
    assert len(out) == 2 and all(k.sport == 4500 for k in out)


def test_ikev1_without_nat_traversal_announces_no_rfc3947() -> None:
    result = nat_run({**V1, "nat_traversal": False}, V1, duration=10)
    first = sent_by(result, "A")[0].dgram.message
    assert V(VID_NATT) not in first.payloads
    assert not any("NAT-D" in tx.dgram.message.labels() for tx in result.transmissions)
    assert not result.select("nat_detected")


def test_ikev1_nat_trace_decrypts(tmp_path) -> None:
    doc = scenario_dict(V1, V1, duration=40)
    doc["link"] = {"nat": NAT}
    _, pcap, keys, _ = run_with_trace(tmp_path, doc)
    check = verify_trace(pcap, keys)
    assert check.rc == 0, check.out
    assert check.count("IKEv1 encrypted") == (5, 5)  # main mode 5, 6 and quick mode 1, 2, 3 (on 4500)
    assert len([c for c in dissect.read(pcap) if c.kind == "keepalive"]) == 1  # 20 s after quick mode 3


# --- the shipped scenarios ---------------------------------------------------------------------

def test_nat_traversal_scenario() -> None:
    result = simulate(load_scenario(SCENARIOS / "nat-traversal.yaml"))
    result.assert_expectations()
    # strongSwan keep_alive 20 s after the last outbound packet: the echo request of 29 s
    assert result.times("nat_keepalive_sent", peer="branch") == pytest.approx([49.0, 69.0, 89.0])


def test_nat_traversal_scenario_trace(tmp_path) -> None:
    _, pcap, keys, _ = run_with_trace(tmp_path, SCENARIOS / "nat-traversal.yaml")
    check = verify_trace(pcap, keys)
    assert check.rc == 0, check.out
    assert check.count("ESP") == (62, 62)  # 29 + 2 pings, each answered
    assert check.count("IKEv2 SK") == (2, 2)


def test_nat_mapping_expiry_scenario(tmp_path) -> None:
    result, pcap, keys, _ = run_with_trace(tmp_path, SCENARIOS / "nat-mapping-expiry.yaml")
    result.assert_expectations()
    outside = [e.get("outside") for e in result.select("nat_mapping_created", inside="192.168.1.10:4500")]
    updates = result.select("peer_address_updated", peer="office")
    assert [(u.get("old"), u.get("new")) for u in updates] == [(outside[0], outside[1]), (outside[1], outside[2])]
    assert not result.select("peer_address_updated", peer="branch")  # RFC 7296 2.23: not behind the NAT only
    check = verify_trace(pcap, keys)
    assert check.rc == 0, check.out
    lost = [c for c in dissect.read(pcap) if any("LOST at the NAT" in x for x in c.comments)]
    # the 21 echo requests went to the port the office had learned at 60.05 s, dead since 90.04 s
    stale = int(outside[1].split(":")[1])
    assert len(lost) == 21 and all((c.kind, c.ip.dst, c.ip.dport) == ("esp", "203.0.113.5", stale) for c in lost)
    # the NAT's ports come from the seeded stream: the same seed gives the same file
    _, again, _, _ = run_with_trace(tmp_path, SCENARIOS / "nat-mapping-expiry.yaml", name="again")
    assert again.read_bytes() == pcap.read_bytes()


@pytest.mark.parametrize("side", ["A", "B", "both"])
def test_forced_encapsulation_moves_ike_to_4500_without_a_nat(side):
    """encap: true (strongSwan encap = yes): the side fakes its NAT_DETECTION_SOURCE_IP hash
    (ike_natd.c build_natd_payload()), the other end sees a NAT, and whichever side forces it
    floats too (COND_NAT_FAKE counts as a NAT, ike_sa.c set_condition()): IKE_AUTH and all
    that follows run on UDP 4500 (RFC 7296 2.23). Neither side is behind a NAT, so no
    keepalives (ike_sa.c send_keepalive() needs COND_NAT_HERE)."""
    from ipsecsim import simulate
    forced = {"encap": True}
    r = simulate(load_scenario(scenario_dict(forced if side in ("A", "both") else None,
                                             forced if side in ("B", "both") else None)))
    assert [e.get("exchange") for e in r.select("message_sent")][:4] == ["IKE_SA_INIT", "IKE_SA_INIT", "IKE_AUTH",
                                                                        "IKE_AUTH"]
    assert [e.get("local") for e in r.select("nat_t_floated", "A")] == ["10.99.0.1:4500"]
    assert r.select("nat_t_floated", "B")
    assert not r.select("nat_keepalive_sent")
    assert r.status("A") == "ipsec_sa_established"


@pytest.mark.parametrize("peer", [{"encap": True, "ike": {"version": 1, "proposals": ["aes128-sha256-modp2048"]}},
                                  {"encap": True, "nat_traversal": False}])
def test_forced_encapsulation_needs_ikev2_nat_detection(peer):
    with pytest.raises(ConfigError) as e:
        load_scenario(scenario_dict(peer))
    assert "peers.A.encap" in str(e.value) and "ike.version 2 and nat_traversal: true" in str(e.value)
