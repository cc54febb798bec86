"""The controller of an HA group (config/ha.py): which member's tunnel carries the traffic.

The controller listens to the event log (``EventLog.subscribe``) and re-judges its members
whenever one of them reports something that can change its usability (an IPsec SA made or
deleted, DPD declaring the peer dead, the health check going down or up, a fault hitting the
gateway); it never polls. The judgement runs once per instant, after the step that caused
it (a zero-delay callback), so it sees the member's state after the whole step and its own
events follow the ones that caused them.

* ``ha_member_state`` {group, member, usable, reason}: a member became usable or unusable.
  Members start unusable (no SA yet) until judged usable.
* ``ha_switch`` {group, from, to, reason, flows}: the traffic moved. Active-standby: the
  active member changed (``to`` null: no member is usable; traffic then stays with the last
  active member, at first the master, whose data plane drops it with its own reason; when a
  member becomes usable again, ``from`` is that last member, or null if it is the same one).
  Active-active: ``flows`` moved from one member to another, or (``from`` null) a flow got its
  member when it first sent; without ``preempt`` a flow stays on its member while that member
  is usable.

Traffic sent from a group goes through ``GroupSender``: a discrete packet (a ping) is handed to
the member active when it is sent; a fluid flow is stopped on the old member and started on
the new one at the instant of the switch (the old member's SAs simply stop carrying it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass

import simpy

from ..proto.events import Event, HaMemberState, HaSwitch
from ..proto.events.network import PLACED
from ..proto.traffic import FluidFlow, Packet
from ..spec import HaGroupSpec, RunSpec
from .log import EventLog
from .node import PeerNode
from .sched import Scheduler, as_scheduler

WATCHED_EVENTS = frozenset({
    "child_sa_established", "child_sa_deleted", "child_sa_rekeyed", "ike_sa_established", "ike_sa_deleted",
    "peer_dead", "nqa_state", "route_revoked", "route_restored", "fault", "sa_expired", "negotiation_failed",
})
"""Events of a member after which the controller judges its members again."""




def weight(flow: str, member: str) -> int:
    """Rendezvous (highest random weight) hashing: stable, and a failure moves only the flows
    of the failed member."""
    return int.from_bytes(hashlib.sha256(f"{flow}\0{member}".encode()).digest()[:8], "big")


@dataclass
class GroupFlow:
    """A flow sent from the group: where it is now, and at what rate (fluid flows)."""

    name: str
    on: str
    spec: FluidFlow | None = None
    rate: float = 0.0
    placed: bool = False
    """Active-active: the flow has sent and has a member (``on``); until then it has none."""


@dataclass
class MemberState:
    usable: bool = False
    reason: str = "no IPsec SA yet"
    nqa_down: bool = False


class HaGroup:
    """One group's controller; also the ``Sender`` its traffic sources hand traffic to."""

    def __init__(self, sched: Scheduler | simpy.Environment, cfg: HaGroupSpec, scenario: RunSpec,
                 nodes: dict[str, PeerNode], log: EventLog):
        self.sched = as_scheduler(sched)
        self.cfg = cfg
        self.nodes = nodes
        self.log = log
        self.members = list(cfg.members)
        self.state = {m: MemberState() for m in self.members}
        self.active: str | None = None
        self.last = self.members[0]
        """Where active-standby traffic goes while no member is usable."""
        self.ever_active = False
        self.flows: dict[str, GroupFlow] = {
            t.name: GroupFlow(t.name, self.members[0]) for t in scenario.traffic if t.source == cfg.name}
        self._pending = False
        log.subscribe(self._on_event)
        self._schedule()

    @property
    def name(self) -> str:
        return self.cfg.name

    # --- Sender ---------------------------------------------------------------------------
    # Traffic goes to the member its flow is on; only the controller moves a flow (``_switch``),
    # so every move is an ``ha_switch`` event and a fluid flow never runs on two members.
    def submit_packet(self, pkt: Packet) -> None:
        flow = self._flow(pkt.flow)
        self._place(flow)
        self.nodes[flow.on].submit_packet(pkt)

    def submit_fluid(self, spec: FluidFlow, rate: float) -> None:
        flow = self._flow(spec.flow)
        if rate > 0:
            self._place(flow)
        flow.spec, flow.rate = spec, rate
        self.nodes[flow.on].submit_fluid(spec, rate)

    def _place(self, flow: GroupFlow) -> None:
        """Active-active: a flow gets its member when it first sends, by rendezvous hashing over
        the members usable then (over all of them while none is: the traffic is dropped there
        until the controller moves it to the first member that becomes usable)."""
        if flow.placed or self.cfg.mode != "active-active":
            return
        flow.placed = True
        usable = [m for m in self.members if self.state[m].usable]
        pool = usable or self.members
        flow.on = max(pool, key=lambda m: weight(flow.name, m))
        among = f"usable members {', '.join(usable)}" if usable else f"all members ({', '.join(pool)}: none usable)"
        self.log.emit(self.sched.now, self.name, HaSwitch(
            group=self.name, from_=None, to=flow.on,
            reason=f"{PLACED} {flow.name}: rendezvous hashing over the {among}", flows=[flow.name]))

    def _flow(self, name: str) -> GroupFlow:
        flow = self.flows.get(name)
        if flow is None:
            flow = self.flows[name] = GroupFlow(name, self.members[0])
            flow.on = self._choose(flow)
        return flow

    def _choose(self, flow: GroupFlow) -> str:
        """The member a flow belongs on now, ignoring ``preempt``."""
        if self.cfg.mode == "active-standby":
            return self.active or self.last
        usable = [m for m in self.members if self.state[m].usable]
        return max(usable, key=lambda m: weight(flow.name, m)) if usable else flow.on

    # --- listening ----------------------------------------------------------------------------
    def _on_event(self, e: Event) -> None:
        if e.peer not in self.state or e.event not in WATCHED_EVENTS:
            return
        if e.event == "nqa_state":
            self.state[e.peer].nqa_down = e.get("state") == "down"
        self._schedule()

    def _schedule(self) -> None:
        if self._pending:
            return
        self._pending = True
        self.sched.call_later(0.0, self._judge)

    def unusable_because(self, member: str) -> str | None:
        """Why ``member`` cannot carry traffic now, or None when it can."""
        node = self.nodes[member]
        if node.crashed:
            return "gateway crashed"
        if node.frozen:
            return "gateway frozen"
        if "ipsec" in self.cfg.watch:
            status = node.ep.status()["status"]
            if status != "ipsec_sa_established":
                return f"no IPsec SA ({status})"
        if "nqa" in self.cfg.watch and self.state[member].nqa_down:
            return "health check down"
        return None

    def _judge(self) -> None:
        self._pending = False
        now = self.sched.now
        changed = []
        for m in self.members:
            why = self.unusable_because(m)
            st = self.state[m]
            if (why is None) != st.usable:
                st.usable = why is None
                st.reason = why or " and ".join(x for x in (
                    "IPsec SA established" if "ipsec" in self.cfg.watch else "",
                    "health check not down" if "nqa" in self.cfg.watch else "") if x)
                changed.append(m)
                self.log.emit(now, self.name, HaMemberState(group=self.name, member=m, usable=st.usable,
                                                            reason=st.reason))
        if not changed:
            return
        if self.cfg.mode == "active-standby":
            self._standby()
        else:
            self._spread()

    # --- switching --------------------------------------------------------------------------
    def _standby(self) -> None:
        usable = [m for m in self.members if self.state[m].usable]
        cur = self.active
        if cur is not None and self.state[cur].usable:
            best = usable[0]
            if not self.cfg.preempt or best == cur:
                return
            self._switch(cur, best, f"preempt: {best} is usable again ({self.state[best].reason})")
            return
        new = usable[0] if usable else None
        if new == cur:
            return
        if cur is None and new is not None and self.ever_active and self.last != new:
            # Back from a total outage to another member: the traffic moves from the member it
            # was left with.
            self._switch(self.last, new, f"{new}: {self.state[new].reason}")
            return
        if cur is not None:
            reason = f"{cur}: {self.state[cur].reason}" + ("" if new else "; no usable member")
        else:
            reason = f"{new}: {self.state[new].reason}" if new else "no usable member"
        self._switch(cur, new, reason)

    def _switch(self, old: str | None, new: str | None, reason: str, flows: list[GroupFlow] | None = None) -> None:
        moving = flows if flows is not None else [f for f in self.flows.values() if new is not None and f.on != new]
        for f in moving:
            assert new is not None
            self._move(f, new)
        if self.cfg.mode == "active-standby":
            self.active = new
            if new is not None:
                self.last = new
                self.ever_active = True
        self.log.emit(self.sched.now, self.name, HaSwitch(group=self.name, from_=old, to=new, reason=reason,
                                                          flows=sorted(f.name for f in moving)))

    def _move(self, flow: GroupFlow, new: str) -> None:
        if flow.spec is not None and flow.rate > 0:
            self.nodes[flow.on].submit_fluid(flow.spec, 0.0)
            self.nodes[new].submit_fluid(flow.spec, flow.rate)
        flow.on = new

    def _spread(self) -> None:
        """Active-active: every flow to its member by rendezvous hashing over the usable members."""
        moves: dict[tuple[str, str], list[GroupFlow]] = {}
        for f in self.flows.values():
            if not f.placed:
                continue  # nothing sent yet: placed when it first sends
            if self.state[f.on].usable and not self.cfg.preempt:
                continue  # without preempt a flow stays on its member while that member works
            target = self._choose(f)
            if target != f.on:
                moves.setdefault((f.on, target), []).append(f)
        for (old, new), flows in sorted(moves.items()):
            if self.state[old].usable:
                reason = f"preempt: {new} is usable again ({self.state[new].reason})"
            else:
                reason = f"{old}: {self.state[old].reason}"
            self._switch(old, new, reason, flows)


def start_groups(sched: Scheduler, scenario: RunSpec, nodes: dict[str, PeerNode],
                 log: EventLog, skip: Collection[str] = ()) -> dict[str, HaGroup]:
    """A controller per ``ha:`` group (but those in ``skip``: routed by BGP, sim/bgp.py),
    listening from now on."""
    return {g.name: HaGroup(sched, g, scenario, nodes, log) for g in scenario.ha if g.name not in skip}
