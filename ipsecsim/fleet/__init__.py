"""Fleets: N varied copies of one tunnel from a scenario's ``fleet:`` block (config/fleet.py).

``run`` builds each pair's scenario and runs the pairs here or sharded over the sweep executors;
``summary`` turns the per-pair rows into the fleet summary. A fleet sits above the simulator,
the sweep executors and the checks, which it uses; nothing below imports it.
"""

from __future__ import annotations

from typing import Any

from ..config.loader import Scenario
from .run import Fleet, build_fleet, pair_row, pair_scenario, run_fleet
from .summary import render_fleet, summarize_fleet


def fleet_summary(scenario: Scenario) -> dict[str, Any]:
    """Every pair of a fleet scenario run in this process, and the fleet summary of their rows
    (what ``ipsecsim check`` evaluates a fleet file's ``expect:`` block against)."""
    fleet = build_fleet(scenario)
    return summarize_fleet(fleet, run_fleet(fleet))


__all__ = ["Fleet", "build_fleet", "fleet_summary", "pair_row", "pair_scenario", "render_fleet",
           "run_fleet", "summarize_fleet"]
