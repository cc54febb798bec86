"""BGP over the tunnels in simulated time: each peer with ``bgp:`` runs a session
(proto/bgp) whose TCP segments travel inside its tunnel as ESP, and each HA group whose members
route by BGP sends its traffic where the best path points (it stands in for the group's
controller, sim/ha.py).

* A segment is a discrete packet (kind ``bgp``, flow ``bgp:PEER``) between the tunnel's inner
  addresses, handed to the peer's data plane like a host's packet: it needs an IPsec SA whose
  selectors cover the addresses (else ``no_policy``), triggers negotiation like traffic does,
  counts as traffic for on-demand DPD, and arrives only if the far end has the SA. The far
  end's data plane hands it to that peer's session (``TrafficPlane.local_delivery``).
* The tunnel interface: with ``sa_down: teardown`` it is up while the peer has an IPsec SA and
  its gateway runs; when it goes, the session ends at once (TcpConnectionFails). With
  ``hold_timer`` it stays up and only the hold timer notices a dead tunnel.
* A crashed gateway loses its session (its routes with it); a frozen one handles no timer
  until it is thawed.
* Routes: a peer's data plane forwards traffic only to destinations its session learned
  (``TrafficPlane.route_check``; else reason ``bgp_no_route``). A group's router (``BgpGroup``)
  places each flow on the member of the best path to its destination (proto/bgp/rib.py; the
  LOCAL_PREF of a member by its place in an active-standby group, equal in active-active with
  the flows spread over the equal paths by rendezvous hashing, as sim/ha.py does) and moves it
  when the best path changes; with no path the flow stays where it was and is dropped there.

Events: ``bgp_state``, ``bgp_open``, ``bgp_notification``, ``bgp_update`` at the peer;
``bgp_best_path`` and the HA vocabulary (``ha_member_state``: a member usable while it has
routes, ``ha_switch``) at the group, so the ``ha`` summary covers BGP groups too.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..proto.bgp.bfd import BfdSession, BfdState, Datagram
from ..proto.bgp.rib import Path, best_paths, longest_match
from ..proto.bgp.session import BgpSession
from ..proto.bgp.tcp import Segment
from ..proto.endpoint import Endpoint
from ..proto.events import BgpBestPath, BgpState, Event, HaMemberState, HaSwitch
from ..proto.rng import stream
from ..proto.traffic import FluidFlow, Packet
from ..spec import BgpSpec, HaGroupSpec, RunSpec
from .ha import weight
from .log import EventLog
from .sched import Scheduler

if TYPE_CHECKING:
    from .node import PeerNode

WATCHED = frozenset({"child_sa_established", "child_sa_deleted", "child_sa_rekeyed", "ike_sa_deleted", "peer_dead",
                     "sa_expired", "fault", "route_revoked", "route_restored"})
_EPS = 1e-9


def _ip(a: str) -> int:
    return int(ipaddress.IPv4Address(a))


class Speaker:
    """One peer's BGP session, driven by SimPy time."""

    def __init__(self, env: Scheduler, name: str, resolved: BgpSpec, log: EventLog, seed: int):
        self.env, self.name, self.cfg, self.log = env, name, resolved, log
        self.seed = seed
        self.node: PeerNode | None = None
        self.boots = 0
        self.session = self._new_session()
        self.armed: float | None = None
        self.inbox: list[Segment] = []
        self.on_routes: Callable[[], None] = lambda: None
        self.crashed = False
        self.sent_segments = 0
        self.history: list[BgpSession] = []
        """Sessions of earlier boots (a crash loses the session; its counters are kept)."""
        self.bfd = self._new_bfd()
        self.bfd_history: list[BfdSession] = []
        self._local = _ip(resolved.session.local_ip)
        self._peer = _ip(resolved.session.peer_ip)

    def _new_bfd(self) -> BfdSession | None:
        b = self.cfg.bfd
        return BfdSession(b, self.cfg.session.peer_ip) if b is not None else None

    def _new_session(self) -> BgpSession:
        rng = stream(self.seed, "bgp", self.name, str(self.boots))
        return BgpSession(self.cfg.session, iss=rng.getrandbits(32))

    # --- the data plane's hooks ---------------------------------------------------------------
    def deliver(self, pkt: Packet, now: float) -> None:
        seg = pkt.payload
        if self.crashed:
            return
        if isinstance(seg, Segment):
            self.inbox.append(seg)
            self.env.call_later(0.0, self._drain)
        elif isinstance(seg, Datagram) and self.bfd is not None:
            self.bfd.receive(seg.data, now)
            self.env.call_later(0.0, self.flush)

    def route_check(self, src: int, dst: int) -> bool:
        if src == self._local and dst == self._peer:
            return True  # the session's own segments: the tunnel's connected /30
        node = self.node
        if node is not None and src == getattr(node.settings, "nqa_source", None):
            return True  # the health check's own probes
        return longest_match(self.session.routes, dst) is not None

    # --- driving -----------------------------------------------------------------------------
    def start(self, node: PeerNode) -> None:
        self.node = node
        self.judge_interface()
        self.session.start(self.env.now)
        if self.bfd is not None:
            self.bfd.start(self.env.now)
        self.flush()

    def _drain(self) -> None:
        segs, self.inbox = self.inbox, []
        for seg in segs:
            self.session.receive(seg, self.env.now)
        self.flush()

    def _timer(self, at: float) -> None:
        if self.armed is not None and abs(self.armed - at) < _EPS:
            self.armed = None
        node = self.node
        if node is not None and node.frozen:
            return  # a hung gateway handles no timer; judged again when thawed
        self.session.handle_timer(self.env.now)
        if self.bfd is not None:
            self.bfd.handle_timer(self.env.now)
        self.flush()

    def _flush_bfd(self, now: float) -> None:
        """BFD's events and packets; an Up session going Down tears BGP down (RFC 5882 3.2)."""
        bfd, node = self.bfd, self.node
        if bfd is None:
            return
        for event in bfd.take_events():
            self.log.emit(now, self.name, event)
            if event.from_ == BfdState.UP.label and event.to == BfdState.DOWN.label:
                self.session.bfd_down(now, event.diag_name)
        sport = 49152 + bfd.settings.discriminator
        for data in bfd.take_packets():
            if node is not None and not node.down:
                d = Datagram(self.cfg.session.local_ip, self.cfg.session.peer_ip, sport, data)
                node.submit_packet(Packet(f"bfd:{self.name}", self._local, self._peer, d.size, now, 0.0, "bgp",
                                          payload=d))

    def flush(self) -> None:
        now = self.env.now
        self._flush_bfd(now)
        s = self.session
        for event in s.take_events():
            self.log.emit(now, self.name, event)
        node = self.node
        for seg in s.take_segments():
            self.sent_segments += 1
            if node is not None and not node.down:
                node.submit_packet(Packet(f"bgp:{self.name}", _ip(seg.src), _ip(seg.dst), seg.size, now, 0.0, "bgp",
                                          payload=seg))
        if s.routes_changed:
            s.routes_changed = False
            self.on_routes()
        ts = [x for x in (s.get_timer(), self.bfd.get_timer() if self.bfd is not None else None) if x is not None]
        t = min(ts) if ts else None
        if t is not None and (self.armed is None or t < self.armed - _EPS):
            self.armed = t
            self._arm(t, now)

    def _arm(self, at: float, now: float) -> None:
        self.env.call_later(max(0.0, at - now), self._timer, at)

    def judge_interface(self, event: Event | None = None) -> None:
        """After an event of this peer: crash / restart, the tunnel interface, a revoked route."""
        node = self.node
        if node is None:
            return
        now = self.env.now
        if node.crashed and not self.crashed:
            self.crashed = True
            lost = self.session
            self.history.append(lost)
            had = bool(lost.routes)
            self.boots += 1
            self.session = self._new_session()
            if self.bfd is not None:
                self.bfd_history.append(self.bfd)
                self.bfd = self._new_bfd()
            self.armed = None
            if lost.state.value != "Idle":
                self.log.emit(now, self.name, BgpState(neighbor=self.cfg.session.peer_ip, from_=lost.state.value,
                                                       to="Idle", trigger="gateway crashed",
                                                       reason="the gateway crashed: the session is lost"))
            if had:
                self.on_routes()
            return
        if self.crashed and not node.crashed:
            self.crashed = False
            self.session.start(now)
            if self.bfd is not None:
                self.bfd.start(now)
        if self.crashed:
            return
        if self.cfg.sa_down == "teardown":
            status = node.ep.status()["status"]
            up = status == "ipsec_sa_established" and not node.down
            self.session.interface(up, now, f"no IPsec SA: {status}" if not up else "")
        if event is not None and event.event in ("route_revoked", "route_restored"):
            revoked = event.event == "route_revoked"
            self.session.announce(() if revoked else self.cfg.session.advertise, now)
        self.session.handle_timer(now)  # timers due while the gateway was frozen
        if self.bfd is not None:
            self.bfd.handle_timer(now)
        self.flush()


class BgpGroup:
    """The router of an HA group whose members route by BGP; the ``Sender`` of its traffic."""

    def __init__(self, env: Scheduler, cfg: HaGroupSpec, scenario: RunSpec,
                 speakers: dict[str, Speaker], nodes: dict[str, PeerNode], log: EventLog):
        self.env, self.cfg, self.log, self.nodes = env, cfg, log, nodes
        self.members = list(cfg.members)
        self.speakers = {m: speakers[m] for m in self.members}
        n = len(self.members)
        self.pref: dict[str, int] = {}
        for i, m in enumerate(self.members):
            own = speakers[m].cfg.local_preference
            self.pref[m] = own if own is not None else (100 * (n - i) if cfg.mode == "active-standby" else 100)
        self.flows: dict[str, dict[str, Any]] = {}
        self.usable = dict.fromkeys(self.members, False)
        self.best: dict[str, tuple[str, ...]] = {}
        self._pending = False
        for t in scenario.traffic:
            if t.source == cfg.name:
                self.flows[t.name] = {"on": self.members[0], "spec": None, "rate": 0.0, "dst": None,
                                      "placed": False}
        for sp in self.speakers.values():
            sp.on_routes = self._schedule

    @property
    def name(self) -> str:
        return self.cfg.name

    # --- Sender ---------------------------------------------------------------------------------
    def submit_packet(self, pkt: Packet) -> None:
        f = self._flow(pkt.flow, pkt.dst)
        self.nodes[f["on"]].submit_packet(pkt)

    def submit_fluid(self, spec: FluidFlow, rate: float) -> None:
        f = self._flow(spec.flow, spec.dst)
        f["spec"], f["rate"] = spec, rate
        self.nodes[f["on"]].submit_fluid(spec, rate)

    def _flow(self, name: str, dst: int) -> dict[str, Any]:
        f = self.flows.setdefault(name, {"on": self.members[0], "spec": None, "rate": 0.0, "dst": None,
                                         "placed": False})
        if not f["placed"]:
            f["placed"], f["dst"] = True, dst
            target, _prefix, why = self._target(name, dst)
            if target is not None and target != f["on"]:
                f["on"] = target
            self.best[name] = (target,) if target else ()
            self.log.emit(self.env.now, self.name, HaSwitch(group=self.name, from_=None, to=target,
                                                            reason=f"first traffic of {name}: {why}", flows=[name]))
        return f

    # --- routing -------------------------------------------------------------------------------
    def paths(self, dst: int) -> tuple[str | None, list[Path]]:
        """The most specific prefix learned for ``dst`` on any member, and the paths to it."""
        prefixes = {p for sp in self.speakers.values() for p in sp.session.routes}
        prefix = longest_match(prefixes, dst)
        if prefix is None:
            return None, []
        out = []
        for m, sp in self.speakers.items():
            upd = sp.session.routes.get(prefix)
            if upd is None:
                continue
            rid = sp.session.peer_open.router_id if sp.session.peer_open else "0.0.0.0"
            out.append(Path(prefix, m, upd.as_path, self.pref[m], upd.med, upd.origin, rid, sp.cfg.session.peer_ip))
        return prefix, out

    def _target(self, flow: str, dst: int) -> tuple[str | None, str | None, str]:
        prefix, paths = self.paths(dst)
        if not paths:
            return None, None, "no route to the destination"
        best = best_paths(paths, multipath=self.cfg.mode == "active-active")
        if len(best) == 1:
            b = best[0]
            return b.via, prefix, (f"best path to {prefix} via {b.via} (local preference {b.local_pref}, AS path "
                                   f"{' '.join(map(str, b.as_path)) or 'empty'})")
        via = max((b.via for b in best), key=lambda m: weight(flow, m))
        vias = ", ".join(b.via for b in best)
        return via, prefix, f"{len(best)} equal paths to {prefix} ({vias}): rendezvous hashing"

    def _schedule(self) -> None:
        if not self._pending:
            self._pending = True
            self.env.call_later(0.0, self._judge)

    def _judge(self) -> None:
        self._pending = False
        now = self.env.now
        for m, sp in self.speakers.items():
            has = bool(sp.session.routes)
            if has != self.usable[m]:
                self.usable[m] = has
                self.log.emit(now, self.name, HaMemberState(
                    group=self.name, member=m, usable=has,
                    reason=(f"BGP routes learned from {sp.cfg.session.peer_ip}" if has else
                            f"no BGP route from {sp.cfg.session.peer_ip} (session {sp.session.state.value})")))
        moves: dict[tuple[str, str | None], list[str]] = {}
        reasons: dict[tuple[str, str | None], str] = {}
        for name, f in self.flows.items():
            if not f["placed"]:
                continue
            target, prefix, why = self._target(name, f["dst"])
            old_best = self.best.get(name, ())
            new_best = (target,) if target else ()
            if new_best != old_best:
                self.best[name] = new_best
                self.log.emit(now, self.name, BgpBestPath(group=self.name, flow=name, prefix=prefix,
                                                          from_=old_best[0] if old_best else None, to=target,
                                                          reason=why))
            if target is None:
                if old_best and new_best != old_best:
                    moves.setdefault((f["on"], None), []).append(name)
                    reasons[(f["on"], None)] = why
                continue
            if target != f["on"]:
                moves.setdefault((f["on"], target), []).append(name)
                reasons[(f["on"], target)] = why
                self._move(f, target)
        for (old, new), names in sorted(moves.items(), key=lambda x: (x[0][0], x[0][1] or "")):
            self.log.emit(now, self.name, HaSwitch(group=self.name, from_=old, to=new, reason=reasons[(old, new)],
                                                   flows=sorted(names)))

    def _move(self, f: dict[str, Any], new: str) -> None:
        if f["spec"] is not None and f["rate"] > 0:
            self.nodes[f["on"]].submit_fluid(f["spec"], 0.0)
            self.nodes[new].submit_fluid(f["spec"], f["rate"])
        f["on"] = new


class BgpNetwork:
    """Every BGP speaker and router of a run (see the module docstring)."""

    def __init__(self, env: Scheduler, scenario: RunSpec, log: EventLog, seed: int):
        self.env, self.scenario, self.log = env, scenario, log
        self.speakers: dict[str, Speaker] = {
            name: Speaker(env, name, resolved, log, seed) for name, resolved in scenario.bgp.items()}
        self.groups: dict[str, BgpGroup] = {}

    def attach(self, ep: Endpoint) -> Endpoint:
        """Hook a (new) endpoint's data plane to its peer's speaker."""
        sp = self.speakers.get(ep.settings.name)
        if sp is not None:
            ep.traffic.local_delivery = sp.deliver
            ep.traffic.route_check = sp.route_check
        return ep

    def start(self, nodes: dict[str, PeerNode]) -> dict[str, BgpGroup]:
        if not self.speakers:
            return {}
        for g in self.scenario.ha:
            if all(m in self.speakers for m in g.members):
                self.groups[g.name] = BgpGroup(self.env, g, self.scenario, self.speakers, nodes, self.log)
        for name, sp in self.speakers.items():
            node = nodes[name]
            sp.node = node
            # a route change re-routes the peer's own flows in its data plane (the BGP source
            # and the health check are exempt); revoke_route(same value) is the node's public
            # way to make its plane re-read its routes
            prev = sp.on_routes

            def changed(sp: Speaker = sp, prev: Callable[[], None] = prev) -> None:
                n = sp.node
                if n is not None and not n.down:
                    self.env.call_later(0.0, lambda: n.revoke_route(n.ep.traffic.route_revoked))
                prev()
            sp.on_routes = changed
        self.log.subscribe(self._on_event)
        def start_all() -> None:
            for n, sp in self.speakers.items():
                sp.start(nodes[n])
        self.env.call_later(0.0, start_all)
        return self.groups

    def snapshot(self) -> dict[str, Any]:
        """Each session's state at the end of the run, for the summary (no live cores)."""
        out: dict[str, Any] = {}
        for name, sp in self.speakers.items():
            s = sp.session
            sessions = [*sp.history, s]
            cfg = sp.cfg.session
            out[name] = {
                "state": s.state.value, "neighbor": cfg.peer_ip, "local_address": cfg.local_ip, "asn": cfg.local_asn,
                "peer_asn": cfg.peer_asn, "passive": cfg.passive, "sa_down": sp.cfg.sa_down,
                "hold_time": {"configured": cfg.hold_time, "negotiated": s.hold or None},
                "keepalive": {"configured": cfg.keepalive, "negotiated": s.keepalive or None},
                "routes": sorted(s.routes), "advertised": list(s.announced),
                "established": sum(x.counters.established for x in sessions),
                "dropped": sum(x.counters.dropped for x in sessions),
                "messages": {d: {k: sum(getattr(x.counters, d)[k] for x in sessions) for k in s.counters.sent}
                             for d in ("sent", "received")},
                "tcp": {"segments_sent": sp.sent_segments,
                        "retransmissions": sum(x.tcp.retransmissions for x in sessions),
                        "auth_failures": sum(x.tcp.auth_failures for x in sessions)},
                "sources": sp.cfg.sources,
            }
            if sp.bfd is not None:
                bfds = [*sp.bfd_history, sp.bfd]
                out[name]["bfd"] = {"state": sp.bfd.state.label, "interval": sp.bfd.settings.interval,
                                    "multiplier": sp.bfd.settings.multiplier,
                                    "detection_time": sp.bfd.detection_time or None,
                                    "went_down": sum(b.went_down for b in bfds),
                                    "packets": {"sent": sum(b.sent for b in bfds),
                                                "received": sum(b.received for b in bfds)}}
        return out

    def _on_event(self, e: Event) -> None:
        sp = self.speakers.get(e.peer)
        if sp is None or e.event not in WATCHED or sp.node is None:
            return
        self.env.call_later(0.0, lambda: sp.judge_interface(e))
