"""The run summary printed by ``ipsecsim run --json`` (documented in docs/events.md)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from .. import __version__
from .bgp_summary import bgp_peer
from .ha_summary import ha_summary
from .traffic_summary import traffic_summary
from .tunnel_state import tunnel_states

if TYPE_CHECKING:
    from ..result import Result


def summarize(result: Result) -> dict[str, Any]:
    sc = result.scenario
    peers: dict[str, Any] = {}
    tunnels = tunnel_states(result)
    by_peer: dict[str, list[Any]] = {name: [] for name in result.peers}
    for e in result.events:  # once: filtering the events per peer is quadratic with many tunnels
        if e.peer in by_peer:
            by_peer[e.peer].append(e)
    for name, final in result.peers.items():
        s = final.settings
        own = by_peer[name]
        counts = Counter(e.event for e in own)
        retransmitted = sum(1 for e in own if e.event == "message_sent" and e.get("retransmit", 0) > 0)
        failures = [{"t": round(e.t, 6), "phase": e.get("phase"), "notify": e.get("notify"), "reason": e.get("reason")}
                    for e in own if e.event == "negotiation_failed"]
        st = final.status
        first_ike = next((e.t for e in own if e.event == "ike_sa_established"), None)
        first_child = next((e.t for e in own if e.event == "child_sa_established"), None)
        peers[name] = {
            "status": st["status"],
            "vendor_status": vendor_status(st["status"]),
            "down": st.get("down"),
            "profile": s.profile,
            "address": s.address,
            "ike_version": s.ike.version,
            "start": s.start,
            "ike_sas": st["ike_sas"],
            "child_sas": st["child_sas"],
            "first_ike_sa_established_at": first_ike,
            "first_child_sa_established_at": first_child,
            "messages": {"sent": counts["message_sent"], "received": counts["message_received"],
                         "retransmitted": retransmitted, "lost": counts["message_lost"]},
            "failures": failures,
            "health": health(own, result.duration),
            "tunnel": tunnels.get(name),
            **({"bgp": b} if (b := bgp_peer(result, name)) is not None else {}),
        }
    return {
        "scenario": sc.spec.name,
        "seed": result.seed,
        "duration": result.duration,
        "events": len(result.events),
        "ipsecsim": __version__,
        **({"crypto": result.crypto} if result.crypto != "real" else {}),
        "peers": peers,
        "traffic": traffic_summary(result),
        **({"ha": ha_summary(result)} if sc.spec.ha else {}),
    }


def health(own: list[Any], end: float) -> dict[str, Any]:
    """When this peer's health check saw the path down, and when its DPD declared the peer dead:
    the two detectors side by side."""
    down: list[dict[str, Any]] = []
    for e in own:
        if e.event == "nqa_state" and e.get("state") == "down":
            down.append({"start": round(e.t, 6), "end": None})
        elif e.event == "nqa_state" and e.get("state") == "up" and down and down[-1]["end"] is None:
            down[-1]["end"] = round(e.t, 6)
    for d in down:
        d["duration"] = round((d["end"] if d["end"] is not None else end) - d["start"], 6)
    return {
        "nqa_down": down,
        "routes_revoked": [round(e.t, 6) for e in own if e.event == "route_revoked"],
        "dpd_peer_dead": [{"t": round(e.t, 6), "action": e.get("action"), "silent_for": e.get("silent_for")}
                          for e in own if e.event == "peer_dead"],
        "dpd_probes": sum(1 for e in own if e.event == "dpd_probe_sent"),
    }


# Huawei Cloud Eye metric connection_status of a VPN connection: 0 not connected (未连接),
# 1 connected (连接), 2 unknown (Huawei Cloud VPN monitoring metrics; the Huawei Cloud FAQ speaks of
# the console showing "未连接"). A connection counts as connected when an IPsec SA carries it.
HUAWEI_STATUS = {True: {"connection_status": 1, "text": "connected (连接)"},
                 False: {"connection_status": 0, "text": "not connected (未连接)"}}


def vendor_status(status: str) -> dict[str, Any]:
    """The final status in the vendors' own vocabularies."""
    return {"alibaba": status, "huawei": HUAWEI_STATUS[status == "ipsec_sa_established"]}
