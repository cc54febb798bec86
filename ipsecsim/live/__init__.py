"""The live driver: one peer of a scenario on real UDP sockets and the wall clock, against a
real gateway (lab use). Same sans-IO cores as the simulator (``proto``), keys and nonces
from the operating system's CSPRNG, IKE only (no kernel ESP SAs are installed). docs/live.md.
"""

from .runner import LiveError, run_live

__all__ = ["LiveError", "run_live"]
