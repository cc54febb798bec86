"""Fleets (docs/fleet.md): running pairs on both engines, loading and validating, and a profile.

    python benchmarks/fleet.py run [PAIRS] [HOURS] [SIMPY_PAIRS]   # (b)/(c) a fraction, extrapolated
    python benchmarks/fleet.py load [PAIRS...]                      # (d) load + validate + build pairs
    python benchmarks/fleet.py multi [TUNNELS]                      # one file of many tunnels: load
    python benchmarks/fleet.py profile [PAIRS] [HOURS]              # where a pair's time goes

The fleet (``FLEET``): a strongSwan hub and branch, IKEv2, DPD 30 s at both ends, a 1 s ping
each way, CHILD SAs rekeyed every 1 h and IKE SAs every 4 h (strongSwan defaults), links of
5-45 ms with 0-0.5 % loss, and random link outages (one every 6 h on average, 10 s - 2 min).

``run`` simulates the first PAIRS pairs of that fleet for HOURS on the fast engine and the
first SIMPY_PAIRS of them (default: PAIRS) on the SimPy engine, in this process, one after the
other, and reports CPU seconds per pair-hour of each and their ratio on the pairs both ran,
with the rows of those pairs compared (same results). 1,000 or 10,000 pairs x 24 h are
extrapolated from the CPU per pair-hour (pairs are independent runs, so the cost is linear).
Peak RSS is the process's (``ru_maxrss``): a finished pair keeps only its row.
"""

from __future__ import annotations

import copy
import cProfile
import pstats
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PEER = {"profile": "strongswan", "ike": {"version": 2, "proposals": ["aes128-sha256-modp2048"], "psk": "k"},
        "child": {"proposals": ["aes128-sha256"]}, "dpd": {"delay": "30s", "action": "restart"}}
FLEET: dict[str, Any] = {
    "name": "bench-fleet", "seed": 1, "duration": "24h",
    "peers": {
        "hub": {**PEER, "address": "10.99.0.1", "local_subnets": ["10.1.0.0/24"], "remote_subnets": ["10.2.0.0/24"],
                "start": "respond"},
        "branch": {**PEER, "address": "10.99.0.2", "local_subnets": ["10.2.0.0/24"],
                   "remote_subnets": ["10.1.0.0/24"], "start": "initiate"},
    },
    "traffic": [{"name": "ping-up", "kind": "ping", "from": "branch", "to": "hub", "interval": "1s"},
                {"name": "ping-down", "kind": "ping", "from": "hub", "to": "branch", "interval": "1s"}],
    "fleet": {"pairs": 1000, "hub": "hub", "start": {"uniform": ["0s", "60s"]},
              "link": {"delay": {"uniform": ["5ms", "45ms"]}, "loss": {"uniform": [0, "0.5%"]}},
              "link_faults": {"every": "6h", "duration": {"uniform": ["10s", "2m"]}}},
}


def fleet(pairs: int, hours: float) -> Any:
    from ipsecsim.config.loader import load_scenario
    from ipsecsim.fleet import build_fleet
    d = copy.deepcopy(FLEET)
    d["fleet"]["pairs"] = pairs
    d["duration"] = hours * 3600.0
    return build_fleet(load_scenario(d, file="bench-fleet"))


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cmd_run(pairs: int, hours: float, simpy_pairs: int, crypto: str) -> None:
    from ipsecsim.fleet import pair_row
    f = fleet(pairs, hours)
    out: dict[str, Any] = {}
    for engine, n in (("fast", pairs), ("simpy", simpy_pairs)):
        c0, w0 = time.process_time(), time.perf_counter()
        rows = [pair_row(f, p, engine, crypto) for p in f.plans[:n]]
        out[engine] = (time.process_time() - c0, time.perf_counter() - w0, rows)
    (fc, fw, frows), (sc, sw, srows) = out["fast"], out["simpy"]
    same = frows[:simpy_pairs] == srows
    ph_f, ph_s = fc / (pairs * hours), sc / (simpy_pairs * hours)
    events = sum(r["events"] for r in frows)
    print(f"fleet {pairs} pairs x {hours:g} h (crypto {crypto}); simpy baseline on the first {simpy_pairs}")
    print(f"  fast : {fc:8.2f} CPU s, {fw:8.2f} wall s, {events} events, {ph_f:.3f} CPU s per pair-hour")
    print(f"  simpy: {sc:8.2f} CPU s, {sw:8.2f} wall s, {ph_s:.3f} CPU s per pair-hour")
    print(f"  fast vs simpy: {ph_s / ph_f:.2f}x less CPU per pair-hour; same rows on the common pairs: {same}")
    for n in (1000, 10000):
        print(f"  extrapolated {n} pairs x 24 h: {ph_f * n * 24 / 3600:.2f} CPU-hours fast, "
              f"{ph_s * n * 24 / 3600:.2f} simpy")
    row_bytes = len(repr(frows)) / max(len(frows), 1)
    print(f"  peak RSS {rss_mb():.0f} MB; a row is ~{row_bytes:.0f} B as text, "
          f"10,000 rows ~{row_bytes * 1e4 / 1e6:.1f} MB")


def cmd_load(sizes: list[int]) -> None:
    import yaml

    from ipsecsim.config.loader import load_scenario
    from ipsecsim.fleet import build_fleet
    for n in sizes:
        d = copy.deepcopy(FLEET)
        d["fleet"]["pairs"] = n
        path = Path(f"/tmp/bench-fleet-{n}.yaml")
        path.write_text(yaml.safe_dump(d))
        w0, c0 = time.perf_counter(), time.process_time()
        f = build_fleet(load_scenario(str(path)))
        print(f"load + validate + build {n:>6} pairs: {time.perf_counter() - w0:6.2f} wall s, "
              f"{time.process_time() - c0:6.2f} CPU s ({len(f.plans)} pairs)")


def multi(n: int) -> dict[str, Any]:
    peers: dict[str, Any] = {}
    traffic = []
    for i in range(n):
        a, b = f"c{i}", f"b{i}"
        x, y = divmod(i, 250)
        peers[a] = {"address": f"10.1.{x}.{y + 1}", "remote_peer": b, "local_subnets": [f"10.{100 + x}.{y}.0/24"],
                    "remote_subnets": [f"10.{200 + x}.{y}.0/24"], "start": "respond", "ike": {"psk": "k"}}
        peers[b] = {"address": f"10.2.{x}.{y + 1}", "remote_peer": a, "local_subnets": [f"10.{200 + x}.{y}.0/24"],
                    "remote_subnets": [f"10.{100 + x}.{y}.0/24"], "ike": {"psk": "k"}}
        traffic.append({"kind": "ping", "from": b, "to": a, "interval": "1s", "name": f"p{i}"})
    return {"name": "multi", "duration": "1h", "peers": peers, "traffic": traffic}


def cmd_multi(n: int) -> None:
    import ipsecsim.config.loader as loader
    loader.MAX_NODES = 10**9  # a file of this size is above the loader's limit; measure validation itself
    d = multi(n)
    c0 = time.process_time()
    loader.load_scenario(d)
    print(f"one scenario of {n} tunnels (remote_peer), {n} flows: load + validate {time.process_time() - c0:.2f} CPU s")


def cmd_profile(pairs: int, hours: float, crypto: str) -> None:
    from ipsecsim.fleet import pair_row
    f = fleet(pairs, hours)
    prof = cProfile.Profile()
    prof.enable()
    for p in f.plans:
        pair_row(f, p, "fast", crypto)
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(15)


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--crypto=")]
    crypto = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--crypto=")), "real")
    cmd = args[0] if args else "run"
    rest = args[1:]
    if cmd == "run":
        pairs = int(rest[0]) if rest else 20
        hours = float(rest[1]) if len(rest) > 1 else 1.0
        cmd_run(pairs, hours, int(rest[2]) if len(rest) > 2 else pairs, crypto)
    elif cmd == "load":
        cmd_load([int(x) for x in rest] or [1000, 10000])
    elif cmd == "multi":
        cmd_multi(int(rest[0]) if rest else 2000)
    elif cmd == "profile":
        cmd_profile(int(rest[0]) if rest else 5, float(rest[1]) if len(rest) > 1 else 1.0, crypto)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
