"""Fleets (docs/fleet.md): running pairs on both engines, loading and validating, and a profile.

    python benchmarks/fleet.py run [PAIRS] [HOURS] [SIMPY_PAIRS]   # (b)/(c) a fraction, extrapolated
    python benchmarks/fleet.py load [PAIRS...]                      # (d) load + validate + build pairs
    python benchmarks/fleet.py multi [TUNNELS]                      # one file of many tunnels: load
    python benchmarks/fleet.py profile [PAIRS] [HOURS]              # where a pair's time goes
    python benchmarks/fleet.py phases [PAIRS] [HOURS]               # a pair's CPU outside the loop
    python benchmarks/fleet.py shard [PAIRS] [HOURS] [JOBS]         # inline, -j JOBS, dask: overhead
    python benchmarks/fleet.py c [PAIRS] [HOURS] [JOBS]             # (c) a fraction with -j JOBS

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
    if hours * 3600.0 < 120.0:  # very short runs (to measure fixed costs): starts inside the run
        d["fleet"]["start"] = {"uniform": ["0s", hours * 1800.0]}
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


def cmd_phases(pairs: int, hours: float, crypto: str) -> None:
    """CPU of a pair by phase: building its scenario, setting up the run, the event loop
    (negotiation, rekeys, data plane), the final states, and measuring the row."""
    from ipsecsim.fleet import run as fleet_run
    from ipsecsim.fleet import summary as fleet_summary
    from ipsecsim.sim import runner
    from ipsecsim.sim.sched import make
    spent: dict[str, float] = {}

    def timed(owner: Any, name: str, key: str) -> None:
        inner = getattr(owner, name)

        def wrapper(*a: Any, **k: Any) -> Any:
            c = time.process_time()
            try:
                return inner(*a, **k)
            finally:
                spent[key] = spent.get(key, 0.0) + time.process_time() - c
        setattr(owner, name, wrapper)

    timed(fleet_run, "pair_scenario", "pair scenario (template + draws)")
    timed(runner, "simulate", "simulate (all)")
    timed(type(make("fast")), "run", "  event loop")
    timed(runner, "final_state", "  final states")
    timed(fleet_summary, "pair_row", "measure the row")
    f = fleet(pairs, hours)
    fleet_run.pair_row(f, f.plans[0], "fast", crypto)  # imports and first-use caches
    spent.clear()
    c0 = time.process_time()
    for p in f.plans[1:]:
        fleet_run.pair_row(f, p, "fast", crypto)
    n = max(pairs - 1, 1)
    total = (time.process_time() - c0) / n
    print(f"{pairs - 1} pairs x {hours:g} h (crypto {crypto}), CPU ms per pair:")
    print(f"  {'total':<34}{1000 * total:10.2f}")
    for k, v in spent.items():
        print(f"  {k:<34}{1000 * v / n:10.2f}")
    loop = spent.get("  event loop", 0.0) / n
    print(f"  {'outside the event loop':<34}{1000 * (total - loop):10.2f}")


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def cmd_shard(pairs: int, hours: float, jobs: int, crypto: str) -> None:
    """The same fleet inline, in ``jobs`` local processes and on a dask LocalCluster of
    ``jobs`` workers: wall and CPU, the overhead per pair against inline, identical rows."""
    from ipsecsim.fleet import run_fleet
    f = fleet(pairs, hours)
    out: dict[str, tuple[float, float]] = {}
    rows: dict[str, Any] = {}

    def measure(name: str, **kw: Any) -> None:
        client = kw.get("client")
        workers = (lambda: sum(client.run(time.process_time).values())) if client is not None else (lambda: 0.0)
        w0, c0, k0, d0 = time.perf_counter(), time.process_time(), _children_cpu(), workers()
        rows[name] = run_fleet(f, crypto=crypto, **kw)
        out[name] = (time.perf_counter() - w0, time.process_time() - c0 + _children_cpu() - k0 + workers() - d0)

    measure("inline")
    measure(f"local -j {jobs}", executor="local", jobs=jobs)
    try:
        from distributed import Client, LocalCluster
        have_dask = True
    except ImportError:
        have_dask = False
    if have_dask:
        w0 = time.perf_counter()
        with LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
                Client(cl) as client:
            up = time.perf_counter() - w0
            client.run(lambda: __import__("ipsecsim.fleet.run"))  # workers import before timing
            measure(f"dask {jobs} workers", executor="dask", client=client)
            measure(f"dask {jobs} workers again", executor="dask", client=client)
        print(f"dask LocalCluster of {jobs} workers: {up:.2f} wall s to start (not counted below)")
    print(f"fleet {pairs} pairs x {hours:g} h (crypto {crypto}), load average {_load()}")
    wi, ci = out["inline"]
    for name, (w, c) in out.items():
        same = rows[name] == rows["inline"]
        over = "" if name == "inline" else f"  wall over inline/{jobs}: {1000 * (w - wi / jobs) / pairs:+.2f} ms/pair"
        cpu = f"{c:8.2f} CPU s ({1000 * (c - ci) / pairs:+.2f} ms/pair)"
        print(f"  {name:<26}{w:8.2f} wall s {cpu}  x{wi / w:.2f} of inline's wall{over}  same rows: {same}")
    print("  CPU: this process, its worker processes (local) or the dask workers (process_time)")


def _load() -> str:
    import os
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cmd_c(pairs: int, hours: float, jobs: int, crypto: str) -> None:
    """(c) PAIRS x HOURS of the 10,000-pair fleet with ``-j JOBS``: wall, CPU of every
    process, CPU s per pair-hour, peak RSS of this process and of the largest worker, and the
    full 10,000 x 24 h extrapolated (CPU is linear in pairs and hours)."""
    from ipsecsim.fleet import run_fleet, summarize_fleet
    print(f"(c) {pairs} pairs x {hours:g} h, -j {jobs}, crypto {crypto}; load average before {_load()}")
    f = fleet(pairs, hours)
    w0, c0, k0 = time.perf_counter(), time.process_time(), _children_cpu()
    rows = run_fleet(f, executor="local" if jobs > 1 else "inline", jobs=jobs, crypto=crypto)
    wall = time.perf_counter() - w0
    cpu = time.process_time() - c0 + _children_cpu() - k0
    summary = summarize_fleet(f, rows, crypto)
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    ph = cpu / (pairs * hours)
    full = ph * 10000 * 24
    print(f"  {wall:.1f} wall s, {cpu:.1f} CPU s, {ph:.4f} CPU s per pair-hour, "
          f"{summary['fleet']['counts']['events']} events; load average after {_load()}")
    print(f"  peak RSS: this process {rss_mb():.0f} MB, largest worker {child_rss:.0f} MB")
    print(f"  10,000 pairs x 24 h extrapolated: {full / 3600:.2f} CPU-hours, {full / max(jobs, 1) / 60:.0f} min "
          f"on {jobs} idle core(s); target 15 min: {full / max(jobs, 1) / 900:.1f}x over")
    c = summary["fleet"]["counts"]
    print(f"  established {c['established']}, up at end {c['up_at_end']}, with outage {c['with_outage']}, "
          f"link outages {c['link_outages']}, rekeys p50 {summary['fleet']['rekeys']['p50']}")


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
    elif cmd == "phases":
        cmd_phases(int(rest[0]) if rest else 21, float(rest[1]) if len(rest) > 1 else 1.0, crypto)
    elif cmd == "shard":
        cmd_shard(int(rest[0]) if rest else 200, float(rest[1]) if len(rest) > 1 else 0.01,
                  int(rest[2]) if len(rest) > 2 else 2, crypto)
    elif cmd == "c":
        cmd_c(int(rest[0]) if rest else 40, float(rest[1]) if len(rest) > 1 else 24.0,
              int(rest[2]) if len(rest) > 2 else 2, crypto)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
