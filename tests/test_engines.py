"""The two engines (sim/sched.py): the callback loop and the SimPy adapter drive the same
drivers, so every shipped scenario gives the same run on both, event by event, datagram by
datagram; and the callback loop keeps its promises (same-instant order, ``run(until)``, one
lazy timer per peer instead of a pile of never-cancelled timeouts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import simpy
from factory import scenario_dict

from ipsecsim import load_scenario, simulate
from ipsecsim.sim.sched import FastLoop, SimpyScheduler, spawn

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.yaml"))


def _run(path: Path, engine: str) -> dict[str, Any]:
    r = simulate(load_scenario(path), engine=engine)
    return {"events": [e.to_dict() for e in r.events],
            "transmissions": [(x.t, x.sender, x.dgram.src, x.dgram.dst, x.arrival, x.lost) for x in r.transmissions],
            "esp": [(x.t, x.sender, x.packet.spi, x.packet.esp_seq, x.arrival, x.lost) for x in r.esp],
            "fluids": [(t, s, f.flow, f.spi, f.rate) for t, s, f in r.fluids],
            "summary": r.summary()}


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_scenario_runs_the_same_on_both_engines(path: Path) -> None:
    fast, slow = _run(path, "fast"), _run(path, "simpy")
    assert len(fast["events"]) == len(slow["events"])
    for i, (a, b) in enumerate(zip(fast["events"], slow["events"], strict=True)):
        assert a == b, f"event {i} differs"
    for key in ("transmissions", "esp", "fluids", "summary"):
        assert fast[key] == slow[key], key


def test_an_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="fast, simpy"):
        simulate(load_scenario(scenario_dict()), engine="asyncio")


@pytest.mark.parametrize("loop", [FastLoop, SimpyScheduler])
def test_callbacks_at_one_instant_run_in_the_order_they_were_scheduled(loop: type) -> None:
    sched = loop()
    seen: list[Any] = []
    sched.call_at(2.0, seen.append, "b")
    sched.call_later(1.0, seen.append, "a")
    sched.call_at(2.0, seen.append, "c")
    sched.call_at(1.0, lambda: sched.call_later(0.0, seen.append, "a2"))
    sched.call_at(3.0, seen.append, "at-until")  # SimPy's run(until) leaves events at until alone
    sched.run(3.0)
    assert seen == ["a", "a2", "b", "c"] and sched.now == 3.0
    sched.run(4.0)
    assert seen[-1] == "at-until"


@pytest.mark.parametrize("loop", [FastLoop, SimpyScheduler])
def test_a_process_sleeps_for_what_it_yields(loop: type) -> None:
    sched = loop()
    seen: list[float] = []

    def proc():  # type: ignore[no-untyped-def]
        for delay in (0.5, 0.25, 2.0):
            seen.append(sched.now)
            yield delay
        seen.append(sched.now)

    spawn(sched, proc())
    sched.run(10.0)
    assert seen == [0.0, 0.5, 0.75, 2.75]


def test_a_scenario_runs_on_a_users_simpy_environment_beside_its_own_processes() -> None:
    """Teaching: the SimPy adapter puts the run on an environment the user owns, so a SimPy
    process of theirs sees the tunnel at simulated instants (here: the first IPsec SA is
    installed after IKE_SA_INIT and IKE_AUTH, two round trips of 2 x 5 ms, RFC 7296 1.2)."""
    env = simpy.Environment()
    seen: list[tuple[float, int]] = []

    def watcher(env: simpy.Environment):  # type: ignore[no-untyped-def]
        while True:
            yield env.timeout(0.01)
            seen.append((round(env.now, 3), len([e for e in result_events if e.event == "child_sa_established"])))

    result_events: list[Any] = []
    env.process(watcher(env))
    r = simulate(load_scenario(scenario_dict(link={"delay": "5ms"})), duration=0.05, engine=env)
    result_events.extend(r.events)
    assert r.first("child_sa_established") is not None
    assert env.now == 0.05 and len(seen) == 4  # the user's process ran on the same clock


def test_the_fast_loop_keeps_one_timer_per_peer_not_one_per_wake() -> None:
    """An hour of 1 s pings both ways with 10 s DPD: the peers wake 14,400 times, yet what is
    pending at the end is a few callbacks (each peer's one timer, the sources, packets in
    flight), where a new timeout per wake that is never cancelled would leave thousands."""
    from ipsecsim.sim import runner
    loops: list[FastLoop] = []
    real = runner.make

    def spy(engine: Any) -> Any:
        loop = real(engine)
        loops.append(loop)
        return loop

    ping = [{"kind": "ping", "from": "A", "to": "B", "interval": 1},
            {"kind": "ping", "from": "B", "to": "A", "interval": 1}]
    runner.make = spy  # type: ignore[assignment]
    try:
        r = simulate(load_scenario(scenario_dict(a={"dpd": {"delay": "10s"}}, b={"dpd": {"delay": "10s"}},
                                                 duration=3600, traffic=ping)))
    finally:
        runner.make = real  # type: ignore[assignment]
    assert r.summary_value("traffic.flows.ping-1.delivered_packets") > 3500
    assert loops[0].pending() < 20


# IEEE 754 binary64, round half to even: from 6.691436933659487 no delay d gives
# 6.691436933659487 + d == 29.70843040050791 (the sums of neighbouring delays tie and round to
# every other float). A ping window that started at the first instant re-creates the packet
# path's callback at the second (pair branch-0099 of benchmarks/fleet.py, seed 1).
UNREACHABLE_FROM, UNREACHABLE = 6.691436933659487, 29.70843040050791


@pytest.mark.parametrize("make", [FastLoop, SimpyScheduler])
def test_call_exact_lands_on_an_instant_no_delay_reaches(make: Any) -> None:
    import math
    d = UNREACHABLE - UNREACHABLE_FROM
    near = [d]
    for step in (math.inf, -math.inf):
        x = d
        for _ in range(20):
            x = math.nextafter(x, step)
            near.append(x)
    assert all(UNREACHABLE_FROM + x != UNREACHABLE for x in near)  # the premise
    sched = make()
    seen: list[tuple[str, float]] = []

    def at_start() -> None:
        sched.call_exact(UNREACHABLE, lambda: seen.append(("first", sched.now)))
        sched.call_exact(UNREACHABLE, lambda: seen.append(("second", sched.now)))

    sched.call_later(UNREACHABLE_FROM, at_start)
    sched.run(40.0)
    # both at the instant itself, in the order they were scheduled
    assert seen == [("first", UNREACHABLE), ("second", UNREACHABLE)]


def test_a_run_holds_back_only_the_oldest_generations_collections_and_restores_the_callers() -> None:
    import gc

    from ipsecsim.sim import collector
    from ipsecsim.sim import sched as sched_mod

    seen: list[tuple[int, int, int]] = []
    real_run = sched_mod.FastLoop.run

    def run(self: FastLoop, until: float) -> None:
        seen.append(gc.get_threshold())
        real_run(self, until)

    before = gc.get_threshold()
    gc.set_threshold(500, 7, 3)
    sched_mod.FastLoop.run = run  # type: ignore[method-assign]
    try:
        simulate(load_scenario(SCENARIOS[0]), duration=60.0)
        assert seen == [(500, 7, collector.OLDEST_WAITS)]
        assert gc.get_threshold() == (500, 7, 3)
    finally:
        sched_mod.FastLoop.run = real_run  # type: ignore[method-assign]
        gc.set_threshold(*before)
