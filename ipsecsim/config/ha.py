"""HA groups (``ha:``): redundant tunnels of one site, used in order of preference.

    ha:
      - {name: vpc, members: [cloud-1, cloud-2], mode: active-standby, preempt: true, watch: [ipsec, nqa]}

Each member is a peer; its tunnel is the member and its ``remote_peer``. The first member is
the master. Vendor behaviour this models:

* Alibaba Cloud dual-tunnel IPsec-VPN connections (Alibaba Cloud API ``TunnelOptionsSpecification``,
  ``Role`` master / slave). Alibaba's "IPsec-VPN connections" guide: tunnel 1 is the active
  tunnel and carries all traffic, tunnel 2 stands by; the gateway health-checks the active
  tunnel, moves traffic to the standby when it fails and back when it recovers (``preempt``).
* Huawei Cloud VPN gateways (Huawei Cloud API ``vpn_connection.ha_role``): in active-standby mode
  ``master`` is the main connection and ``slave`` the standby; in active-active mode every
  connection is ``master``.

A member is unusable while what the group ``watch``-es says so: ``ipsec`` - its peer has no
IPsec SA (status not ``ipsec_sa_established``: never set up, deleted by DPD, expired) or its
gateway is frozen or crashed; ``nqa`` - its health check (``nqa:``) reports the path down (and
with ``policy: revoke_route`` its route is withdrawn). The controller (sim/ha.py) reacts to
its members' events, never polls.

``active-standby``: everything goes through one member, the first usable one in preference
order; with ``preempt: false`` a member keeps the traffic until it fails, even when a
preferred one is usable again. ``active-active``: flows are spread over the usable members,
each flow on the member chosen by rendezvous hashing of (flow, member) (RFC 2992's hash-based
multipath, with the property that a failure moves only the flows of the failed member).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import shown
from .topology import partner_map

if TYPE_CHECKING:
    from .model import ScenarioConfig

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
WATCH = ("ipsec", "nqa")
Watch = Literal["ipsec", "nqa"]


class HaGroupConfig(BaseModel):
    """One HA group: the peers of one side that reach the other side through different tunnels."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False, strict=True)

    name: str = Field(description="the group's name: traffic may name it in from / to; 1-32 characters of letters, "
                      "digits, _ . -; not a peer's name")
    members: list[str] = Field(min_length=2, description="peers (one end of each tunnel) in order of preference: "
                               "the first is the master")
    mode: Literal["active-standby", "active-active"] = Field(
        "active-standby", description="one member carries everything (active-standby), or flows are spread over "
        "the usable members (active-active)")
    preempt: bool = Field(True, description="active-standby: go back to a preferred member as soon as it is usable "
                          "again (Alibaba: traffic switches back after the active tunnel recovers)")
    watch: list[Watch] = Field(
        default_factory=lambda: list[Watch](["ipsec"]), min_length=1,
        description="what makes a member unusable: ipsec (no IPsec SA, or its gateway frozen / crashed), nqa (its "
        "health check is down)")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"group name {shown(v)} must be 1-32 characters of letters, digits, _ . -")
        return v

    @field_validator("members")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        seen = [m for i, m in enumerate(v) if m in v[:i]]
        if seen:
            raise ValueError(f"{seen[0]} is listed twice; each member is one tunnel")
        return v

    @field_validator("watch")
    @classmethod
    def _watch_unique(cls, v: list[Watch]) -> list[Watch]:
        return list(dict.fromkeys(v))


def ha_problems(cfg: ScenarioConfig) -> list[tuple[str, str]]:
    """(field path, message) for groups that do not fit the peers."""
    part = partner_map(cfg.peers)
    names = list(cfg.peers)
    owner: dict[str, str] = {}
    seen: set[str] = set()
    for i, g in enumerate(cfg.ha):
        where = f"ha[{i}]"
        if g.name in cfg.peers or g.name == "link":
            return [(f"{where}.name", f"{shown(g.name)} is already the name of a peer; a group needs a name of its "
                     "own")]
        if g.name in seen:
            return [(f"{where}.name", f"two groups are named {shown(g.name)}")]
        seen.add(g.name)
        for j, m in enumerate(g.members):
            if m not in cfg.peers:
                return [(f"{where}.members[{j}]", f"unknown peer {shown(m)}; allowed: {', '.join(names)}")]
            if m in owner:
                return [(f"{where}.members[{j}]", f"{m} is already a member of group {owner[m]}; a peer belongs "
                         f"to at most one group")]
            owner[m] = g.name
            if part.get(m) in g.members:
                return [(f"{where}.members[{j}]", f"{m} and {part[m]} are the two ends of one tunnel; a group "
                         f"lists one end of each of its tunnels (the peers of one side)")]
            if "nqa" in g.watch and cfg.peers[m].nqa is None:
                return [(f"{where}.watch", f"watches nqa, but member {m} has no health check (peers.{m}.nqa); "
                         f"allowed: {', '.join(WATCH)}")]
    return []
