"""The two engines (sim/sched.py) on long runs: wall and CPU time, events/s, simulated seconds
per wall second, peak RSS, and the fast engine against the SimPy one measured in the same run.

    python benchmarks/engines.py pair [DAYS]          # (a), default 30 days
    python benchmarks/engines.py pairs [N] [HOURS]    # (b), default 1000 pairs x 24 h

(a) one pair with Huawei Cloud defaults (scenarios/rekey-20gb.yaml: the cloud rekeys its IPsec
SA every 18 GB of its 20 GB volume lifetime), 1 Gbit/s bulk from the cloud, and a 1 s ping
each way (every ping is four ESP packets: two requests, two replies).

(b) N two-peer tunnels (strongSwan pair, DPD 30 s, a 1 s ping each way), each HOURS long,
run one after the other (one scenario per pair, seed = pair number): what a fleet of N pairs
costs until fleets are simulated in one run.

Each engine runs in its own child process, so peak RSS (``ru_maxrss``) is that engine's.
"Events" are the run's logged events; "callbacks" the scheduler entries it ran or left
pending (``FastLoop.scheduled`` / SimPy timeouts). Nothing here is asserted by the tests.
"""

from __future__ import annotations

import json
import resource
import subprocess
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


def child(engine: str, case: str, n: int, length: float) -> None:
    """Run the case on one engine; print one JSON line of figures."""
    from ipsecsim.sim import runner
    scheds: list[Any] = []
    real = runner.make

    def spy(e: Any) -> Any:
        s = real(e)
        scheds.append(s)
        return s

    runner.make = spy  # type: ignore[assignment]
    scenarios = [pair_scenario(length)] if case == "pair" else [fleet_pair(length, seed) for seed in range(n)]
    w0, c0 = time.perf_counter(), time.process_time()
    events = esp = callbacks = 0
    simulated = 0.0
    for sc in scenarios:
        r = runner.simulate(sc, engine=engine)
        events += len(r.events)
        esp += len(r.esp)
        simulated += r.duration
        callbacks += scheds.pop().scheduled  # keep no finished run alive
        del r
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB (Linux)
    print(json.dumps({"engine": engine, "wall": wall, "cpu": cpu, "events": events, "esp": esp,
                      "callbacks": callbacks, "simulated": simulated, "rss_mb": rss}))


def measure(case: str, n: int, length: float) -> dict[str, dict[str, float]]:
    out = {}
    for engine in ("fast", "simpy"):
        proc = subprocess.run([sys.executable, __file__, "--child", engine, case, str(n), str(length)],
                              capture_output=True, text=True, check=True)
        out[engine] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def report(title: str, res: dict[str, dict[str, float]]) -> None:
    print(title)
    print(f"{'engine':<7}{'wall s':>9}{'CPU s':>9}{'events':>9}{'ESP pkts':>11}{'callbacks':>11}"
          f"{'events/s':>10}{'callb./s':>10}{'sim s/wall s':>14}{'us/ESP':>8}{'RSS MB':>8}")
    for e, r in res.items():
        print(f"{e:<7}{r['wall']:>9.2f}{r['cpu']:>9.2f}{r['events']:>9}{r['esp']:>11}{r['callbacks']:>11}"
              f"{r['events'] / r['wall']:>10.0f}{r['callbacks'] / r['wall']:>10.0f}"
              f"{r['simulated'] / r['wall']:>14.0f}{r['cpu'] / max(r['esp'], 1) * 1e6:>8.1f}{r['rss_mb']:>8.0f}")
    f, s = res["fast"], res["simpy"]
    print(f"fast vs simpy: {s['cpu'] / f['cpu']:.2f}x less CPU, {s['callbacks'] / max(f['callbacks'], 1):.2f}x "
          f"fewer scheduled callbacks; same events: {f['events'] == s['events']}")


def main() -> None:
    if sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
        return
    case = sys.argv[1]
    if case == "pair":
        days = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
        report(f"(a) one pair, Huawei Cloud defaults, {days:g} days, 1 Gbit/s bulk, 20 GB rekeys, "
               "1 s ping each way", measure("pair", 1, days))
    else:
        n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
        hours = float(sys.argv[3]) if len(sys.argv) > 3 else 24.0
        report(f"(b) {n} pairs x {hours:g} h, DPD 30 s, 1 s ping each way, one scenario per pair in turn",
               measure("pairs", n, hours))


if __name__ == "__main__":
    main()
