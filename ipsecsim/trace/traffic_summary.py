"""The ``traffic`` section of the run summary: what happened to every byte offered.

Per flow and per direction (``A->B``): bytes and packets offered by the source, delivered to
the far host, dropped by reason (every stage: sending peer, link, receiving peer), and what was
still in flight at the end (``in_flight``: passed on by the link but not yet at the far
gateway, or held in an acquire queue). Each is measured on its own, and for bytes and for
packets ``offered = delivered + sum(dropped) + in_flight`` exactly: a fluid flow's fractional
amounts are rounded together, as parts of the whole offered (largest remainder), so the whole
numbers add up. Should the measured parts ever miss the offered amount by more than rounding,
the difference is shown as ``unaccounted_bytes`` / ``unaccounted_packets`` instead of being
hidden.
Outages are the union of the drop intervals (offer time) of every reason except ``loss``
(a lossy link thins a flow; it does not black-hole it), merged when they touch.
``fragmented_packets`` / ``fragments``: ESP packets sent larger than the path MTU without DF
and the IPv4 fragments they became (sim/mtu.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..result import Result

_TOUCH = 1e-6


def flows_of(result: Result) -> dict[str, dict[str, Any]]:
    """Flow name -> {kind, from, to, src, dst} for every configured flow and its replies."""
    out: dict[str, dict[str, Any]] = {}
    for t in result.scenario.spec.traffic:
        src, dst, name = t.src, t.dst, t.name
        out[name] = {"kind": t.kind, "from": t.source, "to": t.to, "src": src, "dst": dst}
        if t.kind == "ping":
            out[name + ":reply"] = {"kind": "ping-reply", "from": t.to, "to": t.source, "src": dst, "dst": src}
    return out


def _peers(result: Result, end: str) -> list[str]:
    """The peers a flow's end stands for: the peer, or every member of an HA group (a flow
    from a group is offered at whichever member was active, and arrives at its partner)."""
    return result.scenario.spec.members(end)


def merge(intervals: list[tuple[float, float, str]]) -> list[dict[str, Any]]:
    """Union of (start, end, reason) intervals; each merged interval lists its reasons."""
    out: list[dict[str, Any]] = []
    for start, end, reason in sorted(intervals):
        if out and start <= out[-1]["end"] + _TOUCH:
            cur = out[-1]
            cur["end"] = max(cur["end"], end)
            if reason not in cur["reasons"]:
                cur["reasons"].append(reason)
        else:
            out.append({"start": start, "end": end, "reasons": [reason]})
    for o in out:
        o["start"], o["end"] = round(o["start"], 6), round(o["end"], 6)
        o["duration"] = round(o["end"] - o["start"], 6)
        o["reason"] = o["reasons"][0]
    return out


def _blank() -> dict[str, Any]:
    return {"offered_bytes": 0, "delivered_bytes": 0, "dropped_bytes": {}, "in_flight_bytes": 0,
            "offered_packets": 0, "delivered_packets": 0, "dropped_packets": {}, "in_flight_packets": 0,
            "outages": [], "outage_total": 0.0, "fragmented_packets": 0, "fragments": 0}


def traffic_summary(result: Result) -> dict[str, Any]:
    flows = flows_of(result)
    if not flows:
        return {"flows": {}, "directions": {}}
    per_flow: dict[str, dict[str, Any]] = {n: {**meta, **_blank()} for n, meta in flows.items()}
    from ..proto.esp_size import fragment_totals
    frags = fragment_totals(result.esp, result.fluids, result.scenario.spec.link.mtu, result.duration)
    dropped = dropped_totals(result)
    queued = _queued(result)
    for name, meta in flows.items():
        _account_flow(result, name, meta, per_flow[name], dropped.get(name, {}), queued.get(name, [0, 0]),
                      frags.get(name, (0, 0)))
    intervals: dict[str, list[tuple[float, float, str]]] = {n: [] for n in flows}
    for e in result.events:
        if e.event != "traffic_dropped" or e.get("flow") not in per_flow:
            continue
        if e.get("reason") != "loss":
            intervals[e.get("flow")].append((e.get("start"), e.get("end"), e.get("reason")))
    directions = _directions(per_flow, intervals)
    return {"flows": per_flow, "directions": dict(sorted(directions.items())), "down": still_down(result, per_flow)}


def _queued(result: Result) -> dict[str, list[int]]:
    """Per flow: bytes and packets still queued at the peers (waiting for an SA)."""
    queued: dict[str, list[int]] = {}
    for final in result.peers.values():
        for name, (b, n) in final.queued.items():
            q = queued.setdefault(name, [0, 0])
            q[0] += b
            q[1] += n
    return queued


def _account_flow(result: Result, name: str, meta: dict[str, Any], f: dict[str, Any],
                  dropped: dict[str, tuple[float, float]],
                  q: list[int], frags: Sequence[float]) -> None:
    """Flow ``name``'s offered bytes and packets apportioned into delivered, in flight, dropped per reason
    (and unaccounted, if any), its fragments and, for a ping, its echo requests and replies."""
    sent = [c for p in _peers(result, meta["from"]) if (c := result.peers[p].flows.get(name))]
    got = [c for p in _peers(result, meta["to"]) if (c := result.peers[p].flows.get(name))]
    fwd = result.forwarded.get(name, [0.0, 0.0])
    for i, unit in enumerate(("bytes", "packets")):
        offered = sum(c.offered_bytes if i == 0 else c.offered_packets for c in sent)
        parts: dict[str, float] = {
            "delivered": sum(c.delivered_bytes if i == 0 else c.delivered_packets for c in got),
            "in_flight": fwd[i] - sum(c.received_bytes if i == 0 else c.received_packets for c in got) + q[i]}
        for reason, v in sorted(dropped.items()):
            parts["drop:" + reason] = v[i]
        whole, ints, missing = apportion(offered, parts)
        f[f"offered_{unit}"] = whole
        f[f"delivered_{unit}"] = ints["delivered"]
        f[f"in_flight_{unit}"] = ints["in_flight"]
        f[f"dropped_{unit}"] = {k[5:]: v for k, v in ints.items() if k.startswith("drop:")}
        if missing:
            f[f"unaccounted_{unit}"] = missing
    f["dropped_bytes"], f["dropped_packets"] = _nonzero(f["dropped_bytes"], f["dropped_packets"])
    f["fragmented_packets"], f["fragments"] = (round(v) for v in frags)
    if meta["kind"] == "ping":
        f["echo_requests"] = round(sum(c.offered_packets for c in sent))
        f["echo_replies"] = sum(c.replies for c in sent)


def _directions(per_flow: dict[str, dict[str, Any]],
                intervals: dict[str, list[tuple[float, float, str]]]) -> dict[str, dict[str, Any]]:
    """Each flow's outages, and the totals and outages per direction (from -> to) over its flows."""
    directions: dict[str, dict[str, Any]] = {}
    for name, f in per_flow.items():
        f["outages"] = merge(intervals[name])
        f["outage_total"] = float(round(sum(o["duration"] for o in f["outages"]), 6))
        d = directions.setdefault(f"{f['from']}->{f['to']}", {**_blank(), "flows": []})
        d["flows"].append(name)
        for k in ("offered_bytes", "delivered_bytes", "offered_packets", "delivered_packets", "in_flight_bytes",
                  "in_flight_packets", "fragmented_packets", "fragments"):
            d[k] += f[k]
        for k in ("unaccounted_bytes", "unaccounted_packets"):
            if k in f:
                d[k] = d.get(k, 0) + f[k]
        for k in ("dropped_bytes", "dropped_packets"):
            for r, v in f[k].items():
                d[k][r] = d[k].get(r, 0) + v
    for d in directions.values():
        d["outages"] = merge([iv for n in d["flows"] for iv in intervals[n]])
        d["outage_total"] = float(round(sum(o["duration"] for o in d["outages"]), 6))
    return directions


def still_down(result: Result, per_flow: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Flows still black-holed at the end of the run (a tunnel that stayed down while traffic
    was offered): their last outage reaches the end (within the link delay or a ping interval
    of it, as drops are timed when the traffic was offered). Per flow: since when, why, and
    what was dropped since (from the ``traffic_dropped`` events of that outage)."""
    slack = max([1.0, result.scenario.spec.link.delay * 2]
                + [t.interval or 0.0 for t in result.scenario.spec.traffic])
    out = []
    ending = {name for name, f in per_flow.items()
              if f["outages"] and f["outages"][-1]["end"] >= result.duration - slack}
    drops: dict[str, list[Any]] = {name: [] for name in ending}
    for e in result.events:  # once, not once per flow (quadratic with thousands of tunnels)
        if e.event == "traffic_dropped" and e.get("flow") in drops and e.get("reason") != "loss":
            drops[e.get("flow")].append(e)
    for name, f in per_flow.items():
        if name not in ending:
            continue
        last = f["outages"][-1]
        b = n = 0
        for e in drops[name]:
            if e.get("start") >= last["start"] - _TOUCH:
                b += e.get("bytes", 0)
                n += e.get("packets", 0)
        out.append({"flow": name, "from": f["from"], "to": f["to"], "since": last["start"],
                    "reasons": list(last["reasons"]), "dropped_bytes": b, "dropped_packets": n})
    return out


def dropped_totals(result: Result) -> dict[str, dict[str, tuple[float, float]]]:
    """Flow -> reason -> (bytes, packets) dropped at any stage, unrounded."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    sources = [final.dropped for final in result.peers.values()] + [result.link_dropped]
    for totals in sources:
        for (flow, reason), (b, n) in totals.items():
            cur = out.setdefault(flow, {}).get(reason, (0.0, 0.0))
            out[flow][reason] = (cur[0] + b, cur[1] + n)
    return out


def apportion(total: float, parts: dict[str, float]) -> tuple[int, dict[str, int], int]:
    """Whole numbers for ``parts`` of ``total`` that add up to ``round(total)`` (largest
    remainder method), and what is missing when the parts do not make up the total beyond
    floating-point rounding (then each part is rounded on its own): (whole, parts, missing)."""
    whole = round(total)
    vals = {k: max(0.0, v) for k, v in parts.items()}
    if abs(total - sum(vals.values())) > max(0.01, 1e-12 * abs(total)):
        ints = {k: round(v) for k, v in vals.items()}
        return whole, ints, whole - sum(ints.values())
    ints = {k: math.floor(v) for k, v in vals.items()}
    left = whole - sum(ints.values())
    by_rest = sorted(vals, key=lambda k: (-(vals[k] - ints[k]), k))
    for k in by_rest[:max(0, left)]:
        ints[k] += 1
    for k in reversed(by_rest):  # float noise put the parts a unit above the whole
        if left >= 0:
            break
        if ints[k] > 0:
            ints[k] -= 1
            left += 1
    return whole, ints, 0


def _nonzero(b: dict[str, int], p: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    keep = [r for r in b if b[r] or p.get(r)]
    return {r: b[r] for r in keep}, {r: p.get(r, 0) for r in keep}
