"""Scenario -> Result: build the peers, the link, the HA controllers and the faults, run SimPy
to the end."""

from __future__ import annotations

from collections.abc import Callable

import simpy

from ..config.loader import Scenario
from ..config.model import FaultConfig
from ..config.topology import partner_map
from ..proto.endpoint import Endpoint
from ..proto.rng import stream
from ..proto.settings import PeerSettings
from ..result import Result
from .bgp import BgpNetwork
from .faults import run_fault
from .ha import start_groups
from .link import Link
from .log import EventLog
from .nat import Nat
from .node import PeerNode
from .nqa import start_probes
from .traffic import Sender, start_sources


def simulate(scenario: Scenario, seed: int | None = None, duration: float | None = None,
             progress: Callable[[float, float], None] | None = None) -> Result:
    """Run ``scenario`` (optionally with another seed or length) and return its Result.
    ``progress(now, until)`` is called as simulated time advances (in 1 % steps); the run is
    the same with or without it."""
    if seed is not None:
        scenario = scenario.with_seed(seed)
    seed = scenario.seed
    until = scenario.duration if duration is None else duration
    env = simpy.Environment()
    log = EventLog()
    link = Link(env, scenario.config.link, stream(seed, "link"), log)
    nat = scenario.config.link.nat
    if nat is not None:
        link.nat = Nat(env, nat, scenario.peers[nat.peer].address, stream(seed, "nat"), log, link.changed)

    bgp = BgpNetwork(env, scenario.config, log, seed)

    def make_endpoint(settings: PeerSettings, boot: int) -> Endpoint:
        names = ("peer", settings.name) if boot == 0 else ("peer", settings.name, f"boot{boot}")
        return bgp.attach(Endpoint(settings, stream(seed, *names)))

    nodes = {name: PeerNode(env, s, make_endpoint, link, log, seed) for name, s in scenario.peers.items()}
    link.partner = partner_map(scenario.config.peers)
    routers = bgp.start(nodes)  # groups routed by BGP have no HA controller
    groups: dict[str, Sender] = {**start_groups(env, scenario.config, nodes, log, skip=routers), **routers}
    faults: list[tuple[FaultConfig, PeerSettings | None]] = [
        (f, scenario.reconfigured.get(i)) for i, f in enumerate(scenario.config.faults)]
    for w in scenario.config.link.down:
        faults.append((FaultConfig(at=w.start, kind="link_down", duration=w.end - w.start), None))
    for f, s in sorted(faults, key=lambda x: x[0].at):
        env.process(run_fault(env, f, nodes, link, log, s))
    start_sources(env, scenario.config, nodes, log, until, groups)
    start_probes(env, scenario.config.peers, nodes, log, until)
    if progress is None:
        env.run(until=until)
    else:
        steps = 100
        for k in range(1, steps + 1):
            env.run(until=until * k / steps if k < steps else until)
            progress(env.now, until)
    for node in nodes.values():
        node.finish()
    link.finish()
    return Result(scenario, seed, until, log.events, {n: node.ep for n, node in nodes.items()},
                  link.transmissions, link.esp, link.fluid_log, link.ledger.dropped(), link.forwarded,
                  bgp=bgp.snapshot())
