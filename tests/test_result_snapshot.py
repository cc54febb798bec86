"""A run's Result is a snapshot of plain data (DESIGN.md: "the runner turns a Scenario into a
Result snapshot (events, counters, final states; no live cores)"): what the summary, the
checks and the traces read survives a pickle round trip without the simulator behind it."""

from __future__ import annotations

import dataclasses
import pickle

from conftest import SCENARIOS
from rich.console import Console
from v1util import v1_pair

from ipsecsim import load_scenario, simulate
from ipsecsim.proto.endpoint import Endpoint
from ipsecsim.proto.final import PeerFinal
from ipsecsim.proto.settings import PeerSettings
from ipsecsim.result import Result
from ipsecsim.spec import RunSpec
from ipsecsim.trace.timeline import render


def _objects(value: object, seen: set[int] | None = None) -> list[object]:
    """``value`` and everything reachable from it through containers and dataclass slots."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return []
    seen.add(id(value))
    out = [value]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _objects(k, seen) + _objects(v, seen)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            out += _objects(v, seen)
    elif hasattr(value, "__slots__") and not isinstance(value, type):
        for name in getattr(value, "__slots__", ()):
            if hasattr(value, name):
                out += _objects(getattr(value, name), seen)
    return out


def test_a_result_keeps_final_states_not_live_cores() -> None:
    result = simulate(load_scenario(SCENARIOS / "rekey-by-time.yaml"))
    assert set(result.peers) == {"A", "B"}
    assert all(isinstance(p, PeerFinal) for p in result.peers.values())
    reached = [o for p in result.peers.values() for o in _objects(p)]
    assert not [o for o in reached if isinstance(o, Endpoint) or type(o).__name__.endswith("Engine")]


def test_summary_and_checks_come_from_the_snapshot_alone() -> None:
    """The peers' final states, copied through pickle (no reference back into a core),
    give the same summary and the same verdicts."""
    result = simulate(load_scenario(SCENARIOS / "strongswan-ikev2-dpd-clear.yaml"))
    summary, verdicts = result.summary(), result.check().passed
    result.peers = pickle.loads(pickle.dumps(result.peers))
    assert result.summary() == summary
    assert result.check().passed == verdicts
    assert result.status("A") == summary["peers"]["A"]["status"]


def test_ikev1_forgets_the_label_of_a_deleted_ipsec_sa() -> None:
    """child_sa_deleted names the ISAKMP SA that created the IPsec SA (docs/events.md, IKEv1);
    once the SA is deleted the engine keeps no entry for it, so a long run with many rekeys
    does not grow this table."""
    pair = v1_pair().run(10)
    engine = pair["B"].engine
    child = engine.children[0]
    assert child.uid in engine.child_label
    engine.delete_child(child, "operator", 10)
    pair.collect("B")
    pair.run(20)
    gone = [e for e in pair.select("child_sa_deleted") if e.peer == "B"]
    assert gone and gone[0].get("spi_i") is not None  # still named at deletion
    assert child.uid not in engine.child_label


@dataclasses.dataclass(frozen=True)
class SpecOnly:
    """A run source that is not a loaded scenario: its run description and nothing of the
    configuration's models (spec/source.py RunSource)."""

    spec: RunSpec

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def seed(self) -> int:
        return self.spec.seed

    @property
    def peers(self) -> dict[str, PeerSettings]:
        return self.spec.peers

    def with_seed(self, seed: int) -> SpecOnly:
        return SpecOnly(dataclasses.replace(self.spec, seed=seed))


def _timeline(result: Result) -> str:
    console = Console(record=True, width=200, color_system=None)
    render(result, console)
    return console.export_text()


def test_traces_and_checks_read_the_run_description_not_the_scenario_models() -> None:
    """DESIGN.md: trace and check read the result of a run. A run of a source with no
    ``config`` gives the same timeline (its description line and the notes of a shortened
    run included), summary and verdicts of the scenario's own ``expect:`` block."""
    scenario = load_scenario(SCENARIOS / "strongswan-ikev2-dpd-clear.yaml", duration=10.0)  # drops the 12 s freeze
    assert scenario.config.description and scenario.config.expect and scenario.notes
    loaded, plain = simulate(scenario), simulate(SpecOnly(scenario.spec))
    assert not hasattr(plain.scenario, "config")
    assert _timeline(plain) == _timeline(loaded)
    assert scenario.config.description.strip().split("\n")[0][:60] in _timeline(plain)
    assert plain.summary() == loaded.summary()
    assert [v.outcome for v in plain.check().verdicts] == [v.outcome for v in loaded.check().verdicts]
    assert len(plain.check().verdicts) == len(scenario.config.expect)
    assert simulate(SpecOnly(scenario.spec), seed=5).seed == 5
