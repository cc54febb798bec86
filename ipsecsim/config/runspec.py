"""A validated scenario -> the run description the simulator consumes (spec/): the file's
models turned into plain frozen values, every default resolved (flow names and hosts, each
peer's remote peer, BGP sessions with their profile defaults). The layers below (sim, trace,
check) read only that description, never these models."""

from __future__ import annotations

from ..proto.settings import PeerSettings
from ..spec import (
    BgpSpec,
    BoundSpec,
    ExpectSpec,
    FaultSpec,
    FlowSpec,
    GilbertElliottSpec,
    HaGroupSpec,
    LinkSpec,
    LossSpec,
    NatSpec,
    NqaSpec,
    RunSpec,
    Subnets,
)
from .bgp import resolve
from .expect import Expectation
from .ha import HaGroupConfig
from .link import GilbertElliott, LinkConfig
from .model import FaultConfig, NqaConfig, ScenarioConfig, TrafficConfig
from .nat import NatConfig
from .topology import endpoints, flow_name, partner_map


def loss_spec(loss: float | GilbertElliott) -> LossSpec:
    if isinstance(loss, GilbertElliott):
        return GilbertElliottSpec(loss.model, loss.p, loss.r, loss.mean_good, loss.mean_bad, loss.loss_good,
                                  loss.loss_bad)
    return loss


def nat_spec(nat: NatConfig) -> NatSpec:
    return NatSpec(nat.peer, nat.public_address, nat.mapping_timeout, nat.esp_passthrough)


def link_spec(link: LinkConfig) -> LinkSpec:
    return LinkSpec(link.delay, link.jitter, loss_spec(link.loss), tuple((w.start, w.end) for w in link.down),
                    nat_spec(link.nat) if link.nat is not None else None, link.mtu)


def fault_spec(f: FaultConfig) -> FaultSpec:
    return FaultSpec(f.at, f.kind, f.peer, f.duration, f.direction, f.ends,
                     (f.between[0], f.between[1]) if f.between else None, f.protocol,
                     loss_spec(f.loss) if f.loss is not None else None, f.delay, f.jitter, f.set, f.address,
                     f.inbound, f.receive_buffer)


def flow_spec(cfg: ScenarioConfig, t: TrafficConfig, index: int) -> FlowSpec:
    src, dst = endpoints(cfg, t)
    return FlowSpec(flow_name(t, index), t.kind, t.source, t.to, src, dst, t.start, t.stop, t.interval, t.size,
                    t.rate, t.packet_size, t.every, t.length, t.bytes, t.dont_fragment)


def nqa_spec(n: NqaConfig) -> NqaSpec:
    return NqaSpec(n.source, n.destination, n.interval, n.retries, n.size, n.path, n.policy, n.start)


def ha_spec(g: HaGroupConfig) -> HaGroupSpec:
    return HaGroupSpec(g.name, tuple(g.members), g.mode, g.preempt, tuple(g.watch))


def bgp_specs(cfg: ScenarioConfig) -> dict[str, BgpSpec]:
    """Each BGP peer's session; its local port and BFD discriminator follow its place among all peers."""
    return {name: resolve(name, peer, 49152 + i, i + 1)
            for i, (name, peer) in enumerate(cfg.peers.items()) if peer.bgp is not None}


def expect_spec(e: Expectation) -> ExpectSpec:
    """One validated ``expect:`` entry as plain values."""
    s = e.summary
    bound = None if s is None else BoundSpec(s.path, s.min, s.max, s.equals, s.equals_given)
    return ExpectSpec(e.kind, e.event, e.peer, e.filters, e.window, e.count, e.at_least, e.at_most, e.never,
                      dict(e.status) if e.status is not None else None, bound, e.label, e.written())


def run_spec(cfg: ScenarioConfig, peers: dict[str, PeerSettings],
             reconfigured: dict[int, PeerSettings] | None = None, start_at: float = 0.0,
             file: str | None = None, notes: tuple[str, ...] = ()) -> RunSpec:
    """What the simulator runs of scenario ``cfg`` (read from ``file``) whose peers' effective
    settings are ``peers`` (the loaded scenario's own mappings, not copies)."""
    return RunSpec(
        seed=cfg.seed, duration=cfg.duration, peers=peers, link=link_spec(cfg.link),
        faults=tuple(fault_spec(f) for f in cfg.faults), reconfigured=reconfigured if reconfigured is not None else {},
        traffic=tuple(flow_spec(cfg, t, i) for i, t in enumerate(cfg.traffic)), partner=partner_map(cfg.peers),
        subnets={n: Subnets(tuple(p.local_subnets), tuple(p.remote_subnets)) for n, p in cfg.peers.items()},
        nqa={n: nqa_spec(p.nqa) for n, p in cfg.peers.items() if p.nqa is not None},
        ha=tuple(ha_spec(g) for g in cfg.ha), bgp=bgp_specs(cfg), start_at=start_at,
        name=cfg.name, description=cfg.description, file=file, notes=notes,
        expect=tuple(expect_spec(e) for e in cfg.expect), fleet=cfg.fleet is not None)
