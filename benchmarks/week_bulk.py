"""A simulated week of 1 Gbit/s bulk traffic with rekeys: events, SimPy steps, wall time on
both engines (sim/sched.py).

    python benchmarks/week_bulk.py            # from the repository root

Cases on a strongSwan pair (no PFS, so the cost is the simulator's, not modular
exponentiation): rekeys by time only (swanctl defaults: CHILD SA hourly, IKE SA every 4 h),
and rekeys by volume every 20 GB (160 s at 1 Gbit/s, about 3800 CHILD SA rekeys a week);
then the same with IKEv1 (quick mode rekeys, re-authentication every 4 h, RFC 3706 DPD on).

Wall time depends on the machine, so it is reported as a ratio against a baseline measured in
the same process: a plain SimPy loop that processes the same number of scheduled events
(``env.timeout``) as the simulation did. A ratio of r means each simulated event costs r
times a bare SimPy timeout. Nothing here is asserted; tests/test_traffic.py checks the
event bound users rely on.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import simpy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from factory import scenario_dict

from ipsecsim.config.loader import load_scenario
from ipsecsim.sim import runner

WEEK = 7 * 86400.0
BULK = [{"kind": "bulk", "from": "A", "to": "B", "rate": "1Gbit/s", "start": 1}]


class CountingEnvironment(simpy.Environment):
    """SimPy's Environment, counting the events it schedules."""

    scheduled = 0

    def schedule(self, event: Any, priority: int = 1, delay: float = 0) -> None:
        CountingEnvironment.scheduled += 1
        super().schedule(event, priority, delay)  # type: ignore[arg-type]


def baseline(n: int) -> float:
    """Seconds for a plain SimPy process to yield ``n`` timeouts."""
    env = simpy.Environment()

    def proc(env: simpy.Environment):  # type: ignore[no-untyped-def]
        for _ in range(n):
            yield env.timeout(1.0)
    env.process(proc(env))
    t = time.perf_counter()
    env.run()
    return time.perf_counter() - t


def case(label: str, a: dict[str, Any], b: dict[str, Any] | None = None) -> None:
    sc = load_scenario(scenario_dict(a, b or {}, duration=WEEK, traffic=BULK))
    CountingEnvironment.scheduled = 0
    t = time.perf_counter()
    result = runner.simulate(sc, engine=CountingEnvironment())  # the SimPy engine, counting
    wall = time.perf_counter() - t
    steps = CountingEnvironment.scheduled
    t = time.perf_counter()
    fast = runner.simulate(sc, engine="fast")
    wall_fast = time.perf_counter() - t
    assert [e.to_dict() for e in fast.events] == [e.to_dict() for e in result.events]
    base = baseline(steps)
    rekeys = len(result.select("child_sa_rekeyed", "A"))
    ike = len(result.select("ike_sa_rekeyed", "A"))
    traffic = result.summary()["traffic"]["directions"]["A->B"]
    print(f"{label}:")
    print(f"  simulated {WEEK / 86400:g} days, {traffic['delivered_bytes'] / 1e12:.1f} TB delivered, "
          f"dropped {sum(traffic['dropped_bytes'].values())} B")
    print(f"  CHILD SA rekeys {rekeys}, IKE SA rekeys {ike}, events {len(result.events)}, "
          f"SimPy events scheduled {steps}")
    print(f"  wall: SimPy engine {wall:.2f} s, fast engine {wall_fast:.2f} s (same events); baseline SimPy "
          f"loop of {steps} timeouts {base:.3f} s; ratio {wall / base:.0f}x")
    print(f"  simulated seconds per wall second (fast engine): {WEEK / wall_fast:,.0f}")


def main() -> None:
    case("rekey by time (strongSwan defaults)", {})
    case("rekey by volume every 20 GB", {"child": {"rekey_bytes": "20GB", "rand_bytes": 0, "life_bytes": "22GB"}})
    v1 = {"ike": {"version": 1}, "dpd": {"delay": "30s"}}
    case("IKEv1, rekey by time, DPD 30 s both sides", v1, v1)
    case("IKEv1, rekey by volume every 20 GB (negotiated in kilobytes), DPD 30 s",
         {**v1, "child": {"rekey_bytes": "20GB", "rand_bytes": 0, "life_bytes": "22GB"}}, v1)


if __name__ == "__main__":
    main()
