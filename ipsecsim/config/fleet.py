"""The ``fleet:`` of a scenario: N copies of its one tunnel, each pair varied from the seed.

A fleet file is an ordinary two-peer scenario (the *template*) plus::

    fleet:
      pairs: 1000                    # how many tunnels
      hub: cloud                     # optional: the template peer that is one hub (pairs named branch-NNNN)
      prefix: branch                 # pair names: <prefix>-0001 ... (default: pair, or branch with a hub)
      start: {uniform: [0s, 60s]}    # each pair starts (and its flows and faults happen) this much later
      link:                          # per-pair link, replacing the template's value
        delay: {uniform: [5ms, 45ms]}
        loss: {uniform: [0, 1%]}
        jitter: 1ms
      link_faults: {every: 12h, duration: {uniform: [10s, 2m]}}   # random outages (Poisson)
      variants:                      # a share of the pairs with other settings
        - {share: 10%, peers: {branch: {profile: cisco-ios}}}

A value is fixed (``20ms``, ``1%``) or drawn per pair: ``{uniform: [lo, hi]}``,
``{normal: [mean, sd]}`` (cut to the allowed range), ``{exponential: mean}``.

Pairs share nothing (each has its own link, peers and random streams), so a pair's run depends
only on the scenario, the seed and the pair's name: every draw of pair ``branch-0042`` comes
from ``rng.stream(seed, "fleet", "branch-0042", quantity)``. A hub is therefore one IKE
connection per branch, as the topology of config/topology.py has it; what a real hub shares
between them (CPU, one uplink) is not modelled across pairs.

Validation is done once per variant (the template with the variant's overrides, through the
ordinary loader); each pair then differs only in numbers drawn inside validated ranges, so
building N pairs is linear in N and cheap.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator

from ..errors import shown
from .link import Probability
from .strict import Strict
from .units import DURATION_SCHEMA, parse_duration

MAX_PAIRS = 1_000_000


def _number(value: Any, kind: str) -> float:
    """A duration (``30s``) or probability (``1%``) as a float; ValueError names the form."""
    if isinstance(value, bool):
        raise ValueError(f"expected a {kind}, got {shown(value)}")
    if kind == "probability":
        if isinstance(value, str) and value.strip().endswith("%"):
            try:
                value = float(value.strip()[:-1]) / 100
            except ValueError:
                raise ValueError(f"expected a probability such as 0.05 or 5%, got {shown(value)}") from None
        if not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ValueError(f"expected a probability between 0 and 1 (0.05 or 5%), got {shown(value)}")
        return float(value)
    if isinstance(value, int | float):
        if not 0 <= value < 1e9:
            raise ValueError(f"expected a duration of at least 0, got {shown(value)}")
        return float(value)
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError(f"expected a duration such as 20ms, got {shown(value)}")


_FORMS = "a fixed value, {uniform: [lo, hi]}, {normal: [mean, sd]} or {exponential: mean}"


@dataclass(frozen=True)
class Dist:
    """A per-pair quantity: ``kind`` fixed / uniform / normal / exponential with its numbers."""

    kind: str
    args: tuple[float, ...]
    lo: float = 0.0
    hi: float = math.inf

    def draw(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            return self.args[0]
        if self.kind == "uniform":
            return rng.uniform(self.args[0], self.args[1])
        if self.kind == "normal":
            return min(self.hi, max(self.lo, rng.gauss(self.args[0], self.args[1])))
        return min(self.hi, rng.expovariate(1.0 / self.args[0]) if self.args[0] > 0 else 0.0)

    @property
    def mean(self) -> float:
        """The mean of the distribution (before a normal is cut to its range)."""
        if self.kind == "uniform":
            return (self.args[0] + self.args[1]) / 2
        return self.args[0]


def _dist(kind: str, hi: float = math.inf) -> Any:
    """The parser of a per-pair quantity of ``kind``."""
    def parse(value: Any) -> Dist:
        if isinstance(value, Dist):
            return value
        if not isinstance(value, dict):
            v = _number(value, kind)
            if v > hi:
                raise ValueError(f"{v:g} is above the largest allowed value {hi:g}")
            return Dist("fixed", (v,), 0.0, hi)
        if len(value) != 1 or next(iter(value)) not in ("uniform", "normal", "exponential"):
            raise ValueError(f"expected {_FORMS}; got {shown(value)}")
        form, arg = next(iter(value.items()))
        if form == "exponential":
            mean = _number(arg, kind)
            return Dist(form, (mean,), 0.0, hi)
        if not isinstance(arg, list) or len(arg) != 2:
            raise ValueError(f"{form} takes a list of two values, [{'lo, hi' if form == 'uniform' else 'mean, sd'}]; "
                             f"got {shown(arg)}")
        a, b = (_number(x, kind) for x in arg)
        if form == "uniform" and not a <= b <= hi:
            raise ValueError(f"uniform [lo, hi] needs lo <= hi <= {hi:g}; got [{a:g}, {b:g}]")
        if form == "normal" and a > hi:
            raise ValueError(f"normal mean {a:g} is above the largest allowed value {hi:g}")
        return Dist(form, (a, b), 0.0, hi)
    return parse


_SCHEMA = {"anyOf": [{"type": ["number", "string"]}, {"type": "object", "minProperties": 1, "maxProperties": 1,
                                                      "properties": {"uniform": {"type": "array"},
                                                                     "normal": {"type": "array"}, "exponential": {}},
                                                      "additionalProperties": False}]}
DurationDist = Annotated[Dist, BeforeValidator(_dist("duration")), WithJsonSchema(_SCHEMA)]
ProbabilityDist = Annotated[Dist, BeforeValidator(_dist("probability", 1.0)), WithJsonSchema(_SCHEMA)]


class FleetLink(Strict):
    delay: DurationDist | None = Field(None, description="one-way delay of each pair's link")
    jitter: DurationDist | None = Field(None, description="uniform extra delay in [0, jitter] of each pair's link")
    loss: ProbabilityDist | None = Field(None, description="Bernoulli loss probability of each pair's link")


class LinkFaults(Strict):
    every: Annotated[float, BeforeValidator(lambda v: _number(v, "duration")), WithJsonSchema(DURATION_SCHEMA)] = Field(
        description="mean time between two outages of a pair's link (exponential gaps: a Poisson process)")
    duration: DurationDist = Field(description="how long each outage lasts")

    @model_validator(mode="after")
    def _positive(self) -> LinkFaults:
        if self.every < 1.0:
            raise ValueError(f"every must be at least 1s, got {self.every:g}s")
        return self


class Variant(Strict):
    share: Probability = Field(description="the share of pairs with these settings (0.1 or 10%)")
    peers: dict[str, dict[str, Any]] = Field(description="per template peer, keys overriding the template's "
                                             "(a profile, proposals, DPD ...)")


class FleetConfig(Strict):
    pairs: int = Field(ge=1, le=MAX_PAIRS, description="how many tunnels")
    hub: str | None = Field(None, description="the template peer that is the hub: every pair is one branch's "
                            "tunnel to it")
    prefix: str | None = Field(None, pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,20}$",
                               description="pair names <prefix>-0001 ... (default: pair, or branch with a hub)")
    start: DurationDist = Field(default_factory=lambda: Dist("fixed", (0.0,)),
                                description="each pair's start offset: its peers start, and its flows and "
                                "faults happen, this much later")
    link: FleetLink = Field(default_factory=FleetLink)
    link_faults: LinkFaults | None = Field(None, description="random outages of each pair's link")
    variants: list[Variant] = Field(default_factory=list, description="a share of pairs with other settings")

    @model_validator(mode="after")
    def _shares(self) -> FleetConfig:
        total = sum(v.share for v in self.variants)
        if total > 1 + 1e-9:
            raise ValueError(f"variants: the shares add up to {total:.4g}, more than 1 (100 %)")
        return self

    def pair_names(self) -> list[str]:
        return [self.pair_name(i) for i in range(self.pairs)]

    def pair_name(self, index: int) -> str:
        """The name of pair ``index`` (0-based): ``<prefix>-0001`` for the first."""
        prefix = self.prefix or ("branch" if self.hub else "pair")
        width = max(4, len(str(self.pairs)))
        return f"{prefix}-{index + 1:0{width}d}"


@dataclass(frozen=True)
class PairPlan:
    """What one pair draws: its name, variant (index into the fleet's variants, -1 for the
    template), start offset, link values and outage windows."""

    index: int
    name: str
    seed: int
    variant: int
    start: float
    link: Mapping[str, float]
    outages: tuple[tuple[float, float], ...] = field(default=())


def plan_pair(fleet: FleetConfig, seed: int, index: int, name: str, duration: float) -> PairPlan:
    """The draws of pair ``name``: each quantity from its own named stream, so one pair's
    numbers depend on nothing but the seed and its name."""
    from ..proto.rng import derive_seed, stream
    variant = -1
    if fleet.variants:
        u = stream(seed, "fleet", name, "variant").random()
        acc = 0.0
        for i, v in enumerate(fleet.variants):
            acc += v.share
            if u < acc:
                variant = i
                break
    start = min(fleet.start.draw(stream(seed, "fleet", name, "start")), duration)
    link: dict[str, float] = {}
    for key in ("delay", "jitter", "loss"):
        d = getattr(fleet.link, key)
        if d is not None:
            link[key] = d.draw(stream(seed, "fleet", name, key))
    outages: list[tuple[float, float]] = []
    lf = fleet.link_faults
    if lf is not None:
        rng = stream(seed, "fleet", name, "link_faults")
        t = start
        while True:
            t += rng.expovariate(1.0 / lf.every)
            if t >= duration:
                break
            length = max(lf.duration.draw(rng), 0.001)
            outages.append((t, min(t + length, duration)))
            t += length
    return PairPlan(index, name, derive_seed(seed, "fleet", name, "run"), variant, start, link, tuple(outages))


def fleet_problems(fleet: FleetConfig, peers: list[str], duration: float,
                   has: Mapping[str, bool]) -> list[tuple[str, str]]:
    """(field path, message) for a fleet that cannot be built from its template."""
    if len(peers) != 2:
        return [("fleet", f"a fleet copies one tunnel: the template needs exactly two peers, got {len(peers)} "
                 f"({', '.join(peers)})")]
    for key in ("ha", "bgp", "nat"):
        if has.get(key):
            return [("fleet", f"a fleet template with {key} is not supported; allowed: two peers, link, traffic, "
                     "faults, expect (summary: paths of the fleet summary)")]
    if fleet.hub is not None and fleet.hub not in peers:
        return [("fleet.hub", f"unknown peer {shown(fleet.hub)}; allowed: {', '.join(peers)}")]
    for i, v in enumerate(fleet.variants):
        for name in v.peers:
            if name not in peers:
                return [(f"fleet.variants[{i}].peers", f"unknown peer {shown(name)}; allowed: {', '.join(peers)}")]
    latest = fleet.start.args[-1] if fleet.start.kind in ("fixed", "uniform") else None
    if latest is not None and latest >= duration:
        return [("fleet.start", f"a pair starting at {latest:g} s would start after the run ends ({duration:g} s); "
                 "allowed: offsets shorter than the duration")]
    return []

