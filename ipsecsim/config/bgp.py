"""A peer's BGP session over its tunnel (``bgp:``): route-based VPN with dynamic routing.

    peers:
      cloud-1:
        bgp: {local_address: 169.254.10.1, peer_address: 169.254.10.2, asn: 65530, peer_asn: 65531,
              tunnel_cidr: 169.254.10.0/30}

The session runs between the tunnel's inner addresses (Huawei Cloud ``tunnel_local_address`` /
``tunnel_peer_address``; Alibaba Cloud ``LocalBgpIp`` / ``PeerBgpIp`` in ``VpnBgpConfig`` or a
tunnel's ``TunnelBgpConfig``), inside the tunnel: the peer's traffic selectors must cover them
or the session never comes up. Values not set here come from the ``bgp:`` section of the
peer's vendor profile (hold time, keepalive, what the tunnel interface does when its IPsec SA
goes, each with its source), then from RFC 4271's suggestions. Both ends of a tunnel need a
``bgp:`` section and the addresses must mirror each other; the AS numbers need not (a wrong
one is the OPEN error 2/2 Bad Peer AS at run time).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from ..proto.bgp.bfd import BfdSettings
from ..proto.bgp.session import SessionSettings
from ..spec import BgpSpec as Resolved
from . import profiles
from .units import DURATION_HELP, parse_duration

if TYPE_CHECKING:
    from .model import PeerConfig, ScenarioConfig

Seconds = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(
    {"anyOf": [{"type": "number", "minimum": 0},
               {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?\s*(ms|sec|min|s|m|h|d|w))+\s*$"}],
     "description": DURATION_HELP})]
SaDown = Literal["teardown", "hold_timer"]

RFC_DEFAULTS: dict[str, Any] = {"hold_time": 90.0, "keepalive": None, "connect_retry": 120.0, "sa_down": "hold_timer",
                                "idle_hold": 5.0}
"""Used when neither the peer nor its profile sets a value: RFC 4271 10 suggests a hold time
of 90 s, a keepalive of a third of it and a ConnectRetryTime of 120 s; an interface that stays
up when its SA goes (the hold timer decides) is the case RFC 4271 describes. ``idle_hold``
5 s is an assumption (RFC 4271 8.1.1 leaves the IdleHoldTime to the implementation): a
session refused with a NOTIFICATION tries again every 5 s instead of at once."""


def _ip(v: Any) -> str:
    try:
        return str(ipaddress.IPv4Address(str(v).strip()))
    except ValueError:
        raise ValueError(f"invalid IPv4 address {v!r} (e.g. 169.254.10.1)") from None


def _net(v: Any) -> str:
    try:
        return str(ipaddress.IPv4Network(str(v).strip()))
    except ValueError as e:
        raise ValueError(f"invalid CIDR {v!r}: {e} (e.g. 169.254.10.0/30)") from None


Ip = Annotated[str, BeforeValidator(_ip)]
Net = Annotated[str, BeforeValidator(_net)]
Asn = Annotated[int, Field(ge=1, le=4294967295)]


class BfdConfig(BaseModel):
    """BFD for the session (RFC 5880 asynchronous mode, RFC 5881 single hop), as Cisco's
    ``bfd interval X min_rx X multiplier N`` with ``neighbor ... fall-over bfd``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interval: Seconds = Field(ge=0.01, le=60, description="Desired Min TX and Required Min RX Interval once the "
                              "BFD session is Up (10ms to 60s); while it is not Up packets leave every second at "
                              "the fastest (RFC 5880 6.8.3)")
    multiplier: int = Field(3, ge=1, le=255, description="Detect Mult: the neighbor declares the session down after "
                            "this many intervals without a packet (RFC 5880 6.8.4)")


class BgpConfig(BaseModel):
    """One BGP session over the peer's tunnel (RFC 4271), see the module docstring."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    local_address: Ip = Field(description="this end's tunnel inner address (Huawei tunnel_local_address, Alibaba "
                              "LocalBgpIp)")
    peer_address: Ip = Field(description="the other end's tunnel inner address (Huawei tunnel_peer_address, "
                             "Alibaba PeerBgpIp)")
    asn: Asn = Field(description="this end's AS number (Alibaba LocalAsn)")
    peer_asn: Asn = Field(description="the AS number this end expects in the other's OPEN (Alibaba PeerAsn)")
    tunnel_cidr: Net | None = Field(None, description="the /30 both addresses lie in (Alibaba TunnelCidr)")
    router_id: Ip | None = Field(None, description="BGP Identifier; default: local_address")
    hold_time: Seconds | None = Field(None, description="proposed hold time (0, or 3 s to 65535 s); default: the "
                                      "profile's, else 90 s")
    keepalive: Seconds | None = Field(None, gt=0, description="keepalive interval; at most a third of the "
                                      "negotiated hold time; default: the profile's, else hold time / 3")
    connect_retry: Seconds | None = Field(None, gt=0, description="ConnectRetryTimer; default: the profile's, else "
                                          "120 s (RFC 4271 10)")
    passive: bool | None = Field(None, description="only accept the TCP connection; default: true when start is "
                                 "respond. Exactly one end of a session connects")
    advertise: list[Net] | None = Field(None, description="prefixes announced to the peer; default: the local "
                                        "subnets that do not contain local_address")
    local_preference: int | None = Field(None, ge=0, le=4294967295, description="LOCAL_PREF of the routes learned "
                                         "on this tunnel; default: by its place in an active-standby HA group "
                                         "(first 200, next 100 ...), else 100")
    as_path_prepend: int = Field(0, ge=0, le=10, description="extra copies of the own AS in announced AS_PATHs")
    med: int | None = Field(None, ge=0, le=4294967295, description="MULTI_EXIT_DISC on announced routes")
    sa_down: SaDown | None = Field(None, description="when the tunnel's IPsec SA goes (DPD, expiry, delete): "
                                   "teardown (the tunnel interface goes down and the session with it at once) or "
                                   "hold_timer (the interface stays up; the hold timer notices); default: the "
                                   "profile's")
    idle_hold: Seconds | None = Field(None, ge=0, description="wait in Idle before starting again after the "
                                      "session fell; default: the profile's, else 5 s (assumption)")
    bfd: BfdConfig | None = Field(None, description="BFD with the neighbor (RFC 5880): {interval, multiplier}; "
                                  "when an Up BFD session goes down, the BGP session is torn down at once")
    auth_key: str | None = Field(None, min_length=1, description="TCP MD5 key (RFC 2385; Alibaba AuthKey); the "
                                 "two ends must agree or no segment is accepted")

    @model_validator(mode="after")
    def _check(self) -> BgpConfig:
        if self.local_address == self.peer_address:
            raise ValueError(f"local_address and peer_address are both {self.local_address}")
        if self.hold_time is not None and (self.hold_time in (1, 2) or not 0 <= self.hold_time <= 65535
                                           or self.hold_time != int(self.hold_time)):
            raise ValueError(f"hold_time {self.hold_time:g} s: allowed 0 or whole seconds from 3 to 65535 "
                             f"(RFC 4271 4.2)")
        if self.tunnel_cidr is not None:
            net = ipaddress.IPv4Network(self.tunnel_cidr)
            if net.prefixlen != 30:
                raise ValueError(f"tunnel_cidr {self.tunnel_cidr} must be a /30 (Alibaba TunnelCidr)")
            hosts = {str(h) for h in net.hosts()}
            for key in ("local_address", "peer_address"):
                if getattr(self, key) not in hosts:
                    raise ValueError(f"{key} {getattr(self, key)} is not a host address of tunnel_cidr "
                                     f"{self.tunnel_cidr} (allowed: {', '.join(sorted(hosts))})")
        return self


def profile_defaults(profile: str) -> dict[str, tuple[Any, str]]:
    """The ``bgp:`` section of a vendor profile: key -> (value, source text)."""
    p = profiles.load(profile)
    out: dict[str, tuple[Any, str]] = {}
    for key, spec in (p.extra.get("bgp") or {}).items():
        value = spec["value"]
        if key in ("hold_time", "keepalive", "connect_retry", "idle_hold") and value is not None:
            value = parse_duration(value)
        out[key] = (value, p.source_text(spec.get("source", "")) + (" (assumption)" if spec.get("assumption") else ""))
    return out


def resolve(name: str, peer: PeerConfig, iss_port: int = 49152, discriminator: int = 1) -> Resolved:
    b = peer.bgp
    assert b is not None
    prof = profile_defaults(peer.profile)
    sources: dict[str, str] = {}

    def pick(key: str) -> Any:
        own = getattr(b, key)
        if own is not None:
            sources[key] = "scenario"
            return own
        if key in prof:
            sources[key] = prof[key][1]
            return prof[key][0]
        sources[key] = "RFC 4271 10 (suggested value)" if key in ("hold_time", "connect_retry") else "default"
        return RFC_DEFAULTS[key]

    hold = pick("hold_time")
    keepalive = pick("keepalive")
    if keepalive is None:
        keepalive = hold / 3 if hold else 60.0
    advertise = b.advertise
    if advertise is None:
        addr = ipaddress.IPv4Address(b.local_address)
        advertise = [s for s in peer.local_subnets if addr not in ipaddress.IPv4Network(s)]
    passive = b.passive if b.passive is not None else peer.start == "respond"
    session = SessionSettings(
        name=name, local_ip=b.local_address, peer_ip=b.peer_address, local_asn=b.asn, peer_asn=b.peer_asn,
        router_id=b.router_id or b.local_address, hold_time=int(hold), keepalive=float(keepalive),
        connect_retry=float(pick("connect_retry")), passive=passive, advertise=tuple(advertise),
        as_path_prepend=b.as_path_prepend, med=b.med, idle_hold=float(pick("idle_hold")), auth_key=b.auth_key,
        local_port=iss_port)
    bfd = BfdSettings(b.bfd.interval, b.bfd.multiplier, discriminator) if b.bfd is not None else None
    return Resolved(session, pick("sa_down"), b.local_preference, sources, bfd)


def bgp_problems(cfg: ScenarioConfig) -> list[tuple[str, str]]:
    """(field path, message) for BGP sessions whose two ends do not fit together."""
    from .topology import partner_map
    part = partner_map(cfg.peers)
    for name, peer in cfg.peers.items():
        b = peer.bgp
        if b is None:
            continue
        other = part.get(name)
        where = f"peers.{name}.bgp"
        if other is None:
            continue
        ob = cfg.peers[other].bgp
        if ob is None:
            return [(where, f"the other end of this tunnel, {other}, has no bgp section (peers.{other}.bgp); a BGP "
                     f"session needs both ends")]
        if ob.local_address != b.peer_address or ob.peer_address != b.local_address:
            return [(f"{where}.peer_address", f"{b.peer_address} does not match peers.{other}.bgp.local_address "
                     f"{ob.local_address} (and {other}'s peer_address {ob.peer_address} must be this end's "
                     f"local_address {b.local_address})")]
        own_passive = b.passive if b.passive is not None else peer.start == "respond"
        other_passive = ob.passive if ob.passive is not None else cfg.peers[other].start == "respond"
        if own_passive == other_passive and list(cfg.peers).index(name) < list(cfg.peers).index(other):
            both = "passive" if own_passive else "active"
            return [(f"{where}.passive", f"both ends of the session with {other} are {both}; exactly one end "
                     f"connects (set passive: true on one of them)")]
    for i, g in enumerate(cfg.ha):
        with_bgp = [m for m in g.members if cfg.peers[m].bgp is not None]
        if with_bgp and len(with_bgp) != len(g.members):
            lacking = next(m for m in g.members if cfg.peers[m].bgp is None)
            return [(f"ha[{i}].members", f"{with_bgp[0]} routes by BGP but {lacking} has no bgp section; the members "
                     f"of a group route all by BGP or none")]
    return []
