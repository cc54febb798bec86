"""The two traffic paths (``simulate(..., traffic=)``): pings one packet at a time, or as
schedules moved a window at a time (ipsecsim/sim/train.py). They must give the same run: every
shipped scenario and generated scenarios (tests/scenario_gen.py) are compared event by event,
ESP packet by ESP packet (sequence numbers, sizes, arrival times), datagram by datagram and
counter by counter, on both engines. The packet path is the reference: the array path is a
re-arrangement of the same arithmetic, so any difference is a bug of the array path."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from factory import scenario_dict
from hypothesis import HealthCheck, given, settings
from scenario_gen import scenarios

from ipsecsim import load_scenario, simulate
from ipsecsim.errors import ConfigError
from ipsecsim.sim import train

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").rglob("*.yaml"))


def _run(scenario: Any, traffic: str, engine: str = "fast") -> dict[str, Any]:
    r = simulate(scenario, engine=engine, traffic=traffic)
    return {"events": [e.to_dict() for e in r.events],
            "transmissions": [(x.t, x.sender, x.dgram.src, x.dgram.dst, x.arrival, x.lost) for x in r.transmissions],
            "esp": [(x.t, x.sender, x.packet, x.arrival, x.lost) for x in r.esp],
            "fluids": [(t, s, f) for t, s, f in r.fluids],
            "sa_counters": {n: [(uid, sorted(c.items())) for uid, c in p.child_counters]
                            for n, p in r.peers.items()},
            "meters": {n: sorted((k, *m) for k, m in p.meters.items()) for n, p in r.peers.items()},
            "flows": {n: {f: asdict(c) for f, c in sorted(p.flows.items())} for n, p in r.peers.items()},
            "link_dropped": r.link_dropped, "forwarded": r.forwarded,
            "summary": r.summary()}


def _same(packet: dict[str, Any], array: dict[str, Any]) -> None:
    for i, (a, b) in enumerate(zip(packet["events"], array["events"])):  # noqa: B905 - lengths below
        assert a == b, f"event {i} differs"
    assert len(packet["events"]) == len(array["events"])
    for i, (a, b) in enumerate(zip(packet["esp"], array["esp"])):  # noqa: B905
        assert a == b, f"ESP packet {i} differs"
    for key in packet:
        assert packet[key] == array[key], key


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_scenario_runs_the_same_on_both_traffic_paths(path: Path) -> None:
    scenario = load_scenario(path)
    reference = _run(scenario, "packet")
    _same(reference, _run(scenario, "array"))
    _same(reference, _run(scenario, "array", engine="simpy"))


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(scenarios(max_faults=3))
def test_generated_scenarios_run_the_same_on_both_traffic_paths(d: dict[str, Any]) -> None:
    try:
        scenario = load_scenario(d)
    except ConfigError:
        return
    _same(_run(scenario, "packet"), _run(scenario, "array"))


def _windows(d: dict[str, Any]) -> tuple[int, int]:
    """(windows moved, echo requests moved in them) of a run on the array path."""
    seen: list[train.Trains] = []
    real = train.Trains.__init__

    def spy(self: train.Trains, *a: Any, **k: Any) -> None:
        real(self, *a, **k)
        seen.append(self)

    train.Trains.__init__ = spy  # type: ignore[method-assign]
    try:
        simulate(load_scenario(d), traffic="array")
    finally:
        train.Trains.__init__ = real  # type: ignore[method-assign]
    return seen[0].windows, seen[0].echoes


PINGS = [{"name": "ab", "kind": "ping", "from": "A", "to": "B", "interval": 1, "start": 5},
         {"name": "ba", "kind": "ping", "from": "B", "to": "A", "interval": 0.7, "start": 5.3}]


def test_a_steady_tunnel_moves_its_pings_in_windows() -> None:
    # 10 min, pings from 5 s: 596 + 851 echo requests; the first of each flow goes packet by
    # packet (it starts the flow), the rest in windows between the peers' timers (no DPD, no
    # rekey in 10 min: a handful of windows)
    d = scenario_dict(duration=600, traffic=PINGS)
    windows, echoes = _windows(d)
    assert 0 < windows < 50
    assert echoes >= 596 + 851 - 2 - windows
    _same(_run(load_scenario(d), "packet"), _run(load_scenario(d), "array"))


@pytest.mark.parametrize("link", [
    {"delay": "20ms", "jitter": "30ms", "loss": "5%"},     # jitter beyond the interval reorders
    {"delay": "5ms", "loss": "30%"},
])
def test_lossy_jittery_links_and_packet_limits_run_the_same(link: dict[str, Any]) -> None:
    # a packet volume limit (RFC 7296 lifetimes by packets: strongSwan rekey_packets /
    # life_packets) reached by the pings themselves, DPD on both sides keyed off the traffic
    dpd = {"dpd": {"delay": "10s"}}
    limits = {"child": {"rekey_packets": 500, "life_packets": 600}}
    d = scenario_dict(a={**dpd, **limits}, b=dpd, duration=900, link=link,
                      traffic=[*PINGS, {"name": "fast", "kind": "ping", "from": "A", "to": "B", "interval": 0.01,
                                        "start": 100, "stop": 130}])
    _same(_run(load_scenario(d), "packet"), _run(load_scenario(d), "array"))


def test_an_unknown_traffic_path_is_refused() -> None:
    with pytest.raises(ValueError, match="packet, array"):
        simulate(load_scenario(scenario_dict()), traffic="vector")


@pytest.mark.parametrize("name", ["recreate-connection-recovery", "teach-ikev2-create-child-sa",
                                  "dpd-msg-order-mismatch", "one-side-config-change"])
def test_packet_traces_are_byte_identical_on_both_paths(name: str, tmp_path: Path) -> None:
    # every ESP packet written (not only the first and last 10 of each SA), keys included
    from ipsecsim.trace.options import TraceOptions
    from ipsecsim.trace.packets import write_trace
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    written = {}
    for traffic in ("packet", "array"):
        opts = TraceOptions(tmp_path / f"{traffic}.pcapng", tmp_path / f"{traffic}.json", esp_first=None,
                            esp_last=None)
        write_trace(simulate(scenario, traffic=traffic), opts)
        written[traffic] = (opts.pcap.read_bytes(), opts.keys.read_bytes())  # type: ignore[union-attr]
    assert len(written["packet"][0]) > 10_000
    assert written["packet"] == written["array"]


def _rows_fed(d: dict[str, Any]) -> tuple[dict[str, Any], int, train.Trains]:
    """A run on the array path, the number of rows of echoes fed to dead peer detection as
    one input per peer (``engine.on_esp_rows``) instead of packet by packet, and its flows."""
    from ipsecsim.proto.ikev1.engine import Ikev1Engine
    from ipsecsim.proto.ikev2.engine import Ikev2Engine
    calls = [0]
    reals = {cls: cls.on_esp_rows for cls in (Ikev1Engine, Ikev2Engine)}

    def spy(real: Any) -> Any:
        def run(self: Any, *a: Any) -> None:
            calls[0] += 1
            real(self, *a)
        return run

    seen: list[train.Trains] = []
    real_init = train.Trains.__init__

    def spy_init(self: train.Trains, *a: Any, **k: Any) -> None:
        real_init(self, *a, **k)
        seen.append(self)

    train.Trains.__init__ = spy_init  # type: ignore[method-assign]
    for cls, real in reals.items():
        cls.on_esp_rows = spy(real)  # type: ignore[method-assign]
    try:
        out = _run(load_scenario(d), "array")
    finally:
        train.Trains.__init__ = real_init  # type: ignore[method-assign]
        for cls, real in reals.items():
            cls.on_esp_rows = real  # type: ignore[method-assign]
    return out, calls[0], seen[0]


class _Machines:
    """Every DPD machine made while in the block, to compare what they were fed."""

    def __enter__(self) -> list[Any]:
        from ipsecsim.proto.dpd import DpdMachine
        self.real = DpdMachine.__post_init__
        made: list[Any] = []
        real = self.real

        def spy(m: Any) -> None:
            real(m)
            made.append(m)

        DpdMachine.__post_init__ = spy  # type: ignore[method-assign]
        return made

    def __exit__(self, *exc: Any) -> None:
        from ipsecsim.proto.dpd import DpdMachine
        DpdMachine.__post_init__ = self.real  # type: ignore[method-assign]


def _histories(made: list[Any]) -> list[Any]:
    """What each machine was fed: its inputs that moved it (timers finding a stale hint
    among them), and how many packets in all. (Not which packets came between which inputs:
    a window that ends when a peer acts hands its packets still on the wire to the loop
    before that peer's datagram exists, so a packet and an IKE message arriving at the very
    same instant may be fed in the other order; no decision depends on that order there.)"""
    return [(m.state, m.last_inbound, m.traffic_waiting, m.probes, [(h.t, h.label) for h in m.history],
             sum(h.inbound for h in m.history), sum(h.traffic for h in m.history)) for m in made]


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("mode", ["periodic", "on-demand"])
@pytest.mark.parametrize("esp", [True, False])
def test_dpd_fed_a_window_at_a_time_decides_as_packet_by_packet(version: int, mode: str, esp: bool) -> None:
    # RFC 3706 5.3 worry metric: periodic probes after `delay` of silence, on-demand only when
    # traffic goes out into that silence (Huawei Cloud DPD FAQ). A 2 % lossy link and a 40 s
    # outage (longer than the 10 s delay) make both sides probe, retry, and hear answers; a
    # one-way ping stopping at 400 s leaves B's outbound traffic to the replies alone. Where
    # inbound ESP is no proof of life (esp_resets_idle false), on-demand DPD probes when a ping
    # leaves 10 s after the last IKE message: in the middle of a window.
    dpd = {"dpd": {"delay": "10s", "mode": mode, "retry_interval": "5s", "retries": 3, "esp_resets_idle": esp}}
    if version == 1:
        dpd["dpd"]["ikev1_style"] = "retry"
    ike = {"ike": {"version": version}}
    pings = [{"name": "ab", "kind": "ping", "from": "A", "to": "B", "interval": 1, "start": 5},
             {"name": "ba", "kind": "ping", "from": "B", "to": "A", "interval": 0.7, "start": 5.3, "stop": 400}]
    d = scenario_dict(a={**dpd, **ike}, b={**dpd, **ike}, duration=900, link={"delay": "5ms", "loss": "2%"},
                      traffic=pings, faults=[{"at": "200s", "kind": "link_down", "duration": "40s"}])
    with _Machines() as made:
        reference = _run(load_scenario(d), "packet")
    fed_each = _histories(made)
    with _Machines() as made:
        array, rows, trains = _rows_fed(d)
    _same(reference, array)
    # the machines saw the same inputs in the same order: the timers (stale hints among
    # them) at the same instants, each between the same packets
    assert _histories(made) == fed_each
    kinds = [e["event"] for e in reference["events"]]
    assert "dpd_probe_sent" in kinds  # the outage was long enough to decide something
    if not esp:  # probes all along: the pings do not keep the peer heard
        sent = [e["t"] for e in reference["events"] if e["event"] == "dpd_probe_sent"]
        assert min(sent) < 20 and len(sent) > 30  # from the first 10 s of silence on
    assert trains.echoes > 400  # most echoes moved in windows (a lost packet ends none)
    assert rows >= trains.windows > 0  # most windows fed DPD a row per peer
    if mode == "periodic" and esp:  # the pings keep the peer heard: DPD's timer only re-arms,
        assert trains.crossed > 20  # windows run across it
