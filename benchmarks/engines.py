"""The engines (sim/sched.py) and traffic paths (sim/train.py) on long runs: wall and CPU
time, events/s, simulated seconds per wall second, peak RSS; the array path on the fast engine
against the packet path and the SimPy engine, measured in the same process.

    python benchmarks/engines.py pair [DAYS] [BASE_DAYS]        # (a), default 30 days, baselines 1 day
    python benchmarks/engines.py pairs [N] [HOURS] [BASE_N]     # (b), default 1000 pairs x 24 h, baselines 20

``--crypto=model`` (anywhere on the line) runs everything with ``simulate(..., crypto="model")``
(the same events without the Diffie-Hellman arithmetic: ``dh.generate(..., model)``).

(a) one pair with Huawei Cloud defaults (scenarios/rekey-20gb.yaml: the cloud rekeys its IPsec
SA every 18 GB of its 20 GB volume lifetime), 1 Gbit/s bulk from the cloud, and a 1 s ping
each way (every ping is four ESP packets: two requests, two replies).

(b) N two-peer tunnels (strongSwan pair, DPD 30 s, a 1 s ping each way), each HOURS long,
run one after the other (one scenario per pair, seed = pair number): what a fleet of N pairs
costs until fleets are simulated in one run.

All runs are in one process, the measured configuration (fast engine, array path) first, so
the peak RSS (``ru_maxrss``, read right after it) is its own. The slow baselines (packet path,
SimPy engine) run a shorter case (BASE_DAYS, or BASE_N pairs) and their CPU time is scaled to
the full length for the ratios (their cost grows linearly with the simulated time: the same
steady tunnel). No run keeps per-packet records (no packet trace asked). "Events" are the
run's logged events; "callbacks" the scheduler entries it ran or left pending
(``FastLoop.scheduled`` / SimPy timeouts); "ESP" the ESP packets put on the wire. Nothing here
is asserted by the tests.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

PINGS = [{"name": "ping-ab", "kind": "ping", "from": "A", "to": "B", "interval": 1},
         {"name": "ping-ba", "kind": "ping", "from": "B", "to": "A", "interval": 1}]


def pair_scenario(days: float) -> Any:
    from ipsecsim.config.loader import load_scenario, read_yaml
    d = read_yaml(ROOT / "scenarios" / "rekey-20gb.yaml")
    d.pop("expect", None)
    d["duration"] = days * 86400.0
    d["traffic"] = [*d["traffic"],
                    {"name": "ping-cb", "kind": "ping", "from": "cloud", "to": "branch", "interval": 1},
                    {"name": "ping-bc", "kind": "ping", "from": "branch", "to": "cloud", "interval": 1}]
    return load_scenario(d)


def fleet_pair(hours: float, seed: int) -> Any:
    from factory import scenario_dict

    from ipsecsim.config.loader import load_scenario
    dpd = {"dpd": {"delay": "30s"}}
    return load_scenario(scenario_dict(a=dpd, b=dpd, duration=hours * 3600.0, seed=seed, traffic=PINGS))


CRYPTO = "real"


def run(engine: str, traffic: str, case: str, n: int, length: float) -> dict[str, Any]:
    """Run the case on one engine and traffic path; its figures."""
    from ipsecsim.sim import runner
    scheds: list[Any] = []
    links: list[Any] = []
    real_make, real_link = runner.make, runner.Link

    def spy(e: Any) -> Any:
        s = real_make(e)
        scheds.append(s)
        return s

    def spy_link(*a: Any, **k: Any) -> Any:
        link = real_link(*a, **k)
        links.append(link)
        return link

    runner.make = spy  # type: ignore[assignment]
    runner.Link = spy_link  # type: ignore[assignment,misc]
    try:
        scenarios = [pair_scenario(length)] if case == "pair" else [fleet_pair(length, seed) for seed in range(n)]
        w0, c0 = time.perf_counter(), time.process_time()
        events = esp = callbacks = 0
        simulated = 0.0
        for sc in scenarios:
            r = runner.simulate(sc, engine=engine, traffic=traffic, esp_records=False, crypto=CRYPTO)
            events += len(r.events)
            esp += sum(links.pop().esp_sent.values())
            simulated += r.duration
            callbacks += scheds.pop().scheduled  # keep no finished run alive
            del r
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    finally:
        runner.make, runner.Link = real_make, real_link  # type: ignore[assignment,misc]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB (Linux)
    return {"engine": engine, "traffic": traffic, "wall": wall, "cpu": cpu, "events": events, "esp": esp,
            "callbacks": callbacks, "simulated": simulated, "rss_mb": rss}


def measure(case: str, n: int, length: float, base_n: int, base_length: float) -> dict[str, dict[str, Any]]:
    out = {"fast/array": run("fast", "array", case, n, length)}
    for engine, traffic in (("fast", "packet"), ("simpy", "array"), ("simpy", "packet")):
        out[f"{engine}/{traffic}"] = run(engine, traffic, case, base_n, base_length)
    return out


def report(title: str, res: dict[str, dict[str, Any]]) -> None:
    print(title)
    print(f"{'engine/path':<13}{'sim s':>10}{'wall s':>9}{'CPU s':>9}{'events':>8}{'ESP pkts':>11}{'callbacks':>11}"
          f"{'events/s':>10}{'sim s/wall s':>14}{'us/ESP':>8}{'RSS MB':>8}")
    for e, r in res.items():
        print(f"{e:<13}{r['simulated']:>10.0f}{r['wall']:>9.2f}{r['cpu']:>9.2f}{r['events']:>8}{r['esp']:>11}"
              f"{r['callbacks']:>11}{r['events'] / r['wall']:>10.0f}{r['simulated'] / r['wall']:>14.0f}"
              f"{r['cpu'] / max(r['esp'], 1) * 1e6:>8.2f}{r['rss_mb']:>8.0f}")
    main = res["fast/array"]
    for name, r in res.items():
        if name == "fast/array":
            continue
        scaled = r["cpu"] * main["simulated"] / r["simulated"]
        print(f"fast/array vs {name}: {scaled / main['cpu']:.1f}x less CPU (its CPU scaled to "
              f"{main['simulated']:.0f} simulated s: {scaled:.1f} s)")


def main() -> None:
    global CRYPTO
    for arg in [a for a in sys.argv if a.startswith("--crypto=")]:
        CRYPTO = arg.split("=", 1)[1]
        sys.argv.remove(arg)
    case = sys.argv[1]
    if case == "pair":
        days = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
        base = float(sys.argv[3]) if len(sys.argv) > 3 else min(days, 1.0)
        report(f"(a) one pair, Huawei Cloud defaults, {days:g} days (baselines {base:g} days), 1 Gbit/s bulk, "
               f"20 GB rekeys, 1 s ping each way, crypto {CRYPTO}", measure("pair", 1, days, 1, base))
    else:
        n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
        hours = float(sys.argv[3]) if len(sys.argv) > 3 else 24.0
        base_n = int(sys.argv[4]) if len(sys.argv) > 4 else min(n, 20)
        report(f"(b) {n} pairs x {hours:g} h (baselines {base_n} pairs), DPD 30 s, 1 s ping each way, one "
               f"scenario per pair in turn, crypto {CRYPTO}", measure("pairs", n, hours, base_n, hours))


if __name__ == "__main__":
    main()
