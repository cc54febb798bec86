"""One run as the simulator consumes it: peers, link, faults, flows, health checks, HA groups
and BGP sessions, every value effective (config/runspec.py builds it from a scenario)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..proto.settings import PeerSettings
from .expect import ExpectSpec
from .groups import BgpSpec, HaGroupSpec
from .link import FaultSpec, LinkSpec


@dataclass(frozen=True, slots=True)
class FlowSpec:
    """One traffic source (config/model.py ``TrafficConfig``), its name and hosts resolved."""

    name: str
    """The flow's name in events (``kind-N`` unless the scenario names it)."""
    kind: str
    """``ping``, ``bulk`` or ``burst``."""
    source: str
    """The sending peer or HA group."""
    to: str
    src: str
    """The sending host (the first host of the sender's first local subnet unless given)."""
    dst: str
    start: float
    stop: float | None
    interval: float
    size: int
    rate: float | None
    packet_size: int
    every: float | None
    length: float | None
    bytes: int | None
    dont_fragment: bool


@dataclass(frozen=True, slots=True)
class NqaSpec:
    """A peer's path health probes (config/model.py ``NqaConfig``)."""

    source: str
    destination: str
    interval: float
    retries: int
    size: int
    path: str
    """``auto``, ``tunnel`` or ``underlay``."""
    policy: str
    start: float


@dataclass(frozen=True, slots=True)
class Subnets:
    """The subnets a peer's policy protects."""

    local_subnets: tuple[str, ...]
    remote_subnets: tuple[str, ...]


@dataclass(frozen=True)
class RunSpec:
    """Everything the simulator needs of one run; the mappings are not to be changed."""

    seed: int
    duration: float
    peers: dict[str, PeerSettings]
    """Each peer's effective core settings, in the scenario's order."""
    link: LinkSpec
    faults: tuple[FaultSpec, ...] = ()
    reconfigured: dict[int, PeerSettings] = field(default_factory=dict)
    """Settings a ``reconfigure`` or ``recreate`` fault (by its index in ``faults``) switches its
    peer to."""
    traffic: tuple[FlowSpec, ...] = ()
    partner: dict[str, str] = field(default_factory=dict)
    """Each peer's remote peer (config/topology.py)."""
    subnets: dict[str, Subnets] = field(default_factory=dict)
    nqa: dict[str, NqaSpec] = field(default_factory=dict)
    """The peers with health probes."""
    ha: tuple[HaGroupSpec, ...] = ()
    bgp: dict[str, BgpSpec] = field(default_factory=dict)
    """The peers with a BGP session."""
    start_at: float = 0.0
    """When the peers start (a fleet pair's start offset; its flows and faults are shifted by the same)."""
    name: str = ""
    """The scenario's name."""
    description: str = ""
    file: str | None = None
    """The scenario file, for messages naming it (None: built from Python objects)."""
    notes: tuple[str, ...] = ()
    """What a duration given on the command line drops (faults and flows after its end)."""
    expect: tuple[ExpectSpec, ...] = ()
    """The scenario's ``expect:`` entries."""
    fleet: bool = False
    """Whether the scenario is a fleet (many pairs, run by ``ipsecsim.fleet``), not one run."""

    def members(self, name: str) -> list[str]:
        """The peers a traffic end stands for: a group's members in preference order, or the peer."""
        for g in self.ha:
            if g.name == name:
                return list(g.members)
        return [name]
