"""What the simulator runs: a plain, frozen description of one run (``RunSpec``), built by
``config`` from a validated scenario (config/runspec.py) and read by ``sim``, ``trace`` and
``check``. No pydantic, no parsing, no defaults to apply: every value is the effective one
(a flow's name and hosts, each peer's remote peer, a BGP session's settings), so the layers
below the configuration never import it (DESIGN.md: cli -> config -> sim -> proto)."""

from .expect import BoundSpec, ExpectSpec
from .groups import BgpSpec, HaGroupSpec
from .link import FaultSpec, GilbertElliottSpec, LinkSpec, LossSpec, NatSpec
from .run import FlowSpec, NqaSpec, RunSpec, Subnets
from .source import RunSource

__all__ = ["BgpSpec", "BoundSpec", "ExpectSpec", "FaultSpec", "FlowSpec", "GilbertElliottSpec", "HaGroupSpec",
           "LinkSpec", "LossSpec", "NatSpec", "NqaSpec", "RunSource", "RunSpec", "Subnets"]
