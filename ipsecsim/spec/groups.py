"""HA groups and BGP sessions of a run, with every default applied (config/ha.py,
config/bgp.py; sim/ha.py and sim/bgp.py run them)."""

from __future__ import annotations

from dataclasses import dataclass

from ..proto.bgp.bfd import BfdSettings
from ..proto.bgp.session import SessionSettings


@dataclass(frozen=True, slots=True)
class HaGroupSpec:
    """The peers of one side reaching the other side through different tunnels (config/ha.py)."""

    name: str
    members: tuple[str, ...]
    """In order of preference: the first is the master."""
    mode: str
    """``active-standby`` or ``active-active``."""
    preempt: bool
    watch: tuple[str, ...]
    """What makes a member unusable: ``ipsec``, ``nqa``."""


@dataclass(frozen=True)
class BgpSpec:
    """A peer's session settings with every default applied, and where each default came from."""

    session: SessionSettings
    sa_down: str
    """``teardown`` or ``hold_timer``."""
    local_preference: int | None
    sources: dict[str, str]
    bfd: BfdSettings | None = None
