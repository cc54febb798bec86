"""Runs with more than two peers (no PeerPair: the whole simulator): tunnels sharing a gateway
address, a fault on one path only, HA groups moving traffic, and the two shipped HA scenarios
checked against the vendor documents."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import SCENARIOS, shipped_result
from test_topology_config import dual

from ipsecsim import load_scenario, simulate
from ipsecsim.cli import main
from ipsecsim.config import profiles
from ipsecsim.proto.retransmit import RetransmitSchedule


def run(d: dict[str, Any]):  # type: ignore[no-untyped-def]
    return simulate(load_scenario(d))


def with_bulk(d: dict[str, Any], **group: Any) -> dict[str, Any]:
    d = copy.deepcopy(d)
    d["duration"] = "60s"
    d["ha"][0].update(group)
    d["traffic"] = [{"name": "down", "kind": "bulk", "from": "vpc", "to": "idc", "rate": "8Mbit/s", "start": "1s"},
                    {"name": "up", "kind": "bulk", "from": "idc", "to": "vpc", "rate": "8Mbit/s", "start": "1s"}]
    return d


def test_two_tunnels_to_one_customer_address_both_come_up():
    """customer-1 and customer-2 share 47.42.0.1 (one device, two tunnels): each cloud peer's
    messages reach the customer peer that names it, never the other one."""
    r = run(dual())
    for name in ("cloud-1", "cloud-2", "customer-1", "customer-2"):
        assert r.status(name) == "ipsec_sa_established", name
    for cloud, customer in (("cloud-1", "customer-1"), ("cloud-2", "customer-2")):
        addr = r.scenario.peers[cloud].address
        received = {e.peer for e in r.select("message_received") if e.get("src") == addr}
        assert received == {customer}
    assert not r.select("message_ignored")


def test_a_fault_between_two_peers_leaves_the_other_tunnel_alone():
    d = copy.deepcopy(dual())
    del d["ha"]
    d["traffic"] = [{"name": "t1", "kind": "bulk", "from": "cloud-1", "to": "customer-1", "rate": "8Mbit/s",
                     "start": "1s"},
                    {"name": "t2", "kind": "bulk", "from": "cloud-2", "to": "customer-2", "rate": "8Mbit/s",
                     "start": "1s"}]
    d["faults"] = [{"at": "5s", "kind": "link_down", "between": ["customer-1", "cloud-1"], "duration": "5s"}]
    flows = run(d).summary()["traffic"]["flows"]
    # 1 MB/s for exactly the 5 s window, on tunnel 1 only (both ways: cloud-1 -> customer-1 here)
    assert flows["t1"]["dropped_bytes"] == {"link_down": 5_000_000}
    assert flows["t1"]["outages"] == [{"start": 5.0, "end": 10.0, "reasons": ["link_down"], "duration": 5.0,
                                       "reason": "link_down"}]
    assert flows["t2"]["dropped_bytes"] == {} and flows["t2"]["outages"] == []


def test_link_up_ends_only_the_path_it_names():
    d = copy.deepcopy(dual())
    del d["ha"]
    d["traffic"] = [{"name": "t2", "kind": "bulk", "from": "cloud-2", "to": "customer-2", "rate": "8Mbit/s",
                     "start": "1s"}]
    d["faults"] = [{"at": "5s", "kind": "link_down", "between": ["cloud-2", "customer-2"]},
                   {"at": "5s", "kind": "link_down", "between": ["cloud-1", "customer-1"]},
                   {"at": "7s", "kind": "link_up", "between": ["cloud-1", "customer-1"]},  # the other path only
                   {"at": "9s", "kind": "link_up", "between": ["customer-2", "cloud-2"]}]
    flow = run(d).summary()["traffic"]["flows"]["t2"]
    assert flow["dropped_bytes"] == {"link_down": 4_000_000}  # 5 s -> 9 s at 1 MB/s


def test_active_standby_moves_the_flows_and_accounts_every_byte():
    d = with_bulk(dual())
    d["faults"] = [{"at": "10s", "kind": "crash", "peer": "cloud-1", "duration": "20s"}]
    r = run(d)
    switches = [(e.t, e.get("from"), e.get("to")) for e in r.select("ha_switch", "vpc")]
    # the crash is an event of cloud-1: the group switches at that instant
    assert (10.0, "cloud-1", "cloud-2") in switches
    summary = r.summary()
    for f in summary["traffic"]["flows"].values():
        dropped = sum(f["dropped_bytes"].values())
        assert f["offered_bytes"] == f["delivered_bytes"] + dropped + f["in_flight_bytes"]
    # the VPC's flow: 1 MB/s from 1 s to 60 s = 59 MB offered, at cloud-1 and then at cloud-2
    down = summary["traffic"]["flows"]["down"]
    assert down["offered_bytes"] == 59_000_000
    per_member = {m: r.peers[m].flows["down"].offered_bytes for m in ("cloud-1", "cloud-2")}
    assert per_member["cloud-1"] > 0 and per_member["cloud-2"] > 0
    ha = summary["ha"]["vpc"]
    assert ha["carried"][1]["member"] == "cloud-2" and ha["carried"][1]["start"] == 10.0


def test_active_active_spreads_flows_over_both_tunnels():
    """Huawei active-active (both connections ha_role master): flows on both tunnels at once;
    a failed tunnel's flows move, the others stay."""
    d = with_bulk(dual(), mode="active-active")
    d["traffic"] += [{"name": f"extra-{i}", "kind": "bulk", "from": "vpc", "to": "idc", "rate": "1Mbit/s",
                      "start": "1s"} for i in range(6)]
    d["faults"] = [{"at": "20s", "kind": "freeze", "peer": "cloud-2", "duration": "10s"}]
    r = run(d)
    at = {m: r.peers[m].flows for m in ("cloud-1", "cloud-2")}
    carried_by = {m: {f for f, c in at[m].items() if c.offered_bytes > 0 and f.startswith(("down", "extra"))}
                  for m in at}
    assert carried_by["cloud-1"] and carried_by["cloud-2"]
    moved = [e for e in r.select("ha_switch", "vpc") if e.t == 20.0]
    assert moved and all(e.get("from") == "cloud-2" and e.get("to") == "cloud-1" for e in moved)
    carried = r.summary()["ha"]["vpc"]["carried"]
    assert {c["member"] for c in carried} == {"cloud-1", "cloud-2"}
    overlap = [c for c in carried if c["member"] == "cloud-2"]
    assert overlap[0]["end"] == 20.0  # cloud-2 out while frozen, back at 30 s
    assert any(c["start"] == 30.0 for c in overlap)


def test_timeline_names_each_tunnel_and_the_switches(capsys):
    assert main(["run", str(SCENARIOS / "alibaba-dual-tunnel-failover.yaml")]) == 0
    out = capsys.readouterr().out
    assert "HA group vpc: cloud-1 (master), cloud-2; active-standby, preempt, watching ipsec, nqa" in out
    assert "customer-2 → cloud-2" in out and "cloud-2 → customer-2" in out
    assert "cloud-2 → customer-1" not in out and "cloud-1 → customer-2" not in out
    assert "fault link_down on the path cloud-1 ⇄ customer-1 only" in out
    assert "HA switch cloud-1 → cloud-2 (cloud-1: health check down); vpc-to-idc moves" in out
    assert "HA group idc (active-standby, members customer-1, customer-2): 2 switches" in out


# --- the shipped scenarios, against the documents --------------------------------------------

def test_alibaba_dual_tunnel_failover_numbers():
    path = SCENARIOS / "alibaba-dual-tunnel-failover.yaml"
    r = shipped_result(path)
    nqa = r.scenario.config.peers["cloud-1"].nqa
    assert nqa is not None and (nqa.interval, nqa.retries) == (3.0, 3)  # VcoHealthCheck Interval / Retry
    # probes at start + k x interval; the first sent after the failure at 60 s is lost, and
    # the path is down when the retries-th consecutive loss is known, one interval after it was sent
    first_lost = next(nqa.start + k * nqa.interval for k in range(100) if nqa.start + k * nqa.interval >= 60)
    down_at = first_lost + nqa.retries * nqa.interval
    assert down_at == 70.0
    assert [(e.t, e.get("to")) for e in r.select("ha_switch", "vpc")][1] == (down_at, "cloud-2")
    # customer side: strongSwan IKEv1 DPD timeout style, dead dpd_timeout after the last inbound
    # packet (one link delay after 60 s)
    dead = r.first("peer_dead", "customer-1")
    assert dead is not None and dead.t == pytest.approx(60 + 0.010 + 30)
    # restart: the new main mode's first transmission after the path is back (strongSwan 4 s x 1.8^n)
    sched = RetransmitSchedule(4.0, 1.8, 5)
    sends = [dead.t + sum(sched.wait(i) for i in range(1, n + 1)) for n in range(6)]
    through = next(t for t in sends if t >= 120)
    back = [e for e in r.select("ha_switch", "idc") if e.get("to") == "customer-1"][-1]
    # 9 messages, the 9th at the initiator's send time, plus what the strongSwan customer computes
    # (docs/cpu.md, strongswan-5.9.8: message 1.1, SKEYID / KEYMAT 0.2 ms, HASH, IPsec SA and
    # policies 0; MODP-1024 = 0.3 x MODP-2048: key and secret 0.3 x 7.1 = 2.13 ms): message 2:
    # 1.1 + 2.13; message 4: 1.1 + 2.13 + 0.2 + 0; message 6: 1.1 + 0; the PFS key of quick mode
    # message 1: 2.13; message 2: 1.1 + 2.13 + 0.2 + 2 x 0 + 0 + 0 (the policies went with the
    # CHILD SA at the restart) = 13.32 ms
    assert back.t == pytest.approx(through + 8 * 0.010 + 0.01332)
    assert r.check().passed, r.check().text()


def test_huawei_active_standby_numbers():
    path = SCENARIOS / "huawei-active-standby.yaml"
    r = shipped_result(path)
    cloud = profiles.load("huawei-cloud").nested()["dpd"]
    usg = profiles.load("huawei-usg").nested()["dpd"]
    last_inbound = 60 + 0.005
    # Huawei Cloud API / FAQ: 3 probes in all, 15 s apart after 30 s idle; USG retry-limit: 3 retransmissions
    cloud_dead = last_inbound + 30 + cloud["retries"] * 15
    usg_dead = last_inbound + 30 + (1 + usg["retries"]) * 15
    assert (cloud_dead, usg_dead) == (pytest.approx(135.005), pytest.approx(150.005))
    switches = {(e.peer, e.get("from"), e.get("to")): e.t for e in r.select("ha_switch") if e.get("from")}
    assert switches[("cloud", "cloud-1", "cloud-2")] == pytest.approx(cloud_dead)
    assert switches[("customer", "customer-1", "customer-2")] == pytest.approx(usg_dead)
    # trap: IKE_SA_INIT at once, retransmitted 1, 2, 4 ... s apart (huawei-cloud), first after 180 s
    t, wait, sends = cloud_dead, 1.0, [cloud_dead]
    while t < 180:
        t += wait
        wait *= 2
        sends.append(t)
    assert sends[-1] == pytest.approx(198.005)
    assert switches[("cloud", "cloud-2", "cloud-1")] == pytest.approx(sends[-1] + 4 * 0.005)
    assert r.check().passed, r.check().text()


def test_flow_counters_survive_a_gateway_reboot():
    """A crashed and restarted gateway boots with fresh SAs, but what its hosts offered before
    the crash still counts: 1 MB/s from 1 s to 60 s is 59 MB offered, whatever happened."""
    from factory import scenario_dict
    d = scenario_dict(traffic=[{"name": "x", "kind": "bulk", "from": "A", "to": "B", "rate": "8Mbit/s",
                                "start": "1s"}],
                      faults=[{"at": "10s", "kind": "crash", "peer": "A", "duration": "5s"}])
    f = run(d).summary()["traffic"]["flows"]["x"]
    assert f["offered_bytes"] == 59_000_000
    assert f["delivered_bytes"] + sum(f["dropped_bytes"].values()) <= f["offered_bytes"]
    assert f["dropped_bytes"]["peer_down"] == 5_000_000  # 10 s -> 15 s at 1 MB/s


def test_one_way_fault_by_peer_names_with_four_peers():
    """direction: A->B names peers, not addresses: with two peers at one address only the
    named tunnel's one direction loses."""
    d = copy.deepcopy(dual())
    del d["ha"]
    d["traffic"] = [{"name": f"{a}>{b}", "kind": "bulk", "from": a, "to": b, "rate": "8Mbit/s", "start": "1s"}
                    for a, b in (("cloud-1", "customer-1"), ("customer-1", "cloud-1"),
                                 ("cloud-2", "customer-2"), ("customer-2", "cloud-2"))]
    d["faults"] = [{"at": "5s", "kind": "loss", "loss": 1.0, "direction": "cloud-2->customer-2", "duration": "2s"}]
    flows = run(d).summary()["traffic"]["flows"]
    assert flows["cloud-2>customer-2"]["dropped_bytes"] == {"loss": 2_000_000}
    assert all(not f["dropped_bytes"] for n, f in flows.items() if n != "cloud-2>customer-2")


def test_active_active_summary_credits_only_members_with_flows():
    """One flow from the group, no preempt: it is placed on one member when it first sends (1 s);
    that member carries from then on, the other, usable but idle, carries nothing."""
    d = with_bulk(dual(), mode="active-active", preempt=False)
    d["traffic"] = d["traffic"][:1]
    r = run(d)
    (placed,) = [e for e in r.select("ha_switch", "vpc") if e.get("flows") == ["down"]]
    g = r.summary()["ha"]["vpc"]
    idle = next(m for m in ("cloud-1", "cloud-2") if m != placed.get("to"))
    assert [(c["member"], c["start"], c["end"]) for c in g["carried"]] == [(placed.get("to"), 1.0, 60.0)]
    assert g["time_by_member"] == {placed.get("to"): 59.0, idle: 0.0}
