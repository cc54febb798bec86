"""The data plane of one peer: SPD lookup, per-SA counters, volume lifetimes, accounting.

Shared by IKEv1 and IKEv2: an engine only keeps its ``ChildSa`` records current and offers
four methods (``child_sas()``, ``negotiating()``, ``acquire(now)``,
``on_child_volume(child, kind, by, now)``); after every step (``refresh``) the plane re-reads
its SAs if one of them changed where ESP goes (an SA record pushes that itself:
``sa.route_epoch``), so no engine has to tell it what changed.

Traffic comes in two forms:

* discrete packets (a ping): each is matched against the SPD (RFC 4301 5.1: outbound, the
  packet's addresses against the configured local / remote subnets), sent on the newest
  outbound SA, counted on it, and at the receiver delivered only if an inbound SA with that
  SPI exists (RFC 4303 3.4.2; Linux counts the miss as XfrmInNoStates);
* fluid flows (bulk): a rate in bytes/s. Counters advance analytically between events
  (``_Meter``); the instant a volume limit is crossed is computed exactly and armed as a
  timer, so a 1 Gbit/s week costs a few events per rekey. On the wire a flow is an
  ``EspFluid`` message: "from now on this flow arrives on SPI s at rate r", replacing the
  flow's previous state at the receiver.

Every byte offered is delivered or dropped with a reason; drops are merged into intervals in
offer time (when the source sent them) and reported as ``traffic_dropped`` events when an
interval closes (``DropLedger``). Volume counters count the protected (inner) packets. Every
ESP packet or fluid state put on the wire says how large it is (``proto.esp_size``: the link
drops or fragments what exceeds the path MTU), whether DF is set, and how long an ICV its
sender wrote: a receiver whose SA expects another length (HMAC-SHA-256 truncated to 96 bits at
one end only, ``child.sha256_96``) drops every packet with reason ``integrity_failed``.

Traffic-triggered negotiation (``start: on-traffic``): the first packet without an SA calls
``engine.acquire``; like the Linux kernel's larval SA (net.core.xfrm_acq_expires = 30 s) no
further acquire is made for 30 s unless an SA was installed meanwhile. Packets meanwhile are
dropped (``negotiating``) or held in a queue of ``acquire_queue`` packets. An engine whose
``trapped()`` is true (a DPD action trap / hold deleted the SAs) is asked likewise, and so is a
policy-based peer (``policy_trap``: a Cisco crypto map, a Huawei IPsec policy) whatever its
start policy, e.g. when its SA hard-expired without a replacement (Cisco IOS: "a new SA will be
negotiated only when IPsec sees another packet that should be protected").

Dead peer detection hooks (optional, looked up with ``getattr``): ``engine.on_esp_inbound(child,
now, flowing)`` is called when a packet from the peer is delivered on ``child`` (``flowing``
None) and when the fluid flows arriving on IPsec SAs start or stop (``flowing`` True / False:
whether any arrives now; ``child`` the SA of the flow that changed); ``engine.on_esp_outbound``
likewise for traffic sent on an IPsec SA (RFC 3706 5.3: on-demand DPD worries only when there is
traffic to send; inbound ESP is proof of liveness).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from . import esp_size
from . import sa as sa_mod
from .events import NegotiationTriggered, TrafficDropped
from .sa import ChildSa, ChildState
from .ts import covers

if TYPE_CHECKING:
    from .algorithms import Algorithm
    from .endpoint import Endpoint
    from .settings import PeerSettings

ACQUIRE_EXPIRES = 30.0  # Linux net.core.xfrm_acq_expires default (net/xfrm/xfrm_sysctl.c)
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Packet:
    """One IP packet from a host behind a peer."""

    flow: str
    src: int
    dst: int
    size: int
    t0: float
    """Offer time at the source."""
    span: float = 0.0
    """Time this packet stands for in outage intervals (a ping's interval)."""
    kind: str = "data"
    """``data``, ``echo-request`` (answered by the far host) or ``echo-reply``."""
    seq: int = 0
    df: bool = False
    """Don't Fragment: its ESP packet (which copies the bit, RFC 4301 8.1) must not be fragmented."""
    payload: Any = None
    """A control-plane packet's content (kind ``bgp``: a BGP session's TCP segment), handed to
    the receiving gateway's ``local_delivery`` instead of a host."""


@dataclass(frozen=True, slots=True)
class EspPacket:
    """A packet inside ESP on the wire between the gateways ``src`` and ``dst``."""

    spi: bytes
    esp_seq: int
    packet: Packet
    src: str
    dst: str
    sport: int | None = None
    """UDP encapsulation (RFC 3948, NAT traversal): source and destination ports; None: IP
    protocol 50."""
    dport: int | None = None
    outer: int = 0
    """Octets of the IPv4 packet carrying it: outer header, UDP if encapsulated, ESP
    (``proto.esp_size.outer_size``); 0: not computed."""
    df: bool = False
    """The outer DF bit (copied from the inner packet)."""
    icv: int | None = None
    """Octets of ICV the sender wrote; the receiver drops the packet unless it expects as many."""


@dataclass(frozen=True, slots=True)
class EspFluid:
    """From ``sent_at`` on, ``flow`` travels on ``spi`` at ``rate`` bytes/s (``pps`` packets/s);
    rate 0: it no longer arrives. Replaces the flow's previous state at the receiver."""

    flow: str
    spi: bytes
    rate: float
    pps: float
    sent_at: float
    src: str
    dst: str
    sport: int | None = None
    """UDP encapsulation ports (RFC 3948), as for ``EspPacket``."""
    dport: int | None = None
    outer: int = 0
    """Octets of each of its ESP packets on the wire, as for ``EspPacket``."""
    df: bool = False
    icv: int | None = None


@dataclass(frozen=True, slots=True)
class FluidFlow:
    """A constant-rate flow offered by a host behind this peer."""

    flow: str
    src: int
    dst: int
    packet_size: int
    df: bool = False
    """Don't Fragment on every packet (TCP with path MTU discovery)."""


# --- drop intervals --------------------------------------------------------------------------

@dataclass(slots=True)
class _Open:
    start: float
    end: float
    bytes: float = 0.0
    packets: float = 0.0
    rate: float = 0.0
    pps: float = 0.0
    detail: str | None = None


class DropLedger:
    """Dropped traffic of one stage (a peer or the link), merged into intervals per flow and
    reason and reported through ``emit(fields)`` when an interval closes. Times are offer
    times (when the source sent the traffic)."""

    def __init__(self, emit: Callable[[dict[str, Any]], None]):
        self.emit = emit
        self.open: dict[tuple[str, str], _Open] = {}
        self.totals: dict[tuple[str, str], list[float]] = {}

    def _add(self, flow: str, reason: str, b: float, p: float) -> None:
        t = self.totals.setdefault((flow, reason), [0.0, 0.0])
        t[0] += b
        t[1] += p

    def fluid(self, flow: str, reason: str, t: float, rate: float, pps: float, detail: str | None = None) -> None:
        """From offer time ``t`` the flow is dropped for ``reason`` at ``rate`` (0: it stops);
        ``detail``, a sentence on why, goes into the event."""
        key = (flow, reason)
        cur = self.open.get(key)
        if cur is not None:
            dt = max(0.0, t - cur.end)
            cur.bytes += cur.rate * dt
            cur.packets += cur.pps * dt
            self._add(flow, reason, cur.rate * dt, cur.pps * dt)
            cur.end, cur.rate, cur.pps = t, rate, pps
            if rate == 0:
                self._close(key)
        elif rate > 0:
            self.open[key] = _Open(t, t, rate=rate, pps=pps, detail=detail)

    def packet(self, flow: str, reason: str, t0: float, span: float, size: int, detail: str | None = None) -> None:
        key = (flow, reason)
        cur = self.open.get(key)
        if cur is not None and cur.rate == 0 and t0 > cur.end + _EPS:
            self._close(key)
            cur = None
        if cur is None:
            cur = self.open[key] = _Open(t0, t0, detail=detail)
        cur.bytes += size
        cur.packets += 1
        cur.end = max(cur.end, t0 + span)
        self._add(flow, reason, size, 1)

    def passed(self, flow: str) -> None:
        """A discrete packet of ``flow`` got through this stage: its drop intervals end."""
        for key in [k for k, v in self.open.items() if k[0] == flow and v.rate == 0]:
            self._close(key)

    def holds_open(self, flow: str) -> bool:
        """A drop interval of ``flow``'s packets is open (``passed`` ends it)."""
        return any(k[0] == flow and v.rate == 0 for k, v in self.open.items())

    def _close(self, key: tuple[str, str]) -> None:
        cur = self.open.pop(key)
        if cur.packets == 0 and cur.bytes < 0.5:
            return  # an interval that ended where it began (two changes at one instant)
        fields = {"flow": key[0], "reason": key[1], "start": round(cur.start, 6), "end": round(cur.end, 6),
                  "duration": round(cur.end - cur.start, 6), "bytes": round(cur.bytes), "packets": round(cur.packets)}
        self.emit(fields if cur.detail is None else {**fields, "detail": cur.detail})

    def finish(self, t: float) -> None:
        for key in sorted(self.open):
            cur = self.open[key]
            if cur.rate > 0:
                self.fluid(key[0], key[1], t, 0.0, 0.0)
            else:
                cur.end = max(cur.start, min(cur.end, t))  # a packet's span does not outlive the run
                self._close(key)

    def dropped(self) -> dict[tuple[str, str], tuple[float, float]]:
        return {k: (v[0], v[1]) for k, v in self.totals.items()}


# --- per-SA counters ---------------------------------------------------------------------------

_COUNTER_KEYS = {"in": ("bytes_in", "packets_in"), "out": ("bytes_out", "packets_out")}


@dataclass(slots=True)
class _Meter:
    """Bytes and packets through one direction of a CHILD SA, advancing at a rate."""

    child: ChildSa
    direction: str  # "in" | "out"
    t: float
    bytes: float = 0.0
    packets: float = 0.0
    rate: float = 0.0
    pps: float = 0.0
    generation: int = 0
    job: tuple[Any, ...] | None = None
    """The pending volume timer (``Endpoint.schedule``), cancelled when superseded."""

    def settle(self, now: float) -> None:
        dt = now - self.t
        if dt > 0:
            self.bytes += self.rate * dt
            self.packets += self.pps * dt
        self.t = max(self.t, now)
        c = self.child.counters
        kb, kp = _COUNTER_KEYS[self.direction]
        c[kb] = int(self.bytes)
        c[kp] = int(self.packets)


@dataclass(slots=True)
class _Local:
    spec: FluidFlow
    rate: float = 0.0
    pps: float = 0.0
    route: tuple[str, Any] | None = None  # ("sa", child) | ("drop", reason) | None
    since: float = 0.0
    path: tuple[str, str, int | None, int | None] | None = None  # where its ESP last went (_path)
    offered_b: float = 0.0
    offered_p: float = 0.0


@dataclass(slots=True)
class _Arrival:
    msg: EspFluid
    lag: float
    route: tuple[str, Any] | None = None
    since: float = 0.0
    upto: float = 0.0
    """Offer time up to which the flow's arrivals are accounted (delivered, dropped)."""


@dataclass(slots=True)
class FlowCounters:
    offered_bytes: float = 0.0
    offered_packets: float = 0.0
    delivered_bytes: float = 0.0
    delivered_packets: float = 0.0
    replies: int = 0
    """Echo replies that came back to this (sending) side."""
    last_reply_seq: int = -1
    """Sequence number of the latest echo reply that came back."""
    received_bytes: float = 0.0
    """What reached this (receiving) gateway from the wire, whatever became of it there."""
    received_packets: float = 0.0


class TrafficPlane:
    """The IPsec data plane of one Endpoint (see the module docstring)."""

    verify_cache = False
    """Read the engine's SAs at every refresh and fail if they changed without an SA pushing
    the change (tests: a change missed would be a wrong route)."""

    def __init__(self, ep: Endpoint):
        self.ep = ep
        self.frozen = False
        self.local: dict[str, _Local] = {}
        self.arrivals: dict[str, _Arrival] = {}
        self.meters: dict[tuple[int, str], _Meter] = {}
        self.flows: dict[str, FlowCounters] = {}
        self.queue: list[Packet] = []
        self.ledger = DropLedger(lambda f: self.ep.emit(TrafficDropped(**f)))
        self._out: list[EspPacket | EspFluid] = []
        self._known: dict[int, ChildSa] = {}
        self._suites: dict[int, tuple[Algorithm, Algorithm | None]] = {}
        """Cipher and integrity of each SA's ESP as this side installed it (``esp_size.suite``)."""
        self._fired: dict[int, set[str]] = {}
        self._limit_cache: dict[int, tuple[Any, int, list[tuple[str, str, float]]]] = {}
        """Per SA: its volume limits not yet reached, for its expiry and number of fired limits."""
        self._selects: dict[tuple[int, int, int], bool] = {}
        """Whether an installed SA's traffic selectors cover (src, dst): computed once per SA."""
        self._policy: tuple[Any, dict[tuple[int, int], bool]] = (None, {})
        """Whether the configured selectors cover (src, dst), for the settings they belong to."""
        self._read_at = -1
        """``sa.route_epoch`` when the engine's SAs were last read (``_reread``)."""
        self.last_removed: str | None = None
        self._acquired_at: float | None = None
        self._dirty = False
        self._in_flowing = False
        self._out_flowing = False
        self.route_revoked = False
        """A health check withdrew the route to the remote subnets (its own probes still pass)."""
        self.last_out: float | None = None
        """When a discrete ESP packet last left (NAT keepalives are sent only when idle)."""
        self.local_delivery: Callable[[Packet, float], None] | None = None
        """Where packets addressed to the gateway itself (kind ``bgp``) go when they arrive on an SA."""
        self.route_check: Callable[[int, int], bool] | None = None
        """Route-based VPN (sim/bgp.py): whether the gateway has a route for (src, dst) through
        this tunnel; packets without one are dropped with reason ``bgp_no_route``."""

    @property
    def settings(self) -> PeerSettings:
        """The endpoint's live settings: a ``reconfigure`` fault changes selectors, the start
        policy and the acquire queue of the data plane too."""
        return self.ep.settings

    # --- driver side -----------------------------------------------------------------------

    def take(self) -> list[EspPacket | EspFluid]:
        out, self._out = self._out, []
        return out

    def counters(self, flow: str) -> FlowCounters:
        return self.flows.setdefault(flow, FlowCounters())

    def offer_fluid(self, spec: FluidFlow, rate: float, now: float) -> None:
        """Set the rate (bytes/s) at which a local host offers ``spec`` (0: it stops)."""
        loc = self.local.get(spec.flow)
        if loc is None:
            loc = self.local[spec.flow] = _Local(spec, since=now)
        route = self._route_out(spec.src, spec.dst, now) if rate > 0 else None
        self._switch_local(loc, route, rate, rate / spec.packet_size, now)

    def offer_packet(self, pkt: Packet, now: float) -> None:
        c = self.counters(pkt.flow)
        c.offered_bytes += pkt.size
        c.offered_packets += 1
        route = self._route_out(pkt.src, pkt.dst, now)
        if route[0] == "sa":
            self._send_packet(route[1], pkt, now)
            return
        reason = route[1]
        if reason == "negotiating" and len(self.queue) < self.settings.acquire_queue:
            self.queue.append(pkt)
            return
        self.ledger.packet(pkt.flow, reason, pkt.t0, pkt.span, pkt.size)

    def receive(self, item: EspPacket | EspFluid, now: float) -> None:
        if isinstance(item, EspFluid):
            self._receive_fluid(item, now)
        else:
            self._receive_packet(item, now)

    def set_frozen(self, frozen: bool, now: float) -> None:
        self.frozen = frozen
        self.refresh(now)

    def finish(self, now: float) -> None:
        """End of the run: settle counters and close open intervals."""
        for loc in self.local.values():
            self._integrate_offer(loc, now)
        for arr in self.arrivals.values():
            upto = now - arr.lag  # what arrived by now was offered one link delay earlier
            self._settle_delivered(arr, upto)
            if arr.route is not None and arr.route[0] == "drop":
                self.ledger.fluid(arr.msg.flow, arr.route[1], upto, 0.0, 0.0)
        for m in self.meters.values():
            m.settle(now)
        self.ledger.finish(now)

    def shutdown(self, now: float, reason: str) -> None:
        """The gateway stops forwarding for good (a reboot, the connection deleted): fluid flows
        it was sending on an SA stop on the wire (no ESP leaves on SAs it no longer has), and
        packets held in its acquire queue are dropped for ``reason``. The flows' counters and
        open drop intervals are settled by ``finish``."""
        for loc in self.local.values():
            self._integrate_offer(loc, now)
            if loc.route is not None and loc.route[0] == "sa" and loc.rate > 0:
                child = loc.route[1]
                self._meter_rate(child, "out", now, -loc.rate, -loc.pps)
                self._wire_fluid(loc.spec.flow, child, 0.0, 0.0, now)
                loc.route = None  # the restarted gateway's data plane takes the flow on from now
        for pkt in self.queue:
            self.ledger.packet(pkt.flow, reason, pkt.t0, pkt.span, pkt.size)
        self.queue = []

    def queued(self) -> dict[str, tuple[int, int]]:
        """Bytes and packets per flow held in the acquire queue."""
        out: dict[str, tuple[int, int]] = {}
        for pkt in self.queue:
            b, n = out.get(pkt.flow, (0, 0))
            out[pkt.flow] = (b + pkt.size, n + 1)
        return out

    # --- engine side -----------------------------------------------------------------------
    def refresh(self, now: float) -> None:
        """Re-read the engine's SAs and re-route every flow whose outcome changed. A volume limit
        reached on the way may make the engine change its SAs: repeat until nothing moves."""
        for _ in range(8):
            self._dirty = False
            self._refresh_once(now)
            if not self._dirty:
                break

    def _refresh_once(self, now: float) -> None:
        # SAs re-read only after an SA pushed a change (``sa.route_epoch``); flows re-routed
        # every time (a route also depends on negotiations, the acquire timer, BGP routes)
        gone: list[ChildSa] = []
        if sa_mod.route_epoch != self._read_at or self.verify_cache:
            pushed = sa_mod.route_epoch != self._read_at
            gone = self._reread()
            if not pushed and sa_mod.route_epoch != self._read_at:
                raise AssertionError(f"{self.ep.name}: the engine's SAs changed and none pushed a change")
            self._read_at = sa_mod.route_epoch
        for loc in self.local.values():
            if loc.rate <= 0:
                continue
            new = self._route_out(loc.spec.src, loc.spec.dst, now)
            if new != loc.route:
                self._switch_local(loc, new, loc.rate, loc.pps, now)
            elif new[0] == "sa" and self._path(new[1]) != loc.path:  # the peer's NAT port changed
                loc.path = self._path(new[1])
                self._wire_fluid(loc.spec.flow, new[1], loc.rate, loc.pps, now)
        for arr in self.arrivals.values():
            new_in = self._route_in_esp(arr.msg) if arr.msg.rate > 0 else None
            if new_in != arr.route:
                self._switch_arrival(arr, arr.msg, new_in, now)
        for g in gone:
            self._suites.pop(g.uid, None)
            self._limit_cache.pop(g.uid, None)
            if self._selects:
                self._selects = {k: v for k, v in self._selects.items() if k[0] != g.uid}
            for d in ("in", "out"):
                m = self.meters.pop((g.uid, d), None)
                if m is not None:
                    m.settle(now)
        if self.queue:
            self._drain_queue(now)

    def _reread(self) -> list[ChildSa]:
        """Take the engine's SAs in (``_known``): the ones gone since, which are returned, and the
        ones installed since."""
        children = list(self._children())
        live = {c.uid for c in children if c.state is not ChildState.DELETED}
        gone = [self._known.pop(u) for u in [u for u in self._known if u not in live]]
        for g in gone:
            if g.removed not in ("rekeyed", "rekey_collision"):
                self.last_removed = g.removed
        added = False
        for c in children:
            if c.uid in live and c.uid not in self._known:
                self._known[c.uid] = c
                self._suite(c)  # fixed when installed, like the kernel SA
                self._acquired_at = None
                added = True
        if gone or added:
            sa_mod.routes_changed()
        return gone

    # --- routing ---------------------------------------------------------------------------
    def _children(self) -> Iterable[ChildSa]:
        fn = getattr(self.ep.engine, "child_sas", None)
        return fn() if fn is not None else ()

    def _outbound_sa(self, src: int, dst: int) -> ChildSa | None:
        best = None
        selects = self._selects
        for c in self._known.values():
            if c.outbound and c.state is not ChildState.DELETED and (best is None or c.uid > best.uid):
                key = (c.uid, src, dst)
                hit = selects.get(key)
                if hit is None:  # an installed SA's selectors do not change
                    hit = selects[key] = covers(c.local_ts, src) and covers(c.remote_ts, dst)
                if hit:
                    best = c
        return best

    def _in_policy(self, src: int, dst: int) -> bool:
        """The configured selectors (of the settings in force) cover the packet."""
        s = self.settings.child
        owner, seen = self._policy
        if owner is not s:
            seen = {}
            self._policy = (s, seen)
        hit = seen.get((src, dst))
        if hit is None:
            hit = seen[(src, dst)] = covers(s.local_ts, src) and covers(s.remote_ts, dst)
        return hit

    def _route_out(self, src: int, dst: int, now: float) -> tuple[str, Any]:
        if self.frozen:
            return ("drop", "peer_down")
        if not self._in_policy(src, dst):
            return ("drop", "no_policy")
        if self.route_revoked and not self._probe_src(src):
            return ("drop", "route_revoked")
        if self.route_check is not None and not self.route_check(src, dst):
            return ("drop", "bgp_no_route")
        sa = self._outbound_sa(src, dst)
        if sa is not None:
            return ("sa", sa)
        if self._negotiating():
            return ("drop", "negotiating")
        trap = self.settings.start == "on-traffic" or self.settings.policy_trap or self._trapped()
        if trap and self._acquire(src, dst, now):
            return ("drop", "negotiating")
        return ("drop", "sa_expired" if self.last_removed == "expired" else "no_sa")

    def _probe_src(self, src: int) -> bool:
        """The health check's own probes leave even while its route is revoked."""
        nqa = getattr(self.settings, "nqa_source", None)
        return nqa is not None and src == nqa

    def _negotiating(self) -> bool:
        fn = getattr(self.ep.engine, "negotiating", None)
        return bool(fn()) if fn is not None else False

    def _trapped(self) -> bool:
        fn = getattr(self.ep.engine, "trapped", None)
        return bool(fn()) if fn is not None else False

    def _dpd_hook(self, name: str, child: ChildSa | None, now: float, flowing: bool | None) -> None:
        fn = getattr(self.ep.engine, name, None)
        if fn is not None:
            fn(child, now, flowing)

    def _flows_changed(self, child: ChildSa | None, now: float) -> None:
        """Tell the engine when fluid traffic on IPsec SAs starts or stops, either way."""
        out = any(x.rate > 0 and x.route is not None and x.route[0] == "sa" for x in self.local.values())
        inn = any(a.msg.rate > 0 and a.route is not None and a.route[0] == "sa" for a in self.arrivals.values())
        if out != self._out_flowing:
            self._out_flowing = out
            self._dpd_hook("on_esp_outbound", child, now, out)
        if inn != self._in_flowing:
            self._in_flowing = inn
            self._dpd_hook("on_esp_inbound", child, now, inn)

    def _acquire(self, src: int, dst: int, now: float) -> bool:
        """Trigger negotiation (a trap policy's ACQUIRE); True if it is now under way."""
        if self._acquired_at is not None and now - self._acquired_at < ACQUIRE_EXPIRES:
            return False
        fn = getattr(self.ep.engine, "acquire", None)
        if fn is None:
            return False
        self._acquired_at = now
        from .ts import TrafficSelector
        self.ep.emit(NegotiationTriggered(src=str(TrafficSelector(src, src).start_address),
                                          dst=str(TrafficSelector(dst, dst).start_address)))
        fn(now)
        return self._negotiating()

    def _route_in(self, spi: bytes) -> tuple[str, Any]:
        if self.frozen:
            return ("drop", "peer_down")
        for c in self._known.values():
            if c.spi_in == spi and c.state is not ChildState.DELETED:
                return ("sa", c)
        return ("drop", "unilateral_sa")


    def _route_in_esp(self, esp: EspPacket | EspFluid) -> tuple[str, Any]:
        """``_route_in``, and the integrity check: an ICV of another length than the SA's never
        verifies (RFC 4303 3.4.4: the packet is dropped; Linux counts XfrmInStateProtoError)."""
        route = self._route_in(esp.spi)
        if route[0] == "sa" and esp.icv is not None and esp.icv != esp_size.icv_bytes(*self._suite(route[1])):
            return ("drop", "integrity_failed")
        return route

    def _drop_detail(self, reason: str, esp: EspPacket | EspFluid) -> str | None:
        if reason != "integrity_failed":
            return None
        child = self._route_in(esp.spi)[1]
        encr, integ = self._suite(child)
        return (f"its ESP carries a {esp.icv}-octet ICV where this side's SA ({esp_size.integrity_text(encr, integ)}) "
                f"expects {esp_size.icv_bytes(encr, integ)}: the integrity check fails")

    # --- ESP on the wire -----------------------------------------------------------------------
    def _suite(self, child: ChildSa) -> tuple[Algorithm, Algorithm | None]:
        suite = self._suites.get(child.uid)
        if suite is None:
            suite = self._suites[child.uid] = esp_size.suite(child.proposal, self.settings.child.sha256_96)
        return suite

    def _esp_fields(self, child: ChildSa, size: int, df: bool) -> dict[str, Any]:
        """Size, DF bit and ICV length of the ESP packet carrying a ``size``-octet packet."""
        encr, integ = self._suite(child)
        return {"outer": esp_size.outer_size(encr, integ, size, child.encap is not None), "df": df,
                "icv": esp_size.icv_bytes(encr, integ)}

    # --- local fluid flows -------------------------------------------------------------------
    def _integrate_offer(self, loc: _Local, now: float) -> None:
        dt = now - loc.since
        if dt > 0:
            c = self.counters(loc.spec.flow)
            c.offered_bytes += loc.rate * dt
            c.offered_packets += loc.pps * dt
        loc.since = max(loc.since, now)

    def _switch_local(self, loc: _Local, new: tuple[str, Any] | None, rate: float, pps: float,
                      now: float) -> None:
        """Move a local fluid flow to a new route and/or rate: counters, wire state, drops."""
        self._integrate_offer(loc, now)
        old, flow = loc.route, loc.spec.flow
        if old is not None and old[0] == "sa":
            self._meter_rate(old[1], "out", now, -loc.rate, -loc.pps)
        same_drop = old is not None and new is not None and old[0] == new[0] == "drop" and old[1] == new[1]
        if old is not None and old[0] == "drop" and not same_drop:
            self.ledger.fluid(flow, old[1], now, 0.0, 0.0)
        loc.rate, loc.pps, loc.route = rate, pps, new
        old_sa: ChildSa | None = old[1] if old is not None and old[0] == "sa" else None
        if new is not None and new[0] == "sa" and rate > 0:
            child: ChildSa = new[1]
            self._meter_rate(child, "out", now, rate, pps)
            loc.path = self._path(child)
            self._wire_fluid(flow, child, rate, pps, now)
            self._flows_changed(child, now)
            return
        if old_sa is not None:
            self._wire_fluid(flow, old_sa, 0.0, 0.0, now)
            self._flows_changed(old_sa, now)
        if new is None or rate <= 0:
            loc.route = None
            return
        self.ledger.fluid(flow, new[1], now, rate, pps)

    def _wire_fluid(self, flow: str, child: ChildSa, rate: float, pps: float, now: float) -> None:
        spec = self.local[flow].spec
        self._out.append(EspFluid(flow, child.spi_out, rate, pps, now, *self._path(child),
                                  **self._esp_fields(child, spec.packet_size, spec.df)))

    def _path(self, child: ChildSa) -> tuple[str, str, int | None, int | None]:
        """(source, destination, UDP source port, UDP destination port) of the SA's ESP: the
        IKE endpoints and ports when NAT traversal put it in UDP (RFC 3948), else protocol 50
        between the configured addresses."""
        e = child.encap
        if e is not None:
            return e.local[0], e.remote[0], e.local[1], e.remote[1]
        return self.settings.address, self.settings.remote_address, None, None

    def last_esp_out(self, now: float) -> float | None:
        """When ESP last left this peer: ``now`` while a fluid flow is being sent."""
        if any(loc.rate > 0 and loc.route is not None and loc.route[0] == "sa" for loc in self.local.values()):
            return now
        return self.last_out

    # --- arriving fluid ----------------------------------------------------------------------
    def take_over_arrivals(self, old: TrafficPlane, now: float) -> None:
        """A rebooted gateway (``old`` is its data plane before the crash): fluid flows keep
        arriving on the wire whatever the gateway knows. The old plane stops accounting them
        (at their offer time, ``now`` minus the link delay) and this one takes them on, with
        the SAs it has now (after a reboot: none, so they are dropped until renegotiated)."""
        for arr in list(old.arrivals.values()):
            msg, lag = arr.msg, arr.lag
            old._switch_arrival(arr, msg, None, now)
            if msg.rate > 0:
                self._receive_fluid(replace(msg, sent_at=now - lag), now)

    def _receive_fluid(self, msg: EspFluid, now: float) -> None:
        arr = self.arrivals.get(msg.flow)
        if arr is None:
            arr = self.arrivals[msg.flow] = _Arrival(msg, now - msg.sent_at, since=now, upto=msg.sent_at)
        self._switch_arrival(arr, msg, self._route_in_esp(msg) if msg.rate > 0 else None, now)

    def _settle_delivered(self, arr: _Arrival, upto: float) -> None:
        """Account what arrived of the flow, in offer time up to ``upto``: all of it received,
        delivered if it arrives on an SA (its drops go through the ledger)."""
        dt = upto - arr.upto
        if dt > 0 and arr.msg.rate > 0 and arr.route is not None:
            c = self.counters(arr.msg.flow)
            c.received_bytes += arr.msg.rate * dt
            c.received_packets += arr.msg.pps * dt
            if arr.route[0] == "sa":
                c.delivered_bytes += arr.msg.rate * dt
                c.delivered_packets += arr.msg.pps * dt
        arr.upto = max(arr.upto, upto)

    def _switch_arrival(self, arr: _Arrival, msg: EspFluid, new: tuple[str, Any] | None, now: float) -> None:
        # Accounting is in offer time: a new state from the wire takes over from the instant it
        # was sent (even if the link delay changed meanwhile); a re-route here from what was
        # offered one link delay ago.
        at = max(arr.upto, msg.sent_at if msg is not arr.msg else now - arr.lag)
        self._settle_delivered(arr, at)
        old, flow = arr.route, msg.flow
        if old is not None and old[0] == "sa":
            self._meter_rate(old[1], "in", now, -arr.msg.rate, -arr.msg.pps)
        same_drop = old is not None and new is not None and old[0] == new[0] == "drop" and old[1] == new[1]
        if old is not None and old[0] == "drop" and not same_drop:
            self.ledger.fluid(flow, old[1], at, 0.0, 0.0)
        lag = arr.lag if msg is arr.msg else now - msg.sent_at  # a re-route keeps the flow's link delay
        arr.msg, arr.lag, arr.route, arr.since = msg, lag, new, now
        sa_now = new[1] if new is not None and new[0] == "sa" else None
        self._flows_changed(sa_now or (old[1] if old is not None and old[0] == "sa" else None), now)
        if new is None:
            return
        if new[0] == "sa":
            self._meter_rate(new[1], "in", now, msg.rate, msg.pps)
        else:
            self.ledger.fluid(flow, new[1], at, msg.rate, msg.pps, self._drop_detail(new[1], msg))

    # --- discrete packets ----------------------------------------------------------------------
    def _send_packet(self, child: ChildSa, pkt: Packet, now: float) -> None:
        self.ledger.passed(pkt.flow)
        m = self._meter(child, "out", now)
        m.bytes += pkt.size
        m.packets += 1
        m.settle(now)
        self._out.append(EspPacket(child.spi_out, int(m.packets), pkt, *self._path(child),
                                   **self._esp_fields(child, pkt.size, pkt.df)))
        self.last_out = now
        self._check(m, now)
        self._dpd_hook("on_esp_outbound", child, now, None)

    def _receive_packet(self, esp: EspPacket, now: float) -> None:
        pkt = esp.packet
        c = self.counters(pkt.flow)
        c.received_bytes += pkt.size
        c.received_packets += 1
        route = self._route_in_esp(esp)
        if route[0] != "sa":
            self.ledger.packet(pkt.flow, route[1], pkt.t0, pkt.span, pkt.size, self._drop_detail(route[1], esp))
            return
        self.ledger.passed(pkt.flow)
        c.delivered_bytes += pkt.size
        c.delivered_packets += 1
        m = self._meter(route[1], "in", now)
        m.bytes += pkt.size
        m.packets += 1
        m.settle(now)
        self._check(m, now)
        self._dpd_hook("on_esp_inbound", route[1], now, None)
        if pkt.kind == "echo-request":
            self.offer_packet(Packet(pkt.flow + ":reply", pkt.dst, pkt.src, pkt.size, now, pkt.span,
                                     "echo-reply", pkt.seq, pkt.df), now)
        elif pkt.kind == "echo-reply":
            c = self.counters(pkt.flow.removesuffix(":reply"))
            c.replies += 1
            c.last_reply_seq = max(c.last_reply_seq, pkt.seq)
        elif pkt.kind == "bgp" and self.local_delivery is not None:
            self.local_delivery(pkt, now)

    def _drain_queue(self, now: float) -> None:
        keep = []
        for pkt in self.queue:
            route = self._route_out(pkt.src, pkt.dst, now)
            if route[0] == "sa":
                self._send_packet(route[1], pkt, now)
            elif route[1] == "negotiating":
                keep.append(pkt)
            else:
                self.ledger.packet(pkt.flow, route[1], pkt.t0, pkt.span, pkt.size)
        self.queue = keep

    # --- counters and volume limits ----------------------------------------------------------
    def _meter(self, child: ChildSa, direction: str, now: float) -> _Meter:
        key = (child.uid, direction)
        m = self.meters.get(key)
        if m is None:
            m = self.meters[key] = _Meter(child, direction, now)
        m.settle(now)
        return m

    def _meter_rate(self, child: ChildSa, direction: str, now: float, d_rate: float, d_pps: float) -> None:
        m = self._meter(child, direction, now)
        m.rate = max(0.0, m.rate + d_rate)
        m.pps = max(0.0, m.pps + d_pps)
        if m.rate < 1e-9:
            m.rate = m.pps = 0.0
        self._check(m, now)

    def _limits(self, m: _Meter) -> list[tuple[str, str, float]]:
        exp = m.child.expiry
        if exp is None:
            return []
        fired = self._fired.setdefault(m.child.uid, set())
        cached = self._limit_cache.get(m.child.uid)
        if cached is not None and cached[0] is exp and cached[1] == len(fired):
            return cached[2]
        out = []
        for by in ("bytes", "packets"):
            soft, hard = exp.volume(by)
            for kind, lim in (("soft", soft), ("hard", hard)):
                if lim is not None and kind not in fired:
                    out.append((kind, by, lim))
        self._limit_cache[m.child.uid] = (exp, len(fired), out)
        return out

    def _check(self, m: _Meter, now: float) -> None:
        """Fire limits already reached; arm a timer for the next crossing at the current rate."""
        m.generation += 1
        fired = self._fired.setdefault(m.child.uid, set())
        nxt: float | None = None
        for kind, by, lim in self._limits(m):
            value, rate = (m.bytes, m.rate) if by == "bytes" else (m.packets, m.pps)
            if value >= lim * (1 - 1e-12) - 1e-9:
                if kind not in fired:
                    fired.add(kind)
                    if by == "bytes":
                        m.bytes = max(m.bytes, lim)
                    else:
                        m.packets = max(m.packets, lim)
                    m.settle(now)
                    self._fire(m.child, kind, by, now)
                continue
            if rate > 0:
                at = m.t + (lim - value) / rate
                nxt = at if nxt is None else min(nxt, at)
        if m.job is not None:
            self.ep.cancel(m.job)  # superseded: its generation is gone
            m.job = None
        if nxt is not None:
            m.job = self.ep.schedule(nxt, self._on_volume_timer, m.child.uid, m.direction, m.generation)

    def _on_volume_timer(self, now: float, uid: int, direction: str, generation: int) -> None:
        m = self.meters.get((uid, direction))
        if m is None or m.generation != generation:
            return  # the rate changed since: a newer timer is armed
        m.job = None
        m.settle(now)
        for _kind, by, lim in self._limits(m):
            if by == "bytes" and m.bytes < lim and m.rate > 0 and (lim - m.bytes) / m.rate < 1e-6:
                m.bytes = lim  # the timer fired at the exact crossing; absorb float rounding
            if by == "packets" and m.packets < lim and m.pps > 0 and (lim - m.packets) / m.pps < 1e-6:
                m.packets = lim
        self._check(m, now)

    def _fire(self, child: ChildSa, kind: str, by: str, now: float) -> None:
        self._dirty = True
        fn = getattr(self.ep.engine, "on_child_volume", None)
        if fn is not None:
            fn(child, kind, by, now)

    # --- reporting -----------------------------------------------------------------------------
    def sa_counters(self, child: ChildSa, now: float) -> dict[str, int]:
        for d in ("in", "out"):
            m = self.meters.get((child.uid, d))
            if m is not None:
                m.settle(now)
        return dict(child.counters)
