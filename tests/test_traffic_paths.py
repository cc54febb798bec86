"""The two traffic paths (``simulate(..., traffic=)``): pings one packet at a time, or as
schedules moved a window at a time (ipsecsim/sim/train.py). They must give the same run: every
shipped scenario and generated scenarios (tests/scenario_gen.py) are compared event by event,
ESP packet by ESP packet (sequence numbers, sizes, arrival times), datagram by datagram and
counter by counter, on both engines. The packet path is the reference: the array path is a
re-arrangement of the same arithmetic, so any difference is a bug of the array path."""

from __future__ import annotations

import itertools
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from factory import scenario_dict
from hypothesis import HealthCheck, given, settings
from scenario_gen import scenarios

from ipsecsim import load_scenario, simulate
from ipsecsim.errors import ConfigError
from ipsecsim.proto.dpd import HISTORY
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


def _counted(monkeypatch: pytest.MonkeyPatch, module: Any, *names: str) -> dict[str, int]:
    """Count the calls of ``module``'s functions ``names`` (each still runs)."""
    calls = dict.fromkeys(names, 0)

    def counting(name: str, real: Any) -> Any:
        def run(*a: Any) -> Any:
            calls[name] += 1
            return real(*a)
        return run

    for name in names:
        monkeypatch.setattr(module, name, counting(name, getattr(module, name)))
    return calls


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
    """Every DPD machine made while in the block, to compare what they were fed: its history,
    and every ``TIMER`` instant, whether fed one by one (``handle``) or as a run of stale
    re-arms (``rearm_run``, the array path's chains)."""

    def __enter__(self) -> _Machines:
        from ipsecsim.proto.dpd import DpdInput, DpdMachine
        self.reals = (DpdMachine.__post_init__, DpdMachine.handle, DpdMachine.rearm_run)
        real_init, real_handle, real_run = self.reals
        self.made: list[Any] = []
        self.timers: dict[int, list[float]] = {}
        self.runs: list[int] = []
        """The length of every run of stale re-arms fed as one input."""

        def spy_init(m: Any) -> None:
            real_init(m)
            self.made.append(m)
            self.timers[id(m)] = []

        def spy_handle(m: Any, inp: Any, now: float) -> Any:
            if inp is DpdInput.TIMER:
                self.timers[id(m)].append(now)
            return real_handle(m, inp, now)

        def spy_run(m: Any, times: Any, next_check: Any) -> None:
            self.timers[id(m)].extend(times)
            self.runs.append(len(times))
            real_run(m, times, next_check)

        DpdMachine.__post_init__ = spy_init  # type: ignore[method-assign,assignment]
        DpdMachine.handle = spy_handle  # type: ignore[method-assign,assignment]
        DpdMachine.rearm_run = spy_run  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *exc: Any) -> None:
        from ipsecsim.proto.dpd import DpdMachine
        DpdMachine.__post_init__, DpdMachine.handle, DpdMachine.rearm_run = self.reals  # type: ignore[method-assign]

    def fed(self) -> list[Any]:
        """What each machine was fed: its inputs that moved it (a run of stale re-arms as one,
        with its count and first and latest instants; the histories keep their last
        ``HISTORY`` entries), every timer's instant, and how many packets in all. (Not which
        packets came between which inputs: a window that ends when a peer acts hands its
        packets still on the wire to the loop before that peer's datagram exists, so a packet
        and an IKE message arriving at the very same instant may be fed in the other order; no
        decision depends on that order there.)"""
        return [(m.state, m.last_inbound, m.traffic_waiting, m.probes, m.deadline(),
                 [(h.t, h.label, h.rearms, h.until) for h in m.history], self.timers[id(m)],
                 sum(h.inbound for h in m.history), sum(h.traffic for h in m.history)) for m in self.made]


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
    with _Machines() as each:
        reference = _run(load_scenario(d), "packet")
    with _Machines() as rows_fed:
        array, rows, trains = _rows_fed(d)
    _same(reference, array)
    # the machines saw the same inputs in the same order: the timers (stale hints among
    # them) at the same instants, each between the same packets
    assert rows_fed.fed() == each.fed()
    kinds = [e["event"] for e in reference["events"]]
    assert "dpd_probe_sent" in kinds  # the outage was long enough to decide something
    if not esp:  # probes all along: the pings do not keep the peer heard
        sent = [e["t"] for e in reference["events"] if e["event"] == "dpd_probe_sent"]
        assert min(sent) < 20 and len(sent) > 30  # from the first 10 s of silence on
    assert trains.echoes > 400  # most echoes moved in windows (a lost packet ends none)
    assert rows >= trains.windows > 0  # most windows fed DPD a row per peer
    if mode == "periodic" and esp:  # the pings keep the peer heard: DPD's timer only re-arms,
        assert trains.crossed > 20  # windows run across it


@pytest.mark.parametrize("version,rule", [(2, "idle"), (2, "check-job"), (1, "retry"), (1, "timeout")])
@pytest.mark.parametrize("mode", ["periodic", "on-demand"])
def test_stale_dpd_rearms_chained_in_a_window_decide_as_timer_by_timer(version: int, rule: str, mode: str) -> None:
    # A window of pings runs across the peers' DPD timers that find the peer heard from since
    # (a stale hint): it chains them and feeds all but the last as one input. The rules chained:
    # the idle timer at last inbound + delay (RFC 3706 5.3, RFC 7296 2.4; Huawei's idle time and
    # retries), strongSwan's check job every dpd_delay less the whole seconds since the last
    # inbound (ike_sa.c send_dpd; IKEv1 with its dpd_timeout_job). A sparse ping on a 10 % lossy
    # link leaves 12 s of silence now and then: the next window's chain meets a timer that
    # probes (the window ends there); a 40 s outage makes the peers probe, retry and restart.
    # On-demand DPD arms its timer while a continuous flow goes out (RFC 3706 5.3 worry metric).
    dpd: dict[str, Any] = {"delay": "10s", "mode": mode, "retry_interval": "5s", "retries": 3, "action": "restart"}
    peer: dict[str, Any] = {"ike": {"version": version}, "timers": "exact"}
    if rule in ("check-job", "timeout"):
        peer["timers"] = "strongswan"
    if version == 1:
        dpd["ikev1_style"] = "timeout" if rule == "timeout" else "retry"
        if rule == "timeout":
            dpd["timeout"] = "30s"
    peer["dpd"] = dpd
    traffic: list[dict[str, Any]] = [{"name": "ab", "kind": "ping", "from": "A", "to": "B", "interval": 4, "start": 5}]
    if mode == "on-demand":
        traffic.append({"name": "bulk", "kind": "bulk", "from": "A", "to": "B", "rate": "1Mbit/s", "start": 3})
    d = scenario_dict(a=peer, b=peer, duration=1500, link={"delay": "5ms", "loss": "10%"}, traffic=traffic,
                      faults=[{"at": "600s", "kind": "link_down", "duration": "40s"}])
    with _Machines() as each:
        reference = _run(load_scenario(d), "packet")
    with _Machines() as chained:
        array, _rows, _trains = _rows_fed(d)
    _same(reference, array)
    assert chained.fed() == each.fed()  # every timer at the same instant, every decision the same
    assert all(len(m.history) < HISTORY for m in each.made)  # nothing fell out of the histories compared
    assert not each.runs and max(chained.runs) >= 3  # runs of stale re-arms fed as one input
    probes = [e["t"] for e in reference["events"] if e["event"] == "dpd_probe_sent"]
    assert any(t < 600 or t > 700 for t in probes)  # silence on the lossy link, outside the outage
    assert any(600 < t < 640 for t in probes)  # the outage


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("timers", ["exact", "strongswan"])
def test_stale_dpd_rearms_at_an_echo_s_very_instant_keep_the_loop_s_order(version: int, timers: str) -> None:
    # Pings every second both ways, started together on a link without jitter: a peer hears the
    # other at s + 5 ms, and its idle timer (exact timers: last inbound + 10 s) falls on the very
    # instant the request sent 10 s later arrives. The loop runs callbacks due at one instant in
    # the order they were scheduled (sim/sched.py): the timer, re-armed 9 s before, first; so
    # that arrival must not count as heard by it, and the next deadline is 9 s on, not 10.
    # strongSwan's check job keeps the cadence of the establishment instead (no such ties).
    peer = {"ike": {"version": version}, "timers": timers, "dpd": {"delay": "10s"}}
    pings = [{"name": "ab", "kind": "ping", "from": "A", "to": "B", "interval": 1, "start": 5},
             {"name": "ba", "kind": "ping", "from": "B", "to": "A", "interval": 1, "start": 5}]
    d = scenario_dict(a=peer, b=peer, duration=600, link={"delay": "5ms"}, traffic=pings)
    with _Machines() as each:
        reference = _run(load_scenario(d), "packet")
    with _Machines() as chained:
        array, _rows, trains = _rows_fed(d)
    _same(reference, array)
    assert chained.fed() == each.fed()
    gaps = [b - a for m in each.made for a, b in itertools.pairwise(each.timers[id(m)][1:])]
    assert len(gaps) > 80
    if timers == "exact":  # the next deadline: the last echo heard before the timer + 10 s
        assert all(9.0 < g < 10.0 for g in gaps)
        assert sum(g < 9.999 for g in gaps) > len(gaps) / 2  # the echo at the timer's instant came after it
        assert trains.tied > 50  # chained across those ties, not ended at each
    else:  # ike_sa.c send_dpd: 10 s less the whole seconds since the last inbound (0 or 1)
        assert all(abs(g - 9.0) < 1e-9 or abs(g - 10.0) < 1e-9 for g in gaps)
    assert max(chained.runs) >= 10


def test_dpd_timers_that_cannot_be_chained_run_ahead_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    # Where a peer's DPD does not fit the chained rule (PeerNode.chain_jobs: several machines
    # or jobs, an exchange in flight, a fluid flow not on an SA), the window still runs across
    # its stale re-arms, each through the peer as the loop would run it: the same decisions.
    from ipsecsim.sim.node import PeerNode
    peer = {"ike": {"version": 2}, "timers": "exact", "dpd": {"delay": "10s"}}
    pings = [{"name": "ab", "kind": "ping", "from": "A", "to": "B", "interval": 1, "start": 5},
             {"name": "ba", "kind": "ping", "from": "B", "to": "A", "interval": 1.3, "start": 5.5}]
    d = scenario_dict(a=peer, b=peer, duration=600, link={"delay": "5ms", "loss": "1%"}, traffic=pings,
                      faults=[{"at": "300s", "kind": "link_down", "duration": "30s"}])
    with _Machines() as each:
        reference = _run(load_scenario(d), "packet")
    monkeypatch.setattr(PeerNode, "chain_jobs", lambda self, until: None)
    with _Machines() as one_by_one:
        array, _rows, trains = _rows_fed(d)
    _same(reference, array)
    assert one_by_one.fed() == each.fed()
    assert not one_by_one.runs and trains.crossed > 20


def _drop_windows(d: dict[str, Any], engine: str = "fast", trace: Path | None = None
                  ) -> tuple[dict[str, Any], dict[str, int]]:
    """A run on the array path and what its windows met on the link: echoes moved, windows,
    lost packets inside windows, windows that began with a drop interval of their flows open
    on the link (closed by their first packet that passes), that ended with one open (a
    packet lost at the window's end), and that ended on a peer acting at an echo, whose
    packet goes to the link after the peer's output (``held``)."""
    stats = {"windows": 0, "echoes": 0, "lost": 0, "open_at_start": 0, "open_at_end": 0, "held": 0}
    real_drops, real_init = train.Trains._drops, train.Trains.__init__
    seen: list[train.Trains] = []

    def open_now(self: train.Trains) -> bool:
        return any(v.rate == 0 for v in self.link.ledger.open.values())

    def drops(self: train.Trains, plans: Any, t: Any, kind: Any, which: Any, lost: Any, done: int, *more: Any) -> None:
        stats["open_at_start"] += open_now(self)
        stats["lost"] += int(lost[:done].sum())
        real_drops(self, plans, t, kind, which, lost, done, *more)
        stats["open_at_end"] += open_now(self)
        stats["held"] += self._held >= 0

    def init(self: train.Trains, *a: Any, **k: Any) -> None:
        real_init(self, *a, **k)
        seen.append(self)

    train.Trains._drops = drops  # type: ignore[method-assign]
    train.Trains.__init__ = init  # type: ignore[method-assign]
    try:
        if trace is None:
            out = _run(load_scenario(d), "array", engine=engine)
        else:
            from ipsecsim.trace.options import TraceOptions
            from ipsecsim.trace.packets import write_trace
            opts = TraceOptions(trace / "array.pcapng", trace / "array.json", esp_first=None, esp_last=None)
            write_trace(simulate(load_scenario(d), traffic="array"), opts)
            out = {"pcap": opts.pcap.read_bytes()}  # type: ignore[union-attr]
    finally:
        train.Trains._drops = real_drops  # type: ignore[method-assign]
        train.Trains.__init__ = real_init  # type: ignore[method-assign]
    stats["windows"], stats["echoes"] = seen[0].windows, seen[0].echoes
    return out, stats


def _link_drops(result: dict[str, Any]) -> dict[str, list[int]]:
    """Per flow, the packets of each drop interval the link reported (reason loss)."""
    out: dict[str, list[int]] = {}
    for e in result["events"]:
        if e["event"] == "traffic_dropped" and e["peer"] == "link" and e["reason"] == "loss":
            out.setdefault(e["flow"], []).append(e["packets"])
    return out


# A 1 s and a 0.7 s ping each way (four ESP flows on the link), DPD 10 s at both ends and
# CHILD SAs rekeyed every 2 min (strongSwan rekey_time): windows end at the peers' timers, so
# lost packets fall at their first and last events as well as inside them.
LOSSY = {"a": {"dpd": {"delay": "10s"}, "child": {"rekey_time": "2m"}}, "b": {"dpd": {"delay": "10s"}},
         "duration": 900, "traffic": PINGS}


@pytest.mark.parametrize("engine", ["fast", "simpy"])
@pytest.mark.parametrize("loss", [0.3, 0.6])
def test_lost_packets_do_not_end_a_window(engine: str, loss: float) -> None:
    # a lost request has no arrival and no reply; a lost reply no arrival; the link reports
    # consecutive losses of a flow as one traffic_dropped when the next packet of the flow
    # passes (docs/events.md). ESP only is lossy (from 1 s on, both ways), so IKE and DPD
    # keep the tunnel up. The packet path is the reference.
    d = scenario_dict(**{**LOSSY, "link": {"delay": "5ms", "jitter": "2ms"},
                         "faults": [{"at": "1s", "kind": "loss", "loss": loss, "protocol": "esp"}]})
    reference = _run(load_scenario(d), "packet")
    array, stats = _drop_windows(d, engine)
    _same(reference, array)
    drops = _link_drops(reference)
    assert set(drops) == {"ab", "ab:reply", "ba", "ba:reply"}  # both flows, both ways
    assert max(max(v) for v in drops.values()) >= 3  # consecutive losses merged
    assert stats["lost"] > 0.8 * sum(sum(v) for v in drops.values())  # nearly all inside windows
    assert stats["echoes"] > 0.8 * (895 + 1278)
    assert stats["open_at_start"] > 3 and stats["open_at_end"] > 3  # losses at the windows' edges


def test_an_outage_and_lost_packets_across_windows_run_the_same() -> None:
    # a 20 s outage leaves link_down intervals open: the first packet of each flow that passes
    # after it closes them, inside a window; a 20 % loss window one way (A->B) on a 2 % link
    dpd = {"dpd": {"delay": "30s"}}
    d = scenario_dict(a=dpd, b=dpd, duration=900, traffic=PINGS, link={"delay": "5ms", "loss": "2%"},
                      faults=[{"at": "200s", "kind": "link_down", "duration": "20s"},
                              {"at": "500s", "kind": "loss", "loss": 0.2, "direction": "A->B", "duration": "100s"}])
    reference = _run(load_scenario(d), "packet")
    array, stats = _drop_windows(d)
    _same(reference, array)
    down = [e for e in reference["events"] if e["event"] == "traffic_dropped" and e["reason"] == "link_down"]
    assert {e["flow"] for e in down} >= {"ab", "ba"}
    assert stats["open_at_start"] > 0 and stats["lost"] > 50


@pytest.mark.parametrize("version", [1, 2])
def test_a_peer_acting_at_an_echo_sends_its_packet_after_its_own_output(version: int,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # on-demand DPD where inbound ESP is no proof of life (esp_resets_idle false): a ping
    # leaving 10 s after the last IKE message makes its peer probe at that very packet (RFC
    # 3706 5.3; Huawei Cloud DPD FAQ), in the middle of a window. The probe's events and
    # datagram come first, then the packet reaches the link: the drop interval it opens or
    # closes is reported after them, and an IKE message arriving at the same instant as it
    # is handled first. ESP is 30 % lossy. Windows of any length (the probes come in short ones).
    monkeypatch.setattr(train, "_FEW", 0)
    dpd = {"dpd": {"delay": "10s", "mode": "on-demand", "retry_interval": "5s", "retries": 3,
                   "esp_resets_idle": False}, "ike": {"version": version}}
    if version == 1:
        dpd["dpd"]["ikev1_style"] = "retry"
    d = scenario_dict(a=dpd, b=dpd, duration=900, link={"delay": "5ms", "loss": "2%"}, traffic=PINGS,
                      faults=[{"at": "1s", "kind": "loss", "loss": 0.3, "protocol": "esp"}])
    reference = _run(load_scenario(d), "packet")
    array, stats = _drop_windows(d)
    _same(reference, array)
    assert sum(e["event"] == "dpd_probe_sent" for e in reference["events"]) > 50
    assert stats["held"] > 10 and stats["lost"] > 500


def test_packet_traces_of_lossy_windows_are_byte_identical(tmp_path: Path) -> None:
    # the ESP records of lost packets (no arrival) are written to the trace as on the packet path
    from ipsecsim.trace.options import TraceOptions
    from ipsecsim.trace.packets import write_trace
    d = scenario_dict(**{**LOSSY, "duration": 300, "link": {"delay": "5ms", "jitter": "2ms", "loss": "30%"}})
    opts = TraceOptions(tmp_path / "packet.pcapng", tmp_path / "packet.json", esp_first=None, esp_last=None)
    write_trace(simulate(load_scenario(d), traffic="packet"), opts)
    array, stats = _drop_windows(d, trace=tmp_path)
    assert array["pcap"] == opts.pcap.read_bytes()  # type: ignore[union-attr]
    assert stats["lost"] > 100


@pytest.mark.parametrize("loss", ["0%", "20%"])
def test_requests_overtaking_each_other_in_a_window_are_answered_in_arrival_order(loss: str) -> None:
    # 1.5 s of jitter on a 1 s ping: a request can arrive before the one sent before it. The
    # far gateway answers each when it arrives, so the replies' packet numbers (their draws,
    # sim/draws.py, and ESP sequence numbers) follow the arrival order, not the echo order.
    pings = [{"name": "ab", "kind": "ping", "from": "A", "to": "B", "interval": 1, "start": 5},
             {"name": "ba", "kind": "ping", "from": "B", "to": "A", "interval": 2.5, "start": 5.3}]
    d = scenario_dict(duration=900, link={"delay": "5ms", "jitter": "1500ms", "loss": loss}, traffic=pings)
    overtaken = [0]
    real = train.Trains._hand_over

    def spy(self: train.Trains, plans: Any, t: Any, kind: Any, idx: Any, which: Any, done: int, *more: Any) -> None:
        for w in range(len(plans)):
            x = idx[:done][(which[:done] == w) & (kind[:done] == 1)]
            overtaken[0] += bool(len(x) and (x[1:] < x[:-1]).any())
        real(self, plans, t, kind, idx, which, done, *more)

    train.Trains._hand_over = spy  # type: ignore[method-assign]
    try:
        array = _run(load_scenario(d), "array")
    finally:
        train.Trains._hand_over = real  # type: ignore[method-assign]
    _same(_run(load_scenario(d), "packet"), array)
    assert overtaken[0] > 0


def _noop_crossings(d: dict[str, Any],
                    monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], train.Trains, set[str]]:
    """A run on the array path, its flows, and the names of the timer jobs its windows ran
    ahead (``PeerNode.run_ahead`` one by one, ``rearm_ahead`` in DPD's chains)."""
    from ipsecsim.sim.node import PeerNode
    crossed: set[str] = set()
    real, real_chain = PeerNode.run_ahead, PeerNode.rearm_ahead

    def spy(self: PeerNode, t: float, arm: bool = True) -> None:
        crossed.update(job[2].__name__ for job in self.ep._timers if job[0] <= t)
        real(self, t, arm)

    def spy_chain(self: PeerNode, chain: Any, times: Any, next_check: Any, due: Any, noops: Any = None,
                  arm: bool = True) -> Any:
        crossed.update(job[2].__name__ for job in noops or ())
        return real_chain(self, chain, times, next_check, due, noops, arm)

    monkeypatch.setattr(PeerNode, "run_ahead", spy)
    monkeypatch.setattr(PeerNode, "rearm_ahead", spy_chain)
    out, _rows, trains = _rows_fed(d)
    monkeypatch.setattr(PeerNode, "run_ahead", real)
    monkeypatch.setattr(PeerNode, "rearm_ahead", real_chain)
    return out, trains, crossed


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("dpd", [False, True])
def test_windows_run_across_timer_jobs_that_do_nothing(version: int, dpd: bool,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # CHILD SAs rekeyed with PFS by time on A (rekey 120 s, life 150 s) and by volume on B
    # (2 MB of a 1 Mbit/s bulk flow from 600 to 700 s), their requests answered within the 4 s retransmission
    # timeout on a 50 ms link: every rekeyed IKEv2 SA leaves its lifetime jobs behind (RFC 7296
    # 2.8: the old SA is deleted, its soft/hard expiry finds it gone) and every answered
    # request its retransmission job (the request is no longer in flight). Each of those
    # timer jobs does nothing; the array path's windows run across them instead of ending
    # there, and the run stays the packet path's, on both engines. With DPD (10 s, the pings
    # keep the peers heard: its timers only re-arm) they run inside the chains of DPD's timers.
    ike: dict[str, Any] = {"ike": {"version": version}, "child": {"proposals": ["aes128-sha256-modp2048"]}}
    if dpd:
        ike["dpd"] = {"delay": "10s"}
    a = {**ike, "child": {**ike["child"], "rekey_time": "120s", "life_time": "150s", "rand_time": "0s"}}
    b = {**ike, "child": {**ike["child"], "rekey_bytes": 2_000_000, "life_bytes": 2_400_000}}
    traffic = [*PINGS, {"name": "bulk", "kind": "bulk", "from": "B", "to": "A", "rate": "1Mbit/s", "start": 600,
                         "stop": 700}]
    d = scenario_dict(a=a, b=b, duration=1500, link={"delay": "50ms"}, traffic=traffic)
    with _Machines() as each:
        reference = _run(load_scenario(d), "packet")
    by = {(e["kind"], e["by"]) for e in reference["events"]
          if e["event"] == "sa_expired" and e.get("sa_type") == "child"}
    assert ("soft", "time") in by and ("soft", "bytes") in by  # rekeys by time and by volume
    with _Machines() as chained:
        array, trains, crossed = _noop_crossings(d, monkeypatch)
    _same(reference, array)
    assert chained.fed() == each.fed()  # DPD's timers at the same instants, the same decisions
    if dpd:
        assert max(chained.runs) >= 3  # chained: runs of stale re-arms fed as one input
    _same(reference, _run(load_scenario(d), "array", engine="simpy"))  # no window crosses a timer there
    assert "on_retransmit_timer" in crossed  # answered requests' hints
    if version == 2:  # deleted CHILD SAs' lifetimes (IKEv1 keeps a rekeyed SA until its hard
        assert "on_limit_timer" in crossed  # expiry, whose DELETE reaches the peer at its own)
    # without the rule every one of those jobs ends a window
    from ipsecsim.proto.ikev1.engine import Ikev1Engine
    from ipsecsim.proto.ikev2.engine import Ikev2Engine
    for cls in (Ikev1Engine, Ikev2Engine):
        monkeypatch.setattr(cls, "timer_noop", lambda self, fn, args, now: False)
    plain, plain_trains, plain_crossed = _noop_crossings(d, monkeypatch)
    _same(reference, plain)
    assert not {"on_retransmit_timer", "on_limit_timer", "on_child_timer"} & plain_crossed
    assert plain_trains.windows > trains.windows


def test_windows_run_across_timer_callbacks_the_loop_finds_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    """A peer's timer callback that the loop will find stale ends no window: one pending at
    an instant after the peer's armed deadline (armed when that instant was its earliest
    job's, then superseded), or a second one at an instant where one is pending already (the
    branch re-arms after each of its rekeys' jobs at its next job, an hour away). The
    window's crossings re-arm the peer's timer from its jobs as the loop would. Benchmark
    (a)'s pair for two hours: the cloud rekeys every 144 s (1 Gbit/s, 18 GB), DPD 10 s, a
    1 s ping each way; the packet path is the reference."""
    from ipsecsim.sim.node import PeerNode
    d = _rekeying_pair(7200)
    reference = _run(load_scenario(d), "packet")
    assert sum(e["event"] == "child_sa_rekeyed" for e in reference["events"]) >= 2 * 45
    monkeypatch.setattr(train, "quiet_sas", lambda *a: None)  # no window crosses a rekeyed SA's removal
    windows, _echoes = _windows(d)
    _same(reference, _run(load_scenario(d), "array"))
    monkeypatch.setattr(PeerNode, "timer_superseded", lambda self, t, listed: False)
    plain, _echoes = _windows(d)
    _same(reference, _run(load_scenario(d), "array"))
    assert plain > windows + 10  # without the rule such callbacks end windows


def _rekeying_pair(duration: float, link: dict[str, Any] | None = None) -> dict[str, Any]:
    from ipsecsim.config.loader import read_yaml
    d = read_yaml(ROOT / "scenarios" / "rekey-20gb.yaml")
    d.pop("expect")
    d["duration"] = duration
    d["traffic"] = [*d["traffic"], {"name": "cb", "kind": "ping", "from": "cloud", "to": "branch", "interval": 1},
                    {"name": "bc", "kind": "ping", "from": "branch", "to": "cloud", "interval": 1}]
    if link is not None:
        d["link"] = link
    return d


@pytest.mark.parametrize("link", [None, {"delay": "5ms", "loss": "1%"}])
def test_windows_run_across_the_removal_of_a_rekeyed_sa(link: dict[str, Any] | None,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Make-before-break keeps a rekeyed SA's inbound half for delete_rekeyed_delay (5 s);
    its removal (``child_sa_deleted``, no message) ended the window of the pings, which use
    the new SAs: a window now runs across it, the job run ahead at its instant and its event
    logged then (``PeerNode.quiet_job``), inside the chain of the peers' other timers (DPD's
    stale re-arms: sim/dpd_rows.py), not one by one. Not where the window logs events of its
    own (lost packets: the link's drop intervals) or a listener would act on the event.
    Benchmark (a)'s pair for an hour; the packet path is the reference (events in their
    order), and the same run with the removals' windows crossing every timer one by one."""
    from ipsecsim.sim import dpd_rows
    d = _rekeying_pair(3600, link)
    reference = _run(load_scenario(d), "packet")
    removed = [e for e in reference["events"] if e["event"] == "child_sa_deleted"]
    assert len(removed) >= 2 * 20 and {e["reason"] for e in removed} == {"rekeyed"}
    windows, _echoes = _windows(d)
    real_each = dpd_rows._cross_each
    calls = _counted(monkeypatch, dpd_rows, "_cross_each", "_quiet")
    _same(reference, _run(load_scenario(d), "array"))
    if link is None:  # every removal run inside a chain, no window crossed one by one
        assert calls["_quiet"] >= len(removed) * 0.9 and calls["_cross_each"] == 0
    monkeypatch.setattr(dpd_rows, "_jobs_kept", lambda node, seq, left: False)
    _same(reference, _run(load_scenario(d), "array"))  # the peer's jobs classified again after each removal
    monkeypatch.setattr(dpd_rows, "cross", lambda trains, t, parents, stop_at, crossings, feed: real_each(
        trains, t, parents, stop_at, crossings, feed))
    _same(reference, _run(load_scenario(d), "array"))  # one by one
    monkeypatch.undo()
    _same(reference, _run(load_scenario(d), "array", engine="simpy"))
    monkeypatch.setattr(train, "quiet_sas", lambda *a: None)
    plain, _echoes = _windows(d)
    if link is None:
        assert windows < plain - len(removed) / 2 * 0.8  # about one window less per rekey
    else:
        assert windows == plain  # lost packets: the window ends at the removal


@pytest.mark.parametrize("delay,rekey,duration", [("2s", "2m", 400.0), ("3s", "1m", 1200.0)])
def test_a_removal_between_two_dpd_rearms_found_ahead_runs_at_its_instant(
        delay: str, rekey: str, duration: float, monkeypatch: pytest.MonkeyPatch) -> None:
    """strongSwan's check job every dpd_delay (ike_sa.c send_dpd) shorter than
    delete_rekeyed_delay (5 s): the removal of a rekeyed SA's inbound half falls between two
    of DPD's stale re-arms that the chain found ahead on arrays (``check_run``, ``_batch``).
    The peer's next callback is then the removal's, not the next re-arm's: run at its
    instant, the two peers' ``child_sa_deleted`` events come in the packet path's order (the
    packet path is the reference)."""
    from ipsecsim.sim import dpd_rows
    dpd = {"dpd": {"delay": delay}}
    d = scenario_dict(a={**dpd, "child": {"rekey_time": rekey}}, b=dpd, duration=duration, traffic=PINGS,
                      link={"delay": "5ms"})
    reference = _run(load_scenario(d), "packet")
    removed = [e for e in reference["events"] if e["event"] == "child_sa_deleted"]
    assert len(removed) >= 2 * 2 and {e["reason"] for e in removed} == {"rekeyed"}
    calls = _counted(monkeypatch, dpd_rows, "_batch", "_quiet")
    _same(reference, _run(load_scenario(d), "array"))
    assert calls["_batch"] > 0 and calls["_quiet"] > 0  # re-arms found ahead, removals inside the chains


def test_windows_chain_across_the_dpd_job_of_a_rekeyed_ike_sa(monkeypatch: pytest.MonkeyPatch) -> None:
    """An IKE SA's rekey leaves the old SA's DPD job pending (RFC 7296 2.8: the old SA is
    deleted; ``Liveness.on_timer`` then finds no SA and does nothing) beside the new SA's: the
    engine declares it a no-op (``timer_noop``), so the peer's timers are still chained
    (sim/dpd_rows.py: DPD's one live job and the no-ops), not run one by one. strongSwan pair,
    IKEv2, IKE SA rekeyed every 5 min, DPD 10 s, pings each way; the packet path is the
    reference (DPD's inputs too), and the same run without the rule (every such window
    crossed one by one)."""
    from ipsecsim.proto.ikev2.engine import Ikev2Engine
    from ipsecsim.sim import dpd_rows
    peer = {"ike": {"version": 2, "rekey_time": "300s", "rand_time": "0s"}, "dpd": {"delay": "10s"}}
    d = scenario_dict(a=peer, b=peer, duration=1800, link={"delay": "20ms"}, traffic=PINGS)
    with _Machines() as each:
        reference = _run(load_scenario(d), "packet")
    assert sum(e["event"] == "ike_sa_rekeyed" for e in reference["events"]) >= 4
    calls = _counted(monkeypatch, dpd_rows, "_cross_each")
    with _Machines() as chained:
        array, _rows, _trains = _rows_fed(d)
    _same(reference, array)
    assert chained.fed() == each.fed()  # a new SA's machine first fed a row: its first entry at the first packet
    assert calls["_cross_each"] == 0
    real_noop = Ikev2Engine.timer_noop
    monkeypatch.setattr(Ikev2Engine, "timer_noop", lambda self, fn, args, now: fn != self.liveness.on_timer
                        and real_noop(self, fn, args, now))
    with _Machines() as plain:
        array, _rows, _trains = _rows_fed(d)
    _same(reference, array)
    assert plain.fed() == each.fed()
    assert calls["_cross_each"] >= 4  # without the rule: the windows after each rekey one by one
