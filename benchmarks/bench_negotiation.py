"""Cost of a simulated IKEv2 negotiation relative to plain SimPy, in the same process.

    python benchmarks/bench_negotiation.py [RUNS]

Runs scenarios/ikev2-basic.yaml RUNS times (different seeds) and, as the baseline, a plain
SimPy loop that processes the same number of timeout events. Prints both and their ratio: the
price of real key exchange, KDFs and AUTH per negotiation. Never used as a timed test.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import simpy

from ipsecsim import load_scenario, simulate

ROOT = Path(__file__).resolve().parents[1]


def baseline(n_events: int) -> float:
    env = simpy.Environment()

    def proc(env: simpy.Environment):  # type: ignore[no-untyped-def]
        for _ in range(n_events):
            yield env.timeout(0.001)

    t0 = time.perf_counter()
    env.process(proc(env))
    env.run()
    return time.perf_counter() - t0


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    sc = load_scenario(ROOT / "scenarios" / "ikev2-basic.yaml")
    t0 = time.perf_counter()
    events = 0
    for seed in range(runs):
        events += len(simulate(sc, seed=seed).events)
    t_sim = time.perf_counter() - t0
    t_base = baseline(events)
    print(f"{runs} negotiations, {events} events: {t_sim * 1000 / runs:.2f} ms each")
    print(f"plain SimPy, {events} timeouts: {t_base * 1000:.2f} ms")
    print(f"ratio: {t_sim / t_base:.1f}x the plain SimPy event loop")


if __name__ == "__main__":
    main()
