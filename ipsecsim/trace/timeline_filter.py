"""Which lines of the timeline ``ipsecsim run`` prints: ``--since``, ``--until``, ``--peer``,
``--event`` and ``--summary``.

``--event`` takes event names (docs/events.md) or groups of them:

* ``ike``: IKE messages and the IKE / ISAKMP SA's life (negotiation, rekey, deletion, failures);
* ``child``: the CHILD / IPsec SA's life (established, rekeyed, expired, deleted);
* ``dpd``: dead peer detection (RFC 3706, RFC 7296 2.4) and health checks (NQA, VcoHealthCheck);
* ``traffic``: flows starting and stopping, drops, negotiation triggered by traffic;
* ``faults``: injected faults, NAT events and HA switches.

The filters choose lines of the timeline only; the final state and the traffic summary
always describe the whole run.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import ConfigError
from ..proto.events import Event
from .timefmt import TIME_HELP, parse_time

_IKE_EVENTS = {"message_sent", "message_received", "message_lost", "message_ignored", "ike_sa_established",
               "ike_sa_deleted", "ike_sa_rekeyed", "ke_group_retry", "retransmit_gave_up", "negotiation_retry",
               "nat_detected", "nat_t_floated"}
_CHILD_EVENTS = {"child_sa_established", "child_sa_deleted", "child_sa_rekeyed"}
_DPD_EVENTS = {"dpd_probe_sent", "dpd_probe_acked", "peer_dead", "nqa_probe_sent", "nqa_probe_lost", "nqa_state",
               "route_revoked", "route_restored"}
_TRAFFIC_EVENTS = {"traffic_started", "traffic_stopped", "traffic_dropped", "negotiation_triggered"}
_FAULT_EVENTS = {"fault", "nat_mapping_created", "nat_mapping_expired", "peer_address_updated", "nat_keepalive_sent",
                 "ha_switch", "ha_member_state"}
_SPLIT = {"sa_expired", "rekey_collision", "rekey_retry", "lifetime_negotiated", "negotiation_failed"}
"""Events about either SA: their ``sa_type`` / ``phase`` says which group they belong to."""


def _about_ike(e: Event) -> bool:
    if e.event in ("negotiation_failed", "lifetime_negotiated"):
        return str(e.get("phase")) in ("ike", "ike_rekey")
    return bool(e.get("sa_type") == "ike")


GROUPS: dict[str, Callable[[Event], bool]] = {
    "ike": lambda e: e.event in _IKE_EVENTS or (e.event in _SPLIT and _about_ike(e)),
    "child": lambda e: e.event in _CHILD_EVENTS or (e.event in _SPLIT and not _about_ike(e)),
    "dpd": lambda e: e.event in _DPD_EVENTS,
    "traffic": lambda e: e.event in _TRAFFIC_EVENTS,
    "faults": lambda e: e.event in _FAULT_EVENTS,
}


def event_names() -> list[str]:
    from ..vocabulary import EVENTS
    return list(EVENTS)


def _event_arg(text: str) -> list[str]:
    names = set(event_names())
    out = []
    for word in (w.strip() for w in text.split(",")):
        if word not in GROUPS and word not in names:
            raise argparse.ArgumentTypeError(
                f"{word!r} is neither an event group ({', '.join(GROUPS)}) nor an event name "
                f"(docs/events.md: {', '.join(sorted(names))})")
        out.append(word)
    return out


def _time_arg(text: str) -> float:
    try:
        return parse_time(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {TIME_HELP}, got {text!r}") from None


def add_arguments(run: argparse.ArgumentParser) -> None:
    """The timeline filter flags of ``ipsecsim run``."""
    g = run.add_argument_group("timeline filters (the final state and traffic always cover the whole run)")
    g.add_argument("--since", type=_time_arg, metavar="TIME", help=f"lines from this time on: {TIME_HELP}")
    g.add_argument("--until", type=_time_arg, metavar="TIME", help="lines up to this time (same forms)")
    g.add_argument("--peer", action="append", metavar="PEER", help="lines of this peer (repeatable; 'link' for the "
                   "network's own events)")
    g.add_argument("--event", action="append", type=_event_arg, metavar="NAME",
                   help=f"these events: names from docs/events.md or groups ({', '.join(GROUPS)}); repeatable or "
                   "comma-separated")
    g.add_argument("--summary", action="store_true", help="no timeline: the final state and the traffic only")


@dataclass(frozen=True)
class TimelineFilter:
    since: float | None = None
    until: float | None = None
    peers: frozenset[str] | None = None
    events: tuple[str, ...] | None = None
    summary_only: bool = False

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.since, self.until, self.peers, self.events)) or self.summary_only

    def keeps(self, t: float, e: Event) -> bool:
        if self.summary_only:
            return False
        if self.since is not None and t < self.since - 1e-9:
            return False
        if self.until is not None and t > self.until + 1e-9:
            return False
        if self.peers is not None and e.peer not in self.peers:
            return False
        if self.events is not None:
            return any(GROUPS[w](e) if w in GROUPS else e.event == w for w in self.events)
        return True

    def describe(self) -> str | None:
        """One line saying what the timeline shows, or None when it shows everything."""
        from .timefmt import at
        if not self.active or self.summary_only:
            return None
        parts = []
        if self.since is not None:
            parts.append(f"from {at(self.since)}")
        if self.until is not None:
            parts.append(f"until {at(self.until)}")
        if self.peers is not None:
            parts.append("peer " + ", ".join(sorted(self.peers)))
        if self.events is not None:
            parts.append("events " + ", ".join(self.events))
        return "timeline filtered: " + "; ".join(parts)


def from_args(args: argparse.Namespace, peers: Sequence[str], scenario_file: str | None = None) -> TimelineFilter:
    """The filter the flags ask for, checked against the scenario's peers."""
    since, until = getattr(args, "since", None), getattr(args, "until", None)
    if since is not None and until is not None and until < since:
        raise ConfigError(None, "--until", "is before --since; give a later time")
    chosen = getattr(args, "peer", None)
    if chosen:
        for p in chosen:
            if p not in peers:
                raise ConfigError(None, "--peer", f"{p!r} is not a peer of {scenario_file or 'the scenario'}; one of "
                                  f"{', '.join(peers)}")
    words = [w for group in getattr(args, "event", None) or [] for w in group]
    return TimelineFilter(since, until, frozenset(chosen) if chosen else None, tuple(words) if words else None,
                          bool(getattr(args, "summary", False)))
