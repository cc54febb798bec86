"""What the data plane keeps instead of deriving it again: a ping flow's path on the array path
(sim/flowpath.py ``Cached``), and a data plane's view of its engine's SAs (proto/traffic.py,
re-read only after a change was pushed), held while what they read is unchanged: the SAs
(``sa.route_epoch``, pushed by the SA records themselves and by a data plane whose installed
set changed) and the link (``Link.generation``: fault windows, the NAT, addresses).

A missed invalidation would be a wrong route, so both have a checking mode (``verify_cache``):
every use computes afresh and fails if it differs. Every shipped scenario and generated ones
(faults, rekeys, restarts, NAT, reconfiguration) run with it on, on both traffic paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from factory import scenario_dict, two_peers
from hypothesis import HealthCheck, given, settings
from peerpair import PeerPair
from scenario_gen import scenarios

from ipsecsim import load_scenario, simulate
from ipsecsim.errors import ConfigError
from ipsecsim.proto import sa as sa_mod
from ipsecsim.proto.sa import ChildState
from ipsecsim.proto.traffic import TrafficPlane
from ipsecsim.sim import train

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").rglob("*.yaml"))


@pytest.fixture
def checking(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Both caches in checking mode; the list counts the cached paths checked."""
    uses = [0]
    real = train.same_plan

    def count(*a: Any) -> None:
        uses[0] += 1
        real(*a)

    monkeypatch.setattr(train.Trains, "verify_cache", True)
    monkeypatch.setattr(TrafficPlane, "verify_cache", True)
    monkeypatch.setattr(train, "same_plan", count)
    return uses


def test_every_scenario_uses_its_cached_paths_only_while_they_hold(checking: list[int]) -> None:
    for path in SCENARIOS:
        scenario = load_scenario(path)
        for traffic in ("array", "packet"):
            simulate(scenario, traffic=traffic)
    assert checking[0] > 1000  # the cache was used (and checked) throughout


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(scenarios(max_faults=3))
def test_generated_scenarios_use_their_cached_paths_only_while_they_hold(d: dict[str, Any]) -> None:
    try:
        scenario = load_scenario(d)
    except ConfigError:
        return
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train.Trains, "verify_cache", True)
        mp.setattr(TrafficPlane, "verify_cache", True)
        simulate(scenario, traffic="array")
        simulate(scenario, traffic="packet")


def _established() -> PeerPair:
    pair = PeerPair(*two_peers())
    pair.run(until=5)
    assert pair["A"].engine.child_sas()
    return pair


def test_the_plane_reads_the_engines_sas_again_only_after_a_change_was_pushed() -> None:
    # A refresh after every step of the engine, but the SAs are re-read only after one of them
    # pushed a change. Deleted, an SA no longer takes ESP in (RFC 4303 3.4.2: no SA for the SPI,
    # Linux XfrmInNoStates; reason unilateral_sa).
    pair = _established()
    plane, engine = pair["B"].traffic, pair["B"].engine
    child = engine.child_sas()[0]
    reads = [0]
    real = engine.child_sas

    def counted() -> Any:
        reads[0] += 1
        return real()

    engine.child_sas = counted
    plane.refresh(pair.now)  # takes in what was pushed since its last refresh, if anything
    before = reads[0]
    plane.refresh(pair.now)
    plane.refresh(pair.now)
    assert reads[0] == before
    assert plane._route_in(child.spi_in) == ("sa", child)
    child.state = ChildState.DELETED  # what ChildSa.move writes on DELETE (table CHILD_SA)
    plane.refresh(pair.now)
    assert reads[0] == before + 1
    assert plane._route_in(child.spi_in) == ("drop", "unilateral_sa")
    assert child.uid not in plane._known


def test_writing_where_esp_goes_pushes_a_change() -> None:
    pair = _established()
    child = pair["A"].engine.child_sas()[0]
    before = sa_mod.route_epoch
    child.removed = "expired"  # not where ESP goes
    child.counters["bytes_out"] += 1
    assert sa_mod.route_epoch == before
    for name, value in (("outbound", False), ("spi_in", b"\x01\x02\x03\x04"), ("state", ChildState.REKEYED)):
        setattr(child, name, value)
        assert sa_mod.route_epoch > before, name
        before = sa_mod.route_epoch


def test_a_delay_window_reaches_pings_already_moving_in_windows() -> None:
    # A steady ping moved in windows (its path cached); a fault adds 300 ms one-way delay A->B
    # from 100 s to 160 s (link 10 ms). The requests sent inside the window arrive 300 ms after
    # they left, the others 10 ms: the cached path was given up when the fault began and ended.
    d = scenario_dict(duration=300, link={"delay": "10ms"},
                      traffic=[{"name": "ab", "kind": "ping", "from": "A", "to": "B", "interval": 1, "start": 5}],
                      faults=[{"at": 100, "kind": "delay", "delay": "300ms", "duration": 60, "direction": "A->B"}])
    seen: list[train.Trains] = []
    real = train.Trains.__init__

    def spy(self: train.Trains, *a: Any, **k: Any) -> None:
        real(self, *a, **k)
        seen.append(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train.Trains, "__init__", spy)
        r = simulate(load_scenario(d), traffic="array")
    assert seen[0].windows >= 3  # before, during and after the fault
    requests = [x for x in r.esp if x.sender == "A" and x.packet.packet.kind == "echo-request"]
    assert len(requests) == 295
    for x in requests:
        want = 0.3 if 100 <= x.t < 160 else 0.01
        assert x.arrival == pytest.approx(x.t + want, abs=1e-9), x.t
