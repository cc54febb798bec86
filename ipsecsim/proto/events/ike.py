"""Typed events of the IKE cores: messages, security associations, NAT traversal of an IKE
SA, lifetimes and rekeying, dead peer detection (docs/events.md is generated from these).

The docstring of a class says when the event happens; the docstring under a field says
what it carries. Field order is the order of the record (and of the JSONL line).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .record import ABSENT, FLATTEN, EventKind, SaEvent, Values
from .values import EXCHANGES, LOSS_REASONS, NOTIFY_NAMES

MESSAGES, SAS, NAT_T, LIFETIMES, DPD = ("Messages", "Security associations", "NAT traversal",
                                        "Lifetimes and rekeying", "Dead peer detection")


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageEvent(EventKind):
    """The fields of an IKE message (``Message.fields()``) and of the datagram carrying it."""

    ike_version: int = ABSENT
    """1 or 2."""
    exchange: str = ABSENT
    """the IANA exchange name (`IKE_SA_INIT`, `IKE_AUTH`, `CREATE_CHILD_SA`, `INFORMATIONAL`)."""
    response: bool = ABSENT
    """true for a response."""
    msg_id: int = ABSENT
    """the message id."""
    payloads: list[str] = ABSENT
    """the payloads in strongSwan's notation; of an encrypted message those inside it."""
    spi_i: str = ABSENT
    """the IKE SA's initiator SPI."""
    spi_r: str = ABSENT
    """the IKE SA's responder SPI (zero in the first IKE_SA_INIT request)."""
    retransmit: int = ABSENT
    """0 for the first transmission, n for the n-th retransmission (a responder re-sending its cached response
    counts too)."""
    src: str = ABSENT
    """the sender's address."""
    dst: str = ABSENT
    """the receiver's address."""
    VALUES: ClassVar[Values] = {"exchange": EXCHANGES}


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageSent(MessageEvent):
    """a peer puts an IKE message on the wire"""

    NAME, SECTION = "message_sent", MESSAGES


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageReceived(MessageEvent):
    """a peer accepts a message for processing"""

    NAME, SECTION = "message_received", MESSAGES


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageLost(EventKind):
    """the network, a frozen or a crashed peer drops a datagram, or the NAT (no live mapping for its port); `peer`
    is the sender"""

    NAME, SECTION = "message_lost", MESSAGES
    VALUES: ClassVar[Values] = {"reason": LOSS_REASONS, "exchange": EXCHANGES}
    KEYS = ("message", "ike_version", "exchange", "response", "msg_id", "payloads", "spi_i", "spi_r")

    reason: str
    """`loss`, `link_down`, `peer_frozen`, `peer_down`, `no_route`, `nat_no_mapping`, `socket_buffer_full`."""
    message: Mapping[str, Any] = field(metadata=FLATTEN)
    """the message fields of `message_sent`; a lost NAT-keepalive has `message: NAT-keepalive` instead."""
    retransmit: int = ABSENT
    """as in `message_sent`."""
    src: str = ABSENT
    """the sender's address."""
    dst: str = ABSENT
    """the receiver's address."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageIgnored(EventKind):
    """a peer drops a message it cannot match (unknown IKE SA, unexpected message id or response), or an IKEv2
    response carrying a critical payload of a type it does not know (RFC 7296 2.5; a request gets `N(CRIT)`,
    UNSUPPORTED_CRITICAL_PAYLOAD, instead)"""

    NAME, SECTION = "message_ignored", MESSAGES
    VALUES: ClassVar[Values] = {"exchange": EXCHANGES}
    KEYS = ("expected", "ike_version", "exchange", "response", "msg_id", "payloads", "spi_i", "spi_r",
            "retransmit", "src", "dst")
    NUMERIC_KEYS = ("expected",)

    reason: str
    """why, a sentence."""
    message: Mapping[str, Any] = field(default_factory=dict, metadata=FLATTEN)
    """what is known of the message: the fields of `message_sent` that could be read, and `expected` (the message
    id or DPD sequence number that was expected)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IkeSaEstablished(SaEvent):
    """the IKE SA is authenticated"""

    NAME, SECTION = "ike_sa_established", SAS

    initiator: bool
    """this side initiated the IKE SA."""
    proposal: str
    """the chosen proposal (strongSwan syntax)."""
    local_id: str
    """this side's identity."""
    remote_id: str
    """the peer's identity."""
    mode: str = ABSENT
    """IKEv1: `main` or `aggressive`."""
    life_time: float | None = ABSENT
    """IKEv1: the phase 1 lifetime in use, seconds, or null."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildSaEstablished(SaEvent):
    """a CHILD / IPsec SA pair is installed"""

    NAME, SECTION = "child_sa_established", SAS

    spi_in: str
    """the inbound ESP SPI."""
    spi_out: str
    """the outbound ESP SPI."""
    proposal: str
    """the chosen proposal."""
    local_ts: list[str]
    """this side's traffic selectors."""
    remote_ts: list[str]
    """the peer's traffic selectors."""
    msg_id: int = ABSENT
    """IKEv1: the quick mode's message id."""
    life_time: float | None = ABSENT
    """IKEv1: the lifetime in seconds."""
    life_bytes: int | None = ABSENT
    """IKEv1: the kilobyte lifetime x 1024, or null."""
    pfs: bool = ABSENT
    """IKEv1: a KE exchange took place."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NegotiationFailed(SaEvent):
    """a negotiation fails, at the side that detects it and at the side that is told"""

    NAME, SECTION = "negotiation_failed", SAS
    VALUES: ClassVar[Values] = {"phase": ("ike", "child", "child_rekey", "ike_rekey"), "notify": NOTIFY_NAMES}

    phase: str
    """`ike`, `child`, `child_rekey` (CREATE_CHILD_SA rekeying a CHILD SA) or `ike_rekey`."""
    notify: str | None
    """the IANA notify name, or null."""
    reason: str
    """a sentence."""


@dataclass(frozen=True, slots=True, kw_only=True)
class KeGroupRetry(SaEvent):
    """the responder asked for another DH group (INVALID_KE_PAYLOAD); the initiator retries (in CREATE_CHILD_SA
    with the next message id, the refused exchange being complete)"""

    NAME, SECTION = "ke_group_retry", SAS
    VALUES: ClassVar[Values] = {"exchange": EXCHANGES}

    rejected: int | None
    """the DH group the responder refused."""
    requested: int
    """the DH group it asked for."""
    exchange: str = ABSENT
    """`CREATE_CHILD_SA` when it happened in a rekey or a new CHILD SA."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RetransmitGaveUp(SaEvent):
    """the retransmission schedule is exhausted; the message id is used up: an IKE SA that lives on (DPD action
    `none`) sends its next request with the next id (RFC 7296 2.2)"""

    NAME, SECTION = "retransmit_gave_up", SAS
    VALUES: ClassVar[Values] = {"exchange": EXCHANGES}

    exchange: str | None
    """the exchange of the unanswered request."""
    msg_id: int
    """its message id."""
    transmissions: int
    """how often it was sent."""
    task: str | None
    """the task that sent it (IKEv1: `main_mode`, `aggressive_mode`, `quick_mode`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NegotiationRetry(SaEvent):
    """a failed setup is retried (keyingtries)"""

    NAME, SECTION = "negotiation_retry", SAS

    attempt: int
    """the number of the attempt that starts."""
    keyingtries: int | str
    """the configured number of attempts, or `forever`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IkeSaDeleted(SaEvent):
    """an established IKE SA is gone"""

    NAME, SECTION = "ike_sa_deleted", SAS

    reason: str
    """a deletion reason (below)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildSaDeleted(SaEvent):
    """a CHILD SA is gone"""

    NAME, SECTION = "child_sa_deleted", SAS

    spi_in: str
    """the inbound ESP SPI."""
    spi_out: str
    """the outbound ESP SPI."""
    reason: str
    """a deletion reason (below)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NatDetected(SaEvent):
    """the NAT detection hashes (RFC 7296 2.23) do not match the addresses used"""

    NAME, SECTION = "nat_detected", SAS

    local: bool
    """this side is behind a NAT."""
    remote: bool
    """the peer is behind a NAT."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NatTFloated(SaEvent):
    """NAT traversal: the IKE SA moves to UDP 4500 (the initiator once a NAT is detected, RFC 7296 2.23 / RFC 3947
    4; the responder when the first message arrives on 4500, answering where it came from); its CHILD SAs' ESP
    travels in UDP (RFC 3948)"""

    NAME, SECTION = "nat_t_floated", NAT_T

    local: str
    """this side's `address:port`."""
    remote: str
    """the peer's `address:port`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerAddressUpdated(SaEvent):
    """an authenticated message of the peer behind a NAT came from a new address or port (its NAT mapping expired
    and was made again); this side, not behind a NAT, sends IKE and ESP there from now on (RFC 7296 2.23 dynamic
    address update)"""

    NAME, SECTION = "peer_address_updated", NAT_T

    old: str
    """the peer's previous `address:port`."""
    new: str
    """its new `address:port`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LifetimeNegotiated(SaEvent):
    """IKEv1: the responder accepted a lifetime that differs from its own (obey, claim, strict), or the initiator
    adopted a RESPONDER-LIFETIME"""

    NAME, SECTION = "lifetime_negotiated", LIFETIMES
    VALUES: ClassVar[Values] = {"phase": ("ike", "child"), "policy": (None, "obey", "claim", "strict", "exact")}

    phase: str
    """`ike` or `child`."""
    policy: str | None
    """the responder's `lifetime_policy`, null at the initiator."""
    proposed_time: float | None
    """the lifetime proposed, seconds."""
    configured_time: float | None
    """this side's own lifetime, seconds."""
    life_time: float | None
    """the lifetime in use, seconds or null."""
    proposed_kilobytes: int | None
    """the kilobyte lifetime proposed."""
    configured_kilobytes: int | None
    """this side's own kilobyte lifetime."""
    life_kilobytes: int | None
    """the kilobyte lifetime in use."""
    responder_lifetime: bool
    """a RESPONDER-LIFETIME notify was sent or adopted."""
    reason: str
    """a sentence."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SaExpired(SaEvent):
    """a soft limit starts a rekey; a hard limit deletes the SA (and tells the peer with INFORMATIONAL { D }); at
    an IKE SA's hard limit an exchange still in flight on it is abandoned and the Delete is sent at once,
    retransmitted on the schedule; the SA is gone (`ike_sa_deleted` reason `expired`) when it is answered or
    given up"""

    NAME, SECTION = "sa_expired", LIFETIMES
    VALUES: ClassVar[Values] = {"sa_type": ("child", "ike"), "kind": ("soft", "hard"),
                                "by": ("time", "bytes", "packets")}

    sa_type: str
    """`child` or `ike`."""
    kind: str
    """`soft` or `hard`."""
    by: str
    """`time`, `bytes` or `packets`."""
    spi_in: str = ABSENT
    """a CHILD SA's inbound SPI."""
    spi_out: str = ABSENT
    """a CHILD SA's outbound SPI."""
    limit: float | None
    """seconds after installation, or the byte / packet count of one direction."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildSaRekeyed(SaEvent):
    """outbound traffic moves to the new SA: at the rekey initiator when the CREATE_CHILD_SA response arrives, at
    the responder when the DELETE of the old SA arrives (make-before-break)"""

    NAME, SECTION = "child_sa_rekeyed", LIFETIMES

    old_spi_in: str
    """the old SA's inbound SPI."""
    old_spi_out: str
    """the old SA's outbound SPI."""
    spi_in: str
    """the new SA's inbound SPI."""
    spi_out: str
    """the new SA's outbound SPI."""
    initiator: bool
    """this side started the rekey."""
    proposal: str
    """the new SA's proposal."""
    pfs: str | bool | None
    """the DH group name or null (IKEv1: a KE exchange took place)."""
    bytes_out: int
    """bytes sent on the old SA."""
    bytes_in: int
    """bytes received on the old SA."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IkeSaRekeyed(SaEvent):
    """a new IKE SA was made by CREATE_CHILD_SA (RFC 7296 2.18); the CHILD SAs move to it, message ids restart at 0"""

    NAME, SECTION = "ike_sa_rekeyed", LIFETIMES

    new_spi_i: str
    """the new IKE SA's initiator SPI."""
    new_spi_r: str
    """the new IKE SA's responder SPI."""
    initiator: bool
    """this side started the rekey."""
    proposal: str
    """the new IKE SA's proposal."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RekeyCollision(SaEvent):
    """both peers rekeyed the same SA at once (RFC 7296 2.8.1 / 2.8.2); the SA created with the lowest of the four
    nonces is deleted by its creator"""

    NAME, SECTION = "rekey_collision", LIFETIMES
    VALUES: ClassVar[Values] = {"sa_type": ("child", "ike"), "outcome": ("won", "lost")}

    sa_type: str
    """`child` or `ike`."""
    outcome: str
    """`won`: the peer's SA had the lowest nonce, `lost`: ours did."""
    deleting: dict[str, str]
    """the SPIs of the SA deleted."""
    keeping: dict[str, str]
    """the SPIs of the SA kept."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RekeyRetry(SaEvent):
    """a rekey failed; it is tried again after 30 s minus up to 20 s (strongSwan) until the hard lifetime ends the
    SA"""

    NAME, SECTION = "rekey_retry", LIFETIMES
    VALUES: ClassVar[Values] = {"sa_type": ("child", "ike")}

    sa_type: str
    """`child` or `ike`."""
    spi_in: str = ABSENT
    """a CHILD SA's inbound SPI."""
    spi_out: str = ABSENT
    """a CHILD SA's outbound SPI."""
    retry_in: float
    """seconds until the next try."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DpdProbeSent(SaEvent):
    """a DPD probe leaves: IKEv2 an empty INFORMATIONAL request (`retry` n = its n-th retransmission), IKEv1 an
    R-U-THERE (`retry` n = the n-th further probe of the same round)"""

    NAME, SECTION = "dpd_probe_sent", DPD

    seq: int = ABSENT
    """IKEv1: the R-U-THERE sequence number."""
    msg_id: int = ABSENT
    """IKEv2: the message id of the INFORMATIONAL."""
    retry: int
    """0 for the first probe of a round, then counting."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DpdProbeAcked(SaEvent):
    """the answer arrived (IKEv2 INFORMATIONAL response; IKEv1 R-U-THERE-ACK with the matching sequence number)"""

    NAME, SECTION = "dpd_probe_acked", DPD

    seq: int = ABSENT
    """IKEv1: the sequence number acknowledged."""
    msg_id: int = ABSENT
    """IKEv2: the message id answered."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerDead(SaEvent):
    """DPD declares the peer dead; the SAs are then deleted with reason `dpd` (no DELETE is sent to a dead peer)
    and the action applied"""

    NAME, SECTION = "peer_dead", DPD
    VALUES: ClassVar[Values] = {"action": ("clear", "hold", "trap", "restart", "none")}

    action: str
    """`clear`, `hold`, `trap`, `restart`, `none`."""
    last_inbound: float
    """time the peer was last heard from."""
    silent_for: float
    """seconds since."""
    probes: int
    """probes sent."""
    cause: str = ABSENT
    """`probes_unanswered`, or `exchange_gave_up` when another request of the IKE SA or the liveness exchange
    itself went unanswered through its whole schedule although ESP still arrived."""


KINDS: tuple[type[EventKind], ...] = (
    MessageSent, MessageReceived, MessageLost, MessageIgnored,
    IkeSaEstablished, ChildSaEstablished, NegotiationFailed, KeGroupRetry, RetransmitGaveUp, NegotiationRetry,
    IkeSaDeleted, ChildSaDeleted, NatDetected, NatTFloated, PeerAddressUpdated,
    LifetimeNegotiated, SaExpired, ChildSaRekeyed, IkeSaRekeyed, RekeyCollision, RekeyRetry,
    DpdProbeSent, DpdProbeAcked, PeerDead,
)

__all__ = [
    "ChildSaDeleted",
    "ChildSaEstablished",
    "ChildSaRekeyed",
    "DpdProbeAcked",
    "DpdProbeSent",
    "IkeSaDeleted",
    "IkeSaEstablished",
    "IkeSaRekeyed",
    "KeGroupRetry",
    "LifetimeNegotiated",
    "MessageEvent",
    "MessageIgnored",
    "MessageLost",
    "MessageReceived",
    "MessageSent",
    "NatDetected",
    "NatTFloated",
    "NegotiationFailed",
    "NegotiationRetry",
    "PeerAddressUpdated",
    "PeerDead",
    "RekeyCollision",
    "RekeyRetry",
    "RetransmitGaveUp",
    "SaExpired",
]
