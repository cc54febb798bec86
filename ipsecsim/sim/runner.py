"""Scenario -> Result: build the peers, the link, the HA controllers and the faults on a
scheduler (sim/sched.py: the callback loop, or SimPy), run it to the end."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import simpy

from ..proto.endpoint import Endpoint
from ..proto.final import final_state
from ..proto.rng import stream
from ..proto.settings import PeerSettings
from ..result import Result
from ..spec import FaultSpec, RunSource
from .bgp import BgpNetwork
from .collector import paused
from .faults import run_fault
from .ha import start_groups
from .link import Link
from .log import EventLog
from .nat import Nat
from .node import PeerNode
from .nqa import start_probes
from .sched import ENGINES, make, spawn
from .traffic import Sender, start_sources
from .train import Trains
from .workers import WorkerPool

DEFAULT_ENGINE = "fast"
CRYPTO = ("real", "model")
DEFAULT_TRAFFIC = "array"
TRAFFIC_PATHS = ("packet", "array")
"""How periodic traffic (pings) is simulated: one event per packet, or a schedule moved a
window at a time (sim/train.py); both give the same run (tests/test_traffic_paths.py)."""


def _check_choices(engine: str | simpy.Environment, traffic: str, crypto: str) -> None:
    if not isinstance(engine, simpy.Environment) and engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if traffic not in TRAFFIC_PATHS:
        raise ValueError(f"traffic must be one of {', '.join(TRAFFIC_PATHS)}, got {traffic!r}")
    if crypto not in CRYPTO:
        raise ValueError(f"crypto must be one of {', '.join(CRYPTO)}, got {crypto!r}")


def _start(sched: Any, nodes: dict[str, PeerNode], at: float) -> None:
    """Start every peer at ``at`` (0: at once, after what is already due now)."""
    for node in nodes.values():
        if at:
            sched.call_at(at, node.start)
        else:
            sched.call_later(0.0, node.start)


def simulate(scenario: RunSource, seed: int | None = None, duration: float | None = None,
             progress: Callable[[float, float], None] | None = None,
             engine: str | simpy.Environment = DEFAULT_ENGINE, traffic: str = DEFAULT_TRAFFIC,
             esp_records: bool = True, crypto: str = "real") -> Result:
    """Run ``scenario`` (optionally with another seed or length) and return its Result.
    ``scenario``: a loaded scenario (``load_scenario``) or anything with its ``spec`` (the run
    description, spec/source.py ``RunSource``); the run reads only the ``spec``, the Result
    keeps the scenario.
    ``progress(now, until)`` is called as simulated time advances (in 1 % steps); the run is
    the same with or without it. ``engine``: ``fast`` (the callback loop) or ``simpy`` (the
    same drivers on a SimPy environment), both giving the same run; or a ``simpy.Environment``
    of the caller's (at time 0), to run the scenario beside other SimPy models on it.
    ``traffic``: ``array`` (pings as schedules moved a window at a time, sim/train.py) or
    ``packet`` (one event per packet), both giving the same run. ``esp_records=False`` keeps
    no record per ESP packet (``Result.esp``, what a packet trace writes; a fragmented
    packet's record also feeds the traffic summary's fragment counts): for long runs
    without a trace. ``crypto``: ``real`` (modular exponentiation, ECDH, ciphers) or ``model``
    (the same draws and decisions from hashes, proto/dh.py; no packet trace can be written of
    such a run)."""
    _check_choices(engine, traffic, crypto)
    if seed is not None:
        scenario = scenario.with_seed(seed)
    spec = scenario.spec
    seed = spec.seed
    until = spec.duration if duration is None else duration
    sched = make(engine)
    log = EventLog()
    link = Link(sched, spec.link, stream(seed, "link"), log, seed)
    nat = spec.link.nat
    if nat is not None:
        link.nat = Nat(sched, nat, spec.peers[nat.peer].address, stream(seed, "nat"), log, link.changed)

    bgp = BgpNetwork(sched, spec, log, seed)

    def make_endpoint(settings: PeerSettings, boot: int) -> Endpoint:
        names = ("peer", settings.name) if boot == 0 else ("peer", settings.name, f"boot{boot}")
        ep = Endpoint(settings, stream(seed, *names))
        ep.crypto_model = crypto == "model"
        return bgp.attach(ep)

    nodes = {name: PeerNode(sched, s, make_endpoint, link, log, seed) for name, s in spec.peers.items()}
    pools: dict[str, WorkerPool] = {}
    for node in nodes.values():  # the peers (tunnels) of one gateway address share its workers
        cpu = node.settings.cpu
        if cpu is not None:
            node.pool = pools.setdefault(node.settings.address, WorkerPool(sched, cpu.workers))
    link.partner = dict(spec.partner)
    routers = bgp.start(nodes)  # groups routed by BGP have no HA controller
    groups: dict[str, Sender] = {**start_groups(sched, spec, nodes, log, skip=routers), **routers}
    if not spec.start_at:
        _start(sched, nodes, 0.0)  # after the faults due at 0 s have taken effect
    faults: list[tuple[FaultSpec, PeerSettings | None]] = [
        (f, spec.reconfigured.get(i)) for i, f in enumerate(spec.faults)]
    for start, end in spec.link.down:
        faults.append((FaultSpec(at=start, kind="link_down", duration=end - start), None))
    for f, s in sorted(faults, key=lambda x: x[0].at):
        spawn(sched, run_fault(sched, f, nodes, link, log, s))
    if spec.start_at:  # a fleet pair starting late: after the faults due at that instant, as at 0 s
        _start(sched, nodes, spec.start_at)
    trains = Trains(sched, link, log, records=esp_records) if traffic == "array" else None
    link.keep_esp = esp_records
    start_sources(sched, spec, nodes, log, until, groups, trains)
    start_probes(sched, spec, nodes, log, until)
    with paused():  # the cyclic collector's full passes wait (sim/collector.py)
        if progress is None:
            sched.run(until)
        else:
            steps = 100
            for k in range(1, steps + 1):
                sched.run(until * k / steps if k < steps else until)
                progress(sched.now, until)
    for node in nodes.values():
        node.finish()
    link.finish()
    return Result(scenario, seed, until, log.events, {n: final_state(node.ep) for n, node in nodes.items()},
                  link.transmissions, link.esp, link.fluid_log, link.ledger.dropped(), link.forwarded,
                  bgp=bgp.snapshot(), crypto=crypto)
