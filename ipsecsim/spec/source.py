"""What a run is made from and what its Result keeps: a loaded scenario (config/loader.py
``Scenario``) or anything else that describes a run (``spec``). Typed here, so that the
simulator and the Result need not know the configuration's models."""

from __future__ import annotations

from typing import Protocol, Self

from ..proto.settings import PeerSettings
from .run import RunSpec


class RunSource(Protocol):
    """A scenario as the simulator and the readers of its Result use it."""

    @property
    def spec(self) -> RunSpec:
        """The run description: every value the simulator, the traces and the checks read."""
    @property
    def name(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def peers(self) -> dict[str, PeerSettings]:
        """Each peer's effective settings (the same mapping as ``spec.peers``)."""
    def with_seed(self, seed: int) -> Self:
        """The same scenario run with another seed."""
