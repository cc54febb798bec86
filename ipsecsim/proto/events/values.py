"""Closed value sets of event fields (checked by ``ipsecsim.vocabulary``, listed in docs/events.md)."""

from __future__ import annotations

from ..ikev2.message import Notify

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

BFD_STATES = ("AdminDown", "Down", "Init", "Up")
"""RFC 5880 4.1 session states."""

STATUSES = ("ike_sa_not_established", "ike_sa_established", "ipsec_sa_not_established", "ipsec_sa_established")
"""A peer's status (Alibaba ``DescribeVpnConnection`` vocabulary, docs/events.md)."""

EXCHANGES = ("IKE_SA_INIT", "IKE_AUTH", "CREATE_CHILD_SA", "INFORMATIONAL",
             "IDENTITY_PROTECTION", "AGGRESSIVE", "QUICK_MODE", "BASE", "AUTHENTICATION_ONLY", "NEW_GROUP_MODE")
"""IANA exchange type names: IKEv2 (RFC 7296 3.1) and ISAKMP / IKEv1 (RFC 2408 3.1, RFC 2409 5)."""

LOSS_REASONS = ("loss", "link_down", "peer_frozen", "peer_down", "no_route", "nat_no_mapping", "socket_buffer_full")
"""Why a datagram was lost."""

DROP_REASONS = ("no_sa", "negotiating", "sa_expired", "link_down", "peer_down", "unilateral_sa", "loss",
                "no_route", "route_revoked", "no_policy", "nat_no_mapping", "too_big", "integrity_failed",
                "bgp_no_route")
"""Why traffic was dropped (the drop reasons of docs/events.md)."""

FAULT_KINDS = ("freeze", "unfreeze", "crash", "restart", "link_down", "link_up", "loss", "delay",
               "reconfigure", "recreate", "address")
"""Kinds of scheduled faults (and the kinds their ends undo them with)."""
