"""The numbers a sweep records for one run, read from its events and summary (docs/events.md).

Standard metrics (``STANDARD``):

* ``peer_dead_t`` - time of the first ``peer_dead`` event at any peer (empty if none);
* ``false_dead`` - ``peer_dead`` verdicts about a partner that was up all through the silence
  the verdict reports (``last_inbound`` .. ``t``): not crashed or frozen, and the path between
  the two not down (a ``link_down`` fault or ``link.down`` window for IKE), i.e. a live peer
  declared dead; ``any_false_dead`` - at least one such verdict (a proportion over runs);
* ``detection_delay`` - for the first verdict that is not false: its time minus the moment
  the partner (or the path to it) went down;
* ``outage_s`` - seconds of outage summed over the flows (traffic summary ``outage_total``),
  and ``outage_s.FLOW`` per flow; ``dropped_bytes`` - bytes dropped, every flow and reason;
* ``rekeys`` - rekeys of CHILD and IKE SAs (``child_sa_rekeyed`` / ``ike_sa_rekeyed`` at
  the side that initiated them, so each counts once); ``failed_negotiations`` -
  ``negotiation_failed`` events;
* ``established.PEER`` - the peer ends with an IPsec SA (``ipsec_sa_established``), and
  ``status.PEER`` its final status.

A user metric is any summary path (``Result.summary_value``): numbers are averaged, true /
false values become proportions, other values are reported by their most common value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..result import Result
    from ..spec import RunSpec

STANDARD = ("peer_dead_t", "detection_delay", "false_dead", "any_false_dead", "outage_s", "dropped_bytes",
            "rekeys", "failed_negotiations")

Interval = tuple[float, float]


def down_windows(spec: RunSpec, until: float) -> tuple[dict[str, list[Interval]], list[tuple[Any, Interval]]]:
    """Per peer the intervals it was crashed or frozen; and the path-down windows as
    (pair or None for every path, interval). From the scenario's faults (its run description,
    not events)."""
    peers: dict[str, list[Interval]] = {n: [] for n in spec.peers}
    paths: list[tuple[Any, Interval]] = [(None, (start, end)) for start, end in spec.link.down]
    open_since: dict[str, float] = {}
    link_open: dict[Any, float] = {}
    for f in sorted(spec.faults, key=lambda f: f.at):
        if f.kind in ("crash", "freeze") and f.peer:
            if f.duration is not None:
                peers[f.peer].append((f.at, f.at + f.duration))
            else:
                open_since.setdefault(f.peer, f.at)
        elif f.kind in ("restart", "unfreeze") and f.peer and f.peer in open_since:
            peers[f.peer].append((open_since.pop(f.peer), f.at))
        elif f.kind == "link_down" and f.protocol != "esp":
            pair = f.pair or (frozenset(f.ends) if f.ends else None)
            if f.duration is not None:
                paths.append((pair, (f.at, f.at + f.duration)))
            else:
                link_open.setdefault(pair, f.at)
        elif f.kind == "link_up":
            pair = f.pair
            for key in [k for k in link_open if pair is None or k == pair]:
                paths.append((key, (link_open.pop(key), f.at)))
    for peer, since in open_since.items():
        peers[peer].append((since, until))
    for pair, since in link_open.items():
        paths.append((pair, (since, until)))
    return peers, paths


def _overlap(a: Interval, b: Interval) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def verdicts(result: Result) -> list[tuple[float, bool, float | None]]:
    """Every ``peer_dead``: (time, false verdict?, when the partner / path went down)."""
    spec = result.scenario.spec
    peers, paths = down_windows(spec, result.duration)
    partner = spec.partner
    out: list[tuple[float, bool, float | None]] = []
    for e in result.events:
        if e.event != "peer_dead":
            continue
        other = partner.get(e.peer)
        silent = e.get("silent_for")
        window = (e.t - (silent or 0.0), e.t)
        starts = [w[0] for w in peers.get(other or "", []) if _overlap(w, window)]
        starts += [w[0] for pair, w in paths if (pair is None or pair == {e.peer, other}) and _overlap(w, window)]
        out.append((e.t, not starts, min(starts) if starts else None))
    return out


def standard(result: Result, summary: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    found = verdicts(result)
    row["peer_dead_t"] = found[0][0] if found else None
    true = [(t, since) for t, false, since in found if not false]
    row["detection_delay"] = round(true[0][0] - true[0][1], 6) if true and true[0][1] is not None else None
    false_n = sum(1 for _, false, _ in found if false)
    row["false_dead"] = false_n
    row["any_false_dead"] = false_n > 0
    flows = summary.get("traffic", {}).get("flows", {})
    row["outage_s"] = round(sum(f.get("outage_total", 0.0) for f in flows.values()), 6)
    row["dropped_bytes"] = sum(sum(f.get("dropped_bytes", {}).values()) for f in flows.values())
    row["rekeys"] = sum(1 for e in result.events
                        if e.event in ("child_sa_rekeyed", "ike_sa_rekeyed") and e.get("initiator"))
    row["failed_negotiations"] = sum(1 for e in result.events if e.event == "negotiation_failed")
    for name, f in flows.items():
        row[f"outage_s.{name}"] = f.get("outage_total", 0.0)
    for name, p in summary.get("peers", {}).items():
        row[f"established.{name}"] = p.get("status") == "ipsec_sa_established"
        row[f"status.{name}"] = p.get("status")
    return row


def measure(result: Result, extra: list[str]) -> dict[str, Any]:
    """The standard metrics and the summary paths ``extra`` of one run."""
    from ..check.evaluate import SummaryPathError, summary_value
    summary = result.summary()
    row = standard(result, summary)
    for path in extra:
        try:
            value = summary_value(summary, path)
        except SummaryPathError as e:
            if "is a list of" not in str(e):  # an index past the end of a list: nothing this run
                raise
            value = None
        row[path] = value if isinstance(value, int | float | str | bool) or value is None else str(value)
    return row
