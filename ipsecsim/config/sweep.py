"""The ``sweep:`` block of a scenario file: a grid of settings times seeded runs per cell.

``ipsecsim sweep FILE`` reads it (``--vary`` / ``--runs`` / ``--metric`` on the command line
add to it or override it; docs/sweep.md). ``ipsecsim run`` and ``ipsecsim check`` ignore it:
the scenario itself stays an ordinary single run with its own seed.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class SweepConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    vary: dict[str, list[Any] | str] = Field(
        default_factory=dict, description="dotted scenario path -> the values to try: a list (any YAML "
        "values), 'a,b,c', or a range 'LOW..HIGH/STEP' with units (0..5%/1%, 10s..60s/10s)")
    runs: int = Field(100, ge=1, le=1_000_000, description="seeded runs per cell of the grid")
    seed: int | None = Field(None, ge=0, description="sweep seed from which every run's seed is derived; "
                             "default: the scenario's seed")
    metrics: list[str] = Field(default_factory=list, description="summary paths to report besides the "
                               "standard metrics (e.g. peers.A.messages.retransmitted)")

    @field_validator("vary")
    @classmethod
    def _paths(cls, v: dict[str, Any]) -> dict[str, Any]:
        for path, values in v.items():
            if not path or any(not p for p in path.split(".")):
                raise ValueError(f"{path!r} is not a dotted scenario path such as peers.A.dpd.delay")
            if path == "sweep" or path.startswith("sweep.") or path == "seed":
                raise ValueError(f"{path!r} cannot be varied (the sweep derives every run's seed itself)")
            if isinstance(values, list) and not values:
                raise ValueError(f"vary.{path}: give at least one value")
        return v
