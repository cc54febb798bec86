"""Typed events of the network around the IKE cores: NAT devices and keepalives, traffic,
path health checks (NQA), faults, HA groups and BGP (docs/events.md is generated from these).

The docstring of a class says when the event happens; the docstring under a field says
what it carries. Field order is the order of the record (and of the JSONL line).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .record import ABSENT, EventKind, Values
from .values import BFD_STATES, BGP_STATES, DROP_REASONS, FAULT_KINDS

NAT_T, TRAFFIC, NQA, FAULTS, HA, BGP = ("NAT traversal", "Traffic", "Path health (NQA, health checks)", "Faults",
                                        "HA groups (redundant tunnels)", "BGP over the tunnels")
PLACED = "first traffic of"
"""How the reason of an active-active ``ha_switch`` that places a new flow begins."""

_DIRECTION: Values = {"direction": ("sent", "received")}


@dataclass(frozen=True, slots=True, kw_only=True)
class NatKeepaliveSent(EventKind):
    """the peer behind a NAT sent nothing for `nat_keepalive` seconds: a one-octet 0xFF datagram keeps the NAT
    mapping alive (RFC 3948 2.3)"""

    NAME, SECTION = "nat_keepalive_sent", NAT_T

    src: str
    """the sender's `address:port`."""
    dst: str
    """the receiver's `address:port`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NatMappingCreated(EventKind):
    """the NAT (`link.nat`) maps a new inside address and port onto a new outside port; `peer` is `link`"""

    NAME, SECTION = "nat_mapping_created", NAT_T
    VALUES: ClassVar[Values] = {"protocol": ("udp", "esp")}

    inside: str
    """the inside `address:port`."""
    outside: str
    """the outside `address:port`."""
    protocol: str
    """`udp`, or `esp` with `esp_passthrough`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NatMappingExpired(EventKind):
    """a mapping idle for `mapping_timeout` is gone; packets sent to its port are dropped (`nat_no_mapping`) until
    the inside peer sends again, which makes a new mapping with a new port; `peer` is `link`"""

    NAME, SECTION = "nat_mapping_expired", NAT_T
    VALUES: ClassVar[Values] = {"protocol": ("udp", "esp")}

    inside: str
    """the inside `address:port`."""
    outside: str
    """the outside `address:port`."""
    protocol: str
    """`udp` or `esp`."""
    idle: float
    """seconds since its last outbound packet."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TrafficStarted(EventKind):
    """a source starts; `peer` is the sending peer, or the HA group it is sent from (which member carries it:
    `ha_switch`)"""

    NAME, SECTION = "traffic_started", TRAFFIC
    VALUES: ClassVar[Values] = {"kind": ("ping", "bulk", "burst"), "df": (True, False)}

    flow: str
    """the flow's name."""
    kind: str
    """`ping`, `bulk` or `burst`."""
    src: str
    """the sending host."""
    dst: str
    """the receiving host."""
    to: str | None
    """the receiving peer or HA group."""
    df: bool
    """Don't Fragment on its packets."""
    interval: float = ABSENT
    """ping: seconds between echo requests."""
    size: int = ABSENT
    """ping: the packet size."""
    rate_bps: float = ABSENT
    """bulk and burst: the rate, bits per second."""
    packet_size: int = ABSENT
    """bulk and burst: the packet size."""
    every: float | None = ABSENT
    """burst: seconds between bursts."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TrafficStopped(EventKind):
    """a source stops"""

    NAME, SECTION = "traffic_stopped", TRAFFIC

    flow: str
    """the flow's name."""
    sent: int = ABSENT
    """ping: echo requests sent."""
    bursts: int = ABSENT
    """burst: bursts sent."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NegotiationTriggered(EventKind):
    """`start: on-traffic`: a packet without an SA makes the peer negotiate (a trap policy's acquire; at most once
    per 30 s, Linux `xfrm_acq_expires`)"""

    NAME, SECTION = "negotiation_triggered", TRAFFIC

    src: str
    """the packet's source address."""
    dst: str
    """its destination address."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TrafficDropped(EventKind):
    """traffic was dropped; consecutive drops of one flow for one reason are one event, emitted when the interval
    ends (or at the end of the run); `peer` is where it was dropped: a peer, or `link`"""

    NAME, SECTION = "traffic_dropped", TRAFFIC
    VALUES: ClassVar[Values] = {"reason": DROP_REASONS}

    flow: str
    """the flow (a ping's answers are `FLOW:reply`; tunnel health-check probes of a peer `nqa:PEER`, which the
    traffic summary leaves out: their outcome is `nqa_state` and the peer's `health`)."""
    reason: str
    """a drop reason (below)."""
    start: float
    """when the interval began (offer time, seconds)."""
    end: float
    """when it ended."""
    duration: float
    """its length, seconds."""
    bytes: float
    """bytes dropped."""
    packets: float
    """packets dropped."""
    detail: str = ABSENT
    """for `too_big` and `integrity_failed`: a sentence (the ESP packet size and the MTU; the ICV lengths)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NqaProbeSent(EventKind):
    """a probe leaves the peer configured with `nqa:`"""

    NAME, SECTION = "nqa_probe_sent", NQA
    VALUES: ClassVar[Values] = {"path": ("tunnel", "underlay")}

    seq: int
    """the probe's sequence number."""
    destination: str
    """the address probed."""
    path: str
    """`tunnel`: inside ESP between the protected subnets; `underlay`: plain ICMP between the gateways."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NqaProbeLost(EventKind):
    """no answer came back before the next probe was due"""

    NAME, SECTION = "nqa_probe_lost", NQA

    seq: int
    """the probe's sequence number."""
    consecutive: int
    """losses in a row."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NqaState(EventKind):
    """the first answered probe (up), or `retries` losses in a row (down)"""

    NAME, SECTION = "nqa_state", NQA
    VALUES: ClassVar[Values] = {"state": ("up", "down")}

    state: str
    """`up` or `down`."""
    reason: str
    """a sentence."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteRevoked(EventKind):
    """with `policy: revoke_route` the path went down: traffic to the remote subnets is dropped with reason
    `route_revoked` (the probes themselves still go out)"""

    NAME, SECTION = "route_revoked", NQA

    destination: str
    """the address probed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteRestored(EventKind):
    """the path came back up: the route is advertised again"""

    NAME, SECTION = "route_restored", NQA

    destination: str
    """the address probed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault(EventKind):
    """a scheduled fault happens; `peer` is the peer or `link`"""

    NAME, SECTION = "fault", FAULTS
    VALUES: ClassVar[Values] = {"kind": FAULT_KINDS, "inbound": ("drop", "queue")}

    kind: str
    """the fault's kind (below)."""
    undo: bool = ABSENT
    """true: the end of a timed fault."""
    direction: str = ABSENT
    """`A->B`: a one-way fault."""
    between: list[str] = ABSENT
    """`[A, B]`: only the path between these two peers, both ways."""
    protocol: str = ABSENT
    """`ike` or `esp`: a fault on one protocol only."""
    loss: Any = ABSENT
    """a probability or a Gilbert-Elliott model."""
    delay: float = ABSENT
    """the added delay, seconds."""
    jitter: float = ABSENT
    """the added jitter, seconds."""
    address: str = ABSENT
    """the peer's new address."""
    duration: float = ABSENT
    """seconds until the fault is undone."""
    inbound: str = ABSENT
    """freeze: `queue`, a freeze that queues what arrives (`drop`, the default, is not shown)."""
    receive_buffer: float = ABSENT
    """freeze with `inbound: queue`: each UDP socket's receive buffer, bytes."""
    set: dict[str, Any] = ABSENT
    """the changed settings."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HaMemberState(EventKind):
    """the controller judged a member again after one of its events and its usability changed; members start
    unusable (no SA yet), so the first of these says when each became usable"""

    NAME, SECTION = "ha_member_state", HA
    VALUES: ClassVar[Values] = {"usable": (True, False)}

    group: str
    """the HA group."""
    member: str
    """the member peer."""
    usable: bool
    """true or false."""
    reason: str
    """`no IPsec SA (ike_sa_not_established)`, `health check down`, `gateway frozen`, `gateway crashed`; when
    usable again, what the group watches: `IPsec SA established and health check not down`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HaSwitch(EventKind):
    """active-standby: the active member changed; active-active: `flows` moved from one member to another (a failed
    member's flows, or flows returning to a recovered member with `preempt`)"""

    NAME, SECTION = "ha_switch", HA

    group: str
    """the HA group."""
    from_: str | None
    """member; null when none was active and the traffic stays where it was: the first switch, or back from a total
    outage to the member it was left with; active-active: null when a flow gets its member as it first sends,
    reason `first traffic of FLOW: rendezvous hashing over ...`."""
    to: str | None
    """member, or null: no usable member; the traffic then stays with the last active member, whose data plane
    drops it with its own reason."""
    reason: str
    """`cloud-1: health check down`, `preempt: cloud-1 is usable again (...)`."""
    flows: list[str]
    """the group's flows that moved."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BgpState(EventKind):
    """the session changed state"""

    NAME, SECTION = "bgp_state", BGP
    VALUES: ClassVar[Values] = {"from": BGP_STATES, "to": BGP_STATES}

    neighbor: str
    """the other end's tunnel inner address."""
    from_: str
    """the state left (`Idle`, `Connect`, `Active`, `OpenSent`, `OpenConfirm`, `Established`)."""
    to: str
    """the state entered."""
    trigger: str
    """the RFC 4271 8.1 event name: `ManualStart`, `Tcp_CR_Acked`, `BGPOpen`, `KeepAliveMsg`, `HoldTimer_Expires`,
    `TcpConnectionFails`, `NotifMsg`, `BGPOpenMsgErr` ..., or `gateway crashed`."""
    reason: str
    """a sentence."""
    up_for: float = ABSENT
    """seconds, when an Established session falls."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BgpOpen(EventKind):
    """an OPEN left or arrived"""

    NAME, SECTION = "bgp_open", BGP
    VALUES: ClassVar[Values] = _DIRECTION

    neighbor: str
    """the other end's tunnel inner address."""
    direction: str
    """`sent` or `received`."""
    asn: int
    """the sender's AS number."""
    hold_time: int
    """the hold time it proposes, seconds."""
    router_id: str
    """the sender's BGP identifier."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BgpNotification(EventKind):
    """a NOTIFICATION left or arrived (RFC 4271 4.5)"""

    NAME, SECTION = "bgp_notification", BGP
    VALUES: ClassVar[Values] = _DIRECTION

    neighbor: str
    """the other end's tunnel inner address."""
    direction: str
    """`sent` or `received`."""
    code: int
    """the error code."""
    subcode: int
    """the error subcode."""
    name: str
    """`Hold Timer Expired`, `OPEN Message Error / Bad Peer AS`, `Cease / Administrative Shutdown` ..."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BgpUpdate(EventKind):
    """an UPDATE left or arrived (KEEPALIVEs are only counted, in the summary's `bgp`)"""

    NAME, SECTION = "bgp_update", BGP
    VALUES: ClassVar[Values] = _DIRECTION

    neighbor: str
    """the other end's tunnel inner address."""
    direction: str
    """`sent` or `received`."""
    advertised: list[str]
    """prefixes advertised."""
    withdrawn: list[str]
    """prefixes withdrawn."""
    as_path: list[int]
    """the AS_PATH."""
    med: int | None
    """the MULTI_EXIT_DISC, or null."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BfdState(EventKind):
    """the BFD session with the BGP neighbor changed state (`bgp: {bfd: ...}`, RFC 5880 6.2); from Up to Down
    it tears the BGP session down"""

    NAME, SECTION = "bfd_state", BGP
    VALUES: ClassVar[Values] = {"from": BFD_STATES, "to": BFD_STATES, "diag": (0, 1, 2, 3, 7)}

    neighbor: str
    """the other end's tunnel inner address."""
    from_: str
    """the state left (`AdminDown`, `Down`, `Init`, `Up`)."""
    to: str
    """the state entered."""
    diag: int
    """RFC 5880 4.1: 0 none, 1 Control Detection Time Expired, 3 Neighbor Signaled Session Down."""
    diag_name: str
    """the diagnostic's name."""
    reason: str
    """a sentence."""
    detection_time: float = ABSENT
    """seconds, when it comes Up: the neighbor's Detect Mult x the agreed interval."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BgpBestPath(EventKind):
    """the best path for a flow of a BGP-routed group changed"""

    NAME, SECTION = "bgp_best_path", BGP

    group: str
    """the HA group."""
    flow: str
    """the flow."""
    prefix: str | None
    """the prefix its destination matched."""
    from_: str | None
    """the member it used."""
    to: str | None
    """the member it uses, or null: no route."""
    reason: str
    """a sentence."""


KINDS: tuple[type[EventKind], ...] = (
    NatKeepaliveSent, NatMappingCreated, NatMappingExpired,
    TrafficStarted, TrafficStopped, NegotiationTriggered, TrafficDropped,
    NqaProbeSent, NqaProbeLost, NqaState, RouteRevoked, RouteRestored,
    Fault, HaMemberState, HaSwitch,
    BgpState, BgpOpen, BgpNotification, BgpUpdate, BfdState, BgpBestPath,
)

__all__ = [
    "BfdState",
    "BgpBestPath",
    "BgpNotification",
    "BgpOpen",
    "BgpState",
    "BgpUpdate",
    "Fault",
    "HaMemberState",
    "HaSwitch",
    "NatKeepaliveSent",
    "NatMappingCreated",
    "NatMappingExpired",
    "NegotiationTriggered",
    "NqaProbeLost",
    "NqaProbeSent",
    "NqaState",
    "RouteRestored",
    "RouteRevoked",
    "TrafficDropped",
    "TrafficStarted",
    "TrafficStopped",
]
