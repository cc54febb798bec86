"""The ``traffic`` section of the run summary: what happened to every byte offered.

Per flow and per direction (``A->B``): bytes and packets offered by the source, delivered to
the far host, dropped by reason (summed from the ``traffic_dropped`` events of every stage:
sending peer, link, receiving peer), and what was still in flight or queued at the end.
Outages are the union of the drop intervals (offer time) of every reason except ``loss``
(a lossy link thins a flow; it does not black-hole it), merged when they touch.
``fragmented_packets`` / ``fragments``: ESP packets sent larger than the path MTU without DF
and the IPv4 fragments they became (sim/mtu.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..result import Result

_TOUCH = 1e-6


def flows_of(result: Result) -> dict[str, dict[str, Any]]:
    """Flow name -> {kind, from, to, src, dst} for every configured flow and its replies."""
    from ..sim.traffic import endpoints, flow_name
    cfg = result.scenario.config
    out: dict[str, dict[str, Any]] = {}
    for i, t in enumerate(cfg.traffic):
        src, dst = endpoints(cfg, t)
        name = flow_name(t, i)
        out[name] = {"kind": t.kind, "from": t.source, "to": t.to, "src": src, "dst": dst}
        if t.kind == "ping":
            out[name + ":reply"] = {"kind": "ping-reply", "from": t.to, "to": t.source, "src": dst, "dst": src}
    return out


def _peers(result: Result, end: str) -> list[str]:
    """The peers a flow's end stands for: the peer, or every member of an HA group (a flow
    from a group is offered at whichever member was active, and arrives at its partner)."""
    from ..config.topology import members
    return members(result.scenario.config, end)


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
            "offered_packets": 0, "delivered_packets": 0, "dropped_packets": {},
            "outages": [], "outage_total": 0.0, "fragmented_packets": 0, "fragments": 0}


def traffic_summary(result: Result) -> dict[str, Any]:
    flows = flows_of(result)
    if not flows:
        return {"flows": {}, "directions": {}}
    per_flow: dict[str, dict[str, Any]] = {n: {**meta, **_blank()} for n, meta in flows.items()}
    intervals: dict[str, list[tuple[float, float, str]]] = {n: [] for n in flows}
    from ..sim.mtu import fragment_totals
    frags = fragment_totals(result.esp, result.fluids, result.scenario.config.link.mtu, result.duration)
    for name, meta in flows.items():
        f = per_flow[name]
        sent = [c for p in _peers(result, meta["from"]) if (c := result.endpoints[p].traffic.flows.get(name))]
        got = [c for p in _peers(result, meta["to"]) if (c := result.endpoints[p].traffic.flows.get(name))]
        f["offered_bytes"] = sum(c.offered_bytes for c in sent)
        f["offered_packets"] = sum(c.offered_packets for c in sent)
        f["delivered_bytes"] = sum(c.delivered_bytes for c in got)
        f["delivered_packets"] = sum(c.delivered_packets for c in got)
        f["fragmented_packets"], f["fragments"] = (round(v) for v in frags.get(name, (0, 0)))
        if meta["kind"] == "ping":
            f["echo_requests"] = round(sum(c.offered_packets for c in sent))
            f["echo_replies"] = sum(c.replies for c in sent)
    for e in result.events:
        if e.event != "traffic_dropped" or e.get("flow") not in per_flow:
            continue
        f = per_flow[e.get("flow")]
        reason = e.get("reason")
        f["dropped_bytes"][reason] = f["dropped_bytes"].get(reason, 0) + e.get("bytes", 0)
        f["dropped_packets"][reason] = f["dropped_packets"].get(reason, 0) + e.get("packets", 0)
        if reason != "loss":
            intervals[e.get("flow")].append((e.get("start"), e.get("end"), reason))
    directions: dict[str, dict[str, Any]] = {}
    for name, f in per_flow.items():
        f["outages"] = merge(intervals[name])
        f["outage_total"] = float(round(sum(o["duration"] for o in f["outages"]), 6))
        _finish(f)
        d = directions.setdefault(f"{f['from']}->{f['to']}", {**_blank(), "flows": []})
        d["flows"].append(name)
        for k in ("offered_bytes", "delivered_bytes", "offered_packets", "delivered_packets", "in_flight_bytes",
                  "fragmented_packets", "fragments"):
            d[k] += f[k]
        for k in ("dropped_bytes", "dropped_packets"):
            for r, v in f[k].items():
                d[k][r] = d[k].get(r, 0) + v
    for _dname, d in directions.items():
        d["outages"] = merge([iv for n in d["flows"] for iv in intervals[n]])
        d["outage_total"] = float(round(sum(o["duration"] for o in d["outages"]), 6))
    return {"flows": per_flow, "directions": dict(sorted(directions.items()))}


def _finish(f: dict[str, Any]) -> None:
    for k in ("offered_bytes", "delivered_bytes", "offered_packets", "delivered_packets"):
        f[k] = round(f[k])
    dropped = sum(f["dropped_bytes"].values())
    # offered in the last link delay before the end, or held in an acquire queue
    f["in_flight_bytes"] = max(0, f["offered_bytes"] - f["delivered_bytes"] - dropped)
