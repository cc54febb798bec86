"""The HA group controller (sim/ha.py) on its own: fake gateways whose state the test sets,
events logged by hand, SimPy only for the clock. What it must do follows config/ha.py and the
vendor documents cited there: Alibaba dual tunnels (master carries the traffic, failover to the
standby, back after recovery) and Huawei ha_role master / slave."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import simpy

from ipsecsim.config.ha import HaGroupConfig
from ipsecsim.proto.events import Event
from ipsecsim.proto.traffic import FluidFlow, Packet
from ipsecsim.sim.ha import HaGroup, weight
from ipsecsim.sim.log import EventLog


@dataclass
class FakeEp:
    status_text: str = "ike_sa_not_established"

    def status(self) -> dict[str, Any]:
        return {"status": self.status_text}


@dataclass
class FakeNode:
    """A gateway as the controller sees it: status, frozen / crashed, and what it was handed."""

    name: str
    ep: FakeEp = field(default_factory=FakeEp)
    frozen: bool = False
    crashed: bool = False
    fluids: list[tuple[str, float]] = field(default_factory=list)
    packets: list[int] = field(default_factory=list)

    def submit_fluid(self, spec: FluidFlow, rate: float) -> None:
        self.fluids.append((spec.flow, rate))

    def submit_packet(self, pkt: Packet) -> None:
        self.packets.append(pkt.seq)


class Rig:
    def __init__(self, members: list[str], flows: tuple[str, ...] = (), **group: Any):
        self.env = simpy.Environment()
        self.log = EventLog()
        self.nodes = {m: FakeNode(m) for m in members}
        cfg = HaGroupConfig(name="vpc", members=members, **group)
        scenario = _Scenario([_Traffic(f, "vpc") for f in flows])
        self.group = HaGroup(self.env, cfg, scenario, self.nodes, self.log)  # type: ignore[arg-type]
        self.step()

    def step(self, dt: float = 0.0) -> None:
        self.env.run(until=self.env.now + dt + 1e-9)

    def set(self, member: str, status: str, event: str = "child_sa_established", **fields: Any) -> None:
        """Change a member's state and log the event a real gateway would log with it."""
        self.nodes[member].ep.status_text = status
        self.log.add(Event(self.env.now, member, event, fields))
        self.step()

    def events(self, name: str) -> list[dict[str, Any]]:
        return [e.fields for e in self.log.events if e.event == name]


@dataclass
class _Traffic:
    name: str
    source: str
    kind: str = "bulk"


@dataclass
class _Scenario:
    traffic: list[_Traffic]


UP, DOWN = "ipsec_sa_established", "ike_sa_not_established"


def test_first_usable_member_in_preference_order_becomes_active():
    """Alibaba: tunnel 1 (master) carries the traffic; the standby only when the master cannot."""
    r = Rig(["cloud-1", "cloud-2"])
    r.set("cloud-2", UP)  # the standby is up first: it carries until the master is usable
    r.set("cloud-1", UP)
    switches = r.events("ha_switch")
    assert [(s["from"], s["to"]) for s in switches] == [(None, "cloud-2"), ("cloud-2", "cloud-1")]
    assert switches[1]["reason"].startswith("preempt: cloud-1 is usable again")


def test_failover_and_preempt_back():
    r = Rig(["cloud-1", "cloud-2"], flows=("app",))
    r.set("cloud-1", UP)
    r.set("cloud-2", UP)
    r.group.submit_fluid(FluidFlow("app", 1, 2, 1400), 1000.0)
    assert r.nodes["cloud-1"].fluids == [("app", 1000.0)]
    r.set("cloud-1", DOWN, "peer_dead")
    last = r.events("ha_switch")[-1]
    assert (last["from"], last["to"], last["flows"]) == ("cloud-1", "cloud-2", ["app"])
    assert last["reason"] == "cloud-1: no IPsec SA (ike_sa_not_established)"
    # the fluid flow stops on the old member and starts on the new one at the same instant
    assert r.nodes["cloud-1"].fluids[-1] == ("app", 0.0) and r.nodes["cloud-2"].fluids == [("app", 1000.0)]
    r.set("cloud-1", UP)
    assert (r.events("ha_switch")[-1]["from"], r.events("ha_switch")[-1]["to"]) == ("cloud-2", "cloud-1")
    assert r.nodes["cloud-1"].fluids[-1] == ("app", 1000.0) and r.nodes["cloud-2"].fluids[-1] == ("app", 0.0)


def test_without_preempt_the_standby_keeps_the_traffic():
    r = Rig(["cloud-1", "cloud-2"], preempt=False)
    r.set("cloud-1", UP)
    r.set("cloud-2", UP)
    r.set("cloud-1", DOWN, "child_sa_deleted")
    r.set("cloud-1", UP)
    assert [(s["from"], s["to"]) for s in r.events("ha_switch")] == [(None, "cloud-1"), ("cloud-1", "cloud-2")]
    assert r.group.active == "cloud-2"


def test_no_usable_member_keeps_traffic_on_the_last_active():
    """With every tunnel down there is nowhere better to send: the last active member's data
    plane drops it with its own reason."""
    r = Rig(["cloud-1", "cloud-2"])
    r.set("cloud-1", UP)
    r.set("cloud-1", DOWN, "ike_sa_deleted")
    assert r.events("ha_switch")[-1]["to"] is None
    assert "no usable member" in r.events("ha_switch")[-1]["reason"]
    r.group.submit_packet(Packet("ping", 1, 2, 84, r.env.now, seq=7))
    assert r.nodes["cloud-1"].packets == [7] and r.nodes["cloud-2"].packets == []


def test_pings_follow_the_active_member():
    r = Rig(["cloud-1", "cloud-2"], flows=("ping-1",))
    r.set("cloud-1", UP)
    r.set("cloud-2", UP)
    r.group.submit_packet(Packet("ping-1", 1, 2, 84, 0.0, seq=0))
    r.set("cloud-1", DOWN, "peer_dead")
    r.group.submit_packet(Packet("ping-1", 1, 2, 84, 0.0, seq=1))
    assert r.nodes["cloud-1"].packets == [0] and r.nodes["cloud-2"].packets == [1]


def test_the_controller_only_reacts_to_events_of_its_members():
    """No polling: a state change nobody reports changes nothing; an event of another peer
    neither; the member's own event does."""
    r = Rig(["cloud-1", "cloud-2"])
    r.nodes["cloud-1"].ep.status_text = UP
    r.step(100.0)
    assert r.events("ha_switch") == []
    r.log.add(Event(r.env.now, "somebody-else", "child_sa_established"))
    r.step()
    assert r.events("ha_switch") == []
    r.log.add(Event(r.env.now, "cloud-1", "child_sa_established"))
    r.step()
    assert [s["to"] for s in r.events("ha_switch")] == ["cloud-1"]


def test_one_judgement_per_instant_after_the_step_that_caused_it():
    r = Rig(["cloud-1", "cloud-2"])
    r.nodes["cloud-1"].ep.status_text = UP
    for name in ("ike_sa_established", "child_sa_established", "child_sa_established"):
        r.log.add(Event(r.env.now, "cloud-1", name))
    assert r.events("ha_member_state") == []  # not yet: judged after the step, with its final state
    r.step()
    assert len(r.events("ha_member_state")) == 1 and len(r.events("ha_switch")) == 1


def test_health_check_down_makes_a_member_unusable():
    """Alibaba VcoHealthCheck / Huawei NQA: a failed check takes the member out even though
    IKE still has its SA."""
    r = Rig(["cloud-1", "cloud-2"], watch=["ipsec", "nqa"])
    r.set("cloud-1", UP)
    r.set("cloud-2", UP)
    r.log.add(Event(r.env.now, "cloud-1", "nqa_state", {"state": "down", "reason": "3 probes"}))
    r.step()
    assert r.group.active == "cloud-2"
    assert r.events("ha_member_state")[-1] == {"group": "vpc", "member": "cloud-1", "usable": False,
                                               "reason": "health check down"}
    r.log.add(Event(r.env.now, "cloud-1", "nqa_state", {"state": "up", "reason": "probe answered"}))
    r.step()
    assert r.group.active == "cloud-1"


def test_health_check_alone_ignores_the_sa():
    r = Rig(["cloud-1", "cloud-2"], watch=["nqa"])
    assert r.group.active == "cloud-1"  # nothing reported down: usable from the start


def test_a_frozen_or_crashed_gateway_is_unusable():
    r = Rig(["cloud-1", "cloud-2"])
    r.set("cloud-1", UP)
    r.set("cloud-2", UP)
    r.nodes["cloud-1"].frozen = True
    r.log.add(Event(r.env.now, "cloud-1", "fault", {"kind": "freeze"}))
    r.step()
    assert r.group.active == "cloud-2"
    assert r.events("ha_member_state")[-1]["reason"] == "gateway frozen"


def test_rendezvous_weight_does_not_depend_on_the_process():
    """Same seed, same story: which member carries a flow must not change with Python's
    per-process string hashing (PYTHONHASHSEED)."""
    code = ("from ipsecsim.sim.ha import weight; "
            "print([max(['cloud-1', 'cloud-2', 'cloud-3'], key=lambda m, f=f: weight(f, m)) for f in 'abcdefgh'])")
    outs = {subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": seed},
                           capture_output=True, text=True, check=True).stdout for seed in ("1", "2", "3")}
    assert len(outs) == 1
    assert len(set(eval(outs.pop()))) > 1  # and it spreads the flows


def test_active_active_spreads_flows_and_a_failure_moves_only_its_own():
    """Huawei: both connections ha_role master (active-active). Rendezvous hashing: each flow on
    its highest-weight usable member; when one fails, only its flows move."""
    members = ["cloud-1", "cloud-2", "cloud-3"]
    flows = tuple(f"f{i}" for i in range(12))
    r = Rig(members, flows=flows, mode="active-active")
    for m in members:
        r.set(m, UP)
    for f in flows:
        r.group.submit_fluid(FluidFlow(f, 1, 2, 1400), 10.0)
    expected = {f: max(members, key=lambda m, f=f: weight(f, m)) for f in flows}
    assert {f: g.on for f, g in r.group.flows.items()} == expected
    assert len(set(expected.values())) > 1  # spread, not all on one member
    before = dict(expected)
    seen = len(r.events("ha_switch"))
    r.set("cloud-2", DOWN, "peer_dead")
    after = {f: g.on for f, g in r.group.flows.items()}
    for f in flows:
        if before[f] != "cloud-2":
            assert after[f] == before[f], f"{f} moved although its member did not fail"
        else:
            assert after[f] == max(["cloud-1", "cloud-3"], key=lambda m, f=f: weight(f, m))
    moved = r.events("ha_switch")[seen:]
    assert all(s["from"] == "cloud-2" for s in moved)
    assert sorted(f for s in moved for f in s["flows"]) == sorted(f for f in flows if before[f] == "cloud-2")


def _running_on(r: Rig, flow: str) -> list[str]:
    """The members whose data plane currently carries ``flow`` at a non-zero rate."""
    out = []
    for name, node in r.nodes.items():
        rates = [rate for f, rate in node.fluids if f == flow]
        if rates and rates[-1] > 0:
            out.append(name)
    return out


def test_active_active_without_preempt_keeps_a_flow_where_it_is():
    """preempt: false: a flow gets its member by hashing when it first sends; it stays there
    while that member works, moves only when it fails, does not move back, and never runs on
    two members."""
    members = ["cloud-1", "cloud-2"]
    flows = tuple(f"f{i}" for i in range(8))
    r = Rig(members, flows=flows, mode="active-active", preempt=False)
    r.set("cloud-1", UP)
    r.set("cloud-2", UP)
    for f in flows:
        r.group.submit_fluid(FluidFlow(f, 1, 2, 1400), 10.0)
    home = {f: max(members, key=lambda m, f=f: weight(f, m)) for f in flows}
    assert {f: g.on for f, g in r.group.flows.items()} == home and set(home.values()) == set(members)
    placed = r.events("ha_switch")
    assert all(s["from"] is None and len(s["flows"]) == 1 for s in placed) and len(placed) == len(flows)
    r.set("cloud-2", DOWN, "peer_dead")
    r.set("cloud-2", UP)
    for f in flows:  # the source changes its rate: nothing moves
        r.group.submit_fluid(FluidFlow(f, 1, 2, 1400), 20.0)
    assert all(_running_on(r, f) == ["cloud-1"] for f in flows)
    moved = [s for s in r.events("ha_switch") if s["from"] is not None]
    assert [(s["from"], s["to"], s["flows"]) for s in moved] == [
        ("cloud-2", "cloud-1", sorted(f for f in flows if home[f] == "cloud-2"))]


def test_active_active_flow_started_before_any_member_is_usable():
    """Sent while no tunnel is up, a flow is hashed over all members (whose data plane drops it)
    and moves to the first member that becomes usable."""
    r = Rig(["cloud-1", "cloud-2"], flows=("app",), mode="active-active", preempt=False)
    r.group.submit_fluid(FluidFlow("app", 1, 2, 1400), 10.0)
    first = r.group.flows["app"].on
    other = "cloud-2" if first == "cloud-1" else "cloud-1"
    r.set(other, UP)
    assert _running_on(r, "app") == [other]
    assert r.events("ha_switch")[-1]["from"] == first


def test_active_active_preempt_moves_flows_back_and_stops_them_on_the_old_member():
    members = ["cloud-1", "cloud-2"]
    flows = tuple(f"f{i}" for i in range(8))
    r = Rig(members, flows=flows, mode="active-active")
    r.set("cloud-1", UP)
    r.set("cloud-2", UP)
    for f in flows:
        r.group.submit_fluid(FluidFlow(f, 1, 2, 1400), 10.0)
    home = {f: max(members, key=lambda m, f=f: weight(f, m)) for f in flows}
    r.set("cloud-2", DOWN, "peer_dead")
    assert all(_running_on(r, f) == ["cloud-1"] for f in flows)
    r.set("cloud-2", UP)
    assert all(_running_on(r, f) == [home[f]] for f in flows)


def test_back_from_a_total_outage_the_switch_names_the_member_the_traffic_was_left_with():
    r = Rig(["cloud-1", "cloud-2"], flows=("app",))
    r.set("cloud-1", UP)
    r.group.submit_fluid(FluidFlow("app", 1, 2, 1400), 10.0)
    r.set("cloud-1", DOWN, "ike_sa_deleted")
    assert (r.events("ha_switch")[-1]["from"], r.events("ha_switch")[-1]["to"]) == ("cloud-1", None)
    r.set("cloud-2", UP)
    last = r.events("ha_switch")[-1]
    assert (last["from"], last["to"], last["flows"]) == ("cloud-1", "cloud-2", ["app"])
    assert _running_on(r, "app") == ["cloud-2"]
