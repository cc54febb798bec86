"""Invariants every run must satisfy, checked on its events, its summary and the ESP it put on
the wire (``Result.esp`` / ``Result.fluids``, the records the packet trace is written from).

Each check takes a ``Result`` (and the summary, computed once) and returns a list of
violations, one readable sentence each; ``check_all`` runs them all and returns
``{name: [violations]}`` for the checks that failed. The property tests
(tests/test_properties.py) run them on generated scenarios (tests/scenario_gen.py).

Sources of the rules:
* RFC 7296 2.2: message ids of requests increase per IKE SA and direction (the responder's
  responses follow); a rekeyed IKE SA starts again at 0. IKEv1 message ids are random
  (RFC 2408 3.1) and are not checked.
* RFC 7296 2.4 / RFC 3706 / strongSwan dpd_delay: a peer with DPD configured that has heard
  nothing for ``delay`` probes, and the probe is retransmitted on its schedule until answered
  or given up; so while an established IKE SA exists, the gap between two things this peer
  sends or receives is bounded by max(delay, longest wait of a schedule).
* RFC 4301 4.4.2.1 / RFC 4303: an SA past its hard lifetime or deleted carries no traffic;
  every SA with a hard lifetime gets a soft point first (make-before-break), unless
  rekeying is switched off.
* docs/events.md: offered = delivered + dropped + in flight, per flow; events are in time
  order; the same scenario and seed give the same bytes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from ipsecsim.result import Result

EPS = 1e-6

# Violations of these invariants are tolerated by the property tests (tests/test_properties.py)
# while the bug named is open: they are still reported as warnings. Delete an entry when its
# fix lands; ``IPSECSIM_PROPS_STRICT=1`` checks every invariant regardless.
KNOWN_BUGS: dict[str, str] = {}


def _key(e: Any) -> tuple[str, str]:
    return (str(e.get("spi_i")), str(e.get("spi_r")))


def _max_link_delay(result: Result) -> float:
    link = result.scenario.config.link
    extra = max([(f.delay or 0.0) + (f.jitter or 0.0) for f in result.scenario.config.faults
                 if f.kind == "delay"] + [0.0])
    return link.delay + link.jitter + extra


# --- simulated time --------------------------------------------------------------------------

def time_never_goes_back(result: Result, summary: dict[str, Any]) -> list[str]:
    out = []
    prev = 0.0
    for i, e in enumerate(result.events):
        if e.t < prev - EPS:
            out.append(f"event {i} ({e.peer} {e.event}) at {e.t:g} s after an event at {prev:g} s")
        if e.t < -EPS or e.t > result.duration + EPS:
            out.append(f"event {i} ({e.peer} {e.event}) at {e.t:g} s outside the run [0, {result.duration:g}]")
        prev = max(prev, e.t)
        if e.event == "traffic_dropped" and e.get("start") > e.get("end") + EPS:
            out.append(f"traffic_dropped at {e.t:g} s of {e.get('flow')} ends before it starts")
    return out[:5]


# --- traffic accounting ----------------------------------------------------------------------

def bytes_conserved(result: Result, summary: dict[str, Any]) -> list[str]:
    """offered = delivered + sum(dropped) + in_flight, per flow, in bytes and packets; and the
    drops the summary counts are the drops the traffic_dropped events report."""
    out = []
    flows = summary.get("traffic", {}).get("flows", {})
    for name, f in flows.items():
        for unit in ("bytes", "packets"):
            offered = f[f"offered_{unit}"]
            delivered = f[f"delivered_{unit}"]
            dropped = f[f"dropped_{unit}"]
            in_flight = f.get(f"in_flight_{unit}", 0)
            total = delivered + sum(dropped.values()) + in_flight
            tol = 2 + len(dropped) + 1e-9 * offered
            if abs(offered - total) > tol:
                out.append(f"flow {name}: offered {offered} {unit} but delivered {delivered} + dropped "
                           f"{sum(dropped.values())} {dict(dropped)} + in flight {in_flight} = {total}")
            if min([delivered, in_flight, *dropped.values()]) < 0:
                out.append(f"flow {name}: a negative {unit} count {f}")
    by_event: dict[tuple[str, str], float] = defaultdict(float)
    n_events: dict[tuple[str, str], int] = defaultdict(int)
    for e in result.events:
        if e.event == "traffic_dropped":
            by_event[(e.get("flow"), e.get("reason"))] += e.get("bytes")
            n_events[(e.get("flow"), e.get("reason"))] += 1
    for name, f in flows.items():
        for reason, b in f["dropped_bytes"].items():
            ev = by_event.get((name, reason), 0.0)
            if abs(ev - b) > 2 + n_events[(name, reason)] + 1e-9 * b:
                out.append(f"flow {name}: the summary drops {b} bytes ({reason}), the traffic_dropped events {ev:g}")
    return out


# --- nothing on an SA after its end -------------------------------------------------------------

def _child_ends(result: Result) -> dict[str, dict[str, tuple[float, str]]]:
    """Per peer: outbound SPI (hex) -> (time, why) of the first deletion or hard expiry."""
    ends: dict[str, dict[str, tuple[float, str]]] = defaultdict(dict)
    for e in result.events:
        if e.event == "child_sa_deleted" or (e.event == "sa_expired" and e.get("sa_type") == "child"
                                             and e.get("kind") == "hard"):
            why = f"{e.event} {e.get('reason') or e.get('by')}"
            ends[e.peer].setdefault(str(e.get("spi_out")), (e.t, why))
    return ends


def no_esp_after_sa_end(result: Result, summary: dict[str, Any]) -> list[str]:
    """A peer puts no ESP on the wire on an outbound SA it deleted or that hard-expired: no
    packet after that instant, and a fluid flow sent on it has moved off it by then."""
    out = []
    ends = _child_ends(result)
    for sent in result.esp:
        end = ends.get(sent.sender, {}).get(sent.packet.spi.hex())
        if end is not None and sent.t > end[0] + EPS:
            out.append(f"{sent.sender} sent ESP of {sent.packet.packet.flow} at {sent.t:g} s on SPI "
                       f"{sent.packet.spi.hex()}, ended at {end[0]:g} s ({end[1]})")
            break
    last: dict[tuple[str, str], tuple[float, Any]] = {}
    for t, sender, msg in result.fluids:
        prev = last.get((sender, msg.flow))
        if prev is not None and prev[1].rate > 0:
            end = ends.get(sender, {}).get(prev[1].spi.hex())
            if end is not None and t > end[0] + EPS:
                out.append(f"{sender} kept sending {msg.flow} on SPI {prev[1].spi.hex()} from {end[0]:g} s "
                           f"({end[1]}) until {t:g} s")
        if msg.rate > 0:
            end = ends.get(sender, {}).get(msg.spi.hex())
            if end is not None and t > end[0] + EPS:
                out.append(f"{sender} started {msg.flow} at {t:g} s on SPI {msg.spi.hex()}, ended at "
                           f"{end[0]:g} s ({end[1]})")
        last[(sender, msg.flow)] = (t, msg)
    for (sender, flow), (_t, msg) in last.items():
        end = ends.get(sender, {}).get(msg.spi.hex())
        if msg.rate > 0 and end is not None and end[0] < result.duration - EPS:
            out.append(f"{sender} still sends {flow} at the end on SPI {msg.spi.hex()}, ended at {end[0]:g} s "
                       f"({end[1]})")
    return out[:5]


def ike_silent_after_end(result: Result, summary: dict[str, Any]) -> list[str]:
    """After an IKE SA is deleted at a peer, that peer sends nothing on it; after its hard
    expiry, only the Delete (and answers)."""
    out = []
    deleted: dict[tuple[str, tuple[str, str]], float] = {}
    expired: dict[tuple[str, tuple[str, str]], float] = {}
    for e in result.events:
        k = (e.peer, _key(e))
        if e.event == "ike_sa_deleted":
            deleted.setdefault(k, e.t)
        elif e.event == "sa_expired" and e.get("sa_type") == "ike" and e.get("kind") == "hard":
            expired.setdefault(k, e.t)
        elif e.event == "message_sent":
            if k in deleted and e.t > deleted[k] + EPS:
                out.append(f"{e.peer} sent {e.get('exchange')} {'response' if e.get('response') else 'request'} "
                           f"{e.get('msg_id')} (retransmit {e.get('retransmit')}) at {e.t:g} s on IKE SA "
                           f"{k[1][0]}/{k[1][1]} deleted at {deleted[k]:g} s")
            elif (k in expired and e.t > expired[k] + EPS and not e.get("response")
                  and "D" not in (e.get("payloads") or [])):
                out.append(f"{e.peer} sent {e.get('exchange')} request {e.get('msg_id')} (retransmit "
                           f"{e.get('retransmit')}) at {e.t:g} s on IKE SA {k[1][0]}/{k[1][1]} past its hard "
                           f"lifetime ({expired[k]:g} s)")
        if len(out) >= 5:
            break
    return out


# --- message ids -----------------------------------------------------------------------------

def message_ids_grow(result: Result, summary: dict[str, Any]) -> list[str]:
    """IKEv2 (RFC 7296 2.2): per IKE SA and sender, the first transmissions of requests carry
    increasing message ids, and so do the first transmissions of responses."""
    out = []
    last: dict[tuple[str, tuple[str, str], bool], tuple[int, float]] = {}
    for e in result.events:
        if e.event != "message_sent" or e.get("ike_version") != 2 or e.get("exchange") == "IKE_SA_INIT":
            continue
        if e.get("retransmit"):
            continue
        k = (e.peer, _key(e), bool(e.get("response")))
        mid = int(e.get("msg_id"))
        prev = last.get(k)
        if prev is not None and mid <= prev[0]:
            out.append(f"{e.peer} sent a new {'response' if k[2] else 'request'} ({e.get('exchange')}) with "
                       f"message id {mid} at {e.t:g} s on IKE SA {k[1][0]}/{k[1][1]}, after id {prev[0]} at "
                       f"{prev[1]:g} s")
        last[k] = (mid, e.t)
        if len(out) >= 5:
            break
    return out


# --- lifetimes -------------------------------------------------------------------------------

def _rekey_off(result: Result, peer: str, sa_type: str, by: str) -> bool:
    """Rekeying by ``by`` is switched off in every setting ``peer`` had during the run: its
    lifetime has no soft point in that dimension (strongSwan ``rekey_bytes = 0``: the kernel
    SA gets a hard limit only, vici_config.c check_lifetimes / child_cfg.c APPLY_JITTER). Every
    profile gives its default hard lifetimes a soft point (tests/test_properties.py)."""
    sc = result.scenario
    versions = [sc.peers[peer]] + [s for i, s in sc.reconfigured.items() if sc.config.faults[i].peer == peer]
    for s in versions:
        lifetime = s.ike.lifetime if sa_type == "ike" else s.child.lifetime
        limit = getattr(lifetime, by, None)
        if limit is None or limit.soft_range() is not None or limit.soft_range(initiator=False) is not None:
            return False
    return True


def rekey_before_hard_expiry(result: Result, summary: dict[str, Any]) -> list[str]:
    """Every SA that reaches a hard limit reached a soft limit first (or was already
    replaced): a hard limit alone still gets a rekey (RFC 4301 4.4.2.1), unless the peer's
    configuration switched rekeying by that dimension off."""
    out = []
    soft: set[tuple[str, str, tuple[str, ...]]] = set()
    for e in result.events:
        if e.event == "sa_expired":
            t = e.get("sa_type")
            ident = (str(e.get("spi_in")),) if t == "child" else _key(e)
            k = (e.peer, t, ident)
            if e.get("kind") == "soft":
                soft.add(k)
            elif k not in soft and not _rekey_off(result, e.peer, t, str(e.get("by"))):
                out.append(f"{e.peer}: {t} SA {'/'.join(ident)} hit its hard {e.get('by')} limit "
                           f"{e.get('limit')} at {e.t:g} s without a soft limit or a rekey before")
        elif e.event == "child_sa_rekeyed":
            soft.add((e.peer, "child", (str(e.get("old_spi_in")),)))
        elif e.event == "ike_sa_rekeyed":
            soft.add((e.peer, "ike", _key(e)))
    return out[:5]


# --- status ----------------------------------------------------------------------------------

def _names_unilateral(summary: dict[str, Any]) -> bool:
    """The summary says somewhere that a tunnel is unilateral (outside the traffic drop reasons)."""
    rest = {k: v for k, v in summary.items() if k != "traffic"}
    return "unilateral" in json.dumps(rest)


def status_agrees(result: Result, summary: dict[str, Any]) -> list[str]:
    """Each peer's final status matches its SAs; the SAs it lists are the ones the events left
    alive; both peers' CHILD SAs pair up (A's outbound SPI is B's inbound one), and when they
    do not for longer than a message round needs to settle, the summary names the tunnel
    unilateral."""
    out = []
    peers = summary["peers"]
    alive_ike: dict[str, set[tuple[str, str]]] = defaultdict(set)
    alive_child: dict[str, dict[str, float]] = defaultdict(dict)
    gone_child: dict[str, dict[str, float]] = defaultdict(dict)
    for e in result.events:
        if e.event == "ike_sa_established":
            alive_ike[e.peer].add(_key(e))
        elif e.event == "ike_sa_rekeyed":
            alive_ike[e.peer].add((str(e.get("new_spi_i")), str(e.get("new_spi_r"))))
        elif e.event == "ike_sa_deleted":
            alive_ike[e.peer].discard(_key(e))
        elif e.event == "child_sa_established":
            alive_child[e.peer][str(e.get("spi_in"))] = e.t
        elif e.event == "child_sa_rekeyed":  # the replaced SA stays until child_sa_deleted
            alive_child[e.peer][str(e.get("spi_in"))] = e.t
        elif e.event == "child_sa_deleted":
            alive_child[e.peer].pop(str(e.get("spi_in")), None)
            gone_child[e.peer][str(e.get("spi_in"))] = e.t
        elif e.event == "fault" and e.get("kind") == "crash":
            alive_ike[e.peer].clear()
            alive_child[e.peer].clear()
    for name, p in peers.items():
        status, children = p["status"], p["child_sas"]
        established_ike = [s for s in p["ike_sas"] if s.get("state") == "established"]
        if (status == "ipsec_sa_established") != bool(children):
            out.append(f"{name}: status {status} with {len(children)} CHILD SAs")
        if status in ("ike_sa_established", "ipsec_sa_not_established") and not established_ike:
            out.append(f"{name}: status {status} without an established IKE SA")
        if status == "ike_sa_not_established" and established_ike:
            out.append(f"{name}: status {status} with an established IKE SA")
        for c in children:
            if c["spi_in"] in gone_child[name] and c["spi_in"] not in alive_child[name]:
                out.append(f"{name}: lists CHILD SA {c['spi_in']} deleted at {gone_child[name][c['spi_in']]:g} s")
        for s in established_ike:
            k = (s["spi_i"], s["spi_r"])
            if k not in alive_ike[name] and any(e.event == "ike_sa_deleted" and e.peer == name and _key(e) == k
                                                for e in result.events):
                out.append(f"{name}: lists IKE SA {k[0]}/{k[1]} as established after its deletion")
    names = list(peers)
    if len(names) == 2:
        settle = 2 * _max_link_delay(result) + 1.0 + max(
            s.retransmit.give_up_after() for s in [*result.scenario.peers.values(),
                                                   *result.scenario.reconfigured.values()])
        end = result.duration
        for x, y in (names, names[::-1]):
            inbound_y = {c["spi_in"] for c in peers[y]["child_sas"]} | set(alive_child[y])
            for c in peers[x]["child_sas"]:
                if c["spi_out"] in inbound_y:
                    continue
                since = max(alive_child[x].get(c["spi_in"], 0.0), gone_child[y].get(c["spi_out"], 0.0))
                if since < end - settle and not _names_unilateral(summary):
                    out.append(f"{x} sends on CHILD SA {c['spi_out']} (since {since:g} s) that {y} does not have "
                               f"(status {x}: {peers[x]['status']}, {y}: {peers[y]['status']}): a unilateral "
                               f"tunnel the summary does not name")
    return out[:5]


# --- dead peer detection -----------------------------------------------------------------------

_ACTIVITY = {"message_sent", "message_received", "message_ignored", "dpd_probe_sent", "dpd_probe_acked",
             "peer_dead", "retransmit_gave_up"}


def _dpd_bound(result: Result, peer: str) -> tuple[str, float, float] | None:
    """(mode, delay, bound) of ``peer``'s DPD over all its settings in the run; None when DPD is
    off in any of them or their modes differ."""
    sc = result.scenario
    versions = [sc.peers[peer]] + [s for i, s in sc.reconfigured.items() if sc.config.faults[i].peer == peer]
    if any(s.dpd is None or s.dpd.delay <= 0 for s in versions):
        return None
    modes = {s.dpd.mode for s in versions if s.dpd is not None}
    if len(modes) != 1:
        return None
    bound = 0.0
    delay = 0.0
    for s in versions:
        d = s.dpd
        assert d is not None
        rt = s.retransmit
        waits = [rt.nominal_wait(n) for n in range(1, rt.transmissions + 1)] + list(d.schedule or ())
        bound = max(bound, d.delay, d.retry_interval, *waits)
        delay = max(delay, d.delay)
    return modes.pop(), delay, bound


def _established_windows(result: Result, peer: str) -> list[tuple[float, float]]:
    """Intervals in which ``peer`` holds an established IKE SA and is neither frozen nor crashed."""
    live: set[tuple[str, str]] = set()
    frozen = False
    out: list[tuple[float, float]] = []
    start: float | None = None

    def update(t: float) -> None:
        nonlocal start
        ok = bool(live) and not frozen
        if ok and start is None:
            start = t
        elif not ok and start is not None:
            out.append((start, t))
            start = None

    for e in result.events:
        if e.peer != peer:
            continue
        if e.event == "ike_sa_established":
            live.add(_key(e))
        elif e.event == "ike_sa_rekeyed":
            live.add((str(e.get("new_spi_i")), str(e.get("new_spi_r"))))
        elif e.event == "ike_sa_deleted" or (e.event == "sa_expired" and e.get("sa_type") == "ike"
                                             and e.get("kind") == "hard"):
            live.discard(_key(e))
        elif e.event == "fault":
            kind = e.get("kind")
            if kind == "freeze":
                frozen = True
            elif kind in ("unfreeze", "restart"):
                frozen = False
            elif kind == "crash":
                frozen = False
                live.clear()
        update(e.t)
    if start is not None:
        out.append((start, result.duration))
    return out


def _covered(windows: list[tuple[float, float]], a: float, b: float) -> bool:
    return any(s <= a + EPS and b <= e + EPS for s, e in windows)


def dpd_keeps_probing(result: Result, summary: dict[str, Any]) -> list[str]:
    """While a peer with DPD holds an established IKE SA, it never stays silent (nothing sent or
    received, no ESP arriving) longer than max(delay, the longest wait of its schedules): after
    ``delay`` of silence it probes, and the probe is retransmitted until answered or the peer
    is declared dead. On-demand DPD starts only when this side sends ESP while silent."""
    out = []
    grace = 2 * _max_link_delay(result) + 0.5
    names = list(result.peers)
    for x in names:
        dpd = _dpd_bound(result, x)
        if dpd is None:
            continue
        mode, delay, bound = dpd
        windows = _established_windows(result, x)
        if not windows:
            continue
        points = [e.t for e in result.events if e.peer == x and e.event in _ACTIVITY]
        points += [s.arrival for s in result.esp if s.sender != x and s.arrival is not None]
        spans: list[tuple[float, float]] = []  # fluid ESP arriving from the other side (generously)
        outbound: list[tuple[float, float]] = []
        state: dict[tuple[str, str], tuple[float, float]] = {}
        for t, sender, msg in result.fluids:
            prev = state.pop((sender, msg.flow), None)
            if prev is not None:
                (outbound if sender == x else spans).append((prev[0], t + grace))
            if msg.rate > 0:
                state[(sender, msg.flow)] = (t, msg.rate)
        for (sender, _flow), (t, _rate) in state.items():
            (outbound if sender == x else spans).append((t, result.duration))
        out_points = sorted(s.t for s in result.esp if s.sender == x)
        # quiet gaps: between activity points, minus the spans of arriving fluid
        marks = sorted([(p, p) for p in points] + spans)
        gaps = []
        cursor = 0.0
        for s, e in marks:
            if s > cursor:
                gaps.append((cursor, s))
            cursor = max(cursor, e)
        if cursor < result.duration:
            gaps.append((cursor, result.duration))
        for a, b in gaps:
            if mode == "periodic":
                if b - a > bound + grace and _covered(windows, a, a + bound + grace):
                    out.append(f"{x}: DPD (periodic, delay {delay:g} s) with an established IKE SA sent and "
                               f"received nothing from {a:g} s to {b:g} s (bound {bound:g} s)")
                    break
                continue
            w = None
            for s, e in outbound:
                if s <= a + delay <= e:
                    w = a + delay
                    break
            if w is None:
                w = next((p for p in out_points if a + delay <= p < b), None)
                later = [s for s, _e in outbound if a + delay <= s < b]
                if later:
                    w = min([w, *later]) if w is not None else min(later)
            if w is not None and b - w > bound + grace and _covered(windows, a, w + bound + grace):
                out.append(f"{x}: DPD (on-demand, delay {delay:g} s) silent since {a:g} s sent ESP at {w:g} s but "
                           f"nothing was sent or received until {b:g} s (bound {bound:g} s)")
                break
    return out


# --- determinism -----------------------------------------------------------------------------

def event_lines(result: Result) -> list[str]:
    return [json.dumps(e.to_dict(), sort_keys=False) for e in result.events]


def same_bytes(first: Result, second: Result) -> list[str]:
    a, b = event_lines(first), event_lines(second)
    if a == b:
        sa, sb = json.dumps(first.summary()), json.dumps(second.summary())
        return [] if sa == sb else ["the summaries differ"]
    n = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return [f"event {n} differs: {a[n] if n < len(a) else '(none)'} vs {b[n] if n < len(b) else '(none)'}"]


CHECKS: dict[str, Callable[[Result, dict[str, Any]], list[str]]] = {
    "time_never_goes_back": time_never_goes_back,
    "bytes_conserved": bytes_conserved,
    "no_esp_after_sa_end": no_esp_after_sa_end,
    "ike_silent_after_end": ike_silent_after_end,
    "message_ids_grow": message_ids_grow,
    "rekey_before_hard_expiry": rekey_before_hard_expiry,
    "status_agrees": status_agrees,
    "dpd_keeps_probing": dpd_keeps_probing,
}


def check_all(result: Result, only: Iterable[str] | None = None) -> dict[str, list[str]]:
    summary = result.summary()
    names = list(only) if only is not None else list(CHECKS)
    found = {}
    for name in names:
        v = CHECKS[name](result, summary)
        if v:
            found[name] = v
    return found
