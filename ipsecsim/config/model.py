"""The scenario file format as validated, typed models (pydantic).

Every model forbids unknown keys, so a misspelt option is an error that names the allowed
keys instead of a silent default. Durations, sizes and rates accept unit strings
(``ipsecsim.config.units``); proposals use strongSwan syntax and are checked against the
transform registry; addresses and subnets are IPv4.

Values a peer does not set come from its vendor profile (``profile:``, default
``strongswan``), then from the defaults below.
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from ..errors import shown
from ..proto.algorithms import Kind, keywords
from ..proto.proposals import ProposalError, Protocol, parse
from ..vocabulary import suggest
from .bgp import BgpConfig
from .capture import TraceConfig
from .cpu import CpuConfig
from .expect import Expectation
from .ha import HaGroupConfig
from .lifetimes import parser as _life_parser
from .lifetimes import schema as _life_schema
from .link import LinkConfig, Loss
from .strict import Strict
from .sweep import SweepConfig
from .units import MAX_DURATION, Duration, Rate, Size, schema_pattern


def _ipv4(value: object) -> str:
    try:
        return str(ipaddress.IPv4Address(str(value).strip()))
    except ValueError:
        raise ValueError(f"invalid IPv4 address {shown(value)} (e.g. 192.0.2.1)") from None


def _cidr(value: object) -> str:
    text = str(value).strip()
    try:
        return str(ipaddress.IPv4Network(text))
    except ValueError as e:
        hint = ""
        if "host bits set" in str(e):
            hint = f"; did you mean {ipaddress.IPv4Network(text, strict=False)}?"
        raise ValueError(f"invalid CIDR {shown(value)}: {e}{hint} (e.g. 10.1.0.0/24)") from None



def _life(kind: str, of: str, allow_percent: bool = True, roles: bool = False, positive: bool = False) -> Any:
    """A lifetime key: ``kind`` value, a percentage (see config/lifetimes.py), per role."""
    return Annotated[Any, BeforeValidator(_life_parser(kind, allow_percent, roles)),
                     WithJsonSchema(_life_schema(kind, roles, of, allow_percent, positive))]


if TYPE_CHECKING:  # built at run time from the lifetime parsers; any value to a type checker
    LifeTime: TypeAlias = Any
    LifeBytes: TypeAlias = Any
    LifePackets: TypeAlias = Any
    RekeyTime: TypeAlias = Any
    RekeyBytes: TypeAlias = Any
    RekeyPackets: TypeAlias = Any
    Margin: TypeAlias = Any
    Fuzz: TypeAlias = Any
    OverTime: TypeAlias = Any
else:
    LifeTime = _life("duration", "duration, or a percentage of rekey_time above 100% (strongSwan default 110%)",
                     positive=True)
    LifeBytes = _life("size", "size, or a percentage of rekey_bytes above 100%", positive=True)
    LifePackets = _life("count", "packet count, or a percentage of rekey_packets above 100%", positive=True)
    RekeyTime = _life("duration", "duration, a percentage of life_time, or {initiator: .., responder: ..}", roles=True)
    RekeyBytes = _life("size", "size, a percentage of life_bytes, or {initiator: .., responder: ..}", roles=True)
    RekeyPackets = _life("count", "packet count, a percentage of life_packets, or {initiator: .., responder: ..}",
                         roles=True)
    Margin = _life("duration", "duration, or {initiator: .., responder: ..}", allow_percent=False, roles=True)
    Fuzz = _life("percent", "percentage of rekey_margin, or {initiator: .., responder: ..}", roles=True)
    OverTime = _life("duration", "duration, or a percentage of rekey_time")

MIN_TIMER = 0.1
"""The shortest retransmission wait (100 ms): shorter ones would only multiply events."""


def _timer(value: float) -> float:
    if value < MIN_TIMER:
        raise ValueError(f"a wait is at least {MIN_TIMER * 1000:g}ms, got {value:g}s")
    return value


Timer = Annotated[Duration, AfterValidator(_timer),
                  WithJsonSchema({"anyOf": [{"type": "number", "minimum": MIN_TIMER, "maximum": MAX_DURATION},
                                            {"type": "string", "pattern": schema_pattern("duration")}],
                                  "description": "a duration of at least 100ms"})]


def _off_or_second(value: float) -> float:
    if 0 < value < 1:
        raise ValueError(f"0 turns it off; otherwise at least 1s (strongSwan dpd_delay and keep_alive are whole "
                         f"seconds), got {value:g}s")
    return value


OffOrAtLeastOneSecond = Annotated[
    Duration, AfterValidator(_off_or_second),
    WithJsonSchema({"anyOf": [{"type": "number", "enum": [0]},
                              {"type": "number", "minimum": 1, "maximum": MAX_DURATION},
                              {"type": "string", "pattern": schema_pattern("duration")}],
                    "description": "0 (off), or a duration of at least 1s"})]

IPv4 = Annotated[str, BeforeValidator(_ipv4), WithJsonSchema({"type": "string", "format": "ipv4"})]
Cidr = Annotated[str, BeforeValidator(_cidr),
                 WithJsonSchema({"type": "string", "description": "IPv4 subnet in CIDR notation, e.g. 10.1.0.0/24"})]


_UNKNOWN_ALG = re.compile(r"^unknown algorithm '([^']*)' in proposal '[^']*'")


def _with_suggestion(message: str) -> str:
    """A ProposalError for an unknown algorithm with the closest known name (difflib)."""
    m = _UNKNOWN_ALG.match(message)
    if not m:
        return message
    names = [n for k in Kind for n in keywords(k)]
    return message + suggest(m.group(1), names)


def _proposal_checker(protocol: Protocol) -> AfterValidator:
    def check(value: str) -> str:
        try:
            parse(value, protocol)
        except ProposalError as e:
            raise ValueError(_with_suggestion(str(e))) from None
        return value
    return AfterValidator(check)


IkeProposal = Annotated[str, _proposal_checker(Protocol.IKE),
                        WithJsonSchema({"type": "string", "description": "strongSwan IKE proposal, e.g. "
                                        "aes128-sha256-modp2048 or aes256gcm16-prfsha384-ecp384"})]
EspProposal = Annotated[str, _proposal_checker(Protocol.ESP),
                        WithJsonSchema({"type": "string", "description": "strongSwan ESP proposal, e.g. "
                                        "aes128-sha256, aes256gcm16, aes128-sha256-modp2048 (PFS)"})]


class RetransmitConfig(Strict):
    """Retransmission of IKE requests: wait timeout*base^(n-1) after the n-th send, give up
    after the wait following the last of ``tries`` retransmissions (strongSwan semantics)."""

    timeout: Duration = Field(4.0, ge=MIN_TIMER, description="wait after the first transmission (at least 100ms)")
    base: float = Field(1.8, ge=1.0, le=10.0, description="factor applied to each further wait")
    tries: int = Field(5, ge=0, le=100, description="retransmissions before giving up")
    limit: Duration | None = Field(None, ge=MIN_TIMER, description="cap of a single wait (at least 100ms)")
    jitter: float = Field(0.0, ge=0, le=100, description="percent by which a wait is randomly shortened")
    waits: list[Timer] | None = Field(
        None, min_length=1, max_length=100, description="explicit waits after each transmission (fixed schedules; "
        "each at least 100ms)")


class IkeConfig(Strict):
    version: Literal[1, 2] = Field(2, description="IKE major version")
    mode: Literal["main", "aggressive"] = Field("main", description="IKEv1 phase-1 mode")
    proposals: list[IkeProposal] = Field(default_factory=lambda: ["aes128-sha256-modp2048"], min_length=1,
                                         description="IKE proposals in order of preference")
    psk: str = Field(min_length=1, description="pre-shared key (authentication is by PSK; both ends need the same)")
    local_id: str | None = Field(None, description="own identity: an IPv4 address, @fqdn, fqdn, user@fqdn; "
                                 "default: the peer's address")
    remote_id: str | None = Field(None, description="identity the peer must present; default: any")
    nonce_bytes: int = Field(32, ge=16, le=256, description="nonce length (RFC 7296 2.10: at least 16)")
    half_open_timeout: Duration = Field(30.0, gt=0, description="responder drops an IKE SA not authenticated "
                                        "within this time")
    initial_contact: bool = Field(True, description="send INITIAL_CONTACT in IKE_AUTH when no other SA exists")
    life_time: LifeTime = Field(None, description="hard lifetime of the IKE SA (IKEv1: the lifetime proposed "
                                "in phase 1); none: unlimited; a percentage is of rekey_time")
    rekey_time: RekeyTime = Field(None, description="soft lifetime: rekey the IKE SA (strongSwan rekey_time); a "
                                  "percentage is of life_time; 0 or none: never")
    over_time: OverTime = Field(None, description="strongSwan: hard lifetime = rekey_time + over_time (a "
                                "percentage is of rekey_time); instead of life_time")
    rand_time: RekeyTime = Field(None, description="random time subtracted from rekey_time; default: life_time - "
                                 "rekey_time (strongSwan)")
    rekey_margin: Margin = Field(None, description="ipsec.conf / Libreswan style: rekey at life_time - margin - "
                                 "random(0, margin * rekey_fuzz); instead of rekey_time/rand_time")
    rekey_fuzz: Fuzz = Field(None, description="with rekey_margin: random share of the margin (default 100%)")
    accept_responder_lifetime: bool = Field(
        True, description="IKEv1 initiator: adopt the shorter lifetime a responder announces in RESPONDER-LIFETIME "
        "(RFC 2407 4.6.3.1); false: keep the proposed one, as strongSwan does")
    lifetime_policy: Literal["obey", "claim", "strict", "exact"] = Field(
        "obey", description="IKEv1 responder when the proposed lifetime differs from its own: obey (take the "
        "initiator's), claim (keep its shorter one, send RESPONDER-LIFETIME), strict (accept if not longer "
        "than its own), exact (reject unless equal)")
    rekey_handover: Literal["inline", "job"] = Field(
        "inline", description="IKEv2: exchanges waiting on an IKE SA that is rekeyed move to the new SA and start "
        "at once (inline: before the rekey response or the Delete of the old SA) or as a job after the message at "
        "hand is sent (job, strongSwan ike_rekey.c establish_new()); set by the profile")


class ChildConfig(Strict):
    proposals: list[EspProposal] = Field(default_factory=lambda: ["aes128-sha256"], min_length=1,
                                         description="ESP proposals in order of preference")
    ts_policy: Literal["narrow", "exact"] = Field(
        "narrow", description="responder's traffic selector check: narrow (RFC 7296 2.9) or exact mirror images")
    mode: Literal["tunnel"] = Field("tunnel", description="encapsulation mode")
    life_time: LifeTime = Field(None, description="hard lifetime of the CHILD / IPsec SA by time; a percentage "
                                "is of rekey_time")
    life_bytes: LifeBytes = Field(None, description="hard lifetime by volume (e.g. 20GB), per direction")
    life_packets: LifePackets = Field(None, description="hard lifetime by packet count, per direction")
    rekey_time: RekeyTime = Field(None, description="soft lifetime: rekey (strongSwan rekey_time); a percentage "
                                  "is of life_time; 0 or none: never")
    rand_time: RekeyTime = Field(None, description="random time subtracted from rekey_time; default: life_time - "
                                 "rekey_time (strongSwan)")
    rekey_margin: Margin = Field(None, description="ipsec.conf / Libreswan style: rekey at life_time - margin - "
                                 "random(0, margin * rekey_fuzz); instead of rekey_time/rand_time")
    rekey_fuzz: Fuzz = Field(None, description="with rekey_margin: random share of the margin (default 100%)")
    rekey_bytes: RekeyBytes = Field(None, description="rekey after this volume in one direction; a percentage "
                                    "is of life_bytes; 0 or none: never")
    rand_bytes: RekeyBytes = Field(None, description="random volume subtracted from rekey_bytes; default: "
                                   "life_bytes - rekey_bytes")
    rekey_packets: RekeyPackets = Field(None, description="rekey after this many packets in one direction")
    rand_packets: RekeyPackets = Field(None, description="random count subtracted from rekey_packets; default: "
                                       "life_packets - rekey_packets")
    delete_rekeyed_delay: Duration = Field(5.0, ge=0, description="how long the inbound SA of a rekeyed CHILD SA "
                                           "is kept for late packets (strongSwan charon.delete_rekeyed_delay)")
    sha256_96: bool = Field(False, description="truncate HMAC-SHA-256 to 96 bits in ESP instead of RFC 4868's 128 "
                            "(strongSwan swanctl.conf children.<child>.sha256_96; Linux PF_KEY and kernels before "
                            "2.6.33 do this): not negotiated, so a peer that differs drops every packet")


class NqaConfig(Strict):
    """Path health probes: Huawei Cloud's connection monitor (an NQA ICMP test of type gateway,
    Huawei Cloud API) and Alibaba Cloud's VcoHealthCheck (Alibaba Cloud API). An ICMP echo every ``interval``;
    a probe not answered before the next one is lost; ``retries`` lost in a row take the path
    down, the next answer brings it up. Probes between protected subnets travel in the tunnel
    (so they fail when the tunnel is broken even if IKE is fine); gateway-to-gateway probes
    travel outside it."""

    source: IPv4 = Field(description="source address of the probes (Huawei source_ip, Alibaba Sip)")
    destination: IPv4 = Field(description="address probed (Huawei destination_ip, Alibaba Dip)")
    interval: Duration = Field(ge=0.1, description="time between probes (Alibaba Interval, default 3 s); at "
                               "least 100ms")
    retries: int = Field(ge=1, le=100, description="lost probes in a row before the path is down (Alibaba Retry)")
    size: Size = Field(64, ge=28, le=65535, description="ICMP packet size")
    path: Literal["auto", "tunnel", "underlay"] = Field(
        "auto", description="tunnel: inside ESP; underlay: plain between the gateways; auto: tunnel when the "
        "addresses are covered by the protected subnets")
    policy: Literal["none", "revoke_route"] = Field(
        "none", description="revoke_route: withdraw the route to the remote subnets while the check fails (Alibaba)")
    start: Duration = Field(0.0, ge=0, description="when the probes start")


class DpdConfig(Strict):
    """Dead peer detection (RFC 3706 for IKEv1, RFC 7296 2.4 liveness for IKEv2). Local, not
    negotiated: the two sides may differ. ``delay: 0`` turns it off (strongSwan dpd_delay)."""

    delay: OffOrAtLeastOneSecond = Field(0.0, description="idle time before probing (strongSwan dpd_delay, "
                                         "Huawei dpd.interval / idle-time); 0 = off, else at least 1s")
    mode: Literal["periodic", "on-demand"] = Field(
        "periodic", description="probe whenever idle, or only when there is outbound traffic and "
        "nothing came in (RFC 3706 worry metric)")
    action: Literal["clear", "hold", "trap", "restart", "none"] = Field(
        "clear", description="on a dead peer: delete the SAs (clear), delete and renegotiate on traffic "
        "(hold/trap), renegotiate at once (restart), or only report it (none)")
    ikev1_style: Literal["retry", "timeout"] = Field(
        "retry", description="IKEv1: a new R-U-THERE every retry_interval up to retries (retry), or one "
        "every delay, dead when timeout passes in silence (timeout, strongSwan)")
    ikev2_schedule: Literal["retransmit", "dpd"] = Field(
        "retransmit", description="IKEv2: the liveness INFORMATIONAL is retransmitted on the normal IKE "
        "schedule (retransmit) or every retry_interval, retries times (dpd)")
    retry_interval: Duration = Field(15.0, ge=0.1, description="wait for an answer before the next probe "
                                     "(Huawei dpd.timeout / retransmit-interval); at least 100ms")
    retries: int = Field(3, ge=1, le=100, description="probes before giving up (see count)")
    count: Literal["probes", "retransmissions"] = Field(
        "probes", description="retries counts all probes, or the retransmissions after the first probe")
    timeout: Duration | None = Field(None, ge=0.1, description="IKEv1 timeout style: silence after which the "
                                     "peer is dead; default: the IKE retransmission give-up time; at least 100ms")
    gave_up_deletes: bool = Field(
        False, description="a liveness check that gives up deletes the IKE SA whatever the action, so none acts "
        "as clear (strongSwan); false: none keeps the SAs and DPD goes on probing")
    esp_resets_idle: bool | Literal["udp-encap"] = Field(
        True, description="inbound ESP counts as a sign of life (udp-encap: only UDP-encapsulated ESP)")
    msg_order: Literal["seq-hash-notify", "seq-notify-hash"] = Field(
        "seq-hash-notify", description="IKEv1 payload order in DPD messages; both ends must match")
    ack_seq: Literal["echo", "stale"] = Field(
        "echo", description="IKEv1: the sequence number this side puts in its R-U-THERE-ACK: the one of the "
        "R-U-THERE it answers (echo, RFC 3706 7) or, modelling a faulty peer, the one of the first R-U-THERE it "
        "answered on the ISAKMP SA (stale); applies with DPD on or off")


_PEER_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class ImportSpec(Strict):
    file: str = Field(description="vendor JSON file, relative to the scenario file")
    vendor: Literal["huawei", "alibaba"] | None = Field(None, description="default: detected from the content")
    tunnel: int | None = Field(None, description="Alibaba dual-tunnel connections: the TunnelIndex to import")


class PeerConfig(Strict):
    import_: str | ImportSpec | None = Field(
        None, alias="import", description="a Huawei Cloud vpn_connection or Alibaba Cloud DescribeVpnConnection "
        "JSON supplying this peer's settings; keys given here override it")
    profile: str = Field("strongswan", description="vendor profile supplying every value not set here")
    address: IPv4 = Field(description="the peer's public (IKE) address")
    remote_address: IPv4 | None = Field(None, description="address this peer negotiates with; "
                                        "default: the address of its remote_peer")
    remote_peer: str | None = Field(None, description="the peer at the other end of this peer's tunnel (required "
                                    "with more than two peers; default: the other peer); the two must name each "
                                    "other (config/topology.py)")
    local_subnets: list[Cidr] = Field(min_length=1, description="subnets behind this peer")
    remote_subnets: list[Cidr] = Field(min_length=1, description="subnets behind the other peer")
    start: Literal["initiate", "on-traffic", "respond"] = Field(
        "initiate", description="initiate at t=0, wait for traffic, or only respond")
    ike: IkeConfig
    child: ChildConfig = Field(default_factory=ChildConfig)
    retransmit: RetransmitConfig = Field(default_factory=RetransmitConfig)
    dpd: DpdConfig = Field(default_factory=DpdConfig)
    nqa: NqaConfig | None = Field(None, description="path health probes (Huawei connection monitor / Alibaba "
                                  "VcoHealthCheck)")
    bgp: BgpConfig | None = Field(None, description="a BGP session over this tunnel (route-based VPN, docs/bgp.md)")
    keyingtries: int = Field(1, ge=0, description="attempts to set up the IKE SA; 0 = forever")
    acquire_queue: int = Field(0, ge=0, le=10000, description="packets held while a traffic-triggered "
                               "negotiation runs (0: dropped, as Linux with xfrm_larval_drop=1)")
    policy_trap: bool = Field(False, description="policy-based (crypto map, IPsec policy, strongSwan start_action="
                              "trap): traffic matching the policy that finds no SA negotiates one, also after an "
                              "SA expired or was deleted; start: on-traffic implies it")
    nat_traversal: bool = Field(True, description="detect NATs (NAT-D) and, behind one, move IKE to UDP 4500 and "
                                "put ESP in UDP (RFC 7296 2.23, RFC 3947, RFC 3948); Alibaba EnableNatTraversal")
    encap: bool = Field(False, description="IKEv2: force UDP encapsulation by faking the NAT detection source "
                        "hash, so the peer sees a NAT and IKE moves to UDP 4500 and ESP into UDP (strongSwan "
                        "swanctl.conf encap = yes; kernel-libipsec forces it); needs nat_traversal")
    nat_keepalive: OffOrAtLeastOneSecond = Field(20.0, description="behind a NAT: send a NAT-keepalive after this "
                                                 "long without sending anything (RFC 3948 2.3; strongSwan keep_alive "
                                                 "20 s); 0 = off, else at least 1s")
    timers: Literal["exact", "strongswan", "libreswan"] = Field(
        "exact", description="vendor timer arithmetic (docs/timing.md): exact (continuous jitter, DPD after "
        "dpd_delay idle), strongswan or libreswan (their source code's whole-second rules); set by the profile")
    cpu: CpuConfig | Literal["none"] = Field(
        "none", description="processing time before the gateway acts on a message: none (instantaneous; the "
        "strongswan and libreswan profiles set their measured tables) or {costs, workers, scale, jitter, "
        "message, keygen, secret, prf, auth, install, policy} (docs/cpu.md)")


FaultKind = Literal["freeze", "unfreeze", "crash", "restart", "link_down", "link_up", "loss", "delay",
                    "reconfigure", "recreate", "address"]
_NEEDS_PEER = {"freeze", "unfreeze", "crash", "restart", "reconfigure", "recreate", "address"}
_UNDOABLE = {"freeze", "crash", "link_down", "loss", "delay"}
_DIRECTION = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*->\s*([A-Za-z0-9_.-]+)\s*$")


_FIXED_FOR_RUN = {
    "profile": "the profile; set the values themselves",
    "address": "the gateway's own address; use a fault of kind address (its packets then leave from the new "
               "address)",
    "remote_peer": "remote_peer (tunnels are fixed for the run); set remote_address to point this peer elsewhere",
}
"""Peer keys a reconfigure / recreate fault's ``set`` cannot change, in the order they are checked."""


class FaultConfig(Strict):
    """One scheduled fault. Kinds: ``freeze`` / ``unfreeze`` a peer (process stops, state kept),
    ``crash`` (state lost, silent) and ``restart`` (boots with fresh state), ``link_down`` /
    ``link_up``, ``loss`` and ``delay`` windows (optionally one-way: ``direction: A->B``),
    ``reconfigure`` (a one-sided change of a peer's settings, e.g. its PSK, while in use),
    ``recreate`` (the connection is deleted and created again, optionally with other settings:
    its SAs are deleted with Delete notifications and it starts over) and ``address`` (the
    peer's packets leave from another address: a multi-exit link switch)."""

    at: Duration = Field(description="simulated time of the fault")
    kind: FaultKind
    peer: str | None = Field(None, description="the peer affected")
    duration: Duration | None = Field(None, gt=0, description="undo the fault after this long")
    direction: str | None = Field(None, description="loss/delay/link_down faults: 'A->B' for one way; "
                                  "default both")
    between: list[str] | None = Field(None, min_length=2, max_length=2, description="loss/delay/link_down/"
                                      "link_up faults: only the path between these two peers, both ways "
                                      "(e.g. one tunnel of two); default: every path")
    protocol: Literal["all", "ike", "esp"] = Field(
        "all", description="loss/delay/link_down faults: only IKE (UDP 500/4500) or only ESP (e.g. an ISP that "
        "filters IP protocol 50); default all")
    loss: Loss | None = Field(None, description="loss fault: probability or gilbert-elliott model")
    delay: Duration | None = Field(None, description="delay fault: one-way delay during the window")
    jitter: Duration | None = Field(None, description="delay fault: jitter during the window")
    set: dict[str, Any] | None = Field(None, description="reconfigure (recreate, optionally): the peer keys "
                                       "that change, e.g. {ike: {psk: new-secret}}")
    address: IPv4 | None = Field(None, description="address fault: the new source address")
    inbound: Literal["drop", "queue"] | None = Field(
        None, description="freeze fault: what happens to IKE datagrams reaching the frozen peer: drop (the "
        "default: a hung box or a dead NIC, nothing is received) or queue (a stopped process, SIGSTOP: its "
        "kernel keeps the sockets and queues what arrives up to the socket receive buffer, and the daemon "
        "handles it when thawed)")
    receive_buffer: Size | None = Field(
        None, gt=0, description="freeze fault with inbound: queue: each UDP socket's receive buffer in bytes "
        "(default 212992, Linux net.core.rmem_default); a datagram is charged 1280 bytes (docs/events.md)")

    @model_validator(mode="after")
    def _fields_for_kind(self) -> FaultConfig:
        self._check_needs()
        self._check_path_fields()
        self._check_set()
        return self

    def _check_needs(self) -> None:
        """The fields the kind needs, and duration only for faults that can be undone."""
        k = self.kind
        if self.inbound is not None and k != "freeze":
            raise ValueError(f"'inbound' applies to freeze faults, not {k}")
        if self.receive_buffer is not None and not (k == "freeze" and self.inbound == "queue"):
            raise ValueError("'receive_buffer' applies to freeze faults with inbound: queue")
        if k in _NEEDS_PEER and not self.peer:
            raise ValueError(f"fault kind {k} needs 'peer'")
        if self.duration is not None and k not in _UNDOABLE:
            raise ValueError(f"fault kind {k} takes no 'duration' (allowed for {', '.join(sorted(_UNDOABLE))})")
        needs = {"loss": "loss", "reconfigure": "set", "address": "address"}
        if k in needs and getattr(self, needs[k]) is None:
            raise ValueError(f"fault kind {k} needs '{needs[k]}'")
        if k == "delay" and self.delay is None and self.jitter is None:
            raise ValueError("fault kind delay needs 'delay' and/or 'jitter'")

    def _check_path_fields(self) -> None:
        """direction, between and protocol: the link faults' choice of path and packets."""
        k = self.kind
        if self.direction is not None:
            if k not in ("loss", "delay", "link_down"):
                raise ValueError(f"'direction' applies to loss, delay and link_down faults, not {k}")
            if not _DIRECTION.match(self.direction):
                raise ValueError(f"direction {shown(self.direction)} must look like 'A->B'")
        if self.between is not None:
            if k not in ("loss", "delay", "link_down", "link_up"):
                raise ValueError(f"'between' applies to loss, delay, link_down and link_up faults, not {k}")
            if self.direction is not None:
                raise ValueError("give either 'direction' (one way) or 'between' (both ways), not both")
            if self.between[0] == self.between[1]:
                raise ValueError(f"'between' names two different peers, got {shown(self.between[0])} twice")
        if self.protocol != "all" and k not in ("loss", "delay", "link_down"):
            raise ValueError(f"'protocol' applies to loss, delay and link_down faults, not {k}")

    def _check_set(self) -> None:
        """set: reconfigure and recreate faults only, and never the keys fixed for the run."""
        k = self.kind
        if self.set is None:
            return
        if k not in ("reconfigure", "recreate"):
            raise ValueError(f"'set' applies to reconfigure and recreate faults, not {k}")
        for key, why in _FIXED_FOR_RUN.items():
            if key in self.set:
                raise ValueError(f"a {k} fault cannot change {why}")

    @property
    def ends(self) -> tuple[str, str] | None:
        m = _DIRECTION.match(self.direction) if self.direction else None
        return (m.group(1), m.group(2)) if m else None

    @property
    def pair(self) -> frozenset[str] | None:
        """The two peers of a ``between`` fault (the path between them, both ways)."""
        return frozenset(self.between) if self.between else None


class TrafficConfig(Strict):
    """Traffic between the protected subnets (sim/traffic.py). ``ping``: ICMP echo requests every
    ``interval`` (each answered by the far host); ``bulk``: a constant-rate fluid flow from
    ``start`` to ``stop``; ``burst``: ``rate`` for ``length`` (or until ``bytes`` are sent) every
    ``every``."""

    name: str | None = Field(None, description="flow name in events; default: kind-N")
    kind: Literal["ping", "bulk", "burst"]
    source: str = Field(alias="from", description="peer whose protected subnet sends")
    to: str = Field(description="peer whose protected subnet receives")
    src: IPv4 | None = Field(None, description="sending host; default: first host of the sender's first local subnet")
    dst: IPv4 | None = Field(None, description="receiving host; default: first host of the receiver's first "
                             "local subnet")
    start: Duration = Field(0.0, description="when the flow starts")
    stop: Duration | None = Field(None, description="when it stops; default: the end of the run")
    interval: Duration = Field(1.0, ge=0.01, description="ping: time between echo requests; at least 10ms "
                               "(iputils ping(8) allows 2 ms and less only to the super-user)")
    size: Size = Field(84, ge=28, le=65535, description="ping: IP packet size (84 B = 20 IP + 8 ICMP + 56 data)")
    rate: Rate | None = Field(None, gt=0, description="bulk/burst: offered rate, e.g. 1Gbit/s")
    packet_size: Size = Field(1400, ge=28, le=65535, description="bulk/burst: IP packet size for packet counts")
    every: Duration | None = Field(None, ge=0.1, description="burst: period; at least 100ms")
    length: Duration | None = Field(None, gt=0, description="burst: how long each burst lasts")
    bytes: Size | None = Field(None, gt=0, description="burst: volume of each burst (instead of length)")
    df: bool | None = Field(None, description="Don't Fragment bit of the inner packets, copied to the ESP packet "
                            "(RFC 4301 8.1); default: true for bulk and burst (TCP with path MTU discovery), false "
                            "for ping (as Windows ping sends it; Linux iputils ping sets DF by default: give true)")

    @property
    def dont_fragment(self) -> bool:
        """The DF bit of this flow's packets (``df``, or its default by kind)."""
        return self.df if self.df is not None else self.kind != "ping"

    @model_validator(mode="after")
    def _kind_fields(self) -> TrafficConfig:
        if self.kind in ("bulk", "burst") and self.rate is None:
            raise ValueError(f"traffic kind {self.kind} needs 'rate' (e.g. 1Gbit/s)")
        if self.kind == "burst":
            if self.every is None:
                raise ValueError("traffic kind burst needs 'every' (the period)")
            if (self.length is None) == (self.bytes is None):
                raise ValueError("traffic kind burst needs exactly one of 'length' and 'bytes'")
            assert self.rate is not None
            on = self.length if self.length is not None else (self.bytes or 0) * 8 / self.rate
            if on >= self.every:
                raise ValueError(f"a burst lasts {on:g}s, not shorter than its period every={self.every:g}s")
        if self.stop is not None and self.stop <= self.start:
            raise ValueError(f"traffic stops ({self.stop:g}s) before it starts ({self.start:g}s)")
        return self


_NAME = re.compile(r"^[\w.\- ]{1,64}$")


class ScenarioConfig(Strict):
    name: str = Field(description="1-64 characters: letters, digits, _ - . and spaces")
    description: str = ""
    seed: int = Field(1, ge=0, le=2**64 - 1, description="seed of every random stream")
    duration: Duration = Field(gt=0, description="simulated time to run")
    peers: dict[str, PeerConfig] = Field(description="two peers, or more in pairs (remote_peer); the names are free")
    trace: TraceConfig | None = Field(None, description="packet trace: pcap and keys for Wireshark")
    link: LinkConfig = Field(default_factory=LinkConfig)
    faults: list[FaultConfig] = Field(default_factory=list)
    expect: list[Expectation] = Field(default_factory=list, description="what the run must show; checked by "
                                      "`ipsecsim check` (docs/expectations.md)")
    traffic: list[TrafficConfig] = Field(default_factory=list, description="traffic between the protected subnets")
    ha: list[HaGroupConfig] = Field(default_factory=list, description="HA groups: redundant tunnels used in "
                                    "preference order (config/ha.py)")
    sweep: SweepConfig | None = Field(None, description="`ipsecsim sweep`: settings to vary and runs per "
                                      "setting (config/sweep.py, docs/sweep.md); ignored by run and check")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"name must be 1-64 characters of letters, digits, _ - . or space, got {shown(v)}")
        return v

    @field_validator("peers")
    @classmethod
    def _two(cls, v: dict[str, PeerConfig]) -> dict[str, PeerConfig]:
        if len(v) < 2:
            raise ValueError(f"a scenario needs at least two peers (the two ends of a tunnel), got {len(v)} "
                             f"({', '.join(v) or 'none'})")
        for name in v:
            if not _PEER_NAME.match(name):
                raise ValueError(f"peer name {shown(name)} must be 1-32 characters of letters, digits, _ . -")
        return v

    @model_validator(mode="after")
    def _expect_peers(self) -> ScenarioConfig:
        groups = [g.name for g in self.ha]
        for i, e in enumerate(self.expect):
            for key, name in e.peers_named():
                if name not in self.peers and not (key == "peer" and (name == "link" or name in groups)):
                    extra = (", an HA group" if groups else "") + " or link" if key == "peer" else ""
                    raise ValueError(f"expect[{i}].{key}: {shown(name)} is not a peer of this scenario "
                                     f"(peers: {', '.join(self.peers)}{extra})")
        return self


def traffic_problems(cfg: ScenarioConfig) -> list[tuple[str, str]]:
    """(field path, message) for traffic that does not fit the peers: unknown peers or groups,
    ends no tunnel joins, hosts outside the protected subnets, duplicate flow names
    (config/topology.py)."""
    from .topology import members, traffic_route_problems
    names = list(cfg.peers)
    groups = [g.name for g in cfg.ha]
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for i, t in enumerate(cfg.traffic):
        for key, who in (("from", t.source), ("to", t.to)):
            if who not in cfg.peers and who not in groups:
                known = f"peers: {', '.join(names)}" + (f"; HA groups: {', '.join(groups)}" if groups else "")
                out.append((f"traffic[{i}].{key}", f"unknown peer {shown(who)}; {known}"))
        if out:
            return out
        if t.source == t.to:
            out.append((f"traffic[{i}].to", f"traffic goes from {t.source} to itself"))
            return out
        src = t.src or _first_host(cfg.peers[members(cfg, t.source)[0]].local_subnets[0])
        dst = t.dst or _first_host(cfg.peers[members(cfg, t.to)[0]].local_subnets[0])
        out += traffic_route_problems(cfg, i, t, src, dst)
        name = t.name or f"{t.kind}-{i + 1}"
        if name in seen:
            out.append((f"traffic[{i}].name", f"two flows are named {shown(name)}"))
        seen.add(name)
    return out


def _first_host(subnet: str) -> str:
    net = ipaddress.IPv4Network(subnet)
    return str(net.network_address + 1) if net.prefixlen < 31 else str(net.network_address)
