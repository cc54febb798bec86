"""A peer's effective configuration as the protocol core sees it: plain frozen values.

``ipsecsim.config`` validates scenario files and vendor profiles and builds these; the core
never sees YAML, pydantic or unit strings.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import ClassVar

from .cpu import CpuCosts
from .dpd import DpdSettings
from .lifetime import Lifetime
from .proposals import Proposal
from .retransmit import RetransmitSchedule
from .ts import TrafficSelector


@dataclass(frozen=True, slots=True)
class Identity:
    """An IKE identity (RFC 7296 3.5): ``ipv4`` 10.0.0.1, ``fqdn`` vpn.example.com,
    ``email`` user@example.com, ``keyid`` opaque string."""

    kind: str
    value: str

    ID_TYPES: ClassVar[dict[str, int]] = {"ipv4": 1, "fqdn": 2, "email": 3, "keyid": 11}

    @classmethod
    def parse(cls, text: str) -> Identity:
        t = text.strip()
        if t.startswith("@#"):
            return cls("keyid", t[2:])
        if t.startswith("@"):
            return cls("fqdn", t[1:])
        try:
            ipaddress.IPv4Address(t)
            return cls("ipv4", t)
        except ValueError:
            pass
        return cls("email", t) if "@" in t else cls("fqdn", t)

    @property
    def id_type(self) -> int:
        return self.ID_TYPES[self.kind]

    @property
    def data(self) -> bytes:
        if self.kind == "ipv4":
            return ipaddress.IPv4Address(self.value).packed
        return self.value.encode()

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class IkeSettings:
    version: int = 2
    mode: str = "main"  # IKEv1 phase 1: main | aggressive
    proposals: tuple[Proposal, ...] = ()
    psk: bytes = b""
    local_id: Identity | None = None  # None: the local address
    remote_id: Identity | None = None  # None: accept any identity the PSK authenticates
    nonce_bytes: int = 32
    half_open_timeout: float = 30.0
    initial_contact: bool = True
    life_time: float | None = None  # hard lifetime of the IKE SA, seconds
    lifetime_policy: str = "obey"  # IKEv1 responder: obey | claim | strict | exact
    accept_responder_lifetime: bool = True  # IKEv1 initiator adopts a RESPONDER-LIFETIME notify
    lifetime: Lifetime = field(default_factory=Lifetime)  # soft and hard limits (time only)
    rekey_handover: str = "inline"  # IKEv2: exchanges moved to a rekeyed SA start inline | job (after this message)


@dataclass(frozen=True, slots=True)
class ChildSettings:
    proposals: tuple[Proposal, ...] = ()
    local_ts: tuple[TrafficSelector, ...] = ()
    remote_ts: tuple[TrafficSelector, ...] = ()
    ts_policy: str = "narrow"  # narrow (RFC 7296 2.9) | exact (mirror images required)
    mode: str = "tunnel"
    life_time: float | None = None  # hard lifetime, seconds
    life_bytes: int | None = None
    life_packets: int | None = None
    lifetime: Lifetime = field(default_factory=Lifetime)  # soft and hard limits, every dimension
    delete_rekeyed_delay: float = 5.0  # inbound SA of a rekeyed CHILD SA kept this long
    sha256_96: bool = False  # ESP HMAC-SHA-256 truncated to 96 bits, not 128 (RFC 4868 2.3); proto.esp_size


@dataclass(frozen=True, slots=True)
class PeerSettings:
    name: str
    address: str
    remote_address: str
    start: str = "initiate"  # initiate | on-traffic | respond
    port: int = 500
    remote_port: int = 500
    ike: IkeSettings = field(default_factory=IkeSettings)
    child: ChildSettings = field(default_factory=ChildSettings)
    retransmit: RetransmitSchedule = field(default_factory=RetransmitSchedule)
    keyingtries: int = 1  # 0 = forever (strongSwan swanctl.conf keyingtries)
    dpd: DpdSettings | None = None  # None: no DPD on this side
    dpd_msg_order: str = "seq-hash-notify"  # IKEv1 DPD payload order
    dpd_ack_seq: str = "echo"  # IKEv1: echo | stale (sequence number put in R-U-THERE-ACK)
    profile: str = ""
    acquire_queue: int = 0  # packets held while a traffic-triggered negotiation runs
    policy_trap: bool = False
    """Policy-based (a crypto map / trap policy): traffic without an SA triggers an ACQUIRE at any
    time, also after an SA expired (``proto.traffic``); ``start: on-traffic`` implies it."""
    nqa_source: int | None = None  # the health check's probe source (its probes bypass a revoked route)
    nat_traversal: bool = True  # NAT-D, float to 4500, ESP in UDP (RFC 7296 2.23, RFC 3947, RFC 3948)
    encap: bool = False  # IKEv2: fake the NAT-D source hash to force UDP encapsulation (strongSwan encap = yes)
    nat_keepalive: float = 20.0  # seconds without sending before a NAT-keepalive (RFC 3948 2.3); 0 = off
    cpu: CpuCosts | None = None  # processing time (proto.cpu); None: instantaneous
    timers: str = "exact"  # vendor timer arithmetic (proto.timers): exact | strongswan | libreswan

    @property
    def local_identity(self) -> Identity:
        return self.ike.local_id or Identity("ipv4", self.address)
