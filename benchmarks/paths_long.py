"""The array traffic path against the packet path on runs longer than the tests: every logged
event and the summary compared, and the CPU of each path.

    python benchmarks/paths_long.py [DAYS] [PAIRS] [HOURS]

(a)'s pair (``engines.py``: Huawei Cloud defaults, 1 Gbit/s bulk with 20 GB rekeys, a 1 s
ping each way) for DAYS (default 2) with ``--crypto model``, then the first PAIRS fleet pairs
(``fleet.py``: DPD 30 s, pings, rekeys, loss, random link outages) for HOURS each (default 3
pairs x 24 h) with real crypto. The tests (tests/test_traffic_paths.py) compare every shipped
scenario and generated ones on both paths, minutes long; this runs days, where the windows
cross thousands of rekeys, removals and DPD timers. Exit status 1 if any run differs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def compare(name: str, scenario: Any, crypto: str) -> bool:
    from ipsecsim.sim import runner
    runs = {}
    for traffic in ("array", "packet"):
        c = time.process_time()
        r = runner.simulate(scenario, traffic=traffic, esp_records=False, crypto=crypto)
        runs[traffic] = (r, time.process_time() - c)
    (a, ca), (p, cp) = runs["array"], runs["packet"]
    ea, ep = [repr(e) for e in a.events], [repr(e) for e in p.events]
    same = ea == ep and a.summary() == p.summary()
    print(f"{name}: {len(ea)} events; the same events and summary on both paths: {same}; "
          f"CPU s array {ca:.2f}, packet {cp:.2f} ({cp / max(ca, 1e-9):.0f}x)", flush=True)
    if ea != ep:
        i = next((i for i, (x, y) in enumerate(zip(ea, ep, strict=False)) if x != y), min(len(ea), len(ep)))
        print(f"  first difference, event {i}:\n    array  {ea[i] if i < len(ea) else '-'}\n"
              f"    packet {ep[i] if i < len(ep) else '-'}")
    return same


def main() -> int:
    import engines
    import fleet as fleet_bench

    from ipsecsim.fleet.run import pair_scenario
    args = sys.argv[1:]
    days = float(args[0]) if args else 2.0
    pairs = int(args[1]) if len(args) > 1 else 3
    hours = float(args[2]) if len(args) > 2 else 24.0
    ok = compare(f"(a) pair, {days:g} days, crypto model", engines.pair_scenario(days), "model")
    f = fleet_bench.fleet(pairs, hours)
    for plan in f.plans:
        ok = compare(f"fleet {plan.name}, {hours:g} h", pair_scenario(f, plan), "real") and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
