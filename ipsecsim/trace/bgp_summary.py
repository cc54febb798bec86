"""The ``bgp`` entry of each BGP peer in the run summary (docs/bgp.md).

From the session's state at the end (``Result.bgp``, sim/bgp.py) and its ``bgp_state`` events:
the state, in the vendors' words beside the IPsec status (Alibaba Cloud ``BgpStatus`` of
``TunnelBgpConfig`` / ``VpnBgpConfig.Status``: ``success`` while the session is up, else
``false``; Huawei: the peer state as VRP's ``display bgp peer`` names it, RFC 4271's names),
the timers as configured and negotiated, how often the session came up and fell, how long it
was Established, the routes learned and announced, message and TCP counters, and where each
default came from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..result import Result


def alibaba_status(state: str) -> str:
    """Alibaba ``BgpStatus``: ``success`` (documented example value) while Established; ``false``
    otherwise (assumption: the API reference shows only ``success``)."""
    return "success" if state == "Established" else "false"


def bgp_peer(result: Result, name: str) -> dict[str, Any] | None:
    snap = result.bgp.get(name)
    if snap is None:
        return None
    up: list[dict[str, Any]] = []
    since: float | None = None
    for e in result.events:
        if e.peer != name or e.event != "bgp_state":
            continue
        if e.get("to") == "Established":
            since = e.t
        elif e.get("from") == "Established" and since is not None:
            up.append({"start": round(since, 6), "end": round(e.t, 6), "duration": round(e.t - since, 6)})
            since = None
    if since is not None:
        up.append({"start": round(since, 6), "end": None, "duration": round(result.duration - since, 6)})
    state = snap["state"]
    return {
        "state": state,
        "vendor_status": {"alibaba": {"BgpStatus": alibaba_status(state)}, "huawei": {"state": state}},
        **{k: v for k, v in snap.items() if k != "state"},
        "established_intervals": up,
        "established_total": round(sum(u["duration"] for u in up), 6),
    }
