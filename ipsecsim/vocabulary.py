"""The event vocabulary as data: every event name, its fields and their closed value sets.

docs/events.md is the prose description of the same vocabulary; this module is the registry
that code checks against, so that an ``expect:`` block or ``Result.events_named`` with a
misspelt event, field or value is an error that names the allowed ones, instead of an
expectation that silently never matches. A test keeps the two in step: every event here is
documented in docs/events.md and every event documented there is registered here.

Whoever adds an event adds one ``EventSpec`` to ``EVENTS`` (and a row to docs/events.md, and a
formatter to ``trace.timeline.FORMATTERS``). Field lists name every field the event carries;
``values`` lists the closed value sets worth checking (a field not listed there accepts any
value).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .proto.ikev2.message import Notify


@dataclass(frozen=True, slots=True)
class EventSpec:
    name: str
    fields: tuple[str, ...]
    doc: str
    values: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)


# IKEv1 notify message types (RFC 2408 3.14.1 and RFC 2407 4.6.3): IKEv1 engines report these.
IKEV1_NOTIFY_NAMES = (
    "INVALID_PAYLOAD_TYPE", "DOI_NOT_SUPPORTED", "SITUATION_NOT_SUPPORTED", "INVALID_COOKIE",
    "INVALID_MAJOR_VERSION", "INVALID_MINOR_VERSION", "INVALID_EXCHANGE_TYPE", "INVALID_FLAGS",
    "INVALID_MESSAGE_ID", "INVALID_PROTOCOL_ID", "INVALID_SPI", "INVALID_TRANSFORM_ID",
    "ATTRIBUTES_NOT_SUPPORTED", "NO_PROPOSAL_CHOSEN", "BAD_PROPOSAL_SYNTAX", "PAYLOAD_MALFORMED",
    "INVALID_KEY_INFORMATION", "INVALID_ID_INFORMATION", "INVALID_CERT_ENCODING", "INVALID_CERTIFICATE",
    "CERT_TYPE_UNSUPPORTED", "INVALID_CERT_AUTHORITY", "INVALID_HASH_INFORMATION", "AUTHENTICATION_FAILED",
    "INVALID_SIGNATURE", "ADDRESS_NOTIFICATION", "NOTIFY_SA_LIFETIME", "CERTIFICATE_UNAVAILABLE",
    "UNSUPPORTED_EXCHANGE_TYPE", "UNEQUAL_PAYLOAD_LENGTHS",
    "RESPONDER_LIFETIME", "REPLAY_STATUS", "INITIAL_CONTACT",
)

_COMMON_NOTIFY = ("NO_PROPOSAL_CHOSEN", "AUTHENTICATION_FAILED", "TS_UNACCEPTABLE", "INVALID_ID_INFORMATION",
                  "INVALID_KE_PAYLOAD", "INVALID_SYNTAX", "PAYLOAD_MALFORMED", "INVALID_HASH_INFORMATION",
                  "TEMPORARY_FAILURE", "CHILD_SA_NOT_FOUND", "NO_ADDITIONAL_SAS")
NOTIFY_NAMES: tuple[str | None, ...] = (None, *_COMMON_NOTIFY, *sorted(
    ({n.name for n in Notify} | set(IKEV1_NOTIFY_NAMES)) - set(_COMMON_NOTIFY)))
"""Values a ``notify`` field can take: an IANA notify name, or null when there was none."""

BGP_STATES = ("Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established")
"""RFC 4271 8.2.2 session states."""

STATUSES = ("ike_sa_not_established", "ike_sa_established", "ipsec_sa_not_established", "ipsec_sa_established")
"""A peer's status (Alibaba ``DescribeVpnConnection`` vocabulary, docs/events.md)."""

_MSG = ("ike_version", "exchange", "response", "msg_id", "payloads", "spi_i", "spi_r")
_SA = ("ike_version", "spi_i", "spi_r")
# IANA exchange type names: IKEv2 (RFC 7296 3.1) and ISAKMP / IKEv1 (RFC 2408 3.1, RFC 2409 5).
_EXCHANGES = ("IKE_SA_INIT", "IKE_AUTH", "CREATE_CHILD_SA", "INFORMATIONAL",
              "IDENTITY_PROTECTION", "AGGRESSIVE", "QUICK_MODE", "BASE", "AUTHENTICATION_ONLY", "NEW_GROUP_MODE")
_LOSS = ("loss", "link_down", "peer_frozen", "peer_down", "no_route", "nat_no_mapping", "socket_buffer_full")

EVENTS: dict[str, EventSpec] = {s.name: s for s in (
    # --- messages ---
    EventSpec("message_sent", (*_MSG, "retransmit", "src", "dst"),
              "a peer puts an IKE message on the wire", {"exchange": _EXCHANGES}),
    EventSpec("message_received", (*_MSG, "retransmit", "src", "dst"),
              "a peer accepts a message for processing", {"exchange": _EXCHANGES}),
    EventSpec("message_lost", (*_MSG, "retransmit", "src", "dst", "message", "reason"),
              "the network or a frozen peer drops a datagram", {"reason": _LOSS, "exchange": _EXCHANGES}),
    EventSpec("message_ignored", (*_MSG, "reason", "expected", "src", "dst", "retransmit"),
              "a peer drops a message it cannot match", {"exchange": _EXCHANGES}),
    # --- security associations ---
    EventSpec("ike_sa_established", (*_SA, "initiator", "proposal", "local_id", "remote_id", "mode", "life_time"),
              "the IKE SA is authenticated"),
    EventSpec("child_sa_established", (*_SA, "spi_in", "spi_out", "proposal", "local_ts", "remote_ts", "msg_id",
                                       "pfs", "life_time", "life_bytes"),
              "a CHILD / IPsec SA pair is installed"),
    EventSpec("negotiation_failed", (*_SA, "phase", "notify", "reason"),
              "a negotiation fails", {"phase": ("ike", "child", "child_rekey", "ike_rekey"), "notify": NOTIFY_NAMES}),
    EventSpec("ke_group_retry", (*_SA, "rejected", "requested", "exchange"),
              "the responder asked for another DH group; the initiator retries", {"exchange": _EXCHANGES}),
    EventSpec("retransmit_gave_up", (*_SA, "exchange", "msg_id", "transmissions", "task"),
              "the retransmission schedule is exhausted", {"exchange": _EXCHANGES}),
    EventSpec("negotiation_retry", (*_SA, "attempt", "keyingtries"), "a failed setup is retried (keyingtries)"),
    EventSpec("ike_sa_deleted", (*_SA, "reason"), "an established IKE SA is gone"),
    EventSpec("child_sa_deleted", (*_SA, "spi_in", "spi_out", "reason"), "a CHILD SA is gone"),
    EventSpec("nat_detected", (*_SA, "local", "remote"), "the NAT detection hashes do not match"),
    EventSpec("nat_t_floated", (*_SA, "local", "remote"),
              "NAT traversal: IKE moves to UDP 4500 and ESP into UDP (RFC 7296 2.23, RFC 3947 4)"),
    EventSpec("peer_address_updated", (*_SA, "old", "new"),
              "an authenticated message came from the NATed peer's new address/port; the SA follows it"),
    EventSpec("nat_keepalive_sent", ("src", "dst"), "a NAT-keepalive (RFC 3948 2.3) leaves the NATed peer"),
    EventSpec("nat_mapping_created", ("inside", "outside", "protocol"), "the NAT creates a mapping",
              {"protocol": ("udp", "esp")}),
    EventSpec("nat_mapping_expired", ("inside", "outside", "protocol", "idle"),
              "a NAT mapping idle for its timeout is gone", {"protocol": ("udp", "esp")}),
    EventSpec("lifetime_negotiated", (*_SA, "phase", "policy", "proposed_time", "configured_time", "life_time",
                                      "proposed_kilobytes", "configured_kilobytes", "life_kilobytes",
                                      "responder_lifetime", "reason"),
              "IKEv1: a lifetime different from the own one was accepted or adopted",
              {"phase": ("ike", "child"), "policy": (None, "obey", "claim", "strict", "exact")}),
    # --- lifetimes and rekeying ---
    EventSpec("sa_expired", (*_SA, "sa_type", "kind", "by", "limit", "spi_in", "spi_out"),
              "a soft (rekey) or hard lifetime of an SA is reached",
              {"sa_type": ("child", "ike"), "kind": ("soft", "hard"), "by": ("time", "bytes", "packets")}),
    EventSpec("child_sa_rekeyed", (*_SA, "old_spi_in", "old_spi_out", "spi_in", "spi_out", "initiator", "proposal",
                                   "pfs", "bytes_out", "bytes_in"), "outbound traffic moved to the new CHILD SA"),
    EventSpec("ike_sa_rekeyed", (*_SA, "new_spi_i", "new_spi_r", "initiator", "proposal"),
              "a new IKE SA replaced the old one; its CHILD SAs moved"),
    EventSpec("rekey_collision", (*_SA, "sa_type", "outcome", "keeping", "deleting"),
              "both peers rekeyed the same SA at once (RFC 7296 2.8)",
              {"sa_type": ("child", "ike"), "outcome": ("won", "lost")}),
    EventSpec("rekey_retry", (*_SA, "sa_type", "retry_in", "spi_in", "spi_out"), "a failed rekey is tried again",
              {"sa_type": ("child", "ike")}),
    # --- traffic ---
    EventSpec("traffic_started", ("flow", "kind", "src", "dst", "to", "df", "interval", "size", "rate_bps",
                                  "packet_size", "every"), "a traffic source starts",
              {"kind": ("ping", "bulk", "burst"), "df": (True, False)}),
    EventSpec("traffic_stopped", ("flow", "sent", "bursts"), "a traffic source stops"),
    EventSpec("negotiation_triggered", ("src", "dst"), "a packet without an SA makes the peer negotiate"),
    EventSpec("traffic_dropped", ("flow", "reason", "start", "end", "duration", "bytes", "packets", "detail"),
              "traffic was dropped for one reason over an interval",
              {"reason": ("no_sa", "negotiating", "sa_expired", "link_down", "peer_down", "unilateral_sa", "loss",
                          "no_route", "route_revoked", "no_policy", "nat_no_mapping", "too_big",
                          "integrity_failed", "bgp_no_route")}),
    # --- dead peer detection ---
    EventSpec("dpd_probe_sent", (*_SA, "msg_id", "seq", "retry"),
              "a DPD probe is sent (IKEv2: empty INFORMATIONAL, msg_id; IKEv1: R-U-THERE, seq); retry counts "
              "retransmissions or further probes of the same round"),
    EventSpec("dpd_probe_acked", (*_SA, "msg_id", "seq"), "the peer answered a DPD probe"),
    EventSpec("peer_dead", (*_SA, "action", "last_inbound", "silent_for", "probes", "cause"),
              "DPD declared the peer dead and applies its action", {"action": ("clear", "hold", "trap", "restart",
                                                                               "none")}),
    # --- path health (NQA / health checks) ---
    EventSpec("nqa_probe_sent", ("seq", "destination", "path"), "a health-check ICMP probe leaves",
              {"path": ("tunnel", "underlay")}),
    EventSpec("nqa_probe_lost", ("seq", "consecutive"), "a probe was not answered before the next one was due"),
    EventSpec("nqa_state", ("state", "reason"), "the probed path went down or came back up",
              {"state": ("up", "down")}),
    EventSpec("route_revoked", ("destination",), "the health check withdrew the route to the remote subnets"),
    EventSpec("route_restored", ("destination",), "the health check restored the route"),
    # --- faults ---
    EventSpec("fault", ("kind", "undo", "direction", "protocol", "loss", "delay", "jitter", "address", "duration",
                        "set", "between", "inbound", "receive_buffer"),
              "a scheduled fault happens",
              {"kind": ("freeze", "unfreeze", "crash", "restart", "link_down", "link_up", "loss", "delay",
                        "reconfigure", "recreate", "address"), "inbound": ("drop", "queue")}),
    # --- HA groups (redundant tunnels) ---
    EventSpec("ha_member_state", ("group", "member", "usable", "reason"),
              "an HA group member became usable or unusable", {"usable": (True, False)}),
    EventSpec("ha_switch", ("group", "from", "to", "reason", "flows"),
              "an HA group's traffic moved to another member (to null: no member is usable)"),
    # --- BGP over the tunnels (docs/bgp.md) ---
    EventSpec("bgp_state", ("neighbor", "from", "to", "trigger", "reason", "up_for"),
              "a BGP session changed state (RFC 4271 8)",
              {"from": BGP_STATES, "to": BGP_STATES}),
    EventSpec("bgp_open", ("neighbor", "direction", "asn", "hold_time", "router_id"), "an OPEN was sent or received",
              {"direction": ("sent", "received")}),
    EventSpec("bgp_notification", ("neighbor", "direction", "code", "subcode", "name"),
              "a NOTIFICATION was sent or received (RFC 4271 4.5)", {"direction": ("sent", "received")}),
    EventSpec("bgp_update", ("neighbor", "direction", "advertised", "withdrawn", "as_path", "med"),
              "an UPDATE was sent or received: routes advertised and withdrawn", {"direction": ("sent", "received")}),
    EventSpec("bfd_state", ("neighbor", "from", "to", "diag", "diag_name", "reason", "detection_time"),
              "a BFD session with the BGP neighbor changed state (RFC 5880 6.2)",
              {"from": ("AdminDown", "Down", "Init", "Up"), "to": ("AdminDown", "Down", "Init", "Up"),
               "diag": (0, 1, 2, 3, 7)}),
    EventSpec("bgp_best_path", ("group", "flow", "prefix", "from", "to", "reason"),
              "the best path of a BGP-routed group's flow changed (to null: no route)"),
)}


NUMERIC_FIELDS = frozenset({
    "msg_id", "retransmit", "retry", "seq", "transmissions", "life_time", "life_bytes", "limit", "bytes",
    "packets", "silent_for", "last_inbound", "start", "end", "duration", "ike_version", "sent", "bursts",
    "interval", "size", "rate_bps", "packet_size", "proposed_time", "configured_time", "proposed_kilobytes",
    "configured_kilobytes", "life_kilobytes", "retry_in", "bytes_out", "bytes_in", "probes", "expected",
    "detection_time"})
"""Fields whose values are numbers (or null) wherever they occur: an expectation comparing one
with text can never match, so it is refused."""


class VocabularyError(ValueError):
    """An unknown event name, field or value; the message names the allowed ones."""


def suggest(word: str, choices: Iterable[str]) -> str:
    """``; did you mean X?`` when a close match exists, else an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def spec(name: str) -> EventSpec:
    """The registered event ``name``, or a VocabularyError naming the known events."""
    if not isinstance(name, str) or name not in EVENTS:
        raise VocabularyError(f"unknown event {name!r}{suggest(str(name), EVENTS)} "
                              f"(known events, docs/events.md: {', '.join(EVENTS)})")
    return EVENTS[name]


def check_fields(name: str, fields: Mapping[str, Any]) -> None:
    """Every key of ``fields`` is a field of event ``name`` and every value is allowed."""
    s = spec(name)
    for key, value in fields.items():
        if key not in s.fields:
            raise VocabularyError(f"event {name} has no field {key!r}{suggest(key, s.fields)} "
                                  f"(its fields: {', '.join(s.fields)})")
        if key in NUMERIC_FIELDS and value is not None and (isinstance(value, bool) or
                                                            not isinstance(value, int | float)):
            raise VocabularyError(f"{name}.{key} is a number, got {value!r}")
        allowed = s.values.get(key)
        if allowed is not None and value not in allowed:
            shown = ", ".join("null" if a is None else str(a) for a in allowed[:12])
            if len(allowed) > 12:
                shown += f" ... ({len(allowed)} values, docs/events.md)"
            hint = suggest(str(value), [str(a) for a in allowed if a is not None])
            raise VocabularyError(f"{value!r} is not a value of {name}.{key}{hint} (allowed: {shown})")
