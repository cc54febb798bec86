"""Hypothesis strategies for two-peer scenarios (the scenario dict format of docs/api.md).

``scenarios()`` draws a complete scenario: a vendor profile per peer (every profile that
``ipsecsim profiles`` lists), the IKE version, DPD (mode, action, style, timers), time or
volume lifetimes, traffic (ping, bulk, burst) and a random fault schedule (link_down, loss,
delay, freeze, crash, restart, recreate, reconfigure). Cost is kept in check by what the run
simulates: a ping costs ~150 us of wall time per echo, so runs with pings stay short (minutes);
bulk and burst traffic is a fluid (a few events per rekey), so those runs may last days.

Both peers get the same explicit proposals (aes128-sha256-modp2048 / aes128-sha256, which
every profile accepts), so that most scenarios establish a tunnel and the invariants have
something to watch; a fault may still change a PSK or a version on one side.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

from ipsecsim.config import profiles

PSK = "west-east-secret"
PROFILES = sorted(profiles.names())

IKE_PROPOSAL = "aes128-sha256-modp2048"
ESP_PROPOSAL = "aes128-sha256"

# Durations in seconds. Fluid (bulk / burst) traffic is cheap, pings are not.
LONG = [600, 3600, 4 * 3600, 86400, 3 * 86400] if os.environ.get("IPSECSIM_PROPS") == "long" else [600, 3600, 4 * 3600]
"""Bulk-only runs: up to 4 h in the CI profile (a few minutes for the whole file on two cores),
up to 3 days with ``IPSECSIM_PROPS=long``."""
SHORT = [60, 180, 600]

# What a run costs grows with its rekeys (each moves every flow): outside the ``long`` profile a
# drawn scenario is cut short so that it rekeys at most this many times (50 MB at 1 Gbit/s for
# 3 days would be over 600,000 rekeys, a 120 s lifetime over 3 days 2,160).
CI_REKEYS = 300
_RATES = {"1Mbit/s": 1e6 / 8, "10Mbit/s": 10e6 / 8, "100Mbit/s": 100e6 / 8, "1Gbit/s": 1e9 / 8}
_SIZES = {"50MB": 50e6, "500MB": 500e6, "5GB": 5e9}


def _long_profile() -> bool:
    """The ``long`` hypothesis profile (tests/conftest.py) is active: no cap on run cost."""
    try:
        return settings.default.max_examples >= settings.get_profile("long").max_examples
    except Exception:  # the profile is not registered (module used on its own)
        return False


def _capped(duration: float, peers: list[dict[str, Any]], flows: list[dict[str, Any]]) -> float:
    """``duration`` cut so that the run has at most ``CI_REKEYS`` rekeys by time or volume."""
    rate = sum(_RATES.get(f.get("rate", ""), 0.0) for f in flows)
    cap = duration
    for p in peers:
        life = p["child"].get("life_time")
        if isinstance(life, int | float) and life > 0:
            cap = min(cap, CI_REKEYS * life)
        size = _SIZES.get(p["child"].get("life_bytes", ""))
        if size and rate > 0:
            cap = min(cap, CI_REKEYS * size / rate)
    return float(max(60, int(cap)))


def _peer(name: str, address: str, local: str, remote: str, start: str) -> dict[str, Any]:
    return {"address": address, "local_subnets": [local], "remote_subnets": [remote], "start": start,
            "ike": {"proposals": [IKE_PROPOSAL], "psk": PSK}, "child": {"proposals": [ESP_PROPOSAL]}}


@st.composite
def dpd(draw: st.DrawFn) -> dict[str, Any]:
    """A DPD section: off (delay 0), or on with a mode, an action and a probe schedule."""
    if draw(st.integers(0, 3)) == 0:
        return {"delay": 0}
    out: dict[str, Any] = {
        "delay": draw(st.sampled_from([10, 20, 30])),
        "mode": draw(st.sampled_from(["periodic", "on-demand"])),
        "action": draw(st.sampled_from(["clear", "hold", "trap", "restart", "none"])),
        "retry_interval": draw(st.sampled_from([5, 10, 15])),
        "retries": draw(st.integers(1, 5)),
    }
    if draw(st.booleans()):
        out["ikev2_schedule"] = draw(st.sampled_from(["retransmit", "dpd"]))
    if draw(st.booleans()):
        out["ikev1_style"] = draw(st.sampled_from(["retry", "timeout"]))
    return out


@st.composite
def child_lifetime(draw: st.DrawFn, duration: float) -> dict[str, Any]:
    """CHILD SA lifetimes: the profile's, by time (soft + hard, or hard only), or by volume."""
    kind = draw(st.sampled_from(["profile", "time", "time", "volume", "hard_time", "hard_volume"]))
    if kind == "profile":
        return {}
    if kind in ("time", "hard_time"):
        life = draw(st.sampled_from([120, 600, 1800, 3600]))
        life = min(life, max(60, int(duration // 2)))
        if kind == "hard_time":
            return {"life_time": life}
        return {"life_time": life, "rekey_time": draw(st.sampled_from(["80%", "90%"]))}
    life_bytes = draw(st.sampled_from(["50MB", "500MB", "5GB"]))
    if kind == "hard_volume":
        return {"life_bytes": life_bytes}
    return {"life_bytes": life_bytes, "rekey_bytes": draw(st.sampled_from(["80%", "90%"]))}


@st.composite
def ike_lifetime(draw: st.DrawFn, duration: float) -> dict[str, Any]:
    kind = draw(st.sampled_from(["profile", "rekey", "rekey", "hard_time"]))
    if kind == "profile":
        return {}
    life = draw(st.sampled_from([300, 1800, 3600, 4 * 3600]))
    life = min(life, max(120, int(duration // 2)))
    if kind == "hard_time":
        return {"life_time": life}
    return {"life_time": life, "rekey_time": draw(st.sampled_from(["85%", "90%"]))}


@st.composite
def traffic(draw: st.DrawFn, short: bool, duration: float) -> list[dict[str, Any]]:
    flows: list[dict[str, Any]] = []
    n = draw(st.integers(1, 2))
    for i in range(n):
        src, dst = draw(st.sampled_from([("A", "B"), ("B", "A")]))
        start = draw(st.sampled_from([0, 1, 5]))
        if short:
            kind = draw(st.sampled_from(["ping", "bulk"]))
        else:
            kind = draw(st.sampled_from(["bulk", "bulk", "burst"]))
        flow: dict[str, Any] = {"name": f"f{i}", "kind": kind, "from": src, "to": dst, "start": start}
        if kind == "ping":
            flow["interval"] = draw(st.sampled_from([1, 2, 5]))
        elif kind == "bulk":
            flow["rate"] = draw(st.sampled_from(["1Mbit/s", "10Mbit/s", "100Mbit/s", "1Gbit/s"]))
        else:
            every = draw(st.sampled_from([60, 600, 3600]))
            flow.update(rate=draw(st.sampled_from(["10Mbit/s", "100Mbit/s"])), every=every,
                        length=every / draw(st.sampled_from([2, 4, 10])))
        if draw(st.integers(0, 4)) == 0:
            stop = start + draw(st.floats(0.2, 0.9)) * (duration - start)
            flow["stop"] = round(max(stop, start + 1), 3)
        flows.append(flow)
    return flows


FAULT_KINDS = ["link_down", "loss", "delay", "freeze", "crash", "crash_restart", "restart", "recreate",
               "reconfigure", "link_down_oneway"]


@st.composite
def fault(draw: st.DrawFn, duration: float, version: int) -> list[dict[str, Any]]:
    """One fault (two for a crash followed by a restart)."""
    kind = draw(st.sampled_from(FAULT_KINDS))
    at = round(draw(st.floats(0.0, 0.9)) * duration, 3)
    at = max(at, 0.001)
    span = draw(st.sampled_from([5, 30, 120, 600, 3600]))
    span = float(min(span, max(1.0, duration - at)))
    peer = draw(st.sampled_from(["A", "B"]))
    if kind == "link_down":
        return [{"at": at, "kind": "link_down", "duration": span}]
    if kind == "link_down_oneway":
        direction = draw(st.sampled_from(["A->B", "B->A"]))
        proto = draw(st.sampled_from(["all", "ike", "esp"]))
        return [{"at": at, "kind": "link_down", "duration": span, "direction": direction, "protocol": proto}]
    if kind == "loss":
        return [{"at": at, "kind": "loss", "duration": span, "loss": draw(st.sampled_from([0.1, 0.3, 0.6]))}]
    if kind == "delay":
        return [{"at": at, "kind": "delay", "duration": span, "delay": draw(st.sampled_from([0.05, 0.5, 2.0]))}]
    if kind == "freeze":
        return [{"at": at, "kind": "freeze", "peer": peer, "duration": span}]
    if kind == "crash":
        return [{"at": at, "kind": "crash", "peer": peer}]
    if kind == "crash_restart":
        return [{"at": at, "kind": "crash", "peer": peer, "duration": span}]
    if kind == "restart":
        return [{"at": at, "kind": "restart", "peer": peer}]
    if kind == "recreate":
        f: dict[str, Any] = {"at": at, "kind": "recreate", "peer": peer}
        change = draw(st.sampled_from(["none", "none", "rekey", "version"]))
        if change == "rekey":
            f["set"] = {"child": {"rekey_time": draw(st.sampled_from([60, 300])), "life_time": 600}}
        elif change == "version":
            f["set"] = {"ike": {"version": 3 - version}}
        return [f]
    change = draw(st.sampled_from(["psk", "child_rekey", "ike_rekey"]))
    if change == "psk":
        s: dict[str, Any] = {"ike": {"psk": "changed-secret"}}
    elif change == "child_rekey":
        s = {"child": {"rekey_time": draw(st.sampled_from([60, 300])), "life_time": 600}}
    else:
        s = {"ike": {"rekey_time": draw(st.sampled_from([120, 900])), "life_time": 1800}}
    return [{"at": at, "kind": "reconfigure", "peer": peer, "set": s}]


@st.composite
def scenarios(draw: st.DrawFn, max_faults: int = 3) -> dict[str, Any]:
    """A complete two-peer scenario dict (see the module docstring)."""
    short = draw(st.integers(0, 3)) == 0
    duration = float(draw(st.sampled_from(SHORT if short else LONG)))
    version = draw(st.sampled_from([1, 2]))
    a = _peer("A", "10.99.0.1", "10.101.0.0/24", "10.102.0.0/24", "initiate")
    b = _peer("B", "10.99.0.2", "10.102.0.0/24", "10.101.0.0/24",
              draw(st.sampled_from(["respond", "respond", "initiate", "on-traffic"])))
    for p in (a, b):
        p["profile"] = draw(st.sampled_from(PROFILES))
        p["ike"]["version"] = version
        p["dpd"] = draw(dpd())
        p["child"].update(draw(child_lifetime(duration)))
        p["ike"].update(draw(ike_lifetime(duration)))
    if draw(st.booleans()):
        a["start"] = "on-traffic"
    flows = draw(traffic(short, duration))
    if not _long_profile():
        duration = _capped(duration, [a, b], flows)
        for f in flows:
            if f["start"] >= duration or f.get("stop", 0) > duration:
                f.pop("stop", None)
                f["start"] = min(f["start"], 1)
    faults: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, max_faults))):
        faults += draw(fault(duration, version))
    faults.sort(key=lambda f: f["at"])
    link: dict[str, Any] = {"delay": draw(st.sampled_from([0.005, 0.02, 0.1]))}
    if draw(st.integers(0, 4)) == 0:
        link["loss"] = draw(st.sampled_from([0.01, 0.05]))
    return {
        "name": "prop", "seed": draw(st.integers(0, 2**16)), "duration": duration,
        "peers": {"A": a, "B": b}, "link": link,
        "traffic": flows, "faults": faults,
    }
